/*
 * fuzz_pclntab: the pclntab and what hangs off it (binary/pclntab.c: the
 * header and version, the function table, names, files, the pc-value
 * tables, funcdata and inline trees; stripped.c's scans of the runtime's
 * code; the layout tables), over a fixture executable opened once, whose
 * private mapping the input patches in place (fuzz.h) and which is put
 * back after each run. Much faster than fuzz_exe, which opens the file
 * each time.
 *
 * A run looks up a few pcs, not every one the set-up chose: eight spread
 * over the text, those of the functions whose records, funcdata or code
 * the input patched, and one per other patch (by its offset). The scan
 * of the runtime's code for a stripped binary's variables (the costliest
 * part: every function's name sorted, code decoded) runs on the "full"
 * inputs (fz_full: a quarter of the case byte's values) and on those that
 * patch the runtime's code or the moduledata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_pclntab"

struct pcln_state {
	struct gp_exe exe;
	uint8_t *orig;            /* the mapping's bytes as opened */
	uint8_t *map;             /* the mapping (written to) */
	struct gp_layout layout;  /* from the tables, before stripped.c */
	uint64_t pcs[512];        /* pcs to look up, in many functions */
	size_t npcs;
	/* file ranges read for the function at pc (record, funcdata,
	 * code): a patch there looks that pc up */
	struct hot {
		uint64_t off, size, pc;
	} *hot;
	size_t nhot, hotcap;
};

#define RUN_PCS 32

static void add_hot(struct pcln_state *s, uint64_t off, uint64_t size,
		    uint64_t pc)
{
	if (s->nhot == s->hotcap) {
		s->hotcap = s->hotcap ? 2 * s->hotcap : 64;
		s->hot = realloc(s->hot, s->hotcap * sizeof(*s->hot));
		if (!s->hot)
			fz_die(H, "out of memory");
	}
	s->hot[s->nhot++] = (struct hot){ off, size, pc };
}

static int read_orig(struct fz_case *c, uint64_t off, void *buf, size_t n)
{
	struct pcln_state *s = c->state;
	if (off > s->exe.size || n > s->exe.size - off)
		return -1;
	memcpy(buf, s->orig + off, n);
	return 0;
}

/* The file offset of target address addr in the executable, or -1. */
static int64_t file_off(const struct gp_exe *exe, uint64_t addr)
{
	for (size_t i = 0; i < exe->nloads; i++) {
		const struct gp_segment *s = &exe->loads[i];
		if (addr >= s->start && addr - s->start < s->avail)
			return (int64_t)(s->data - exe->map) +
			       (int64_t)(addr - s->start);
	}
	return -1;
}

static void add_addr(struct fz_case *c, const char *kind, uint64_t addr,
		     uint64_t size, uint64_t pc)
{
	struct pcln_state *s = c->state;
	int64_t off = file_off(&s->exe, addr);
	if (off < 0)
		return;
	if ((uint64_t)off + size > s->exe.size)
		size = s->exe.size - (uint64_t)off;
	fz_add(c, kind, (uint64_t)off, size);
	if (pc && size)
		add_hot(s, (uint64_t)off, size, pc);
}

static void setup(struct fz_case *c)
{
	fz_staged = 1;
	struct pcln_state *s = calloc(1, sizeof(*s));
	gp_error *err = gp_exe_open(c->exe, &s->exe);
	if (err)
		fz_die(H, "%s: %s", c->exe, gp_error_message(err));
	c->state = s;
	s->map = (uint8_t *)s->exe.map;
	s->orig = malloc(s->exe.size);
	memcpy(s->orig, s->exe.map, s->exe.size);
	if ((err = gp_layout_from_table(&s->exe, &s->layout)))
		gp_error_destroy(err); /* newer than the tables: none */
	struct gp_pclntab *tab;
	if ((err = gp_pclntab_open(&s->exe, NULL, NULL, &tab)))
		fz_die(H, "%s: %s", c->exe, gp_error_message(err));
	const struct gp_section *sec = gp_exe_section(&s->exe, ".gopclntab");
	if (sec && sec->data) {
		uint64_t off = (uint64_t)(sec->data - s->exe.map);
		fz_add(c, "pclntab-header", off, 128);
		fz_add(c, "pclntab", off, sec->size);
	}
	uint64_t md = gp_pclntab_moduledata(tab), gofunc = gp_pclntab_gofunc(tab);
	if (md)
		add_addr(c, "moduledata", md, 1024, 0);
	/* pcs across the text, their functions' records and funcdata */
	uint32_t nf = gp_pclntab_num_funcs(tab);
	uint64_t text = gp_pclntab_text_start(tab);
	struct gp_func fn;
	static const char *const named[] = {
		"runtime.allgadd", "runtime.schedinit", "runtime.main",
		"runtime.mallocinit", "runtime.mcommoninit", "runtime.preemptall",
		"runtime.queuefinalizer", "runtime.gcMarkTermination",
		"runtime.(*mheap).init", "runtime.persistentalloc",
		"runtime.waitReason.String", "runtime.runCleanups",
		"runtime.(*cleanupQueue).dequeue", "runtime.gopark",
		"runtime.chanrecv", "runtime.selectgo", "sync.(*Mutex).Lock",
		"main.main",
	};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (gp_pclntab_func_by_name(tab, named[i], &fn)) {
			add_addr(c, "runtime-code", fn.entry,
				 fn.end - fn.entry < 4096 ? fn.end - fn.entry : 4096,
				 fn.entry + 8);
			if (s->npcs < 512)
				s->pcs[s->npcs++] = fn.entry + 8;
		}
	for (uint64_t pc = text; s->npcs < 512 && nf; pc += 4099) {
		if (!gp_pclntab_find_func(tab, pc, &fn))
			break;
		s->pcs[s->npcs++] = pc;
		if (s->npcs % 4 == 0) {
			uint64_t a;
			size_t avail;
			for (uint32_t k = 0; k < 5; k++)
				if (gp_pclntab_funcdata(tab, &fn, k, &a, &avail))
					add_addr(c, "funcdata", a, avail < 512 ? avail : 512, pc);
			if (sec && sec->data) {
				uint64_t off = (uint64_t)(sec->data - s->exe.map) + fn.funcoff;
				fz_add(c, "func", off, 64);
				add_hot(s, off, 64, pc);
			}
		}
	}
	if (gofunc)
		add_addr(c, "gofunc", gofunc, 1 << 16, 0);
	gp_pclntab_destroy(tab);
}

FZ_HARNESS(H, 0, setup, read_orig)


/* One run; the digest of what it gave (GP_FUZZ_TWICE). */
static uint64_t run(struct pcln_state *s, int stripped, const struct fz_patch *p,
		    size_t np)
{
	struct gp_pclntab *tab;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	gp_error *err = gp_pclntab_open(&s->exe, NULL, NULL, &tab);
	if (err) {
		h = fz_mix_str(h, gp_error_message(err));
		gp_error_destroy(err);
		return h;
	}
	(void)gp_pclntab_gover(tab);
	(void)gp_pclntab_arch(tab);
	uint64_t pcs[RUN_PCS];
	size_t npcs = 0;
	for (size_t i = 0; i < 8 && i < s->npcs; i++)
		pcs[npcs++] = s->pcs[i * s->npcs / 8];
	for (size_t k = 0; k < np && npcs < RUN_PCS; k++) {
		bool hot = false;
		for (size_t j = 0; j < s->nhot && npcs < RUN_PCS; j++)
			if (p[k].addr < s->hot[j].off + s->hot[j].size &&
			    s->hot[j].off < p[k].addr + p[k].len) {
				pcs[npcs++] = s->hot[j].pc;
				hot = true;
			}
		if (!hot && s->npcs && npcs < RUN_PCS)
			pcs[npcs++] = s->pcs[(p[k].addr * UINT64_C(2654435761) >> 7) % s->npcs];
	}
	for (size_t i = 0; i < npcs; i++) {
		struct gp_func fn;
		uint64_t pc = pcs[i];
		if (!gp_pclntab_find_func(tab, pc, &fn))
			continue;
		h = fz_mix(h, &fn.entry, sizeof(fn.entry));
		struct gp_symframe fr[32];
		size_t nfr = gp_pclntab_symbolize(tab, pc, pc - 1, fr, 32);
		for (size_t k = 0; k < nfr; k++) {
			h = fz_mix_str(fz_mix_str(h, fr[k].func), fr[k].file);
			h = fz_mix(h, &fr[k].line, sizeof(fr[k].line));
		}
		int32_t d = 0;
		gp_error_destroy(gp_pclntab_sp_delta(tab, &fn, pc, &d));
		h = fz_mix(h, &d, sizeof(d));
		(void)gp_pclntab_has_frame_info(tab, &fn);
		d = gp_pclntab_pcdata(tab, &fn, GP_PCDATA_STACKMAPINDEX, pc);
		h = fz_mix(h, &d, sizeof(d));
		uint64_t a;
		size_t avail;
		for (uint32_t k = 0; k < 5; k++)
			if (gp_pclntab_funcdata(tab, &fn, k, &a, &avail))
				h = fz_mix(fz_mix(h, &a, sizeof(a)), &avail, sizeof(avail));
		d = gp_pclntab_func_args(tab, &fn);
		h = fz_mix(h, &d, sizeof(d));
		const char *file = NULL;
		uint32_t line = 0;
		if (gp_pclntab_pcline(tab, pc, &file, &line))
			h = fz_mix(fz_mix_str(h, file), &line, sizeof(line));
		char buf[256];
		if (fn.name)
			h = fz_mix_str(h, gp_func_print_name(fn.name, buf, sizeof(buf)));
	}
	/* the variables of a stripped binary, from the runtime's code */
	if (stripped) {
		struct gp_layout layout = s->layout;
		memset(layout.var_addr, 0, sizeof(layout.var_addr));
		gp_error_destroy(gp_stripped_find_vars(&s->exe, tab, &layout));
		h = fz_mix(h, layout.var_addr, sizeof(layout.var_addr));
	}
	gp_pclntab_destroy(tab);
	return h;
}

static void put(struct fz_case *c, uint64_t off, const uint8_t *b, size_t n)
{
	memcpy(((struct pcln_state *)c->state)->map + off, b, n);
}

static const uint8_t *orig(struct fz_case *c)
{
	return ((struct pcln_state *)c->state)->orig;
}

static void run_case(struct fz_case *c, const uint8_t *data, size_t size,
		     const struct fz_patch *p, size_t n)
{
	int stripped = fz_full(data, size) || fz_touches(c, "runtime-code", p, n) ||
		       fz_touches(c, "moduledata", p, n);
	uint64_t h = run(c->state, stripped, p, n);
	if (fz_twice() && run(c->state, stripped, p, n) != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_file_run(data, size, put, orig, run_case);
	return 0;
}
