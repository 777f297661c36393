/*
 * C frames: a thread's stack where Go's pclntab knows nothing (code cgo
 * compiled into the executable, libc), unwound and symbolised by libdw.
 *
 * libdw unwinds with the target's own memory and registers (its
 * Dwfl_Thread_Callbacks: our reader, never ptrace or the core again) and
 * the call frame information of the modules reported to it: the
 * executable (at its load bias) and the files a kernel core lists in its
 * NT_FILE note, or a live process in /proc/PID/maps (libc and the other
 * shared objects, read from where they were mapped; a qemu-user core
 * lists none). Without a module's
 * CFI the architecture's frame-pointer fallback goes on. Names come from
 * each module's symbol table (.symtab, else .dynsym) and lines from its
 * DWARF, when it has them: a frame without either keeps its pc.
 */
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/target.h"

struct unwind {
	const struct gp_program *prog;
	uint64_t tid;
	const uint64_t *regs;
	Dwfl *dwfl;
	struct gp_cframe_info *frames;
	size_t max, n;
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	struct unwind *u = arg;
	if (*thread_argp)
		return 0;
	*thread_argp = u;
	return (pid_t)u->tid;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			void *arg)
{
	(void)dwfl;
	struct unwind *u = arg;
	uint64_t v;
	gp_error *err = gp_memory_read_u64(&u->prog->mem, addr, &v);
	if (err) {
		gp_error_destroy(err);
		return false;
	}
	*result = v;
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct unwind *u = thread_arg;
	const struct gp_arch *a = u->prog->exe.arch;
	Dwarf_Word regs[GP_MAX_REGS];
	for (uint8_t i = 0; i < a->ndwarf; i++)
		regs[i] = u->regs[a->dwarf_regs[i]];
	if (!dwfl_thread_state_registers(thread, 0, a->ndwarf, regs))
		return false;
	dwfl_thread_state_register_pc(thread, u->regs[a->reg_pc]);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_callbacks = {
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct unwind *u = arg;
	Dwarf_Addr pc;
	bool activation;
	if (u->n >= u->max || !dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	/* a return address looks up the call before it */
	Dwarf_Addr at = activation || !pc ? pc : pc - 1;
	struct gp_func fn;
	if (u->prog->pcln && gp_pclntab_find_func(u->prog->pcln, at, &fn))
		return DWARF_CB_ABORT;  /* Go code: the pclntab's frames go on */
	struct gp_cframe_info *f = &u->frames[u->n++];
	memset(f, 0, sizeof(*f));
	f->pc = pc;
	Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, at);
	if (!mod)
		return DWARF_CB_OK;
	const char *mname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL,
					     NULL, NULL);
	copy(f->module, sizeof(f->module), mname);
	copy(f->func, sizeof(f->func), dwfl_module_addrname(mod, at));
	Dwfl_Line *line = dwfl_module_getsrc(mod, at);
	int lineno = 0;
	const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL,
						NULL) : NULL;
	copy(f->file, sizeof(f->file), file);
	f->line = lineno > 0 ? (uint32_t)lineno : 0;
	return DWARF_CB_OK;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* A live process's file mappings at offset 0 (/proc/PID/maps), as a
 * core's NT_FILE gives them; NULL if unreadable. */
static struct gp_file_map *live_files(const struct gp_program *prog,
				      size_t *ret_n)
{
	*ret_n = 0;
	if (!prog->live)
		return NULL;
	char path[64], line[4352];
	snprintf(path, sizeof(path), "/proc/%d/maps", prog->live->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct gp_file_map *files = NULL;
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off;
		int name = 0;
		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &lo, &hi, &off,
			   &name) != 3 || !name || line[name] != '/' || off)
			continue;
		line[strcspn(line, "\n")] = 0;
		struct gp_file_map m = { .start = lo, .end = hi,
					 .path = strdup(line + name) };
		if (!m.path || gp_grow((void **)&files, &cap, *ret_n + 1,
				       sizeof(*files))) {
			free(m.path);
			break;
		}
		files[(*ret_n)++] = m;
	}
	fclose(f);
	return files;
}

/* The executable and the files mapped with it: the core's NT_FILE note,
 * or a live process's maps. */
static void report_modules(const struct gp_program *prog, Dwfl *dwfl)
{
	const struct gp_exe *exe = &prog->exe;
	size_t nlive;
	struct gp_file_map *live = live_files(prog, &nlive);
	const struct gp_file_map *files = live ? live : prog->core.files;
	size_t nfiles = live ? nlive : prog->core.nfiles;
	dwfl_report_begin(dwfl);
	dwfl_report_elf(dwfl, base_name(exe->path), exe->path, -1, exe->bias,
			true);
	for (size_t i = 0; i < nfiles; i++) {
		const struct gp_file_map *f = &files[i];
		/* the mapping of each file's start; the executable is in */
		if (f->offset || !f->path[0] || !strcmp(f->path, exe->path) ||
		    access(f->path, R_OK))
			continue;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = !files[k].offset && !strcmp(files[k].path, f->path);
		if (!seen)
			dwfl_report_elf(dwfl, base_name(f->path), f->path, -1,
					f->start, true);
	}
	dwfl_report_end(dwfl, NULL, NULL);
	for (size_t i = 0; i < nlive; i++)
		free(live[i].path);
	free(live);
}

gp_error *gp_c_frames(const struct gp_program *prog, uint64_t tid,
		      const uint64_t *regs, struct gp_cframe_info *frames,
		      size_t max, size_t *ret_n)
{
	*ret_n = 0;
	struct unwind u = { .prog = prog, .tid = tid, .regs = regs,
			    .frames = frames, .max = max };
	if (!prog->exe.arch || !prog->exe.arch->ndwarf)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "no C unwinding for %s",
				       gp_machine_name(prog->exe.machine));
	Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);
	if (!dwfl)
		return &gp_error_nomem;
	u.dwfl = dwfl;
	report_modules(prog, dwfl);
	/* the first module's ELF names the architecture for libdw's
	 * backend (cross-architecture: an arm64 core on an amd64 host) */
	if (!dwfl_attach_state(dwfl, NULL, (pid_t)tid, &thread_callbacks, &u)) {
		dwfl_end(dwfl);
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "libdw cannot unwind this target: %s",
				       dwfl_errmsg(-1));
	}
	/* an error past the first frames ends the stack where libdw could
	 * go no further: what was unwound stands */
	dwfl_getthread_frames(dwfl, (pid_t)tid, frame_cb, &u);
	dwfl_end(dwfl);
	*ret_n = u.n;
	return NULL;
}
