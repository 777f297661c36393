"""Targets goparked cannot read give one line on stderr and exit 2.

A 386 core is a real one: the kernel's, of a GOARCH=386 program (it runs
natively on an amd64 kernel). qemu-user 7.2 writes no core for a riscv64
guest (linux-user/elfload.c has no riscv core dump; 7.2.22 checked: the
kernel's core of qemu itself, x86-64, is all there is), so the riscv64 core is
the arm64 fixture's core and executable with e_machine set to EM_RISCV:
valid ELF, another machine. And cores given with an executable of another
architecture, both ways round with the arm64 fixture.
"""

import os
import resource
import shutil
import signal
import subprocess
import time

import pytest

from conftest import TINY_GO, find_go, run_goparked_cmd
from fixtures import NEWEST, core_for

pytestmark = pytest.mark.cli

EM_NAMES = {3: "386", 62: "x86-64", 183: "arm64", 243: "riscv64"}


def _one_line_exit_2(r, *words):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr)
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _core_of_arch(tmp_path, goarch, runner):
    """Build the small program for goarch, run it (under runner, if any)
    with GOTRACEBACK=crash, SIGQUIT it once READY; returns (core, exe)."""
    if runner and shutil.which(runner) is None:
        pytest.skip("%s not installed (scripts/setup-deps installs qemu-user)" % runner)
    exe = _exe_of_arch(tmp_path, goarch, goarch)
    d = tmp_path / goarch
    argv = ([runner] if runner else []) + [exe]
    p = subprocess.Popen(argv, cwd=str(d), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, GOTRACEBACK="crash"), universal_newlines=True,
                         preexec_fn=lambda: resource.setrlimit(
                             resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)))
    try:
        assert "READY" in p.stdout.readline()
        p.send_signal(signal.SIGQUIT)
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for _ in range(50):  # the kernel may still be writing it
        cores = [f for f in os.listdir(d) if f.startswith(("core", "qemu_"))]
        if cores:
            break
        time.sleep(0.1)
    want = {"386": 3}[goarch]
    for f in cores:
        with open(d / f, "rb") as fh:
            h = fh.read(20)
        if h[:4] == b"\x7fELF" and int.from_bytes(h[18:20], "little") == want:
            return str(d / f), str(d / "tiny")
    pytest.skip("no %s core was written (%s): kernel.core_pattern must be a file name" % (goarch, cores))


def test_386_core_as_amd64(tmp_path):
    """A 32-bit core with a 64-bit executable: the core's class is refused."""
    core, _exe = _core_of_arch(tmp_path, "386", None)
    amd = core_for(NEWEST, "dwarf", "all")
    _one_line_exit_2(run_goparked_cmd([core, "--exe", amd.exe]),
                     "core file %s is of a 32-bit 386 program; goparked reads 64-bit little-endian ones" % core)


def _as_machine(src, dst, machine):
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:
        f.seek(18)
        f.write(machine.to_bytes(2, "little"))
    os.chmod(dst, 0o755)
    return str(dst)


READS = "goparked reads linux/x86-64 and linux/arm64"


def _exe_of_arch(tmp_path, goarch, dirname=None):
    """The small program built for goarch (a real executable of it), in
    tmp_path/dirname (exe-GOARCH by default)."""
    go = find_go()
    if go is None:
        pytest.skip("no Go toolchain (scripts/setup-deps installs one)")
    d = tmp_path / (dirname or "exe-" + goarch)
    d.mkdir()
    (d / "main.go").write_text(TINY_GO)
    (d / "go.mod").write_text("module tiny\n\ngo 1.19\n")
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOARCH=goarch)
    r = subprocess.run([go, "build", "-o", "tiny", "."], cwd=str(d), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert r.returncode == 0, r.stdout
    return str(d / "tiny")


def test_riscv64_core(tmp_path):
    """The message names the architectures goparked reads, both of them
    (it said "linux/x86-64" only)."""
    arm = core_for(NEWEST, "arm64-dwarf", "all")
    core = _as_machine(arm.core, tmp_path / "core.riscv64", 243)
    exe = _as_machine(arm.exe, tmp_path / "exe.riscv64", 243)
    _one_line_exit_2(run_goparked_cmd([core, "--exe", exe]),
                     "%s is a linux/riscv64 program; %s programs" % (exe, READS))
    amd = core_for(NEWEST, "dwarf", "all")
    _one_line_exit_2(run_goparked_cmd([core, "--exe", amd.exe]),
                     "core file %s is of a linux/riscv64 program; %s cores" % (core, READS))


def test_riscv64_executable(tmp_path):
    """A real GOARCH=riscv64 build, with a core of each architecture read."""
    exe = _exe_of_arch(tmp_path, "riscv64")
    for v in ("dwarf", "arm64-dwarf"):
        _one_line_exit_2(run_goparked_cmd([core_for(NEWEST, v, "all").core, "--exe", exe]),
                         "%s is a linux/riscv64 program; %s programs" % (exe, READS))


def test_386_core(tmp_path):
    core, exe = _core_of_arch(tmp_path, "386", None)
    _one_line_exit_2(run_goparked_cmd([core, "--exe", exe]),
                     "%s is a 32-bit program (386); goparked reads 64-bit little-endian ones" % exe)
    amd = core_for(NEWEST, "dwarf", "all")
    _one_line_exit_2(run_goparked_cmd([amd.core, "--exe", exe]),
                     "%s is a 32-bit program (386); goparked reads 64-bit little-endian ones" % exe)


def test_arm64_core_with_amd64_executable():
    arm = core_for(NEWEST, "arm64-dwarf", "all")
    amd = core_for(NEWEST, "dwarf", "all")
    _one_line_exit_2(run_goparked_cmd([arm.core, "--exe", amd.exe]),
                     "goparked: error: core file %s is of a linux/arm64 program but executable %s is linux/x86-64: "
                     "give the executable the core came from" % (arm.core, amd.exe))
    _one_line_exit_2(run_goparked_cmd([amd.core, "--exe", arm.exe]),
                     "goparked: error: core file %s is of a linux/x86-64 program but executable %s is linux/arm64: "
                     "give the executable the core came from" % (amd.core, arm.exe))
