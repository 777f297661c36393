/*
 * fuzz_elf: binary/exe.c over a small ELF file given whole by the input:
 * the ELF and program headers, sections, the symbol table and its sort,
 * .go.buildinfo and the Go version, the build ID note, PIE relocation;
 * then the layout tables of the version it names (layout_tables.c), the
 * pclntab's open and a lookup, and stripped.c's search when there are no
 * symbols. No fixture per input: the bytes go to a memfd opened as
 * /proc/self/fd/N (gp_exe_open reads a path), a few KiB where fuzz_exe
 * writes and opens a whole fixture executable.
 *
 * Seeds: from each fixture executable, a small ELF of its own headers
 * (type, machine, entry), a few sections' starts at their addresses
 * (.text, .go.buildinfo, .note.go.buildid, a small .gopclntab made by
 * fz_small_pclntab, .rela.dyn), a load segment each, and a symbol table
 * of a few runtime symbols when it has one.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_elf"

struct blob {
	uint8_t *p;
	size_t n, cap;
};

static size_t put(struct blob *b, const void *p, size_t n, size_t align)
{
	size_t at = (b->n + align - 1) & ~(align - 1);
	if (at + n > b->cap) {
		b->cap = 2 * (at + n) + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			fz_die(H, "out of memory");
	}
	memset(b->p + b->n, 0, at - b->n);
	if (p)
		memcpy(b->p + at, p, n);
	else
		memset(b->p + at, 0, n);
	b->n = at + n;
	return at;
}

struct sec {
	const char *name;
	uint32_t type;
	uint64_t flags, addr, off, size, entsize;
	uint32_t link;
};

static void seeds(const char *dir, size_t i, struct gp_exe *exe)
{
	const Elf64_Ehdr *real = (const Elf64_Ehdr *)exe->map;
	struct blob b = { 0 };
	Elf64_Ehdr eh = *real;
	put(&b, NULL, sizeof(eh), 8);
	enum { MAXPH = 8 };
	size_t phoff = put(&b, NULL, MAXPH * sizeof(Elf64_Phdr), 8);
	struct sec s[12];
	size_t ns = 0;
	s[ns++] = (struct sec){ .name = "" };
	static const struct {
		const char *name;
		size_t max;
	} copy[] = { { ".text", 256 }, { ".go.buildinfo", 512 },
		     { ".note.go.buildid", 256 }, { ".rela.dyn", 24 * 16 } };
	for (size_t k = 0; k < sizeof(copy) / sizeof(copy[0]); k++) {
		const struct gp_section *g = gp_exe_section(exe, copy[k].name);
		if (!g || !g->data)
			continue;
		size_t n = g->size < copy[k].max ? g->size : copy[k].max;
		s[ns] = (struct sec){ .name = copy[k].name, .type = g->type,
				      .flags = SHF_ALLOC, .addr = g->addr,
				      .size = n,
				      .entsize = g->type == SHT_RELA ? 24 : 0 };
		s[ns].off = put(&b, g->data, n, 16);
		ns++;
	}
	const struct gp_section *pc = gp_exe_section(exe, ".gopclntab");
	uint8_t *small;
	size_t nsmall;
	if (pc && pc->data &&
	    fz_small_pclntab(pc->data, pc->size, 2048, 512, 2048, 4096, 16,
			     &small, &nsmall)) {
		s[ns] = (struct sec){ .name = ".gopclntab", .type = SHT_PROGBITS,
				      .flags = SHF_ALLOC, .addr = pc->addr,
				      .size = nsmall };
		s[ns].off = put(&b, small, nsmall, 16);
		ns++;
		free(small);
	}
	if (exe->nsymbols) {
		static const char *const names[] = {
			"go:func.*", "go.func.*", "runtime.allgs", "runtime.allglen",
			"runtime.allm", "runtime.firstmoduledata", "runtime.sched",
			"runtime.text", "runtime.m0", "main.main",
		};
		struct blob str = { 0 };
		put(&str, "", 1, 1);
		Elf64_Sym syms[16] = { { 0 } };
		size_t nsym = 1;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			const struct gp_symbol *y = gp_exe_symbol(exe, names[k]);
			if (!y)
				continue;
			syms[nsym] = (Elf64_Sym){
				.st_name = (uint32_t)put(&str, names[k], strlen(names[k]) + 1, 1),
				.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
				.st_shndx = 1, .st_value = y->value, .st_size = y->size };
			nsym++;
		}
		s[ns] = (struct sec){ .name = ".symtab", .type = SHT_SYMTAB,
				      .size = nsym * sizeof(Elf64_Sym),
				      .entsize = sizeof(Elf64_Sym),
				      .link = (uint32_t)ns + 1 };
		s[ns].off = put(&b, syms, nsym * sizeof(Elf64_Sym), 8);
		ns++;
		s[ns] = (struct sec){ .name = ".strtab", .type = SHT_STRTAB,
				      .size = str.n };
		s[ns].off = put(&b, str.p, str.n, 1);
		ns++;
		free(str.p);
	}
	/* .shstrtab */
	struct blob shstr = { 0 };
	uint32_t sname[12];
	put(&shstr, "", 1, 1);
	for (size_t k = 0; k < ns; k++)
		sname[k] = k ? (uint32_t)put(&shstr, s[k].name, strlen(s[k].name) + 1, 1) : 0;
	uint32_t shstrname = (uint32_t)put(&shstr, ".shstrtab", 10, 1);
	s[ns] = (struct sec){ .name = ".shstrtab", .type = SHT_STRTAB, .size = shstr.n };
	s[ns].off = put(&b, shstr.p, shstr.n, 1);
	sname[ns] = shstrname;
	ns++;
	free(shstr.p);
	/* a load segment per allocated section, a PT_NOTE for the note */
	Elf64_Phdr ph[MAXPH];
	size_t nph = 0;
	for (size_t k = 1; k < ns && nph < MAXPH; k++) {
		if (!(s[k].flags & SHF_ALLOC) || !s[k].addr)
			continue;
		bool text = !strcmp(s[k].name, ".text");
		bool rw = !strcmp(s[k].name, ".go.buildinfo");
		ph[nph++] = (Elf64_Phdr){ .p_type = PT_LOAD,
			.p_flags = PF_R | (text ? PF_X : 0) | (rw ? PF_W : 0),
			.p_offset = s[k].off, .p_vaddr = s[k].addr,
			.p_paddr = s[k].addr, .p_filesz = s[k].size,
			.p_memsz = s[k].size + (rw ? 4096 : 0), .p_align = 16 };
		if (s[k].type == SHT_NOTE && nph < MAXPH)
			ph[nph++] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R,
				.p_offset = s[k].off, .p_vaddr = s[k].addr,
				.p_filesz = s[k].size, .p_memsz = s[k].size, .p_align = 4 };
	}
	memcpy(b.p + phoff, ph, nph * sizeof(Elf64_Phdr));
	Elf64_Shdr sh[12];
	for (size_t k = 0; k < ns; k++)
		sh[k] = (Elf64_Shdr){ .sh_name = sname[k], .sh_type = s[k].type,
				      .sh_flags = s[k].flags, .sh_addr = s[k].addr,
				      .sh_offset = k ? s[k].off : 0, .sh_size = s[k].size,
				      .sh_link = s[k].link, .sh_addralign = k ? 1 : 0,
				      .sh_entsize = s[k].entsize };
	size_t shoff = put(&b, sh, ns * sizeof(Elf64_Shdr), 8);
	eh.e_phoff = phoff;
	eh.e_phnum = (uint16_t)nph;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_shoff = shoff;
	eh.e_shnum = (uint16_t)ns;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shstrndx = (uint16_t)(ns - 1);
	memcpy(b.p, &eh, sizeof(eh));
	char name[64];
	snprintf(name, sizeof(name), "seed-e%zu", i);
	fz_write(H, dir, name, b.p, b.n);
	free(b.p);
}

static int fd = -1;
static char fdpath[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_unit_seeds(H, seeds);
	fd = memfd_create(H, 0);
	if (fd < 0)
		fz_die(H, "memfd_create failed");
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	return 0;
}


static uint64_t run(void)
{
	struct gp_exe exe;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	gp_error *err = gp_exe_open(fdpath, &exe);
	if (err)
		return fz_mix_err(h, err);
	h = fz_mix(h, &exe.nsymbols, sizeof(exe.nsymbols));
	h = fz_mix(h, &exe.nsections, sizeof(exe.nsections));
	h = fz_mix(h, &exe.nloads, sizeof(exe.nloads));
	if (exe.go_version)
		h = fz_mix(h, exe.go_version, strlen(exe.go_version));
	if (exe.build_id)
		h = fz_mix(h, exe.build_id, strlen(exe.build_id));
	const struct gp_symbol *sym = gp_exe_symbol(&exe, "runtime.allgs");
	if (sym)
		h = fz_mix(h, &sym->value, sizeof(sym->value));
	uint64_t bias = 0;
	uint64_t at = exe.entry + (exe.elf_type == ET_DYN ? UINT64_C(0x7f0000000000) : 0);
	err = gp_exe_bias_from_entry(&exe, at, "fuzz", &bias);
	if (!err)
		err = gp_exe_relocate(&exe, bias);
	if (err) {
		h = fz_mix_err(h, err);
		gp_exe_close(&exe);
		return h;
	}
	struct gp_layout *layout = calloc(1, sizeof(*layout));
	if (!layout)
		abort();
	h = fz_mix_err(h, gp_layout_from_table(&exe, layout));
	struct gp_pclntab *tab;
	if (!(err = gp_pclntab_open(&exe, NULL, NULL, &tab))) {
		struct gp_func fn;
		uint64_t pc = gp_pclntab_text_start(tab);
		if (gp_pclntab_find_func(tab, pc, &fn)) {
			struct gp_symframe fr[8];
			size_t n = gp_pclntab_symbolize(tab, fn.entry, fn.entry, fr, 8);
			for (size_t k = 0; k < n; k++)
				if (fr[k].func)
					h = fz_mix(h, fr[k].func, strlen(fr[k].func));
		}
		if (!exe.nsymbols && exe.go_major == 1)
			h = fz_mix_err(h, gp_stripped_find_vars(&exe, tab, layout));
		gp_pclntab_destroy(tab);
	}
	h = fz_mix_err(h, err);
	h = fz_mix(h, layout, sizeof(*layout));
	free(layout);
	gp_exe_close(&exe);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		fz_die(H, "cannot write the memfd");
	uint64_t h = run();
	if (fz_twice() && run() != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
	return 0;
}
