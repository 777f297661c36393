"""goparked: which goroutines of a Go program are parked, where, on what.

The engine is libgoparked (C, loaded with ctypes); this package holds what
the CLI and the GDB and LLDB front ends share. It never imports gdb or lldb.
"""

from ._native import Error
from .analysis import Chan, Holder, Sync, Waiter
from .api import attach, find_exe, open
from .model import (Clock, Filter, Frame, Goroutine, Group, Grouping,
                    Program, Snapshot, Thread, Wait, open_core, open_pid)
from .signature import SignatureGroup

__version__ = "0.1.0"

__all__ = ["open", "attach", "find_exe", "Error", "Program", "Snapshot",
           "Goroutine", "Frame", "Group", "Grouping", "Filter", "Thread",
           "Wait", "Clock", "Chan", "Sync", "Waiter", "Holder",
           "SignatureGroup", "open_core", "open_pid"]
