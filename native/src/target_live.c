/*
 * Live processes: stop every thread with PTRACE_SEIZE + PTRACE_INTERRUPT,
 * read /proc/PID/mem, always detach. Not implemented yet.
 */
#include "internal.h"

GP_EXPORT gp_error *gp_program_from_pid(int pid, const char *exe_path,
					uint32_t flags, gp_program **ret)
{
	(void)exe_path;
	(void)flags;
	(void)ret;
	return gp_error_create(GP_ERROR_UNSUPPORTED,
			       "attaching to live processes (pid %d) is not implemented yet",
			       pid);
}

GP_EXPORT gp_error *gp_program_resume(gp_program *prog)
{
	return gp_live_detach(prog);
}

gp_error *gp_live_detach(struct gp_program *prog)
{
	(void)prog;
	return NULL;
}
