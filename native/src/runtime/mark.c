/*
 * The mark pass (runtime/mgcmark.go's greyobject, scanobject, drain): a
 * mark bit per object id, a queue of object ids to scan, and for each
 * object the way it was first reached (the object it was found in, or the
 * root), which is all a retention path needs. The roots are roots.c's.
 *
 * An address is marked when it lies in a slot of an in-use span
 * (findObject: interior pointers count); a pointer found by a
 * conservative scan counts only for an allocated slot (scanConservative).
 * A pointer into a corrupt span marks the whole span, which is then
 * scanned word by word: that only keeps more alive, so what stays
 * unmarked is still unreachable. Words registered with gp_mark_hide are
 * not followed: the leak detector hides sudog.c and sudog.elem of the
 * goroutines it examines (mgc.go setSyncObjectsUntraceable).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static void par_stop(struct gp_mark *m);

gp_error *gp_mark_create(struct gp_heap *h, struct gp_snapshot *snap,
			 struct gp_mark **ret)
{
	struct gp_mark *m = calloc(1, sizeof(*m));
	if (!m)
		return &gp_error_nomem;
	m->h = h;
	m->snap = snap;
	m->cur = GP_NONE;
	m->bits = calloc((size_t)h->nobjects / 8 + 1, 1);
	m->parent = malloc(((size_t)h->nobjects + 1) * sizeof(uint32_t));
	m->span_reached = calloc(h->nspans + 1, 1);
	m->obj_hidden = calloc((size_t)h->nobjects / 4 + 1, 1);
	m->frames = calloc(GP_FRAME_CACHE_SLOTS, sizeof(*m->frames));
	m->ucache = calloc(1, sizeof(*m->ucache));
	m->pcs = malloc(GP_MAX_FRAMES * sizeof(*m->pcs));
	if (!m->bits || !m->parent || !m->span_reached || !m->obj_hidden || !m->frames ||
	    !m->ucache || !m->pcs) {
		gp_mark_destroy(m);
		return &gp_error_nomem;
	}
	memset(m->parent, 0xff, ((size_t)h->nobjects + 1) * sizeof(uint32_t));
	const struct gp_program *p = snap->prog;
	uint64_t md = p->layout.var_addr[GP_V_FIRSTMODULEDATA];
	if (md && gp_has(p, GP_F_MODULEDATA_RODATA))
		(void)gp_failed(gp_memory_read_u64(&p->mem, md + (uint64_t)gp_off(p, GP_F_MODULEDATA_RODATA),
				   &m->rodata));
	*ret = m;
	return NULL;
}

void gp_mark_destroy(struct gp_mark *m)
{
	if (!m)
		return;
	par_stop(m);
	free(m->bits);
	free(m->parent);
	free(m->span_reached);
	free(m->obj_hidden);
	free(m->stack);
	free(m->spans_todo);
	free(m->hits);
	gp_addr_map_deinit(&m->hidden);
	free(m->sobjs);
	free(m->sptrs);
	free(m->sbuf);
	free(m->recorded);
	free(m->found);
	free(m->pcs);
	free(m->ucache);
	free(m->frames);
	free(m);
}

static uint32_t hidden_code(const struct gp_mark *m, uint32_t id)
{
	return m->obj_hidden[id >> 2] >> ((id & 3) * 2) & 3;
}

/*
 * The hidden words by object, not in a hash table (800,000 sudogs at 1M
 * goroutines: 25 MB, and a cache miss per pointer of every object that
 * shares a span with one): 2 bits per object, 1 or 2 when the object's
 * only hidden word is at offset hidden_offs[0] or [1] (a sudog's c or
 * elem), 3 when its hidden words are in the table (more than one, or at
 * another offset). Words in no object of the heap (a corrupt span) are
 * in the table, and hidden_outside says so.
 */
gp_error *gp_mark_hide(struct gp_mark *m, uint64_t word)
{
	if (!word)
		return NULL;
	par_stop(m); /* its copies hold the hidden words as they were */
	struct gp_object o;
	enum gp_heap_where w = gp_heap_find(m->h, word, &o);
	m->nhidden++;
	if (w != GP_HEAP_OBJECT)
		/* a corrupt span is scanned as a block, not by object */
		m->hidden_outside = true;
	if (w != GP_HEAP_OBJECT && w != GP_HEAP_FREE)
		return gp_addr_map_put(&m->hidden, word, 1);
	/* a sudog in a slot the span calls free is still scanned when
	 * reached (as an object of that slot) */
	uint64_t off = word - o.base;
	uint32_t k = 0;
	while (k < m->nhidden_offs && m->hidden_offs[k] != off)
		k++;
	if (k == m->nhidden_offs && k < GP_ARRAY_SIZE(m->hidden_offs))
		m->hidden_offs[m->nhidden_offs++] = off;
	uint32_t want = k < GP_ARRAY_SIZE(m->hidden_offs) ? k + 1 : 3;
	uint32_t code = hidden_code(m, o.id);
	if (code == want && code != 3)
		return NULL;
	gp_error *err = NULL;
	if (!code && want != 3) {
		m->obj_hidden[o.id >> 2] |= (uint8_t)(want << ((o.id & 3) * 2));
		return NULL;
	}
	if (code == 1 || code == 2)
		err = gp_addr_map_put(&m->hidden, o.base + m->hidden_offs[code - 1], 1);
	m->obj_hidden[o.id >> 2] |= (uint8_t)(3u << ((o.id & 3) * 2));
	return err ? err : gp_addr_map_put(&m->hidden, word, 1);
}

void gp_mark_set_root(struct gp_mark *m, uint32_t kind, uint64_t slot,
		      uint32_t goroutine)
{
	m->cur = GP_NONE;
	m->cur_root.kind = kind;
	m->cur_root.slot = slot;
	m->cur_root.goroutine = goroutine;
	m->cur_conservative = kind == GP_ROOT_STACK_CONSERVATIVE ||
			      kind == GP_ROOT_REGISTERS ||
			      kind == GP_ROOT_CORRUPT_SPAN;
}

/* The parent word of a newly marked object: the current object, or a
 * new root hit (only made when something is newly marked). */
static uint32_t source(struct gp_mark *m, uint64_t slot)
{
	if (m->cur != GP_NONE)
		return m->cur;
	if (gp_grow((void **)&m->hits, &m->hits_cap, m->nhits + 1,
		    sizeof(*m->hits)))
		return GP_NONE; /* the path is lost, not the mark */
	struct gp_root_hit *r = &m->hits[m->nhits];
	*r = m->cur_root;
	r->slot = slot;
	if ((uint64_t)m->h->nobjects + m->nhits >= UINT32_MAX)
		return GP_NONE;
	return m->h->nobjects + (uint32_t)m->nhits++;
}

/* Whether slot, in object id at base, is a hidden word. */
static bool hidden_in(const struct gp_mark *m, uint32_t id, uint64_t base,
		      uint64_t slot)
{
	uint32_t code = hidden_code(m, id);
	if (!code)
		return false;
	if (code == 3)
		return gp_addr_map_get(&m->hidden, slot) != GP_NONE;
	return slot - base == m->hidden_offs[code - 1];
}

/* Whether slot is a hidden word: hidden words are in heap objects
 * (sudogs), so never in a stack, a register or a global unless one was
 * hidden outside the heap's objects. */
static bool hidden(const struct gp_mark *m, uint64_t slot)
{
	if (!m->nhidden)
		return false;
	if (m->cur != GP_NONE)
		return hidden_in(m, m->cur, m->cur_base, slot);
	switch (m->cur_root.kind) {
	case GP_ROOT_DATA:
	case GP_ROOT_BSS:
	case GP_ROOT_STACK:
	case GP_ROOT_STACK_CONSERVATIVE:
	case GP_ROOT_REGISTERS:
		if (!m->hidden_outside)
			return false;
		break;
	default:
		break;
	}
	/* an object scanned as a root (a finalizer's), a corrupt span */
	if (m->hidden.used && gp_addr_map_get(&m->hidden, slot) != GP_NONE)
		return true;
	struct gp_object o;
	enum gp_heap_where w = gp_heap_find(m->h, slot, &o);
	return (w == GP_HEAP_OBJECT || w == GP_HEAP_FREE) &&
	       hidden_in(m, o.id, o.base, slot);
}

/* A corrupt span reached: scanned whole once the queue is empty. */
static void reach_span(struct gp_mark *m, uint32_t span)
{
	if (m->span_reached[span])
		return;
	m->span_reached[span] = 1;
	if (!gp_grow((void **)&m->spans_todo, &m->spans_todo_cap,
		     m->nspans_todo + 1, sizeof(uint32_t)))
		m->spans_todo[m->nspans_todo++] = span;
}

/* Object id of span, unmarked, found at slot: marked and queued. */
static void mark_new(struct gp_mark *m, uint32_t id, uint32_t span, uint64_t slot)
{
	if (gp_grow((void **)&m->stack, &m->stack_cap, m->nstack + 1,
		    sizeof(*m->stack))) {
		m->oom = true; /* gp_mark_drain reports it */
		return;
	}
	m->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
	m->parent[id] = source(m, slot);
	m->stack[m->nstack].id = id;
	m->stack[m->nstack].span = span;
	m->nstack++;
	m->stats.marked++;
}

/* What a worker's scan found unmarked, in the order it found it: id
 * GP_NONE for a corrupt span reached. */
struct gp_mark_found {
	uint64_t slot;
	uint32_t id, span;
	uint32_t src;                 /* the object scanned, GP_NONE: a root */
	uint32_t kind, goroutine;     /* the root's */
};

/* A unit whose finds would take more than this is done again unshared
 * (a big object, a conservative scan of a big stack): 8 MiB a worker. */
#define MAX_FOUND (1u << 18)

static void list_found(struct gp_mark *m, uint32_t id, uint32_t span, uint64_t slot)
{
	if (m->again)
		return;
	if (m->nfound >= MAX_FOUND ||
	    gp_grow((void **)&m->found, &m->found_cap, m->nfound + 1, sizeof(*m->found))) {
		m->again = true;
		return;
	}
	m->found[m->nfound++] = (struct gp_mark_found){
		.slot = slot, .id = id, .span = span, .src = m->cur,
		.kind = m->cur_root.kind, .goroutine = m->cur_root.goroutine,
	};
}

/* Marks what a worker found, as gp_mark_value would have then. */
static void apply_found(struct gp_mark *m, const struct gp_mark_found *f)
{
	if (f->id == GP_NONE) {
		reach_span(m, f->span);
		return;
	}
	if (m->bits[f->id >> 3] >> (f->id & 7) & 1)
		return;
	m->cur = f->src;
	m->cur_root.kind = f->kind;
	m->cur_root.goroutine = f->goroutine;
	mark_new(m, f->id, f->span, f->slot);
}

void gp_mark_value(struct gp_mark *m, uint64_t slot, uint64_t v)
{
	const struct gp_heap *h = m->h;
	if (v < h->lo || v >= h->hi)
		return;
	if (hidden(m, slot))
		return;
	struct gp_object o;
	switch (gp_heap_find(h, v, &o)) {
	case GP_HEAP_NOT:
		return;
	case GP_HEAP_UNKNOWN:
		if (m->span_reached[o.span])
			return;
		if (m->listing) {
			list_found(m, GP_NONE, o.span, slot);
			return;
		}
		reach_span(m, o.span);
		return;
	case GP_HEAP_FREE:
		if (m->cur_conservative)
			return;
		break;
	case GP_HEAP_OBJECT:
		break;
	}
	if (m->bits[o.id >> 3] >> (o.id & 7) & 1)
		return;
	if (m->listing)
		list_found(m, o.id, o.span, slot);
	else
		mark_new(m, o.id, o.span, slot);
}

void gp_mark_visit(void *arg, uint64_t where, uint64_t value)
{
	gp_mark_value(arg, where, value);
}

/* Reads [addr, addr + size) a window at a time and marks what the mask
 * (1 bit per word, NULL = all words) calls pointers. */
void gp_mark_block(struct gp_mark *m, uint64_t addr, uint64_t size,
		   const uint8_t *mask)
{
	const struct gp_program *p = m->snap->prog;
	uint64_t buf[GP_HEAP_WINDOW];
	uint64_t nwords = size / 8;
	for (uint64_t w0 = 0; w0 < nwords; w0 += GP_HEAP_WINDOW) {
		size_t n = nwords - w0 < GP_HEAP_WINDOW ? (size_t)(nwords - w0) : GP_HEAP_WINDOW;
		bool any = !mask;
		for (size_t k = 0; k < n && !any; k++)
			any = mask[(w0 + k) >> 3] >> ((w0 + k) & 7) & 1;
		if (!any)
			continue;
		uint64_t a = addr + w0 * 8;
		const uint8_t *src = gp_memory_ptr(&p->mem, a, n * 8);
		if (!src) {
			if (gp_failed(gp_memory_read(&p->mem, a, buf, n * 8))) {
				/* page by page: a target's memory is there or
				 * not a page at a time (word by word, a window
				 * of nothing cost 512 failed reads) */
				for (size_t k = 0; k < n;) {
					uint64_t wa = a + 8 * k;
					size_t m = (size_t)((4096 - (wa & 4095)) + 7) / 8;
					if (m > n - k)
						m = n - k;
					if (gp_failed(gp_memory_read(&p->mem, wa, &buf[k], 8 * m)))
						memset(&buf[k], 0, 8 * m);
					k += m;
				}
			}
			src = (const uint8_t *)buf;
		}
		for (size_t k = 0; k < n; k++) {
			if (mask && !(mask[(w0 + k) >> 3] >> ((w0 + k) & 7) & 1))
				continue;
			uint64_t v;
			memcpy(&v, src + 8 * k, 8);
			if (v)
				gp_mark_value(m, a + 8 * k, v);
		}
		m->stats.scanned_bytes += n * 8;
	}
}

void gp_mark_tick(struct gp_mark *m)
{
	gp_memory_trim_tick(&m->snap->prog->mem, &m->trim);
}

/* Objects ahead in the queue whose first words (and pointer bits) the
 * CPU is asked for: the heap of a core of GB is cold memory, and an
 * object's scan is short. */
#define DRAIN_AHEAD 8u

static void prefetch_object(struct gp_mark *m, const struct gp_mark_item *it)
{
	const struct gp_span *s = &m->h->spans[it->span];
	const struct gp_memory *mem = &m->snap->prog->mem;
	if ((s->flags & GP_SPAN_NOSCAN) || mem->read_fn)
		return;
	uint64_t base = s->base + (uint64_t)(it->id - s->first) * s->elemsize;
	const uint8_t *q = gp_memory_ptr_near(mem, base, 8, &m->pf_g);
	if (q) {
		__builtin_prefetch(q);
		if (s->elemsize > 64 && ((uintptr_t)q & 63) + 64 < s->elemsize)
			__builtin_prefetch(q + 64);
	}
	if (s->flags & GP_SPAN_INLINE_BITS) {
		uint64_t wi = (base - s->base) / 8;
		q = gp_memory_ptr_near(mem, s->bits + wi / 64 * 8, 8, &m->pf_stack);
		if (q)
			__builtin_prefetch(q);
	}
}

/* Scans queued object it: on this thread, marking what it finds; on a
 * worker's copy (listing), listing it. */
static gp_error *scan_item(struct gp_mark *m, const struct gp_mark_item *it)
{
	struct gp_heap *h = m->h;
	const struct gp_span *s = &h->spans[it->span];
	uint64_t base = s->base + (uint64_t)(it->id - s->first) * s->elemsize;
	m->cur = it->id;
	m->cur_span = it->span;
	m->cur_base = base;
	m->cur_conservative = false;
	m->stats.scanned_bytes += s->elemsize;
	if (!m->listing) {
		gp_mark_tick(m);
		return gp_heap_scan_object(h, s, base, s->elemsize, gp_mark_visit, m, NULL);
	}
	if (s->elemsize > GP_HEAP_WINDOW * 8 * 16) {
		m->again = true; /* its finds could be many: unshared */
		return NULL;
	}
	if (gp_heap_scan_object_shared(h, s, base, s->elemsize, gp_mark_visit, m))
		m->again = true; /* a static error: nothing to free */
	return NULL;
}

/* ------------------------------------------------------- two threads */

/*
 * The mark on two threads with the result of one. A chunk of work (the
 * queue's next objects, or goroutines whose roots are to be marked) is
 * scanned by both threads at once, each on its own copy of the mark
 * (its stack buffers, frame and unwind caches, stats), which lists what
 * each unit found unmarked instead of marking it; this thread then
 * marks the lists in the units' order, as the one-thread mark would have
 * marked while scanning them: the same bits, the same first parent of
 * every object (so the same retention paths), the same queue. Scanning
 * only reads what is shared (the bits, the spans, the type cache, the
 * hidden words); a unit whose scan would change it (a type not cached
 * yet, an object or a stack to note as corrupt) is done over here, in
 * its turn, by the one-thread code. Not for a debugger's reader (its
 * reads go through the debugger, one thread) nor for recording.
 */
#define PAR_BLOCK_ITEMS 64u    /* queued objects a thread takes at once */
#define PAR_BLOCK_GS 8u        /* goroutines a thread takes at once */
#define PAR_CHUNK_ITEMS 8192u  /* objects per chunk */
#define PAR_CHUNK_GS 2048u     /* goroutines per chunk */
#define PAR_MIN 256u           /* fewer units: one thread */

enum unit_state { UNIT_FOUND = 0, UNIT_SKIPPED, UNIT_AGAIN };

struct unit {
	uint32_t lo, hi;              /* its finds in its worker's list */
	uint8_t worker, state;
};

/* A thread's copy on cache lines of its own: each thread writes its
 * copy at every word it scans, and a line shared with the other's (whose
 * first fields it reads as often) cost the two threads more than the
 * second one gave. */
#define LINE 128u

struct mark_copy {
	_Alignas(LINE) struct gp_mark m;
};

struct gp_mark_par {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	uint64_t job, done_job;
	bool quit;
	struct mark_copy w[2];        /* this thread's copy, the worker's */
	/* the job */
	const struct gp_mark_item *items;   /* objects, or */
	const uint32_t *gis;                /* goroutines */
	gp_mark_pick_fn *guess;
	void *arg;
	size_t n, block;
	uint32_t ticks;               /* gp_mark_tick's per unit, the worker's */
	struct gp_trim trim;          /* both threads' (started here) */
	struct unit *units;
	size_t units_cap;
	struct gp_mark_item *chunk;   /* drain_chunk's objects, reused */
	size_t chunk_cap;
	/* the units not yet taken, [front, back): front << 32 | back */
	_Alignas(LINE) uint64_t ends;
	char ends_line[LINE - sizeof(uint64_t)];
};

/*
 * A block of the job's units for thread wi: this thread's from the front,
 * the worker's from the back, until they meet. Units next to each other
 * are next to each other in memory (goroutines' stacks, objects of one
 * span): taken in turn, both threads faulted in pages under one page
 * table's lock (its spinning was 2% of heapcore's verdict); from the two
 * ends they meet only at the end. Which thread scans a unit changes
 * nothing: its finds are applied in unit order.
 */
static bool take_units(struct gp_mark_par *par, uint8_t wi, size_t *lo, size_t *hi)
{
	uint64_t e = __atomic_load_n(&par->ends, __ATOMIC_RELAXED);
	for (;;) {
		uint32_t f = (uint32_t)(e >> 32), b = (uint32_t)e;
		if (f >= b)
			return false;
		uint32_t take = b - f < par->block ? b - f : (uint32_t)par->block;
		uint64_t ne = wi ? (uint64_t)f << 32 | (b - take) :
				   (uint64_t)(f + take) << 32 | b;
		if (__atomic_compare_exchange_n(&par->ends, &e, ne, true,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			*lo = wi ? b - take : f;
			*hi = wi ? b : f + take;
			return true;
		}
	}
}

static void run_units(struct gp_mark_par *par, uint8_t wi)
{
	struct gp_mark *w = &par->w[wi].m;
	size_t lo, hi;
	while (take_units(par, wi, &lo, &hi)) {
		/* the core's pages are let go, a block at a time, by the
		 * thread whose block reaches the count, while the other
		 * scans: unmapping what either may read only costs it a fault
		 * (the mapping is the file's, never written). Both count: on a
		 * loaded machine one may scan a whole chunk alone (heapcore
		 * under a CPU burner: 490-500 MB when the worker alone let
		 * go, as it scanned little) */
		gp_memory_trim_ticks_shared(&w->snap->prog->mem, &par->trim,
					    (uint32_t)(hi - lo) * par->ticks);
		for (size_t u = lo; u < hi; u++) {
			struct gp_mark_stats st = w->stats;
			size_t f0 = w->nfound;
			uint8_t state = UNIT_FOUND;
			w->again = false;
			if (par->items) {
				if (u + DRAIN_AHEAD < hi)
					prefetch_object(w, &par->items[u + DRAIN_AHEAD]);
				(void)scan_item(w, &par->items[u]);
			} else if (par->guess && !par->guess(par->arg, par->gis[u])) {
				state = UNIT_SKIPPED;
			} else {
				if (u + 2 < hi)
					gp_mark_prefetch(w, par->gis[u + 2]);
				(void)gp_mark_goroutine(w, par->gis[u]);
			}
			if (w->again) {
				w->nfound = f0;
				w->stats = st;
				state = UNIT_AGAIN;
			}
			par->units[u] = (struct unit){ .lo = (uint32_t)f0,
						       .hi = (uint32_t)w->nfound,
						       .worker = wi, .state = state };
		}
	}
}

static void *par_main(void *arg)
{
	struct gp_mark_par *par = arg;
	pthread_mutex_lock(&par->lock);
	for (uint64_t seen = 0;;) {
		while (!par->quit && par->job == seen)
			pthread_cond_wait(&par->go, &par->lock);
		if (par->quit)
			break;
		seen = par->job;
		pthread_mutex_unlock(&par->lock);
		run_units(par, 1);
		pthread_mutex_lock(&par->lock);
		par->done_job = seen;
		pthread_cond_signal(&par->done);
	}
	pthread_mutex_unlock(&par->lock);
	return NULL;
}

/* A worker's copy of m: what it shares (named here; the rest is its own,
 * empty at first) is only read while it scans. */
static bool copy_init(struct gp_mark *w, const struct gp_mark *m)
{
	*w = (struct gp_mark){
		.h = m->h, .snap = m->snap,
		.bits = m->bits, .parent = m->parent, .span_reached = m->span_reached,
		.cur = GP_NONE,
		.nhidden = m->nhidden, .obj_hidden = m->obj_hidden,
		.nhidden_offs = m->nhidden_offs, .hidden = m->hidden,
		.hidden_outside = m->hidden_outside,
		.rodata = m->rodata,
		.listing = true,
	};
	memcpy(w->hidden_offs, m->hidden_offs, sizeof(w->hidden_offs));
	w->frames = calloc(GP_FRAME_CACHE_SLOTS, sizeof(*w->frames));
	w->ucache = calloc(1, sizeof(*w->ucache));
	w->pcs = malloc(GP_MAX_FRAMES * sizeof(*w->pcs));
	return w->frames && w->ucache && w->pcs;
}

static void copy_deinit(struct gp_mark *w)
{
	free(w->sobjs);
	free(w->sptrs);
	free(w->sbuf);
	free(w->found);
	free(w->frames);
	free(w->ucache);
	free(w->pcs);
	memset(w, 0, sizeof(*w));
}

/* The second thread, started once; NULL when one thread must do. */
static struct gp_mark_par *par_start(struct gp_mark *m)
{
	if (m->par)
		return m->par;
	size_t size = (sizeof(struct gp_mark_par) + LINE - 1) / LINE * LINE;
	struct gp_mark_par *par = aligned_alloc(LINE, size);
	if (!par)
		return NULL;
	memset(par, 0, size);
	if (!copy_init(&par->w[0].m, m) || !copy_init(&par->w[1].m, m) ||
	    pthread_mutex_init(&par->lock, NULL)) {
		copy_deinit(&par->w[0].m);
		copy_deinit(&par->w[1].m);
		free(par);
		return NULL;
	}
	if (pthread_cond_init(&par->go, NULL) || pthread_cond_init(&par->done, NULL) ||
	    pthread_create(&par->thread, NULL, par_main, par)) {
		/* destroying a condition variable never initialized is
		 * undefined: these few bytes are left, the thread is not */
		pthread_mutex_destroy(&par->lock);
		copy_deinit(&par->w[0].m);
		copy_deinit(&par->w[1].m);
		free(par);
		return NULL;
	}
	m->par = par;
	return par;
}

static void par_stop(struct gp_mark *m)
{
	struct gp_mark_par *par = m->par;
	if (!par)
		return;
	pthread_mutex_lock(&par->lock);
	par->quit = true;
	pthread_cond_signal(&par->go);
	pthread_mutex_unlock(&par->lock);
	pthread_join(par->thread, NULL);
	pthread_cond_destroy(&par->go);
	pthread_cond_destroy(&par->done);
	pthread_mutex_destroy(&par->lock);
	copy_deinit(&par->w[0].m);
	copy_deinit(&par->w[1].m);
	free(par->units);
	free(par->chunk);
	free(par);
	m->par = NULL;
}

static bool par_wanted(const struct gp_mark *m, size_t n)
{
	return n && n >= gp_par_min(PAR_MIN) && !m->recording && !m->snap->prog->mem.read_fn;
}

static void add_stats(struct gp_mark_stats *to, struct gp_mark_stats *from)
{
	to->marked += from->marked;
	to->scanned_bytes += from->scanned_bytes;
	to->roots += from->roots;
	to->stacks += from->stacks;
	to->frames += from->frames;
	to->conservative_frames += from->conservative_frames;
	to->stack_errors += from->stack_errors;
	to->specials += from->specials;
	to->finalizers_queued += from->finalizers_queued;
	to->unscanned_stacks += from->unscanned_stacks;
	to->par_chunks += from->par_chunks;
	to->par_again += from->par_again;
	memset(from, 0, sizeof(*from));
}

/* Scans the job's n units on both threads; false if it could not start
 * (out of memory: the caller does them on one thread). */
static bool par_scan(struct gp_mark *m, const struct gp_mark_item *items,
		     const uint32_t *gis, size_t n, uint32_t ticks,
		     gp_mark_pick_fn *guess, void *arg)
{
	struct gp_mark_par *par = par_start(m);
	if (!par || gp_grow((void **)&par->units, &par->units_cap, n, sizeof(*par->units)))
		return false;
	pthread_mutex_lock(&par->lock);
	par->items = items;
	par->gis = gis;
	par->guess = guess;
	par->arg = arg;
	par->n = n;
	par->block = items ? PAR_BLOCK_ITEMS : PAR_BLOCK_GS;
	par->ends = (uint32_t)n;  /* (n: a chunk, far below 2^32) */
	gp_memory_trim_ticks(&m->snap->prog->mem, &par->trim, 0);
	par->ticks = ticks;
	par->w[0].m.nfound = par->w[1].m.nfound = 0;
	par->job++;
	pthread_cond_signal(&par->go);
	pthread_mutex_unlock(&par->lock);
	run_units(par, 0);
	pthread_mutex_lock(&par->lock);
	while (par->done_job != par->job)
		pthread_cond_wait(&par->done, &par->lock);
	pthread_mutex_unlock(&par->lock);
	add_stats(&m->stats, &par->w[0].m.stats);
	add_stats(&m->stats, &par->w[1].m.stats);
	m->stats.par_chunks++;
	for (size_t u = 0; u < n; u++)
		m->stats.par_again += par->units[u].state == UNIT_AGAIN;
	return true;
}

static void apply_unit(struct gp_mark *m, const struct unit *u)
{
	const struct gp_mark_found *f = m->par->w[u->worker].m.found;
	for (uint32_t k = u->lo; k < u->hi; k++)
		apply_found(m, &f[k]);
}

/* The queue's next objects on two threads: false if they were not. */
static bool drain_chunk(struct gp_mark *m, gp_error **ret)
{
	size_t n = m->nstack - m->head;
	if (n > PAR_CHUNK_ITEMS)
		n = PAR_CHUNK_ITEMS;
	if (!par_wanted(m, n))
		return false;
	/* the chunk leaves the queue (which grows, and may move, as it
	 * is marked) for an array of the job's own */
	struct gp_mark_par *par = par_start(m);
	if (!par || gp_grow((void **)&par->chunk, &par->chunk_cap, n, sizeof(*par->chunk)))
		return false;
	const struct gp_mark_item *items = par->chunk;
	memcpy(par->chunk, m->stack + m->head, n * sizeof(*items));
	if (!par_scan(m, items, NULL, n, 1, NULL, NULL))
		return false; /* nothing taken from the queue: one thread does them */
	m->head += n;
	for (size_t k = 0; k < n && !*ret; k++) {
		const struct unit *u = &par->units[k];
		if (u->state == UNIT_AGAIN)
			*ret = scan_item(m, &items[k]);
		else
			apply_unit(m, u);
	}
	return true;
}

gp_error *gp_mark_drain(struct gp_mark *m)
{
	for (;;) {
		if (m->head < m->nstack) {
			if (m->head > (1u << 16) && m->head * 2 > m->nstack) {
				memmove(m->stack, m->stack + m->head,
					(m->nstack - m->head) * sizeof(*m->stack));
				m->nstack -= m->head;
				m->head = 0;
			}
			gp_error *err = NULL;
			if (drain_chunk(m, &err)) {
				if (err)
					return err; /* out of memory only */
				continue;
			}
			/* first in, first out: breadth first from the roots,
			 * so that the paths kept are the shortest */
			struct gp_mark_item it = m->stack[m->head++];
			if (m->head + DRAIN_AHEAD < m->nstack)
				prefetch_object(m, &m->stack[m->head + DRAIN_AHEAD]);
			if ((err = scan_item(m, &it)))
				return err; /* out of memory only */
			continue;
		}
		m->head = m->nstack = 0;
		if (m->nspans_todo) {
			struct gp_heap *h = m->h;
			const struct gp_span *s = &h->spans[m->spans_todo[--m->nspans_todo]];
			gp_mark_set_root(m, GP_ROOT_CORRUPT_SPAN, s->base, GP_NONE);
			gp_mark_block(m, s->base, s->end - s->base, NULL);
			continue;
		}
		break;
	}
	m->cur = GP_NONE;
	return m->oom ? &gp_error_nomem : NULL;
}

gp_error *gp_mark_goroutines(struct gp_mark *m, const uint32_t *gis, size_t n,
			     gp_mark_pick_fn *decide, gp_mark_pick_fn *guess,
			     void *arg)
{
	gp_error *err = NULL;
	for (size_t k0 = 0; k0 < n && !err; k0 += PAR_CHUNK_GS) {
		size_t c = n - k0 < PAR_CHUNK_GS ? n - k0 : PAR_CHUNK_GS;
		bool two = par_wanted(m, c);
		/* (8 ticks a goroutine, as gp_mark_goroutine's: it maps its
		 * g and its stack) */
		if (two && !par_scan(m, NULL, gis + k0, c, 8,
				     decide ? guess : NULL, arg))
			two = false;
		for (size_t k = 0; k < c && !err; k++) {
			uint32_t gi = gis[k0 + k];
			if (decide && !decide(arg, gi))
				continue;
			if (two && m->par->units[k].state == UNIT_FOUND) {
				apply_unit(m, &m->par->units[k]);
				continue;
			}
			if (!two && k + 2 < c)
				gp_mark_prefetch(m, gis[k0 + k + 2]);
			err = gp_mark_goroutine(m, gi);
		}
	}
	m->cur = GP_NONE;
	m->cur_conservative = false;
	return err;
}

void gp_mark_trim(struct gp_mark *m)
{
	par_stop(m);
	free(m->found);
	m->found = NULL;
	m->nfound = m->found_cap = 0;
	free(m->stack);
	m->stack = NULL;
	m->head = m->nstack = m->stack_cap = 0;
	free(m->spans_todo);
	m->spans_todo = NULL;
	m->nspans_todo = m->spans_todo_cap = 0;
	gp_addr_map_deinit(&m->hidden);
	free(m->obj_hidden);
	m->obj_hidden = NULL;
	m->nhidden = 0;
	free(m->sbuf);
	m->sbuf = NULL;
	m->sdata = NULL;
	m->sbuf_cap = 0;
}

enum gp_mark_state gp_mark_state_of(const struct gp_mark *m, uint64_t addr)
{
	struct gp_object o;
	switch (gp_heap_find(m->h, addr, &o)) {
	case GP_HEAP_NOT:
		/* a span left out may have been there */
		if (m->h->ndropped && addr >= m->h->lo && addr < m->h->hi)
			return GP_MARK_UNKNOWN;
		return GP_MARK_NOT_HEAP;
	case GP_HEAP_UNKNOWN:
		return GP_MARK_UNKNOWN;
	default:
		return m->bits[o.id >> 3] >> (o.id & 7) & 1 ? GP_MARK_MARKED :
							      GP_MARK_UNMARKED;
	}
}

const uint8_t *gp_mark_bits(const struct gp_mark *m)
{
	return m->bits;
}

bool gp_mark_parent(const struct gp_mark *m, uint32_t id,
		    uint32_t *ret_parent, struct gp_root_hit *ret_root)
{
	if (id >= m->h->nobjects || !(m->bits[id >> 3] >> (id & 7) & 1))
		return false;
	uint32_t p = m->parent[id];
	*ret_parent = GP_NONE;
	memset(ret_root, 0, sizeof(*ret_root));
	if (p == GP_NONE)
		return true;
	if (p < m->h->nobjects) {
		*ret_parent = p;
		return true;
	}
	*ret_root = m->hits[p - m->h->nobjects];
	return true;
}

void gp_mark_stats(const struct gp_mark *m, struct gp_mark_stats *ret)
{
	*ret = m->stats;
}
