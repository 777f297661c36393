"""The Python API: what scripts, the CLI and the debuggers all use.

    import goparked
    with goparked.open("core.1234") as prog:          # exe found beside it
        with prog.snapshot() as snap:
            for g in snap.groups(by="site"):          # typed records
                print(g.count, g.wait_reason, g.site, g.signature)

open() and attach() give a Program; Program.snapshot() a Snapshot, whose
goroutines(), groups(), channels(), syncs() and signatures() are iterators
of typed records (model.Goroutine, model.Group, analysis.Chan,
analysis.Sync, SignatureGroup). A group holds its members' ids, not one
object per member: memory stays per group.

The records and their attributes are stable within a major version of
goparked; names starting with "_" are not part of the API.
"""

import os
import re

from ._native import Error

__all__ = ["open", "attach", "find_exe", "exe_candidates"]


def exe_candidates(core):
    """Files next to CORE that may be its executable, best first: X for
    X.core, NAME for core.NAME or core.NAME.PID, X for X.core.PID."""
    d, name = os.path.split(core)
    out = []
    if name.endswith(".core"):
        out.append(name[:-len(".core")])
    m = re.fullmatch(r"core\.(.+?)(\.\d+)?", name)
    if m and not m.group(1).isdigit():
        out.append(m.group(1))
    m = re.fullmatch(r"(.+?)\.core\.\d+", name)
    if m:
        out.append(m.group(1))
    return [os.path.join(d, c) for c in out]


def find_exe(core):
    """The executable a core came from, found beside it (exe_candidates);
    Error(NOT_FOUND) naming what was tried when there is none."""
    cands = exe_candidates(core)
    for c in cands:
        if os.path.isfile(c):
            return c
    tried = (" (no %s)" % ", ".join(os.path.basename(c) for c in cands)
             if cands else "")
    raise Error(Error.NOT_FOUND, "which executable made %s? give --exe "
                "BIN%s" % (core, tried))


def open(core, exe=None):  # noqa: A001 (goparked.open, like drgn's)
    """The program of a core dump: a model.Program (a context manager).

    exe is the executable the core came from; without it, the file beside
    the core that its name points to (find_exe). Raises goparked.Error
    with a one-line message for anything it cannot read."""
    from .model import Program
    return Program.from_core(os.fspath(core),
                             os.fspath(exe) if exe else find_exe(
                                 os.fspath(core)))


def attach(pid, exe=None, hold=False):
    """A live process: a model.Program whose snapshot() stops the process
    only while it copies the goroutines, then lets it run (live.py); with
    hold, it stays stopped until program.release() or close, as whatever
    reads beyond the goroutines needs (channels, locks, the leak verdict's
    heap, C frames): without hold those raise Error(INCOMPLETE) rather
    than read a process that runs again."""
    from .live import LiveProgram
    return LiveProgram.open(int(pid), exe, hold=hold)
