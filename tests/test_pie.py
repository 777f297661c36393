"""A position-independent executable (-buildmode=pie) is refused with one
clear line, from a core and from a live process, until load biases are
supported; never read at the wrong addresses."""

import os
import subprocess
import sys

import pytest

from conftest import TINY_GO, _core_of, find_go, run_goparked_cmd

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
    r = subprocess.run([go, "build", "-buildmode=pie", "-o", "tiny-pie", "."],
                       cwd=str(d), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    assert r.returncode == 0, r.stdout
    return d / "tiny-pie"


def _refused(r):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1 and "position-independent" in lines[0], r.stderr


def test_pie_core_refused(pie, tmp_path):
    core = _core_of([str(pie)], tmp_path / "core.pie", "READY")
    _refused(run_goparked_cmd([core, "--exe", pie]))


def test_pie_process_refused_and_left_running(pie):
    p = subprocess.Popen([str(pie)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True)
    try:
        assert "READY" in p.stdout.readline()
        _refused(run_goparked_cmd(["--pid", p.pid]))
        with open("/proc/%d/status" % p.pid) as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        assert status["TracerPid"].strip() == "0"
        assert status["State"].split()[0] in ("S", "R")
    finally:
        p.kill()
        p.wait()
