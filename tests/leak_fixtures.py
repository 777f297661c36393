"""Cores of corefiles/leaks (corefiles/leakgen.py) for tests.

leak_core(toolchain, variant, mode) gives the `all` entry, generated on
demand; skipped when the toolchain is unavailable, except under CI=true for
the cells of leakgen.default_matrix(), which CI must have.
"""

from __future__ import annotations


import pytest

from fixtures import REPO, corefiles_module, in_ci  # noqa: F401  (also loads generate.py under its shared name)


leakgen = corefiles_module("leakgen")


def leak_core(toolchain: str, variant: str = "dwarf", mode: str = "plain", scenario: str = "all",
              n: int = leakgen.DEFAULT_N):
    required = in_ci() and (toolchain, variant, mode) in leakgen.default_matrix() and scenario == "all" \
        and n == leakgen.DEFAULT_N
    try:
        return leakgen.ensure(toolchain, variant, mode, scenario, n)
    except leakgen.Unavailable as exc:
        if required:
            pytest.fail("CI=true and leaks %s/%s/%s is in the default matrix: %s" % (toolchain, variant, mode, exc))
        pytest.skip("Go toolchain %s unavailable: %s" % (toolchain, exc))
    except leakgen.GenerateError as exc:
        if "core_pattern" in str(exc) and not required:
            pytest.skip("cannot make cores on this machine: %s" % exc)
        raise


def leak_params(cells=None) -> list:
    """pytest.param list of (toolchain, variant, mode), the default matrix unless given."""
    return [pytest.param(t, v, m, id="go%s-%s-%s" % (t, v, m)) for t, v, m in (cells or leakgen.default_matrix())]


PROFILE_CELLS = [c for c in leakgen.default_matrix() if c[2] == "profile"]
