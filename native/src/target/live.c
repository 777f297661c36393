/*
 * Live processes: stop every thread with PTRACE_SEIZE + PTRACE_INTERRUPT,
 * copy the ranges the layer above plans to read (gp_copy_planner, the
 * snapshot's read plan in runtime/plan.c) while they are stopped, read
 * /proc/PID/mem for the rest, and always detach. Nothing here knows the
 * Go runtime. Also the target of a debugger's memory (callback.c).
 *
 * The target is never written to: no PTRACE_POKE*, no register writes, no
 * signals sent (PTRACE_INTERRUPT is not a signal; a signal that arrives
 * while we hold a thread is handed back to it on detach). If goparked dies,
 * the kernel detaches every tracee (exit_ptrace), and a seized tracee is not
 * left in group-stop by that.
 *
 * Why a copy: the pause the target sees is the time between the first
 * interrupt and the last detach. Reading a g or a stack word with a pread
 * each costs a system call per word; process_vm_readv of the planned
 * ranges (the gs, the live part of every parked stack) costs a few hundred
 * calls for 100k goroutines (PERFORMANCE.md).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "target/target.h"

/* How long stopping may take before we give up (a thread in D state). */
#define GP_STOP_TIMEOUT_NS (3000ll * 1000 * 1000)
/* Rounds of re-listing /proc/PID/task before giving up on a process that
 * keeps creating threads. */
#define GP_STOP_MAX_ROUNDS 64
/* Ranges closer than this are read as one. */
#define GP_PREFETCH_GAP 512
#define GP_FILL_SPLIT 4096      /* ranges from which two threads read */
/* A reserved buffer is faulted in before the stop up to this size. */
#define GP_SPARE_POPULATE_MAX ((size_t)1 << 30)
#define GP_IOV_BATCH 1024

int64_t gp_live_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------- /proc facts */

struct proc_status {
	char name[64];
	char state;
	int ppid;
	int tracer;
	unsigned uid;
	bool found;
};

static bool read_status(int pid, int tid, struct proc_status *st)
{
	char path[64];
	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	memset(st, 0, sizeof(*st));
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:", 5)) {
			char *p = line + 5;
			p += strspn(p, " \t");
			p[strcspn(p, "\n")] = '\0';
			snprintf(st->name, sizeof(st->name), "%s", p);
		} else if (!strncmp(line, "State:", 6)) {
			char *p = line + 6;
			p += strspn(p, " \t");
			st->state = *p;
		} else if (!strncmp(line, "PPid:", 5)) {
			st->ppid = atoi(line + 5);
		} else if (!strncmp(line, "TracerPid:", 10)) {
			st->tracer = atoi(line + 10);
		} else if (!strncmp(line, "Uid:", 4)) {
			st->uid = (unsigned)strtoul(line + 4, NULL, 10);
		}
	}
	fclose(f);
	st->found = true;
	return true;
}

static bool have_cap_sys_ptrace(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return geteuid() == 0;
	char line[256];
	unsigned long long caps = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			caps = strtoull(line + 7, NULL, 16);
	fclose(f);
	return caps & (1ull << 19); /* CAP_SYS_PTRACE */
}

static int yama_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (!f)
		return -1;
	int v = -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool is_ancestor_of(int pid)
{
	int self = getpid();
	for (int i = 0; i < 256 && pid > 1; i++) {
		struct proc_status st;
		if (!read_status(pid, 0, &st))
			return false;
		if (st.ppid == self)
			return true;
		pid = st.ppid;
	}
	return false;
}

static gp_error *traced_error(int pid, const struct proc_status *st)
{
	struct proc_status tr;
	const char *comm = read_status(st->tracer, 0, &tr) ? tr.name : "?";
	return gp_error_create(GP_ERROR_PERMISSION,
			       "process %d (%s) is already traced by pid %d (%s); detach it first, or run goparked inside that debugger",
			       pid, st->name, st->tracer, comm);
}

/* Why the kernel refused to let us trace or read pid (errno EPERM/EACCES). */
static gp_error *permission_error(int pid, int errnum)
{
	struct proc_status st;
	if (!read_status(pid, 0, &st))
		return gp_error_create(GP_ERROR_PROCESS,
				       "process %d exited", pid);
	if (st.tracer && st.tracer != getpid())
		return traced_error(pid, &st);
	bool cap = have_cap_sys_ptrace();
	int scope = yama_scope();
	if (scope == 3)
		return gp_error_create(GP_ERROR_PERMISSION,
				       "not allowed to trace process %d (%s): kernel.yama.ptrace_scope is 3 (no process may be traced until reboot)",
				       pid, st.name);
	if (scope == 2 && !cap)
		return gp_error_create(GP_ERROR_PERMISSION,
				       "not allowed to trace process %d (%s): kernel.yama.ptrace_scope is 2 (admin only) and goparked lacks CAP_SYS_PTRACE; run it as root",
				       pid, st.name);
	if (st.uid != geteuid() && !cap)
		return gp_error_create(GP_ERROR_PERMISSION,
				       "not allowed to trace process %d (%s): it runs as uid %u and goparked as uid %u without CAP_SYS_PTRACE; run goparked as that user or as root",
				       pid, st.name, st.uid, (unsigned)geteuid());
	if (scope == 1 && !cap && !is_ancestor_of(pid))
		return gp_error_create(GP_ERROR_PERMISSION,
				       "not allowed to trace process %d (%s): kernel.yama.ptrace_scope is 1 (only descendants) and goparked lacks CAP_SYS_PTRACE; run it as root, or sysctl kernel.yama.ptrace_scope=0",
				       pid, st.name);
	return gp_error_os(errnum,
			   "not allowed to trace process %d (%s) (setuid or not dumpable?)",
			   pid, st.name);
}

static gp_error *check_process(int pid, bool no_stop, struct proc_status *st)
{
	if (pid <= 0)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "invalid pid %d", pid);
	if (!read_status(pid, 0, st))
		return gp_error_create(GP_ERROR_NOT_FOUND,
				       "no process with pid %d", pid);
	if (st->state == 'Z' || st->state == 'X')
		return gp_error_create(GP_ERROR_PROCESS,
				       "process %d (%s) is a zombie: it has exited and its parent (pid %d) has not reaped it",
				       pid, st->name, st->ppid);
	if (!no_stop && st->tracer)
		return traced_error(pid, st);
	return NULL;
}

/* ---------------------------------------------------------- stopping */

static gp_error *add_tracee(struct gp_live *live, int tid)
{
	if (live->ntracees == live->tracees_cap) {
		size_t cap = live->tracees_cap ? live->tracees_cap * 2 : 16;
		void *p = realloc(live->tracees, cap * sizeof(*live->tracees));
		if (!p)
			return &gp_error_nomem;
		live->tracees = p;
		live->tracees_cap = cap;
	}
	live->tracees[live->ntracees++] =
		(struct gp_live_tracee){ .tid = tid };
	return NULL;
}

static struct gp_live_tracee *find_tracee(struct gp_live *live, int tid)
{
	for (size_t i = 0; i < live->ntracees; i++)
		if (live->tracees[i].tid == tid)
			return &live->tracees[i];
	return NULL;
}

static void drop_tracee(struct gp_live *live, int tid)
{
	for (size_t i = 0; i < live->ntracees; i++) {
		if (live->tracees[i].tid == tid) {
			live->tracees[i] = live->tracees[--live->ntracees];
			return;
		}
	}
}

static bool process_gone(int pid)
{
	struct proc_status st;
	return !read_status(pid, 0, &st) || st.state == 'Z' || st.state == 'X';
}

static gp_error *exited_error(int pid)
{
	return gp_error_create(GP_ERROR_PROCESS,
			       "process %d exited during the snapshot", pid);
}

/* Seize and interrupt every thread in /proc/PID/task not yet seized.
 * Sets *ret_new to how many were added. */
static gp_error *seize_new_threads(struct gp_live *live, size_t *ret_new)
{
	char path[64];
	*ret_new = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", live->pid);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? exited_error(live->pid) :
			gp_error_os(errno, "cannot list %s", path);
	gp_error *err = NULL;
	struct dirent *de;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		int tid = atoi(de->d_name);
		if (tid <= 0 || find_tracee(live, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
			int e = errno;
			if (e == ESRCH)
				continue; /* the thread exited meanwhile */
			struct proc_status ts;
			if (e == EPERM && read_status(live->pid, tid, &ts) &&
			    (ts.state == 'Z' || ts.state == 'X'))
				continue; /* an exiting thread */
			if (e == EPERM || e == EACCES)
				err = permission_error(live->pid, e);
			else
				err = gp_error_os(e, "PTRACE_SEIZE of thread %d of process %d",
						  tid, live->pid);
			break;
		}
		live->attached = true;
		if ((err = add_tracee(live, tid))) {
			ptrace(PTRACE_DETACH, tid, 0, 0);
			break;
		}
		(*ret_new)++;
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 && errno != ESRCH)
			err = gp_error_os(errno, "PTRACE_INTERRUPT of thread %d",
					  tid);
	}
	closedir(d);
	return err;
}

/* Waits until every seized thread has stopped, or the deadline. */
static gp_error *wait_stopped(struct gp_live *live, int64_t deadline)
{
	for (;;) {
		size_t running = 0;
		for (size_t i = 0; i < live->ntracees; i++) {
			struct gp_live_tracee *t = &live->tracees[i];
			if (t->stopped)
				continue;
			int status;
			pid_t r = waitpid(t->tid, &status, __WALL | WNOHANG);
			if (r == 0) {
				running++;
				continue;
			}
			if (r < 0) {
				if (errno == EINTR) {
					running++;
					continue;
				}
				/* ECHILD: gone without a report */
				drop_tracee(live, t->tid);
				i--;
				continue;
			}
			if (WIFEXITED(status) || WIFSIGNALED(status)) {
				drop_tracee(live, t->tid);
				i--;
				continue;
			}
			if (!WIFSTOPPED(status))
				continue;
			t->stopped = true;
			/* A signal-delivery-stop: the signal is held until we
			 * detach, then handed back. Event stops (our interrupt,
			 * a group-stop) have status >> 16 set. */
			if ((status >> 16) == 0) {
				int sig = WSTOPSIG(status);
				if (sig != SIGTRAP && sig != SIGSTOP)
					t->pending_signal = sig;
				else if (sig == SIGSTOP)
					t->pending_signal = SIGSTOP;
			}
		}
		if (!live->ntracees && process_gone(live->pid))
			return exited_error(live->pid);
		if (!running)
			return NULL;
		if (gp_live_monotonic_ns() > deadline) {
			/* A thread that is exiting (a zombie, or dead) never
			 * stops; a SIGKILL of the process leaves all of them so,
			 * the leader's report held back until it is reaped */
			int tid = 0;
			char state = '?';
			for (size_t i = 0; i < live->ntracees; i++) {
				if (live->tracees[i].stopped)
					continue;
				struct proc_status ts;
				char st = read_status(live->pid, live->tracees[i].tid,
						      &ts) ? ts.state : '?';
				if (st == 'Z' || st == 'X') {
					drop_tracee(live, live->tracees[i].tid);
					i--;
					continue;
				}
				tid = live->tracees[i].tid;
				state = st;
			}
			if (process_gone(live->pid))
				return exited_error(live->pid);
			if (!tid)
				return NULL;
			return gp_error_create(GP_ERROR_PROCESS,
					       "thread %d of process %d did not stop within %lld ms (state %c)",
					       tid, live->pid,
					       GP_STOP_TIMEOUT_NS / 1000000, state);
		}
		struct timespec ts = { 0, 20 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static gp_error *stop_all(struct gp_live *live)
{
	gp_error *err;
	int64_t deadline = gp_live_monotonic_ns() + GP_STOP_TIMEOUT_NS;
	/* Stopped threads cannot clone; once a listing adds no thread, every
	 * thread of the process is held. */
	for (int round = 0;; round++) {
		size_t added;
		if ((err = seize_new_threads(live, &added)))
			return err;
		if ((err = wait_stopped(live, deadline)))
			return err;
		if (!added && round > 0)
			break;
		if (round >= GP_STOP_MAX_ROUNDS)
			return gp_error_create(GP_ERROR_PROCESS,
					       "process %d keeps creating threads; cannot stop it",
					       live->pid);
	}
	if (!live->ntracees || process_gone(live->pid))
		return exited_error(live->pid);
	return NULL;
}

static gp_error *read_registers(struct gp_live *live,
				 const struct gp_arch *arch)
{
	live->threads = calloc(live->ntracees, sizeof(*live->threads));
	if (!live->threads)
		return &gp_error_nomem;
	live->nthreads = 0;
	/* The leader first, as in a core. */
	for (size_t i = 0; i < live->ntracees; i++) {
		if (live->tracees[i].tid == live->pid && i) {
			struct gp_live_tracee t = live->tracees[0];
			live->tracees[0] = live->tracees[i];
			live->tracees[i] = t;
		}
	}
	/* NT_PRSTATUS's registers, in the core note's order on every
	 * architecture (PTRACE_GETREGSET, linux/elf.h) */
	size_t want = arch->nregs * 8;
	for (size_t i = 0; i < live->ntracees; i++) {
		struct gp_thread_regs *r = &live->threads[live->nthreads];
		struct iovec iov = { r->regs, sizeof(r->regs) };
		if (ptrace(PTRACE_GETREGSET, live->tracees[i].tid,
			   (void *)NT_PRSTATUS, &iov) < 0) {
			if (errno == ESRCH)
				continue; /* killed while stopped */
			return gp_error_os(errno, "PTRACE_GETREGSET of thread %d",
					   live->tracees[i].tid);
		}
		if (iov.iov_len < want)
			return gp_error_create(GP_ERROR_PROCESS,
					       "PTRACE_GETREGSET of thread %d gave %zu bytes of registers",
					       live->tracees[i].tid, iov.iov_len);
		live->nthreads++;
		r->tid = (uint64_t)live->tracees[i].tid;
		r->signal = live->tracees[i].pending_signal;
	}
	return NULL;
}

/* Detach every thread; a thread not yet stopped is first waited for
 * briefly (PTRACE_DETACH needs a stopped tracee). */
static gp_error *detach_all(struct gp_live *live)
{
	gp_error *err = NULL;
	int64_t deadline = gp_live_monotonic_ns() + 1000ll * 1000 * 1000;
	while (live->ntracees) {
		for (size_t i = 0; i < live->ntracees; i++) {
			struct gp_live_tracee *t = &live->tracees[i];
			if (!t->stopped) {
				int status;
				pid_t r = waitpid(t->tid, &status,
						  __WALL | WNOHANG);
				if (r < 0 || (r > 0 && !WIFSTOPPED(status))) {
					drop_tracee(live, t->tid);
					i--;
					continue;
				}
				if (r == 0)
					continue;
				t->stopped = true;
				if ((status >> 16) == 0)
					t->pending_signal = WSTOPSIG(status);
			}
			int sig = t->pending_signal;
			if (ptrace(PTRACE_DETACH, t->tid, 0,
				   (void *)(long)sig) < 0 && errno != ESRCH &&
			    !err)
				err = gp_error_os(errno, "PTRACE_DETACH of thread %d",
						  t->tid);
			drop_tracee(live, t->tid);
			i--;
		}
		if (!live->ntracees || gp_live_monotonic_ns() > deadline)
			break;
		struct timespec ts = { 0, 50 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (live->ntracees && !err)
		err = gp_error_create(GP_ERROR_PROCESS,
				      "%zu threads of process %d never stopped; they stay traced until goparked exits",
				      live->ntracees, live->pid);
	live->attached = live->ntracees != 0;
	return err;
}

static const struct gp_target_ops live_ops, callback_ops;

/* ------------------------------------------------------------ memory */

static void copy_free(struct gp_live_copy *c)
{
	if (c->data)
		munmap(c->data, c->size);
	memset(c, 0, sizeof(*c));
}

/* What no layer holds (neither the executable's read-only segments nor a
 * copy): the debugger's callback, or /proc/PID/mem while the process is
 * stopped. */
static gp_error *live_read(void *arg, uint64_t address, void *buf,
			   size_t size)
{
	struct gp_program *prog = arg;
	struct gp_live *live = prog->live;
	if (!size)
		return NULL;
	if (live->mode == GP_LIVE_CALLBACK) {
		int e = live->read_cb(live->read_cb_arg, address, buf, size);
		if (e) {
			gp_error *err = gp_error_fault(address, size);
			if (err != &gp_error_nomem)
				err->errnum = e;
			return err;
		}
		return NULL;
	}
	if (live->copy_only) {
		live->late_misses++;
		return gp_error_create(GP_ERROR_INCOMPLETE,
				       "0x%llx (%zu bytes) is not in the copy taken while the process was stopped",
				       (unsigned long long)address, size);
	}
	/* Once it runs again, what it holds now belongs to another moment
	 * than the copy: an analysis reading beyond the copy (a channel, a
	 * lock, the heap) must be done while the process is held. */
	if (live->resumed)
		return gp_error_create(GP_ERROR_INCOMPLETE,
				       "0x%llx (%zu bytes) is not in the copy taken while process %d was stopped, and it runs again: hold it stopped for reads beyond the goroutines",
				       (unsigned long long)address, size, live->pid);
	live->misses++;
	live->miss_bytes += size;
	uint8_t *out = buf;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(live->memfd, out + done, size - done,
				  (off_t)(address + done));
		if (n < 0 && errno == EINTR)
			continue;
		/* /proc/PID/mem reads 0 bytes once the process has no memory
		 * left: it was killed meanwhile (a hole gives EIO). */
		if (n == 0 || (n < 0 && process_gone(live->pid)))
			return exited_error(live->pid);
		if (n < 0)
			return gp_error_fault(address, size);
		done += (size_t)n;
	}
	return NULL;
}

/* The process's mappings, /proc/PID/maps: the addresses live_read can
 * answer (gp_memory_holds). Unknown (empty) when it cannot be read. */
static void read_maps(struct gp_program *prog)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", prog->live->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	struct gp_memory_layer *m = &prog->mem.mapped;
	m->nsegs = 0;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char perms[8];
		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r')
			continue;
		struct gp_segment seg = { .start = lo, .end = hi };
		if (gp_memory_layer_add(m, &seg)) {
			m->nsegs = 0; /* unknown rather than partial */
			break;
		}
	}
	fclose(f);
	gp_memory_layer_sort(m);
}

/* ------------------------------------------------------------- copies */

/* One reader's share of a copy: segments [first, end). */
struct fill_job {
	int pid;
	struct gp_segment *segs;
	size_t first, end;
	int err;              /* errno that ends the fill (ESRCH), else 0 */
};

/*
 * process_vm_readv of a batch of ranges per call. A partial read stops at
 * the first range that faulted: that range holds no bytes (avail 0: its
 * reads fall through to the reader and fail there) and the call goes on
 * after it.
 */
static void fill_run(struct fill_job *job)
{
	struct gp_segment *segs = job->segs;
	struct iovec local[GP_IOV_BATCH], remote[GP_IOV_BATCH];
	size_t i = job->first;
	while (i < job->end) {
		size_t k = 0, want_bytes = 0;
		for (; k < GP_IOV_BATCH && i + k < job->end; k++) {
			struct gp_segment *r = &segs[i + k];
			local[k].iov_base = (void *)(uintptr_t)r->data;
			local[k].iov_len = r->avail;
			remote[k].iov_base = (void *)(uintptr_t)r->start;
			remote[k].iov_len = r->avail;
			want_bytes += r->avail;
		}
		ssize_t got = process_vm_readv(job->pid, local, k, remote, k,
					       0);
		if (got < 0 && (errno == ESRCH || errno == ENOSYS ||
				errno == EPERM)) {
			job->err = errno;
			return;
		}
		if (got == (ssize_t)want_bytes) {
			i += k;
			continue;
		}
		size_t acc = 0, j = 0;
		if (got < 0)
			got = 0;
		while (j < k && acc + segs[i + j].avail <= (size_t)got)
			acc += segs[i + j++].avail;
		if (j < k)
			segs[i + j].avail = 0;
		i += j + 1;
	}
}

/* An anonymous buffer of at least size bytes, on huge pages when the
 * system gives them; faulted in now when populate. */
static uint8_t *map_buffer(size_t size, bool populate, size_t *ret_size)
{
	size_t huge = 2u << 20;
	size = (size + huge - 1) & ~(huge - 1);
	void *p = mmap(NULL, size ? size : huge, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_HUGEPAGE);
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
	if (populate)
		madvise(p, size, MADV_POPULATE_WRITE);
	*ret_size = size ? size : huge;
	return p;
}

static void live_reserve(struct gp_program *prog, unsigned round,
			 size_t bytes, size_t nranges)
{
	struct gp_live *live = prog->live;
	if (!live || live->mode != GP_LIVE_PTRACE ||
	    round >= GP_ARRAY_SIZE(live->spare) || live->spare[round].data)
		return;
	struct gp_live_spare *sp = &live->spare[round];
	/* faulted in up to a bound: past it the copy faults its own pages
	 * (a process of ten million goroutines is not worth gigabytes up
	 * front) */
	bool populate = bytes <= GP_SPARE_POPULATE_MAX;
	sp->data = map_buffer(bytes, populate, &sp->size);
	/* the ranges' segments too, written now (a fresh page costs more
	 * than filling it in) */
	if (populate && nranges && nranges < SIZE_MAX / sizeof(*sp->segs) &&
	    (sp->segs = malloc(nranges * sizeof(*sp->segs)))) {
		memset(sp->segs, 0, nranges * sizeof(*sp->segs));
		sp->nsegs = nranges;
	}
}

static void *fill_thread(void *arg)
{
	fill_run(arg);
	return NULL;
}

gp_error *gp_plan_add(struct gp_read_plan *plan, uint64_t start,
		      uint64_t end)
{
	if (end <= start)
		return NULL;
	if (plan->n < plan->cap) { /* once per g: no call when there is room */
		plan->v[plan->n++] = (struct gp_plan_range){ start, end };
		return NULL;
	}
	gp_error *err = gp_grow((void **)&plan->v, &plan->cap, plan->n + 1,
				sizeof(*plan->v));
	if (!err)
		plan->v[plan->n++] = (struct gp_plan_range){ start, end };
	return err;
}

/*
 * Copies the planned ranges (sorted and merged) into a fresh buffer, a
 * new layer of the program's memory. The buffer asks for transparent huge
 * pages (a fault per 4 KiB page costs more than the copy on a VM). The
 * kernel's cost is per range (pinning the remote page), about 1 us each
 * here; merging stacks into whole stack spans reads five times the bytes
 * and was slower.
 */
static gp_error *live_copy(struct gp_program *prog,
			   struct gp_read_plan *plan, unsigned round)
{
	struct gp_live *live = prog->live;
	if (!live || live->mode != GP_LIVE_PTRACE || !live->attached ||
	    !plan->n)
		return NULL;
	gp_error *serr = gp_radix_sort(plan->v, plan->n, sizeof(*plan->v),
				       offsetof(struct gp_plan_range, start));
	if (serr)
		return serr;
	size_t n = 0;
	struct gp_plan_range *w = plan->v;
	for (size_t i = 0; i < plan->n; i++) {
		if (n && w[i].start <= w[n - 1].end + GP_PREFETCH_GAP) {
			if (w[i].end > w[n - 1].end)
				w[n - 1].end = w[i].end;
		} else {
			w[n++] = w[i];
		}
	}
	plan->n = n;
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += w[i].end - w[i].start;
	size_t ci;
	for (ci = 0; ci < GP_ARRAY_SIZE(live->copies) && live->copies[ci].data;
	     ci++)
		;
	struct gp_memory_layer *layer;
	if (ci == GP_ARRAY_SIZE(live->copies) ||
	    !(layer = gp_memory_layer_push(&prog->mem)))
		return NULL; /* no room: read on demand instead */
	struct gp_live_copy *c = &live->copies[ci];
	struct gp_live_spare *sp = round < GP_ARRAY_SIZE(live->spare) ?
					   &live->spare[round] : NULL;
	struct gp_segment *segs;
	if (sp && sp->segs && sp->nsegs >= n) {
		segs = sp->segs;  /* zeroed */
		sp->segs = NULL;
	} else if (!(segs = calloc(n ? n : 1, sizeof(*segs)))) {
		prog->mem.nlayers--;
		return &gp_error_nomem;
	}
	if (sp && sp->data && sp->size >= total) {
		c->data = sp->data;
		c->size = sp->size;
		sp->data = NULL;
	} else if (!(c->data = map_buffer(total, false, &c->size))) {
		free(segs);
		prog->mem.nlayers--;
		return &gp_error_nomem;
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		segs[i].start = w[i].start;
		segs[i].end = w[i].end;
		segs[i].data = c->data + off;
		segs[i].avail = w[i].end - w[i].start;
		off += segs[i].avail;
	}
	c->nranges = n;
	/* Two readers for many ranges: the kernel's cost is per range
	 * (pinning the remote page), and two threads pin in parallel. */
	struct fill_job job = { live->pid, segs, 0, n, 0 };
	struct fill_job job2 = { live->pid, segs, n / 2, n, 0 };
	pthread_t thread;
	bool two = n >= GP_FILL_SPLIT &&
		   pthread_create(&thread, NULL, fill_thread, &job2) == 0;
	if (two)
		job.end = n / 2;
	int64_t t0 = gp_live_monotonic_ns();
	fill_run(&job);
	if (two) {
		pthread_join(thread, NULL);
		if (!job.err)
			job.err = job2.err;
	}
	if (getenv("GOPARKED_LIVE_DEBUG"))
		fprintf(stderr, "goparked: copied %zu ranges, %zu bytes in %.1f ms\n",
			n, total, (gp_live_monotonic_ns() - t0) / 1e6);
	int e = job.err;
	if (e) { /* no process_vm_readv: read on demand instead */
		free(segs);
		copy_free(c);
		prog->mem.nlayers--;
		return e == ESRCH ? exited_error(live->pid) : NULL;
	}
	layer->segs = segs;
	layer->nsegs = n;
	return NULL;
}

/* ------------------------------------------------------------ programs */

static void free_spares(struct gp_live *live)
{
	for (size_t i = 0; i < GP_ARRAY_SIZE(live->spare); i++) {
		if (live->spare[i].data)
			munmap(live->spare[i].data, live->spare[i].size);
		live->spare[i].data = NULL;
		free(live->spare[i].segs);
		live->spare[i].segs = NULL;
	}
}

static void live_free(struct gp_live *live)
{
	if (!live)
		return;
	if (live->attached)
		gp_error_destroy(detach_all(live));
	free_spares(live);
	if (live->memfd >= 0)
		close(live->memfd);
	for (size_t i = 0; i < GP_ARRAY_SIZE(live->copies); i++)
		copy_free(&live->copies[i]);
	free(live->tracees);
	free(live->threads);
	free(live);
}


/* A PIE process: where it was loaded, from /proc/PID/auxv (AT_ENTRY). A
 * debugger's remote target (callbacks) has no /proc here. */
static gp_error *relocate_live(struct gp_program *prog)
{
	struct gp_live *live = prog->live;
	if (live->mode == GP_LIVE_CALLBACK)
		return gp_error_create(GP_ERROR_UNSUPPORTED,
				       "%s is position-independent (-buildmode=pie); through a debugger's remote target goparked cannot tell where it was loaded (not supported yet)",
				       prog->exe.path);
	char path[64], what[80];
	snprintf(path, sizeof(path), "/proc/%d/auxv", live->pid);
	snprintf(what, sizeof(what), "process %d", live->pid);
	uint64_t at_entry = 0, bias;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? exited_error(live->pid) :
		       (errno == EACCES || errno == EPERM) ?
					 permission_error(live->pid, errno) :
					 gp_error_os(errno, "cannot open %s", path);
	uint8_t buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	for (ssize_t i = 0; i + 16 <= n; i += 16)
		if (gp_load(buf + i, 8) == AT_ENTRY)
			at_entry = gp_load(buf + i + 8, 8);
	gp_error *err = gp_exe_bias_from_entry(&prog->exe, at_entry, what, &bias);
	if (!err)
		err = gp_exe_relocate(&prog->exe, bias);
	return err;
}

gp_error *gp_live_program_open(const char *exe_path, struct gp_live *live,
			       struct gp_program **ret)
{
	gp_error *err;
	struct gp_program *prog = calloc(1, sizeof(*prog));
	if (!prog) {
		live_free(live);
		return &gp_error_nomem;
	}
	prog->core.fd = -1;
	prog->flags = GP_PROGRAM_IS_LIVE;
	prog->live = live;
	prog->ops = live->mode == GP_LIVE_CALLBACK ? &callback_ops : &live_ops;
	if ((err = gp_exe_open(exe_path, &prog->exe)))
		goto fail;
	/* ptrace gives this host's registers: a process of another machine
	 * (a qemu-user guest) is qemu to the kernel. A debugger's remote
	 * target (callbacks) reads no registers here. */
	if (live->mode != GP_LIVE_CALLBACK &&
	    prog->exe.machine != gp_arch_host()->machine) {
		err = gp_error_create(GP_ERROR_MISMATCH,
				      "%s is a linux/%s program and this host is linux/%s: a live process is read on its own machine (a qemu-user guest is qemu to ptrace); read a core of it instead",
				      prog->exe.path,
				      prog->exe.arch ? prog->exe.arch->name : "?",
				      gp_arch_host()->name);
		goto fail;
	}
	if (prog->exe.elf_type == ET_DYN && (err = relocate_live(prog)))
		goto fail;
	if ((err = gp_program_init_runtime(prog)))
		goto fail;
	/* the executable's read-only segments, from the file; the rest
	 * from the copies and the reader */
	struct gp_memory_layer *exe = gp_memory_layer_push(&prog->mem);
	for (size_t i = 0; i < prog->exe.nloads && !err; i++)
		if (!prog->exe.loads[i].writable)
			err = gp_memory_layer_add(exe, &(struct gp_segment){
				.start = prog->exe.loads[i].start,
				.end = prog->exe.loads[i].start +
				       prog->exe.loads[i].avail,
				.data = prog->exe.loads[i].data,
				.avail = prog->exe.loads[i].avail });
	if (err)
		goto fail;
	gp_memory_layer_sort(exe);
	prog->mem.read_fn = live_read;
	prog->mem.read_arg = prog;
	if ((err = gp_pclntab_open(&prog->exe, gp_memory_read_fn, &prog->mem,
				   &prog->pcln)))
		goto fail;
	*ret = prog;
	return NULL;
fail:
	gp_program_destroy(prog);
	return err;
}

/* The name the process's executable has, for messages; the file itself
 * is opened through /proc/PID/exe so that a rebuilt or deleted binary
 * still gives the one that runs. */
gp_error *gp_live_open(int pid, const char *exe_path, uint32_t flags,
		       const struct gp_copy_planner *planner,
		       struct gp_program **ret)
{
	gp_error *err;
	struct proc_status st;
	bool no_stop = flags & GP_ATTACH_NO_STOP;
	if ((err = check_process(pid, no_stop, &st)))
		return err;
	char procexe[64];
	snprintf(procexe, sizeof(procexe), "/proc/%d/exe", pid);
	if (!exe_path) {
		if (access(procexe, R_OK) < 0) {
			if (errno == ENOENT)
				return process_gone(pid) ?
					gp_error_create(GP_ERROR_NOT_FOUND, "no process with pid %d", pid) :
					gp_error_create(GP_ERROR_NOT_GO,
							"process %d (%s) has no executable (a kernel thread?)",
							pid, st.name);
			if (errno == EACCES || errno == EPERM)
				return permission_error(pid, errno);
			return gp_error_os(errno, "cannot open %s", procexe);
		}
		exe_path = procexe;
	}
	struct gp_live *live = calloc(1, sizeof(*live));
	if (!live)
		return &gp_error_nomem;
	live->mode = no_stop ? GP_LIVE_NO_STOP : GP_LIVE_PTRACE;
	live->resume_early = !no_stop && (flags & GP_ATTACH_RESUME_EARLY);
	live->pid = pid;
	live->memfd = -1;
	struct gp_program *prog;
	if ((err = gp_live_program_open(exe_path, live, &prog))) {
		if (gp_error_code(err) == GP_ERROR_NOT_GO)
			return gp_error_wrap(err, "process %d (%s)", pid,
					     st.name);
		return err;
	}
	if (exe_path == procexe) {
		/* name it as the user knows it */
		char name[PATH_MAX];
		ssize_t n = readlink(procexe, name, sizeof(name) - 1);
		if (n > 0) {
			name[n] = '\0';
			char *dup = strdup(name);
			if (dup) {
				free(prog->exe.path);
				prog->exe.path = dup;
			}
		}
	}
	char mempath[64];
	snprintf(mempath, sizeof(mempath), "/proc/%d/mem", pid);
	live->memfd = open(mempath, O_RDONLY | O_CLOEXEC);
	if (live->memfd < 0) {
		int e = errno;
		err = (e == EACCES || e == EPERM) ? permission_error(pid, e) :
			e == ENOENT ? exited_error(pid) :
			gp_error_os(e, "cannot open %s", mempath);
		goto fail;
	}
	if (!no_stop) {
		if (planner && planner->reserve)
			planner->reserve(prog);
		live->misses = live->miss_bytes = 0;
		live->stop_start_ns = gp_live_monotonic_ns();
		if ((err = stop_all(live)))
			goto fail;
		int64_t t_stopped = gp_live_monotonic_ns();
		prog->live_now = gp_live_monotonic_ns();
		prog->live_unix_offset = realtime_ns() - prog->live_now;
		if ((err = read_registers(live, prog->exe.arch)))
			goto fail;
		prog->threads = live->threads;
		prog->nthreads = live->nthreads;
		read_maps(prog);
		int64_t t_regs = gp_live_monotonic_ns();
		if (planner && planner->copy && (err = planner->copy(prog)))
			goto fail;
		if (getenv("GOPARKED_LIVE_DEBUG"))
			fprintf(stderr, "goparked: stop %.1f ms, registers and maps %.1f ms, copy %.1f ms (%zu + %zu ranges, %zu + %zu bytes)\n",
				(t_stopped - live->stop_start_ns) / 1e6,
				(t_regs - t_stopped) / 1e6,
				(gp_live_monotonic_ns() - t_regs) / 1e6,
				live->copies[1].nranges, live->copies[2].nranges,
				live->copies[1].size, live->copies[2].size);
		if (process_gone(pid)) {
			err = exited_error(pid);
			goto fail;
		}
	} else {
		/* The debugger holding the process stopped owns its clock;
		 * CLOCK_MONOTONIC is still the target's nanotime. */
		prog->live_now = gp_live_monotonic_ns();
		prog->live_unix_offset = realtime_ns() - prog->live_now;
		read_maps(prog);
	}
	*ret = prog;
	return NULL;
fail:
	gp_program_destroy(prog);
	return err;
}

gp_error *gp_live_check_flags(uint32_t flags)
{
	if (flags & ~(uint32_t)(GP_ATTACH_NO_STOP | GP_ATTACH_RESUME_EARLY))
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "unknown attach flags 0x%x", flags);
	return NULL;
}

GP_EXPORT gp_error *gp_program_set_threads(gp_program *prog,
					   const struct gp_thread_state *threads,
					   size_t count)
{
	if (!prog || (!threads && count))
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "no program or no threads");
	struct gp_live *live = prog->live;
	if (!live)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "threads can only be given for a live or callback program");
	if (count > 1 << 20)
		return gp_error_create(GP_ERROR_LIMIT, "%zu threads", count);
	struct gp_thread_regs *regs = calloc(count ? count : 1, sizeof(*regs));
	if (!regs)
		return &gp_error_nomem;
	for (size_t i = 0; i < count; i++) {
		regs[i].tid = threads[i].tid;
		const struct gp_arch *arch = prog->exe.arch;
		regs[i].tid = threads[i].tid;
		regs[i].regs[arch->reg_pc] = threads[i].pc;
		regs[i].regs[arch->reg_sp] = threads[i].sp;
		regs[i].regs[arch->reg_bp] = threads[i].bp;
		regs[i].regs[arch->reg_fs_base] = threads[i].fs_base;
	}
	free(live->threads);
	live->threads = regs;
	live->nthreads = count;
	prog->threads = regs;
	prog->nthreads = count;
	return NULL;
}

static gp_error *live_resume(struct gp_program *prog)
{
	struct gp_live *live = prog->live;
	if (!live || !live->attached)
		return NULL;
	gp_error *err = detach_all(live);
	live->resumed = true;
	prog->pause_ns = (uint64_t)(gp_live_monotonic_ns() - live->stop_start_ns);
	free_spares(live); /* any the copy did not use */
	if (getenv("GOPARKED_LIVE_DEBUG"))
		fprintf(stderr, "goparked: paused %.1f ms; %zu reads missed the copy (%zu bytes)\n",
			prog->pause_ns / 1e6, live->misses, live->miss_bytes);
	return err;
}

static gp_error *live_gathered(struct gp_program *prog)
{
	struct gp_live *live = prog->live;
	if (!live->resume_early || !live->attached)
		return NULL;
	gp_error *err = live_resume(prog);
	live->copy_only = true;
	live->late_misses = 0;
	return err;
}

static gp_error *live_walked(struct gp_program *prog)
{
	struct gp_live *live = prog->live;
	if (!live->copy_only)
		return NULL;
	live->copy_only = false;
	if (!live->late_misses)
		return NULL;
	return gp_error_create(GP_ERROR_INCOMPLETE,
			       "the snapshot needed %zu reads outside the copy taken while the process was stopped",
			       live->late_misses);
}

/* Called by gp_program_destroy: detach if still attached, free it all.
 * A failure to detach has nobody to go to (the kernel detaches when we
 * exit); it is dropped. */
static void live_close(struct gp_program *prog)
{
	if (!prog->live)
		return;
	gp_error_destroy(live_resume(prog));
	if (prog->threads == prog->live->threads) {
		prog->threads = NULL;
		prog->nthreads = 0;
	}
	live_free(prog->live);
	prog->live = NULL;
}

/* kind, copy, reserve, gathered, walked, resume, close */
static const struct gp_target_ops live_ops = {
	"process", live_copy, live_reserve, live_gathered, live_walked,
	live_resume, live_close,
};

/* A debugger's memory: read through its callback, never copied, never
 * stopped or resumed by goparked. */
static const struct gp_target_ops callback_ops = {
	.kind = "debugger",
	.close = live_close,
};
