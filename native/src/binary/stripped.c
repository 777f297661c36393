/*
 * Runtime variables without a symbol table (-ldflags='-s -w', strip).
 *
 * The pclntab still names every function, and a few runtime functions
 * reference the variables we need by their absolute addresses. Each
 * variable is found from those references in one function, chosen because
 * its code has the same shape in every release from 1.19 to 1.27, on
 * amd64 and arm64 (checked against the symbol tables of the DWARF builds
 * of each release and architecture by tests/test_stripped.py). "AX" is
 * the ABI's first integer argument and result register (amd64 AX, arm64
 * R0):
 *
 *   allgs, allglen     runtime.allgadd: allgs is the slice referenced at
 *                      +0, +8 and +16; allglock is locked first and
 *                      unlocked last; allgptr is read to be compared with
 *                      &allgs[0]; allglen is the one other operand
 *                      written (proc.go).
 *   allm, sched        runtime.mcommoninit: lock(&sched.lock) comes first;
 *                      allm is loaded and then published with atomicstorep
 *                      (its address made for the call), so it is the
 *                      first load whose address is also taken.
 *                      sched = &sched.lock - offsetof(schedt, lock).
 *   m0                 runtime.rt0_go (asm_*.s): LEAQ runtime·m0(SB), AX
 *                      (MOVD $runtime·m0(SB), R0), the only address made
 *                      in AX; m0.g0 = g0 stored through it (or amd64's TLS
 *                      set up at m0+m_tls) confirms it.
 *   semtable           runtime.semrelease1: semtable.rootFor(addr), the
 *                      first LEA of writable data (sema.go).
 *   waitReasonStrings  runtime.waitReason.String: CMPB $len, AL (arm64
 *                      CMP W2, #len) at entry, then the table's address
 *                      (runtime2.go). The length
 *                      comes from this compare, not from the tables: 1.23
 *                      patch releases added "GC weak to strong wait".
 *   runtimeInitTime    runtime.main: runtimeInitTime = nanotime(), the
 *                      first 64-bit store of AX to writable data after
 *                      the call of nanotime1 (proc.go).
 *   buildVersion       runtime.schedinit: if buildVersion == "" {
 *                      buildVersion = "unknown" }: buildVersion+8 compared
 *                      with 0 (CMPQ $0; LDR then CBNZ), then 7 stored.
 *   allp               runtime.preemptall: for _, pp := range allp loads the
 *                      slice's array and length (proc.go).
 *   memstats           runtime.gcMarkTermination stores last_gc_unix and
 *                      then last_gc_nanotime; the first two consecutive
 *                      operands as far apart as those fields in the
 *                      layout give memstats (mgc.go).
 *   firstmoduledata    the word of .noptrdata that holds the pclntab's
 *                      address (pclntab.c).
 *   mheap_             runtime.mallocinit: mheap_.init(), the receiver in
 *                      AX at the call of (*mheap).init (malloc.go;
 *                      ABIInternal passes it in AX).
 *   gcCleanups         runtime.runCleanups (1.25+): gcCleanups.dequeue(),
 *                      the same shape (mcleanup.go).
 *   allfin             runtime.queuefinalizer: after persistentalloc,
 *                      finc = the new block (the first store), then
 *                      finc.alllink = allfin; allfin = finc: the first
 *                      other operand loaded and then stored (mfinal.go).
 *
 * Each function is decoded with the architecture's instruction decoder
 * (arch/, one gp_insn per instruction) and its values followed by code.c,
 * so a reference is the same on every architecture: an instruction whose
 * memory operand is the absolute address of a word of writable data (x86
 * RIP-relative; arm64 ADRP and then a load, a store or an ADD, or a
 * register an ADRP+ADD filled), or that makes such an address (LEA, ADRP
 * +ADD; not into the assembler's temporary register, whose address is the
 * next access's). Only whole words count (x86 REX.W, arm64 X registers);
 * a pair (arm64 LDP/STP) is two words. A third architecture needs only
 * its decoder (arch/).
 */
#include <string.h>

#include "binary/binary.h"

/* Bytes of one function we look at; the functions above are < 2 KiB
 * (arm64 ones up to twice that). */
#define GP_STRIPPED_MAX_CODE 16384
#define GP_STRIPPED_MAX_REFS 512

enum ref_kind {
	REF_LOAD,       /* a word read (MOV r64, [x]; LDR Xt) */
	REF_STORE,      /* a word written; imm if the value is a constant */
	REF_LEA,        /* the address made (LEA; ADRP+ADD) */
	REF_CMP,        /* a word compared (CMP [x], r64 / imm) */
	REF_XCHG,       /* an atomic read-modify-write of the word */
};

/* A direct call, with its first argument if that is the address of
 * writable data (0 if not). */
struct call {
	uint64_t pc, target, arg0;
};

struct ripref {
	uint64_t pc;      /* address of the instruction */
	uint64_t target;
	uint8_t kind;     /* enum ref_kind */
	uint8_t reg;      /* the register loaded, stored or made */
	uint8_t has_imm;
	uint8_t deref;    /* REF_LEA: the next instruction accesses memory
			   * through it (arm64 PIE: ADRP+ADD X3, LDR [X3]) */
	int64_t imm;      /* REF_STORE, REF_CMP: the constant */
};

struct refs {
	struct ripref r[GP_STRIPPED_MAX_REFS];
	size_t n;
	struct call calls[GP_STRIPPED_MAX_REFS];
	size_t ncalls;
	uint64_t entry;
	const struct gp_exe *exe;
	const struct gp_arch *arch;
	/* the first compare of a register with a constant among the first
	 * instructions (CMPB $n, AL; CMP Wn, #n) */
	int64_t cmp_imm;
	bool has_cmp_imm;
	unsigned ninsns;
	size_t last_lea;          /* index + 1 of a LEA ref made by the
				   * previous instruction, 0 if none */
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

/* An absolute address, if the value is one. */
static bool abs_addr(const struct gp_val *v, uint64_t *ret)
{
	if (v->root != GP_VAL_ABS || v->nloads)
		return false;
	*ret = (uint64_t)v->base;
	return true;
}

static void add_ref(struct refs *out, const struct gp_insn *in, int kind,
		    uint64_t target, uint8_t reg)
{
	if (out->n >= GP_STRIPPED_MAX_REFS || !writable(out->exe, target))
		return;
	struct ripref *r = &out->r[out->n++];
	memset(r, 0, sizeof(*r));
	r->pc = in->pc;
	r->target = target;
	r->kind = (uint8_t)kind;
	r->reg = reg;
}

static bool ref_of(void *arg, const struct gp_insn *in,
		   const struct gp_val *addr, const struct gp_val *val)
{
	struct refs *out = arg;
	uint64_t a;
	size_t lea = out->last_lea;
	out->last_lea = 0;
	if (lea && in->base == out->r[lea - 1].reg && in->base != GP_REG_NONE &&
	    (in->kind == GP_INSN_LOAD || in->kind == GP_INSN_STORE ||
	     in->kind == GP_INSN_ATOMIC || in->kind == GP_INSN_CMP))
		out->r[lea - 1].deref = 1;
	if (out->ninsns++ < 4 && in->kind == GP_INSN_CMP && in->has_imm &&
	    in->base == GP_REG_NONE && !in->target && !out->has_cmp_imm) {
		out->has_cmp_imm = true;
		out->cmp_imm = in->imm;
	}
	if (in->kind == GP_INSN_CALL) {
		if (out->ncalls < GP_STRIPPED_MAX_REFS) {
			struct call *c = &out->calls[out->ncalls++];
			c->pc = in->pc;
			c->target = in->target;
			c->arg0 = abs_addr(addr, &a) && writable(out->exe, a) ? a : 0;
		}
		return true;
	}
	if (!abs_addr(addr, &a))
		return true;
	switch (in->kind) {
	case GP_INSN_ADDR: case GP_INSN_LEA:
		/* an address made in the assembler's temporary register is
		 * part of the access that follows (arm64 1.19: ADRP+ADD R27,
		 * then LDR [R27]), not a reference of its own */
		if (!in->page && in->dst != out->arch->abi.asm_tmp) {
			size_t n = out->n;
			add_ref(out, in, REF_LEA, a, in->dst);
			if (out->n > n)
				out->last_lea = out->n;
		}
		break;
	case GP_INSN_LOAD:
		if (in->width == 16) {  /* a pair: two words */
			add_ref(out, in, REF_LOAD, a, GP_REG_NONE);
			add_ref(out, in, REF_LOAD, a + 8, GP_REG_NONE);
		} else if (in->width == 8) {
			add_ref(out, in, REF_LOAD, a, in->dst);
		}
		break;
	case GP_INSN_STORE:
		if (in->width == 16) {
			add_ref(out, in, REF_STORE, a, GP_REG_NONE);
			add_ref(out, in, REF_STORE, a + 8, GP_REG_NONE);
		} else if (in->width == 8) {
			size_t n = out->n;
			add_ref(out, in, REF_STORE, a, in->src);
			if (out->n > n && val->root == GP_VAL_CONST && !val->nloads) {
				out->r[n].has_imm = 1;
				out->r[n].imm = val->base + val->add;
			}

		}
		break;
	case GP_INSN_CMP:
		if (in->width == 8) {
			size_t n = out->n;
			add_ref(out, in, REF_CMP, a, in->src);
			if (out->n > n && in->has_imm) {
				out->r[n].has_imm = 1;
				out->r[n].imm = in->imm;
			}
		}
		break;
	case GP_INSN_ATOMIC:
		if (in->width == 8)
			add_ref(out, in, REF_XCHG, a, in->dst);
		break;
	}
	return true;
}

static void scan(const struct gp_exe *exe, const uint8_t *code, size_t size,
		 uint64_t base, struct refs *out)
{
	out->n = 0;
	out->ncalls = 0;
	out->exe = exe;
	out->arch = exe->arch;
	out->has_cmp_imm = false;
	out->ninsns = 0;
	out->last_lea = 0;

	struct gp_code c;
	gp_error *err = gp_code_analyze(exe->arch, code, base, size, NULL, NULL,
					NULL, &c);
	if (err) {
		gp_error_destroy(err);
		return;
	}
	gp_code_walk(&c, ref_of, out);
	gp_code_deinit(&c);
}

/*
 * Functions that assembly calls (schedinit, main, ...) also have an ABI0
 * wrapper under the same pclntab name (the symbol table calls it
 * "runtime.schedinit.abi0"). The wrapper is a few instructions around a
 * direct call or jump to the real function: follow it.
 */
static void follow_abi_wrapper(const struct gp_exe *exe,
			       const struct gp_pclntab *tab, struct gp_func *fn)
{
	size_t size;
	const uint8_t *code = exe_bytes(exe, fn->entry, 128, &size);
	if (!code || fn->end - fn->entry > 128 || !exe->arch || !exe->arch->decode)
		return;
	if (size > fn->end - fn->entry)
		size = (size_t)(fn->end - fn->entry);
	for (size_t i = 0; i < size;) {
		struct gp_insn in;
		size_t n = exe->arch->decode(code + i, size - i, fn->entry + i, &in);
		if (!n)
			return;
		i += n;
		if (in.kind != GP_INSN_CALL && in.kind != GP_INSN_JUMP)
			continue;
		struct gp_func real;
		if (in.target != fn->entry &&
		    gp_pclntab_find_func(tab, in.target, &real) &&
		    real.entry == in.target && !strcmp(real.name, fn->name)) {
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
	out->ncalls = 0;
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

/* Whether target's address is made for more than the access right after
 * it (passed to a call, kept): &allm for atomicstorep. */
static bool address_taken(const struct refs *refs, uint64_t target)
{
	for (size_t i = 0; i < refs->n; i++)
		if (refs->r[i].target == target && refs->r[i].kind == REF_LEA &&
		    !refs->r[i].deref)
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
		    has_ref(&refs, a, REF_CMP) || has_ref(&refs, a, REF_LOAD))
			continue; /* allgptr: read, compared with &allgs[0] */
		if (!has_ref(&refs, a, REF_STORE) && !has_ref(&refs, a, REF_XCHG))
			continue; /* only its address made: a flag read in
				   * narrower loads (writeBarrier, arm64 PIE) */
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
		    (r->target & 7) || !address_taken(&refs, r->target))
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
		if (r->kind != REF_LEA || r->reg != exe->arch->abi.args[0])
			continue;
		if (m0 && m0 != r->target)
			return;
		m0 = r->target;
	}
	/* confirmed by m0.g0 = &g0 (asm_*.s: MOVQ CX, m_g0(AX); MOVD g,
	 * m_g0(R0)) or the TLS set up at m0.tls (amd64 settls) */
	int32_t tls = l->field_off[GP_F_M_TLS];
	int32_t g0 = l->field_off[GP_F_M_G0];
	if (!m0 || (m0 & 7) ||
	    !((tls >= 0 && has_ref(&refs, m0 + (uint64_t)tls, REF_LEA)) ||
	      (g0 >= 0 && has_ref(&refs, m0 + (uint64_t)g0, REF_STORE))))
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
	/* CMPB $len, AL; CMP W2, #len: within the first instructions */
	uint64_t n = refs.has_cmp_imm && refs.cmp_imm > 0 && refs.cmp_imm < 256 ?
		     (uint64_t)refs.cmp_imm : 0;
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
	/* after the first call of nanotime (inlined: of nanotime1, an ABI0
	 * function whose result comes back on the stack) */
	uint64_t after = 0;
	for (size_t i = 0; i < refs.ncalls && !after; i++) {
		struct gp_func fn;
		if (gp_pclntab_find_func(tab, refs.calls[i].target, &fn) &&
		    fn.entry == refs.calls[i].target &&
		    (!strcmp(fn.name, "runtime.nanotime1") ||
		     !strcmp(fn.name, "runtime.nanotime")))
			after = refs.calls[i].pc;
	}
	for (size_t i = 0; i < refs.n && after; i++) {
		const struct ripref *r = &refs.r[i];
		if (r->kind != REF_STORE || r->reg != exe->arch->abi.args[0] ||
		    r->pc < after || (r->target & 7))
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
		if (r->kind != REF_STORE || !r->has_imm || r->imm != 7 /* "unknown" */)
			continue;
		/* compared with 0 first (CMPQ $0; LDR and CBNZ) */
		bool cmp = false;
		for (size_t j = 0; j < i; j++)
			if (refs.r[j].target == r->target &&
			    ((refs.r[j].kind == REF_CMP && refs.r[j].has_imm &&
			      refs.r[j].imm == 0) || refs.r[j].kind == REF_LOAD))
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

/* The first argument of fn's every call to callee, an address of
 * writable data (the receiver of a method call: LEA AX; ADRP+ADD R0). */
static uint64_t arg0_of_call(const struct gp_exe *exe,
			     const struct gp_pclntab *tab,
			     const char *fn, const char *callee)
{
	struct refs refs;
	struct gp_func target;
	if (!gp_pclntab_func_by_name(tab, callee, &target) ||
	    !func_refs(exe, tab, fn, &refs))
		return 0;
	uint64_t found = 0;
	for (size_t i = 0; i < refs.ncalls; i++) {
		if (refs.calls[i].target != target.entry)
			continue;
		uint64_t a = refs.calls[i].arg0;
		if (!a || (found && found != a))
			return 0; /* two calls with different receivers */
		found = a;
	}
	return found;
}

static void find_heap_vars(const struct gp_exe *exe,
			   const struct gp_pclntab *tab, struct gp_layout *l)
{
	if (!l->var_addr[GP_V_MHEAP_]) {
		uint64_t a = arg0_of_call(exe, tab, "runtime.mallocinit",
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
		uint64_t a = arg0_of_call(exe, tab, "runtime.runCleanups",
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
	for (size_t i = 0; i < refs.ncalls && !call; i++)
		if (refs.calls[i].target == pa.entry)
			call = refs.calls[i].pc;
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
	if (!exe->arch || !exe->arch->decode)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s has no symbol table, and finding runtime variables without one needs an instruction decoder for %s",
				       exe->path, gp_machine_name(exe->machine));
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
