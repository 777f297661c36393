/*
 * Opening a program: the executable, the target's memory (a core laid over
 * the executable), the runtime layout and the pclntab.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "target/target.h"

/* Oldest Go release whose runtime we read. */
#define GP_MIN_GOVER GP_GOVER(1, 19)

/*
 * A core belongs to the executable when the read-only bytes they share are
 * equal (kernel cores keep the first page of text, which holds the Go build
 * ID; gcore keeps all of text; qemu-user keeps no text but all of rodata),
 * and when the core holds the executable's runtime variables (the data
 * segment is always dumped). All of what they share is compared: the
 * first 64 KiB of an arm64 build's rodata are the same in its PIE and
 * non-PIE builds, and a qemu core has nothing else to tell them apart.
 */
static gp_error *check_core_matches(struct gp_program *prog)
{
	const struct gp_memory_layer *core = &prog->mem.layers[0];
	const struct gp_exe *exe = &prog->exe;
	for (size_t i = 0; i < exe->nloads; i++) {
		const struct gp_segment *es = &exe->loads[i];
		if (es->writable)
			continue;
		for (size_t j = 0; j < core->nsegs; j++) {
			const struct gp_segment *cs = &core->segs[j];
			uint64_t lo = cs->start > es->start ? cs->start : es->start;
			uint64_t hi = cs->start + cs->avail;
			if (hi > es->start + es->avail)
				hi = es->start + es->avail;
			for (uint64_t at = lo; at < hi; at += 65536) {
				uint64_t n = hi - at > 65536 ? 65536 : hi - at;
				/* From the file itself: libelf rewrites
				 * section headers in our private mapping (Go
				 * puts them in the first page) when it
				 * decompresses DWARF. */
				uint8_t buf[65536];
				uint64_t foff = (uint64_t)(es->data - exe->map) +
						(at - es->start);
				ssize_t r = pread(exe->fd, buf, n, (off_t)foff);
				if (r != (ssize_t)n)
					return gp_error_os(errno, "cannot read %s",
							   exe->path);
				const uint8_t *c = cs->data + (at - cs->start);
				if (!memcmp(c, buf, n))
					continue;
				size_t k = 0;
				while (c[k] == buf[k])
					k++;
				return gp_error_create(GP_ERROR_MISMATCH,
						       "core file %s does not belong to executable %s (their read-only bytes differ at 0x%llx)",
						       prog->core.path, exe->path,
						       (unsigned long long)(at + k));
			}
		}
	}
	static const enum gp_var_id needed[] = { GP_V_ALLGLEN, GP_V_ALLGS,
						 GP_V_ALLM };
	for (size_t i = 0; i < GP_ARRAY_SIZE(needed); i++) {
		uint64_t addr = prog->layout.var_addr[needed[i]];
		struct gp_memory top = { .layers = { *core }, .nlayers = 1 };
		uint64_t v;
		gp_error *err = gp_memory_read_u64(&top, addr, &v);
		if (err) {
			gp_error_destroy(err);
			return gp_error_create(GP_ERROR_MISMATCH,
					       "core file %s does not belong to executable %s (no memory at its %s)",
					       prog->core.path, exe->path,
					       gp_var_decls[needed[i]].sym);
		}
	}
	return NULL;
}

gp_error *gp_program_init_runtime(struct gp_program *prog)
{
	gp_error *err;
	struct gp_exe *exe = &prog->exe;
	/* A PIE must have been moved to where the target loaded it. */
	if (exe->elf_type == ET_DYN && !exe->relocated)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s is position-independent (-buildmode=pie) and this target does not say where it was loaded",
				       exe->path);
	prog->gover = gp_exe_gover(exe);
	prog->go_version = exe->go_version;
	if (prog->gover < GP_MIN_GOVER)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s was built with %s; goparked reads Go 1.19 and newer",
				       exe->path, exe->go_version);
	if (exe->has_dwarf) {
		err = gp_layout_from_dwarf(exe, &prog->layout);
		prog->flags |= GP_PROGRAM_HAS_DWARF;
	} else {
		err = gp_layout_from_table(exe, &prog->layout);
		prog->flags |= GP_PROGRAM_LAYOUT_FROM_TABLE;
	}
	if (err)
		return err;
	if (exe->nsymbols)
		prog->flags |= GP_PROGRAM_HAS_SYMTAB;
	/* No symbol table (-ldflags=-s, strip): find the runtime's variables
	 * from the code of the functions that use them (stripped.c). */
	bool missing = false;
	for (size_t i = 0; i < GP_NUM_VARS; i++)
		if (!prog->layout.var_addr[i] &&
		    gp_decl_in_version(gp_var_decls[i].since,
				       gp_var_decls[i].until, prog->gover))
			missing = true;
	if (missing) {
		struct gp_pclntab *tab;
		if ((err = gp_pclntab_open(exe, gp_memory_read_fn, &prog->mem, &tab)))
			return err;
		err = gp_stripped_find_vars(exe, tab, &prog->layout);
		gp_pclntab_destroy(tab);
		if (err)
			return err;
	}
	for (size_t i = 0; i < GP_NUM_VARS; i++) {
		const struct gp_var_decl *d = &gp_var_decls[i];
		if (!prog->layout.var_addr[i] &&
		    gp_decl_in_version(d->since, d->until, prog->gover) &&
		    (i == GP_V_ALLGS || i == GP_V_ALLGLEN || i == GP_V_ALLM))
			return gp_error_create(GP_ERROR_UNSUPPORTED,
					       "%s: cannot find %s%s", exe->path,
					       d->sym,
					       exe->nsymbols ? "" :
					       " (no symbol table, and the runtime code that uses it is not what goparked knows)");
	}
	return NULL;
}

/* A core changes never and runs never: it only reads. */
static const struct gp_target_ops core_ops = { .kind = "core" };

gp_error *gp_target_copy(struct gp_program *prog, struct gp_read_plan *plan,
			 unsigned round)
{
	return prog->ops->copy ? prog->ops->copy(prog, plan, round) : NULL;
}

void gp_target_reserve(struct gp_program *prog, unsigned round, size_t bytes,
		       size_t nranges)
{
	if (prog->ops->reserve)
		prog->ops->reserve(prog, round, bytes, nranges);
}

gp_error *gp_target_gathered(struct gp_program *prog)
{
	return prog->ops->gathered ? prog->ops->gathered(prog) : NULL;
}

gp_error *gp_target_walked(struct gp_program *prog)
{
	return prog->ops->walked ? prog->ops->walked(prog) : NULL;
}

GP_EXPORT gp_error *gp_program_resume(gp_program *prog)
{
	if (!prog || !prog->ops->resume)
		return NULL;
	return prog->ops->resume(prog);
}

gp_error *gp_core_program_open(const char *core_path, const char *exe_path,
			       struct gp_program **ret)
{
	gp_error *err;
	if (!core_path || !exe_path || !ret)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "a core file and an executable are needed");
	struct gp_program *prog = calloc(1, sizeof(*prog));
	if (!prog)
		return &gp_error_nomem;
	prog->core.fd = -1;
	prog->ops = &core_ops;
	prog->flags = GP_PROGRAM_IS_CORE;
	if ((err = gp_exe_open(exe_path, &prog->exe)))
		goto fail;
	prog->mem.nlayers = 2;
	if ((err = gp_core_open(core_path, &prog->core, &prog->mem.layers[0])))
		goto fail;
	if (prog->core.machine != prog->exe.machine) {
		err = gp_error_create(GP_ERROR_MISMATCH,
				      "core file %s is of a linux/%s program but executable %s is linux/%s: give the executable the core came from",
				      core_path,
				      gp_machine_name(prog->core.machine),
				      exe_path, gp_machine_name(prog->exe.machine));
		goto fail;
	}
	char what[4200];
	snprintf(what, sizeof(what), "core file %s", core_path);
	uint64_t bias;
	if ((err = gp_exe_bias_from_entry(&prog->exe, prog->core.at_entry,
					  what, &bias)) ||
	    (err = gp_exe_relocate(&prog->exe, bias)))
		goto fail;
	prog->mem.layers[1].segs = prog->exe.loads;
	prog->mem.layers[1].nsegs = prog->exe.nloads;
	prog->mem.layers[1].borrowed = true;
	prog->mem.layers[1].fd = -1;
	if ((err = gp_program_init_runtime(prog)))
		goto fail;
	if ((err = check_core_matches(prog)))
		goto fail;
	prog->threads = prog->core.threads;
	prog->nthreads = prog->core.nthreads;
	if ((err = gp_pclntab_open(&prog->exe, gp_memory_read_fn, &prog->mem,
				   &prog->pcln)))
		goto fail;
	*ret = prog;
	return NULL;
fail:
	gp_program_destroy(prog);
	return err;
}

GP_EXPORT void gp_program_destroy(gp_program *prog)
{
	if (!prog)
		return;
	if (prog->ops && prog->ops->close)
		prog->ops->close(prog);
	if (prog->pcln)
		gp_pclntab_destroy(prog->pcln);
	gp_memory_deinit(&prog->mem);
	gp_core_close(&prog->core);
	gp_exe_close(&prog->exe);
	free(prog);
}

GP_EXPORT const char *gp_program_go_version(const gp_program *prog)
{
	return prog->go_version ? prog->go_version : "";
}

GP_EXPORT const char *gp_program_exe_path(const gp_program *prog)
{
	return prog->exe.path ? prog->exe.path : "";
}

GP_EXPORT uint32_t gp_program_flags(const gp_program *prog)
{
	return prog->flags;
}

GP_EXPORT uint64_t gp_program_pause_ns(const gp_program *prog)
{
	return prog->pause_ns;
}

GP_EXPORT gp_error *gp_program_read(gp_program *prog, uint64_t address,
				    void *buf, size_t size)
{
	return gp_memory_read(&prog->mem, address, buf, size);
}
