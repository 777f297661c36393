/*
 * A core file: its PT_LOADs become the top memory layer, its NT_PRSTATUS
 * notes the threads. The kernel writes the thread that took the fatal
 * signal first. The file is untrusted: a segment whose bytes lie past the
 * end of the file makes the core "truncated", which is an error.
 */
#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/target.h"

#define GP_MAX_THREADS 65536

static gp_error *add_thread(struct gp_core *core, const uint8_t *desc,
			    size_t size)
{
	const struct gp_arch *arch = core->arch;
	if (size < arch->prstatus_reg + arch->nregs * 8)
		return gp_error_create(GP_ERROR_FORMAT,
				       "core file %s: NT_PRSTATUS note of %zu bytes is too small",
				       core->path, size);
	if (core->nthreads >= GP_MAX_THREADS)
		return gp_error_create(GP_ERROR_LIMIT,
				       "core file %s: more than %d threads",
				       core->path, GP_MAX_THREADS);
	if ((core->nthreads & (core->nthreads - 1)) == 0) {
		size_t cap = core->nthreads ? core->nthreads * 2 : 8;
		void *t = realloc(core->threads, cap * sizeof(*core->threads));
		if (!t)
			return &gp_error_nomem;
		core->threads = t;
	}
	struct gp_thread_regs *t = &core->threads[core->nthreads];
	memset(t, 0, sizeof(*t));
	t->tid = (uint32_t)gp_load(desc + arch->prstatus_pid, 4);
	t->signal = (int16_t)gp_load(desc + arch->prstatus_cursig, 2);
	for (uint32_t i = 0; i < arch->nregs; i++)
		t->regs[i] = gp_load(desc + arch->prstatus_reg + 8 * i, 8);
	t->crashed = core->nthreads == 0;
	core->nthreads++;
	return NULL;
}

/* NT_FILE (linux/elfcore.h, fs/binfmt_elf.c fill_files_note): count,
 * page size, count x {start, end, offset in pages}, then count paths. */
static gp_error *read_files(struct gp_core *core, const uint8_t *desc,
			    size_t size)
{
	if (size < 16 || core->files)
		return NULL;
	uint64_t n = gp_load(desc, 8), page = gp_load(desc + 8, 8);
	if (n > (size - 16) / 24 || n > 65536)
		return NULL;            /* not what the kernel writes: ignored */
	core->files = calloc(n ? n : 1, sizeof(*core->files));
	if (!core->files)
		return &gp_error_nomem;
	const char *name = (const char *)desc + 16 + 24 * n;
	const char *end = (const char *)desc + size;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = desc + 16 + 24 * i;
		const char *z = memchr(name, 0, (size_t)(end - name));
		if (!z)
			break;
		struct gp_file_map *f = &core->files[core->nfiles];
		f->start = gp_load(e, 8);
		f->end = gp_load(e + 8, 8);
		f->offset = gp_load(e + 16, 8) * page;
		f->path = strdup(name);
		if (!f->path)
			return &gp_error_nomem;
		core->nfiles++;
		name = z + 1;
	}
	return NULL;
}

static gp_error *read_notes(struct gp_core *core, Elf *elf, GElf_Phdr *ph)
{
	Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset,
					      ph->p_filesz, ELF_T_NHDR);
	if (!data)
		return gp_error_create(GP_ERROR_FORMAT,
				       "core file %s: unreadable notes",
				       core->path);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;
	while (off < data->d_size &&
	       (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
		const char *name = (const char *)data->d_buf + name_off;
		if (nh.n_namesz != 5 || memcmp(name, "CORE", 5))
			continue;
		if (nh.n_type == NT_PRSTATUS) {
			gp_error *err = add_thread(core, desc, nh.n_descsz);
			if (err)
				return err;
		} else if (nh.n_type == NT_SIGINFO && nh.n_descsz >= 4) {
			core->signal = (int32_t)gp_load(desc, 4);
		} else if (nh.n_type == NT_FILE) {
			gp_error *err = read_files(core, desc, nh.n_descsz);
			if (err)
				return err;
		} else if (nh.n_type == NT_AUXV) {
			/* {type, value} words; where a PIE was loaded */
			for (size_t i = 0; i + 16 <= nh.n_descsz; i += 16)
				if (gp_load(desc + i, 8) == AT_ENTRY)
					core->at_entry = gp_load(desc + i + 8, 8);
		}
	}
	return NULL;
}

gp_error *gp_core_open(const char *path, struct gp_core *ret,
		       struct gp_memory_layer *layer)
{
	gp_error *err;
	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	ret->path = strdup(path);
	if (!ret->path)
		return &gp_error_nomem;
	err = gp_map_file(path, "core file", &ret->fd, &ret->map, &ret->size);
	if (err)
		goto fail;
	struct stat st;
	if (fstat(ret->fd, &st) == 0)
		ret->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
				st.st_mtim.tv_nsec;
	elf_version(EV_CURRENT);
	Elf *elf = elf_memory((char *)ret->map, ret->size);
	GElf_Ehdr ehdr;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "%s is not a core file (not ELF)", path);
		goto fail_elf;
	}
	if (ehdr.e_type != ET_CORE) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "%s is not a core file (ELF type %u)", path,
				      ehdr.e_type);
		goto fail_elf;
	}
	/* The machine is checked against the executable's by the caller,
	 * first; the notes' layout is the architecture's. */
	ret->machine = ehdr.e_machine;
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr.e_ident[EI_DATA] != ELFDATA2LSB) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "core file %s is of a %s %s program; goparked reads 64-bit little-endian ones",
				      path,
				      ehdr.e_ident[EI_CLASS] == ELFCLASS32 ?
					      "32-bit" : "big-endian",
				      gp_machine_name(ehdr.e_machine));
		goto fail_elf;
	}
	if (!(ret->arch = gp_arch_find(ehdr.e_machine))) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "core file %s is of a linux/%s program; goparked reads %s cores",
				      path, gp_machine_name(ehdr.e_machine),
				      gp_arch_supported_names());
		goto fail_elf;
	}
	size_t nphdr;
	if (elf_getphdrnum(elf, &nphdr) < 0 || nphdr == 0) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "core file %s has no program headers",
				      path);
		goto fail_elf;
	}
	uint64_t need = 0;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			err = gp_error_create(GP_ERROR_FORMAT,
					      "core file %s: corrupt program header %zu",
					      path, i);
			goto fail_elf;
		}
		if (ph.p_offset + ph.p_filesz < ph.p_offset) {
			err = gp_error_create(GP_ERROR_FORMAT,
					      "core file %s: corrupt program header %zu",
					      path, i);
			goto fail_elf;
		}
		if (ph.p_filesz && ph.p_offset + ph.p_filesz > need)
			need = ph.p_offset + ph.p_filesz;
		if (ph.p_offset + ph.p_filesz > ret->size)
			continue; /* reported as truncated below */
		if (ph.p_type == PT_NOTE) {
			if ((err = read_notes(ret, elf, &ph)))
				goto fail_elf;
		} else if (ph.p_type == PT_LOAD && ph.p_filesz) {
			struct gp_segment seg = {
				.start = ph.p_vaddr,
				.end = ph.p_vaddr + ph.p_memsz,
				.data = ret->map + ph.p_offset,
				.avail = ph.p_filesz < ph.p_memsz ?
						 ph.p_filesz : ph.p_memsz,
			};
			if (seg.end < seg.start)
				continue;
			if ((err = gp_memory_layer_add(layer, &seg)))
				goto fail_elf;
		}
	}
	if (need > ret->size) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "core file %s is truncated: %zu of %llu bytes",
				      path, ret->size, (unsigned long long)need);
		goto fail_elf;
	}
	if (!ret->nthreads) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "core file %s has no threads", path);
		goto fail_elf;
	}
	gp_memory_layer_sort(layer);
	layer->fd = ret->fd;
	layer->base = ret->map;
	elf_end(elf);
	return NULL;
fail_elf:
	if (elf)
		elf_end(elf);
fail:
	gp_core_close(ret);
	return err;
}

void gp_core_close(struct gp_core *core)
{
	if (core->map)
		munmap((void *)core->map, core->size);
	if (core->fd >= 0)
		close(core->fd);
	free(core->path);
	free(core->threads);
	for (size_t i = 0; i < core->nfiles; i++)
		free(core->files[i].path);
	free(core->files);
	memset(core, 0, sizeof(*core));
	core->fd = -1;
}
