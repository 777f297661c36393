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

#define GP_ABI_VERSION 1

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
 */
enum gp_attach_flags {
	GP_ATTACH_NO_STOP = 1 << 0,
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
	uint32_t reserved;
};

enum gp_frame_flags {
	GP_FRAME_INLINED = 1 << 0,  /* a logical frame inlined into the next */
	GP_FRAME_TRAP = 1 << 1,     /* pc is the faulting instruction itself */
	GP_FRAME_NO_FUNC = 1 << 2,  /* pc not in any known function */
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
GP_EXPORT void gp_snapshot_destroy(gp_snapshot *snap);

GP_EXPORT size_t gp_snapshot_num_goroutines(const gp_snapshot *snap);
/* Sorted by goid. Valid until gp_snapshot_destroy. */
GP_EXPORT const struct gp_goroutine *
gp_snapshot_goroutines(const gp_snapshot *snap);
/* Index of goid in the array, or -1. */
GP_EXPORT int64_t gp_snapshot_find(const gp_snapshot *snap, uint64_t goid);

GP_EXPORT const char *gp_snapshot_string(const gp_snapshot *snap,
					 uint32_t id);
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
	const char *label_key;  /* with label_value: goroutines with that label */
	const char *label_value;
};

struct gp_group {
	uint64_t key_address;   /* channel/mutex address for those groupings */
	uint32_t key_str;       /* string id naming the key (site, label...) */
	uint32_t waitreason_str;/* most common wait reason in the group */
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

#ifdef __cplusplus
}
#endif

#endif /* GOPARKED_H */
