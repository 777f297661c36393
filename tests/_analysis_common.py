"""Helpers shared by test_chan.py, test_sync.py, test_deadlocks.py: open a
fixture core and read the scenario's own account (never goparked's output)."""

import contextlib

from fixtures import TOOLCHAINS, core_for, engine_reads, matrix_cells

from goparked.model import Program

# Every toolchain for the `all` scenario (cheap: one core each); the other
# targets of the matrix the engine reads (arm64 qemu cores, PIE): the same
# account must hold there.
CELLS = [(t, v) for t in TOOLCHAINS for v in ("dwarf",)] + [
    ("1.19", "stripped"), (TOOLCHAINS[-1], "stripped")]
CELLS += [(t, v) for t, v, s in matrix_cells()
          if s == "all" and (t, v) not in CELLS and engine_reads(v, s)]


def addr(s):
    return int(s, 16)


@contextlib.contextmanager
def snapshot(toolchain, variant="dwarf", scenario="all"):
    fc = core_for(toolchain, variant, scenario)
    with Program.from_core(fc.core, fc.exe) as prog, prog.snapshot() as snap:
        yield fc, fc.load_account(), snap


def objects_by_goid(account, kind):
    """[(goid, object)] for every object of a kind the account lists."""
    out = []
    for g in account["groups"]:
        for i, goid in enumerate(g["goids"]):
            objs = (g["per_goroutine"][i] if g.get("per_goroutine")
                    else g.get("objects") or [])
            out.extend((goid, g, o) for o in objs if o["kind"] in kind)
    return out
