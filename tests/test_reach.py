"""leaked (proven) where reachability is subtle: corefiles/reach.

The reach program parks goroutines whose wait objects are reachable only
through a finalizer (its closure, its object, the queue behind a stuck
finalizer), a cleanup, a timer, the netpoller, os/signal, sync.Pool, a
global map/slice/interface/closure chain, a sync.Map, a channel's buffer,
another parked goroutine's stack, a stack object, a system call, a running
goroutine's registers (Go code, and an assembly loop the runtime cannot
preempt: the core finds it running, its registers in the ucontext of the
signal that stopped its thread), a defer record, the closure of a goroutine that never ran (g.sched.ctxt),
an abandoned iter.Pull's body (its coroutine is a root), a blocked send (and a reflect Send's heap copy),
a context's parent, an interior pointer, a far pointer of a type whose mask
is built on demand, reflect.Select, a select with one reachable case, a global map's key (inline
and indirect), a finalizer whose closure holds its own object; a cleanup goroutine stuck in its cleanup
(leaked: the running cleanup's entry is cleared before the call, unlike a
finalizer's record);
next to the same shapes with the last reference dropped (runtime.GC()
before the core), a pointer hidden in a uintptr, a byte array or a weak
pointer, a dead slot of a sleeper's frame, channels whose buffers hold
only themselves or each other, self-deadlocks on escaped locals, and the
lock patterns (a Mutex, RWMutex, WaitGroup or Cond whose holder or only
waker leaked, or sleeps; and a Mutex and a WaitGroup in mmap'd memory,
outside the heap, which the detector never finds leaked). Its account says, for each goroutine id, whether
the runtime's detector must find it leaked ("either" where it depends on
runtime state the program cannot see: a stopped timer still in a P's heap).

- Go 1.27: the runtime's goroutineleak profile, taken just before the core,
  equals the account (test_account_agrees_with_runtime: where they would
  disagree the runtime is the reference and the account says why, e.g. a
  leaked goroutine's heap defer record or reflect Send copy keeps what it
  holds reachable), and goparked's proven-leaked set equals the profile's.
- Go 1.27, 1.26 and 1.19, with DWARF and stripped, cores where the detector
  was not asked (the kernel's after SIGQUIT, and gdb's gcore of the live
  process): goparked's proven-leaked set equals the account's.
"""

from __future__ import annotations

import collections

import pytest

from fixtures import in_ci, oracle
from leak_fixtures import leakgen

from goparked.model import Program


PROFILE_CELLS = [("1.27", "dwarf", "profile"), ("1.27", "stripped", "profile")]
# plain: the kernel's core after SIGQUIT with GOTRACEBACK=crash (every
# thread in a signal handler); gcore: gdb's core of the live process (the
# threads stopped where they ran)
PLAIN_CELLS = [(t, v, m) for t in ("1.27", "1.26", "1.19") for v in ("dwarf", "stripped") for m in ("plain", "gcore")]


def _params(cells):
    return [pytest.param(t, v, m, id="go%s-%s-%s" % (t, v, m)) for t, v, m in cells]


def reach_core(toolchain, variant, mode):
    """The cell's core, made on demand; skipped when the toolchain is
    missing, except under CI=true (these toolchains are in CI's matrix)."""
    try:
        return leakgen.ensure(toolchain, variant, mode, prog="reach")
    except leakgen.Unavailable as exc:
        if in_ci():
            pytest.fail("CI=true and Go %s is unavailable: %s" % (toolchain, exc))
        pytest.skip("Go toolchain %s unavailable: %s" % (toolchain, exc))
    except leakgen.GenerateError as exc:
        if "core_pattern" in str(exc) and not in_ci():
            pytest.skip("cannot make cores on this machine: %s" % exc)
        raise


def _where(g):
    return "%s/%s g%d" % (g["case"], g["group"], g["goid"])


def _proven(e):
    """goparked's verdicts on the core: (account, {goid: (key, reason)}, proven-leaked goids)."""
    acc = e.load_account()
    with Program.from_core(e.core, e.exe) as prog, prog.snapshot() as snap:
        v = snap.verdicts()
        assert v.heap_model, v.heap_error
        assert v.corrupt_spans == 0 and v.stack_errors == 0
        goids = snap.goid_array()
        keys = {}
        for i, goid in enumerate(goids):
            x = v.of(i)
            keys[goid] = (x.key, x.reason)
        proven = {goids[i] for i in range(len(goids)) if v.code(i) == 1}
    return acc, keys, proven


def _expected(acc):
    return {g["goid"] for g in acc["goroutines"] if g["expect"] == "leaked"}


def _decided(acc):
    return {g["goid"] for g in acc["goroutines"] if g["expect"] != "either"}


@pytest.mark.parametrize("toolchain,variant,mode", _params(PROFILE_CELLS))
def test_account_agrees_with_runtime(toolchain, variant, mode):
    """The account (written by hand from the detector's rules) is what the
    runtime's goroutineleak profile reported, case by case; the profile
    reports no goroutine the account does not know."""
    e = reach_core(toolchain, variant, mode)
    acc = e.load_account()
    prof = acc["runtime_leak_profile"]
    assert prof["available"], prof
    reported = set(prof["leaked_goids"])
    by_goid = {g["goid"]: g for g in acc["goroutines"]}
    assert reported <= set(by_goid), sorted(reported - set(by_goid))
    wrong = sorted(_where(g) + " expect " + g["expect"] for g in acc["goroutines"]
                   if g["expect"] != "either" and (g["expect"] == "leaked") != (g["goid"] in reported))
    assert not wrong, wrong
    assert prof["count"] == len(reported)
    # every case parks goroutines, and the dropped shapes are leaked next to
    # the kept ones
    cases = collections.defaultdict(set)
    for g in acc["goroutines"]:
        cases[g["case"]].add(g["expect"])
    assert set(acc["cases"]) | {"pool", "late"} == set(cases)
    both = {c for c, x in cases.items() if {"leaked", "blocked"} <= x}
    assert {"finalizer_closure", "finalizer_arg", "signal", "global_chain", "sync_map", "chan_buffers",
            "parked_chain", "defers", "select", "reflect_select", "locks", "roots", "carried", "contexts",
            "cleanup", "pool"} <= both, sorted(both)


@pytest.mark.parametrize("toolchain,variant,mode", _params(PROFILE_CELLS))
def test_proven_leaks_equal_runtime_profile(toolchain, variant, mode):
    """On the core written just after the profile (no GC in between), the
    goroutines goparked proves leaked are exactly the ones the runtime
    reported, the undecided ("either") cases included."""
    e = reach_core(toolchain, variant, mode)
    acc, keys, proven = _proven(e)
    reported = set(acc["runtime_leak_profile"]["leaked_goids"])
    by_goid = {g["goid"]: g for g in acc["goroutines"]}
    name = lambda goid: _where(by_goid[goid]) if goid in by_goid else "g%d" % goid  # noqa: E731
    assert proven == reported, "goparked only: %s; runtime only: %s" % (
        sorted("%s %s" % (name(x), keys[x]) for x in proven - reported),
        sorted("%s %s" % (name(x), keys.get(x)) for x in reported - proven))


@pytest.mark.parametrize("toolchain,variant,mode", _params(PLAIN_CELLS))
def test_proven_leaks_equal_account(toolchain, variant, mode):
    """Every goroutine the account decides gets it (leaked (proven) or not),
    every accounted goroutine is in the runtime's dump, and no goroutine
    the account does not know of is proven leaked."""
    e = reach_core(toolchain, variant, mode)
    acc, keys, proven = _proven(e)
    dump = oracle.parse_file(e.dump).goroutines
    by_goid = {g["goid"]: g for g in acc["goroutines"]}
    missing = sorted(_where(g) for g in acc["goroutines"] if g["goid"] not in dump)
    assert not missing, missing
    decided = _decided(acc)
    want = _expected(acc)
    bad = sorted("%s expect %s, got %s" % (_where(by_goid[x]), by_goid[x]["expect"], keys.get(x))
                 for x in decided if (x in proven) != (x in want))
    assert not bad, bad
    assert not proven - set(by_goid), sorted(proven - set(by_goid))
    assert len(want) >= 40 and len(decided - want) >= 60


def test_source_hash_covers_assembly(tmp_path, monkeypatch):
    """The cache key of a leakgen program changes with its .s files (reach
    has spin_amd64.s): an edited assembly file is a new build, never the
    stale cached core of the old one."""
    import dataclasses
    import os
    assert any(n.endswith(".s") for n in os.listdir(leakgen.program("reach").src))
    (tmp_path / "go.mod").write_text("module reach\n")
    (tmp_path / "main.go").write_text("package main\nfunc main() {}\n")
    (tmp_path / "spin_amd64.s").write_text("TEXT ·spin(SB),4,$0\n\tRET\n")
    monkeypatch.setitem(leakgen.PROGRAMS, "reach",
                        dataclasses.replace(leakgen.program("reach"), src=str(tmp_path)))
    before = leakgen.source_hash("reach")
    (tmp_path / "spin_amd64.s").write_text("TEXT ·spin(SB),4,$0\n\tJMP ·spin(SB)\n")
    after = leakgen.source_hash("reach")
    assert after != before
    (tmp_path / "notes.txt").write_text("not compiled")
    assert leakgen.source_hash("reach") == after
