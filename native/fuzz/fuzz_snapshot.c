/*
 * fuzz_snapshot: the snapshot walk and the analyses over fuzzed target
 * memory. The target is a callback one (target/callback.c, as a debugger's
 * remote target: live.c's copy, reads through the host) whose callback
 * serves a real fixture core's memory with the input's patches applied
 * (fuzz.h). The regions patched are what the walk reads: allgs, every g,
 * the top of every stack, what goroutines wait on (channels, sync objects,
 * sudogs), the Ms, the runtime's variables.
 *
 * fuzz_heap.c includes this file with FZ_HEAP: the regions are the heap's
 * metadata (spans, alloc and pointer bitmaps, malloc headers and type
 * pointers, arenas, specials), and it runs the heap model, the mark and
 * the verdict (runtime/heap.c, heapbits.c, roots.c, mark.c,
 * analysis/verdict.c) instead of the other analyses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "analysis/analysis.h"

#ifdef FZ_HEAP
#define H "fuzz_heap"
#else
#define H "fuzz_snapshot"
#endif

struct target_state {
	struct gp_program *prog;  /* the core, read to serve the callback */
};

/* The patches of the input being run, for the callback. */
static const struct fz_patch *cur_p;
static size_t cur_n;

static int read_orig(struct fz_case *c, uint64_t addr, void *buf, size_t n)
{
	struct target_state *s = c->state;
	gp_error *err = gp_memory_read(&s->prog->mem, addr, buf, n);
	gp_error_destroy(err);
	return err ? -1 : 0;
}

static int read_cb(void *arg, uint64_t addr, void *buf, size_t n)
{
	struct fz_case *c = arg;
	if (read_orig(c, addr, buf, n))
		return EFAULT;
	fz_apply(cur_p, cur_n, addr, buf, n);
	return 0;
}

static uint64_t type_size(const struct gp_program *p, enum gp_type_id t,
			  uint64_t dflt)
{
	int64_t s = p->layout.type_size[t];
	return s > 0 ? (uint64_t)s : dflt;
}

static uint64_t read_u64(struct gp_program *p, uint64_t addr)
{
	uint64_t v = 0;
	gp_error_destroy(gp_memory_read_u64(&p->mem, addr, &v));
	return v;
}

#ifndef FZ_HEAP
static void snapshot_regions(struct fz_case *c, struct gp_program *p,
			     struct gp_snapshot *snap)
{
	uint64_t allgs = p->layout.var_addr[GP_V_ALLGS];
	fz_add(c, "allgs-slice", allgs, 24);
	fz_add(c, "allgs", read_u64(p, allgs), 8 * snap->allgs_len);
	uint64_t gsize = type_size(p, GP_T_G, 400);
	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		fz_add(c, "g", g->address, gsize);
		if (g->sp && g->stack_hi > g->sp)
			fz_add(c, "stack", g->sp,
			       g->stack_hi - g->sp < 2048 ? g->stack_hi - g->sp : 2048);
		if (g->wait_address)
			fz_add(c, "wait-object", g->wait_address, 128);
		if (gp_has(p, GP_F_G_WAITING)) {
			uint64_t sg = read_u64(p, g->address + gp_off(p, GP_F_G_WAITING));
			if (sg)
				fz_add(c, "sudog", sg, type_size(p, GP_T_SUDOG, 96));
		}
	}
	for (size_t i = 0; i < snap->nwait_info; i++)
		if (snap->wait_obj[i])
			fz_add(c, "wait-object", snap->wait_obj[i], 128);
	for (size_t i = 0; i < snap->nms; i++)
		fz_add(c, "m", snap->ms[i].address, type_size(p, GP_T_M, 1024));
	for (size_t v = 0; v < GP_NUM_VARS; v++) {
		uint64_t a = p->layout.var_addr[v], n = p->layout.var_size[v];
		if (!a || v == GP_V_MHEAP_)
			continue;
		fz_add(c, "runtime-var", a, n && n < 4096 ? n : 64);
	}
}
#else
static void heap_regions(struct fz_case *c, struct gp_program *p)
{
	struct gp_heap *h;
	gp_error *err = gp_heap_open(p, &h);
	if (err)
		fz_die(H, "%s: no heap: %s", c->core, gp_error_message(err));
	uint64_t mheap = p->layout.var_addr[GP_V_MHEAP_];
	fz_add(c, "mheap", mheap, type_size(p, GP_T_MHEAP, 4096) < 65536 ?
				      type_size(p, GP_T_MHEAP, 4096) : 65536);
	if (gp_has(p, GP_F_MHEAP_ALLSPANS)) {
		uint64_t as = mheap + gp_off(p, GP_F_MHEAP_ALLSPANS);
		fz_add(c, "allspans-slice", as, 24);
		fz_add(c, "allspans", read_u64(p, as), 8 * read_u64(p, as + 8));
	}
	uint64_t mspan = type_size(p, GP_T_MSPAN, 160);
	size_t nheaders = 0;
	for (size_t i = 0; i < h->nspans; i++) {
		const struct gp_span *s = &h->spans[i];
		fz_add(c, "mspan", s->mspan, mspan);
		if (s->allocbits)
			fz_add(c, "allocbits", s->allocbits, (s->nelems + 7) / 8);
		if (s->bits)
			fz_add(c, "heapbits", s->bits,
			       s->end > s->bits && s->end - s->bits < 4096 ?
				       s->end - s->bits : 64);
		if (s->specials)
			fz_add(c, "special", s->specials, 64);
		if ((s->flags & GP_SPAN_HEADERS) && !(s->flags & GP_SPAN_NOSCAN))
			for (uint32_t k = 0; k < s->nelems && nheaders < 20000; k++)
				if (gp_heap_allocated(h, s->first + k)) {
					fz_add(c, "malloc-header",
					       s->base + k * s->elemsize, 8);
					nheaders++;
				}
		if (s->large_type)
			fz_add(c, "object", s->base, s->elemsize < 4096 ? s->elemsize : 4096);
	}
	/* pointer maps before 1.22: the arena's bitmap */
	uint64_t hasize = type_size(p, GP_T_HEAPARENA, 4096);
	for (size_t i = 0; i < h->narenas; i++)
		if (h->arenas[i].ha)
			fz_add(c, "arena", h->arenas[i].ha, hasize);
	/* a few objects' own words: what the mark reads as pointers */
	for (size_t i = 0; i < h->nspans; i += 7) {
		const struct gp_span *s = &h->spans[i];
		if (!(s->flags & GP_SPAN_NOSCAN) && s->nelems)
			fz_add(c, "object", s->base,
			       s->elemsize < 512 ? s->elemsize : 512);
	}
	gp_heap_destroy(h);
}
#endif

static void setup(struct fz_case *c)
{
	struct target_state *s = calloc(1, sizeof(*s));
	gp_error *err = gp_program_from_core(c->core, c->exe, &s->prog);
	if (err)
		fz_die(H, "%s: %s", c->core, gp_error_message(err));
	c->state = s;
#ifdef FZ_HEAP
	heap_regions(c, s->prog);
#else
	struct gp_snapshot *snap;
	if ((err = gp_snapshot_take(s->prog, &snap)))
		fz_die(H, "%s: %s", c->core, gp_error_message(err));
	snapshot_regions(c, s->prog, snap);
	gp_snapshot_destroy(snap);
#endif
}

FZ_HARNESS(H, 1, setup, read_orig)

#ifndef FZ_HEAP
static int json_sink(void *arg, const char *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

static void analyses(struct gp_snapshot *snap)
{
	for (int by = GP_BY_SITE; by <= GP_BY_AGE; by++) {
		gp_grouping *g;
		gp_error *err = gp_snapshot_group(snap, by, NULL, &g);
		if (err)
			gp_error_destroy(err);
		else
			gp_grouping_destroy(g);
	}
	size_t n;
	const struct gp_chan *chans;
	const struct gp_sync *syncs;
	struct gp_deadlocks dl;
	gp_error_destroy(gp_snapshot_chans(snap, &n, &chans));
	gp_error_destroy(gp_snapshot_syncs(snap, &n, &syncs));
	gp_error_destroy(gp_snapshot_deadlocks(snap, &dl));
	static const char *const flags[32];
	struct gp_json_names names = { .flag = flags };
	gp_error_destroy(gp_snapshot_write_goroutines_json(snap, &names,
							   json_sink, NULL));
}
#else
static void analyses(struct gp_snapshot *snap)
{
	struct gp_heap_summary sum;
	const struct gp_heap_object *objs;
	size_t n;
	gp_error_destroy(gp_snapshot_heap(snap, &sum));
	if (!gp_failed(gp_snapshot_heap_objects(snap, &objs, &n)))
		for (size_t i = 0; i < n; i += 1 + n / 16) {
			uint64_t offs[64];
			size_t k;
			gp_error_destroy(gp_snapshot_heap_pointers(
				snap, objs[i].address, offs, 64, &k));
		}
	struct gp_verdicts v;
	gp_error_destroy(gp_snapshot_verdicts(snap, &v));
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_patch p[FZ_MAX_PATCHES];
	struct fz_case *c = fz_parse(data, size, p, &cur_n);
	cur_p = p;
	gp_program *prog;
	gp_error *err = gp_program_from_callback(c->exe, read_cb, c, &prog);
	if (err) {
		gp_error_destroy(err);
		return 0;
	}
	gp_snapshot *snap;
	if (!(err = gp_snapshot_take(prog, &snap))) {
		analyses(snap);
		gp_snapshot_destroy(snap);
	}
	gp_error_destroy(err);
	gp_program_destroy(prog);
	cur_n = 0;
	return 0;
}
