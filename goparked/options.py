"""The one option parser, shared by the CLI and the GDB and LLDB commands.

argparse's habit of calling sys.exit() would end a debugger session, so
OptionParser raises instead: OptionError for a bad command line (status 2)
and OptionExit for --help (status 0, with the text to show). Front ends
catch both and print the message their own way.
"""

import argparse
import re

from . import _native as N
from .model import Filter

__all__ = ["OptionParser", "OptionError", "OptionExit", "add_goroutine_options",
           "add_filter_options", "add_frames_option", "filter_from_options",
           "parse_duration",
           "STATES", "GROUP_BY"]

STATES = [N.STATUS_NAMES[k] for k in sorted(N.STATUS_NAMES)]
GROUP_BY = list(N.GROUP_BY)


class OptionExit(Exception):
    """The parser wants to stop: status and the text to show (help)."""

    def __init__(self, status=0, message=""):
        super().__init__(message)
        self.status = status
        self.message = message


class OptionError(OptionExit):
    """A bad command line; message is one line without the program name."""

    def __init__(self, message):
        super().__init__(2, message)


class OptionParser(argparse.ArgumentParser):
    """argparse that never exits and never prints on its own."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._out = []

    def error(self, message):
        raise OptionError(message)

    def exit(self, status=0, message=None):
        text = "".join(self._out) + (message or "")
        self._out = []
        raise OptionExit(status, text)

    def _print_message(self, message, file=None):
        if message:
            self._out.append(message)

    def parse_args(self, args=None, namespace=None):
        self._out = []
        return super().parse_args(args, namespace)


_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6,
                   "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
                   "d": 86400 * 10**9}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text):
    """Go-style duration ("90s", "5m", "1h30m", "250ms") to nanoseconds.

    A bare number means seconds.
    """
    t = text.strip()
    if re.fullmatch(r"\d+(\.\d*)?", t):
        return int(float(t) * 10**9)
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t:
        raise ValueError("bad duration %r (use e.g. 30s, 5m, 1h30m)" % text)
    return int(total)


def _duration(text):
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def _states(text):
    out = []
    for s in text.split(","):
        s = s.strip().lower()
        if s not in N.STATUS_BY_NAME:
            raise argparse.ArgumentTypeError(
                "unknown state %r (one of %s)" % (s, ", ".join(STATES)))
        out.append(s)
    return out


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9,
                   "v": 11, "\\": 92, "'": 39, '"': 34}


def unescape(text, quoted=False):
    """The bytes a Go string literal's body stands for (strconv.Unquote
    rules): \\a \\b \\f \\n \\r \\t \\v \\\\ \\' \\", \\xHH and \\OOO (a byte each,
    UTF-8 or not), \\uHHHH and \\UHHHHHHHH (a code point, as UTF-8); every
    other character stands for itself (as UTF-8; a lone surrogate from
    surrogateescape for the byte it escaped). quoted: text is a whole
    literal, "...", where a bare " may not appear. Returns str, the bytes
    decoded with surrogateescape (as the model holds target strings);
    raises ValueError saying what is wrong."""
    if quoted:
        if len(text) < 2 or text[0] != '"' or text[-1] != '"':
            raise ValueError("a quoted string must start and end with \"")
        text = text[1:-1]
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            if quoted and c == '"':
                raise ValueError("unescaped \" inside a quoted string")
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        e = text[i + 1:i + 2]
        if not e:
            raise ValueError("a \\ ends the string (\\\\ is a backslash)")
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits = text[i + 2:i + 2 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF"
                                       for d in digits):
                raise ValueError("\\%s needs %d hex digits" % (e, n))
            v = int(digits, 16)
            if e == "x":
                out.append(v)
            elif v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise ValueError("\\%s%s is not a Unicode code point"
                                 % (e, digits))
            else:
                out += chr(v).encode("utf-8")
            i += 2 + n
        elif e in "01234567":
            digits = text[i + 1:i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) \
                    or int(digits, 8) > 255:
                raise ValueError("an octal escape is \\ and 3 digits, "
                                 "at most \\377")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError("unknown escape \\%s (\\\\ is a backslash)" % e)
    return out.decode("utf-8", "surrogateescape")


def _label(text):
    """KEY=VALUE with Go's escapes in both (strconv.Quote's: what the text
    views show), so that a label of any bytes can be asked for; either may
    be a whole Go quoted string, as the views print one that is not bare
    (k="a\\x00b", "\\x1b[7mkey\\r"=v)."""
    try:
        if text.startswith('"'):
            # a quoted key: up to its closing quote, then =
            i = 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            if i >= len(text) or text[i + 1:i + 2] != "=":
                raise ValueError("expected \"KEY\"=VALUE")
            key, value = unescape(text[:i + 1], True), text[i + 2:]
        else:
            key, sep, value = text.partition("=")
            if not sep:
                raise ValueError("no =")
            key = unescape(key)
        value = unescape(value, value.startswith('"') and len(value) > 1
                         and value.endswith('"'))
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected KEY=VALUE (Go escapes "
                                         "allowed), got %r: %s" % (text, e))
    if not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r: "
                                         "the key is empty" % text)
    return (key, value)


def _regex(text):
    # The engine uses POSIX ERE; Python's re catches most typos early and
    # gives a clearer message than regcomp would.
    try:
        re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError("bad regular expression %r: %s"
                                         % (text, e))
    return text


def _goid(text):
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("not a goroutine id: %r" % text)
    if n < 0:
        raise argparse.ArgumentTypeError("not a goroutine id: %r" % text)
    return n


def _address(text):
    try:
        n = int(text, 0) if not text.lower().startswith("0x") else int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError("not an address: %r" % text)
    if n < 0:
        raise argparse.ArgumentTypeError("not an address: %r" % text)
    return n


def add_goroutine_options(parser):
    """The selection, grouping and output options every front end shares."""
    add_filter_options(parser)
    return _add_view_options(parser)


def add_filter_options(parser):
    """--by and the filters alone (goparked report has no other views)."""
    g = parser.add_argument_group("grouping and filters")
    g.add_argument("--by", choices=GROUP_BY, default="site",
                   help="group by wait site (default), identical stack, "
                   "channel, mutex, creator, pprof label or age")
    g.add_argument("--state", type=_states, action="extend", default=[],
                   metavar="STATE[,STATE]",
                   help="only goroutines in these states (%s)"
                   % ", ".join(STATES))
    g.add_argument("--min-age", type=_duration, default=0, metavar="DURATION",
                   help="only goroutines parked at least this long "
                   "(30s, 5m, 1h30m)")
    g.add_argument("--func", type=_regex, metavar="REGEX",
                   help="only goroutines with a frame whose function "
                   "matches (POSIX extended regex)")
    g.add_argument("--label", type=_label, metavar="KEY=VALUE",
                   help="only goroutines with this pprof label; Go escapes "
                   "(\\x00, \\n, \\u202e, \\\\) give any byte, and either "
                   "side may be a Go quoted string, as the views print it")
    g.add_argument("--system", action="store_true",
                   help="include runtime goroutines")
    return parser


def _add_view_options(parser):
    o = parser.add_argument_group("what to show")
    o.add_argument("--goroutine", "-g", type=_goid, metavar="N",
                   help="show goroutine N in full, like the runtime's "
                   "traceback")
    o.add_argument("--threads", action="store_true",
                   help="list the OS threads and what runs on them")
    o.add_argument("--chan", type=_address, metavar="ADDR",
                   help="one channel: its state, waiters and possible wakers")
    o.add_argument("--mutex", type=_address, metavar="ADDR",
                   help="one Mutex/RWMutex/WaitGroup/Cond (its address or its "
                   "semaphore's): state, waiters, probable holders")
    o.add_argument("--leaks", dest="deadlocks", action="store_const",
                   const="leaks", default=None,
                   help="the leak verdict: leaked (proven), leaked (no "
                   "waker), lingering, blocked (with a retention path) or "
                   "unknown, by site, with each one's cause; then the "
                   "cycles of the wait-for graph")
    o.add_argument("--deadlocks", dest="deadlocks", action="store_const",
                   const="deadlocks",
                   help="the wait-for graph: its cycles (goroutine -> "
                   "object -> the goroutine that holds it or could wake it) "
                   "and the waiters provably nobody wakes; fast, it does "
                   "not read the heap (with --verdict: the --leaks view "
                   "too)")
    o.add_argument("--verdict", action="store_true",
                   help="with a grouping: each group's counts of leaked "
                   "(proven), leaked (no waker), lingering, blocked and "
                   "unknown (reads the heap: slower)")
    o.add_argument("--json", action="store_true",
                   help="machine-readable output (every goroutine and group;"
                   " schema in README)")
    o.add_argument("--jsonl", action="store_true",
                   help="one JSON record per line, for jq, DuckDB or "
                   "Spark: the groups (their first --ids member ids); "
                   "--detail adds every goroutine and stack first")
    o.add_argument("--detail", action="store_true",
                   help="with --jsonl: a record per goroutine (and per "
                   "stack) before the groups")
    o.add_argument("--limit", type=int, default=None, metavar="N",
                   help="show at most N groups (default: all)")
    o.add_argument("--ids", type=int, default=8, metavar="N",
                   help="goroutine ids listed per group (default 8)")
    add_frames_option(o)
    return parser


def add_frames_option(parser):
    """--all-frames, for every view that prints stacks."""
    parser.add_argument("--all-frames", action="store_true",
                        help="stacks with every frame, as a crash dump "
                        "(GOTRACEBACK=crash) shows them; by default as the "
                        "runtime's own traceback does (runtime.Stack, "
                        "pprof debug=2): no wrapper frames, no "
                        "runtime-internal ones")
    return parser


def filter_from_options(ns):
    return Filter(states=ns.state, include_system=ns.system,
                  min_age_ns=ns.min_age, func_regex=ns.func, label=ns.label)
