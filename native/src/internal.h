/*
 * Internal interfaces of libgoparked, shared between its source files.
 * Nothing here is exported; see include/goparked.h for the public API.
 */
#ifndef GP_INTERNAL_H
#define GP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "goparked.h"

#define GP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- error.c */

struct gp_error {
	int code;
	int errnum;
	uint64_t address;
	char *message;
};

/* Static, so that reporting it never allocates. */
extern struct gp_error gp_error_nomem;

__attribute__((format(printf, 2, 3)))
gp_error *gp_error_create(int code, const char *fmt, ...);
/* Appends ": strerror(errnum)" and keeps errnum. */
__attribute__((format(printf, 2, 3)))
gp_error *gp_error_os(int errnum, const char *fmt, ...);
/* "cannot read N bytes at 0x...". */
gp_error *gp_error_fault(uint64_t address, size_t size);
/* Prefix an existing error's message with context ("reading g 0x...: "). */
__attribute__((format(printf, 2, 3)))
gp_error *gp_error_wrap(gp_error *err, const char *fmt, ...);

/* --------------------------------------------------------------- memory.c */

/*
 * The target's memory as a list of layers, searched in order: for a core,
 * the core's PT_LOADs first, then the executable's PT_LOADs (Go cores lack
 * text, rodata and the pclntab). A segment may hold file bytes for only a
 * prefix (filesz < memsz): for the executable the rest is zero (bss); for a
 * core the rest is absent and the search falls through to the next layer.
 */
struct gp_segment {
	uint64_t start, end;      /* [start, end) in target addresses */
	const uint8_t *data;      /* bytes for [start, start + avail) */
	uint64_t avail;
	bool zero_fill;           /* bytes past avail read as zero */
	bool writable;            /* PF_W, for executable segments */
};

struct gp_memory_layer {
	struct gp_segment *segs;  /* sorted by start, non-overlapping */
	size_t nsegs;
	/* When the segments' data lie in a mapping of a file (a core), the
	 * file and the mapping's base: batch reads read the mapping in place
	 * by file offset, the pager reads the file with read(2). */
	int fd;
	const uint8_t *base;
};

/* Fallback reader for live processes or debugger callbacks. */
typedef gp_error *gp_read_fn(void *arg, uint64_t address, void *buf,
			     size_t size);

struct gp_memory {
	struct gp_memory_layer layers[2];
	size_t nlayers;
	gp_read_fn *read_fn;      /* consulted before the layers when set */
	void *read_arg;
};

gp_error *gp_memory_layer_add(struct gp_memory_layer *layer,
			      const struct gp_segment *seg);
void gp_memory_layer_sort(struct gp_memory_layer *layer);
void gp_memory_deinit(struct gp_memory *mem);

gp_error *gp_memory_read(const struct gp_memory *mem, uint64_t address,
			 void *buf, size_t size);
/* A direct pointer to size bytes when they are in one mapped segment. */
const uint8_t *gp_memory_ptr(const struct gp_memory *mem, uint64_t address,
			     size_t size);
gp_error *gp_memory_read_u64(const struct gp_memory *mem, uint64_t address,
			     uint64_t *ret);
gp_error *gp_memory_read_u32(const struct gp_memory *mem, uint64_t address,
			     uint32_t *ret);
/*
 * Batch reads: the engine first collects what it needs (every g, then the
 * top of every stack), then reads it in file order, in large chunks, with
 * a second thread faulting in the pages ahead of fn, in order, and
 * unmapping them behind it (memory.c). fn is called once per request, in file order
 * (not request order), with the bytes or with data NULL and the error if
 * they cannot be read; it returns an error to stop. Requests are reordered.
 */
struct gp_read_req {
	uint64_t address;
	uint32_t size;
	uint32_t tag;             /* the caller's */
	uint64_t key;             /* internal: sort key */
};
typedef gp_error *gp_batch_fn(void *arg, const struct gp_read_req *req,
			      const uint8_t *data, gp_error *err);
gp_error *gp_memory_read_batch(const struct gp_memory *mem,
			       struct gp_read_req *reqs, size_t n,
			       gp_batch_fn *fn, void *arg);
/* The same, when fn fills records out[tag] (stride bytes each, n of
 * them) of fresh memory: the pages of the records a chunk fills are
 * faulted in with the chunk's, by the thread ahead (a fresh page costs
 * as much as decoding the records on it). */
struct gp_batch_out {
	void *base;
	size_t stride, n;
};
gp_error *gp_memory_read_batch_out(const struct gp_memory *mem,
				   struct gp_read_req *reqs, size_t n,
				   gp_batch_fn *fn, void *arg,
				   const struct gp_batch_out *out);
/* The same on two cores: a second thread decodes chunks too, calling
 * fn(arg2, ...) while the caller calls fn(arg, ...) on others; fn must be
 * safe for that. Without arg2 (or a mapped core) it is the above. */
gp_error *gp_memory_read_batch_par(const struct gp_memory *mem,
				   struct gp_read_req *reqs, size_t n,
				   gp_batch_fn *fn, void *arg, void *arg2,
				   const struct gp_batch_out *out);

/*
 * Pointer chasing through a core (a list of a million sudogs) with read(2)
 * and a small cache of pages: reading through the mapping instead leaves
 * every page touched mapped, which counts in the process's memory.
 * Addresses outside the core's file fall back to gp_memory_read.
 */
struct gp_pager;
gp_error *gp_pager_create(const struct gp_memory *mem, struct gp_pager **ret);
gp_error *gp_pager_read(struct gp_pager *p, uint64_t address, void *buf,
			size_t size);
void gp_pager_destroy(struct gp_pager *p);

/* Reads a Go string header {ptr,len} at address; len bounded by max. */
gp_error *gp_memory_read_gostring(const struct gp_memory *mem,
				  uint64_t address, size_t max, char **ret);
/* Reads len bytes at ptr into a NUL-terminated malloc'd string. */
gp_error *gp_memory_read_string(const struct gp_memory *mem, uint64_t ptr,
				uint64_t len, size_t max, char **ret);

/* ------------------------------------------------------------------ exe.c */

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
};

struct gp_exe {
	char *path;
	int fd;
	const uint8_t *map;       /* the whole file, read-only */
	size_t size;
	void *elf;                /* Elf * */
	uint16_t machine;         /* EM_X86_64, EM_AARCH64 */
	uint16_t elf_type;        /* ET_EXEC, ET_DYN */
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

/* ----------------------------------------------------------------- core.c */

/* x86-64 user_regs_struct indexes (sys/user.h) */
enum {
	GP_X86_R15 = 0, GP_X86_R14, GP_X86_R13, GP_X86_R12, GP_X86_RBP,
	GP_X86_RBX, GP_X86_R11, GP_X86_R10, GP_X86_R9, GP_X86_R8, GP_X86_RAX,
	GP_X86_RCX, GP_X86_RDX, GP_X86_RSI, GP_X86_RDI, GP_X86_ORIG_RAX,
	GP_X86_RIP, GP_X86_CS, GP_X86_EFLAGS, GP_X86_RSP, GP_X86_SS,
	GP_X86_FS_BASE, GP_X86_GS_BASE, GP_X86_DS, GP_X86_ES, GP_X86_FS,
	GP_X86_GS, GP_X86_NREGS
};

struct gp_thread_regs {
	uint64_t tid;
	uint64_t regs[GP_X86_NREGS];
	int32_t signal;           /* pr_cursig */
	bool crashed;             /* first thread of a core = the faulting one */
};

struct gp_core {
	char *path;
	int fd;
	const uint8_t *map;
	size_t size;
	struct gp_thread_regs *threads;
	size_t nthreads;
	int32_t signal;           /* siginfo of the fatal signal, 0 if unknown */
	int64_t mtime_ns;         /* the core file's mtime, unix ns */
};

gp_error *gp_core_open(const char *path, struct gp_core *ret,
		       struct gp_memory_layer *layer);
void gp_core_close(struct gp_core *core);

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

/* From DWARF (layout_dwarf.c). */
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
/* The newest Go release the tables cover (GP_GOVER). */
int gp_layout_table_newest(void);
/* A field's offset in the table of one release, GP_ABSENT when that
 * release has no table or no such field (for readers that run before a
 * layout is chosen: the pclntab reads moduledata with it). */
int32_t gp_layout_table_field_off(int gover, enum gp_field_id f);

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
 * mem (may be NULL) is only a fallback for bytes the executable lacks.
 * Both exe and mem must outlive the pclntab.
 */
gp_error *gp_pclntab_open(const struct gp_exe *exe,
			  const struct gp_memory *mem,
			  struct gp_pclntab **ret);
void gp_pclntab_destroy(struct gp_pclntab *tab);
uint64_t gp_pclntab_text_start(const struct gp_pclntab *tab);
/* GP_GOVER of the executable (from buildinfo, else from the magic). */
int gp_pclntab_gover(const struct gp_pclntab *tab);
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

/* --------------------------------------------------------------- unwind.c */

/* What one pc's frame needs from the pclntab (its function and SP delta),
 * kept per pc: a million parked goroutines stop at a few dozen pcs.
 * Direct-mapped; a collision only costs a lookup. Not shared between
 * threads. */
#define GP_UNWIND_CACHE_SLOTS 4096
struct gp_unwind_cache {
	struct gp_unwind_step {
		uint64_t pc;          /* 0: empty */
		struct gp_func fn;
		int32_t delta;
	} slot[GP_UNWIND_CACHE_SLOTS];
};

struct gp_unwind_start {
	uint64_t pc, sp, bp, lr;
	uint64_t stack_lo, stack_hi;  /* bounds for sp; 0,0 = unchecked */
	bool trap;                    /* pc is a faulting instruction */
	bool syscall;                 /* pc, sp are g.syscallpc/syscallsp */
	struct gp_unwind_cache *cache; /* optional */
};

/* One physical frame; pc, sp and fp are what the runtime prints as
 * "+0x(pc - entry) fp= sp= pc=" with GOTRACEBACK=crash. */
struct gp_unwind_pc {
	uint64_t pc;
	uint64_t sympc;               /* pc for symbolization (symPC) */
	uint64_t sp, fp;
	bool trap;                    /* pc is not a return address */
};

#define GP_MAX_FRAMES 1024

/*
 * Physical frames from start, innermost first, at most max, following
 * runtime/traceback.go (unwinder.resolveInternal/next; gentraceback in
 * 1.19/1.20). Stops at a TOPFRAME function (included: runtime.goexit,
 * mstart, rt0_go, sigtramp), with *ret_err NULL. Stops early, *ret_err set
 * (may be NULL), at: a pc in no function (GP_ERROR_CORRUPT), a function
 * without SP table or one that writes SP (GP_ERROR_UNSUPPORTED; the frame
 * is included, as the runtime prints it), sp outside the stack bounds or
 * not increasing (GP_ERROR_CORRUPT), unreadable memory (GP_ERROR_FAULT),
 * max frames (GP_ERROR_LIMIT). Allocates nothing except the error.
 */
size_t gp_unwind(const struct gp_pclntab *tab, const struct gp_memory *mem,
		 const struct gp_unwind_start *start,
		 struct gp_unwind_pc *ret, size_t max, gp_error **ret_err);

/* The registers of a thread whose current goroutine (m.curg) is g. */
struct gp_unwind_thread_start {
	uint64_t pc, sp, bp;              /* the thread's registers */
	uint64_t g_stack_lo, g_stack_hi;  /* g.stack */
	uint64_t g_sched_pc, g_sched_sp, g_sched_bp; /* g.sched */
	uint64_t g_syscall_pc, g_syscall_sp; /* g.syscallpc/sp, 0 if none */
	uint64_t vdso_pc, vdso_sp;        /* m.vdsoPC/vdsoSP, 0 if none */
};

/* Where gp_unwind_thread found the goroutine's innermost frame. */
enum gp_unwind_from {
	GP_UNWIND_FROM_REGS = 1,    /* the thread was running g's code */
	GP_UNWIND_FROM_SIGNAL = 2,  /* the context a signal interrupted */
	GP_UNWIND_FROM_SCHED = 3,   /* g.sched (thread on g0, e.g. systemstack) */
	GP_UNWIND_FROM_SYSCALL = 4, /* g.syscallpc/sp */
	GP_UNWIND_FROM_VDSO = 5,    /* m.vdsoPC/vdsoSP */
};

/*
 * The frames of a running goroutine g from its thread's registers, as the
 * runtime prints "goroutine N [running]" in a crash dump (sighandler:
 * tracebacktrap on the interrupted context, or traceback of curg.sched when
 * the thread was on g0). If the thread is in a signal handler (on gsignal,
 * runtime.sigtramp at the top), the kernel's ucontext is read to continue
 * at the interrupted pc/sp. ret_from (may be NULL) gets an enum
 * gp_unwind_from. Errors as gp_unwind.
 */
size_t gp_unwind_thread(const struct gp_pclntab *tab,
			const struct gp_memory *mem,
			const struct gp_unwind_thread_start *start,
			struct gp_unwind_pc *ret, size_t max, int *ret_from,
			gp_error **ret_err);

/* ---------------------------------------------------------------- util.c */

/* Grows *p (of *cap elements of elem bytes) to hold need, doubling. */
gp_error *gp_grow(void **p, size_t *cap, size_t need, size_t elem);
/* GOPARKED_PHASES=1 prints each phase's time on stderr (bench/). */
void gp_phase(const char *name);
double gp_phase_clock(void);  /* seconds; 0 when not enabled */
void gp_phase_note(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Sorts n elements of size bytes by the uint64 key at key_offset in each,
 * stably: an LSD radix sort, 11 bits a pass, over as many passes as the
 * largest key needs (a million elements sort in a few milliseconds). */
gp_error *gp_radix_sort(void *base, size_t n, size_t size, size_t key_offset);

struct gp_kv {
	uint64_t key, value;
};
static inline gp_error *gp_sort_kv(struct gp_kv *a, size_t n)
{
	return gp_radix_sort(a, n, sizeof(*a), offsetof(struct gp_kv, key));
}

/* uint64 -> uint32 (open addressing; key 0 is never stored). */
struct gp_addr_map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, used;
};
gp_error *gp_addr_map_put(struct gp_addr_map *m, uint64_t key, uint32_t val);
/* GP_NONE when absent. */
uint32_t gp_addr_map_get(const struct gp_addr_map *m, uint64_t key);
void gp_addr_map_deinit(struct gp_addr_map *m);

/* -------------------------------------------------------------- strtab.c */

/* Interned strings: id 0 is "". */
struct gp_strtab {
	char **strs;
	size_t len, cap;
	uint32_t *buckets;    /* open addressing, ids + 1, 0 = empty */
	size_t nbuckets;
};

void gp_strtab_init(struct gp_strtab *t);
void gp_strtab_deinit(struct gp_strtab *t);
gp_error *gp_strtab_intern(struct gp_strtab *t, const char *s, uint32_t *ret);
gp_error *gp_strtab_intern_n(struct gp_strtab *t, const char *s, size_t n,
			     uint32_t *ret);

/* hash helpers */
static inline uint64_t gp_hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	if (!h)
		h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* -------------------------------------------------------------- program.c */

struct gp_program {
	uint32_t flags;
	struct gp_exe exe;
	struct gp_core core;         /* for cores */
	struct gp_memory mem;
	struct gp_layout layout;
	struct gp_pclntab *pcln;
	int gover;                   /* GP_GOVER(major, minor) */
	char *go_version;
	struct gp_live *live;        /* for live processes (target_live.c) */
	struct gp_thread_regs *threads; /* thread registers (core or live) */
	size_t nthreads;
	uint64_t pause_ns;
	/* Live targets: CLOCK_MONOTONIC (= the target's nanotime) at the
	 * moment every thread was stopped; 0 for cores and callbacks. */
	int64_t live_now;
	int64_t live_unix_offset;    /* CLOCK_REALTIME - CLOCK_MONOTONIC then */
};

/* Go version, layout and runtime variables of prog->exe (program.c). */
gp_error *gp_program_init_runtime(struct gp_program *prog);

/* target_live.c: detach (if still attached) and free the live target. */
gp_error *gp_live_detach(struct gp_program *prog);
/* The snapshot has read all it reads of the target but the copy: a live
 * target opened with GP_ATTACH_RESUME_EARLY runs again, and from then on
 * until gp_live_walked() a read outside the copy fails. No-op otherwise. */
gp_error *gp_live_gathered(struct gp_program *prog);
/* The walk is over: GP_ERROR_INCOMPLETE if it missed the copy after the
 * target ran again. */
gp_error *gp_live_walked(struct gp_program *prog);

/*
 * The machinery of waiting, not the user's code: the runtime, sync and the
 * standard library's internal packages. The site of a wait and the frames
 * that can hold the user's references both start below these.
 */
static inline bool gp_func_is_machinery(const char *fn)
{
	return !strncmp(fn, "runtime.", 8) || !strncmp(fn, "sync.", 5) ||
	       !strncmp(fn, "internal/", 9) || !strncmp(fn, "sync/", 5);
}

/* Field helpers: offset of a declared field, or GP_ABSENT. */
static inline int32_t gp_off(const struct gp_program *p, enum gp_field_id f)
{
	return p->layout.field_off[f];
}
static inline bool gp_has(const struct gp_program *p, enum gp_field_id f)
{
	return p->layout.field_off[f] != GP_ABSENT;
}

/* Reads a little-endian integer of 1, 2, 4 or 8 bytes from a buffer. */
static inline uint64_t gp_load(const uint8_t *buf, size_t size)
{
	uint64_t v = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* the hot path of decoding a million gs */
	if (size == 8) {
		memcpy(&v, buf, 8);
		return v;
	}
	if (size == 4) {
		uint32_t w;
		memcpy(&w, buf, 4);
		return w;
	}
#endif
	for (size_t i = 0; i < size && i < 8; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	return v;
}

/* Field value from a copy of a struct in buf (of buf_size bytes). */
static inline uint64_t gp_field(const struct gp_program *p,
				enum gp_field_id f, const uint8_t *buf,
				size_t buf_size)
{
	int32_t off = p->layout.field_off[f];
	int32_t size = p->layout.field_size[f];
	if (off < 0 || size <= 0 || (size_t)off + (size_t)size > buf_size)
		return 0;
	return gp_load(buf + off, (size_t)size);
}

#endif /* GP_INTERNAL_H */
