"""goparked in GDB: the `go ...` commands, and a parked goroutine's frames.

    (gdb) source /path/to/goparked/gdb/goparked-gdb.py
    (gdb) go goroutines --by chan
    (gdb) go goroutine 18          # prints it, then shows its frames:
    (gdb) bt                       # frames #1.. are goroutine 18's
    (gdb) frame 4                  # a user frame of goroutine 18
    (gdb) print mu                 # values spilled to its stack

This file only knows GDB: where the program is (a core, a live process GDB
holds stopped, or a remote target whose memory comes through GDB) and how
to show a goroutine's frames. Commands, options, help and rendering are
goparked.debugger's, shared with LLDB. It extends sys.path to the folder
holding the goparked package it goes with (the checkout it sits in, or the
site-packages pip installed it in: `goparked --gdb-script` prints its path;
$GOPARKED_ROOT overrides) and imports goparked: GDB embeds its own Python,
and goparked needs only the standard library there.
"""

import os
import re
import sys
import traceback

import gdb

_HERE = os.path.dirname(os.path.realpath(
    globals().get("__file__") or "gdb/goparked-gdb.py"))
# A checkout's gdb/.., or pip's site-packages/goparked/_debuggers/../..
_ROOT = os.environ.get("GOPARKED_ROOT") or next(
    (d for d in (os.path.dirname(_HERE), os.path.dirname(os.path.dirname(_HERE)))
     if os.path.isfile(os.path.join(d, "goparked", "__init__.py"))),
    os.path.dirname(_HERE))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from goparked import debugger as D  # noqa: E402
from goparked._native import Error  # noqa: E402

try:
    from gdb.unwinder import Unwinder, register_unwinder
except ImportError:  # a GDB without Python unwinders: commands still work
    Unwinder = object
    register_unwinder = None

_DEBUG = os.environ.get("GOPARKED_DEBUG", "") not in ("", "0")
_session = D.Session()
_stops = [0]   # bumped at every stop: a live snapshot is never reused


# ------------------------------------------------------------- the target

def _core_file():
    """The core file GDB has open, from `info files` (GDB 13 has no
    Python attribute for it)."""
    text = gdb.execute("info files", to_string=True)
    m = re.search(r"Local core dump file:\s*\n\s*`(.*)', file type", text)
    return m.group(1) if m else None


def _thread_registers(inferior):
    """[(tid, pc, sp, bp, fs_base)] of every thread, read through GDB.
    Registers of the innermost frame come from the target, whatever
    unwinder is installed."""
    out = []
    keep = gdb.selected_thread()
    try:
        keep_frame = gdb.selected_frame()
    except gdb.error:
        keep_frame = None
    try:
        for t in inferior.threads():
            if not t.is_valid() or t.is_exited():
                continue
            t.switch()
            f = gdb.newest_frame()
            regs = []
            for name in ("rip", "rsp", "rbp", "fs_base"):
                try:
                    regs.append(int(f.read_register(name)) & (2**64 - 1))
                except (gdb.error, ValueError):
                    regs.append(0)
            out.append((t.ptid[1] or t.ptid[0], regs[0], regs[1], regs[2],
                        regs[3]))
    finally:
        if keep is not None and keep.is_valid():
            keep.switch()
            if keep_frame is not None and keep_frame.is_valid():
                keep_frame.select()
    return out


def _read_memory(inferior):
    def read(address, size):
        try:
            return inferior.read_memory(address, size).tobytes()
        except gdb.MemoryError as e:
            raise OSError(14, str(e))
    return read


def _target():
    """A goparked.debugger target for what GDB has, or a UserError."""
    inf = gdb.selected_inferior()
    exe = inf.progspace.filename if inf.progspace else None
    if not exe:
        raise D.UserError("no program loaded (gdb PROGRAM [CORE], or "
                          "`file PROGRAM`)")
    conn = getattr(inf, "connection", None)
    kind = conn.type if conn is not None else None
    if kind == "core":
        core = _core_file()
        if core:
            return D.CoreTarget(core, exe)
    if not inf.pid:
        raise D.UserError("no process: `run`, `attach PID`, `target "
                          "remote HOST:PORT`, or open a core "
                          "(gdb PROGRAM CORE)")
    threads = _thread_registers(inf)
    if kind == "native":
        return D.LiveTarget(inf.pid, exe, threads, stop_id=_stops[0])
    return D.RemoteTarget(exe, _read_memory(inf), threads,
                          "%s %s" % (kind or "remote",
                                     (conn.details if conn else None)
                                     or "pid %d" % inf.pid),
                          stop_id=_stops[0])


# ----------------------------------------------- a goroutine's frames

class _FrameId:
    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


class GoroutineUnwinder(Unwinder):
    """Shows a parked goroutine's frames on top of the selected thread.

    GDB cannot make a thread out of a goroutine, and writing $pc/$sp (what
    runtime-gdb.py does) fails on a core. Instead, while a goroutine is in
    focus, this unwinder says that the caller of the thread's innermost
    frame is the goroutine's innermost frame, and unwinds each of its
    frames from goparked's frame list. A caller's pc, sp and frame pointer
    are all it supplies: GDB reports every other register as not saved, so
    a value that lived in a register prints as <optimized out> instead of
    the thread's unrelated register (see DEBUGGERS.md). Values spilled to
    the goroutine's stack print correctly. The focus ends when the
    inferior runs again."""

    def __init__(self):
        super().__init__("goparked goroutine")
        self.focus = None       # debugger.GoroutineFrames
        self.thread = None      # gdb.InferiorThread it is shown on

    def set_focus(self, frames, thread):
        self.focus, self.thread = frames, thread
        gdb.invalidate_cached_frames()

    def clear(self):
        if self.focus is not None:
            self.focus = self.thread = None
            gdb.invalidate_cached_frames()

    def __call__(self, pending):
        focus = self.focus
        if focus is None or gdb.selected_thread() != self.thread:
            return None
        try:
            level = pending.level()
        except AttributeError:
            level = None
        sp_type = pending.read_register("rsp").type
        pc_type = pending.read_register("rip").type
        if level == 0:
            # The thread's own frame; its caller is the goroutine.
            pc, sp, bp, f = focus.frames[0]
            this_id = _FrameId(gdb.Value(focus.frames[0][1] - 16).cast(
                sp_type), pending.read_register("rip"))
        else:
            try:
                here = int(pending.read_register("rsp"))
            except (gdb.error, ValueError):
                return None
            caller = focus.caller_of(here)
            if caller is None:
                return None
            pc, sp, bp = caller
            i = [x[1] for x in focus.frames].index(here)
            this_id = _FrameId(gdb.Value(sp).cast(sp_type),
                               gdb.Value(focus.frames[i][3].entry
                                         or focus.frames[i][0]).cast(pc_type))
        info = pending.create_unwind_info(this_id)
        info.add_saved_register("rip", gdb.Value(pc).cast(pc_type))
        info.add_saved_register("rsp", gdb.Value(sp).cast(sp_type))
        if bp is not None:
            info.add_saved_register("rbp", gdb.Value(bp).cast(sp_type))
        return info


_unwinder = GoroutineUnwinder()
if register_unwinder is not None:
    register_unwinder(None, _unwinder, replace=True)


def _show_goroutine(g, snap):
    """Make goroutine g's frames the debugger's: its thread if it runs on
    one, else the unwinder's view on the selected thread. Returns a line
    saying what happened."""
    _unwinder.clear()
    if g.thread_index is not None:
        t = g.thread
        for th in gdb.selected_inferior().threads():
            if t is not None and th.ptid[1] == t.tid:
                th.switch()
                return ("goroutine %d runs on thread %d (LWP %d): "
                        "selected it" % (g.goid, th.num, t.tid))
        return "goroutine %d runs on a thread GDB does not show" % g.goid
    if register_unwinder is None:
        return "this GDB has no Python unwinders: frames not available"
    frames = D.frame_registers(snap, g, snap.program.read)
    if frames is None:
        return "goroutine %d has no saved frames to show" % g.goid
    thread = gdb.selected_thread()
    if thread is None:
        return "no thread to show goroutine %d on" % g.goid
    _unwinder.set_focus(frames, thread)
    want = frames.frames[frames.user_index()][3].func
    frame, target = gdb.newest_frame(), None
    while frame is not None:
        if frame.level() >= 1 and frame.name() == want:
            target = frame
            break
        frame = frame.older()
    if target is None:
        return ("frames #1.. of this thread now show goroutine %d "
                "(until it runs again)" % g.goid)
    target.select()
    return ("frames #1.. of thread %d now show goroutine %d (until the "
            "program runs again); selected #%d %s. Values kept in registers "
            "print as <optimized out>." % (thread.num, g.goid,
                                           target.level(), want))


# ---------------------------------------------------------------- commands

def _fail(e):
    if _DEBUG:
        traceback.print_exc()
    if isinstance(e, (D.UserError, Error)):
        raise gdb.GdbError(D.error_line(e))
    raise gdb.GdbError("goparked: internal error: %s: %s (GOPARKED_DEBUG=1 "
                       "shows where)" % (type(e).__name__,
                                         D.error_line(e)))


class _Out:
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)


class GoPrefix(gdb.Command):
    pass


GoPrefix.__doc__ = D.help_text()


def _prefix_init(self):
    gdb.Command.__init__(self, "go", gdb.COMMAND_STACK, gdb.COMPLETE_NONE,
                         True)


def _prefix_invoke(self, arg, from_tty):
    if arg.strip():
        raise gdb.GdbError("unknown command `go %s` (one of %s)"
                           % (arg.split()[0], ", ".join(D.command_names())))
    gdb.write(D.help_text() + "\n")


GoPrefix.__init__ = _prefix_init
GoPrefix.invoke = _prefix_invoke


def _make_command(name):
    def init(self):
        gdb.Command.__init__(self, "go " + name, gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        out = _Out()
        try:
            ctx = D.execute(_session, name, arg, _target, out)
        except gdb.GdbError:
            raise
        except Exception as e:  # every error is one line, never a trace
            gdb.write("".join(out.parts))
            _fail(e)
        gdb.write("".join(out.parts))
        g = ctx.get("goroutine")
        if g is not None and not ctx.get("no_select"):
            try:
                gdb.write("# " + _show_goroutine(g, ctx["snapshot"]) + "\n")
            except Exception as e:
                _fail(e)

    def complete(self, text, word):
        try:
            return D.complete(name, text, word or "")
        except Exception:
            return []

    cls = type("Go_" + name, (gdb.Command,), {
        "__doc__": D.help_text(name), "__init__": init, "invoke": invoke,
        "complete": complete})
    return cls()


# -------------------------------------------------------------- lifecycle

def _ran(_event=None):
    _stops[0] += 1
    _unwinder.clear()
    _session.invalidate()


def _connect():
    ev = gdb.events
    for name in ("cont", "stop", "exited", "new_objfile", "clear_objfiles",
                 "inferior_call", "memory_changed", "new_inferior"):
        reg = getattr(ev, name, None)
        if reg is not None:
            reg.connect(_ran)


if not getattr(gdb, "_goparked_loaded", False):
    GoPrefix()
    for _name in D.command_names():
        _make_command(_name)
    _connect()
    gdb._goparked_loaded = True
