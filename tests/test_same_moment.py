"""Same moment, same answers: a live process read with --pid and a gcore of
the same parked process give the same conclusions (issue 11).

corefiles/leaks parks goroutines whose fate it knows (mutex holders as a
struct field and as a global, channel receivers whose senders hold the
channel, Cond waiters...), prints READY and stays parked. The live
conclusions (goparked.attach, and `goparked --pid --leaks --json`) are
taken first, then a gcore of the same process, read as a core. Every
channel's waiters and wakers, every sync object's holders, waiters and
state, the wait-for graph's cycles and stuck objects and every parked
goroutine's leak verdict must be equal; only timing fields (ages, clocks)
and stack-slot addresses may differ. The core is deleted afterwards.
"""
import contextlib
import json
import re
import os
import signal
import subprocess
import time

import pytest

from conftest import gcore, run_goparked_cmd
from debugger_helpers import gdb, lldb
from leak_fixtures import leakgen

# Timing fields and the places a value was seen on a stack (the stack may
# be copied between the two reads; the object it names may not).
VOLATILE = {"age", "age_ns", "waitsince", "wait_since", "since", "clock",
            "now", "slot", "slots", "program", "pause_ns", "schema",
            "version"}


def normal(doc):
    """doc without its volatile fields, lists of records in a stable
    order."""
    if isinstance(doc, dict):
        return {k: normal(v) for k, v in doc.items()
                if k not in VOLATILE and not k.startswith("age")}
    if isinstance(doc, list):
        items = [normal(v) for v in doc]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return doc


def show(a, b):
    return "live %s\ncore %s" % (json.dumps(a, sort_keys=True),
                                  json.dumps(b, sort_keys=True))


def conclusions(snap, goids):
    """What goparked concludes about the parked program: per object and
    per goroutine the account names."""
    from goparked import analysis, schema
    chans = {c.address: normal(schema.chan_json(c))
             for c in analysis.chans(snap)}
    syncs = {s.address: normal(schema.sync_json(s))
             for s in analysis.syncs(snap)}
    d = analysis.Deadlocks(snap)
    graph = normal(schema.deadlocks_doc(snap, d))
    v = snap.verdicts()
    verdicts = {}
    for i, goid in enumerate(snap.goid_array()):
        if goid in goids:
            x = v.of(i)
            verdicts[goid] = (x.key, x.reason, x.object, x.holder_goid)
    return {"chans": chans, "syncs": syncs, "graph": graph,
            "verdicts": verdicts}


def documents(text):
    """The JSON documents a debugger printed, one after another (its own
    lines between them skipped)."""
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        i = text.find("{\n", i)
        if i < 0:
            return out
        doc, i = dec.raw_decode(text, i)
        out.append(doc)


def debugger_conclusions(text):
    """chans, syncs and the wait-for graph from the `go chan/mutex
    ADDR --json` and `go deadlocks --json` documents of one session."""
    from goparked import schema as S, verdict as V
    family = {S.CHAN_SCHEMA: S.CHAN_DOC_KEYS, S.SYNC_SCHEMA: S.SYNC_DOC_KEYS,
              S.DEADLOCKS_SCHEMA: S.DEADLOCKS_KEYS,
              V.LEAKS_SCHEMA: V.LEAKS_KEYS}
    chans, syncs, graph, rows = {}, {}, None, None
    for doc in documents(text):
        # the debuggers' documents are the CLI's: one JSON family
        assert doc.get("schema") in family, list(doc)[:3]
        assert doc["version"] == S.SCHEMA_VERSION, doc["schema"]
        assert list(doc) == family[doc["schema"]], (doc["schema"], list(doc))
        if isinstance(doc.get("chan"), dict):
            chans[int(doc["chan"]["address"] or "0", 16)] = \
                normal(doc["chan"])
        elif isinstance(doc.get("sync"), dict):
            syncs[int(doc["sync"]["address"] or "0", 16)] = \
                normal(doc["sync"])
        elif "stuck" in doc:
            graph = normal({k: doc[k] for k in ("cycles", "stuck",
                                                 "truncated")})
        elif "rows" in doc:
            rows = verdict_rows(doc)
    return {"chans": chans, "syncs": syncs, "graph": graph, "rows": rows}


def verdict_rows(leaks_doc):
    """The leak verdict's rows but those of goroutines still running, each
    retention path reduced to its root. Where the two reads are not one
    moment (the debugger attaches after the core was taken), the program
    ran in between, and the objects on a path through the runtime's own
    structures may legitimately differ (seen: one of 128 bytes, then of 64,
    between runtime.allp and a P); the root they are held from does
    not."""
    rows = [r for r in normal(leaks_doc["rows"]) if r["verdict"] != "live"]
    for r in rows:
        r["path"] = [{k: v for k, v in r["path"][-1].items()
                      if k in ("kind", "name", "goid", "local")}
                     ] if r["path"] else []
    return rows


def object_commands(c):
    return (["go chan 0x%x --json" % a for a in sorted(c["chans"])] +
            ["go mutex 0x%x --json" % a for a in sorted(c["syncs"])] +
            ["go deadlocks --json", "go leaks --json"])


def assert_same(live, dead):
    for k in ("chans", "syncs"):
        assert sorted(live[k]) == sorted(dead[k]), k
        for addr in live[k]:
            assert live[k][addr] == dead[k][addr], \
                show(live[k][addr], dead[k][addr])
    assert live["graph"] == dead["graph"], show(live["graph"], dead["graph"])


def assert_account(c, account):
    """c names what the account says the program built, so that equality
    between two reads means something (empty on both sides would be
    equal too): every held mutex's holder at rank 1 and its waiters (the
    struct-field and the global ones among them), the Cond waiters, the
    wakers of the channel whose sender keeps it on its stack, wait cycles
    and objects nobody can wake, and each verdict."""
    syncs, chans = c["syncs"], c["chans"]
    shapes = set()
    for m in account["mutexes"]:
        s = syncs.get(int(m["addr"], 16))
        if not m["holder_goid"]:
            continue
        assert s is not None, m
        assert s["locked"] is True, (m, s)
        best = {h["goid"] for h in s["holders"] if h["rank"] == 1}
        assert m["holder_goid"] in best, (m, s["holders"])
        assert set(m["waiter_goids"]) <= {w["goid"] for w in s["waiters"]}, \
            (m, s["waiters"])
        shapes.add(m["shape"])
    assert {"field", "global", "embedded"} <= shapes, shapes
    by_case = {}
    for g in account["goroutines"]:
        by_case.setdefault((g["case"], g["group"]), set()).add(g["goid"])
    cond = by_case[("cond_no_signal", "waiters")]
    assert any(s["kind"] == "cond" and
               cond <= {w["goid"] for w in s["waiters"]}
               for s in syncs.values()), cond
    receivers = by_case[("no_false_stack_chan", "receivers")]
    owner = by_case[("no_false_stack_chan", "owner")]
    held = [ch for ch in chans.values()
            if receivers <= {w["goid"] for w in ch["waiters"]}]
    assert len(held) == 1, held
    assert owner <= {h["goid"] for h in held[0]["wakers"]}, held[0]
    evidence = {e for ch in chans.values() for h in ch["wakers"]
                for e in h["evidence"]}
    assert {"pointer", "calls-op", "indirect"} <= evidence, evidence
    assert c["graph"]["cycles"] and c["graph"]["stuck"], c["graph"]
    if "verdicts" in c:
        keys = {v[0] for v in c["verdicts"].values()}
        assert {"leaked", "no_waker", "lingering", "blocked"} <= keys, keys


@pytest.fixture(scope="module")
def leaks_exe():
    try:
        tc = leakgen.probe("1.26")
        return leakgen.build(tc, "dwarf")
    except leakgen.Unavailable as exc:
        pytest.skip("Go 1.26 unavailable: %s" % exc)


@pytest.fixture
def parked(leaks_exe, tmp_path):
    """The leaks program, every case parked, and its account."""
    acc = tmp_path / "account.json"
    p = subprocess.Popen([leaks_exe, "-scenario", "all",
                          "-leakprofile=false", "-account", str(acc)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, universal_newlines=True)
    try:
        for line in p.stdout:
            if "READY" in line:
                break
        else:
            pytest.fail("leaks exited before READY")
        yield p, json.loads(acc.read_text())
    finally:
        p.kill()
        p.wait()


def account_goids(account):
    return {g["goid"] for g in account["goroutines"]}


def test_live_and_core_conclude_the_same(parked, leaks_exe, tmp_path):
    import goparked
    from goparked.live import snapshot_pid
    p, account = parked
    goids = account_goids(account)
    # held: the analyses read beyond the goroutines' copy
    prog, snap = snapshot_pid(p.pid, hold=True)
    with prog:
        live = conclusions(snap, goids)
    cli_live = run_goparked_cmd(["--pid", p.pid, "--leaks", "--json"])
    assert cli_live.returncode == 0, cli_live.stderr
    core = gcore(p.pid, tmp_path / "core")
    try:
        with goparked.open(core, leaks_exe) as cprog:
            dead = conclusions(cprog.snapshot(), goids)
        cli_core = run_goparked_cmd([core, "--exe", leaks_exe, "--leaks",
                                     "--json"])
        assert cli_core.returncode == 0, cli_core.stderr
    finally:
        os.unlink(core)
    # what the account says must be there, so that equality means
    # something: every parked goroutine has a verdict, the mutexes and
    # channels it waits on are seen
    assert set(live["verdicts"]) == set(dead["verdicts"])
    assert len(live["verdicts"]) >= len(goids) - 2
    assert_account(live, account)
    assert_account(dead, account)
    assert_same(live, dead)
    for goid in live["verdicts"]:
        assert live["verdicts"][goid] == dead["verdicts"][goid], \
            (goid, live["verdicts"][goid], dead["verdicts"][goid])
    a, b = json.loads(cli_live.stdout), json.loads(cli_core.stdout)
    assert verdict_rows(a) == verdict_rows(b)
    assert normal(a["cycles"]) == normal(b["cycles"])


@pytest.mark.gdb
@pytest.mark.lldb
def test_gdb_live_and_lldb_core_conclude_the_same(parked, leaks_exe,
                                                  tmp_path):
    """GDB attached to the live process and LLDB on a gcore of it give
    the conclusions the engine gives on the core."""
    import goparked
    p, account = parked
    core = gcore(p.pid, tmp_path / "core")
    try:
        with goparked.open(core, leaks_exe) as cprog:
            dead = conclusions(cprog.snapshot(), account_goids(account))
        cli_core = run_goparked_cmd([core, "--exe", leaks_exe, "--leaks",
                                     "--json"])
        assert cli_core.returncode == 0, cli_core.stderr
        dead["rows"] = verdict_rows(json.loads(cli_core.stdout))
        cmds = object_commands(dead)
        r = lldb(["--core", core, leaks_exe], cmds)
        assert r.returncode == 0, r.stderr[-3000:]
        in_lldb = debugger_conclusions(r.stdout)
    finally:
        os.unlink(core)
    r = gdb(["-p", p.pid], cmds)
    in_gdb = debugger_conclusions(r.stdout)
    assert r.returncode == 0, r.stderr[-3000:]
    # LLDB attached to the live process too (it holds it stopped while
    # goparked reads /proc/PID/mem)
    r = lldb(["-p", p.pid], cmds)
    assert r.returncode == 0, r.stderr[-3000:]
    in_lldb_live = debugger_conclusions(r.stdout)
    assert_account(dead, account)
    assert dead["rows"]
    for got in (in_gdb, in_lldb, in_lldb_live):
        assert_same(got, dead)
        assert got["rows"] == dead["rows"]


def process_state(pid):
    """The state letter of /proc/PID/stat ('t': stopped by a tracer)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_nothing_is_read_once_the_process_runs_again(parked):
    """Never two moments: once a live process runs again after its
    goroutines were copied, a read beyond that copy (a channel's hchan, a
    lock's state word, the heap) is refused. The API says so in one
    error (INCOMPLETE); the engine below it reads nothing of the running
    process (every lock the fixture holds reads as unreadable, the heap
    as not modelled, with the reason); held, the same reads give the
    holders the account names, the process stopped until release()."""
    from goparked import analysis
    from goparked._native import Error
    from goparked.live import snapshot_pid
    from goparked.model import Program
    p, account = parked
    prog, snap = snapshot_pid(p.pid)
    with prog:
        assert process_state(p.pid) != "t"
        for read in (analysis.chans, analysis.syncs, lambda s: s.verdicts(),
                     analysis.Deadlocks):
            with pytest.raises(Error) as e:
                read(snap)
            assert e.value.code == Error.INCOMPLETE, e.value
            assert "runs again" in e.value.message
    with Program.from_pid(p.pid, resume_early=True) as prog:
        with prog.snapshot() as snap:
            assert process_state(p.pid) != "t"
            syncs = analysis.syncs(snap)
            assert syncs and all(s.unreadable for s in syncs)
            v = snap.verdicts()
            assert not v.heap_model and "runs again" in v.heap_error
    prog, snap = snapshot_pid(p.pid, hold=True)
    with prog:
        assert process_state(p.pid) == "t"
        assert analysis.chans(snap) and analysis.syncs(snap)
        assert snap.verdicts().heap_model
        assert process_state(p.pid) == "t"
        prog.release()
        assert process_state(p.pid) != "t"


@contextlib.contextmanager
def frozen(pid):
    """The process stopped (SIGSTOP, every thread in group-stop) until the
    end of the block, then continued. A parked program still runs: its
    lingering goroutines wake on their tickers and allocate, the runtime's
    timers move between Ps, so a core and a --pid read a few seconds apart
    (more on a loaded machine) differ in the heap's object count and in
    the paths through the runtime's structures. gcore and goparked --pid
    both read a stopped process and leave it stopped; goparked's refusal
    of reads after its release is its own state, not the process's."""
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 30
        while True:
            states = []
            for tid in os.listdir("/proc/%d/task" % pid):
                try:
                    with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except FileNotFoundError:
                    pass
            if states and all(s == "T" for s in states):
                break
            assert time.monotonic() < deadline, ("not stopped", states)
            time.sleep(0.01)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _cli(*args):
    r = run_goparked_cmd([str(a) for a in args])
    assert r.returncode == 0, (args, r.stderr)
    return r


def _key_column(text):
    """The key column (address and what it is) of a --by chan/mutex
    listing, per group, from the address on (the ages before it differ
    between a live process and a core)."""
    return sorted(m.group(1) for m in re.finditer(
        r"^ +\d+  .*?  (0x[0-9a-f]+.*)$", text, re.M))


def _sample(addresses, kinds_of, per_kind=2):
    """A few objects of each kind (every kind the account makes)."""
    out, seen = [], {}
    for a in sorted(addresses):
        k = kinds_of(a)
        if seen.get(k, 0) < per_kind:
            seen[k] = seen.get(k, 0) + 1
            out.append(a)
    return out


def test_cli_views_of_a_live_process_equal_its_core(parked, leaks_exe,
                                                    tmp_path):
    """Every CLI view that reads beyond the goroutines (--chan, --mutex,
    --by chan/mutex's descriptions, --deadlocks, --leaks, --verdict, the
    report) holds the process for all of it: its answers on --pid equal
    those on a gcore of the same parked process, text and JSON. (The
    engine refuses a read of a process that runs again, so a view that
    let it go too early fails here instead of reading another moment.)
    The process is held stopped from before the core to the last view,
    so both read one moment (frozen)."""
    p, account = parked
    with frozen(p.pid):
        _cli_views_equal_core(p, leaks_exe, tmp_path)


def _cli_views_equal_core(p, leaks_exe, tmp_path):
    import goparked
    from goparked import analysis, schema
    core = gcore(p.pid, tmp_path / "core")
    try:
        with goparked.open(core, leaks_exe) as cprog, \
                cprog.snapshot() as csnap:
            chans = {c.address: c for c in analysis.chans(csnap)
                     if c.address}
            syncs = {s.address: s for s in analysis.syncs(csnap)}
        kinds = {a: ("timer" if c.timer else "closed" if c.closed else
                     "buffered" if c.cap else "unbuffered")
                 for a, c in chans.items()}
        chan_pick = _sample(chans, kinds.get)
        sync_pick = _sample(syncs, lambda a: syncs[a].kind)
        assert len({syncs[a].kind for a in sync_pick}) >= 3, sync_pick
        views = ([["--chan", "0x%x" % a] for a in chan_pick] +
                 [["--mutex", "0x%x" % a] for a in sync_pick])
        text_views = views + [["--leaks"], ["--deadlocks"]]
        json_views = [v + ["--json"] for v in views] + [
            ["--leaks", "--json"], ["--deadlocks", "--json"],
            ["--verdict", "--json"], ["--jsonl", "--verdict", "--detail"]]
        dead = {}
        for v in text_views + json_views + [["--by", "chan"],
                                            ["--by", "mutex"]]:
            dead[tuple(v)] = _cli(core, "--exe", leaks_exe, *v).stdout
        md = tmp_path / "core.md"
        _cli("report", core, "--exe", leaks_exe, "-o", md)
        dead_report = md.read_text()
    finally:
        os.unlink(core)
    for v in text_views:
        r = _cli("--pid", p.pid, *v)
        assert "process stopped for" in r.stderr, r.stderr
        out = r.stdout
        assert out == dead[tuple(v)], (v, out, dead[tuple(v)])
    for v in json_views:
        out = _cli("--pid", p.pid, *v).stdout
        if "--verdict" in v:
            # the verdict's keys (the threads' registers, the Ms of idle
            # threads move on between the two reads: the runtime runs)
            a, b = _verdict_of(out, v), _verdict_of(dead[tuple(v)], v)
            assert a == b, (v, show(a, b))
            continue
        a, b = normal(json.loads(out)), normal(json.loads(dead[tuple(v)]))
        assert a == b, (v, show(a, b))
    for by in ("chan", "mutex"):
        out = _cli("--pid", p.pid, "--by", by).stdout
        keys = _key_column(out)
        # each object's description: the chan's type and len/cap, the
        # lock's state and holder, as on the core
        assert keys == _key_column(dead[("--by", by)]), (by, out)
        assert any(("chan " if by == "chan" else "sync.") in k
                   for k in keys), keys
    md = tmp_path / "live.md"
    _cli("report", "--pid", p.pid, "-o", md)
    assert _report_body(md.read_text()) == _report_body(dead_report)


def _verdict_of(out, view):
    """What --verdict adds to --json (each group's counts) or to --jsonl
    (each group's counts, each goroutine's verdict), the program's own
    goroutines only (the runtime's run between the two reads: a
    background worker's wait may change)."""
    if "--jsonl" in view:
        recs = [json.loads(x) for x in out.splitlines()]
    else:
        doc = json.loads(out)
        recs = [dict(g, record="group") for g in doc["groups"]]
    got = []
    for r in recs:
        if r["record"] == "group":
            got.append(("group", r["key"], r["count"], r["verdicts"]))
        elif r["record"] == "goroutine" and not r["system"]:
            got.append(("goroutine", r["goid"], r["verdict"],
                        r["verdict_reason"]))
    assert got
    return sorted(got, key=json.dumps)


def _report_body(md):
    """The Markdown report's sections of what it read beyond the
    goroutines: the leak verdict, the wait cycles, the channels and locks
    (the others show ages, exact live and lower bounds in a core)."""
    parts = re.split(r"^(## .*)$", md, flags=re.M)
    body = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    keep = ("## Leak verdict", "## Verdict", "## Channels and locks")
    assert all(body.get(k, "").strip() for k in keep), list(body)
    return [body[k] for k in keep]
