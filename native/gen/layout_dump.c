/*
 * layout_dump: prints what the engine knows about one Go executable, in a
 * line format that native/gen/gen_tables.py and tests/test_layout.py,
 * tests/test_stripped.py read. Linked with the engine's own sources, so
 * what it prints is what the engine resolves.
 *
 *   layout_dump decls          the declarations of fields.def
 *   layout_dump dwarf EXE      every declaration resolved from DWARF, in
 *                              and out of its declared versions
 *   layout_dump table EXE      the built-in table for EXE's Go release
 *   layout_dump symbols EXE    runtime variables from the symbol table
 *   layout_dump stripped EXE   runtime variables found without symbols
 *
 * Output lines:
 *   version go1.21.13 121
 *   decl field G_GOID runtime.g goid 119 0
 *   type G 408                 (or "type G absent")
 *   field G_GOID 152 8         (or "field G_PARENTGOID absent")
 *   var ALLGS 0x5a3f20 24      (address 0 = not found)
 *   error MESSAGE              (exit status 1)
 */
#include <stdio.h>
#include <string.h>

#include "binary/binary.h"

static int fail(gp_error *err)
{
	printf("error %s\n", gp_error_message(err));
	gp_error_destroy(err);
	return 1;
}

static void print_decls(void)
{
	for (size_t i = 0; i < GP_NUM_TYPES; i++) {
		const struct gp_type_decl *d = &gp_type_decls[i];
		printf("decl type %s %s - %d %d\n", d->name, d->type, d->since,
		       d->until);
	}
	for (size_t i = 0; i < GP_NUM_FIELDS; i++) {
		const struct gp_field_decl *d = &gp_field_decls[i];
		printf("decl field %s %s %s %d %d\n", d->name, d->type,
		       d->path, d->since, d->until);
	}
	for (size_t i = 0; i < GP_NUM_VARS; i++) {
		const struct gp_var_decl *d = &gp_var_decls[i];
		printf("decl var %s %s - %d %d\n", d->name, d->sym, d->since,
		       d->until);
	}
}

static void print_layout(const struct gp_layout *l, bool vars)
{
	for (size_t i = 0; i < GP_NUM_TYPES; i++) {
		if (l->type_size[i] == GP_ABSENT)
			printf("type %s absent\n", gp_type_decls[i].name);
		else
			printf("type %s %lld\n", gp_type_decls[i].name,
			       (long long)l->type_size[i]);
	}
	for (size_t i = 0; i < GP_NUM_FIELDS; i++) {
		if (l->field_off[i] == GP_ABSENT)
			printf("field %s absent\n", gp_field_decls[i].name);
		else
			printf("field %s %d %d\n", gp_field_decls[i].name,
			       l->field_off[i], l->field_size[i]);
	}
	if (!vars)
		return;
	for (size_t i = 0; i < GP_NUM_VARS; i++)
		printf("var %s 0x%llx %llu\n", gp_var_decls[i].name,
		       (unsigned long long)l->var_addr[i],
		       (unsigned long long)l->var_size[i]);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "decls")) {
		print_decls();
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr,
			"usage: %s decls | {dwarf|table|symbols|stripped} EXE\n",
			argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	struct gp_exe exe;
	gp_error *err = gp_exe_open(argv[2], &exe);
	if (err)
		return fail(err);
	printf("version %s %d\n", exe.go_version ? exe.go_version : "?",
	       gp_exe_gover(&exe));
	printf("machine %u\n", exe.machine);
	static struct gp_layout layout;
	int status = 0;
	if (!strcmp(mode, "dwarf")) {
		if ((err = gp_layout_probe_dwarf(&exe, &layout)))
			status = fail(err);
		else
			print_layout(&layout, true);
	} else if (!strcmp(mode, "table")) {
		if ((err = gp_layout_from_table(&exe, &layout)))
			status = fail(err);
		else
			print_layout(&layout, false);
	} else if (!strcmp(mode, "symbols")) {
		for (size_t i = 0; i < GP_NUM_VARS; i++) {
			const struct gp_symbol *s =
				gp_exe_symbol(&exe, gp_var_decls[i].sym);
			printf("var %s 0x%llx %llu\n", gp_var_decls[i].name,
			       (unsigned long long)(s ? s->value : 0),
			       (unsigned long long)(s ? s->size : 0));
		}
	} else if (!strcmp(mode, "stripped")) {
		struct gp_pclntab *tab;
		if ((err = gp_pclntab_open(&exe, NULL, NULL, &tab))) {
			status = fail(err);
		} else {
			/* the table gives the offsets stripped.c checks
			 * with (m.tls, schedt.lock) */
			err = gp_layout_from_table(&exe, &layout);
			if (!err)
				err = gp_stripped_find_vars(&exe, tab,
							    &layout);
			if (err)
				status = fail(err);
			else
				for (size_t i = 0; i < GP_NUM_VARS; i++)
					printf("var %s 0x%llx %llu\n",
					       gp_var_decls[i].name,
					       (unsigned long long)
						       layout.var_addr[i],
					       (unsigned long long)
						       layout.var_size[i]);
			gp_pclntab_destroy(tab);
		}
	} else {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], mode);
		status = 2;
	}
	gp_exe_close(&exe);
	return status;
}
