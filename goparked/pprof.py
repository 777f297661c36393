"""A snapshot as a pprof goroutine profile (gzipped profile.proto).

The same shape as the runtime's own /debug/pprof/goroutine (runtime/pprof,
printCountProfile + profileBuilder), so `go tool pprof -top`, `-traces`,
`-raw` and `-http` treat a core like a live process:

- sample_type and period_type goroutine/count, period 1;
- one sample per distinct (stack, labels), its value the goroutine count;
  goparked adds three string labels of its own, `state`, `wait_reason`
  and `signature` (signature.py), so samples are also split by those (in
  practice a stack has one); with the leak verdict (--pprof with
  --verdict), `verdict` (its key: leaked, no_waker, lingering, blocked,
  unknown) on every judged goroutine and `leaked=true` on the leaked
  ones (leaked (proven) and leaked (no waker));
- one location per physical frame: its address is the frame's pc (a
  return address, as runtime.Callers gives), its lines the inlined calls
  innermost first and the physical function last (profile.proto: "the last
  entry represents the caller into which the preceding entries were
  inlined");
- one mapping for the executable, with has_functions etc. set so that
  pprof does not try to symbolize again.

The wire format is written by hand (stdlib only): the message and field
numbers are those of github.com/google/pprof/proto/profile.proto.
"""

import gzip
import io
import struct

__all__ = ["profile_bytes", "write_profile", "samples", "WAIT_REASON_LABEL",
           "STATE_LABEL", "SIGNATURE_LABEL", "LEAKED_LABEL", "VERDICT_LABEL"]

WAIT_REASON_LABEL = "wait_reason"
STATE_LABEL = "state"
SIGNATURE_LABEL = "signature"
LEAKED_LABEL = "leaked"
VERDICT_LABEL = "verdict"

# profile.proto field numbers.
_PROFILE_SAMPLE_TYPE = 1
_PROFILE_SAMPLE = 2
_PROFILE_MAPPING = 3
_PROFILE_LOCATION = 4
_PROFILE_FUNCTION = 5
_PROFILE_STRING_TABLE = 6
_PROFILE_TIME_NANOS = 9
_PROFILE_PERIOD_TYPE = 11
_PROFILE_PERIOD = 12
_PROFILE_COMMENT = 13

_VALUETYPE_TYPE, _VALUETYPE_UNIT = 1, 2
_SAMPLE_LOCATION_ID, _SAMPLE_VALUE, _SAMPLE_LABEL = 1, 2, 3
_LABEL_KEY, _LABEL_STR = 1, 2
(_MAPPING_ID, _MAPPING_START, _MAPPING_LIMIT, _MAPPING_OFFSET,
 _MAPPING_FILENAME, _MAPPING_BUILD_ID, _MAPPING_HAS_FUNCTIONS,
 _MAPPING_HAS_FILENAMES, _MAPPING_HAS_LINE_NUMBERS,
 _MAPPING_HAS_INLINE_FRAMES) = range(1, 11)
_LOCATION_ID, _LOCATION_MAPPING_ID, _LOCATION_ADDRESS, _LOCATION_LINE = \
    1, 2, 3, 4
_LINE_FUNCTION_ID, _LINE_LINE = 1, 2
_FUNCTION_ID, _FUNCTION_NAME, _FUNCTION_SYSTEM_NAME, _FUNCTION_FILENAME = \
    1, 2, 3, 4


# ------------------------------------------------------------ wire format

def _varint(v, out):
    v &= 0xFFFFFFFFFFFFFFFF  # int64 negatives are 10-byte two's complement
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


class _Msg:
    """One message being encoded: fields appended in order."""

    def __init__(self):
        self.b = bytearray()

    def uint(self, field, v):
        _varint(field << 3, self.b)
        _varint(v, self.b)
        return self

    def uint_opt(self, field, v):
        return self.uint(field, v) if v else self

    def bool_opt(self, field, v):
        return self.uint(field, 1) if v else self

    def packed(self, field, values):
        body = bytearray()
        for v in values:
            _varint(v, body)
        return self.bytes(field, body)

    def bytes(self, field, data):
        _varint((field << 3) | 2, self.b)
        _varint(len(data), self.b)
        self.b += data
        return self

    def msg(self, field, m):
        return self.bytes(field, m.b)


class _Strings:
    def __init__(self):
        self.table = [""]
        self.index = {"": 0}

    def __call__(self, s):
        s = s or ""
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.table)
            self.table.append(s)
        return i


# ------------------------------------------------------------ executable

def _elf_mapping(path):
    """(start, limit, file_offset, build_id, is_pie) of the executable's
    text segment from its ELF program headers, or None.

    The build id is the GNU one when the linker wrote it (pprof's choice,
    runtime/pprof/elf.go), else Go's own (.note.go.buildid)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None  # 64-bit little-endian only (linux/amd64)
            (e_type,) = struct.unpack_from("<H", head, 16)
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            if phentsize < 56 or phnum > 256:
                return None
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
            text, notes = None, []
            for i in range(phnum):
                p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = \
                    struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
                if p_type == 1 and p_flags & 1 and text is None:  # PT_LOAD X
                    text = (p_vaddr, p_vaddr + p_memsz, p_offset)
                elif p_type == 4 and p_filesz < (1 << 20):  # PT_NOTE
                    f.seek(p_offset)
                    notes.append(f.read(p_filesz))
    except (OSError, struct.error):
        return None
    if text is None:
        return None
    gnu, go = "", ""
    for data in notes:
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            pos += 12
            name = data[pos:pos + namesz].rstrip(b"\0")
            pos += (namesz + 3) & ~3
            desc = data[pos:pos + descsz]
            pos += (descsz + 3) & ~3
            if name == b"GNU" and ntype == 3:
                gnu = desc.hex()
            elif name == b"Go" and ntype == 4:
                go = desc.decode("utf-8", "replace")
    return text + (gnu or go, e_type == 3)


# ------------------------------------------------------------ samples

def samples(snap, grouping, verdict=None):
    """[(stack_id, labels dict, wait reason, state, signature, count)] for
    the goroutines of a grouping by stack, biggest first (the profile's
    samples, before encoding). verdict (a verdict.VerdictView): the
    labels also carry the leak verdict."""
    from ._native import NONE, STATUS_NAMES
    from .signature import Signer
    from .verdict import LEAKED
    signer = Signer(snap)
    key_of = verdict.key_of if verdict is not None else (lambda i: None)
    out = []
    for g in grouping.groups:
        split = {}
        for i in g.member_indexes():
            raw = snap._raw(i)
            k = (raw.labels, raw.waitreason_str, raw.status, key_of(i))
            split[k] = split.get(k, 0) + 1
        for (labels, reason, status, vkey), n in split.items():
            reason = snap.string(reason)
            lab = snap.labels(None if labels == NONE else labels)
            if vkey not in (None, "live"):
                lab = dict(lab)
                lab[VERDICT_LABEL] = vkey
                if vkey in LEAKED:
                    lab[LEAKED_LABEL] = "true"
            out.append((g.stack_id, lab,
                        reason,
                        STATUS_NAMES.get(status, "status%d" % status),
                        signer.of(g.stack_id, g.site_index, reason), n))
    out.sort(key=lambda s: -s[5])
    return out


def profile_bytes(snap, grouping, verdict=None):
    """The uncompressed profile.proto of a grouping by stack."""
    if grouping.by != "stack":
        raise ValueError("a goroutine profile is made from --by stack")
    prog = snap.program
    strings = _Strings()
    prof = _Msg()
    gc = _Msg().uint(_VALUETYPE_TYPE, strings("goroutine")) \
        .uint(_VALUETYPE_UNIT, strings("count"))
    prof.msg(_PROFILE_SAMPLE_TYPE, gc)

    functions = {}   # (name, file) -> id
    locations = {}   # (pc, lines) -> id
    loc_msgs, fn_msgs = [], []
    stack_locs = {}  # stack id -> [location id]
    all_symbolized = True
    pcs = []

    def function_id(name, file):
        key = (name, file)
        fid = functions.get(key)
        if fid is None:
            fid = functions[key] = len(functions) + 1
            fn_msgs.append(_Msg().uint(_FUNCTION_ID, fid)
                           .uint(_FUNCTION_NAME, strings(name))
                           .uint(_FUNCTION_SYSTEM_NAME, strings(name))
                           .uint_opt(_FUNCTION_FILENAME, strings(file)))
        return fid

    def location_id(pc, lines):
        key = (pc, tuple(lines))
        lid = locations.get(key)
        if lid is None:
            lid = locations[key] = len(locations) + 1
            m = _Msg().uint(_LOCATION_ID, lid) \
                .uint(_LOCATION_MAPPING_ID, 1).uint(_LOCATION_ADDRESS, pc)
            for fid, line in lines:
                m.msg(_LOCATION_LINE, _Msg().uint(_LINE_FUNCTION_ID, fid)
                      .uint_opt(_LINE_LINE, line))
            loc_msgs.append(m)
            pcs.append(pc)
        return lid

    def locs_of(stack_id):
        nonlocal all_symbolized
        ids = stack_locs.get(stack_id)
        if ids is not None:
            return ids
        ids, pending = [], []
        for f in snap.stack(stack_id):
            if f.func:
                pending.append((function_id(f.func, f.file), f.line))
            else:
                all_symbolized = False
            if not f.inlined:
                ids.append(location_id(f.pc, pending))
                pending = []
        if pending:  # a stack cut after an inlined frame
            ids.append(location_id(snap.stack(stack_id)[-1].pc, pending))
        stack_locs[stack_id] = ids
        return ids

    for stack_id, labels, reason, state, sig, count in samples(snap,
                                                               grouping,
                                                               verdict):
        s = _Msg().packed(_SAMPLE_LOCATION_ID, locs_of(stack_id)) \
            .packed(_SAMPLE_VALUE, [count])
        extra = [(STATE_LABEL, state), (SIGNATURE_LABEL, sig)]
        if reason:
            extra.append((WAIT_REASON_LABEL, reason))
        for k, v in sorted(labels.items()) + extra:
            s.msg(_SAMPLE_LABEL, _Msg().uint(_LABEL_KEY, strings(k))
                  .uint(_LABEL_STR, strings(v)))
        prof.msg(_PROFILE_SAMPLE, s)

    exe = prog.exe_path or ""
    elf = _elf_mapping(exe) if exe else None
    if elf and not elf[4]:
        start, limit, offset, build_id = elf[:4]
    else:
        # Position-independent or unreadable: the pcs seen, page-aligned.
        start = (min(pcs) & ~0xFFF) if pcs else 0
        limit = ((max(pcs) + 0x1000) & ~0xFFF) if pcs else 0
        offset, build_id = 0, (elf[3] if elf else "")
    mapping = _Msg().uint(_MAPPING_ID, 1).uint_opt(_MAPPING_START, start) \
        .uint_opt(_MAPPING_LIMIT, limit).uint_opt(_MAPPING_OFFSET, offset) \
        .uint_opt(_MAPPING_FILENAME, strings(exe)) \
        .uint_opt(_MAPPING_BUILD_ID, strings(build_id)) \
        .bool_opt(_MAPPING_HAS_FUNCTIONS, all_symbolized) \
        .bool_opt(_MAPPING_HAS_FILENAMES, all_symbolized) \
        .bool_opt(_MAPPING_HAS_LINE_NUMBERS, all_symbolized) \
        .bool_opt(_MAPPING_HAS_INLINE_FRAMES, all_symbolized)
    prof.msg(_PROFILE_MAPPING, mapping)
    for m in loc_msgs:
        prof.msg(_PROFILE_LOCATION, m)
    for m in fn_msgs:
        prof.msg(_PROFILE_FUNCTION, m)

    clock = snap.clock
    if clock.known and clock.unix_offset:
        prof.uint(_PROFILE_TIME_NANOS, clock.now + clock.unix_offset)
    prof.msg(_PROFILE_PERIOD_TYPE, gc)
    prof.uint(_PROFILE_PERIOD, 1)
    comment = "goparked: %s %s" % ("live" if prog.is_live else "core",
                                   prog.description)
    prof.packed(_PROFILE_COMMENT, [strings(comment)])
    # The string table last: every index above is known by now.
    for s in strings.table:
        # the target's bytes as they are (model.target_string)
        prof.bytes(_PROFILE_STRING_TABLE,
                   s.encode("utf-8", "surrogateescape"))
    return bytes(prof.b)


def write_profile(snap, grouping, path, verdict=False):
    """Write the gzipped profile to path ('-': standard output); verdict:
    with the leak verdict's labels."""
    view = None
    if verdict:
        from .verdict import VerdictView
        view = VerdictView(snap, grouping)
    data = profile_bytes(snap, grouping, view)
    buf = io.BytesIO()
    # mtime=0: the same snapshot gives the same bytes.
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as z:
        z.write(data)
    if path == "-":
        import sys
        sys.stdout.flush()
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return
    from .outfile import write_output
    write_output(path, buf.getvalue())
