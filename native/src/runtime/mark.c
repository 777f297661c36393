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
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

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
		m->span_reached[o.span] = 1;
		if (!gp_grow((void **)&m->spans_todo, &m->spans_todo_cap,
			     m->nspans_todo + 1, sizeof(uint32_t)))
			m->spans_todo[m->nspans_todo++] = o.span;
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
	if (gp_grow((void **)&m->stack, &m->stack_cap, m->nstack + 1,
		    sizeof(*m->stack))) {
		m->oom = true; /* gp_mark_drain reports it */
		return;
	}
	m->bits[o.id >> 3] |= (uint8_t)(1u << (o.id & 7));
	m->parent[o.id] = source(m, slot);
	m->stack[m->nstack].id = o.id;
	m->stack[m->nstack].span = o.span;
	m->nstack++;
	m->stats.marked++;
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

gp_error *gp_mark_drain(struct gp_mark *m)
{
	struct gp_heap *h = m->h;
	for (;;) {
		if (m->head < m->nstack) {
			/* first in, first out: breadth first from the roots,
			 * so that the paths kept are the shortest */
			struct gp_mark_item it = m->stack[m->head++];
			if (m->head == m->nstack)
				m->head = m->nstack = 0;
			else if (m->head > (1u << 16) && m->head * 2 > m->nstack) {
				memmove(m->stack, m->stack + m->head,
					(m->nstack - m->head) * sizeof(*m->stack));
				m->nstack -= m->head;
				m->head = 0;
			}
			if (m->head + DRAIN_AHEAD < m->nstack)
				prefetch_object(m, &m->stack[m->head + DRAIN_AHEAD]);
			const struct gp_span *s = &h->spans[it.span];
			uint64_t base = s->base + (uint64_t)(it.id - s->first) * s->elemsize;
			m->cur = it.id;
			m->cur_span = it.span;
			m->cur_base = base;
			m->cur_conservative = false;
			gp_mark_tick(m);
			gp_error *err = gp_heap_scan_object(h, s, base, s->elemsize,
							    gp_mark_visit, m, NULL);
			m->stats.scanned_bytes += s->elemsize;
			if (err)
				return err; /* out of memory only */
			continue;
		}
		if (m->nspans_todo) {
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

void gp_mark_trim(struct gp_mark *m)
{
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
