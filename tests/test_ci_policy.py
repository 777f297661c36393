"""The rules the suite itself keeps (tests/conftest.py, pyproject.toml):
with CI=true a skip is a failure, an xfail must name its open issue, and an
expected failure that passes fails; and the debugger tests' one-line-error
check really counts lines. Each rule is run on small tests of its own in a
child pytest, so that breaking the rule fails here."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from debugger_helpers import one_line_error

POLICY_TESTS = '''
import pytest

def test_passes():
    pass

@pytest.mark.xfail(reason="known, issue 15")
def test_xfail_with_issue():
    assert False

@pytest.mark.xfail(reason="flaky somehow")
def test_xfail_without_issue():
    assert False

@pytest.mark.xfail(reason="issue 15")
def test_xpass_strict():
    pass

@pytest.mark.xfail(reason="issue 15", strict=False)
def test_xpass_not_strict():
    pass

def test_skips():
    pytest.skip("no tool here")
'''


def _outcomes(tmp_path, ci):
    (tmp_path / "test_policy.py").write_text(POLICY_TESTS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "tests"), str(ROOT)]), GOPARKED_NO_BUILD="1")
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    # The project's pytest configuration and conftest, on these tests only.
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), "-p", "conftest", "-p",
         "no:cacheprovider", "-rA", "-q", str(tmp_path / "test_policy.py")],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=300)
    got = {}
    for m in re.finditer(r"^(PASSED|FAILED|XFAIL|XPASS|ERROR) \S+::(\w+)",
                         r.stdout, re.M):
        got.setdefault(m.group(2), m.group(1))
    if re.search(r"^SKIPPED .*no tool here", r.stdout, re.M):
        got.setdefault("test_skips", "SKIPPED")
    return r.returncode, got, r.stdout + r.stderr


# What each test of POLICY_TESTS becomes, with CI=true and without. An
# xpass of a strict xfail fails everywhere (pyproject.toml); CI fails the
# rest of what does not test: skips, xpasses, xfails naming no issue.
POLICY = {
    "test_passes": ("PASSED", "PASSED"),
    "test_xfail_with_issue": ("XFAIL", "XFAIL"),
    "test_xfail_without_issue": ("FAILED", "XFAIL"),
    "test_xpass_strict": ("FAILED", "FAILED"),
    "test_xpass_not_strict": ("FAILED", "XPASS"),
    "test_skips": ("FAILED", "SKIPPED"),
}


@pytest.mark.parametrize("ci", [True, False], ids=["CI", "local"])
def test_what_a_test_outcome_becomes(tmp_path, ci):
    rc, got, out = _outcomes(tmp_path, ci)
    assert got == {k: v[0 if ci else 1] for k, v in POLICY.items()}, out
    assert rc == 1, out


def test_one_line_error_counts_the_lines():
    assert one_line_error("goparked: error: no such goroutine 9\n",
                          "goroutine 9")
    # the debugger's own warnings beside it are not goparked's
    assert one_line_error("warning: no symbols\ngoparked: error: bad\n")
    # Each bad text breaks one rule only: it holds the needle, so only
    # that rule can catch it.
    for bad in ("goparked: error: no such goroutine 9\nsecond line\n",
                "goparked: error: no such goroutine 9\n"
                "goparked: error: no such goroutine 9\n",
                "",
                "Traceback (most recent call last):\n  goroutine\n",
                "goparked: error: bad\n"):
        with pytest.raises(AssertionError):
            one_line_error(bad, "goroutine")
