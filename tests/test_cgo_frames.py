"""C frames (cgo, libc) unwound and symbolised through libdw
(native/src/target/cframes.c) on the cgo fixture's cores, against the
fixture's own source and account (corefiles/cgo/cgo.c): each goroutine the
account says is blocked in C has its thread in gp_block_in_c, under
pthread_cond_wait; the crash (cgo_crash) is in gp_crash_store, called by
gp_crash. Both architectures: an arm64 qemu core has no NT_FILE note, so
its libc frames keep their pcs, while the executable's own C frames are
named from its symbol table.
"""

import json
import os
import subprocess

import pytest

from fixtures import core_for, generate, matrix_cells
from goparked.model import Program

pytestmark = pytest.mark.engine

CELLS = [pytest.param(t, v, s, id="go%s-%s-%s" % (t, v, s)) for t, v, s in matrix_cells()
         if s in generate.CGO_SCENARIOS and not generate.parse_variant(v).stripped]


def _base(func):
    """gp_crash_store.constprop.0 -> gp_crash_store (a compiler clone)."""
    return func.split(".")[0]


@pytest.mark.parametrize("toolchain,variant,scenario", CELLS)
def test_c_frames_are_where_the_fixture_is(toolchain, variant, scenario):
    fc = core_for(toolchain, variant, scenario)
    acc = fc.load_account()
    in_c = {goid for g in acc["groups"] if g["group"] == "in_c" for goid in g["goids"]}
    assert in_c
    arm = generate.parse_variant(variant).arch == "arm64"
    with Program.from_core(fc.core, fc.exe) as prog, prog.snapshot() as snap:
        by_goid = {t.curg_goid: t for t in snap.threads() if t.curg_goid}
        for goid in sorted(in_c):
            frames = prog.c_frames(by_goid[goid].tid)
            funcs = [_base(f.func) for f in frames]
            assert "gp_block_in_c" in funcs, (goid, [str(f) for f in frames])
            k = funcs.index("gp_block_in_c")
            # below it, libc's wait: named where the core lists libc
            assert k >= 1, (goid, [str(f) for f in frames])
            if not arm:
                assert any(f.func.startswith("pthread_cond_wait") for f in frames[:k]), \
                    [str(f) for f in frames]
                assert any("libc.so" in f.module for f in frames[:k]), [str(f) for f in frames]
            ours = frames[k]
            assert ours.file.endswith("cgo.c") and ours.line > 0, str(ours)
        # 1.21+ crash in the signal handler (the C context in the
        # ucontext); 1.19 and 1.20 inject a call of sigpanic ("unexpected
        # signal during runtime execution"): the C context is its caller.
        if scenario == "cgo_crash":
            # the thread of the goroutine that stored through NULL in C
            frames = prog.c_frames(by_goid[acc["crash_goid"]].tid)
            assert [_base(f.func) for f in frames[:2]] == ["gp_crash_store", "gp_crash"], \
                [str(f) for f in frames]
            assert frames[0].file.endswith("cgo.c"), str(frames[0])


def test_c_frames_of_an_unknown_thread_is_an_error():
    fc = core_for(*[c for c in matrix_cells() if c[2] == "cgo"][0])
    with Program.from_core(fc.core, fc.exe) as prog:
        with pytest.raises(Exception, match="no thread"):
            prog.c_frames(1)


def test_c_frames_of_a_live_process(tmp_path):
    """The cgo program running (amd64): its shared objects come from
    /proc/PID/maps, so libc's wait is named as on a kernel core."""
    fc = core_for(*[c for c in matrix_cells() if c[1] == "dwarf" and c[2] == "cgo"][0])
    account = tmp_path / "account.json"
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    p = subprocess.Popen([fc.exe, "-scenario", "cgo", "-n", "2", "-account", str(account)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True, env=env)
    try:
        assert "READY" in p.stdout.readline()
        acc = json.loads(account.read_text())
        in_c = [goid for g in acc["groups"] if g["group"] == "in_c" for goid in g["goids"]]
        assert len(in_c) == 2
        with Program.from_pid(p.pid, fc.exe) as prog, prog.snapshot() as snap:
            by_goid = {t.curg_goid: t for t in snap.threads() if t.curg_goid}
            for goid in in_c:
                frames = prog.c_frames(by_goid[goid].tid)
                funcs = [_base(f.func) for f in frames]
                assert "gp_block_in_c" in funcs, [str(f) for f in frames]
                assert any(f.func.startswith("pthread_cond_wait") and "libc.so" in f.module
                           for f in frames), [str(f) for f in frames]
    finally:
        p.kill()
        p.wait()
