"""Live processes: a snapshot that never leaves the target stopped.
(Growth over time, diff and check, which compare snapshots, are in
compare.py.)

The engine holds a live process stopped from gp_program_from_pid until
gp_program_resume. snapshot_pid() keeps that window short and safe: the
signals that would end goparked (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE)
are blocked for its length and delivered once the process runs again, and
the resume sits in a finally. If goparked is killed outright (SIGKILL), the
kernel detaches it from every thread; the target runs on.
"""

import os
import signal
import sys
from contextlib import contextmanager

from . import text
from ._native import Error
from .model import Program

__all__ = ["snapshot_pid", "LiveProgram", "held_signals", "pause_line"]

HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                signal.SIGPIPE}


@contextmanager
def held_signals():
    """Blocks the signals that would end goparked while the target is held.

    A signal that arrives meanwhile stays pending and is delivered when the
    block is lifted (KeyboardInterrupt for SIGINT, the default action for
    SIGTERM), after the target runs again.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def snapshot_pid(pid, exe=None, hold=False):
    """(program, snapshot) of live process pid, which runs again on return
    (hold: only at program.release() or close, for the leak verdict).

    program.pause_ns is how long the process was stopped. The caller closes
    both (the program with `with program:`).
    """
    prog = LiveProgram.open(pid, exe, hold=hold)
    try:
        snap = prog.snapshot()
    except BaseException:
        prog.close()
        raise
    return prog, snap


# ------------------------------------------------- the CLI's live program

class LiveProgram(Program):
    """A live process opened for one snapshot: stopped by open() with the
    fatal signals held, running again (and the signals released) as soon as
    snapshot() has read it, or when it is closed, whichever comes first."""

    _old_mask = None
    _earlier_pause_ns = 0
    _hold = False
    _running = False

    @classmethod
    def open(cls, pid, exe=None, hold=False):
        """hold: the process stays stopped after snapshot() until
        release() or close(): what reads beyond the goroutines (the leak
        verdict marks the whole heap) must not see a running process."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
        try:
            prog = cls.from_pid(pid, exe, resume_early=not hold)
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            raise
        prog._old_mask = old
        prog._pid, prog._exe = pid, exe
        prog._hold = hold
        return prog

    @property
    def pause_ns(self):
        """How long the process was stopped (both stops, when the first
        copy was not enough)."""
        return self._earlier_pause_ns + super().pause_ns

    def _attach_again(self):
        """A second, ordinary stop: the process stays stopped for the
        whole walk."""
        self._earlier_pause_ns += super().pause_ns
        for child in list(self._children):
            child.close()
        handle, self._h = self._h, None
        self._destroy(handle)
        fresh = Program.from_pid(self._pid, self._exe)
        self._h, fresh._h = fresh._h, None

    def release(self):
        """Lets a held process run again (see open's hold)."""
        self._release()

    def _beyond_copy(self):
        if self._running:
            raise Error(Error.INCOMPLETE,
                        "process %d runs again since its goroutines were "
                        "copied: channels, locks, the heap and C frames are "
                        "read while it is held (goparked.attach(pid, "
                        "hold=True), released after)" % self._pid)

    def _release(self):
        try:
            if self._h:
                self._running = True
                self.resume()
        finally:
            if self._old_mask is not None:
                old, self._old_mask = self._old_mask, None
                signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def snapshot(self, refs=False):
        try:
            try:
                return super().snapshot(refs)
            except Error as e:
                # The walk needed more than the copy (labels, a deep stack):
                # take it again with the process stopped throughout.
                if e.code != Error.INCOMPLETE:
                    raise
                if os.environ.get("GOPARKED_LIVE_DEBUG"):
                    sys.stderr.write("goparked: %s; stopping it again\n" % e)
                self._attach_again()
                return super().snapshot(refs)
        finally:
            if not self._hold:
                self._release()

    def close(self):
        try:
            self._release()
        finally:
            super().close()


def pause_line(prog):
    return "goparked: process stopped for %s while goparked read it\n" % (
        text.pause(prog.pause_ns))
