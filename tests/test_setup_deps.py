"""scripts/setup-deps on machines it cannot be tried on here: none, some or
all of the packages, not root, no apt-get, apt-get failing, not Debian.

The script runs with a PATH holding only stubs (dpkg-query, apt-get, id,
sudo, the interpreter) and the few real tools it uses, so it can neither
see nor change this machine's packages. The stub apt-get records its calls
and "installs" into the stub dpkg database, as the real pair would.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "setup-deps"
REAL_TOOLS = ("awk", "grep", "dirname", "mktemp", "rm", "tail", "env", "true")


def package_list(purpose="test"):
    """scripts/packages, read here on its own terms: NAME FOR # why."""
    out = []
    for line in (ROOT / "scripts" / "packages").read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words and (words[1] == "demo" or purpose == "test"):
            out.append(words[0])
    return out


DPKG_QUERY = r"""#!/bin/sh
# Like dpkg-query -W -f='${Package} ${db:Status-Status}\n' PKG...: one line
# per known package; exit 1 when any is unknown.
rc=0
for p in "$@"; do
	case "$p" in -*) continue ;; esac
	st=$(awk -v p="$p" '$1 == p {print $2}' "$STUB/db")
	if [ -n "$st" ]; then echo "$p $st"; else
		echo "dpkg-query: no packages found matching $p" >&2; rc=1; fi
done
exit $rc
"""

APT_GET = r"""#!/bin/sh
echo "$*" >>"$STUB/apt.log"
[ "$1" = install ] || exit 0
if [ -e "$STUB/apt-fails" ]; then
	echo "Reading package lists..."
	echo "E: Unable to locate package lldb-16"
	exit 100
fi
for p in "$@"; do
	case "$p" in -*|install) ;; *) echo "$p installed" >>"$STUB/db" ;; esac
done
"""

# The interpreter: "-c" is setup-deps asking what it lacks (prefix is /usr,
# has pytest, has ensurepip); "-m pip" is it installing pytest.
PYTHON = r"""#!/bin/sh
if [ "$1" = -c ]; then echo "%s"; exit 0; fi
echo "$*" >>"$STUB/pip.log"
"""

SUDO = r"""#!/bin/sh
[ -e "$STUB/sudo-ok" ] || { echo "sudo: a password is required" >&2; exit 1; }
[ "$1" = -n ] && shift
echo "sudo $*" >>"$STUB/sudo.log"
exec "$@"
"""


class Machine:
    """A stub machine: its dpkg database, who we are, what answers."""

    def __init__(self, d, installed=(), uid=0, apt=True, dpkg=True,
                 sudo=None, python_state="1 0 0"):
        self.d = d
        self.bin = d / "bin"
        self.bin.mkdir()
        for tool in REAL_TOOLS:
            os.symlink(shutil.which(tool), self.bin / tool)
        (d / "db").write_text("".join("%s installed\n" % p
                                      for p in installed))
        stubs = {"id": "#!/bin/sh\necho %d\n" % uid,
                 "python3": PYTHON % python_state}
        if dpkg:
            stubs["dpkg-query"] = DPKG_QUERY
        if apt:
            stubs["apt-get"] = APT_GET
        if sudo is not None:
            stubs["sudo"] = SUDO
            if sudo:
                (d / "sudo-ok").touch()
        for name, text in stubs.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)

    def run(self, *args):
        env = {"PATH": str(self.bin), "STUB": str(self.d),
               "TMPDIR": str(self.d), "PYTHON": "python3", "LANG": "C"}
        return subprocess.run(["/bin/bash", str(SCRIPT)] + list(args),
                              env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)

    def log(self, name):
        p = self.d / name
        return p.read_text().splitlines() if p.exists() else []

    def installs(self):
        """The package lists given to apt-get install, in order."""
        return [line.split()[4:] for line in self.log("apt.log")
                if line.startswith("install")]


def one_line(r):
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert r.stdout == ""
    return lines[0]


@pytest.fixture
def machine(tmp_path):
    n = [0]

    def make(**kw):
        n[0] += 1
        d = tmp_path / ("m%d" % n[0])
        d.mkdir()
        return Machine(d, **kw)
    return make


def test_fresh_machine_installs_everything_once(machine):
    m = machine()   # Debian's python3 not even there: "1 0 0"
    want = package_list() + ["python3-venv", "python3-pytest"]
    r = m.run()
    assert r.returncode == 0, r.stderr
    assert one_line(r) == "setup-deps: installing %s (apt-get)" % " ".join(want)
    assert m.log("apt.log")[0] == "update -qq"
    assert m.installs() == [want]
    # Then everything is there: silent, nothing more installed.
    r = m.run()
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert m.installs() == [want]


def test_some_missing_installs_exactly_those(machine):
    have = package_list()[::2]
    m = machine(installed=have, python_state="1 1 1")
    # dpkg keeps a removed package's configuration: not installed.
    with open(m.d / "db", "a") as f:
        f.write("lldb-16 config-files\n")
    r = m.run()
    assert r.returncode == 0, r.stderr
    want = [p for p in package_list() if p not in have]
    assert "lldb-16" in want
    assert m.installs() == [want]
    assert one_line(r) == "setup-deps: installing %s (apt-get)" % " ".join(want)


def test_all_there_does_nothing(machine):
    m = machine(installed=package_list() + ["python3-venv", "python3-pytest"])
    r = m.run()
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert m.log("apt.log") == []


def test_demo_needs_less(machine):
    m = machine(python_state="1 0 1")   # venv there, pytest not: not needed
    r = m.run("--demo")
    assert r.returncode == 0, r.stderr
    assert m.installs() == [package_list("demo")]
    assert "gdb" not in package_list("demo") and "gdb" in package_list()


def test_not_root_says_the_command(machine):
    m = machine(uid=1000, installed=package_list()[1:], python_state="1 1 1")
    line = one_line(m.run())
    assert line == ("setup-deps: missing %s; not root (and no password-less "
                    "sudo): run sudo apt-get install %s"
                    % (package_list()[0], package_list()[0]))
    r = m.run()
    assert r.returncode == 1
    m2 = machine(uid=1000, sudo=False, python_state="1 1 1")
    r = m2.run()
    assert r.returncode == 1 and "not root" in one_line(r)
    assert m2.log("apt.log") == [] and m.log("apt.log") == []


def test_not_root_with_sudo(machine):
    m = machine(uid=1000, sudo=True, installed=package_list()[1:],
                python_state="1 1 1")
    r = m.run()
    assert r.returncode == 0, r.stderr
    assert one_line(r) == "setup-deps: installing %s (sudo apt-get)" \
        % package_list()[0]
    assert m.installs() == [[package_list()[0]]]
    assert [line.split()[:4] for line in m.log("sudo.log")] == [
        ["sudo", "true"],
        ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"],
        ["sudo", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]]


def test_no_apt_get(machine):
    m = machine(apt=False, python_state="1 1 1")
    r = m.run()
    assert r.returncode == 1
    assert one_line(r).endswith(
        "and no apt-get to install them: install them by hand")


def test_apt_failure_one_line_each(machine):
    # What it tries, then why it failed: one line each, the apt error named.
    m = machine(python_state="1 1 1", installed=package_list()[1:])
    (m.d / "apt-fails").touch()
    r = m.run()
    assert r.returncode == 1
    tried, why = r.stderr.splitlines()
    assert tried == "setup-deps: installing %s (apt-get)" % package_list()[0]
    assert why.startswith("setup-deps: apt-get install failed: "
                          "E: Unable to locate package lldb-16 (all of it: ")


def test_not_debian(machine):
    m = machine(dpkg=False, apt=False)
    r = m.run()
    assert r.returncode == 0   # the build says what is really missing
    assert one_line(r).startswith("setup-deps: not a Debian system (no "
                                  "dpkg-query): cannot check or install")


def test_other_python_gets_pytest_from_pip(machine):
    m = machine(installed=package_list(), python_state="0 0 1")
    r = m.run()
    assert r.returncode == 0, r.stderr
    assert one_line(r) == "setup-deps: installing pytest for python3 (pip)"
    assert m.log("pip.log") == ["-m pip install -q pytest"]
    assert m.log("apt.log") == []


def test_check_only_reports(machine):
    m = machine(installed=package_list()[1:], python_state="1 1 1")
    r = m.run("--check")
    assert r.returncode == 1
    assert one_line(r) == "setup-deps: missing: %s" % package_list()[0]
    assert m.log("apt.log") == []
    m = machine(installed=package_list(), python_state="1 1 1")
    assert m.run("--check").returncode == 0


def test_this_machine_is_set_up():
    """The real thing, read only: make test has just run setup-deps."""
    r = subprocess.run([str(SCRIPT), "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       env=dict(os.environ, PYTHON=sys.executable))
    assert r.returncode == 0, r.stderr
