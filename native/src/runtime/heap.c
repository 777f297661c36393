/*
 * The heap: arenas, spans and their objects (runtime/mheap.go,
 * runtime/malloc.go, runtime/mbitmap.go of each release; the facts and
 * offsets are checked in corefiles/leaks/FACTS.rst).
 *
 * Spans come from mheap_.allspans (every mspan ever made; only those in
 * state mSpanInUse hold heap objects: manual spans are stacks and the
 * like). Slot i of a span is at startAddr + i * elemsize for i < nelems;
 * it is allocated iff i < freeindex or bit i of allocBits is set (the
 * comment of mspan.freeindex, mspan.isFree). Every slot of every span gets
 * an object id (the span's first id + i), so that mark bits, allocation
 * bits and the parents of a retention path are flat arrays: no record per
 * object. An address is mapped to its span through one table per 64 MiB
 * arena (one uint32 per 8 KiB page).
 *
 * Everything is read from the target and bounded: a span whose fields do
 * not agree (state, class, size, count, addresses outside the arenas, or
 * overlapping another span) is kept as "corrupt": it has no objects, the
 * marker scans the whole of it conservatively, and what lies in it is
 * "unknown" to the verdict. Nothing here stops on one bad span.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define PAGE_SHIFT 13                 /* runtime._PageShift */
#define PAGE_SIZE (1u << PAGE_SHIFT)
#define ARENA_SHIFT 26                /* heapArenaBytes = 64 MiB */
#define PAGES_PER_ARENA (1u << (ARENA_SHIFT - PAGE_SHIFT))
#define ARENA_L2_BITS 22              /* arenaL2Bits, linux/amd64 and arm64 */

/* runtime.mSpanState */
enum { SPAN_DEAD = 0, SPAN_IN_USE = 1, SPAN_MANUAL = 2 };

/* Bounds on what is read. */
#define GP_MAX_SPANS (64u << 20)      /* allspans entries */
#define GP_MAX_ARENAS (1u << 16)      /* 4 TiB of heap */
#define GP_MAX_SPAN_PAGES (1u << 26)  /* one span of 512 GiB */
#define ARENA_IDX_MAX 4096u

/* amd64 puts the heap index origin at -2^47 (arenaBaseOffset, malloc.go);
 * arm64 and the others at 0. */
static uint64_t arena_base_offset(const struct gp_program *prog)
{
	return prog->exe.arch ? prog->exe.arch->arena_base_offset : 0;
}

static int arena_cmp(const void *a, const void *b)
{
	const struct gp_heap_arena *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

struct gp_heap_arena *gp_heap_arena_of(const struct gp_heap *h,
				       uint64_t addr)
{
	uint64_t base = addr & ~((UINT64_C(1) << ARENA_SHIFT) - 1);
	if (addr < h->lo || addr >= h->hi)
		return NULL;
	if (h->arena_idx) {
		uint32_t i = h->arena_idx[(addr - h->lo) >> ARENA_SHIFT];
		return i ? &h->arenas[i - 1] : NULL;
	}
	size_t lo = 0, hi = h->narenas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->arenas[mid].base < base)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->narenas && h->arenas[lo].base == base)
		return &h->arenas[lo];
	return NULL;
}

/* The arena of base, added if new (before the page tables exist). */
static gp_error *arena_add(struct gp_heap *h, uint64_t base, size_t *cap)
{
	for (size_t i = h->narenas; i > 0 && i + 8 > h->narenas; i--)
		if (h->arenas[i - 1].base == base)
			return NULL;
	if (h->narenas >= GP_MAX_ARENAS)
		return gp_error_create(GP_ERROR_LIMIT,
				       "more than %u heap arenas",
				       GP_MAX_ARENAS);
	gp_error *err = gp_grow((void **)&h->arenas, cap, h->narenas + 1,
				sizeof(*h->arenas));
	if (err)
		return err;
	memset(&h->arenas[h->narenas], 0, sizeof(*h->arenas));
	h->arenas[h->narenas++].base = base;
	return NULL;
}

static void arenas_dedup(struct gp_heap *h)
{
	if (h->narenas)
		gp_qsort(h->arenas, h->narenas, sizeof(*h->arenas), arena_cmp);
	size_t n = 0;
	for (size_t i = 0; i < h->narenas; i++)
		if (!n || h->arenas[n - 1].base != h->arenas[i].base)
			h->arenas[n++] = h->arenas[i];
	h->narenas = n;
	if (n) {
		h->lo = h->arenas[0].base;
		h->hi = h->arenas[n - 1].base + (UINT64_C(1) << ARENA_SHIFT);
	}
	/* a table for the lookup of every pointer the mark follows (a
	 * binary search was 2% of heapcore's verdict), when the extent is
	 * small: 4096 arenas, 256 GiB (without it, the search) */
	free(h->arena_idx);
	h->arena_idx = NULL;
	uint64_t slots = n ? (h->hi - h->lo) >> ARENA_SHIFT : 0;
	if (slots && slots <= ARENA_IDX_MAX &&
	    (h->arena_idx = calloc((size_t)slots, sizeof(*h->arena_idx))))
		for (size_t i = 0; i < n; i++)
			h->arena_idx[(h->arenas[i].base - h->lo) >> ARENA_SHIFT] = (uint32_t)i + 1;
}

/* A short note kept for the report (the first few of each kind). */
void gp_heap_note(struct gp_heap *h, uint64_t addr, const char *what)
{
	h->nproblems++;
	if (h->nnotes >= GP_HEAP_MAX_NOTES)
		return;
	h->notes[h->nnotes].addr = addr;
	snprintf(h->notes[h->nnotes].what, sizeof(h->notes[0].what), "%s",
		 what);
	h->nnotes++;
}

/* --------------------------------------------------------------- spans */

struct span_raw {
	uint64_t mspan, base, npages, freeindex, nelems, allocbits, elemsize,
		limit, specials, large_type;
	uint8_t spanclass, state, user_arena;
};

static bool span_decode(const struct gp_program *p, uint64_t addr,
			const uint8_t *buf, size_t size, struct span_raw *r)
{
	memset(r, 0, sizeof(*r));
	r->mspan = addr;
	r->base = gp_field(p, GP_F_MSPAN_STARTADDR, buf, size);
	r->npages = gp_field(p, GP_F_MSPAN_NPAGES, buf, size);
	r->freeindex = gp_field(p, GP_F_MSPAN_FREEINDEX, buf, size);
	r->nelems = gp_field(p, GP_F_MSPAN_NELEMS, buf, size);
	r->allocbits = gp_field(p, GP_F_MSPAN_ALLOCBITS, buf, size);
	r->elemsize = gp_field(p, GP_F_MSPAN_ELEMSIZE, buf, size);
	r->limit = gp_field(p, GP_F_MSPAN_LIMIT, buf, size);
	r->specials = gp_field(p, GP_F_MSPAN_SPECIALS, buf, size);
	r->spanclass = (uint8_t)gp_field(p, GP_F_MSPAN_SPANCLASS, buf, size);
	r->state = (uint8_t)gp_field(p, GP_F_MSPAN_STATE, buf, size);
	if (gp_has(p, GP_F_MSPAN_ISUSERARENACHUNK))
		r->user_arena = (uint8_t)gp_field(p, GP_F_MSPAN_ISUSERARENACHUNK,
						  buf, size);
	if (gp_has(p, GP_F_MSPAN_LARGETYPE))
		r->large_type = gp_field(p, GP_F_MSPAN_LARGETYPE, buf, size);
	return true;
}

/* Why an in-use span cannot be trusted, or NULL. */
static const char *span_check(const struct gp_heap *h,
			      const struct span_raw *r)
{
	(void)h;
	if (r->base & (PAGE_SIZE - 1))
		return "span start not page aligned";
	if (!r->npages || r->npages > GP_MAX_SPAN_PAGES)
		return "span page count out of range";
	uint64_t bytes = r->npages << PAGE_SHIFT;
	if (r->base + bytes < r->base)
		return "span wraps around";
	if (!r->elemsize || r->elemsize > bytes)
		return "object size out of range";
	if (!r->nelems || r->nelems > bytes / 8 ||
	    r->nelems * r->elemsize > bytes)
		return "object count out of range";
	if ((r->spanclass >> 1) == 0 && r->nelems != 1)
		return "large span with several objects";
	/* initSpan: a large span's object is the whole span; a small one
	 * holds as many objects as fit, less at most 256 B of heap bits and
	 * inline mark bits at its end (GO_HEAP.md) */
	if (!r->user_arena && (r->spanclass >> 1) == 0 && r->elemsize != bytes)
		return "large object size is not its span's";
	if (!r->user_arena && (r->spanclass >> 1) != 0 &&
	    bytes - r->nelems * r->elemsize >= r->elemsize + 256)
		return "object count does not fill the span";
	if ((r->spanclass >> 1) >= 68)
		return "size class out of range";
	if (r->freeindex > r->nelems)
		return "freeindex past the objects";
	if (r->freeindex < r->nelems && !r->allocbits)
		return "no allocation bits";
	return NULL;
}

static gp_error *read_allspans(struct gp_heap *h, uint64_t *ret_ptr,
			       uint64_t *ret_len)
{
	const struct gp_program *p = h->prog;
	uint64_t mheap = p->layout.var_addr[GP_V_MHEAP_];
	if (!mheap)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "runtime.mheap_ not found: no heap model");
	uint64_t sl[2];
	gp_error *err = gp_memory_read(&p->mem,
				       mheap + (uint64_t)gp_off(p, GP_F_MHEAP_ALLSPANS),
				       sl, sizeof(sl));
	if (err)
		return gp_error_wrap(err, "reading mheap_.allspans");
	if (sl[1] > GP_MAX_SPANS)
		return gp_error_create(GP_ERROR_LIMIT,
				       "mheap_.allspans has %llu spans (at most %u read)",
				       (unsigned long long)sl[1], GP_MAX_SPANS);
	*ret_ptr = sl[0];
	*ret_len = sl[1];
	return NULL;
}

static int span_cmp(const void *a, const void *b)
{
	const struct gp_span *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

/* Each in-use span's pages in its arenas' tables; overlaps make both
 * spans corrupt. */
static gp_error *build_pages(struct gp_heap *h)
{
	for (size_t i = 0; i < h->narenas; i++) {
		h->arenas[i].pages = calloc(PAGES_PER_ARENA, sizeof(uint32_t));
		if (!h->arenas[i].pages)
			return &gp_error_nomem;
	}
	for (size_t si = 0; si < h->nspans; si++) {
		struct gp_span *s = &h->spans[si];
		for (uint64_t a = s->base; a < s->end; a += PAGE_SIZE) {
			struct gp_heap_arena *ar = gp_heap_arena_of(h, a);
			if (!ar)
				break; /* cannot happen: arenas come from spans */
			uint32_t *slot = &ar->pages[(a >> PAGE_SHIFT) &
						    (PAGES_PER_ARENA - 1)];
			if (*slot && *slot != si + 1) {
				struct gp_span *o = &h->spans[*slot - 1];
				if (!(o->flags & GP_SPAN_CORRUPT))
					gp_heap_note(h, o->mspan,
						     "span overlaps another");
				o->flags |= GP_SPAN_CORRUPT;
				s->flags |= GP_SPAN_CORRUPT;
				continue;
			}
			*slot = (uint32_t)si + 1;
		}
	}
	return NULL;
}

/* Object ids and allocation bits, once the spans are final. */
static gp_error *build_objects(struct gp_heap *h)
{
	uint64_t n = 0;
	for (size_t i = 0; i < h->nspans; i++) {
		struct gp_span *s = &h->spans[i];
		if (s->flags & GP_SPAN_CORRUPT)
			s->nelems = 0;
		s->first = (uint32_t)n;
		n += s->nelems;
		if (n >= UINT32_MAX)
			return gp_error_create(GP_ERROR_LIMIT,
					       "more than 2^32 heap slots");
	}
	h->nobjects = (uint32_t)n;
	h->alloc = calloc(n / 8 + 1, 1);
	if (!h->alloc)
		return &gp_error_nomem;
	uint8_t buf[1024];
	struct gp_trim trim = { 0 };
	for (size_t i = 0; i < h->nspans; i++) {
		struct gp_span *s = &h->spans[i];
		if (!s->nelems)
			continue;
		gp_memory_trim_tick(&h->prog->mem, &trim);
		uint32_t nbytes = (s->nelems + 7) / 8;
		const uint8_t *bits = NULL;
		if (s->freeindex < s->nelems) {
			bits = gp_memory_ptr(&h->prog->mem, s->allocbits, nbytes);
			if (!bits && nbytes <= sizeof(buf) &&
			    !gp_failed(gp_memory_read(&h->prog->mem, s->allocbits, buf,
					    nbytes)))
				bits = buf;
			if (!bits) {
				/* cannot tell which slots are in use: the span
				 * is unknown, scanned as a whole */
				gp_heap_note(h, s->mspan,
					     "allocation bits unreadable");
				s->flags |= GP_SPAN_CORRUPT;
				continue;
			}
		}
		for (uint32_t k = 0; k < s->nelems; k++) {
			bool a = k < s->freeindex ||
				 (bits[k >> 3] >> (k & 7) & 1);
			if (a) {
				uint64_t id = (uint64_t)s->first + k;
				h->alloc[id >> 3] |= (uint8_t)(1u << (id & 7));
			}
		}
	}
	return NULL;
}

/* The heapArena structs (their bitmaps before 1.22, the GreenTea bits
 * from 1.25): mheap_.arenas[0][idx] (arenaL1Bits is 0 on 64-bit Linux). */
static void read_arena_structs(struct gp_heap *h)
{
	const struct gp_program *p = h->prog;
	uint64_t mheap = p->layout.var_addr[GP_V_MHEAP_], l2 = 0;
	if (gp_failed(gp_memory_read_u64(&p->mem,
			       mheap + (uint64_t)gp_off(p, GP_F_MHEAP_ARENAS),
			       &l2)) || !l2)
		return;
	uint64_t off = arena_base_offset(p);
	for (size_t i = 0; i < h->narenas; i++) {
		uint64_t idx = ((h->arenas[i].base - off) >> ARENA_SHIFT) &
			       ((UINT64_C(1) << ARENA_L2_BITS) - 1);
		uint64_t ha = 0;
		if (!gp_failed(gp_memory_read_u64(&p->mem, l2 + idx * 8, &ha)))
			h->arenas[i].ha = ha;
	}
}

/* GreenTea's inline mark bits (1.25+): bit of the span's first page in
 * heapArena.pageUseSpanInlineMarkBits (mgcmark_greenteagc.go initSpan). */
static bool uses_inline_marks(const struct gp_heap *h,
			      const struct gp_span *s)
{
	const struct gp_program *p = h->prog;
	if (!gp_has(p, GP_F_HEAPARENA_PAGEUSESPANINLINEMARKBITS))
		return false;
	const struct gp_heap_arena *ar = gp_heap_arena_of(h, s->base);
	if (!ar || !ar->ha)
		return false;
	uint64_t page = (s->base >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1);
	uint8_t b = 0;
	if (gp_failed(gp_memory_read(&p->mem,
			   ar->ha + (uint64_t)gp_off(p, GP_F_HEAPARENA_PAGEUSESPANINLINEMARKBITS) +
				   page / 8, &b, 1)))
		return false;
	return b >> (page % 8) & 1;
}

/* Whether every arena of [base, end) has a heapArena in mheap_.arenas
 * (l2: its one second-level array): a span elsewhere is not where it
 * says, and would have the heap model scan memory nobody allocated. */
static bool arenas_mapped(const struct gp_program *p, uint64_t l2,
			  uint64_t base, uint64_t end)
{
	uint64_t off = arena_base_offset(p);
	uint64_t first = (base - off) >> ARENA_SHIFT;
	uint64_t last = (end - 1 - off) >> ARENA_SHIFT;
	if (last < first || last >> ARENA_L2_BITS)
		return false;
	for (uint64_t i = first; i <= last; i++) {
		uint64_t ha = 0;
		if (gp_failed(gp_memory_read_u64(&p->mem, l2 + i * 8, &ha)) || !ha)
			return false;
	}
	return true;
}

gp_error *gp_heap_open(struct gp_program *prog, struct gp_heap **ret)
{
	struct gp_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return &gp_error_nomem;
	h->prog = prog;
	gp_error *err = NULL;
	if (prog->gover < GP_GOVER(1, 20))
		h->gen = GP_HEAP_BITMAP2;
	else if (prog->gover < GP_GOVER(1, 22))
		h->gen = GP_HEAP_BITMAP1;
	else
		h->gen = GP_HEAP_HEADERS;
	if (prog->exe.go_version && strstr(prog->exe.go_version, "noallocheaders")) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "%s: GOEXPERIMENT=noallocheaders is not supported by the heap model",
				      prog->exe.go_version);
		goto fail;
	}
	uint64_t ptr = 0, len = 0;
	if ((err = read_allspans(h, &ptr, &len)))
		goto fail;
	size_t cap = 0, acap = 0;
	int32_t msize = (int32_t)prog->layout.type_size[GP_T_MSPAN];
	if (msize <= 0 || msize > 1024) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED, "no runtime.mspan layout");
		goto fail;
	}
	uint64_t chunk[512];
	uint8_t mbuf[1024];
	/* mheap_.arenas[0] (arenaL1Bits is 0 on 64-bit Linux), 0 when it
	 * cannot be read: then spans are not checked against it */
	uint64_t l2 = 0;
	if (gp_failed(gp_memory_read_u64(&prog->mem,
					 prog->layout.var_addr[GP_V_MHEAP_] +
						 (uint64_t)gp_off(prog, GP_F_MHEAP_ARENAS),
					 &l2)))
		l2 = 0;
	struct gp_trim trim = { 0 };
	for (uint64_t i = 0; i < len; i += 512) {
		size_t n = len - i < 512 ? (size_t)(len - i) : 512;
		if ((err = gp_memory_read(&prog->mem, ptr + i * 8, chunk, n * 8))) {
			err = gp_error_wrap(err, "reading mheap_.allspans");
			goto fail;
		}
		for (size_t k = 0; k < n; k++) {
			if (!chunk[k])
				continue;
			gp_memory_trim_tick(&prog->mem, &trim);
			const uint8_t *mb = gp_memory_ptr(&prog->mem, chunk[k],
							  (size_t)msize);
			if (!mb) {
				if (gp_failed(gp_memory_read(&prog->mem, chunk[k], mbuf,
						   (size_t)msize))) {
					gp_heap_note(h, chunk[k], "mspan unreadable");
					h->ndropped++;
					continue;
				}
				mb = mbuf;
			}
			struct span_raw r;
			span_decode(prog, chunk[k], mb, (size_t)msize, &r);
			/* dead and manual spans (stacks) hold no objects;
			 * any other state is not the runtime's */
			if (r.state == SPAN_DEAD || r.state == SPAN_MANUAL)
				continue;
			const char *bad = r.state != SPAN_IN_USE ?
						  "span state unknown" :
						  span_check(h, &r);
			/* even a corrupt span claims its pages when they are
			 * plausible, so that pointers into it are "unknown"
			 * rather than "not in the heap" */
			if (bad && (r.base & (PAGE_SIZE - 1) || !r.npages ||
				    r.npages > GP_MAX_SPAN_PAGES ||
				    r.base + (r.npages << PAGE_SHIFT) < r.base)) {
				gp_heap_note(h, r.mspan, bad);
				h->ndropped++;
				continue;
			}
			if (l2 && !arenas_mapped(prog, l2, r.base,
						 r.base + (r.npages << PAGE_SHIFT))) {
				gp_heap_note(h, r.mspan, "span outside the heap's arenas");
				h->ndropped++;
				continue;
			}
			/* its page count is a word of the target: its objects
			 * (a mark bit, a parent, an allocation bit each) and
			 * arenas' page tables only for pages the target has.
			 * Checked only when the arenas could not bound it: a
			 * real core may lack pages of an in-use span (a kernel
			 * core writes no bytes for a VM_DONTDUMP or filtered
			 * range), and dropping the span then turns pointers
			 * into its readable objects into "unknown" */
			if (!l2 && !gp_memory_covers(&prog->mem, r.base,
					      r.npages << PAGE_SHIFT)) {
				gp_heap_note(h, r.mspan, "span's pages not in the target");
				h->ndropped++;
				continue;
			}
			if ((err = gp_grow((void **)&h->spans, &cap,
					   h->nspans + 1, sizeof(*h->spans))))
				goto fail;
			struct gp_span *s = &h->spans[h->nspans++];
			memset(s, 0, sizeof(*s));
			s->mspan = r.mspan;
			s->base = r.base;
			s->end = r.base + (r.npages << PAGE_SHIFT);
			s->specials = r.specials;
			s->spanclass = r.spanclass;
			if (bad) {
				gp_heap_note(h, r.mspan, bad);
				s->flags |= GP_SPAN_CORRUPT;
				s->limit = s->end;
			} else {
				s->elemsize = r.elemsize;
				if (r.elemsize && r.elemsize < (UINT64_C(1) << 32))
					s->divmul = (uint32_t)(UINT32_MAX / r.elemsize + 1);
				s->nelems = (uint32_t)r.nelems;
				s->freeindex = (uint32_t)r.freeindex;
				s->allocbits = r.allocbits;
				s->limit = r.base + r.nelems * r.elemsize;
				s->large_type = r.large_type;
				if (r.spanclass & 1)
					s->flags |= GP_SPAN_NOSCAN;
				if ((r.spanclass >> 1) == 0)
					s->flags |= GP_SPAN_LARGE;
				if (r.user_arena)
					s->flags |= GP_SPAN_USER_ARENA;
			}
			for (uint64_t a = s->base; a < s->end;
			     a += UINT64_C(1) << ARENA_SHIFT)
				if ((err = arena_add(h, a & ~((UINT64_C(1) << ARENA_SHIFT) - 1),
						     &acap)))
					goto fail;
			if ((err = arena_add(h, (s->end - 1) & ~((UINT64_C(1) << ARENA_SHIFT) - 1),
					     &acap)))
				goto fail;
		}
	}
	arenas_dedup(h);
	if (h->nspans)
		gp_qsort(h->spans, h->nspans, sizeof(*h->spans), span_cmp);
	if ((err = build_pages(h)))
		goto fail;
	read_arena_structs(h);
	for (size_t i = 0; i < h->nspans; i++) {
		struct gp_span *s = &h->spans[i];
		if ((s->flags & (GP_SPAN_CORRUPT | GP_SPAN_NOSCAN)) ||
		    h->gen != GP_HEAP_HEADERS)
			continue;
		if (s->elemsize <= 512) {
			/* heap bits at the end of the span (spanHeapBitsRange) */
			uint64_t bytes = s->end - s->base;
			uint64_t nbits = bytes / 8 / 8;
			if (s->elemsize >= 16 && uses_inline_marks(h, s))
				s->flags |= GP_SPAN_INLINE_MARKS;
			s->bits = s->end - nbits -
				  (s->flags & GP_SPAN_INLINE_MARKS ? 128 : 0);
			s->flags |= GP_SPAN_INLINE_BITS;
			if (s->limit > s->bits) {
				gp_heap_note(h, s->mspan, "objects overlap the span's heap bits");
				s->flags |= GP_SPAN_CORRUPT;
			}
		} else if (!(s->flags & GP_SPAN_LARGE)) {
			s->flags |= GP_SPAN_HEADERS;
		}
		if (s->flags & GP_SPAN_USER_ARENA)
			s->flags |= GP_SPAN_CONSERVATIVE;
	}
	if ((err = build_objects(h)))
		goto fail;
	*ret = h;
	return NULL;
fail:
	gp_heap_destroy(h);
	return err;
}

void gp_heap_destroy(struct gp_heap *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->narenas; i++)
		free(h->arenas[i].pages);
	free(h->arenas);
	free(h->arena_idx);
	free(h->spans);
	free(h->alloc);
	gp_types_deinit(&h->types);
	free(h);
}

/* ------------------------------------------------------------- lookup */

const struct gp_span *gp_heap_span_of(const struct gp_heap *h, uint64_t addr)
{
	const struct gp_heap_arena *ar = gp_heap_arena_of(h, addr);
	if (!ar || !ar->pages)
		return NULL;
	uint32_t si = ar->pages[(addr >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)];
	if (!si)
		return NULL;
	return &h->spans[si - 1];
}

enum gp_heap_where gp_heap_find(const struct gp_heap *h, uint64_t addr,
				struct gp_object *ret)
{
	const struct gp_span *s = gp_heap_span_of(h, addr);
	memset(ret, 0, sizeof(*ret));
	if (!s)
		return GP_HEAP_NOT;
	ret->span = (uint32_t)(s - h->spans);
	if (s->flags & GP_SPAN_CORRUPT) {
		ret->base = s->base;
		ret->size = s->end - s->base;
		ret->id = GP_NONE;
		return GP_HEAP_UNKNOWN;
	}
	/* an address in the tail of the span past its objects: not an
	 * object (findObject gives 0 there) */
	if (addr >= s->limit)
		return GP_HEAP_NOT;
	/* as the runtime's divMagic: exact for a size class's offsets in
	 * its span; checked, as a span's words are the target's */
	uint64_t off = addr - s->base;
	uint64_t k = (off * s->divmul) >> 32;
	if (!s->divmul || off >> 32 || k * s->elemsize > off ||
	    off - k * s->elemsize >= s->elemsize)
		k = off / s->elemsize;
	ret->base = s->base + k * s->elemsize;
	ret->size = s->elemsize;
	ret->id = s->first + (uint32_t)k;
	return gp_heap_allocated(h, ret->id) ? GP_HEAP_OBJECT : GP_HEAP_FREE;
}

bool gp_heap_object_of(const struct gp_heap *h, uint32_t id,
		       struct gp_object *ret)
{
	if (id >= h->nobjects)
		return false;
	size_t lo = 0, hi = h->nspans;
	/* spans are sorted by base and ids increase with base */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->spans[mid].first <= id)
			lo = mid;
		else
			hi = mid;
	}
	/* skip spans without objects that share the first id */
	while (lo + 1 < h->nspans && h->spans[lo + 1].first <= id)
		lo++;
	const struct gp_span *s = &h->spans[lo];
	while (lo > 0 && (id < s->first || id >= s->first + s->nelems))
		s = &h->spans[--lo];
	if (id < s->first || id >= s->first + s->nelems)
		return false;
	ret->span = (uint32_t)lo;
	ret->id = id;
	ret->size = s->elemsize;
	ret->base = s->base + (uint64_t)(id - s->first) * s->elemsize;
	return true;
}
