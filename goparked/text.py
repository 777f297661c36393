"""Words for people: the one place goparked turns values into text.

Every text view (the CLI, the debuggers' commands, the report's HTML and
Markdown, watch/diff/check) formats durations, goroutine id lists and
source locations here, and passes every string read from the target
(function, file, type and label names, wait reasons, the engine's evidence
sentences) through target_str() before showing it. A string from the target
is untrusted: target_str() is where it is made safe for a terminal.

JSON never goes through here: it carries the target's strings as they are
(json.dumps escapes them) and durations in nanoseconds.
"""

import re

__all__ = ["target_str", "duration", "age_range", "ids", "short_path",
           "location", "frame_location", "func_location", "AGE_BUCKETS",
           "age_bucket"]

# Control characters, DEL and the C1 controls: a terminal acts on them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f]")


def target_str(s, unknown="?"):
    """A string read from the target, fit for a terminal or a text report.

    None or "" gives `unknown`. Characters a terminal would act on
    (control characters, escape sequences) are written as Go's %q would
    write them inside a quoted string (\\n, \\t, \\x1b), so that a hostile
    or broken target cannot move the cursor or rewrite what is shown.
    """
    if not s:
        return unknown
    if not isinstance(s, str):
        s = str(s)
    if _UNSAFE.search(s) is None:
        return s
    return _UNSAFE.sub(_escape_char, s)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _escape_char(m):
    c = m.group(0)
    e = _GO_ESCAPES.get(c)
    if e:
        return e
    o = ord(c)
    return "\\x%02x" % o if o < 0x80 else "\\u%04x" % o


def duration(ns):
    """Short human duration: 850ms, 12s, 5m3s, 2h5m, 3d4h; "?" if None."""
    if ns is None:
        return "?"
    ns = int(ns)
    if ns < 0:
        return "-" + duration(-ns)
    if ns < 10**6:
        return "%dµs" % (ns // 1000) if ns >= 1000 else "%dns" % ns
    if ns < 10**9:
        return "%dms" % (ns // 10**6)
    s = ns // 10**9
    if s < 60:
        return "%ds" % s
    m, s = divmod(s, 60)
    if m < 60:
        return "%dm%ds" % (m, s) if s else "%dm" % m
    h, m = divmod(m, 60)
    if h < 24:
        return "%dh%dm" % (h, m) if m else "%dh" % h
    d, h = divmod(h, 24)
    return "%dd%dh" % (d, h) if h else "%dd" % d


def age_range(rng, known, count, sep="..", none="-"):
    """A group's ages: '4m59s..5m3s', '5m', with ' (k/n)' when only k of
    its n members carry a wait time; `none` when no age is known."""
    if rng is None:
        return none
    lo, hi = duration(rng[0]), duration(rng[1])
    text = lo if lo == hi else "%s%s%s" % (lo, sep, hi)
    if known < count:
        text += " (%d/%d)" % (known, count)
    return text


def ids(goids, limit=8, total=None, word=str):
    """'12 13 14 ... +97': the first `limit` ids, then how many more.

    `total` is the size of the whole list when `goids` holds only its first
    ids; `word` turns one id into text (the report's links)."""
    if total is None:
        total = len(goids)
    goids = list(goids[:limit]) if limit is not None else list(goids)
    text = " ".join(word(g) for g in goids)
    if total > len(goids):
        text += " ... +%d" % (total - len(goids))
    return text


def short_path(path, parts=2):
    """The last `parts` components of a path read from the target."""
    if not path:
        return "?"
    bits = path.replace("\\", "/").split("/")
    return target_str("/".join(bits[-parts:]))


def location(file, line, full=False):
    """'fixture/main.go:12' ('?' without a file); full keeps the path."""
    if not file:
        return "?"
    return "%s:%d" % (target_str(file) if full else short_path(file),
                      line or 0)


def frame_location(f, full=False):
    """location() of a Frame, or of a frame dict (func, file, line)."""
    if f is None:
        return "?"
    if isinstance(f, dict):
        return location(f.get("file"), f.get("line"), full)
    return location(f.file, f.line, full)


def func_location(f, full=False, sep="  "):
    """'main.worker  fixture/main.go:12' for a Frame or frame dict."""
    if f is None:
        return "?"
    func = f.get("func") if isinstance(f, dict) else f.func
    return "%s%s%s" % (target_str(func), sep, frame_location(f, full))


# How long goroutines have been parked, in buckets: the engine's table
# (native/src/group.c, age_buckets, used by --by age), as (upper bound in
# ns, name). The last bucket is open. Until the engine exposes its table,
# this copy is the only one in Python and must equal group.c's
# (tests/test_text.py holds both to the engine's --by age names).
AGE_BUCKETS = [(60 * 10**9, "< 1m"), (600 * 10**9, "1m-10m"),
               (3600 * 10**9, "10m-1h"), (86400 * 10**9, "1h-1d"),
               (None, "> 1d")]
AGE_UNKNOWN = "age unknown"


def age_bucket(age_ns):
    """The bucket index of an age in ns (None: len(AGE_BUCKETS), unknown)."""
    if age_ns is None:
        return len(AGE_BUCKETS)
    for i, (below, _) in enumerate(AGE_BUCKETS):
        if below is None or age_ns < below:
            return i
    return len(AGE_BUCKETS) - 1


def pause(ns):
    """How long a live process was stopped: '12.3 ms' ('-' if unknown)."""
    if ns is None:
        return "-"
    return "%.1f ms" % (ns / 1e6)
