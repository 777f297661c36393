"""The runtime's own heap dump (runtime/debug.WriteHeapDump), read.

corefiles/leaks writes one just before READY, with the collector off (see
writeHeapDump in corefiles/leaks/main.go), so it describes the heap of the
core taken afterwards. The runtime writes it itself (runtime/heapdump.go,
format "go1.7 heap dump", the same in Go 1.19 to 1.27):

- every allocated object of every in-use span, with the offsets of its
  pointer words from the runtime's own pointer map (makeheapobjbv);
- the data and bss segments with the offsets of their pointer words
  (gcdatamask, gcbssmask);
- every goroutine, and each of its frames with the pointer words of its
  locals and arguments from the compiler's stack maps (dumpframe);
- finalizers and queued finalizers.

No goparked code reads it: it is the independent oracle of the heap model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEADER = b"go1.7 heap dump\n"

(TAG_EOF, TAG_OBJECT, TAG_OTHER_ROOT, TAG_TYPE, TAG_GOROUTINE, TAG_STACK_FRAME, TAG_PARAMS, TAG_FINALIZER,
 TAG_ITAB, TAG_OS_THREAD, TAG_MEMSTATS, TAG_QUEUED_FINALIZER, TAG_DATA, TAG_BSS, TAG_DEFER, TAG_PANIC,
 TAG_MEMPROF, TAG_ALLOC_SAMPLE) = range(18)

FIELD_EOL, FIELD_PTR = 0, 1


class FormatError(Exception):
    pass


@dataclass
class Object:
    address: int
    size: int
    pointers: tuple  # byte offsets of the pointer words


@dataclass
class Frame:
    sp: int
    depth: int
    child_sp: int
    size: int
    entry: int
    pc: int
    continpc: int
    name: str
    pointers: tuple  # byte offsets from sp of the words the stack maps call pointers


@dataclass
class Goroutine:
    address: int
    sp: int
    goid: int
    gopc: int
    status: int
    system: bool
    waitsince: int
    waitreason: str
    ctxt: int
    m: int
    defer: int
    panic: int
    frames: list = field(default_factory=list)


@dataclass
class Segment:
    address: int
    size: int
    pointers: tuple


@dataclass
class Finalizer:
    obj: int
    fn: int
    fn_code: int
    fint: int
    ot: int
    queued: bool


@dataclass
class HeapDump:
    ptrsize: int = 8
    arch: str = ""
    version: str = ""
    objects: dict = field(default_factory=dict)   # address -> Object
    goroutines: dict = field(default_factory=dict)  # goid -> Goroutine
    data: Segment | None = None
    bss: Segment | None = None
    finalizers: list = field(default_factory=list)
    heap_objects_stat: int = 0  # MemStats.HeapObjects at the dump


class _Reader:
    def __init__(self, data: bytes):
        self.b = data
        self.i = 0

    def uvarint(self) -> int:
        v = shift = 0
        while True:
            if self.i >= len(self.b):
                raise FormatError("truncated varint at %d" % self.i)
            c = self.b[self.i]
            self.i += 1
            v |= (c & 0x7F) << shift
            if c < 0x80:
                return v
            shift += 7
            if shift > 70:
                raise FormatError("varint too long at %d" % self.i)

    def bytes_(self) -> bytes:
        n = self.uvarint()
        if self.i + n > len(self.b):
            raise FormatError("truncated bytes at %d" % self.i)
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def skip_bytes(self) -> int:
        n = self.uvarint()
        if self.i + n > len(self.b):
            raise FormatError("truncated bytes at %d" % self.i)
        self.i += n
        return n

    def str_(self) -> str:
        return self.bytes_().decode("utf-8", "replace")

    def fields(self) -> tuple:
        out = []
        while True:
            kind = self.uvarint()
            if kind == FIELD_EOL:
                return tuple(out)
            off = self.uvarint()
            if kind == FIELD_PTR:
                out.append(off)
            # iface/eface kinds are not written by any Go version we read


def parse(data: bytes) -> HeapDump:
    if not data.startswith(HEADER):
        raise FormatError("not a Go heap dump (header %r)" % data[:16])
    r = _Reader(data)
    r.i = len(HEADER)
    d = HeapDump()
    g = None
    while True:
        tag = r.uvarint()
        if tag == TAG_EOF:
            return d
        if tag == TAG_OBJECT:
            addr = r.uvarint()
            size = r.skip_bytes()
            d.objects[addr] = Object(addr, size, r.fields())
        elif tag == TAG_OTHER_ROOT:
            r.str_()
            r.uvarint()
        elif tag == TAG_TYPE:
            r.uvarint(), r.uvarint(), r.str_(), r.uvarint()
        elif tag == TAG_GOROUTINE:
            vals = [r.uvarint() for _ in range(5)]
            system = bool(r.uvarint())
            r.uvarint()  # isbackground
            waitsince = r.uvarint()
            reason = r.str_()
            ctxt, m, defer, panic = (r.uvarint() for _ in range(4))
            g = Goroutine(vals[0], vals[1], vals[2], vals[3], vals[4], system, waitsince, reason, ctxt, m, defer,
                          panic)
            d.goroutines[g.goid] = g
        elif tag == TAG_STACK_FRAME:
            sp, depth, child = r.uvarint(), r.uvarint(), r.uvarint()
            size = r.skip_bytes()
            entry, pc, continpc = r.uvarint(), r.uvarint(), r.uvarint()
            name = r.str_()
            fr = Frame(sp, depth, child, size, entry, pc, continpc, name, r.fields())
            if g is None:
                raise FormatError("stack frame before any goroutine")
            g.frames.append(fr)
        elif tag == TAG_PARAMS:
            r.uvarint()  # big endian
            d.ptrsize = r.uvarint()
            r.uvarint(), r.uvarint()  # arena start, end
            d.arch = r.str_()
            d.version = r.str_()
            r.uvarint()  # ncpu
        elif tag in (TAG_FINALIZER, TAG_QUEUED_FINALIZER):
            v = [r.uvarint() for _ in range(5)]
            d.finalizers.append(Finalizer(*v, queued=tag == TAG_QUEUED_FINALIZER))
        elif tag == TAG_ITAB:
            r.uvarint(), r.uvarint()
        elif tag == TAG_OS_THREAD:
            r.uvarint(), r.uvarint(), r.uvarint()
        elif tag == TAG_MEMSTATS:
            stats = [r.uvarint() for _ in range(24 + 256 + 1)]
            d.heap_objects_stat = stats[11]
        elif tag in (TAG_DATA, TAG_BSS):
            addr = r.uvarint()
            size = r.skip_bytes()
            seg = Segment(addr, size, r.fields())
            if tag == TAG_DATA:
                d.data = seg
            else:
                d.bss = seg
        elif tag == TAG_DEFER:
            [r.uvarint() for _ in range(7)]
        elif tag == TAG_PANIC:
            [r.uvarint() for _ in range(6)]
        elif tag == TAG_MEMPROF:
            r.uvarint(), r.uvarint()
            nstk = r.uvarint()
            for _ in range(nstk):
                r.str_(), r.str_(), r.uvarint()
            r.uvarint(), r.uvarint()
        elif tag == TAG_ALLOC_SAMPLE:
            r.uvarint(), r.uvarint()
        else:
            raise FormatError("unknown record tag %d at %d" % (tag, r.i))


def load(path: str) -> HeapDump:
    with open(path, "rb") as f:
        return parse(f.read())
