/*
 * goparked: the public interface of libgoparked.
 *
 * The engine opens a Go program (a core file plus its executable, or a live
 * process), takes a snapshot of every goroutine and answers questions about
 * it. It returns facts and never prints. Every call that can fail returns a
 * gp_error (NULL on success) and writes its result through the last
 * parameter, named ret.
 *
 * All structures below are plain data with fixed-width fields so that the
 * Python binding (ctypes) can mirror them; their layout is part of the ABI
 * and GP_ABI_VERSION changes whenever it does.
 */
#ifndef GOPARKED_H
#define GOPARKED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GP_EXPORT __attribute__((visibility("default")))

/* 2: channels, sync objects, holders, deadlocks; 3: struct gp_cframe and
 * gp_program_c_frames (C frames of cgo threads); 4: gp_filter's label
 * key and value carry their lengths (a label may hold NULs); 5:
 * gp_snapshot_take_with (GP_SNAPSHOT_REFS); 6: gp_json_names' verdicts
 * (--json --verdict), gp_grouping_verdicts; 7: gp_group_verdicts
 * one_creator (was reserved). The binding refuses a
 * library of another version (goparked/_native.py lib()), and
 * tests/test_binding.py keeps a fingerprint of each version's layouts and
 * functions so that a change without a new version fails. */
#define GP_ABI_VERSION 7

/* ---------------------------------------------------------------- errors */

enum gp_error_code {
	GP_ERROR_NO_MEMORY = 1,
	GP_ERROR_OS = 2,            /* a system call failed; see errno */
	GP_ERROR_INVALID_ARGUMENT = 3,
	GP_ERROR_FORMAT = 4,        /* a file is not what it should be */
	GP_ERROR_NOT_GO = 5,        /* not a Go program */
	GP_ERROR_UNSUPPORTED = 6,   /* a Go version or layout we cannot read */
	GP_ERROR_NO_DWARF = 7,      /* DWARF needed and missing */
	GP_ERROR_FAULT = 8,         /* target memory not readable */
	GP_ERROR_MISMATCH = 9,      /* the core does not belong to the executable */
	GP_ERROR_CORRUPT = 10,      /* runtime data in the target is inconsistent */
	GP_ERROR_NOT_FOUND = 11,    /* no such goroutine, symbol, object */
	GP_ERROR_PERMISSION = 12,   /* not allowed (ptrace, file access) */
	GP_ERROR_PROCESS = 13,      /* the live process went away or misbehaved */
	GP_ERROR_LIMIT = 14,        /* a bound on untrusted data was exceeded */
	GP_ERROR_INTERRUPTED = 15,
	/* a live snapshot taken with GP_ATTACH_RESUME_EARLY needed memory
	 * outside what was copied while the process was stopped: take it
	 * again without the flag */
	GP_ERROR_INCOMPLETE = 16,
};

typedef struct gp_error gp_error;

GP_EXPORT int gp_error_code(const gp_error *err);
GP_EXPORT const char *gp_error_message(const gp_error *err);
/* errno for GP_ERROR_OS and friends, else 0. */
GP_EXPORT int gp_error_errno(const gp_error *err);
/* Target address for GP_ERROR_FAULT, else 0. */
GP_EXPORT uint64_t gp_error_address(const gp_error *err);
GP_EXPORT void gp_error_destroy(gp_error *err);

GP_EXPORT int gp_abi_version(void);

/* --------------------------------------------------------------- programs */

typedef struct gp_program gp_program;

/* Open a core file and the executable it came from. */
GP_EXPORT gp_error *gp_program_from_core(const char *core_path,
					 const char *exe_path,
					 gp_program **ret);

/*
 * Attach to a live process, stop all its threads, and keep them stopped
 * until gp_program_resume() or gp_program_destroy(). exe_path may be NULL
 * (then /proc/PID/exe). The engine never writes to the target.
 *
 * With GP_ATTACH_NO_STOP the engine does not ptrace: the caller (a
 * debugger that has the process stopped) guarantees it is stopped, and the
 * engine only reads /proc/PID/mem and the threads' registers it is given
 * through gp_program_set_threads().
 *
 * With GP_ATTACH_RESUME_EARLY, gp_snapshot_take() lets the process run
 * again as soon as it has what it reads of the process: the copy taken
 * when it stopped (every g, the live part of every stack, the first
 * sudogs) and the runtime's few other structures (Ms, the semaphore
 * table, the clock), and walks the goroutines afterwards, from the copy
 * alone. If the walk needs anything else (labels, a deep stack, a
 * select's other cases), the snapshot fails with GP_ERROR_INCOMPLETE,
 * never mixing memory of two moments; take it again without the flag.
 */
enum gp_attach_flags {
	GP_ATTACH_NO_STOP = 1 << 0,
	GP_ATTACH_RESUME_EARLY = 1 << 1,
};
GP_EXPORT gp_error *gp_program_from_pid(int pid, const char *exe_path,
					uint32_t flags, gp_program **ret);

/* Memory supplied by the host (a debugger on a remote target). Returns 0 on
 * success, else an errno value. */
typedef int gp_read_memory_fn(void *arg, uint64_t address, void *buf,
			      size_t size);
GP_EXPORT gp_error *gp_program_from_callback(const char *exe_path,
					     gp_read_memory_fn *read,
					     void *arg, gp_program **ret);

/* Thread registers from the host, for programs opened with
 * GP_ATTACH_NO_STOP or from a callback (replaces any known threads). */
struct gp_thread_state {
	uint64_t tid;
	uint64_t pc, sp, bp;
	uint64_t fs_base;
};
GP_EXPORT gp_error *gp_program_set_threads(gp_program *prog,
					   const struct gp_thread_state *threads,
					   size_t count);

/* Detach from a live process (no-op for a core). Idempotent. */
GP_EXPORT gp_error *gp_program_resume(gp_program *prog);
/* Nanoseconds a live process has been held stopped (0 for a core). */
GP_EXPORT uint64_t gp_program_pause_ns(const gp_program *prog);

GP_EXPORT void gp_program_destroy(gp_program *prog);

/* "go1.26.8"; never NULL once opened. */
GP_EXPORT const char *gp_program_go_version(const gp_program *prog);
GP_EXPORT const char *gp_program_exe_path(const gp_program *prog);
enum gp_program_flags {
	GP_PROGRAM_IS_CORE = 1 << 0,
	GP_PROGRAM_IS_LIVE = 1 << 1,
	GP_PROGRAM_HAS_DWARF = 1 << 2,
	GP_PROGRAM_HAS_SYMTAB = 1 << 3,
	GP_PROGRAM_LAYOUT_FROM_TABLE = 1 << 4, /* offsets from built-in tables */
};
GP_EXPORT uint32_t gp_program_flags(const gp_program *prog);

/* A frame of C code (cgo, libc): what libdw unwinds from a thread's
 * registers and symbolises from the executable's and the shared objects'
 * own symbols and DWARF (empty strings where they have none). */
struct gp_cframe {
	uint64_t pc;
	char func[128];
	char file[256];
	uint32_t line;
	char module[128];
};
/* The C frames of thread tid, innermost first, up to the first Go frame
 * or max; *ret_n gets the count (0: the thread is in Go code). Shared
 * objects are found through a core's NT_FILE note (kernel cores). */
GP_EXPORT gp_error *gp_program_c_frames(gp_program *prog, uint64_t tid,
					struct gp_cframe *frames, size_t max,
					size_t *ret_n);

/* Read target memory (for tests and debugger front ends). */
GP_EXPORT gp_error *gp_program_read(gp_program *prog, uint64_t address,
				    void *buf, size_t size);

/* -------------------------------------------------------------- snapshot */

/* Goroutine status, as the runtime numbers it (with _Gscan masked off). */
enum gp_status {
	GP_STATUS_IDLE = 0,
	GP_STATUS_RUNNABLE = 1,
	GP_STATUS_RUNNING = 2,
	GP_STATUS_SYSCALL = 3,
	GP_STATUS_WAITING = 4,
	GP_STATUS_DEAD = 6,
	GP_STATUS_COPYSTACK = 8,
	GP_STATUS_PREEMPTED = 9,
	GP_STATUS_LEAKED = 10,
};

enum gp_goroutine_flags {
	GP_G_SYSTEM = 1 << 0,       /* runtime goroutine (isSystemGoroutine) */
	GP_G_SCAN = 1 << 1,         /* _Gscan bit was set */
	GP_G_SELECT = 1 << 2,       /* blocked in select */
	GP_G_IN_SYSCALL = 1 << 3,   /* unwound from syscallsp/syscallpc */
	GP_G_ON_THREAD = 1 << 4,    /* currently the curg of an M */
	GP_G_LOCKED = 1 << 5,       /* locked to its thread (LockOSThread) */
	GP_G_STACK_ERROR = 1 << 6,  /* unwinding stopped early; see error */
	GP_G_TRUNCATED = 1 << 7,    /* stack deeper than the frame limit */
	GP_G_NO_STACK = 1 << 8,     /* running elsewhere; no stack available */
};
/* Bits 16 and up of gp_goroutine.flags are the engine's own (what a pass
 * remembers for a later one): they name nothing. */

#define GP_NONE UINT32_C(0xffffffff)

/* One goroutine. Strings are ids into gp_snapshot_string(); 0 is "". */
struct gp_goroutine {
	uint64_t goid;
	uint64_t address;       /* the runtime.g */
	uint64_t parent_goid;   /* 0 when the version does not record it */
	uint64_t gopc;          /* PC of the go statement that created it */
	uint64_t startpc;       /* entry of its function */
	int64_t waitsince;      /* runtime nanotime; 0 = never stamped */
	uint64_t wait_address;  /* channel or semaphore it waits on, or 0 */
	uint64_t pc;            /* where the unwinding started */
	uint64_t sp;
	uint64_t stack_lo, stack_hi;
	uint64_t m_address;     /* runtime.m it runs on, or 0 */
	uint32_t status;        /* enum gp_status */
	uint32_t raw_status;
	int32_t waitreason;     /* the runtime's enum value, -1 unknown */
	uint32_t waitreason_str;
	uint32_t stack_id;      /* gp_snapshot_stack(), GP_NONE if none */
	uint32_t creator_stack; /* stack id of the creator location, GP_NONE */
	uint32_t start_func;    /* string id of startpc's function */
	uint32_t error_str;     /* why this goroutine is incomplete, or 0 */
	uint32_t flags;         /* enum gp_goroutine_flags */
	int32_t thread;         /* index into gp_snapshot_threads(), -1 */
	uint32_t labels;        /* label set id, GP_NONE if no labels */
	uint32_t waiting_first; /* index into gp_snapshot_waits(), GP_NONE */
	uint32_t waiting_count;
	/* where the user's own frames begin: sp + user_sp_offset is the sp of
	 * the first frame outside the runtime and sync; 0 if there is none */
	uint32_t user_sp_offset;
};

enum gp_frame_flags {
	GP_FRAME_INLINED = 1 << 0,  /* a logical frame inlined into the next */
	GP_FRAME_TRAP = 1 << 1,     /* pc is the faulting instruction itself */
	GP_FRAME_NO_FUNC = 1 << 2,  /* pc not in any known function */
	/* What the runtime's own traceback (GOTRACEBACK=single/all,
	 * runtime.Stack, pprof debug=2) makes of the frame's function,
	 * runtime/traceback.go showfuncinfo, by the target's Go version: */
	GP_FRAME_WRAPPER = 1 << 3,  /* funcID wrapper (a .gowrapN go-statement
				     * closure, a method wrapper): hidden
				     * unless the frame above is a panic */
	GP_FRAME_RUNTIME = 1 << 4,  /* internal to the runtime (no package, or
				     * runtime.* and not exported): hidden,
				     * except runtime.gopanic below a shown
				     * frame */
};

/* One logical frame; inlined calls each get their own frame. */
struct gp_frame {
	uint64_t pc;        /* physical pc of the frame (shared by inlined ones) */
	uint64_t entry;     /* entry of the physical function */
	uint32_t func;      /* string id of the function name */
	uint32_t file;      /* string id */
	uint32_t line;
	uint32_t flags;     /* enum gp_frame_flags */
};

enum gp_wait_kind {
	GP_WAIT_CHAN_RECV = 1,
	GP_WAIT_CHAN_SEND = 2,
	GP_WAIT_CHAN_UNKNOWN = 3, /* a select case whose queue was not found */
	GP_WAIT_SEMA = 4,
	GP_WAIT_COND = 5,
};

/* An object a goroutine waits on (a goroutine in select has several). */
struct gp_wait {
	uint64_t object;   /* hchan, semaphore address, notifyList */
	uint64_t sudog;
	uint32_t kind;     /* enum gp_wait_kind */
	uint32_t flags;    /* 1 = sudog.isSelect */
};

enum gp_thread_flags {
	GP_THREAD_CRASHED = 1 << 0,  /* the thread that took the fatal signal */
	GP_THREAD_IN_SIGNAL = 1 << 1,
};

struct gp_thread {
	uint64_t tid;
	uint64_t m_address;   /* 0 if no M matches */
	int64_t m_id;
	uint64_t curg_goid;   /* 0 if none */
	uint64_t pc, sp, bp;
	uint32_t flags;
	int32_t signal;       /* pending/fatal signal from the core, 0 if none */
};

typedef struct gp_snapshot gp_snapshot;

/* Walk every goroutine. A goroutine that cannot be read still gets a record
 * with error_str set; only a failure to find the goroutine list fails. */
GP_EXPORT gp_error *gp_snapshot_take(gp_program *prog, gp_snapshot **ret);

enum gp_snapshot_options {
	/* Collect, while the stack pass has each stack's top at hand, the
	 * words of the user's frames the reference scan (holders of sync
	 * objects, wakers of channels) looks at, so that it does not read
	 * every stack a second time. The same answers either way; only the
	 * views that ask for holders or wakers gain (a million goroutines:
	 * a second pass over gigabytes of stack pages), and the others would
	 * only pay for it. */
	GP_SNAPSHOT_REFS = 1 << 0,
};

/* gp_snapshot_take with enum gp_snapshot_options. */
GP_EXPORT gp_error *gp_snapshot_take_with(gp_program *prog, uint32_t options,
					  gp_snapshot **ret);
GP_EXPORT void gp_snapshot_destroy(gp_snapshot *snap);

GP_EXPORT size_t gp_snapshot_num_goroutines(const gp_snapshot *snap);
/* Sorted by goid. Valid until gp_snapshot_destroy. */
GP_EXPORT const struct gp_goroutine *
gp_snapshot_goroutines(const gp_snapshot *snap);
/* Index of goid in the array, or -1. */
GP_EXPORT int64_t gp_snapshot_find(const gp_snapshot *snap, uint64_t goid);
/* Goroutines per status (index: the status, values past 255 count in
 * 255), all and the system ones (GP_G_SYSTEM) alone. */
GP_EXPORT void gp_snapshot_count_states(const gp_snapshot *snap,
					uint64_t all[256],
					uint64_t system[256]);

/* A string of the snapshot, NUL-terminated: a C string up to its first
 * NUL. Strings read from the target are bytes, with NULs and invalid
 * UTF-8 kept: gp_snapshot_string_len() gives their count (*ret_len) and
 * the string's real length in the target (*ret_full, NULL allowed), more
 * than *ret_len when the engine kept only the first bytes of a string
 * over its read limit (GP_MAX_STRING_LEN). */
GP_EXPORT const char *gp_snapshot_string(const gp_snapshot *snap,
					 uint32_t id);
GP_EXPORT const char *gp_snapshot_string_len(const gp_snapshot *snap,
					     uint32_t id, size_t *ret_len,
					     uint64_t *ret_full);
#define GP_MAX_STRING_LEN (1u << 20)
GP_EXPORT size_t gp_snapshot_num_strings(const gp_snapshot *snap);

/* Interned stacks: identical frame lists share one id (innermost first). */
GP_EXPORT size_t gp_snapshot_num_stacks(const gp_snapshot *snap);
GP_EXPORT const struct gp_frame *gp_snapshot_stack(const gp_snapshot *snap,
						   uint32_t stack_id,
						   uint32_t *ret_nframes);

GP_EXPORT const struct gp_wait *gp_snapshot_waits(const gp_snapshot *snap,
						  size_t *ret_count);

GP_EXPORT const struct gp_thread *gp_snapshot_threads(const gp_snapshot *snap,
						      size_t *ret_count);

/* Label sets: pairs of string ids (key, value), sorted by key. */
GP_EXPORT const uint32_t *gp_snapshot_labels(const gp_snapshot *snap,
					     uint32_t labels_id,
					     uint32_t *ret_npairs);

/*
 * Runtime clock estimate for "now" (nanotime) in this snapshot, with the
 * source it came from (a string id) and whether it is exact (live process)
 * or a lower bound (core). 0 when unknown.
 */
struct gp_clock {
	int64_t now;          /* runtime nanotime */
	int64_t unix_offset;  /* unix ns = now + unix_offset; 0 if unknown */
	uint32_t source;      /* string id */
	uint32_t exact;
};
GP_EXPORT void gp_snapshot_clock(const gp_snapshot *snap,
				 struct gp_clock *ret);

/* -------------------------------------------------------------- grouping */

enum gp_group_by {
	GP_BY_SITE = 0,     /* wait reason + first user frame */
	GP_BY_STACK = 1,    /* identical stacks */
	GP_BY_CHAN = 2,
	GP_BY_MUTEX = 3,
	GP_BY_CREATOR = 4,
	GP_BY_LABEL = 5,
	GP_BY_AGE = 6,
};

struct gp_filter {
	uint32_t state_mask;    /* bit (1 << gp_status); 0 = all */
	uint32_t include_system;
	int64_t min_age_ns;     /* 0 = no limit */
	const char *func_regex; /* POSIX ERE on any frame's function, or NULL */
	/* goroutines with the label label_key (label_key_len bytes, NULs
	 * allowed) whose value is label_value_len bytes at label_value (any
	 * value when label_value is NULL); no label filter when label_key is
	 * NULL */
	const char *label_key;
	const char *label_value;
	uint64_t label_key_len;
	uint64_t label_value_len;
};

struct gp_group {
	uint64_t key_address;   /* channel/mutex address for those groupings */
	uint32_t key_str;       /* string id naming the key (site, label...) */
	uint32_t waitreason_str;/* the members' wait reason, or "(several)" */
	uint32_t stack_id;      /* a representative stack */
	uint32_t site_frame;    /* index of the site frame in that stack */
	uint32_t count;
	uint32_t states;        /* bit (1 << gp_status) per member state */
	uint32_t members_first; /* into gp_grouping_members() */
	uint32_t age_known;     /* members with a waitsince */
	int64_t oldest_waitsince;   /* smallest non-zero waitsince, 0 if none */
	int64_t youngest_waitsince;
};

typedef struct gp_grouping gp_grouping;

/* The buckets of GP_BY_AGE, youngest first: a bucket holds the ages (now
 * minus waitsince) below its below_ns and at or above the previous one's;
 * the last is open (INT64_MAX). A goroutine whose age is unknown is in
 * none: its group is named GP_AGE_UNKNOWN. The one definition (front ends
 * take it from here). */
struct gp_age_bucket {
	int64_t below_ns;
	const char *name;
};
#define GP_NUM_AGE_BUCKETS 5
#define GP_AGE_UNKNOWN "age unknown"
GP_EXPORT const struct gp_age_bucket *gp_age_buckets(size_t *ret_count);

GP_EXPORT gp_error *gp_snapshot_group(gp_snapshot *snap, int by,
				      const struct gp_filter *filter,
				      gp_grouping **ret);
GP_EXPORT void gp_grouping_destroy(gp_grouping *grouping);
/* Groups biggest first, ties by oldest waitsince, then by key. */
GP_EXPORT const struct gp_group *gp_grouping_groups(const gp_grouping *g,
						    size_t *ret_count);
/* Goroutine indexes (into gp_snapshot_goroutines), grouped, each group's
 * members sorted by goid. */
GP_EXPORT const uint32_t *gp_grouping_members(const gp_grouping *g,
					      size_t *ret_count);


/* ------------------------------------- channels, sync objects, deadlocks */

/*
 * Analyses of what goroutines wait on (analysis/: chan.c, sync.c, holders.c,
 * waitgraph.c). Each is computed on first use and kept with the snapshot;
 * every array stays valid until gp_snapshot_destroy.
 *
 * gp_snapshot_take already attributes semaphore waits: goroutines blocked
 * in semacquire (Mutex, RWMutex, WaitGroup; found in runtime.semtable,
 * since before Go 1.26 g.waiting is nil for them) and in sync.Cond.Wait
 * (found on the Cond's notifyList) get a gp_wait of kind GP_WAIT_SEMA or
 * GP_WAIT_COND whose object is the semaphore (or notifyList) address, and
 * wait_address is set to it. The direction of a plain channel wait comes
 * from its wait reason; the direction of each select case is resolved by
 * gp_snapshot_chans (which queue of the channel holds the sudog).
 */

enum gp_object_kind {
	GP_OBJ_UNKNOWN = 0,
	GP_OBJ_CHAN = 1,
	GP_OBJ_MUTEX = 2,
	GP_OBJ_RWMUTEX = 3,
	GP_OBJ_WAITGROUP = 4,
	GP_OBJ_COND = 5,
	GP_OBJ_SEMA = 6,          /* a semaphore of no known sync type */
};

enum gp_waiter_role {
	GP_ROLE_RECV = 1,
	GP_ROLE_SEND = 2,
	GP_ROLE_UNKNOWN = 3,      /* a select case found in neither queue */
	GP_ROLE_LOCK = 4,         /* Mutex.Lock, RWMutex.Lock */
	GP_ROLE_RLOCK = 5,
	GP_ROLE_WAIT = 6,         /* WaitGroup.Wait, Cond.Wait, a semaphore */
};

/* A goroutine blocked on a channel or sync object. */
struct gp_waiter {
	uint64_t sudog;
	uint32_t goroutine;       /* index into gp_snapshot_goroutines */
	uint32_t role;            /* enum gp_waiter_role */
	uint32_t flags;           /* 1 = in select */
	uint32_t reserved;
};

/* Evidence for a probable holder (sync objects) or waker (channels). */
enum gp_evidence_flags {
	GP_EV_POINTER = 1 << 0,   /* a stack slot holds the object's address */
	GP_EV_CONTAINER = 1 << 1, /* ...the address of an object containing it */
	GP_EV_INDIRECT = 1 << 2,  /* ...a pointer to an object holding its address */
	GP_EV_LOCK_SITE = 1 << 3, /* the frame's function locks that field
				   * (of that pointer) before its pc */
	GP_EV_GLOBAL_SITE = 1 << 4, /* the frame's function locks the object
				     * by its absolute address before its pc */
	GP_EV_CALLS_OP = 1 << 5,  /* a function on its stack calls the channel
				   * operation that would wake the waiters */
	GP_EV_DEFER_UNLOCK = 1 << 6, /* the frame has a deferred Unlock (or
				      * RUnlock) of the object pending */
};

struct gp_holder {
	uint64_t object;          /* the channel or sync object */
	uint64_t slot;            /* stack address of the slot, 0 if none */
	uint64_t value;           /* the word found there */
	uint64_t site_pc;         /* the locking instruction, 0 if none */
	int64_t offset;           /* object - value for GP_EV_CONTAINER */
	uint32_t goroutine;       /* index into gp_snapshot_goroutines */
	uint32_t rank;            /* 1 = best; equal ranks are equally likely;
				   * 0: a candidate of an undecided (ambiguous)
				   * Mutex/RWMutex holder */
	uint32_t evidence;        /* enum gp_evidence_flags */
	uint32_t frame;           /* index into its stack, GP_NONE */
	uint32_t description;     /* string id: the evidence in words */
	uint32_t role;            /* sync objects: GP_ROLE_LOCK (holds the
				   * Mutex, or RWMutex for writing),
				   * GP_ROLE_RLOCK (a reader); channels 0 */
};

enum gp_chan_flags {
	GP_CHAN_NIL = 1 << 0,     /* the waiters' channel is nil (address 0) */
	GP_CHAN_CLOSED = 1 << 1,
	GP_CHAN_TIMER = 1 << 2,   /* the C of a time.Timer or time.Ticker */
	GP_CHAN_TIMER_UNKNOWN = 1 << 3, /* time.Time channel, timer not found */
	GP_CHAN_UNREADABLE = 1 << 4,    /* the hchan could not be read */
};

struct gp_chan {
	uint64_t address;
	uint64_t len, cap;        /* qcount, dataqsiz */
	uint64_t elem_size;
	int64_t timer_when;       /* nanotime of the next fire, 0 if unknown */
	int64_t timer_period;     /* ns; 0 for a one-shot timer or unknown */
	uint32_t elem_type;       /* string id ("main.Order"), 0 if unknown */
	uint32_t flags;           /* enum gp_chan_flags */
	uint32_t nrecv, nsend;    /* blocked receivers and senders */
	uint32_t nselect;         /* of the waiters, those in a select */
	uint32_t waiters_first;   /* into gp_snapshot_chan_waiters */
	uint32_t nwaiters;
	uint32_t wakers_first;    /* into gp_snapshot_holders, once the */
	uint32_t nwakers;         /* reference scan ran (see below) */
	uint32_t reserved;
};

/* Every channel some goroutine waits on (nil channels as one entry at
 * address 0), most waiters first, then by address. */
GP_EXPORT gp_error *gp_snapshot_chans(gp_snapshot *snap, size_t *ret_count,
				      const struct gp_chan **ret);
GP_EXPORT const struct gp_waiter *
gp_snapshot_chan_waiters(const gp_snapshot *snap, size_t *ret_count);
/* One channel, also one nobody waits on; runs the reference scan so that
 * the possible wakers are filled in. GP_ERROR_FAULT if unreadable. */
GP_EXPORT gp_error *gp_snapshot_chan(gp_snapshot *snap, uint64_t address,
				     struct gp_chan *ret);

enum gp_sync_flags {
	GP_SYNC_LOCKED = 1 << 0,  /* Mutex (or RWMutex.w) locked */
	GP_SYNC_WOKEN = 1 << 1,
	GP_SYNC_STARVING = 1 << 2,
	GP_SYNC_WRITER_PENDING = 1 << 3, /* RWMutex readerCount < 0 */
	GP_SYNC_UNREADABLE = 1 << 4,
};

enum gp_holder_status {
	GP_HOLDER_UNKNOWN = 0,    /* no goroutine's stack gives evidence */
	GP_HOLDER_FOUND = 1,      /* see holders, best rank first */
	GP_HOLDER_NOT_HELD = 2,   /* the object is not locked */
	GP_HOLDER_NONE = 3,       /* WaitGroup, Cond: no owner by design;
				   * holders lists possible wakers */
	GP_HOLDER_AMBIGUOUS = 4,  /* unknown: the evidence names several
				   * goroutines that cannot all hold it;
				   * holders lists them, none preferred */
	GP_HOLDER_NO_DECODER = 5, /* unknown: no instruction decoder for
				   * this architecture, so no code evidence */
};

struct gp_sync {
	uint64_t address;         /* the object: &mu, &rw, &wg, &cond */
	uint64_t sema;            /* the semaphore (or notifyList) waited on */
	uint64_t state;           /* Mutex state, WaitGroup state word */
	int64_t counter;          /* WaitGroup counter; RWMutex readerCount */
	int64_t readers;          /* RWMutex: readers holding the read lock
				   * (readerWait while a writer is pending) */
	uint32_t kind;            /* enum gp_object_kind */
	uint32_t flags;           /* enum gp_sync_flags */
	uint32_t state_waiters;   /* waiters the object counts (Mutex
				   * state>>3, WaitGroup low word) */
	uint32_t holder_status;   /* enum gp_holder_status */
	uint32_t waiters_first;   /* into gp_snapshot_sync_waiters */
	uint32_t nwaiters;
	uint32_t holders_first;   /* into gp_snapshot_holders */
	uint32_t nholders;
};

/* Every sync object some goroutine waits on, with decoded state and
 * probable holders (runs the reference scan: every goroutine's used
 * stack [sp, hi) is read once). Most waiters first, then by address. */
GP_EXPORT gp_error *gp_snapshot_syncs(gp_snapshot *snap, size_t *ret_count,
				      const struct gp_sync **ret);
GP_EXPORT const struct gp_waiter *
gp_snapshot_sync_waiters(const gp_snapshot *snap, size_t *ret_count);
/* One object by its address or its semaphore's; GP_ERROR_NOT_FOUND if no
 * goroutine waits on it. */
GP_EXPORT gp_error *gp_snapshot_sync(gp_snapshot *snap, uint64_t address,
				     struct gp_sync *ret);
/*
 * The owners of the Mutex or RWMutex at address (or its semaphore's), as
 * decided: *ret_status GP_HOLDER_FOUND with one writer (*ret_writer a
 * goroutine index) or readers (*ret_readers, *ret_nreaders; valid until
 * gp_snapshot_destroy); any other status names nobody (writer GP_NONE, no
 * readers). What the leak verdict follows: waiters on a mutex whose owner
 * can never run can never run either. GP_ERROR_NOT_FOUND if no goroutine
 * waits on it.
 */
GP_EXPORT gp_error *gp_snapshot_sync_owners(gp_snapshot *snap, uint64_t address,
					    uint32_t *ret_status,
					    uint32_t *ret_writer,
					    const uint32_t **ret_readers,
					    size_t *ret_nreaders);
/* Holders and wakers found by the reference scan (empty before it). */
GP_EXPORT const struct gp_holder *gp_snapshot_holders(const gp_snapshot *snap,
						      size_t *ret_count);

/* The wait-for graph: goroutine -> object it waits on -> goroutine that
 * could wake it (best-ranked holders; possible senders/receivers). */
struct gp_edge {
	uint64_t object;
	uint32_t from, to;        /* goroutine indexes */
	uint32_t kind;            /* enum gp_object_kind of object */
	uint32_t holder;          /* index into gp_snapshot_holders */
};

enum gp_cycle_flags {
	GP_CYCLE_SELECT = 1 << 0, /* a member is in select and might be woken
				   * by another case */
};

struct gp_cycle {
	uint32_t edges_first;     /* into gp_deadlocks.edges, in chain order */
	uint32_t nedges;
	uint32_t flags;
	uint32_t reserved;
};

enum gp_stuck_reason {
	GP_STUCK_NIL_CHAN = 1,    /* provable: nothing wakes a nil channel */
	GP_STUCK_SELECT_EMPTY = 2,/* provable: select {} */
	GP_STUCK_NO_REFERENCE = 3,/* no other goroutine's stack references the
				   * object (directly or through one object);
				   * a global or a timer could still */
	GP_STUCK_NO_OPERATION = 4,/* goroutines reference it, but none has the
				   * operation that would wake it on its stack */
};

/* Waiters nobody can wake. */
struct gp_stuck {
	uint64_t object;
	uint32_t kind;            /* enum gp_object_kind, GP_OBJ_UNKNOWN for
				   * select {} */
	uint32_t reason;          /* enum gp_stuck_reason */
	uint32_t provable;        /* 1 when it follows from the runtime's rules */
	uint32_t waiters_first;   /* into gp_deadlocks.waiters */
	uint32_t nwaiters;
	uint32_t reserved;
};

struct gp_deadlocks {
	const struct gp_cycle *cycles;
	size_t ncycles;
	const struct gp_edge *edges;   /* the cycles' edges */
	size_t nedges;
	const struct gp_stuck *stuck;
	size_t nstuck;
	const uint32_t *waiters;       /* goroutine indexes */
	size_t nwaiters;
	uint32_t truncated;            /* the cycle search hit its bound */
	uint32_t reserved;
};

/* Whether holder h of an object of kind (enum gp_object_kind) is an edge
 * object -> goroutine of the wait-for graph: the graph's one rule, for
 * front ends that draw the graph. */
GP_EXPORT int gp_holder_wakes(const struct gp_holder *h, uint32_t kind);

/* Every elementary cycle of the wait-for graph (bounded), and the objects
 * nobody can wake. */
GP_EXPORT gp_error *gp_snapshot_deadlocks(gp_snapshot *snap,
					  struct gp_deadlocks *ret);

/* ------------------------------------------------------------- the heap */

/*
 * The heap model (runtime/heap.c, heapbits.c): the in-use spans of
 * mheap_.allspans and their slots, which are allocated, and where each
 * object's pointers are, for every allocator generation (1.19 to 1.27).
 * Built on first use and kept with the snapshot.
 */
struct gp_heap_summary {
	uint64_t spans;           /* in-use spans */
	uint64_t slots;           /* their slots */
	uint64_t objects;         /* allocated slots */
	uint64_t bytes;           /* their bytes */
	uint64_t corrupt_spans;   /* spans whose fields disagree: "unknown" */
	uint64_t problems;        /* everything noted as untrustworthy */
	uint32_t generation;      /* 1: 1.19 bitmap, 2: 1.20-1.21, 3: 1.22+ */
	uint32_t nnotes;
};

enum gp_heap_object_flags {
	GP_OBJ_NOSCAN = 1 << 0,   /* in a span that holds no pointers */
	GP_OBJ_LARGE = 1 << 1,    /* alone in its span */
	GP_OBJ_HEADER = 1 << 2,   /* its first word is a malloc header */
	GP_OBJ_CORRUPT = 1 << 3,  /* its span cannot be trusted */
};

struct gp_heap_object {
	uint64_t address;         /* the slot */
	uint64_t size;            /* the slot's size (mspan.elemsize) */
	uint32_t flags;           /* enum gp_heap_object_flags */
	uint32_t reserved;
};

GP_EXPORT gp_error *gp_snapshot_heap(gp_snapshot *snap,
				     struct gp_heap_summary *ret);
/* One note of what could not be trusted (address, text), i < nnotes. */
GP_EXPORT const char *gp_snapshot_heap_note(gp_snapshot *snap, uint32_t i,
					    uint64_t *ret_address);
/* Every allocated object, by address; valid until gp_snapshot_destroy. */
GP_EXPORT gp_error *gp_snapshot_heap_objects(gp_snapshot *snap,
					     const struct gp_heap_object **ret,
					     size_t *ret_count);
/* The byte offsets of the pointer words of the object holding address,
 * from its pointer map (at most cap written; *ret_count is the total).
 * GP_ERROR_NOT_FOUND when address is in no allocated object. */
GP_EXPORT gp_error *gp_snapshot_heap_pointers(gp_snapshot *snap,
					      uint64_t address,
					      uint64_t *offsets, size_t cap,
					      size_t *ret_count);

/* ------------------------------------------------------------ JSON out */

struct gp_verdict_rec;

/* Where gp_snapshot_write_goroutines_json sends its output, in chunks of
 * at most 64 KiB; nonzero stops it (GP_ERROR_OS). */
typedef int gp_json_write_fn(void *arg, const char *buf, size_t len);

/* The words the JSON uses, given by the front end (they are defined once,
 * in goparked/_native.py): names by enum value (NULL: "statusN" for a
 * state; a flag bit without a name is left out), and the signatures: a
 * goroutine's is sigs[sig_of[k]] where sig_keys[k] (sorted) is its stack
 * id << 32 | its wait reason's string id; null when no key matches. */
struct gp_json_names {
	const char *const *status;     /* by enum gp_status */
	size_t nstatus;
	const char *const *flag;       /* 32 entries, by bit of gp_goroutine_flags */
	const char *const *wait_kind;  /* by enum gp_wait_kind */
	size_t nwait_kind;
	const uint64_t *sig_keys;      /* sorted, nkeys of them */
	const uint32_t *sig_of;        /* per key: index into sigs */
	size_t nkeys;
	const char *const *sigs;
	size_t nsigs;
	uint32_t flag_system, flag_locked; /* the bits "system", "locked_to_thread" */
	uint32_t clock_known;          /* ages only when the clock is known */
	uint32_t reserved;
	/* The leak verdict (--json --verdict): every goroutine's record, by
	 * index (gp_snapshot_verdicts of the same snapshot, nverdicts of
	 * them), written as "verdict" (its verdict's word, "unknown" when it
	 * has none) and "verdict_reason" (its reason's word, null when it has
	 * none) after the other keys. NULL: no verdict keys. */
	const struct gp_verdict_rec *verdicts;
	size_t nverdicts;
	const char *const *verdict;    /* by enum gp_verdict */
	size_t nverdict;
	const char *const *reason;     /* by enum gp_verdict_reason */
	size_t nreason;
};

/* Every goroutine as one JSON object a line, joined by ",\n": the body of
 * the "goroutines" array of goparked/snapshot (README, "JSON output"). */
GP_EXPORT gp_error *gp_snapshot_write_goroutines_json(
	const gp_snapshot *snap, const struct gp_json_names *names,
	gp_json_write_fn *write, void *arg);

/* --------------------------------------------------------- the verdict */

/*
 * Which parked goroutines can never wake (analysis/verdict.c), as the Go
 * runtime's goroutine leak detector decides it (runtime/mgc.go,
 * mgcmark.go of 1.26 and 1.27), for every version: the roots are the
 * globals (and finalizers, cleanups, ...) and every goroutine that can
 * still run; a goroutine parked on channels or sync objects (the
 * detector's candidates) joins them as soon as one of its wait objects is
 * reached, until nothing changes. The candidates left are leaked, proven.
 * The other words are evidence, and say so.
 */
enum gp_verdict {
	GP_VERDICT_LIVE = 0,      /* not parked: running, runnable, syscall */
	GP_VERDICT_LEAKED = 1,    /* "leaked (proven)" */
	GP_VERDICT_NO_WAKER = 2,  /* "leaked (no waker)": evidence */
	GP_VERDICT_LINGERING = 3, /* wakes on timers, loops on nothing: evidence */
	GP_VERDICT_BLOCKED = 4,   /* can still be woken */
	GP_VERDICT_UNKNOWN = 5,   /* the evidence cannot decide */
	GP_NUM_VERDICTS = 6,
};

enum gp_verdict_reason {
	GP_WHY_NONE = 0,
	/* leaked */
	GP_WHY_NIL_CHAN = 1,      /* a nil channel: nothing wakes it */
	GP_WHY_SELECT_EMPTY = 2,  /* select {} */
	GP_WHY_UNREACHABLE = 3,   /* no wait object reachable from what runs */
	/* no waker */
	GP_WHY_HOLDER_LEAKED = 4, /* the mutex's holder (holder) is leaked */
	GP_WHY_NO_CONSUMER = 5,   /* a full buffered channel: no goroutine that
				   * reaches it can receive */
	GP_WHY_NO_DECREMENT = 6,  /* a WaitGroup: no goroutine that reaches it
				   * can call Done */
	/* lingering */
	GP_WHY_TIMER_LOOP = 7,    /* only timers can wake it, and its other
				   * channels can never become ready */
	/* blocked */
	GP_WHY_REACHABLE = 8,     /* a wait object is reachable: see path */
	GP_WHY_TIMER = 9,         /* a timer will fire (sleep, timer channel) */
	GP_WHY_ROOT = 10,         /* a wait the detector never judges (IO
				   * wait, sleep, semacquire, ...) */
	GP_WHY_NOT_IN_HEAP = 11,  /* the object is a global or on a stack */
	/* unknown */
	GP_WHY_NO_HEAP = 12,      /* the heap model could not be read */
	GP_WHY_CORRUPT = 13,      /* the wait object lies in a corrupt span */
	GP_WHY_NO_WAIT_OBJECT = 14, /* what it waits on was not found */
};

enum gp_path_kind {
	GP_PATH_GLOBAL = 1,       /* a global (name: its symbol) */
	GP_PATH_STACK = 2,        /* a goroutine's frame (name: function) */
	GP_PATH_SPECIAL = 3,      /* a finalizer, cleanup or weak handle */
	GP_PATH_QUEUE = 4,        /* a queued finalizer or cleanup */
	GP_PATH_GOROUTINE = 5,    /* g.sched.ctxt, a defer */
	GP_PATH_REGISTERS = 6,    /* a running thread's registers */
	GP_PATH_UNKNOWN = 7,      /* a span that could not be trusted */
	GP_PATH_OBJECT = 8,       /* a heap object (name: its type if known) */
};

/* One step of a retention path: step 0 is the root, the last the wait
 * object; each object is reached from the word at offset of the step
 * before it. */
struct gp_path_step {
	uint64_t address;         /* the object, or the root's word */
	uint64_t size;            /* the object's size, 0 for a root */
	uint64_t offset;          /* the pointer's offset in the previous step */
	uint32_t kind;            /* enum gp_path_kind */
	uint32_t goroutine;       /* stack roots: goroutine index, GP_NONE */
	uint32_t name;            /* string id: symbol, function, type, or 0 */
	uint32_t local;           /* stack roots: string id of the local
				   * variable or parameter there (DWARF),
				   * "name" or "name+off"; 0 unknown */
};

struct gp_verdict_rec {
	uint64_t object;          /* the wait object the reason is about */
	uint32_t verdict;         /* enum gp_verdict */
	uint32_t reason;          /* enum gp_verdict_reason */
	uint32_t path_first;      /* GP_NONE until gp_snapshot_verdict_path */
	uint32_t path_len;
	uint32_t holder;          /* the goroutine the reason names, GP_NONE */
	uint32_t round;           /* fixpoint round it joined the roots in:
				   * 0 a root, GP_NONE never */
};

struct gp_verdicts {
	const struct gp_verdict_rec *goroutines; /* by goroutine index */
	size_t ngoroutines;
	uint64_t counts[GP_NUM_VERDICTS];  /* goroutines per verdict, system
					    * goroutines included */
	uint64_t marked_objects, marked_bytes, heap_objects;
	uint32_t rounds;          /* of the fixpoint */
	uint32_t heap_model;      /* 1 when the heap was read */
	uint32_t heap_error;      /* string id: why not, else 0 */
	uint32_t conservative_frames; /* frames scanned word by word */
	uint32_t stack_errors;    /* stacks only partly unwound */
	uint32_t corrupt_spans;
	uint32_t lingering_pass;  /* 1 when a second mark pass ran */
	uint32_t reserved;
};

GP_EXPORT gp_error *gp_snapshot_verdicts(gp_snapshot *snap,
					 struct gp_verdicts *ret);

/* A group's members by verdict: their counts, and their one verdict and
 * reason when they all have the same (uniform 1; else, or with no
 * members, 0, verdict and reason 0). A verdict past the enum counts as
 * GP_VERDICT_UNKNOWN. one_creator is 1 when every member was made by the
 * same go statement (one gopc; 0 with no members): the verdict's rows
 * name leaked goroutines by creator too, and need no look at each. */
struct gp_group_verdicts {
	uint64_t counts[GP_NUM_VERDICTS];
	uint32_t uniform;
	uint32_t verdict;
	uint32_t reason;
	uint32_t one_creator;
};

/* Of every group of grouping, in gp_grouping_groups' order, with the
 * verdicts v of the grouping's snapshot (gp_snapshot_verdicts); ret has
 * room for cap groups (GP_ERROR_INVALID_ARGUMENT when that is fewer than
 * the groups, or a member is no goroutine of v). */
GP_EXPORT gp_error *gp_grouping_verdicts(const gp_grouping *grouping,
					 const struct gp_verdicts *v,
					 struct gp_group_verdicts *ret,
					 size_t cap);
/* The retention path of goroutine index gi's wait object, for a blocked
 * goroutine whose object is reachable (none, count 0, for the others):
 * step 0 the root, the last the object. Made on first use from the
 * proof's mark (kept with the snapshot: a bit and a word per heap
 * object); *ret is valid until the next call. */
GP_EXPORT gp_error *gp_snapshot_verdict_path(gp_snapshot *snap, uint32_t gi,
					     const struct gp_path_step **ret,
					     size_t *ret_count);

/* The stack words of goroutine index gi that its frames' stack maps
 * (locals and arguments at each frame's pc) call pointers, ascending;
 * stack objects and conservatively scanned frames are not listed (for
 * tests against the runtime's own heap dump). At most cap written. */
GP_EXPORT gp_error *gp_snapshot_stack_pointers(gp_snapshot *snap,
					       uint32_t gi, uint64_t *slots,
					       size_t cap, size_t *ret_count);

#ifdef __cplusplus
}
#endif

#endif /* GOPARKED_H */
