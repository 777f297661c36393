/*
 * Built-in layouts for executables without DWARF, one per Go release,
 * generated from the DWARF of each toolchain. Until they exist, a binary
 * without DWARF is refused with a clear message.
 */
#include "internal.h"

gp_error *gp_layout_from_table(const struct gp_exe *exe,
			       struct gp_layout *ret)
{
	(void)ret;
	return gp_error_create(GP_ERROR_NO_DWARF,
			       "%s has no DWARF debug information (stripped, %s); "
			       "rebuild without -ldflags=-w, or keep an unstripped copy of the same build",
			       exe->path, exe->go_version);
}
