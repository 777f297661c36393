/*
 * Stack unwinding with the pclntab's SP deltas, as runtime/traceback.go
 * does it (unwinder.initAt/resolveInternal/next in 1.21+, gentraceback in
 * 1.19 and 1.20), so that the frames match what the runtime prints.
 *
 * x86-64: the return address sits just below the caller's SP (fp - 8)
 * and fp = sp + spdelta + 8. arm64 (a link-register machine): fp = sp +
 * spdelta, and the return address is the LR a frame's prologue saved at
 * its sp, or, in the innermost frame before that (spdelta 0), the LR
 * register itself (unwinder.resolveInternal). The signal frame's layout
 * comes from the architecture (arch.h).
 *
 * Target memory is untrusted: every frame must move sp strictly up, stay
 * inside the stack bounds when given, and the frame count is capped.
 */
#include <string.h>

#include "runtime/runtime.h"

/* Frames walked on a signal stack looking for sigtramp; nested signals. */
#define MAX_SIGNAL_FRAMES 64
#define MAX_SIGNAL_NESTING 4

static bool is_injected_call(const struct gp_pclntab *tab, uint8_t funcid)
{
	/* The callee was injected by a signal, so the caller's pc is the
	 * interrupted instruction, not a return address. Go 1.21+
	 * (isInjectedCall, unwindTrap); 1.19/1.20 only after sigpanic
	 * (gentraceback's waspanic). */
	if (funcid == GP_FUNCID_SIGPANIC)
		return true;
	return gp_pclntab_gover(tab) >= GP_GOVER(1, 21) &&
	       (funcid == GP_FUNCID_ASYNCPREEMPT ||
		funcid == GP_FUNCID_DEBUGCALLV2);
}

static struct gp_unwind_step *cache_slot(struct gp_unwind_cache *c,
					 uint64_t pc)
{
	uint64_t h = pc * 0x9e3779b97f4a7c15ULL;
	return &c->slot[(h >> 32) % GP_UNWIND_CACHE_SLOTS];
}

/* gp_pclntab_find_func through the cache; *have_delta when the cached step
 * also gives the frame's SP delta (only functions with frame information
 * and a valid delta are cached). */
static bool func_at(const struct gp_pclntab *tab, struct gp_unwind_cache *c,
		    uint64_t pc, struct gp_func *fn, int32_t *delta,
		    bool *have_delta)
{
	*have_delta = false;
	if (c && pc) {
		const struct gp_unwind_step *s = cache_slot(c, pc);
		if (s->pc == pc) {
			*fn = s->fn;
			*delta = s->delta;
			*have_delta = true;
			return true;
		}
	}
	return gp_pclntab_find_func(tab, pc, fn);
}

size_t gp_unwind(const struct gp_pclntab *tab, const struct gp_memory *mem,
		 const struct gp_unwind_start *start,
		 struct gp_unwind_pc *ret, size_t max, gp_error **ret_err)
{
	gp_error *err = NULL;
	size_t n = 0;
	uint64_t pc = start->pc, sp = start->sp;
	uint64_t lo = start->stack_lo, hi = start->stack_hi;
	bool bounded = hi > lo;
	bool trap = start->trap;
	struct gp_func fn;
	struct gp_unwind_cache *cache = start->cache;
	int32_t delta = 0;
	bool have_delta;
	const struct gp_arch *arch = gp_pclntab_arch(tab);
	uint64_t lr_given = start->lr;  /* frame.lr, link-register machines */

	if (pc == 0) {
		/* A call through a nil func value: start in the caller. */
		if ((err = gp_memory_read_u64(mem, sp, &pc)))
			goto out;
		if (arch->uses_lr)
			lr_given = 0;
		else
			sp += 8;
		trap = false;
	}
	if (!func_at(tab, cache, pc, &fn, &delta, &have_delta)) {
		err = gp_error_create(GP_ERROR_CORRUPT, "unknown pc 0x%llx",
				      (unsigned long long)pc);
		goto out;
	}
	for (bool innermost = true;; innermost = false) {
		if (bounded && (sp < lo || sp >= hi)) {
			err = gp_error_create(GP_ERROR_CORRUPT,
					      "sp 0x%llx in %s is outside the stack [0x%llx, 0x%llx)",
					      (unsigned long long)sp, fn.name,
					      (unsigned long long)lo,
					      (unsigned long long)hi);
			break;
		}
		if (!have_delta && !gp_pclntab_has_frame_info(tab, &fn)) {
			/* The runtime stops here silently (an external
			 * function, e.g. race support). */
			err = gp_error_create(GP_ERROR_UNSUPPORTED,
					      "%s has no frame information",
					      fn.name);
			break;
		}
		if (n == max) {
			err = gp_error_create(GP_ERROR_LIMIT,
					      "stack deeper than %zu frames",
					      max);
			break;
		}
		uint8_t flag = fn.flag;
		if (fn.funcid == GP_FUNCID_CGOCALLBACK)
			flag &= (uint8_t)~GP_FUNCFLAG_SPWRITE;
		if (innermost && start->syscall)
			flag &= (uint8_t)~GP_FUNCFLAG_SPWRITE;

		if (!have_delta) {
			err = gp_pclntab_sp_delta(tab, &fn, pc, &delta);
			if (!err && delta < 0)
				err = gp_error_create(GP_ERROR_CORRUPT,
						      "negative SP delta %d in %s",
						      (int)delta, fn.name);
			if (err)
				break;
			if (cache && pc)
				*cache_slot(cache, pc) = (struct gp_unwind_step){
					pc, fn, delta };
		}
		uint64_t fp = sp + (uint64_t)delta + (arch->uses_lr ? 0 : 8);
		struct gp_unwind_pc *f = &ret[n++];
		f->pc = pc;
		f->sp = sp;
		f->fp = fp;
		f->trap = trap;
		/* unwinder.symPC */
		f->sympc = !trap && pc > fn.entry ? pc - 1 : pc;

		if (flag & GP_FUNCFLAG_TOPFRAME)
			break;
		if (flag & GP_FUNCFLAG_SPWRITE) {
			/* Printing tracebacks stop here too, even at the
			 * innermost frame (unwindPrintErrors). */
			err = gp_error_create(GP_ERROR_UNSUPPORTED,
					      "stopped at %s, which writes SP",
					      fn.name);
			break;
		}
		if (fp < sp || (bounded && fp > hi)) {
			err = gp_error_create(GP_ERROR_CORRUPT,
					      "frame of %s at sp 0x%llx ends outside the stack",
					      fn.name, (unsigned long long)sp);
			break;
		}
		uint64_t lr = lr_given;
		uint64_t lr_at = arch->uses_lr ? sp : fp - 8;
		if (!arch->uses_lr || (innermost && sp < fp) || !lr) {
			if ((err = gp_memory_read_u64(mem, lr_at, &lr))) {
				err = gp_error_wrap(err, "reading the return address of %s",
						    fn.name);
				break;
			}
		}
		lr_given = 0;
		trap = is_injected_call(tab, fn.funcid);
		sp = fp;
		/* Which calls a signal injected, for the saved LR: every
		 * release (1.19's gentraceback: injectedCall = waspanic ||
		 * asyncPreempt || debugCallV2), even where only sigpanic
		 * makes the caller's pc a trap. */
		bool injected = fn.funcid == GP_FUNCID_SIGPANIC ||
				fn.funcid == GP_FUNCID_ASYNCPREEMPT ||
				fn.funcid == GP_FUNCID_DEBUGCALLV2;
		if (arch->uses_lr && injected) {
			/* sighandler pushed the interrupted LR below the
			 * interrupted sp before faking the call (unwinder.next:
			 * "On link register architectures, sighandler saves
			 * the LR on stack before faking a call"). */
			uint64_t saved;
			struct gp_func at;
			if ((err = gp_memory_read_u64(mem, sp, &saved))) {
				err = gp_error_wrap(err, "reading the LR saved by a signal below %s",
						    fn.name);
				break;
			}
			sp += arch->injected_frame;
			int32_t d = -1;
			if (!gp_pclntab_find_func(tab, lr, &at)) {
				lr = saved;  /* the pc was not Go code */
			} else {
				gp_error_destroy(gp_pclntab_sp_delta(tab, &at, lr, &d));
				if (d == 0)  /* interrupted before its prologue */
					lr_given = saved;
			}
		}
		struct gp_func caller;
		if (!func_at(tab, cache, lr, &caller, &delta, &have_delta)) {
			err = gp_error_create(GP_ERROR_CORRUPT,
					      "unexpected return pc for %s called from 0x%llx",
					      fn.name, (unsigned long long)lr);
			break;
		}
		pc = lr;
		fn = caller;
	}
out:
	if (ret_err)
		*ret_err = err;
	else
		gp_error_destroy(err);
	return n;
}

/* ------------------------------------------------------------- threads */

static bool in_range(uint64_t sp, uint64_t lo, uint64_t hi)
{
	return hi > lo && sp >= lo && sp < hi;
}

/* A thread's registers as the unwinder starts from them. */
struct regs {
	uint64_t pc, sp, bp, lr;
};

/*
 * If the thread at r is in a Go signal handler, the context the signal
 * interrupted. runtime.sigtramp's fp is the sp the kernel entered the
 * handler with; the ucontext is arch->sigframe_uc above it. x86-64: the
 * frame starts with the restorer's address (sa_restorer =
 * runtime.sigreturn, sigreturn__sigaction from 1.21) just below; arm64:
 * siginfo, then the ucontext, whose FPSIMD record's magic is checked.
 */
static gp_error *signal_context(const struct gp_pclntab *tab,
				const struct gp_memory *mem,
				const struct gp_arch *arch, const struct regs *r,
				bool *found, struct regs *ret, uint64_t *ret_uc,
				bool c_restorer)
{
	struct gp_unwind_pc frames[MAX_SIGNAL_FRAMES];
	struct gp_unwind_start st = { .pc = r->pc, .sp = r->sp, .lr = r->lr,
				      .trap = true };
	gp_error *err;
	*found = false;
	size_t n = gp_unwind(tab, mem, &st, frames, MAX_SIGNAL_FRAMES, &err);
	gp_error_destroy(err);
	struct gp_func sigtramp, fn;
	if (!n || !gp_pclntab_func_by_name(tab, "runtime.sigtramp", &sigtramp) ||
	    !gp_pclntab_find_func(tab, frames[n - 1].pc, &fn) ||
	    fn.entry != sigtramp.entry)
		return NULL;
	uint64_t uc = frames[n - 1].fp + arch->sigframe_uc;
	bool ok;
	if (arch->sigframe_restorer) {
		uint64_t restorer;
		struct gp_func rfn;
		if ((err = gp_memory_read_u64(mem, uc - 8, &restorer)))
			return gp_error_wrap(err, "reading the signal frame");
		ok = gp_pclntab_find_func(tab, restorer, &rfn) ?
		     (!strcmp(rfn.name, "runtime.sigreturn") ||
		      !strcmp(rfn.name, "runtime.sigreturn__sigaction")) :
		     /* a cgo program installs its handlers through libc's
		      * sigaction: the restorer is libc's (__restore_rt) */
		     c_restorer && restorer;
	} else {
		uint32_t magic;
		if ((err = gp_memory_read_u32(mem, uc + arch->uc_magic_off,
					      &magic)))
			return gp_error_wrap(err, "reading the signal frame");
		ok = magic == arch->uc_magic;
	}
	if (!ok)
		return gp_error_create(GP_ERROR_CORRUPT,
				       "no signal frame above runtime.sigtramp at 0x%llx",
				       (unsigned long long)uc);
	ret->lr = 0;
	if ((err = gp_memory_read_u64(mem, uc + arch->uc_bp, &ret->bp)) ||
	    (err = gp_memory_read_u64(mem, uc + arch->uc_sp, &ret->sp)) ||
	    (err = gp_memory_read_u64(mem, uc + arch->uc_pc, &ret->pc)) ||
	    (arch->uc_lr != GP_NO_REG &&
	     (err = gp_memory_read_u64(mem, uc + arch->uc_lr, &ret->lr))))
		return gp_error_wrap(err, "reading the signal context");
	*found = true;
	if (ret_uc)
		*ret_uc = uc;
	return NULL;
}

size_t gp_unwind_thread(const struct gp_pclntab *tab,
			const struct gp_memory *mem,
			const struct gp_unwind_thread_start *start,
			struct gp_unwind_pc *ret, size_t max, int *ret_from,
			gp_error **ret_err)
{
	gp_error *err = NULL;
	struct gp_unwind_start st = {
		.stack_lo = start->g_stack_lo,
		.stack_hi = start->g_stack_hi,
	};
	int from;

	/* traceback1: a goroutine inside a VDSO call is traced from the
	 * pc/sp saved before the call, whatever the thread is doing. */
	if (start->vdso_sp) {
		st.pc = start->vdso_pc;
		st.sp = start->vdso_sp;
		/* vdsoPC is the caller's return address (the runtime's
		 * vdso call saves it) and vdsoSP the caller's sp */
		from = GP_UNWIND_FROM_VDSO;
		goto unwind;
	}

	/* Follow signal frames from the thread's registers to the context
	 * that runs (or ran) on g's stack. */
	struct regs r = { start->pc, start->sp, start->bp, start->lr };
	from = GP_UNWIND_FROM_REGS;
	for (int depth = 0;; depth++) {
		if (in_range(r.sp, start->g_stack_lo, start->g_stack_hi)) {
			/* sighandler's tracebacktrap(sigpc, sigsp, siglr): pc
			 * is the interrupted instruction, not a return
			 * address. */
			st.pc = r.pc;
			st.sp = r.sp;
			st.bp = r.bp;
			st.lr = r.lr;
			st.trap = true;
			goto unwind;
		}
		if (depth == MAX_SIGNAL_NESTING)
			break;
		bool found;
		if ((err = signal_context(tab, mem, start->arch, &r, &found,
					  &r, NULL, false)))
			goto out;
		if (!found)
			break;
		from = GP_UNWIND_FROM_SIGNAL;
	}

	/* The thread is on g0 (systemstack, mcall, morestack, the
	 * scheduler): the runtime prints curg from its saved context
	 * (sighandler: traceback(^0, ^0, 0, mp.curg); unwinder.initAt). */
	if (start->g_syscall_sp) {
		st.pc = start->g_syscall_pc;
		st.sp = start->g_syscall_sp;
		st.syscall = true;
		from = GP_UNWIND_FROM_SYSCALL;
	} else if (start->g_sched_sp) {
		st.pc = start->g_sched_pc;
		st.sp = start->g_sched_sp;
		st.bp = start->g_sched_bp;
		st.lr = start->g_sched_lr;
		from = GP_UNWIND_FROM_SCHED;
	} else {
		err = gp_error_create(GP_ERROR_NOT_FOUND,
				      "the thread (pc 0x%llx, sp 0x%llx) is not on the goroutine's stack [0x%llx, 0x%llx) and the goroutine has no saved context",
				      (unsigned long long)start->pc,
				      (unsigned long long)start->sp,
				      (unsigned long long)start->g_stack_lo,
				      (unsigned long long)start->g_stack_hi);
		goto out;
	}
unwind:
	if (ret_from)
		*ret_from = from;
	return gp_unwind(tab, mem, &st, ret, max, ret_err);
out:
	if (ret_from)
		*ret_from = 0;
	if (ret_err)
		*ret_err = err;
	else
		gp_error_destroy(err);
	return 0;
}

/*
 * A signal in C code that the runtime answered by injecting a call of
 * sigpanic (1.19, 1.20: "unexpected signal during runtime execution";
 * signal_amd64.go, signal_arm64.go preparePanic): the thread went on in
 * Go on g0, and the C context is the caller sigpanic was given. x86-64:
 * its return address at fp - 8, the caller's sp = fp, its rbp saved at
 * fp - 16. arm64: the fault pc is the LR sigpanic's prologue saved at its
 * sp, x29 at its sp - 8, the caller's LR at fp (the injected slot) and
 * its sp = fp + injected_frame. regs become that context when found.
 */
static void injected_sigpanic(const struct gp_program *prog, uint64_t *regs)
{
	const struct gp_arch *arch = prog->exe.arch;
	struct gp_unwind_pc fr[64];
	struct gp_unwind_start st = {
		.pc = regs[arch->reg_pc], .sp = regs[arch->reg_sp],
		.bp = regs[arch->reg_bp],
		.lr = arch->reg_lr != GP_NO_REG ? regs[arch->reg_lr] : 0,
		.trap = true,
	};
	gp_error *err = NULL;
	size_t n = gp_unwind(prog->pcln, &prog->mem, &st, fr, GP_ARRAY_SIZE(fr), &err);
	gp_error_destroy(err);
	struct gp_func sp_fn, fn;
	if (!n || !gp_pclntab_func_by_name(prog->pcln, "runtime.sigpanic", &sp_fn) ||
	    !gp_pclntab_find_func(prog->pcln, fr[n - 1].sympc, &fn) ||
	    fn.entry != sp_fn.entry)
		return;         /* the unwind does not end in sigpanic */
	const struct gp_unwind_pc *f = &fr[n - 1];
	uint64_t pc, fp_reg, lr = 0;
	const struct gp_memory *mem = &prog->mem;
	if (arch->uses_lr) {
		if ((err = gp_memory_read_u64(mem, f->sp, &pc)) ||
		    (err = gp_memory_read_u64(mem, f->sp - 8, &fp_reg)) ||
		    (err = gp_memory_read_u64(mem, f->fp, &lr))) {
			gp_error_destroy(err);
			return;
		}
	} else if ((err = gp_memory_read_u64(mem, f->fp - 8, &pc)) ||
		   (err = gp_memory_read_u64(mem, f->fp - 16, &fp_reg))) {
		gp_error_destroy(err);
		return;
	}
	if (gp_pclntab_find_func(prog->pcln, pc, &fn))
		return;         /* sigpanic for Go code: no C context */
	regs[arch->reg_pc] = pc;
	regs[arch->reg_sp] = f->fp + arch->injected_frame;
	regs[arch->reg_bp] = fp_reg;
	if (arch->reg_lr != GP_NO_REG)
		regs[arch->reg_lr] = lr;
}

/* The walk behind gp_thread_signal_regs and gp_program_c_frames: set k
 * of out is the context signal k+1 (counted from the thread's own
 * registers) interrupted. A context that cannot be read ends the walk;
 * *ret_err (when not NULL) then says why. */
static size_t signal_reg_sets(const struct gp_program *prog,
			      const struct gp_thread_regs *t,
			      uint64_t (*out)[GP_MAX_REGS], size_t max,
			      gp_error **ret_err)
{
	const struct gp_arch *arch = prog->exe.arch;
	if (!arch || !prog->pcln)
		return 0;
	uint64_t regs[GP_MAX_REGS];
	memcpy(regs, t->regs, sizeof(regs));
	size_t n = 0;
	for (int depth = 0; depth < MAX_SIGNAL_NESTING && n < max; depth++) {
		struct regs r = { regs[arch->reg_pc], regs[arch->reg_sp],
				  regs[arch->reg_bp],
				  arch->reg_lr != GP_NO_REG ? regs[arch->reg_lr] : 0 };
		struct regs next;
		bool found;
		uint64_t uc;
		gp_error *err = signal_context(prog->pcln, &prog->mem, arch, &r,
					       &found, &next, &uc, true);
		if (err || !found) {
			gp_error_destroy(err);
			break;
		}
		for (size_t k = 0; k < GP_MAX_REGS && k < arch->nregs; k++) {
			if (!arch->uc_regs[k])
				continue;
			if ((err = gp_memory_read_u64(&prog->mem, uc + arch->uc_regs[k],
						      &regs[k]))) {
				if (ret_err)
					*ret_err = err;
				else
					gp_error_destroy(err);
				return n;
			}
		}
		memcpy(out[n++], regs, sizeof(regs));
	}
	return n;
}

/*
 * The registers of the contexts the Go signal handlers on a thread
 * interrupted, innermost handler first: every register the ucontext keeps
 * (arch->uc_regs), through nested signal frames. A core written after
 * GOTRACEBACK=crash has every thread in a handler: the thread's own
 * registers are the handler's, the running goroutine's are in the
 * ucontext. Returns how many sets were read (at most max).
 */
size_t gp_thread_signal_regs(const struct gp_program *prog,
			     const struct gp_thread_regs *t,
			     uint64_t (*out)[GP_MAX_REGS], size_t max)
{
	return signal_reg_sets(prog, t, out, max, NULL);
}

/*
 * The C frames of a thread (cgo code, libc): from its registers, or, when
 * it is in a Go signal handler (GOTRACEBACK=crash stops every thread in
 * one), from the context the signal interrupted, every register read
 * from the ucontext (arch->uc_regs), through nested signal frames.
 */
GP_EXPORT gp_error *gp_program_c_frames(gp_program *prog, uint64_t tid,
					struct gp_cframe *frames, size_t max,
					size_t *ret_n)
{
	_Static_assert(sizeof(struct gp_cframe) == sizeof(struct gp_cframe_info),
		       "gp_cframe mirrors gp_cframe_info");
	*ret_n = 0;
	const struct gp_thread_regs *t = NULL;
	for (size_t i = 0; i < prog->nthreads && !t; i++)
		if (prog->threads[i].tid == tid)
			t = &prog->threads[i];
	if (!t)
		return gp_error_create(GP_ERROR_NOT_FOUND,
				       "no thread %llu in this target",
				       (unsigned long long)tid);
	const struct gp_arch *arch = prog->exe.arch;
	uint64_t regs[GP_MAX_REGS];
	uint64_t sets[MAX_SIGNAL_NESTING][GP_MAX_REGS];
	gp_error *err = NULL;
	size_t n = signal_reg_sets(prog, t, sets, MAX_SIGNAL_NESTING, &err);
	if (err)
		return gp_error_wrap(err, "reading the signal context");
	memcpy(regs, n ? sets[n - 1] : t->regs, sizeof(regs));
	if (arch && prog->pcln)
		injected_sigpanic(prog, regs);
	return gp_c_frames(prog, tid, regs, (struct gp_cframe_info *)frames,
			   max, ret_n);
}
