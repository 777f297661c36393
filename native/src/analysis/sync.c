/*
 * Sync objects: every sync.Mutex, RWMutex, WaitGroup and Cond some
 * goroutine waits on (which one, from the snapshot's semaphore pass,
 * runtime/semtable.c), with its state decoded (sync/mutex.go,
 * sync/rwmutex.go, sync/waitgroup.go) and its waiters.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

/* --------------------------------------------------------- sync objects */

static gp_error *decode_sync(struct gp_snapshot *snap, struct gp_sync *s)
{
	const struct gp_program *prog = snap->prog;
	uint8_t buf[64];
	gp_error *err = gp_memory_read(&prog->mem, s->address, buf, sizeof(buf));
	if (err) {
		gp_error_destroy(err);
		s->flags |= GP_SYNC_UNREADABLE;
		return NULL;
	}
	int32_t moff = gp_off_either(prog, GP_F_MUTEX_STATE, GP_F_MUTEX_STATE_OLD);
	if (moff < 0)
		moff = 0;
	/* sync/mutex.go: mutexLocked 1, mutexWoken 2, mutexStarving 4,
	 * mutexWaiterShift 3 */
	switch (s->kind) {
	case GP_OBJ_RWMUTEX: {
		int32_t w = gp_off(prog, GP_F_RWMUTEX_W);
		int32_t rc = gp_off(prog, GP_F_RWMUTEX_READERCOUNT);
		uint32_t st = (uint32_t)gp_load(buf + (w > 0 ? w : 0) + moff, 4);
		int32_t cnt = (int32_t)gp_load(buf + (rc > 0 && rc < 60 ? rc : 16), 4);
		s->state = st;
		s->counter = cnt;
		/* sync/rwmutex.go: rwmutexMaxReaders = 1 << 30; a pending
		 * writer subtracts it from readerCount */
		if (cnt < 0) {
			/* the writer waits for readerWait departing readers:
			 * those hold the read lock; later ones queue */
			int32_t rw = gp_off(prog, GP_F_RWMUTEX_READERWAIT);
			s->flags |= GP_SYNC_WRITER_PENDING;
			s->readers = (int32_t)gp_load(buf + (rw > 0 && rw < 60 ? rw : 20), 4);
		} else {
			s->readers = cnt;
		}
		if (st & 1)
			s->flags |= GP_SYNC_LOCKED;
		s->state_waiters = st >> 3;
		break;
	}
	case GP_OBJ_MUTEX: {
		uint32_t st = (uint32_t)gp_load(buf + moff, 4);
		s->state = st;
		s->flags |= (st & 1 ? GP_SYNC_LOCKED : 0) |
			    (st & 2 ? GP_SYNC_WOKEN : 0) |
			    (st & 4 ? GP_SYNC_STARVING : 0);
		s->state_waiters = st >> 3;
		break;
	}
	case GP_OBJ_WAITGROUP: {
		int32_t off = gp_off_either(prog, GP_F_WAITGROUP_STATE,
					 GP_F_WAITGROUP_STATE_OLD);
		uint64_t st = gp_load(buf + (off > 0 && off < 56 ? off : 0), 8);
		s->state = st;
		s->counter = (int32_t)(st >> 32);
		/* 1.25 keeps a synctest bubble flag in the top waiter bit */
		s->state_waiters = (uint32_t)st & 0x7fffffff;
		break;
	}
	default:
		break;
	}
	return NULL;
}

static int sync_cmp(const void *a, const void *b)
{
	const struct gp_sync *x = a, *y = b;
	if (x->nwaiters != y->nwaiters)
		return x->nwaiters > y->nwaiters ? -1 : 1;
	return x->address < y->address ? -1 : x->address > y->address;
}

gp_error *gp_syncs_build(struct gp_snapshot *snap, struct gp_analysis *an)
{
	if (an->syncs_done)
		return NULL;
	struct gp_addr_map idx = { 0 };
	gp_error *err = NULL;
	uint32_t *count = NULL;
	/* each wait's object (an index into syncs), found once here rather
	 * than once per pass over the goroutines below */
	uint32_t *sync_of = malloc((snap->nwait_info + 1) * sizeof(*sync_of));
	if (!sync_of)
		return &gp_error_nomem;
	/* one sync per object, counted, then waiters placed per object */
	for (size_t wi = 0; wi < snap->nwait_info; wi++) {
		uint8_t k = snap->wait_kind[wi];
		sync_of[wi] = GP_NONE;
		if (k == GP_OBJ_CHAN || k == GP_OBJ_UNKNOWN)
			continue;
		uint64_t obj = snap->wait_obj[wi];
		uint64_t sema = snap->waits[wi].object;
		uint32_t known = gp_addr_map_get(&idx, obj);
		sync_of[wi] = known != GP_NONE ? known : (uint32_t)an->nsyncs;
		if (known != GP_NONE) {
			/* the lowest of its waiters' semaphores: the same
			 * whatever order the waits were found in (a core is
			 * decoded in file order, a live copy in allgs') */
			struct gp_sync *ks = &an->syncs[known];
			if (sema && (!ks->sema || sema < ks->sema))
				ks->sema = sema;
			continue;
		}
		if ((err = gp_grow((void **)&an->syncs, &an->syncs_cap,
				   an->nsyncs + 1, sizeof(*an->syncs))))
			goto out;
		struct gp_sync *s = &an->syncs[an->nsyncs];
		memset(s, 0, sizeof(*s));
		s->address = obj;
		s->sema = sema;
		s->kind = k;
		if ((err = gp_addr_map_put(&idx, obj, (uint32_t)an->nsyncs++)))
			goto out;
	}
	/* a wait on no sync object asks for object 0 */
	uint32_t none = gp_addr_map_get(&idx, 0);
	for (size_t wi = 0; wi < snap->nwait_info; wi++)
		if (snap->wait_kind[wi] == GP_OBJ_CHAN ||
		    snap->wait_kind[wi] == GP_OBJ_UNKNOWN)
			sync_of[wi] = none;
	count = calloc(an->nsyncs + 1, sizeof(*count));
	if (!count) {
		err = &gp_error_nomem;
		goto out;
	}
	size_t total = 0;
	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		for (uint32_t k = 0; k < g->waiting_count; k++) {
			size_t wi = g->waiting_first + k;
			uint32_t si = wi < snap->nwait_info ? sync_of[wi] : GP_NONE;
			if (si != GP_NONE) {
				an->syncs[si].nwaiters++;
				total++;
			}
		}
	}
	an->sync_waiters = malloc((total ? total : 1) * sizeof(*an->sync_waiters));
	if (!an->sync_waiters) {
		err = &gp_error_nomem;
		goto out;
	}
	an->nsync_waiters = total;
	uint32_t pos = 0;
	for (size_t i = 0; i < an->nsyncs; i++) {
		an->syncs[i].waiters_first = pos;
		pos += an->syncs[i].nwaiters;
	}
	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		for (uint32_t k = 0; k < g->waiting_count; k++) {
			size_t wi = g->waiting_first + k;
			uint32_t si = wi < snap->nwait_info ? sync_of[wi] : GP_NONE;
			if (si == GP_NONE)
				continue;
			struct gp_sync *s = &an->syncs[si];
			struct gp_waiter *w = &an->sync_waiters[s->waiters_first + count[si]++];
			memset(w, 0, sizeof(*w));
			w->goroutine = (uint32_t)i;
			w->sudog = snap->waits[wi].sudog;
			w->role = snap->wait_role[wi];
		}
	}
	for (size_t i = 0; i < an->nsyncs; i++) {
		if ((err = decode_sync(snap, &an->syncs[i])))
			goto out;
		struct gp_sync *s = &an->syncs[i];
		if (s->kind == GP_OBJ_WAITGROUP || s->kind == GP_OBJ_COND ||
		    s->kind == GP_OBJ_SEMA)
			s->holder_status = GP_HOLDER_NONE;
		else if (s->kind == GP_OBJ_MUTEX && !(s->flags & GP_SYNC_LOCKED) &&
			 !(s->flags & GP_SYNC_UNREADABLE))
			s->holder_status = GP_HOLDER_NOT_HELD;
	}
	/* waiters stay attached by index; sort objects and move their ranges */
	gp_qsort(an->syncs, an->nsyncs, sizeof(*an->syncs), sync_cmp);
	an->syncs_done = true;
out:
	free(count);
	free(sync_of);
	gp_addr_map_deinit(&idx);
	return err;
}
