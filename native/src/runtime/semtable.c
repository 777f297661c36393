/*
 * Semaphore waits: which goroutine waits on which sync object, part of
 * the snapshot (gp_snapshot_take).
 *
 * A goroutine blocked in sync.Mutex.Lock, RWMutex.(R)Lock or
 * WaitGroup.Wait parks in semacquire1 on a semaphore address inside the
 * object, queued in runtime.semtable (runtime/sema.go): 251 semaRoots,
 * each a treap of sudogs keyed by address (prev = left, next = right),
 * each node heading a waitlink chain of the other waiters on that address.
 * Before Go 1.26 g.waiting is nil for these goroutines, so the table is
 * the only record. sync.Cond waiters are not in the table: they hang off
 * the Cond's notifyList (head, linked through sudog.next), reached here
 * from a pointer to the Cond in the waiting goroutine's own stack and
 * verified by finding the goroutine in that list.
 *
 * Which sync type a semaphore belongs to is read from the waiter's stack
 * (the innermost sync.* method), which gives the semaphore's offset in its
 * object (fields.def: sync.Mutex.sema, RWMutex.writerSem, ...).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* Goroutines by address: sorted pairs, not a hash table (a million
 * random inserts cost several times the sort). */
static gp_error *build_gmap(struct gp_snapshot *snap)
{
	if (snap->gmap)
		return NULL;
	struct gp_kv *m = malloc((snap->ngs ? snap->ngs : 1) * sizeof(*m));
	if (!m)
		return &gp_error_nomem;
	for (size_t i = 0; i < snap->ngs; i++)
		m[i] = (struct gp_kv){ snap->gs[i].address, i };
	gp_error *err = gp_sort_kv(m, snap->ngs);
	if (err) {
		free(m);
		return err;
	}
	snap->gmap = m;
	snap->ngmap = snap->ngs;
	return NULL;
}

/* Index of the goroutine whose g is at address, or GP_NONE. */
static uint32_t g_at(const struct gp_snapshot *snap, uint64_t address)
{
	size_t lo = 0, hi = snap->ngmap;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (snap->gmap[mid].key < address)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < snap->ngmap && snap->gmap[lo].key == address ?
		       (uint32_t)snap->gmap[lo].value : GP_NONE;
}

/* --------------------------------------------------- classifying a wait */

struct sync_class {
	uint8_t kind;     /* enum gp_object_kind */
	uint8_t role;     /* enum gp_waiter_role */
	int32_t sema_off; /* semaphore (or notifyList) offset in the object */
};

/* "sync.(*Mutex).Lock", "internal/sync.(*Mutex).lockSlow" -> "(*Mutex)..." */
static const char *sync_method(const char *fn)
{
	if (!strncmp(fn, "internal/sync.", 14))
		return fn + 14;
	if (!strncmp(fn, "sync.", 5))
		return fn + 5;
	return NULL;
}

static struct sync_class classify_stack(const struct gp_snapshot *snap,
					uint32_t stack_id)
{
	const struct gp_program *prog = snap->prog;
	struct sync_class c = { GP_OBJ_SEMA, GP_ROLE_WAIT, 0 };
	uint32_t n;
	const struct gp_frame *f = gp_snapshot_stack(snap, stack_id, &n);
	int32_t msema = gp_off_either(prog, GP_F_MUTEX_SEMA, GP_F_MUTEX_SEMA_OLD);
	bool in_mutex = false;
	for (uint32_t i = 0; i < n; i++) {
		const char *m = sync_method(gp_snapshot_string(snap, f[i].func));
		if (!m) {
			if (in_mutex)
				break;
			continue;
		}
		if (!strncmp(m, "runtime_", 8))
			continue;
		if (!strncmp(m, "(*Mutex).", 9)) {
			in_mutex = true;
			c = (struct sync_class){ GP_OBJ_MUTEX, GP_ROLE_LOCK, msema };
			continue;
		}
		if (!strcmp(m, "(*RWMutex).Lock")) {
			if (in_mutex)
				c = (struct sync_class){
					GP_OBJ_RWMUTEX, GP_ROLE_LOCK,
					gp_off(prog, GP_F_RWMUTEX_W) + msema };
			else
				c = (struct sync_class){
					GP_OBJ_RWMUTEX, GP_ROLE_LOCK,
					gp_off(prog, GP_F_RWMUTEX_WRITERSEM) };
			return c;
		}
		if (in_mutex)
			return c;
		if (!strcmp(m, "(*RWMutex).RLock"))
			return (struct sync_class){
				GP_OBJ_RWMUTEX, GP_ROLE_RLOCK,
				gp_off(prog, GP_F_RWMUTEX_READERSEM) };
		if (!strcmp(m, "(*WaitGroup).Wait"))
			return (struct sync_class){
				GP_OBJ_WAITGROUP, GP_ROLE_WAIT,
				gp_off_either(prog, GP_F_WAITGROUP_SEMA,
					   GP_F_WAITGROUP_SEMA_OLD) };
		if (!strcmp(m, "(*Cond).Wait"))
			return (struct sync_class){
				GP_OBJ_COND, GP_ROLE_WAIT,
				gp_off(prog, GP_F_COND_NOTIFY) };
	}
	if (c.sema_off < 0)
		c.sema_off = 0;
	return c;
}

/* ----------------------------------------------------- the semaphore table */

struct sema_rec {
	uint64_t g, elem, sudog;
};

static gp_error *read_sudog(const struct gp_program *prog, uint64_t addr,
			    uint8_t *buf, size_t size)
{
	return gp_memory_read(&prog->mem, addr, buf, size);
}

static enum gp_field_id elem_field(const struct gp_program *prog)
{
	return gp_has(prog, GP_F_SUDOG_ELEM) ? GP_F_SUDOG_ELEM :
					       GP_F_SUDOG_ELEM_VU;
}

/*
 * Every sudog in the table. Iterative, with an explicit stack of bounded
 * depth and a bound on the nodes visited, so a corrupt or cyclic treap
 * ends the walk instead of hanging it. Returns how far it got.
 */
static gp_error *walk_semtable(struct gp_snapshot *snap,
			       struct sema_rec **ret, size_t *ret_n)
{
	const struct gp_program *prog = snap->prog;
	uint64_t table = prog->layout.var_addr[GP_V_SEMTABLE];
	int64_t tsize = prog->layout.type_size[GP_T_SEMTABLE];
	size_t ssize = (size_t)prog->layout.type_size[GP_T_SUDOG];
	*ret = NULL;
	*ret_n = 0;
	if (!table || tsize <= 0 || tsize % GP_SEMTAB_SIZE ||
	    !gp_has(prog, GP_F_SEMAROOT_TREAP) || ssize == 0 || ssize > 512)
		return NULL;
	uint64_t stride = (uint64_t)tsize / GP_SEMTAB_SIZE;
	enum gp_field_id fe = elem_field(prog);
	/* (walked before the gs are read, hence allgs' length) */
	size_t limit = (snap->ngs > snap->allgs_len ? snap->ngs :
			snap->allgs_len) + 1024;
	if (limit > GP_MAX_SEMA_NODES)
		limit = GP_MAX_SEMA_NODES;
	uint64_t *stack = malloc(GP_MAX_TREAP_DEPTH * sizeof(*stack));
	struct sema_rec *recs = NULL;
	size_t nrecs = 0, cap = 0, visited = 0;
	gp_error *err = NULL;
	uint8_t buf[512];
	/* a million waiters are a million sudogs scattered over the heap */
	struct gp_pager *pager = NULL;
	if (!stack || (err = gp_pager_create(&prog->mem, &pager))) {
		free(stack);
		return err ? err : &gp_error_nomem;
	}
	for (uint64_t i = 0; i < GP_SEMTAB_SIZE && visited < limit; i++) {
		uint64_t root = table + i * stride, treap;
		if (gp_failed(gp_memory_read_u64(&prog->mem,
				       root + (uint64_t)gp_off(prog, GP_F_SEMAROOT_TREAP),
				       &treap))) {
			continue; /* unreadable root: skip it, keep the rest */
		}
		size_t sp = 0;
		if (treap)
			stack[sp++] = treap;
		while (sp && visited < limit) {
			uint64_t node = stack[--sp];
			/* the node and its waitlink chain: waiters on one address */
			for (uint64_t s = node; s && visited < limit;) {
				visited++;
				gp_error *e = gp_pager_read(pager, s, buf, ssize);
				if (e) {
					gp_error_destroy(e);
					break;
				}
				if ((err = gp_grow((void **)&recs, &cap, nrecs + 1,
						   sizeof(*recs))))
					goto out;
				recs[nrecs++] = (struct sema_rec){
					gp_field(prog, GP_F_SUDOG_G, buf, ssize),
					gp_field(prog, fe, buf, ssize), s };
				if (s == node) {
					uint64_t l = gp_field(prog, GP_F_SUDOG_PREV, buf, ssize);
					uint64_t r = gp_field(prog, GP_F_SUDOG_NEXT, buf, ssize);
					if (l && sp < GP_MAX_TREAP_DEPTH)
						stack[sp++] = l;
					if (r && sp < GP_MAX_TREAP_DEPTH)
						stack[sp++] = r;
				}
				s = gp_field(prog, GP_F_SUDOG_WAITLINK, buf, ssize);
			}
		}
	}
out:
	free(stack);
	gp_pager_destroy(pager);
	if (err) {
		free(recs);
		return err;
	}
	*ret = recs;
	*ret_n = nrecs;
	return NULL;
}

static gp_error *add_wait(struct gp_snapshot *snap, struct gp_goroutine *g,
			  uint64_t object, uint64_t sudog, uint32_t kind)
{
	gp_error *err = gp_grow((void **)&snap->waits, &snap->waits_cap,
				snap->nwaits + 1, sizeof(*snap->waits));
	if (err)
		return err;
	struct gp_wait *w = &snap->waits[snap->nwaits];
	memset(w, 0, sizeof(*w));
	w->object = object;
	w->sudog = sudog;
	w->kind = kind;
	g->waiting_first = (uint32_t)snap->nwaits++;
	g->waiting_count = 1;
	g->wait_address = object;
	return NULL;
}

/* ------------------------------------------------------ Cond waiters */

static bool stack_has(const struct gp_snapshot *snap, uint32_t stack_id,
		      const char *suffix)
{
	uint32_t n;
	const struct gp_frame *f = gp_snapshot_stack(snap, stack_id, &n);
	size_t sl = strlen(suffix);
	for (uint32_t i = 0; i < n; i++) {
		const char *fn = gp_snapshot_string(snap, f[i].func);
		size_t l = strlen(fn);
		if (l >= sl && !strcmp(fn + l - sl, suffix))
			return true;
	}
	return false;
}

/*
 * Whether notifyList nl lists goroutine address gaddr; if so, gives every
 * goroutine on the list a Cond wait. The list is walked at most ngs + 1
 * steps.
 */
static gp_error *try_notifylist(struct gp_snapshot *snap,
				uint64_t nl,
				uint64_t gaddr, bool *ret_found)
{
	const struct gp_program *prog = snap->prog;
	size_t ssize = (size_t)prog->layout.type_size[GP_T_SUDOG];
	uint8_t buf[512];
	uint64_t head;
	*ret_found = false;
	if (gp_failed(gp_memory_read_u64(&prog->mem,
			       nl + (uint64_t)gp_off(prog, GP_F_NOTIFYLIST_HEAD),
			       &head)) || !head)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t s = head;
		for (size_t i = 0; s && i <= snap->ngs; i++) {
			gp_error *e = read_sudog(prog, s, buf, ssize);
			if (e) {
				gp_error_destroy(e);
				break;
			}
			uint64_t g = gp_field(prog, GP_F_SUDOG_G, buf, ssize);
			if (pass == 0 && g == gaddr) {
				*ret_found = true;
				break;
			}
			if (pass == 1) {
				uint32_t gi = g_at(snap, g);
				if (gi != GP_NONE && !snap->gs[gi].waiting_count) {
					gp_error *err = add_wait(snap, &snap->gs[gi],
								 nl, s, GP_WAIT_COND);
					if (err)
						return err;
				}
			}
			s = gp_field(prog, GP_F_SUDOG_NEXT, buf, ssize);
		}
		if (!*ret_found)
			return NULL;
	}
	return NULL;
}


static gp_error *find_cond_waits(struct gp_snapshot *snap)
{
	const struct gp_program *prog = snap->prog;
	if (!gp_has(prog, GP_F_COND_NOTIFY) || !gp_has(prog, GP_F_NOTIFYLIST_HEAD))
		return NULL;
	uint64_t notify = (uint64_t)gp_off(prog, GP_F_COND_NOTIFY);
	uint8_t *cond_memo = calloc(snap->nstacks + 1, 1);
	uint8_t *sbuf = NULL;     /* a stack not mapped in place */
	size_t scap = 0;
	gp_error *ret = NULL;
	if (!cond_memo)
		return &gp_error_nomem;
	for (size_t i = 0; i < snap->ngs && !ret; i++) {
		struct gp_goroutine *g = &snap->gs[i];
		if (g->waiting_count || g->status != GP_STATUS_WAITING ||
		    g->stack_id == GP_NONE || g->stack_id >= snap->nstacks)
			continue;
		/* decided once per distinct stack, not per goroutine */
		if (!cond_memo[g->stack_id])
			cond_memo[g->stack_id] =
				stack_has(snap, g->stack_id, "(*Cond).Wait") ? 1 : 2;
		if (cond_memo[g->stack_id] != 1)
			continue;
		gp_error *err = build_gmap(snap);
		if (err) {
			ret = err;
			break;
		}
		uint64_t lo = g->sp, hi = g->stack_hi;
		if (!lo || hi <= lo)
			continue;
		if (hi - lo > GP_STACK_WINDOW)
			hi = lo + GP_STACK_WINDOW;
		const uint8_t *p;
		if ((err = gp_memory_view(&prog->mem, lo, hi - lo, &sbuf,
					  &scap, &p))) {
			gp_error_destroy(err);
			continue;
		}
		for (uint64_t a = 0; a + 8 <= hi - lo && !g->waiting_count; a += 8) {
			uint64_t v = gp_load(p + a, 8);
			if (v < 4096 || (v & 7))
				continue;
			bool found;
			if ((err = try_notifylist(snap, v + notify,
						  g->address, &found))) {
				ret = err;
				break;
			}
		}
	}
	free(sbuf);
	free(cond_memo);
	return ret;
}

/* ------------------------------------------------------------- the pass */

/* Direction of a plain (non-select) channel wait from its wait reason. */
static uint32_t chan_kind_of(const struct gp_snapshot *snap,
			     const struct gp_goroutine *g)
{
	const char *r = gp_snapshot_string(snap, g->waitreason_str);
	if (!strncmp(r, "chan receive", 12))
		return GP_WAIT_CHAN_RECV;
	if (!strncmp(r, "chan send", 9))
		return GP_WAIT_CHAN_SEND;
	return GP_WAIT_CHAN_UNKNOWN;
}

gp_error *gp_semtable_gather(struct gp_snapshot *snap)
{
	gp_error *err = walk_semtable(snap, &snap->sema_recs, &snap->nsema_recs);
	if (!err)
		snap->sema_gathered = true;
	return err;
}

gp_error *gp_semtable_attribute(struct gp_snapshot *snap)
{
	struct sync_class *class_memo = NULL;
	struct gp_kv *by_g = NULL;
	uint8_t *class_done = NULL;
	uint32_t *reason_kind = NULL;
	gp_error *err = NULL;
	struct sema_rec *recs = snap->sema_recs;
	size_t nrecs = snap->nsema_recs;
	snap->sema_recs = NULL;
	snap->nsema_recs = 0;
	if (!snap->sema_gathered && (err = walk_semtable(snap, &recs, &nrecs)))
		return err;
	gp_phase("semtable");
	if (nrecs && (err = build_gmap(snap)))
		goto out;
	/* each record's goroutine: both sides sorted by address, merged */
	if (nrecs && !(by_g = malloc(nrecs * sizeof(*by_g)))) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t i = 0; i < nrecs; i++)
		by_g[i] = (struct gp_kv){ recs[i].g, i };
	if (nrecs && (err = gp_sort_kv(by_g, nrecs)))
		goto out;
	/* recs[i].g becomes the goroutine's index (records keep their order) */
	for (size_t i = 0, j = 0; i < nrecs; i++) {
		while (j < snap->ngmap && snap->gmap[j].key < by_g[i].key)
			j++;
		recs[by_g[i].value].g = j < snap->ngmap &&
			snap->gmap[j].key == by_g[i].key ? snap->gmap[j].value : GP_NONE;
	}
	gp_phase("gmap");
	for (size_t i = 0; i < nrecs; i++) {
		uint32_t gi = (uint32_t)recs[i].g;
		if (gi == GP_NONE)
			continue;
		struct gp_goroutine *g = &snap->gs[gi];
		/* 1.26 lists the semaphore in g.waiting already */
		if (g->waiting_count || g->status != GP_STATUS_WAITING)
			continue;
		if ((err = add_wait(snap, g, recs[i].elem, recs[i].sudog,
				    GP_WAIT_SEMA)))
			goto out;
	}
	if ((err = find_cond_waits(snap)))
		goto out;
	gp_phase("cond");

	/* Objects and roles of every wait. */
	free(snap->wait_obj);
	free(snap->wait_kind);
	free(snap->wait_role);
	size_t nw = snap->nwaits ? snap->nwaits : 1;
	snap->wait_obj = calloc(nw, sizeof(*snap->wait_obj));
	snap->wait_kind = calloc(nw, 1);
	snap->wait_role = calloc(nw, 1);
	snap->nwait_info = snap->nwaits;
	if (!snap->wait_obj || !snap->wait_kind || !snap->wait_role) {
		err = &gp_error_nomem;
		goto out;
	}
	/* per distinct stack and wait reason, not per goroutine */
	class_memo = calloc(snap->nstacks + 1, sizeof(*class_memo));
	class_done = calloc(snap->nstacks + 1, 1);
	reason_kind = calloc(snap->strs.len + 1, sizeof(*reason_kind));
	if (!class_memo || !class_done || !reason_kind) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t i = 0; i < snap->ngs; i++) {
		struct gp_goroutine *g = &snap->gs[i];
		for (uint32_t k = 0; k < g->waiting_count; k++) {
			size_t wi = g->waiting_first + k;
			if (wi >= snap->nwaits)
				break;
			struct gp_wait *w = &snap->waits[wi];
			if (w->kind <= GP_WAIT_CHAN_UNKNOWN) {
				if (!(w->flags & 1)) {
					uint32_t r = g->waitreason_str;
					if (r < snap->strs.len && !reason_kind[r])
						reason_kind[r] = chan_kind_of(snap, g);
					w->kind = r < snap->strs.len ? reason_kind[r] :
						chan_kind_of(snap, g);
				}
				snap->wait_obj[wi] = w->object;
				snap->wait_kind[wi] = GP_OBJ_CHAN;
				snap->wait_role[wi] = w->kind == GP_WAIT_CHAN_RECV ?
					GP_ROLE_RECV : w->kind == GP_WAIT_CHAN_SEND ?
					GP_ROLE_SEND : GP_ROLE_UNKNOWN;
				continue;
			}
			struct sync_class c = { GP_OBJ_SEMA, GP_ROLE_WAIT, 0 };
			if (g->stack_id < snap->nstacks) {
				if (!class_done[g->stack_id]) {
					class_memo[g->stack_id] =
						classify_stack(snap, g->stack_id);
					class_done[g->stack_id] = 1;
				}
				c = class_memo[g->stack_id];
			}
			if (w->kind == GP_WAIT_COND && c.kind != GP_OBJ_COND)
				c = (struct sync_class){ GP_OBJ_COND, GP_ROLE_WAIT,
					gp_off(snap->prog, GP_F_COND_NOTIFY) };
			if (c.kind == GP_OBJ_COND)
				w->kind = GP_WAIT_COND;
			snap->wait_kind[wi] = c.kind;
			snap->wait_role[wi] = c.role;
			snap->wait_obj[wi] = w->object >= (uint64_t)c.sema_off ?
				w->object - (uint64_t)c.sema_off : w->object;
		}
		if (g->waiting_count && g->waiting_first < snap->nwaits)
			g->wait_address = snap->waits[g->waiting_first].object;
	}
out:
	free(recs);
	free(by_g);
	free(class_memo);
	free(class_done);
	free(reason_kind);
	return err;
}

uint64_t gp_wait_sync_object(const struct gp_snapshot *snap, size_t wait)
{
	if (wait >= snap->nwait_info)
		return 0;
	uint8_t k = snap->wait_kind[wait];
	if (k == GP_OBJ_CHAN || k == GP_OBJ_UNKNOWN)
		return 0;
	return snap->wait_obj[wait];
}
