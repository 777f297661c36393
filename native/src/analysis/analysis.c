/*
 * The analyses of a snapshot, built on first use and kept with it: sync
 * objects (sync.c), channels (chan.c), the reference scan for holders and
 * wakers (holders.c), the wait-for graph (waitgraph.c). This file asks
 * for each in order and answers the public calls; the others only build
 * their part and never call back.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

static void analysis_destroy(struct gp_analysis *an);

gp_error *gp_analysis_get(struct gp_snapshot *snap, struct gp_analysis **ret)
{
	if (!snap->analysis) {
		snap->analysis = calloc(1, sizeof(*snap->analysis));
		if (!snap->analysis)
			return &gp_error_nomem;
		snap->analysis_destroy = analysis_destroy;
	}
	*ret = snap->analysis;
	return NULL;
}

static void analysis_destroy(struct gp_analysis *an)
{
	if (!an)
		return;
	free(an->chans);
	free(an->chan_waiters);
	free(an->syncs);
	free(an->sync_waiters);
	free(an->holders);
	free(an->cycles);
	free(an->edges);
	free(an->stuck);
	free(an->stuck_waiters);
	free(an);
}

/* ---------------------------------------------------------------- API */

gp_error *gp_analysis_complete(struct gp_snapshot *snap,
			       struct gp_analysis **ret)
{
	struct gp_analysis *an = NULL;
	gp_error *err = gp_analysis_get(snap, &an);
	if (!err)
		err = gp_syncs_build(snap, an);
	if (!err)
		err = gp_chans_build(snap, an);
	if (!err)
		err = gp_refs_build(snap, an);
	if (!err)
		*ret = an;
	return err;
}

GP_EXPORT gp_error *gp_snapshot_syncs(gp_snapshot *snap, size_t *ret_count,
				      const struct gp_sync **ret)
{
	struct gp_analysis *an;
	gp_error *err = gp_analysis_complete(snap, &an);
	if (err)
		return err;
	*ret_count = an->nsyncs;
	*ret = an->syncs;
	return NULL;
}

GP_EXPORT const struct gp_waiter *
gp_snapshot_sync_waiters(const gp_snapshot *snap, size_t *ret_count)
{
	const struct gp_analysis *an = snap->analysis;
	*ret_count = an ? an->nsync_waiters : 0;
	return an ? an->sync_waiters : NULL;
}

GP_EXPORT gp_error *gp_snapshot_sync(gp_snapshot *snap, uint64_t address,
				     struct gp_sync *ret)
{
	struct gp_analysis *an;
	gp_error *err = gp_analysis_complete(snap, &an);
	if (err)
		return err;
	const struct gp_sync *s = an->syncs;
	for (size_t i = 0; i < an->nsyncs; i++) {
		if (s[i].address == address || s[i].sema == address) {
			*ret = s[i];
			return NULL;
		}
	}
	return gp_error_create(GP_ERROR_NOT_FOUND,
			       "no goroutine waits on a sync object at 0x%llx",
			       (unsigned long long)address);
}

GP_EXPORT gp_error *gp_snapshot_chans(gp_snapshot *snap, size_t *ret_count,
				      const struct gp_chan **ret)
{
	/* with the reference scan, so that wakers are there whichever
	 * question was asked first */
	struct gp_analysis *an;
	gp_error *err = gp_analysis_complete(snap, &an);
	if (err)
		return err;
	*ret_count = an->nchans;
	*ret = an->chans;
	return NULL;
}

GP_EXPORT const struct gp_waiter *
gp_snapshot_chan_waiters(const gp_snapshot *snap, size_t *ret_count)
{
	const struct gp_analysis *an = snap->analysis;
	*ret_count = an ? an->nchan_waiters : 0;
	return an ? an->chan_waiters : NULL;
}

GP_EXPORT gp_error *gp_snapshot_chan(gp_snapshot *snap, uint64_t address,
				     struct gp_chan *ret)
{
	struct gp_analysis *an;
	gp_error *err = gp_analysis_complete(snap, &an);
	if (err)
		return err;
	for (size_t i = 0; i < an->nchans; i++) {
		if (an->chans[i].address == address) {
			*ret = an->chans[i];
			return NULL;
		}
	}
	if (!address)
		return gp_error_create(GP_ERROR_NOT_FOUND,
				       "no goroutine waits on a nil channel");
	return gp_chan_decode(snap, address, ret);
}

GP_EXPORT const struct gp_holder *gp_snapshot_holders(const gp_snapshot *snap,
						      size_t *ret_count)
{
	const struct gp_analysis *an = snap->analysis;
	*ret_count = an ? an->nholders : 0;
	return an ? an->holders : NULL;
}

GP_EXPORT gp_error *gp_snapshot_deadlocks(gp_snapshot *snap,
					  struct gp_deadlocks *ret)
{
	struct gp_analysis *an;
	gp_error *err = gp_analysis_complete(snap, &an);
	if (err)
		return err;
	if ((err = gp_deadlocks_build(snap, an)))
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->cycles = an->cycles;
	ret->ncycles = an->ncycles;
	ret->edges = an->edges;
	ret->nedges = an->nedges;
	ret->stuck = an->stuck;
	ret->nstuck = an->nstuck;
	ret->waiters = an->stuck_waiters;
	ret->nwaiters = an->nstuck_waiters;
	ret->truncated = an->truncated;
	return NULL;
}
