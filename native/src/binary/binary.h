/*
 * binary/: the executable. Its ELF image (exe.c: sections, symbols,
 * loadable segments, the Go version from buildinfo), the runtime's struct
 * layouts and variables (fields.def, layout.c from DWARF, layout_tables.c
 * and tables/ without it, stripped.c without a symbol table) and the
 * pclntab (pclntab.c). Reads the executable only, never a target.
 */
#ifndef GP_BINARY_H
#define GP_BINARY_H

#include "arch/arch.h"

/* ------------------------------------------------------------------ exe.c */

/*
 * A loadable segment: [start, end) in target addresses, whose bytes are at
 * data for a prefix of avail bytes. Past avail the executable's segments
 * read as zero (bss, zero_fill); a core's have no bytes there.
 */
struct gp_segment {
	uint64_t start, end;      /* [start, end) in target addresses */
	const uint8_t *data;      /* bytes for [start, start + avail) */
	uint64_t avail;
	bool zero_fill;           /* bytes past avail read as zero */
	bool writable;            /* PF_W, for executable segments */
};


struct gp_section {
	const char *name;
	uint64_t addr;            /* sh_addr (0 if not allocated) */
	uint64_t size;
	const uint8_t *data;      /* NULL for SHT_NOBITS */
	uint32_t type;
};

struct gp_symbol {
	const char *name;
	uint64_t value;
	uint64_t size;
	bool relative;            /* defined in a section: moves with the image */
};

struct gp_exe {
	char *path;
	int fd;
	const uint8_t *map;       /* the whole file, read-only */
	size_t size;
	void *elf;                /* Elf * */
	uint16_t machine;         /* EM_X86_64, EM_AARCH64 */
	const struct gp_arch *arch; /* of machine */
	uint16_t elf_type;        /* ET_EXEC, ET_DYN */
	uint64_t entry;           /* e_entry, link-time */
	/* A PIE (ET_DYN) runs at its link-time addresses + bias. After
	 * gp_exe_relocate every address here (segments, sections, symbols)
	 * is a run-time one and the image's own pointers (R_*_RELATIVE
	 * relocations) are applied to the private mapping. */
	uint64_t bias;
	bool relocated;           /* gp_exe_relocate ran (a bias may be 0) */
	/* PT_GNU_RELRO: writable in the file, read-only once relocated (a
	 * PIE's type descriptors, itabs, the pclntab before 1.27); no
	 * runtime variable lives there. */
	uint64_t relro_start, relro_end;
	struct gp_section *sections;
	size_t nsections;
	struct gp_symbol *symbols;   /* sorted by name; NULL if no .symtab */
	size_t nsymbols;
	struct gp_segment *loads; /* PT_LOAD segments, file-backed */
	size_t nloads;
	bool has_dwarf;
	char *go_version;         /* from .go.buildinfo ("go1.26.8") */
	int go_major, go_minor, go_patch; /* 1, 26, 8 */
	char *build_id;           /* Go build ID note, if any */
};

/* Maps a whole file privately; what names it in errors ("core file"). */
gp_error *gp_map_file(const char *path, const char *what, int *ret_fd,
		      const uint8_t **ret_map, size_t *ret_size);
gp_error *gp_exe_open(const char *path, struct gp_exe *ret);
void gp_exe_close(struct gp_exe *exe);
/* Parts of gp_exe_open, alone for fuzz_buildinfo: go_version (and
 * go_major...) from the .go.buildinfo section, else from the build
 * information's magic in a load segment; build_id from the
 * .note.go.buildid section, if any. */
gp_error *gp_exe_read_buildinfo(struct gp_exe *exe);
void gp_exe_read_buildid(struct gp_exe *exe);

/* layout.c: local variables from DWARF, for retention paths. NULL
 * without DWARF. gp_locals_name: the name of the variable or parameter
 * whose stack home holds addr in the frame at pc (a return address less
 * one for outer frames) whose canonical frame address is cfa, "name" or
 * "name+off"; false when DWARF does not say. */
struct gp_locals;
struct gp_locals *gp_locals_open(const struct gp_exe *exe);
void gp_locals_close(struct gp_locals *l);
bool gp_locals_name(struct gp_locals *l, uint64_t pc, uint64_t cfa,
		    uint64_t addr, char *buf, size_t cap);
/* Moves a PIE's image to where the target loaded it (bias from the
 * target's auxv: AT_ENTRY - e_entry); once, before anything reads it. */
gp_error *gp_exe_relocate(struct gp_exe *exe, uint64_t bias);
/* The bias of a PIE whose entry point the target's auxv gives (AT_ENTRY):
 * 0 for a non-PIE; an error when the entry cannot be this executable's. */
gp_error *gp_exe_bias_from_entry(const struct gp_exe *exe, uint64_t at_entry,
				 const char *target, uint64_t *ret);
const struct gp_section *gp_exe_section(const struct gp_exe *exe,
					const char *name);
const struct gp_symbol *gp_exe_symbol(const struct gp_exe *exe,
				      const char *name);

/* Version comparison: gp_go_version(1, 21) etc. */
#define GP_GOVER(major, minor) ((major) * 100 + (minor))
static inline int gp_exe_gover(const struct gp_exe *exe)
{
	return GP_GOVER(exe->go_major, exe->go_minor);
}

/* --------------------------------------------------------------- layout.c */

/*
 * Every runtime field, type and variable the engine reads is declared once
 * in fields.def with the Go versions it exists in. The layout resolves them
 * from DWARF, or from built-in per-version tables for stripped binaries.
 */
enum gp_field_id {
#define GP_FIELD(id, type, path, since, until) GP_F_##id,
#define GP_TYPE(id, type, since, until)
#define GP_VAR(id, name, since, until)
#include "fields.def"
#undef GP_FIELD
#undef GP_TYPE
#undef GP_VAR
	GP_NUM_FIELDS
};

enum gp_type_id {
#define GP_FIELD(id, type, path, since, until)
#define GP_TYPE(id, type, since, until) GP_T_##id,
#define GP_VAR(id, name, since, until)
#include "fields.def"
#undef GP_FIELD
#undef GP_TYPE
#undef GP_VAR
	GP_NUM_TYPES
};

enum gp_var_id {
#define GP_FIELD(id, type, path, since, until)
#define GP_TYPE(id, type, since, until)
#define GP_VAR(id, name, since, until) GP_V_##id,
#include "fields.def"
#undef GP_FIELD
#undef GP_TYPE
#undef GP_VAR
	GP_NUM_VARS
};

#define GP_ABSENT (-1)

struct gp_layout {
	int32_t field_off[GP_NUM_FIELDS];   /* GP_ABSENT if not in version */
	int32_t field_size[GP_NUM_FIELDS];
	int64_t type_size[GP_NUM_TYPES];    /* GP_ABSENT if not in version */
	uint64_t var_addr[GP_NUM_VARS];     /* 0 if not in version */
	uint64_t var_size[GP_NUM_VARS];
};

struct gp_field_decl {
	const char *name;       /* "G_GOID" */
	const char *type;       /* "runtime.g" */
	const char *path;       /* "goid", "sched.sp", "atomicstatus.value" */
	int since, until;       /* GP_GOVER(); until 0 = still present */
};
extern const struct gp_field_decl gp_field_decls[GP_NUM_FIELDS];
struct gp_type_decl { const char *name; const char *type; int since, until; };
extern const struct gp_type_decl gp_type_decls[GP_NUM_TYPES];
struct gp_var_decl { const char *name; const char *sym; int since, until; };
extern const struct gp_var_decl gp_var_decls[GP_NUM_VARS];

static inline bool gp_decl_in_version(int since, int until, int gover)
{
	return gover >= since && (until == 0 || gover < until);
}

/* From DWARF (layout.c). */
gp_error *gp_layout_from_dwarf(const struct gp_exe *exe,
			       struct gp_layout *ret);
/* Every declaration whatever its version range; missing ones GP_ABSENT,
 * never an error for them (for native/gen and the tests). */
gp_error *gp_layout_probe_dwarf(const struct gp_exe *exe,
				struct gp_layout *ret);
/* From the built-in tables (layout_tables.c), for binaries with no DWARF:
 * offsets and sizes for the exe's Go release, var_addr from the symbol
 * table when there is one, var_size of fixed-size variables (the
 * wait-reason table). */
gp_error *gp_layout_from_table(const struct gp_exe *exe,
			       struct gp_layout *ret);
/* A field's offset in the table of one release, GP_ABSENT when that
 * release has no table or no such field (for readers that run before a
 * layout is chosen: the pclntab reads moduledata with it). */
int32_t gp_layout_table_field_off(uint16_t machine, int gover,
				  enum gp_field_id f);

/* -------------------------------------------------------------- pclntab.c */

/* Function flags (internal/abi FuncFlag). */
enum {
	GP_FUNCFLAG_TOPFRAME = 1 << 0,
	GP_FUNCFLAG_SPWRITE = 1 << 1,
	GP_FUNCFLAG_ASM = 1 << 2,
};

/*
 * Special functions (internal/abi FuncID). The runtime's enum is renumbered
 * between releases (1.22 added corostart, 1.25 replaced runfinq with
 * runFinalizers and runCleanups); pclntab.c translates the raw values of
 * each version to this stable list.
 */
enum gp_funcid {
	GP_FUNCID_NORMAL = 0,
	GP_FUNCID_ABORT,
	GP_FUNCID_ASMCGOCALL,
	GP_FUNCID_ASYNCPREEMPT,
	GP_FUNCID_CGOCALLBACK,
	GP_FUNCID_COROSTART,        /* 1.22+ */
	GP_FUNCID_DEBUGCALLV2,
	GP_FUNCID_GCBGMARKWORKER,
	GP_FUNCID_GOEXIT,
	GP_FUNCID_GOGO,
	GP_FUNCID_GOPANIC,
	GP_FUNCID_HANDLEASYNCEVENT,
	GP_FUNCID_MCALL,
	GP_FUNCID_MORESTACK,
	GP_FUNCID_MSTART,
	GP_FUNCID_PANICWRAP,
	GP_FUNCID_RT0_GO,
	GP_FUNCID_RUNFINQ,          /* up to 1.24 */
	GP_FUNCID_RUNTIME_MAIN,
	GP_FUNCID_RUNFINALIZERS,    /* 1.25+ */
	GP_FUNCID_RUNCLEANUPS,      /* 1.25+ */
	GP_FUNCID_SIGPANIC,
	GP_FUNCID_SYSTEMSTACK,
	GP_FUNCID_SYSTEMSTACK_SWITCH,
	GP_FUNCID_WRAPPER,
	GP_FUNCID_UNKNOWN,          /* a raw value this version does not define */
};

struct gp_func {
	uint64_t entry;
	uint64_t end;           /* entry of the next function */
	const char *name;       /* points into the pclntab; NUL-terminated */
	uint32_t funcoff;       /* offset of the _func record in the pclntab */
	uint8_t funcid;         /* enum gp_funcid (translated) */
	uint8_t flag;           /* GP_FUNCFLAG_* */
};

struct gp_pclntab;

/* A logical frame before string interning. */
struct gp_symframe {
	const char *func;       /* NUL-terminated, owned by the pclntab */
	const char *file;       /* "?" when unknown (as the runtime prints) */
	uint32_t line;          /* 0 when unknown */
	bool inlined;           /* inlined into the following frame */
	uint8_t funcid;         /* enum gp_funcid, for wrapper elision */
};

/*
 * The pclntab of the executable: section .gopclntab or
 * .data.rel.ro.gopclntab, else found by scanning the read-only segments for
 * a pcHeader. Funcdata (inline trees) live at moduledata.gofunc: the
 * go:func.* (1.19: go.func.*) symbol, else runtime.firstmoduledata's gofunc
 * field, else the moduledata found in .noptrdata by the pclntab's address.
 * Without gofunc, symbolization still works but without inlined frames.
 * read (may be NULL) is only a fallback for bytes the executable lacks:
 * the target's memory. exe and read's arg must outlive the pclntab.
 */
gp_error *gp_pclntab_open(const struct gp_exe *exe, gp_read_fn *read,
			  void *read_arg, struct gp_pclntab **ret);
void gp_pclntab_destroy(struct gp_pclntab *tab);
uint64_t gp_pclntab_text_start(const struct gp_pclntab *tab);
/* GP_GOVER of the executable (from buildinfo, else from the magic). */
int gp_pclntab_gover(const struct gp_pclntab *tab);
/* The executable's architecture (its unwinding rules). */
const struct gp_arch *gp_pclntab_arch(const struct gp_pclntab *tab);
uint32_t gp_pclntab_num_funcs(const struct gp_pclntab *tab);
/* Address of runtime.firstmoduledata and of its gofunc; 0 if not found. */
uint64_t gp_pclntab_moduledata(const struct gp_pclntab *tab);
uint64_t gp_pclntab_gofunc(const struct gp_pclntab *tab);
/* Allocation-free; a binary search of the function table. */
bool gp_pclntab_find_func(const struct gp_pclntab *tab, uint64_t pc,
			  struct gp_func *ret);
/* By pclntab name ("runtime.allgadd", no ".abi0"); the name index is built
 * on the first call (thread-safe). */
bool gp_pclntab_func_by_name(const struct gp_pclntab *tab, const char *name,
			     struct gp_func *ret);
/* SP delta (frame size below the return address) at pc. Allocation-free
 * except for the error. */
gp_error *gp_pclntab_sp_delta(const struct gp_pclntab *tab,
			      const struct gp_func *fn, uint64_t pc,
			      int32_t *ret);
/* Whether fn has an SP table at all (external functions do not). */
bool gp_pclntab_has_frame_info(const struct gp_pclntab *tab,
			       const struct gp_func *fn);
/*
 * Logical frames at pc, innermost first (inlined calls expanded), as the
 * runtime's traceback prints them with GOTRACEBACK=crash (no frame hidden;
 * funcid lets a caller elide wrappers as GOTRACEBACK=single does). sympc is
 * the pc used for file/line lookup: pc - 1 for return addresses, pc itself
 * for a trapping instruction or a pc at the function's entry (see
 * gp_unwind_pc.sympc). Names are raw; see gp_func_print_name.
 * Returns the number written (at most max; the physical frame is always
 * the last one written) or 0 if pc is in no function.
 */
size_t gp_pclntab_symbolize(const struct gp_pclntab *tab, uint64_t pc,
			    uint64_t sympc, struct gp_symframe *ret,
			    size_t max);
/* Stack maps and stack objects (runtime/symtab.go): the PCDATA table idx
 * at pc (-1 when absent, like pcdatavalue), and FUNCDATA idx as a pointer
 * to its bytes in the executable (*ret_avail of them, at target address
 * *ret_addr), NULL when absent. */
enum {
	GP_PCDATA_STACKMAPINDEX = 1,
	GP_FUNCDATA_ARGSPOINTERMAPS = 0,
	GP_FUNCDATA_LOCALSPOINTERMAPS = 1,
	GP_FUNCDATA_STACKOBJECTS = 2,
	GP_FUNCDATA_OPENCODEDDEFERINFO = 4,
};
int32_t gp_pclntab_pcdata(const struct gp_pclntab *tab,
			  const struct gp_func *fn, uint32_t idx, uint64_t pc);
const uint8_t *gp_pclntab_funcdata(const struct gp_pclntab *tab,
				   const struct gp_func *fn, uint32_t idx,
				   uint64_t *ret_addr, size_t *ret_avail);
/* _func.args: bytes of arguments (ArgsSizeUnknown = INT32_MIN). */
int32_t gp_pclntab_func_args(const struct gp_pclntab *tab,
			     const struct gp_func *fn);
/* File and line of pc in its physical function, without inline expansion:
 * what the runtime prints for "created by" (printcreatedby1, with pc - 1
 * when pc is past the entry). */
bool gp_pclntab_pcline(const struct gp_pclntab *tab, uint64_t pc,
		       const char **ret_file, uint32_t *ret_line);
/* The name as runtime.printFuncName prints it: "panic" for
 * runtime.gopanic, generic shapes as "[...]". Returns name or buf. */
const char *gp_func_print_name(const char *name, char *buf, size_t size);

/* ------------------------------------------------------------- stripped.c */

/*
 * Runtime variables of an executable without a symbol table, from the code
 * of runtime functions the pclntab still names (RIP-relative operands, see
 * stripped.c) and from the data they point to. Fills every var_addr[] that
 * is 0 and declared for the exe's version; leaves a variable it cannot find
 * at 0 (the caller decides which ones it needs). Reads only the executable.
 */
gp_error *gp_stripped_find_vars(const struct gp_exe *exe,
				const struct gp_pclntab *tab,
				struct gp_layout *layout);

#endif /* GP_BINARY_H */
