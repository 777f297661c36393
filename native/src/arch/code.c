/*
 * A function's control flow and the values its registers and stack slots
 * hold, whatever the architecture (the decoders, x86_64.c and arm64.c,
 * give each instruction as a gp_insn).
 *
 * The function is decoded from its entry to its end; its basic blocks
 * start at the entry, at every jump's target and after every jump. Values
 * are followed forward: the state entering a block is what every path
 * into it agrees on (a register two paths give different values is
 * unknown), iterated to a fixpoint. Registers start as the function's
 * arguments and closure context; a stack slot, once stored to, holds what
 * was stored until something else is stored over it. Only what is certain
 * on every path is kept: code evidence built on these values can be
 * missing, never made up.
 */
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"

#define GP_CODE_MAX_INSNS (1u << 18)
#define GP_CODE_MAX_ROUNDS 64

static const struct gp_val unknown_val;

static struct gp_val val_root(uint8_t root, int64_t base)
{
	struct gp_val v = { 0 };
	v.root = root;
	v.base = base;
	return v;
}

static struct gp_val add_disp(struct gp_val v, int64_t d)
{
	if (v.root == GP_VAL_UNKNOWN)
		return v;
	if (v.nloads == 0 && (v.root == GP_VAL_ABS || v.root == GP_VAL_STACK ||
			      v.root == GP_VAL_CONST))
		v.base += d;
	else
		v.add += d;
	return v;
}

static int64_t sp_base(const struct gp_code *c, uint64_t pc, bool *ok)
{
	int32_t d = c->spdelta ? c->spdelta(c->spdelta_arg, pc) : INT32_MIN;
	*ok = d != INT32_MIN;
	return -(int64_t)d;
}

static struct gp_val get_reg(const struct gp_code *c,
			     const struct gp_code_state *s, uint8_t r,
			     uint64_t pc)
{
	if (r == GP_REG_NONE || r >= c->arch->abi.nregs)
		return unknown_val;
	if (r == c->arch->abi.sp) {
		bool ok;
		int64_t b = sp_base(c, pc, &ok);
		return ok ? val_root(GP_VAL_STACK, b) : unknown_val;
	}
	return s->reg[r];
}

static void set_reg(const struct gp_code *c, struct gp_code_state *s,
		    uint8_t r, struct gp_val v)
{
	if (r == GP_REG_NONE || r >= c->arch->abi.nregs || r == c->arch->abi.sp)
		return;
	s->reg[r] = v;
}

static int slot_find(const struct gp_code_state *s, int64_t off)
{
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slot[i].off == off)
			return (int)i;
	return -1;
}

/* What a store of width bytes at entry_sp + off leaves: slots it overlaps
 * are forgotten; a whole word of a known value is remembered. */
static void slot_store(struct gp_code_state *s, int64_t off, unsigned width,
		       const struct gp_val *v)
{
	if (!width)
		width = 8;
	uint32_t w = 0;
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slot[i].off + 8 <= off || s->slot[i].off >= off + (int64_t)width)
			s->slot[w++] = s->slot[i];
	s->nslots = w;
	if (!v || v->root == GP_VAL_UNKNOWN || width != 8)
		return;
	if (s->nslots == GP_CODE_SLOTS) {
		memmove(s->slot, s->slot + 1, (GP_CODE_SLOTS - 1) * sizeof(*s->slot));
		s->nslots--;
	}
	s->slot[s->nslots].off = off;
	s->slot[s->nslots].val = *v;
	s->nslots++;
}

static struct gp_val load(const struct gp_code_state *s, struct gp_val a)
{
	if (a.root == GP_VAL_UNKNOWN)
		return a;
	if (a.root == GP_VAL_STACK && a.nloads == 0) {
		int k = slot_find(s, a.base);
		if (k >= 0)
			return s->slot[k].val;
	}
	if (a.nloads >= GP_VAL_MAX_LOADS)
		return unknown_val;
	/* ABS and STACK keep their offset in base while nothing is loaded */
	bool folded = a.nloads == 0 &&
		      (a.root == GP_VAL_ABS || a.root == GP_VAL_STACK);
	a.off[a.nloads] = folded ? 0 : a.add;
	a.nloads++;
	a.add = 0;
	return a;
}

struct gp_val gp_val_add(struct gp_val v, int64_t d)
{
	return add_disp(v, d);
}

struct gp_val gp_val_load(struct gp_val v, int64_t off)
{
	static const struct gp_code_state none;
	v = add_disp(v, off);
	if (v.root == GP_VAL_STACK && v.nloads == 0) {
		/* no slot known here: the word as it is */
		struct gp_code_state s = none;
		return load(&s, v);
	}
	return load(&none, v);
}

/* The memory operand's address. */
static struct gp_val mem_addr(const struct gp_code *c,
			      const struct gp_code_state *s,
			      const struct gp_insn *in)
{
	if (in->base == GP_REG_NONE)
		return in->target ? val_root(GP_VAL_ABS, (int64_t)in->target) :
				    unknown_val;
	return add_disp(get_reg(c, s, in->base, in->pc), in->disp);
}

static const struct gp_insn *insn_at(const struct gp_code *c, uint64_t pc);

static void clobber(const struct gp_code *c, struct gp_code_state *s,
		    uint32_t mask)
{
	for (uint8_t r = 0; r < c->arch->abi.nregs; r++)
		if (mask & (1u << r))
			set_reg(c, s, r, unknown_val);
}

/* One instruction's effect; *ev (may be NULL) gets its event. */
static bool step(const struct gp_code *c, struct gp_code_state *s,
		 const struct gp_insn *in, struct gp_code_event *ev)
{
	const struct gp_arch_abi *abi = &c->arch->abi;
	bool event = false;
	switch (in->kind) {
	case GP_INSN_MOV:
		set_reg(c, s, in->dst, get_reg(c, s, in->src, in->pc));
		break;
	case GP_INSN_LEA:
		set_reg(c, s, in->dst,
			add_disp(get_reg(c, s, in->base, in->pc), in->disp));
		break;
	case GP_INSN_ADDR:
		set_reg(c, s, in->dst, val_root(GP_VAL_ABS, (int64_t)in->target));
		break;
	case GP_INSN_CONST:
		set_reg(c, s, in->dst, val_root(GP_VAL_CONST, (int64_t)in->target));
		break;
	case GP_INSN_LOAD:
		set_reg(c, s, in->dst,
			in->width == 8 ? load(s, mem_addr(c, s, in)) : unknown_val);
		break;
	case GP_INSN_STORE: {
		struct gp_val a = mem_addr(c, s, in);
		if (a.root == GP_VAL_STACK && a.nloads == 0) {
			struct gp_val v = in->has_imm ? val_root(GP_VAL_CONST, in->imm) :
				in->src != GP_REG_NONE ?
				get_reg(c, s, in->src, in->pc) : unknown_val;
			slot_store(s, a.base, in->width, &v);
		}
		break;
	}
	case GP_INSN_ATOMIC: {
		struct gp_val a = mem_addr(c, s, in);
		if (ev) {
			ev->addr = a;
			event = true;
		}
		if (a.root == GP_VAL_STACK && a.nloads == 0)
			slot_store(s, a.base, in->width, NULL);
		if (in->dst != GP_REG_NONE)
			set_reg(c, s, in->dst, unknown_val);
		break;
	}
	case GP_INSN_CALL:
	case GP_INSN_CALL_REG:
		if (ev) {
			for (uint8_t k = 0; k < 3 && k < abi->nargs; k++)
				ev->args[k] = get_reg(c, s, abi->args[k], in->pc);
			ev->addr = ev->args[0];
			event = true;
		}
		clobber(c, s, ~abi->call_kept);
		/* results come back in the argument registers */
		if (abi->nargs >= 2) {
			set_reg(c, s, abi->args[0], val_root(GP_VAL_DEF, (int64_t)in->pc));
			set_reg(c, s, abi->args[1], val_root(GP_VAL_DEF, (int64_t)in->pc + 1));
		}
		break;
	default:
		if (in->dst != GP_REG_NONE)
			set_reg(c, s, in->dst, unknown_val);
		break;
	}
	clobber(c, s, in->clobber);
	if (event) {
		ev->pc = in->pc;
		ev->target = in->kind == GP_INSN_CALL ? in->target : 0;
		ev->kind = in->kind;
		ev->len = in->len;
	}
	return event;
}

/* s &= o: what both paths agree on. True if s changed. */
static bool meet(struct gp_code_state *s, const struct gp_code_state *o,
		 uint8_t nregs)
{
	bool changed = false;
	for (uint8_t r = 0; r < nregs; r++) {
		if (s->reg[r].root != GP_VAL_UNKNOWN &&
		    !gp_val_eq(&s->reg[r], &o->reg[r])) {
			s->reg[r] = unknown_val;
			changed = true;
		}
	}
	uint32_t w = 0;
	for (uint32_t i = 0; i < s->nslots; i++) {
		int k = slot_find(o, s->slot[i].off);
		if (k >= 0 && gp_val_eq(&s->slot[i].val, &o->slot[k].val))
			s->slot[w++] = s->slot[i];
	}
	if (w != s->nslots)
		changed = true;
	s->nslots = w;
	return changed;
}

static int insn_cmp_pc(const void *key, const void *elem)
{
	uint64_t pc = *(const uint64_t *)key;
	const struct gp_insn *in = elem;
	return pc < in->pc ? -1 : pc > in->pc;
}

const struct gp_insn *gp_code_insn_at(const struct gp_code *c, uint64_t pc)
{
	return insn_at(c, pc);
}

static const struct gp_insn *insn_at(const struct gp_code *c, uint64_t pc)
{
	if (!c->ninsns)
		return NULL;
	return bsearch(&pc, c->insns, c->ninsns, sizeof(*c->insns), insn_cmp_pc);
}

bool gp_code_is_insn(const struct gp_code *c, uint64_t pc)
{
	return insn_at(c, pc) != NULL;
}

uint32_t gp_code_block_of(const struct gp_code *c, uint64_t pc)
{
	size_t lo = 0, hi = c->nblocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->blocks[mid].end <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->nblocks && c->blocks[lo].start <= pc && pc < c->blocks[lo].end)
		return (uint32_t)lo;
	return GP_NONE;
}

bool gp_code_insn_before(const struct gp_code *c, uint64_t pc,
			 struct gp_insn *ret)
{
	size_t lo = 0, hi = c->ninsns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->insns[mid].pc < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || c->insns[lo - 1].pc + c->insns[lo - 1].len != pc)
		return false;
	*ret = c->insns[lo - 1];
	return true;
}

bool gp_code_state_at(const struct gp_code *c, uint64_t pc,
		      struct gp_code_state *ret)
{
	uint32_t b = gp_code_block_of(c, pc);
	if (b == GP_NONE || !c->in[b].reached || !insn_at(c, pc))
		return false;
	*ret = c->in[b];
	const struct gp_code_block *bl = &c->blocks[b];
	for (uint32_t i = bl->first_insn; i < bl->first_insn + bl->ninsns &&
	     c->insns[i].pc < pc; i++)
		step(c, ret, &c->insns[i], NULL);
	return true;
}

/* The state leaving block b. */
static void block_out(const struct gp_code *c, uint32_t b,
		      struct gp_code_state *s)
{
	const struct gp_code_block *bl = &c->blocks[b];
	*s = c->in[b];
	for (uint32_t i = 0; i < bl->ninsns; i++)
		step(c, s, &c->insns[bl->first_insn + i], NULL);
}

static bool ends_block(const struct gp_insn *in)
{
	return in->kind == GP_INSN_JUMP || in->kind == GP_INSN_BRANCH ||
	       in->kind == GP_INSN_JUMP_REG || in->kind == GP_INSN_RET ||
	       in->kind == GP_INSN_TRAP || in->noreturn;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void gp_code_walk(const struct gp_code *c, gp_code_walk_fn *fn, void *arg)
{
	for (size_t b = 0; b < c->nblocks; b++) {
		const struct gp_code_block *bl = &c->blocks[b];
		struct gp_code_state s;
		if (c->in[b].reached)
			s = c->in[b];
		else
			memset(&s, 0, sizeof(s));
		for (uint32_t i = 0; i < bl->ninsns; i++) {
			const struct gp_insn *in = &c->insns[bl->first_insn + i];
			struct gp_val addr = unknown_val, val = unknown_val;
			switch (in->kind) {
			case GP_INSN_LOAD: case GP_INSN_STORE:
			case GP_INSN_ATOMIC: case GP_INSN_CMP:
				if (in->base != GP_REG_NONE || in->target)
					addr = mem_addr(c, &s, in);
				break;
			case GP_INSN_ADDR:
				addr = val_root(GP_VAL_ABS, (int64_t)in->target);
				break;
			case GP_INSN_LEA:
				addr = add_disp(get_reg(c, &s, in->base, in->pc), in->disp);
				break;
			case GP_INSN_CALL: case GP_INSN_CALL_REG:
				if (c->arch->abi.nargs)
					addr = get_reg(c, &s, c->arch->abi.args[0], in->pc);
				break;
			}
			if (in->kind == GP_INSN_STORE)
				val = in->has_imm ? val_root(GP_VAL_CONST, in->imm) :
				      get_reg(c, &s, in->src, in->pc);
			if (!fn(arg, in, &addr, &val))
				return;
			step(c, &s, in, NULL);
		}
	}
}

void gp_code_deinit(struct gp_code *c)
{
	free(c->insns);
	free(c->blocks);
	free(c->events);
	free(c->in);
	memset(c, 0, sizeof(*c));
}

gp_error *gp_code_analyze(const struct gp_arch *arch, const uint8_t *code,
			  uint64_t entry, size_t len, gp_spdelta_fn *spdelta,
			  gp_noreturn_fn *noreturn, void *spdelta_arg,
			  struct gp_code *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!arch || !arch->decode)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "no instruction decoder for %s",
				       arch ? arch->name : "this architecture");
	ret->arch = arch;
	ret->entry = entry;
	ret->end = entry + len;
	ret->spdelta = spdelta;
	ret->spdelta_arg = spdelta_arg;
	gp_error *err = NULL;
	size_t cap = 0, lcap = 0, nlead = 0, ecap = 0;
	uint64_t *lead = NULL;
	uint32_t *work = NULL;
	bool *queued = NULL;

	/* 1. every instruction, in order */
	for (size_t off = 0; off < len;) {
		struct gp_insn in;
		size_t n = arch->decode(code + off, len - off, entry + off, &in);
		if (!n || ret->ninsns >= GP_CODE_MAX_INSNS) {
			ret->undecoded = entry + off;
			break;
		}
		if (in.kind == GP_INSN_CALL && noreturn &&
		    noreturn(spdelta_arg, in.target))
			in.noreturn = 1;
		if ((err = gp_grow((void **)&ret->insns, &cap, ret->ninsns + 1,
				   sizeof(*ret->insns))))
			goto fail;
		ret->insns[ret->ninsns++] = in;
		off += n;
	}
	if (!ret->ninsns)
		return NULL;
	uint64_t decoded_end = ret->insns[ret->ninsns - 1].pc +
			       ret->insns[ret->ninsns - 1].len;

	/* 2. leaders: the entry, jump targets, what follows a jump */
	for (size_t i = 0; i <= ret->ninsns; i++) {
		uint64_t l[3];
		int nl = 0;
		if (i == 0)
			l[nl++] = entry;
		if (i < ret->ninsns) {
			const struct gp_insn *in = &ret->insns[i];
			if ((in->kind == GP_INSN_JUMP || in->kind == GP_INSN_BRANCH) &&
			    in->target >= entry && in->target < decoded_end)
				l[nl++] = in->target;
			if (ends_block(in) && i + 1 < ret->ninsns)
				l[nl++] = ret->insns[i + 1].pc;
		}
		for (int k = 0; k < nl; k++) {
			if ((err = gp_grow((void **)&lead, &lcap, nlead + 1, sizeof(*lead))))
				goto fail;
			lead[nlead++] = l[k];
		}
	}
	gp_qsort(lead, nlead, sizeof(*lead), u64_cmp);
	size_t u = 0;
	for (size_t i = 0; i < nlead; i++)
		if (!u || lead[u - 1] != lead[i])
			lead[u++] = lead[i];
	nlead = u;

	/* 3. blocks */
	ret->blocks = calloc(nlead + 1, sizeof(*ret->blocks));
	ret->in = calloc(nlead + 1, sizeof(*ret->in));
	if (!ret->blocks || !ret->in) {
		err = &gp_error_nomem;
		goto fail;
	}
	size_t ii = 0;
	for (size_t b = 0; b < nlead; b++) {
		const struct gp_insn *first = insn_at(ret, lead[b]);
		if (!first) {
			/* a jump into the middle of an instruction: the
			 * decoding is not the code's; trust none of it */
			ret->undecoded = lead[b];
			ret->nblocks = 0;
			ret->nevents = 0;
			goto done;
		}
		struct gp_code_block *bl = &ret->blocks[ret->nblocks++];
		bl->start = lead[b];
		bl->end = b + 1 < nlead ? lead[b + 1] : decoded_end;
		bl->first_insn = (uint32_t)(first - ret->insns);
		ii = bl->first_insn;
		while (ii < ret->ninsns && ret->insns[ii].pc < bl->end)
			ii++;
		bl->ninsns = (uint32_t)(ii - bl->first_insn);
		bl->succ[0] = bl->succ[1] = GP_NONE;
		bl->thru[0] = bl->thru[1] = GP_NONE;
	}
	for (size_t b = 0; b < ret->nblocks; b++) {
		struct gp_code_block *bl = &ret->blocks[b];
		const struct gp_insn *last = &ret->insns[bl->first_insn + bl->ninsns - 1];
		int ns = 0;
		if ((last->kind == GP_INSN_JUMP || last->kind == GP_INSN_BRANCH) &&
		    !(last->kind == GP_INSN_JUMP && last->target == entry)) {
			uint32_t t = gp_code_block_of(ret, last->target);
			if (t != GP_NONE)
				bl->succ[ns++] = t;
		}
		if (last->kind == GP_INSN_JUMP_REG) {
			bl->unknown_succ = true;
			ret->unknown_jumps = true;
		}
		if (!ends_block(last) ||
		    (last->kind == GP_INSN_BRANCH && !last->noreturn)) {
			if (b + 1 < ret->nblocks)
				bl->succ[ns++] = (uint32_t)(b + 1);
		}
	}

	/* 4. values, to a fixpoint */
	work = malloc(ret->nblocks * sizeof(*work));
	queued = calloc(ret->nblocks, sizeof(*queued));
	if (!work || !queued) {
		err = &gp_error_nomem;
		goto fail;
	}
	{
		struct gp_code_state *s0 = &ret->in[0];
		for (uint8_t k = 0; k < arch->abi.nargs; k++)
			s0->reg[arch->abi.args[k]] = val_root(GP_VAL_ARG, k);
		s0->reg[arch->abi.ctxt] = val_root(GP_VAL_CTXT, 0);
		s0->reached = true;
	}
	size_t nwork = 0;
	work[nwork++] = 0;
	queued[0] = true;
	size_t rounds = 0, max_rounds = GP_CODE_MAX_ROUNDS * ret->nblocks;
	while (nwork && rounds++ < max_rounds) {
		uint32_t b = work[--nwork];
		queued[b] = false;
		struct gp_code_state s;
		const struct gp_code_block *bl = &ret->blocks[b];
		block_out(ret, b, &s);
		for (int k = 0; k < 2; k++) {
			uint32_t t = bl->succ[k];
			if (t == GP_NONE)
				continue;
			bool changed;
			if (!ret->in[t].reached) {
				ret->in[t] = s;
				changed = true;
			} else {
				changed = meet(&ret->in[t], &s, arch->abi.nregs);
			}
			if (changed && !queued[t]) {
				queued[t] = true;
				work[nwork++] = t;
			}
		}
	}
	if (nwork) {
		/* did not settle (it always should): trust nothing */
		ret->undecoded = entry;
		ret->nblocks = 0;
		goto done;
	}

	/* 5. threaded edges: a successor that only tests a register this
	 * block leaves constant goes one way from here */
	for (size_t b = 0; b < ret->nblocks; b++) {
		struct gp_code_block *bl = &ret->blocks[b];
		bl->thru[0] = bl->thru[1] = GP_NONE;
		if (!ret->in[b].reached)
			continue;
		struct gp_code_state s;
		block_out(ret, b, &s);
		for (int k = 0; k < 2; k++) {
			uint32_t t = bl->succ[k];
			if (t == GP_NONE)
				continue;
			const struct gp_code_block *tb = &ret->blocks[t];
			const struct gp_insn *br = &ret->insns[tb->first_insn + tb->ninsns - 1];
			/* the test is the instruction before the branch (x86
			 * TEST; JNE), or the branch itself (arm64 CBZ, TBNZ) */
			const struct gp_insn *ts = br->src != GP_REG_NONE ? br : br - 1;
			if (br->kind != GP_INSN_BRANCH || br->cond == GP_COND_OTHER ||
			    ts < &ret->insns[tb->first_insn] ||
			    (ts != br && ts->kind != GP_INSN_TEST) ||
			    ts->src >= arch->abi.nregs)
				continue;
			bool kept = true;
			for (const struct gp_insn *x = &ret->insns[tb->first_insn]; x < ts; x++)
				if ((x->dst == ts->src) || (x->clobber & (1u << ts->src)) ||
				    x->kind == GP_INSN_CALL || x->kind == GP_INSN_CALL_REG ||
				    x->kind == GP_INSN_ATOMIC)
					kept = false;
			const struct gp_val *v = &s.reg[ts->src];
			if (!kept || v->root != GP_VAL_CONST || v->nloads)
				continue;
			uint64_t mask = ts->width >= 8 ? ~0ull : (1ull << (8 * ts->width)) - 1;
			bool zero = (((uint64_t)v->base + (uint64_t)v->add) & mask) == 0;
			bool taken = (br->cond == GP_COND_ZERO) == zero;
			bl->thru[k] = taken ? gp_code_block_of(ret, br->target) :
				      (t + 1 < ret->nblocks ? t + 1 : GP_NONE);
		}
	}

	/* 6. the events, from the settled states */
	for (size_t b = 0; b < ret->nblocks; b++) {
		struct gp_code_block *bl = &ret->blocks[b];
		bl->first_event = (uint32_t)ret->nevents;
		if (!ret->in[b].reached)
			continue;
		struct gp_code_state s = ret->in[b];
		for (uint32_t i = 0; i < bl->ninsns; i++) {
			struct gp_code_event ev = { 0 };
			if (!step(ret, &s, &ret->insns[bl->first_insn + i], &ev))
				continue;
			ev.block = (uint32_t)b;
			if ((err = gp_grow((void **)&ret->events, &ecap,
					   ret->nevents + 1, sizeof(*ret->events))))
				goto fail;
			ret->events[ret->nevents++] = ev;
		}
		bl->nevents = (uint32_t)(ret->nevents - bl->first_event);
	}
done:
	free(lead);
	free(work);
	free(queued);
	return NULL;
fail:
	free(lead);
	free(work);
	free(queued);
	gp_code_deinit(ret);
	return err;
}
