/*
 * Built-in runtime layouts for executables without DWARF, one per Go minor
 * release, generated from the DWARF of each toolchain by
 * native/gen/gen_tables.py (tables/layout_tables_data.h, committed).
 * fields.def drives both this and the DWARF path, and tests/test_layout.py
 * checks that every table still equals the DWARF of its release.
 *
 * Tables are per minor release: Go's patch releases take fixes only, and
 * the runtime's struct layouts have not changed within one (checked where
 * two patch releases were at hand; see README.rst). One thing that does
 * change within a release is the number of wait reasons (1.23 patches
 * added one); stripped.c reads it from the binary's code, and nwaitreasons
 * here is only a fallback.
 */
#include <stdio.h>
#include <string.h>

#include "binary/binary.h"

struct gp_layout_table {
	uint16_t machine;             /* ELF e_machine: layouts differ (arm64's
				       * runtime.p, mheap, semTable: cache
				       * line padding) */
	int gover;                    /* GP_GOVER() */
	const char *generated_from;   /* "go1.21.13" */
	uint32_t nwaitreasons;        /* len(runtime.waitReasonStrings) */
	int64_t types[GP_NUM_TYPES];  /* 0 = not generated, GP_ABSENT */
	struct {
		int32_t off, size;    /* size 0 = not generated */
	} fields[GP_NUM_FIELDS];
};

static const struct gp_layout_table tables[] = {
#include "tables/layout_tables_data.h"
};

static int newest_of(uint16_t machine)
{
	int newest = 0;
	for (size_t i = 0; i < GP_ARRAY_SIZE(tables); i++)
		if (tables[i].machine == machine && tables[i].gover > newest)
			newest = tables[i].gover;
	return newest;
}

int32_t gp_layout_table_field_off(uint16_t machine, int gover,
				  enum gp_field_id f)
{
	for (size_t i = 0; i < GP_ARRAY_SIZE(tables); i++)
		if (tables[i].gover == gover && tables[i].machine == machine)
			return tables[i].fields[f].size > 0 ?
				       tables[i].fields[f].off :
				       GP_ABSENT;
	return GP_ABSENT;
}

static int oldest(void)
{
	int v = 0;
	for (size_t i = 0; i < GP_ARRAY_SIZE(tables); i++)
		if (!v || tables[i].gover < v)
			v = tables[i].gover;
	return v;
}

/* An entry that fields.def declares for this release but the table lacks:
 * fields.def changed after the tables were generated. */
static gp_error *stale(const struct gp_exe *exe, const struct gp_layout_table *t,
		       const char *what, const char *name)
{
	return gp_error_create(GP_ERROR_UNSUPPORTED,
			       "%s has no DWARF and the built-in layout for Go %d.%d (from %s) lacks %s %s; "
			       "regenerate it with native/gen/gen_tables.py",
			       exe->path, t->gover / 100, t->gover % 100,
			       t->generated_from, what, name);
}

gp_error *gp_layout_from_table(const struct gp_exe *exe,
			       struct gp_layout *ret)
{
	const char *ver = exe->go_version ? exe->go_version : "an unknown Go version";
	int gover = gp_exe_gover(exe);
	/* One table per machine and release: arm64 lays out runtime.p,
	 * mheap and the semaphore table differently (cpu.CacheLinePadSize
	 * 128 from 1.20: ../shared/ARM64.md section 5). */
	int newest = newest_of(exe->machine);
	if (!newest)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s has no DWARF, and goparked has no built-in layouts for linux/%s; "
				       "build it without -ldflags=-w (keep DWARF)",
				       exe->path, exe->arch ? exe->arch->name : "?");
	if (!exe->go_version || exe->go_major != 1 || exe->go_minor <= 0)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s has no DWARF and its Go version is unknown (no .go.buildinfo); "
				       "goparked needs the version to choose a built-in layout: "
				       "use a build with DWARF (without -ldflags=-w)",
				       exe->path);
	if (gover < oldest())
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s was built with %s; goparked reads Go %d.%d and newer",
				       exe->path, ver, oldest() / 100,
				       oldest() % 100);
	if (gover > newest)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s was built with %s and has no DWARF; this goparked has built-in layouts up to Go %d.%d only. "
				       "Build it without -ldflags=-w (keep DWARF), or use a newer goparked",
				       exe->path, ver, newest / 100, newest % 100);
	const struct gp_layout_table *t = NULL;
	for (size_t i = 0; i < GP_ARRAY_SIZE(tables); i++)
		if (tables[i].gover == gover && tables[i].machine == exe->machine)
			t = &tables[i];
	if (!t)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s was built with %s and has no DWARF, and goparked has no built-in layout for that release; "
				       "build it without -ldflags=-w (keep DWARF)",
				       exe->path, ver);

	for (size_t i = 0; i < GP_NUM_TYPES; i++) {
		const struct gp_type_decl *d = &gp_type_decls[i];
		bool want = gp_decl_in_version(d->since, d->until, gover);
		if (want && t->types[i] <= 0)
			return stale(exe, t, "type", d->type);
		ret->type_size[i] = want ? t->types[i] : GP_ABSENT;
	}
	for (size_t i = 0; i < GP_NUM_FIELDS; i++) {
		const struct gp_field_decl *d = &gp_field_decls[i];
		bool want = gp_decl_in_version(d->since, d->until, gover);
		if (want && (t->fields[i].size <= 0 || t->fields[i].off < 0)) {
			char name[128];
			snprintf(name, sizeof(name), "%s.%s", d->type, d->path);
			return stale(exe, t, "field", name);
		}
		ret->field_off[i] = want ? t->fields[i].off : GP_ABSENT;
		ret->field_size[i] = want ? t->fields[i].size : GP_ABSENT;
	}
	memset(ret->var_addr, 0, sizeof(ret->var_addr));
	memset(ret->var_size, 0, sizeof(ret->var_size));
	/* -w alone keeps the symbol table; stripped.c finds the rest. */
	for (size_t i = 0; i < GP_NUM_VARS; i++) {
		const struct gp_symbol *sym =
			gp_exe_symbol(exe, gp_var_decls[i].sym);
		if (sym && gp_decl_in_version(gp_var_decls[i].since,
					      gp_var_decls[i].until, gover)) {
			ret->var_addr[i] = sym->value;
			ret->var_size[i] = sym->size;
		}
	}
	if (!ret->var_size[GP_V_WAITREASONSTRINGS])
		ret->var_size[GP_V_WAITREASONSTRINGS] =
			(uint64_t)t->nwaitreasons * 16;
	return NULL;
}
