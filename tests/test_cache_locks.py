"""The fixture cache is shared by processes (pytest in two checkouts, a
benchmark, make corpus): an executable is built once and never replaced
once it exists, since cores are taken of it, and a finished entry is never
replaced by another process's copy of it. A stub `go` stands in for the
toolchain: it records each build and writes its own pid as the binary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fixtures import REPO, generate

STUB_GO = """#!/bin/sh
# go build -o OUT ...: one line in the log per build, the pid as the binary
echo $$ >> "$BUILD_LOG"
sleep 1
echo $$ > "$3"
"""

BUILDER = """
import json, os, sys
sys.path.insert(0, os.path.join(%r, "corefiles"))
import generate
print(json.dumps(generate.go_build(sys.argv[1], dict(os.environ), sys.argv[2], sys.argv[3], "prog", [], {}, "stub")))
"""


def test_two_processes_build_an_executable_once(tmp_path):
    go = tmp_path / "go"
    go.write_text(STUB_GO)
    go.chmod(0o755)
    src = tmp_path / "src"
    src.mkdir()
    out = tmp_path / "cache" / "corefiles" / "build"
    log = tmp_path / "builds.log"
    env = dict(os.environ, GOPARKED_CACHE=str(tmp_path / "cache"), BUILD_LOG=str(log))
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER % REPO, str(go), str(src), str(out)],
                              env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    paths = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert paths == [str(out / "prog")] * 2
    builds = log.read_text().split()
    # the second waited for the first's lock and found its executable
    assert len(builds) == 1, builds
    assert (out / "prog").read_text().split() == builds
    assert sorted(os.listdir(out)) == ["build.json", "prog"]


def test_an_executable_that_exists_is_never_replaced(tmp_path, monkeypatch):
    """Even when a build runs beside it (the first check found no file):
    the later binary is dropped, not renamed over the first."""
    monkeypatch.setenv("GOPARKED_CACHE", str(tmp_path / "cache"))
    go = tmp_path / "go"
    go.write_text(STUB_GO)
    go.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    exe = out / "prog"
    real_exists = os.path.exists
    # the existence check misses the binary another process just put there
    monkeypatch.setattr(generate.os.path, "exists",
                        lambda p: False if p == str(exe) else real_exists(p))
    exe.write_text("first\n")
    monkeypatch.setenv("BUILD_LOG", str(tmp_path / "builds.log"))
    assert generate.go_build(str(go), dict(os.environ), str(tmp_path), str(out), "prog", [], {}, "stub") == str(exe)
    assert exe.read_text() == "first\n"
    assert not [f for f in os.listdir(out) if ".tmp" in f]


def test_a_finished_entry_is_kept(tmp_path):
    """commit_entry keeps an entry another process finished first (its
    files may be in use) and drops its own; --force replaces it."""
    d = tmp_path / "entry"
    d.mkdir()
    (d / "meta.json").write_text("{}")
    (d / "core").write_text("theirs")
    mine = tmp_path / ".tmp-mine"
    mine.mkdir()
    (mine / "meta.json").write_text("{}")
    (mine / "core").write_text("mine")
    generate.commit_entry(str(mine), str(d))
    assert (d / "core").read_text() == "theirs"
    assert not mine.exists()
    mine.mkdir()
    (mine / "meta.json").write_text("{}")
    (mine / "core").write_text("mine")
    generate.commit_entry(str(mine), str(d), replace=True)
    assert (d / "core").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["entry"]
