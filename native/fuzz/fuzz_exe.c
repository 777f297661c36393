/*
 * fuzz_exe: the executable's parsers from the file up (binary/exe.c: ELF
 * headers, sections, symbols, .go.buildinfo, the build ID note, PIE
 * relocation; layout.c from DWARF or layout_tables.c; pclntab.c's open;
 * stripped.c when there is no symbol table) over a fixture executable
 * whose file is patched by the input (fuzz.h) in its headers and the
 * sections those parsers read. The file lives in a memfd: the patches are
 * written, the executable opened as /proc/self/fd/N, the bytes put back.
 *
 * Every input opens the file (the ELF, its sections, symbols, buildinfo,
 * build ID, relocations) and looks a symbol up. The costlier parsers run
 * on the "full" inputs (fz_full: a quarter of the case byte's values) and
 * on those that patch what they read: the layout from DWARF (the debug
 * sections), the pclntab's open and a lookup (the pclntab, moduledata).
 * stripped.c's scan runs on those only (fuzz_pclntab patches the code
 * it reads). GP_FUZZ_TWICE=1 runs each input twice and aborts when the
 * two digests differ.
 */

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_exe"

struct exe_state {
	int fd;                   /* the memfd */
	uint8_t *orig;            /* the file's bytes */
	size_t size;
	char path[64];
};

static int read_orig(struct fz_case *c, uint64_t off, void *buf, size_t n)
{
	struct exe_state *s = c->state;
	if (off > s->size || n > s->size - off)
		return -1;
	memcpy(buf, s->orig + off, n);
	return 0;
}

static void add_section(struct fz_case *c, const struct gp_exe *exe,
			const char *kind, const char *name, uint64_t max)
{
	const struct gp_section *sec = gp_exe_section(exe, name);
	if (!sec || !sec->data || sec->data < exe->map ||
	    sec->data >= exe->map + exe->size)
		return;
	uint64_t off = (uint64_t)(sec->data - exe->map);
	uint64_t size = sec->size < max ? sec->size : max;
	if (off + size > exe->size)
		size = exe->size - off;
	fz_add(c, kind, off, size);
}

static void setup(struct fz_case *c)
{
	fz_staged = 1;
	struct gp_exe exe;
	gp_error *err = gp_exe_open(c->exe, &exe);
	if (err)
		fz_die(H, "%s: %s", c->exe, gp_error_message(err));
	struct exe_state *s = calloc(1, sizeof(*s));
	s->size = exe.size;
	s->orig = malloc(exe.size);
	/* the file's own bytes: libelf may have rewritten the mapping */
	s->fd = memfd_create("fuzz_exe", 0);
	if (!s->orig || s->fd < 0 ||
	    pread(exe.fd, s->orig, exe.size, 0) != (ssize_t)exe.size ||
	    pwrite(s->fd, s->orig, exe.size, 0) != (ssize_t)exe.size)
		fz_die(H, "cannot copy %s", c->exe);
	snprintf(s->path, sizeof(s->path), "/proc/self/fd/%d", s->fd);
	c->state = s;

	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)s->orig;
	fz_add(c, "elf-header", 0, sizeof(*eh));
	if (eh->e_phoff < s->size)
		fz_add(c, "program-headers", eh->e_phoff,
		       (uint64_t)eh->e_phnum * eh->e_phentsize);
	if (eh->e_shoff < s->size)
		fz_add(c, "section-headers", eh->e_shoff,
		       (uint64_t)eh->e_shnum * eh->e_shentsize);
	add_section(c, &exe, "shstrtab", ".shstrtab", 4096);
	add_section(c, &exe, "buildinfo", ".go.buildinfo", 4096);
	add_section(c, &exe, "buildid", ".note.go.buildid", 256);
	add_section(c, &exe, "pclntab-header", ".gopclntab", 256);
	add_section(c, &exe, "pclntab", ".gopclntab", 1 << 20);
	add_section(c, &exe, "symtab", ".symtab", 1 << 20);
	add_section(c, &exe, "strtab", ".strtab", 1 << 20);
	add_section(c, &exe, "debug-info", ".debug_info", 1 << 20);
	add_section(c, &exe, "debug-info", ".zdebug_info", 1 << 20);
	add_section(c, &exe, "debug-abbrev", ".debug_abbrev", 1 << 16);
	add_section(c, &exe, "debug-abbrev", ".zdebug_abbrev", 1 << 16);
	add_section(c, &exe, "moduledata", ".go.module", 4096);
	add_section(c, &exe, "moduledata", ".noptrdata", 1 << 16);
	add_section(c, &exe, "rela", ".rela.dyn", 1 << 16);
	gp_exe_close(&exe);
}

FZ_HARNESS(H, 0, setup, read_orig)


/* One run; the digest of what it gave (GP_FUZZ_TWICE). */
static uint64_t run(const char *path, int full, int dwarf, int pcln)
{
	struct gp_exe exe;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	gp_error *err = gp_exe_open(path, &exe);
	if (err)
		return fz_mix_err(h, err);
	h = fz_mix(h, &exe.nsymbols, sizeof(exe.nsymbols));
	h = fz_mix(h, &exe.nsections, sizeof(exe.nsections));
	if (exe.go_version)
		h = fz_mix(h, exe.go_version, strlen(exe.go_version));
	if (exe.build_id)
		h = fz_mix(h, exe.build_id, strlen(exe.build_id));
	uint64_t bias = 0;
	err = gp_exe_bias_from_entry(&exe, exe.entry, "fuzz", &bias);
	if (!err)
		err = gp_exe_relocate(&exe, bias);
	if (err) {
		h = fz_mix_err(h, err);
		gp_exe_close(&exe);
		return h;
	}
	const struct gp_symbol *sym = gp_exe_symbol(&exe, "runtime.allgs");
	if (sym)
		h = fz_mix(h, &sym->value, sizeof(sym->value));
	struct gp_layout *layout = calloc(1, sizeof(*layout));
	if (!exe.has_dwarf)
		err = gp_layout_from_table(&exe, layout);
	else if (full || dwarf)
		err = gp_layout_from_dwarf(&exe, layout);
	h = fz_mix_err(h, err);
	err = NULL;
	struct gp_pclntab *tab;
	if ((full || pcln) && !(err = gp_pclntab_open(&exe, NULL, NULL, &tab))) {
		/* (the functions themselves: fuzz_pclntab) */
		struct gp_func fn;
		uint64_t pc = gp_pclntab_text_start(tab);
		if (gp_pclntab_find_func(tab, pc, &fn)) {
			struct gp_symframe fr[16];
			size_t n = gp_pclntab_symbolize(tab, fn.entry, fn.entry, fr, 16);
			for (size_t k = 0; k < n; k++)
				if (fr[k].func)
					h = fz_mix(h, fr[k].func, strlen(fr[k].func));
		}
		if (full && !exe.nsymbols && exe.go_major == 1)
			h = fz_mix_err(h, gp_stripped_find_vars(&exe, tab, layout));
		gp_pclntab_destroy(tab);
	}
	h = fz_mix_err(h, err);
	h = fz_mix(h, layout, sizeof(*layout));
	free(layout);
	gp_exe_close(&exe);
	return h;
}

static void put(struct fz_case *c, uint64_t off, const uint8_t *b, size_t n)
{
	struct exe_state *s = c->state;
	if (pwrite(s->fd, b, n, (off_t)off) != (ssize_t)n)
		fz_die(H, "pwrite failed");
}

static const uint8_t *orig(struct fz_case *c)
{
	return ((struct exe_state *)c->state)->orig;
}

static void run_case(struct fz_case *c, const uint8_t *data, size_t size,
		     const struct fz_patch *p, size_t n)
{
	const char *path = ((struct exe_state *)c->state)->path;
	int full = fz_full(data, size),
	    dwarf = fz_touches(c, "debug-info", p, n) || fz_touches(c, "debug-abbrev", p, n),
	    pcln = fz_touches(c, "pclntab-header", p, n) || fz_touches(c, "pclntab", p, n) ||
		   fz_touches(c, "moduledata", p, n);
	uint64_t h = run(path, full, dwarf, pcln);
	if (fz_twice() && run(path, full, dwarf, pcln) != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_file_run(data, size, put, orig, run_case);
	return 0;
}
