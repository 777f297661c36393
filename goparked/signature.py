"""Stable signatures: one short hash per kind of parked goroutine that
stays the same across cores, builds, machines and Go versions.

A signature (algorithm "gp1", 16 hex digits) hashes:

- the main module's path, read from the executable's build information
  (the .go.buildinfo section, as `go version -m` prints it), so that two
  programs with the same function names differ;
- the wait, normalized: the wait reason, where the semaphore waits that Go
  versions name differently ("semacquire" before 1.20, "sync.Mutex.Lock",
  "sync.RWMutex.RLock", "sync.WaitGroup.Wait" ... after) count as one,
  "sync" (the frame below tells which);
- the frames from the one that called into the standard library (the
  engine's site frame, the first frame outside the standard library, and
  the one just inside it, e.g. sync.(*Mutex).Lock) out to the outermost,
  by function name only, inlined and physical alike, runtime.goexit left
  out; the names the compiler makes up for closures and go/defer wrappers
  (main.f.func1, main.f.gowrap1 since Go 1.21, main.f.func1.2) lose their
  numbers and read main.f.func, which Go versions and edits elsewhere in
  the function change.

It leaves out everything that changes between two builds of one program
or between two moments of one process: addresses, goroutine ids, counts,
ages, file paths (build directories) and line numbers, and whether the
compiler inlined a call (inlined calls are frames like any other here).
Two cores of one bug give one signature; another wait site, another
caller chain or another program give another.
"""

import hashlib
import re
import struct

__all__ = ["ALGORITHM", "signature", "normalize_wait", "module_path",
           "Signer", "SignatureGroup", "signature_groups"]

ALGORITHM = "gp1"

# Wait reasons of semaphore waits, which Go versions name differently for
# the same call (runtime/runtime2.go waitReason strings, 1.19 to 1.26).
_SYNC_REASONS = {"semacquire", "sync.Mutex.Lock", "sync.RWMutex.Lock",
                 "sync.RWMutex.RLock", "sync.WaitGroup.Wait",
                 "sync.Cond.Wait", "sync.Mutex.Lock (spinning)"}


def normalize_wait(reason):
    """The wait reason as the signature sees it."""
    if not reason:
        return ""
    if reason in _SYNC_REASONS:
        return "sync"
    return reason


_COMPILER_NAMES = re.compile(r"\.(?:func|gowrap|deferwrap)\d+(?:\.\d+)*")


def normalize_func(name):
    """A function name without the compiler's closure and wrapper
    numbering: main.run.gowrap2 and main.run.func2 read main.run.func."""
    return _COMPILER_NAMES.sub(".func", name)


def _frames_part(frames, site_index):
    """Function names from the frame just inside the standard library
    (below the site) out to the outermost, runtime.goexit left out."""
    start = max(0, site_index - 1) if site_index is not None else 0
    out = []
    for f in frames[start:]:
        func = f.func if not isinstance(f, dict) else f.get("func")
        if not func or func == "runtime.goexit":
            continue
        out.append(normalize_func(func))
    return out


def signature(module, wait_reason, frames, site_index):
    """The signature of goroutines with this wait and these frames
    (innermost first; site_index is the engine's site frame)."""
    h = hashlib.sha256()
    h.update(("%s\0%s\0%s\0" % (ALGORITHM, module or "",
                                normalize_wait(wait_reason))
              ).encode("utf-8", "surrogateescape"))
    h.update("\0".join(_frames_part(frames, site_index)).encode(
        "utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


class Signer:
    """Signatures of one snapshot's stacks, each computed once."""

    def __init__(self, snap):
        self._snap = snap
        self.module = module_path(snap.program.exe_path)
        self._cache = {}
        self._sites = None

    def of(self, stack_id, site_index, wait_reason):
        key = (stack_id, site_index, wait_reason)
        sig = self._cache.get(key)
        if sig is None:
            frames = self._snap.stack(stack_id) if stack_id is not None \
                else []
            sig = signature(self.module, wait_reason, frames, site_index)
            self._cache[key] = sig
        return sig

    def site_of_stack(self, stack_id):
        """The engine's site frame of a stack (from its --by stack
        grouping, made once)."""
        sites = self._sites
        if sites is None:
            from .model import Filter
            sites = {g.stack_id: g.site_index for g in self._snap.group(
                "stack", Filter(include_system=True))}
            self._sites = sites
        return sites.get(stack_id)

    def of_goroutine(self, g):
        """The signature of one goroutine (a model.Goroutine)."""
        return self.of(g.stack_id, self.site_of_stack(g.stack_id),
                       g.wait_reason)

    def of_group(self, group):
        """The signature of a --by stack group (all members share its
        stack); None when its members' wait reasons differ."""
        if group.wait_reason == "(several)":
            return None
        return self.of(group.stack_id, group.site_index, group.wait_reason)


class SignatureGroup:
    """Goroutines of one snapshot that share a signature.

    signature, wait_reason (of the first member; None if none), site (the
    engine's site frame of its first stack, a model.Frame or None), count,
    worst_age_ns (the oldest member's age, None if no age is known),
    goids (every member, ascending), stack_ids (the distinct stacks)."""

    __slots__ = ("signature", "wait_reason", "site", "count",
                 "worst_age_ns", "goids", "stack_ids")

    def __init__(self, sig, wait_reason, site):
        self.signature = sig
        self.wait_reason = wait_reason or None
        self.site = site
        self.count = 0
        self.worst_age_ns = None
        self.goids = []
        self.stack_ids = []

    def _add(self, goids, age, stack_id):
        self.count += len(goids)
        self.goids.extend(goids)
        if age is not None and (self.worst_age_ns is None or
                                age > self.worst_age_ns):
            self.worst_age_ns = age
        if stack_id not in self.stack_ids:
            self.stack_ids.append(stack_id)

    def __repr__(self):
        return "SignatureGroup(%s %d %r)" % (self.signature, self.count,
                                             self.wait_reason)


def signature_groups(snap, filter=None):
    """[SignatureGroup] of a snapshot, biggest first (ties by signature):
    the engine's --by stack groups, merged when their signatures agree."""
    from .model import Filter
    signer = Signer(snap)
    out = {}

    def slot(sig, reason, site):
        sg = out.get(sig)
        if sg is None:
            sg = out[sig] = SignatureGroup(sig, reason, site)
        return sg

    for g in snap.group("stack", filter or Filter()):
        sig = signer.of_group(g)
        if sig is not None:
            rng = g.age_range
            slot(sig, g.wait_reason, g.site)._add(
                g.goids(), rng[1] if rng else None, g.stack_id)
            continue
        for m in g.goroutines():  # members of several wait reasons
            sig = signer.of(g.stack_id, g.site_index, m.wait_reason)
            slot(sig, m.wait_reason, g.site)._add([m.goid], m.age_ns,
                                                  g.stack_id)
    groups = list(out.values())
    for sg in groups:
        sg.goids.sort()
    groups.sort(key=lambda sg: (-sg.count, sg.signature))
    return groups


# ------------------------------------------------------- the module path

_BUILDINFO_MAGIC = b"\xff Go buildinf:"


def _uvarint(data, pos):
    v, shift = 0, 0
    while pos < len(data) and shift < 64:
        b = data[pos]
        pos += 1
        v |= (b & 0x7f) << shift
        if b < 0x80:
            return v, pos
        shift += 7
    raise ValueError("bad varint")


def _buildinfo_section(path):
    """The bytes of .go.buildinfo (at most 64 KiB), or None."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        shoff, = struct.unpack_from("<Q", head, 40)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", head, 58)
        if shentsize < 64 or shnum > 4096 or shstrndx >= shnum:
            return None
        f.seek(shoff)
        sh = f.read(shentsize * shnum)
        if len(sh) < shentsize * shnum:
            return None

        def section(i):
            return struct.unpack_from("<IIQQQQ", sh, i * shentsize)
        _, _, _, _, str_off, str_size = section(shstrndx)
        if str_size > (1 << 20):
            return None
        f.seek(str_off)
        names = f.read(str_size)
        for i in range(shnum):
            name_off, _, _, _, off, size = section(i)
            end = names.find(b"\0", name_off)
            if names[name_off:end] == b".go.buildinfo":
                f.seek(off)
                return f.read(min(size, 1 << 16))
    return None


def module_path(exe):
    """The main module's path ("example.com/app"), or "" when the
    executable has no readable build information (Go 1.18's inline
    format, which every supported Go version writes)."""
    if not exe:
        return ""
    try:
        data = _buildinfo_section(exe)
    except (OSError, struct.error):
        return ""
    if not data or not data.startswith(_BUILDINFO_MAGIC) or len(data) < 32:
        return ""
    if not data[15] & 2:
        return ""  # pointer format (Go < 1.18)
    try:
        n, pos = _uvarint(data, 32)
        pos += n  # the Go version
        n, pos = _uvarint(data, pos)
        info = data[pos:pos + n]
    except ValueError:
        return ""
    if len(info) >= 33 and info[-17:-16] == b"\n":
        info = info[16:-16]
    text = info.decode("utf-8", "replace")
    path = ""
    for line in text.split("\n"):
        parts = line.split("\t")
        if parts[0] == "mod" and len(parts) > 1:
            return parts[1]
        if parts[0] == "path" and len(parts) > 1:
            path = parts[1]
    return path
