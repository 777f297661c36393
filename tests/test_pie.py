"""Position-independent executables (-buildmode=pie).

A PIE runs at its link-time addresses plus a load bias chosen by the
kernel. goparked takes the bias from the target's auxiliary vector
(AT_ENTRY minus the executable's entry point: the core's NT_AUXV, or
/proc/PID/auxv) and relocates the executable's image: every address
(segments, sections, symbols, DWARF) moves, and the R_*_RELATIVE
relocations the loader applied are applied to goparked's private copy.

Cores of the fixture built as PIE are checked against the runtime's own
dump in tests/test_engine_oracle.py and tests/test_stripped.py (the
pie-* variants of corefiles/generate.py); here: the small program as a gcore
core and as a live process, and the wrong executable for a PIE core.
"""

import json
import os
import subprocess

import pytest

from conftest import TINY_GO, _core_of, find_go, run_goparked_cmd
from fixtures import core_for, NEWEST, OLDEST

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def pie(tmp_path_factory):
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain (scripts/setup-deps installs one)")
    d = tmp_path_factory.mktemp("pie")
    (d / "main.go").write_text(TINY_GO)
    (d / "go.mod").write_text("module tiny\n\ngo 1.19\n")
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local")
    for name, flags in (("tiny-pie", []), ("tiny-pie-stripped", ["-ldflags=-s -w"])):
        r = subprocess.run([go, "build", "-buildmode=pie"] + flags + ["-o", name, "."],
                           cwd=str(d), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        assert r.returncode == 0, r.stdout
    with open(d / "tiny-pie", "rb") as f:
        assert f.read(18)[16] == 3  # ET_DYN
    return d


def _groups(stdout):
    """{wait reason: count} of the listing's group lines."""
    out = {}
    for line in stdout.splitlines():
        w = line.split()
        if w and w[0].isdigit() and len(w) > 2:
            reason = "chan receive" if w[1:3] == ["chan", "receive"] else w[1]
            out[reason] = out.get(reason, 0) + int(w[0])
    return out


@pytest.mark.parametrize("exe", ["tiny-pie", "tiny-pie-stripped"])
def test_pie_core_read(pie, tmp_path, exe):
    core = _core_of([str(pie / exe)], tmp_path / ("core." + exe), "READY")
    r = run_goparked_cmd([core, "--exe", pie / exe, "--json"])
    assert r.returncode == 0, r.stderr
    snap = json.loads(r.stdout)
    user = [g for g in snap["goroutines"] if not g["system"]]
    reasons = sorted(g["wait_reason"] for g in user)
    assert reasons.count("chan receive") == 3, reasons
    assert sum(1 for g in user if g["wait_reason"] in ("sync.Mutex.Lock", "semacquire")) == 1, reasons
    funcs = {f["func"] for g in user for f in snap["stacks"][str(g["stack_id"])]}
    assert {"main.recvForever", "main.lockForever", "main.main"} <= funcs
    # the addresses are the run-time ones: every frame's pc is in the
    # mapping the core shows for the executable, not at its link address
    pcs = [f["pc"] for g in user for f in snap["stacks"][str(g["stack_id"])]]
    assert all(int(pc, 16) >= 0x10000000 for pc in pcs), pcs[:4]


def test_pie_process_read_and_left_running(pie):
    p = subprocess.Popen([str(pie / "tiny-pie")], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True)
    try:
        assert "READY" in p.stdout.readline()
        r = run_goparked_cmd(["--pid", p.pid])
        assert r.returncode == 0, r.stderr
        assert _groups(r.stdout).get("chan receive") == 3, r.stdout
        with open("/proc/%d/status" % p.pid) as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        assert status["TracerPid"].strip() == "0"
        assert status["State"].split()[0] in ("S", "R")
    finally:
        p.kill()
        p.wait()


def _one_line_exit_2(r, *words):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_pie_core_with_the_wrong_executable(pie, tmp_path):
    """A PIE core given another PIE (its own bias lands the other program's
    code on the core's), or the non-PIE build of the same program."""
    core = _core_of([str(pie / "tiny-pie")], tmp_path / "core.pie", "READY")
    other = core_for(NEWEST, "pie-dwarf", "all")
    _one_line_exit_2(run_goparked_cmd([core, "--exe", other.exe]), "does not belong")
    plain = core_for(NEWEST, "dwarf", "all")
    _one_line_exit_2(run_goparked_cmd([core, "--exe", plain.exe]), "does not belong")
    # and the other way round: a non-PIE core with a PIE executable
    _one_line_exit_2(run_goparked_cmd([plain.core, "--exe", other.exe]), "does not belong")


def test_arm64_pie_core_with_the_wrong_executable():
    """qemu-aarch64 loads a Go PIE at its link-time address and its core
    keeps no text, only rodata and data: the first 64 KiB of rodata are the
    same in the PIE and non-PIE builds (this read the other build's
    runtime.allm and failed on a wild address). The other build, the other
    way round, and another release's PIE."""
    pie = core_for(NEWEST, "arm64-pie-dwarf", "all")
    plain = core_for(NEWEST, "arm64-dwarf", "all")
    old = core_for(OLDEST, "arm64-pie-stripped", "all")
    for core, exe in ((pie.core, plain.exe), (plain.core, pie.exe),
                      (pie.core, old.exe), (old.core, pie.exe)):
        _one_line_exit_2(run_goparked_cmd([core, "--exe", exe]),
                         "core file %s does not belong to executable %s (" % (core, exe))
