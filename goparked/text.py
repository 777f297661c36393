"""Words for people: the one place goparked turns values into text.

Every text view (the CLI, the debuggers' commands, the report's HTML and
Markdown, watch/diff/check) formats durations, goroutine id lists and
source locations here, and passes every string read from the target
(function, file, type and label names, wait reasons, the engine's evidence
sentences) through target_str() or quote() before showing it. A string
from the target is untrusted: this is where it is made safe for a
terminal.

Strings read from the target are bytes. The model decodes them as UTF-8
with Python's "surrogateescape" handler, so that every byte is kept: a
byte that is not part of valid UTF-8 becomes one code point U+DC80..U+DCFF
(for 0x80..0xff), which target_str() writes as Go's %q does (\\xff).

JSON never goes through here: it carries the target's strings as they are
(schema.exact: text, and a NAME_b64 twin with the bytes of one that is not
UTF-8; see README.rst, "JSON") and durations in nanoseconds.
"""

import functools
import re

__all__ = ["target_str", "quote", "label_str", "labels_text",
           "target_bytes", "byte_length",
           "MAX_SHOWN", "duration", "age_range", "ids", "short_path",
           "location", "frame_location", "func_location", "age_buckets",
           "age_bucket", "shown_frames", "creator_shown", "func_for_print",
           "go_minor", "traceback_frames", "elided_line"]

# Bytes of one target string shown before "...(N bytes)".
MAX_SHOWN = 1024

# strconv.Quote's short escapes (Go's strconv/quote.go, appendEscapedRune)
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_QUOTED = dict(_GO_ESCAPES, **{'"': '\\"', "\\": "\\\\"})


def target_bytes(s):
    """The target's bytes of a string from the model (exact)."""
    return s.encode("utf-8", "surrogateescape")


def byte_length(s):
    """The string's length in the target, in bytes: its real length when
    the engine kept only its first bytes (a str with .full_len)."""
    full = getattr(s, "full_len", None)
    if full is not None:
        return full
    return len(s) if s.isascii() else len(target_bytes(s))


def _utf8_len(c):
    o = ord(c)
    if o < 0x80 or 0xdc80 <= o <= 0xdcff:  # ASCII, or one escaped byte
        return 1
    return 2 if o < 0x800 else 3 if o < 0x10000 else 4


def _escape_char(c, table):
    e = table.get(c)
    if e:
        return e
    o = ord(c)
    if 0xdc80 <= o <= 0xdcff:       # a byte outside UTF-8
        return "\\x%02x" % (o - 0xdc00)
    if o < 0x20 or o == 0x7f:
        return "\\x%02x" % o
    if c.isprintable():
        return c
    # Go's unicode.IsPrint is categories L, M, N, P, S and ' '; Python's
    # isprintable() leaves out the same ones (C*, Z* but ' ')
    return "\\u%04x" % o if o < 0x10000 else "\\U%08x" % o


def _shown(s, table):
    """(s escaped by Go's %q rules (table: the short escapes) and cut
    after MAX_SHOWN bytes, "...(N bytes)" when cut, else "")."""
    length = byte_length(s)
    part = s
    if length > MAX_SHOWN:
        n = cut = 0
        for cut, c in enumerate(s):
            n += _utf8_len(c)
            if n > MAX_SHOWN:
                break
        else:
            cut = len(s)
        part = s[:cut]
    if part.isprintable() and not ('"' in table and
                                   ('"' in part or "\\" in part)):
        out = part
    else:
        out = "".join(_escape_char(c, table) for c in part)
    if part is not s or getattr(s, "full_len", None) is not None:
        return out, "...(%d bytes)" % length
    return out, ""


def target_str(s, unknown="?"):
    """A string read from the target, fit for a terminal or a text report.

    None or "" gives `unknown`. What a terminal would act on or a reader
    could not see (control characters, bytes outside UTF-8, the other
    characters Go's unicode.IsPrint rejects) is written as Go's %q writes
    it inside a quoted string (\\n, \\x1b, \\x00, \\xff, \\u0085), so that a
    hostile or broken target can neither move the cursor nor forge a line.
    A string over MAX_SHOWN bytes is cut and followed by its length in the
    target: '...(100000 bytes)'. Quotes and backslashes stay as they are
    (a function name may hold them); quote() is for values.
    """
    if not s:
        return unknown
    if not isinstance(s, str):
        s = str(s)
    return "%s%s" % _shown(s, _GO_ESCAPES)


def quote(s):
    """A string read from the target as Go's %q writes it, with its quotes,
    and quotes and backslashes escaped: for values a reader must be able to
    tell apart (pprof label keys and values). Cut as target_str() cuts."""
    if s is None:
        s = ""
    elif not isinstance(s, str):
        s = str(s)
    return '"%s"%s' % _shown(s, _QUOTED)


# A label key or value shown bare, as the runtime's traceback shows labels
# (Go 1.27, runtime/traceback.go: tracebackStringNeedsQuoting); any other is
# quoted with quote().
_BARE = re.compile(r"[A-Za-z0-9./_]+\Z")


def label_str(s):
    """A pprof label's key or value: bare when it is only letters, digits,
    '.', '/' and '_', else Go-quoted; cut as target_str() cuts."""
    return target_str(s) if s and _BARE.match(s) else quote(s)


def labels_text(labels, none="(no labels)"):
    """'k=v k2="a b"': a goroutine's pprof labels (a dict), by key bytes,
    every key and value shown on its own (escaped, each cut apart)."""
    if not labels:
        return none
    return " ".join("%s=%s" % (label_str(k), label_str(v)) for k, v in
                    sorted(labels.items(), key=lambda kv: target_bytes(kv[0])))


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


# A wrapper that called one of these is shown (elideWrapperCalling).
_PANICS = ("runtime.gopanic", "runtime.sigpanic", "runtime.panicwrap")


def shown_frames(frames, all_frames=False):
    """The frames the runtime's own traceback shows (GOTRACEBACK=single or
    all, runtime.Stack, pprof debug=2; runtime/traceback.go showfuncinfo):
    no wrapper (a .gowrapN go-statement closure, a method wrapper) unless
    the frame above it is a panic, no function internal to the runtime
    (the engine flags both by the target's Go version) except
    runtime.gopanic below a shown frame. all_frames: every frame, as a
    crash dump (GOTRACEBACK=crash) shows them. Works on Frames and on
    frame dicts with "wrapper" and "runtime" keys. A stack the rule would
    leave empty (a runtime goroutine's, shown with --system) stays whole."""
    if all_frames:
        return list(frames)
    shown, callee = [], None
    for f in frames:
        if isinstance(f, dict):
            func, wrapper, rt = f.get("func"), f.get("wrapper"), \
                f.get("runtime")
        else:
            func, wrapper, rt = f.func, f.wrapper, f.runtime
        if wrapper and callee not in _PANICS:
            hide = True
        else:
            hide = rt and not (func == "runtime.gopanic" and shown)
        if not hide:
            shown.append(f)
        callee = func
    return shown if shown else list(frames)


# runtime/traceback.go: from Go 1.21 a traceback prints the innermost
# tracebackInnerFrames and the outermost tracebackOuterFrames of the frames
# it shows, "...N frames elided..." between; 1.19 and 1.20 walk at most
# _TracebackMaxFrames physical frames (hidden ones included) and print the
# shown frames among them.
TRACEBACK_INNER = 50
TRACEBACK_OUTER = 50
TRACEBACK_MAX_OLD = 100


def go_minor(version):
    """19 for "go1.19.8", None when the version is unknown."""
    m = re.match(r"go1\.(\d+)", version or "")
    return int(m.group(1)) if m else None


# The engine reads at most this many physical frames of a stack and flags
# a goroutine whose stack reached it GP_G_TRUNCATED (native/src/runtime/
# runtime.h GP_MAX_FRAMES; tests/test_binding.py checks the two agree).
ENGINE_MAX_FRAMES = 1024


def _physical(frames):
    return sum(1 for f in frames
               if not (f.get("inlined") if isinstance(f, dict)
                       else f.inlined))


def traceback_frames(frames, minor=None, all_frames=False, truncated=None):
    """(head, elided, tail): the frames a traceback of the target's Go
    version prints of a deep stack (shown_frames'; every one with
    all_frames), as runtime/traceback.go traceback1 does. elided is None
    when nothing is left out, N for "...N frames elided..." (1.21+: head
    is the innermost 50, tail the outermost 50), -1 for "...additional
    frames elided..." (1.19, 1.20: head is what the first 100 physical
    frames show; the runtime itself says so only when it printed exactly
    100, goparked whenever a frame it would show is cut). truncated: the
    engine stopped reading the stack (GP_G_TRUNCATED), so the outermost
    frames are unknown and the cut is "additional". minor: the target's
    Go minor version, None for unknown (the newest rule). truncated None:
    from the stack itself (as many physical frames as the engine reads:
    a group's stack, shared by its members)."""
    if truncated is None:
        truncated = _physical(frames) >= ENGINE_MAX_FRAMES
    shown = shown_frames(frames, all_frames)
    if all_frames:
        return shown, (-1 if truncated else None), []
    if minor is not None and minor < 21:
        keep, physical = set(), 0
        for f in frames:
            if physical >= TRACEBACK_MAX_OLD:
                break
            keep.add(id(f))
            inlined = f.get("inlined") if isinstance(f, dict) else f.inlined
            if not inlined:
                physical += 1
        head = [f for f in shown if id(f) in keep]
        cut = len(head) < len(shown) or truncated
        return head, (-1 if cut else None), []
    n = TRACEBACK_INNER + TRACEBACK_OUTER
    if truncated and len(shown) > TRACEBACK_INNER:
        return shown[:TRACEBACK_INNER], -1, []
    if truncated:
        return shown, -1, []
    if len(shown) > n:
        return (shown[:TRACEBACK_INNER], len(shown) - n,
                shown[-TRACEBACK_OUTER:])
    return shown, None, []


def elided_line(elided):
    """The runtime's line for a cut of traceback_frames, or None."""
    if elided is None:
        return None
    if elided < 0:
        return "...additional frames elided..."
    return "...%d frames elided..." % elided


def func_for_print(name):
    """A function name as the runtime's traceback prints it (printFuncName,
    funcNamePiecesForPrint): runtime.gopanic as "panic", a generic
    function's type arguments as "[...]" (1.21+ keep the shapes in the
    binary's names), made safe by target_str."""
    if name == "runtime.gopanic":
        return "panic"
    if name:
        i, j = name.find("["), name.rfind("]")
        if 0 <= i < j:
            name = name[:i] + "[...]" + name[j + 1:]
    return target_str(name)


def creator_shown(f):
    """Whether the runtime's traceback prints "created by" for a goroutine
    whose go statement ran in f (printcreatedby: the frame rule of
    shown_frames, for a frame with nothing above it that is not first)."""
    return not f.wrapper and (not f.runtime or f.func == "runtime.gopanic")


# How long goroutines have been parked, in buckets: the engine's table
# (gp_age_buckets, the one definition, used by --by age), as (upper bound
# in ns, name). The last bucket is open (None).
AGE_UNKNOWN = "age unknown"     # GP_AGE_UNKNOWN: the group of unknown ages


@functools.lru_cache(maxsize=None)
def age_buckets():
    """((upper bound in ns or None, name), ...), youngest first, from the
    engine."""
    from ctypes import byref, c_size_t
    from . import _native as N
    n = c_size_t()
    p = N.lib().gp_age_buckets(byref(n))
    return tuple((None if p[i].below_ns == 2**63 - 1 else p[i].below_ns,
                  p[i].name.decode()) for i in range(n.value))


def age_bucket(age_ns):
    """The bucket index of an age in ns (len(age_buckets()) if unknown)."""
    buckets = age_buckets()
    if age_ns is None:
        return len(buckets)
    for i, (below, _) in enumerate(buckets):
        if below is None or age_ns < below:
            return i
    return len(buckets) - 1


def pause(ns):
    """How long a live process was stopped: '12.3 ms' ('-' if unknown)."""
    if ns is None:
        return "-"
    return "%.1f ms" % (ns / 1e6)
