/*
 * The leak verdict: which parked goroutines can never wake.
 *
 * 1. Proof (runtime/mgc.go findGoroutineLeaks, findMaybeRunnableGoroutines,
 *    isMaybeRunnable, setSyncObjectsUntraceable; mgcmark.go
 *    allGsSnapshotSortedForGC, internalBlocked; 1.26 and 1.27). The
 *    detector's candidates are the goroutines in _Gwaiting (or _Gleaked,
 *    reset first) on a channel (receive, send, select, their nil forms,
 *    select {}) or a sync object (Cond.Wait, Mutex.Lock, RWMutex.RLock and
 *    Lock, WaitGroup.Wait). Before 1.20 (Mutex, RWMutex) and 1.24
 *    (WaitGroup) those waits say "semacquire"; they are candidates here
 *    when the sync analysis places them on such an object, so that every
 *    version gets the verdict the detector would give it. Every other
 *    goroutine is a root: its stack is scanned. The sudog words that lead
 *    from a candidate to what it waits on (c for channels, elem for sync
 *    objects) are hidden from the mark. Marking runs from the globals,
 *    finalizers, cleanups and the roots' stacks; a candidate one of whose
 *    wait objects is marked, or not in the heap, may run: its stack is
 *    scanned in turn, and so on until nothing changes. Nil channels and
 *    select {} never run. The candidates left are leaked, proven.
 *
 * 2. Evidence, labelled so, for what can be reached (holders.c gives the
 *    holders and wakers):
 *    - leaked (no waker): a Mutex or RWMutex whose holders are all leaked
 *      (or without a waker themselves); a WaitGroup with a positive
 *      counter none of whose possible callers of Done lives (the
 *      goroutines counted by a WaitGroup exist before Wait blocks and hold
 *      it); senders on a full buffered channel no live goroutine that
 *      holds it can receive from (its consumer has exited);
 *    - lingering: in select or a receive where only timers can fire: its
 *      other channels can never become ready (none reachable from the
 *      live goroutines but the lingering ones themselves: a second mark
 *      without their stacks), or it is a select over timers alone (its
 *      other cases are nil), or a ticker's channel;
 *    - blocked: everything else that waits and can still be woken, with
 *      one retention path of its wait object (mark.c keeps how each object
 *      was first reached).
 *
 * A wait object in a span that cannot be trusted gives "unknown" (and the
 * goroutine counts as live, which only keeps more alive).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

#define GP_MAX_PATH 64

enum cls {
	CLS_DEAD = 0,        /* dead, idle: not judged */
	CLS_LIVE,            /* running, runnable, in a syscall */
	CLS_ROOT,            /* parked on something the detector never judges */
	CLS_NEVER,           /* nil channel, select {} */
	CLS_CHAN,            /* a candidate on channels */
	CLS_SYNC,            /* a candidate on a sync object */
};

struct gstate {
	uint8_t cls;
	uint8_t pending;     /* a candidate not (yet) found runnable */
	uint8_t suspect;     /* lingering suspect */
	uint8_t select;
	uint8_t never_reason;
};

struct vctx {
	struct gp_snapshot *snap;
	struct gp_analysis *an;
	struct gp_heap *h;
	struct gp_mark *m;
	struct gstate *st;
	struct gp_verdict_rec *rec;
	struct gp_kv *chan_of;        /* hchan -> an->chans index, by hchan */
	size_t nchan_of;
	struct gp_kv_index chan_idx;  /* chan_of's */
	struct gp_addr_map sync_of;   /* sema / notifyList -> an->syncs index */
};

/* What retention paths need after the build (an->vpaths): the proof's
 * mark (how each object was first reached) and the paths made so far. */
struct gp_verdict_paths {
	struct gp_snapshot *snap;
	struct gp_heap *h;
	struct gp_mark *m;
	struct gp_addr_map path_of;   /* object id + 1 -> last step index */
	struct gp_path_step *steps;
	size_t nsteps, steps_cap;
	uint32_t *syms;               /* exe symbols by address */
	size_t nsyms;
	struct gp_locals *locals;     /* DWARF's local variables, or NULL */
	bool locals_tried;
};

/* ------------------------------------------------------ classification */

static bool str_is(const struct gp_snapshot *snap, uint32_t id, const char *s)
{
	return id < snap->strs.len && !strcmp(snap->strs.strs[id], s);
}

static uint8_t wait_kind_of(const struct gp_snapshot *snap,
			    const struct gp_goroutine *g)
{
	if (!g->waiting_count || g->waiting_first >= snap->nwait_info)
		return GP_OBJ_UNKNOWN;
	return snap->wait_kind[g->waiting_first];
}

/* What a wait reason (a string id) says, worked out once per reason:
 * a few reasons, a million goroutines (a dozen strcmp each). */
enum reason_class {
	RC_OTHER = 1, RC_NIL_CHAN, RC_SELECT_EMPTY, RC_CHAN, RC_SYNC,
	RC_SEMACQUIRE,
};

struct reason_memo {
	uint32_t id[64];
	uint8_t rc[64];
};

static uint8_t reason_class(const struct gp_snapshot *snap, uint32_t r,
			    struct reason_memo *m)
{
	uint32_t slot = r & 63;
	if (m->id[slot] == r && m->rc[slot])
		return m->rc[slot];
	uint8_t rc = RC_OTHER;
	if (str_is(snap, r, "chan receive (nil chan)") ||
	    str_is(snap, r, "chan send (nil chan)"))
		rc = RC_NIL_CHAN;
	else if (str_is(snap, r, "select (no cases)"))
		rc = RC_SELECT_EMPTY;
	else if (str_is(snap, r, "chan receive") || str_is(snap, r, "chan send") ||
		 str_is(snap, r, "select"))
		rc = RC_CHAN;
	else if (str_is(snap, r, "sync.Cond.Wait") ||
		 str_is(snap, r, "sync.Mutex.Lock") ||
		 str_is(snap, r, "sync.RWMutex.RLock") ||
		 str_is(snap, r, "sync.RWMutex.Lock") ||
		 str_is(snap, r, "sync.WaitGroup.Wait"))
		rc = RC_SYNC;
	else if (str_is(snap, r, "semacquire"))
		rc = RC_SEMACQUIRE;
	m->id[slot] = r;
	m->rc[slot] = rc;
	return rc;
}

static enum cls classify(const struct gp_snapshot *snap,
			 const struct gp_goroutine *g, uint8_t *never,
			 struct reason_memo *m)
{
	uint32_t st = g->status;
	if (st == GP_STATUS_DEAD || st == GP_STATUS_IDLE)
		return CLS_DEAD;
	/* the detector resets _Gleaked to _Gwaiting first */
	if (st != GP_STATUS_WAITING && st != GP_STATUS_LEAKED)
		return CLS_LIVE;
	int gover = snap->prog->gover;
	switch (reason_class(snap, g->waitreason_str, m)) {
	case RC_NIL_CHAN:
		*never = GP_WHY_NIL_CHAN;
		return CLS_NEVER;
	case RC_SELECT_EMPTY:
		*never = GP_WHY_SELECT_EMPTY;
		return CLS_NEVER;
	case RC_CHAN:
		return CLS_CHAN;
	case RC_SYNC:
		return CLS_SYNC;
	case RC_SEMACQUIRE: {
		/* the waits that later releases name (runtime2.go) */
		uint8_t k = wait_kind_of(snap, g);
		if ((k == GP_OBJ_MUTEX || k == GP_OBJ_RWMUTEX) &&
		    gover < GP_GOVER(1, 20))
			return CLS_SYNC;
		if (k == GP_OBJ_WAITGROUP && gover < GP_GOVER(1, 24))
			return CLS_SYNC;
		break;
	}
	}
	return CLS_ROOT;
}

/* The index in an->chans of the channel at addr, GP_NONE: of equal
 * addresses the last (stably sorted, as a table's last put wins). */
static uint32_t chan_index(const struct vctx *v, uint64_t addr)
{
	uint64_t ci;
	if (!addr || !gp_kv_index_last(&v->chan_idx, addr, &ci))
		return GP_NONE;
	return (uint32_t)ci;
}

/* The verdict of a goroutine nothing can wake (a nil channel, select {}).
 * The main goroutine in select {} is the idiom of a program whose work is
 * done by others (caddy's file-server command ends so): the detector does
 * not scan it, but it never reports it either (mgc.go
 * findGoroutineLeaks: goroutine 1 in select {} is set back to waiting), so
 * neither does this: blocked, a wait the detector does not report. */
static void never_verdict(const struct gp_goroutine *g, uint8_t reason,
			  struct gp_verdict_rec *r)
{
	if (g->goid == 1 && reason == GP_WHY_SELECT_EMPTY) {
		r->verdict = GP_VERDICT_BLOCKED;
		r->reason = GP_WHY_ROOT;
		return;
	}
	r->verdict = GP_VERDICT_LEAKED;
	r->reason = reason;
}

/* ------------------------------------------------------------ the proof */

static gp_error *hide_waits(struct vctx *v, uint32_t gi)
{
	const struct gp_snapshot *snap = v->snap;
	const struct gp_program *p = snap->prog;
	const struct gp_goroutine *g = &snap->gs[gi];
	bool chan = v->st[gi].cls == CLS_CHAN;
	int32_t off = chan ? gp_off_either(p, GP_F_SUDOG_C, GP_F_SUDOG_C_VP) :
			     gp_off_either(p, GP_F_SUDOG_ELEM, GP_F_SUDOG_ELEM_VP);
	if (off < 0)
		return NULL;
	for (uint32_t k = 0; k < g->waiting_count; k++) {
		size_t wi = (size_t)g->waiting_first + k;
		if (wi >= snap->nwaits)
			break;
		uint64_t sg = snap->waits[wi].sudog;
		if (!sg)
			continue;
		gp_error *err = gp_mark_hide(v->m, sg + (uint64_t)off);
		if (err)
			return err;
	}
	return NULL;
}

/* isMaybeRunnable for a candidate: 1 may run (*ret_obj the object that
 * lets it), 0 not yet, -1 unknown (its object is in a corrupt span). */
static int maybe_runnable(struct vctx *v, uint32_t gi, uint64_t *ret_obj)
{
	const struct gp_snapshot *snap = v->snap;
	const struct gp_goroutine *g = &snap->gs[gi];
	bool unknown = false;
	for (uint32_t k = 0; k < g->waiting_count; k++) {
		size_t wi = (size_t)g->waiting_first + k;
		if (wi >= snap->nwaits)
			break;
		uint64_t obj = snap->waits[wi].object;
		if (!obj)
			continue;
		switch (gp_mark_state_of(v->m, obj)) {
		case GP_MARK_MARKED:
		case GP_MARK_NOT_HEAP:
			*ret_obj = obj;
			return 1;
		case GP_MARK_UNKNOWN:
			unknown = true;
			*ret_obj = obj;
			break;
		case GP_MARK_UNMARKED:
			break;
		}
		/* a sync wait is judged on its one object (g.waiting.elem) */
		if (v->st[gi].cls == CLS_SYNC)
			break;
	}
	return unknown ? -1 : 0;
}

/* A round of the fixpoint (gp_mark_goroutines's decide and guess): a
 * pending candidate whose wait object is marked now may run. */
struct round {
	struct vctx *v;
	uint32_t round;
	bool more;
};

static bool round_guess(void *arg, uint32_t gi)
{
	struct round *r = arg;
	uint64_t obj = 0;
	return maybe_runnable(r->v, gi, &obj) != 0;
}

static bool round_decide(void *arg, uint32_t gi)
{
	struct round *r = arg;
	struct vctx *v = r->v;
	uint64_t obj = 0;
	int may = maybe_runnable(v, gi, &obj);
	if (!may)
		return false;
	v->st[gi].pending = 0;
	v->rec[gi].round = r->round;
	v->rec[gi].object = obj;
	if (may < 0) {
		v->rec[gi].verdict = GP_VERDICT_UNKNOWN;
		v->rec[gi].reason = GP_WHY_CORRUPT;
	}
	r->more = true;
	return true;
}

static gp_error *proof(struct vctx *v)
{
	struct gp_snapshot *snap = v->snap;
	gp_error *err;
	for (uint32_t i = 0; i < snap->ngs; i++)
		if ((v->st[i].cls == CLS_CHAN || v->st[i].cls == CLS_SYNC) &&
		    (err = hide_waits(v, i)))
			return err;
	if ((err = gp_mark_global_roots(v->m)))
		return err;
	uint32_t *gis = malloc((snap->ngs ? snap->ngs : 1) * sizeof(*gis));
	if (!gis)
		return &gp_error_nomem;
	size_t n = 0;
	for (uint32_t i = 0; i < snap->ngs; i++) {
		struct gstate *s = &v->st[i];
		v->rec[i].round = GP_NONE;
		if (s->cls == CLS_LIVE || s->cls == CLS_ROOT) {
			v->rec[i].round = 0;
			gis[n++] = i;
		} else if (s->cls == CLS_CHAN || s->cls == CLS_SYNC) {
			const struct gp_goroutine *g = &snap->gs[i];
			if (!g->waiting_count) {
				/* what it waits on was not read: it may run */
				v->rec[i].verdict = GP_VERDICT_UNKNOWN;
				v->rec[i].reason = GP_WHY_NO_WAIT_OBJECT;
				v->rec[i].round = 0;
				gis[n++] = i;
			} else {
				s->pending = 1;
			}
		}
	}
	if (!(err = gp_mark_goroutines(v->m, gis, n, NULL, NULL, NULL)))
		err = gp_mark_drain(v->m);
	struct round r = { .v = v, .more = true };
	while (!err && r.more) {
		r.more = false;
		r.round++;
		n = 0;
		for (uint32_t i = 0; i < snap->ngs; i++)
			if (v->st[i].pending)
				gis[n++] = i;
		if (!(err = gp_mark_goroutines(v->m, gis, n, round_decide, round_guess, &r)))
			err = gp_mark_drain(v->m);
	}
	free(gis);
	return err;
}

/* ------------------------------------------------------------ the paths */

static int sym_cmp(const void *a, const void *b, void *arg)
{
	const struct gp_symbol *s = arg;
	uint64_t x = s[*(const uint32_t *)a].value, y = s[*(const uint32_t *)b].value;
	return x < y ? -1 : x > y;
}

/* The symbol holding addr ("main.gJobs"), with "+off" past its start. */
static gp_error *global_name(struct gp_verdict_paths *v, uint64_t addr, uint32_t *ret)
{
	const struct gp_exe *exe = &v->snap->prog->exe;
	*ret = 0;
	if (!exe->symbols || !exe->nsymbols)
		return NULL;
	if (!v->syms) {
		v->syms = malloc(exe->nsymbols * sizeof(uint32_t));
		if (!v->syms)
			return &gp_error_nomem;
		for (size_t i = 0; i < exe->nsymbols; i++)
			v->syms[i] = (uint32_t)i;
		qsort_r(v->syms, exe->nsymbols, sizeof(uint32_t), sym_cmp,
			exe->symbols);
		v->nsyms = exe->nsymbols;
	}
	size_t lo = 0, hi = v->nsyms;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (exe->symbols[v->syms[mid]].value <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* the sized symbol holding addr; marker symbols (runtime.bss, size
	 * 0) share addresses with real ones */
	const struct gp_symbol *s = NULL;
	for (size_t k = lo + 1; k > 0 && k + 16 > lo + 1; k--) {
		const struct gp_symbol *c = &exe->symbols[v->syms[k - 1]];
		if (c->value > addr)
			continue;
		if (c->size && addr < c->value + c->size) {
			s = c;
			break;
		}
	}
	if (!s)
		return NULL;
	char buf[512];
	if (addr == s->value)
		snprintf(buf, sizeof(buf), "%s", s->name);
	else
		snprintf(buf, sizeof(buf), "%s+0x%llx", s->name,
			 (unsigned long long)(addr - s->value));
	return gp_strtab_intern(&v->snap->strs, buf, ret);
}

/* The function of the frame of goroutine gi holding stack word slot. */
/* The function of the frame of goroutine gi holding stack word slot,
 * and (DWARF) the local variable or parameter there. */
static gp_error *frame_name(struct gp_verdict_paths *v, uint32_t gi, uint64_t slot,
			    uint32_t *ret, uint32_t *ret_local)
{
	const struct gp_snapshot *snap = v->snap;
	const struct gp_program *p = snap->prog;
	const struct gp_goroutine *g = &snap->gs[gi];
	*ret = *ret_local = 0;
	if (g->status == GP_STATUS_RUNNING || !g->pc)
		return NULL;
	struct gp_unwind_start st = {
		.pc = g->pc, .sp = g->sp, .stack_lo = g->stack_lo,
		.stack_hi = g->stack_hi,
		.syscall = (g->flags & GP_G_IN_SYSCALL) != 0,
	};
	struct gp_unwind_pc *pcs = malloc(GP_MAX_FRAMES * sizeof(*pcs));
	if (!pcs)
		return &gp_error_nomem;
	gp_error *uerr = NULL;
	size_t n = gp_unwind(p->pcln, &p->mem, &st, pcs, GP_MAX_FRAMES, &uerr);
	gp_error_destroy(uerr);
	gp_error *err = NULL;
	if (!v->locals_tried) {
		v->locals_tried = true;
		v->locals = gp_locals_open(&p->exe);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t hi = i + 1 < n ? pcs[i + 1].sp : g->stack_hi;
		if (slot < pcs[i].sp || slot >= hi)
			continue;
		struct gp_func fn;
		if (gp_pclntab_find_func(p->pcln, pcs[i].pc, &fn))
			err = gp_strtab_intern(&v->snap->strs, fn.name, ret);
		/* a local of this frame (its CFA is the caller's sp), or a
		 * parameter its callee spilled to its home in this frame */
		char buf[256];
		bool found = v->locals && i + 1 < n &&
			     gp_locals_name(v->locals, pcs[i].pc - 1, pcs[i + 1].sp,
					    slot, buf, sizeof(buf));
		if (!found && v->locals && i > 0 &&
		    gp_locals_name(v->locals, pcs[i - 1].pc - 1, pcs[i].sp, slot,
				   buf, sizeof(buf))) {
			struct gp_func callee;
			found = gp_pclntab_find_func(p->pcln, pcs[i - 1].pc, &callee);
			if (found) {
				size_t k = strlen(buf);
				snprintf(buf + k, sizeof(buf) - k, " (argument of %.*s)",
					 (int)(sizeof(buf) / 2), callee.name);
			}
		}
		if (!err && found)
			err = gp_strtab_intern(&v->snap->strs, buf, ret_local);
		break;
	}
	free(pcs);
	return err;
}

static uint32_t path_kind(uint32_t root)
{
	switch (root) {
	case GP_ROOT_DATA:
	case GP_ROOT_BSS:
		return GP_PATH_GLOBAL;
	case GP_ROOT_STACK:
	case GP_ROOT_STACK_CONSERVATIVE:
		return GP_PATH_STACK;
	case GP_ROOT_FINALIZER:
	case GP_ROOT_CLEANUP:
	case GP_ROOT_WEAK:
		return GP_PATH_SPECIAL;
	case GP_ROOT_FINQ:
		return GP_PATH_QUEUE;
	case GP_ROOT_GOROUTINE:
		return GP_PATH_GOROUTINE;
	case GP_ROOT_REGISTERS:
		return GP_PATH_REGISTERS;
	default:
		return GP_PATH_UNKNOWN;
	}
}

/* The offset in parent object (at pbase) of a pointer into [obj, obj+size). */
static uint64_t pointer_offset(struct gp_verdict_paths *v, const struct gp_object *parent,
			       uint64_t obj, uint64_t size)
{
	const struct gp_program *p = v->snap->prog;
	uint64_t buf[GP_HEAP_WINDOW];
	for (uint64_t off = 0; off < parent->size; off += sizeof(buf)) {
		size_t n = parent->size - off < sizeof(buf) ? (size_t)(parent->size - off) : sizeof(buf);
		if (gp_failed(gp_memory_read(&p->mem, parent->base + off, buf, n)))
			return UINT64_MAX;
		for (size_t k = 0; k < n / 8; k++)
			if (buf[k] >= obj && buf[k] < obj + size)
				return off + 8 * k;
	}
	return UINT64_MAX;
}

/* The retention path of the marked object holding addr: steps from the
 * root to it, shared by everything waiting on the same object. */
static gp_error *path_of(struct gp_verdict_paths *v, uint64_t addr, uint32_t *ret_first,
			 uint32_t *ret_len)
{
	struct gp_object o;
	*ret_first = GP_NONE;
	*ret_len = 0;
	if (gp_heap_find(v->h, addr, &o) != GP_HEAP_OBJECT &&
	    gp_heap_find(v->h, addr, &o) != GP_HEAP_FREE)
		return NULL;
	uint32_t cached = gp_addr_map_get(&v->path_of, (uint64_t)o.id + 1);
	if (cached != GP_NONE) {
		/* the root, then its objects up to the next path's root */
		uint32_t len = 1;
		while (cached + len < v->nsteps &&
		       v->steps[cached + len].kind == GP_PATH_OBJECT)
			len++;
		*ret_first = cached;
		*ret_len = len;
		return NULL;
	}
	uint32_t chain[GP_MAX_PATH];
	size_t n = 0;
	struct gp_root_hit root = { 0 };
	uint32_t id = o.id;
	bool rooted = false;
	while (n < GP_MAX_PATH) {
		chain[n++] = id;
		uint32_t parent;
		if (!gp_mark_parent(v->m, id, &parent, &root))
			return NULL;
		if (parent == GP_NONE) {
			rooted = root.kind != 0;
			break;
		}
		id = parent;
	}
	if (!rooted)
		return NULL; /* longer than GP_MAX_PATH: not shown */
	gp_error *err = gp_grow((void **)&v->steps, &v->steps_cap,
				v->nsteps + n + 1, sizeof(*v->steps));
	if (err)
		return err;
	uint32_t first = (uint32_t)v->nsteps;
	struct gp_path_step *r = &v->steps[v->nsteps++];
	memset(r, 0, sizeof(*r));
	r->address = root.slot;
	r->kind = path_kind(root.kind);
	r->goroutine = root.goroutine;
	if (r->kind == GP_PATH_GLOBAL)
		err = global_name(v, root.slot, &r->name);
	else if (r->kind == GP_PATH_STACK && root.goroutine != GP_NONE)
		err = frame_name(v, root.goroutine, root.slot, &r->name, &r->local);
	if (err)
		return err;
	struct gp_object prev = { 0 };
	for (size_t k = n; k > 0; k--) {
		struct gp_object cur;
		if (!gp_heap_object_of(v->h, chain[k - 1], &cur))
			break;
		struct gp_path_step *s = &v->steps[v->nsteps++];
		memset(s, 0, sizeof(*s));
		s->address = cur.base;
		s->size = cur.size;
		s->kind = GP_PATH_OBJECT;
		s->goroutine = GP_NONE;
		s->offset = k == n ? (root.slot >= cur.base ? 0 : 0) :
			    pointer_offset(v, &prev, cur.base, cur.size);
		const struct gp_span *sp = &v->h->spans[cur.span];
		uint64_t type = 0;
		if (sp->flags & GP_SPAN_HEADERS)
			(void)gp_failed(gp_memory_read_u64(&v->snap->prog->mem, cur.base, &type));
		else if (sp->flags & GP_SPAN_LARGE)
			type = sp->large_type;
		if (type && (err = gp_type_name(v->snap->prog, &v->snap->strs, type, &s->name)))
			return err;
		prev = cur;
	}
	uint32_t last = (uint32_t)v->nsteps - 1;
	if ((err = gp_addr_map_put(&v->path_of, (uint64_t)o.id + 1, first)))
		return err;
	*ret_first = first;
	*ret_len = last - first + 1;
	return NULL;
}

/* ------------------------------------------------------------ evidence */

static bool gone(const struct gp_verdict_rec *r)
{
	return r->verdict == GP_VERDICT_LEAKED || r->verdict == GP_VERDICT_NO_WAKER;
}

/*
 * The owner of a locked Mutex or RWMutex that can never release it, as
 * holders.c decides the owners (gp_sync_owners_of; the verdict reads
 * holders nowhere else): its writer, gone; or one of its readers, gone (a
 * writer waits for every reader, and readers queued behind a pending
 * writer wait for it). GP_NONE when no owner is named or all can run.
 */
static gp_error *gone_owner(struct vctx *v, const struct gp_sync *s,
			    uint32_t self, uint32_t *ret)
{
	struct gp_sync_owners o;
	*ret = GP_NONE;
	gp_error *err = gp_sync_owners_of(v->an, s, &o);
	if (err)
		return err;
	uint32_t n = v->snap->ngs;
	if (o.writer != GP_NONE) {
		if (o.writer != self && o.writer < n && gone(&v->rec[o.writer]))
			*ret = o.writer;
		return NULL;
	}
	for (size_t k = 0; k < o.nreaders; k++)
		if (o.readers[k] != self && o.readers[k] < n &&
		    gone(&v->rec[o.readers[k]])) {
			*ret = o.readers[k];
			break;
		}
	return NULL;
}

/* A possible waker among holders.c's list (with the operation on its
 * stack) that is not itself gone, and whose reference is a live word of
 * its stack: the stack maps sharpen holders.c's word-by-word scan, which
 * also sees the stale words of reused stacks. */
/* Whether the word a holder or waker was found by (h->value) does lead
 * to target by the heap's own bounds and pointer maps: the object it
 * points into is target's, or (one step) holds a pointer to it. holders.c
 * reads a few words past the pointer, which may be another object. */
static bool leads_to(struct vctx *v, const struct gp_holder *h, uint64_t target)
{
	struct gp_object o, t;
	enum gp_heap_where wo = gp_heap_find(v->h, h->value, &o);
	if (wo != GP_HEAP_OBJECT)
		return true; /* a global or a stack: not the heap's to judge */
	if (gp_heap_find(v->h, target, &t) == GP_HEAP_OBJECT && t.id == o.id)
		return true;
	if (!(h->evidence & GP_EV_INDIRECT))
		return h->value == target;
	uint8_t *mask;
	bool cons;
	if (gp_heap_object_mask(v->h, &v->h->spans[o.span], o.base, &mask, &cons))
		return true;
	bool found = false;
	for (uint64_t w = 0; w < o.size / 8 && !found; w++) {
		uint64_t x;
		if ((mask[w >> 3] >> (w & 7) & 1) &&
		    !gp_failed(gp_memory_read_u64(&v->snap->prog->mem, o.base + 8 * w, &x)))
			found = x == target ||
				(x <= target && target - x < GP_HEAP_WINDOW);
	}
	free(mask);
	return found;
}

static bool live_waker(struct vctx *v, uint32_t first, uint32_t n,
		       uint32_t self, uint64_t target)
{
	for (uint32_t k = 0; k < n; k++) {
		const struct gp_holder *h = &v->an->holders[first + k];
		if (!(h->evidence & GP_EV_CALLS_OP) || h->goroutine == self ||
		    h->goroutine >= v->snap->ngs)
			continue;
		if (gone(&v->rec[h->goroutine]))
			continue;
		if (h->slot && !gp_mark_slot_live(v->m, h->goroutine, h->slot))
			continue;
		if (leads_to(v, h, target))
			return true;
	}
	return false;
}

/* One round of "no waker": *changed when some verdict changed. */
static gp_error *no_waker_round(struct vctx *v, bool *ret_changed)
{
	struct gp_snapshot *snap = v->snap;
	bool changed = false;
	gp_error *err;
	for (uint32_t i = 0; i < snap->ngs; i++) {
		struct gp_verdict_rec *r = &v->rec[i];
		const struct gp_goroutine *g = &snap->gs[i];
		if (r->verdict != GP_VERDICT_BLOCKED || !g->waiting_count ||
		    (v->st[i].cls != CLS_CHAN && v->st[i].cls != CLS_SYNC))
			continue;
		size_t wi = g->waiting_first;
		if (wi >= snap->nwaits)
			continue;
		uint64_t obj = snap->waits[wi].object;
		if (v->st[i].cls == CLS_SYNC) {
			uint32_t si = gp_addr_map_get(&v->sync_of, obj);
			if (si == GP_NONE && wi < snap->nwait_info)
				si = gp_addr_map_get(&v->sync_of, snap->wait_obj[wi]);
			if (si == GP_NONE)
				continue;
			const struct gp_sync *s = &v->an->syncs[si];
			if (s->kind == GP_OBJ_MUTEX || s->kind == GP_OBJ_RWMUTEX) {
				uint32_t who;
				if ((err = gone_owner(v, s, i, &who)))
					return err;
				if (who != GP_NONE) {
					r->verdict = GP_VERDICT_NO_WAKER;
					r->reason = GP_WHY_HOLDER_LEAKED;
					r->holder = who;
					r->object = s->address;
					changed = true;
				}
			} else if (s->kind == GP_OBJ_WAITGROUP && s->counter > 0 &&
				   !live_waker(v, s->holders_first, s->nholders, i, s->address)) {
				r->verdict = GP_VERDICT_NO_WAKER;
				r->reason = GP_WHY_NO_DECREMENT;
				r->object = s->address;
				changed = true;
			}
			continue;
		}
		/* senders on one full buffered channel (not a select) */
		if (v->st[i].select || g->waiting_count != 1 ||
		    snap->waits[wi].kind != GP_WAIT_CHAN_SEND)
			continue;
		uint32_t ci = chan_index(v, obj);
		if (ci == GP_NONE)
			continue;
		const struct gp_chan *c = &v->an->chans[ci];
		if (!c->cap || c->len != c->cap ||
		    (c->flags & (GP_CHAN_CLOSED | GP_CHAN_UNREADABLE)) ||
		    live_waker(v, c->wakers_first, c->nwakers, i, c->address))
			continue;
		r->verdict = GP_VERDICT_NO_WAKER;
		r->reason = GP_WHY_NO_CONSUMER;
		r->object = c->address;
		changed = true;
	}
	*ret_changed = changed;
	return NULL;
}

/* Lingering: goroutines woken only by timers, their other channels never
 * ready. Suspects are in select or a receive with a timer channel among
 * their waits; the others' readiness is decided by a second mark that
 * leaves the suspects' stacks out. */
static gp_error *lingering(struct vctx *v)
{
	struct gp_snapshot *snap = v->snap;
	size_t nsuspects = 0;
	for (uint32_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		if (v->rec[i].verdict != GP_VERDICT_BLOCKED || v->st[i].cls != CLS_CHAN)
			continue;
		bool timer = false;
		for (uint32_t k = 0; k < g->waiting_count; k++) {
			size_t wi = (size_t)g->waiting_first + k;
			if (wi >= snap->nwaits)
				break;
			if (snap->waits[wi].kind == GP_WAIT_CHAN_SEND)
				goto next;
			uint32_t ci = chan_index(v, snap->waits[wi].object);
			if (ci != GP_NONE && (v->an->chans[ci].flags & GP_CHAN_TIMER))
				timer = true;
		}
		if (timer) {
			v->st[i].suspect = 1;
			nsuspects++;
		}
	next:;
	}
	if (!nsuspects)
		return NULL;
	/* the second mark only decides the suspects' other channels: none
	 * (a ticker and nil channels, as context.Background's Done), none */
	bool need = false;
	for (uint32_t i = 0; i < snap->ngs && !need; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		for (uint32_t k = 0; v->st[i].suspect && k < g->waiting_count; k++) {
			size_t wi = (size_t)g->waiting_first + k;
			if (wi >= snap->nwaits)
				break;
			uint32_t ci = chan_index(v, snap->waits[wi].object);
			if (ci == GP_NONE || !(v->an->chans[ci].flags & GP_CHAN_TIMER))
				need = true;
		}
	}
	struct gp_mark *m2 = NULL;
	gp_error *err = NULL;
	if (need) {
		if ((err = gp_mark_create(v->h, snap, &m2)))
			return err;
		v->an->verdict_lingering_pass = 1;
	}
	for (uint32_t i = 0; m2 && i < snap->ngs && !err; i++)
		if (v->st[i].cls == CLS_CHAN || v->st[i].cls == CLS_SYNC)
			err = hide_waits(&(struct vctx){ .snap = snap, .m = m2, .st = v->st }, i);
	if (m2 && !err)
		err = gp_mark_global_roots(m2);
	if (m2 && !err) {
		uint32_t *gis = malloc((snap->ngs ? snap->ngs : 1) * sizeof(*gis));
		size_t n = 0;
		for (uint32_t i = 0; gis && i < snap->ngs; i++)
			if (v->rec[i].round != GP_NONE && !v->st[i].suspect)
				gis[n++] = i;
		err = !gis ? &gp_error_nomem :
		      gp_mark_goroutines(m2, gis, n, NULL, NULL, NULL);
		free(gis);
	}
	if (m2 && !err)
		err = gp_mark_drain(m2);
	for (uint32_t i = 0; i < snap->ngs && !err; i++) {
		if (!v->st[i].suspect)
			continue;
		const struct gp_goroutine *g = &snap->gs[i];
		bool other = false, ready = false, periodic = false;
		for (uint32_t k = 0; k < g->waiting_count; k++) {
			size_t wi = (size_t)g->waiting_first + k;
			if (wi >= snap->nwaits)
				break;
			uint64_t obj = snap->waits[wi].object;
			uint32_t ci = chan_index(v, obj);
			if (ci != GP_NONE && (v->an->chans[ci].flags & GP_CHAN_TIMER)) {
				periodic |= v->an->chans[ci].timer_period > 0;
				continue;
			}
			other = true;
			if (!m2 || gp_mark_state_of(m2, obj) != GP_MARK_UNMARKED)
				ready = true;
		}
		/* a receive on a one-shot timer alone is a wait that ends */
		if (ready || (!other && !periodic && !v->st[i].select))
			continue;
		v->rec[i].verdict = GP_VERDICT_LINGERING;
		v->rec[i].reason = GP_WHY_TIMER_LOOP;
	}
	gp_mark_destroy(m2);
	return err;
}

/* ------------------------------------------------------------ building */

static void destroy_ctx(struct vctx *v)
{
	gp_mark_destroy(v->m);
	free(v->st);
	free(v->chan_of);
	gp_kv_index_deinit(&v->chan_idx);
	gp_addr_map_deinit(&v->sync_of);
}

void gp_verdict_paths_destroy(struct gp_verdict_paths *P)
{
	if (!P)
		return;
	gp_mark_destroy(P->m);
	gp_locals_close(P->locals);
	gp_addr_map_deinit(&P->path_of);
	free(P->steps);
	free(P->syms);
	free(P);
}

gp_error *gp_verdict_path(struct gp_snapshot *snap, struct gp_analysis *an,
			  uint32_t gi, const struct gp_path_step **ret,
			  size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	if (!an->verdicts || gi >= snap->ngs)
		return NULL;
	struct gp_verdict_rec *r = &an->verdicts[gi];
	struct gp_verdict_paths *P = an->vpaths;
	if (!P || r->verdict != GP_VERDICT_BLOCKED || r->reason != GP_WHY_REACHABLE)
		return NULL;
	if (r->path_first == GP_NONE) {
		gp_error *err = path_of(P, r->object, &r->path_first, &r->path_len);
		if (err)
			return err;
		if (r->path_first == GP_NONE)
			return NULL;
	}
	*ret = P->steps + r->path_first;
	*ret_n = r->path_len;
	return NULL;
}

static gp_error *verdicts_build(struct gp_snapshot *snap, struct gp_analysis *an)
{
	struct vctx v = { .snap = snap, .an = an };
	gp_error *err = NULL;
	size_t n = snap->ngs;
	an->verdicts = calloc(n + 1, sizeof(*an->verdicts));
	v.st = calloc(n + 1, sizeof(*v.st));
	if (!an->verdicts || !v.st) {
		err = &gp_error_nomem;
		goto out;
	}
	v.rec = an->verdicts;
	/* a sorted array, not a hash table: 600,000 channels took 25 MB
	 * there (a third of what the proof adds at its peak) */
	v.chan_of = malloc((an->nchans + 1) * sizeof(*v.chan_of));
	if (!v.chan_of) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t i = 0; i < an->nchans; i++)
		if (an->chans[i].address)
			v.chan_of[v.nchan_of++] = (struct gp_kv){ an->chans[i].address, i };
	err = gp_sort_kv(v.chan_of, v.nchan_of);
	if (!err)
		gp_kv_index_init(&v.chan_idx, v.chan_of, v.nchan_of);
	/* by semaphore and by object: an RWMutex's readers and writer wait on
	 * two semaphores of one object */
	for (size_t i = 0; i < an->nsyncs && !err; i++) {
		if (an->syncs[i].address)
			err = gp_addr_map_put(&v.sync_of, an->syncs[i].address, (uint32_t)i);
		if (!err && an->syncs[i].sema)
			err = gp_addr_map_put(&v.sync_of, an->syncs[i].sema, (uint32_t)i);
	}
	if (err)
		goto out;
	struct reason_memo memo = { { 0 }, { 0 } };
	for (uint32_t i = 0; i < n; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		uint8_t never = 0;
		v.st[i].cls = (uint8_t)classify(snap, g, &never, &memo);
		v.st[i].never_reason = never;
		v.st[i].select = (g->flags & GP_G_SELECT) != 0;
		v.rec[i].path_first = GP_NONE;
		v.rec[i].holder = GP_NONE;
		v.rec[i].round = GP_NONE;
	}
	gp_error *herr = gp_analysis_heap(snap, &v.h);
	if (herr == &gp_error_nomem) {
		err = herr;
		goto out;
	}
	if (herr) {
		/* no proof without a heap: every candidate is unknown */
		err = gp_strtab_intern(&snap->strs, gp_error_message(herr), &an->verdict_heap_error);
		gp_error_destroy(herr);
		if (err)
			goto out;
		for (uint32_t i = 0; i < n; i++) {
			struct gp_verdict_rec *r = &v.rec[i];
			switch (v.st[i].cls) {
			case CLS_DEAD:
			case CLS_LIVE:
				r->verdict = GP_VERDICT_LIVE;
				break;
			case CLS_ROOT:
				r->verdict = GP_VERDICT_BLOCKED;
				r->reason = GP_WHY_ROOT;
				break;
			case CLS_NEVER:
				never_verdict(&snap->gs[i], v.st[i].never_reason, r);
				break;
			default:
				r->verdict = GP_VERDICT_UNKNOWN;
				r->reason = GP_WHY_NO_HEAP;
			}
		}
		goto count;
	}
	an->verdict_heap_model = 1;
	gp_phase("verdict: heap opened");
	if ((err = gp_mark_create(v.h, snap, &v.m)))
		goto out;
	if ((err = proof(&v)))
		goto out;
	struct gp_mark_stats ps;
	gp_mark_stats(v.m, &ps);
	gp_phase_note("proof: %u chunks scanned on two threads, %u of their "
		      "units done over on one", ps.par_chunks, ps.par_again);
	gp_phase("verdict: proof");
	/* Unreached proves nothing when in-use spans were left out (their
	 * objects, wherever they are, were never scanned) or when a stack
	 * the mark had to scan could not be (roots.c: bounds no stack has,
	 * or unreadable): what only it reaches was never marked. */
	struct gp_mark_stats pre;
	gp_mark_stats(v.m, &pre);
	bool unproven = v.h->ndropped || pre.unscanned_stacks;
	for (uint32_t i = 0; i < n; i++) {
		struct gp_verdict_rec *r = &v.rec[i];
		const struct gp_goroutine *g = &snap->gs[i];
		if (r->verdict == GP_VERDICT_UNKNOWN)
			continue;
		switch (v.st[i].cls) {
		case CLS_DEAD:
		case CLS_LIVE:
			r->verdict = GP_VERDICT_LIVE;
			break;
		case CLS_ROOT:
			r->verdict = GP_VERDICT_BLOCKED;
			r->reason = str_is(snap, g->waitreason_str, "sleep") ?
					    GP_WHY_TIMER : GP_WHY_ROOT;
			break;
		case CLS_NEVER:
			never_verdict(g, v.st[i].never_reason, r);
			break;
		default:
			if (v.st[i].pending) {
				r->verdict = unproven ? GP_VERDICT_UNKNOWN :
							GP_VERDICT_LEAKED;
				r->reason = unproven ? GP_WHY_CORRUPT :
						       GP_WHY_UNREACHABLE;
				if (g->waiting_first < snap->nwaits)
					r->object = snap->waits[g->waiting_first].object;
			} else {
				r->verdict = GP_VERDICT_BLOCKED;
				r->reason = gp_mark_state_of(v.m, r->object) == GP_MARK_NOT_HEAP ?
						    GP_WHY_NOT_IN_HEAP : GP_WHY_REACHABLE;
			}
		}
	}
	if ((err = lingering(&v)))
		goto out;
	for (bool changed = true; changed;)
		if ((err = no_waker_round(&v, &changed)))
			goto out;
	gp_phase("verdict: evidence");
	struct gp_mark_stats ms;
	gp_mark_stats(v.m, &ms);
	/* retention paths are made when asked for (gp_verdict_path): one
	 * per row shown, not one per goroutine */
	an->vpaths = calloc(1, sizeof(*an->vpaths));
	if (!an->vpaths) {
		err = &gp_error_nomem;
		goto out;
	}
	an->vpaths->snap = snap;
	an->vpaths->h = v.h;
	gp_mark_trim(v.m);
	an->vpaths->m = v.m;
	v.m = NULL;
	an->verdict_marked = ms.marked;
	an->verdict_marked_bytes = ms.scanned_bytes;
	an->verdict_conservative_frames = ms.conservative_frames;
	an->verdict_stack_errors = ms.stack_errors;
count:
	for (uint32_t i = 0; i < n; i++)
		if (v.rec[i].verdict < GP_NUM_VERDICTS)
			an->verdict_counts[v.rec[i].verdict]++;
out:
	destroy_ctx(&v);
	return err;
}

gp_error *gp_verdicts_build(struct gp_snapshot *snap, struct gp_analysis *an)
{
	if (an->verdicts_done)
		return NULL;
	gp_error *err = verdicts_build(snap, an);
	if (err) {
		free(an->verdicts);
		an->verdicts = NULL;
		gp_verdict_paths_destroy(an->vpaths);
		an->vpaths = NULL;
		memset(an->verdict_counts, 0, sizeof(an->verdict_counts));
		return err;
	}
	an->verdicts_done = true;
	return NULL;
}
