"""The data model over libgoparked: programs, snapshots, goroutines, groups.

A Snapshot never turns the engine's goroutine array into Python objects on
its own: with a million goroutines Python sees groups (a few hundred) and
counts. A Goroutine object is made only when one is asked for, or when a
caller iterates over all of them on purpose (JSON of every goroutine).
"""

import array
import collections
import ctypes
import weakref
from ctypes import POINTER, byref, c_size_t, c_uint32, c_void_p

from . import _native as N
from ._native import Error

__all__ = ["Program", "Snapshot", "Goroutine", "Frame", "Group", "Grouping",
           "Filter", "Thread", "Wait", "Clock", "open_core", "open_pid"]


def _str(b):
    return b.decode("utf-8", "replace") if b else ""


class CutStr(str):
    """A string the engine kept only the first bytes of (over its read
    limit, GP_MAX_STRING_LEN): full_len is its length in the target."""

    __slots__ = ("full_len",)


def target_string(b, full_len=None):
    """A string read from the target, from its bytes: every byte kept, one
    outside UTF-8 as U+DC80..U+DCFF ("surrogateescape"; text.target_str
    shows it as \\xff, JSON in a NAME_b64 twin). A CutStr when the target's string
    is longer (full_len) than the bytes."""
    s = b.decode("utf-8", "surrogateescape")
    if full_len is not None and full_len > len(b):
        s = CutStr(s)
        s.full_len = full_len
    return s


class _Owned:
    """An engine handle that closes its children (snapshots of a program,
    groupings of a snapshot) before itself; a context manager."""

    _what = "handle"

    def _handle(self):
        if not self._h:
            raise Error(Error.INVALID_ARGUMENT, "%s is closed" % self._what)
        return self._h

    def close(self):
        for child in list(self._children):
            child.close()
        if self._h:
            handle, self._h = self._h, None
            self._destroy(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Program(_Owned):
    """An opened Go program: a core plus its executable, or a live process."""

    def __init__(self, handle, description):
        self._h = handle
        self.description = description
        self._children = weakref.WeakSet()

    @classmethod
    def from_core(cls, core, exe):
        lib = N.lib()
        h = c_void_p()
        lib.check(lib.gp_program_from_core(N.encode_path(core),
                                           N.encode_path(exe), byref(h)))
        return cls(h, str(core))

    @classmethod
    def from_pid(cls, pid, exe=None, no_stop=False, resume_early=False):
        """Attach to a live process. no_stop: a debugger already holds it
        stopped; the engine does not ptrace and needs set_threads().
        resume_early: the process runs again as soon as the snapshot has
        copied what it reads (Error.INCOMPLETE if that was not enough)."""
        lib = N.lib()
        h = c_void_p()
        flags = ((N.ATTACH_NO_STOP if no_stop else 0) |
                 (N.ATTACH_RESUME_EARLY if resume_early else 0))
        lib.check(lib.gp_program_from_pid(
            int(pid), N.encode_path(exe) if exe else None, flags, byref(h)))
        return cls(h, "pid %d" % int(pid))

    @classmethod
    def from_callback(cls, exe, read, description="callback"):
        """Memory from read(address, size) -> bytes (a debugger's reader).
        Raising OSError (or returning fewer bytes) means unreadable."""
        def c_read(_arg, address, buf, size):
            try:
                data = read(address, size)
            except OSError as e:
                return e.errno or 5  # EIO
            except Exception:
                return 5
            if data is None or len(data) < size:
                return 14  # EFAULT
            ctypes.memmove(buf, data, size)
            return 0
        fn = N.READ_MEMORY_FN(c_read)
        lib = N.lib()
        h = c_void_p()
        lib.check(lib.gp_program_from_callback(N.encode_path(exe), fn, None,
                                               byref(h)))
        prog = cls(h, description)
        prog._read_fn = fn  # the engine holds the pointer: keep it alive
        return prog

    def set_threads(self, threads):
        """Thread registers from the host: [(tid, pc, sp, bp, fs_base)]."""
        arr = (N.ThreadState * len(threads))(
            *[N.ThreadState(*t) for t in threads])
        N.lib().check(N.lib().gp_program_set_threads(self._handle(), arr,
                                                     len(threads)))

    _what = "program"

    def _destroy(self, handle):
        N.lib().gp_program_destroy(handle)

    @property
    def go_version(self):
        return _str(N.lib().gp_program_go_version(self._handle()))

    @property
    def exe_path(self):
        return _str(N.lib().gp_program_exe_path(self._handle()))

    @property
    def flags(self):
        return N.lib().gp_program_flags(self._handle())

    is_core = property(lambda self: bool(self.flags & N.PROGRAM_IS_CORE))
    is_live = property(lambda self: bool(self.flags & N.PROGRAM_IS_LIVE))
    has_dwarf = property(lambda self: bool(self.flags & N.PROGRAM_HAS_DWARF))
    has_symtab = property(
        lambda self: bool(self.flags & N.PROGRAM_HAS_SYMTAB))
    layout_from_table = property(
        lambda self: bool(self.flags & N.PROGRAM_LAYOUT_FROM_TABLE))

    @property
    def pause_ns(self):
        return N.lib().gp_program_pause_ns(self._handle())

    def resume(self):
        N.lib().check(N.lib().gp_program_resume(self._handle()))

    def read(self, address, size):
        buf = ctypes.create_string_buffer(size)
        N.lib().check(N.lib().gp_program_read(self._handle(), address, buf,
                                              size))
        return buf.raw

    def _beyond_copy(self):
        """Called before a read beyond the snapshot's goroutines (channels,
        locks, the heap, C frames): a live process that runs again since
        (live.LiveProgram) refuses it rather than mix two moments."""

    def c_frames(self, tid, max_frames=64):
        """The C frames (cgo, libc) thread tid is in, innermost first, up
        to its first Go frame: [CFrame(pc, func, file, line, module)];
        names and lines where the executable or the shared object has
        symbols and DWARF (libdw)."""
        self._beyond_copy()
        arr = (N.CFrame * max_frames)()
        n = c_size_t()
        N.lib().check(N.lib().gp_program_c_frames(self._handle(), tid, arr,
                                                  max_frames, byref(n)))
        dec = lambda b: b.decode("utf-8", "replace")  # noqa: E731
        return [CFrame(f.pc, dec(f.func), dec(f.file), f.line, dec(f.module))
                for f in arr[:n.value]]

    def snapshot(self, refs=False):
        """Every goroutine, read once. refs: also keep, while the stacks
        are read, what the holders and wakers scan needs of them (for the
        views that show holders, wakers or the leak verdict: they then do
        not read every stack again; the others would only pay for it)."""
        lib = N.lib()
        h = c_void_p()
        if refs:
            lib.check(lib.gp_snapshot_take_with(self._handle(),
                                                N.SNAPSHOT_REFS, byref(h)))
        else:
            lib.check(lib.gp_snapshot_take(self._handle(), byref(h)))
        snap = Snapshot(self, h)
        self._children.add(snap)
        return snap


class CFrame(collections.namedtuple("CFrame", "pc func file line module")):
    """A frame of C code: pc, and where known the function, its file and
    line, and the ELF module (executable or shared object) it is in."""

    __slots__ = ()

    def __str__(self):
        where = self.func or "0x%x" % self.pc
        if self.file:
            where += " (%s:%d)" % (self.file, self.line)
        elif self.module:
            where += " (%s)" % self.module
        return where


def open_core(core, exe):
    return Program.from_core(core, exe)


def open_pid(pid, exe=None):
    return Program.from_pid(pid, exe)


class Frame:
    """One logical frame (inlined calls are frames of their own)."""

    __slots__ = ("pc", "entry", "func", "file", "line", "flags")

    def __init__(self, pc, entry, func, file, line, flags):
        self.pc, self.entry, self.func = pc, entry, func
        self.file, self.line, self.flags = file, line, flags

    inlined = property(lambda self: bool(self.flags & N.FRAME_INLINED))
    trap = property(lambda self: bool(self.flags & N.FRAME_TRAP))
    no_func = property(lambda self: bool(self.flags & N.FRAME_NO_FUNC))
    # What the runtime's own traceback makes of the function (the engine
    # reads it from the pclntab; text.shown_frames applies it).
    wrapper = property(lambda self: bool(self.flags & N.FRAME_WRAPPER))
    runtime = property(lambda self: bool(self.flags & N.FRAME_RUNTIME))

    @property
    def offset(self):
        """pc - entry, as the runtime prints it (+0x...)."""
        return self.pc - self.entry if self.entry and self.pc >= self.entry \
            else 0

    @property
    def location(self):
        return "%s:%d" % (self.file, self.line) if self.file else "?"

    def __repr__(self):
        return "Frame(%s %s)" % (self.func or hex(self.pc), self.location)


class Wait:
    __slots__ = ("object", "sudog", "kind", "is_select")

    def __init__(self, w):
        self.object, self.sudog = w.object, w.sudog
        self.kind = N.WAIT_KIND_NAMES.get(w.kind, str(w.kind))
        self.is_select = bool(w.flags & 1)

    def __repr__(self):
        return "Wait(%s 0x%x)" % (self.kind, self.object)


class Thread:
    __slots__ = ("index", "tid", "m_address", "m_id", "curg_goid", "pc", "sp",
                 "bp", "flags", "signal")

    def __init__(self, index, t):
        self.index = index
        for f in ("tid", "m_address", "m_id", "curg_goid", "pc", "sp", "bp",
                  "flags", "signal"):
            setattr(self, f, getattr(t, f))

    crashed = property(lambda self: bool(self.flags & N.THREAD_CRASHED))
    in_signal = property(lambda self: bool(self.flags & N.THREAD_IN_SIGNAL))


class Clock:
    """The snapshot's estimate of the runtime's nanotime "now"."""

    __slots__ = ("now", "unix_offset", "source", "exact")

    def __init__(self, now, unix_offset, source, exact):
        self.now, self.unix_offset = now, unix_offset
        self.source, self.exact = source, exact

    @property
    def known(self):
        return self.now > 0

    def age(self, waitsince):
        """ns since waitsince, or None when either end is unknown."""
        if not self.known or waitsince <= 0 or waitsince > self.now:
            return None
        return self.now - waitsince


class Goroutine:
    """One goroutine, made on demand from the engine's record."""

    def __init__(self, snap, index, raw):
        self.snapshot = snap
        self.index = index
        for f in ("goid", "address", "parent_goid", "gopc", "startpc",
                  "waitsince", "wait_address", "pc", "sp", "stack_lo",
                  "stack_hi", "m_address", "status", "raw_status", "flags"):
            setattr(self, f, getattr(raw, f))
        self.waitreason_code = raw.waitreason
        self.wait_reason = snap.string(raw.waitreason_str)
        self.stack_id = None if raw.stack_id == N.NONE else raw.stack_id
        self.creator_stack_id = (None if raw.creator_stack == N.NONE
                                 else raw.creator_stack)
        self.start_func = snap.string(raw.start_func)
        self.error = snap.string(raw.error_str) or None
        self.thread_index = None if raw.thread < 0 else raw.thread
        self.labels_id = None if raw.labels == N.NONE else raw.labels
        self._waiting = (raw.waiting_first, raw.waiting_count)

    @property
    def state(self):
        return N.STATUS_NAMES.get(self.status, "status%d" % self.status)

    @property
    def flag_names(self):
        return [n for bit, n in sorted(N.G_FLAG_NAMES.items())
                if self.flags & bit]

    system = property(lambda self: bool(self.flags & N.G_SYSTEM))
    locked = property(lambda self: bool(self.flags & N.G_LOCKED))

    @property
    def frames(self):
        return self.snapshot.stack(self.stack_id)

    @property
    def creator_frames(self):
        return self.snapshot.stack(self.creator_stack_id)

    @property
    def labels(self):
        return self.snapshot.labels(self.labels_id)

    @property
    def waiting(self):
        first, count = self._waiting
        if first == N.NONE or count == 0:
            return []
        waits = self.snapshot._waits()
        return [Wait(waits[i]) for i in range(first, first + count)
                if i < self.snapshot._nwaits]

    @property
    def age_ns(self):
        return self.snapshot.clock.age(self.waitsince)

    @property
    def thread(self):
        if self.thread_index is None:
            return None
        threads = self.snapshot.threads()
        return threads[self.thread_index] \
            if self.thread_index < len(threads) else None

    def __repr__(self):
        return "Goroutine(%d %s)" % (self.goid, self.state)


class Filter:
    """Which goroutines a grouping looks at (struct gp_filter)."""

    def __init__(self, states=(), include_system=False, min_age_ns=0,
                 func_regex=None, label=None):
        self.states = list(states)
        self.include_system = include_system
        self.min_age_ns = min_age_ns
        self.func_regex = func_regex
        self.label = label  # (key, value) or None

    def _to_c(self):
        mask = 0
        for s in self.states:
            if s not in N.STATUS_BY_NAME:
                raise Error(Error.INVALID_ARGUMENT, "unknown state %r" % s)
            mask |= 1 << N.STATUS_BY_NAME[s]
        enc = (lambda s: s.encode("utf-8", "surrogateescape")
               if s is not None else None)
        key, value = self.label if self.label else (None, None)
        key, value = enc(key), enc(value)
        return N.Filter(mask, 1 if self.include_system else 0,
                        int(self.min_age_ns), enc(self.func_regex), key,
                        value, len(key or b""), len(value or b""))


class Group:
    """A set of goroutines sharing a key (site, stack, channel ...)."""

    def __init__(self, grouping, raw, index=0):
        snap = grouping.snapshot
        self._grouping = grouping
        self._index = index         # in its grouping's groups
        self.key = snap.string(raw.key_str)
        self.key_address = raw.key_address
        self.wait_reason = snap.string(raw.waitreason_str)
        self.waitreason_str = raw.waitreason_str
        self.stack_id = None if raw.stack_id == N.NONE else raw.stack_id
        self.site_index = None if raw.site_frame == N.NONE else raw.site_frame
        self.count = raw.count
        self.state_mask = raw.states
        self._first = raw.members_first
        self.age_known = raw.age_known
        self.oldest_waitsince = raw.oldest_waitsince
        self.youngest_waitsince = raw.youngest_waitsince

    @property
    def states(self):
        return [name for code, name in sorted(N.STATUS_NAMES.items())
                if self.state_mask & (1 << code)]

    @property
    def frames(self):
        return self._grouping.snapshot.stack(self.stack_id)

    @property
    def labels(self):
        """The pprof labels the members share (a --by label group's key;
        of its first member in other groupings)."""
        first = self.member_indexes(1)
        if not first:
            return {}
        snap = self._grouping.snapshot
        raw = snap._raw(first[0])
        return snap.labels(None if raw.labels == N.NONE else raw.labels)

    @property
    def site(self):
        frames = self.frames
        if self.site_index is not None and self.site_index < len(frames):
            return frames[self.site_index]
        return None

    @property
    def age_range(self):
        """(youngest, oldest) age in ns, or None when no member has one."""
        clock = self._grouping.snapshot.clock
        if not self.age_known:
            return None
        old = clock.age(self.oldest_waitsince)
        young = clock.age(self.youngest_waitsince)
        if old is None or young is None:
            return None
        return (young, old)

    def member_indexes(self, limit=None):
        """Indexes into the snapshot's goroutine array, sorted by goid."""
        view = self._grouping._members_view()
        end = min(self._first + self.count, len(view))
        if limit is not None:
            end = min(end, self._first + limit)
        return view[self._first:end].tolist()

    def goids(self, limit=None):
        goid = self._grouping.snapshot.field_view("goid")
        return [goid[i] for i in self.member_indexes(limit)]

    def goroutines(self, limit=None):
        snap = self._grouping.snapshot
        return [snap.goroutine_at(i) for i in self.member_indexes(limit)]

    def __repr__(self):
        return "Group(%d %r %r)" % (self.count, self.key, self.wait_reason)


class Grouping:
    """The result of Snapshot.group(): groups biggest first."""

    def __init__(self, snapshot, handle, by, filter):
        self.snapshot = snapshot
        self.by = by
        self.filter = filter
        self._h = handle
        n = c_size_t()
        arr = N.lib().gp_grouping_groups(handle, byref(n))
        self.groups = [Group(self, arr[i], i) for i in range(n.value)] \
            if arr else []

    def _members(self):
        if not self._h:
            raise Error(Error.INVALID_ARGUMENT, "grouping is closed")
        n = c_size_t()
        arr = N.lib().gp_grouping_members(self._h, byref(n))
        return arr, (n.value if arr else 0)

    def _members_view(self):
        """The members array as a memoryview of uint32 (no copy)."""
        view = self.__dict__.get("_mview")
        if view is None:
            arr, n = self._members()
            if not n:
                view = memoryview(array.array("I"))
            else:
                buf = (ctypes.c_uint32 * n).from_address(
                    ctypes.addressof(arr.contents))
                view = memoryview(buf).cast("B").cast("I")
            self._mview = view
        return view

    @property
    def total(self):
        return sum(g.count for g in self.groups)

    def __iter__(self):
        return iter(self.groups)

    def __len__(self):
        return len(self.groups)

    def close(self):
        if self._h:
            N.lib().gp_grouping_destroy(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class PathStep:
    """One step of a retention path: the root first, the wait object last."""

    __slots__ = ("kind", "address", "size", "offset", "goid", "name", "local")

    def __init__(self, snap, raw):
        self.kind = N.PATH_KIND_KEYS.get(raw.kind, "unknown")
        self.address = raw.address
        self.size = raw.size
        self.offset = None if raw.offset == 2**64 - 1 else raw.offset
        self.goid = None if raw.goroutine == N.NONE else snap.goid_array()[raw.goroutine]
        self.name = snap.string(raw.name)
        # a stack root's local variable or parameter (DWARF), else None
        self.local = snap.string(raw.local) or None

    def __repr__(self):
        return "PathStep(%s %s 0x%x)" % (self.kind, self.name, self.address)


class Verdict:
    """One goroutine's verdict: key ("leaked", "no_waker", ...), words,
    reason, the object it is about, the goroutine the reason names, and a
    retention path for what can still be woken."""

    __slots__ = ("key", "words", "reason", "reason_words", "object", "holder_goid", "round",
                 "_snap", "_index", "_path")

    def __init__(self, snap, verdicts, raw, index=None):
        self.key = N.VERDICT_KEYS.get(raw.verdict, "unknown")
        self.words = N.VERDICT_WORDS.get(raw.verdict, "unknown")
        self.reason = N.VERDICT_REASON_KEYS.get(raw.reason)
        self.reason_words = N.VERDICT_REASON_WORDS.get(raw.reason, "")
        self.object = raw.object
        self.holder_goid = None if raw.holder == N.NONE else snap.goid_array()[raw.holder]
        self.round = None if raw.round == N.NONE else raw.round
        self._snap = snap
        self._index = index
        self._path = None

    @property
    def path(self):
        """The retention path of what it waits on (PathStep, the root
        first) when it is blocked on something reachable, else []; made
        on first use (gp_snapshot_verdict_path)."""
        if self._path is None:
            self._path = []
            if self._index is not None and self.reason == "reachable":
                steps = POINTER(N.PathStep)()
                n = c_size_t()
                N.lib().check(N.lib().gp_snapshot_verdict_path(
                    self._snap._handle(), self._index, byref(steps), byref(n)))
                self._path = [PathStep(self._snap, steps[k]) for k in range(n.value)]
        return self._path

    def __repr__(self):
        return "Verdict(%s, %s)" % (self.key, self.reason)


class Verdicts:
    """gp_snapshot_verdicts: per goroutine index, and the totals."""

    def __init__(self, snap, raw):
        self._snap = snap
        self._raw = raw
        self.counts = {N.VERDICT_KEYS[k]: raw.counts[k] for k in range(N.NUM_VERDICTS)}
        self.heap_model = bool(raw.heap_model)
        self.heap_error = snap.string(raw.heap_error) or None
        self.marked_objects = raw.marked_objects
        self.heap_objects = raw.heap_objects
        self.conservative_frames = raw.conservative_frames
        self.stack_errors = raw.stack_errors
        self.corrupt_spans = raw.corrupt_spans

    def code(self, index):
        """The verdict number of goroutine index (cheap: no object)."""
        return self._raw.goroutines[index].verdict

    def of(self, index):
        return Verdict(self._snap, self, self._raw.goroutines[index], index)

    def key_array(self):
        """The verdict key of every goroutine, by index."""
        g = self._raw.goroutines
        return [N.VERDICT_KEYS[g[i].verdict] for i in range(self._raw.ngoroutines)]


class Snapshot(_Owned):
    """Every goroutine of a program at one moment, held by the engine."""

    def __init__(self, program, handle):
        self.program = program
        self._h = handle
        self._strings = {}
        self._stacks = {}
        self._labels = {}
        self._threads = None
        self._clock = None
        self._children = weakref.WeakSet()
        lib = N.lib()
        self._n = lib.gp_snapshot_num_goroutines(handle)
        self._array = lib.gp_snapshot_goroutines(handle) if self._n else None
        self._waits_arr = None
        self._nwaits = 0

    _what = "snapshot"

    def _destroy(self, handle):
        N.lib().gp_snapshot_destroy(handle)
        self._array = None

    def __len__(self):
        return self._n

    # --- strings, stacks, labels

    def string(self, sid):
        if not sid:
            return ""
        s = self._strings.get(sid)
        if s is None:
            n, full = c_size_t(), ctypes.c_uint64()
            p = N.lib().gp_snapshot_string_len(self._handle(), sid,
                                               byref(n), byref(full))
            s = target_string(ctypes.string_at(p, n.value) if p else b"",
                              full.value)
            self._strings[sid] = s
        return s

    def stack(self, stack_id):
        """The frames of an interned stack, innermost first (a tuple)."""
        if stack_id is None or stack_id == N.NONE:
            return ()
        frames = self._stacks.get(stack_id)
        if frames is None:
            n = c_uint32()
            arr = N.lib().gp_snapshot_stack(self._handle(), stack_id,
                                            byref(n))
            frames = tuple(
                Frame(f.pc, f.entry, self.string(f.func), self.string(f.file),
                      f.line, f.flags)
                for f in (arr[i] for i in range(n.value if arr else 0)))
            self._stacks[stack_id] = frames
        return frames

    @property
    def num_stacks(self):
        return N.lib().gp_snapshot_num_stacks(self._handle())

    def labels(self, labels_id):
        if labels_id is None or labels_id == N.NONE:
            return {}
        d = self._labels.get(labels_id)
        if d is None:
            n = c_uint32()
            arr = N.lib().gp_snapshot_labels(self._handle(), labels_id,
                                             byref(n))
            d = {}
            for i in range(n.value if arr else 0):
                d[self.string(arr[2 * i])] = self.string(arr[2 * i + 1])
            self._labels[labels_id] = d
        return dict(d)

    def _waits(self):
        if self._waits_arr is None:
            n = c_size_t()
            self._waits_arr = N.lib().gp_snapshot_waits(self._handle(),
                                                        byref(n))
            self._nwaits = n.value if self._waits_arr else 0
        return self._waits_arr

    def threads(self):
        if self._threads is None:
            n = c_size_t()
            arr = N.lib().gp_snapshot_threads(self._handle(), byref(n))
            self._threads = [Thread(i, arr[i])
                             for i in range(n.value if arr else 0)]
        return self._threads

    @property
    def clock(self):
        if self._clock is None:
            c = N.Clock()
            N.lib().gp_snapshot_clock(self._handle(), byref(c))
            self._clock = Clock(c.now, c.unix_offset, self.string(c.source),
                                bool(c.exact))
        return self._clock

    # --- goroutines

    def field_array(self, name):
        """One 8-byte field (goid, waitsince, address, ...) of every
        goroutine, by index, read straight out of the engine's array (a
        memoryview with a stride): a million values without a million
        objects."""
        cache = self.__dict__.setdefault("_fields", {})
        if name in cache:
            return cache[name]
        self._handle()
        size = ctypes.sizeof(N.Goroutine)
        field = getattr(N.Goroutine, name)
        if not self._n:
            return []
        assert field.size == 8 and field.offset % 8 == 0 and size % 8 == 0
        fmt = "q" if name == "waitsince" else "Q"
        buf = (ctypes.c_uint8 * (size * self._n)).from_address(
            ctypes.addressof(self._array.contents))
        values = memoryview(buf).cast("B").cast(fmt)[
            field.offset // 8::size // 8].tolist()
        cache[name] = values
        return values

    def field_view(self, name):
        """One field of every goroutine, by index, as a strided memoryview
        over the engine's array: no copy, no list (field_array's lazy
        twin, for looking up some goroutines among a million)."""
        cache = self.__dict__.setdefault("_views", {})
        view = cache.get(name)
        if view is not None:
            return view
        self._handle()
        if not self._n:
            return memoryview(array.array("Q"))
        size = ctypes.sizeof(N.Goroutine)
        field = getattr(N.Goroutine, name)
        width = field.size
        code = {8: "Q", 4: "I"}[width]
        if name in ("waitsince",):
            code = "q"
        elif name in ("waitreason", "thread"):
            code = "i"
        buf = (ctypes.c_uint8 * (size * self._n)).from_address(
            ctypes.addressof(self._array.contents))
        view = memoryview(buf).cast("B").cast(code)[
            field.offset // width::size // width]
        cache[name] = view
        return view

    def goid_array(self):
        return self.field_array("goid")

    def _raw(self, index):
        self._handle()
        if not 0 <= index < self._n:
            raise IndexError(index)
        return self._array[index]

    def find(self, goid):
        """Index of goroutine goid, or None."""
        i = N.lib().gp_snapshot_find(self._handle(), goid)
        return None if i < 0 else i

    def goroutine(self, goid):
        i = self.find(goid)
        if i is None:
            raise Error(Error.NOT_FOUND, "no goroutine %d" % goid)
        return self.goroutine_at(i)

    def goroutine_at(self, index):
        return Goroutine(self, index, self._raw(index))

    def goroutines(self):
        """Every goroutine as an object, in goid order (costly: on purpose)."""
        for i in range(self._n):
            yield self.goroutine_at(i)

    def state_counts(self):
        """{state name: count} and the number of system goroutines, per
        state: ({"waiting": 1000, ...}, {"waiting": 4, ...}).

        Counted by the engine: a million goroutines cost milliseconds,
        not a million objects.
        """
        h = self._handle()
        all_ = (ctypes.c_uint64 * 256)()
        system = (ctypes.c_uint64 * 256)()
        N.lib().gp_snapshot_count_states(h, all_, system)
        total, sys_ = {}, {}
        for st in range(256):
            if not all_[st]:
                continue
            name = N.STATUS_NAMES.get(st, "status%d" % st)
            total[name] = total.get(name, 0) + all_[st]
            if system[st]:
                sys_[name] = sys_.get(name, 0) + system[st]
        return total, sys_

    # --- the heap model

    def heap_summary(self):
        """gp_snapshot_heap: spans, slots, objects, problems (a dict), and
        the engine's notes of what it could not trust."""
        self.program._beyond_copy()
        s = N.HeapSummary()
        h = self._handle()
        N.lib().check(N.lib().gp_snapshot_heap(h, byref(s)))
        out = {k: getattr(s, k) for k, _ in N.HeapSummary._fields_}
        notes = []
        for i in range(s.nnotes):
            a = ctypes.c_uint64()
            text = N.lib().gp_snapshot_heap_note(h, i, byref(a))
            notes.append((a.value, _str(text)))
        out["notes"] = notes
        return out

    def heap_objects(self):
        """Every allocated heap object: {address: (size, flags)}."""
        self.program._beyond_copy()
        arr = ctypes.POINTER(N.HeapObject)()
        n = c_size_t()
        N.lib().check(N.lib().gp_snapshot_heap_objects(self._handle(), byref(arr), byref(n)))
        return {arr[i].address: (arr[i].size, arr[i].flags) for i in range(n.value)}

    def heap_pointers(self, address):
        """Byte offsets of the pointer words of the object holding address."""
        self.program._beyond_copy()
        cap = 1024
        while True:
            buf = (ctypes.c_uint64 * cap)()
            n = c_size_t()
            N.lib().check(N.lib().gp_snapshot_heap_pointers(self._handle(), address, buf, cap, byref(n)))
            if n.value <= cap:
                return tuple(buf[i] for i in range(n.value))
            cap = n.value

    # --- the API's iterators (api.py): typed records, memory per group

    def groups(self, by="site", filter=None):
        """Iterator of Group records (biggest first): group(by, filter)'s
        groups. A Group holds its members' ids (goids(), member_indexes()),
        not one object per member."""
        return iter(self.group(by, filter).groups)

    def channels(self):
        """Iterator of analysis.Chan: every channel some goroutine waits
        on, with its waiters and the goroutines that could wake it."""
        from . import analysis
        return iter(analysis.chans(self))

    def syncs(self):
        """Iterator of analysis.Sync: every Mutex, RWMutex, WaitGroup,
        Cond or semaphore some goroutine waits on, with its probable
        holders."""
        from . import analysis
        return iter(analysis.syncs(self))

    def signatures(self, filter=None):
        """Iterator of SignatureGroup: the goroutines the filter lets
        through (runtime goroutines left out by default) grouped by stable
        signature (signature.py), biggest first."""
        from .signature import signature_groups
        return iter(signature_groups(self, filter))

    def verdict(self, by="site", filter=None):
        """The leak verdict, for people and scripts: a
        verdict.VerdictView over the goroutines grouped by `by` (runtime
        goroutines left out unless filter says so).

        view.counts is {key: goroutines} over every goroutine, keys
        "live", "leaked" (leaked (proven): nothing that can run reaches
        what it waits on, as Go's goroutineleak profile decides),
        "no_waker" (leaked (no waker): reachable, but nothing that can run
        will wake it; evidence), "lingering" (only timers wake it and it
        loops forever; evidence), "blocked" (can still be woken) and
        "unknown"; view.shown() the totals of the view's own goroutines
        (verdict.Shown: what every surface prints). view.rows() splits
        each group by verdict and reason (verdict.Row); view.example(row)
        is a model.Verdict with its reason, the object it is about and,
        when blocked, a retention path (model.PathStep, the root first); view.group_counts(group) counts
        one group; verdict.leaks_doc(view) is the "goparked/leaks" JSON.
        Reads the heap (a mark of everything reachable) on first use."""
        from .verdict import VerdictView
        return VerdictView(self, self.group(by, filter))

    def verdicts(self):
        """The leak verdict of every goroutine, by index, as the engine
        gives it (gp_snapshot_verdicts; verdict() words and groups it)."""
        self.program._beyond_copy()
        v = self.__dict__.get("_verdicts")
        if v is None:
            raw = N.Verdicts()
            N.lib().check(N.lib().gp_snapshot_verdicts(self._handle(), byref(raw)))
            v = self._verdicts = Verdicts(self, raw)
        return v

    def stack_pointers(self, index):
        """The stack words of goroutine index its frames' stack maps call
        pointers (gp_snapshot_stack_pointers)."""
        self.program._beyond_copy()
        cap = 4096
        while True:
            buf = (ctypes.c_uint64 * cap)()
            n = c_size_t()
            N.lib().check(N.lib().gp_snapshot_stack_pointers(self._handle(), index, buf, cap, byref(n)))
            if n.value <= cap:
                return tuple(buf[i] for i in range(n.value))
            cap = n.value

    def group(self, by="site", filter=None):
        """Group goroutines (gp_snapshot_group); see Grouping."""
        if by not in N.GROUP_BY:
            raise Error(Error.INVALID_ARGUMENT,
                        "cannot group by %r (one of %s)"
                        % (by, ", ".join(N.GROUP_BY)))
        filter = filter or Filter()
        cf = filter._to_c()
        h = c_void_p()
        N.lib().check(N.lib().gp_snapshot_group(self._handle(), N.GROUP_BY[by],
                                                byref(cf), byref(h)))
        grouping = Grouping(self, h, by, filter)
        self._children.add(grouping)
        return grouping
