"""Channels (chan.c): which goroutines are parked on which channel, element
type, len/cap, direction of select cases, timers; checked against the
fixture's account."""

import pytest

from _analysis_common import CELLS, addr, objects_by_goid, snapshot
from goparked import analysis as A

ROLE = {"recv": "recv", "send": "send"}


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_channels_match_account(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        chans = {c.address: c for c in A.chans(snap)}
        expect = {}
        for goid, group, o in objects_by_goid(acc, ("chan",)):
            if o["role"] not in ROLE or o.get("nil"):
                continue
            if group["group"].endswith("holder") or "would" in o["role"]:
                continue
            expect.setdefault(addr(o["addr"]), []).append((goid, o))
        assert expect
        for a, waiters in expect.items():
            assert a in chans, "channel %#x not reported" % a
            c = chans[a]
            o = waiters[0][1]
            assert c.elem_type == o["elem_type"], hex(a)
            assert c.cap == o["cap"] and c.len == o["len"], hex(a)
            assert not c.closed
            got = {(w.goid, w.role) for w in c.waiters}
            for goid, o in waiters:
                assert (goid, o["role"]) in got, (hex(a), goid, got)


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_select_cases_counted_under_each_channel(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        chans = {c.address: c for c in A.chans(snap)}
        g = [g for g in acc["groups"] if g["group"] == "select_3"][0]
        for o in g["objects"]:
            c = chans[addr(o["addr"])]
            sel = {w.goid for w in c.waiters if w.select and w.role == o["role"]}
            assert set(g["goids"]) <= sel, (o, sel)


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_nil_channel_waiters(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        nil = [c for c in A.chans(snap) if c.nil]
        assert len(nil) == 1
        got = {(w.goid, w.role) for w in nil[0].waiters}
        for g in acc["groups"]:
            if g["group"] in ("nil_send", "nil_recv"):
                role = g["objects"][0]["role"]
                assert {(x, role) for x in g["goids"]} <= got


@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_ticker_period(toolchain, variant):
    with snapshot(toolchain, variant) as (fc, acc, snap):
        for goid, group, o in objects_by_goid(acc, ("chan",)):
            if not o.get("period_ns"):
                continue
            c = A.chan(snap, addr(o["addr"]))
            assert c.timer, hex(c.address)
            assert c.timer_period == o["period_ns"]
            assert c.timer_when > 0


def test_one_channel_by_address_newest():
    with snapshot(CELLS[-3][0]) as (fc, acc, snap):
        g = [g for g in acc["groups"] if g["group"] == "send_full"][0]
        c = A.chan(snap, addr(g["objects"][0]["addr"]))
        assert {w.goid for w in c.waiters if w.role == "send"} == set(g["goids"])
        assert (c.len, c.cap) == (100, 100)
        assert "chan *main.Order" in A.chan_text(snap, c)


def test_wakers_do_not_depend_on_what_was_asked_first():
    """Listing channels first, or the deadlock analysis first, gives the same
    possible wakers for every channel (they come from one reference scan)."""
    from fixtures import NEWEST, core_for
    from goparked.model import Program
    fc = core_for(NEWEST, "dwarf", "all")

    def wakers(first):
        with Program.from_core(fc.core, fc.exe) as prog:
            snap = prog.snapshot()
            if first == "deadlocks":
                A.Deadlocks(snap)
            return {c.address: sorted(h.goid for h in c.wakers)
                    for c in A.chans(snap)}

    listed_first = wakers("chans")
    assert listed_first == wakers("deadlocks")
    assert sum(len(v) for v in listed_first.values()) > 0
