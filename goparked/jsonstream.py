"""`goparked CORE --json` as a stream: the goparked/snapshot document of
schema.py, written piece by piece, never held as one object tree.

The goroutines, the bulk of it, are written by the engine
(native/src/analysis/json.c) in 64 KiB chunks, with the names (states,
flags, wait kinds) and each goroutine's signature given from here; the rest (head,
groups, stacks, threads) is small and written here. Memory stays bounded
by the chunks, the signatures (4 bytes a goroutine) and the number of
distinct stacks, whatever the number of goroutines.
The document is the one schema.snapshot_json describes (tests compare
them); only its layout differs (one goroutine, group or stack a line).
"""

import ctypes
import json
from array import array

from . import _native as N
from . import schema

__all__ = ["write_snapshot_json"]

CHUNK = 1 << 16

_enc = json.JSONEncoder(separators=(",", ":")).encode


class _Fields:
    """Chunks of the engine's goroutine array, a list per field."""

    def __init__(self, snap):
        self.n = len(snap)
        if not self.n:
            return
        size = ctypes.sizeof(N.Goroutine)
        buf = (ctypes.c_uint8 * (size * self.n)).from_address(
            ctypes.addressof(snap._array.contents))
        mv = memoryview(buf).cast("B")
        self.views = {"Q": mv.cast("Q"), "q": mv.cast("q"),
                      "I": mv.cast("I"), "i": mv.cast("i")}
        self.size = size
        self.fields = {}
        for name, ctype in N.Goroutine._fields_:
            fd = getattr(N.Goroutine, name)
            code = {ctypes.c_uint64: "Q", ctypes.c_int64: "q",
                    ctypes.c_uint32: "I", ctypes.c_int32: "i"}[ctype]
            width = 8 if code in "Qq" else 4
            self.fields[name] = (code, fd.offset // width, size // width)

    def chunk(self, name, start, end):
        code, off, stride = self.fields[name]
        v = self.views[code]
        return v[start * stride + off:end * stride:stride].tolist()


def _signatures(snap, fields, signer):
    """Per goroutine index, an index into the list of signatures."""
    sig_ids, sigs, by_key = array("I"), [], {}
    for start in range(0, fields.n, CHUNK):
        end = min(fields.n, start + CHUNK)
        for sid, wr in zip(fields.chunk("stack_id", start, end),
                           fields.chunk("waitreason_str", start, end)):
            k = (sid, wr)
            i = by_key.get(k)
            if i is None:
                stack = None if sid == N.NONE else sid
                sig = signer.of(stack, signer.site_of_stack(stack),
                                snap.string(wr))
                i = by_key[k] = len(sigs)
                sigs.append(sig)
            sig_ids.append(i)
    return sig_ids, sigs


def _group_signature(grouping, group, sig_ids, sigs):
    members, n = grouping._members()
    end = min(group._first + group.count, n)
    found = None
    for k in range(group._first, end):
        s = sig_ids[members[k]]
        if found is None:
            found = s
        elif s != found:
            return None
    return sigs[found] if found is not None else None


def write_snapshot_json(snap, grouping, out):
    """Writes the --json document of snap grouped as grouping to out."""
    from .signature import Signer
    fields = _Fields(snap)
    signer = Signer(snap)
    sig_ids, sigs = _signatures(snap, fields, signer) if fields.n \
        else (array("I"), [])
    total, system = snap.state_counts()
    w = out.write
    w('{"schema":%s,"version":%d,"program":%s,"clock":%s,"summary":%s,'
      '"grouping":%s,\n"groups":[' % (
          _enc(schema.SNAPSHOT_SCHEMA), schema.SCHEMA_VERSION,
          _enc(schema.program_json(snap.program)),
          _enc(schema.clock_json(snap.clock)),
          _enc({"goroutines": len(snap), "by_state": total,
                "system_by_state": system}),
          _enc({"by": grouping.by,
                "filter": schema.filter_json(grouping.filter),
                "goroutines": grouping.total})))
    stack_ids = set()
    for k, gr in enumerate(grouping.groups):
        if gr.stack_id is not None:
            stack_ids.add(gr.stack_id)
        w("%s\n%s" % ("," if k else "", _enc(schema.group_json(
            gr, signature=_group_signature(grouping, gr, sig_ids, sigs)))))
    w('],\n"goroutines":[')
    _write_goroutines(snap, fields, sig_ids, sigs, stack_ids, w)
    w('],\n"stacks":{')
    for k, sid in enumerate(sorted(stack_ids)):
        w('%s\n"%d":%s' % ("," if k else "", sid, _enc(
            [schema.frame_json(f) for f in snap.stack(sid)])))
    w('},\n"threads":%s}\n' % _enc(
        [schema.thread_json(t) for t in snap.threads()]))


def _c_names(table, n):
    arr = (ctypes.c_char_p * max(n, 1))()
    for k, v in table.items():
        if 0 <= k < n:
            arr[k] = v.encode()
    return arr


def _write_goroutines(snap, fields, sig_ids, sigs, stack_ids, w):
    """The goroutines, written by the engine's JSON writer
    (native/src/analysis/json.c) with the names defined here in Python."""
    for start in range(0, fields.n, CHUNK):
        end = min(fields.n, start + CHUNK)
        for name in ("stack_id", "creator_stack"):
            stack_ids.update(fields.chunk(name, start, end))
    stack_ids.discard(N.NONE)
    nstatus = max(N.STATUS_NAMES) + 1
    nkind = max(N.WAIT_KIND_NAMES) + 1
    flags = {bit.bit_length() - 1: name
             for bit, name in N.G_FLAG_NAMES.items()}
    sig_arr = (ctypes.c_char_p * max(len(sigs), 1))(
        *[s.encode() for s in sigs])
    sig_of = (ctypes.c_uint32 * max(len(sig_ids), 1)).from_buffer(sig_ids) \
        if len(sig_ids) else None
    names = N.JsonNames(
        status=_c_names(N.STATUS_NAMES, nstatus), nstatus=nstatus,
        flag=_c_names(flags, 32),
        wait_kind=_c_names(N.WAIT_KIND_NAMES, nkind), nwait_kind=nkind,
        sig_of=ctypes.cast(sig_of, ctypes.POINTER(ctypes.c_uint32))
        if sig_of is not None else None,
        sigs=sig_arr, nsigs=len(sigs), flag_system=N.G_SYSTEM,
        flag_locked=N.G_LOCKED, clock_known=int(snap.clock.known))
    failure = []

    def write(_arg, buf, size):
        try:
            w(ctypes.string_at(buf, size).decode("ascii"))
            return 0
        except BaseException as e:  # (BrokenPipe ...) raised again below
            failure.append(e)
            return 1

    cb = N.JSON_WRITE_FN(write)
    w("\n")
    err = N.lib().gp_snapshot_write_goroutines_json(
        snap._handle(), ctypes.byref(names), cb, None)
    if failure:
        try:
            N.lib().check(err)  # frees it
        except N.Error:
            pass
        raise failure[0]
    N.lib().check(err)
