"""The goparked command, run as a child process.

Bad input must give exit status 2 and exactly one line on stderr. Good
input is checked against what the program itself says it parked (the
fixture's account, tests/fixtures.py) and against the runtime's own
goroutine dump, never against goparked's earlier output.
"""

import json
import re

import pytest

pytestmark = pytest.mark.cli


def assert_one_error_line(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("goparked: error: "), lines[0]
    assert "Traceback" not in r.stderr
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------- bad input

def test_no_arguments(run_goparked):
    assert_one_error_line(run_goparked([]), "--exe")


def test_bad_option(run_goparked):
    assert_one_error_line(run_goparked(["--by", "colour", "x"]), "--by")


@pytest.mark.parametrize("args,needle", [
    (["--min-age", "5 parsecs"], "--min-age"),
    (["--state", "sleepy"], "sleepy"),
    (["--label", "novalue"], "KEY=VALUE"),
    (["--func", "("], "--func"),
    (["--goroutine", "x"], "--goroutine"),
])
def test_bad_option_values(run_goparked, tiny_go, args, needle):
    r = run_goparked([tiny_go.core, "--exe", tiny_go.exe] + args)
    assert_one_error_line(r, needle)


def test_help(run_goparked):
    r = run_goparked(["--help"])
    assert r.returncode == 0 and r.stderr == ""
    for word in ("--exe", "--by", "--state", "--min-age", "--func", "--label",
                 "--goroutine", "--json", "--threads"):
        assert word in r.stdout


def test_missing_core(run_goparked, bad_files, tiny_go):
    r = run_goparked([bad_files["missing"], "--exe", tiny_go.exe])
    assert_one_error_line(r, bad_files["missing"], "No such file")


def test_missing_exe(run_goparked, bad_files, tiny_go):
    r = run_goparked([tiny_go.core, "--exe", bad_files["missing"]])
    assert_one_error_line(r, bad_files["missing"], "No such file")


def test_no_exe_and_no_sibling(run_goparked, bad_files):
    # bad_files["core_half"] is core.half: no executable named "half" there.
    r = run_goparked([bad_files["core_half"]])
    assert_one_error_line(r, "--exe")


def test_sibling_exe_is_found(run_goparked, tiny_go):
    # core.tiny.PID next to tiny: no --exe needed.
    r = run_goparked([tiny_go.core])
    assert r.returncode == 0, r.stderr
    assert "main.recvForever" in r.stdout


@pytest.mark.parametrize("kind", ["empty", "text", "random", "elf_garbage",
                                  "core_half", "core_header"])
def test_bad_core(run_goparked, bad_files, tiny_go, kind):
    assert_one_error_line(run_goparked([bad_files[kind], "--exe",
                                        tiny_go.exe]))


@pytest.mark.parametrize("kind", ["empty", "text", "random", "elf_garbage"])
def test_bad_exe(run_goparked, bad_files, tiny_go, kind):
    assert_one_error_line(run_goparked([tiny_go.core, "--exe",
                                        bad_files[kind]]), bad_files[kind])


def test_core_of_another_executable(run_goparked, tiny_go):
    r = run_goparked([tiny_go.core, "--exe", tiny_go.other_exe])
    assert_one_error_line(r, tiny_go.other_exe)


def test_not_go(run_goparked, tiny_go):
    # /bin/true is an executable, but not a Go program.
    line = assert_one_error_line(run_goparked([tiny_go.core, "--exe",
                                               "/bin/true"]), "/bin/true")
    assert "Go" in line


def test_core_of_a_non_go_program(run_goparked, tiny_go):
    r = run_goparked([tiny_go.sleep_core, "--exe", tiny_go.sleep_exe])
    assert_one_error_line(r, "Go")


def test_no_dwarf_works(run_goparked, tiny_go):
    """Stripped (-s -w) is supported: the same groups as the program
    parked (TINY_GO: 3 receivers, 1 goroutine on the mutex)."""
    r = run_goparked([tiny_go.core_stripped, "--exe", tiny_go.exe_stripped])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    got = {(b.cols["SITE"].split()[0], b.cols["WAIT"]): b.count
           for b in parse_groups(r.stdout)}
    assert {k: got.get(k) for k in tiny_go.parked} == tiny_go.parked


def test_unknown_goroutine(run_goparked, tiny_go):
    r = run_goparked([tiny_go.core, "--exe", tiny_go.exe, "--goroutine",
                      "999999"])
    assert_one_error_line(r, "999999")


def test_debug_shows_traceback(run_goparked, bad_files, tiny_go):
    r = run_goparked([bad_files["random"], "--exe", tiny_go.exe],
                     env={"GOPARKED_DEBUG": "1"})
    assert r.returncode == 2
    assert "Traceback" in r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("goparked: error: ")


def test_bad_library_is_one_line(run_goparked, bad_files, tiny_go):
    r = run_goparked([tiny_go.core, "--exe", tiny_go.exe],
                     env={"GOPARKED_LIB": str(bad_files["missing"])})
    assert_one_error_line(r, "libgoparked")


@pytest.mark.parametrize("delta", [-1, 1])
def test_library_of_another_abi_is_one_line(run_goparked, tiny_go, tmp_path,
                                            delta):
    """An engine built from another header (a stub whose gp_abi_version
    says so, one older and one newer than the binding's): one clear line
    naming both versions, never a crash on a mismatched structure."""
    import subprocess
    from goparked import _native as N
    version = N.ABI_VERSION + delta
    src, lib = tmp_path / "stub.c", tmp_path / "libgoparked.so"
    src.write_text("int gp_abi_version(void) { return %d; }\n" % version)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)],
                   check=True)
    r = run_goparked([tiny_go.core, "--exe", tiny_go.exe],
                     env={"GOPARKED_LIB": str(lib)})
    assert_one_error_line(r, str(lib), "ABI version %d" % version,
                          "needs %d" % N.ABI_VERSION, "make")


# --------------------------------------------------------- text, parsed

class Block:
    def __init__(self, count, cols):
        self.count = count
        self.cols = cols
        self.ids = []
        self.more = 0
        self.extra = []


def parse_groups(text):
    """The grouped listing, by the column positions of its header line."""
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines)
                if ln.lstrip().startswith("COUNT"))
    header = lines[head]
    names = re.findall(r"\S+(?: \S+)*", header)
    starts = [header.index(n) for n in names]
    blocks = []
    for ln in lines[head + 1:]:
        if not ln.strip():
            if blocks:
                break
            continue
        m = re.match(r"^ *(\d+)  ", ln)
        if m and len(ln) > starts[1] and ln[:starts[1]].strip().isdigit():
            cols = {}
            for i, name in enumerate(names):
                end = starts[i + 1] if i + 1 < len(names) else None
                cols[name] = ln[starts[i]:end].strip()
            blocks.append(Block(int(m.group(1)), cols))
            continue
        body = ln.strip()
        if body.startswith("goroutine "):
            ids = body[len("goroutine "):]
            more = re.search(r"\.\.\. \+(\d+)$", ids)
            if more:
                blocks[-1].more = int(more.group(1))
                ids = ids[:more.start()]
            blocks[-1].ids = [int(x) for x in ids.split()]
        else:
            blocks[-1].extra.append(body)
    return blocks


def test_tiny_text(run_goparked, tiny_go):
    r = run_goparked([tiny_go.core, "--exe", tiny_go.exe])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    blocks = parse_groups(r.stdout)
    site = {b.cols["SITE"].split()[0]: b for b in blocks}
    recv = site["main.recvForever"]
    assert recv.count == 3 and len(recv.ids) == 3
    assert recv.cols["WAIT"] == "chan receive"
    assert recv.cols["STATE"] == "waiting"
    assert re.search(r"main\.go:\d+$", recv.cols["SITE"])
    lock = site["main.lockForever"]
    assert lock.count == 1 and lock.cols["WAIT"] in ("sync.Mutex.Lock",
                                                     "semacquire")
    # Biggest group first.
    assert [b.count for b in blocks] == sorted((b.count for b in blocks),
                                               reverse=True)


def test_ids_are_abbreviated(run_goparked, tiny_go):
    r = run_goparked([tiny_go.core, "--exe", tiny_go.exe, "--ids", "2"])
    assert r.returncode == 0, r.stderr
    (recv,) = [b for b in parse_groups(r.stdout)
               if b.cols["SITE"].startswith("main.recvForever")]
    assert len(recv.ids) == 2 and recv.more == 1


def test_broken_pipe_is_quiet(tiny_go):
    import subprocess
    import sys
    from conftest import ROOT, goparked_env
    p = subprocess.run(
        "%s -m goparked %s --exe %s --by stack --system | head -1"
        % (sys.executable, tiny_go.core, tiny_go.exe), shell=True,
        cwd=str(ROOT), env=goparked_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)
    assert p.stderr == ""


# ------------------------------------------- against the fixture's account

def _goids_to_block(blocks):
    out = {}
    for b in blocks:
        for goid in b.ids:
            assert goid not in out, "goroutine %d in two groups" % goid
            out[goid] = b
    return out


def test_text_groups_agree_with_account(run_goparked, demo_core):
    acct = demo_core.load_account()
    r = run_goparked([demo_core.core, "--exe", demo_core.exe,
                      "--ids", "100000"])
    assert r.returncode == 0, r.stderr
    blocks = parse_groups(r.stdout)
    where = _goids_to_block(blocks)
    for b in blocks:
        assert b.count == len(b.ids) and b.more == 0
    for g in acct["groups"]:
        name = "%s/%s" % (g["scenario"], g["group"])
        missing = [i for i in g["goids"] if i not in where]
        assert not missing, "%s: goroutines %s not listed" % (name, missing)
        blk = where[g["goids"][0]]
        assert set(g["goids"]) <= set(blk.ids), name
        assert blk.cols["SITE"].split()[0] == g["wait_func"], name
        if g["state"] == "waiting":
            assert blk.cols["STATE"] == "waiting", name
            assert blk.cols["WAIT"] == g["wait_reason"], name
        else:
            assert set(blk.cols["STATE"].split(",")) <= {"running",
                                                         "runnable"}, name
    main = where[acct["main_goid"]]
    assert main.cols["SITE"].split()[0] == acct["main_wait_func"]
    # Nothing but the account's goroutines (and main) is grouped: the rest
    # are runtime goroutines, hidden by default.
    accounted = {i for g in acct["groups"] for i in g["goids"]}
    accounted.add(acct["main_goid"])
    assert set(where) == accounted


def _json(run_goparked, fc, *args):
    r = run_goparked([fc.core, "--exe", fc.exe, "--json"] + list(args))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_agrees_with_account(run_goparked, demo_core):
    from goparked import schema
    acct = demo_core.load_account()
    doc = _json(run_goparked, demo_core)
    assert doc["schema"] == "goparked/snapshot" and doc["version"] == 1
    assert list(doc) == schema.SNAPSHOT_KEYS
    assert doc["program"]["go_version"] == acct["go_version"]
    gs = {g["goid"]: g for g in doc["goroutines"]}
    assert len(gs) == len(doc["goroutines"]) == doc["summary"]["goroutines"]
    for g in doc["goroutines"]:
        assert list(g) == schema.GOROUTINE_KEYS
        for sid in (g["stack_id"], g["creator_stack_id"]):
            assert sid is None or str(sid) in doc["stacks"]
    for frames in doc["stacks"].values():
        for f in frames:
            assert list(f) == schema.FRAME_KEYS
            assert f["pc"] is None or f["pc"].startswith("0x")
    group_of = {}
    for i, gr in enumerate(doc["groups"]):
        assert list(gr) == schema.GROUP_KEYS
        assert gr["count"] == len(gr["goids"])
        for goid in gr["goids"]:
            group_of[goid] = i
    for g in acct["groups"]:
        name = "%s/%s" % (g["scenario"], g["group"])
        assert len({group_of[i] for i in g["goids"]}) == 1, name
        gr = doc["groups"][group_of[g["goids"][0]]]
        assert gr["site"]["func"] == g["wait_func"], name
        for goid in g["goids"]:
            mine = gs[goid]
            if g["state"] == "waiting":
                assert mine["state"] == "waiting", name
                assert mine["wait_reason"] == g["wait_reason"], name
            creator = doc["stacks"][str(mine["creator_stack_id"])]
            assert creator[-1]["func"] == g["creator_func"], name
            if g.get("labels"):
                assert mine["labels"] == g["labels"], name
            if g.get("locked_to_thread"):
                assert mine["locked_to_thread"], name


def test_filters_agree_with_account(run_goparked, demo_core):
    acct = demo_core.load_account()
    by_name = {g["group"]: g for g in acct["groups"]}

    def goids(*args):
        doc = _json(run_goparked, demo_core, *args)
        return sorted(i for gr in doc["groups"] for i in gr["goids"])

    assert goids("--func", r"^main\.sleepHour$") == \
        sorted(by_name["sleep_hour"]["goids"])
    assert goids("--label", "via=pprof.Do") == \
        sorted(by_name["labels_do"]["goids"])
    assert goids("--state", "running,runnable") == \
        sorted(by_name["spin"]["goids"])


def test_by_chan_agrees_with_account(run_goparked, demo_core):
    acct = demo_core.load_account()
    doc = _json(run_goparked, demo_core, "--by", "chan")
    by_addr = {gr["key_address"]: set(gr["goids"]) for gr in doc["groups"]
               if gr["key_address"]}
    for g in acct["groups"]:
        chans = [o for o in g.get("objects", [])
                 if o["kind"] == "chan" and not o.get("nil")
                 and o.get("role") in ("recv", "send")]
        if len(chans) != 1:
            continue
        addr = "0x%x" % int(chans[0]["addr"], 16)
        assert addr in by_addr, "%s: no group for %s" % (g["group"], addr)
        assert set(g["goids"]) <= by_addr[addr], g["group"]


def _parse_traceback(text):
    """Our --goroutine output: header, [(func, file, line)], created-by."""
    lines = text.splitlines()
    frames, created = [], None
    i = 1
    while i < len(lines) and lines[i] and not lines[i].startswith("#"):
        if lines[i].startswith("created by "):
            m = re.match(r"created by (\S+)(?: in goroutine (\d+))?$",
                         lines[i])
            loc = re.match(r"\t(.*):(\d+)", lines[i + 1])
            created = (m.group(1), int(m.group(2) or 0), loc.group(1),
                       int(loc.group(2)))
            i += 2
            continue
        func = re.match(r"(.*)\(\.\.\.\)$", lines[i]).group(1)
        loc = re.match(r"\t(.*):(\d+)", lines[i + 1])
        frames.append((func, loc.group(1), int(loc.group(2))))
        i += 2
    return lines[0], frames, created


def test_goroutine_matches_runtime_dump(run_goparked, demo_core):
    acct = demo_core.load_account()
    dump = demo_core.parsed_dump().goroutines
    checked = 0
    for g in acct["groups"]:
        if g["state"] != "waiting":
            continue
        goid = g["goids"][0]
        # every frame, as the crash dump (tests/test_frames.py: the
        # default view against the runtime's non-crash traceback)
        r = run_goparked([demo_core.core, "--exe", demo_core.exe,
                          "--goroutine", str(goid), "--all-frames"])
        assert r.returncode == 0, r.stderr
        head, frames, created = _parse_traceback(r.stdout)
        rt = dump[goid]
        assert re.match(r"goroutine %d \[%s(, \d+ minutes)?\]:$"
                        % (goid, re.escape(rt.wait_reason)), head), head
        assert frames == [(f.func, f.file, f.line) for f in rt.frames], goid
        if rt.created_by:
            c = rt.created_by
            assert created == (c.func, c.goid or 0, c.file, c.line), goid
        checked += 1
    assert checked >= 10


def test_cli_maps_big_blocks_on_their_own():
    """The command line (one command a process) sets glibc's mmap threshold,
    so that the engine's big arrays go back to the system when freed; a
    libc without mallopt (or none) is no error."""
    from goparked import cli

    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    cli.big_blocks_to_the_system(Libc())
    assert calls == [(-3, 256 << 10)]  # M_MMAP_THRESHOLD, 256 KiB
    cli.big_blocks_to_the_system(object())  # no mallopt: nothing happens
