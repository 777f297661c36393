"""The `go` commands in GDB (gdb -nx -batch), on fixture cores, on a live
process GDB attached to, and on a gdbserver target.

Expectations come from the CLI on the same target (same groups, same
text) and, independently, from the fixture's account and the runtime's own
goroutine dump; never from goparked's output alone.
"""

import re
import shutil
import subprocess

import pytest

import expect
import oracle
from conftest import find_go, run_goparked_cmd
from debugger_helpers import (LIVE_PARKED, LiveProcess, assert_account_groups,
                              assert_deadlocks_text, assert_sync_text,
                              build_live, commands_stderr, free_port, gdb,
                              groups_of, listing, one_line_error)

pytestmark = pytest.mark.gdb


def _cli(core, *args):
    r = run_goparked_cmd([core.core, "--exe", core.exe] + list(args))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_goroutines_same_as_cli_and_account(demo_core):
    r = gdb([demo_core.exe, demo_core.core], ["go goroutines --ids 100000"])
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    cli = _cli(demo_core, "--ids", "100000")
    assert listing(r.stdout).strip() == cli.strip()
    assert_account_groups(groups_of(r.stdout), demo_core.load_account())


@pytest.mark.parametrize("by", ["chan", "creator", "stack"])
def test_goroutines_by_chan_creator_stack(demo_core, by):
    """The groups are the runtime dump's (identical stacks, the same go
    statement) and the account's (who waits on which channel); the text is
    the CLI's, as the README promises."""
    r = gdb([demo_core.exe, demo_core.core],
            ["go goroutines --ids 100000 --by " + by])
    assert r.returncode == 0, r.stderr
    groups = groups_of(r.stdout)
    if by == "chan":
        by_addr = {int(site.split()[0], 16): set(goids)
                   for _, _, site, goids in groups
                   if site.startswith("0x")}
        want = expect.chan_waiters(demo_core)
        assert want and {a: by_addr.get(a) for a in want} == want
    else:
        want = (expect.stack_partition if by == "stack"
                else expect.creator_partition)(demo_core)
        assert {frozenset(goids) for *_, goids in groups} == want
    assert listing(r.stdout).strip() == _cli(
        demo_core, "--ids", "100000", "--by", by).strip()


def test_goroutine_details_same_as_cli_and_dump(demo_core):
    account = demo_core.load_account()
    goid = next(g["goids"][0] for g in account["groups"]
                if g["state"] == "waiting")
    r = gdb([demo_core.exe, demo_core.core],
            ["go goroutine %d --no-select" % goid])
    assert r.returncode == 0, r.stderr
    cli = _cli(demo_core, "--goroutine", str(goid))
    assert cli.strip() in r.stdout
    # The frames of the runtime's non-crash traceback (the fixture's
    # stacks.txt); with --all-frames, those of its crash dump.
    users = oracle.parse_file(demo_core.stacks, crash=False).goroutines[goid]
    assert _printed(r.stdout) == users.funcs()
    r = gdb([demo_core.exe, demo_core.core],
            ["go goroutine %d --no-select --all-frames" % goid])
    assert r.returncode == 0, r.stderr
    dumped = demo_core.parsed_dump().goroutines[goid]
    assert _printed(r.stdout) == dumped.funcs()


def _printed(out):
    return [l.split("(")[0] for l in out.splitlines() if l.endswith("(...)")]


def test_local_of_parked_goroutine_from_core(fixture_core):
    """mutex_local: the holder keeps the *sync.Mutex in local `mu`, live
    across its blocking receive; the fixture wrote down its address."""
    core = fixture_core(scenario="mutex_local")
    holder = next(g for g in core.load_account()["groups"]
                  if g["group"] == "local_holder")
    goid, addr = holder["goids"][0], int(holder["objects"][0]["addr"], 16)
    r = gdb([core.exe, core.core],
            ["go goroutine %d" % goid, "bt", "print mu", "print/x $rax",
             "info frame"])
    assert r.returncode == 0, r.stderr
    assert "selected #" in r.stdout and "main.holdMutexLocal" in r.stdout
    assert "(sync.Mutex *) 0x%x" % addr in r.stdout, r.stdout
    # A register the goroutine no longer has is not the thread's: GDB
    # says it is not there.
    assert "<not saved>" in r.stdout or "optimized out" in r.stdout


def test_threads_and_chan(demo_core):
    account = demo_core.load_account()
    grp = next(g for g in account["groups"]
               if g["group"] == "recv_no_sender")
    chan = grp["objects"][0]["addr"]
    r = gdb([demo_core.exe, demo_core.core], ["go threads", "go chan " + chan])
    assert r.returncode == 0, r.stderr
    # Each M and the goroutine on it, as the runtime's per-M sections say.
    assert expect.threads_of_text(r.stdout) == expect.threads(demo_core)
    assert _cli(demo_core, "--threads").strip() in r.stdout
    # The same text as the CLI's --chan, and the receivers the fixture parked.
    assert _cli(demo_core, "--chan", chan).strip() in r.stdout
    line = next(l for l in r.stdout.splitlines() if "blocked receivers:" in l)
    ids = line.split("(goroutine", 1)[1].rstrip(")").split()
    assert sorted(int(i) for i in ids) == sorted(grp["goids"])


def test_mutex_and_deadlocks(demo_core):
    """go mutex: decoded state, waiters and holder of the fixture's local
    mutex, RWMutex and WaitGroup; go deadlocks: the fixture's cycles and
    its goroutines that nothing can ever wake."""
    objs = {}
    for goid, o in expect.objects(demo_core):
        if o["kind"] in ("mutex", "rwmutex", "waitgroup"):
            objs.setdefault(o["addr"], []).append((goid, o))
    cmds = ["go mutex " + a for a in sorted(objs)] + ["go deadlocks"]
    r = gdb([demo_core.exe, demo_core.core], cmds)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    for members in objs.values():
        assert_sync_text(r.stdout, members)
    assert_deadlocks_text(r.stdout, demo_core)


def test_frame_and_info_locals_of_a_parked_goroutine(fixture_core):
    """After go goroutine N, `frame K` selects goroutine N's frame K and
    `info locals` prints its locals from its own stack: the fixture wrote
    down the mutex address its local `mu` holds."""
    core = fixture_core(scenario="mutex_local")
    holder = next(g for g in core.load_account()["groups"]
                  if g["group"] == "local_holder")
    goid, addr = holder["goids"][0], int(holder["objects"][0]["addr"], 16)
    funcs = core.parsed_dump().goroutines[goid].funcs()
    k = funcs.index("main.holdMutexLocal") + 1   # #0 stays the thread's
    r = gdb([core.exe, core.core],
            ["go goroutine %d" % goid, "frame %d" % k,
             "info locals", "frame %d" % (k - 1), "info args"])
    assert r.returncode == 0, r.stderr
    after = r.stdout.split("\n#%d " % k, 1)[1]
    assert " in main.holdMutexLocal " in after.splitlines()[0], after
    assert re.search(r"^mu = 0x%x$" % addr, after, re.M), after
    # One frame in: the receive's frame, with its own arguments.
    inner = after.split("\n#%d " % (k - 1), 1)[1]
    assert " in %s " % funcs[k - 2] in inner.splitlines()[0], inner


def test_help_and_completion(demo_core):
    r = gdb([], ["help go", "help go goroutines",
                 "complete go goroutines --b", "complete go goroutines --by s"])
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for word in ("go goroutines", "go goroutine", "go chan", "go mutex",
                 "go deadlocks", "go threads", "--by", "--min-age"):
        assert word in out
    assert "go goroutines --by" in out
    assert "go goroutines --by site" in out and "go goroutines --by stack" \
        in out


# ------------------------------------------------------------ bad usage

def _error(r, *needles):
    text = r.stdout + r.stderr
    assert "Traceback" not in text and "Python Exception" not in text, text
    return one_line_error(commands_stderr(r.stderr), *needles)


def test_unknown_option(demo_core):
    _error(gdb([demo_core.exe, demo_core.core], ["go goroutines --bogus"]),
           "unrecognized arguments: --bogus")


def test_no_program_loaded():
    _error(gdb([], ["go goroutines"]), "no program loaded")


def test_no_process(tiny_go):
    _error(gdb([tiny_go.exe], ["go goroutines"]), "no process")


def test_not_a_go_program(tiny_go):
    r = gdb([tiny_go.sleep_exe, tiny_go.sleep_core], ["go goroutines"])
    line = _error(r, "Go")
    assert "\n" not in line


def test_no_such_goroutine(demo_core):
    _error(gdb([demo_core.exe, demo_core.core], ["go goroutine 999999"]),
           "no goroutine 999999")


# ------------------------------------------------------- live and remote

@pytest.fixture(scope="module")
def live_exe(tmp_path_factory):
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain")
    return build_live(tmp_path_factory.mktemp("live"), go)


def _parked(out):
    return [g for g in groups_of(out) if "main.parkedReceiver" in g[2]]


def test_live_attach(live_exe):
    p = LiveProcess(live_exe)
    try:
        r = gdb(["-p", p.pid], ["go goroutines", "go goroutine 1 --no-select",
                                "detach"])
    finally:
        p.close()
    assert r.returncode == 0, r.stderr
    parked = _parked(r.stdout)
    assert len(parked) == 1 and parked[0][0] == LIVE_PARKED, r.stdout
    assert "live pid %d" % p.pid in r.stdout


def test_gdbserver_same_groups(live_exe):
    if shutil.which("gdbserver") is None:
        pytest.skip("no gdbserver")
    p = LiveProcess(live_exe)
    port = free_port()
    gs = subprocess.Popen(["gdbserver", "--attach", "127.0.0.1:%d" % port,
                           str(p.pid)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, universal_newlines=True)
    try:
        for line in gs.stderr:
            if "Listening on port" in line:
                break
        r = gdb([live_exe], ["target remote 127.0.0.1:%d" % port,
                             "go goroutines --ids 100", "kill"])
    finally:
        gs.kill()
        gs.wait()
        p.close()
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    parked = _parked(r.stdout)
    assert len(parked) == 1 and parked[0][0] == LIVE_PARKED, r.stdout
    assert len(parked[0][3]) == LIVE_PARKED
