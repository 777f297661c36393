"""The leak verdict against the runtime's own goroutine leak detector and
against corefiles/leaks' account, on every Go version.

- Go 1.27, and 1.26 built with GOEXPERIMENT=goroutineleakprofile: the
  goroutines goparked finds "leaked (proven)" in the core are exactly the
  ones the runtime's goroutineleak profile reported just before it
  (runtime_leak_profile in the account: the runtime's debug=2 output).
- Go 1.19 to 1.27, with DWARF and stripped, cores where the detector was not
  asked: every accounted goroutine gets the verdict the account expects
  (leaked, no_waker, lingering, blocked), and no other goroutine is leaked,
  lingering or without a waker: no false leak.
- The frames' stack maps equal the runtime's heap dump's (the roots).
"""

from __future__ import annotations

import collections
import contextlib

import heapdump
import pytest
from leak_fixtures import PROFILE_CELLS, leak_core, leak_params

from goparked.model import Program

@contextlib.contextmanager
def verdicts_of(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    with Program.from_core(e.core, e.exe) as prog, prog.snapshot() as snap:
        yield e, e.load_account(), snap, snap.verdicts()


def _mismatches(acc, snap, v, skip=()):
    bad = collections.Counter()
    for g in acc["goroutines"]:
        if (g["case"], g["group"]) in skip:
            continue
        got = v.of(snap.find(g["goid"]))
        if got.key != g["expect"]:
            bad[(g["case"], g["group"], g["expect"], got.key, got.reason)] += 1
    return bad


@pytest.mark.parametrize("toolchain,variant,mode", leak_params(PROFILE_CELLS))
def test_proven_leaks_equal_runtime_goroutineleak_profile(toolchain, variant, mode):
    with verdicts_of(toolchain, variant, mode) as (e, acc, snap, v):
        prof = acc["runtime_leak_profile"]
        assert prof["available"], prof
        assert v.heap_model, v.heap_error
        goids = snap.goid_array()
        mine = {goids[i] for i in range(len(goids)) if v.code(i) == 1}
        runtime = set(prof["leaked_goids"])
        # goroutine 1 in select {} is in neither (mgc.go findGoroutineLeaks)
        assert mine == runtime, "goparked only: %s; runtime only: %s" % (sorted(mine - runtime),
                                                                        sorted(runtime - mine))
        assert len(runtime) >= 40


# every toolchain stripped too (the layout tables' fields), beyond the
# default matrix's oldest and newest
STRIPPED_MORE = [(t, "stripped", "plain") for t in ("1.20", "1.21", "1.22", "1.23", "1.24", "1.25")]


@pytest.mark.parametrize("toolchain,variant,mode", leak_params() + leak_params(STRIPPED_MORE))
def test_verdicts_equal_account(toolchain, variant, mode):
    with verdicts_of(toolchain, variant, mode) as (e, acc, snap, v):
        assert v.heap_model, v.heap_error
        assert v.corrupt_spans == 0 and v.stack_errors == 0
        bad = _mismatches(acc, snap, v)
        assert not bad, sorted(bad.items())
        # no false leak: nothing the account does not know of is judged
        # leaked, lingering or without a waker (main sleeps; the runtime's
        # own goroutines wait on what it never judges)
        accounted = {g["goid"] for g in acc["goroutines"]}
        goids = snap.goid_array()
        for i, goid in enumerate(goids):
            if goid in accounted:
                continue
            key = v.of(i).key
            assert key in ("live", "blocked"), (goid, key, snap.goroutine_at(i).wait_reason)
        # the fixed counts the issue names: 20 of the 120 cache senders, the
        # lingering monitors of three cases
        cache = [g for g in acc["goroutines"] if g["case"] == "no_waker_cache"]
        assert len(cache) == 20 and {v.of(snap.find(g["goid"])).key for g in cache} == {"no_waker"}
        lingering = [g for g in acc["goroutines"] if v.of(snap.find(g["goid"])).key == "lingering"]
        assert {g["case"] for g in lingering} == {"ctx_background_loop", "ctx_cancel_dropped", "ticker_abandoned"}
        assert len(lingering) == 3 * acc["n"]


@pytest.mark.parametrize("toolchain,variant,mode", leak_params([("1.27", "dwarf", "plain"), ("1.19", "stripped", "plain")]))
def test_global_mutex_holder_leaked(toolchain, variant, mode):
    """Waiters on a global mutex whose holder is leaked are leaked too: the
    holder is found from the code (a global's address loaded into a
    register, then LOCK CMPXCHG), and the verdict follows it."""
    with verdicts_of(toolchain, variant, mode) as (e, acc, snap, v):
        waiters = [g for g in acc["goroutines"]
                   if (g["case"], g["group"]) == ("global_mutex_holder_leaked", "waiters")]
        assert waiters
        for g in waiters:
            got = v.of(snap.find(g["goid"]))
            assert (got.key, got.reason) == (g["expect"], "holder_leaked"), (g, got.key, got.reason)


@pytest.mark.parametrize("toolchain,variant,mode", [c for c in leak_params()
                                                    if c.values[1:] == ("dwarf", "plain")])
def test_reasons_and_paths(toolchain, variant, mode):
    """Each verdict says why; what can still be woken shows how it is held,
    by the names the account gives (a global, main's stack, a timer)."""
    with verdicts_of(toolchain, variant, mode) as (e, acc, snap, v):
        by = collections.defaultdict(list)
        for g in acc["goroutines"]:
            by[(g["case"], g["group"])].append(v.of(snap.find(g["goid"])))
        assert {x.reason for x in by[("nil_chan", "nil_senders")]} == {"nil_chan"}
        assert {x.reason for x in by[("select_empty", "select_empty")]} == {"select_empty"}
        assert {x.reason for x in by[("recv_local", "receivers")]} == {"unreachable"}
        assert {x.reason for x in by[("no_waker_cache", "senders")]} == {"no_consumer"}
        assert {x.reason for x in by[("no_waker_wg_global", "waiters")]} == {"no_decrement"}
        # a writer waits for every reader; later readers wait for the
        # writer: the leaked reader is the holder the reason names
        reader = by[("no_waker_rw_reader_leaked", "reader")]
        assert [x.key for x in reader] == ["leaked"]
        rw = by[("no_waker_rw_reader_leaked", "writer")] + by[("no_waker_rw_reader_leaked", "rwaiters")]
        rgoid = [g["goid"] for g in acc["goroutines"]
                 if (g["case"], g["group"]) == ("no_waker_rw_reader_leaked", "reader")]
        assert {(x.reason, x.holder_goid) for x in rw} == {("holder_leaked", rgoid[0])}
        assert {x.reason for x in by[("ticker_abandoned", "tickers")]} == {"timer_loop"}
        for x in by[("no_false_global_chan", "receivers")]:
            assert x.path[0].kind == "global" and x.path[0].name == "main.gJobs", x.path
            assert x.path[-1].address == x.object
        for x in by[("no_false_global_field", "receivers")]:
            assert x.path[0].name == "main.gService" and x.path[-1].offset == 16, x.path
        for x in by[("no_false_main_stack", "receivers")]:
            assert x.path[0].kind == "stack" and x.path[0].goid == acc["main_goid"], x.path
            assert x.path[0].name == "main.main"
            # the local main.go keeps alive to the end (runtime.KeepAlive(ms));
            # before 1.22 its location list leaves that pc out: not named,
            # never misnamed
            assert x.path[0].local == "ms" or (x.path[0].local is None and
                                               e.go_version < "go1.22"), x.path[0].local
        # a channel a sleeper will send on: its parameter (cases.go
        # sleepThenSend(r *reg, ch chan int)), spilled in its caller's frame
        for x in by[("no_false_stack_chan", "receivers")]:
            root = x.path[0]
            assert root.kind == "stack", x.path
            # in its own frame, or spilled to its home in its caller's
            assert (root.name, root.local) == ("main.sleepThenSend", "ch") or \
                root.local in ("ch (argument of main.sleepThenSend)", None), (root.name, root.local)
            assert root.local or e.go_version < "go1.22"
        for x in by[("no_false_timer", "receivers")]:
            assert x.path[0].name == "runtime.allp", x.path
        for x in by[("no_false_finalizer", "receivers")]:
            assert x.path[0].kind == "special", x.path


@pytest.mark.parametrize("toolchain,variant,mode", [c for c in leak_params() if c.values[2] == "plain"])
def test_stack_maps_equal_runtime_heapdump(toolchain, variant, mode):
    """The words each goroutine's frames call pointers (locals and
    arguments at each frame's pc) are the ones the runtime's own heap dump
    lists for the same frames (heapdump.go dumpframe)."""
    e = leak_core(toolchain, variant, mode)
    hd = heapdump.load(e.heapdump)
    with Program.from_core(e.core, e.exe) as prog, prog.snapshot() as snap:
        compared = 0
        for goid, g in hd.goroutines.items():
            want = {f.sp + off for f in g.frames for off in f.pointers}
            i = snap.find(goid)
            if i is None:
                # the goroutine that wrote the dump has exited since
                assert any(f.name == "main.readyWhenMainSleeps" for f in g.frames), goid
                continue
            cg = snap.goroutine_at(i)
            if cg.sp != g.sp:
                # it ran between the dump and the core: only the runtime's
                # own goroutines may (the background scavenger wakes on
                # its own); the fixture's are parked for good
                assert cg.system, (goid, [f.name for f in g.frames][:5])
                continue
            assert set(snap.stack_pointers(i)) == want, (goid, [f.name for f in g.frames][:5])
            compared += bool(want)
        assert compared > 100


TWO_THREAD_CELLS = [("1.19", "dwarf", "plain"), ("1.22", "dwarf", "plain"),
                    ("1.26", "stripped", "plain"), ("1.27", "dwarf", "profile")]


def _proof_note(stderr):
    notes = [ln for ln in stderr.splitlines() if "chunks scanned on two threads" in ln]
    assert len(notes) == 1, stderr
    words = notes[0].split()
    return int(words[words.index("proof:") + 1]), int(words[words.index("of") - 1])


def test_two_threads_mark_what_one_marks(run_goparked):
    """The proof's mark runs on two threads (runtime/mark.c) and must
    give what one thread gives: the same proven leaks, verdicts and
    retention paths (the first parent of every object), byte for byte.
    GOPARKED_PAR_MIN=1 sends even these small cores' chunks to both
    threads; the phase note proves that it did, and that objects whose
    scan needs the heap's type cache filled were done over on one. The
    heap model and the syncs built on a second thread beside the channels
    are in it too."""
    done_over = 0
    for toolchain, variant, mode in TWO_THREAD_CELLS:
        e = leak_core(toolchain, variant, mode)
        outs = {}
        for par_min in ("1", "100000000"):
            for args in (["--leaks", "--json"], ["--leaks"]):
                r = run_goparked([e.core, "--exe", e.exe] + args,
                                 env={"GOPARKED_PAR_MIN": par_min, "GOPARKED_PHASES": "1"})
                assert r.returncode == 0, r.stderr
                chunks, again = _proof_note(r.stderr)
                # the heap model and the syncs are read beside the
                # channels (analysis.c)
                beside = "read beside the channels" in r.stderr
                if par_min == "1":
                    assert chunks > 0, (toolchain, r.stderr)
                    assert beside, r.stderr
                    done_over += again
                else:
                    assert chunks == 0 and again == 0, r.stderr
                    assert not beside, r.stderr
                outs[(par_min, tuple(args))] = r.stdout
        for args in (("--leaks", "--json"), ("--leaks",)):
            assert outs[("1", args)] == outs[("100000000", args)], (toolchain, variant, args)
        assert "path" in outs[("1", ("--leaks", "--json"))]
    assert done_over > 0
