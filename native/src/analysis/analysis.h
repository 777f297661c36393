/*
 * analysis/: what the snapshot's goroutines wait on and who could wake
 * them: sync objects (sync.c), channels (chan.c), holders and wakers
 * (holders.c), the wait-for graph (waitgraph.c), grouping (group.c), the
 * leak verdict by reachability over the heap model (verdict.c).
 * analysis.c builds each on first use, in order, and answers the public
 * calls; the state hangs off the snapshot (snap->analysis).
 */
#ifndef GP_ANALYSIS_H
#define GP_ANALYSIS_H

#include "runtime/runtime.h"

/* Bounds on runtime data read by the analyses. */
#define GP_MAX_QUEUE (64u << 20)      /* sudogs in one wait queue */

struct gp_analysis {
	/* chan.c */
	bool chans_done;
	struct gp_chan *chans;
	size_t nchans, chans_cap;
	struct gp_waiter *chan_waiters;
	size_t nchan_waiters;

	/* sync.c: sync objects */
	bool syncs_done;
	struct gp_sync *syncs;
	size_t nsyncs, syncs_cap;
	struct gp_waiter *sync_waiters;
	size_t nsync_waiters;

	/* holders.c */
	bool refs_done;
	struct gp_holder *holders;
	size_t nholders, holders_cap;
	uint32_t *owner_readers;    /* per holder: its goroutine, for
				     * gp_sync_owners' readers */

	/* waitgraph.c */
	bool deadlocks_done;
	struct gp_cycle *cycles;
	size_t ncycles;
	struct gp_edge *edges;
	size_t nedges;
	struct gp_stuck *stuck;
	size_t nstuck;
	uint32_t *stuck_waiters;
	size_t nstuck_waiters;
	uint32_t truncated;

	/* the heap model (runtime/heap.c), opened on first use */
	bool heap_done;
	struct gp_heap *heap;
	gp_error *heap_err;          /* why there is none */
	struct gp_heap_object *heap_objects;
	size_t nheap_objects;

	/* verdict.c */
	bool verdicts_done;
	struct gp_verdict_rec *verdicts;  /* by goroutine index */
	struct gp_verdict_paths *vpaths;  /* the mark, kept for the paths */
	uint64_t verdict_counts[GP_NUM_VERDICTS];
	uint64_t verdict_marked, verdict_marked_bytes;
	uint32_t verdict_heap_model, verdict_heap_error;
	uint32_t verdict_conservative_frames, verdict_stack_errors;
	uint32_t verdict_lingering_pass;
};

/* analysis.c: the analysis state of a snapshot, created on first use. */
gp_error *gp_analysis_get(struct gp_snapshot *snap, struct gp_analysis **ret);
/* The analysis with syncs, channels and the reference scan (holders and
 * wakers) all built, whichever question comes first. */
gp_error *gp_analysis_complete(struct gp_snapshot *snap,
			       struct gp_analysis **ret);

/* analysis.c: the heap model, opened once (an error is kept and
 * returned again: a core without a readable heap). */
gp_error *gp_analysis_heap(struct gp_snapshot *snap, struct gp_heap **ret);

/* sync.c: every sync object waited on, decoded, with its waiters. */
gp_error *gp_syncs_build(struct gp_snapshot *snap, struct gp_analysis *an);

/* chan.c */
gp_error *gp_chans_build(struct gp_snapshot *snap, struct gp_analysis *an);
gp_error *gp_chan_decode(struct gp_snapshot *snap, uint64_t addr,
			 struct gp_chan *ret);

/* locks.c: code evidence of who holds each locked Mutex and RWMutex
 * waited on: one hit per (object, goroutine, role). no_decoder: the
 * architecture has no instruction decoder, there is no evidence at all. */
struct gp_lock_hit {
	uint32_t sync;        /* index into an->syncs */
	uint32_t g;           /* goroutine index */
	uint32_t role;        /* GP_ROLE_LOCK (writer), GP_ROLE_RLOCK (reader) */
	uint32_t evidence;    /* GP_EV_LOCK_SITE, _GLOBAL_SITE, _DEFER_UNLOCK */
	uint64_t site_pc;     /* the Lock, 0 if only a deferred Unlock */
	uint64_t defer_pc;    /* the deferred Unlock */
	uint32_t frame;       /* index into its stack, GP_NONE */
	uint32_t description; /* string id */
};
gp_error *gp_lock_evidence(struct gp_snapshot *snap, struct gp_analysis *an,
			   struct gp_lock_hit **ret, size_t *ret_n,
			   bool *ret_no_decoder);

/*
 * The owners of a Mutex or RWMutex, as decided (holders.c, after
 * gp_refs_build): for the leak verdict, "waiters on a mutex whose holder
 * is leaked are leaked". status is GP_HOLDER_FOUND with exactly one writer
 * (writer != GP_NONE, nreaders 0) or one or more readers; any other status
 * (not held, unknown, ambiguous, no decoder) means no owner can be named:
 * then writer is GP_NONE and nreaders 0. readers (goroutine indexes) stays
 * valid until the analysis is freed. GP_ERROR_NOT_FOUND if no goroutine
 * waits on an object at that address.
 */
struct gp_sync_owners {
	uint32_t status;            /* enum gp_holder_status */
	uint32_t writer;            /* goroutine index, GP_NONE */
	const uint32_t *readers;    /* goroutine indexes */
	size_t nreaders;
};
gp_error *gp_sync_owners(struct gp_snapshot *snap, uint64_t object,
			 struct gp_sync_owners *ret);
/* The same for one of an->syncs (the analysis complete), without the
 * lookup: what the verdict calls for each waiter. */
gp_error *gp_sync_owners_of(struct gp_analysis *an, const struct gp_sync *s,
			    struct gp_sync_owners *ret);

/* holders.c: the reference scan; fills holders of every sync object and
 * wakers of every channel (needs chans and syncs built). */
gp_error *gp_refs_build(struct gp_snapshot *snap, struct gp_analysis *an);

/* verdict.c: every goroutine's verdict (needs the analyses above and
 * the heap model). */
gp_error *gp_verdicts_build(struct gp_snapshot *snap, struct gp_analysis *an);

/* verdict.c: the retention path of goroutine gi's wait object (blocked,
 * reachable), made on first use from the proof's mark; *ret valid until
 * the next call. None (n 0) for other verdicts. */
gp_error *gp_verdict_path(struct gp_snapshot *snap, struct gp_analysis *an,
			  uint32_t gi, const struct gp_path_step **ret,
			  size_t *ret_n);
void gp_verdict_paths_destroy(struct gp_verdict_paths *P);

/* waitgraph.c: cycles and stuck objects (needs the reference scan). */
gp_error *gp_deadlocks_build(struct gp_snapshot *snap, struct gp_analysis *an);

/* json.c (gp_snapshot_write_goroutines_json): the n bytes at s as JSON (a
 * quoted, ASCII-only string; null for NULL or "") into out, NUL-terminated;
 * the length it needs, as snprintf. */
size_t gp_json_quote(const char *s, size_t n, char *out, size_t cap);

/* How long since `since` at `now` (ns), both read from the target:
 * saturated rather than overflowing when either is garbage. */
static inline int64_t gp_age_ns(int64_t now, int64_t since)
{
	int64_t d;
	if (__builtin_sub_overflow(now, since, &d))
		return since < 0 ? INT64_MAX : INT64_MIN;
	return d;
}

/* group.c: the bucket of gp_age_buckets() an age (in ns) falls into. */
size_t gp_age_bucket(int64_t age_ns);


#endif
