/*
 * Probable holders of sync objects and possible wakers of channels.
 *
 * Neither sync.Mutex nor a channel records who holds or could wake it
 * (internal/sync/mutex.go, runtime/chan.go), so this is evidence, ranked,
 * never a guess presented as fact:
 *
 *  - Mutex and RWMutex holders come from the code each goroutine's frames
 *    are in (locks.c): a frame between a Lock and its Unlock of the object,
 *    or with a deferred Unlock of it pending. A pointer to a mutex on a
 *    stack is not evidence that its goroutine locked it. One writer, or
 *    readers, is an answer; evidence naming several writers, or a writer
 *    and readers, is "ambiguous": all are listed, none preferred.
 *  - Wakers of channels, WaitGroups and Conds come from the reference
 *    scan. One set of wanted addresses, one pass over each goroutine's
 *    used stack [sp, hi): a word equal to an object's address
 *    (GP_EV_POINTER), a word up to GP_CONTAINER_WINDOW below it (the
 *    address of a struct that contains it, GP_EV_CONTAINER), or for
 *    channels a word pointing to an object whose first words hold the
 *    channel (GP_EV_INDIRECT). Lookups are a binary search of the sorted
 *    set: O(stack words x log objects). A waker must have the waking
 *    operation (chansend1, closechan, selectgo, WaitGroup.Done...) called
 *    from some function on its stack (GP_EV_CALLS_OP).
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

#define GP_INDIRECT_WORDS 8
#define GP_MAX_HITS (16u << 20)
#define GP_MAX_FUNC_SCAN (256u << 10) /* bytes of code searched per function */

struct target {
	uint64_t addr;
	uint32_t index;   /* into an->syncs or an->chans */
	uint8_t is_chan;
	uint8_t exact;    /* only exact pointers count: channels (an hchan is
			   * its own allocation) and globals (pointers to
			   * neighbouring globals abound) */
	uint8_t noscan;   /* Mutex, RWMutex: holders come from locks.c */
};

struct hit {
	uint32_t target;  /* index into targets */
	uint32_t g;
	uint64_t slot, value;
	uint32_t evidence;
	int32_t score;
	uint64_t site_pc;
	uint32_t frame;
	uint32_t func;    /* string id of the frame's function */
	uint32_t line, file;
	uint32_t role;    /* GP_ROLE_LOCK, GP_ROLE_RLOCK for lock evidence */
	uint32_t desc;    /* string id of a description made already, 0 */
};

/* First target with addr >= v. */
static size_t lower_bound(const struct target *t, size_t n, uint64_t v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid].addr < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool waits_on(const struct gp_snapshot *snap, const struct gp_goroutine *g,
		     uint64_t obj)
{
	for (uint32_t k = 0; k < g->waiting_count; k++) {
		size_t wi = g->waiting_first + k;
		if (wi < snap->nwait_info && snap->wait_obj[wi] == obj)
			return true;
	}
	return false;
}

/* ------------------------------------------------------ code evidence */

/* Direct calls from a function to any of the entries in ops. */
static bool calls_any(const struct gp_program *prog, uint64_t entry,
		      uint64_t end, const uint64_t *ops, size_t nops)
{
	const struct gp_arch *arch = prog->exe.arch;
	if (!arch->next_call || end <= entry || end - entry > GP_MAX_FUNC_SCAN)
		return false;
	uint8_t *buf = NULL;
	size_t cap = 0;
	const uint8_t *code;
	gp_error *err = gp_memory_view(&prog->mem, entry, end - entry, &buf,
				       &cap, &code);
	bool found = false;
	uint64_t t;
	if (err)
		gp_error_destroy(err);
	else
		for (size_t i = 0; !found &&
		     arch->next_call(code, end - entry, entry, &i, &t);)
			for (size_t k = 0; k < nops && !found; k++)
				found = ops[k] == t;
	free(buf);
	return found;
}

/* Entries of the functions that wake each kind of waiter. */
struct wake_ops {
	uint64_t wake_recv[8], wake_send[8], wake_wg[4], wake_cond[4];
	size_t nrecv, nsend, nwg, ncond;
};

static void add_op(const struct gp_program *prog, uint64_t *arr, size_t *n,
		   const char *name)
{
	struct gp_func fn;
	if (gp_pclntab_func_by_name(prog->pcln, name, &fn))
		arr[(*n)++] = fn.entry;
}

static void wake_ops_init(const struct gp_program *prog, struct wake_ops *w)
{
	memset(w, 0, sizeof(*w));
	/* runtime/chan.go, runtime/select.go: what wakes a blocked receiver */
	add_op(prog, w->wake_recv, &w->nrecv, "runtime.chansend1");
	add_op(prog, w->wake_recv, &w->nrecv, "runtime.closechan");
	add_op(prog, w->wake_recv, &w->nrecv, "runtime.selectgo");
	add_op(prog, w->wake_recv, &w->nrecv, "runtime.selectnbsend");
	add_op(prog, w->wake_recv, &w->nrecv, "runtime.reflect_chansend");
	/* ... and a blocked sender */
	add_op(prog, w->wake_send, &w->nsend, "runtime.chanrecv1");
	add_op(prog, w->wake_send, &w->nsend, "runtime.chanrecv2");
	add_op(prog, w->wake_send, &w->nsend, "runtime.selectgo");
	add_op(prog, w->wake_send, &w->nsend, "runtime.selectnbrecv");
	add_op(prog, w->wake_send, &w->nsend, "runtime.selectnbrecv2");
	add_op(prog, w->wake_send, &w->nsend, "runtime.reflect_chanrecv");
	add_op(prog, w->wake_wg, &w->nwg, "sync.(*WaitGroup).Add");
	add_op(prog, w->wake_wg, &w->nwg, "sync.(*WaitGroup).Done");
	add_op(prog, w->wake_cond, &w->ncond, "sync.(*Cond).Signal");
	add_op(prog, w->wake_cond, &w->ncond, "sync.(*Cond).Broadcast");
}

/* Whether any physical function on a stack calls one of ops. */
static bool stack_calls(const struct gp_snapshot *snap, uint32_t stack_id,
			const uint64_t *ops, size_t nops)
{
	uint32_t n;
	const struct gp_frame *f = gp_snapshot_stack(snap, stack_id, &n);
	uint64_t last = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!f[i].entry || f[i].entry == last)
			continue;
		last = f[i].entry;
		struct gp_func fn;
		if (gp_pclntab_find_func(snap->prog->pcln, f[i].entry, &fn) &&
		    calls_any(snap->prog, fn.entry, fn.end, ops, nops))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------- the scan */

static gp_error *add_hit(struct hit **hits, size_t *n, size_t *cap,
			 const struct hit *h)
{
	if (*n >= GP_MAX_HITS)
		return NULL;
	gp_error *err = gp_grow((void **)hits, cap, *n + 1, sizeof(**hits));
	if (err)
		return err;
	(*hits)[(*n)++] = *h;
	return NULL;
}

/*
 * The part of a goroutine's stack to scan: from its first frame of the
 * user's code to the top. The runtime's frames above it hold the machinery
 * of its own wait (its sudog, its channel, scratch pointers), which says
 * nothing about what the goroutine holds; scanning them found "evidence"
 * by coincidence at a million goroutines.
 */
static bool scan_range(const struct gp_snapshot *snap,
		       const struct gp_goroutine *g, uint64_t *ret_lo,
		       uint64_t *ret_hi)
{
	if (g->stack_id == GP_NONE || g->stack_id >= snap->nstacks)
		return false;
	uint32_t user = snap->stacks[g->stack_id].user_pc;
	if (!user || user == GP_NONE)
		return false; /* no frame of the user's code */
	uint64_t lo = g->sp + (user > 1 ? g->user_sp_offset : 0);
	uint64_t hi = g->stack_hi;
	if (!g->sp || hi <= lo || lo < g->stack_lo)
		return false;
	if (hi - lo > GP_MAX_SCAN_STACK)
		hi = lo + GP_MAX_SCAN_STACK;
	*ret_lo = lo;
	*ret_hi = hi;
	return true;
}

/* A stack word that may point to an object holding a channel: its slot
 * is the start of goroutine g's scan range (scan_range) plus off (the
 * range is at most GP_MAX_SCAN_STACK long): 16 bytes, not 24 (2.3 million
 * of them on issue 12's heapcore). */
struct cand {
	uint64_t value;
	uint32_t g, off;
};

struct cands {
	struct cand *cands;
	size_t n, cap;
};

/* Only pointers into the target's memory are worth reading. */
static bool in_target_memory(const struct gp_program *prog, uint64_t v)
{
	return gp_memory_holds(&prog->mem, v, 8);
}

/* A target a word can hit in a window (not a channel: those are
 * exact, looked up in chans), j its index into the targets. */
struct wtarget {
	uint64_t addr;
	uint32_t j;
	uint8_t exact;
};

struct scan_ctx {
	struct gp_snapshot *snap;
	const struct gp_analysis *an;
	const struct target *t;
	size_t nt;
	const struct gp_kv_index *chans; /* channel address -> target */
	const struct gp_addr_filter *chanwords; /* chans' keys */
	uint64_t chan_lo, chan_hi; /* its least and greatest (none: lo > hi) */
	const struct wtarget *wt;  /* the scanned targets not channels, */
	size_t nwt;                /* by address */
	struct cands ind;
	struct hit **hits;
	size_t *nhits, *hcap;
	struct gp_unwind_pc *pcs;
	/* kept_block: hits of a goroutine's own waits dropped, frames not
	 * yet found; how many hits there were before that */
	bool raw;
	size_t raw_hits;
};

/* First window target with addr >= v. */
static size_t wt_lower_bound(const struct wtarget *t, size_t n, uint64_t v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid].addr < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether v may be one of the channels looked for: within their extent
 * (most words of a stack or an object are not: small numbers, lengths,
 * pointers elsewhere) and then by the filter, before the map. */
static inline bool may_be_chan(const struct scan_ctx *c, uint64_t v)
{
	return v >= c->chan_lo && v <= c->chan_hi &&
	       gp_addr_filter_may(c->chanwords, v);
}

/* One word of goroutine gi's stack, v at slot (its scan range starts at
 * base): its hits, and a candidate for the indirect pass. A channel is
 * hit only by its own address (exact), so it is looked up in chans, not
 * searched for among every target: 600,000 channels at issue 12's
 * heapcore, 2.3 million words. */
static inline gp_error *scan_word(struct scan_ctx *c, uint32_t gi,
				  const struct gp_goroutine *g, uint64_t base,
				  uint64_t slot, uint64_t v)
{
	gp_error *err;
	if (v < 4096 || (v >= g->stack_lo && v < g->stack_hi))
		return NULL;
	/* (a goroutine's hits on what it waits on itself are dropped,
	 * own_hits: its own channel, on most stacks, is not looked up) */
	if (may_be_chan(c, v) &&
	    !waits_on(c->snap, g, v)) {
		uint64_t j;
		if (gp_kv_index_last(c->chans, v, &j)) {
			struct hit h = { (uint32_t)j, gi, slot, v, GP_EV_POINTER,
					 0, 0, GP_NONE, 0, 0, 0, 0, 0 };
			if ((err = add_hit(c->hits, c->nhits, c->hcap, &h)))
				return err;
		}
	}
	const struct wtarget *t = c->wt;
	size_t nt = c->nwt;
	if (nt && v + GP_CONTAINER_WINDOW > t[0].addr && v <= t[nt - 1].addr) {
		for (size_t k = wt_lower_bound(t, nt, v);
		     k < nt && t[k].addr < v + GP_CONTAINER_WINDOW; k++) {
			if (t[k].exact && t[k].addr != v)
				continue;
			struct hit h = { t[k].j, gi, slot, v,
					 t[k].addr == v ? GP_EV_POINTER : GP_EV_CONTAINER,
					 0, 0, GP_NONE, 0, 0, 0, 0, 0 };
			if ((err = add_hit(c->hits, c->nhits, c->hcap, &h)))
				return err;
		}
	}
	/* one level through a pointed-to object, for channels: noted
	 * here, read later in one batch (indirect_pass) */
	if (!c->chans->n || (v & 7) || !in_target_memory(c->snap->prog, v))
		return NULL;
	struct cands *ind = &c->ind;
	if ((err = gp_grow((void **)&ind->cands, &ind->cap,
			   ind->n + 1, sizeof(*ind->cands))))
		return err;
	ind->cands[ind->n++] = (struct cand){ v, gi, (uint32_t)(slot - base) };
	return NULL;
}

static gp_error *scan_goroutine(struct scan_ctx *c, uint32_t gi,
				uint64_t base, const uint8_t *p, uint64_t lo,
				uint64_t hi)
{
	const struct gp_goroutine *g = &c->snap->gs[gi];
	for (uint64_t a = 0; a + 8 <= hi - lo; a += 8) {
		gp_error *err = scan_word(c, gi, g, base, lo + a,
					  gp_load(p + a, 8));
		if (err)
			return err;
	}
	return NULL;
}

/* The frame of each hit (by unwinding its goroutine once) and the code
 * evidence in it. hits of one goroutine are contiguous. */
static void attribute(struct gp_snapshot *snap, struct hit *h, size_t n,
		      const struct target *t, const struct gp_analysis *an,
		      struct gp_unwind_pc *pcs)
{
	const struct gp_program *prog = snap->prog;
	const struct gp_goroutine *g = &snap->gs[h[0].g];
	struct gp_unwind_start st = { .pc = g->pc, .sp = g->sp,
				      .stack_lo = g->stack_lo,
				      .stack_hi = g->stack_hi,
				      .cache = snap->ucache };
	gp_error *err = NULL;
	size_t np = g->status == GP_STATUS_RUNNING ? 0 :
		gp_unwind(prog->pcln, &prog->mem, &st, pcs, GP_MAX_FRAMES, &err);
	gp_error_destroy(err);
	uint32_t nf = 0;
	const struct gp_frame *f = g->stack_id != GP_NONE ?
		gp_snapshot_stack(snap, g->stack_id, &nf) : NULL;
	for (size_t i = 0; i < n; i++) {
		size_t k;
		for (k = 0; k < np; k++)
			if (h[i].slot >= pcs[k].sp && h[i].slot < pcs[k].fp)
				break;
		if (k == np)
			continue;
		/* the physical frame: the last logical frame with its pc */
		for (uint32_t j = 0; j < nf; j++) {
			if (f[j].pc == pcs[k].pc && !(f[j].flags & GP_FRAME_INLINED)) {
				h[i].frame = j;
				h[i].func = f[j].func;
				h[i].file = f[j].file;
				h[i].line = f[j].line;
				break;
			}
		}
	}
	(void)t;
	(void)an;
}

static int hit_cmp_g(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* by object, then best evidence, then goroutine: for ranking */
static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int32_t score(const struct hit *h, uint64_t target)
{
	int32_t s = 0;
	if (h->role)   /* lock evidence: every candidate ranks the same */
		return 1 << 20;
	if (h->evidence & GP_EV_CALLS_OP)
		s += 1 << 19;
	if (h->evidence & GP_EV_POINTER)
		s += 1 << 12;
	else if (h->evidence & GP_EV_CONTAINER)
		s += (1 << 11) - (int32_t)(target - h->value);
	return s;
}

static gp_error *describe(struct gp_snapshot *snap, const struct hit *h,
			  uint64_t target, const char *what, uint32_t *ret)
{
	char buf[512];
	int n = 0;
	const char *fn = h->func ? gp_snapshot_string(snap, h->func) : "?";
	const char *file = h->file ? gp_snapshot_string(snap, h->file) : "";
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	if (h->slot) {
		n = snprintf(buf, sizeof(buf), "frame %s (%s:%u) slot 0x%llx holds 0x%llx",
			     fn, base, h->line, (unsigned long long)h->slot,
			     (unsigned long long)h->value);
		if (h->evidence & GP_EV_POINTER)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", the %s itself", what);
		else if (h->evidence & GP_EV_CONTAINER)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
				      ", an object containing the %s at +%llu", what,
				      (unsigned long long)(target - h->value));
		else if (h->evidence & GP_EV_INDIRECT)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
				      ", an object holding a pointer to the %s", what);
	} else {
		n = snprintf(buf, sizeof(buf), "frame %s (%s:%u)", fn, base, h->line);
	}
	if (h->evidence & GP_EV_CALLS_OP)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "; a function on its stack has the operation that wakes the waiters");
	(void)n;
	return gp_strtab_intern(&snap->strs, buf, ret);
}

/* A global: in one of the executable's writable segments. */
static bool in_exe_data(const struct gp_program *prog, uint64_t addr)
{
	for (size_t k = 0; k < prog->exe.nloads; k++)
		if (prog->exe.loads[k].writable &&
		    addr >= prog->exe.loads[k].start && addr < prog->exe.loads[k].end)
			return true;
	return false;
}

/* The hits of goroutine gi from *c->hits[before] on, but for those on
 * objects it waits on itself. */
static void drop_own_hits(struct scan_ctx *c, uint32_t gi, size_t before)
{
	struct hit *h = *c->hits;
	size_t w = before;
	for (size_t k = before; k < *c->nhits; k++)
		if (!waits_on(c->snap, &c->snap->gs[gi], c->t[h[k].target].addr))
			h[w++] = h[k];
	*c->nhits = w;
}

/* The hits of goroutine gi from *c->hits[before] on: those on objects it
 * waits on itself dropped, the others attributed to their frames. */
static void own_hits(struct scan_ctx *c, uint32_t gi, size_t before)
{
	drop_own_hits(c, gi, before);
	if (*c->nhits > before)
		attribute(c->snap, *c->hits + before, *c->nhits - before, c->t,
			  c->an, c->pcs);
}

static gp_error *scan_one(void *arg, const struct gp_read_req *req,
			  const uint8_t *data, gp_error *rerr)
{
	struct scan_ctx *c = arg;
	if (rerr)
		return NULL; /* an unreadable stack has no evidence */
	uint32_t gi = req->tag;
	size_t before = *c->nhits;
	uint64_t base, end;
	if (!scan_range(c->snap, &c->snap->gs[gi], &base, &end) ||
	    req->address < base || req->address - base > GP_MAX_SCAN_STACK)
		return NULL; /* (requested from that range) */
	gp_error *err = scan_goroutine(c, gi, base, data, req->address,
				       req->address + req->size);
	if (!err)
		own_hits(c, gi, before);
	return err;
}

/*
 * The words the snapshot's stack pass kept of goroutine gi's stack
 * (GP_SNAPSHOT_REFS, tag): every word of [lo, sp + end) that can give a
 * hit or an indirect candidate is among them (runtime/snapshot.c,
 * collect_refs), so scanning them is scanning that part of the stack.
 * *ret_from: where the rest of the range starts, for the batch to read;
 * false if the tag does not match the range (the batch reads it all).
 */
static gp_error *scan_kept(struct scan_ctx *c, uint32_t gi, uint64_t tag,
			   uint64_t lo, uint64_t *ret_from, bool *ret_used)
{
	struct gp_snapshot *snap = c->snap;
	const struct gp_goroutine *g = &snap->gs[gi];
	*ret_used = false;
	if (tag == GP_REFS_NONE || g->sp + GP_REFS_LO(tag) != lo)
		return NULL;
	const struct gp_refcands *rc = &snap->refc[GP_REFS_WORKER(tag)];
	size_t first = (size_t)GP_REFS_FIRST(tag), n = GP_REFS_N(tag);
	if (first + n > rc->n)
		return NULL;
	size_t before = *c->nhits;
	for (size_t k = first; k < first + n; k++) {
		gp_error *err = scan_word(c, gi, g, lo, g->sp + rc->offs[k],
					  rc->vals[k]);
		if (err)
			return err;
	}
	if (c->raw) {
		/* own_hits but for the frames (kept_block) */
		c->raw_hits += *c->nhits - before;
		drop_own_hits(c, gi, before);
	} else {
		own_hits(c, gi, before);
	}
	*ret_from = g->sp + GP_REFS_END(tag);
	*ret_used = true;
	return NULL;
}

/* The scan of goroutines [i0, i1) in order (scan_all_kept); trim NULL:
 * no page of the core let go. */
static gp_error *scan_serial(struct scan_ctx *c, bool kept, size_t i0, size_t i1,
			     struct gp_read_req *reqs, size_t *nreqs,
			     size_t *nkept, struct gp_trim *trim)
{
	struct gp_snapshot *snap = c->snap;
	for (size_t i = i0; i < i1; i++) {
		uint64_t lo, hi;
		bool used = false;
		/* a goroutine with hits is unwound (attribute), its stack
		 * read through the mapping: let the pages go as the mark
		 * does (heapcore: 420 MB of the core mapped by the end) */
		if (trim)
			gp_memory_trim_ticks(&snap->prog->mem, trim, 8);
		if ((snap->gs[i].flags & GP_G_SYSTEM) ||
		    !scan_range(snap, &snap->gs[i], &lo, &hi))
			continue;
		gp_error *err;
		if (kept && (err = scan_kept(c, (uint32_t)i, snap->refs_of[i],
					     lo, &lo, &used)))
			return err;
		*nkept += used;
		if (lo < hi)
			reqs[(*nreqs)++] = (struct gp_read_req){
				.address = lo, .size = (uint32_t)(hi - lo),
				.tag = (uint32_t)i };
	}
	return NULL;
}

/* What a block of goroutines gave, on either thread (kept_block). */
struct kept_out {
	struct hit *hits;
	size_t nhits, hcap, raw_hits;
	struct cands ind;
	struct gp_read_req *reqs;
	size_t nreqs, nkept;
	gp_error *err;
};

#define KEPT_BLOCK 4096u
#define KEPT_ROUND (16 * KEPT_BLOCK)

struct kept_round {
	const struct scan_ctx *c;
	bool kept;
	size_t i0, block;
	struct kept_out *out;   /* per block of the round */
};

static void kept_block(void *arg, size_t lo, size_t hi)
{
	struct kept_round *r = arg;
	struct kept_out *o = &r->out[lo / r->block];
	struct scan_ctx c = *r->c;
	c.hits = &o->hits;
	c.nhits = &o->nhits;
	c.hcap = &o->hcap;
	c.ind = (struct cands){ 0 };
	c.pcs = NULL;
	c.raw = true;
	c.raw_hits = 0;
	o->reqs = malloc((hi - lo) * sizeof(*o->reqs));
	if (!o->reqs) {
		o->err = &gp_error_nomem;
		return;
	}
	/* (no core page is read here: the kept words are the engine's) */
	o->err = scan_serial(&c, r->kept, r->i0 + lo, r->i0 + hi, o->reqs,
			     &o->nreqs, &o->nkept, NULL);
	o->ind = c.ind;
	o->raw_hits = c.raw_hits;
}

/*
 * Every goroutine's kept words scanned (scan_kept), and the parts of
 * stacks still to read listed in reqs, in goroutine order: a round of
 * goroutines at a time, its blocks on two threads (each hit's frames are
 * found here after, in order: the unwinder's cache is this thread's).
 * What the rounds give is what one scan in goroutine order gives, unless
 * the hits could reach GP_MAX_HITS: then that round is done over in order
 * and the rest with it (the cap counts hits as they are found).
 */
static gp_error *scan_all_kept(struct scan_ctx *c, bool kept,
			       struct gp_read_req *reqs, size_t *nreqs,
			       size_t *nkept)
{
	struct gp_snapshot *snap = c->snap;
	const struct gp_memory *mem = &snap->prog->mem;
	struct gp_trim trim = { 0 };
	struct kept_out out[KEPT_ROUND / KEPT_BLOCK];
	gp_error *err = NULL;
	/* by blocks from 8192 goroutines (GOPARKED_PAR_MIN: the tests
	 * compare both ways) */
	bool par = kept && snap->ngs >= gp_par_min(2 * KEPT_BLOCK);
	for (size_t i0 = 0; i0 < snap->ngs && !err; i0 += KEPT_ROUND) {
		size_t n = snap->ngs - i0 < KEPT_ROUND ? snap->ngs - i0 : KEPT_ROUND;
		if (!par) {
			err = scan_serial(c, kept, i0, i0 + n, reqs, nreqs, nkept, &trim);
			continue;
		}
		/* (blocks of 4096, fewer for few goroutines: the tests' small
		 * cores share them between the threads too) */
		size_t block = n / 8 < KEPT_BLOCK ? n / 8 + 1 : KEPT_BLOCK;
		size_t nb = (n + block - 1) / block, raw = 0;
		memset(out, 0, sizeof(out));
		struct kept_round r = { c, kept, i0, block, out };
		gp_par_for(n, block, 2 * KEPT_BLOCK, kept_block, &r);
		for (size_t b = 0; b < nb; b++) {
			raw += out[b].raw_hits;
			if (out[b].err && !err)
				err = out[b].err;
		}
		if (!err && *c->nhits + raw >= GP_MAX_HITS) {
			par = false; /* as one scan would cap them */
			err = scan_serial(c, kept, i0, i0 + n, reqs, nreqs, nkept, &trim);
		}
		for (size_t b = 0; b < nb; b++) {
			struct kept_out *o = &out[b];
			if (!err && par) {
				/* the block's hits, a goroutine's together */
				for (size_t k = 0; k < o->nhits && !err;) {
					size_t e = k, before = *c->nhits;
					while (e < o->nhits && o->hits[e].g == o->hits[k].g)
						e++;
					for (size_t m = k; m < e && !err; m++)
						err = add_hit(c->hits, c->nhits, c->hcap, &o->hits[m]);
					gp_memory_trim_ticks(mem, &trim, 8);
					if (*c->nhits > before)
						attribute(snap, *c->hits + before, *c->nhits - before,
							  c->t, c->an, c->pcs);
					k = e;
				}
				if (!err && o->ind.n &&
				    !(err = gp_grow((void **)&c->ind.cands, &c->ind.cap,
						    c->ind.n + o->ind.n, sizeof(*c->ind.cands)))) {
					memcpy(c->ind.cands + c->ind.n, o->ind.cands,
					       o->ind.n * sizeof(*o->ind.cands));
					c->ind.n += o->ind.n;
				}
				if (!err) {
					memcpy(reqs + *nreqs, o->reqs, o->nreqs * sizeof(*reqs));
					*nreqs += o->nreqs;
					*nkept += o->nkept;
				}
			}
			if (o->err && o->err != err)
				gp_error_destroy(o->err);
			free(o->hits);
			free(o->ind.cands);
			free(o->reqs);
		}
		if (par)
			gp_memory_trim_ticks(mem, &trim, (uint32_t)(8 * n));
	}
	return err;
}

/* Whether the kept words can stand for the stacks: no object looked for
 * lies where an unaligned word was left out (in or just past the
 * executable's read-only segments; see runtime/snapshot.c). */
static bool kept_words_do(const struct gp_snapshot *snap,
			  const struct target *t, size_t nt)
{
	const struct gp_program *prog = snap->prog;
	if (!snap->refs_of)
		return false;
	for (size_t i = 0; i < prog->exe.nloads; i++) {
		if (prog->exe.loads[i].writable)
			continue;
		uint64_t lo = prog->exe.loads[i].start;
		uint64_t hi = prog->exe.loads[i].end + GP_CONTAINER_WINDOW;
		size_t j = lower_bound(t, nt, lo);
		if (j < nt && t[j].addr < hi)
			return false;
	}
	return true;
}

/* A channel found in a pointed-to object's first words: word k of the
 * object at value holds the channel of target ti. */
struct held {
	uint64_t value;
	uint32_t ti, k;
};

struct ind_read {
	struct scan_ctx *c;
	struct held *held;
	size_t n, cap;
};

/* One pointed-to object: the channels it holds in its first words. */
static gp_error *on_object(void *arg, const struct gp_read_req *req,
			   const uint8_t *q, gp_error *rerr)
{
	struct ind_read *r = arg;
	if (rerr)
		return NULL;
	for (uint32_t k = 0; k < GP_INDIRECT_WORDS; k++) {
		uint64_t u = gp_load(q + 8 * k, 8);
		if (!may_be_chan(r->c, u))
			continue;
		uint64_t ti;
		if (!gp_kv_index_last(r->c->chans, u, &ti) || u == req->address)
			continue;
		gp_error *err = gp_grow((void **)&r->held, &r->cap, r->n + 1,
					sizeof(*r->held));
		if (err)
			return err;
		r->held[r->n++] = (struct held){ req->address, ti, k };
	}
	return NULL;
}

static int held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

/* A hit for each candidate pointing to an object that holds a channel
 * (the candidates in the order scanned: the hits are ranked later). */
static gp_error *indirect_hits(struct scan_ctx *c, struct ind_read *r)
{
	struct gp_addr_map first = { 0 };
	struct gp_addr_filter pages = GP_PAGE_FILTER;
	gp_error *err = NULL;
	gp_qsort(r->held, r->n, sizeof(*r->held), held_cmp);
	for (size_t i = 0; i < r->n && !err; i++)
		if ((!i || r->held[i].value != r->held[i - 1].value) &&
		    !(err = gp_addr_map_put(&first, r->held[i].value, (uint32_t)i)))
			err = gp_addr_filter_add(&pages, r->held[i].value);
	for (size_t i = 0; i < c->ind.n && !err; i++) {
		const struct cand *cd = &c->ind.cands[i];
		if (!gp_addr_filter_may(&pages, cd->value))
			continue;
		uint32_t j = gp_addr_map_get(&first, cd->value);
		if (j == GP_NONE)
			continue;
		for (; j < r->n && r->held[j].value == cd->value && !err; j++) {
			uint32_t ti = r->held[j].ti;
			if (waits_on(c->snap, &c->snap->gs[cd->g], c->t[ti].addr))
				continue;
			uint64_t base, end;
			if (!scan_range(c->snap, &c->snap->gs[cd->g], &base, &end))
				continue; /* (it was scanned from there) */
			struct hit h = { ti, cd->g, base + cd->off, cd->value,
					 GP_EV_INDIRECT, 0, 0, GP_NONE, 0, 0, 0, 0, 0 };
			err = add_hit(c->hits, c->nhits, c->hcap, &h);
		}
	}
	gp_addr_map_deinit(&first);
	gp_addr_filter_deinit(&pages);
	return err;
}

static int hit_g_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	return x->g < y->g ? -1 : x->g > y->g;
}

/*
 * The objects the scanned stacks point to, each read once, in file order:
 * at a million goroutines most point to an object of their own, and
 * reading them one by one through the mapping cost a gigabyte of pages.
 */
static gp_error *indirect_pass(struct scan_ctx *c)
{
	struct cands *ind = &c->ind;
	gp_error *err = NULL;
	if (!ind->n)
		return NULL;
	/* each pointed-to object once: the values alone sorted (8 bytes
	 * each, not the candidates' 24: two million at 1M goroutines) */
	uint64_t *vals = malloc(ind->n * sizeof(*vals));
	if (!vals)
		return &gp_error_nomem;
	/* a value seen lately is left out before the sort (the sort and
	 * its dedup below would drop it anyway): at heapcore a million
	 * stacks point to one WaitGroup, the sort's keys 2.3 -> 1.3 million */
	uint64_t recent[1024] = { 0 };
	size_t nv = 0;
	for (size_t i = 0; i < ind->n; i++) {
		uint64_t v = ind->cands[i].value;
		uint64_t *slot = &recent[(v * 0x9e3779b97f4a7c15ULL) >> 54];
		if (*slot != v)
			vals[nv++] = *slot = v;
	}
	if ((err = gp_radix_sort(vals, nv, sizeof(*vals), 0))) {
		free(vals);
		return err;
	}
	struct gp_read_req *reqs = malloc((nv ? nv : 1) * sizeof(*reqs));
	if (!reqs) {
		free(vals);
		return &gp_error_nomem;
	}
	size_t nreqs = 0;
	for (size_t i = 0; i < nv; i++)
		if (!i || vals[i] != vals[i - 1])
			reqs[nreqs++] = (struct gp_read_req){
				.address = vals[i],
				.size = GP_INDIRECT_WORDS * 8 };
	free(vals);
	size_t first_new = *c->nhits;
	/* on two threads, each with its list: the lists are one set (each
	 * object read once), sorted by indirect_hits */
	struct ind_read r = { c, NULL, 0, 0 }, r2 = { c, NULL, 0, 0 };
	err = gp_memory_read_batch_par(&c->snap->prog->mem, reqs, nreqs, on_object,
				       &r, &r2, NULL);
	free(reqs);
	if (!err && r2.n && !(err = gp_grow((void **)&r.held, &r.cap, r.n + r2.n,
					     sizeof(*r.held)))) {
		memcpy(r.held + r.n, r2.held, r2.n * sizeof(*r.held));
		r.n += r2.n;
	}
	free(r2.held);
	if (!err && r.n)
		err = indirect_hits(c, &r);
	free(r.held);
	if (err)
		return err;
	/* frames and code evidence of the new hits, a goroutine at a time */
	size_t n = *c->nhits - first_new;
	if (!n)
		return NULL; /* *c->hits may still be NULL */
	struct hit *h = *c->hits + first_new;
	gp_qsort(h, n, sizeof(*h), hit_g_cmp);
	struct gp_trim trim = { 0 };
	for (size_t i = 0; i < n;) {
		size_t e = i;
		while (e < n && h[e].g == h[i].g)
			e++;
		gp_memory_trim_ticks(&c->snap->prog->mem, &trim, 8);
		attribute(c->snap, h + i, e - i, c->t, c->an, c->pcs);
		i = e;
	}
	return NULL;
}

/*
 * What the holders of a Mutex or RWMutex say: one writer, or readers, is
 * an answer (GP_HOLDER_FOUND); several writers, or a writer and readers,
 * or a writer of an RWMutex whose readerCount says no writer is in, cannot
 * all be true: GP_HOLDER_AMBIGUOUS, every candidate listed with the same
 * rank, none preferred.
 */
static void decide(struct gp_sync *s, struct gp_holder *h)
{
	uint32_t writers = 0, readers = 0;
	for (uint32_t k = 0; k < s->nholders; k++) {
		if (h[k].role == GP_ROLE_RLOCK)
			readers++;
		else
			writers++;
	}
	bool contradicts = writers > 1 || (writers && readers) ||
		(writers && s->kind == GP_OBJ_RWMUTEX && s->counter >= 0 &&
		 !(s->flags & GP_SYNC_WRITER_PENDING));
	if (!s->nholders)
		return;
	s->holder_status = contradicts ? GP_HOLDER_AMBIGUOUS : GP_HOLDER_FOUND;
	/* candidates of an undecided answer: listed, none ranked (rank 0),
	 * so no wait-for edge goes to any of them */
	if (contradicts)
		for (uint32_t k = 0; k < s->nholders; k++)
			h[k].rank = 0;
}

gp_error *gp_sync_owners_of(struct gp_analysis *an, const struct gp_sync *s,
			    struct gp_sync_owners *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->writer = GP_NONE;
	ret->status = s->holder_status;
	if (s->holder_status != GP_HOLDER_FOUND || !s->nholders ||
	    (s->kind != GP_OBJ_MUTEX && s->kind != GP_OBJ_RWMUTEX))
		return NULL;
	if (!an->owner_readers) {
		an->owner_readers = malloc((an->nholders + 1) * sizeof(*an->owner_readers));
		if (!an->owner_readers)
			return &gp_error_nomem;
		for (size_t k = 0; k < an->nholders; k++)
			an->owner_readers[k] = an->holders[k].goroutine;
	}
	const struct gp_holder *h = an->holders + s->holders_first;
	if (h[0].role == GP_ROLE_RLOCK) {
		ret->readers = an->owner_readers + s->holders_first;
		ret->nreaders = s->nholders;
	} else {
		ret->writer = h[0].goroutine;
	}
	return NULL;
}

gp_error *gp_sync_owners(struct gp_snapshot *snap, uint64_t object,
			 struct gp_sync_owners *ret)
{
	struct gp_analysis *an;
	memset(ret, 0, sizeof(*ret));
	ret->writer = GP_NONE;
	gp_error *err = gp_analysis_complete(snap, &an);
	if (err)
		return err;
	const struct gp_sync *s = NULL;
	for (size_t i = 0; i < an->nsyncs && !s; i++)
		if (an->syncs[i].address == object || an->syncs[i].sema == object)
			s = &an->syncs[i];
	if (!s)
		return gp_error_create(GP_ERROR_NOT_FOUND,
				       "no goroutine waits on a sync object at 0x%llx",
				       (unsigned long long)object);
	return gp_sync_owners_of(an, s, ret);
}

gp_error *gp_refs_build(struct gp_snapshot *snap, struct gp_analysis *an)
{
	if (an->refs_done)
		return NULL;
	const struct gp_program *prog = snap->prog;
	struct target *t = NULL;
	struct wtarget *wt = NULL;
	struct hit *hits = NULL;
	size_t nt = 0, nwt = 0, nhits = 0, hcap = 0;
	struct gp_addr_map calls_memo = { 0 };
	struct gp_kv *chankv = NULL;
	struct gp_kv_index chans = { 0 };
	struct gp_addr_filter chanwords = GP_WORD_FILTER;
	struct gp_unwind_pc *pcs = NULL;
	uint32_t *sync2t = NULL;
	struct gp_lock_hit *lh = NULL;
	size_t nlh = 0;
	bool no_decoder = false;
	gp_error *err = NULL;
	struct wake_ops ops;

	t = malloc((an->nsyncs + an->nchans + 1) * sizeof(*t));
	wt = malloc((an->nsyncs + 1) * sizeof(*wt));
	pcs = malloc(GP_MAX_FRAMES * sizeof(*pcs));
	if (!t || !wt || !pcs) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t i = 0; i < an->nsyncs; i++)
		if (!(an->syncs[i].flags & GP_SYNC_UNREADABLE))
			t[nt++] = (struct target){ an->syncs[i].address, (uint32_t)i, 0,
						   in_exe_data(prog, an->syncs[i].address),
						   an->syncs[i].kind == GP_OBJ_MUTEX ||
						   an->syncs[i].kind == GP_OBJ_RWMUTEX };
	for (size_t i = 0; i < an->nchans; i++)
		if (an->chans[i].address &&
		    !(an->chans[i].flags & GP_CHAN_UNREADABLE))
			t[nt++] = (struct target){ an->chans[i].address, (uint32_t)i, 1, 1, 0 };
	if (!nt)
		goto done;
	/* (stable, as the qsort it replaces: 600,000 channels at heapcore) */
	if ((err = gp_radix_sort(t, nt, sizeof(*t), offsetof(struct target, addr))))
		goto out;
	/* the channels' (address, target) in the targets' order: sorted by
	 * address, equal ones (none, but for a corrupt core) the last wins */
	chankv = malloc((an->nchans + 1) * sizeof(*chankv));
	if (!chankv) {
		err = &gp_error_nomem;
		goto out;
	}
	size_t nck = 0;
	for (size_t j = 0; j < nt; j++)
		if (t[j].is_chan) {
			chankv[nck++] = (struct gp_kv){ t[j].addr, j };
			if ((err = gp_addr_filter_add(&chanwords, t[j].addr)))
				goto out;
		}
	gp_kv_index_init(&chans, chankv, nck);

	/* Every stack's user part, read in file order (a batch). */
	struct gp_read_req *reqs = malloc((snap->ngs ? snap->ngs : 1) * sizeof(*reqs));
	if (!reqs) {
		err = &gp_error_nomem;
		goto out;
	}
	/* What the snapshot's stack pass kept of them (GP_SNAPSHOT_REFS)
	 * first; the batch reads the rest */
	for (size_t j = 0; j < nt; j++)
		if (!t[j].is_chan && !t[j].noscan)
			wt[nwt++] = (struct wtarget){ t[j].addr, (uint32_t)j, t[j].exact };
	struct scan_ctx sc = { snap, an, t, nt, &chans, &chanwords, UINT64_MAX, 0,
			       wt, nwt, { 0 }, &hits, &nhits, &hcap, pcs, false, 0 };
	for (size_t j = 0; j < nt; j++)
		if (t[j].is_chan) {
			sc.chan_lo = t[j].addr < sc.chan_lo ? t[j].addr : sc.chan_lo;
			sc.chan_hi = t[j].addr > sc.chan_hi ? t[j].addr : sc.chan_hi;
		}
	bool kept = kept_words_do(snap, t, nt);
	size_t nreqs = 0, nkept = 0, nwords = snap->refc[0].n + snap->refc[1].n;
	err = scan_all_kept(&sc, kept, reqs, &nreqs, &nkept);
	gp_phase_note("%zu stacks scanned from the %zu words the stack pass "
		      "kept; %zu parts of stacks read", nkept, nwords, nreqs);
	/* used once: a full scan answers every later question */
	gp_snapshot_refs_free(snap);
	if (!err)
		err = gp_memory_read_batch(&prog->mem, reqs, nreqs, scan_one, &sc);
	free(reqs);
	if (!err)
		err = indirect_pass(&sc);
	free(sc.ind.cands);
	if (err)
		goto out;
	/* Mutex and RWMutex holders: code evidence */
	sync2t = malloc((an->nsyncs + 1) * sizeof(*sync2t));
	if (!sync2t) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t j = 0; j < nt; j++)
		if (!t[j].is_chan)
			sync2t[t[j].index] = (uint32_t)j;
	if ((err = gp_lock_evidence(snap, an, &lh, &nlh, &no_decoder)))
		goto out;
	for (size_t k = 0; k < nlh; k++) {
		struct hit h = { sync2t[lh[k].sync], lh[k].g, 0, 0, lh[k].evidence,
				 0, lh[k].site_pc ? lh[k].site_pc : lh[k].defer_pc,
				 lh[k].frame, 0, 0, 0, lh[k].role, lh[k].description };
		if ((err = add_hit(&hits, &nhits, &hcap, &h)))
			goto out;
	}

	/* wakers need the operation on their stack */
	wake_ops_init(prog, &ops);
	for (size_t k = 0; k < nhits; k++) {
		const struct target *tg = &t[hits[k].target];
		const struct gp_goroutine *g = &snap->gs[hits[k].g];
		const uint64_t *o = NULL;
		size_t no = 0;
		if (tg->is_chan) {
			const struct gp_chan *c = &an->chans[tg->index];
			/* receivers wait for a send or close; senders for a receive */
			o = c->nrecv >= c->nsend ? ops.wake_recv : ops.wake_send;
			no = c->nrecv >= c->nsend ? ops.nrecv : ops.nsend;
		} else if (an->syncs[tg->index].kind == GP_OBJ_WAITGROUP) {
			o = ops.wake_wg;
			no = ops.nwg;
		} else if (an->syncs[tg->index].kind == GP_OBJ_COND) {
			o = ops.wake_cond;
			no = ops.ncond;
		}
		if (no && g->stack_id != GP_NONE) {
			/* per stack and kind of operation, not per goroutine:
			 * the answer is the code's, and a stack's functions
			 * are the same in every goroutine that has it */
			uint64_t key = ((uint64_t)g->stack_id + 1) << 2 |
				(o == ops.wake_recv ? 0 : o == ops.wake_send ? 1 :
				 o == ops.wake_wg ? 2 : 3);
			uint32_t calls = gp_addr_map_get(&calls_memo, key);
			if (calls == GP_NONE) {
				calls = stack_calls(snap, g->stack_id, o, no);
				if ((err = gp_addr_map_put(&calls_memo, key, calls)))
					goto out;
			}
			if (calls)
				hits[k].evidence |= GP_EV_CALLS_OP;
		}
		hits[k].score = score(&hits[k], tg->addr);
	}
	/* best evidence per (object, goroutine), then ranks per object */
	gp_qsort(hits, nhits, sizeof(*hits), hit_cmp_g);
	size_t w = 0;
	for (size_t k = 0; k < nhits; k++)
		if (!w || hits[w - 1].target != hits[k].target ||
		    hits[w - 1].g != hits[k].g || hits[w - 1].role != hits[k].role)
			hits[w++] = hits[k];
	nhits = w;
	gp_qsort(hits, nhits, sizeof(*hits), hit_cmp);
	an->holders = calloc(nhits + 1, sizeof(*an->holders));
	if (!an->holders) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t k = 0; k < nhits;) {
		size_t e = k;
		while (e < nhits && hits[e].target == hits[k].target)
			e++;
		const struct target *tg = &t[hits[k].target];
		uint32_t first = (uint32_t)an->nholders, rank = 0;
		int32_t prev = INT32_MIN;
		for (size_t m = k; m < e; m++) {
			if (hits[m].score != prev) {
				rank++;
				prev = hits[m].score;
			}
			struct gp_holder *h = &an->holders[an->nholders++];
			h->object = tg->addr;
			h->slot = hits[m].slot;
			h->value = hits[m].value;
			h->site_pc = hits[m].site_pc;
			h->offset = hits[m].slot ? (int64_t)(tg->addr - hits[m].value) : 0;
			h->goroutine = hits[m].g;
			h->rank = rank;
			h->evidence = hits[m].evidence;
			h->frame = hits[m].frame;
			h->role = hits[m].role;
			if (hits[m].desc)
				h->description = hits[m].desc;
			else if ((err = describe(snap, &hits[m], tg->addr,
						 tg->is_chan ? "channel" : "object",
						 &h->description)))
				goto out;
		}
		if (tg->is_chan) {
			an->chans[tg->index].wakers_first = first;
			an->chans[tg->index].nwakers = (uint32_t)(an->nholders - first);
		} else {
			struct gp_sync *s = &an->syncs[tg->index];
			s->holders_first = first;
			s->nholders = (uint32_t)(an->nholders - first);
			if (s->kind == GP_OBJ_MUTEX || s->kind == GP_OBJ_RWMUTEX)
				decide(s, an->holders + first);
			else if (s->holder_status == GP_HOLDER_UNKNOWN && s->nholders)
				s->holder_status = GP_HOLDER_FOUND;
		}
		k = e;
	}
	if (no_decoder)
		for (size_t i = 0; i < an->nsyncs; i++) {
			struct gp_sync *s = &an->syncs[i];
			if ((s->kind == GP_OBJ_MUTEX || s->kind == GP_OBJ_RWMUTEX) &&
			    s->holder_status == GP_HOLDER_UNKNOWN)
				s->holder_status = GP_HOLDER_NO_DECODER;
		}
done:
	an->refs_done = true;
	gp_snapshot_refs_free(snap);
out:
	free(t);
	free(wt);
	free(hits);
	free(pcs);
	free(sync2t);
	free(lh);
	gp_kv_index_deinit(&chans);
	free(chankv);
	gp_addr_filter_deinit(&chanwords);
	gp_addr_map_deinit(&calls_memo);
	return err;
}
