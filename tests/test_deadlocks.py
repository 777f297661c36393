"""The wait-for graph (waitgraph.c): every cycle the fixture built is found,
as exactly its goroutines, and no other cycle; provable forever-blocks."""

import pytest

from _analysis_common import CELLS, snapshot
from goparked import analysis as A


def canon(goids):
    i = goids.index(min(goids))
    return tuple(goids[i:] + goids[:i])


def _account_cycles(acc, variant, snap):
    """The account's cycles: every one, on every architecture (arm64's
    mutex holders come from its instruction decoder, as amd64's)."""
    return acc["cycles"]


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_cycles_exact(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        d = A.Deadlocks(snap)
        got = {canon(c) for c in d.cycle_goids()}
        want = {canon([e["goid"] for e in c["edges"]]) for c in _account_cycles(acc, variant, snap)}
        assert got == want
        for c in d.cycles:
            for e in c["edges"]:
                assert e.evidence


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_cycle_edges_name_the_objects(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        d = A.Deadlocks(snap)
        edges = {(e.from_goid, e.object, e.to_goid)
                 for c in d.cycles for e in c["edges"]}
        for c in _account_cycles(acc, variant, snap):
            for e in c["edges"]:
                assert (e["goid"], int(e["waits_on"]["addr"], 16),
                        e["waits_for"]) in edges


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_provably_stuck(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        d = A.Deadlocks(snap)
        byreason = {}
        for s in d.stuck:
            if s["provable"]:
                byreason.setdefault(s["reason"], set()).update(s["goids"])
        groups = {g["group"]: set(g["goids"]) for g in acc["groups"]}
        assert groups["nil_send"] | groups["nil_recv"] <= byreason["nil channel"]
        assert groups["select_empty"] <= byreason["select {}"]
        # nothing the fixture can still wake is called provably stuck
        assert not (groups["sleep_hour"] & set().union(*byreason.values()))


@pytest.mark.slow
@pytest.mark.parametrize("refs", [False, True])
def test_no_cycles_by_coincidence_at_scale(refs):
    """With thousands of goroutines, stacks hold many pointers that point
    at things by coincidence (the runtime's own frames most of all): the
    cycles found must still be exactly the ones the fixture built (at 1M
    goroutines a bench core once showed a cycle that did not exist).
    refs: the stack words the reference scan needs kept by the snapshot's
    stack pass (GP_SNAPSHOT_REFS) rather than read again."""
    from fixtures import NEWEST, core_for
    from goparked.model import Program
    fc = core_for(NEWEST, "dwarf", "all", n=300)
    acc = fc.load_account()
    with Program.from_core(fc.core, fc.exe) as prog:
        d = A.Deadlocks(prog.snapshot(refs=refs))
        got = {canon(c) for c in d.cycle_goids()}
    want = {canon([e["goid"] for e in c["edges"]]) for c in acc["cycles"]}
    assert len(want) >= 600
    assert got == want


@pytest.mark.slow
@pytest.mark.parametrize("refs", [False, True])
def test_evidence_only_from_the_users_frames(refs):
    """Holders and wakers are found in the frames of the user's code: the
    runtime's own frames (chanrecv, semacquire, ...) hold the machinery of
    the goroutine's own wait, and pointers found there are coincidences
    (they made a false cycle at a million goroutines)."""
    from fixtures import NEWEST, core_for
    from goparked.model import Program
    fc = core_for(NEWEST, "dwarf", "all", n=300)
    with Program.from_core(fc.core, fc.exe) as prog:
        snap = prog.snapshot(refs=refs)
        seen = 0
        for obj in A.syncs(snap) + A.chans(snap):
            for h in (obj.holders if hasattr(obj, "holders") else obj.wakers):
                if h.frame is None:
                    continue
                func = h.goroutine.frames[h.frame].func
                assert not func.startswith(("runtime.", "sync.", "internal/")), \
                    (func, h.description)
                seen += 1
        assert seen > 100
