"""Progress on stderr while a long scan runs.

A million goroutines take a few seconds to read; a silent terminal for that
long looks like a hang. Progress shows only when the scan has taken more
than DELAY seconds and only when stderr is a terminal: never in a pipe, a
file, a test's captured output or a debugger's (those get nothing).

The engine's calls run with the GIL released (ctypes), so a thread can
redraw one line while they work. The line is erased when the scan ends,
before anything else is printed.

    with Progress() as p:
        p.phase("reading goroutines")
        snap = prog.snapshot()
        p.phase("grouping")
        ...

GOPARKED_PROGRESS_DELAY (seconds, default 1) changes the delay; tests set
it to 0.
"""

import os
import sys
import threading
import time

__all__ = ["Progress", "DELAY"]

DELAY = 1.0
_INTERVAL = 0.2
_SPIN = "|/-\\"


def _delay():
    try:
        return float(os.environ.get("GOPARKED_PROGRESS_DELAY", DELAY))
    except ValueError:
        return DELAY


class Progress:
    """A context manager drawing "goparked: PHASE... 2.4s" on stream."""

    def __init__(self, stream=None, delay=None, enabled=None):
        self.stream = stream if stream is not None else sys.stderr
        self.delay = _delay() if delay is None else delay
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self._phase = ""
        self._start = None
        self._shown = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def phase(self, text):
        """What is being done now (shown from the next redraw on)."""
        with self._lock:
            self._phase = text

    def __enter__(self):
        # Usable again after close(): the CLI shows the scan, prints, and
        # may show the next long step.
        self._start = time.monotonic()
        self._stop = threading.Event()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="goparked-progress")
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop and erase the line (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._shown:
                self._write("\r\x1b[K")
                self._shown = False

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _run(self):
        if self._stop.wait(self.delay):
            return
        n = 0
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                elapsed = time.monotonic() - self._start
                self._write("\r\x1b[Kgoparked: %s %s %.1fs" % (
                    self._phase or "working", _SPIN[n % len(_SPIN)], elapsed))
                self._shown = True
            n += 1
            if self._stop.wait(_INTERVAL):
                return
