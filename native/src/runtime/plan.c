/*
 * The snapshot's read plan: what a live process must have copied while it
 * is stopped for the walk to read nothing else (runtime.allgs, every g,
 * the live part of every stack, every sudog, select cases included), in
 * rounds, each found from what the rounds before copied. The target
 * copies what it is asked (gp_target_copy); the runtime knowledge is here.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* A running goroutine's stack, at most (its thread is somewhere below its
 * saved sp). */
#define PLAN_RUNNING_MAX (1u << 20)
/* Bytes per goroutine reserved for its stack top and sudog. */
#define PLAN_SPARE_STACK 640
/* A select waits on a sudog per case: rounds of reads, one per case. */
#define PLAN_SELECT_ROUNDS 8

/* allgs' array and length, or false. */
static bool read_allgs(struct gp_program *prog, uint64_t *array,
		       uint64_t *len, size_t *gsize)
{
	const struct gp_layout *L = &prog->layout;
	uint8_t hdr[24];
	gp_error *err = gp_memory_read(&prog->mem, L->var_addr[GP_V_ALLGS],
				       hdr, sizeof(hdr));
	if (err) {
		/* the snapshot reports it */
		gp_error_destroy(err);
		return false;
	}
	*array = gp_load(hdr, 8);
	*len = gp_load(hdr + 8, 8);
	*gsize = (size_t)L->type_size[GP_T_G];
	return *len <= (64u << 20) && *gsize && *gsize <= 4096;
}

/* Before the process stops: room for the copies of the gs and of the
 * stacks, sized from runtime.allgs as it is now (a guess: a bigger copy
 * maps a fresh buffer). */
static void plan_reserve(struct gp_program *prog)
{
	uint64_t array, len;
	size_t gsize;
	if (!read_allgs(prog, &array, &len, &gsize))
		return;
	len += len / 16 + 64;
	gp_target_reserve(prog, 1, len * gsize, len);
	gp_target_reserve(prog, 2, len * PLAN_SPARE_STACK, 2 * len);
}

/* A record's bytes (a g, a sudog) from the copy, else read into buf (or
 * NULL). */
static const uint8_t *g_bytes(struct gp_program *prog, uint64_t addr,
			      size_t gsize, uint8_t *buf,
			      struct gp_memory_hint *hint)
{
	/* near the last: allgs lists the gs mostly in address order, and a
	 * search of a million segments per g cost more than the rest of the
	 * plan (issue 11) */
	const uint8_t *g = gp_memory_ptr_near(&prog->mem, addr, gsize, hint);
	if (g)
		return g;
	gp_error *err = gp_memory_read(&prog->mem, addr, buf, gsize);
	if (err) {
		gp_error_destroy(err);
		return NULL;
	}
	return buf;
}

static gp_error *plan_copy(struct gp_program *prog)
{
	const struct gp_layout *L = &prog->layout;
	uint64_t array, len;
	size_t gsize;
	if (!read_allgs(prog, &array, &len, &gsize))
		return NULL;
	gp_phase(NULL);
	gp_error *err;
	struct gp_read_plan w = { 0 };
	uint64_t *gptrs = NULL;
	if ((err = gp_plan_add(&w, L->var_addr[GP_V_ALLGS],
			       L->var_addr[GP_V_ALLGS] + 24)) ||
	    (L->var_addr[GP_V_ALLGLEN] &&
	     (err = gp_plan_add(&w, L->var_addr[GP_V_ALLGLEN],
				L->var_addr[GP_V_ALLGLEN] + 8))) ||
	    (err = gp_plan_add(&w, array, array + 8 * len)) ||
	    (err = gp_target_copy(prog, &w, 0)))
		goto out;
	gp_phase("copy allgs");
	/* a chunk at a time: the len is the target's word (the copy above
	 * maps but does not prove it) */
	if ((err = gp_read_allgs(&prog->mem, array, (size_t)len, &gptrs))) {
		gp_error_destroy(err);
		err = NULL;
		goto out;
	}
	w.n = 0;
	if ((err = gp_grow((void **)&w.v, &w.cap, 2 * len + 1,
			   sizeof(*w.v))))
		goto out;
	for (uint64_t i = 0; i < len && !err; i++)
		if (gptrs[i])
			err = gp_plan_add(&w, gptrs[i], gptrs[i] + gsize);
	gp_phase("gs wanted");
	if (err || (err = gp_target_copy(prog, &w, 1)))
		goto out;
	gp_phase("copy gs");
	w.n = 0;
	uint8_t gbuf[4096];
	struct gp_memory_hint hint = { { 0 } };
	size_t nsudogs = 0;         /* first sudogs, kept in gptrs */
	int64_t ssz = L->type_size[GP_T_SUDOG];
	size_t ssize = ssz > 0 && ssz < 1024 ? (size_t)ssz : 0;
	for (uint64_t i = 0; i < len && !err; i++) {
		if (!gptrs[i])
			continue;
		const uint8_t *g = g_bytes(prog, gptrs[i], gsize, gbuf, &hint);
		if (!g)
			continue;
		uint32_t status = (uint32_t)gp_field(prog, GP_F_G_ATOMICSTATUS,
						     g, gsize) & ~0x1000u;
		if (status == GP_STATUS_DEAD || status == 0 || status == 11)
			continue;
		uint64_t lo = gp_field(prog, GP_F_G_STACK_LO, g, gsize);
		uint64_t hi = gp_field(prog, GP_F_G_STACK_HI, g, gsize);
		uint64_t sp = gp_field(prog, GP_F_G_SYSCALLSP, g, gsize);
		if (!sp)
			sp = gp_field(prog, GP_F_G_SCHED_SP, g, gsize);
		if (status == GP_STATUS_RUNNING && lo < hi) {
			uint64_t from = hi - lo > PLAN_RUNNING_MAX ?
						hi - PLAN_RUNNING_MAX : lo;
			err = gp_plan_add(&w, from, hi);
		} else if (sp >= lo && sp < hi) {
			uint64_t end = hi - sp > GP_STACK_WINDOW ?
					       sp + GP_STACK_WINDOW : hi;
			err = gp_plan_add(&w, sp & ~7ull, end);
		}
		uint64_t sudog = gp_field(prog, GP_F_G_WAITING, g, gsize);
		if (!err && sudog && ssize) {
			err = gp_plan_add(&w, sudog, sudog + ssize);
			gptrs[nsudogs++] = sudog; /* (gptrs is read up to here) */
		}
	}
	gp_phase("stacks wanted");
	if (!err)
		err = gp_target_copy(prog, &w, 2);
	gp_phase("copy stacks");
	/* A goroutine in select waits on a sudog per case, linked through
	 * waitlink: one more round per case, while any is left. */
	for (unsigned r = 0; r < PLAN_SELECT_ROUNDS && nsudogs && !err; r++) {
		w.n = 0;
		size_t next = 0;
		for (size_t i = 0; i < nsudogs && !err; i++) {
			const uint8_t *sd = g_bytes(prog, gptrs[i], ssize, gbuf, &hint);
			if (!sd || !gp_field(prog, GP_F_SUDOG_ISSELECT, sd, ssize))
				continue;
			uint64_t link = gp_field(prog, GP_F_SUDOG_WAITLINK, sd,
						 ssize);
			if (!link)
				continue;
			err = gp_plan_add(&w, link, link + ssize);
			gptrs[next++] = link;
		}
		nsudogs = next;
		if (!err && w.n)
			err = gp_target_copy(prog, &w, 3 + r);
	}
	gp_phase("copy selects");
out:
	free(gptrs);
	free(w.v);
	return err;
}

static const struct gp_copy_planner gp_snapshot_planner = {
	.reserve = plan_reserve,
	.copy = plan_copy,
};

/* ------------------------------------------------------ constructors */

/* Every way of opening a program, in one place: a core, a live process
 * (stopped, with the snapshot's read plan copied), a debugger's memory. */

GP_EXPORT gp_error *gp_program_from_core(const char *core_path,
					 const char *exe_path,
					 gp_program **ret)
{
	return gp_core_program_open(core_path, exe_path, ret);
}

GP_EXPORT gp_error *gp_program_from_pid(int pid, const char *exe_path,
					uint32_t flags, gp_program **ret)
{
	if (!ret)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "no place for the result");
	gp_error *err = gp_live_check_flags(flags);
	if (err)
		return err;
	return gp_live_open(pid, exe_path, flags, &gp_snapshot_planner, ret);
}

GP_EXPORT gp_error *gp_program_from_callback(const char *exe_path,
					     gp_read_memory_fn *read,
					     void *arg, gp_program **ret)
{
	return gp_callback_program_open(exe_path, read, arg, ret);
}
