"""The `go` commands in GDB (gdb -nx -batch), on fixture cores, on a live
process GDB attached to, and on a gdbserver target.

Expectations come from the CLI on the same target (same groups, same
text) and, independently, from the fixture's account and the runtime's own
goroutine dump; never from goparked's output alone.
"""

import json
import shutil
import subprocess

import pytest

from conftest import find_go, run_goparked_cmd
from debugger_helpers import (LIVE_PARKED, LiveProcess, assert_account_groups,
                              build_live, free_port, gdb, groups_of, listing,
                              one_line_error)

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
def test_goroutines_options_same_as_cli(demo_core, by):
    r = gdb([demo_core.exe, demo_core.core], ["go goroutines --by " + by])
    assert r.returncode == 0, r.stderr
    assert listing(r.stdout).strip() == _cli(demo_core, "--by", by).strip()


def test_goroutine_details_same_as_cli_and_dump(demo_core):
    account = demo_core.load_account()
    goid = next(g["goids"][0] for g in account["groups"]
                if g["state"] == "waiting")
    r = gdb([demo_core.exe, demo_core.core],
            ["go goroutine %d --no-select" % goid])
    assert r.returncode == 0, r.stderr
    cli = _cli(demo_core, "--goroutine", str(goid))
    assert cli.strip() in r.stdout
    dumped = demo_core.parsed_dump().goroutines[goid]
    printed = [l.split("(")[0] for l in r.stdout.splitlines()
               if l.endswith("(...)")]
    assert printed == dumped.funcs()[:len(printed)], (printed, dumped.funcs())


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
    assert _cli(demo_core, "--threads").strip() in r.stdout
    # The same text as the CLI's --chan, and the receivers the fixture parked.
    assert _cli(demo_core, "--chan", chan).strip() in r.stdout
    line = next(l for l in r.stdout.splitlines() if "blocked receivers:" in l)
    ids = line.split("(goroutine", 1)[1].rstrip(")").split()
    assert sorted(int(i) for i in ids) == sorted(grp["goids"])


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
    return one_line_error(r.stderr, *needles)


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
