"""Mutex and RWMutex holders (locks.c, holders.c) against the account of
corefiles/leaks' `holders` case: 16 shapes, each mutex with its true holder
(the goroutine whose frame is between Lock and Unlock), its readers, the
goroutines that only keep a pointer to it (bystanders, main among them) and
its waiters. Each shape's first-ranked holder must be the true one, or the
answer "unknown" where the account says the core cannot decide; a wrong
goroutine named first fails, whatever the shape. Every cell of the leak
matrix: Go 1.19 to 1.27 with DWARF, 1.19, 1.26 and 1.27 stripped, cores with
and without the runtime's leak detector asked.
"""

from __future__ import annotations

import ctypes

import pytest

from leak_fixtures import leak_core, leak_params
from goparked import _native as N
from goparked import analysis as A
from goparked.model import Program


def _open(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    return e, e.load_account()


def _owners(snap, address):
    """gp_snapshot_sync_owners: (status name, writer goid, reader goids)."""
    status, writer = ctypes.c_uint32(), ctypes.c_uint32()
    readers = ctypes.POINTER(ctypes.c_uint32)()
    n = ctypes.c_size_t()
    N.lib().check(N.lib().gp_snapshot_sync_owners(
        snap._handle(), address, ctypes.byref(status), ctypes.byref(writer),
        ctypes.byref(readers), ctypes.byref(n)))
    w = None if writer.value == N.NONE else snap.goroutine_at(writer.value).goid
    return (N.HOLDER_STATUS_NAMES[status.value], w,
            sorted(snap.goroutine_at(readers[i]).goid for i in range(n.value)))


@pytest.mark.parametrize("toolchain,variant,mode", leak_params())
def test_each_shape_names_its_holder(toolchain, variant, mode):
    e, acc = _open(toolchain, variant, mode)
    wrong, missing, checked = [], [], 0
    with Program.from_core(e.core, e.exe) as prog, prog.snapshot() as snap:
        syncs = {s.address: s for s in A.syncs(snap)}
        for m in acc["mutexes"]:
            where = "%s (%s)" % (m["shape"], m["name"])
            s = syncs.get(int(m["addr"], 16))
            if s is None:
                # only a mutex nobody waits on is absent (Cond.Wait released it)
                assert not m["waiter_goids"] and not m["rwaiter_goids"], where
                continue
            checked += 1
            want_w = m["holder_goid"] or None
            want_r = sorted(m["reader_goids"])
            first = [h for h in s.holders if h.rank == 1]
            named = {h.goid for h in s.holders}
            # Nobody who only keeps a pointer, nobody waiting in Lock, is
            # ever a candidate.
            for goid in m["bystander_goids"] + m["waiter_goids"] + m["rwaiter_goids"]:
                if goid in named:
                    wrong.append("%s: g%d (bystander or waiter) named %s" % (
                        where, goid, [h.description for h in s.holders if h.goid == goid]))
            # A decided answer must be the truth.
            if s.holder_status == "found":
                w = s.writer.goid if s.writer else None
                r = sorted(h.goid for h in s.readers_holding)
                if (w, r) != (want_w, want_r):
                    wrong.append("%s: named writer %s readers %s, truth writer %s readers %s"
                                 % (where, w, r, want_w, want_r))
                assert {h.goid for h in first} == set(([w] if w else []) + r), where
                assert all(h.description for h in first), where
            elif want_w or want_r:
                # "unknown" is right only where the core cannot decide
                if m["decidable"]:
                    missing.append("%s: %s, candidates %s" % (where, s.holder_status, sorted(named)))
            # The owners the verdict reads say the same.
            status, ow, orr = _owners(snap, s.address)
            assert status == s.holder_status, where
            if status == "found":
                assert (ow, orr) == (s.writer.goid if s.writer else None,
                                     sorted(h.goid for h in s.readers_holding)), where
            else:
                assert (ow, orr) == (None, []), where
    assert checked >= 14
    assert not wrong, "\n".join(wrong)
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("toolchain,variant,mode", leak_params([("1.26", "dwarf", "plain")]))
def test_the_issue_example_and_the_global(toolchain, variant, mode):
    """Issue 12's examples in words: main keeps `s` and is not the holder;
    the global mutex has its holder; the readers are reported as readers."""
    e, acc = _open(toolchain, variant, mode)
    shapes = {m["shape"]: m for m in acc["mutexes"]}
    with Program.from_core(e.core, e.exe) as prog, prog.snapshot() as snap:
        syncs = {s.address: s for s in A.syncs(snap)}
        for shape in ("pointer_only_one_locked", "global", "rw_readers"):
            m = shapes[shape]
            s = syncs[int(m["addr"], 16)]
            line = A.sync_summary(s)
            if m["holder_goid"]:
                assert "probable holder goroutine %d" % m["holder_goid"] in line, line
                assert "goroutine %d" % acc["main_goid"] not in line, line
            else:
                assert "read-held by goroutine" in line, line
                for r in m["reader_goids"]:
                    assert str(r) in line, line
