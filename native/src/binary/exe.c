/*
 * The executable: sections, symbols, loadable segments and the Go version,
 * read with libelf from a private mapping of the whole file. The file is
 * untrusted; libelf checks section bounds, we check everything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binary/binary.h"

#ifndef DT_RELR  /* glibc < 2.36 */
#define DT_RELRSZ 35
#define DT_RELR 36
#endif

static const char buildinfo_magic[14] = "\xff Go buildinf:";

/* Maps a whole file copy-on-write (libelf may want to write). */
gp_error *gp_map_file(const char *path, const char *what, int *ret_fd,
		      const uint8_t **ret_map, size_t *ret_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gp_error_os(errno, "cannot open %s %s", what, path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return gp_error_os(e, "cannot stat %s %s", what, path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return gp_error_create(GP_ERROR_FORMAT,
				       "%s %s is not a regular file", what,
				       path);
	}
	if (st.st_size < 64) {
		close(fd);
		return gp_error_create(GP_ERROR_FORMAT,
				       "%s %s is not an ELF file (%lld bytes)",
				       what, path, (long long)st.st_size);
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		int e = errno;
		close(fd);
		return gp_error_os(e, "cannot map %s %s", what, path);
	}
	*ret_fd = fd;
	*ret_map = map;
	*ret_size = (size_t)st.st_size;
	return NULL;
}

static int symbol_cmp(const void *a, const void *b)
{
	const struct gp_symbol *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static uint64_t read_uvarint(const uint8_t *p, size_t n, size_t *used)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*used = i + 1;
			return v;
		}
	}
	*used = 0;
	return 0;
}

static void parse_go_version(struct gp_exe *exe)
{
	const char *v = strstr(exe->go_version, "go1.");
	if (!v)
		return;
	int major = 0, minor = 0, patch = 0;
	if (sscanf(v, "go%d.%d.%d", &major, &minor, &patch) >= 2) {
		exe->go_major = major;
		exe->go_minor = minor;
		exe->go_patch = patch;
	}
}

/* Go version from .go.buildinfo (cmd/link/internal/ld/data.go buildinfo). */
gp_error *gp_exe_read_buildinfo(struct gp_exe *exe)
{
	const uint8_t *data = NULL;
	size_t size = 0;
	const struct gp_section *sec = gp_exe_section(exe, ".go.buildinfo");
	if (sec && sec->data) {
		data = sec->data;
		size = sec->size;
	} else {
		/* Section headers gone: look in writable segments. */
		for (size_t i = 0; i < exe->nloads && !data; i++) {
			const struct gp_segment *s = &exe->loads[i];
			for (uint64_t off = 0; off + 32 <= s->avail;
			     off += 16) {
				if (!memcmp(s->data + off, buildinfo_magic,
					    sizeof(buildinfo_magic))) {
					data = s->data + off;
					size = s->avail - off;
					break;
				}
			}
		}
	}
	if (!data || size < 32 ||
	    memcmp(data, buildinfo_magic, sizeof(buildinfo_magic)))
		return gp_error_create(GP_ERROR_NOT_GO,
				       "%s is not a Go program (no Go build information)",
				       exe->path);
	uint8_t ptrsize = data[14], flags = data[15];
	if (ptrsize != 8)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s: %u-bit Go programs are not supported",
				       exe->path, ptrsize * 8u);
	if (flags & 2) {
		size_t used;
		uint64_t len = read_uvarint(data + 32, size - 32, &used);
		if (!used || len > 256 || len > size - 32 - used)
			return gp_error_create(GP_ERROR_FORMAT,
					       "%s: corrupt Go build information",
					       exe->path);
		exe->go_version = strndup((const char *)data + 32 + used, len);
	} else {
		/* Before Go 1.18: pointers to Go strings; not supported. */
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s was built by a Go older than 1.18; goparked reads Go 1.19 and newer",
				       exe->path);
	}
	if (!exe->go_version)
		return &gp_error_nomem;
	parse_go_version(exe);
	return NULL;
}

void gp_exe_read_buildid(struct gp_exe *exe)
{
	const struct gp_section *sec = gp_exe_section(exe, ".note.go.buildid");
	if (!sec || !sec->data || sec->size < 16)
		return;
	uint32_t namesz = (uint32_t)gp_load(sec->data, 4);
	uint32_t descsz = (uint32_t)gp_load(sec->data + 4, 4);
	uint64_t desc = 12 + (((uint64_t)namesz + 3) & ~3ULL);
	if (desc + descsz > sec->size || descsz > 1024)
		return;
	exe->build_id = strndup((const char *)sec->data + desc, descsz);
}

gp_error *gp_exe_open(const char *path, struct gp_exe *ret)
{
	gp_error *err;
	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	ret->path = strdup(path);
	if (!ret->path)
		return &gp_error_nomem;
	err = gp_map_file(path, "executable", &ret->fd, &ret->map, &ret->size);
	if (err)
		goto fail;
	elf_version(EV_CURRENT);
	Elf *elf = elf_memory((char *)ret->map, ret->size);
	ret->elf = elf;
	GElf_Ehdr ehdr;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "%s is not an ELF executable", path);
		goto fail;
	}
	if (ehdr.e_type == ET_CORE) {
		err = gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				      "%s is a core file, not an executable",
				      path);
		goto fail;
	}
	ret->machine = ehdr.e_machine;
	ret->elf_type = ehdr.e_type;
	ret->entry = ehdr.e_entry;
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "%s is a %s program (%s); goparked reads 64-bit little-endian ones",
				      path,
				      ehdr.e_ident[EI_CLASS] == ELFCLASS32 ?
					      "32-bit" : "big-endian or unknown-class",
				      gp_machine_name(ehdr.e_machine));
		goto fail;
	}

	/* Loadable segments. */
	size_t nphdr, loads_cap = 0;
	if (elf_getphdrnum(elf, &nphdr) < 0)
		nphdr = 0;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_GNU_RELRO &&
		    ph.p_vaddr + ph.p_memsz >= ph.p_vaddr) {
			ret->relro_start = ph.p_vaddr;
			ret->relro_end = ph.p_vaddr + ph.p_memsz;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			continue;
		struct gp_segment seg = {
			.start = ph.p_vaddr,
			.end = ph.p_vaddr + ph.p_memsz,
			.zero_fill = true,
			.writable = (ph.p_flags & PF_W) != 0,
		};
		if (ph.p_offset < ret->size) {
			seg.data = ret->map + ph.p_offset;
			seg.avail = ph.p_filesz;
			if (seg.avail > ret->size - ph.p_offset)
				seg.avail = ret->size - ph.p_offset;
			if (seg.avail > ph.p_memsz)
				seg.avail = ph.p_memsz;
		}
		if (seg.end <= seg.start)
			continue;
		if ((err = gp_grow((void **)&ret->loads, &loads_cap,
				   ret->nloads + 1, sizeof(*ret->loads))))
			goto fail;
		ret->loads[ret->nloads++] = seg;
	}

	/* Sections. */
	size_t shstrndx, nsec;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0 &&
	    elf_getshdrnum(elf, &nsec) == 0 && nsec > 0) {
		ret->sections = calloc(nsec, sizeof(*ret->sections));
		if (!ret->sections) {
			err = &gp_error_nomem;
			goto fail;
		}
		Elf_Scn *scn = NULL;
		Elf_Scn *symtab = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			if (!gelf_getshdr(scn, &sh))
				continue;
			const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (!name)
				continue;
			struct gp_section *s = &ret->sections[ret->nsections++];
			s->name = name;
			s->addr = sh.sh_addr;
			s->size = sh.sh_size;
			s->type = sh.sh_type;
			if (sh.sh_type != SHT_NOBITS &&
			    !(sh.sh_flags & SHF_COMPRESSED) &&
			    sh.sh_offset <= ret->size &&
			    sh.sh_size <= ret->size - sh.sh_offset)
				s->data = ret->map + sh.sh_offset;
			else if (sh.sh_type != SHT_NOBITS)
				s->size = 0;
			if (!strncmp(name, ".debug_info", 11) ||
			    !strncmp(name, ".zdebug_info", 12))
				ret->has_dwarf = true;
			if (sh.sh_type == SHT_SYMTAB)
				symtab = scn;
			if (ret->nsections == nsec)
				break;
		}
		if (symtab) {
			GElf_Shdr sh;
			Elf_Data *d = elf_getdata(symtab, NULL);
			if (gelf_getshdr(symtab, &sh) && d && sh.sh_entsize) {
				size_t n = d->d_size / sh.sh_entsize;
				ret->symbols = calloc(n ? n : 1,
						      sizeof(*ret->symbols));
				if (!ret->symbols) {
					err = &gp_error_nomem;
					goto fail;
				}
				for (size_t i = 0; i < n; i++) {
					GElf_Sym sym;
					if (!gelf_getsym(d, (int)i, &sym))
						continue;
					const char *name = elf_strptr(
						elf, sh.sh_link, sym.st_name);
					if (!name || !*name)
						continue;
					struct gp_symbol *s =
						&ret->symbols[ret->nsymbols++];
					s->name = name;
					s->value = sym.st_value;
					s->size = sym.st_size;
					s->relative =
						sym.st_shndx != SHN_UNDEF &&
						sym.st_shndx != SHN_ABS;
				}
				gp_qsort(ret->symbols, ret->nsymbols,
				      sizeof(*ret->symbols), symbol_cmp);
			}
		}
	}

	if ((err = gp_exe_read_buildinfo(ret)))
		goto fail;
	gp_exe_read_buildid(ret);
	if (!(ret->arch = gp_arch_find(ret->machine))) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "%s is a linux/%s program; goparked reads %s programs",
				      path, gp_machine_name(ret->machine),
				      gp_arch_supported_names());
		goto fail;
	}
	if (!ret->go_major) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "%s: cannot tell the Go version from \"%s\"",
				      path, ret->go_version);
		goto fail;
	}
	return NULL;
fail:
	gp_exe_close(ret);
	return err;
}

/* ------------------------------------------------------------ relocation */

/* R_<arch>_RELATIVE: the only relocation a Go PIE's own pointers need
 * (cmd/link emits them for every pointer in data when internally linked;
 * an external linker adds GLOB_DAT/JUMP_SLOT for libc, which are not the
 * Go runtime's and are left alone). */
static uint32_t relative_type(const struct gp_exe *exe)
{
	return exe->arch ? exe->arch->relative_reloc : 0;
}

/* The mapped bytes of link-time vaddr (8 of them), or NULL. */
static uint8_t *image_word(struct gp_exe *exe, uint64_t vaddr)
{
	for (size_t i = 0; i < exe->nloads; i++) {
		const struct gp_segment *s = &exe->loads[i];
		if (vaddr >= s->start && vaddr - s->start < s->avail &&
		    s->avail - (vaddr - s->start) >= 8 && s->data)
			return (uint8_t *)s->data + (vaddr - s->start);
	}
	return NULL;
}

static void add_bias(uint8_t *p, uint64_t bias)
{
	uint64_t v;
	memcpy(&v, p, 8);
	v += bias;
	memcpy(p, &v, 8);
}

static void put_word(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Applies the image's relative relocations (DT_RELA and DT_RELR of
 * PT_DYNAMIC, read from the file; untrusted: every table and target is
 * bounded by the file's segments) to the private mapping. */
static gp_error *apply_relocations(struct gp_exe *exe, uint64_t bias)
{
	Elf *elf = exe->elf;
	size_t nphdr;
	GElf_Phdr dyn = { 0 };
	bool have = false;
	if (elf_getphdrnum(elf, &nphdr) < 0)
		nphdr = 0;
	for (size_t i = 0; i < nphdr && !have; i++)
		have = gelf_getphdr(elf, (int)i, &dyn) &&
		       dyn.p_type == PT_DYNAMIC;
	if (!have)
		return gp_error_create(GP_ERROR_FORMAT,
				       "%s is position-independent but has no dynamic section",
				       exe->path);
	if (dyn.p_offset > exe->size || dyn.p_filesz > exe->size - dyn.p_offset)
		return gp_error_create(GP_ERROR_FORMAT,
				       "%s: dynamic section outside the file",
				       exe->path);
	uint64_t rela = 0, relasz = 0, relaent = 24, relr = 0, relrsz = 0;
	const uint8_t *d = exe->map + dyn.p_offset;
	for (uint64_t off = 0; off + 16 <= dyn.p_filesz; off += 16) {
		uint64_t tag = gp_load(d + off, 8), val = gp_load(d + off + 8, 8);
		if (tag == DT_NULL)
			break;
		if (tag == DT_RELA)
			rela = val;
		else if (tag == DT_RELASZ)
			relasz = val;
		else if (tag == DT_RELAENT)
			relaent = val;
		else if (tag == DT_RELR)
			relr = val;
		else if (tag == DT_RELRSZ)
			relrsz = val;
		else if (tag == DT_REL)
			return gp_error_create(GP_ERROR_UNSUPPORTED,
					       "%s: REL relocations (no addends) are not supported",
					       exe->path);
	}
	uint32_t type = relative_type(exe);
	if (relaent != 24 || relasz % 24 || relrsz % 8)
		return gp_error_create(GP_ERROR_FORMAT,
				       "%s: corrupt relocation table sizes",
				       exe->path);
	/* The tables' bytes: in a file-backed segment, checked word by word. */
	for (uint64_t i = 0; rela && i < relasz; i += 24) {
		const uint8_t *r = image_word(exe, rela + i);
		const uint8_t *r2 = image_word(exe, rela + i + 16);
		if (!r || !r2)
			return gp_error_create(GP_ERROR_FORMAT,
					       "%s: relocation table outside the file",
					       exe->path);
		if ((gp_load(r + 8, 8) & 0xffffffff) != type)
			continue;
		uint8_t *p = image_word(exe, gp_load(r, 8));
		if (!p)
			return gp_error_create(GP_ERROR_FORMAT,
					       "%s: a relocation outside the file's segments (0x%llx)",
					       exe->path,
					       (unsigned long long)gp_load(r, 8));
		put_word(p, gp_load(r2, 8) + bias);
	}
	/* DT_RELR (packed relative relocations): an address, then bitmaps
	 * of the 63 words that follow it. */
	uint64_t where = 0;
	for (uint64_t i = 0; relr && i < relrsz; i += 8) {
		const uint8_t *e = image_word(exe, relr + i);
		if (!e)
			return gp_error_create(GP_ERROR_FORMAT,
					       "%s: relocation table outside the file",
					       exe->path);
		uint64_t w = gp_load(e, 8);
		if (!(w & 1)) {
			uint8_t *p = image_word(exe, w);
			if (!p)
				goto bad_relr;
			add_bias(p, bias);
			where = w + 8;
			continue;
		}
		for (int bit = 1; bit < 64; bit++) {
			if (!(w >> bit & 1))
				continue;
			uint8_t *p = image_word(exe, where + 8 * (uint64_t)(bit - 1));
			if (!p)
				goto bad_relr;
			add_bias(p, bias);
		}
		where += 63 * 8;
	}
	return NULL;
bad_relr:
	return gp_error_create(GP_ERROR_FORMAT,
			       "%s: a relocation outside the file's segments",
			       exe->path);
}

gp_error *gp_exe_bias_from_entry(const struct gp_exe *exe, uint64_t at_entry,
				 const char *target, uint64_t *ret)
{
	*ret = 0;
	if (exe->elf_type != ET_DYN)
		return NULL;
	if (!at_entry)
		return gp_error_create(GP_ERROR_FORMAT,
				       "%s is position-independent (-buildmode=pie) and %s does not say where it was loaded (no AT_ENTRY in its auxiliary vector)",
				       exe->path, target);
	uint64_t bias = at_entry - exe->entry;
	if (bias & 0xfff)
		return gp_error_create(GP_ERROR_MISMATCH,
				       "%s does not belong to executable %s (its entry point 0x%llx is not the executable's 0x%llx at any page-aligned load address)",
				       target, exe->path,
				       (unsigned long long)at_entry,
				       (unsigned long long)exe->entry);
	*ret = bias;
	return NULL;
}

gp_error *gp_exe_relocate(struct gp_exe *exe, uint64_t bias)
{
	if (exe->elf_type != ET_DYN && !bias)
		return NULL;
	if (exe->relocated || exe->elf_type != ET_DYN)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "%s: relocated twice, or not position-independent",
				       exe->path);
	for (size_t i = 0; i < exe->nloads; i++)
		if (exe->loads[i].end + bias < exe->loads[i].end ||
		    exe->relro_end + bias < exe->relro_end)
			return gp_error_create(GP_ERROR_FORMAT,
					       "%s: load bias 0x%llx puts it past the end of the address space",
					       exe->path,
					       (unsigned long long)bias);
	if (!relative_type(exe))
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s: relocating a position-independent executable of machine %u",
				       exe->path, exe->machine);
	/* Even at bias 0 (loaded at its link-time addresses, as qemu-user
	 * does): a RELA entry's addend is the value, the file's word need
	 * not hold it. */
	exe->relocated = true;
	gp_error *err = apply_relocations(exe, bias);
	if (err)
		return err;
	for (size_t i = 0; i < exe->nloads; i++) {
		exe->loads[i].start += bias;
		exe->loads[i].end += bias;
	}
	for (size_t i = 0; i < exe->nsections; i++)
		if (exe->sections[i].addr)
			exe->sections[i].addr += bias;
	for (size_t i = 0; i < exe->nsymbols; i++)
		if (exe->symbols[i].relative)
			exe->symbols[i].value += bias;
	exe->entry += bias;
	if (exe->relro_end) {
		exe->relro_start += bias;
		exe->relro_end += bias;
	}
	exe->bias = bias;
	return NULL;
}

void gp_exe_close(struct gp_exe *exe)
{
	if (exe->elf)
		elf_end(exe->elf);
	if (exe->map)
		munmap((void *)exe->map, exe->size);
	if (exe->fd >= 0)
		close(exe->fd);
	free(exe->path);
	free(exe->sections);
	free(exe->symbols);
	free(exe->loads);
	free(exe->go_version);
	free(exe->build_id);
	memset(exe, 0, sizeof(*exe));
	exe->fd = -1;
}

const struct gp_section *gp_exe_section(const struct gp_exe *exe,
					const char *name)
{
	for (size_t i = 0; i < exe->nsections; i++)
		if (!strcmp(exe->sections[i].name, name))
			return &exe->sections[i];
	return NULL;
}

const struct gp_symbol *gp_exe_symbol(const struct gp_exe *exe,
				      const char *name)
{
	size_t lo = 0, hi = exe->nsymbols;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(exe->symbols[mid].name, name);
		if (!c)
			return &exe->symbols[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
