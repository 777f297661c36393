"""goparked: which goroutines of a Go program are parked, where, on what.

The engine is libgoparked (C, loaded with ctypes); this package holds what
the CLI and the GDB and LLDB front ends share. It never imports gdb or lldb.
"""

from ._native import Error
from .model import (Clock, Filter, Frame, Goroutine, Group, Grouping,
                    Program, Snapshot, Thread, Wait, open_core, open_pid)

__version__ = "0.1.0"

__all__ = ["Error", "Program", "Snapshot", "Goroutine", "Frame", "Group",
           "Grouping", "Filter", "Thread", "Wait", "Clock", "open_core",
           "open_pid"]
