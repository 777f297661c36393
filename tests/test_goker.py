"""goparked against programs nobody here wrote: the Go team's own goroutine
leak test programs (GoBench's GoKer kernels of real blocking bugs, and the
micro/pattern cases), taken from the Go 1.27 GOROOT at test time and run by
corefiles/goker.py: a core right after the runtime's goroutineleak profile.

- Go 1.27, and 1.26 built with GOEXPERIMENT=goroutineleakprofile ("1.26x"):
  the goroutines goparked proves leaked are the ones that profile reports
  leaked, by goroutine id. A goroutine goparked alone proves leaked is a
  false proof where the core is quiescent (every goroutine in the same wait
  in both profiles and the core; the sample's cases always are).
- Go 1.19 (the same programs built with it; the 1.26 ones without the
  experiment are checked by hand, see corefiles/goker.py): where the
  runtime's test calls the case deterministic (GOMAXPROCS=1), goparked
  proves as many goroutines leaked as the 1.27 profile reports.

CI runs SAMPLE; all cases (64 GoKer kernels and the micro/pattern ones):

    GOPARKED_GOKER=all python3 -m pytest -q tests/test_goker.py
    python3 corefiles/goker.py --toolchains 1.27,1.26,1.19 --cases all   # the table
"""

from __future__ import annotations

import os
import re

import pytest

from fixtures import corefiles_module, in_ci


goker = corefiles_module("goker")

# a few seconds each: channels (nil, unbuffered, select), mutexes on the
# stack and the heap, RWMutex, Cond, WaitGroup, a mixed chain, no leak at
# all, and GoKer kernels of each project whose runtime test is deterministic
# (plus two flaky ones with hundreds of leaked goroutines)
SAMPLE = ["NilRecv", "ChanSend", "Select", "MutexHeap", "RWMutexRLock", "Cond", "Mixed", "NoLeakGlobal",
          "DoubleSend", "Cockroach7504", "Cockroach24808", "Etcd5509", "Grpc1275",
          "Kubernetes38669", "Moby7559", "Moby17176", "Syncthing5795", "Cockroach1055", "Etcd7902"]


def _cases():
    if os.environ.get("GOPARKED_GOKER") == "all":
        try:
            return [c for c in goker.cases("goker") + goker.cases("micro") if c not in goker.NO_CORE]
        except goker.Unavailable:
            pass
    return SAMPLE


def entry(toolchain, case):
    try:
        return goker.ensure(toolchain, case)
    except goker.Unavailable as exc:
        if in_ci():
            pytest.fail("CI=true and Go %s is required (leakgen.py has it in CI): %s" % (toolchain, exc))
        pytest.skip("Go %s unavailable: %s" % (toolchain, exc))
    except goker.GenerateError as exc:
        if "core_pattern" in str(exc) and not in_ci():
            pytest.skip("cannot make cores on this machine: %s" % exc)
        raise


def expected(case):
    try:
        return goker.expectations().get(case)
    except goker.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", ["1.27", "1.26x"])
@pytest.mark.parametrize("case", _cases())
def test_proven_leaks_equal_goroutineleak_profile(toolchain, case):
    e = entry(toolchain, case)
    row = goker.compare(e)
    assert row["heap_model"], row
    if row["extra"] and not row["quiescent"]:
        # the program went on after the runtime looked (corefiles/goker.py
        # settles it first; the sample's cases always settle)
        assert case not in SAMPLE, ("not quiescent", row["moved"])
        pytest.skip("inconclusive: the program moved after the profile: %s" % (row["moved"][:3],))
    assert not row["false_proofs"], "goparked proves leaked what the runtime does not: %s" % {
        g: row["extra_at_profile"][g] for g in row["false_proofs"]}
    assert not row["missed"], "the runtime reports leaked, goparked does not: %s" % row["missed_verdicts"]
    # the run leaked what the runtime's own test expects of it (else the
    # case proved nothing): each expected leak site is in the profile
    exp = expected(case)
    if exp and not exp["flaky"]:
        keys = [re.sub(r" \[", "() [", k) for k in row["sites_profile"]]
        for rx in exp["leaks"]:
            assert any(re.search(rx, k) for k in keys), (rx, keys)
        if not exp["leaks"]:
            assert row["profile"] == 0


def _deterministic():
    """The cases the runtime's test runs at GOMAXPROCS=1 and does not call
    flaky: their leaks do not depend on scheduling, so a run by another Go
    leaks as many."""
    if os.environ.get("GOPARKED_GOKER") == "all":
        try:
            exp = goker.expectations()
            return [c for c in _cases() if c in exp and not exp[c]["flaky"]]
        except goker.Unavailable:
            pass
    return [c for c in SAMPLE if c not in ("Cockroach1055", "Etcd7902")]


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", ["1.19"])
@pytest.mark.parametrize("case", _deterministic())
def test_older_go_same_count_as_profile(toolchain, case):
    exp = expected(case)
    if exp is None or exp["flaky"]:
        pytest.skip("%s: the runtime's test calls it flaky" % case)
    want = goker.compare(entry("1.27", case))["profile"] - TINY_SHARED.get((toolchain, case), 0)
    got = goker.compare(entry(toolchain, case))
    assert got["heap_model"], got
    assert got["goparked"] == want, got["sites_goparked"]


# Moby7559 built by Go 1.19: each goroutine deadlocks on the 8-byte Mutex of
# its own UDPProxy, an object with no pointers that the tiny allocator packs
# 16 bytes to a block; the first one shares its block with the 4 bytes of
# net.classCMask, a global. The collector marks the whole block, so the
# mutex is reachable and its waiter can be woken as far as the runtime's
# detector is concerned (it too tests the mark of the object holding the
# wait object): 19 of the 20 are proven, the last is "blocked".
TINY_SHARED = {("1.19", "Moby7559"): 1}


@pytest.mark.slow
@pytest.mark.parametrize("case", ["Moby7559", "Mixed", "Etcd5509"])
def test_cli_json_verdict_equals_goroutineleak_profile(case, run_goparked):
    """The same, through the command a user runs: `goparked CORE --exe BIN
    --json --verdict`, each goroutine's verdict."""
    import json
    e = entry("1.27", case)
    p = run_goparked([e.core, "--exe", e.exe, "--json", "--verdict"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    mine = {g["goid"] for g in doc["goroutines"] if g["verdict"] == "leaked"}
    theirs = e.profile().leaked
    assert theirs and mine == theirs, (sorted(mine - theirs), sorted(theirs - mine))
