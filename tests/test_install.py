"""goparked installed by pip, away from any checkout: the command runs, and
the GDB and LLDB scripts it names find that package and its engine.

`pip install --target` of this checkout (the build step of setup.py:
make, the engine and the debugger scripts copied into the package), then
every check runs from outside the checkout, with no GOPARKED_LIB or
GOPARKED_ROOT and, for the debuggers, no PYTHONPATH: only the path that
`goparked --gdb-script` / `--lldb-script` prints.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_goparked_cmd
from debugger_helpers import LLDB

pytestmark = [pytest.mark.gdb, pytest.mark.lldb, pytest.mark.slow]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOPARKED_LIB", "GOPARKED_ROOT", "PYTHONPATH",
                        "LD_PRELOAD", "GOPARKED_DEBUG")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--disable-pip-version-check", "--target", str(site), str(ROOT)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=900, env=clean_env())
    assert r.returncode == 0, r.stdout[-3000:]
    return site


def run(argv, site, **kw):
    return subprocess.run([str(a) for a in argv], cwd=str(site.parent),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300, **kw)


def test_command_and_scripts(installed, demo_core):
    site = installed
    env = clean_env(PYTHONPATH=str(site))
    # The console script pip made.
    r = run([site / "bin" / "goparked", demo_core.core, "--exe",
             demo_core.exe, "--json"], site, env=env)
    assert r.returncode == 0, r.stderr
    want = run_goparked_cmd([demo_core.core, "--exe", demo_core.exe,
                             "--json"])
    assert json.loads(r.stdout)["groups"] == json.loads(want.stdout)["groups"]

    paths = {}
    for opt in ("--gdb-script", "--lldb-script"):
        r = run([site / "bin" / "goparked", opt], site, env=env)
        assert r.returncode == 0, r.stderr
        paths[opt] = r.stdout.strip()
        assert paths[opt].startswith(str(site / "goparked" / "_debuggers")), r.stdout
    lib = str(site / "goparked" / "libgoparked.so")
    probe = "import goparked._native as n; print('LIB', n.lib().path)"

    r = run(["gdb", "-nx", "-batch", "-iex", "set auto-load off",
             demo_core.exe, demo_core.core,
             "-ex", "source " + paths["--gdb-script"],
             "-ex", "python " + probe,
             "-ex", "go goroutines --limit 1"], site, env=clean_env())
    assert "LIB " + lib in r.stdout, r.stdout + r.stderr
    assert "goroutines in" in r.stdout, r.stdout + r.stderr

    if LLDB is None:
        pytest.fail("no lldb-16 (scripts/setup-deps installs it)")
    r = run([LLDB, "--no-lldbinit", "-b", "-O",
             "command script import " + paths["--lldb-script"],
             demo_core.exe, "-c", demo_core.core,
             "-o", "script " + probe,
             "-o", "go goroutines --limit 1"], site, env=clean_env())
    assert "LIB " + lib in r.stdout, r.stdout + r.stderr
    assert "goroutines in" in r.stdout, r.stdout + r.stderr


def test_checkout_scripts_named_in_a_checkout():
    # Not installed: the checkout's own scripts.
    for opt, rel in (("--gdb-script", "gdb/goparked-gdb.py"),
                     ("--lldb-script", "lldb/goparked_lldb.py")):
        r = run_goparked_cmd([opt])
        assert (r.returncode, r.stdout, r.stderr) == (
            0, str(ROOT / rel) + "\n", "")
