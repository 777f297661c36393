/*
 * "Now" for a snapshot, in the runtime's nanotime.
 *
 * A live process: the caller's CLOCK_MONOTONIC at the moment the process was
 * stopped is the target's nanotime (runtime/sys_linux_amd64.s nanotime1).
 *
 * A core holds no clock, only stamps of past events, so "now" is a lower
 * bound: the latest of sched.lastpoll (sysmon's and the netpoller's last
 * poll; 0 while an M blocks in netpoll), sched.procresizetime (every
 * start-the-world), memstats.last_gc_nanotime, the time each idle P went
 * idle (p.limiterEvent.stamp, runtime/mgclimit.go: 3 type bits over 61 bits
 * of nanotime) and the newest g.waitsince (a GC's start). In a parked
 * program those are the moments the scheduler last did anything.
 *
 * The core file's mtime is when the kernel wrote it; memstats keeps
 * last_gc_unix and last_gc_nanotime taken together (runtime/mgc.go), which
 * turns the mtime into nanotime. That estimate is used when it lies
 * between the lower bound and the earliest pending wake-up (a sleeping
 * goroutine's wake time, sched.pollUntil), with a second of slack: a core
 * copied later without its mtime falls outside and is not trusted.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define LIMITER_TIME_MASK ((UINT64_C(1) << 61) - 1)
#define GP_MAX_PS 4096
#define MTIME_SLACK_NS INT64_C(1000000000)

static int64_t read_var_field(struct gp_program *prog, enum gp_var_id v,
			      enum gp_field_id f)
{
	uint64_t addr = prog->layout.var_addr[v];
	int32_t off = gp_off(prog, f);
	int32_t size = prog->layout.field_size[f];
	uint8_t buf[8];
	if (!addr || off < 0 || size <= 0 || size > 8)
		return 0;
	gp_error *err = gp_memory_read(&prog->mem, addr + (uint64_t)off, buf,
				       (size_t)size);
	if (err) {
		gp_error_destroy(err);
		return 0;
	}
	return (int64_t)gp_load(buf, (size_t)size);
}

static int64_t p_idle_stamps(struct gp_program *prog)
{
	int64_t best = 0;
	uint8_t hdr[24];
	uint64_t allp = prog->layout.var_addr[GP_V_ALLP];
	int32_t off = gp_off(prog, GP_F_P_LIMITEREVENT_STAMP);
	gp_error *err;
	if (!allp || off < 0 ||
	    (err = gp_memory_read(&prog->mem, allp, hdr, sizeof(hdr)))) {
		return 0;
	}
	uint64_t array = gp_load(hdr, 8), len = gp_load(hdr + 8, 8);
	if (len > GP_MAX_PS)
		return 0;
	for (uint64_t i = 0; i < len; i++) {
		uint64_t p, stamp;
		if ((err = gp_memory_read_u64(&prog->mem, array + 8 * i, &p)) ||
		    (err = gp_memory_read_u64(&prog->mem, p + (uint64_t)off,
					      &stamp))) {
			gp_error_destroy(err);
			continue;
		}
		int64_t t = (int64_t)(stamp & LIMITER_TIME_MASK);
		if ((stamp >> 61) && t > best)
			best = t;
	}
	return best;
}

/* Earliest wake-up of a sleeping goroutine after "after", or 0; the
 * walk keeps the smallest few (snapshot.c note_sleep). */
static int64_t earliest_sleep(const struct gp_snapshot *snap, int64_t after)
{
	for (size_t i = 0; i < snap->nsleeps; i++)
		if (snap->sleeps[i] > after)
			return snap->sleeps[i];
	return 0;
}

/* What the clock reads of the target, read before the walk. */
void gp_snapshot_clock_gather(struct gp_snapshot *snap)
{
	struct gp_program *prog = snap->prog;
	struct gp_clock_inputs *in = &snap->clock_in;
	in->last_gc = read_var_field(prog, GP_V_MEMSTATS,
				     GP_F_MSTATS_LAST_GC_NANOTIME);
	in->last_gc_unix = read_var_field(prog, GP_V_MEMSTATS,
					  GP_F_MSTATS_LAST_GC_UNIX);
	if (prog->live_now)
		return; /* the rest is for cores */
	in->lastpoll = read_var_field(prog, GP_V_SCHED, GP_F_SCHED_LASTPOLL);
	in->procresize = read_var_field(prog, GP_V_SCHED,
					GP_F_SCHED_PROCRESIZETIME);
	in->p_idle = p_idle_stamps(prog);
	in->polluntil = read_var_field(prog, GP_V_SCHED, GP_F_SCHED_POLLUNTIL);
}

gp_error *gp_snapshot_compute_clock(struct gp_snapshot *snap)
{
	struct gp_program *prog = snap->prog;
	struct gp_clock *c = &snap->clock;
	const char *source = "";
	gp_error *err;
	memset(c, 0, sizeof(*c));

	const struct gp_clock_inputs *in = &snap->clock_in;
	int64_t last_gc = in->last_gc, last_gc_unix = in->last_gc_unix;
	if (last_gc && last_gc_unix)
		c->unix_offset = last_gc_unix - last_gc;

	if (prog->live_now) {
		c->now = prog->live_now;
		if (prog->live_unix_offset)
			c->unix_offset = prog->live_unix_offset;
		c->exact = 1;
		source = "CLOCK_MONOTONIC when the process was stopped";
		goto out;
	}

	struct { int64_t t; const char *what; } lower[] = {
		{ in->lastpoll, "the scheduler's last network poll" },
		{ in->procresize, "the last stop-the-world" },
		{ last_gc, "the end of the last GC" },
		{ in->p_idle, "the time the last P went idle" },
		{ 0, "the newest wait-since stamp" },
	};
	for (size_t i = 0; i < snap->ngs; i++)
		if (snap->gs[i].waitsince > lower[4].t)
			lower[4].t = snap->gs[i].waitsince;
	for (size_t i = 0; i < GP_ARRAY_SIZE(lower); i++) {
		if (lower[i].t > c->now) {
			c->now = lower[i].t;
			source = lower[i].what;
		}
	}
	if (!c->now)
		goto out;
	if (prog->core.mtime_ns && c->unix_offset) {
		int64_t est = prog->core.mtime_ns - c->unix_offset;
		int64_t upper = earliest_sleep(snap, c->now);
		int64_t until = in->polluntil;
		if (until > c->now && (!upper || until < upper))
			upper = until;
		if (est >= c->now && (!upper || est <= upper + MTIME_SLACK_NS)) {
			c->now = est;
			source = "the core file's time";
		}
	}
out:
	if ((err = gp_strtab_intern(&snap->strs, source, &c->source)))
		return err;
	return NULL;
}
