/*
 * The Go pclntab: pc -> function, SP delta, file:line and inlined calls.
 *
 * Formats: Go 1.18/1.19 (magic 0xfffffff0) and 1.20+ (0xfffffff1), as laid
 * out by cmd/link/internal/ld/pcln.go and read by runtime/symtab.go and
 * runtime/symtabinl.go of each release. The table comes from an untrusted
 * executable: every offset, count and varint is checked against the bounds
 * of the sub-table it indexes, and nothing here recurses on its data.
 *
 * Only linux/amd64 is decoded today. What is amd64-specific: ptrSize 8 and
 * the little-endian loads; minLC (PCQuantum) is taken from the header, so
 * arm64 (minLC 4) needs nothing more here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "binary/binary.h"

#define MAGIC_GO118 0xfffffff0u
#define MAGIC_GO120 0xfffffff1u

/* pcHeader (runtime/symtab.go): magic u32, pad u8 u8, minLC u8, ptrSize u8,
 * then seven uintptrs: nfunc, nfiles, textStart (unused and 0 from 1.26),
 * funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset. */
#define HDR_SIZE 72

/* internal/abi PCDATA/FUNCDATA indexes, stable 1.19 to 1.26. */
#define PCDATA_INLTREEINDEX 2
#define FUNCDATA_INLTREE 3

/* Bound on inlining depth walked per pc; the real maximum is far lower. */
#define MAX_INLINE_DEPTH 256

#define BUCKET_SHIFT 8
#define MAX_BUCKETS (UINT64_C(1) << 24)   /* 4 GiB of text */
#define SPCACHE_SIZE 4096                 /* entries, a power of 2 */

struct region {
	const uint8_t *p;
	uint64_t n;
};

struct gp_pclntab {
	const struct gp_exe *exe;
	gp_read_fn *read;         /* the target's memory, or NULL */
	void *read_arg;
	struct region all;          /* the pclntab, from the pcHeader */
	uint64_t addr;              /* target address of the pcHeader */
	uint32_t magic;
	int gover;
	uint32_t minlc;
	uint32_t nfunc;
	uint64_t text_start;
	struct region funcnames, cutab, filetab, pctab, pcln;
	uint32_t func_size;         /* sizeof(_func): 40 (1.19), 44 (1.20+) */
	uint32_t inl_size;          /* sizeof(inlinedCall): 20 (1.19), 16 */
	uint64_t moduledata;        /* 0 when not found */
	uint64_t gofunc;            /* 0 when not found: no inlined frames */
	struct region gofunc_data;  /* bytes from gofunc to its segment end */
	uint8_t funcid_map[256];    /* raw internal/abi FuncID -> gp_funcid */

	/* find_func accelerator: for each BUCKET_SIZE bytes of text, the
	 * function containing its first byte (our own table, built from the
	 * ftab at open; the runtime's findfunctab is not trusted). */
	uint32_t *buckets;
	uint64_t nbuckets;
	/* SP-delta cache, direct-mapped on the pc: one 64-bit word per entry,
	 * (pc offset + 1) << 32 | delta, read and written atomically so that
	 * concurrent unwinders never see a torn entry. 0 = empty. */
	uint64_t *spcache;

	/* Name index, built on first use of gp_pclntab_func_by_name. */
	pthread_mutex_t lock;
	bool by_name_built;
	uint32_t *by_name;          /* ftab indexes sorted by name */
	uint32_t nby_name;
};

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* A NUL-terminated string at off in r, or NULL. */
static const char *region_str(const struct region *r, uint64_t off)
{
	if (off >= r->n)
		return NULL;
	if (!memchr(r->p + off, '\0', r->n - off))
		return NULL;
	return (const char *)r->p + off;
}

/* ---------------------------------------------------------------- funcID */

/*
 * internal/abi.FuncID is an iota enum whose values moved twice: 1.22 added
 * FuncID_corostart after cgocallback, 1.25 replaced runfinq with
 * runFinalizers and runCleanups. gp_func.funcid holds our stable enum.
 */
static const uint8_t funcids_119[] = {
	GP_FUNCID_NORMAL, GP_FUNCID_ABORT, GP_FUNCID_ASMCGOCALL,
	GP_FUNCID_ASYNCPREEMPT, GP_FUNCID_CGOCALLBACK, GP_FUNCID_DEBUGCALLV2,
	GP_FUNCID_GCBGMARKWORKER, GP_FUNCID_GOEXIT, GP_FUNCID_GOGO,
	GP_FUNCID_GOPANIC, GP_FUNCID_HANDLEASYNCEVENT, GP_FUNCID_MCALL,
	GP_FUNCID_MORESTACK, GP_FUNCID_MSTART, GP_FUNCID_PANICWRAP,
	GP_FUNCID_RT0_GO, GP_FUNCID_RUNFINQ, GP_FUNCID_RUNTIME_MAIN,
	GP_FUNCID_SIGPANIC, GP_FUNCID_SYSTEMSTACK,
	GP_FUNCID_SYSTEMSTACK_SWITCH, GP_FUNCID_WRAPPER,
};
static const uint8_t funcids_122[] = {
	GP_FUNCID_NORMAL, GP_FUNCID_ABORT, GP_FUNCID_ASMCGOCALL,
	GP_FUNCID_ASYNCPREEMPT, GP_FUNCID_CGOCALLBACK, GP_FUNCID_COROSTART,
	GP_FUNCID_DEBUGCALLV2, GP_FUNCID_GCBGMARKWORKER, GP_FUNCID_GOEXIT,
	GP_FUNCID_GOGO, GP_FUNCID_GOPANIC, GP_FUNCID_HANDLEASYNCEVENT,
	GP_FUNCID_MCALL, GP_FUNCID_MORESTACK, GP_FUNCID_MSTART,
	GP_FUNCID_PANICWRAP, GP_FUNCID_RT0_GO, GP_FUNCID_RUNFINQ,
	GP_FUNCID_RUNTIME_MAIN, GP_FUNCID_SIGPANIC, GP_FUNCID_SYSTEMSTACK,
	GP_FUNCID_SYSTEMSTACK_SWITCH, GP_FUNCID_WRAPPER,
};
static const uint8_t funcids_125[] = {
	GP_FUNCID_NORMAL, GP_FUNCID_ABORT, GP_FUNCID_ASMCGOCALL,
	GP_FUNCID_ASYNCPREEMPT, GP_FUNCID_CGOCALLBACK, GP_FUNCID_COROSTART,
	GP_FUNCID_DEBUGCALLV2, GP_FUNCID_GCBGMARKWORKER, GP_FUNCID_GOEXIT,
	GP_FUNCID_GOGO, GP_FUNCID_GOPANIC, GP_FUNCID_HANDLEASYNCEVENT,
	GP_FUNCID_MCALL, GP_FUNCID_MORESTACK, GP_FUNCID_MSTART,
	GP_FUNCID_PANICWRAP, GP_FUNCID_RT0_GO, GP_FUNCID_RUNTIME_MAIN,
	GP_FUNCID_RUNFINALIZERS, GP_FUNCID_RUNCLEANUPS, GP_FUNCID_SIGPANIC,
	GP_FUNCID_SYSTEMSTACK, GP_FUNCID_SYSTEMSTACK_SWITCH,
	GP_FUNCID_WRAPPER,
};

static void set_funcid_map(struct gp_pclntab *tab, const uint8_t *ids,
			   size_t n)
{
	memset(tab->funcid_map, GP_FUNCID_UNKNOWN, sizeof(tab->funcid_map));
	for (size_t i = 0; i < n; i++)
		tab->funcid_map[i] = ids[i];
}

static void choose_funcid_map(struct gp_pclntab *tab)
{
	if (tab->gover >= GP_GOVER(1, 25))
		set_funcid_map(tab, funcids_125, sizeof(funcids_125));
	else if (tab->gover >= GP_GOVER(1, 22))
		set_funcid_map(tab, funcids_122, sizeof(funcids_122));
	else
		set_funcid_map(tab, funcids_119, sizeof(funcids_119));
}

/* ------------------------------------------------------------ functions */

uint64_t gp_pclntab_text_start(const struct gp_pclntab *tab)
{
	return tab->text_start;
}

const struct gp_arch *gp_pclntab_arch(const struct gp_pclntab *tab)
{
	return tab->exe->arch;
}

int gp_pclntab_gover(const struct gp_pclntab *tab)
{
	return tab->gover;
}

uint32_t gp_pclntab_num_funcs(const struct gp_pclntab *tab)
{
	return tab->nfunc;
}

static inline uint32_t ftab_entry(const struct gp_pclntab *tab, uint32_t i)
{
	return rd32(tab->pcln.p + (uint64_t)i * 8);
}

/* The _func record at funcoff, if it and its pcdata/funcdata arrays fit. */
static const uint8_t *func_record(const struct gp_pclntab *tab,
				  uint32_t funcoff)
{
	if ((uint64_t)funcoff + tab->func_size > tab->pcln.n)
		return NULL;
	return tab->pcln.p + funcoff;
}

/* Field offsets in _func, common to 1.19 and 1.20+ up to cuOffset. */
enum {
	F_ENTRYOFF = 0, F_NAMEOFF = 4, F_ARGS = 8, F_DEFERRETURN = 12,
	F_PCSP = 16, F_PCFILE = 20, F_PCLN = 24, F_NPCDATA = 28,
	F_CUOFFSET = 32,
	/* then startLine (1.20+ only), funcID, flag, pad, nfuncdata: the
	 * last four bytes of the record */
};

static bool fill_func(const struct gp_pclntab *tab, uint32_t i,
		      struct gp_func *ret)
{
	uint32_t funcoff = rd32(tab->pcln.p + (uint64_t)i * 8 + 4);
	const uint8_t *f = func_record(tab, funcoff);
	if (!f)
		return false;
	uint32_t entryoff = rd32(f + F_ENTRYOFF);
	if (entryoff != ftab_entry(tab, i))
		return false;
	const char *name = region_str(&tab->funcnames, rd32(f + F_NAMEOFF));
	const uint8_t *tail = f + tab->func_size - 4;
	ret->entry = tab->text_start + entryoff;
	ret->end = tab->text_start + ftab_entry(tab, i + 1);
	ret->name = name ? name : "?";
	ret->funcoff = funcoff;
	ret->funcid = tab->funcid_map[tail[0]];
	ret->flag = tail[1];
	return true;
}

bool gp_pclntab_find_func(const struct gp_pclntab *tab, uint64_t pc,
			  struct gp_func *ret)
{
	if (pc < tab->text_start)
		return false;
	uint64_t off = pc - tab->text_start;
	uint32_t n = tab->nfunc;
	if (off >= ftab_entry(tab, n) || off < ftab_entry(tab, 0))
		return false;
	/* Largest i in [0, n) with entry(i) <= off. */
	uint32_t lo = 0, hi = n;
	uint64_t b = off >> BUCKET_SHIFT;
	if (b + 1 < tab->nbuckets) {
		lo = tab->buckets[b];
		hi = tab->buckets[b + 1] + 1;
		if (hi > n || lo >= hi || ftab_entry(tab, lo) > off)
			lo = 0, hi = n;
	}
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ftab_entry(tab, mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	if (ftab_entry(tab, lo + 1) <= off)
		return false; /* unsorted table */
	return fill_func(tab, lo, ret);
}

/* ------------------------------------------------------------- pcvalue */

/* A varint of at most 5 bytes (32 bits) in [*p, end). */
static inline bool read_varint(const uint8_t **p, const uint8_t *end,
			       uint32_t *ret)
{
	uint32_t v = 0;
	for (unsigned shift = 0; shift < 35; shift += 7) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/*
 * The value of the pc-value table at pctab offset off for targetpc in fn
 * (runtime/symtab.go pcvalue/step). Values start at -1 at the entry; a zero
 * value delta after the first entry ends the table. Decoding stops as soon
 * as the table passes targetpc.
 */
static bool pcvalue(const struct gp_pclntab *tab, const struct gp_func *fn,
		    uint32_t off, uint64_t targetpc, int32_t *ret)
{
	if (off == 0 || off >= tab->pctab.n)
		return false;
	const uint8_t *p = tab->pctab.p + off;
	const uint8_t *end = tab->pctab.p + tab->pctab.n;
	uint64_t pc = fn->entry;
	uint32_t val = UINT32_MAX; /* -1, in unsigned arithmetic */
	for (;;) {
		bool first = pc == fn->entry;
		uint32_t uv, pcd;
		if (!read_varint(&p, end, &uv))
			return false;
		if (uv == 0 && !first)
			return false; /* end of table before targetpc */
		val += -(uv & 1) ^ (uv >> 1);
		if (!read_varint(&p, end, &pcd))
			return false;
		pc += (uint64_t)pcd * tab->minlc;
		if (targetpc < pc) {
			*ret = (int32_t)val;
			return true;
		}
	}
}

static inline uint32_t func_u32(const struct gp_pclntab *tab,
				const struct gp_func *fn, uint32_t field)
{
	return rd32(tab->pcln.p + fn->funcoff + field);
}

gp_error *gp_pclntab_sp_delta(const struct gp_pclntab *tab,
			      const struct gp_func *fn, uint64_t pc,
			      int32_t *ret)
{
	/* A million goroutines share a few hundred pcs: cache by pc. */
	uint64_t key = pc - tab->text_start + 1;
	uint64_t *slot = NULL;
	if (tab->spcache && pc >= fn->entry && pc < fn->end &&
	    key < UINT32_MAX) {
		uint64_t h = (key * UINT64_C(0x9e3779b97f4a7c15)) >> 52;
		slot = &tab->spcache[h & (SPCACHE_SIZE - 1)];
		uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);
		if (e >> 32 == key) {
			*ret = (int32_t)(uint32_t)e;
			return NULL;
		}
	}
	uint32_t off = func_u32(tab, fn, F_PCSP);
	if (off == 0)
		return gp_error_create(GP_ERROR_NOT_FOUND,
				       "%s has no SP table", fn->name);
	if (!pcvalue(tab, fn, off, pc, ret))
		return gp_error_create(GP_ERROR_CORRUPT,
				       "invalid SP table of %s at pc 0x%llx",
				       fn->name, (unsigned long long)pc);
	if (slot)
		__atomic_store_n(slot, key << 32 | (uint32_t)*ret,
				 __ATOMIC_RELAXED);
	return NULL;
}

bool gp_pclntab_has_frame_info(const struct gp_pclntab *tab,
			       const struct gp_func *fn)
{
	return func_u32(tab, fn, F_PCSP) != 0;
}

/* PCDATA table idx at pc; -1 when absent, like runtime.pcdatavalue1. */
static int32_t pcdata_value(const struct gp_pclntab *tab,
			    const struct gp_func *fn, uint32_t idx,
			    uint64_t pc)
{
	const uint8_t *f = tab->pcln.p + fn->funcoff;
	uint32_t npcdata = rd32(f + F_NPCDATA);
	if (idx >= npcdata)
		return -1;
	uint64_t at = (uint64_t)fn->funcoff + tab->func_size + 4ull * idx;
	if (at + 4 > tab->pcln.n)
		return -1;
	int32_t v;
	if (!pcvalue(tab, fn, rd32(tab->pcln.p + at), pc, &v))
		return -1;
	return v;
}

/* Offset of FUNCDATA idx in gofunc_data, or -1 (runtime.funcdata). */
static int64_t funcdata_off(const struct gp_pclntab *tab,
			    const struct gp_func *fn, uint32_t idx)
{
	if (!tab->gofunc)
		return -1;
	const uint8_t *f = tab->pcln.p + fn->funcoff;
	uint32_t nfuncdata = f[tab->func_size - 1];
	if (idx >= nfuncdata)
		return -1;
	uint64_t npcdata = rd32(f + F_NPCDATA);
	uint64_t at = (uint64_t)fn->funcoff + tab->func_size + 4 * npcdata +
		      4ull * idx;
	if (at + 4 > tab->pcln.n)
		return -1;
	uint32_t off = rd32(tab->pcln.p + at);
	if (off == UINT32_MAX || off >= tab->gofunc_data.n)
		return -1;
	return off;
}

int32_t gp_pclntab_pcdata(const struct gp_pclntab *tab,
			  const struct gp_func *fn, uint32_t idx, uint64_t pc)
{
	return pcdata_value(tab, fn, idx, pc);
}

const uint8_t *gp_pclntab_funcdata(const struct gp_pclntab *tab,
				   const struct gp_func *fn, uint32_t idx,
				   uint64_t *ret_addr, size_t *ret_avail)
{
	int64_t off = funcdata_off(tab, fn, idx);
	if (off < 0)
		return NULL;
	*ret_addr = tab->gofunc + (uint64_t)off;
	*ret_avail = (size_t)(tab->gofunc_data.n - (uint64_t)off);
	return tab->gofunc_data.p + off;
}

int32_t gp_pclntab_func_args(const struct gp_pclntab *tab,
			     const struct gp_func *fn)
{
	return (int32_t)func_u32(tab, fn, F_ARGS);
}

/* runtime.funcline1: "?", 0 on any failure. */
static void funcline(const struct gp_pclntab *tab, const struct gp_func *fn,
		     uint64_t pc, const char **file, uint32_t *line)
{
	int32_t fileno, ln;
	*file = "?";
	*line = 0;
	if (!pcvalue(tab, fn, func_u32(tab, fn, F_PCFILE), pc, &fileno) ||
	    !pcvalue(tab, fn, func_u32(tab, fn, F_PCLN), pc, &ln) ||
	    fileno < 0 || ln < 0)
		return;
	uint64_t cu = func_u32(tab, fn, F_CUOFFSET);
	uint64_t idx = cu + (uint64_t)fileno;
	if (idx >= tab->cutab.n / 4)
		return;
	uint32_t fileoff = rd32(tab->cutab.p + idx * 4);
	if (fileoff == UINT32_MAX)
		return;
	const char *s = region_str(&tab->filetab, fileoff);
	if (!s)
		return;
	*file = s;
	*line = (uint32_t)ln;
}

/* One inlinedCall; layout from runtime/symtab.go (1.19) and
 * runtime/symtabinl.go (1.20+). */
struct inlined_call {
	uint8_t funcid;     /* raw */
	int32_t name_off;
	int32_t parent_pc;
};

static bool inlined_call(const struct gp_pclntab *tab, int64_t tree,
			 int32_t ix, struct inlined_call *ret)
{
	uint64_t at = (uint64_t)tree + (uint64_t)ix * tab->inl_size;
	if (ix < 0 || at + tab->inl_size > tab->gofunc_data.n)
		return false;
	const uint8_t *p = tab->gofunc_data.p + at;
	if (tab->magic == MAGIC_GO118) {
		/* parent int16, funcID, pad, file, line, func_, parentPc */
		ret->funcid = p[2];
		ret->name_off = (int32_t)rd32(p + 12);
		ret->parent_pc = (int32_t)rd32(p + 16);
	} else {
		/* funcID, pad[3], nameOff, parentPc, startLine */
		ret->funcid = p[0];
		ret->name_off = (int32_t)rd32(p + 4);
		ret->parent_pc = (int32_t)rd32(p + 8);
	}
	return true;
}

size_t gp_pclntab_symbolize(const struct gp_pclntab *tab, uint64_t pc,
			    uint64_t sympc, struct gp_symframe *ret,
			    size_t max)
{
	struct gp_func fn;
	if (!max || !gp_pclntab_find_func(tab, pc, &fn))
		return 0;
	/* newInlineUnwinder / gentraceback: each inlined frame gets the
	 * file:line of the pc it stands at; the next outer one stands at
	 * entry + parentPc of the inlined call. */
	int64_t tree = funcdata_off(tab, &fn, FUNCDATA_INLTREE);
	int32_t ix = tree < 0 ? -1 :
		pcdata_value(tab, &fn, PCDATA_INLTREEINDEX, sympc);
	size_t n = 0;
	uint64_t cur = sympc;
	while (ix >= 0 && n + 1 < max && n < MAX_INLINE_DEPTH) {
		struct inlined_call ic;
		if (!inlined_call(tab, tree, ix, &ic))
			break;
		const char *name = ic.name_off < 0 ? NULL :
			region_str(&tab->funcnames, (uint64_t)ic.name_off);
		struct gp_symframe *f = &ret[n++];
		f->func = name ? name : "?";
		funcline(tab, &fn, cur, &f->file, &f->line);
		f->inlined = true;
		f->funcid = tab->funcid_map[ic.funcid];
		cur = fn.entry + (uint64_t)(int64_t)ic.parent_pc;
		ix = pcdata_value(tab, &fn, PCDATA_INLTREEINDEX, cur);
	}
	struct gp_symframe *f = &ret[n++];
	f->func = fn.name;
	funcline(tab, &fn, cur, &f->file, &f->line);
	f->inlined = false;
	f->funcid = fn.funcid;
	return n;
}

bool gp_pclntab_pcline(const struct gp_pclntab *tab, uint64_t pc,
		       const char **ret_file, uint32_t *ret_line)
{
	struct gp_func fn;
	if (!gp_pclntab_find_func(tab, pc, &fn))
		return false;
	funcline(tab, &fn, pc, ret_file, ret_line);
	return true;
}

/* ------------------------------------------------------------ by name */

struct name_ent {
	const char *name;
	uint32_t i;
};

static int name_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_ent *)a)->name,
		      ((const struct name_ent *)b)->name);
}

/* Each function decoded once, its name kept beside its index for the
 * sort (a comparison that decoded both records cost most of opening a
 * stripped executable). */
static void build_by_name(struct gp_pclntab *tab)
{
	uint32_t *idx = malloc(((size_t)tab->nfunc + 1) * sizeof(*idx));
	struct name_ent *ents = malloc(((size_t)tab->nfunc + 1) * sizeof(*ents));
	if (!idx || !ents) {
		free(idx);
		free(ents);
		return; /* retried on the next call */
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < tab->nfunc; i++) {
		struct gp_func f;
		if (fill_func(tab, i, &f) && strcmp(f.name, "?"))
			ents[n++] = (struct name_ent){ f.name, i };
	}
	gp_qsort(ents, n, sizeof(*ents), name_ent_cmp);
	for (uint32_t k = 0; k < n; k++)
		idx[k] = ents[k].i;
	free(ents);
	tab->by_name = idx;
	tab->nby_name = n;
	tab->by_name_built = true;
}

bool gp_pclntab_func_by_name(const struct gp_pclntab *ctab, const char *name,
			     struct gp_func *ret)
{
	/* The index is a cache: logically const, built once under lock. */
	struct gp_pclntab *tab = (struct gp_pclntab *)ctab;
	pthread_mutex_lock(&tab->lock);
	if (!tab->by_name_built)
		build_by_name(tab);
	pthread_mutex_unlock(&tab->lock);
	if (!tab->by_name_built)
		return false;
	uint32_t lo = 0, hi = tab->nby_name;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct gp_func f;
		fill_func(tab, tab->by_name[mid], &f);
		int c = strcmp(f.name, name);
		if (!c) {
			*ret = f;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

const char *gp_func_print_name(const char *name, char *buf, size_t size)
{
	/* runtime.funcNamePiecesForPrint (1.21+): shape names in generic
	 * functions print as "[...]"; runtime.printFuncName prints
	 * runtime.gopanic as "panic". */
	if (!strcmp(name, "runtime.gopanic"))
		return "panic";
	const char *i = strchr(name, '[');
	const char *j = strrchr(name, ']');
	if (!i || !j || j <= i)
		return name;
	size_t a = (size_t)(i - name), c = strlen(j + 1);
	if (a + 5 + c + 1 > size)
		return name;
	memcpy(buf, name, a);
	memcpy(buf + a, "[...]", 5);
	memcpy(buf + a + 5, j + 1, c + 1);
	return buf;
}

/* ---------------------------------------------------------------- open */

/* Bytes [addr, addr+size) of the executable's file image, or NULL. */
static const uint8_t *exe_ptr(const struct gp_exe *exe, uint64_t addr,
			      uint64_t size, uint64_t *ret_avail)
{
	for (size_t i = 0; i < exe->nloads; i++) {
		const struct gp_segment *s = &exe->loads[i];
		if (addr < s->start || addr - s->start >= s->avail || !s->data)
			continue;
		uint64_t avail = s->avail - (addr - s->start);
		if (avail < size)
			return NULL;
		if (ret_avail)
			*ret_avail = avail;
		return s->data + (addr - s->start);
	}
	return NULL;
}

static bool read_target(const struct gp_pclntab *tab, uint64_t addr,
			void *buf, size_t size)
{
	const uint8_t *p = exe_ptr(tab->exe, addr, size, NULL);
	if (p) {
		memcpy(buf, p, size);
		return true;
	}
	if (!tab->read)
		return false;
	gp_error *err = tab->read(tab->read_arg, addr, buf, size);
	if (err) {
		gp_error_destroy(err);
		return false;
	}
	return true;
}

/* Checks a pcHeader at p (avail bytes) and fills the sub-tables. */
static gp_error *parse_header(struct gp_pclntab *tab, const uint8_t *p,
			      uint64_t avail)
{
	if (avail < HDR_SIZE)
		return gp_error_create(GP_ERROR_FORMAT,
				       "pclntab truncated (%llu bytes)",
				       (unsigned long long)avail);
	uint32_t magic = rd32(p);
	if (magic != MAGIC_GO118 && magic != MAGIC_GO120)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "unsupported pclntab magic 0x%x (Go 1.19 or later needed)",
				       magic);
	if (p[4] || p[5] || (p[6] != 1 && p[6] != 2 && p[6] != 4) ||
	    p[7] != 8)
		return gp_error_create(GP_ERROR_FORMAT,
				       "bad pclntab header (minLC %u, ptrSize %u)",
				       p[6], p[7]);
	uint64_t nfunc = rd64(p + 8);
	uint64_t off[5];
	for (int i = 0; i < 5; i++)
		off[i] = rd64(p + 32 + 8 * i);
	/* funcname, cu, file, pc tables then the function table, in file
	 * order (cmd/link pcln.go); each ends where the next begins. */
	for (int i = 0; i < 5; i++) {
		uint64_t next = i < 4 ? off[i + 1] : avail;
		if (off[i] < HDR_SIZE || off[i] > next || next > avail)
			return gp_error_create(GP_ERROR_FORMAT,
					       "bad pclntab header (table %d at 0x%llx)",
					       i, (unsigned long long)off[i]);
	}
	struct region *r[5] = { &tab->funcnames, &tab->cutab, &tab->filetab,
				&tab->pctab, &tab->pcln };
	for (int i = 0; i < 5; i++) {
		uint64_t next = i < 4 ? off[i + 1] : avail;
		r[i]->p = p + off[i];
		r[i]->n = next - off[i];
	}
	if (nfunc == 0 || nfunc >= UINT32_MAX / 8 ||
	    (nfunc + 1) * 8 > tab->pcln.n)
		return gp_error_create(GP_ERROR_FORMAT,
				       "bad pclntab function count %llu",
				       (unsigned long long)nfunc);
	tab->all.p = p;
	tab->all.n = avail;
	tab->magic = magic;
	tab->minlc = p[6];
	tab->nfunc = (uint32_t)nfunc;
	tab->text_start = rd64(p + 24);
	tab->func_size = magic == MAGIC_GO118 ? 40 : 44;
	tab->inl_size = magic == MAGIC_GO118 ? 20 : 16;
	return NULL;
}

/* Scans the read-only segments of the executable for a pcHeader when the
 * section headers are gone (the header is pointer-aligned). */
static gp_error *scan_for_header(struct gp_pclntab *tab)
{
	const struct gp_exe *exe = tab->exe;
	for (size_t i = 0; i < exe->nloads; i++) {
		const struct gp_segment *s = &exe->loads[i];
		if (!s->data || s->avail < HDR_SIZE)
			continue;
		for (uint64_t o = (8 - (s->start & 7)) & 7;
		     o + HDR_SIZE <= s->avail; o += 8) {
			uint32_t m = rd32(s->data + o);
			if (m != MAGIC_GO118 && m != MAGIC_GO120)
				continue;
			gp_error *err = parse_header(tab, s->data + o,
						     s->avail - o);
			if (err) {
				gp_error_destroy(err);
				continue;
			}
			tab->addr = s->start + o;
			return NULL;
		}
	}
	return gp_error_create(GP_ERROR_NOT_GO,
			       "%s: no Go pclntab found", exe->path);
}

/*
 * runtime.moduledata (runtime/symtab.go): pcHeader, then six slices
 * (funcnametab, cutab, filetab, pctab, pclntable, ftab), in every release
 * from 1.19 to 1.27: what moduledata_ok checks. Fields further on moved
 * (1.20 added covctrs; 1.27 added typedesclen, itaboffset and itabsize
 * before gofunc): their offsets come from the built-in table of the
 * release (fields.def MODULEDATA_TEXT, MODULEDATA_GOFUNC), never from a
 * constant. The moduledata is only searched for in stripped binaries,
 * which need a table of their release anyway.
 */
#define MD_FUNCNAMETAB 8
#define MD_PCLNTABLE (8 + 4 * 24)
#define MD_CHECKED (MD_PCLNTABLE + 8)

/* Reads the word of moduledata field f; false when unknown or unreadable. */
static bool md_word(const struct gp_pclntab *tab, enum gp_field_id f,
		    uint64_t *ret)
{
	int32_t off = gp_layout_table_field_off(tab->exe->machine, tab->gover, f);
	uint8_t buf[8];
	if (!tab->moduledata || off < 0 ||
	    !read_target(tab, tab->moduledata + (uint64_t)off, buf, 8))
		return false;
	*ret = rd64(buf);
	return true;
}

static bool moduledata_ok(const struct gp_pclntab *tab, uint64_t md)
{
	uint8_t buf[MD_CHECKED];
	if (!read_target(tab, md, buf, sizeof(buf)))
		return false;
	uint64_t base = tab->addr;
	return rd64(buf) == base &&
	       rd64(buf + MD_FUNCNAMETAB) ==
		       base + (uint64_t)(tab->funcnames.p - tab->all.p) &&
	       rd64(buf + MD_PCLNTABLE) ==
		       base + (uint64_t)(tab->pcln.p - tab->all.p);
}

static uint64_t find_moduledata(const struct gp_pclntab *tab)
{
	const struct gp_exe *exe = tab->exe;
	const struct gp_symbol *sym =
		gp_exe_symbol(exe, "runtime.firstmoduledata");
	if (sym && moduledata_ok(tab, sym->value))
		return sym->value;
	/* Stripped: firstmoduledata is the word in .noptrdata holding the
	 * pclntab's address (GO_RUNTIME.md section I); without sections,
	 * try every writable segment. */
	static const char *const names[] = { ".go.module", /* 1.26 */
					     ".noptrdata", ".data" };
	for (size_t k = 0; k < GP_ARRAY_SIZE(names); k++) {
		const struct gp_section *s = gp_exe_section(exe, names[k]);
		if (!s || !s->data)
			continue;
		for (uint64_t o = (8 - (s->addr & 7)) & 7; o + 8 <= s->size;
		     o += 8)
			if (rd64(s->data + o) == tab->addr &&
			    moduledata_ok(tab, s->addr + o))
				return s->addr + o;
	}
	for (size_t i = 0; i < exe->nloads; i++) {
		const struct gp_segment *s = &exe->loads[i];
		if (!s->writable || !s->data)
			continue;
		for (uint64_t o = (8 - (s->start & 7)) & 7; o + 8 <= s->avail;
		     o += 8)
			if (rd64(s->data + o) == tab->addr &&
			    moduledata_ok(tab, s->start + o))
				return s->start + o;
	}
	return 0;
}

static void find_gofunc(struct gp_pclntab *tab)
{
	const struct gp_symbol *sym = gp_exe_symbol(tab->exe, "go:func.*");
	if (!sym)
		sym = gp_exe_symbol(tab->exe, "go.func.*"); /* 1.19 */
	uint64_t gofunc = sym ? sym->value : 0;
	if (!gofunc)
		md_word(tab, GP_F_MODULEDATA_GOFUNC, &gofunc);
	if (!gofunc)
		return;
	uint64_t avail;
	const uint8_t *p = exe_ptr(tab->exe, gofunc, 1, &avail);
	if (!p)
		return;
	tab->gofunc = gofunc;
	tab->gofunc_data.p = p;
	tab->gofunc_data.n = avail;
}

/* Optional: without the table (no memory, huge text) find_func does a
 * plain binary search. A bad (unsorted) ftab only makes it slower. The
 * text's end is the table's last word: a table of a few functions that
 * claims gigabytes of text gets no buckets (a real one has about one
 * bucket per function: ~150 bytes of code each), never a buffer and a
 * loop sized by that word alone. */
static void build_buckets(struct gp_pclntab *tab)
{
	uint64_t span = ftab_entry(tab, tab->nfunc);
	uint64_t nb = (span >> BUCKET_SHIFT) + 2;
	if (nb > MAX_BUCKETS || nb > 64 * ((uint64_t)tab->nfunc + 16))
		return;
	uint32_t *b = malloc(nb * sizeof(*b));
	if (!b)
		return;
	uint32_t i = 0;
	for (uint64_t k = 0; k < nb; k++) {
		uint64_t off = k << BUCKET_SHIFT;
		while (i + 1 < tab->nfunc && ftab_entry(tab, i + 1) <= off)
			i++;
		b[k] = i;
	}
	tab->buckets = b;
	tab->nbuckets = nb;
}

gp_error *gp_pclntab_open(const struct gp_exe *exe, gp_read_fn *read,
			  void *read_arg, struct gp_pclntab **ret)
{
	gp_error *err;
	struct gp_pclntab *tab = calloc(1, sizeof(*tab));
	if (!tab)
		return &gp_error_nomem;
	tab->exe = exe;
	tab->read = read;
	tab->read_arg = read_arg;
	pthread_mutex_init(&tab->lock, NULL);

	const struct gp_section *sec = gp_exe_section(exe, ".gopclntab");
	if (!sec)
		sec = gp_exe_section(exe, ".data.rel.ro.gopclntab");
	if (sec && sec->data && sec->size) {
		if ((err = parse_header(tab, sec->data, sec->size)))
			goto fail;
		tab->addr = sec->addr;
	} else if ((err = scan_for_header(tab))) {
		goto fail;
	}

	if (exe->go_major == 1 && exe->go_minor > 0)
		tab->gover = GP_GOVER(exe->go_major, exe->go_minor);
	else
		tab->gover = tab->magic == MAGIC_GO118 ? GP_GOVER(1, 19) :
							 GP_GOVER(1, 20);
	if ((tab->magic == MAGIC_GO118) != (tab->gover < GP_GOVER(1, 20))) {
		err = gp_error_create(GP_ERROR_FORMAT,
				      "pclntab magic 0x%x does not match Go version %d.%d",
				      tab->magic, tab->gover / 100,
				      tab->gover % 100);
		goto fail;
	}
	choose_funcid_map(tab);

	tab->moduledata = find_moduledata(tab);
	if (!tab->text_start) {
		/* 1.26 no longer stores textStart: use moduledata.text, or
		 * the runtime.text symbol, or the .text section. */
		const struct gp_symbol *sym;
		const struct gp_section *text;
		if (md_word(tab, GP_F_MODULEDATA_TEXT, &tab->text_start)) {
			/* from the moduledata */
		} else if ((sym = gp_exe_symbol(exe, "runtime.text"))) {
			tab->text_start = sym->value;
		} else if ((text = gp_exe_section(exe, ".text"))) {
			tab->text_start = text->addr;
		}
		if (!tab->text_start) {
			err = gp_error_create(GP_ERROR_FORMAT,
					      "%s: cannot find the start of the text",
					      exe->path);
			goto fail;
		}
	}
	find_gofunc(tab);
	build_buckets(tab);
	tab->spcache = calloc(SPCACHE_SIZE, sizeof(*tab->spcache));
	*ret = tab;
	return NULL;
fail:
	gp_pclntab_destroy(tab);
	return gp_error_wrap(err, "reading the pclntab of %s", exe->path);
}

void gp_pclntab_destroy(struct gp_pclntab *tab)
{
	if (!tab)
		return;
	pthread_mutex_destroy(&tab->lock);
	free(tab->by_name);
	free(tab->buckets);
	free(tab->spcache);
	free(tab);
}

uint64_t gp_pclntab_gofunc(const struct gp_pclntab *tab)
{
	return tab->gofunc;
}

uint64_t gp_pclntab_moduledata(const struct gp_pclntab *tab)
{
	return tab->moduledata;
}
