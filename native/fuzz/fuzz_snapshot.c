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
 * pointers, arenas, specials), the g structs (their stack bounds and
 * scheduling words: what the mark's stack scan reads) and a few objects,
 * and it runs the heap model, the mark and the verdict (runtime/heap.c,
 * heapbits.c, roots.c, mark.c, analysis/verdict.c) instead of the other
 * analyses.
 *
 * Speed: the program (the executable, its layout and pclntab, the core
 * serving the callback) is opened once per fixture, at start-up, and an
 * input is only its patches. And a case is a fixture and a window of
 * WINDOW (8) consecutive goroutines of its allgs: the callback
 * serves runtime.allgs as that slice of the array (its pointer, length
 * and capacity patched before the input's patches), so that a run walks,
 * unwinds and analyses eight goroutines, not the fixture's eighty; every
 * goroutine is in some window. The regions of a case are those of its
 * window. The callback target keeps no target bytes between snapshots
 * (no copies: every read goes to the callback), so an input sees nothing
 * of the one before; GP_FUZZ_TWICE=1 runs each input twice and aborts
 * when the two runs' digests (errors, JSON, verdicts) differ.
 *
 * The lock evidence (analysis/locks.c: the code of every function on a
 * holder's stack decoded, with its callees) costs more than the rest of
 * a run together; it runs on the "full" inputs (fz_full: a quarter of the
 * case byte's values, a seed each). The others run on the program as if
 * its architecture had no instruction decoder (locks.c's own "no
 * decoder" path): the executable's arch is swapped for a copy without
 * one for the run.
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

#define WINDOW 8

/* A fixture: its core, and the callback program over it (kept). */
struct fixture {
	struct gp_program *prog;  /* the core, read to serve the callback */
	gp_program *cb;
	const struct gp_arch *arch;   /* cb's, with its decoder */
	struct gp_arch nodecode;      /* the same without */
	uint64_t allgs;           /* &runtime.allgs */
	uint64_t array, len;      /* its array and length in the core */
};

/* A case: a fixture and a window of its goroutines. */
struct target_state {
	struct fixture *fx;
	uint8_t hdr[24];          /* allgs as served: the window */
	struct fz_patch base[1];
};

/* The case and the patches of the input being run, for the callback. */
static const struct target_state *cur_case;
static const struct fz_patch *cur_p;
static size_t cur_n;

static int read_fx(const struct fixture *fx, uint64_t addr, void *buf,
		   size_t n)
{
	gp_error *err = gp_memory_read(&fx->prog->mem, addr, buf, n);
	gp_error_destroy(err);
	return err ? -1 : 0;
}

/* The core's bytes as the case serves them (its window), for the seeds. */
static int read_orig(struct fz_case *c, uint64_t addr, void *buf, size_t n)
{
	struct target_state *s = c->state;
	if (read_fx(s->fx, addr, buf, n))
		return -1;
	fz_apply(s->base, 1, addr, buf, n);
	return 0;
}

static int read_cb(void *arg, uint64_t addr, void *buf, size_t n)
{
	const struct fixture *fx = arg;
	if (read_fx(fx, addr, buf, n))
		return EFAULT;
	if (cur_case && cur_case->fx == fx) {
		fz_apply(cur_case->base, 1, addr, buf, n);
		fz_apply(cur_p, cur_n, addr, buf, n);
	}
	return 0;
}

static uint64_t type_size(const struct gp_program *p, enum gp_type_id t,
			  uint64_t dflt)
{
	int64_t s = p->layout.type_size[t];
	return s > 0 ? (uint64_t)s : dflt;
}

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
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
	const struct target_state *s = c->state;
	fz_add(c, "allgs-slice", s->fx->allgs, 24);
	fz_add(c, "allgs", gp_load(s->hdr, 8), 8 * snap->allgs_len);
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
static void heap_regions(struct fz_case *c, struct gp_program *p,
			 struct gp_snapshot *snap)
{
	/* the window's gs: their stack bounds, sched and status are what
	 * the mark's stack scan goes by */
	for (size_t i = 0; i < snap->ngs; i++)
		fz_add(c, "g", snap->gs[i].address, type_size(p, GP_T_G, 400));
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

/* The regions of case c: a snapshot of its window, no patches. */
static void setup(struct fz_case *c)
{
	struct target_state *s = c->state;
	struct gp_snapshot *snap;
	cur_case = s;
	gp_error *err = gp_snapshot_take(s->fx->cb, &snap);
	if (err)
		fz_die(H, "%s: %s", c->core, gp_error_message(err));
#ifdef FZ_HEAP
	heap_regions(c, s->fx->prog, snap);
#else
	snapshot_regions(c, s->fx->prog, snap);
#endif
	gp_snapshot_destroy(snap);
	cur_case = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_load_cases(H, 1);
	static struct fz_case *fixtures; /* kept: the cases' names */
	fixtures = fz_cases;
	size_t nfixtures = fz_ncases;
	fz_cases = NULL;
	fz_ncases = 0;
	for (size_t i = 0; i < nfixtures; i++) {
		struct fz_case *f = &fixtures[i];
		struct fixture *fx = calloc(1, sizeof(*fx));
		gp_error *err;
		if (!fx)
			fz_die(H, "out of memory");
		if ((err = gp_program_from_core(f->core, f->exe, &fx->prog)))
			fz_die(H, "%s: %s", f->core, gp_error_message(err));
		fx->allgs = fx->prog->layout.var_addr[GP_V_ALLGS];
		fx->array = read_u64(fx->prog, fx->allgs);
		fx->len = read_u64(fx->prog, fx->allgs + 8);
		if (!fx->len || fx->len > 4096)
			fz_die(H, "%s: %llu goroutines", f->core,
			       (unsigned long long)fx->len);
		/* the program every input runs on (no patches while it
		 * opens: cur_case is NULL) */
		if ((err = gp_program_from_callback(f->exe, read_cb, fx, &fx->cb)))
			fz_die(H, "%s: %s", f->exe, gp_error_message(err));
		fx->arch = fx->cb->exe.arch;
		fx->nodecode = *fx->arch;
		fx->nodecode.decode = NULL;
		for (uint64_t w0 = 0; w0 < fx->len; w0 += WINDOW) {
			uint64_t k = fx->len - w0 < WINDOW ? fx->len - w0 : WINDOW;
			struct target_state *s = calloc(1, sizeof(*s));
			fz_cases = realloc(fz_cases, (fz_ncases + 1) * sizeof(*fz_cases));
			if (!s || !fz_cases)
				fz_die(H, "out of memory");
			s->fx = fx;
			put_le(s->hdr, fx->array + 8 * w0);
			put_le(s->hdr + 8, k);
			put_le(s->hdr + 16, k);
			s->base[0] = (struct fz_patch){ fx->allgs, s->hdr, 24 };
			struct fz_case *c = &fz_cases[fz_ncases++];
			memset(c, 0, sizeof(*c));
			c->exe = f->exe;
			c->core = f->core;
			c->state = s;
			setup(c);
		}
	}
	if (fz_ncases > 256)
		fz_die(H, "%zu cases: more than an input's first byte names",
		       fz_ncases);
	/* one seed per kind and window: each costs a run in CI's 60 s */
	fz_seeds_per_kind = 1;
	fz_staged = 1;
	fz_ready(H, read_orig);
	return 0;
}




#ifndef FZ_HEAP
static int json_sink(void *arg, const char *buf, size_t len)
{
	uint64_t *h = arg;
	*h = fz_mix(*h, buf, len);
	return 0;
}

static uint64_t analyses(struct gp_snapshot *snap, uint64_t h)
{
	for (int by = GP_BY_SITE; by <= GP_BY_AGE; by++) {
		gp_grouping *g;
		gp_error *err = gp_snapshot_group(snap, by, NULL, &g);
		h = fz_mix_err(h, err);
		if (!err)
			gp_grouping_destroy(g);
	}
	size_t n = 0;
	const struct gp_chan *chans;
	const struct gp_sync *syncs;
	struct gp_deadlocks dl;
	h = fz_mix_err(h, gp_snapshot_chans(snap, &n, &chans));
	h = fz_mix(h, &n, sizeof(n));
	n = 0;
	h = fz_mix_err(h, gp_snapshot_syncs(snap, &n, &syncs));
	h = fz_mix(h, &n, sizeof(n));
	h = fz_mix_err(h, gp_snapshot_deadlocks(snap, &dl));
	static const char *const flags[32];
	struct gp_json_names names = { .flag = flags };
	return fz_mix_err(h, gp_snapshot_write_goroutines_json(snap, &names,
							    json_sink, &h));
}
#else
static uint64_t analyses(struct gp_snapshot *snap, uint64_t h)
{
	struct gp_heap_summary sum;
	const struct gp_heap_object *objs;
	size_t n = 0;
	gp_error *err = gp_snapshot_heap(snap, &sum);
	if (!err)
		h = fz_mix(h, &sum, sizeof(sum));
	h = fz_mix_err(h, err);
	if (!(err = gp_snapshot_heap_objects(snap, &objs, &n)))
		for (size_t i = 0; i < n; i += 1 + n / 16) {
			uint64_t offs[64];
			size_t k = 0;
			h = fz_mix_err(h, gp_snapshot_heap_pointers(
				snap, objs[i].address, offs, 64, &k));
			h = fz_mix(h, offs, (k < 64 ? k : 64) * sizeof(*offs));
		}
	h = fz_mix_err(h, err);
	struct gp_verdicts v;
	if (!(err = gp_snapshot_verdicts(snap, &v))) {
		h = fz_mix(h, v.counts, sizeof(v.counts));
		for (size_t i = 0; i < v.ngoroutines; i++)
			h = fz_mix(h, &v.goroutines[i].verdict,
				sizeof(v.goroutines[i].verdict));
	}
	return fz_mix_err(h, err);
}
#endif

static uint64_t run(struct fz_case *c, bool full)
{
	gp_snapshot *snap;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	const struct target_state *s = c->state;
	cur_case = s;
	s->fx->cb->exe.arch = full ? s->fx->arch : &s->fx->nodecode;
	gp_error *err = gp_snapshot_take(s->fx->cb, &snap);
	if (!err) {
		h = analyses(snap, h);
		gp_snapshot_destroy(snap);
	}
	return fz_mix_err(h, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_patch p[FZ_MAX_PATCHES];
	struct fz_case *c = fz_parse(data, size, p, &cur_n);
	cur_p = p;
	bool full = fz_full(data, size);
	uint64_t h = run(c, full);
	if (fz_twice() && run(c, full) != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
	cur_case = NULL;
	cur_n = 0;
	return 0;
}
