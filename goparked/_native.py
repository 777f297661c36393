"""ctypes binding of native/include/goparked.h.

Every structure here mirrors the header field for field; tests/test_binding.py
compares each ctypes.sizeof and field offset with what the C compiler says.
This module only loads the library and converts errors; the friendly objects
are in goparked.model.
"""

import ctypes
import os
from ctypes import (POINTER, c_char_p, c_int, c_int32, c_int64, c_size_t,
                    c_uint32, c_uint64, c_void_p)

ABI_VERSION = 7
LIBNAME = "libgoparked.so"
NONE = 0xFFFFFFFF  # GP_NONE

# enum gp_error_code
ERROR_NAMES = {
    1: "NO_MEMORY", 2: "OS", 3: "INVALID_ARGUMENT", 4: "FORMAT", 5: "NOT_GO",
    6: "UNSUPPORTED", 7: "NO_DWARF", 8: "FAULT", 9: "MISMATCH", 10: "CORRUPT",
    11: "NOT_FOUND", 12: "PERMISSION", 13: "PROCESS", 14: "LIMIT",
    15: "INTERRUPTED", 16: "INCOMPLETE",
}

# enum gp_program_flags
PROGRAM_IS_CORE = 1 << 0
PROGRAM_IS_LIVE = 1 << 1
PROGRAM_HAS_DWARF = 1 << 2
PROGRAM_HAS_SYMTAB = 1 << 3
PROGRAM_LAYOUT_FROM_TABLE = 1 << 4

# enum gp_snapshot_options
SNAPSHOT_REFS = 1 << 0

# enum gp_attach_flags
ATTACH_NO_STOP = 1 << 0
ATTACH_RESUME_EARLY = 1 << 1

# enum gp_status
STATUS_NAMES = {
    0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting",
    6: "dead", 8: "copystack", 9: "preempted", 10: "leaked",
}
STATUS_BY_NAME = {v: k for k, v in STATUS_NAMES.items()}

# enum gp_goroutine_flags
G_FLAG_NAMES = {
    1 << 0: "system", 1 << 1: "scan", 1 << 2: "select", 1 << 3: "in_syscall",
    1 << 4: "on_thread", 1 << 5: "locked", 1 << 6: "stack_error",
    1 << 7: "truncated", 1 << 8: "no_stack",
}
G_SYSTEM = 1 << 0
G_SELECT = 1 << 2
G_LOCKED = 1 << 5

# enum gp_frame_flags
FRAME_INLINED = 1 << 0
FRAME_TRAP = 1 << 1
FRAME_NO_FUNC = 1 << 2
FRAME_WRAPPER = 1 << 3
FRAME_RUNTIME = 1 << 4

# enum gp_wait_kind
WAIT_KIND_NAMES = {1: "chan_recv", 2: "chan_send", 3: "chan", 4: "sema",
                   5: "cond"}

# enum gp_thread_flags
THREAD_CRASHED = 1 << 0
THREAD_IN_SIGNAL = 1 << 1

# enum gp_group_by
GROUP_BY = {"site": 0, "stack": 1, "chan": 2, "mutex": 3, "creator": 4,
            "label": 5, "age": 6}


class Error(Exception):
    """An error from libgoparked (or from loading it).

    code is the gp_error_code (an int; name gives its spelling, e.g.
    "NO_DWARF"), message the engine's text, errno and address where the
    engine set them (else 0).
    """

    def __init__(self, code, message, errno=0, address=0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errno = errno
        self.address = address

    @property
    def name(self):
        return ERROR_NAMES.get(self.code, str(self.code))

    def __repr__(self):
        return "goparked.Error(%s, %r)" % (self.name, self.message)


# Names for codes, as attributes: Error.NO_DWARF == 7.
for _code, _name in ERROR_NAMES.items():
    setattr(Error, _name, _code)
# Not an engine code: the library itself could not be loaded.
Error.NO_LIBRARY = -1


class Goroutine(ctypes.Structure):
    _fields_ = [
        ("goid", c_uint64),
        ("address", c_uint64),
        ("parent_goid", c_uint64),
        ("gopc", c_uint64),
        ("startpc", c_uint64),
        ("waitsince", c_int64),
        ("wait_address", c_uint64),
        ("pc", c_uint64),
        ("sp", c_uint64),
        ("stack_lo", c_uint64),
        ("stack_hi", c_uint64),
        ("m_address", c_uint64),
        ("status", c_uint32),
        ("raw_status", c_uint32),
        ("waitreason", c_int32),
        ("waitreason_str", c_uint32),
        ("stack_id", c_uint32),
        ("creator_stack", c_uint32),
        ("start_func", c_uint32),
        ("error_str", c_uint32),
        ("flags", c_uint32),
        ("thread", c_int32),
        ("labels", c_uint32),
        ("waiting_first", c_uint32),
        ("waiting_count", c_uint32),
        ("user_sp_offset", c_uint32),
    ]


class ThreadState(ctypes.Structure):
    _fields_ = [
        ("tid", c_uint64),
        ("pc", c_uint64),
        ("sp", c_uint64),
        ("bp", c_uint64),
        ("fs_base", c_uint64),
    ]


# typedef int gp_read_memory_fn(void *arg, uint64_t address, void *buf,
#                               size_t size);
READ_MEMORY_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_uint64, c_void_p,
                                  c_size_t)


class Frame(ctypes.Structure):
    _fields_ = [
        ("pc", c_uint64),
        ("entry", c_uint64),
        ("func", c_uint32),
        ("file", c_uint32),
        ("line", c_uint32),
        ("flags", c_uint32),
    ]


class Wait(ctypes.Structure):
    _fields_ = [
        ("object", c_uint64),
        ("sudog", c_uint64),
        ("kind", c_uint32),
        ("flags", c_uint32),
    ]


class Thread(ctypes.Structure):
    _fields_ = [
        ("tid", c_uint64),
        ("m_address", c_uint64),
        ("m_id", c_int64),
        ("curg_goid", c_uint64),
        ("pc", c_uint64),
        ("sp", c_uint64),
        ("bp", c_uint64),
        ("flags", c_uint32),
        ("signal", c_int32),
    ]


class CFrame(ctypes.Structure):
    _fields_ = [
        ("pc", c_uint64),
        ("func", ctypes.c_char * 128),
        ("file", ctypes.c_char * 256),
        ("line", c_uint32),
        ("module", ctypes.c_char * 128),
    ]


class Clock(ctypes.Structure):
    _fields_ = [
        ("now", c_int64),
        ("unix_offset", c_int64),
        ("source", c_uint32),
        ("exact", c_uint32),
    ]


class Filter(ctypes.Structure):
    _fields_ = [
        ("state_mask", c_uint32),
        ("include_system", c_uint32),
        ("min_age_ns", c_int64),
        ("func_regex", c_char_p),
        ("label_key", c_char_p),
        ("label_value", c_char_p),
        ("label_key_len", c_uint64),
        ("label_value_len", c_uint64),
    ]


class Group(ctypes.Structure):
    _fields_ = [
        ("key_address", c_uint64),
        ("key_str", c_uint32),
        ("waitreason_str", c_uint32),
        ("stack_id", c_uint32),
        ("site_frame", c_uint32),
        ("count", c_uint32),
        ("states", c_uint32),
        ("members_first", c_uint32),
        ("age_known", c_uint32),
        ("oldest_waitsince", c_int64),
        ("youngest_waitsince", c_int64),
    ]


class AgeBucket(ctypes.Structure):
    _fields_ = [
        ("below_ns", c_int64),
        ("name", c_char_p),
    ]


def u32_view(ptr, count, struct=None, field=None):
    """The engine's array at ptr as a memoryview of uint32, without a copy:
    the array itself (uint32_t *), or one uint32 field of each struct of
    an array of structs (a strided view). Empty when ptr is NULL."""
    if not ptr or not count:
        return memoryview(b"").cast("I")
    size = ctypes.sizeof(struct) if struct else 4
    buf = (ctypes.c_uint8 * (size * count)).from_address(
        ctypes.cast(ptr, c_void_p).value)
    view = memoryview(buf).cast("B").cast("I")
    if struct is None:
        return view
    off = getattr(struct, field).offset
    return view[off // 4::size // 4]


# --- JSON out (native/src/analysis/json.c)

JSON_WRITE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)


class JsonNames(ctypes.Structure):
    _fields_ = [
        ("status", POINTER(c_char_p)),
        ("nstatus", c_size_t),
        ("flag", POINTER(c_char_p)),
        ("wait_kind", POINTER(c_char_p)),
        ("nwait_kind", c_size_t),
        ("sig_keys", POINTER(c_uint64)),
        ("sig_of", POINTER(c_uint32)),
        ("nkeys", c_size_t),
        ("sigs", POINTER(c_char_p)),
        ("nsigs", c_size_t),
        ("flag_system", c_uint32),
        ("flag_locked", c_uint32),
        ("clock_known", c_uint32),
        ("reserved", c_uint32),
        ("verdicts", c_void_p),  # const struct gp_verdict_rec *
        ("nverdicts", c_size_t),
        ("verdict", POINTER(c_char_p)),
        ("nverdict", c_size_t),
        ("reason", POINTER(c_char_p)),
        ("nreason", c_size_t),
    ]


# --- channels, sync objects, deadlocks (chan.c, sema.c, holders.c, waitgraph.c)

OBJ_CHAN = 1
OBJ_KIND_NAMES = {0: "unknown", 1: "chan", 2: "mutex", 3: "rwmutex",
                  4: "waitgroup", 5: "cond", 6: "sema"}
ROLE_NAMES = {1: "recv", 2: "send", 3: "unknown", 4: "lock", 5: "rlock",
              6: "wait"}
EV_POINTER, EV_CONTAINER, EV_INDIRECT = 1, 2, 4
EV_LOCK_SITE, EV_GLOBAL_SITE, EV_CALLS_OP, EV_DEFER_UNLOCK = 8, 16, 32, 64
EVIDENCE_NAMES = {EV_POINTER: "pointer", EV_CONTAINER: "container",
                  EV_INDIRECT: "indirect", EV_LOCK_SITE: "lock-site",
                  EV_GLOBAL_SITE: "global-lock-site",
                  EV_CALLS_OP: "calls-op", EV_DEFER_UNLOCK: "deferred-unlock"}
CHAN_NIL, CHAN_CLOSED, CHAN_TIMER, CHAN_TIMER_UNKNOWN, CHAN_UNREADABLE = \
    1, 2, 4, 8, 16
SYNC_LOCKED, SYNC_WOKEN, SYNC_STARVING, SYNC_WRITER_PENDING, \
    SYNC_UNREADABLE = 1, 2, 4, 8, 16
HOLDER_STATUS_NAMES = {0: "unknown", 1: "found", 2: "not held",
                       3: "none by design", 4: "ambiguous", 5: "no decoder"}
STUCK_REASON_NAMES = {1: "nil channel", 2: "select {}",
                      3: "no other goroutine references it",
                      4: "no referencing goroutine has the waking operation"}

# enum gp_verdict: the verdict's words, the same in every output. KEYS are
# the JSON and script spelling, WORDS what people read.
VERDICT_LIVE, VERDICT_LEAKED, VERDICT_NO_WAKER, VERDICT_LINGERING, \
    VERDICT_BLOCKED, VERDICT_UNKNOWN = range(6)
VERDICT_KEYS = {0: "live", 1: "leaked", 2: "no_waker", 3: "lingering",
                4: "blocked", 5: "unknown"}
VERDICT_BY_KEY = {v: k for k, v in VERDICT_KEYS.items()}
VERDICT_WORDS = {0: "live", 1: "leaked (proven)", 2: "leaked (no waker)",
                 3: "lingering", 4: "blocked", 5: "unknown"}
# enum gp_verdict_reason
VERDICT_REASON_WORDS = {
    0: "",
    1: "a nil channel: nothing can wake it",
    2: "select {}: nothing can wake it",
    3: "nothing that can run reaches what it waits on",
    4: "the holder is itself leaked",
    5: "a full buffered channel that no goroutine holding it can receive from (its consumer is gone)",
    6: "a WaitGroup no goroutine holding it can call Done on",
    7: "only timers wake it, and what else it waits on can never become ready",
    8: "what it waits on is reachable",
    9: "a timer will wake it",
    10: "a wait the leak detector never reports",
    11: "what it waits on is a global or on a stack",
    12: "no heap model",
    13: "what it waits on lies in a heap span that cannot be trusted",
    14: "what it waits on could not be found",
}
VERDICT_REASON_KEYS = {
    0: None, 1: "nil_chan", 2: "select_empty", 3: "unreachable", 4: "holder_leaked",
    5: "no_consumer", 6: "no_decrement", 7: "timer_loop", 8: "reachable", 9: "timer",
    10: "not_judged", 11: "not_in_heap", 12: "no_heap", 13: "corrupt", 14: "no_wait_object",
}
# enum gp_path_kind
PATH_KIND_KEYS = {1: "global", 2: "stack", 3: "special", 4: "queue", 5: "goroutine",
                  6: "registers", 7: "unknown", 8: "object"}


class Waiter(ctypes.Structure):
    _fields_ = [
        ("sudog", c_uint64),
        ("goroutine", c_uint32),
        ("role", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32),
    ]


class Holder(ctypes.Structure):
    _fields_ = [
        ("object", c_uint64),
        ("slot", c_uint64),
        ("value", c_uint64),
        ("site_pc", c_uint64),
        ("offset", c_int64),
        ("goroutine", c_uint32),
        ("rank", c_uint32),
        ("evidence", c_uint32),
        ("frame", c_uint32),
        ("description", c_uint32),
        ("role", c_uint32),
    ]


class Chan(ctypes.Structure):
    _fields_ = [
        ("address", c_uint64),
        ("len", c_uint64),
        ("cap", c_uint64),
        ("elem_size", c_uint64),
        ("timer_when", c_int64),
        ("timer_period", c_int64),
        ("elem_type", c_uint32),
        ("flags", c_uint32),
        ("nrecv", c_uint32),
        ("nsend", c_uint32),
        ("nselect", c_uint32),
        ("waiters_first", c_uint32),
        ("nwaiters", c_uint32),
        ("wakers_first", c_uint32),
        ("nwakers", c_uint32),
        ("reserved", c_uint32),
    ]


class Sync(ctypes.Structure):
    _fields_ = [
        ("address", c_uint64),
        ("sema", c_uint64),
        ("state", c_uint64),
        ("counter", c_int64),
        ("readers", c_int64),
        ("kind", c_uint32),
        ("flags", c_uint32),
        ("state_waiters", c_uint32),
        ("holder_status", c_uint32),
        ("waiters_first", c_uint32),
        ("nwaiters", c_uint32),
        ("holders_first", c_uint32),
        ("nholders", c_uint32),
    ]


class Edge(ctypes.Structure):
    _fields_ = [
        ("object", c_uint64),
        ("from_", c_uint32),
        ("to", c_uint32),
        ("kind", c_uint32),
        ("holder", c_uint32),
    ]


class Cycle(ctypes.Structure):
    _fields_ = [
        ("edges_first", c_uint32),
        ("nedges", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32),
    ]


class Stuck(ctypes.Structure):
    _fields_ = [
        ("object", c_uint64),
        ("kind", c_uint32),
        ("reason", c_uint32),
        ("provable", c_uint32),
        ("waiters_first", c_uint32),
        ("nwaiters", c_uint32),
        ("reserved", c_uint32),
    ]


class Deadlocks(ctypes.Structure):
    _fields_ = [
        ("cycles", POINTER(Cycle)),
        ("ncycles", c_size_t),
        ("edges", POINTER(Edge)),
        ("nedges", c_size_t),
        ("stuck", POINTER(Stuck)),
        ("nstuck", c_size_t),
        ("waiters", POINTER(c_uint32)),
        ("nwaiters", c_size_t),
        ("truncated", c_uint32),
        ("reserved", c_uint32),
    ]


class HeapSummary(ctypes.Structure):
    _fields_ = [
        ("spans", c_uint64),
        ("slots", c_uint64),
        ("objects", c_uint64),
        ("bytes", c_uint64),
        ("corrupt_spans", c_uint64),
        ("problems", c_uint64),
        ("generation", c_uint32),
        ("nnotes", c_uint32),
    ]


class HeapObject(ctypes.Structure):
    _fields_ = [
        ("address", c_uint64),
        ("size", c_uint64),
        ("flags", c_uint32),
        ("reserved", c_uint32),
    ]


class PathStep(ctypes.Structure):
    _fields_ = [
        ("address", c_uint64),
        ("size", c_uint64),
        ("offset", c_uint64),
        ("kind", c_uint32),
        ("goroutine", c_uint32),
        ("name", c_uint32),
        ("local", c_uint32),
    ]


class VerdictRec(ctypes.Structure):
    _fields_ = [
        ("object", c_uint64),
        ("verdict", c_uint32),
        ("reason", c_uint32),
        ("path_first", c_uint32),
        ("path_len", c_uint32),
        ("holder", c_uint32),
        ("round", c_uint32),
    ]


NUM_VERDICTS = 6


class Verdicts(ctypes.Structure):
    _fields_ = [
        ("goroutines", POINTER(VerdictRec)),
        ("ngoroutines", c_size_t),
        ("counts", c_uint64 * NUM_VERDICTS),
        ("marked_objects", c_uint64),
        ("marked_bytes", c_uint64),
        ("heap_objects", c_uint64),
        ("rounds", c_uint32),
        ("heap_model", c_uint32),
        ("heap_error", c_uint32),
        ("conservative_frames", c_uint32),
        ("stack_errors", c_uint32),
        ("corrupt_spans", c_uint32),
        ("lingering_pass", c_uint32),
        ("reserved", c_uint32),
    ]


class GroupVerdicts(ctypes.Structure):
    _fields_ = [
        ("counts", c_uint64 * NUM_VERDICTS),
        ("uniform", c_uint32),
        ("verdict", c_uint32),
        ("reason", c_uint32),
        ("one_creator", c_uint32),
    ]


# Every mirrored struct, by its C name (used by the layout test).
STRUCTS = {
    "gp_goroutine": Goroutine,
    "gp_thread_state": ThreadState,
    "gp_frame": Frame,
    "gp_wait": Wait,
    "gp_thread": Thread,
    "gp_cframe": CFrame,
    "gp_clock": Clock,
    "gp_filter": Filter,
    "gp_group": Group,
    "gp_age_bucket": AgeBucket,
    "gp_waiter": Waiter,
    "gp_holder": Holder,
    "gp_chan": Chan,
    "gp_sync": Sync,
    "gp_edge": Edge,
    "gp_cycle": Cycle,
    "gp_stuck": Stuck,
    "gp_deadlocks": Deadlocks,
    "gp_heap_summary": HeapSummary,
    "gp_heap_object": HeapObject,
    "gp_json_names": JsonNames,
    "gp_path_step": PathStep,
    "gp_verdict_rec": VerdictRec,
    "gp_verdicts": Verdicts,
    "gp_group_verdicts": GroupVerdicts,
}

_p = c_void_p  # opaque handles
_perr = c_void_p

# name: (restype, argtypes)
_PROTOTYPES = {
    "gp_error_code": (c_int, [_perr]),
    "gp_error_message": (c_char_p, [_perr]),
    "gp_error_errno": (c_int, [_perr]),
    "gp_error_address": (c_uint64, [_perr]),
    "gp_error_destroy": (None, [_perr]),
    "gp_abi_version": (c_int, []),

    "gp_program_from_core": (_perr, [c_char_p, c_char_p, POINTER(_p)]),
    "gp_program_from_pid": (_perr, [c_int, c_char_p, c_uint32,
                                    POINTER(_p)]),
    "gp_program_from_callback": (_perr, [c_char_p, READ_MEMORY_FN, c_void_p,
                                         POINTER(_p)]),
    "gp_program_set_threads": (_perr, [_p, POINTER(ThreadState), c_size_t]),
    "gp_program_resume": (_perr, [_p]),
    "gp_program_pause_ns": (c_uint64, [_p]),
    "gp_program_destroy": (None, [_p]),
    "gp_program_go_version": (c_char_p, [_p]),
    "gp_program_exe_path": (c_char_p, [_p]),
    "gp_program_flags": (c_uint32, [_p]),
    "gp_program_read": (_perr, [_p, c_uint64, c_void_p, c_size_t]),
    "gp_program_c_frames": (_perr, [_p, c_uint64, POINTER(CFrame), c_size_t,
                                    POINTER(c_size_t)]),

    "gp_snapshot_take": (_perr, [_p, POINTER(_p)]),
    "gp_snapshot_take_with": (_perr, [_p, c_uint32, POINTER(_p)]),
    "gp_snapshot_destroy": (None, [_p]),
    "gp_snapshot_num_goroutines": (c_size_t, [_p]),
    "gp_snapshot_goroutines": (POINTER(Goroutine), [_p]),
    "gp_snapshot_find": (c_int64, [_p, c_uint64]),
    "gp_snapshot_count_states": (None, [_p, POINTER(c_uint64),
                                        POINTER(c_uint64)]),
    "gp_snapshot_string": (c_char_p, [_p, c_uint32]),
    "gp_snapshot_string_len": (c_void_p, [_p, c_uint32, POINTER(c_size_t),
                                          POINTER(c_uint64)]),
    "gp_snapshot_num_strings": (c_size_t, [_p]),
    "gp_snapshot_num_stacks": (c_size_t, [_p]),
    "gp_snapshot_stack": (POINTER(Frame), [_p, c_uint32, POINTER(c_uint32)]),
    "gp_snapshot_waits": (POINTER(Wait), [_p, POINTER(c_size_t)]),
    "gp_snapshot_threads": (POINTER(Thread), [_p, POINTER(c_size_t)]),
    "gp_snapshot_labels": (POINTER(c_uint32), [_p, c_uint32,
                                               POINTER(c_uint32)]),
    "gp_snapshot_clock": (None, [_p, POINTER(Clock)]),

    "gp_snapshot_group": (_perr, [_p, c_int, POINTER(Filter), POINTER(_p)]),
    "gp_grouping_destroy": (None, [_p]),
    "gp_grouping_groups": (POINTER(Group), [_p, POINTER(c_size_t)]),
    "gp_grouping_members": (POINTER(c_uint32), [_p, POINTER(c_size_t)]),
    "gp_age_buckets": (POINTER(AgeBucket), [POINTER(c_size_t)]),

    "gp_snapshot_chans": (_perr, [_p, POINTER(c_size_t), POINTER(POINTER(Chan))]),
    "gp_snapshot_chan_waiters": (POINTER(Waiter), [_p, POINTER(c_size_t)]),
    "gp_snapshot_chan": (_perr, [_p, c_uint64, POINTER(Chan)]),
    "gp_snapshot_syncs": (_perr, [_p, POINTER(c_size_t), POINTER(POINTER(Sync))]),
    "gp_snapshot_sync_waiters": (POINTER(Waiter), [_p, POINTER(c_size_t)]),
    "gp_snapshot_sync": (_perr, [_p, c_uint64, POINTER(Sync)]),
    "gp_snapshot_holders": (POINTER(Holder), [_p, POINTER(c_size_t)]),
    "gp_holder_wakes": (c_int, [POINTER(Holder), c_uint32]),
    "gp_snapshot_write_goroutines_json": (_perr, [_p, POINTER(JsonNames),
                                               JSON_WRITE_FN, c_void_p]),
    "gp_snapshot_sync_owners": (_perr, [_p, c_uint64, POINTER(c_uint32), POINTER(c_uint32),
                                        POINTER(POINTER(c_uint32)), POINTER(c_size_t)]),
    "gp_snapshot_deadlocks": (_perr, [_p, POINTER(Deadlocks)]),

    "gp_snapshot_heap": (_perr, [_p, POINTER(HeapSummary)]),
    "gp_snapshot_heap_note": (c_char_p, [_p, c_uint32, POINTER(c_uint64)]),
    "gp_snapshot_heap_objects": (_perr, [_p, POINTER(POINTER(HeapObject)), POINTER(c_size_t)]),
    "gp_snapshot_heap_pointers": (_perr, [_p, c_uint64, POINTER(c_uint64), c_size_t,
                                          POINTER(c_size_t)]),
    "gp_snapshot_verdicts": (_perr, [_p, POINTER(Verdicts)]),
    "gp_grouping_verdicts": (_perr, [_p, POINTER(Verdicts), POINTER(GroupVerdicts), c_size_t]),
    "gp_snapshot_verdict_path": (_perr, [_p, c_uint32, POINTER(POINTER(PathStep)),
                                         POINTER(c_size_t)]),
    "gp_snapshot_stack_pointers": (_perr, [_p, c_uint32, POINTER(c_uint64), c_size_t,
                                           POINTER(c_size_t)]),
}


def _candidates():
    env = os.environ.get("GOPARKED_LIB")
    if env:
        # An explicit choice is the only choice: a test run against the
        # sanitized engine must never quietly fall back to another build.
        return [env]
    # os.path, not pathlib: pathlib is a sixth of the import time of a
    # command that may run in 0.1 s
    here = os.path.dirname(os.path.realpath(__file__))
    return [os.path.join(here, LIBNAME),                          # installed
            os.path.join(os.path.dirname(here), "native", "build",
                         LIBNAME)]                                # checkout


class _Lib:
    """The loaded library; functions are attributes with prototypes set.

    A function missing from the library (an engine still being written)
    raises Error(UNSUPPORTED) when called, not when the library loads.
    """

    def __init__(self, path):
        self.path = str(path)
        self.cdll = ctypes.CDLL(self.path)
        self.missing = []
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(self.cdll, name)
            except AttributeError:
                self.missing.append(name)
                setattr(self, name, _missing(name, self.path))
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def check(self, err):
        """Turn a gp_error * into a raised Error (and free it)."""
        if not err:
            return
        try:
            code = self.gp_error_code(err)
            msg = self.gp_error_message(err)
            msg = msg.decode("utf-8", "replace") if msg else "unknown error"
            errno = self.gp_error_errno(err)
            address = self.gp_error_address(err)
        finally:
            self.gp_error_destroy(err)
        raise Error(code, msg, errno, address)


def _missing(name, path):
    def fn(*args):
        raise Error(Error.UNSUPPORTED,
                    "%s: %s is not implemented in this engine" % (path, name))
    fn.__name__ = name
    return fn


_lib = None


def lib():
    """The loaded libgoparked, loading it on first use."""
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        if not os.path.exists(path):
            tried.append(str(path))
            continue
        try:
            loaded = _Lib(path)
        except OSError as e:
            raise Error(Error.NO_LIBRARY, "cannot load %s: %s" % (path, e))
        if loaded.missing and "gp_abi_version" in loaded.missing:
            raise Error(Error.NO_LIBRARY, "%s is not libgoparked" % path)
        abi = loaded.gp_abi_version()
        if abi != ABI_VERSION:
            raise Error(Error.NO_LIBRARY,
                        "%s has ABI version %d, this package needs %d "
                        "(build the engine of this package with make, or "
                        "set GOPARKED_LIB to one that matches)"
                        % (path, abi, ABI_VERSION))
        _lib = loaded
        return _lib
    raise Error(Error.NO_LIBRARY,
                "cannot find %s (looked at %s; build it with make, or set "
                "GOPARKED_LIB)" % (LIBNAME, ", ".join(tried)))


def encode_path(path):
    """A path argument for the C side (bytes, as the OS spells it)."""
    return os.fsencode(path)
