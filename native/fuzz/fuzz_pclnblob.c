/*
 * fuzz_pclnblob: binary/pclntab.c over raw bytes, no fixture per input:
 * the pcHeader and version checks, the function table and its lookup
 * accelerator, the _func records, pc-value tables (sp delta, file, line,
 * pcdata), funcdata, inline trees (symbolize), the name index and the
 * Go-name printer. The input is a pclntab and the go:func.* bytes its
 * funcdata point into; the harness makes an executable of them in
 * memory (struct gp_exe: a .gopclntab section, two segments, the
 * go:func.* symbol) and runs the parsers on it. Thousands of inputs a
 * second, where fuzz_pclntab (a whole fixture per input) makes ~100.
 *
 * Input: sel u8, then pcln_len u32 (little-endian; cut to what follows),
 * pcln_len bytes of pclntab, the rest go:func.* bytes.
 *   sel & 7: the Go release the executable claims (1.19, 1.20, 1.21,
 *            1.22, 1.24, 1.26, 1.27, none)
 *   sel & 8: arm64 (else x86-64)
 *   sel & 16: no go:func.* symbol (no funcdata, no inline trees)
 *   sel & 32: a .text section (1.26+ keep no textStart)
 * Seeds: from each fixture executable, a small pclntab of its first
 * functions (fz_small_pclntab) and the first bytes of its go:func.*.
 * GP_FUZZ_DEBUG=1 prints what each lookup found (to check a seed).
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_pclnblob"

static int debug; /* GP_FUZZ_DEBUG=1: what each lookup found */

#define PCLN_ADDR UINT64_C(0x10000000)
#define GOFUNC_ADDR UINT64_C(0x20000000)
#define TEXT_ADDR UINT64_C(0x401000)

static const int vers[8][2] = { { 1, 19 }, { 1, 20 }, { 1, 21 }, { 1, 22 },
				{ 1, 24 }, { 1, 26 }, { 1, 27 }, { 0, 0 } };

static void seeds(const char *dir, size_t i, struct gp_exe *exe)
{
	const struct gp_section *sec = gp_exe_section(exe, ".gopclntab");
	if (!sec)
		sec = gp_exe_section(exe, ".data.rel.ro.gopclntab");
	struct gp_pclntab *tab = NULL;
	if (!sec || !sec->data || gp_pclntab_open(exe, NULL, NULL, &tab))
		return;
	/* go:func.*: where the pclntab found it */
	uint64_t gofunc = gp_pclntab_gofunc(tab);
	const uint8_t *gf = NULL;
	size_t gfavail = 0;
	for (size_t k = 0; gofunc && k < exe->nloads; k++) {
		const struct gp_segment *s = &exe->loads[k];
		if (gofunc >= s->start && gofunc - s->start < s->avail) {
			gf = s->data + (gofunc - s->start);
			gfavail = s->avail - (gofunc - s->start);
		}
	}
	uint8_t sel = 7;
	for (uint8_t v = 0; v < 7; v++)
		if (exe->go_major == 1 && exe->go_minor >= vers[v][1])
			sel = v;
	if (exe->machine == EM_AARCH64)
		sel |= 8;
	if (exe->go_minor >= 26)
		sel |= 32;
	static const struct {
		size_t name, cu, file, pc, gf;
		uint32_t nfunc;
	} sizes[] = { { 2048, 512, 2048, 4096, 4096, 16 },
		      { 16384, 4096, 16384, 32768, 16384, 256 } };
	for (size_t z = 0; z < 2; z++) {
		uint8_t *blob;
		size_t n;
		if (!fz_small_pclntab(sec->data, sec->size, sizes[z].name,
				      sizes[z].cu, sizes[z].file, sizes[z].pc,
				      sizes[z].nfunc, &blob, &n))
			continue;
		size_t g = gfavail < sizes[z].gf ? gfavail : sizes[z].gf;
		uint8_t *in = malloc(5 + n + g);
		if (!in)
			fz_die(H, "out of memory");
		in[0] = sel;
		uint32_t len = (uint32_t)n;
		memcpy(in + 1, &len, 4);
		memcpy(in + 5, blob, n);
		if (g)
			memcpy(in + 5 + n, gf, g);
		char name[64];
		snprintf(name, sizeof(name), "seed-e%zu-%s", i, z ? "big" : "small");
		fz_write(H, dir, name, in, 5 + n + g);
		free(in);
		free(blob);
	}
	gp_pclntab_destroy(tab);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_unit_seeds(H, seeds);
	debug = getenv("GP_FUZZ_DEBUG") != NULL;
	return 0;
}


static uint64_t run(const struct gp_exe *exe, const uint8_t *pcln, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	struct gp_pclntab *tab;
	gp_error *err = gp_pclntab_open(exe, NULL, NULL, &tab);
	if (err) {
		if (debug)
			fprintf(stderr, "%s\n", gp_error_message(err));
		h = fz_mix_str(h, gp_error_message(err));
		gp_error_destroy(err);
		return h;
	}
	h = fz_mix(h, &(int){ gp_pclntab_gover(tab) }, sizeof(int));
	(void)gp_pclntab_arch(tab);
	uint32_t nf = gp_pclntab_num_funcs(tab);
	uint64_t text = gp_pclntab_text_start(tab);
	/* the function table (where the parser found it: the header's
	 * pclnOffset, checked by the open) */
	uint64_t ftab = 0;
	if (n >= 72) /* else scan_for_header found one in go:func.* */
		memcpy(&ftab, pcln + 64, 8);
	for (uint32_t i = 0; n >= 72 && i < nf && i < 24; i++) {
		uint32_t entry;
		memcpy(&entry, pcln + ftab + 8 * (uint64_t)i, 4);
		struct gp_func fn;
		for (uint64_t d = 0; d < 2; d++) {
			uint64_t pc = text + entry + d * (1 + i % 61);
			if (!gp_pclntab_find_func(tab, pc, &fn))
				continue;
			h = fz_mix(h, &fn.entry, sizeof(fn.entry));
			struct gp_symframe fr[16];
			size_t nfr = gp_pclntab_symbolize(tab, pc, d ? pc - 1 : pc, fr, 16);
			for (size_t k = 0; k < nfr; k++) {
				h = fz_mix_str(fz_mix_str(h, fr[k].func), fr[k].file);
				h = fz_mix(h, &fr[k].line, sizeof(fr[k].line));
			}
			int32_t v = 0;
			gp_error_destroy(gp_pclntab_sp_delta(tab, &fn, pc, &v));
			h = fz_mix(h, &v, sizeof(v));
			(void)gp_pclntab_has_frame_info(tab, &fn);
			for (uint32_t k = 0; k < 4; k++) {
				v = gp_pclntab_pcdata(tab, &fn, k, pc);
				h = fz_mix(h, &v, sizeof(v));
			}
			uint64_t a;
			size_t avail;
			for (uint32_t k = 0; k < 8; k++)
				if (gp_pclntab_funcdata(tab, &fn, k, &a, &avail))
					h = fz_mix(fz_mix(h, &a, sizeof(a)), &avail, sizeof(avail));
			v = gp_pclntab_func_args(tab, &fn);
			h = fz_mix(h, &v, sizeof(v));
			const char *file = NULL;
			uint32_t line = 0;
			if (gp_pclntab_pcline(tab, pc, &file, &line))
				h = fz_mix(fz_mix_str(h, file), &line, sizeof(line));
			char buf[128];
			h = fz_mix_str(h, gp_func_print_name(fn.name, buf, sizeof(buf)));
			if (debug)
				fprintf(stderr, "%#llx %s %s:%u frames %zu sp %d\n",
					(unsigned long long)pc, fn.name, file ? file : "-",
					line, nfr, v);
			if (i % 8 == 0 && d == 0) {
				struct gp_func by;
				if (gp_pclntab_func_by_name(tab, fn.name, &by))
					h = fz_mix(h, &by.entry, sizeof(by.entry));
			}
		}
	}
	struct gp_func fn;
	if (gp_pclntab_func_by_name(tab, "runtime.gopark", &fn))
		h = fz_mix(h, &fn.entry, sizeof(fn.entry));
	gp_pclntab_destroy(tab);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	uint8_t sel = data[0];
	uint32_t len;
	memcpy(&len, data + 1, 4);
	if (len > size - 5)
		len = (uint32_t)(size - 5);
	size_t glen = size - 5 - len;
	/* exact-size copies: a read past either is ASan's */
	uint8_t *pcln = malloc(len ? len : 1), *gf = malloc(glen ? glen : 1);
	if (!pcln || !gf)
		abort();
	memcpy(pcln, data + 5, len);
	memcpy(gf, data + 5 + len, glen);

	struct gp_section secs[2] = {
		{ .name = ".gopclntab", .addr = PCLN_ADDR, .size = len,
		  .data = pcln, .type = SHT_PROGBITS },
		{ .name = ".text", .addr = TEXT_ADDR, .size = 1 << 20,
		  .data = NULL, .type = SHT_NOBITS },
	};
	struct gp_segment loads[2] = {
		{ .start = PCLN_ADDR, .end = PCLN_ADDR + len, .data = pcln,
		  .avail = len },
		{ .start = GOFUNC_ADDR, .end = GOFUNC_ADDR + glen, .data = gf,
		  .avail = glen },
	};
	/* sorted by name ('.' before ':') */
	struct gp_symbol syms[2] = {
		{ .name = "go.func.*", .value = GOFUNC_ADDR },
		{ .name = "go:func.*", .value = GOFUNC_ADDR },
	};
	struct gp_exe exe = {
		.path = (char *)"fuzz", .fd = -1,
		.map = pcln, .size = len,
		.machine = sel & 8 ? EM_AARCH64 : EM_X86_64,
		.elf_type = ET_EXEC,
		.sections = secs, .nsections = sel & 32 ? 2 : 1,
		.symbols = syms, .nsymbols = sel & 16 ? 0 : 2,
		.loads = loads, .nloads = 2,
		.go_major = vers[sel & 7][0], .go_minor = vers[sel & 7][1],
	};
	exe.arch = gp_arch_find(exe.machine);
	uint64_t h = run(&exe, pcln, len);
	if (fz_twice() && run(&exe, pcln, len) != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
	free(pcln);
	free(gf);
	return 0;
}
