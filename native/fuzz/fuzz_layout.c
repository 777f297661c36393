/*
 * fuzz_layout: binary/layout.c's runtime layouts from DWARF alone, over
 * raw bytes: the one pass over the top-level DIEs of every unit (struct
 * types, typedefs, variables and their DW_OP_addr locations), the member
 * paths ("sched.sp", "atomicstatus.value") through nested structs and
 * typedefs, sizes (dwarf_aggregate_size), the version ranges of the
 * declarations (fields.def), for the layout of a release
 * (gp_layout_from_dwarf) and of every one (gp_layout_probe_dwarf).
 * fuzz_exe reaches it only inside a whole fixture executable; here each
 * input is a few KiB of DWARF made into an ELF in memory (elf_memory: a
 * .debug_abbrev, a .debug_str and a .debug_info section).
 *
 * Input: sel u8, abbrev_len u16, str_len u16 (little-endian; cut to what
 * follows), abbrev_len bytes of .debug_abbrev, str_len bytes of
 * .debug_str, the rest .debug_info.
 *   sel & 15: the Go release the executable claims, 1.(19 + sel & 15)
 * Seeds: from each fixture executable with DWARF, one unit written anew
 * with the struct types the declarations name (each with the members on
 * the declared paths, at their offsets and sizes: nested structs and base
 * types of those sizes) and the runtime's variables at their addresses.
 */
#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_layout"

static int debug; /* GP_FUZZ_DEBUG=1: what each input's layout gave */

/* ------------------------------------------------------------ the seeds */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = 2 * (b->n + n) + 256;
		if (!(b->p = realloc(b->p, b->cap)))
			fz_die(H, "out of memory");
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static void put_uleb(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		put_u8(b, c | (v ? 0x80 : 0));
	} while (v);
}

static void put_str(struct buf *b, const char *s) { put(b, s, strlen(s) + 1); }

/* A struct type or a member of one, as the seed writes it. */
#define MAX_NODES 4096
#define MAX_KIDS 96
struct node {
	const char *name;     /* the type's (a root) or the member's */
	size_t name_len;
	uint64_t off, size;
	bool is_struct;
	int kids[MAX_KIDS], nkids;
	uint32_t at;          /* its DIE's offset in the unit */
};
static struct node nodes[MAX_NODES];
static int nnodes;

static int new_node(const char *name, size_t len, uint64_t off, uint64_t size)
{
	if (nnodes == MAX_NODES)
		return -1;
	nodes[nnodes] = (struct node){ .name = name, .name_len = len, .off = off,
				       .size = size };
	return nnodes++;
}

static bool die_size(Dwarf_Die *die, uint64_t *ret)
{
	Dwarf_Word size;
	if (dwarf_aggregate_size(die, &size) != 0)
		return false;
	*ret = size;
	return true;
}

/* The member name[0, len) of struct st. */
static bool member(Dwarf_Die *st, const char *name, size_t len, Dwarf_Die *ret)
{
	if (dwarf_child(st, ret) != 0)
		return false;
	do {
		const char *n = dwarf_diename(ret);
		if (dwarf_tag(ret) == DW_TAG_member && n && strlen(n) == len &&
		    !memcmp(n, name, len))
			return true;
	} while (dwarf_siblingof(ret, ret) == 0);
	return false;
}

/* The declared path under the root node for the struct die. */
static void add_path(int root, Dwarf_Die *die, const char *path)
{
	Dwarf_Die cur = *die;
	int at = root;
	for (const char *p = path; at >= 0;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		Dwarf_Die m, type, peeled;
		Dwarf_Attribute attr;
		Dwarf_Word loc;
		uint64_t size;
		if (!member(&cur, p, len, &m) ||
		    !dwarf_attr_integrate(&m, DW_AT_data_member_location, &attr) ||
		    dwarf_formudata(&attr, &loc) != 0 ||
		    !dwarf_attr_integrate(&m, DW_AT_type, &attr) ||
		    !dwarf_formref_die(&attr, &type) || !die_size(&type, &size))
			return;
		int k = -1;
		for (int i = 0; i < nodes[at].nkids; i++) {
			struct node *n = &nodes[nodes[at].kids[i]];
			if (n->name_len == len && !memcmp(n->name, p, len))
				k = nodes[at].kids[i];
		}
		if (k < 0) {
			if (nodes[at].nkids == MAX_KIDS || (k = new_node(p, len, loc, size)) < 0)
				return;
			nodes[at].kids[nodes[at].nkids++] = k;
		}
		if (!dot)
			return;
		if (dwarf_peel_type(&type, &peeled) != 0 ||
		    dwarf_tag(&peeled) != DW_TAG_structure_type)
			return;
		nodes[k].is_struct = true;
		cur = peeled;
		at = k;
		p = dot + 1;
	}
}

enum { AB_CU = 1, AB_STRUCT, AB_ANON, AB_MEMBER, AB_BASE, AB_VAR };

static void abbrevs(struct buf *b)
{
	static const uint8_t a[] = {
		AB_CU, DW_TAG_compile_unit, DW_CHILDREN_yes,
		DW_AT_name, DW_FORM_string, 0, 0,
		AB_STRUCT, DW_TAG_structure_type, DW_CHILDREN_yes,
		DW_AT_name, DW_FORM_strp, DW_AT_byte_size, DW_FORM_udata, 0, 0,
		AB_ANON, DW_TAG_structure_type, DW_CHILDREN_yes,
		DW_AT_byte_size, DW_FORM_udata, 0, 0,
		AB_MEMBER, DW_TAG_member, DW_CHILDREN_no,
		DW_AT_name, DW_FORM_string, DW_AT_data_member_location, DW_FORM_udata,
		DW_AT_type, DW_FORM_ref4, 0, 0,
		AB_BASE, DW_TAG_base_type, DW_CHILDREN_no,
		DW_AT_byte_size, DW_FORM_udata, DW_AT_encoding, DW_FORM_data1, 0, 0,
		AB_VAR, DW_TAG_variable, DW_CHILDREN_no,
		DW_AT_name, DW_FORM_string, DW_AT_location, DW_FORM_exprloc, 0, 0,
		0,
	};
	put(b, a, sizeof(a));
}

struct fixup {
	size_t pos;
	int node;        /* a struct node, or -1: the base type of size */
	uint64_t size;
};

/* The unit: roots (named structs), nested structs, base types, vars. */
static void write_unit(struct buf *info, struct buf *str, const int *roots,
		       int nroots, const char *const *vars, const uint64_t *addrs,
		       int nvars)
{
	static struct fixup fix[MAX_NODES];
	int nfix = 0, queue[MAX_NODES], nq = 0;
	uint64_t bsizes[256];
	uint32_t bat[256];
	int nb = 0;
	put(info, "\0\0\0\0\4\0\0\0\0\0\10", 11); /* v4, abbrev 0, 8-byte addresses */
	put_uleb(info, AB_CU);
	put_str(info, "goparked-fuzz");
	for (int r = 0; r < nroots; r++)
		queue[nq++] = roots[r];
	for (int q = 0; q < nq; q++) {
		struct node *n = &nodes[queue[q]];
		n->at = (uint32_t)info->n;
		if (q < nroots) {
			put_uleb(info, AB_STRUCT);
			uint32_t s = (uint32_t)str->n;
			put(info, &s, 4);
			put(str, n->name, n->name_len);
			put_u8(str, 0);
		} else {
			put_uleb(info, AB_ANON);
		}
		put_uleb(info, n->size);
		for (int i = 0; i < n->nkids; i++) {
			struct node *k = &nodes[n->kids[i]];
			put_uleb(info, AB_MEMBER);
			put(info, k->name, k->name_len);
			put_u8(info, 0);
			put_uleb(info, k->off);
			fix[nfix++] = (struct fixup){ info->n, k->is_struct ? n->kids[i] : -1,
						      k->size };
			put(info, "\0\0\0\0", 4);
			if (k->is_struct && nq < MAX_NODES)
				queue[nq++] = n->kids[i];
		}
		put_u8(info, 0);
	}
	for (int f = 0; f < nfix; f++) {
		uint32_t at = 0;
		if (fix[f].node >= 0) {
			at = nodes[fix[f].node].at;
		} else {
			int b = 0;
			while (b < nb && bsizes[b] != fix[f].size)
				b++;
			if (b == nb && nb < 256) {
				bsizes[nb] = fix[f].size;
				bat[nb++] = (uint32_t)info->n;
				put_uleb(info, AB_BASE);
				put_uleb(info, fix[f].size);
				put_u8(info, DW_ATE_unsigned);
			}
			at = b < nb ? bat[b] : 0;
		}
		memcpy(info->p + fix[f].pos, &at, 4);
	}
	for (int v = 0; v < nvars; v++) {
		put_uleb(info, AB_VAR);
		put_str(info, vars[v]);
		put_uleb(info, 9);
		put_u8(info, DW_OP_addr);
		put(info, &addrs[v], 8);
	}
	put_u8(info, 0);
	uint32_t len = (uint32_t)info->n - 4;
	memcpy(info->p, &len, 4);
}

static void seeds(const char *dir, size_t i, struct gp_exe *exe)
{
	Dwarf *dw = exe->has_dwarf ? dwarf_begin_elf(exe->elf, DWARF_C_READ, NULL) : NULL;
	if (!dw)
		return;
	/* the wanted struct types and variables, as layout.c finds them */
	const char *names[128];
	Dwarf_Die dies[128];
	bool found[128] = { false };
	int nnames = 0;
	for (size_t k = 0; k < GP_NUM_FIELDS + GP_NUM_TYPES; k++) {
		const char *t = k < GP_NUM_FIELDS ? gp_field_decls[k].type :
						    gp_type_decls[k - GP_NUM_FIELDS].type;
		int j = 0;
		while (j < nnames && strcmp(names[j], t))
			j++;
		if (j == nnames && nnames < 128)
			names[nnames++] = t;
	}
	const char *vars[GP_NUM_VARS];
	uint64_t addrs[GP_NUM_VARS];
	int nvars = 0;
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;
		if (!dwarf_offdie(dw, off + hsize, &cu))
			break;
		off = next;
		if (dwarf_child(&cu, &die) != 0)
			continue;
		do {
			int tag = dwarf_tag(&die);
			const char *name = dwarf_diename(&die);
			if (!name)
				continue;
			if (tag == DW_TAG_variable) {
				for (int v = 0; v < GP_NUM_VARS; v++) {
					Dwarf_Attribute attr;
					Dwarf_Op *expr;
					size_t nexpr;
					if (!strcmp(gp_var_decls[v].sym, name) &&
					    dwarf_attr(&die, DW_AT_location, &attr) &&
					    dwarf_getlocation(&attr, &expr, &nexpr) == 0 &&
					    nexpr == 1 && expr[0].atom == DW_OP_addr &&
					    nvars < GP_NUM_VARS) {
						vars[nvars] = gp_var_decls[v].sym;
						addrs[nvars++] = expr[0].number;
					}
				}
				continue;
			}
			if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef)
				continue;
			for (int j = 0; j < nnames; j++)
				if (!found[j] && !strcmp(names[j], name)) {
					Dwarf_Die peeled = die;
					if (tag == DW_TAG_typedef &&
					    dwarf_peel_type(&die, &peeled) != 0)
						continue;
					dies[j] = peeled;
					found[j] = true;
				}
		} while (dwarf_siblingof(&die, &die) == 0);
	}
	nnodes = 0;
	int roots[128], nroots = 0;
	for (int j = 0; j < nnames; j++) {
		uint64_t size;
		if (!found[j] || !die_size(&dies[j], &size))
			continue;
		int r = new_node(names[j], strlen(names[j]), 0, size);
		if (r < 0)
			continue;
		nodes[r].is_struct = true;
		roots[nroots++] = r;
		for (size_t k = 0; k < GP_NUM_FIELDS; k++)
			if (!strcmp(gp_field_decls[k].type, names[j]))
				add_path(r, &dies[j], gp_field_decls[k].path);
	}
	dwarf_end(dw);
	struct buf ab = { 0 }, str = { 0 }, info = { 0 }, in = { 0 };
	abbrevs(&ab);
	put_u8(&str, 0);
	write_unit(&info, &str, roots, nroots, vars, addrs, nvars);
	uint8_t sel = (uint8_t)((exe->go_minor - 19) & 15);
	uint16_t alen = (uint16_t)ab.n, slen = (uint16_t)str.n;
	put_u8(&in, sel);
	put(&in, &alen, 2);
	put(&in, &slen, 2);
	put(&in, ab.p, ab.n);
	put(&in, str.p, str.n);
	put(&in, info.p, info.n);
	char name[64];
	snprintf(name, sizeof(name), "seed-e%zu", i);
	fz_write(H, dir, name, in.p, in.n);
	free(ab.p);
	free(str.p);
	free(info.p);
	free(in.p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_unit_seeds(H, seeds);
	elf_version(EV_CURRENT);
	debug = getenv("GP_FUZZ_DEBUG") != NULL;
	return 0;
}

/* ------------------------------------------------------------ the runs */

static uint64_t run(struct gp_exe *exe)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	struct gp_layout *layout = calloc(1, sizeof(*layout));
	if (!layout)
		abort();
	gp_error *err = gp_layout_from_dwarf(exe, layout);
	if (debug)
		fprintf(stderr, "%s: %s\n", exe->go_version,
			err ? gp_error_message(err) : "a layout");
	h = fz_mix_err(h, err);
	h = fz_mix(h, layout, sizeof(*layout));
	h = fz_mix_err(h, gp_layout_probe_dwarf(exe, layout));
	h = fz_mix(h, layout, sizeof(*layout));
	free(layout);
	return h;
}

static const char shstr[] = "\0.debug_abbrev\0.debug_str\0.debug_info\0.shstrtab";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	uint8_t sel = data[0];
	uint16_t alen, slen;
	memcpy(&alen, data + 1, 2);
	memcpy(&slen, data + 3, 2);
	size_t rest = size - 5;
	size_t na = alen < rest ? alen : rest;
	size_t ns = slen < rest - na ? slen : rest - na;
	size_t ni = rest - na - ns;
	/* the ELF: header, the three sections, .shstrtab, section headers */
	size_t at = sizeof(Elf64_Ehdr);
	size_t off[4] = { at, at + na, at + na + ns, at + na + ns + ni };
	size_t shoff = (off[3] + sizeof(shstr) + 7) & ~(size_t)7;
	size_t total = shoff + 5 * sizeof(Elf64_Shdr);
	uint8_t *elf = calloc(1, total);
	if (!elf)
		abort();
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
			     ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_ehsize = sizeof(Elf64_Ehdr), .e_shoff = shoff,
		.e_shentsize = sizeof(Elf64_Shdr), .e_shnum = 5, .e_shstrndx = 4,
	};
	memcpy(elf, &eh, sizeof(eh));
	memcpy(elf + off[0], data + 5, na + ns + ni);
	memcpy(elf + off[3], shstr, sizeof(shstr));
	static const uint32_t names[4] = { 1, 15, 26, 38 };
	const size_t sizes[4] = { na, ns, ni, sizeof(shstr) };
	Elf64_Shdr sh[5] = { { 0 } };
	for (int k = 0; k < 4; k++)
		sh[k + 1] = (Elf64_Shdr){ .sh_name = names[k],
			.sh_type = k == 3 ? SHT_STRTAB : SHT_PROGBITS,
			.sh_offset = off[k], .sh_size = sizes[k], .sh_addralign = 1 };
	memcpy(elf + shoff, sh, sizeof(sh));

	Elf *e = elf_memory((char *)elf, total);
	char ver[16];
	snprintf(ver, sizeof(ver), "go1.%d", 19 + (sel & 15));
	struct gp_exe exe = {
		.path = (char *)"fuzz", .fd = -1, .elf = e,
		.machine = EM_X86_64, .elf_type = ET_EXEC, .has_dwarf = true,
		.go_version = ver, .go_major = 1, .go_minor = 19 + (sel & 15),
	};
	exe.arch = gp_arch_find(exe.machine);
	if (e) {
		uint64_t h = run(&exe);
		if (fz_twice() && run(&exe) != h) {
			fprintf(stderr, H ": the same input gave two different runs\n");
			abort();
		}
		elf_end(e);
	}
	free(elf);
	return 0;
}
