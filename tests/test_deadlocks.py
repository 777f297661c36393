"""The wait-for graph (waitgraph.c): every cycle the fixture built is found,
as exactly its goroutines, and no other cycle; provable forever-blocks."""

import pytest

from _analysis_common import CELLS, snapshot
from goparked import analysis as A


def canon(goids):
    i = goids.index(min(goids))
    return tuple(goids[i:] + goids[:i])


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_cycles_exact(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        d = A.Deadlocks(snap)
        got = {canon(c) for c in d.cycle_goids()}
        want = {canon([e["goid"] for e in c["edges"]]) for c in acc["cycles"]}
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
        for c in acc["cycles"]:
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
