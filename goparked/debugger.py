"""What the GDB and LLDB front ends share: the `go ...` commands.

A front end (gdb/goparked-gdb.py, lldb/goparked_lldb.py) only knows its
debugger: it describes where the program is (a Target), hands the command
line to execute() and prints the text it gets back, or the one line of a
UserError. Everything else lives here, once: which commands exist, their
option parsers (the CLI's, from goparked.options), their help and
completion, opening the program and caching its snapshot until the inferior
runs again, and the registers of a parked goroutine's frames that both
debuggers use to show those frames.

This module never imports gdb or lldb.
"""

import argparse
import shlex

from . import api, render, schema
from ._native import Error
from .model import Program
from .options import (OptionError, OptionExit, OptionParser,
                      add_filter_options, add_frames_option,
                      add_goroutine_options)

__all__ = ["UserError", "CoreTarget", "LiveTarget", "RemoteTarget",
           "Session", "COMMANDS", "command_names", "summary", "help_text",
           "complete", "execute", "error_line", "frame_registers",
           "GoroutineFrames"]


class UserError(Exception):
    """Something to tell the user in one line (no traceback)."""


def error_line(e):
    """One line for any exception a command may raise."""
    if isinstance(e, Error):
        text = e.message
    elif isinstance(e, OptionExit):
        text = e.message
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


# ------------------------------------------------------------------ targets

class CoreTarget:
    """A core file and its executable, as the debugger has them open."""

    kind = "core"

    def __init__(self, core, exe):
        self.core, self.exe = str(core), str(exe)
        self.key = ("core", self.core, self.exe)

    def open(self):
        return api.open(self.core, self.exe)


def _with_threads(prog, threads):
    """The debugger's thread registers handed to the engine (a live or
    remote target has no core notes); the program is closed on failure."""
    try:
        if threads:
            prog.set_threads(threads)
    except Exception:
        prog.close()
        raise
    return prog


class LiveTarget:
    """A live process the debugger holds stopped (ptrace is the
    debugger's): the engine reads /proc/PID/mem and takes the threads'
    registers from the debugger. threads: [(tid, pc, sp, bp, fs_base)]."""

    kind = "live"

    def __init__(self, pid, exe, threads, stop_id=None):
        self.pid, self.exe, self.threads = int(pid), exe, list(threads)
        self.key = ("live", self.pid, exe, stop_id)

    def open(self):
        return _with_threads(
            Program.from_pid(self.pid, self.exe, no_stop=True), self.threads)


class RemoteTarget:
    """Memory only through the debugger (gdbserver, a remote stub):
    read(address, size) -> bytes, raising OSError when unreadable."""

    kind = "remote"

    def __init__(self, exe, read, threads, description, stop_id=None):
        self.exe, self.read, self.threads = exe, read, list(threads)
        self.description = description
        self.key = ("remote", description, exe, stop_id)

    def open(self):
        return _with_threads(
            Program.from_callback(self.exe, self.read, self.description),
            self.threads)


class Session:
    """The program and snapshot of the debugger's current target, kept
    until the target changes or the inferior runs (invalidate())."""

    def __init__(self):
        self._key = None
        self._prog = None
        self._snap = None

    def snapshot(self, target):
        if self._snap is not None and self._key == target.key:
            return self._snap
        self.invalidate()
        prog = target.open()
        try:
            snap = prog.snapshot()
        except Exception:
            prog.close()
            raise
        self._key, self._prog, self._snap = target.key, prog, snap
        return snap

    def invalidate(self):
        """Forget everything read: the inferior ran, or the target changed.
        Closing also lets go of /proc/PID/mem."""
        prog, self._prog, self._snap, self._key = self._prog, None, None, None
        if prog is not None:
            try:
                prog.close()
            except Exception:
                pass


# ---------------------------------------------------------------- commands

def _address(text):
    import argparse
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("not an address: %r" % text)


def _goid(text):
    import argparse
    try:
        n = int(text, 0)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError("not a goroutine id: %r" % text)
    return n


def _parser(name, description):
    return OptionParser(prog="go " + name, description=description)


def _p_goroutines():
    p = _parser("goroutines", "Parked goroutines, grouped (by wait site "
                "unless --by says otherwise): the same options and output as "
                "the goparked command on this program.")
    return add_goroutine_options(p)


def _p_goroutine():
    p = _parser("goroutine", "One goroutine in full, like the runtime's "
                "traceback, and its frames made available to the debugger "
                "(see the README, 'Debuggers').")
    p.add_argument("goid", type=_goid, metavar="N", help="goroutine id")
    p.add_argument("--json", action="store_true",
                   help="machine-readable output")
    p.add_argument("--no-select", action="store_true",
                   help="only print; leave the debugger's frames alone")
    return add_frames_option(p)


def _p_object(kind, what):
    p = _parser(kind, "The goroutines waiting on %s ADDR." % what)
    p.add_argument("address", type=_address, metavar="ADDR",
                   help="address of the %s (as goparked prints it)" % what)
    p.add_argument("--json", action="store_true",
                   help="machine-readable output")
    return p


def _p_plain(name, description):
    def build():
        p = _parser(name, description)
        p.add_argument("--json", action="store_true",
                       help="machine-readable output")
        return p
    return build


def _p_leaks():
    p = _parser("leaks", "The leak verdict of every parked goroutine (the "
                "CLI's --leaks): leaked (proven), leaked (no waker), "
                "lingering, blocked or unknown, by site, with causes and "
                "retention paths; then the wait cycles.")
    add_filter_options(p)
    p.add_argument("--json", action="store_true",
                   help="machine-readable output (goparked/leaks)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="show at most N sites per verdict")
    p.add_argument("--ids", type=int, default=8, metavar="N",
                   help="goroutine ids listed per site (default 8)")
    return p


def _run_goroutines(ns, snap, out, ctx):
    render.render_snapshot(ns, snap, out)


def _run_goroutine(ns, snap, out, ctx):
    g = snap.goroutine(ns.goid)
    if ns.json:
        out.write(schema.dumps(schema.one_goroutine_json(snap, g), indent=1)
                  + "\n")
    else:
        out.write(render.goroutine_text(snap, g, ns.all_frames))
    ctx["goroutine"] = g
    ctx["no_select"] = ns.no_select


def _run_analysis(ns, snap, out, **what):
    """go chan / go mutex / go deadlocks: the CLI's --chan, --mutex and
    --deadlocks, rendered by the same code (goparked/analysis.py)."""
    from . import analysis
    opts = argparse.Namespace(chan=None, mutex=None, deadlocks=None,
                              json=getattr(ns, "json", False))
    for k, v in vars(ns).items():
        setattr(opts, k, v)
    for k, v in what.items():
        setattr(opts, k, v)
    analysis.render_options(opts, snap, out)


def _run_chan(ns, snap, out, ctx):
    _run_analysis(ns, snap, out, chan=ns.address)


def _run_mutex(ns, snap, out, ctx):
    _run_analysis(ns, snap, out, mutex=ns.address)


def _run_threads(ns, snap, out, ctx):
    if ns.json:
        out.write(schema.dumps(schema.snapshot_json(snap, snap.group("site")),
                             indent=1)
                  + "\n")
    else:
        out.write(render.threads_text(snap))


def _run_deadlocks(ns, snap, out, ctx):
    _run_analysis(ns, snap, out, deadlocks="deadlocks")


def _run_leaks(ns, snap, out, ctx):
    _run_analysis(ns, snap, out, deadlocks="leaks")


class _Command:
    def __init__(self, name, summary, build, run):
        self.name, self.summary, self.build, self.run = \
            name, summary, build, run


COMMANDS = {c.name: c for c in [
    _Command("goroutines", "parked goroutines, grouped (CLI options)",
             _p_goroutines, _run_goroutines),
    _Command("goroutine", "one goroutine in full; its frames in the "
             "debugger", _p_goroutine, _run_goroutine),
    _Command("chan", "a channel: its state and every goroutine waiting on it",
             lambda: _p_object("chan", "the channel (runtime.hchan)"),
             _run_chan),
    _Command("mutex", "a mutex, RWMutex, WaitGroup or Cond: its state, "
             "waiters and probable holders",
             lambda: _p_object("mutex", "the sync object"), _run_mutex),
    _Command("leaks", "the leak verdict: leaked, lingering, blocked, "
             "with causes and retention paths; wait cycles",
             _p_leaks, _run_leaks),
    _Command("deadlocks", "the cycles of goroutines waiting on each "
             "other, and the waiters provably nobody wakes",
             _p_plain("deadlocks", "The cycles of the wait-for graph and "
                      "the waiters provably nobody wakes (the CLI's "
                      "--deadlocks; go leaks gives the verdict)."),
             _run_deadlocks),
    _Command("threads", "the OS threads and the goroutines on them",
             _p_plain("threads", "The OS threads, their Ms and the "
                      "goroutine each runs."), _run_threads),
]}


def command_names():
    return list(COMMANDS)


def summary(name):
    return COMMANDS[name].summary


def help_text(name=None):
    """The help of one command (its parser's), or of the `go` prefix."""
    if name is None:
        lines = ["Goroutines of the Go program being debugged (goparked).",
                 "", "Commands:"]
        for c in COMMANDS.values():
            lines.append("  go %-11s %s" % (c.name, c.summary))
        lines += ["", "`help go NAME` or `go NAME --help` for the options "
                  "of one."]
        return "\n".join(lines)
    return COMMANDS[name].build().format_help().rstrip()


def complete(name, line, word):
    """Completions of `word` (the text being typed) for `go NAME`: the
    parser's option strings, and the choices of the option before it."""
    parser = COMMANDS[name].build()
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    prev = words[-1] if words and (not word or words[-1] != word) else (
        words[-2] if len(words) >= 2 else None)
    if prev is not None:
        action = parser._option_string_actions.get(prev)
        if action is not None and action.choices:
            return sorted(c for c in action.choices if c.startswith(word))
    if word.startswith("-") or not word:
        return sorted(o for o in parser._option_string_actions
                      if o.startswith(word) and o.startswith("--"))
    return []


def split(argstring):
    try:
        return shlex.split(argstring or "")
    except ValueError as e:
        raise UserError("cannot split the command line: %s" % e)


def execute(session, name, args, target, out):
    """Run `go NAME ARGS` against target (a CoreTarget/LiveTarget/
    RemoteTarget, or a callable returning one that may raise UserError).

    Writes the text to out.write; returns a dict of what the front end may
    act on ({"goroutine": Goroutine} after `go goroutine N`). Raises
    UserError with one line for anything the user must hear about,
    including --help (as UserError subclass HelpRequest)."""
    if name not in COMMANDS:
        raise UserError("unknown command `go %s` (one of %s)"
                        % (name, ", ".join(COMMANDS)))
    cmd = COMMANDS[name]
    argv = split(args) if isinstance(args, str) else list(args)
    try:
        ns = cmd.build().parse_args(argv)
    except OptionError as e:
        raise UserError("go %s: %s" % (name, e.message))
    except OptionExit as e:
        out.write(e.message)
        return {}
    if callable(target):
        target = target()
    ctx = {}
    try:
        snap = session.snapshot(target)
        cmd.run(ns, snap, out, ctx)
    except Error as e:
        if e.code == Error.NOT_FOUND or e.code == Error.NOT_GO:
            raise UserError(error_line(e))
        raise UserError(error_line(e))
    ctx["snapshot"] = snap
    return ctx


# ------------------------------------------------- frames of a goroutine

def _first_user_frame(frames):
    for f in frames:
        if f.func and not f.func.startswith(("runtime.", "internal/",
                                             "sync.", "syscall.")):
            return f
    return frames[0] if frames else None


class GoroutineFrames:
    """The physical frames of one goroutine with the registers a debugger
    can trust in each: pc, sp and the frame pointer (bp, None when not
    known). Every other register of a parked goroutine is gone: Go has no
    callee-saved registers, so what was live across the blocking call is
    on the stack and what is in a register is dead."""

    def __init__(self, g, frames):
        self.goid = g.goid
        self.stack_lo, self.stack_hi = g.stack_lo, g.stack_hi
        self.frames = frames     # [(pc, sp, bp, Frame)], innermost first

    def user_index(self):
        """Index of the innermost frame outside the runtime (where the
        program is parked), or 0."""
        for i, (_, _, _, f) in enumerate(self.frames):
            if f is _first_user_frame([x[3] for x in self.frames[i:]]):
                return i
        return 0

    def caller_of(self, sp):
        """(pc, sp, bp) of the caller of the frame whose sp is given, or
        None when that frame is not one of ours or is the outermost."""
        for i, (_, fsp, _, _) in enumerate(self.frames):
            if fsp == sp and i + 1 < len(self.frames):
                pc, csp, cbp, _ = self.frames[i + 1]
                return pc, csp, cbp
        return None


def frame_registers(snap, g, read):
    """GoroutineFrames for goroutine g, or None when it has no stack of
    its own (running on a thread: the debugger's thread has it).

    The engine gives each physical frame's pc (a return address above the
    innermost) and the innermost sp. The amd64 frame pointer chain gives
    the rest: every Go function with a frame saves its caller's BP just
    below its return address, so the innermost frame's BP is the stack
    slot below the first return address, and each BP leads to the next.
    Each link is checked against the engine's pc list; the walk stops at
    the first that does not match (then only the frames found are given).
    read(address, 8) -> bytes reads target memory."""
    if g.thread_index is not None or not g.sp or not g.pc:
        return None
    physical = []
    for f in g.frames:
        if not f.inlined:
            physical.append(f)
    if not physical:
        return None

    def word(addr):
        return int.from_bytes(read(addr, 8), "little")

    lo, hi = g.sp, g.stack_hi if g.stack_hi > g.sp else g.sp + (1 << 20)
    out = [(g.pc, g.sp, None, physical[0])]
    if len(physical) == 1:
        return GoroutineFrames(g, out)
    # The innermost frame's BP: the slot below the first return address,
    # searched upward from sp (a frame is at most a few KB; bounded).
    bp = None
    try:
        limit = min(hi - 16, g.sp + 64 * 1024)
        addr = g.sp
        while addr <= limit:
            if word(addr + 8) == physical[1].pc:
                bp = addr
                break
            addr += 8
    except (Error, OSError):
        bp = None
    if bp is None:
        return GoroutineFrames(g, out)
    out[0] = (g.pc, g.sp, bp, physical[0])
    for f in physical[1:]:
        try:
            if not (lo <= bp < hi) or word(bp + 8) != f.pc:
                break
            sp, bp = bp + 16, word(bp)
        except (Error, OSError):
            break
        out.append((f.pc, sp, bp if bp else None, f))
        if not bp:
            break
    return GoroutineFrames(g, out)
