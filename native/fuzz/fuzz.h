/*
 * The libFuzzer harnesses' shared parts (fuzz.c). Each harness
 * (native/fuzz/fuzz_*.c) starts from a real fixture executable or core and
 * applies the fuzzer's input to it as a list of patches over a few "hot"
 * regions the harness names (the ELF headers, the pclntab, the g structs,
 * the spans, ...), so that the mutations land where the parsers look
 * instead of in megabytes of code nobody reads.
 *
 * Input: one byte choosing the case (the fixture: index into the cases,
 * modulo their number), then records, each
 *
 *   kind   u8    the region kind (modulo the harness's kinds)
 *   item   u16   which region of that kind (modulo their number)
 *   offset u32   into the region (modulo its size)
 *   len    u8    1 + len % 64 bytes follow (fewer at the input's end)
 *
 * A patch past the region's end is cut at its end. The cases come from
 * the file named by $GP_FUZZ_CASES, one "exe [core]" a line (the Makefile
 * writes it from corefiles/generate.py's cache, in a fixed order). With
 * $GP_FUZZ_SEEDS=DIR the harness writes its seed corpus (the case alone,
 * then one or two inputs per region kind and case, patching the region
 * with its own bytes) to DIR and exits.
 */
#ifndef GP_FUZZ_H
#define GP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fz_region {
	uint64_t addr;            /* a target address or a file offset */
	uint64_t size;
};

struct fz_kind {
	const char *name;
	struct fz_region *r;
	size_t n, cap;
};

#define FZ_MAX_KINDS 32
#define FZ_MAX_PATCHES 256

struct fz_patch {
	uint64_t addr;            /* where (address or file offset) */
	const uint8_t *bytes;
	size_t len;
};

struct fz_case {
	char *exe, *core;
	struct fz_kind kinds[FZ_MAX_KINDS];
	size_t nkinds;
	void *state;              /* the harness's own */
};

extern struct fz_case *fz_cases;
extern size_t fz_ncases;

/* Reads $GP_FUZZ_CASES; need_core: every line must name a core. Exits
 * with one line on stderr when there are none. */
void fz_load_cases(const char *harness, int need_core);
/* A region of kind name (created on first use) in case c. */
void fz_add(struct fz_case *c, const char *kind, uint64_t addr,
	    uint64_t size);
/* The input's case and patches (at most FZ_MAX_PATCHES, bytes point
 * into data), in input order. */
struct fz_case *fz_parse(const uint8_t *data, size_t size,
			 struct fz_patch *ret, size_t *ret_n);
/* One input over a file image: put(c, offset, bytes, len) writes each
 * patch, run(c) runs the parsers, then put writes orig(c)'s bytes back,
 * last patch first. run gets the input and its patches too. */
void fz_file_run(const uint8_t *data, size_t size,
		 void (*put)(struct fz_case *c, uint64_t off,
			     const uint8_t *bytes, size_t len),
		 const uint8_t *(*orig)(struct fz_case *c),
		 void (*run)(struct fz_case *c, const uint8_t *data,
			     size_t size, const struct fz_patch *p,
			     size_t n));
/* Whether a patch overlaps a region of kind name in case c. */
int fz_touches(const struct fz_case *c, const char *kind,
	       const struct fz_patch *p, size_t n);
/* Whether the input is one of the "full" stage: its first byte divided
 * by the number of cases is 3 modulo 4. Harnesses run their costliest
 * parsers on those (a quarter of the case byte's values) and on inputs
 * that patch what these read, the rest on the others. The seeds have
 * both: seed-cN (stage 0) and seed-cN-full. */
#define FZ_STAGES 4
int fz_full(const uint8_t *data, size_t size);
extern int fz_staged;     /* the harness uses fz_full: write both seeds */
extern int fz_seeds_per_kind; /* 2 (the default) or 1 */
/* GP_FUZZ_TWICE=1: run each input twice, abort when the two digests
 * differ (fz_mix: FNV-1a of the results, only computed then). */
int fz_twice(void);
uint64_t fz_mix(uint64_t h, const void *p, size_t n);
/* fz_mix of a string with its end (NULL as ""), and of an error's message
 * (or of none), which it destroys */
uint64_t fz_mix_str(uint64_t h, const char *str);
struct gp_error;
uint64_t fz_mix_err(uint64_t h, struct gp_error *err);
/* Copies the patches that overlap [addr, addr + size) into buf, which
 * holds those bytes. */
void fz_apply(const struct fz_patch *p, size_t n, uint64_t addr,
	      uint8_t *buf, size_t size);
/* After the cases' regions are known: writes the seeds if asked (and
 * exits), and prints the regions once (GP_FUZZ_VERBOSE=1). */
void fz_ready(const char *harness,
	      int (*read_orig)(struct fz_case *c, uint64_t addr, void *buf,
			       size_t size));
/* libFuzzer's initialisation for a harness: its cases (with a core each
 * if need_core), setup(case) to open them and name their regions, then
 * fz_ready. */
#define FZ_HARNESS(harness, need_core, setup, read_orig)                   \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                  \
	{                                                                  \
		(void)argc;                                                \
		(void)argv;                                                \
		fz_load_cases(harness, need_core);                         \
		for (size_t i_ = 0; i_ < fz_ncases; i_++)                  \
			setup(&fz_cases[i_]);                              \
		fz_ready(harness, read_orig);                              \
		return 0;                                                  \
	}

/*
 * The unit harnesses (fuzz_pclnblob, fuzz_code, fuzz_elf, fuzz_buildinfo,
 * fuzz_layout) take raw bytes: no fixture per input. Their seeds come
 * from the fixture executables named in $GP_FUZZ_EXES (one path a line;
 * missing files skipped), else those of $GP_FUZZ_CASES. fz_unit_seeds(harness, write) opens
 * each (gp_exe_open; one that does not open is skipped) and calls
 * write(dir, exe_index, exe) when $GP_FUZZ_SEEDS=DIR is set, closes it,
 * and exits; otherwise returns.
 */
struct gp_exe;
void fz_unit_seeds(const char *harness,
		   void (*write)(const char *dir, size_t i, struct gp_exe *exe));
/* Writes n bytes to dir/name (fz_die on failure). */
void fz_write(const char *harness, const char *dir, const char *name,
	      const void *p, size_t n);
/*
 * A small pclntab made from the executable's (.gopclntab at sec, n bytes):
 * the header with nfunc cut to the first functions whose names, pc
 * tables and CU files fall within the first name_max, pc_max, cu_max
 * (entries) bytes of the sub-tables (at most nfunc_max functions), the
 * sub-tables cut there, the function table and records of those
 * functions. malloc'd into *ret, its size in *ret_n; false if it cannot.
 */
bool fz_small_pclntab(const uint8_t *sec, size_t n, size_t name_max,
		      size_t cu_max, size_t file_max, size_t pc_max,
		      uint32_t nfunc_max, uint8_t **ret, size_t *ret_n);

/* A line on stderr and exit(1): set-up failed, not a finding. */
void fz_die(const char *harness, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
