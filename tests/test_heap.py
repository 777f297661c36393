"""The heap model against the runtime's own heap dump of the same process.

corefiles/leaks writes debug.WriteHeapDump just before READY with the
collector off, and the core is taken afterwards (corefiles/leakgen.py): the
runtime's list of allocated objects and of their pointer words
(tests/heapdump.py) is what goparked must find in the core, for every
allocator generation (1.19 arena bitmap, 1.20-1.21 bitmap and noMorePtrs,
1.22+ span heap bits, malloc headers and large types, GreenTea spans), with
DWARF and stripped.
"""

from __future__ import annotations

import contextlib

import heapdump
import pytest
from leak_fixtures import leak_core, leak_params

from goparked.model import Program

PAGE = 8192


@contextlib.contextmanager
def leak_snapshot(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    with Program.from_core(e.core, e.exe) as prog, prog.snapshot() as snap:
        yield e, snap


def _minor(e) -> int:
    return int(e.go_version.split(".")[1])


PLAIN = [c for c in leak_params() if c.values[2] == "plain"]


@pytest.mark.parametrize("toolchain,variant,mode", PLAIN)
def test_objects_and_pointer_maps_equal_runtime_heapdump(toolchain, variant, mode):
    with leak_snapshot(toolchain, variant, mode) as (e, snap):
        hd = heapdump.load(e.heapdump)
        summary = snap.heap_summary()
        mine = snap.heap_objects()
        assert summary["corrupt_spans"] == 0 and summary["problems"] == 0, summary["notes"]
        assert summary["objects"] == len(mine)
        assert summary["generation"] == (1 if _minor(e) < 20 else 2 if _minor(e) < 22 else 3)
        only_dump = sorted(set(hd.objects) - set(mine))
        only_mine = sorted(set(mine) - set(hd.objects))
        # dumpobjs walks npages*8192/elemsize slots, not nelems: from 1.22 it
        # also lists the slots over a span's own heap bits (and GreenTea's
        # inline mark bits), which are the last 128 or 256 bytes of the page
        # (mbitmap.go spanHeapBitsRange). Nothing else may differ.
        tail = [a for a in only_dump if _minor(e) >= 22 and hd.objects[a].size <= 512
                and a % PAGE + hd.objects[a].size > PAGE - 256]
        assert only_dump == tail, [(hex(a), hd.objects[a].size) for a in only_dump if a not in tail][:10]
        assert not only_mine, [(hex(a), mine[a]) for a in only_mine[:10]]
        assert len(mine) > 500
        sizes = [a for a in mine if mine[a][0] != hd.objects[a].size]
        assert not sizes, [(hex(a), mine[a][0], hd.objects[a].size) for a in sizes[:10]]
        bad = []
        with_pointers = 0
        for a in sorted(mine):
            got = snap.heap_pointers(a)
            want = hd.objects[a].pointers
            with_pointers += bool(want)
            if got != want:
                bad.append((hex(a), mine[a], got[:8], want[:8]))
        assert not bad, bad[:5]
        assert with_pointers > 100
        # the kinds of object the generations differ on are all there
        flags = {f for _, f in mine.values()}
        if _minor(e) >= 22:
            assert 4 in flags, "no object with a malloc header"  # GP_OBJ_HEADER


@pytest.mark.parametrize("toolchain,variant,mode", leak_params([("1.27", "dwarf", "plain")]))
def test_interior_pointers_and_free_slots(toolchain, variant, mode):
    with leak_snapshot(toolchain, variant, mode) as (e, snap):
        mine = snap.heap_objects()
        a = max(mine, key=lambda x: mine[x][0])
        size = mine[a][0]
        assert snap.heap_pointers(a + size - 1) == snap.heap_pointers(a)
        with pytest.raises(Exception):
            snap.heap_pointers(8)
