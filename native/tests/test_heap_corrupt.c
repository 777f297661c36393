/*
 * Corrupt heap metadata gives a per-object error or "unknown", never a
 * crash and never a wrong "leaked (proven)" (issue 12).
 *
 * For one fixture core of each allocator generation (1.19's 2-bit arena
 * bitmap, 1.20-1.21's 1-bit bitmap, 1.22+'s span heap bits and malloc
 * headers), the verdict is taken once as the core is, then again over a
 * callback target (target/callback.c) that serves the same core with one
 * corruption applied to the spans holding the wait objects of goroutines:
 * a field of the mspan (nelems, elemsize, startAddr, npages, allocBits,
 * freeindex, spanclass, state, largeType), its alloc bits, its pointer
 * bits (span-inline or the arena's bitmap), the type pointers of its
 * malloc headers. And the g structs of two goroutines: stack.hi far past
 * any stack and sched.pc garbage (the unwinder fails, and the mark used
 * to scan the "rest of the stack" word by word: for ever).
 *
 * Every run must end (ASan and UBSan watch it under make
 * check-native-asan) with an error or with verdicts in which
 *  - no goroutine is "leaked (proven)" that was not so in the core as it
 *    is, except where the corruption is a plausible heap (pointer bits
 *    cleared: the runtime's own detector would read the same), and
 *  - any other verdict that changed is "unknown", or the heap model says
 *    what it could not trust (corrupt spans, problems noted), except
 *    for a plausible heap (pointer bits all clear or all set).
 *
 * Then the allocations sized by a word of the target (bounds_*): over
 * the same target with its mappings known, a span of 8 GiB with the
 * arenas unknown, types bigger than their objects and a GC program past
 * the target's memory, a bss segment of 4 GiB; each must be dropped or
 * noted without a buffer of that size (the fixes of 40767ae, 04913c9,
 * ea038b1; without any of them this test fails).
 *
 * Cases: $GP_PCLNTAB_CASES ("exe core dump" lines, make check-native), the
 * first non-PIE "all" core of each generation. None: SKIP (exit 0, or 1
 * with GP_REQUIRE_CORES set).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

static int checks, failures;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		checks++;                                                  \
		if (!(cond)) {                                             \
			failures++;                                        \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);        \
			printf(__VA_ARGS__);                               \
			printf("\n");                                      \
		}                                                          \
	} while (0)

/* The corruption being served: bytes at addr. */
#define MAX_PATCH (1 << 16)
static struct patch {
	uint64_t addr;
	size_t len;
	uint8_t bytes[MAX_PATCH];
} cur[64];
static size_t ncur;

static struct gp_program *core_prog;

static int read_cb(void *arg, uint64_t addr, void *buf, size_t n)
{
	(void)arg;
	gp_error *err = gp_memory_read(&core_prog->mem, addr, buf, n);
	if (err) {
		gp_error_destroy(err);
		return EFAULT;
	}
	for (size_t i = 0; i < ncur; i++) {
		const struct patch *p = &cur[i];
		uint64_t lo = p->addr > addr ? p->addr : addr;
		uint64_t hi = p->addr + p->len < addr + n ? p->addr + p->len : addr + n;
		if (lo < hi)
			memcpy((uint8_t *)buf + (lo - addr), p->bytes + (lo - p->addr),
			       (size_t)(hi - lo));
	}
	return 0;
}

static void add_patch(uint64_t addr, const void *bytes, size_t len)
{
	if (ncur == 64 || len > MAX_PATCH)
		return;
	cur[ncur].addr = addr;
	cur[ncur].len = len;
	memcpy(cur[ncur].bytes, bytes, len);
	ncur++;
}

static void add_fill(uint64_t addr, int byte, size_t len)
{
	static uint8_t buf[MAX_PATCH];
	if (len > MAX_PATCH)
		len = MAX_PATCH;
	memset(buf, byte, len);
	add_patch(addr, buf, len);
}

/* A field of the mspan at ms set to v (in the field's own size). */
static bool set_field(const struct gp_program *p, uint64_t ms,
		      enum gp_field_id f, uint64_t v)
{
	if (!gp_has(p, f))
		return false;
	int32_t size = p->layout.field_size[f];
	if (size <= 0 || size > 8)
		return false;
	add_patch(ms + (uint64_t)gp_off(p, f), &v, (size_t)size);
	return true;
}

struct baseline {
	uint64_t *goid;
	uint32_t *verdict;
	size_t n;
};

static uint32_t base_verdict(const struct baseline *b, uint64_t goid)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->goid[i] == goid)
			return b->verdict[i];
	return GP_NUM_VERDICTS;
}

static const char *const vname[] = { "live", "leaked (proven)", "no waker",
				     "lingering", "blocked", "unknown", "?" };

/* One run over the corrupted target. plausible: the corruption is a heap
 * the runtime could have (no new proven leak is demanded then). */
static void run(const char *exe, const struct baseline *b, const char *what,
		bool plausible)
{
	gp_program *prog;
	gp_snapshot *snap = NULL;
	/* GP_ONLY=TEXT: only the corruptions whose name has TEXT */
	if (getenv("GP_ONLY") && !strstr(what, getenv("GP_ONLY")))
		return;
	gp_error *err = gp_program_from_callback(exe, read_cb, NULL, &prog);
	CHECK(!err, "%s: opening: %s", what, gp_error_message(err));
	if (err) {
		gp_error_destroy(err);
		return;
	}
	if ((err = gp_snapshot_take(prog, &snap))) {
		/* heap metadata is not what the walk reads */
		CHECK(0, "%s: snapshot: %s", what, gp_error_message(err));
		gp_error_destroy(err);
		gp_program_destroy(prog);
		return;
	}
	struct gp_verdicts v;
	struct gp_heap_summary sum = { 0 };
	err = gp_snapshot_verdicts(snap, &v);
	/* after the verdict: what the mark noted counts too */
	gp_error *herr = gp_snapshot_heap(snap, &sum);
	if (err) {
		/* a clean error is an answer: one line */
		const char *m = gp_error_message(err);
		CHECK(m && *m && !strchr(m, '\n'), "%s: verdict error without one line", what);
		gp_error_destroy(err);
	} else {
		bool detected = herr || sum.corrupt_spans || sum.problems ||
				!v.heap_model;
		size_t changed = 0, unknown = 0;
		for (size_t i = 0; i < v.ngoroutines; i++) {
			const struct gp_goroutine *g = (&snap->gs[i]);
			uint32_t was = base_verdict(b, g->goid);
			uint32_t now = v.goroutines[i].verdict;
			if (was == GP_NUM_VERDICTS || was == now)
				continue;
			changed++;
			if (now == GP_VERDICT_UNKNOWN) {
				unknown++;
				continue;
			}
			if (now == GP_VERDICT_LEAKED && !plausible)
				CHECK(0, "%s: goroutine %llu is leaked (proven), was %s",
				      what, (unsigned long long)g->goid,
				      vname[was < GP_NUM_VERDICTS ? was : 6]);
			else
				CHECK(detected || plausible,
				      "%s: goroutine %llu went from %s to %s (reason %u, object 0x%llx) and the heap model noted nothing",
				      what, (unsigned long long)g->goid,
				      vname[was < GP_NUM_VERDICTS ? was : 6],
				      vname[now < GP_NUM_VERDICTS ? now : 6],
				      v.goroutines[i].reason,
				      (unsigned long long)v.goroutines[i].object);
		}
		if (getenv("GP_VERBOSE"))
			printf("  %s: %zu changed (%zu unknown), %llu corrupt spans, %llu problems\n",
			       what, changed, unknown,
			       (unsigned long long)sum.corrupt_spans,
			       (unsigned long long)sum.problems);
	}
	gp_error_destroy(herr);
	gp_snapshot_destroy(snap);
	gp_program_destroy(prog);
}

/*
 * Allocations sized by a word of the target (the audit of session 5):
 * a corrupt word must not cost a buffer the target's memory does not
 * back. These run over the callback target with the core's mappings
 * known (as a live process's /proc/PID/maps), where gp_memory_covers can
 * tell what the target holds:
 *  - heap.c (40767ae, ad1910a): with mheap_.arenas unreadable (0), a
 *    span whose page count reaches past the target's memory is dropped;
 *  - heapbits.c (04913c9): a type bigger than the object naming it is
 *    corrupt, its mask never allocated; a pre-1.24 GC program's buffer
 *    only when the target holds its bytes;
 *  - roots.c (ea038b1): a globals' segment past the target's memory is
 *    noted and not scanned, its mask not allocated.
 * In a build without ASan the test's own malloc, calloc and realloc
 * (below) record the biggest request, which must stay small.
 */
#if !defined(__SANITIZE_ADDRESS__)
#define TRACK_ALLOC 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *ptr, size_t n);
static size_t biggest;
static int tracking;

static void track(size_t n)
{
	if (__atomic_load_n(&tracking, __ATOMIC_RELAXED) &&
	    n > __atomic_load_n(&biggest, __ATOMIC_RELAXED))
		__atomic_store_n(&biggest, n, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
	track(n);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	track(m && n > SIZE_MAX / m ? SIZE_MAX : n * m);
	return __libc_calloc(n, m);
}

void *realloc(void *ptr, size_t n)
{
	track(n);
	return __libc_realloc(ptr, n);
}
#endif

static void track_start(void)
{
#ifdef TRACK_ALLOC
	biggest = 0;
	tracking = 1;
#endif
}

/* The biggest allocation since track_start (0 when not tracked). */
static size_t track_end(void)
{
#ifdef TRACK_ALLOC
	tracking = 0;
	return biggest;
#else
	return 0;
#endif
}

/* What the core holds, merged: the callback target's mappings. */
static struct gp_segment held[4096];
static size_t nheld;

static int seg_cmp(const void *a, const void *b)
{
	const struct gp_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void find_held(const struct gp_program *core)
{
	nheld = 0;
	for (size_t i = 0; i < core->mem.nlayers; i++) {
		const struct gp_memory_layer *l = &core->mem.layers[i];
		for (size_t k = 0; k < l->nsegs && nheld < 4096; k++) {
			const struct gp_segment *s = &l->segs[k];
			uint64_t end = s->zero_fill ? s->end : s->start + s->avail;
			if (end > s->start)
				held[nheld++] = (struct gp_segment){ .start = s->start, .end = end };
		}
	}
	qsort(held, nheld, sizeof(held[0]), seg_cmp);
	size_t n = 0;
	for (size_t i = 0; i < nheld; i++) {
		if (n && held[i].start <= held[n - 1].end) {
			if (held[i].end > held[n - 1].end)
				held[n - 1].end = held[i].end;
		} else {
			held[n++] = held[i];
		}
	}
	nheld = n;
}

/* The end of the held range holding addr (0: none). */
static uint64_t held_end(uint64_t addr)
{
	for (size_t i = 0; i < nheld; i++)
		if (addr >= held[i].start && addr < held[i].end)
			return held[i].end;
	return 0;
}

/* The callback target over the core and the patches, its mappings known. */
static struct gp_program *open_mapped(const char *exe, const char *what)
{
	gp_program *prog;
	gp_error *err = gp_program_from_callback(exe, read_cb, NULL, &prog);
	CHECK(!err, "%s: opening: %s", what, gp_error_message(err));
	if (err) {
		gp_error_destroy(err);
		return NULL;
	}
	for (size_t i = 0; i < nheld; i++)
		if (gp_memory_layer_add(&prog->mem.mapped, &held[i])) {
			CHECK(0, "%s: out of memory", what);
			gp_program_destroy(prog);
			return NULL;
		}
	gp_memory_layer_sort(&prog->mem.mapped);
	return prog;
}

#define SMALL_ALLOC (16u << 20)

/* GP_ONLY=TEXT: only the corruptions whose name has TEXT */
static bool skipped(const char *what)
{
	return getenv("GP_ONLY") && !strstr(what, getenv("GP_ONLY"));
}

/* heap.c: a span of 8 GiB with the arenas unknown */
static void bounds_span(const char *exe, struct gp_program *p,
			const struct gp_span *s)
{
	const char *what = "span of 2^20 pages, mheap_.arenas[0] NULL";
	if (skipped(what))
		return;
	ncur = 0;
	uint64_t zero = 0;
	add_patch(p->layout.var_addr[GP_V_MHEAP_] + (uint64_t)gp_off(p, GP_F_MHEAP_ARENAS),
		  &zero, 8);
	if (!set_field(p, s->mspan, GP_F_MSPAN_NPAGES, UINT64_C(1) << 20))
		return;
	struct gp_program *prog = open_mapped(exe, what);
	if (!prog)
		return;
	struct gp_heap *h;
	track_start();
	gp_error *err = gp_heap_open(prog, &h);
	size_t big = track_end();
	CHECK(!err, "%s: heap: %s", what, gp_error_message(err));
	CHECK(big < SMALL_ALLOC, "%s: an allocation of %zu bytes", what, big);
	if (!err) {
		size_t bad = 0;
		for (size_t i = 0; i < h->nspans; i++)
			bad += !gp_memory_covers(&prog->mem, h->spans[i].base,
						 h->spans[i].end - h->spans[i].base);
		CHECK(!bad, "%s: %zu spans kept whose pages the target lacks", what, bad);
		CHECK(h->ndropped > 0, "%s: no span dropped", what);
		gp_heap_destroy(h);
	}
	gp_error_destroy(err);
	gp_program_destroy(prog);
	ncur = 0;
}

/* A type header at t: size, pointer bytes, kind, gcdata. */
static void fake_type(const struct gp_program *p, uint64_t t, uint64_t size,
		      uint64_t ptrbytes, uint8_t kind, uint64_t gcdata)
{
	bool old = gp_has(p, GP_F_TYPE_SIZE_OLD);
	uint8_t b[64] = { 0 };
	memcpy(b + gp_off(p, old ? GP_F_TYPE_SIZE_OLD : GP_F_TYPE_SIZE), &size, 8);
	memcpy(b + gp_off(p, old ? GP_F_TYPE_PTRDATA_OLD : GP_F_TYPE_PTRBYTES), &ptrbytes, 8);
	b[gp_off(p, old ? GP_F_TYPE_KIND_OLD : GP_F_TYPE_KIND)] = kind;
	memcpy(b + gp_off(p, old ? GP_F_TYPE_GCDATA_OLD : GP_F_TYPE_GCDATA), &gcdata, 8);
	add_patch(t, b, 48);
}

/* heapbits.c: types bigger than their object, a GC program past the
 * target's memory */
static void bounds_types(const char *exe, struct gp_program *p,
			 const struct gp_span *s, int gen)
{
	const char *what = "fake types";
	if (skipped(what))
		return;
	const struct gp_section *text = gp_exe_section(&p->exe, ".text");
	uint64_t t = s->base, end = held_end(t);
	CHECK(text && end > t + 256, "%s: no text, or the span 0x%llx not held", what,
	      (unsigned long long)t);
	if (!text || end <= t + 256)
		return;
	ncur = 0;
	/* a struct (kind 25) of 1 MiB whose mask (16 KiB of text) reads
	 * whole, and one of 1 TiB (a 256 MiB mask), in objects of 64 bytes */
	fake_type(p, t, 1u << 20, 1u << 20, 25, text->addr);
	fake_type(p, t + 64, UINT64_C(1) << 40, UINT64_C(1) << 34, 25, text->addr);
	/* before 1.24: a GC program of 32 MiB whose length is the last word
	 * the target holds there */
	uint32_t len = 32u << 20;
	if (gen != GP_HEAP_HEADERS || p->gover < GP_GOVER(1, 24)) {
		fake_type(p, t + 128, 4096, 4096, 25 | 0x40, end - 4);
		add_patch(end - 4, &len, 4);
	}
	struct gp_program *prog = open_mapped(exe, what);
	if (!prog)
		return;
	struct gp_heap *h;
	gp_error *err = gp_heap_open(prog, &h);
	CHECK(!err, "%s: heap: %s", what, gp_error_message(err));
	if (err) {
		gp_error_destroy(err);
		gp_program_destroy(prog);
		ncur = 0;
		return;
	}
	for (int k = 0; k < 3; k++) {
		if (k == 2 && p->gover >= GP_GOVER(1, 24))
			break;
		const struct gp_type_rec *rec = NULL;
		track_start();
		err = gp_heap_type(h, t + 64 * (uint64_t)k, k < 2 ? 64 : 1u << 20, &rec);
		size_t big = track_end();
		const char *m = gp_error_message(err);
		if (k < 2)
			CHECK(err && gp_error_code(err) == GP_ERROR_CORRUPT &&
			      strstr(m, "in an object of"),
			      "%s: type %d bigger than its object of 64 bytes: %s", what, k,
			      err ? m : "taken");
		else
			CHECK(err && err != &gp_error_nomem,
			      "%s: GC program past the target's memory: %s", what,
			      err ? m : "read");
		CHECK(big < SMALL_ALLOC, "%s: type %d: an allocation of %zu bytes", what, k, big);
		gp_error_destroy(err);
	}
	gp_heap_destroy(h);
	gp_program_destroy(prog);
	ncur = 0;
}

/* roots.c: bss claimed 4 GiB past its start, its mask 2^31 bits */
static void bounds_globals(const char *exe, struct gp_program *p)
{
	const char *what = "moduledata ebss = bss + 4 GiB";
	if (skipped(what))
		return;
	uint64_t md = p->layout.var_addr[GP_V_FIRSTMODULEDATA];
	uint64_t bss = 0;
	if (!md || !gp_has(p, GP_F_MODULEDATA_EBSS) ||
	    gp_failed(gp_memory_read_u64(&p->mem, md + (uint64_t)gp_off(p, GP_F_MODULEDATA_BSS), &bss)))
		return;
	ncur = 0;
	uint64_t ebss = bss + (UINT64_C(1) << 32), n = 0x7fffffff;
	add_patch(md + (uint64_t)gp_off(p, GP_F_MODULEDATA_EBSS), &ebss, 8);
	add_patch(md + (uint64_t)gp_off(p, GP_F_MODULEDATA_GCBSSMASK_N), &n,
		  (size_t)p->layout.field_size[GP_F_MODULEDATA_GCBSSMASK_N]);
	struct gp_program *prog = open_mapped(exe, what);
	if (!prog)
		return;
	gp_snapshot *snap = NULL;
	struct gp_verdicts v;
	gp_error *err = gp_snapshot_take(prog, &snap);
	track_start();
	if (!err)
		err = gp_snapshot_verdicts(snap, &v);
	size_t big = track_end();
	CHECK(!err, "%s: %s", what, gp_error_message(err));
	CHECK(big < 4 * SMALL_ALLOC, "%s: an allocation of %zu bytes", what, big);
	bool noted = false;
	uint64_t a;
	const char *note;
	for (uint32_t i = 0; !err && (note = gp_snapshot_heap_note(snap, i, &a)); i++)
		noted |= a == bss && !strcmp(note, "globals' segment unreadable");
	CHECK(err || noted, "%s: no note of the unreadable segment", what);
	gp_error_destroy(err);
	gp_snapshot_destroy(snap);
	gp_program_destroy(prog);
	ncur = 0;
}

/* The spans to corrupt: those holding the wait objects verdicts name. */
static size_t pick_spans(struct gp_heap *h, const struct gp_verdicts *v,
			 size_t *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < v->ngoroutines && n < max; i++) {
		uint64_t o = v->goroutines[i].object;
		const struct gp_span *s = o ? gp_heap_span_of(h, o) : NULL;
		if (!s)
			continue;
		size_t si = (size_t)(s - h->spans);
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= out[k] == si;
		if (!dup)
			out[n++] = si;
	}
	return n;
}

static void run_case(const char *exe, const char *core)
{
	gp_error *err = gp_program_from_core(core, exe, &core_prog);
	if (err) {
		CHECK(0, "%s: %s", core, gp_error_message(err));
		gp_error_destroy(err);
		return;
	}
	struct gp_program *p = core_prog;
	gp_snapshot *snap;
	struct gp_verdicts v;
	struct gp_heap *h;
	if ((err = gp_snapshot_take(p, &snap)) ||
	    (err = gp_snapshot_verdicts(snap, &v)) ||
	    (err = gp_heap_open(p, &h))) {
		CHECK(0, "%s: %s", core, gp_error_message(err));
		gp_error_destroy(err);
		return;
	}
	struct baseline b = { calloc(v.ngoroutines + 1, 8),
			      calloc(v.ngoroutines + 1, 4), v.ngoroutines };
	size_t nleaked = 0;
	for (size_t i = 0; i < v.ngoroutines; i++) {
		b.goid[i] = (&snap->gs[i])->goid;
		b.verdict[i] = v.goroutines[i].verdict;
		nleaked += b.verdict[i] == GP_VERDICT_LEAKED;
	}
	CHECK(nleaked > 0, "%s: the fixture's core has no proven leak to keep", core);
	struct gp_heap_summary sum;
	err = gp_snapshot_heap(snap, &sum);
	CHECK(!err && !sum.corrupt_spans && !h->ndropped,
	      "%s: the core as it is has %llu corrupt spans, %zu left out",
	      core, (unsigned long long)sum.corrupt_spans, h->ndropped);
	gp_error_destroy(err);
	size_t spans[4];
	size_t nspans = pick_spans(h, &v, spans, 4);
	CHECK(nspans > 0, "%s: no wait object in the heap", core);
	printf("%s: generation %d, %zu spans, %zu leaked (proven); corrupting %zu spans\n",
	       core, h->gen, h->nspans, nleaked, nspans);
	char what[256];
	/* two goroutines' stack bounds and pc (g structs are heap objects) */
	uint64_t gs[2], glo[2];
	size_t ngs = 0;
	for (size_t i = 0; i < snap->ngs && ngs < 2; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		if (!(g->flags & GP_G_SYSTEM) && g->sp > g->stack_lo &&
		    g->sp < g->stack_hi && g->status != GP_STATUS_RUNNING) {
			glo[ngs] = g->stack_lo;
			gs[ngs++] = g->address;
		}
	}
	gp_snapshot_destroy(snap);
	CHECK(ngs == 2, "%s: two goroutines to corrupt", core);
	const uint64_t his[] = { 0x7fffffff0000ull, 0 };
	for (size_t k = 0; k < ngs; k++)
		for (int w = 0; w < 2; w++) {
			/* or 512 MiB: a stack's size, but not the
			 * target's memory */
			uint64_t hi = his[w] ? his[w] : glo[k] + (1ull << 29);
			uint64_t pc = 0x10;
			ncur = 0;
			add_patch(gs[k] + (uint64_t)gp_off(p, GP_F_G_STACK_HI), &hi, 8);
			add_patch(gs[k] + (uint64_t)gp_off(p, GP_F_G_SCHED_PC), &pc, 8);
			snprintf(what, sizeof(what), "g 0x%llx stack.hi 0x%llx%s, sched.pc garbage",
				 (unsigned long long)gs[k], (unsigned long long)hi,
				 w ? " (stack.lo + 512 MiB)" : "");
			run(exe, &b, what, false);
		}
	for (size_t k = 0; k < nspans; k++) {
		const struct gp_span s = h->spans[spans[k]];
		struct {
			enum gp_field_id f;
			uint64_t v;
			const char *name;
		} fields[] = {
			{ GP_F_MSPAN_NELEMS, 0xffff, "nelems=0xffff" },
			{ GP_F_MSPAN_NELEMS, 0, "nelems=0" },
			{ GP_F_MSPAN_ELEMSIZE, 0, "elemsize=0" },
			{ GP_F_MSPAN_ELEMSIZE, 1ull << 40, "elemsize=2^40" },
			{ GP_F_MSPAN_ELEMSIZE, 24, "elemsize=24" },
			{ GP_F_MSPAN_STARTADDR, 0xdead0000000ull, "startAddr=garbage" },
			{ GP_F_MSPAN_STARTADDR, s.base + 8, "startAddr=+8" },
			{ GP_F_MSPAN_NPAGES, 1ull << 30, "npages=2^30" },
			{ GP_F_MSPAN_NPAGES, 0, "npages=0" },
			{ GP_F_MSPAN_LIMIT, s.base + 1, "limit=base+1" },
			{ GP_F_MSPAN_ALLOCBITS, 0, "allocBits=NULL" },
			{ GP_F_MSPAN_ALLOCBITS, 0xdeadbeef000ull, "allocBits=garbage" },
			{ GP_F_MSPAN_FREEINDEX, 0xffff, "freeindex=0xffff" },
			{ GP_F_MSPAN_SPANCLASS, 0xff, "spanclass=0xff" },
			{ GP_F_MSPAN_SPANCLASS, 1, "spanclass=1" },
			{ GP_F_MSPAN_STATE, 0x7f, "state=0x7f" },
			{ GP_F_MSPAN_LARGETYPE, 0xdeadbeef008ull, "largeType=garbage" },
			{ GP_F_MSPAN_LARGETYPE, s.base, "largeType=the object" },
		};
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			ncur = 0;
			if (!set_field(p, s.mspan, fields[i].f, fields[i].v))
				continue;
			snprintf(what, sizeof(what), "span 0x%llx %s",
				 (unsigned long long)s.base, fields[i].name);
			run(exe, &b, what, false);
		}
		/* alloc bits: nothing allocated past freeindex, or all */
		size_t nab = (s.nelems + 7) / 8;
		if (s.allocbits && nab) {
			for (int fill = 0; fill < 2; fill++) {
				ncur = 0;
				add_fill(s.allocbits, fill ? 0xff : 0, nab);
				snprintf(what, sizeof(what), "span 0x%llx alloc bits all %d",
					 (unsigned long long)s.base, fill);
				run(exe, &b, what, false);
			}
		}
		/* pointer bits: all set (more pointers: never fewer marks),
		 * all clear (a heap of pointer-free objects: plausible) */
		uint64_t bits = 0, nbits = 0;
		if (s.bits && s.end > s.bits) {
			bits = s.bits;
			nbits = s.end - s.bits;
		} else if (h->gen != GP_HEAP_HEADERS) {
			const struct gp_heap_arena *ar = gp_heap_arena_of(h, s.base);
			if (ar && ar->ha && gp_has(p, GP_F_HEAPARENA_BITMAP)) {
				/* 1.19: 2 bits a word, 1.20-1.21: 1 bit */
				uint64_t wpb = h->gen == GP_HEAP_BITMAP2 ? 4 : 8;
				bits = ar->ha + (uint64_t)gp_off(p, GP_F_HEAPARENA_BITMAP) +
				       (s.base - ar->base) / 8 / wpb;
				nbits = (s.end - s.base) / 8 / wpb;
			}
		}
		if (bits && nbits && !(s.flags & GP_SPAN_NOSCAN)) {
			for (int fill = 0; fill < 2; fill++) {
				ncur = 0;
				add_fill(bits, fill ? 0xff : 0, (size_t)nbits);
				snprintf(what, sizeof(what), "span 0x%llx pointer bits all %d",
					 (unsigned long long)s.base, fill);
				/* both plausible: cleared, the objects hold no
				 * pointers (the runtime would read the same);
				 * set, more words are followed, never fewer */
				run(exe, &b, what, true);
			}
		}
		/* malloc headers: every type pointer garbage, NULL, or the
		 * object itself (not a type) */
		if ((s.flags & GP_SPAN_HEADERS) && !(s.flags & GP_SPAN_NOSCAN)) {
			const uint64_t types[] = { 0xdeadbeef000ull, 0, s.base };
			const char *const names[] = { "garbage", "NULL", "a heap object" };
			for (int t = 0; t < 3; t++) {
				ncur = 0;
				for (uint32_t o = 0; o < s.nelems && ncur < 64; o++)
					if (gp_heap_allocated(h, s.first + o))
						add_patch(s.base + o * s.elemsize, &types[t], 8);
				snprintf(what, sizeof(what), "span 0x%llx malloc headers: %s",
					 (unsigned long long)s.base, names[t]);
				run(exe, &b, what, false);
			}
		}
	}
	find_held(p);
	bounds_span(exe, p, &h->spans[spans[0]]);
	bounds_types(exe, p, &h->spans[spans[0]], h->gen);
	bounds_globals(exe, p);
	ncur = 0;
	free(b.goid);
	free(b.verdict);
	gp_heap_destroy(h);
	gp_program_destroy(core_prog);
	core_prog = NULL;
}

int main(void)
{
	const char *list = getenv("GP_PCLNTAB_CASES");
	FILE *f = list ? fopen(list, "r") : NULL;
	char exe[1024], core[1024], dump[1024];
	int ncases = 0, seen[4] = { 0 };
	while (f && fscanf(f, "%1023s %1023s %1023s", exe, core, dump) == 3) {
		if (!strstr(core, "/all-n") || strstr(core, "pie-") ||
		    strstr(core, "/stripped/"))
			continue;
		/* one core of each generation (which the heap tells) */
		struct gp_program *p;
		struct gp_heap *h;
		gp_error *err = gp_program_from_core(core, exe, &p);
		if (err) {
			gp_error_destroy(err);
			continue;
		}
		int gen = 0;
		if (!(err = gp_heap_open(p, &h))) {
			gen = h->gen;
			gp_heap_destroy(h);
		}
		gp_error_destroy(err);
		gp_program_destroy(p);
		if (gen <= 0 || gen > 3 || seen[gen]++)
			continue;
		run_case(exe, core);
		ncases++;
	}
	if (f)
		fclose(f);
	if (!ncases) {
		printf("SKIP test_heap_corrupt: no cores (corefiles/generate.py makes them)\n");
		return getenv("GP_REQUIRE_CORES") ? 1 : 0;
	}
	printf("%s: %d cases, %d checks, %d failures\n",
	       failures ? "FAIL" : "PASS", ncases, checks, failures);
	return failures ? 1 : 0;
}
