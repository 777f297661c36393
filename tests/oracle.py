"""Strict parser of the Go runtime's own goroutine dump (the oracle).

The input is what a Go 1.19-1.27 process writes to stderr when it dies with
GOTRACEBACK=crash after SIGQUIT (or any fatal signal): the text that
runtime.sighandler, goroutineheader, traceback, tracebackothers and dumpregs
print. It is independent of goparked on purpose: engine results are checked
against it.

Layout of a crash dump (verified on 1.19-1.27, linux/amd64):

    SIGQUIT: quit                                  } one section per M: the M
    PC=0x4f1f7b m=0 sigcode=0                      } that took the signal first,
                                                   } then every other M the
    goroutine 18 [running, locked to thread]:      } runtime relays SIGQUIT to
    main.spinForever(0x0?)                         }
    \t/path/file.go:651 +0x3b fp=0x.. sp=0x.. pc=0x..
    created by main.startBusyLoop[ in goroutine 1]
    \t/path/file.go:642 +0xdd
    <blank>
    goroutine 1 [sleep]:        (all other goroutines: first section only)
    ...
    rax    0x0                                     } dumpregs
    ...
    <blank>
    -----
    <blank>
    SIGQUIT: quit                                  } next M: only the goroutine
    PC=... m=1 sigcode=0                           } it is running (often g0,
    <blank>                                        } "goroutine 0 [idle]:")
    goroutine 0 [idle]:
    ...

Observed per version (fixture dumps, every toolchain): 1.19/1.20 print
"created by F" with no goroutine; 1.21+ "created by F in goroutine N"; 1.22+
add gp=/m=/mp= to every header and print runtime.goexit({}) (args "{}").
The M that takes SIGQUIT prints the full dump; that is often an idle M, so
section 0 starts with "goroutine 0 [idle]:" (g0). A goroutine running on
another M shows "goroutine running on other thread; stack unavailable" there,
and its stack (often topped by runtime.asyncPreempt, a frame with no +0x
offset) appears in that M's own section: use Dump.stack_of(goid).

From 1.22 the header reads "goroutine N gp=0x.. m=N mp=0x.. [..]:" (or
"m=nil") at GOTRACEBACK>=2; 1.26 may append " labels:{"k": "v"}" inside
the brackets with GODEBUG=tracebacklabels=1. 1.27 prints the labels after
the brackets, "[chan receive] {k: v, "a b": "c"}:", quoting a key or value
only when it holds a character other than [A-Za-z0-9./_]
(tracebackStringNeedsQuoting), and does so by default for a main module at
go 1.27 (GODEBUG tracebacklabels=1; older go.mod lines keep 0). Ancestors ("[originating from goroutine N]:") need
GODEBUG=tracebackancestors=N.

The parser is strict: a line it does not understand raises DumpParseError
with the line number. Nothing is skipped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["DumpParseError", "Frame", "CreatedBy", "Ancestor", "Goroutine", "Section", "Dump", "parse",
           "parse_file", "G_STATUS_STRINGS", "wait_reason_for"]


class DumpParseError(ValueError):
    def __init__(self, lineno: int, line: str, why: str):
        super().__init__("line %d: %s: %r" % (lineno, why, line))
        self.lineno = lineno
        self.line = line


# gStatusStrings (runtime/traceback.go). Anything else in the header is a wait reason.
G_STATUS_STRINGS = {"idle", "runnable", "running", "syscall", "waiting", "moribund_unused", "dead",
                    "enqueue_unused", "copystack", "preempted", "leaked", "deadextra", "???"}


@dataclass
class Frame:
    func: str                     # as printed, e.g. "sync.(*Mutex).Lock", "main.f.func1"
    args: str                     # text between the parentheses: "0xc000010000, 0x1?", "...", "{}", ""
    file: str = ""
    line: int = 0
    offset: Optional[int] = None  # +0x.. from the function entry; None when not printed (inlined frames)
    fp: Optional[int] = None
    sp: Optional[int] = None
    pc: Optional[int] = None

    @property
    def inlined(self) -> bool:
        """Inlined (logical) frames print "(...)" and no +0x offset.

        A physical frame stopped exactly at its entry (e.g. runtime.asyncPreempt
        of a preempted spinner) also prints no offset, but has real args."""
        return self.offset is None and self.args == "..."


@dataclass
class CreatedBy:
    func: str
    goid: Optional[int]           # "in goroutine N" (1.21+); None before
    file: str
    line: int
    offset: Optional[int]


@dataclass
class Ancestor:
    goid: int
    frames: list = field(default_factory=list)
    elided: bool = False
    created_by: Optional[CreatedBy] = None


@dataclass
class Goroutine:
    goid: int
    status: str                   # full text of the first bracket item, e.g. "chan receive (nil chan)"
    state: str                    # g status name; "waiting" when the header shows a wait reason
    wait_reason: str              # the wait reason text, "" when the header shows a bare status
    gp: Optional[int] = None      # 1.22+
    m: Optional[int] = None       # 1.22+: m id, None for m=nil or not printed
    mp: Optional[int] = None
    m_printed: bool = False       # True when "m=..." (including m=nil) was printed
    minutes: int = 0
    locked_to_thread: bool = False
    scan: bool = False
    leaked: bool = False
    durable: bool = False
    synctest: Optional[str] = None
    labels: Optional[dict] = None
    frames: list = field(default_factory=list)
    created_by: Optional[CreatedBy] = None
    ancestors: list = field(default_factory=list)
    elided: Optional[int] = None  # "...N frames elided..." -> N; "...additional frames elided..." -> -1
    elided_at: Optional[int] = None  # index in frames where the elision marker was
    unavailable: bool = False     # "goroutine running on other thread; stack unavailable"
    notes: list = field(default_factory=list)  # "runtime: ..." / "non-Go function at pc=" lines
    section: int = 0
    header_line: int = 0

    def funcs(self) -> list:
        return [f.func for f in self.frames]

    def has_func(self, name: str) -> bool:
        return any(f.func == name for f in self.frames)


@dataclass
class Section:
    signal: str                   # "SIGQUIT"
    signal_text: str              # "quit"
    pc: int
    m: int
    sigcode: int
    addr: Optional[int] = None
    extra: list = field(default_factory=list)  # e.g. "signal arrived during cgo execution"
    goroutines: list = field(default_factory=list)
    registers: dict = field(default_factory=dict)
    lineno: int = 0
    # "fatal error: unexpected signal during runtime execution" (1.19/1.20
    # on a signal in C code): the text, and the frames of "runtime stack:"
    fatal: Optional[str] = None
    runtime_stack: list = field(default_factory=list)


@dataclass
class Dump:
    sections: list = field(default_factory=list)
    preamble: list = field(default_factory=list)  # lines before the first signal header (program output)

    @property
    def goroutines(self) -> dict:
        """goid -> Goroutine from the first section (the full dump), goroutine 0 excluded."""
        out = {}
        if self.sections:
            for g in self.sections[0].goroutines:
                if g.goid != 0:
                    out[g.goid] = g
        return out

    @property
    def per_m(self) -> list:
        """(m id, Goroutine) for the goroutine each M printed in its own section (incl. goroutine 0)."""
        res = []
        for i, s in enumerate(self.sections):
            if i == 0:
                if s.goroutines:
                    res.append((s.m, s.goroutines[0]))
            else:
                for g in s.goroutines:
                    res.append((s.m, g))
        return res

    def stack_of(self, goid: int) -> Optional[Goroutine]:
        """The goroutine with its frames: from the full dump, or, when that says
        "stack unavailable" (running on another M), from that M's own section."""
        g = self.goroutines.get(goid)
        if g is not None and not g.unavailable:
            return g
        for _m, pg in self.per_m:
            if pg.goid == goid and pg.frames:
                return pg
        return g

    @property
    def signal(self) -> Optional[str]:
        return self.sections[0].signal if self.sections else None


# ------------------------------------------------------------------ grammar

RE_SIG = re.compile(r"^(SIG[A-Z0-9]+|signal \d+): (.*)$")
# runtime.sigpanic's fatal path (1.19/1.20 for a signal in C code, signal_unix.go):
#   fatal error: unexpected signal during runtime execution
#   [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4aefec]
#   <blank>
#   runtime stack:
#   <g0 frames>
#   <blank>
#   goroutine N [...]:       (the goroutine that ran the C code first)
RE_FATAL = re.compile(r"^fatal error: (.+)$")
RE_FATAL_SIG = re.compile(r"^\[signal (SIG[A-Z0-9]+): (.*) code=(0x[0-9a-f]+|-?\d+) addr=0x([0-9a-f]+) pc=0x([0-9a-f]+)\]$")
RE_PC = re.compile(r"^PC=0x([0-9a-f]+) m=(\d+) sigcode=(-?\d+)(?: addr=0x([0-9a-f]+))?$")
RE_HEADER = re.compile(
    r"^goroutine (\d+)(?: gp=0x([0-9a-f]+)(?: m=(\d+) mp=0x([0-9a-f]+)| (m=nil))?)? "
    r"(?:\[([^\]]*)\] \{(.*)\}|\[(.*)\]):$")
RE_FILE = re.compile(
    r"^\t(.+):(\d+)(?: \+0x([0-9a-f]+))?(?: fp=0x([0-9a-f]+) sp=0x([0-9a-f]+) pc=0x([0-9a-f]+))?$")
RE_CREATED = re.compile(r"^created by (.+?)(?: in goroutine (\d+))?$")
RE_ELIDED_N = re.compile(r"^\.\.\.(\d+) frames elided\.\.\.$")
RE_ANCESTOR = re.compile(r"^\[originating from goroutine (\d+)\]:$")
RE_REG = re.compile(r"^([a-z][a-z0-9]*)\s+0x([0-9a-f]+)$")
RE_FUNC = re.compile(r"^(\S.*)\(([^()]*)\)$")
# The stack words the runtime prints after "stack: frame={...}" when it
# cannot unwind (an "unknown pc": a thread in C code on a g0 stack):
# hexdumpWords, four words a line, '<' marking sp and '>' fp, a word that
# is a code address followed by <func+0xoff>.
RE_HEXDUMP = re.compile(r"^0x[0-9a-f]+: (?:[ <>]0x[0-9a-f]+ (?:<\S+\+0x[0-9a-f]+> )?)+$")
RE_MINUTES = re.compile(r"^(\d+) minutes$")
RE_LABELS = re.compile(r'^(.*) labels:\{(.*)\}$')
RE_LABEL_KV = re.compile(r'"((?:[^"\\]|\\.)*)": "((?:[^"\\]|\\.)*)"(?:, |$)')
# 1.27: each of key and value quoted, or bare when it needs no quoting
_LABEL_STR = r'"((?:[^"\\]|\\.)*)"|([A-Za-z0-9./_]*)'
RE_LABEL_KV_127 = re.compile(r'(?:%s): (?:%s)(?:, |$)' % (_LABEL_STR, _LABEL_STR))
SIGNAL_EXTRAS = ("signal arrived during cgo execution", "signal arrived during external code execution")


def _hex(s):
    return int(s, 16) if s is not None else None


_ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", '"': b'"'}


def _unquote(s: str) -> str:
    """The inverse of runtime.printquoted: \\xHH is one raw byte, \\u and \\U a
    code point; other characters are printable ASCII as they are. Bytes
    outside UTF-8 are decoded with "surrogateescape"."""
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = s[i + 1:i + 2]
        if e in _ESC:
            out += _ESC[e]
            i += 2
        elif e in ("x", "u", "U"):
            n = {"x": 2, "u": 4, "U": 8}[e]
            v = int(s[i + 2:i + 2 + n], 16)
            out += bytes([v]) if e == "x" else chr(v).encode("utf-8", "surrogatepass")
            i += 2 + n
        else:
            raise ValueError("unknown escape \\%s" % e)
    # every byte kept, one outside UTF-8 as U+DC80..U+DCFF, as goparked's
    # model decodes the target's strings
    return out.decode("utf-8", "surrogateescape")


def _parse_labels_127(body: str, lineno: int, line: str) -> dict:
    labels, pos = {}, 0
    while pos < len(body):
        kv = RE_LABEL_KV_127.match(body, pos)
        if not kv or kv.end() == pos:
            raise DumpParseError(lineno, line, "bad labels")
        key = _unquote(kv.group(1)) if kv.group(1) is not None else kv.group(2)
        value = _unquote(kv.group(3)) if kv.group(3) is not None else kv.group(4)
        labels[key] = value
        pos = kv.end()
    if not labels:
        raise DumpParseError(lineno, line, "empty labels")  # the runtime prints none then
    return labels


def _parse_status(text: str, lineno: int, line: str, labels_127: Optional[str] = None) -> dict:
    out = {"minutes": 0, "locked_to_thread": False, "scan": False, "leaked": False, "durable": False,
           "synctest": None, "labels": None}
    if labels_127 is not None:
        out["labels"] = _parse_labels_127(labels_127, lineno, line)
    m = RE_LABELS.match(text) if labels_127 is None else None
    if m:
        text, body = m.group(1), m.group(2)
        labels, pos = {}, 0
        for kv in RE_LABEL_KV.finditer(body):
            if kv.start() != pos:
                raise DumpParseError(lineno, line, "bad labels")
            labels[_unquote(kv.group(1))] = _unquote(kv.group(2))
            pos = kv.end()
        if pos != len(body):
            raise DumpParseError(lineno, line, "bad labels")
        out["labels"] = labels
    parts = text.split(", ")
    status = parts[0]
    # print order: status, (leaked), (scan), (durable)
    changed = True
    while changed:
        changed = False
        for suffix, key in ((" (scan)", "scan"), (" (leaked)", "leaked"), (" (durable)", "durable")):
            if status.endswith(suffix) and not out[key]:
                status = status[: -len(suffix)]
                out[key] = True
                changed = True
    if not status:
        raise DumpParseError(lineno, line, "empty status")
    for p in parts[1:]:
        mm = RE_MINUTES.match(p)
        if mm:
            out["minutes"] = int(mm.group(1))
        elif p == "locked to thread":
            out["locked_to_thread"] = True
        elif p.startswith("synctest group ") or p.startswith("synctest bubble "):
            out["synctest"] = p.split()[-1]
        else:
            raise DumpParseError(lineno, line, "unknown goroutine header item %r" % p)
    out["status"] = status
    if status in G_STATUS_STRINGS and status != "preempted":
        out["state"], out["wait_reason"] = status, ""
    elif status == "preempted":
        # "preempted" is both a g status (_Gpreempted) and a wait reason; both mean "not running".
        out["state"], out["wait_reason"] = "preempted", "preempted"
    else:
        out["state"], out["wait_reason"] = ("leaked" if out["leaked"] else "waiting"), status
    return out


def parse(text: str, crash: bool = True) -> Dump:
    """Parse a whole dump. Raises DumpParseError on any line it does not know.

    crash=False: a traceback without a signal header (runtime.Stack(all),
    pprof goroutine debug=2), as one section."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    d = Dump()
    sec: Optional[Section] = None
    if not crash:
        sec = Section("", "", 0, 0, 0)
        d.sections.append(sec)
    g: Optional[Goroutine] = None
    anc: Optional[Ancestor] = None
    frame: Optional[Frame] = None      # frame whose file line is expected next
    created: Optional[str] = None      # "created by" line seen, file line expected next
    created_goid = None
    expect = "sig" if crash else "body"  # sig | pc | body
    in_regs = False
    fatal = None                       # "fatal error: X" seen, its signal line expected
    for i, line in enumerate(lines):
        n = i + 1

        def err(why):
            raise DumpParseError(n, line, why)

        if frame is not None or created is not None:
            m = RE_FILE.match(line)
            if not m:
                err("expected a '\\tfile:line' line")
            if frame is not None:
                frame.file, frame.line = m.group(1), int(m.group(2))
                frame.offset = _hex(m.group(3))
                frame.fp, frame.sp, frame.pc = _hex(m.group(4)), _hex(m.group(5)), _hex(m.group(6))
                frame = None
            else:
                cb = CreatedBy(created, created_goid, m.group(1), int(m.group(2)), _hex(m.group(3)))
                if m.group(4):
                    err("fp/sp/pc on a 'created by' line")
                if anc is not None:
                    anc.created_by = cb
                else:
                    g.created_by = cb
                created = None
            continue

        if expect == "sig" and sec is None and RE_FATAL.match(line) and i + 1 < len(lines) \
                and RE_FATAL_SIG.match(lines[i + 1]):
            fatal = RE_FATAL.match(line).group(1)
            continue
        m = RE_FATAL_SIG.match(line)
        if m and expect == "sig" and sec is None and fatal is not None:
            code = m.group(3)
            sec = Section(m.group(1), m.group(2), int(m.group(5), 16), -1,
                          int(code, 16) if code.startswith("0x") else int(code),
                          addr=int(m.group(4), 16), lineno=n, fatal=fatal)
            d.sections.append(sec)
            g = anc = None
            expect = "body"
            continue
        if line == "runtime stack:" and sec is not None and sec.fatal is not None \
                and not sec.goroutines and not in_regs:
            # g0's frames, as a pseudo goroutine kept out of the goroutines
            g = Goroutine(goid=0, status="runtime stack", state="", wait_reason="",
                          section=len(d.sections) - 1, header_line=n)
            sec.runtime_stack = g.frames
            anc = None
            continue
        m = RE_SIG.match(line)
        if m and expect in ("sig", "body"):
            if sec is not None and not (in_regs or sec.goroutines):
                err("new signal section before the previous one printed anything")
            sec = Section(m.group(1), m.group(2), 0, 0, 0, lineno=n)
            d.sections.append(sec)
            g = anc = None
            in_regs = False
            expect = "pc"
            continue
        if expect == "sig":
            if sec is not None and line == "":
                continue  # "-----" is followed by a blank line
            if sec is None:
                d.preamble.append(line)  # the program's own stderr output before the crash
                continue
            err("unexpected line between sections")
        if expect == "pc":
            m = RE_PC.match(line)
            if not m:
                err("expected 'PC=0x.. m=N sigcode=N'")
            sec.pc, sec.m, sec.sigcode, sec.addr = int(m.group(1), 16), int(m.group(2)), int(m.group(3)), _hex(m.group(4))
            expect = "body"
            continue
        # body
        if line == "":
            g = anc = None
            continue
        if line in SIGNAL_EXTRAS and not sec.goroutines and not in_regs:
            sec.extra.append(line)
            continue
        if line == "-----":
            if not in_regs and not sec.goroutines:
                err("section separator in an empty section")
            in_regs = False
            g = anc = None
            expect = "sig"
            continue
        m = RE_HEADER.match(line)
        if m:
            if in_regs:
                err("goroutine header after the register dump")
            if m.group(6) is not None:
                st = _parse_status(m.group(6), n, line, labels_127=m.group(7))
            else:
                st = _parse_status(m.group(8), n, line)
            g = Goroutine(goid=int(m.group(1)), status=st["status"], state=st["state"], wait_reason=st["wait_reason"],
                          gp=_hex(m.group(2)), m=int(m.group(3)) if m.group(3) else None, mp=_hex(m.group(4)),
                          m_printed=bool(m.group(3) or m.group(5)), minutes=st["minutes"],
                          locked_to_thread=st["locked_to_thread"], scan=st["scan"], leaked=st["leaked"],
                          durable=st["durable"], synctest=st["synctest"], labels=st["labels"],
                          section=len(d.sections) - 1, header_line=n)
            sec.goroutines.append(g)
            anc = None
            continue
        m = RE_REG.match(line)
        if m and (in_regs or sec.goroutines):
            # dumpregs follows the last frame (or a blank line) directly
            in_regs = True
            g = anc = None
            sec.registers[m.group(1)] = int(m.group(2), 16)
            continue
        if g is None:
            err("line outside any goroutine")
        if line == "\tgoroutine running on other thread; stack unavailable":
            if g.frames:
                err("'stack unavailable' after frames")
            g.unavailable = True
            continue
        m = RE_ANCESTOR.match(line)
        if m:
            anc = Ancestor(int(m.group(1)))
            g.ancestors.append(anc)
            continue
        m = RE_CREATED.match(line)
        if m:
            if (anc.created_by if anc is not None else g.created_by) is not None:
                err("second 'created by'")
            created, created_goid = m.group(1), (int(m.group(2)) if m.group(2) else None)
            continue
        if line == "...additional frames elided...":
            if anc is not None:
                anc.elided = True
            else:
                g.elided, g.elided_at = -1, len(g.frames)
            continue
        m = RE_ELIDED_N.match(line)
        if m:
            if anc is not None:
                err("counted elision inside an ancestor")
            g.elided, g.elided_at = int(m.group(1)), len(g.frames)
            continue
        if line.startswith("runtime: ") or line.startswith("non-Go function at pc=") \
                or line.startswith("\tstack=[") or line.startswith("stack: frame={"):
            g.notes.append(line)
            continue
        if RE_HEXDUMP.match(line) and g.notes and \
                (g.notes[-1].startswith("stack: frame={") or RE_HEXDUMP.match(g.notes[-1])):
            g.notes.append(line)
            continue
        m = RE_FUNC.match(line)
        if m:
            target = anc.frames if anc is not None else g.frames
            if (anc.created_by if anc is not None else g.created_by) is not None:
                err("frame after 'created by'")
            frame = Frame(m.group(1), m.group(2))
            target.append(frame)
            continue
        err("unknown line")
    if frame is not None or created is not None:
        raise DumpParseError(len(lines), lines[-1] if lines else "", "dump ends before a file:line line")
    if not d.sections:
        raise DumpParseError(1, lines[0] if lines else "", "no signal header: not a crash dump")
    return d


def parse_file(path: str, crash: bool = True) -> Dump:
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse(f.read(), crash)


# ------------------------------------------------------------------ expectations


def wait_reason_for(kind: str, go_minor: int) -> str:
    """Expected header text for a blocking kind on Go 1.<go_minor> (runtime2.go waitReasonStrings)."""
    table = {
        "mutex": "semacquire" if go_minor < 20 else "sync.Mutex.Lock",
        "rwmutex_lock": "semacquire" if go_minor < 20 else "sync.RWMutex.Lock",
        "rwmutex_rlock": "semacquire" if go_minor < 20 else "sync.RWMutex.RLock",
        "waitgroup": "semacquire" if go_minor < 24 else "sync.WaitGroup.Wait",
        "cond": "sync.Cond.Wait",
        "chan_recv": "chan receive",
        "chan_send": "chan send",
        "nil_recv": "chan receive (nil chan)",
        "nil_send": "chan send (nil chan)",
        "select": "select",
        "select_empty": "select (no cases)",
        "io": "IO wait",
        "sleep": "sleep",
    }
    return table[kind]
