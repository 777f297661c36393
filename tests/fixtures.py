"""Shared pytest fixtures: fixture cores from corefiles/generate.py.

Use from conftest.py with:

    from fixtures import *  # noqa: F401,F403  (tests/ must be on sys.path; pytest's rootdir conftest is)

or import the helpers directly in a test module (`from fixtures import core_for`).

A test gets a FixtureCore (core, exe, dump, account paths plus loaders) for a
(toolchain, variant, scenario[, n]) cell. Missing entries are generated on
demand (a few seconds each; the Go build cache makes rebuilds cheap). When a
toolchain is not available the test is skipped with the reason, except under
CI=true for cells of the default matrix: there the test fails, because CI
must have them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Optional

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS_DIR)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import oracle  # noqa: E402


def corefiles_module(stem):
    """corefiles/STEM.py, loaded once under the name goparked_corefiles_STEM
    (the name corefiles/ scripts load each other by: one module object, so
    one probe cache and one stop flag)."""
    name = "goparked_corefiles_" + stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(REPO, "corefiles", stem + ".py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


generate = corefiles_module("generate")

TOOLCHAINS = tuple(generate.TOOLCHAINS)     # ("1.19", ..., "1.26")
VARIANTS = generate.VARIANTS                # ("dwarf", "stripped"): linux/amd64, not PIE
ALL_VARIANTS = generate.ALL_VARIANTS        # every [arm64-][pie-]dwarf|stripped
SCENARIOS = tuple(generate.scenario_names())
DEFAULT_N = generate.DEFAULT_N
NEWEST = TOOLCHAINS[-1]
OLDEST = TOOLCHAINS[0]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def default_matrix() -> list:
    """[(toolchain, variant, scenario)] that CI must always have."""
    return generate.default_matrix()


def matrix_cells() -> list:
    """The cells the matrix-wide tests run on: the CI slice, or with
    GOPARKED_MATRIX=full (make test-matrix) every cell of
    corefiles/generate.py --matrix full."""
    if os.environ.get("GOPARKED_MATRIX") == "full":
        return generate.full_matrix()
    return generate.default_matrix()


def engine_reads(variant: str, scenario: str) -> bool:
    """Whether this goparked reads the cell's target: every cell of the
    matrix (linux/amd64 and linux/arm64, with DWARF or stripped, PIE or
    not). Kept so that a target it cannot read yet is one line here."""
    generate.parse_variant(variant)
    return True


@dataclass
class FixtureCore:
    toolchain: str      # "1.26"
    go_version: str     # "go1.26.8"
    variant: str        # "dwarf" | "stripped" | "[arm64-][pie-]dwarf|stripped"
    scenario: str
    n: int
    dir: str
    core: str
    exe: str
    dump: str           # the runtime's own goroutine dump (text file)
    account: str        # account.json written by the fixture
    meta: str
    arch: str = "amd64"     # "amd64" | "arm64" (a qemu-aarch64 guest core)
    pie: bool = False
    program: str = "fixture"  # "fixture" | "cgo"
    # The fixture's user-facing dump (pprof goroutine debug=2 at
    # GOTRACEBACK=single) written just before READY; "" for the cgo program.
    stacks: str = ""

    _account: Optional[dict] = None
    _parsed: Optional[oracle.Dump] = None

    @property
    def go_minor(self) -> int:
        return int(self.go_version.split(".")[1])

    def load_account(self) -> dict:
        if self._account is None:
            self._account = generate.Entry.load_account(self)  # type: ignore[arg-type]
        return self._account

    def load_meta(self) -> dict:
        return generate.Entry.load_meta(self)  # type: ignore[arg-type]

    def dump_text(self) -> str:
        with open(self.dump, encoding="utf-8", errors="replace") as f:
            return f.read()

    def parsed_dump(self) -> oracle.Dump:
        if self._parsed is None:
            self._parsed = oracle.parse_file(self.dump)
        return self._parsed

    def state_at_core(self, goid: int) -> str:
        """The goroutine's state when the core was written, as the runtime's
        dump printed it ("waiting", "running", "runnable", ...). The account
        says only "running" for a spinning goroutine: whether the dump (and
        the core, written with the world frozen just after it) caught it on
        its thread or preempted is up to the machine's load."""
        return self.parsed_dump().goroutines[goid].state

    def waitsince_window(self) -> tuple:
        """(lo, hi) runtime-nanotime bounds for g.waitsince of every accounted waiting goroutine.

        waitsince is stamped by a stack scan with work.tstart, the start of the
        *previous* cycle's mark termination (GO_RUNTIME.md G). When no GC ran
        before the forced ones, that is the first forced GC: lo/hi are its
        before/after stamps (checked with gdb on 1.19, 1.22, 1.26 cores). If
        other GCs ran (large N), lo is None: only 0 < waitsince <= hi holds."""
        acc = self.load_account()
        gcs = acc["gcs"]
        if gcs[0]["num_gc_after"] == acc["num_gc_at_start"] + 1:
            return gcs[0]["before_ns"], gcs[0]["after_ns"]
        return None, gcs[0]["after_ns"]

    def groups(self, scenario: Optional[str] = None) -> list:
        return [g for g in self.load_account()["groups"] if scenario is None or g["scenario"] == scenario]


def core_for(toolchain: str = NEWEST, variant: str = "dwarf", scenario: str = "all",
             n: int = DEFAULT_N, hold: int = 0) -> FixtureCore:
    """The cache entry for one cell, generated on demand; skips (or fails in CI) when unavailable."""
    required = in_ci() and (toolchain, variant, scenario) in default_matrix() and n == DEFAULT_N
    try:
        e = generate.ensure(toolchain, variant, scenario, n, hold=hold)
    except generate.Unavailable as exc:
        msg = "Go toolchain %s unavailable: %s" % (toolchain, exc)
        if required:
            pytest.fail("CI=true and %s/%s/%s is in the default matrix: %s" % (toolchain, variant, scenario, msg))
        pytest.skip(msg)
    except generate.GenerateError as exc:
        if "core_pattern" in str(exc) and not required:
            pytest.skip("cannot make cores on this machine: %s" % exc)
        raise
    return FixtureCore(e.toolchain, e.go_version, e.variant, e.scenario, e.n, e.dir, e.core, e.exe,
                       e.dump, e.account, e.meta, e.arch, e.pie, e.program, stacks=e.stacks)


def cell_params(toolchains=None, variants=None, scenarios=None, matrix=None) -> list:
    """pytest.param list of (toolchain, variant, scenario) with readable ids.

    matrix="default" gives the CI matrix; otherwise the product of the given
    lists (defaults: every toolchain, both variants, the `all` scenario)."""
    if matrix == "default":
        cells = default_matrix()
    else:
        cells = [(t, v, s) for t in (toolchains or TOOLCHAINS) for v in (variants or VARIANTS)
                 for s in (scenarios or ("all",))]
    return [pytest.param(t, v, s, id="go%s-%s-%s" % (t, v, s)) for t, v, s in cells]


@pytest.fixture(scope="session")
def fixture_core():
    """Factory: fixture_core(toolchain="1.26", variant="dwarf", scenario="all", n=3) -> FixtureCore."""
    return core_for


@pytest.fixture(scope="session")
def demo_core() -> FixtureCore:
    """The `all` scenario on the newest toolchain, with DWARF."""
    return core_for(NEWEST, "dwarf", "all")


@pytest.fixture(scope="session")
def demo_core_stripped() -> FixtureCore:
    return core_for(NEWEST, "stripped", "all")


@pytest.fixture(scope="session")
def oldest_core() -> FixtureCore:
    """The `all` scenario on Go 1.19, with DWARF."""
    return core_for(OLDEST, "dwarf", "all")


__all__ = ["FixtureCore", "core_for", "cell_params", "default_matrix", "matrix_cells", "engine_reads", "in_ci",
           "generate", "oracle",
           "TOOLCHAINS", "VARIANTS", "ALL_VARIANTS", "SCENARIOS", "DEFAULT_N", "NEWEST", "OLDEST",
           "fixture_core", "demo_core", "demo_core_stripped", "oldest_core"]
