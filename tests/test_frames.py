"""Stacks as users see them, against the runtime's own non-crash traceback.

Just before READY the fixture wrote pprof.Lookup("goroutine").WriteTo(w, 2)
at GOTRACEBACK=single (stacks.txt, see corefiles/generate.py): runtime.Stack
of every goroutine as users find it in their logs, with no wrapper frame and
no runtime-internal one (runtime/traceback.go showfuncinfo). Then it raised
itself to crash, and the core and the crash dump (dump.txt, every frame)
were written. goparked's default text must be stacks.txt goroutine by
goroutine, and --all-frames must be the crash dump; both files come from the
runtime, never from goparked.
"""

import json
import re
from dataclasses import dataclass

import pytest

import oracle
from conftest import run_goparked_cmd
from fixtures import (NEWEST, OLDEST, TOOLCHAINS, VARIANTS, core_for,
                      engine_reads, matrix_cells)

import goparked
from goparked import render, text

# every toolchain, with and without DWARF; and the matrix's other builds
# of the fixture (arm64, PIE) that the engine reads
CELLS = [pytest.param(t, v, id="go%s-%s" % (t, v))
         for t in TOOLCHAINS for v in VARIANTS] + \
    [pytest.param(t, v, id="go%s-%s" % (t, v)) for t, v, s in matrix_cells()
     if s == "all" and v not in VARIANTS and engine_reads(v, s)]


def _stacks(fc):
    assert fc.stacks, "this entry has no stacks.txt (corefiles/generate.py)"
    return oracle.parse_file(fc.stacks, crash=False).goroutines


def _comparable(stacks):
    """goid -> the runtime's goroutine, for those that cannot have moved
    between stacks.txt and the core: not main (it wrote the file), not a
    spinning goroutine."""
    return {goid: g for goid, g in stacks.items()
            if goid != 1 and g.state not in ("running", "runnable")}


def _frames(g):
    return [(f.func, f.file, f.line, f.offset) for f in g.frames]


def _parse_text(goid, out):
    """goparked's goroutine text up to its own '# ...' facts, parsed by
    the same parser as the runtime's."""
    return oracle.parse(out.split("\n\n")[0] + "\n", crash=False) \
        .goroutines[goid]


@pytest.mark.engine
@pytest.mark.parametrize("toolchain,variant", CELLS)
def test_goroutine_text_is_the_runtimes_traceback(toolchain, variant):
    """Every goroutine: the frames, file:line +0x.., header status and
    "created by" of the runtime's own traceback, in its order."""
    fc = core_for(toolchain, variant, "all")
    stacks = _stacks(fc)
    want = _comparable(stacks)
    assert len(want) >= 60, "the fixture parked fewer goroutines than it says"
    problems, hidden = [], 0
    with goparked.open(fc.core, fc.exe) as prog, prog.snapshot() as snap:
        # the runtime leaves out its own goroutines at this level
        assert {g.goid for g in snap.goroutines() if not g.system} == \
            set(stacks)
        for goid, sg in sorted(want.items()):
            g = snap.goroutine(goid)
            og = _parse_text(goid, render.goroutine_text(snap, g))
            hidden += len(g.frames) - len(og.frames)
            if (_frames(og), og.created_by, og.status) != \
                    (_frames(sg), sg.created_by, sg.status):
                problems.append("goroutine %d:\n  ours    %s %s\n  runtime %s %s"
                                % (goid, _frames(og), og.created_by,
                                   _frames(sg), sg.created_by))
    assert not problems, "\n".join(problems[:10])
    # the comparison is not of two whole stacks: frames were left out
    assert hidden >= 3 * len(want)


@pytest.mark.engine
@pytest.mark.parametrize("toolchain", sorted({OLDEST, "1.26", NEWEST}))
def test_all_frames_is_the_crash_dump(toolchain):
    fc = core_for(toolchain, "dwarf", "all")
    dump = fc.parsed_dump().goroutines
    with goparked.open(fc.core, fc.exe) as prog, prog.snapshot() as snap:
        for goid, sg in sorted(_comparable(_stacks(fc)).items()):
            g = snap.goroutine(goid)
            og = _parse_text(goid, render.goroutine_text(snap, g, True))
            assert _frames(og) == _frames(dump[goid]), goid
            assert og.created_by == dump[goid].created_by, goid


def _left_out(dump, stacks):
    """{func} of the crash dump's frames that the runtime's non-crash
    traceback of the same goroutine does not print."""
    out = set()
    for goid, sg in stacks.items():
        out |= set(dump[goid].funcs()) - set(sg.funcs())
    return out


@pytest.mark.cli
@pytest.mark.parametrize("toolchain", sorted({OLDEST, "1.26", NEWEST}))
def test_json_flags_every_frame(toolchain):
    """--json keeps every frame (the crash dump's) and flags the ones the
    runtime hides: applying the flags gives stacks.txt."""
    fc = core_for(toolchain, "dwarf", "all")
    r = run_goparked_cmd([fc.core, "--exe", fc.exe, "--json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    dump = fc.parsed_dump().goroutines
    stacks = _comparable(_stacks(fc))
    gors = {g["goid"]: g for g in doc["goroutines"]}
    flagged = {"wrapper": set(), "runtime": set()}
    for goid, sg in stacks.items():
        frames = doc["stacks"][str(gors[goid]["stack_id"])]
        assert [f["func"] for f in frames] == dump[goid].funcs()
        for f in frames:
            assert isinstance(f["wrapper"], bool) and \
                isinstance(f["runtime"], bool)
            for k in flagged:
                if f[k]:
                    flagged[k].add(f["func"])
        assert [f["func"] for f in text.shown_frames(frames)] == \
            sg.funcs(), goid
    left_out = _left_out(dump, stacks)
    assert "runtime.gopark" in flagged["runtime"]
    assert flagged["runtime"] == {f for f in left_out
                                  if f.startswith("runtime.")}
    # `go f(x)` runs a closure the compiler marks as a wrapper
    # (main.startX.func1, from 1.22 main.startX.gowrap1)
    assert flagged["wrapper"] == {f for f in left_out
                                  if not f.startswith("runtime.")}
    assert any(f.startswith("main.start") for f in flagged["wrapper"])


@pytest.mark.cli
def test_cli_default_and_all_frames():
    """The command: --goroutine and --by stack print the runtime's
    non-crash frames; --all-frames the crash dump's."""
    fc = core_for(NEWEST, "dwarf", "all")
    stacks = _comparable(_stacks(fc))
    dump = fc.parsed_dump().goroutines
    goid = next(g["goids"][0] for g in fc.load_account()["groups"]
                if g["group"] == "net_read")
    for extra, want in (([], stacks), (["--all-frames"], dump)):
        r = run_goparked_cmd([fc.core, "--exe", fc.exe, "-g", str(goid)]
                             + extra)
        assert r.returncode == 0, r.stderr
        assert _frames(_parse_text(goid, r.stdout)) == _frames(want[goid])
        r = run_goparked_cmd([fc.core, "--exe", fc.exe, "--by", "stack",
                              "--ids", "100000"] + extra)
        assert r.returncode == 0, r.stderr
        groups = _stack_groups(r.stdout)
        assert len(groups) > 10
        for funcs, goids in groups:
            for g in goids:
                if g in stacks:
                    assert funcs == want[g].funcs(), (g, extra)


def _stack_groups(out):
    """[(funcs, goids)] of --by stack text."""
    groups, cur = [], None
    for line in out.splitlines():
        if re.match(r"^\s+\d+\s+\S.*\d+ frames", line):
            cur = ([], [])
            groups.append(cur)
        elif cur is not None and line.startswith(" " * 9 + "goroutine "):
            cur[1].extend(int(x) for x in line.split()[1:] if x.isdigit())
            cur = None
        elif cur is not None and line.startswith(" " * 9):
            cur[0].append(line.split()[0])
    return groups


def test_report_stacks_as_users_see_them(tmp_path):
    """The Markdown report's stacks: the runtime's non-crash frames of a
    member of the group; --all-frames every frame."""
    fc = core_for(NEWEST, "dwarf", "all")
    stacks = _comparable(_stacks(fc))
    dump = fc.parsed_dump().goroutines
    grp = next(g for g in fc.load_account()["groups"]
               if g["group"] == "net_read")
    for extra, want in (([], stacks), (["--all-frames"], dump)):
        out = tmp_path / "r.md"
        r = run_goparked_cmd(["report", fc.core, "--exe", fc.exe, "-o", out]
                             + extra)
        assert r.returncode == 0, r.stderr
        md = out.read_text()
        block = next(b for b in md.split("```")[1::2]
                     if "main.readNoTimeout" in b)
        funcs = [l.split()[0] for l in block.strip().splitlines()
                 if not l.startswith("\t")]
        assert funcs == want[grp["goids"][0]].funcs(), extra


# ------------------------------------------- shapes the fixture does not have

SHAPES_GO = """\
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

type T struct{ ch chan int }

//go:noinline
func (t T) Wait() { <-t.ch }

type Big struct {
	pad [64]byte
	ch  chan int
}

//go:noinline
func (b Big) Wait() { <-b.ch }

type Waiter interface{ Wait() }

//go:noinline
func waiter(ch chan int) Waiter { return &Big{ch: ch} }

//go:noinline
func waitG[E any](c chan E) { <-c }

//go:noinline
func panicking(ch chan int) {
	defer func() { <-ch }()
	panic("boom")
}

func main() {
	ch := make(chan int)
	f := T{ch}.Wait
	go f()           // entry: the method value wrapper main.T.Wait-fm
	w := waiter(ch)
	go w.Wait()      // through the autogenerated main.(*Big).Wait
	go waitG(ch)     // a generic function: main.waitG[...]
	go panicking(ch) // parked in a deferred call of a panic
	// until the four are parked (no sleep of a guessed length)
	buf := make([]byte, 1<<16)
	for start := time.Now(); time.Since(start) < time.Minute; {
		n := runtime.Stack(buf, true)
		if strings.Count(string(buf[:n]), "[chan receive") == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
	fmt.Println("READY")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}
"""


@pytest.mark.engine
@pytest.mark.parametrize("toolchain", sorted({OLDEST, "1.26", NEWEST}))
def test_wrappers_and_panics(toolchain, tmp_path):
    """A method value's -fm wrapper, an autogenerated pointer wrapper, a
    generic function and a goroutine parked in a deferred call during a
    panic (runtime.gopanic shown, as "panic"): goparked's default text is
    the runtime's debug=2 output written by the program itself, taken just
    before gcore made the core."""
    import shutil
    import subprocess
    from conftest import gcore
    from fixtures import generate
    if shutil.which("gcore") is None:
        pytest.skip("no gcore (gdb)")
    try:
        tc = generate.probe(toolchain)
    except generate.Unavailable as e:
        pytest.skip(str(e))
    (tmp_path / "main.go").write_text(SHAPES_GO)
    (tmp_path / "go.mod").write_text("module shapes\n\ngo 1.19\n")
    r = subprocess.run([tc.go, "build", "-o", "shapes", "."], cwd=tmp_path,
                       env=tc.env(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    env = dict(tc.env(), GOTRACEBACK="single")
    p = subprocess.Popen([str(tmp_path / "shapes")], env=env,
                         stdout=subprocess.PIPE, text=True)
    try:
        out = []
        for line in p.stdout:
            if line == "READY\n":
                break
            out.append(line)
        core = gcore(p.pid, tmp_path / "core")
    finally:
        p.kill()
        p.wait()
    stacks = _comparable(oracle.parse("".join(out), crash=False).goroutines)
    assert len(stacks) == 4
    seen = set()
    with goparked.open(core, tmp_path / "shapes") as prog, \
            prog.snapshot() as snap:
        for goid, sg in stacks.items():
            g = snap.goroutine(goid)
            og = _parse_text(goid, render.goroutine_text(snap, g))
            assert (_frames(og), og.created_by) == \
                (_frames(sg), sg.created_by), goid
            seen |= {f.func for f in g.frames if f.wrapper}
            seen |= {f.func for f in g.frames if f.runtime}
    assert "main.T.Wait-fm" in seen
    assert "panic" in {f.func for sg in stacks.values() for f in sg.frames}
    if tc.version < "go1.22":  # from 1.22 a .gowrapN makes the interface call
        assert "main.(*Big).Wait" in seen


# ------------------------------------------------------------- deep stacks

DEEP_GO = """\
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// small enough to be inlined into deep: the leaf is then two logical
// frames in one physical frame (1.19 and 1.20 count physical frames)
func wait(ch chan int) int { return <-ch }

//go:noinline
func deep(n int, ch chan int) int {
	if n <= 1 {
		return wait(ch)
	}
	return deep(n-1, ch) + 1
}

func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _ := strconv.Atoi(string(bytes.Fields(buf)[1]))
	return id
}

func main() {
	ch := make(chan int)
	ids := make(chan [2]int)
	for _, a := range os.Args[1:] {
		d, _ := strconv.Atoi(a)
		go func(d int) {
			ids <- [2]int{goid(), d}
			deep(d, ch)
		}(d)
	}
	for range os.Args[1:] {
		p := <-ids
		fmt.Printf("DEPTH %d %d\\n", p[0], p[1])
	}
	// until every one is parked (no sleep of a guessed length)
	buf := make([]byte, 1<<22)
	for start := time.Now(); time.Since(start) < time.Minute; {
		n := runtime.Stack(buf, true)
		if strings.Count(string(buf[:n]), "[chan receive") == len(os.Args)-1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// the runtime's traceback as users see it (GOTRACEBACK=single), then
	// crash for the SIGQUIT that makes the dump and the core
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
	debug.SetTraceback("crash")
	fmt.Println("READY")
	os.Stdout.Sync()
	for {
		time.Sleep(time.Hour)
	}
}
"""

# Recursion depths: around the 100 frames of every rule (shown frames are
# depth + 2 from 1.21: the inlined wait and the goroutine's closure; 1.19
# and 1.20 count the hidden runtime frames too), and one far deeper.
DEEP_DEPTHS = [3] + list(range(93, 102)) + [300, 1100]
# physical frames the engine reads of a stack (GP_MAX_FRAMES): the
# 1100-deep stack is cut there, its outermost frames unknown to goparked
ENGINE_MAX_FRAMES = 1024


@dataclass
class DeepCore:
    toolchain: str
    minor: int
    exe: str
    core: str
    depth: dict      # goid -> recursion depth (the program's account)
    stacks: dict     # goid -> oracle.Goroutine, the runtime's debug=2
    dump: dict       # goid -> oracle.Goroutine, the runtime's crash dump


@pytest.fixture(scope="module",
                params=sorted({OLDEST, "1.20", "1.21", "1.26", NEWEST}))
def deep_core(request, tmp_path_factory):
    """The deep-stack program built with one toolchain, its core taken by
    the runtime itself (SIGQUIT at GOTRACEBACK=crash), the crash dump it
    printed then, and the runtime.Stack text it wrote just before."""
    import signal
    import subprocess
    from fixtures import generate
    try:
        tc = generate.probe(request.param)
        generate.check_core_pattern()
    except (generate.Unavailable, generate.GenerateError) as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("deep" + request.param)
    (d / "main.go").write_text(DEEP_GO)
    (d / "go.mod").write_text("module deep\n\ngo 1.19\n")
    r = subprocess.run([tc.go, "build", "-o", "deep", "."], cwd=d,
                       env=tc.env(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    env = dict(tc.env(), GOTRACEBACK="single")
    with open(d / "dump.txt", "wb") as err:
        p = subprocess.Popen([str(d / "deep")] + [str(x) for x in DEEP_DEPTHS],
                             cwd=d, env=env, stdout=subprocess.PIPE,
                             stderr=err, text=True)
        try:
            generate._raise_core_limit(p.pid)
            out = []
            for line in p.stdout:
                if line == "READY\n":
                    break
                out.append(line)
            p.send_signal(signal.SIGQUIT)
            rc = p.wait(timeout=300)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == -signal.SIGABRT, (rc, (d / "dump.txt").read_text()[-2000:])
    cores = [f for f in d.iterdir() if f.name.startswith("core")]
    assert len(cores) == 1, cores
    depth = {int(ln.split()[1]): int(ln.split()[2]) for ln in out
             if ln.startswith("DEPTH ")}
    assert sorted(depth.values()) == sorted(DEEP_DEPTHS)
    stacks = oracle.parse("".join(ln for ln in out
                                  if not ln.startswith("DEPTH ")),
                          crash=False).goroutines
    dump = oracle.parse_file(str(d / "dump.txt")).goroutines
    return DeepCore(request.param, int(tc.version.split(".")[1]),
                    str(d / "deep"), str(cores[0]), depth, stacks, dump)


def _elided(g):
    return (g.elided, g.elided_at)


@pytest.mark.engine
def test_deep_stack_is_cut_as_the_runtime_cuts_it(deep_core):
    """goparked's default text of each deep goroutine is the runtime's own
    traceback of it (runtime.Stack, written by the program before the
    core): the same frames and the same "...N frames elided..." line at the
    same place (1.21+: the innermost and outermost 50 shown frames), or on
    1.19/1.20 the frames of the first 100 physical frames, which goparked
    marks "...additional frames elided..." where the runtime says nothing
    (it does only when it printed exactly 100)."""
    dc = deep_core
    cut = 0
    with goparked.open(dc.core, dc.exe) as prog, prog.snapshot() as snap:
        for goid, depth in sorted(dc.depth.items()):
            sg = dc.stacks[goid]
            g = snap.goroutine(goid)
            og = _parse_text(goid, render.goroutine_text(snap, g))
            if depth > ENGINE_MAX_FRAMES:
                # the runtime's head, then a cut of unknown length: the
                # outermost frames were not read
                k = sg.elided_at if dc.minor >= 21 else len(sg.frames)
                assert sg.elided is not None or dc.minor < 21
                assert _frames(og) == _frames(sg)[:k], (goid, depth)
                assert _elided(og) == (-1, k) and \
                    og.created_by == sg.created_by
                # its group by stack too (the engine's flag is the
                # goroutine's; the group's stack says it by its length)
                grp = next(x for x in snap.group("stack")
                           if goid in x.goids())
                head, elided, tail = text.traceback_frames(grp.frames,
                                                           dc.minor)
                assert [f.func for f in head] == sg.funcs()[:k] and \
                    elided == -1 and tail == []
                cut += 1
                continue
            assert (_frames(og), og.created_by) == \
                (_frames(sg), sg.created_by), (goid, depth)
            # shown frames of the whole stack: wait (inlined), depth
            # main.deep, the goroutine's closure
            whole = depth + 2
            if depth == 3:
                assert len(sg.frames) == whole and sg.elided is None
            if dc.minor >= 21:
                assert _elided(og) == _elided(sg), (goid, depth)
            else:
                # the runtime's marker says it printed 100 frames, cut
                # or not; goparked's says frames were cut
                assert sg.elided == (-1 if len(sg.frames) == 100
                                     else None), (goid, depth)
                assert _elided(og) == ((-1, len(og.frames))
                                       if len(og.frames) < whole
                                       else (None, None)), (goid, depth)
            cut += og.elided is not None
            if depth == 300:
                assert og.elided is not None
                if dc.minor >= 21:
                    # every main.deep frame but 100 shown ones, less the
                    # inlined wait and the closure (the account's depth)
                    assert og.elided == depth + 2 - 100, og.elided
                    assert len(og.frames) == 100
            if depth <= 90:
                assert og.elided is None
    # the boundary is inside the depths: some cut, some whole
    assert 2 <= cut < len(dc.depth)


@pytest.mark.engine
def test_deep_stack_all_frames_is_every_frame(deep_core):
    """--all-frames: every frame, each main.deep of the recursion (the
    account's depth), in the order of the runtime's crash dump, which
    itself cut the stack: its head is ours, and from 1.21 its tail too."""
    dc = deep_core
    with goparked.open(dc.core, dc.exe) as prog, prog.snapshot() as snap:
        for goid, depth in sorted(dc.depth.items()):
            cg = dc.dump[goid]
            og = _parse_text(goid, render.goroutine_text(
                snap, snap.goroutine(goid), True))
            ours, theirs = _frames(og), _frames(cg)
            if depth > ENGINE_MAX_FRAMES:
                # every frame read, then the engine's cut
                k = cg.elided_at if cg.elided_at is not None \
                    else len(theirs)
                assert ours[:k] == theirs[:k], (goid, depth)
                assert og.elided == -1 and og.elided_at == len(ours) >= \
                    ENGINE_MAX_FRAMES
                assert [f[0] for f in ours].count("main.deep") < depth
                continue
            assert og.elided is None
            assert [f[0] for f in ours].count("main.deep") == depth
            assert og.created_by == cg.created_by
            if dc.minor < 21:
                # the first 100 physical frames, marked only when that
                # printed exactly 100 logical ones (cut or not)
                assert ours[:len(theirs)] == theirs, (goid, depth)
                assert cg.elided == (-1 if len(theirs) == 100 else None)
            elif cg.elided is None:
                assert ours == theirs, (goid, depth)
            else:
                k = cg.elided_at
                assert ours[:k] == theirs[:k] and \
                    ours[-(len(theirs) - k):] == theirs[k:], (goid, depth)
                assert len(ours) == len(theirs) + cg.elided
        assert any(dc.dump[goid].elided for goid in dc.depth)


@pytest.mark.cli
def test_deep_stack_cli(deep_core):
    """The command: -g and --by stack cut the 300-deep stack where the
    runtime's traceback does; --json keeps every frame of it."""
    dc = deep_core
    goid = next(g for g, d in dc.depth.items() if d == 300)
    sg = dc.stacks[goid]
    r = run_goparked_cmd([dc.core, "--exe", dc.exe, "-g", str(goid)])
    assert r.returncode == 0, r.stderr
    og = _parse_text(goid, r.stdout)
    assert _frames(og) == _frames(sg)
    marker = ("...%d frames elided..." % sg.elided if dc.minor >= 21
              else "...additional frames elided...")
    assert marker in r.stdout.splitlines()
    r = run_goparked_cmd([dc.core, "--exe", dc.exe, "--by", "stack",
                          "--ids", "1000"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # the group of goid: its lines up to its "goroutine ..." line
    end = next(i for i, ln in enumerate(lines)
               if ln.startswith(" " * 9 + "goroutine ") and
               str(goid) in ln.split()[1:])
    start = max(i for i in range(end)
                if re.match(r"^\s+\d+\s+\S.*\d+ frames", lines[i]))
    group = lines[start + 1:end]
    at = group.index(" " * 9 + marker)
    k = sg.elided_at if dc.minor >= 21 else len(sg.frames)
    assert [ln.split()[0] for ln in group[:at]] == \
        [f.func for f in sg.frames[:k]]
    assert [ln.split()[0] for ln in group[at + 1:]] == \
        [f.func for f in sg.frames[k:]]
    _check_deep_report(dc, goid)
    r = run_goparked_cmd([dc.core, "--exe", dc.exe, "--json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    gj = next(g for g in doc["goroutines"] if g["goid"] == goid)
    funcs = [f["func"] for f in doc["stacks"][str(gj["stack_id"])]]
    assert funcs.count("main.deep") == 300
    cg = dc.dump[goid]
    # the crash dump's head (1.19/1.20 print 101 frames of it, unmarked)
    k = cg.elided_at if cg.elided_at is not None else len(cg.frames)
    assert k >= 50 and funcs[:k] == cg.funcs()[:k]


def _check_deep_report(dc, goid):
    """The HTML report by stack: the deep goroutine's group shows the
    runtime's frames with its cut where the runtime's traceback has it."""
    import html
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = "%s/r.html" % d
        r = run_goparked_cmd(["report", dc.core, "--exe", dc.exe, "--by",
                              "stack", "-o", out])
        assert r.returncode == 0, r.stderr
        page = open(out).read()
    sg = dc.stacks[goid]
    for det in re.findall(r'<details class="group".*?</details>', page,
                          re.S):
        ids = re.search(r'<span class="ids">(.*?)</span>', det, re.S)
        if str(goid) not in re.sub(r"<[^>]+>", " ", ids.group(1)).split():
            continue
        rows = []
        for cls, cell in re.findall(r'<tr class="([^"]*)"><td[^>]*>(.*?)'
                                    r'</td>', det, re.S):
            cell = html.unescape(re.sub(r"<[^>]+>", "", cell)).split()[0]
            rows.append(None if cls == "elided" else cell)
        cut = rows.index(None)
        k = sg.elided_at if dc.minor >= 21 else len(sg.frames)
        assert cut == k and rows[:cut] + rows[cut + 1:] == sg.funcs()
        if dc.minor >= 21:
            assert "...%d frames elided..." % sg.elided in det
        else:
            assert "...additional frames elided..." in det
        return
    raise AssertionError("goroutine %d is in no group of the report" % goid)
