/*
 * Live targets (target_live.c) and host-supplied memory
 * (target_callback.c): what the two share.
 */
#ifndef GP_TARGET_LIVE_H
#define GP_TARGET_LIVE_H

#include "internal.h"

enum gp_live_mode {
	GP_LIVE_PTRACE = 1,     /* we stopped it with ptrace, we detach */
	GP_LIVE_NO_STOP = 2,    /* a debugger holds it stopped; /proc/PID/mem */
	GP_LIVE_CALLBACK = 3,   /* reads through the host's callback */
};

/* A copy of target memory taken while the target was stopped: sorted,
 * non-overlapping ranges into one buffer. */
struct gp_live_range {
	uint64_t start;
	uint64_t len;             /* 0 after a failed read: not cached */
	size_t off;               /* into gp_live_cache.data */
};

struct gp_live_cache {
	struct gp_live_range *ranges;
	size_t nranges;
	uint8_t *data;
	size_t size;              /* bytes mapped at data */
};

#define GP_LIVE_SELECT_ROUNDS 8

struct gp_live_tracee {
	int tid;
	int pending_signal;       /* a signal-delivery-stop's signal, to pass on */
	bool stopped;
};

struct gp_live {
	enum gp_live_mode mode;
	int pid;
	int memfd;                /* /proc/PID/mem, -1 if none */
	gp_read_memory_fn *read_cb;
	void *read_cb_arg;
	struct gp_live_tracee *tracees;
	size_t ntracees, tracees_cap;
	bool attached;            /* some tracee still attached */
	int64_t stop_start_ns;    /* CLOCK_MONOTONIC when stopping began */
	/* allgs, the gs, stacks and first sudogs, then a select's other
	 * sudogs, a round of reads per case */
	struct gp_live_cache cache[3 + GP_LIVE_SELECT_ROUNDS];
	/* buffers for cache[1] and cache[2], mapped and faulted in before
	 * the process is stopped (a fresh page costs more than the copy) */
	struct gp_live_spare {
		uint8_t *data;
		size_t size;
	} spare[3];
	size_t misses, miss_bytes;  /* reads the copy did not hold */
	bool resume_early;        /* GP_ATTACH_RESUME_EARLY */
	bool copy_only;           /* resumed early, walk not over: misses fail */
	size_t late_misses;       /* reads refused meanwhile */
	struct gp_thread_regs *threads;
	size_t nthreads;
};

/*
 * A program over the executable at exe_path (runtime layout and pclntab
 * from it) whose memory is read through the live reader: read-only
 * segments of the executable from the file, the rest from the cache,
 * /proc/PID/mem or the callback. Takes ownership of live (freed with the
 * program).
 */
gp_error *gp_live_program_open(const char *exe_path, struct gp_live *live,
			       struct gp_program **ret);

int64_t gp_live_monotonic_ns(void);

#endif
