"""goparked in LLDB: the `go ...` commands, and goroutines as threads.

    (lldb) command script import /path/to/goparked/lldb/goparked_lldb.py
    (lldb) target create BIN --core CORE     # or: process attach --pid PID
    (lldb) go goroutines --by chan
    (lldb) thread list                       # goroutines are threads too
    (lldb) go goroutine 18                   # prints it, selects its thread
    (lldb) bt

Import it before the core is loaded (in ~/.lldbinit, or `lldb -O 'command
script import ...' BIN -c CORE`): LLDB asks an operating-system plug-in
(lldb/goparked_os.py) for threads when a process is made and after every
stop, never for a core already loaded.

This file only knows LLDB: where the program is and how to print.
Commands, options, help and rendering are goparked.debugger's, shared with
GDB. LLDB's own Python runs it; goparked needs only the standard library.
"""

import os
import sys
import traceback

import lldb

_HERE = os.path.dirname(os.path.realpath(__file__))
# A checkout's lldb/.., or pip's site-packages/goparked/_debuggers/../..
# (`goparked --lldb-script` prints this file's path).
_ROOT = os.environ.get("GOPARKED_ROOT") or next(
    (d for d in (os.path.dirname(_HERE), os.path.dirname(os.path.dirname(_HERE)))
     if os.path.isfile(os.path.join(d, "goparked", "__init__.py"))),
    os.path.dirname(_HERE))
for _p in (_ROOT, _HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from goparked import debugger as D  # noqa: E402
from goparked._native import Error  # noqa: E402

OS_PLUGIN = os.path.join(_HERE, "goparked_os.py")
_DEBUG = os.environ.get("GOPARKED_DEBUG", "") not in ("", "0")
_session = D.Session()

# Goroutine threads made by goparked_os.py have ids from here on (goid
# added), far above any Linux tid.
GOROUTINE_TID_BASE = 1 << 48


def goroutine_tid(goid):
    return GOROUTINE_TID_BASE + goid


def is_goroutine_tid(tid):
    return tid >= GOROUTINE_TID_BASE


# ------------------------------------------------------------- the target

def _mapped_cores():
    """Core files this LLDB has mapped: LLDB 16 has no API that names the
    core of a process, but it maps the file it reads it from."""
    seen, out = set(), []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) < 6 or not parts[5].startswith("/"):
                    continue
                path = parts[5].strip()
                if path in seen:
                    continue
                seen.add(path)
                try:
                    with open(path, "rb") as cf:
                        head = cf.read(18)
                except OSError:
                    continue
                # ELF, little-endian, e_type ET_CORE (4)
                if head[:4] == b"\x7fELF" and head[5] == 1 and \
                        head[16:18] == b"\x04\x00":
                    out.append(path)
    except OSError:
        pass
    return out


def _thread_registers(process):
    out = []
    for t in process:
        tid = t.GetThreadID()
        if is_goroutine_tid(tid):
            continue
        frame = t.GetFrameAtIndex(0)
        regs = []
        for name in ("rip", "rsp", "rbp", "fs_base"):
            v = frame.FindRegister(name) if frame.IsValid() else None
            regs.append(v.GetValueAsUnsigned(0) if v and v.IsValid() else 0)
        out.append((tid, regs[0], regs[1], regs[2], regs[3]))
    return out


def _read_memory(process):
    def read(address, size):
        err = lldb.SBError()
        data = process.ReadMemory(address, size, err)
        if not err.Success() or data is None:
            raise OSError(14, err.GetCString() or "cannot read memory")
        return data
    return read


def target_of(target):
    """A goparked.debugger target for an SBTarget, or a UserError."""
    if target is None or not target.IsValid():
        raise D.UserError("no program loaded (lldb PROGRAM [-c CORE], or "
                          "`target create PROGRAM`)")
    exe = target.GetExecutable().fullpath
    if not exe:
        raise D.UserError("no program loaded (lldb PROGRAM [-c CORE])")
    process = target.GetProcess()
    if not process or not process.IsValid() or \
            process.GetState() in (lldb.eStateInvalid, lldb.eStateUnloaded,
                                   lldb.eStateDetached, lldb.eStateExited):
        raise D.UserError("no process: `process launch`, `process attach "
                          "--pid PID`, or load a core (lldb PROGRAM -c CORE)")
    if process.GetState() == lldb.eStateRunning:
        raise D.UserError("the process is running: stop it first")
    stop_id = process.GetStopID()
    if process.GetPluginName() == "elf-core":
        cores = _mapped_cores()
        if len(cores) == 1:
            return D.CoreTarget(cores[0], exe)
        return D.RemoteTarget(exe, _read_memory(process),
                              _thread_registers(process), "core (via LLDB)")
    pid = process.GetProcessID()
    threads = _thread_registers(process)
    if target.GetPlatform().GetName() == "host" and \
            os.path.exists("/proc/%d/mem" % pid):
        return D.LiveTarget(pid, exe, threads, stop_id=stop_id)
    return D.RemoteTarget(exe, _read_memory(process), threads,
                          "remote pid %d" % pid, stop_id=stop_id)


_os_plugin_pids = set()


def _ensure_os_plugin(debugger, target):
    """LLDB 16 loads the operating-system plug-in for a core, but not for
    `process attach` or `lldb -p` (seen on Debian's 16.0.6), although the
    setting is inherited; setting it again loads it for the process at
    hand. Done once per live process, after a `go` command has finished
    (not in the middle of one: the plug-in takes a snapshot itself)."""
    if target is None or not target.IsValid():
        return
    process = target.GetProcess()
    if not process or not process.IsValid() or \
            process.GetPluginName() == "elf-core":
        return
    pid = process.GetProcessID()
    if pid in _os_plugin_pids:
        return
    _os_plugin_pids.add(pid)
    res = lldb.SBCommandReturnObject()
    debugger.GetCommandInterpreter().HandleCommand(
        "settings set target.process.python-os-plugin-path '%s'" % OS_PLUGIN,
        res)


def snapshot_of(target):
    """The shared session's snapshot of target (goparked_os.py uses it
    too, so a stop is read once)."""
    return _session.snapshot(target_of(target))


# ---------------------------------------------------------------- commands

class _Out:
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)


def _select_goroutine(process, g):
    if g.thread_index is not None and g.thread is not None:
        tid = g.thread.tid
        where = "runs on thread"
    else:
        tid = goroutine_tid(g.goid)
        where = "is thread"
    if process.SetSelectedThreadByID(tid):
        t = process.GetSelectedThread()
        return "goroutine %d %s #%d (tid %d): selected" % (
            g.goid, where, t.GetIndexID(), tid)
    return ("goroutine %d is not one of LLDB's threads (import goparked_lldb "
            "before loading the core, see `help go`)" % g.goid)


class _GoCommand:
    name = None

    def __init__(self, debugger, internal_dict):
        pass

    def get_short_help(self):
        return D.summary(self.name)

    def get_long_help(self):
        return D.help_text(self.name)

    def __call__(self, debugger, command, exe_ctx, result):
        out = _Out()
        try:
            target = exe_ctx.GetTarget() if exe_ctx else None
            if target is None or not target.IsValid():
                target = debugger.GetSelectedTarget()
            ctx = D.execute(_session, self.name, command,
                            lambda: target_of(target), out)
            text = "".join(out.parts)
            g = ctx.get("goroutine")
            if g is not None and not ctx.get("no_select"):
                text += "# " + _select_goroutine(target.GetProcess(), g) + \
                    "\n"
            result.PutCString(text.rstrip("\n"))
            result.SetStatus(lldb.eReturnStatusSuccessFinishResult)
            _ensure_os_plugin(debugger, target)
        except Exception as e:  # one line, never a traceback
            if _DEBUG:
                traceback.print_exc()
            if out.parts:
                result.PutCString("".join(out.parts).rstrip("\n"))
            if isinstance(e, (D.UserError, Error)):
                result.SetError(D.error_line(e))
            else:
                result.SetError("goparked: internal error: %s: %s "
                                "(GOPARKED_DEBUG=1 shows where)"
                                % (type(e).__name__, D.error_line(e)))


for _name in D.command_names():
    _cls = "GoCommand_" + _name
    globals()[_cls] = type(_cls, (_GoCommand,), {"name": _name})


def __lldb_init_module(debugger, internal_dict):
    ci = debugger.GetCommandInterpreter()
    res = lldb.SBCommandReturnObject()
    ci.HandleCommand("command container add -h '%s' -H '%s' go"
                     % ("goroutines of the Go program (goparked)",
                        D.help_text().replace("'", "")), res)
    for name in D.command_names():
        res = lldb.SBCommandReturnObject()
        ci.HandleCommand("command script add -o -c %s.GoCommand_%s go %s"
                         % (__name__, name, name), res)
        if not res.Succeeded():
            print("goparked: cannot add `go %s`: %s" % (name,
                                                        res.GetError()))
    # Goroutines as threads: for every process made from now on.
    res = lldb.SBCommandReturnObject()
    ci.HandleCommand("settings set target.process.python-os-plugin-path "
                     "'%s'" % OS_PLUGIN, res)
