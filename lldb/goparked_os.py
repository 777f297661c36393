"""LLDB operating-system plug-in: every goroutine of a Go program a thread.

goparked_lldb.py points target.process.python-os-plugin-path here. LLDB
then asks this class, when it makes a process (a core included) and after
every stop, for threads beyond the OS's own: one per goroutine that is not
running on a thread (those are the OS threads LLDB already shows), named
"goroutine N" with its wait reason as the queue, and with the registers a
parked goroutine still has: pc, sp and the frame pointer. Nothing else is
given, so LLDB never shows another thread's register as this one's.

Frame 0 of a goroutine thread is the innermost frame of the program's own
code (where it called into the runtime to park), not runtime.gopark: Go's
.debug_frame does not say where a frame saved the frame pointer, so LLDB
16 unwinding from a runtime frame loses the frame pointer at the first
function with a frame-pointer prologue and stops. From the user frame its
callers unwind. `go goroutine N --all-frames` prints the whole stack,
runtime frames included.
"""

import os
import struct
import traceback

import lldb  # noqa: F401  (LLDB runs this file; keeps the import explicit)

import goparked_lldb as G
from goparked import debugger as D

# LLDB caps nothing; a process with a million goroutines would get a
# million threads. The first MAX_THREADS (by goid) are shown.
MAX_THREADS = 10000

_REGISTERS = [
    # name, DWARF/GCC number, generic role
    ("rbp", 6, "fp"),
    ("rsp", 7, "sp"),
    ("rip", 16, "pc"),
]


class OperatingSystemPlugIn(object):

    def __init__(self, process):
        self.process = process
        self.regs = {}          # tid -> (pc, sp, bp)
        self.stop_id = None
        self.threads = []

    def create_thread(self, tid, context):
        return None

    def get_register_info(self):
        regs = []
        for i, (name, num, generic) in enumerate(_REGISTERS):
            regs.append({"name": name, "bitsize": 64, "offset": 8 * i,
                         "encoding": "uint", "format": "hex", "set": 0,
                         "gcc": num, "dwarf": num, "generic": generic,
                         "alt-name": generic})
        return {"sets": ["Goroutine registers"], "registers": regs}

    def get_register_data(self, tid):
        pc, sp, bp = self.regs.get(tid, (0, 0, 0))
        return struct.pack("<3Q", bp, sp, pc)

    def get_thread_info(self):
        stop_id = self.process.GetStopID()
        if self.stop_id == stop_id and self.threads:
            return self.threads
        self.stop_id = stop_id
        self.threads, self.regs = [], {}
        try:
            snap = G.snapshot_of(self.process.GetTarget())
        except Exception:
            # Not a Go program, or not readable: LLDB's own threads only.
            if os.environ.get("GOPARKED_DEBUG"):
                traceback.print_exc()
            return self.threads
        prog = snap.program
        for g in snap.goroutines():
            if len(self.threads) >= MAX_THREADS:
                break
            if g.system or g.status == 6 or g.thread_index is not None:
                continue
            frames = D.frame_registers(snap, g, prog.read)
            if frames is None or not frames.frames:
                continue
            i = frames.user_index()
            pc, sp, bp, f = frames.frames[i]
            if bp is None:
                i, (pc, sp, bp, f) = 0, frames.frames[0]
            if i > 0:
                # A return address: the call is the instruction before,
                # and that is where its line and variables are.
                pc -= 1
            tid = G.goroutine_tid(g.goid)
            self.regs[tid] = (pc, sp, bp or 0)
            self.threads.append({
                "tid": tid, "name": "goroutine %d" % g.goid,
                "queue": g.wait_reason or g.state, "state": "stopped",
                "stop_reason": "none"})
        return self.threads
