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
static gp_error *read_buildinfo(struct gp_exe *exe)
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

static void read_go_buildid(struct gp_exe *exe)
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
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "%s: only 64-bit little-endian executables are supported",
				      path);
		goto fail;
	}

	/* Loadable segments. */
	size_t nphdr, loads_cap = 0;
	if (elf_getphdrnum(elf, &nphdr) < 0)
		nphdr = 0;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
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
				}
				qsort(ret->symbols, ret->nsymbols,
				      sizeof(*ret->symbols), symbol_cmp);
			}
		}
	}

	if ((err = read_buildinfo(ret)))
		goto fail;
	read_go_buildid(ret);
	if (!(ret->arch = gp_arch_find(ret->machine))) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "%s: only linux/amd64 programs are supported for now",
				      path);
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
