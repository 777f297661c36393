"""Mutexes, RWMutex, WaitGroup, Cond (sema.c, holders.c): waiters by object
address, decoded state and probable holders, checked against the account."""

import pytest

from _analysis_common import CELLS, addr, objects_by_goid, snapshot
from goparked import analysis as A

ROLES = {"lock": "lock", "rlock": "rlock", "wait": "wait"}


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_waiters_by_object(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        syncs = {s.address: s for s in A.syncs(snap)}
        n = 0
        for goid, g, o in objects_by_goid(acc, ("mutex", "rwmutex",
                                                "waitgroup", "cond")):
            if o["role"] not in ROLES:
                continue
            s = syncs.get(addr(o["addr"]))
            assert s is not None, "no sync object %s (%s)" % (o["addr"], g["group"])
            assert s.kind == o["kind"]
            assert (goid, o["role"]) in {(w.goid, w.role) for w in s.waiters}
            n += 1
        assert n


def _holders(toolchain, variant, via):
    """Each mutex the account's waiters block on, whose holder the fixture
    took by `via`: the holder goroutines ranked first must be exactly the
    one that locked it (only it, at that rank)."""
    with snapshot(toolchain, variant) as (fc, acc, snap):
        syncs = {s.address: s for s in A.syncs(snap)}
        n = 0
        for goid, g, o in objects_by_goid(acc, ("mutex", "rwmutex")):
            if o["role"] not in ("lock", "rlock") or o["holder_via"] != via:
                continue
            s = syncs[addr(o["addr"])]
            best = {h.goid for h in s.best_holders}
            assert best == {o["holder_goid"]}, (g["group"], o, best,
                                                s.holder_status)
            assert s.best_holders[0].description
            n += 1
        assert n


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_holders_of_local_mutexes(toolchain, variant):
    _holders(toolchain, variant, "local")


# The global mutex's holder locked it through an address loaded into a
# register (LEA rip, then LOCK CMPXCHG), never through a stack slot.
@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_holder_of_a_global_mutex(toolchain, variant):
    _holders(toolchain, variant, "global")


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_state(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        syncs = {s.address: s for s in A.syncs(snap)}
        for goid, g, o in objects_by_goid(acc, ("waitgroup",)):
            s = syncs[addr(o["addr"])]
            assert s.counter == o["counter"]
            assert s.state_waiters == len(g["goids"])
        for goid, g, o in objects_by_goid(acc, ("mutex",)):
            if o["role"] == "lock":
                assert syncs[addr(o["addr"])].locked
        for goid, g, o in objects_by_goid(acc, ("rwmutex",)):
            if o["role"] == "lock":
                s = syncs[addr(o["addr"])]
                assert s.writer_pending
                # the parked reader holds the only read lock
                assert s.readers == 1


@pytest.mark.parametrize("toolchain", ["1.19", "1.26"])
def test_group_by_mutex(toolchain):
    with snapshot(toolchain) as (fc, acc, snap):
        grouping = snap.group("mutex")
        groups = {}
        for grp in grouping:
            key = getattr(grp, "key_address", None)
            if key is None:
                key = getattr(grp, "address", None)
            groups[key] = grp
        for g in acc["groups"]:
            for o in g.get("objects") or []:
                if o["kind"] in ("waitgroup", "cond") or (
                        o["kind"] == "mutex" and o["role"] == "lock"):
                    grp = groups.get(addr(o["addr"]))
                    assert grp is not None, (g["group"], o["addr"])
                    assert grp.count >= len(g["goids"])


@pytest.mark.slow
def test_every_semaphore_waiter_at_scale():
    """Before Go 1.26 a goroutine blocked on a Mutex or WaitGroup is found
    only through the runtime's semaphore table. With 300 goroutines a group
    (thousands of waiters), every one the fixture parked must be there, on
    its object; the table is walked before the gs are read, and once read
    at most 1024 of them."""
    from fixtures import core_for
    from goparked.model import Program
    fc = core_for("1.25", "dwarf", "all", n=300)
    acc = fc.load_account()
    with Program.from_core(fc.core, fc.exe) as prog, prog.snapshot() as snap:
        syncs = {s.address: s for s in A.syncs(snap)}
        waiting = {(w.goid, w.role, s.address)
                   for s in syncs.values() for w in s.waiters}
        n = 0
        for goid, g, o in objects_by_goid(acc, ("mutex", "rwmutex",
                                                "waitgroup")):
            if o["role"] not in ROLES:
                continue
            assert (goid, o["role"], addr(o["addr"])) in waiting, \
                (g["group"], goid, o)
            n += 1
        assert n > 2000
