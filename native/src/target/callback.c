/*
 * Memory supplied by the host: a debugger on a remote target (gdbserver,
 * lldb-server) has no /proc here, only its own memory reads. The
 * executable is local; its read-only segments are read from the file and
 * everything else through the callback (see live_read in live.c).
 */
#include <stdlib.h>

#include "target/target.h"

gp_error *gp_callback_program_open(const char *exe_path,
				   gp_read_memory_fn *read, void *arg,
				   struct gp_program **ret)
{
	if (!exe_path || !read || !ret)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "an executable and a read callback are needed");
	struct gp_live *live = calloc(1, sizeof(*live));
	if (!live)
		return &gp_error_nomem;
	live->mode = GP_LIVE_CALLBACK;
	live->memfd = -1;
	live->read_cb = read;
	live->read_cb_arg = arg;
	/* The host's clock is not the target's: no "now" (live_now 0). */
	return gp_live_program_open(exe_path, live, ret);
}
