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
	free(an->owner_readers);
	free(an->cycles);
	free(an->edges);
	free(an->stuck);
	free(an->stuck_waiters);
	gp_verdict_paths_destroy(an->vpaths);
	gp_heap_destroy(an->heap);
	gp_error_destroy(an->heap_err);
	free(an->heap_objects);
	free(an->verdicts);
	free(an);
}

/* ---------------------------------------------------------------- API */

gp_error *gp_analysis_complete(struct gp_snapshot *snap,
			       struct gp_analysis **ret)
{
	struct gp_analysis *an = NULL;
	gp_error *err = gp_analysis_get(snap, &an);
	if (err)
		return err;
	bool fresh = !an->refs_done, syncs = !an->syncs_done, chans = !an->chans_done;
	if (!(err = gp_syncs_build(snap, an)) && fresh && syncs)
		gp_phase("analysis: syncs");
	if (!err && !(err = gp_chans_build(snap, an)) && fresh && chans)
		gp_phase("analysis: chans");
	if (!err && !(err = gp_refs_build(snap, an)) && fresh)
		gp_phase("analysis: holders and wakers");
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

GP_EXPORT gp_error *gp_snapshot_sync_owners(gp_snapshot *snap, uint64_t address,
					    uint32_t *ret_status,
					    uint32_t *ret_writer,
					    const uint32_t **ret_readers,
					    size_t *ret_nreaders)
{
	struct gp_sync_owners o;
	gp_error *err = gp_sync_owners(snap, address, &o);
	if (err)
		return err;
	*ret_status = o.status;
	*ret_writer = o.writer;
	*ret_readers = o.readers;
	*ret_nreaders = o.nreaders;
	return NULL;
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

/* ---------------------------------------------------------------- heap */

static gp_error *error_copy(const gp_error *err)
{
	if (err == &gp_error_nomem)
		return &gp_error_nomem;
	gp_error *e = gp_error_create(err->code, "%s", err->message);
	if (e != &gp_error_nomem)
		e->address = err->address;
	return e;
}

gp_error *gp_analysis_heap(struct gp_snapshot *snap, struct gp_heap **ret)
{
	struct gp_analysis *an = NULL;
	gp_error *err = gp_analysis_get(snap, &an);
	if (err)
		return err;
	if (!an->heap_done) {
		err = gp_heap_open(snap->prog, &an->heap);
		if (err == &gp_error_nomem)
			return err;
		an->heap_err = err;
		an->heap_done = true;
		gp_phase("heap: spans and objects");
	}
	if (an->heap_err)
		return error_copy(an->heap_err);
	*ret = an->heap;
	return NULL;
}

GP_EXPORT gp_error *gp_snapshot_heap(gp_snapshot *snap,
				     struct gp_heap_summary *ret)
{
	struct gp_heap *h;
	gp_error *err = gp_analysis_heap(snap, &h);
	if (err)
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->spans = h->nspans;
	ret->slots = h->nobjects;
	for (size_t i = 0; i < h->nspans; i++) {
		const struct gp_span *s = &h->spans[i];
		if (s->flags & GP_SPAN_CORRUPT)
			ret->corrupt_spans++;
		for (uint32_t k = 0; k < s->nelems; k++)
			if (gp_heap_allocated(h, s->first + k)) {
				ret->objects++;
				ret->bytes += s->elemsize;
			}
	}
	ret->problems = h->nproblems;
	ret->generation = h->gen;
	ret->nnotes = (uint32_t)h->nnotes;
	return NULL;
}

GP_EXPORT const char *gp_snapshot_heap_note(gp_snapshot *snap, uint32_t i,
					    uint64_t *ret_address)
{
	const struct gp_analysis *an = snap->analysis;
	if (!an || !an->heap || i >= an->heap->nnotes)
		return NULL;
	*ret_address = an->heap->notes[i].addr;
	return an->heap->notes[i].what;
}

GP_EXPORT gp_error *gp_snapshot_heap_objects(gp_snapshot *snap,
					     const struct gp_heap_object **ret,
					     size_t *ret_count)
{
	struct gp_heap *h;
	gp_error *err = gp_analysis_heap(snap, &h);
	if (err)
		return err;
	struct gp_analysis *an = snap->analysis;
	if (!an->heap_objects) {
		size_t n = 0;
		for (uint32_t id = 0; id < h->nobjects; id++)
			n += gp_heap_allocated(h, id);
		an->heap_objects = calloc(n + 1, sizeof(*an->heap_objects));
		if (!an->heap_objects)
			return &gp_error_nomem;
		n = 0;
		for (size_t i = 0; i < h->nspans; i++) {
			const struct gp_span *s = &h->spans[i];
			uint32_t flags = 0;
			if (s->flags & GP_SPAN_NOSCAN)
				flags |= GP_OBJ_NOSCAN;
			if (s->flags & GP_SPAN_LARGE)
				flags |= GP_OBJ_LARGE;
			if (s->flags & GP_SPAN_HEADERS)
				flags |= GP_OBJ_HEADER;
			for (uint32_t k = 0; k < s->nelems; k++) {
				if (!gp_heap_allocated(h, s->first + k))
					continue;
				struct gp_heap_object *o = &an->heap_objects[n++];
				o->address = s->base + (uint64_t)k * s->elemsize;
				o->size = s->elemsize;
				o->flags = flags;
			}
		}
		an->nheap_objects = n;
	}
	*ret = an->heap_objects;
	*ret_count = an->nheap_objects;
	return NULL;
}

GP_EXPORT gp_error *gp_snapshot_heap_pointers(gp_snapshot *snap,
					      uint64_t address,
					      uint64_t *offsets, size_t cap,
					      size_t *ret_count)
{
	struct gp_heap *h;
	gp_error *err = gp_analysis_heap(snap, &h);
	if (err)
		return err;
	struct gp_object o;
	if (gp_heap_find(h, address, &o) != GP_HEAP_OBJECT)
		return gp_error_create(GP_ERROR_NOT_FOUND,
				       "no allocated heap object at 0x%llx",
				       (unsigned long long)address);
	uint8_t *mask;
	bool conservative;
	if ((err = gp_heap_object_mask(h, &h->spans[o.span], o.base, &mask,
				       &conservative)))
		return err;
	size_t n = 0;
	for (uint64_t w = 0; w < o.size / 8; w++) {
		if (!(mask[w >> 3] >> (w & 7) & 1))
			continue;
		if (n < cap)
			offsets[n] = w * 8;
		n++;
	}
	free(mask);
	*ret_count = n;
	return NULL;
}

/* ------------------------------------------------------------- verdict */

/*
 * What the verdict needs before its proof: the analyses, and the heap
 * model. A second thread reads the heap model (it needs none of the
 * analyses, nor they it), then builds the syncs, while this one builds
 * the channels (neither reads what the other writes: each its own part of
 * the analysis, the syncs only the waits on sync objects, the channels
 * only those on channels, and only the channels add strings); then the
 * holders need both. heapcore: 0.1 s of spans and 0.1 s of syncs beside
 * the channels. Only from a target read in place (a core, a live copy):
 * a debugger's reader serves one thread.
 */
struct beside {
	struct gp_snapshot *snap;
	struct gp_analysis *an;
	struct gp_heap *h;
	gp_error *err, *syncs_err;
	double heap_secs, syncs_secs;
};

static void beside_run(void *arg)
{
	struct beside *b = arg;
	double t0 = gp_phase_clock();
	b->err = gp_heap_open(b->snap->prog, &b->h);
	double t1 = gp_phase_clock();
	b->syncs_err = gp_syncs_build(b->snap, b->an);
	b->heap_secs = t1 - t0;
	b->syncs_secs = gp_phase_clock() - t1;
}

#define BESIDE_MIN 10000   /* goroutines */

static gp_error *verdict_inputs(struct gp_snapshot *snap, struct gp_analysis **ret)
{
	struct gp_analysis *an = NULL;
	gp_error *err = gp_analysis_get(snap, &an);
	if (err)
		return err;
	if (an->heap_done || an->syncs_done || an->chans_done ||
	    snap->prog->mem.read_fn || snap->ngs < gp_par_min(BESIDE_MIN))
		return gp_analysis_complete(snap, ret);
	struct beside b = { .snap = snap, .an = an };
	struct gp_side side;
	gp_side_start(&side, beside_run, &b);
	bool started = side.started;
	err = gp_chans_build(snap, an);
	if (started)
		gp_phase("analysis: chans");
	gp_side_join(&side);
	if (!err)
		err = b.syncs_err;
	else
		gp_error_destroy(b.syncs_err);
	/* kept whatever the analyses gave: as gp_analysis_heap would */
	if (b.err != &gp_error_nomem) {
		an->heap = b.h;
		an->heap_err = b.err;
		an->heap_done = true;
	}
	if (started)
		gp_phase_note("heap: spans and objects (%.1f ms) and analysis: syncs "
			      "(%.1f ms) read beside the channels on the other thread",
			      b.heap_secs * 1e3, b.syncs_secs * 1e3);
	if (!err)
		err = gp_analysis_complete(snap, ret);
	return err;
}

GP_EXPORT gp_error *gp_snapshot_verdicts(gp_snapshot *snap,
					 struct gp_verdicts *ret)
{
	struct gp_analysis *an;
	gp_error *err = verdict_inputs(snap, &an);
	if (!err)
		err = gp_verdicts_build(snap, an);
	if (err)
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->goroutines = an->verdicts;
	ret->ngoroutines = snap->ngs;
	memcpy(ret->counts, an->verdict_counts, sizeof(ret->counts));
	ret->marked_objects = an->verdict_marked;
	ret->marked_bytes = an->verdict_marked_bytes;
	ret->heap_objects = an->heap ? an->heap->nobjects : 0;
	ret->heap_model = an->verdict_heap_model;
	ret->heap_error = an->verdict_heap_error;
	ret->conservative_frames = an->verdict_conservative_frames;
	ret->stack_errors = an->verdict_stack_errors;
	if (an->heap)
		for (size_t i = 0; i < an->heap->nspans; i++)
			ret->corrupt_spans += (an->heap->spans[i].flags & GP_SPAN_CORRUPT) != 0;
	ret->lingering_pass = an->verdict_lingering_pass;
	return NULL;
}

GP_EXPORT gp_error *gp_snapshot_verdict_path(gp_snapshot *snap, uint32_t gi,
					     const struct gp_path_step **ret,
					     size_t *ret_count)
{
	struct gp_analysis *an;
	*ret = NULL;
	*ret_count = 0;
	gp_error *err = verdict_inputs(snap, &an);
	if (!err)
		err = gp_verdicts_build(snap, an);
	if (!err)
		err = gp_verdict_path(snap, an, gi, ret, ret_count);
	return err;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

GP_EXPORT gp_error *gp_snapshot_stack_pointers(gp_snapshot *snap,
					       uint32_t gi, uint64_t *slots,
					       size_t cap, size_t *ret_count)
{
	struct gp_heap *h;
	gp_error *err = gp_analysis_heap(snap, &h);
	if (err)
		return err;
	if (gi >= snap->ngs)
		return gp_error_create(GP_ERROR_NOT_FOUND, "no goroutine index %u", gi);
	struct gp_mark *m;
	if ((err = gp_mark_create(h, snap, &m)))
		return err;
	m->recording = true;
	err = gp_mark_goroutine(m, gi);
	if (!err) {
		if (m->nrecorded)
			gp_qsort(m->recorded, m->nrecorded, sizeof(uint64_t), u64_cmp);
		for (size_t i = 0; i < m->nrecorded && i < cap; i++)
			slots[i] = m->recorded[i];
		*ret_count = m->nrecorded;
	}
	gp_mark_destroy(m);
	return err;
}
