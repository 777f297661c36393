"""The leak program's facts, checked against the runtime (no goparked here).

corefiles/leaks says, for every goroutine it parked, whether it is leaked,
leaked with no waker, lingering or blocked, and who truly holds each mutex of
its `holders` case. Before goparked's verdict is compared with that account,
the account itself is checked against the two independent witnesses:

1. the runtime's goroutine leak detector (Go 1.27, and 1.26 built with
   GOEXPERIMENT=goroutineleakprofile): the goroutines it reports leaked are
   exactly the ones the account expects "leaked" (proven), and no others;
2. the runtime's own dump at the moment of the core (GOTRACEBACK=crash):
   every accounted goroutine is there, parked where the account says, and
   its status shows "(leaked)" exactly when the detector was asked and
   found it leaked.
"""

from __future__ import annotations

import os
import re

import pytest

from fixtures import oracle
from leak_fixtures import PROFILE_CELLS, leak_core, leak_params, leakgen

VERDICTS = {"leaked", "no_waker", "lingering", "blocked"}


def _first_main(g) -> str:
    user = [f.func for f in g.frames if f.func.startswith("main.")]
    return user[0] if user else ""


def _func_matches(func: str, want: str) -> bool:
    # closures are named main.f.func1 (1.19-1.21) or main.f.func1 / main.f.gowrap1 (1.22+): prefix match
    return func == want or (want.endswith(".func") and func.startswith(want))


@pytest.mark.parametrize("toolchain,variant,mode", leak_params(PROFILE_CELLS))
def test_runtime_detector_agrees_with_account(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    acc = e.load_account()
    prof = acc["runtime_leak_profile"]
    assert prof["available"], prof
    expected = {g["goid"] for g in acc["goroutines"] if g["expect"] == "leaked"}
    reported = set(prof["leaked_goids"])
    by_goid = {g["goid"]: g for g in acc["goroutines"]}
    missed = sorted("%s/%s g%d" % (by_goid[i]["case"], by_goid[i]["group"], i) for i in expected - reported)
    extra = sorted("%s/%s g%d" % (by_goid[i]["case"], by_goid[i]["group"], i) if i in by_goid else "g%d" % i
                   for i in reported - expected)
    assert not missed and not extra, "expected leaked, not reported: %s; reported, not expected: %s" % (missed, extra)
    assert prof["count"] == len(reported)
    # debug=1 counts stacks: its total is the same number.
    m = re.match(r"goroutineleak profile: total (\d+)\n", prof["debug1"])
    assert m and int(m.group(1)) == len(reported)
    # Every case with an expected leak contributes to the proof.
    leaking_cases = {by_goid[i]["case"] for i in expected}
    assert {"recv_local", "lock_order", "bug_recursive_rlock", "waitgroup_no_done", "holders"} <= leaking_cases


@pytest.mark.parametrize("toolchain,variant,mode", leak_params())
def test_dump_agrees_with_account(toolchain, variant, mode):
    e = leak_core(toolchain, variant, mode)
    acc = e.load_account()
    assert acc["go_version"].split("-X:")[0] == e.go_version
    d = oracle.parse_file(e.dump)
    gs = d.goroutines
    main = gs[acc["main_goid"]]
    assert main.wait_reason == "sleep" and acc["main_wait_func"] in main.funcs()
    prof = acc["runtime_leak_profile"]
    asked = mode == "profile" and prof["available"]
    accounted = {acc["main_goid"]}
    for g in acc["goroutines"]:
        where = "%s/%s g%d" % (g["case"], g["group"], g["goid"])
        assert g["expect"] in VERDICTS, where
        assert g["goid"] not in accounted, where + " accounted twice"
        accounted.add(g["goid"])
        assert g["goid"] in gs, where + " not in the dump"
        dg = gs[g["goid"]]
        assert dg.wait_reason == g["wait_reason"], (where, dg.status)
        assert _func_matches(_first_main(dg), g["wait_func"]), (where, dg.funcs())
        assert dg.created_by is not None and dg.created_by.func == g["creator"], (where, dg.created_by)
        # The core shows the detector's mark only when it was asked, and then exactly on the leaked.
        assert dg.leaked == (asked and g["expect"] == "leaked"), (where, dg.status)
        assert dg.state == ("leaked" if dg.leaked else "waiting"), (where, dg.status)
    for goid, g in gs.items():
        if goid not in accounted:
            assert not any(f.func.startswith("main.") for f in g.frames), ("unaccounted", goid, g.funcs())
    # The fixed-count cases: 20 of the 120 cache senders stay.
    cache = [g for g in acc["goroutines"] if g["case"] == "no_waker_cache"]
    assert len(cache) == 20 and {g["expect"] for g in cache} == {"no_waker"}
    assert len([g for g in acc["goroutines"] if g["case"] == "bug_early_return"]) == acc["n"]


@pytest.mark.parametrize("toolchain,variant,mode", leak_params())
def test_holders_account_agrees_with_dump(toolchain, variant, mode):
    """Each mutex's holder is a live goroutine in the function that locked it;
    its waiters wait in Lock/RLock; ids are not shared between roles."""
    e = leak_core(toolchain, variant, mode)
    acc = e.load_account()
    gs = oracle.parse_file(e.dump).goroutines
    minor = acc["go_minor"]
    lock = "semacquire" if minor < 20 else "sync.Mutex.Lock"
    rwlock = "semacquire" if minor < 20 else "sync.RWMutex.Lock"
    rlock = "semacquire" if minor < 20 else "sync.RWMutex.RLock"
    shapes = {m["shape"] for m in acc["mutexes"]}
    assert len(shapes) >= 12 and len(shapes) == len(acc["mutexes"])
    for m in acc["mutexes"]:
        where = m["shape"]
        roles = [m["holder_goid"]] if m["holder_goid"] else []
        roles += m["reader_goids"] + m["waiter_goids"] + m["rwaiter_goids"]
        roles += [b for b in m["bystander_goids"] if b != acc["main_goid"]]
        assert len(roles) == len(set(roles)), where
        if m["state"] == "locked" and m["holder_goid"]:
            h = gs[m["holder_goid"]]
            assert any(_func_matches(f, m["holder_func"]) for f in h.funcs()), (where, h.funcs())
        if m["state"] == "rlocked":
            assert not m["holder_goid"] and m["reader_goids"]
            for r in m["reader_goids"]:
                assert m["reader_func"] in gs[r].funcs(), where
        if m["state"] == "unlocked":
            assert not m["holder_goid"] and not m["reader_goids"] and not m["waiter_goids"], where
        for w in m["waiter_goids"]:
            # a writer queued behind another writer waits on the RWMutex's inner Mutex (rw.w)
            assert gs[w].wait_reason in ((rwlock, lock) if m["kind"] == "rwmutex" else (lock,)), (where, w, gs[w].status)
        for w in m["rwaiter_goids"]:
            assert gs[w].wait_reason == rlock, (where, w)
        for b in m["bystander_goids"]:
            assert b in gs, where


def test_case_table_in_readme():
    with open(os.path.join(leakgen.LEAKS_DIR, "README.rst")) as f:
        text = f.read()
    listed = re.findall(r"^\| ``([a-z0-9_]+)``", text, re.M)
    assert listed == [c["name"] for c in leakgen.cases()]
