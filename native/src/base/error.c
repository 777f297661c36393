/* Error objects: NULL is success; the out-of-memory error is static. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "base/base.h"

struct gp_error gp_error_nomem = {
	.code = GP_ERROR_NO_MEMORY,
	.errnum = ENOMEM,
	.message = "out of memory",
};

static gp_error *error_vcreate(int code, int errnum, const char *fmt,
			       va_list ap)
{
	gp_error *err = calloc(1, sizeof(*err));
	if (!err)
		return &gp_error_nomem;
	err->code = code;
	err->errnum = errnum;
	if (vasprintf(&err->message, fmt, ap) < 0) {
		free(err);
		return &gp_error_nomem;
	}
	if (errnum) {
		char *full;
		if (asprintf(&full, "%s: %s", err->message,
			     strerror(errnum)) >= 0) {
			free(err->message);
			err->message = full;
		}
	}
	return err;
}

gp_error *gp_error_create(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gp_error *err = error_vcreate(code, 0, fmt, ap);
	va_end(ap);
	return err;
}

gp_error *gp_error_os(int errnum, const char *fmt, ...)
{
	int code = GP_ERROR_OS;
	if (errnum == EACCES || errnum == EPERM)
		code = GP_ERROR_PERMISSION;
	else if (errnum == ENOMEM)
		code = GP_ERROR_NO_MEMORY;
	va_list ap;
	va_start(ap, fmt);
	gp_error *err = error_vcreate(code, errnum, fmt, ap);
	va_end(ap);
	return err;
}

gp_error *gp_error_fault(uint64_t address, size_t size)
{
	gp_error *err = gp_error_create(GP_ERROR_FAULT,
					"cannot read %zu bytes at 0x%" PRIx64,
					size, address);
	if (err != &gp_error_nomem)
		err->address = address;
	return err;
}

gp_error *gp_error_wrap(gp_error *err, const char *fmt, ...)
{
	if (!err || err == &gp_error_nomem)
		return err;
	char *prefix;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (r < 0)
		return err;
	char *full;
	if (asprintf(&full, "%s: %s", prefix, err->message) >= 0) {
		free(err->message);
		err->message = full;
	}
	free(prefix);
	return err;
}

GP_EXPORT int gp_error_code(const gp_error *err)
{
	return err ? err->code : 0;
}

GP_EXPORT const char *gp_error_message(const gp_error *err)
{
	return err ? err->message : "";
}

GP_EXPORT int gp_error_errno(const gp_error *err)
{
	return err ? err->errnum : 0;
}

GP_EXPORT uint64_t gp_error_address(const gp_error *err)
{
	return err ? err->address : 0;
}

GP_EXPORT void gp_error_destroy(gp_error *err)
{
	if (!err || err == &gp_error_nomem)
		return;
	free(err->message);
	free(err);
}

GP_EXPORT int gp_abi_version(void)
{
	return GP_ABI_VERSION;
}
