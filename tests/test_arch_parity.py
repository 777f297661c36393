"""The analyses give the same answers on an arm64 core as on the amd64
core of the same scenario and Go release.

The two cores are two runs of the fixture (on amd64, and as a GOARCH=arm64
build under qemu-aarch64): goroutine ids and addresses differ, so every
answer is expressed through the fixture's own account (which group each
goroutine belongs to, which account object each address is), never through
goparked's output of the other core.
"""

import collections

import pytest

from _analysis_common import addr
from fixtures import core_for, engine_reads, matrix_cells
from goparked import analysis as A
from goparked.model import Program

pytestmark = pytest.mark.engine

PAIRS = sorted({(t, v.replace("arm64-", "")) for t, v, s in matrix_cells()
                if s == "all" and v.startswith("arm64-") and engine_reads(v, s)
                and (t, v.replace("arm64-", ""), s) in matrix_cells()})


def _names(acc):
    """goid -> account group name; object address -> (group, index)."""
    g_of, o_of = {}, {}
    for g in acc["groups"]:
        for i, goid in enumerate(g["goids"]):
            g_of[goid] = g["group"]
            objs = g["per_goroutine"][i] if g.get("per_goroutine") else g.get("objects") or []
            for k, o in enumerate(objs):
                o_of.setdefault(addr(o["addr"]), "%s/%s#%d" % (g["group"], o["kind"], k))
    return g_of, o_of


def _answers(toolchain, variant):
    fc = core_for(toolchain, variant, "all")
    acc = fc.load_account()
    g_of, o_of = _names(acc)
    name = lambda goid: g_of.get(goid, "-")  # noqa: E731 - unaccounted: runtime's own
    out = {}
    with Program.from_core(fc.core, fc.exe) as prog, prog.snapshot() as snap:
        for by in ("site", "chan", "mutex", "creator"):
            out[by] = sorted(
                (tuple(sorted(collections.Counter(name(x) for x in grp.goids()).items())),
                 grp.wait_reason if grp.wait_reason not in ("running", "runnable") else "cpu")
                for grp in snap.group(by))
        # Wakers are not compared: their evidence is what other stacks
        # happen to hold (an uninitialized slot of a reused stack can hold
        # a channel's address), different in every run of the program.
        out["chans"] = sorted(
            (o_of.get(c.address, "?"), c.len, c.cap, c.closed,
             tuple(sorted(name(w.goid) for w in c.waiters)))
            for c in A.chans(snap) if c.address in o_of)
        # Holders: of every object the fixture locked (a local or a
        # global), read from the code by each architecture's decoder.
        locked = {addr(o["addr"]) for g in acc["groups"]
                  for o in (g.get("objects") or []) + [x for per in g.get("per_goroutine") or [] for x in per]
                  if o.get("holder_via") in ("local", "global")}
        syncs = [s for s in A.syncs(snap) if s.address in o_of]
        assert not any(s.holder_status == "no decoder" for s in syncs)
        assert locked and all(s.best_holders for s in syncs if s.address in locked)
        out["syncs"] = sorted(
            (o_of.get(s.address, "?"), s.kind,
             tuple(sorted(name(h.goid) for h in s.best_holders))
             if s.address in locked else None,
             tuple(sorted(name(w.goid) for w in s.waiters)))
            for s in syncs)
        # Not vacuous: every goroutine the fixture accounted for is in
        # the grouping, and every analysis found something to compare.
        grouped = collections.Counter()
        for grp in snap.group("site"):
            grouped.update(x for x in grp.goids() if x in g_of)
        assert sorted(grouped) == sorted(g_of) and set(grouped.values()) == {1}
        assert out["chans"] and syncs
        dl = A.Deadlocks(snap)
        out["cycles"] = sorted(tuple(sorted(name(x) for x in c)) for c in dl.cycle_goids())
        out["stuck"] = sorted((st["reason"], st["kind"], tuple(sorted(name(x) for x in st["goids"])))
                              for st in dl.stuck if st["provable"])
    return out


# Defined only where the engine reads arm64 (an empty parameter set would be
# a skip, which CI counts as a failure).
if PAIRS:
    @pytest.mark.parametrize("toolchain,variant", [pytest.param(t, v, id="go%s-%s" % (t, v)) for t, v in PAIRS])
    def test_arm64_answers_equal_amd64(toolchain, variant):
        amd = _answers(toolchain, variant)
        arm = _answers(toolchain, "arm64-" + variant)
        for key in amd:
            assert amd[key], key  # an empty answer on both would prove nothing
            assert arm[key] == amd[key], key
