"""The `go` commands and goroutines-as-threads in LLDB (lldb -b), on
fixture cores and on a live process LLDB attached to.

Expectations come from the CLI on the same target and, independently, from
the fixture's account and the runtime's own dump.
"""

import re

import pytest

import expect
from conftest import find_go, run_goparked_cmd
from debugger_helpers import (LIVE_PARKED, LiveProcess, assert_account_groups,
                              assert_deadlocks_text, assert_sync_text,
                              build_live, groups_of, listing, lldb,
                              one_line_error)

pytestmark = pytest.mark.lldb


def _cli(core, *args):
    r = run_goparked_cmd([core.core, "--exe", core.exe] + list(args))
    assert r.returncode == 0, r.stderr
    return r.stdout


def _core(core, cmds):
    return lldb([core.exe, "-c", core.core], cmds)


def test_goroutines_same_as_cli_and_account(demo_core):
    r = _core(demo_core, ["go goroutines --ids 100000"])
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert listing(r.stdout).strip() == _cli(demo_core, "--ids",
                                             "100000").strip()
    assert_account_groups(groups_of(r.stdout), demo_core.load_account())


def test_goroutine_details_same_as_cli(demo_core):
    goid = next(g["goids"][0] for g in demo_core.load_account()["groups"]
                if g["state"] == "waiting")
    r = _core(demo_core, ["go goroutine %d" % goid])
    assert r.returncode == 0, r.stderr
    assert _cli(demo_core, "--goroutine", str(goid)).strip() in r.stdout
    assert "goroutine %d is thread #" % goid in r.stdout


def test_thread_list_and_bt(demo_core):
    """Every parked goroutine of the account is a thread; bt on one shows
    the user frames the runtime's own dump has for it."""
    account = demo_core.load_account()
    grp = next(g for g in account["groups"] if g["group"] == "local_holder")
    goid = grp["goids"][0]
    r = _core(demo_core, ["thread list", "go goroutine %d" % goid, "bt",
                          "register read"])
    assert r.returncode == 0, r.stderr
    names = set(int(x) for x in re.findall(r"name = 'goroutine (\d+)'",
                                           r.stdout))
    for g in account["groups"]:
        if g["state"] == "waiting":
            assert set(g["goids"]) <= names, (g["group"], g["goids"])
    bt = r.stdout.split("(lldb) bt", 1)[1].split("(lldb) register", 1)[0]
    assert "name = 'goroutine %d'" % goid in bt
    dumped = demo_core.parsed_dump().goroutines[goid]
    user = [f for f in dumped.funcs() if f.startswith("main.")]
    assert user and all(f in bt for f in user), (user, bt)
    # Only the registers a parked goroutine has are given.
    regs = r.stdout.split("(lldb) register read", 1)[1]
    assert "rip" in regs and "rsp" in regs and "rax" not in regs


def test_help(demo_core):
    r = lldb([], ["help go", "help go goroutines"])
    assert r.returncode == 0, r.stderr
    for word in ("goroutines", "goroutine", "chan", "mutex", "deadlocks",
                 "threads", "--by", "--min-age"):
        assert word in r.stdout


# ------------------------------------------------------------ bad usage

def _error(r, *needles):
    text = r.stdout + r.stderr
    assert "Traceback" not in text, text
    line = one_line_error(r.stderr, *needles)
    assert line.startswith("error: "), line
    return line


def test_unknown_option(demo_core):
    _error(_core(demo_core, ["go goroutines --bogus"]),
           "unrecognized arguments: --bogus")


def test_no_program_loaded():
    _error(lldb([], ["go goroutines"]), "no program loaded")


def test_no_process(tiny_go):
    _error(lldb([tiny_go.exe], ["go goroutines"]), "no process")


def test_not_a_go_program(tiny_go):
    _error(lldb([tiny_go.sleep_exe, "-c", tiny_go.sleep_core],
                ["go goroutines"]), "Go")


def test_argparse_never_exits(demo_core):
    """--help and a bad option leave LLDB running: the next command runs
    (and says what the runtime's per-M sections say)."""
    r = lldb([demo_core.exe, "-c", demo_core.core],
             ["go goroutines --help", "go goroutines --by x", "go threads"],
             keep_going=True)
    assert "usage: go goroutines" in r.stdout
    one_line_error(r.stderr, "invalid choice")
    assert expect.threads_of_text(r.stdout) == expect.threads(demo_core)


def test_chan_mutex_deadlocks_threads(demo_core):
    """go chan, go mutex, go deadlocks and go threads, each against the
    fixture's account or the runtime's dump."""
    acc = demo_core.load_account()
    grp = next(g for g in acc["groups"] if g["group"] == "recv_no_sender")
    chan = grp["objects"][0]["addr"]
    objs = {}
    for goid, o in expect.objects(demo_core):
        if o["kind"] in ("mutex", "rwmutex", "waitgroup"):
            objs.setdefault(o["addr"], []).append((goid, o))
    r = _core(demo_core, ["go chan " + chan, "go deadlocks", "go threads"] +
              ["go mutex " + a for a in sorted(objs)])
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    line = next(l for l in r.stdout.splitlines() if "blocked receivers:" in l)
    assert sorted(int(i) for i in line.split("(goroutine", 1)[1]
                  .rstrip(")").split()) == sorted(grp["goids"])
    assert_deadlocks_text(r.stdout, demo_core)
    assert expect.threads_of_text(r.stdout) == expect.threads(demo_core)
    for members in objs.values():
        assert_sync_text(r.stdout, members)


def test_thread_select_shows_the_goroutine(demo_core):
    """`thread select` on a goroutine's thread: bt shows the user frames
    the runtime's dump printed for that goroutine."""
    grp = next(g for g in demo_core.load_account()["groups"]
               if g["group"] == "lock_ab")
    goid = grp["goids"][0]
    r = _core(demo_core, ["thread list"])
    assert r.returncode == 0, r.stderr
    index = int(re.search(r"thread #(\d+): tid = \d+, .* name = 'goroutine "
                          r"%d'" % goid, r.stdout).group(1))
    r = _core(demo_core, ["thread select %d" % index, "bt"])
    assert r.returncode == 0, r.stderr
    assert "* thread #%d, name = 'goroutine %d'" % (index, goid) in r.stdout
    # LLDB may print the selection's frame #0 after bt: frames by number.
    frames = dict(re.findall(r"^\s+(?:\* )?frame #(\d+): 0x[0-9a-f]+ "
                             r"fixture`(\S+) at ", r.stdout, re.M))
    shown = [frames[n] for n in sorted(frames, key=int)
             if frames[n].startswith("main.")]
    user = [f for f in demo_core.parsed_dump().goroutines[goid].funcs()
            if f.startswith("main.")]
    assert user and shown == user, (user, r.stdout)


# ------------------------------------------------------------------ live

@pytest.fixture(scope="module")
def live_exe(tmp_path_factory):
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain")
    return build_live(tmp_path_factory.mktemp("live"), go)


def test_live_attach(live_exe):
    p = LiveProcess(live_exe)
    try:
        r = lldb(["-p", p.pid], ["go goroutines", "thread list",
                                 "process detach"])
    finally:
        p.close()
    assert r.returncode == 0, r.stderr
    parked = [g for g in groups_of(r.stdout) if "main.parkedReceiver" in g[2]]
    assert len(parked) == 1 and parked[0][0] == LIVE_PARKED, r.stdout
    # LLDB 16 prints a thread's location before its name; on a live process
    # it lists plug-in threads more than once (README: Debuggers), so the
    # set of goroutine threads is what must be right.
    names = {m.group(1) for line in r.stdout.splitlines()
             if "main.parkedReceiver" in line
             for m in [re.search(r"name = 'goroutine (\d+)'", line)] if m}
    assert len(names) == LIVE_PARKED, r.stdout
