/*
 * The declared runtime fields (fields.def) and their resolution from DWARF.
 * Built-in tables for binaries without DWARF live in layout_tables.c.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/binary.h"

const struct gp_field_decl gp_field_decls[GP_NUM_FIELDS] = {
#define GP_FIELD(id, type, path, since, until) \
	[GP_F_##id] = { #id, type, path, since, until },
#define GP_TYPE(id, type, since, until)
#define GP_VAR(id, name, since, until)
#include "fields.def"
#undef GP_FIELD
#undef GP_TYPE
#undef GP_VAR
};

const struct gp_type_decl gp_type_decls[GP_NUM_TYPES] = {
#define GP_FIELD(id, type, path, since, until)
#define GP_TYPE(id, type, since, until) [GP_T_##id] = { #id, type, since, until },
#define GP_VAR(id, name, since, until)
#include "fields.def"
#undef GP_FIELD
#undef GP_TYPE
#undef GP_VAR
};

const struct gp_var_decl gp_var_decls[GP_NUM_VARS] = {
#define GP_FIELD(id, type, path, since, until)
#define GP_TYPE(id, type, since, until)
#define GP_VAR(id, name, since, until) [GP_V_##id] = { #id, name, since, until },
#include "fields.def"
#undef GP_FIELD
#undef GP_TYPE
#undef GP_VAR
};

/* The struct types named in the declarations, found in one pass. */
#define GP_MAX_WANTED 64

struct wanted {
	const char *names[GP_MAX_WANTED];
	Dwarf_Die dies[GP_MAX_WANTED];
	bool found[GP_MAX_WANTED];
	size_t n;
};

/* Its index in w (GP_MAX_WANTED when w is full). The declarations come
 * grouped by type: the last one added is tried first. */
static uint8_t want(struct wanted *w, const char *name)
{
	if (w->n && !strcmp(w->names[w->n - 1], name))
		return (uint8_t)(w->n - 1);
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->names[i], name))
			return (uint8_t)i;
	if (w->n == GP_MAX_WANTED)
		return GP_MAX_WANTED;
	w->names[w->n] = name;
	return (uint8_t)w->n++;
}

static Dwarf_Die *wanted_die(struct wanted *w, uint8_t i)
{
	return i < w->n && w->found[i] ? &w->dies[i] : NULL;
}

/* Struct type of a member, through typedefs. */
static bool member_struct(Dwarf_Die *member, Dwarf_Die *ret)
{
	Dwarf_Attribute attr;
	Dwarf_Die type;
	if (!dwarf_attr_integrate(member, DW_AT_type, &attr) ||
	    !dwarf_formref_die(&attr, &type))
		return false;
	if (dwarf_peel_type(&type, ret) != 0)
		return false;
	return dwarf_tag(ret) == DW_TAG_structure_type;
}

/* Finds "a.b.c" in a struct; offset and size of the last member. */
static bool find_member(Dwarf_Die *st, const char *path, int64_t *ret_off,
			int64_t *ret_size)
{
	Dwarf_Die cur = *st;
	int64_t off = 0;
	const char *p = path;
	for (int depth = 0; depth < 8; depth++) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		Dwarf_Die child;
		bool found = false;
		if (dwarf_child(&cur, &child) == 0) {
			do {
				if (dwarf_tag(&child) != DW_TAG_member)
					continue;
				const char *name = dwarf_diename(&child);
				if (!name || strlen(name) != len ||
				    memcmp(name, p, len))
					continue;
				found = true;
				break;
			} while (dwarf_siblingof(&child, &child) == 0);
		}
		if (!found)
			return false;
		Dwarf_Attribute attr;
		Dwarf_Word loc;
		if (!dwarf_attr_integrate(&child, DW_AT_data_member_location,
					  &attr) ||
		    dwarf_formudata(&attr, &loc) != 0)
			return false;
		off += (int64_t)loc;
		if (!dot) {
			Dwarf_Die type;
			Dwarf_Word size;
			if (!dwarf_attr_integrate(&child, DW_AT_type, &attr) ||
			    !dwarf_formref_die(&attr, &type) ||
			    dwarf_aggregate_size(&type, &size) != 0)
				return false;
			*ret_off = off;
			*ret_size = (int64_t)size;
			return true;
		}
		if (!member_struct(&child, &cur))
			return false;
		p = dot + 1;
	}
	return false;
}

static bool type_required(const char *type, int gover)
{
	for (size_t i = 0; i < GP_NUM_TYPES; i++)
		if (!strcmp(gp_type_decls[i].type, type) &&
		    gp_decl_in_version(gp_type_decls[i].since,
				       gp_type_decls[i].until, gover))
			return true;
	return false;
}

static gp_error *dwarf_err(const struct gp_exe *exe, const char *what)
{
	return gp_error_create(GP_ERROR_FORMAT, "%s: cannot read DWARF (%s): %s",
			       exe->path, what, dwarf_errmsg(-1));
}

/*
 * every_version: resolve every declaration whatever its version range and
 * leave the missing ones GP_ABSENT without failing (native/gen and
 * tests/test_layout.py check the declared ranges against DWARF with it).
 */
static gp_error *layout_from_dwarf(const struct gp_exe *exe,
				   struct gp_layout *ret, bool every_version)
{
	gp_error *err = NULL;
	int gover = gp_exe_gover(exe);
	for (size_t i = 0; i < GP_NUM_FIELDS; i++)
		ret->field_off[i] = ret->field_size[i] = GP_ABSENT;
	for (size_t i = 0; i < GP_NUM_TYPES; i++)
		ret->type_size[i] = GP_ABSENT;
	memset(ret->var_addr, 0, sizeof(ret->var_addr));
	memset(ret->var_size, 0, sizeof(ret->var_size));

	struct wanted w = { .n = 0 };
	uint8_t fwant[GP_NUM_FIELDS], twant[GP_NUM_TYPES];
	for (size_t i = 0; i < GP_NUM_FIELDS; i++)
		fwant[i] = want(&w, gp_field_decls[i].type);
	for (size_t i = 0; i < GP_NUM_TYPES; i++)
		twant[i] = want(&w, gp_type_decls[i].type);

	Dwarf *dw = dwarf_begin_elf(exe->elf, DWARF_C_READ, NULL);
	if (!dw)
		return dwarf_err(exe, "no debug information");

	/* One pass over the top-level DIEs of every unit. */
	Dwarf_Off off = 0, next;
	size_t hsize;
	size_t nfound = 0;
	bool need_vars = false;
	for (size_t i = 0; i < GP_NUM_VARS; i++)
		if (!gp_exe_symbol(exe, gp_var_decls[i].sym))
			need_vars = true;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;
		if (!dwarf_offdie(dw, off + hsize, &cu))
			break;
		off = next;
		if (dwarf_child(&cu, &die) != 0)
			continue;
		do {
			int tag = dwarf_tag(&die);
			if (tag != DW_TAG_structure_type &&
			    tag != DW_TAG_typedef &&
			    !(need_vars && tag == DW_TAG_variable))
				continue;
			const char *name = dwarf_diename(&die);
			/* sync.* and internal/abi's types for the analyses */
			if (!name || (strncmp(name, "runtime.", 8) &&
				      strncmp(name, "sync.", 5) &&
				      strncmp(name, "internal/abi.", 13)))
				continue;
			if (tag == DW_TAG_variable) {
				for (size_t i = 0; i < GP_NUM_VARS; i++) {
					if (strcmp(gp_var_decls[i].sym, name))
						continue;
					Dwarf_Attribute attr;
					Dwarf_Op *expr;
					size_t nexpr;
					if (dwarf_attr(&die, DW_AT_location,
						       &attr) &&
					    dwarf_getlocation(&attr, &expr,
							      &nexpr) == 0 &&
					    nexpr == 1 &&
					    expr[0].atom == DW_OP_addr)
						ret->var_addr[i] =
							expr[0].number +
							exe->bias;
				}
				continue;
			}
			for (size_t i = 0; i < w.n; i++) {
				if (!w.found[i] && !strcmp(w.names[i], name)) {
					/* named non-struct types are typedefs */
					if (tag == DW_TAG_typedef &&
					    dwarf_peel_type(&die, &w.dies[i]) != 0)
						continue;
					if (tag != DW_TAG_typedef)
						w.dies[i] = die;
					w.found[i] = true;
					nfound++;
				}
			}
		} while (dwarf_siblingof(&die, &die) == 0);
		if (nfound == w.n && !need_vars)
			break;
	}

	for (size_t i = 0; i < GP_NUM_TYPES; i++) {
		const struct gp_type_decl *d = &gp_type_decls[i];
		Dwarf_Die *die = wanted_die(&w, twant[i]);
		Dwarf_Word size;
		if (die && dwarf_aggregate_size(die, &size) == 0)
			ret->type_size[i] = (int64_t)size;
		else if (!every_version &&
			 gp_decl_in_version(d->since, d->until, gover)) {
			err = gp_error_create(GP_ERROR_UNSUPPORTED,
					      "%s (%s): DWARF has no type %s",
					      exe->path, exe->go_version,
					      d->type);
			goto out;
		}
	}
	for (size_t i = 0; i < GP_NUM_FIELDS; i++) {
		const struct gp_field_decl *d = &gp_field_decls[i];
		if (!every_version &&
		    !gp_decl_in_version(d->since, d->until, gover))
			continue;
		Dwarf_Die *die = wanted_die(&w, fwant[i]);
		int64_t foff, fsize;
		/* The linker keeps only the types a program uses: a program
		 * without a sync.RWMutex has none in its DWARF, and then has
		 * none to look at either. A type the engine cannot do without
		 * is declared with GP_TYPE and required above. */
		if (!die && !type_required(d->type, gover))
			continue;
		if (!die || !find_member(die, d->path, &foff, &fsize)) {
			if (every_version)
				continue;
			err = gp_error_create(GP_ERROR_UNSUPPORTED,
					      "%s (%s): DWARF has no field %s.%s",
					      exe->path, exe->go_version,
					      d->type, d->path);
			goto out;
		}
		ret->field_off[i] = (int32_t)foff;
		ret->field_size[i] = (int32_t)fsize;
	}
	for (size_t i = 0; i < GP_NUM_VARS; i++) {
		const struct gp_symbol *sym =
			gp_exe_symbol(exe, gp_var_decls[i].sym);
		if (sym) {
			ret->var_addr[i] = sym->value;
			ret->var_size[i] = sym->size;
		}
	}
out:
	dwarf_end(dw);
	return err;
}

gp_error *gp_layout_from_dwarf(const struct gp_exe *exe,
			       struct gp_layout *ret)
{
	return layout_from_dwarf(exe, ret, false);
}

gp_error *gp_layout_probe_dwarf(const struct gp_exe *exe,
				struct gp_layout *ret)
{
	return layout_from_dwarf(exe, ret, true);
}

/* ------------------------------------------------------- local variables */

struct gp_locals {
	Dwarf *dw;
	uint64_t bias;
};

struct gp_locals *gp_locals_open(const struct gp_exe *exe)
{
	if (!exe->has_dwarf || !exe->elf)
		return NULL;
	struct gp_locals *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->dw = dwarf_begin_elf(exe->elf, DWARF_C_READ, NULL);
	l->bias = exe->bias;
	if (!l->dw) {
		free(l);
		return NULL;
	}
	return l;
}

void gp_locals_close(struct gp_locals *l)
{
	if (!l)
		return;
	dwarf_end(l->dw);
	free(l);
}

/* The variable or parameter of scope whose stack home at pc holds addr
 * (cfa the frame's canonical frame address): DW_OP_fbreg, the frame base
 * being DW_OP_call_frame_cfa in Go's DWARF. */
static bool local_in(Dwarf_Die *scope, Dwarf_Addr pc, uint64_t cfa,
		     uint64_t addr, char *buf, size_t cap)
{
	Dwarf_Die die;
	if (dwarf_child(scope, &die) != 0)
		return false;
	do {
		int tag = dwarf_tag(&die);
		if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter)
			continue;
		Dwarf_Attribute attr;
		Dwarf_Op *expr;
		size_t nexpr;
		if (!dwarf_attr_integrate(&die, DW_AT_location, &attr) ||
		    dwarf_getlocation_addr(&attr, pc, &expr, &nexpr, 1) < 1 ||
		    nexpr != 1 || expr[0].atom != DW_OP_fbreg)
			continue;
		uint64_t home = cfa + (uint64_t)(int64_t)expr[0].number;
		Dwarf_Word size = 8;
		Dwarf_Die type;
		if (dwarf_attr_integrate(&die, DW_AT_type, &attr) &&
		    dwarf_formref_die(&attr, &type) &&
		    (dwarf_aggregate_size(&type, &size) != 0 || !size))
			size = 8;
		if (addr < home || addr - home >= size)
			continue;
		const char *name = dwarf_diename(&die);
		if (!name)
			continue;
		if (addr == home)
			snprintf(buf, cap, "%s", name);
		else
			snprintf(buf, cap, "%s+%llu", name,
				 (unsigned long long)(addr - home));
		return true;
	} while (dwarf_siblingof(&die, &die) == 0);
	return false;
}

bool gp_locals_name(struct gp_locals *l, uint64_t pc, uint64_t cfa,
		    uint64_t addr, char *buf, size_t cap)
{
	if (!l || !cap)
		return false;
	Dwarf_Addr at = pc - l->bias;
	Dwarf_Die cu;
	/* Go writes no .debug_aranges: the unit whose ranges hold pc */
	bool have = dwarf_addrdie(l->dw, at, &cu) != NULL;
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (!have && dwarf_nextcu(l->dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		have = dwarf_offdie(l->dw, off + hsize, &cu) && dwarf_haspc(&cu, at) == 1;
		off = next;
	}
	if (!have)
		return false;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(&cu, at, &scopes);
	bool found = false;
	for (int i = 0; i < n && !found; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag == DW_TAG_compile_unit)
			break;
		found = local_in(&scopes[i], at, cfa, addr, buf, cap);
	}
	free(scopes);
	return found;
}

