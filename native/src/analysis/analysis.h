/*
 * Internals of the wait analyses: semaphores and sync objects (sync.c),
 * channels (chan.c), holders and wakers (holders.c), the wait-for graph
 * (waitgraph.c). Hung off the snapshot (snap->analysis), built lazily.
 */
#ifndef GP_ANALYSIS_H
#define GP_ANALYSIS_H

#include "runtime/runtime.h"

/* Bounds on runtime data read by the analyses. */
#define GP_MAX_QUEUE (64u << 20)      /* sudogs in one wait queue */
#define GP_MAX_SEMA_NODES (64u << 20) /* sudogs in the whole semtable */
#define GP_MAX_TREAP_DEPTH 4096
#define GP_SEMTAB_SIZE 251            /* runtime/sema.go semTabSize */


struct gp_analysis {
	/* sync.c: per gp_wait index (parallel to snap->waits) */
	uint64_t *wait_obj;       /* the object (hchan, &mu, ...) */
	uint8_t *wait_kind;       /* enum gp_object_kind */
	uint8_t *wait_role;       /* enum gp_waiter_role */
	size_t nwait_info;
	struct gp_kv *gmap;       /* (g address, index) by address, once built */
	size_t ngmap;

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
};

/* The analysis state of a snapshot, created on first use. */
gp_error *gp_analysis_get(struct gp_snapshot *snap, struct gp_analysis **ret);
/* The analysis with syncs, channels and the reference scan (holders and
 * wakers) all built, whichever question comes first. */
gp_error *gp_analysis_complete(struct gp_snapshot *snap,
			       struct gp_analysis **ret);
void gp_analysis_destroy(struct gp_analysis *an);

/* sync.c: at the end of gp_snapshot_take (goroutines sorted): semtable
 * and notifyList waiters into snap->waits, wait kinds and objects. */
gp_error *gp_sema_pass(struct gp_snapshot *snap);
/* The semaphore table's part of gp_sema_pass that reads the target, done
 * before the goroutines are walked (a live target then runs again). */
gp_error *gp_sema_gather(struct gp_snapshot *snap);
gp_error *gp_syncs_build(struct gp_snapshot *snap, struct gp_analysis *an);
/* The sync object a goroutine's wait belongs to (for GP_BY_MUTEX): 0 if
 * the wait is not on a sync object. */
uint64_t gp_wait_sync_object(const struct gp_snapshot *snap, size_t wait);

/* chan.c */
gp_error *gp_chans_build(struct gp_snapshot *snap, struct gp_analysis *an);
gp_error *gp_chan_decode(struct gp_snapshot *snap, uint64_t addr,
			 struct gp_chan *ret);

/* holders.c: the reference scan; fills holders of every sync object and
 * wakers of every channel (needs chans and syncs built). */
gp_error *gp_refs_build(struct gp_snapshot *snap, struct gp_analysis *an);


#endif
