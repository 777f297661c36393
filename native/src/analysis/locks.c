/*
 * Who holds a sync.Mutex or RWMutex: a frame between a Lock and its
 * Unlock on that object. Neither sync type records its owner
 * (internal/sync/mutex.go, sync/rwmutex.go), so the owner is found from
 * the code each goroutine is in, never from a pointer alone:
 *
 *  1. Lock sites. Each user function on some stack is decoded
 *     (arch/code.c follows its registers and stack slots). Its lock
 *     operations are the atomics inside an inlined sync.(*Mutex).Lock,
 *     Unlock, TryLock or sync.(*RWMutex).RLock, RUnlock (named by the
 *     pclntab's inline tree at the atomic's pc), the calls of those
 *     methods and of RWMutex.Lock/Unlock/TryLock/TryRLock, and the calls
 *     of user functions that lock or unlock what an argument points to
 *     (one level of callees). Each operation names its object as a value:
 *     a global's address, an argument, a closure variable, a stack slot,
 *     loads through them and a field offset.
 *  2. Held at the frame's pc. A forward dataflow over the function's
 *     blocks: an object is held at a pc if every path from the entry to it
 *     passes a Lock of it with no Unlock after. An Unlock of an unknown
 *     object releases everything of its kind. A frame stopped inside a
 *     Lock (the call it waits in is part of that Lock) does not hold it
 *     yet.
 *  3. Deferred Unlocks. A frame's pending open-coded defers (funcdata
 *     OpenCodedDeferInfo, runtime/panic.go) are closures; an Unlock in one
 *     of them, of an object it captured, says the frame holds it.
 *  4. Releases in progress. A goroutine inside an Unlock or RUnlock
 *     (its slow path: a starving Mutex hands itself to a waiter and the
 *     unlocker yields, runnable, inside unlockSlow) or parked in
 *     sync.(*Cond).Wait (which unlocked c.L) does not hold what that
 *     call releases, in the frame that made the call nor in its callers
 *     (which may have locked it: nats-server's updateRouteSubscriptionMap
 *     locks acc.mu and unlocks it in a closure). The object is computed
 *     in the calling frame (for Wait: the data word of c.L); when it
 *     cannot be (an Unlock reached through a func value or a method
 *     value's -fm wrapper), every object of that kind held by the frame
 *     and its callers is let go, as for an Unlock of an unknown object.
 *  5. The object. The value is computed in the goroutine's frame (its
 *     stack pointer from the unwinder): the slot that holds the argument
 *     or closure variable at the frame's pc, the loads through it. Only an
 *     address equal to a waited-on Mutex or RWMutex counts.
 *
 * A goroutine whose frames give no such evidence is never a holder, even
 * if it keeps a pointer to the object. holders.c ranks what this finds:
 * one writer, or readers, or "unknown" with the candidates when they
 * contradict each other.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

#define MAX_KEYS 64
#define MAX_FUNC_BYTES (256u << 10)
#define MAX_SYMFRAMES 32
#define MAX_DEFERS 8
#define KEY_NONE 0xff

/* OP_KILL: the value a key is rooted in is produced anew (a call's
 * result in a loop): what was held of the old value is not known */
enum op_kind { OP_LOCK = 1, OP_UNLOCK, OP_RLOCK, OP_RUNLOCK, OP_KILL };

static int op_mode(int k) /* 0 writer (Mutex, RWMutex.Lock), 1 reader */
{
	return k == OP_RLOCK || k == OP_RUNLOCK;
}

static bool op_acquires(int k)
{
	return k == OP_LOCK || k == OP_RLOCK;
}

struct lock_op {
	uint64_t pc;       /* the instruction */
	uint64_t at;       /* where it takes effect: after a call returns */
	struct gp_val obj; /* the Mutex or RWMutex */
	uint32_t line;     /* the physical function's line at pc */
	uint32_t block;
	uint8_t kind;      /* enum op_kind */
	uint8_t key;       /* index into keys, KEY_NONE: unknown object */
	uint8_t via_call;  /* a call of a user function that does it */
	uint8_t balanced;  /* a release of what the function (or the callee
			    * it stands for) locked itself first: not
			    * evidence that its caller holds it */
};

struct fsum {
	uint64_t entry, end;
	const char *name;
	bool decoded;
	bool full_done;
	bool noreturn;
	struct gp_code code;
	/* the function's own lock operations, and with its callees' */
	struct lock_op *local;
	size_t nlocal;
	struct lock_op *ops;
	size_t nops;
	struct gp_val keys[MAX_KEYS];
	uint8_t key_mode[MAX_KEYS];
	uint32_t nkeys;
	uint64_t *held_in;     /* per block, with ops (full) */
	/* net effect for callers (from the local ops): held at every
	 * return, and what it may release */
	struct lock_op *net;
	size_t nnet;
};

struct op_name {
	const char *name;
	uint8_t kind;
	bool rw_field;     /* the atomic is on readerCount, not the state */
};

/* The methods whose inlined bodies or calls are lock operations
 * (sync/mutex.go, sync/rwmutex.go; internal/sync/mutex.go from 1.24). */
static const struct op_name op_names[] = {
	{ "sync.(*Mutex).Lock", OP_LOCK, false },
	{ "sync.(*Mutex).TryLock", OP_LOCK, false },
	{ "sync.(*Mutex).Unlock", OP_UNLOCK, false },
	{ "internal/sync.(*Mutex).Lock", OP_LOCK, false },
	{ "internal/sync.(*Mutex).TryLock", OP_LOCK, false },
	{ "internal/sync.(*Mutex).Unlock", OP_UNLOCK, false },
	{ "sync.(*RWMutex).RLock", OP_RLOCK, true },
	{ "sync.(*RWMutex).TryRLock", OP_RLOCK, true },
	{ "sync.(*RWMutex).RUnlock", OP_RUNLOCK, true },
	{ "sync.(*RWMutex).Lock", OP_LOCK, false },
	{ "sync.(*RWMutex).TryLock", OP_LOCK, false },
	{ "sync.(*RWMutex).Unlock", OP_UNLOCK, false },
};

static const struct op_name *op_by_name(const char *name)
{
	for (size_t i = 0; i < GP_ARRAY_SIZE(op_names); i++)
		if (!strcmp(op_names[i].name, name))
			return &op_names[i];
	return NULL;
}

struct locks {
	struct gp_snapshot *snap;
	const struct gp_program *prog;
	const struct gp_arch *arch;
	struct fsum **f;               /* each its own allocation: stable */
	size_t nf, fcap;
	struct gp_addr_map by_entry;   /* entry -> index into f */
	int depth;                     /* of nested decoding (noreturn) */
	uint64_t op_entry[GP_ARRAY_SIZE(op_names)];
	uint64_t cond_wait;            /* entry of sync.(*Cond).Wait, 0 */
	int32_t state_off, rc_off, rsem_off;
};

/* -------------------------------------------------- one function */

static int32_t spdelta_cb(void *arg, uint64_t pc)
{
	struct locks *L = arg;
	struct gp_func fn;
	int32_t d;
	if (!gp_pclntab_find_func(L->prog->pcln, pc, &fn))
		return INT32_MIN;
	gp_error *err = gp_pclntab_sp_delta(L->prog->pcln, &fn, pc, &d);
	if (err) {
		gp_error_destroy(err);
		return INT32_MIN;
	}
	return d;
}

static gp_error *fsum_get(struct locks *L, uint64_t pc, struct fsum **ret);

/* Functions that never return: the runtime's panics and fatal errors,
 * os.Exit (cmd/compile marks some; these end a block either way), and
 * user functions none of whose paths returns (one level deep). */
static bool noreturn_cb(void *arg, uint64_t target)
{
	struct locks *L = arg;
	struct gp_func fn;
	if (!gp_pclntab_find_func(L->prog->pcln, target, &fn) || fn.entry != target)
		return false;
	static const char *const names[] = {
		"runtime.gopanic", "runtime.throw", "runtime.fatal",
		"runtime.fatalthrow", "runtime.fatalpanic", "runtime.Goexit",
		"runtime.panicwrap", "os.Exit", "syscall.Exit",
	};
	for (size_t i = 0; i < GP_ARRAY_SIZE(names); i++)
		if (!strcmp(fn.name, names[i]))
			return true;
	if (!strncmp(fn.name, "runtime.panic", 13) ||
	    !strncmp(fn.name, "runtime.goPanic", 15))
		return true;
	if (gp_func_is_machinery(fn.name) || L->depth > 1)
		return false;
	struct fsum *f;
	gp_error *err = fsum_get(L, target, &f);
	if (err) {
		gp_error_destroy(err);
		return false;
	}
	return f && f->decoded && f->noreturn;
}

/* The lock operation an instruction at pc is part of, from the inline
 * tree: the outermost sync method inlined there. *line gets the
 * physical function's line (the call site of what is inlined). */
static const struct op_name *inlined_op(struct locks *L, uint64_t pc,
					uint32_t *line)
{
	struct gp_symframe fr[MAX_SYMFRAMES];
	size_t n = gp_pclntab_symbolize(L->prog->pcln, pc, pc, fr, MAX_SYMFRAMES);
	*line = n ? fr[n - 1].line : 0;
	const struct op_name *found = NULL;
	for (size_t i = 0; i + 1 < n; i++) {
		const struct op_name *o = op_by_name(fr[i].func);
		if (o)
			found = o;
	}
	return found;
}

/* The object's offset from what an op's slow path is called with:
 * lockSlow(m), unlockSlow(m), rUnlockSlow(rw) take the object itself;
 * RLock's semacquire takes &rw.readerSem. */
static int32_t slow_arg_off(const struct locks *L, const struct op_name *on)
{
	return on->kind == OP_RLOCK ? L->rsem_off : 0;
}

/*
 * An atomic the inline tree does not place inside a sync method (Go 1.19,
 * 1.20 and 1.27 give a Lock's CAS the caller's position): the op whose
 * slow path this function calls on the same object. The call's own
 * position is inside the inlined method (tracebacks need it), and its
 * argument names the object, so the atomic on that object is that op's.
 */
static const struct op_name *slow_path_op(struct locks *L, struct fsum *f,
					  const struct gp_code_event *at)
{
	for (size_t i = 0; i < f->code.nevents; i++) {
		const struct gp_code_event *ev = &f->code.events[i];
		if (ev->kind != GP_INSN_CALL || ev->args[0].root == GP_VAL_UNKNOWN)
			continue;
		uint32_t line;
		const struct op_name *on = inlined_op(L, ev->pc, &line);
		if (!on)
			continue;
		int32_t off = on->rw_field ? L->rc_off : L->state_off;
		int32_t soff = slow_arg_off(L, on);
		if (off < 0 || soff < 0)
			continue;
		struct gp_val a = gp_val_add(at->addr, -(int64_t)off);
		struct gp_val b = gp_val_add(ev->args[0], -(int64_t)soff);
		if (gp_val_eq(&a, &b))
			return on;
	}
	return NULL;
}

static uint8_t key_of(struct fsum *f, const struct gp_val *v, int mode)
{
	if (v->root == GP_VAL_UNKNOWN)
		return KEY_NONE;
	for (uint32_t k = 0; k < f->nkeys; k++)
		if (f->key_mode[k] == mode && gp_val_eq(&f->keys[k], v))
			return (uint8_t)k;
	if (f->nkeys >= MAX_KEYS)
		return KEY_NONE;
	f->keys[f->nkeys] = *v;
	f->key_mode[f->nkeys] = (uint8_t)mode;
	return (uint8_t)f->nkeys++;
}

/* The effect of one op on the set of held keys. */
static uint64_t apply(const struct fsum *f, uint64_t held,
		      const struct lock_op *o)
{
	int mode = op_mode(o->kind);
	if (o->kind == OP_KILL)
		return o->key != KEY_NONE ? held & ~(1ull << o->key) : held;
	if (op_acquires(o->kind)) {
		if (o->key != KEY_NONE)
			held |= 1ull << o->key;
		return held;
	}
	if (o->key != KEY_NONE)
		return held & ~(1ull << o->key);
	/* an Unlock of an object not known: it may be any of its kind */
	for (uint32_t k = 0; k < f->nkeys; k++)
		if (f->key_mode[k] == mode)
			held &= ~(1ull << k);
	return held;
}

static int op_cmp(const void *a, const void *b)
{
	const struct lock_op *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	/* releases before acquisitions at one point (a callee's net
	 * effect) */
	return op_acquires(x->kind) - op_acquires(y->kind);
}

/* held_in per block: what every path into it holds (a must-analysis:
 * blocks no known path reaches hold nothing). */
static gp_error *run_held(struct fsum *f, const struct lock_op *ops,
			  size_t nops, uint64_t **ret)
{
	const struct gp_code *c = &f->code;
	uint64_t *in = calloc(c->nblocks + 1, sizeof(*in));
	bool *seen = calloc(c->nblocks + 1, sizeof(*seen));
	uint32_t *work = malloc((c->nblocks + 1) * sizeof(*work));
	bool *queued = calloc(c->nblocks + 1, sizeof(*queued));
	size_t *first = calloc(c->nblocks + 2, sizeof(*first));
	if (!in || !seen || !work || !queued || !first) {
		free(in);
		free(seen);
		free(work);
		free(queued);
		free(first);
		return &gp_error_nomem;
	}
	/* ops by block (ops are sorted by pc, blocks by address) */
	for (size_t i = 0; i < nops; i++)
		if (ops[i].block < c->nblocks)
			first[ops[i].block + 1]++;
	for (size_t b = 0; b < c->nblocks; b++)
		first[b + 1] += first[b];
	size_t nwork = 0;
	if (c->nblocks) {
		seen[0] = true;
		work[nwork++] = 0;
		queued[0] = true;
	}
	size_t rounds = 0;
	while (nwork && rounds++ < 64 * c->nblocks) {
		uint32_t b = work[--nwork];
		queued[b] = false;
		uint64_t h = in[b];
		for (size_t i = first[b]; i < first[b + 1]; i++)
			h = apply(f, h, &ops[i]);
		for (int k = 0; k < 2; k++) {
			uint32_t t = c->blocks[b].succ[k];
			if (t == GP_NONE)
				continue;
			/* through a block that only tests what this one left
			 * constant (and does nothing to locks) */
			uint32_t th = c->blocks[b].thru[k];
			if (th != GP_NONE && first[t] == first[t + 1])
				t = th;
			uint64_t nv = seen[t] ? (in[t] & h) : h;
			if (!seen[t] || nv != in[t]) {
				seen[t] = true;
				in[t] = nv;
				if (!queued[t]) {
					queued[t] = true;
					work[nwork++] = t;
				}
			}
		}
	}
	/* blocks reached through unknown jumps only: nothing known */
	for (size_t b = 0; b < c->nblocks; b++)
		if (!seen[b])
			in[b] = 0;
	free(seen);
	free(work);
	free(queued);
	free(first);
	*ret = in;
	return NULL;
}

/* Keys held just before pc (ops taking effect before it). */
static uint64_t held_at(const struct fsum *f, const uint64_t *held_in,
			const struct lock_op *ops, size_t nops, uint64_t pc)
{
	uint32_t b = gp_code_block_of(&f->code, pc);
	if (b == GP_NONE || !f->code.in[b].reached)
		return 0;
	uint64_t h = held_in[b];
	for (size_t i = 0; i < nops; i++)
		if (ops[i].block == b && ops[i].at < pc)
			h = apply(f, h, &ops[i]);
	return h;
}

static gp_error *add_op(struct lock_op **ops, size_t *n, size_t *cap,
			const struct lock_op *o)
{
	gp_error *err = gp_grow((void **)ops, cap, *n + 1, sizeof(**ops));
	if (!err)
		(*ops)[(*n)++] = *o;
	return err;
}

static gp_error *fsum_get(struct locks *L, uint64_t entry, struct fsum **ret);

/* The function's own operations, its keys, and its net effect. */
static gp_error *fsum_local(struct locks *L, struct fsum *f)
{
	const struct gp_program *prog = L->prog;
	gp_error *err;
	if (f->end <= f->entry || f->end - f->entry > MAX_FUNC_BYTES)
		return NULL;
	uint8_t *buf = NULL;
	size_t ccap = 0;
	const uint8_t *code;
	if ((err = gp_memory_view(&prog->mem, f->entry, f->end - f->entry,
				  &buf, &ccap, &code))) {
		gp_error_destroy(err);
		return NULL;
	}
	L->depth++;
	err = gp_code_analyze(L->arch, code, f->entry, f->end - f->entry,
			      spdelta_cb, noreturn_cb, L, &f->code);
	L->depth--;
	free(buf);
	if (err) {
		gp_error_destroy(err);
		return NULL;
	}
	if (!f->code.nblocks)
		return NULL;
	f->decoded = true;
	/* never returns: no path reaches a return, a tail call or a jump
	 * through a register */
	f->noreturn = true;
	for (size_t b = 0; b < f->code.nblocks && f->noreturn; b++) {
		const struct gp_code_block *bl = &f->code.blocks[b];
		const struct gp_insn *last = &f->code.insns[bl->first_insn + bl->ninsns - 1];
		if (f->code.in[b].reached &&
		    (last->kind == GP_INSN_RET || last->kind == GP_INSN_JUMP_REG ||
		     (last->kind == GP_INSN_JUMP &&
		      (last->target < f->entry || last->target >= f->end))))
			f->noreturn = false;
	}
	size_t cap = 0;
	for (size_t i = 0; i < f->code.nevents; i++) {
		const struct gp_code_event *ev = &f->code.events[i];
		struct lock_op o = { 0 };
		o.pc = ev->pc;
		o.block = ev->block;
		if (ev->kind == GP_INSN_ATOMIC) {
			/* the inline tree at the atomic, else at the next
			 * few instructions of its block (some compilers
			 * give the atomic itself the caller's position) */
			const struct op_name *on = inlined_op(L, ev->pc, &o.line);
			const struct gp_insn *in = gp_code_insn_at(&f->code, ev->pc);
			const struct gp_code_block *bl = &f->code.blocks[ev->block];
			for (int k = 0; !on && in && k < 3; k++) {
				uint64_t next = in->pc + in->len;
				if (next >= bl->end)
					break;
				uint32_t line;
				on = inlined_op(L, next, &line);
				in = gp_code_insn_at(&f->code, next);
			}
			if (!on)
				on = slow_path_op(L, f, ev);
			if (!on)
				continue;
			o.kind = on->kind;
			o.at = ev->pc;
			int32_t off = on->rw_field ? L->rc_off : L->state_off;
			if (off < 0)
				continue;
			o.obj = gp_val_add(ev->addr, -(int64_t)off);
		} else if (ev->kind == GP_INSN_CALL) {
			size_t k;
			for (k = 0; k < GP_ARRAY_SIZE(op_names); k++)
				if (L->op_entry[k] && L->op_entry[k] == ev->target)
					break;
			if (k == GP_ARRAY_SIZE(op_names))
				continue;
			o.kind = op_names[k].kind;
			o.at = ev->pc + ev->len;
			o.obj = ev->args[0];
			uint32_t line;
			(void)inlined_op(L, ev->pc, &line);
			o.line = line;
		} else {
			continue;
		}
		o.key = key_of(f, &o.obj, op_mode(o.kind));
		if ((err = add_op(&f->local, &f->nlocal, &cap, &o)))
			return err;
	}
	/* a key rooted in a call's result: the call, run again, makes
	 * another object of it */
	for (uint32_t k = 0; k < f->nkeys; k++) {
		if (f->keys[k].root != GP_VAL_DEF)
			continue;
		uint64_t def = (uint64_t)f->keys[k].base & ~1ull;
		const struct gp_insn *in = gp_code_insn_at(&f->code, def);
		if (!in)
			continue;
		struct lock_op o = { 0 };
		o.kind = OP_KILL;
		o.pc = def;
		o.at = def + in->len;
		o.key = (uint8_t)k;
		o.block = gp_code_block_of(&f->code, def);
		if (o.block == GP_NONE)
			continue;
		if ((err = add_op(&f->local, &f->nlocal, &cap, &o)))
			return err;
	}
	if (f->nlocal)
		gp_qsort(f->local, f->nlocal, sizeof(*f->local), op_cmp);

	/* net effect: acquisitions of what an argument points to, held at
	 * every return; every release */
	uint64_t *in = NULL;
	if ((err = run_held(f, f->local, f->nlocal, &in)))
		return err;
	uint64_t at_ret = ~0ull;
	bool any_ret = false;
	for (size_t b = 0; b < f->code.nblocks; b++) {
		const struct gp_code_block *bl = &f->code.blocks[b];
		const struct gp_insn *last = &f->code.insns[bl->first_insn + bl->ninsns - 1];
		if (!f->code.in[b].reached || last->kind != GP_INSN_RET)
			continue;
		any_ret = true;
		at_ret &= held_at(f, in, f->local, f->nlocal, last->pc);
	}
	size_t ncap = 0;
	for (uint32_t k = 0; any_ret && k < f->nkeys; k++) {
		if (!(at_ret & (1ull << k)) || f->keys[k].root != GP_VAL_ARG)
			continue;
		struct lock_op o = { 0 };
		o.kind = f->key_mode[k] ? OP_RLOCK : OP_LOCK;
		o.obj = f->keys[k];
		if ((err = add_op(&f->net, &f->nnet, &ncap, &o)))
			return err;
	}
	for (size_t i = 0; i < f->nlocal; i++) {
		if (op_acquires(f->local[i].kind) || f->local[i].kind == OP_KILL)
			continue;
		struct lock_op o = f->local[i];
		if (o.key != KEY_NONE &&
		    (held_at(f, in, f->local, f->nlocal, o.pc) & (1ull << o.key)))
			o.balanced = 1;
		if ((err = add_op(&f->net, &f->nnet, &ncap, &o))) {
			free(in);
			return err;
		}
	}
	free(in);
	return NULL;
}

/* v, a callee's value rooted in its argument, as the caller's value. */
static struct gp_val compose(const struct gp_val *arg, const struct gp_val *v)
{
	struct gp_val r = *arg;
	for (uint8_t j = 0; j < v->nloads; j++)
		r = gp_val_load(r, j == 0 ? v->off[0] : v->off[j]);
	return gp_val_add(r, v->add);
}

/* Own operations plus the net effects of the user functions it calls. */
static gp_error *fsum_full(struct locks *L, struct fsum *f)
{
	gp_error *err;
	if (f->full_done || !f->decoded)
		return NULL;
	f->full_done = true;
	size_t cap = 0;
	for (size_t i = 0; i < f->nlocal; i++)
		if ((err = add_op(&f->ops, &f->nops, &cap, &f->local[i])))
			return err;
	for (size_t i = 0; i < f->code.nevents; i++) {
		const struct gp_code_event *ev = &f->code.events[i];
		if (ev->kind != GP_INSN_CALL || ev->target == f->entry)
			continue;
		struct gp_func cf;
		if (!gp_pclntab_find_func(L->prog->pcln, ev->target, &cf) ||
		    cf.entry != ev->target || gp_func_is_machinery(cf.name))
			continue;
		struct fsum *g;
		if ((err = fsum_get(L, cf.entry, &g)))
			return err;
		uint32_t line;
		(void)inlined_op(L, ev->pc, &line);
		for (size_t k = 0; k < g->nnet; k++) {
			const struct lock_op *n = &g->net[k];
			struct lock_op o = { 0 };
			o.kind = n->kind;
			o.pc = ev->pc;
			o.at = ev->pc + ev->len;
			o.block = ev->block;
			o.via_call = 1;
			o.balanced = n->balanced;
			o.line = line;
			const struct gp_val *v = &n->obj;
			if (v->root == GP_VAL_ARG && v->base >= 0 && v->base < 3)
				o.obj = compose(&ev->args[v->base], v);
			else if (v->root == GP_VAL_ABS)
				o.obj = *v;
			else if (v->root == GP_VAL_STACK)
				continue; /* the callee's own local */
			/* else: unknown, releases every object of its kind */
			if (op_acquires(o.kind) && o.obj.root == GP_VAL_UNKNOWN)
				continue;
			o.key = key_of(f, &o.obj, op_mode(o.kind));
			if ((err = add_op(&f->ops, &f->nops, &cap, &o)))
				return err;
		}
	}
	if (f->nops)
		gp_qsort(f->ops, f->nops, sizeof(*f->ops), op_cmp);
	return run_held(f, f->ops, f->nops, &f->held_in);
}

/* The summary of the function containing pc, its own operations built
 * (full: with its callees' too). NULL *ret: no function there. */
static gp_error *fsum_get(struct locks *L, uint64_t pc, struct fsum **ret)
{
	struct gp_func fn;
	*ret = NULL;
	if (!gp_pclntab_find_func(L->prog->pcln, pc, &fn))
		return NULL;
	uint32_t i = gp_addr_map_get(&L->by_entry, fn.entry);
	if (i != GP_NONE) {
		*ret = L->f[i];
		return NULL;
	}
	gp_error *err = gp_grow((void **)&L->f, &L->fcap, L->nf + 1, sizeof(*L->f));
	if (err)
		return err;
	struct fsum *f = calloc(1, sizeof(*f));
	if (!f)
		return &gp_error_nomem;
	f->entry = fn.entry;
	f->end = fn.end;
	f->name = fn.name;
	if ((err = gp_addr_map_put(&L->by_entry, fn.entry, (uint32_t)L->nf))) {
		free(f);
		return err;
	}
	L->f[L->nf++] = f;
	if ((err = fsum_local(L, f)))
		return err;
	*ret = f;
	return NULL;
}

static gp_error *fsum_get_full(struct locks *L, uint64_t pc, struct fsum **ret)
{
	gp_error *err = fsum_get(L, pc, ret);
	if (!err && *ret)
		err = fsum_full(L, *ret);
	return err;
}

static void locks_deinit(struct locks *L)
{
	for (size_t i = 0; i < L->nf; i++) {
		struct fsum *f = L->f[i];
		gp_code_deinit(&f->code);
		free(f->local);
		free(f->ops);
		free(f->held_in);
		free(f->net);
		free(f);
	}
	free(L->f);
	gp_addr_map_deinit(&L->by_entry);
}

/* ------------------------------------------------ held at a frame */

/*
 * The keys the frame at pc holds: held just before pc, less what the call
 * it stands in is still acquiring (pc follows a call that is a Lock, or
 * a call inside an inlined Lock: its slow path). site[k] gets the pc of
 * the last acquisition of key k on the way.
 */
static uint64_t frame_held(struct locks *L, const struct fsum *f, uint64_t pc,
			   uint64_t site[MAX_KEYS], bool *via_call)
{
	uint64_t h = held_at(f, f->held_in, f->ops, f->nops, pc);
	if (!h)
		return 0;
	struct gp_insn call;
	if (gp_code_insn_before(&f->code, pc, &call) &&
	    (call.kind == GP_INSN_CALL || call.kind == GP_INSN_CALL_REG)) {
		uint32_t line;
		const struct op_name *on = inlined_op(L, call.pc, &line);
		if (on && op_acquires(on->kind))
			for (size_t i = 0; i < f->nops; i++)
				if (f->ops[i].line == line && op_acquires(f->ops[i].kind) &&
				    f->ops[i].key != KEY_NONE && f->ops[i].pc <= call.pc)
					h &= ~(1ull << f->ops[i].key);
	}
	/* where each was acquired: the last acquisition before pc in the
	 * frame's block order (for the description) */
	memset(site, 0, MAX_KEYS * sizeof(*site));
	*via_call = false;
	for (size_t i = 0; i < f->nops; i++)
		if (op_acquires(f->ops[i].kind) && f->ops[i].key != KEY_NONE &&
		    f->ops[i].at < pc && (h & (1ull << f->ops[i].key))) {
			site[f->ops[i].key] = f->ops[i].pc;
			if (f->ops[i].via_call)
				*via_call = true;
		}
	return h;
}

/* The frame as the code sees it: where its entry stack pointer is, what
 * its slots hold at pc, and (for a deferred closure) its context. */
struct frame_ctx {
	const struct gp_program *prog;
	uint64_t entry_sp;
	struct gp_code_state st;
	bool have_st;
	uint64_t ctxt;      /* closure pointer, 0 if not known */
};

static bool read_word(const struct gp_program *prog, uint64_t addr,
		      uint64_t *ret)
{
	gp_error *err = gp_memory_read_u64(&prog->mem, addr, ret);
	if (err) {
		gp_error_destroy(err);
		return false;
	}
	return true;
}

/* The value of v in the frame, or false if the frame does not keep
 * what it needs. */
static bool resolve(const struct frame_ctx *fc, const struct gp_val *v,
		    uint64_t *ret)
{
	uint64_t cur;
	uint8_t done = 0;
	int64_t adj = 0;      /* a slot's value was v's prefix plus adj */
	switch (v->root) {
	case GP_VAL_ABS:
		cur = (uint64_t)v->base;
		break;
	case GP_VAL_STACK:
		cur = fc->entry_sp + (uint64_t)v->base;
		break;
	case GP_VAL_CTXT:
		if (fc->ctxt) {
			cur = fc->ctxt;
			break;
		}
		/* the closure context, as a spilled value */
		/* fall through */
	case GP_VAL_ARG:
	case GP_VAL_DEF: {
		/* the slot at pc holding the longest prefix of v */
		if (!fc->have_st)
			return false;
		int best = -1;
		for (uint32_t i = 0; i < fc->st.nslots; i++) {
			const struct gp_val *s = &fc->st.slot[i].val;
			if (s->root != v->root || s->base != v->base ||
			    s->nloads > v->nloads)
				continue;
			bool ok = true;
			for (uint8_t j = 0; j < s->nloads; j++)
				ok &= s->off[j] == v->off[j];
			/* a prefix with an addend only if nothing follows
			 * or the next load absorbs it */
			if (ok && (best < 0 ||
				   s->nloads > fc->st.slot[best].val.nloads))
				best = (int)i;
		}
		if (best < 0)
			return false;
		const struct gp_slot *s = &fc->st.slot[best];
		if (!read_word(fc->prog, fc->entry_sp + (uint64_t)s->off, &cur))
			return false;
		done = s->val.nloads;
		adj = s->val.add;
		if (done == 0) {
			/* the slot holds root + adj */
			cur -= (uint64_t)adj;
			adj = 0;
		}
		break;
	}
	default:
		return false;
	}
	for (uint8_t j = done; j < v->nloads; j++) {
		int64_t off = v->off[j] - (j == done ? adj : 0);
		if (!read_word(fc->prog, cur + (uint64_t)off, &cur))
			return false;
		adj = 0;
	}
	*ret = cur + (uint64_t)v->add - (uint64_t)adj;
	return true;
}

/* ------------------------------------------------------ the pass */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/*
 * The closures of the frame's pending open-coded defers (runtime/panic.go:
 * funcdata OpenCodedDeferInfo is deferBitsOffset, then up to Go 1.21
 * nDefers and each closure's offset, from 1.22 slotsOffset, the closures
 * in order from there; all offsets below varp). Returns how many.
 */
static size_t pending_defers(struct locks *L, const struct gp_func *fn,
			     uint64_t varp, uint64_t *ret, size_t max)
{
	size_t avail;
	uint64_t at;
	const uint8_t *p = gp_pclntab_funcdata(L->prog->pcln, fn,
					       GP_FUNCDATA_OPENCODEDDEFERINFO, &at, &avail);
	if (!p)
		return 0;
	const uint8_t *end = p + (avail < 64 ? avail : 64);
	uint64_t bits_off, x, bits;
	if (!read_varint(&p, end, &bits_off) || bits_off > varp ||
	    !read_word(L->prog, varp - bits_off, &bits))
		return 0;
	bits &= 0xff;
	size_t n = 0;
	if (gp_pclntab_gover(L->prog->pcln) >= GP_GOVER(1, 22)) {
		if (!read_varint(&p, end, &x) || x > varp)
			return 0;
		uint64_t slots = varp - x;
		for (unsigned i = 0; i < 8 && n < max; i++)
			if (bits & (1u << i) && read_word(L->prog, slots + 8 * i, &ret[n]))
				n++;
	} else {
		uint64_t nd;
		if (!read_varint(&p, end, &nd) || nd > 8)
			return 0;
		for (unsigned i = 0; i < nd; i++) {
			if (!read_varint(&p, end, &x))
				return n;
			if ((bits & (1u << i)) && x <= varp && n < max &&
			    read_word(L->prog, varp - x, &ret[n]))
				n++;
		}
	}
	return n;
}

struct lock_pass {
	struct locks L;
	struct gp_addr_map objs;     /* address -> sync index */
	struct gp_lock_hit *hits;
	size_t nhits, cap;
	uint8_t *stack_memo;         /* per stack: 0 unknown, 1 no, 2 maybe */
};

static gp_error *add_hit(struct lock_pass *P, const struct gp_lock_hit *h)
{
	/* one hit per (object, goroutine, role): merge the evidence */
	for (size_t i = P->nhits; i-- > 0;) {
		struct gp_lock_hit *o = &P->hits[i];
		if (o->g != h->g)
			break;
		if (o->sync == h->sync && o->role == h->role) {
			o->evidence |= h->evidence;
			if (!o->site_pc)
				o->site_pc = h->site_pc;
			if (!o->defer_pc)
				o->defer_pc = h->defer_pc;
			return NULL;
		}
	}
	gp_error *err = gp_grow((void **)&P->hits, &P->cap, P->nhits + 1,
				sizeof(*P->hits));
	if (!err)
		P->hits[P->nhits++] = *h;
	return err;
}

/* Whether a stack has a user frame that could hold anything: keys held
 * at its pc, or open-coded defers. */
static gp_error *stack_may_hold(struct lock_pass *P, uint32_t stack_id,
				bool *ret)
{
	struct locks *L = &P->L;
	if (P->stack_memo[stack_id]) {
		*ret = P->stack_memo[stack_id] == 2;
		return NULL;
	}
	uint32_t n;
	const struct gp_frame *f = gp_snapshot_stack(L->snap, stack_id, &n);
	bool may = false;
	for (uint32_t q = 0; q < n && !may; q++) {
		if ((f[q].flags & GP_FRAME_INLINED) || !f[q].entry)
			continue;
		struct gp_func fn;
		if (!gp_pclntab_find_func(L->prog->pcln, f[q].pc, &fn) ||
		    gp_func_is_machinery(fn.name))
			continue;
		size_t avail;
		uint64_t at;
		if (gp_pclntab_funcdata(L->prog->pcln, &fn,
					GP_FUNCDATA_OPENCODEDDEFERINFO, &at, &avail)) {
			may = true;
			break;
		}
		struct fsum *s;
		gp_error *err = fsum_get_full(L, f[q].pc, &s);
		if (err)
			return err;
		uint64_t site[MAX_KEYS];
		bool via;
		if (s && s->decoded && frame_held(L, s, f[q].pc, site, &via))
			may = true;
	}
	P->stack_memo[stack_id] = may ? 2 : 1;
	*ret = may;
	return NULL;
}

/* "frame F (file:line) <what> at pc 0x... <tail>" */
static gp_error *describe(struct gp_snapshot *snap, const struct gp_frame *fr,
			  const char *what, uint64_t pc, const char *tail,
			  uint32_t *ret)
{
	char buf[512];
	const char *fn = fr && fr->func ? gp_snapshot_string(snap, fr->func) : "?";
	const char *file = fr && fr->file ? gp_snapshot_string(snap, fr->file) : "";
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	snprintf(buf, sizeof(buf), "frame %s (%s:%u) %s at pc 0x%llx%s", fn, base,
		 fr ? fr->line : 0, what, (unsigned long long)pc, tail);
	return gp_strtab_intern(&snap->strs, buf, ret);
}

/* One piece of evidence: goroutine gi's frame holds the object at addr
 * (if it is one of the mutexes waited on) in role, described as
 * "frame F (file:line) <what> at pc 0x.. <tail>". */
static gp_error *emit(struct lock_pass *P, uint32_t gi, uint64_t addr,
		      uint32_t role, uint32_t evidence, uint64_t site_pc,
		      uint64_t defer_pc, const struct gp_frame *fr, uint32_t frame,
		      const char *what, const char *tail)
{
	uint32_t si = gp_addr_map_get(&P->objs, addr);
	if (si == GP_NONE)
		return NULL;
	struct gp_lock_hit hit = { 0 };
	hit.sync = si;
	hit.g = gi;
	hit.role = role;
	hit.evidence = evidence;
	hit.site_pc = site_pc;
	hit.defer_pc = defer_pc;
	hit.frame = frame;
	gp_error *err = describe(P->L.snap, fr, what, site_pc ? site_pc : defer_pc,
				 tail, &hit.description);
	return err ? err : add_hit(P, &hit);
}

/* Releases in progress on one stack (see 4. above): objects by address,
 * and modes (bit 0 writer, bit 1 reader) of which anything may be
 * released. */
#define MAX_RELEASING 16
struct releasing {
	uint64_t addr[MAX_RELEASING];
	size_t n;
	unsigned unknown;
	unsigned pending;   /* machinery frames inside a release, not yet
			     * tied to the user frame that called it */
};

static void releasing_add(struct releasing *r, uint64_t addr, unsigned mode)
{
	if (r->n < MAX_RELEASING)
		r->addr[r->n++] = addr;
	else
		r->unknown |= mode;
}

static bool releasing_covers(const struct releasing *r, uint64_t addr,
			     bool reader)
{
	if (r->unknown & (reader ? 2u : 1u))
		return true;
	for (size_t i = 0; i < r->n; i++)
		if (r->addr[i] == addr)
			return true;
	return false;
}

/* The modes a machinery frame (runtime, sync) at pc is releasing: its
 * own function or one inlined at pc is an Unlock, RUnlock, their slow
 * paths, a method value's wrapper of them, or Cond.Wait. */
static unsigned machinery_release(const struct locks *L,
				  const struct gp_unwind_pc *u)
{
	struct gp_symframe fr[MAX_SYMFRAMES];
	size_t n = gp_pclntab_symbolize(L->prog->pcln, u->pc, u->sympc, fr,
					MAX_SYMFRAMES);
	unsigned mode = 0;
	for (size_t i = 0; i < n; i++) {
		char name[128];
		const char *fn = fr[i].func;
		size_t len = strlen(fn);
		if (len > 3 && len < sizeof(name) && !strcmp(fn + len - 3, "-fm")) {
			memcpy(name, fn, len - 3);
			name[len - 3] = 0;
			fn = name;
		}
		const struct op_name *on = op_by_name(fn);
		if (on && !op_acquires(on->kind))
			mode |= op_mode(on->kind) ? 2u : 1u;
		else if (!strcmp(fn, "sync.(*Mutex).unlockSlow") ||
			 !strcmp(fn, "internal/sync.(*Mutex).unlockSlow"))
			mode |= 1u;
		else if (!strcmp(fn, "sync.(*RWMutex).rUnlockSlow"))
			mode |= 2u;
		else if (!strcmp(fn, "sync.(*Cond).Wait"))
			mode |= 3u;
	}
	return mode;
}

/* What the user frame of function s at pc is releasing (the call just
 * before pc is an Unlock or RUnlock, lies inside an inlined one, or is
 * sync.(*Cond).Wait), into r. Returns whether the call is one. */
static bool frame_releasing(struct locks *L, const struct fsum *s,
			    uint64_t pc, struct frame_ctx *fc,
			    struct releasing *r)
{
	struct gp_insn call;
	if (!gp_code_insn_before(&s->code, pc, &call) ||
	    (call.kind != GP_INSN_CALL && call.kind != GP_INSN_CALL_REG))
		return false;
	if (!fc->have_st)
		fc->have_st = gp_code_state_at(&s->code, pc, &fc->st);
	/* a call of the sync method itself, or the slow path of one inlined
	 * here: the last release of this line up to the call */
	uint32_t line;
	const struct op_name *on = inlined_op(L, call.pc, &line);
	const struct lock_op *rel = NULL;
	for (size_t i = 0; i < s->nlocal; i++) {
		const struct lock_op *o = &s->local[i];
		if (op_acquires(o->kind) || o->kind == OP_KILL || o->via_call)
			continue;
		if (o->pc == call.pc ||
		    (on && !op_acquires(on->kind) && o->line == line &&
		     o->pc <= call.pc && (!rel || o->pc > rel->pc)))
			rel = o;
		if (o->pc == call.pc)
			break;
	}
	if (rel) {
		unsigned mode = op_mode(rel->kind) ? 2u : 1u;
		uint64_t addr;
		if (resolve(fc, &rel->obj, &addr))
			releasing_add(r, addr, mode);
		else
			r->unknown |= mode;
		return true;
	}
	if (!L->cond_wait || call.kind != GP_INSN_CALL)
		return false;
	for (size_t i = 0; i < s->code.nevents; i++) {
		const struct gp_code_event *ev = &s->code.events[i];
		if (ev->pc != call.pc || ev->kind != GP_INSN_CALL)
			continue;
		if (ev->target != L->cond_wait)
			return false;
		/* sync.Cond{noCopy; L Locker; ...}: c.L's data word is the
		 * Mutex or RWMutex (its RLocker too) */
		uint64_t c, m;
		if (resolve(fc, &ev->args[0], &c) && read_word(L->prog, c + 8, &m))
			releasing_add(r, m, 3u);
		else
			r->unknown |= 3u;
		return true;
	}
	return false;
}

/* The frames of goroutine gi: what each holds. */
static gp_error *goroutine_evidence(struct lock_pass *P, uint32_t gi,
				    struct gp_unwind_pc *pcs)
{
	struct locks *L = &P->L;
	struct gp_snapshot *snap = L->snap;
	const struct gp_goroutine *g = &snap->gs[gi];
	struct gp_unwind_start st = { .pc = g->pc, .sp = g->sp,
				      .stack_lo = g->stack_lo,
				      .stack_hi = g->stack_hi,
				      .cache = snap->ucache };
	gp_error *err = NULL;
	size_t np = gp_unwind(L->prog->pcln, &L->prog->mem, &st, pcs,
			      GP_MAX_FRAMES, &err);
	gp_error_destroy(err);
	err = NULL;
	uint32_t nf = 0;
	const struct gp_frame *sf = gp_snapshot_stack(snap, g->stack_id, &nf);
	uint32_t q = 0; /* the snapshot's frame of pcs[k] */
	struct releasing rel = { 0 };
	for (size_t k = 0; k < np; k++) {
		while (q < nf && (sf[q].pc != pcs[k].pc || (sf[q].flags & GP_FRAME_INLINED)))
			q++;
		const struct gp_frame *fr = q < nf ? &sf[q] : NULL;
		uint32_t frame = q < nf ? q : GP_NONE;
		struct gp_func fn;
		if (!gp_pclntab_find_func(L->prog->pcln, pcs[k].pc, &fn))
			continue;
		if (gp_func_is_machinery(fn.name)) {
			rel.pending |= machinery_release(L, &pcs[k]);
			continue;
		}
		int32_t d;
		if ((err = gp_pclntab_sp_delta(L->prog->pcln, &fn, pcs[k].pc, &d))) {
			gp_error_destroy(err);
			err = NULL;
			continue;
		}
		struct frame_ctx fc;
		memset(&fc, 0, sizeof(fc));
		fc.prog = L->prog;
		fc.entry_sp = pcs[k].sp + (uint64_t)(int64_t)d;
		struct fsum *s;
		if ((err = fsum_get_full(L, pcs[k].pc, &s)))
			return err;
		/* what this frame's call, or the calls above it, are
		 * releasing: held by neither this frame nor its callers */
		if (!(s && s->decoded && !pcs[k].trap &&
		      frame_releasing(L, s, pcs[k].pc, &fc, &rel)))
			rel.unknown |= rel.pending;
		rel.pending = 0;
		if (s && s->decoded) {
			uint64_t site[MAX_KEYS];
			bool via;
			uint64_t h = frame_held(L, s, pcs[k].pc, site, &via);
			if (h && !fc.have_st)
				fc.have_st = gp_code_state_at(&s->code, pcs[k].pc, &fc.st);
			for (uint32_t key = 0; h && key < s->nkeys; key++) {
				uint64_t addr;
				if (!(h & (1ull << key)) || !resolve(&fc, &s->keys[key], &addr))
					continue;
				bool rd = s->key_mode[key];
				if (releasing_covers(&rel, addr, rd))
					continue;
				if ((err = emit(P, gi, addr, rd ? GP_ROLE_RLOCK : GP_ROLE_LOCK,
						GP_EV_LOCK_SITE | (s->keys[key].root == GP_VAL_ABS ?
								   GP_EV_GLOBAL_SITE : 0),
						site[key], 0, fr, frame,
						via ? "locked it (in the function it called)" :
						      "locked it",
						rd ? " (a read lock) and has not unlocked it" :
						     " and has not unlocked it")))
					return err;
			}
		}
		/* pending deferred Unlocks (varp: runtime/traceback.go) */
		uint64_t varp = pcs[k].fp - (L->arch->uses_lr ? 0 : 8);
		if (varp > pcs[k].sp)
			varp -= 8;
		uint64_t clos[MAX_DEFERS];
		size_t nd = pending_defers(L, &fn, varp, clos, MAX_DEFERS);
		for (size_t j = 0; j < nd; j++) {
			uint64_t fnptr;
			struct fsum *ds;
			if (!clos[j] || !read_word(L->prog, clos[j], &fnptr) ||
			    (err = fsum_get_full(L, fnptr, &ds)))
				continue;
			if (!ds || !ds->decoded || ds->entry != fnptr)
				continue;
			struct frame_ctx dc;
			memset(&dc, 0, sizeof(dc));
			dc.prog = L->prog;
			dc.ctxt = clos[j];
			for (size_t i = 0; i < ds->nops; i++) {
				const struct lock_op *o = &ds->ops[i];
				uint64_t addr;
				/* an Unlock of what the closure, or the function
				 * it calls, locked itself is no evidence */
				if (op_acquires(o->kind) || o->kind == OP_KILL || o->balanced ||
				    (o->obj.root != GP_VAL_CTXT && o->obj.root != GP_VAL_ABS) ||
				    (o->key != KEY_NONE && ds->held_in &&
				     (held_at(ds, ds->held_in, ds->ops, ds->nops, o->pc) &
				      (1ull << o->key))) ||
				    !resolve(&dc, &o->obj, &addr))
					continue;
				bool rd = o->kind == OP_RUNLOCK;
				if (releasing_covers(&rel, addr, rd))
					continue;
				if ((err = emit(P, gi, addr, rd ? GP_ROLE_RLOCK : GP_ROLE_LOCK,
						GP_EV_DEFER_UNLOCK | (o->obj.root == GP_VAL_ABS ?
								      GP_EV_GLOBAL_SITE : 0),
						0, o->pc, fr, frame,
						rd ? "has a deferred RUnlock of it pending (the closure's RUnlock" :
						     "has a deferred Unlock of it pending (the closure's Unlock",
						")")))
					return err;
			}
		}
		err = NULL;
	}
	return NULL;
}

gp_error *gp_lock_evidence(struct gp_snapshot *snap, struct gp_analysis *an,
			   struct gp_lock_hit **ret, size_t *ret_n,
			   bool *ret_no_decoder)
{
	struct lock_pass P = { 0 };
	struct locks *L = &P.L;
	gp_error *err = NULL;
	struct gp_unwind_pc *pcs = NULL;
	*ret = NULL;
	*ret_n = 0;
	*ret_no_decoder = false;
	L->snap = snap;
	L->prog = snap->prog;
	L->arch = snap->prog->exe.arch;
	bool any = false;
	for (size_t i = 0; i < an->nsyncs; i++) {
		const struct gp_sync *s = &an->syncs[i];
		if ((s->kind != GP_OBJ_MUTEX && s->kind != GP_OBJ_RWMUTEX) ||
		    s->holder_status == GP_HOLDER_NOT_HELD ||
		    (s->flags & GP_SYNC_UNREADABLE))
			continue;
		if ((err = gp_addr_map_put(&P.objs, s->address, (uint32_t)i)))
			goto out;
		any = true;
	}
	if (!any)
		goto out;
	if (!L->arch || !L->arch->decode) {
		*ret_no_decoder = true;
		goto out;
	}
	for (size_t k = 0; k < GP_ARRAY_SIZE(op_names); k++) {
		struct gp_func fn;
		if (gp_pclntab_func_by_name(L->prog->pcln, op_names[k].name, &fn))
			L->op_entry[k] = fn.entry;
	}
	{
		struct gp_func fn;
		if (gp_pclntab_func_by_name(L->prog->pcln, "sync.(*Cond).Wait", &fn))
			L->cond_wait = fn.entry;
	}
	L->state_off = gp_off_either(L->prog, GP_F_MUTEX_STATE, GP_F_MUTEX_STATE_OLD);
	if (L->state_off < 0)
		L->state_off = 0;
	L->rc_off = gp_off(L->prog, GP_F_RWMUTEX_READERCOUNT);
	L->rsem_off = gp_off(L->prog, GP_F_RWMUTEX_READERSEM);
	P.stack_memo = calloc(snap->nstacks + 1, 1);
	pcs = malloc(GP_MAX_FRAMES * sizeof(*pcs));
	if (!P.stack_memo || !pcs) {
		err = &gp_error_nomem;
		goto out;
	}
	/* the unwinds read the stacks of the core in place: the pages they
	 * touch are let go as the mark's are (a million stacks are GBs) */
	struct gp_trim trim = { 0 };
	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		if (g->stack_id == GP_NONE || g->stack_id >= snap->nstacks ||
		    (g->flags & GP_G_SYSTEM) || g->status == GP_STATUS_RUNNING)
			continue;
		gp_memory_trim_tick(&snap->prog->mem, &trim);
		bool may;
		if ((err = stack_may_hold(&P, g->stack_id, &may)))
			goto out;
		if (may && (err = goroutine_evidence(&P, (uint32_t)i, pcs)))
			goto out;
	}
	*ret = P.hits;
	*ret_n = P.nhits;
	P.hits = NULL;
out:
	free(P.hits);
	free(P.stack_memo);
	free(pcs);
	gp_addr_map_deinit(&P.objs);
	locks_deinit(L);
	return err;
}
