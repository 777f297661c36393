"""The goparked command.

    goparked CORE [--exe BIN] [--by site|stack|chan|mutex|creator|label|age]
             [--state S] [--min-age D] [--func RE] [--label K=V] [--system]
             [--goroutine N] [--threads] [--json]
    goparked --pid PID [--exe BIN] ...

Exit status 0 when it worked, 2 on any error, with one line on stderr
("goparked: error: ..."). GOPARKED_DEBUG=1 adds the Python traceback.
"""

import os
import sys

from . import api, render
from ._native import Error
from .options import (OptionError, OptionExit, OptionParser,
                      add_goroutine_options, filter_from_options)

EXIT_OK = 0
EXIT_ERROR = 2


class UsageError(Exception):
    """A problem with what the user asked for, worded for the user."""


def build_parser():
    p = OptionParser(
        prog="goparked",
        description="Which goroutines of a Go program are parked, where, on "
        "what, and for how long: from a core dump or a live process.",
        epilog="Also: goparked report CORE -o report.html (postmortem, HTML "
               "or Markdown); goparked diff A B (which groups grew); "
               "goparked check CORE --max-parked N (a gate for scripts); "
               "goparked --gdb-script / --lldb-script (the path to source "
               "in GDB / import in LLDB). "
               "Exit status: 0 ok, 2 error. GOPARKED_DEBUG=1 shows "
               "tracebacks.")
    p.add_argument("core", nargs="?", metavar="CORE",
                   help="core file of a Go program")
    p.add_argument("--exe", metavar="BIN",
                   help="the executable the core came from (default: a "
                   "sibling of CORE: X for X.core, NAME for core.NAME[.PID])")
    p.add_argument("--pid", type=int, metavar="PID",
                   help="a live process instead of a core (stopped while "
                   "goparked reads it)")
    add_goroutine_options(p)
    p.add_argument("--watch", metavar="INTERVAL",
                   help="with --pid: sample every INTERVAL (5s, 1m) and show "
                   "each group's growth per minute, fastest first")
    p.add_argument("--count", type=int, default=5, metavar="N",
                   help="with --watch: how many samples (default 5)")
    p.add_argument("--pprof", metavar="FILE",
                   help="write a pprof goroutine profile (gzipped "
                   "profile.proto; '-' for stdout) for go tool pprof; with "
                   "--verdict, labels leaked=true and verdict=KEY")
    return p


def guess_exe(core):
    """The executable beside CORE (api.find_exe), as a UsageError."""
    from .api import find_exe
    try:
        return find_exe(core)
    except Error as e:
        raise UsageError(e.message)


def needs_hold(ns):
    """Whether the options read more of a live process than the
    goroutines (the snapshot's copy): a channel or sync object and its
    holders (--chan, --mutex, --by chan/mutex's descriptions), the C
    frames of its threads (--threads), the wait-for graph (--deadlocks:
    every holder), the leak verdict (--leaks, --verdict, the report: the
    whole heap). The process then
    stays stopped until all of it is read: one moment, never a copy of one
    and memory of the next (the engine refuses reads of a process that
    runs again)."""
    if getattr(ns, "goroutine", None) is not None:
        return False
    return bool(getattr(ns, "deadlocks", None) or
                getattr(ns, "verdict", False) or
                getattr(ns, "chan", None) is not None or
                getattr(ns, "mutex", None) is not None or
                getattr(ns, "threads", False) or
                getattr(ns, "report", False) or
                (getattr(ns, "by", None) in ("chan", "mutex") and
                 not getattr(ns, "json", False) and
                 not getattr(ns, "jsonl", False) and
                 not getattr(ns, "pprof", None)))


def needs_refs(ns):
    """Whether the options show holders or wakers (the reference scan),
    which the snapshot then prepares for (Program.snapshot's refs)."""
    return bool(getattr(ns, "deadlocks", None) or
                getattr(ns, "verdict", False) or
                getattr(ns, "by", None) in ("chan", "mutex") or
                getattr(ns, "chan", None) is not None or
                getattr(ns, "mutex", None) is not None)


def open_program(ns):
    if ns.pid is not None:
        if ns.core:
            raise UsageError("give a CORE or --pid, not both")
        # runs again once read; held stopped while more than the
        # goroutines is read
        return api.attach(ns.pid, ns.exe, hold=needs_hold(ns))
    if not ns.core:
        raise UsageError("no core file given (goparked CORE [--exe BIN], "
                         "or --pid PID; --help for more)")
    return api.open(ns.core, ns.exe)


def run(ns, out):
    if getattr(ns, "watch", None) is not None:
        from . import compare
        if ns.pid is None or ns.core:
            raise UsageError("--watch needs --pid PID (and no CORE)")
        compare.watch(ns.pid, compare.interval(ns.watch), max(ns.count, 1),
                      ns.exe, out, limit=ns.limit, as_json=ns.json)
        return
    from .progress import Progress
    progress = Progress()  # erased before anything is printed
    with progress:
        progress.phase("opening")
        prog = open_program(ns)
    with prog:
        with progress:
            progress.phase("reading goroutines")
            snap = prog.snapshot(refs=needs_refs(ns))
        if prog.is_live and not needs_hold(ns):
            from .live import pause_line
            sys.stderr.write(pause_line(prog))
        with snap:
            if ns.pprof:
                from . import pprof
                with progress:
                    progress.phase("writing the profile")
                    try:
                        pprof.write_profile(snap, snap.group(
                            "stack", filter_from_options(ns)), ns.pprof,
                            verdict=ns.verdict)
                    except OSError as e:
                        raise UsageError("cannot write %s: %s"
                                         % (ns.pprof, e.strerror or e))
            else:
                render.render_snapshot(ns, snap, out)
        if prog.is_live and needs_hold(ns):
            from .live import pause_line
            prog.release()
            sys.stderr.write(pause_line(prog))


def run_report(argv):
    """goparked report CORE [--exe BIN] -o FILE [--format html|md]."""
    from . import report
    from .progress import Progress
    ns = report.build_parser().parse_args(argv)
    ns.goroutine, ns.threads, ns.json = None, False, False
    ns.report = True  # the verdict, channels and locks: held (needs_hold)
    with Progress() as progress:
        progress.phase("opening")
        with open_program(ns) as prog:
            progress.phase("reading goroutines")
            # the report shows every channel's wakers and the verdict
            with prog.snapshot(refs=True) as snap:
                text = report.render(ns, snap, progress)
    try:
        report.write(text, ns.output)
    except OSError as e:
        raise UsageError("cannot write %s: %s" % (ns.output, e.strerror or e))


# The debugger scripts: where pip installs them (beside the package), or in
# the checkout the package sits in.
DEBUGGER_SCRIPTS = {"--gdb-script": ("gdb", "goparked-gdb.py"),
                    "--lldb-script": ("lldb", "goparked_lldb.py")}


def debugger_script(option):
    folder, name = DEBUGGER_SCRIPTS[option]
    here = os.path.dirname(os.path.realpath(__file__))
    for path in (os.path.join(here, "_debuggers", name),
                 os.path.join(os.path.dirname(here), folder, name)):
        if os.path.isfile(path):
            return path
    raise UsageError("no %s beside this goparked package (%s)" % (name, here))


def error_line(e):
    if isinstance(e, Error):
        return e.message
    return str(e)


M_MMAP_THRESHOLD = -3   # glibc's malloc.h


def big_blocks_to_the_system(libc=None):
    """Has glibc's malloc map every block of 256 KiB or more on its own.

    This process runs one command. Left to itself, malloc raises its mmap
    threshold each time a mapped block is freed, so that the engine's next
    big arrays come from the heap of the thread that makes them, where
    what is freed stays: the verdict on heapcore (a million goroutines,
    a 3 GB heap) peaked at 490-512 MB; mapped, they go back when freed:
    440-445 MB, in the same time. The engine itself never changes malloc
    (a debugger is its host there). No-op where there is no mallopt."""
    import ctypes
    try:
        libc = libc or ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 256 << 10)
    except (OSError, AttributeError):
        pass


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    # One command, then exit: the cyclic collector only costs time here
    # (it walked the analyses' objects over and over, 10% of a 1M-goroutine
    # --by mutex); reference counting frees the rest.
    import gc
    gc.disable()
    big_blocks_to_the_system()
    debug = os.environ.get("GOPARKED_DEBUG", "") not in ("", "0")
    try:
        if argv[:1] == ["report"]:
            run_report(argv[1:])
            return EXIT_OK
        if argv[:1] == ["triage"]:
            from . import triage
            return triage.run_triage(argv[1:], sys.stdout, sys.stderr)
        if argv[:1] in (["diff"], ["check"]):
            from . import compare
            if argv[0] == "diff":
                return compare.run_diff(argv[1:], sys.stdout, guess_exe)
            return compare.run_check(argv[1:], sys.stdout, sys.stderr,
                                     guess_exe)
        if len(argv) == 1 and argv[0] in DEBUGGER_SCRIPTS:
            print(debugger_script(argv[0]))
            return EXIT_OK
        ns = build_parser().parse_args(argv)
        run(ns, sys.stdout)
        sys.stdout.flush()
        return EXIT_OK
    except OptionError as e:
        _fail(e.message, debug)
        return EXIT_ERROR
    except OptionExit as e:
        if e.message:
            (sys.stdout if e.status == 0 else sys.stderr).write(e.message)
        return e.status
    except (Error, UsageError) as e:
        _fail(error_line(e), debug)
        return EXIT_ERROR
    except BrokenPipeError:
        # `goparked CORE | head`: not an error. Keep Python from complaining
        # again while it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug in goparked: still one line, still 2
        _fail("internal error: %s: %s (GOPARKED_DEBUG=1 shows where)"
              % (type(e).__name__, e), debug)
        return EXIT_ERROR


def _fail(message, debug):
    if debug:
        import traceback
        traceback.print_exc()
    # One line, whatever the engine's message holds.
    line = " ".join(str(message).split())
    sys.stderr.write("goparked: error: %s\n" % line)


def entry_point():
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
