"""Stripped executables (-ldflags='-s -w': no DWARF, no symbol table).

For every Go version and every fixture scenario, the core of the stripped
build must give what the runtime printed in its own dump of that core
(goroutine by goroutine: ids, states and wait reasons, frames, creators),
and the same grouped report as the DWARF build of the same scenario.

Separately, the runtime variables that native/src/binary/stripped.c finds by
decoding runtime code must be exactly the symbol-table addresses: checked
on the DWARF build of each toolchain with its symbol table removed
(objcopy --strip-all keeps every address; a -s -w build of the same source
may be laid out a little differently, as 1.25 does).
"""

import os
import shutil
import subprocess
import sys

import pytest

from fixtures import SCENARIOS, TOOLCHAINS, core_for, engine_reads, generate, matrix_cells

from goparked.model import Program

from test_engine_oracle import _compare

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "native", "gen"))
import gen_tables  # noqa: E402

pytestmark = pytest.mark.engine

CELLS = [pytest.param(t, s, id="go%s-%s" % (t, s)) for t in TOOLCHAINS for s in SCENARIOS]
ALL_TOOLCHAINS = [pytest.param(t, id="go" + t) for t in TOOLCHAINS]


@pytest.fixture(scope="session")
def layout_dump():
    return gen_tables.build_tool()


def _toolchain(label):
    try:
        return generate.probe(label)
    except generate.Unavailable as e:
        pytest.skip("Go toolchain %s unavailable: %s" % (label, e))


@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_variables_found_without_symbols_equal_the_symbol_table(toolchain, layout_dump, tmp_path):
    if shutil.which("objcopy") is None or shutil.which("aarch64-linux-gnu-objcopy") is None:
        pytest.skip("no objcopy (binutils, binutils-aarch64-linux-gnu)")
    tc = _toolchain(toolchain)
    # The probe program and the fixture: two different programs per release;
    # and the fixture as a PIE where the matrix builds one (its type
    # descriptors and itabs sit in writable-until-relocated RELRO data).
    # The arm64 builds too, where the matrix has them (stripped.c decodes
    # arm64 code with the same rules).
    exes = [gen_tables.build_probe(tc), core_for(toolchain, "dwarf", "all").exe]
    for v in ("pie-dwarf", "arm64-dwarf", "arm64-pie-dwarf"):
        if (toolchain, v, "all") in matrix_cells():
            exes.append(core_for(toolchain, v, "all").exe)
    for i, exe in enumerate(exes):
        bare = tmp_path / ("bare%d" % i)
        objcopy = "aarch64-linux-gnu-objcopy" if "arm64-" in exe else "objcopy"
        subprocess.run([objcopy, "--strip-all", exe, str(bare)], check=True)
        want = gen_tables.run_tool(layout_dump, "symbols", exe)
        got = gen_tables.run_tool(layout_dump, "stripped", str(bare))
        assert not got["error"], got["error"]
        assert want["vars"], "no runtime variables in the symbol table of %s" % exe
        decls = gen_tables.run_tool(layout_dump, "decls")["decls"]["var"]
        for name, (addr, size) in want["vars"].items():
            if not gen_tables.in_version(decls[name], want["gover"]):
                continue
            assert addr, "%s: symbol for %s missing" % (exe, name)
            if name == "GCCLEANUPS" and not got["vars"][name][0]:
                # found through runtime.runCleanups, which the linker drops
                # from a program that makes no cleanup (none can be queued)
                syms = subprocess.run(["nm", exe], check=True, capture_output=True, text=True).stdout
                assert " runtime.runCleanups\n" not in syms, exe
                continue
            assert got["vars"][name][0] == addr, (
                "%s (%s): %s found at 0x%x, the symbol table says 0x%x"
                % (exe, want["version"], name, got["vars"][name][0], addr))
        # the wait-reason count read from the code equals the symbol's size
        assert got["vars"]["WAITREASONSTRINGS"][1] == want["vars"]["WAITREASONSTRINGS"][1]


def _src(path):
    """The fixture's own files from corefiles/ on: the two builds of a
    cell may come from two checkouts sharing the cache (same sources,
    other directories)."""
    i = path.find("/corefiles/")
    return path[i:] if i >= 0 else path


def _report(prog):
    """The grouped report (keys, reasons, counts; default filter: user
    goroutines) and the multiset of user goroutine stacks. Not ids: two
    runs of the fixture start a different number of GC workers first."""
    snap = prog.snapshot()
    # Parked goroutines must agree exactly. Whether a spinning goroutine
    # was running or just preempted (runnable) is timing; each core is
    # checked exactly against its own dump above.
    cpu = {"running": "running/runnable", "runnable": "running/runnable"}
    # cgo_crash is set off by SIGUSR1: os/signal's goroutine is still
    # delivering it (running) or back in signal_recv, as the run went.
    groups = sorted((g.key, cpu.get(g.wait_reason, g.wait_reason), g.count)
                    for g in snap.group(by="site")
                    if not g.key.startswith("os/signal."))
    stacks = sorted(tuple((f.func, _src(f.file), f.line) for f in g.frames)
                    for g in snap.goroutines()
                    if not g.system and g.wait_reason not in cpu
                    and not any(f.func.startswith("os/signal.") for f in g.frames))
    return snap, groups, stacks


@pytest.mark.slow
@pytest.mark.parametrize("toolchain,scenario", CELLS)
def test_stripped_core_matches_dump_and_dwarf_build(toolchain, scenario):
    stripped = core_for(toolchain, "stripped", scenario)
    dwarf = core_for(toolchain, "dwarf", scenario)
    with Program.from_core(stripped.core, stripped.exe) as prog:
        assert prog.go_version == stripped.go_version
        assert prog.layout_from_table and not prog.has_dwarf and not prog.has_symtab
        snap, groups, stacks = _report(prog)
        _compare({g.goid: g for g in snap.goroutines()}, stripped.parsed_dump().goroutines)
    with Program.from_core(dwarf.core, dwarf.exe) as prog:
        _, dgroups, dstacks = _report(prog)
    assert groups == dgroups
    assert stacks == dstacks


def test_stripped_tiny_program(tiny_go):
    """The small program of conftest.py, stripped, with a gcore core."""
    with Program.from_core(str(tiny_go.core_stripped), str(tiny_go.exe_stripped)) as prog:
        snap = prog.snapshot()
        reasons = sorted(g.wait_reason for g in snap.goroutines() if not g.system)
    assert reasons.count("chan receive") == 3


# Stripped builds of the other targets this goparked reads (PIE, the cgo
# program): the same two checks against the runtime's dump and the DWARF
# build of the same target.
OTHER_CELLS = [pytest.param(t, v, s, id="go%s-%s-%s" % (t, v, s)) for t, v, s in matrix_cells()
               if engine_reads(v, s) and generate.parse_variant(v).stripped
               and (v not in generate.VARIANTS or s in generate.CGO_SCENARIOS)]


@pytest.mark.parametrize("toolchain,variant,scenario", OTHER_CELLS)
def test_other_stripped_targets(toolchain, variant, scenario):
    stripped = core_for(toolchain, variant, scenario)
    dwarf = core_for(toolchain, variant.replace("stripped", "dwarf"), scenario)
    with Program.from_core(stripped.core, stripped.exe) as prog:
        assert prog.layout_from_table and not prog.has_dwarf and not prog.has_symtab
        snap, groups, stacks = _report(prog)
        _compare({g.goid: g for g in snap.goroutines()}, stripped.parsed_dump().goroutines)
    with Program.from_core(dwarf.core, dwarf.exe) as prog:
        _, dgroups, dstacks = _report(prog)
    assert groups == dgroups
    assert stacks == dstacks
