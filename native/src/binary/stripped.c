/*
 * Runtime variables without a symbol table (-ldflags='-s -w', strip).
 *
 * The pclntab still names every function, and a few runtime functions
 * reference the variables we need with RIP-relative operands. Each variable
 * is found by decoding those operands in one function, chosen because its
 * code has the same shape in every release from 1.19 to 1.26 (checked
 * against the symbol tables of the DWARF builds of each release by
 * tests/test_stripped.py):
 *
 *   allgs, allglen     runtime.allgadd: allgs is the slice referenced at
 *                      +0, +8 and +16; allglock is locked first and
 *                      unlocked last; allgptr is compared with allgs[0];
 *                      allglen is the one other operand (proc.go).
 *   allm, sched        runtime.mcommoninit: lock(&sched.lock) comes first;
 *                      allm is loaded and then published with atomicstorep
 *                      (LEA), so it is the first load that is also a LEA.
 *                      sched = &sched.lock - offsetof(schedt, lock).
 *   m0                 runtime.rt0_go (asm_amd64.s): LEAQ runtime·m0(SB), AX,
 *                      the only LEA into AX; it also sets up TLS at
 *                      m0+m_tls, which confirms it.
 *   semtable           runtime.semrelease1: semtable.rootFor(addr), the
 *                      first LEA of writable data (sema.go).
 *   waitReasonStrings  runtime.waitReason.String: CMPB $len, AL at entry,
 *                      then LEA of the table (runtime2.go). The length
 *                      comes from this compare, not from the tables: 1.23
 *                      patch releases added "GC weak to strong wait".
 *   runtimeInitTime    runtime.main: runtimeInitTime = nanotime(), its first
 *                      64-bit store of AX to writable data (proc.go).
 *   buildVersion       runtime.schedinit: if buildVersion == "" {
 *                      buildVersion = "unknown" }: CMPQ $0 and MOVQ $7 on
 *                      buildVersion+8.
 *   allp               runtime.preemptall: for _, pp := range allp loads the
 *                      slice's array and length (proc.go).
 *   memstats           runtime.gcMarkTermination stores last_gc_unix and
 *                      then last_gc_nanotime; the first two consecutive
 *                      operands as far apart as those fields in the
 *                      layout give memstats (mgc.go).
 *   firstmoduledata    the word of .noptrdata that holds the pclntab's
 *                      address (pclntab.c).
 *   mheap_             runtime.mallocinit: mheap_.init(), the receiver
 *                      LEA'd into AX just before CALL (*mheap).init
 *                      (malloc.go; ABIInternal passes it in AX).
 *   gcCleanups         runtime.runCleanups (1.25+): gcCleanups.dequeue(),
 *                      the same shape (mcleanup.go).
 *   allfin             runtime.queuefinalizer: after persistentalloc,
 *                      finc = the new block (the first store), then
 *                      finc.alllink = allfin; allfin = finc: the first
 *                      other operand loaded and then stored (mfinal.go).
 *
 * Decoding is deliberately minimal: at every byte of the function (at most
 * GP_STRIPPED_MAX_CODE bytes) we recognise only REX.W MOV/LEA/CMP/XCHG
 * with a RIP-relative disp32 operand, and keep those whose target lies in
 * a writable segment of the executable. A pattern that matches inside
 * another instruction is harmless: each rule below also checks the shape
 * of what it found.
 */
#include <string.h>

#include "binary/binary.h"

/* Bytes of one function we look at; the functions above are < 2 KiB. */
#define GP_STRIPPED_MAX_CODE 8192
#define GP_STRIPPED_MAX_REFS 256

enum ref_kind {
	REF_LOAD,       /* MOV r64, [rip+d]      (REX.W 8B /r) */
	REF_STORE,      /* MOV [rip+d], r64      (REX.W 89 /r) */
	REF_LEA,        /* LEA r64, [rip+d]      (REX.W 8D /r) */
	REF_CMP,        /* CMP [rip+d], r64      (REX.W 39 /r, 3B /r) */
	REF_XCHG,       /* XCHG [rip+d], r64     (REX.W 87 /r) */
	REF_CMP_IMM8,   /* CMP qword [rip+d], imm8  (REX.W 83 /7 ib) */
	REF_MOV_IMM32,  /* MOV qword [rip+d], imm32 (REX.W C7 /0 id) */
};

struct ripref {
	uint64_t pc;      /* address of the instruction */
	uint64_t target;
	uint8_t kind;     /* enum ref_kind */
	uint8_t reg;      /* ModRM.reg with REX.R, for the register forms */
	int64_t imm;
};

struct refs {
	struct ripref r[GP_STRIPPED_MAX_REFS];
	size_t n;
	uint64_t entry;
	const uint8_t *code;  /* the function's bytes */
	size_t size;
};

static const struct gp_segment *exe_segment(const struct gp_exe *exe,
					    uint64_t addr)
{
	for (size_t i = 0; i < exe->nloads; i++)
		if (addr >= exe->loads[i].start && addr < exe->loads[i].end)
			return &exe->loads[i];
	return NULL;
}

/* Where a runtime variable can be: writable at run time (a PIE's RELRO
 * part is writable only until the loader has relocated it). */
static bool writable(const struct gp_exe *exe, uint64_t addr)
{
	const struct gp_segment *s = exe_segment(exe, addr);
	return s && s->writable &&
	       !(addr >= exe->relro_start && addr < exe->relro_end);
}

/* Bytes of the executable's file image at addr, at most max. */
static const uint8_t *exe_bytes(const struct gp_exe *exe, uint64_t addr,
				size_t max, size_t *ret_size)
{
	const struct gp_segment *s = exe_segment(exe, addr);
	if (!s || !s->data || addr - s->start >= s->avail)
		return NULL;
	uint64_t avail = s->avail - (addr - s->start);
	*ret_size = avail < max ? (size_t)avail : max;
	return s->data + (addr - s->start);
}

static void scan(const struct gp_exe *exe, const uint8_t *code, size_t size,
		 uint64_t base, struct refs *out)
{
	out->n = 0;
	for (size_t i = 0; i + 7 <= size && out->n < GP_STRIPPED_MAX_REFS;
	     i++) {
		uint8_t rex = code[i];
		if ((rex & 0xf8) != 0x48) /* REX.W, any R, no X/B needed */
			continue;
		uint8_t op = code[i + 1], modrm = code[i + 2];
		if ((modrm & 0xc7) != 0x05) /* mod 00, r/m 101: [rip+disp32] */
			continue;
		uint8_t reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & 4) << 1));
		size_t immsize = 0;
		int kind;
		switch (op) {
		case 0x8b: kind = REF_LOAD; break;
		case 0x89: kind = REF_STORE; break;
		case 0x8d: kind = REF_LEA; break;
		case 0x39: case 0x3b: kind = REF_CMP; break;
		case 0x87: kind = REF_XCHG; break;
		case 0x83:
			if ((modrm & 0x38) != 0x38)
				continue;
			kind = REF_CMP_IMM8;
			immsize = 1;
			break;
		case 0xc7:
			if (modrm & 0x38)
				continue;
			kind = REF_MOV_IMM32;
			immsize = 4;
			break;
		default:
			continue;
		}
		size_t len = 7 + immsize;
		if (i + len > size)
			continue;
		int32_t disp = (int32_t)gp_load(code + i + 3, 4);
		int64_t imm = 0;
		if (immsize == 1)
			imm = (int8_t)code[i + 7];
		else if (immsize == 4)
			imm = (int32_t)gp_load(code + i + 7, 4);
		uint64_t target = base + i + len + (uint64_t)(int64_t)disp;
		if (!writable(exe, target))
			continue;
		struct ripref *r = &out->r[out->n++];
		r->pc = base + i;
		r->target = target;
		r->kind = (uint8_t)kind;
		r->reg = reg;
		r->imm = imm;
	}
}

/*
 * Functions that assembly calls (schedinit, main, ...) also have an ABI0
 * wrapper under the same pclntab name (the symbol table calls it
 * "runtime.schedinit.abi0"). The wrapper is a few instructions around a
 * CALL or JMP rel32 to the real function: follow it.
 */
static void follow_abi_wrapper(const struct gp_exe *exe,
			       const struct gp_pclntab *tab, struct gp_func *fn)
{
	size_t size;
	const uint8_t *code = exe_bytes(exe, fn->entry, 128, &size);
	if (!code || fn->end - fn->entry > 128)
		return;
	if (size > fn->end - fn->entry)
		size = (size_t)(fn->end - fn->entry);
	for (size_t i = 0; i + 5 <= size; i++) {
		if (code[i] != 0xe8 && code[i] != 0xe9)
			continue;
		uint64_t target = fn->entry + i + 5 +
				  (uint64_t)(int64_t)(int32_t)gp_load(code + i + 1, 4);
		struct gp_func real;
		if (target != fn->entry &&
		    gp_pclntab_find_func(tab, target, &real) &&
		    real.entry == target && !strcmp(real.name, fn->name)) {
			*fn = real;
			return;
		}
	}
}

/* The RIP-relative references to writable data of one runtime function. */
static bool func_refs(const struct gp_exe *exe, const struct gp_pclntab *tab,
		      const char *name, struct refs *out)
{
	struct gp_func fn;
	out->n = 0;
	if (!gp_pclntab_func_by_name(tab, name, &fn) || fn.end <= fn.entry)
		return false;
	follow_abi_wrapper(exe, tab, &fn);
	uint64_t len = fn.end - fn.entry;
	size_t avail;
	const uint8_t *code = exe_bytes(exe, fn.entry,
					len < GP_STRIPPED_MAX_CODE ?
						(size_t)len :
						GP_STRIPPED_MAX_CODE,
					&avail);
	if (!code)
		return false;
	out->entry = fn.entry;
	out->code = code;
	out->size = avail;
	scan(exe, code, avail, fn.entry, out);
	return out->n > 0;
}

static bool has_ref(const struct refs *refs, uint64_t target, int kind)
{
	for (size_t i = 0; i < refs->n; i++)
		if (refs->r[i].target == target &&
		    (kind < 0 || refs->r[i].kind == kind))
			return true;
	return false;
}

static void find_allgs(const struct gp_exe *exe, const struct gp_pclntab *tab,
		       struct gp_layout *l)
{
	struct refs refs;
	if (!func_refs(exe, tab, "runtime.allgadd", &refs) || refs.n < 4)
		return;
	uint64_t allgs = 0;
	for (size_t i = 0; i < refs.n; i++) {
		uint64_t a = refs.r[i].target;
		if (!(a & 7) && (!allgs || a < allgs) && has_ref(&refs, a + 8, -1) &&
		    has_ref(&refs, a + 16, -1))
			allgs = a;
	}
	if (!allgs)
		return;
	/* allglock: locked first, unlocked last */
	uint64_t lock = refs.r[0].target;
	if (refs.r[0].kind != REF_LEA || refs.r[refs.n - 1].target != lock)
		return;
	uint64_t allglen = 0;
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		uint64_t a = r->target;
		if (a == lock || (a >= allgs && a < allgs + 24) ||
		    has_ref(&refs, a, REF_CMP)) /* allgptr */
			continue;
		if (allglen && a != allglen)
			return; /* ambiguous: this is not the code we know */
		allglen = a;
	}
	if (!allglen || (allglen & 7))
		return;
	if (!l->var_addr[GP_V_ALLGS]) {
		l->var_addr[GP_V_ALLGS] = allgs;
		l->var_size[GP_V_ALLGS] = 24;
	}
	if (!l->var_addr[GP_V_ALLGLEN]) {
		l->var_addr[GP_V_ALLGLEN] = allglen;
		l->var_size[GP_V_ALLGLEN] = 8;
	}
}

static void find_allm_sched(const struct gp_exe *exe,
			    const struct gp_pclntab *tab, struct gp_layout *l)
{
	struct refs refs;
	if (!func_refs(exe, tab, "runtime.mcommoninit", &refs) || refs.n < 2)
		return;
	uint64_t sched_lock = refs.r[0].target;
	if (refs.r[0].kind != REF_LEA)
		return;
	int32_t lock_off = l->field_off[GP_F_SCHEDT_LOCK];
	if (!l->var_addr[GP_V_SCHED] && lock_off >= 0 &&
	    sched_lock >= (uint64_t)lock_off &&
	    writable(exe, sched_lock - (uint64_t)lock_off))
		l->var_addr[GP_V_SCHED] = sched_lock - (uint64_t)lock_off;
	for (size_t i = 1; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_LOAD || r->target == sched_lock ||
		    (r->target & 7) || !has_ref(&refs, r->target, REF_LEA))
			continue;
		if (!l->var_addr[GP_V_ALLM]) {
			l->var_addr[GP_V_ALLM] = r->target;
			l->var_size[GP_V_ALLM] = 8;
		}
		return;
	}
}

static void find_m0(const struct gp_exe *exe, const struct gp_pclntab *tab,
		    struct gp_layout *l)
{
	struct refs refs;
	if (l->var_addr[GP_V_M0] ||
	    !func_refs(exe, tab, "runtime.rt0_go", &refs))
		return;
	uint64_t m0 = 0;
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_LEA || r->reg != 0 /* AX */)
			continue;
		if (m0 && m0 != r->target)
			return;
		m0 = r->target;
	}
	int32_t tls = l->field_off[GP_F_M_TLS];
	if (!m0 || (m0 & 7) ||
	    (tls >= 0 && !has_ref(&refs, m0 + (uint64_t)tls, REF_LEA)))
		return;
	l->var_addr[GP_V_M0] = m0;
	if (l->type_size[GP_T_M] > 0)
		l->var_size[GP_V_M0] = (uint64_t)l->type_size[GP_T_M];
}

static void find_semtable(const struct gp_exe *exe,
			  const struct gp_pclntab *tab, struct gp_layout *l)
{
	struct refs refs;
	if (l->var_addr[GP_V_SEMTABLE] ||
	    !func_refs(exe, tab, "runtime.semrelease1", &refs))
		return;
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_LEA || (r->target & 7))
			continue;
		l->var_addr[GP_V_SEMTABLE] = r->target;
		if (l->type_size[GP_T_SEMTABLE] > 0)
			l->var_size[GP_V_SEMTABLE] =
				(uint64_t)l->type_size[GP_T_SEMTABLE];
		return;
	}
}

/* Whether the string header at addr in the executable's data is a string
 * of at most max bytes in read-only memory (or empty). */
static bool exe_gostring(const struct gp_exe *exe, uint64_t addr, size_t max,
			 const uint8_t **ret_bytes, uint64_t *ret_len)
{
	size_t avail;
	const uint8_t *hdr = exe_bytes(exe, addr, 16, &avail);
	if (!hdr || avail < 16)
		return false;
	uint64_t ptr = gp_load(hdr, 8), len = gp_load(hdr + 8, 8);
	if (len > max)
		return false;
	*ret_len = len;
	*ret_bytes = NULL;
	if (!len)
		return true;
	const uint8_t *p = exe_bytes(exe, ptr, (size_t)len, &avail);
	if (!p || avail < len)
		return false;
	*ret_bytes = p;
	return true;
}

static void find_waitreasons(const struct gp_exe *exe,
			     const struct gp_pclntab *tab, struct gp_layout *l)
{
	struct refs refs;
	if (l->var_addr[GP_V_WAITREASONSTRINGS] ||
	    !func_refs(exe, tab, "runtime.waitReason.String", &refs))
		return;
	/* CMPB $len, AL (3C ib) within the first instructions */
	uint64_t n = 0;
	for (size_t i = 0; i + 1 < refs.size && i < 16; i++) {
		if (refs.code[i] == 0x3c) {
			n = refs.code[i + 1];
			break;
		}
	}
	uint64_t addr = 0;
	for (size_t i = 0; i < refs.n; i++)
		if (refs.r[i].kind == REF_LEA) {
			addr = refs.r[i].target;
			break;
		}
	if (!n || !addr)
		return;
	/* waitReasonZero is "", and every entry is a short string */
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *bytes;
		uint64_t len;
		if (!exe_gostring(exe, addr + 16 * i, 128, &bytes, &len) ||
		    (i == 0) != (len == 0))
			return;
	}
	l->var_addr[GP_V_WAITREASONSTRINGS] = addr;
	l->var_size[GP_V_WAITREASONSTRINGS] = n * 16;
}

static void find_init_time(const struct gp_exe *exe,
			   const struct gp_pclntab *tab, struct gp_layout *l)
{
	struct refs refs;
	if (l->var_addr[GP_V_RUNTIMEINITTIME] ||
	    !func_refs(exe, tab, "runtime.main", &refs))
		return;
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_STORE || r->reg != 0 || (r->target & 7))
			continue;
		l->var_addr[GP_V_RUNTIMEINITTIME] = r->target;
		l->var_size[GP_V_RUNTIMEINITTIME] = 8;
		return;
	}
}

static void find_build_version(const struct gp_exe *exe,
			       const struct gp_pclntab *tab,
			       struct gp_layout *l)
{
	struct refs refs;
	if (l->var_addr[GP_V_BUILDVERSION] ||
	    !func_refs(exe, tab, "runtime.schedinit", &refs))
		return;
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_MOV_IMM32 || r->imm != 7 /* "unknown" */)
			continue;
		bool cmp = false;
		for (size_t j = 0; j < i; j++)
			if (refs.r[j].kind == REF_CMP_IMM8 &&
			    refs.r[j].target == r->target && refs.r[j].imm == 0)
				cmp = true;
		if (!cmp)
			continue;
		uint64_t addr = r->target - 8;
		const uint8_t *bytes;
		uint64_t len;
		if (!exe_gostring(exe, addr, 64, &bytes, &len))
			continue;
		/* the linker sets it to the version in .go.buildinfo */
		if (exe->go_version && (len != strlen(exe->go_version) ||
					memcmp(bytes, exe->go_version, len)))
			continue;
		l->var_addr[GP_V_BUILDVERSION] = addr;
		l->var_size[GP_V_BUILDVERSION] = 16;
		return;
	}
}

static void find_allp(const struct gp_exe *exe, const struct gp_pclntab *tab,
		      struct gp_layout *l)
{
	struct refs refs;
	if (l->var_addr[GP_V_ALLP] ||
	    !func_refs(exe, tab, "runtime.preemptall", &refs))
		return;
	/* for _, pp := range allp: the slice's array, then its length */
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_LOAD || (r->target & 7) ||
		    !has_ref(&refs, r->target + 8, REF_LOAD))
			continue;
		l->var_addr[GP_V_ALLP] = r->target;
		l->var_size[GP_V_ALLP] = 24;
		return;
	}
}

static void find_memstats(const struct gp_exe *exe,
			  const struct gp_pclntab *tab, struct gp_layout *l)
{
	struct refs refs;
	int32_t unix_off = l->field_off[GP_F_MSTATS_LAST_GC_UNIX];
	int32_t nano_off = l->field_off[GP_F_MSTATS_LAST_GC_NANOTIME];
	if (l->var_addr[GP_V_MEMSTATS] || unix_off < 0 || nano_off < 0 ||
	    !func_refs(exe, tab, "runtime.gcMarkTermination", &refs))
		return;
	/* atomic.Store64(&memstats.last_gc_unix, ...) and then at once
	 * atomic.Store64(&memstats.last_gc_nanotime, ...): two consecutive
	 * operands whose distance is that of the fields. The first such pair
	 * (other fields of memstats are updated later in the function). */
	uint64_t found = 0;
	for (size_t i = 0; i + 1 < refs.n && !found; i++) {
		uint64_t t = refs.r[i].target;
		if (t >= (uint64_t)unix_off &&
		    refs.r[i + 1].target ==
			    t - (uint64_t)unix_off + (uint64_t)nano_off)
			found = t - (uint64_t)unix_off;
	}
	if (!found || (found & 7) || !writable(exe, found))
		return;
	l->var_addr[GP_V_MEMSTATS] = found;
	if (l->type_size[GP_T_MSTATS] > 0)
		l->var_size[GP_V_MEMSTATS] =
			(uint64_t)l->type_size[GP_T_MSTATS];
}

/* The first argument of fn's call to callee: LEA AX, [rip+X] within the
 * few instructions before CALL callee (the receiver of a method call). */
static uint64_t lea_ax_before_call(const struct gp_exe *exe,
				   const struct gp_pclntab *tab,
				   const char *fn, const char *callee)
{
	struct refs refs;
	struct gp_func target;
	if (!gp_pclntab_func_by_name(tab, callee, &target) ||
	    !func_refs(exe, tab, fn, &refs))
		return 0;
	uint64_t found = 0;
	for (size_t i = 0; i + 5 <= refs.size; i++) {
		if (refs.code[i] != 0xe8)
			continue;
		uint64_t pc = refs.entry + i;
		uint64_t to = pc + 5 + (uint64_t)(int64_t)(int32_t)gp_load(refs.code + i + 1, 4);
		if (to != target.entry)
			continue;
		uint64_t best = 0, best_pc = 0;
		for (size_t k = 0; k < refs.n; k++) {
			const struct ripref *r = &refs.r[k];
			if (r->kind == REF_LEA && r->reg == 0 && r->pc < pc &&
			    r->pc + 32 >= pc && r->pc >= best_pc) {
				best = r->target;
				best_pc = r->pc;
			}
		}
		if (!best || (found && found != best))
			return 0; /* two calls with different receivers */
		found = best;
	}
	return found;
}

static void find_heap_vars(const struct gp_exe *exe,
			   const struct gp_pclntab *tab, struct gp_layout *l)
{
	if (!l->var_addr[GP_V_MHEAP_]) {
		uint64_t a = lea_ax_before_call(exe, tab, "runtime.mallocinit",
						"runtime.(*mheap).init");
		if (a && !(a & 7)) {
			l->var_addr[GP_V_MHEAP_] = a;
			if (l->type_size[GP_T_MHEAP] > 0)
				l->var_size[GP_V_MHEAP_] = (uint64_t)l->type_size[GP_T_MHEAP];
		}
	}
	if (!l->var_addr[GP_V_GCCLEANUPS] &&
	    gp_decl_in_version(gp_var_decls[GP_V_GCCLEANUPS].since,
			       gp_var_decls[GP_V_GCCLEANUPS].until,
			       gp_pclntab_gover(tab))) {
		uint64_t a = lea_ax_before_call(exe, tab, "runtime.runCleanups",
						"runtime.(*cleanupQueue).dequeue");
		if (a && !(a & 7))
			l->var_addr[GP_V_GCCLEANUPS] = a;
	}
	struct refs refs;
	struct gp_func pa;
	if (l->var_addr[GP_V_ALLFIN] ||
	    !gp_pclntab_func_by_name(tab, "runtime.persistentalloc", &pa) ||
	    !func_refs(exe, tab, "runtime.queuefinalizer", &refs))
		return;
	uint64_t call = 0;
	for (size_t i = 0; i + 5 <= refs.size && !call; i++)
		if (refs.code[i] == 0xe8 &&
		    refs.entry + i + 5 + (uint64_t)(int64_t)(int32_t)gp_load(refs.code + i + 1, 4) == pa.entry)
			call = refs.entry + i;
	if (!call)
		return;
	uint64_t finc = 0;
	for (size_t i = 0; i < refs.n; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->pc < call)
			continue;
		if (!finc) {
			if (r->kind == REF_STORE)
				finc = r->target;
			continue;
		}
		if (r->kind != REF_LOAD || r->target == finc || (r->target & 7))
			continue;
		for (size_t k = i + 1; k < refs.n; k++)
			if (refs.r[k].kind == REF_STORE && refs.r[k].target == r->target) {
				l->var_addr[GP_V_ALLFIN] = r->target;
				l->var_size[GP_V_ALLFIN] = 8;
				return;
			}
		return;
	}
}

gp_error *gp_stripped_find_vars(const struct gp_exe *exe,
				const struct gp_pclntab *tab,
				struct gp_layout *layout)
{
	if (exe->machine != 62 /* EM_X86_64 */)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s has no symbol table, and finding runtime variables without one is implemented for x86-64 only",
				       exe->path);
	find_allgs(exe, tab, layout);
	find_allm_sched(exe, tab, layout);
	find_m0(exe, tab, layout);
	find_semtable(exe, tab, layout);
	find_waitreasons(exe, tab, layout);
	find_init_time(exe, tab, layout);
	find_build_version(exe, tab, layout);
	find_allp(exe, tab, layout);
	find_memstats(exe, tab, layout);
	find_heap_vars(exe, tab, layout);
	if (!layout->var_addr[GP_V_FIRSTMODULEDATA])
		layout->var_addr[GP_V_FIRSTMODULEDATA] =
			gp_pclntab_moduledata(tab);
	return NULL;
}
