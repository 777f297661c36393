"""goparked triage, stable signatures, --jsonl and the README's DuckDB
query. Expectations come from the fixture's own account (which goroutines
it parked together) and from the source of the small program built here;
never from goparked's own output."""

import json
import os
import re
import subprocess

import pytest

from fixtures import TOOLCHAINS, core_for

pytestmark = pytest.mark.cli

OLDEST, NEWEST = TOOLCHAINS[0], TOOLCHAINS[-1]
SCENARIOS = ["chan_recv", "chan_send_full", "mutex_local", "waitgroup",
             "select_empty", "nil_chan", "sleep_long", "cond_wait",
             "deadlock_chain"]


def _run(args, **kw):
    from conftest import run_goparked_cmd
    return run_goparked_cmd(args, **kw)


@pytest.fixture(scope="module")
def cores(tmp_path_factory, tiny_go):
    """20 cores in one directory, each beside its executable as X.core
    and X: 9 scenarios x 2 Go versions, a truncated core, and a core of
    another program beside the fixture's executable."""
    d = tmp_path_factory.mktemp("triage")
    good = {}
    for t in (OLDEST, NEWEST):
        for sc in SCENARIOS:
            fc = core_for(t, "dwarf", sc)
            name = "go%s-%s" % (t, sc)
            os.symlink(fc.core, str(d / (name + ".core")))
            os.symlink(fc.exe, str(d / name))
            good[str(d / (name + ".core"))] = fc
    fc = core_for(NEWEST, "dwarf", "chan_recv")
    data = open(fc.core, "rb").read()
    (d / "truncated.core").write_bytes(data[:len(data) // 3])
    os.symlink(fc.exe, str(d / "truncated"))
    os.symlink(str(tiny_go.core), str(d / "wrongexe.core"))
    os.symlink(fc.exe, str(d / "wrongexe"))
    bad = [str(d / "truncated.core"), str(d / "wrongexe.core")]
    assert len(good) + len(bad) == 20
    return d, good, bad


def _expected(good):
    """Per account group (scenario, group name): {core: goids}."""
    want = {}
    for core, fc in good.items():
        for g in fc.load_account()["groups"]:
            want.setdefault((g["scenario"], g["group"]), {})[core] = \
                set(g["goids"])
    return want


def _per_goroutine(core, exe):
    """{goid: signature} of a core, through the Python API."""
    import goparked
    with goparked.open(core, exe) as prog:
        with prog.snapshot() as snap:
            return {goid: sg.signature for sg in snap.signatures()
                    for goid in sg.goids}


def test_triage_of_twenty_cores(cores, tmp_path):
    d, good, bad = cores
    out = tmp_path / "t.jsonl"
    r = _run(["triage", d, "--jsonl", out, "--jobs", 2], timeout=600)
    # two cores could not be read: exit 1, one line each, the rest read
    assert r.returncode == 1, r.stderr
    errs = r.stderr.strip().splitlines()
    assert len(errs) == 2, r.stderr
    assert {e.split(": ")[1] for e in errs} == set(bad)
    assert "does not belong to executable" in \
        [e for e in errs if "wrongexe" in e][0]
    assert r.stdout.startswith("20 cores: 18 read, 2 failed")

    # every group the fixture made has one signature, the same in both Go
    # versions; two different groups never share one
    sig_of = {}
    for core, fc in good.items():
        per = _per_goroutine(core, fc.exe)
        for g in fc.load_account()["groups"]:
            sigs = {per[i] for i in g["goids"]}
            assert len(sigs) == 1, (core, g["group"], sigs)
            sig_of.setdefault((g["scenario"], g["group"]), set()).update(sigs)
    for k, sigs in sig_of.items():
        assert len(sigs) == 1, (k, sigs)
    owner = {}
    for k, sigs in sig_of.items():
        s = sigs.pop()
        assert s not in owner, (k, owner.get(s))
        owner[s] = k

    # the table: cores and goroutines per signature, as the accounts say
    want = _expected(good)
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^([0-9a-f]{16})\s+(\d+)\s+(\d+)\s", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    for s, k in owner.items():
        per_core = want[k]
        assert rows[s] == (len(per_core),
                           sum(len(v) for v in per_core.values())), k

    # JSONL: the same, record by record
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(x["schema"] == "goparked/record" and x["version"] == 1
               for x in recs)
    assert sorted(x["target"] for x in recs if x["record"] == "error") == \
        sorted(bad)
    from goparked import schema
    for x in recs:
        if x["record"] == "signature":
            assert list(x) == schema.RECORD_HEAD_KEYS + schema.SIGNATURE_KEYS
        else:
            assert list(x) == schema.TRIAGE_ERROR_KEYS



def test_duckdb_ranks_like_triage(cores, tmp_path):
    """The README's query over many cores' JSONL gives triage's ranking."""
    duckdb = pytest.importorskip("duckdb")  # scripts/setup-deps installs it
    d, good, bad = cores
    jdir = tmp_path / "jsonl"
    jdir.mkdir()
    # one file per core, as separate machines would write them
    for i, core in enumerate(sorted(good)):
        r = _run([core, "--jsonl"])
        assert r.returncode == 0, r.stderr
        (jdir / ("%02d.jsonl" % i)).write_text(r.stdout)
    readme = open(os.path.join(os.path.dirname(__file__), "..",
                               "README.rst")).read()
    m = re.search(r"\.\. duckdb-query\n\n::\n\n((?:    .*\n|\n)+)", readme)
    assert m, "README has no duckdb-query block"
    query = "\n".join(x[4:] for x in m.group(1).splitlines())
    query = query.replace("cores/*.jsonl", str(jdir / "*.jsonl"))
    got = duckdb.sql(query).fetchall()
    r = _run(["triage"] + sorted(good), timeout=600)
    assert r.returncode == 0, r.stderr
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"^([0-9a-f]{16})\s+(\d+)\s+(\d+)\s", line)
        if m:
            rows.append((m.group(1), int(m.group(2)), int(m.group(3))))
    assert [(s, c, n) for s, c, n, *_ in got] == rows


TWIN = """\
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var mu sync.Mutex

func recvForever(c chan int) { <-c }

func lockForever() { mu.Lock() }

func main() {
	c := make(chan int)
	for i := 0; i < 3; i++ {
		go recvForever(c)
	}
	mu.Lock()
	go lockForever()
	time.Sleep(100 * time.Millisecond)
	fmt.Println("READY")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}
"""


def test_signature_same_program_two_source_paths(tmp_path, tiny_go):
    """One program built from two directories (other build paths, other
    addresses): equal signatures; its two waits differ; a program whose
    module path differs gets other signatures."""
    from conftest import _core_of, find_go
    go = find_go()
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local",
               GOFLAGS="-mod=mod")
    sigs = []
    for where, module in (("a/src", "twin"), ("b/deep/er/src", "twin"),
                          ("c/src", "example.com/other")):
        src = tmp_path / where
        src.mkdir(parents=True)
        (src / "main.go").write_text(TWIN)
        (src / "go.mod").write_text("module %s\n\ngo 1.19\n" % module)
        r = subprocess.run([go, "build", "-o", "twin"], cwd=str(src),
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        assert r.returncode == 0, r.stdout
        core = _core_of([str(src / "twin")], src / "core.twin", "READY")
        import goparked
        with goparked.open(str(core), str(src / "twin")) as prog:
            with prog.snapshot() as snap:
                by_func = {}
                for sg in snap.signatures():
                    by_func[sg.site.func] = (sg.signature, sg.count)
        # from TWIN's source: 3 receivers, 1 on the mutex, main asleep
        assert by_func["main.recvForever"][1] == 3
        assert by_func["main.lockForever"][1] == 1
        assert by_func["main.recvForever"][0] != \
            by_func["main.lockForever"][0]
        sigs.append({k: v[0] for k, v in by_func.items()})
    assert sigs[0] == sigs[1]
    assert not set(sigs[0].values()) & set(sigs[2].values())
