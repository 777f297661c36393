/*
 * The snapshot: one pass over runtime.allgs into compact goroutine records,
 * with stacks unwound from each goroutine's saved state and symbolised
 * through a per-PC cache, then interned so that identical stacks share one
 * id (a million goroutines have a few hundred distinct stacks).
 *
 * Everything read from the target is untrusted: counts are bounded, lists
 * are walked with a step limit, and a goroutine that cannot be read gets a
 * record with its error instead of ending the walk.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* Bounds on runtime data (a real program stays far below). */
#define GP_MAX_GOROUTINES (64u << 20)
#define GP_MAX_MS 100000
#define GP_MAX_WAITREASONS 256
#define GP_MAX_WAITING_LIST 4096
#define GP_MAX_G_SIZE 4096
#define GP_MAX_SYMFRAMES 64

/* runtime2.go gStatusStrings (1.26 adds leaked and deadextra). */
static const char *const status_strings[] = {
	[0] = "idle", [1] = "runnable", [2] = "running", [3] = "syscall",
	[4] = "waiting", [5] = "???", [6] = "dead", [7] = "???",
	[8] = "copystack", [9] = "preempted", [10] = "leaked",
	[11] = "waiting for cgo callback",
};

#define GSCAN 0x1000

/* ------------------------------------------------------------ growable */


/* ------------------------------------------------------------ PC cache */

/*
 * runtime/traceback.go isExportedRuntime: before 1.23 the first letter
 * after "runtime." decides; from 1.23 the last name component and the
 * receiver type (without "(*...)") must both be exported.
 */
static bool runtime_exported(int gover, const char *name)
{
	const char *s = name + strlen("runtime.");
	if (gover < GP_GOVER(1, 23))
		return *s >= 'A' && *s <= 'Z';
	const char *dot = strrchr(s, '.');
	const char *fn = dot ? dot + 1 : s;
	if (!(*fn >= 'A' && *fn <= 'Z'))
		return false;
	if (!dot)
		return true;
	const char *rcvr = s;
	size_t n = (size_t)(dot - s);
	if (n >= 3 && rcvr[0] == '(' && rcvr[1] == '*' && rcvr[n - 1] == ')') {
		rcvr += 2;
		n -= 3;
	}
	return n && *rcvr >= 'A' && *rcvr <= 'Z';
}

uint32_t gp_traceback_flags(int gover, const char *name, uint8_t funcid)
{
	uint32_t fl = funcid == GP_FUNCID_WRAPPER ? GP_FRAME_WRAPPER : 0;
	/* 1.25+: always shown, as context that finalizers/cleanups run */
	if (gover >= GP_GOVER(1, 25) && (funcid == GP_FUNCID_RUNFINALIZERS ||
					 funcid == GP_FUNCID_RUNCLEANUPS))
		return fl;
	if (!name)
		return fl;
	if (!strchr(name, '.') || (!strncmp(name, "runtime.", 8) &&
				   !runtime_exported(gover, name)))
		fl |= GP_FRAME_RUNTIME;
	return fl;
}

/* Symbolised frames per pc, cached: key pc << 1 | trap, value an index
 * into snap->pcruns, a run of frames in snap->pcframes. */
static gp_error *pc_frames(struct gp_snapshot *snap, uint64_t pc, bool trap,
			   uint32_t *ret_first, uint32_t *ret_n)
{
	gp_error *err;
	uint64_t key = (pc << 1) | trap;
	uint32_t run = gp_addr_map_get(&snap->pc_cache, key);
	if (run != GP_NONE) {
		*ret_first = snap->pcruns[run].first;
		*ret_n = snap->pcruns[run].n;
		return NULL;
	}
	struct gp_symframe sf[GP_MAX_SYMFRAMES];
	struct gp_func fn;
	size_t n = 0;
	bool have_fn = gp_pclntab_find_func(snap->prog->pcln, pc, &fn);
	int gover = gp_pclntab_gover(snap->prog->pcln);
	if (have_fn) {
		uint64_t sympc = (!trap && pc > fn.entry) ? pc - 1 : pc;
		n = gp_pclntab_symbolize(snap->prog->pcln, pc, sympc, sf,
					 GP_MAX_SYMFRAMES);
	}
	uint32_t first = (uint32_t)snap->npcframes;
	if ((err = gp_grow((void **)&snap->pcframes, &snap->pcframes_cap,
			snap->npcframes + (n ? n : 1), sizeof(struct gp_frame))))
		return err;
	if (!n) {
		struct gp_frame *f = &snap->pcframes[snap->npcframes++];
		memset(f, 0, sizeof(*f));
		f->pc = pc;
		f->flags = GP_FRAME_NO_FUNC | (trap ? GP_FRAME_TRAP : 0);
		if (have_fn) {
			f->entry = fn.entry;
			f->flags &= ~GP_FRAME_NO_FUNC;
			f->flags |= gp_traceback_flags(gover, fn.name, fn.funcid);
			if ((err = gp_strtab_intern(&snap->strs, fn.name,
						    &f->func)))
				return err;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct gp_frame *f = &snap->pcframes[snap->npcframes++];
		f->pc = pc;
		f->entry = fn.entry;
		f->line = sf[i].line;
		f->flags = (sf[i].inlined ? GP_FRAME_INLINED : 0) |
			   (trap ? GP_FRAME_TRAP : 0) |
			   gp_traceback_flags(gover, sf[i].func, sf[i].funcid);
		if ((err = gp_strtab_intern(&snap->strs, sf[i].func,
					    &f->func)) ||
		    (err = gp_strtab_intern(&snap->strs,
					    sf[i].file ? sf[i].file : "",
					    &f->file)))
			return err;
	}
	if ((err = gp_grow((void **)&snap->pcruns, &snap->pcruns_cap,
			   snap->npcruns + 1, sizeof(*snap->pcruns))))
		return err;
	struct pc_run *r = &snap->pcruns[snap->npcruns];
	r->first = first;
	r->n = (uint32_t)(snap->npcframes - first);
	if ((err = gp_addr_map_put(&snap->pc_cache, key,
				   (uint32_t)snap->npcruns++)))
		return err;
	*ret_first = r->first;
	*ret_n = r->n;
	return NULL;
}

/* -------------------------------------------------------- stack interning */

/* A frame's identity: its pc, and whether it symbolises at pc itself (a
 * trapping instruction) or at pc - 1 (a return address). sp and fp differ
 * between goroutines and are not part of it. */
static inline uint64_t pc_key(const struct gp_unwind_pc *p)
{
	return (p->pc << 1) | (p->sympc == p->pc);
}

static uint64_t pcs_hash(const struct gp_unwind_pc *pcs, size_t n)
{
	uint64_t h = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = pc_key(&pcs[i]);
		h = gp_hash_bytes(&k, 8, h);
	}
	return h ? h : 1;
}

static bool pcs_equal(const uint64_t *keys, const struct gp_unwind_pc *pcs,
		      size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] != pc_key(&pcs[i]))
			return false;
	return true;
}

static uint64_t stack_hash(const void *arg, uint32_t id)
{
	const struct gp_snapshot *snap = arg;
	return snap->stacks[id].hash;
}

/* A stack sought: its pcs and their hash. */
struct stack_key {
	const struct gp_unwind_pc *pcs;
	size_t n;
	uint64_t hash;
};

static bool stack_eq(const void *arg, uint32_t id, const void *key)
{
	const struct gp_snapshot *snap = arg;
	const struct stack_key *k = key;
	const struct gp_stack *s = &snap->stacks[id];
	return s->hash == k->hash && s->npcs == k->n &&
	       pcs_equal(snap->stackpcs + s->first_pc, k->pcs, k->n);
}

/* Interns the frames of pcs as one stack. */
gp_error *gp_snapshot_intern_stack(struct gp_snapshot *snap,
				   const struct gp_unwind_pc *pcs, size_t n,
				   uint32_t *ret)
{
	gp_error *err;
	if ((err = gp_index_reserve(&snap->stack_index, snap->nstacks + 1,
				    stack_hash, snap)))
		return err;
	uint64_t hash = pcs_hash(pcs, n);
	struct stack_key key = { pcs, n, hash };
	size_t h;
	uint32_t found = gp_index_find(&snap->stack_index, hash, &key,
				       stack_eq, snap, &h);
	if (found != GP_NONE) {
		*ret = found;
		return NULL;
	}
	if (snap->nstacks >= GP_NONE - 1)
		return gp_error_create(GP_ERROR_LIMIT, "too many stacks");
	if ((err = gp_grow((void **)&snap->stacks, &snap->stacks_cap,
			snap->nstacks + 1, sizeof(*snap->stacks))) ||
	    (err = gp_grow((void **)&snap->stackpcs, &snap->stackpcs_cap,
			snap->nstackpcs + n, sizeof(*snap->stackpcs))))
		return err;
	struct gp_stack *s = &snap->stacks[snap->nstacks];
	s->hash = hash;
	s->user_pc = 0;
	s->first_pc = (uint32_t)snap->nstackpcs;
	s->npcs = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		snap->stackpcs[snap->nstackpcs++] = pc_key(&pcs[i]);
	s->first = (uint32_t)snap->nframes;
	for (size_t i = 0; i < n; i++) {
		uint32_t first, cnt;
		if ((err = pc_frames(snap, pcs[i].pc, pcs[i].sympc == pcs[i].pc,
				     &first, &cnt)))
			return err;
		if ((err = gp_grow((void **)&snap->frames, &snap->frames_cap,
				snap->nframes + cnt, sizeof(*snap->frames))))
			return err;
		memcpy(snap->frames + snap->nframes, snap->pcframes + first,
		       cnt * sizeof(*snap->frames));
		snap->nframes += cnt;
	}
	s->n = (uint32_t)(snap->nframes - s->first);
	gp_index_set(&snap->stack_index, h, (uint32_t)snap->nstacks);
	*ret = (uint32_t)snap->nstacks++;
	return NULL;
}

/*
 * The creator location as printcreatedby prints it: the physical function
 * of gopc with the innermost file:line at gopc - 1. Interned per gopc as a
 * one-frame stack.
 */
static gp_error *creator_stack(struct gp_snapshot *snap, uint64_t gopc,
			       const struct gp_func *fn, uint32_t *ret)
{
	gp_error *err;
	uint32_t first, n;
	if ((err = pc_frames(snap, gopc, false, &first, &n)))
		return err;
	struct gp_frame f = snap->pcframes[first];
	f.flags &= ~(GP_FRAME_INLINED | GP_FRAME_WRAPPER | GP_FRAME_RUNTIME);
	f.flags |= gp_traceback_flags(gp_pclntab_gover(snap->prog->pcln),
				   fn->name, fn->funcid);
	if ((err = gp_strtab_intern(&snap->strs, fn->name, &f.func)))
		return err;
	if ((err = gp_grow((void **)&snap->frames, &snap->frames_cap,
			snap->nframes + 1, sizeof(*snap->frames))) ||
	    (err = gp_grow((void **)&snap->stacks, &snap->stacks_cap,
			snap->nstacks + 1, sizeof(*snap->stacks))))
		return err;
	struct gp_stack *s = &snap->stacks[snap->nstacks];
	memset(s, 0, sizeof(*s));
	s->first = (uint32_t)snap->nframes;
	s->n = 1;
	snap->frames[snap->nframes++] = f;
	*ret = (uint32_t)snap->nstacks++;
	return NULL;
}

/* ------------------------------------------------------------ the walk */

static gp_error *read_waitreasons(struct gp_snapshot *snap)
{
	struct gp_program *prog = snap->prog;
	uint64_t addr = prog->layout.var_addr[GP_V_WAITREASONSTRINGS];
	uint64_t n = prog->layout.var_size[GP_V_WAITREASONSTRINGS] / 16;
	gp_error *serr = gp_strtab_intern(&snap->strs, "sleep", &snap->sleep_str);
	if (serr)
		return serr;
	if (!addr)
		return NULL;
	if (!n)
		n = 64; /* no size: read until a bad entry */
	if (n > GP_MAX_WAITREASONS)
		n = GP_MAX_WAITREASONS;
	for (uint64_t i = 0; i < n; i++) {
		char *s;
		uint8_t hdr[16];
		/* every byte of the string (a crafted runtime's may hold NULs) */
		gp_error *err = gp_memory_read(&prog->mem, addr + 16 * i, hdr,
					       sizeof(hdr));
		uint64_t len = gp_load(hdr + 8, 8);
		if (!err)
			err = gp_memory_read_string(&prog->mem, gp_load(hdr, 8),
						    len, 256, &s);
		if (err) {
			gp_error_destroy(err);
			break;
		}
		err = gp_strtab_intern_n(&snap->strs, s, (size_t)len,
					 &snap->waitreasons[i]);
		free(s);
		if (err)
			return err;
		snap->nwaitreasons = (uint32_t)i + 1;
	}
	return NULL;
}

/* Every M, for threads and running goroutines. */
static gp_error *read_ms(struct gp_snapshot *snap)
{
	struct gp_program *prog = snap->prog;
	gp_error *err;
	uint64_t m;
	size_t msize = (size_t)prog->layout.type_size[GP_T_M];
	if (msize > 1 << 20)
		return gp_error_create(GP_ERROR_CORRUPT, "runtime.m too large");
	uint8_t *buf = malloc(msize);
	if (!buf)
		return &gp_error_nomem;
	err = gp_memory_read_u64(&prog->mem, prog->layout.var_addr[GP_V_ALLM],
				 &m);
	for (size_t i = 0; !err && m && i < GP_MAX_MS; i++) {
		err = gp_memory_read(&prog->mem, m, buf, msize);
		if (err)
			break;
		if ((err = gp_grow((void **)&snap->ms, &snap->ms_cap, snap->nms + 1,
				sizeof(*snap->ms))))
			break;
		struct gp_m *e = &snap->ms[snap->nms++];
		e->address = m;
		e->id = (int64_t)gp_field(prog, GP_F_M_ID, buf, msize);
		e->procid = gp_field(prog, GP_F_M_PROCID, buf, msize);
		e->curg = gp_field(prog, GP_F_M_CURG, buf, msize);
		e->g0 = gp_field(prog, GP_F_M_G0, buf, msize);
		e->gsignal = gp_field(prog, GP_F_M_GSIGNAL, buf, msize);
		e->vdso_sp = gp_field(prog, GP_F_M_VDSOSP, buf, msize);
		e->vdso_pc = gp_field(prog, GP_F_M_VDSOPC, buf, msize);
		m = gp_field(prog, GP_F_M_ALLLINK, buf, msize);
	}
	free(buf);
	if (err)
		return gp_error_wrap(err, "reading runtime.allm");
	return NULL;
}

static gp_error *read_threads(struct gp_snapshot *snap)
{
	struct gp_program *prog = snap->prog;
	const struct gp_arch *arch = prog->exe.arch;
	snap->threads = calloc(prog->nthreads ? prog->nthreads : 1,
			       sizeof(*snap->threads));
	if (!snap->threads)
		return &gp_error_nomem;
	for (size_t i = 0; i < prog->nthreads; i++) {
		const struct gp_thread_regs *r = &prog->threads[i];
		struct gp_thread *t = &snap->threads[snap->nthreads++];
		t->tid = r->tid;
		t->pc = r->regs[arch->reg_pc];
		t->sp = r->regs[arch->reg_sp];
		t->bp = r->regs[arch->reg_bp];
		t->signal = r->signal;
		t->m_id = -1;
		if (r->crashed && prog->core.signal)
			t->flags |= GP_THREAD_CRASHED;
		for (size_t j = 0; j < snap->nms; j++) {
			if (snap->ms[j].procid == r->tid) {
				t->m_address = snap->ms[j].address;
				t->m_id = snap->ms[j].id;
				break;
			}
		}
	}
	return NULL;
}

static bool is_system_func(const char *name)
{
	if (strncmp(name, "runtime.", 8))
		return false;
	return strcmp(name, "runtime.main") && strcmp(name, "runtime.corostart") &&
	       strcmp(name, "runtime.handleAsyncEvent");
}

/*
 * The walk's per-worker state: two threads decode the gs and the stacks at
 * once (gp_memory_read_batch_par). What they share in the snapshot (the
 * string table, the stack table, the caches by pc, the threads) is changed
 * only under lock, and rarely: a million goroutines come from a few
 * places, which each worker remembers in its own small memo.
 */
struct tmpl_set {
	struct gp_addr_map map;     /* (pc, depth) -> first template */
	struct stack_tmpl *v;
	size_t n, cap;
	struct tmpl_word *words;
	size_t nwords, words_cap;
};

/*
 * Where a candidate of the reference scan can point (GP_SNAPSHOT_REFS):
 * the target's memory, each range begun GP_CONTAINER_WINDOW early (a word
 * just below an object is the address of a struct containing it), merged.
 * Any object the scan looks for was read, so it is in one of them; a
 * word outside all of them is evidence of nothing. Unaligned words in the
 * executable's read-only segments (return addresses, mostly) are left
 * out too: no object the scan looks for is there (holders.c checks that,
 * and scans the stacks again if one is).
 */
struct ref_range {
	uint64_t lo, hi;
};

struct ref_ranges {
	struct ref_range *v;
	size_t n;
	struct ref_range code[8];   /* unaligned words here are not kept */
	size_t ncode;
};

static int ref_range_cmp(const void *a, const void *b)
{
	const struct ref_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* false: the memory's extent is unknown (a debugger's reader): the scan
 * reads the stacks itself. */
static gp_error *ref_ranges_build(const struct gp_program *prog,
				  struct ref_ranges *r, bool *ret)
{
	const struct gp_memory *mem = &prog->mem;
	memset(r, 0, sizeof(*r));
	*ret = false;
	if (mem->read_fn && !mem->mapped.nsegs)
		return NULL;
	size_t n = mem->mapped.nsegs;
	for (size_t i = 0; i < mem->nlayers; i++)
		n += mem->layers[i].nsegs;
	struct ref_range *v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return &gp_error_nomem;
	size_t k = 0;
	for (size_t i = 0; i <= mem->nlayers; i++) {
		const struct gp_memory_layer *l = i < mem->nlayers ?
			&mem->layers[i] : &mem->mapped;
		for (size_t j = 0; j < l->nsegs; j++) {
			uint64_t lo = l->segs[j].start;
			v[k++] = (struct ref_range){
				lo > GP_CONTAINER_WINDOW ? lo - GP_CONTAINER_WINDOW : 0,
				l->segs[j].end };
		}
	}
	gp_qsort(v, k, sizeof(*v), ref_range_cmp);
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (m && v[i].lo <= v[m - 1].hi) {
			if (v[i].hi > v[m - 1].hi)
				v[m - 1].hi = v[i].hi;
		} else {
			v[m++] = v[i];
		}
	}
	r->v = v;
	r->n = m;
	for (size_t i = 0; i < prog->exe.nloads && r->ncode < GP_ARRAY_SIZE(r->code); i++)
		if (!prog->exe.loads[i].writable)
			r->code[r->ncode++] = (struct ref_range){
				prog->exe.loads[i].start, prog->exe.loads[i].end };
	*ret = true;
	return NULL;
}

/* Whether a word may be a candidate (see struct ref_ranges). */
static inline bool ref_wanted(const struct ref_ranges *r, size_t *hint,
			      uint64_t v)
{
	size_t h = *hint;
	if (!(h < r->n && v >= r->v[h].lo && v < r->v[h].hi)) {
		size_t lo = 0, hi = r->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (r->v[mid].hi <= v)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == r->n || v < r->v[lo].lo)
			return false;
		*hint = lo;
	}
	if (v & 7)
		for (size_t i = 0; i < r->ncode; i++)
			if (v >= r->code[i].lo && v < r->code[i].hi)
				return false;
	return true;
}

#define MEMO_SLOTS 64
struct memo {
	uint64_t key;               /* 0: empty */
	uint32_t val;
};

struct walk {
	struct gp_snapshot *snap;
	size_t gsize;
	struct gp_unwind_pc *pcs;
	pthread_mutex_t *lock;      /* the snapshot's shared parts */
	struct gp_unwind_cache *ucache;
	struct memo start_memo[MEMO_SLOTS], creator_memo[MEMO_SLOTS];
	int64_t sleeps[16];         /* earliest sleep wake-ups, sorted */
	size_t nsleeps, nsleeps_read;
	/* stacks pass, per pending goroutine (shared arrays, one entry per
	 * request): its template key, and the template it matched as
	 * worker << 31 | index (GP_NONE: unwound) */
	uint32_t *pending;          /* the record of each */
	uint64_t *tkeys;
	uint32_t *tmatch;
	uint32_t worker;
	struct tmpl_set tmpl;
	size_t tmisses;     /* same start and depth, other return addresses */
	/* GP_SNAPSHOT_REFS: per pending goroutine, its candidates
	 * (GP_REFS_NONE: none), this worker's array, where they can point */
	uint64_t *rtag;
	struct gp_refcands *rc;
	const struct ref_ranges *rr;
	size_t rr_hint;
};

static inline void wlock(struct walk *w)
{
	if (w->lock)
		pthread_mutex_lock(w->lock);
}

static inline void wunlock(struct walk *w)
{
	if (w->lock)
		pthread_mutex_unlock(w->lock);
}

static inline struct memo *memo_slot(struct memo *m, uint64_t key)
{
	return &m[(key * 0x9e3779b97f4a7c15ULL) >> 58];
}

/* Adds when to v, the *n smallest so far in order, keeping at most k. */
static void keep_earliest(int64_t *v, size_t *n, size_t k, int64_t when)
{
	if (*n == k && when >= v[k - 1])
		return;
	size_t i = *n < k ? *n : k - 1;
	while (i > 0 && v[i - 1] > when) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = when;
	if (*n < k)
		(*n)++;
}

/* Internal marks on a record while the gs are read, cleared after. */
#define G_PENDING (1u << 31)        /* unwind from its stack's top */
#define G_SUDOG (1u << 30)          /* wait_address is its first sudog */

static gp_error *g_error(struct gp_snapshot *snap, struct gp_goroutine *g,
			 gp_error *err)
{
	gp_error *e2 = gp_strtab_intern(&snap->strs, gp_error_message(err),
					&g->error_str);
	gp_error_destroy(err);
	return e2;
}

static gp_error *w_g_error(struct walk *w, struct gp_goroutine *g,
			   gp_error *err)
{
	wlock(w);
	gp_error *e2 = g_error(w->snap, g, err);
	wunlock(w);
	return e2;
}

/* The chain of sudogs a goroutine waits on (g.waiting, through waitlink). */
static gp_error *read_waiting(struct gp_snapshot *snap, struct gp_goroutine *g,
			      uint64_t sudog, const uint8_t *first)
{
	struct gp_program *prog = snap->prog;
	size_t ssize = (size_t)prog->layout.type_size[GP_T_SUDOG];
	uint8_t buf[512];
	if (ssize > sizeof(buf))
		return gp_error_create(GP_ERROR_CORRUPT, "runtime.sudog too large");
	enum gp_field_id fc = gp_has(prog, GP_F_SUDOG_C) ? GP_F_SUDOG_C :
							    GP_F_SUDOG_C_VU;
	enum gp_field_id fe = gp_has(prog, GP_F_SUDOG_ELEM) ? GP_F_SUDOG_ELEM :
							       GP_F_SUDOG_ELEM_VU;
	g->waiting_first = (uint32_t)snap->nwaits;
	for (size_t i = 0; sudog && i < GP_MAX_WAITING_LIST; i++) {
		if (i == 0 && first) {
			memcpy(buf, first, ssize);
		} else {
			gp_error *err = gp_memory_read(&prog->mem, sudog, buf,
						       ssize);
			if (err)
				return err;
		}
		gp_error *gerr = gp_grow((void **)&snap->waits, &snap->waits_cap,
				      snap->nwaits + 1, sizeof(*snap->waits));
		if (gerr)
			return gerr;
		struct gp_wait *w = &snap->waits[snap->nwaits++];
		memset(w, 0, sizeof(*w));
		w->sudog = sudog;
		uint64_t c = gp_field(prog, fc, buf, ssize);
		w->flags = gp_field(prog, GP_F_SUDOG_ISSELECT, buf, ssize) ? 1 : 0;
		if (c) {
			w->object = c;
			w->kind = GP_WAIT_CHAN_UNKNOWN;
		} else {
			/* 1.26 links semaphore waiters too; elem is the sema */
			w->object = gp_field(prog, fe, buf, ssize);
			w->kind = GP_WAIT_SEMA;
		}
		g->waiting_count++;
		/* Only select cases chain through waitlink; for a semaphore
		 * waitlink links the other waiters on the same address
		 * (semaRoot), not this goroutine's list. */
		if (!w->flags)
			break;
		sudog = gp_field(prog, GP_F_SUDOG_WAITLINK, buf, ssize);
	}
	return NULL;
}

static const struct gp_m *find_m(const struct gp_snapshot *snap, uint64_t m)
{
	for (size_t i = 0; i < snap->nms; i++)
		if (snap->ms[i].address == m)
			return &snap->ms[i];
	return NULL;
}

static int thread_of_m(const struct gp_snapshot *snap, uint64_t m)
{
	for (size_t i = 0; i < snap->nthreads; i++)
		if (m && snap->threads[i].m_address == m)
			return (int)i;
	return -1;
}

static gp_error *finish_stack(struct gp_snapshot *snap, struct gp_goroutine *g,
			      const struct gp_unwind_pc *pcs, size_t n);
static void note_sleep(struct walk *w, const struct gp_program *prog,
		       const uint8_t *buf, size_t gsize);

/* Where a goroutine's traceback starts (traceback.go, unwinder.initAt). */
static gp_error *unwind_goroutine(struct walk *w,
				  struct gp_goroutine *g, const uint8_t *buf,
				  size_t gsize, struct gp_unwind_pc *pcs,
				  size_t *ret_n)
{
	struct gp_snapshot *snap = w->snap;
	struct gp_program *prog = snap->prog;
	struct gp_unwind_start st = {
		.stack_lo = g->stack_lo,
		.stack_hi = g->stack_hi,
	};
	*ret_n = 0;
	if (g->status == GP_STATUS_RUNNING) {
		/* A running goroutine's state is in its thread's registers
		 * (possibly in a signal handler or on g0). */
		if (g->thread < 0) {
			g->flags |= GP_G_NO_STACK;
			return NULL;
		}
		const struct gp_thread_regs *r = &prog->threads[g->thread];
		const struct gp_m *m = find_m(snap, g->m_address);
		struct gp_unwind_thread_start ts = {
			.arch = prog->exe.arch,
			.pc = r->regs[prog->exe.arch->reg_pc],
			.sp = r->regs[prog->exe.arch->reg_sp],
			.bp = r->regs[prog->exe.arch->reg_bp],
			.lr = prog->exe.arch->reg_lr == GP_NO_REG ? 0 :
				r->regs[prog->exe.arch->reg_lr],
			.g_stack_lo = g->stack_lo,
			.g_stack_hi = g->stack_hi,
			.g_sched_pc = gp_field(prog, GP_F_G_SCHED_PC, buf, gsize),
			.g_sched_sp = gp_field(prog, GP_F_G_SCHED_SP, buf, gsize),
			.g_sched_bp = gp_field(prog, GP_F_G_SCHED_BP, buf, gsize),
			.g_sched_lr = gp_field(prog, GP_F_G_SCHED_LR, buf, gsize),
			.g_syscall_pc = gp_field(prog, GP_F_G_SYSCALLPC, buf, gsize),
			.g_syscall_sp = gp_field(prog, GP_F_G_SYSCALLSP, buf, gsize),
			.vdso_pc = m ? m->vdso_pc : 0,
			.vdso_sp = m ? m->vdso_sp : 0,
		};
		gp_error *err = NULL;
		int from = 0;
		*ret_n = gp_unwind_thread(prog->pcln, &prog->mem, &ts, pcs,
					  GP_MAX_FRAMES, &from, &err);
		if (*ret_n) {
			g->pc = pcs[0].pc;
			g->sp = pcs[0].sp;
		} else {
			g->flags |= GP_G_NO_STACK;
		}
		if (err) {
			g->flags |= GP_G_STACK_ERROR;
			return w_g_error(w, g, err);
		}
		return NULL;
	}
	uint64_t syscallsp = gp_field(prog, GP_F_G_SYSCALLSP, buf, gsize);
	if (syscallsp) {
		st.sp = syscallsp;
		st.pc = gp_field(prog, GP_F_G_SYSCALLPC, buf, gsize);
		st.bp = gp_field(prog, GP_F_G_SYSCALLBP, buf, gsize);
		st.syscall = true;
		g->flags |= GP_G_IN_SYSCALL;
	} else {
		st.sp = gp_field(prog, GP_F_G_SCHED_SP, buf, gsize);
		st.pc = gp_field(prog, GP_F_G_SCHED_PC, buf, gsize);
		st.bp = gp_field(prog, GP_F_G_SCHED_BP, buf, gsize);
		st.lr = gp_field(prog, GP_F_G_SCHED_LR, buf, gsize);
	}
	g->pc = st.pc;
	g->sp = st.sp;
	if (!st.pc || !st.sp)
		return NULL;
	if (st.lr && prog->exe.arch->uses_lr) {
		/* A link-register start (a goroutine that has not run:
		 * gostartcall's lr = goexit; or one stopped in morestack):
		 * the record has no room for lr, so unwind it now. */
		gp_error *err = NULL;
		st.cache = NULL;
		*ret_n = gp_unwind(prog->pcln, &prog->mem, &st, pcs,
				   GP_MAX_FRAMES, &err);
		if (!*ret_n)
			g->flags |= GP_G_NO_STACK;
		if (err) {
			g->flags |= GP_G_STACK_ERROR;
			return w_g_error(w, g, err);
		}
		return NULL;
	}
	/* Unwound later, from a batch read of the stack's top; the record
	 * keeps all the start needs (unwinding uses no bp, and no lr
	 * when it is 0). */
	g->flags |= G_PENDING;
	return NULL;
}

/* Decodes the g at allgs[slot] into gs[slot] (marked present). */
static bool no_g_roots(const struct gp_program *prog, const uint8_t *buf,
		       size_t gsize)
{
	static const enum gp_field_id f[] = { GP_F_G_SCHED_CTXT, GP_F_G_DEFER,
					      GP_F_G_PANIC };
	for (size_t i = 0; i < GP_ARRAY_SIZE(f); i++) {
		int32_t off = prog->layout.field_off[f[i]];
		if (off < 0 || prog->layout.field_size[f[i]] != 8 ||
		    (size_t)off + 8 > gsize || gp_load(buf + off, 8))
			return false;
	}
	return true;
}

static gp_error *read_goroutine(struct walk *w, uint64_t gaddr,
				uint32_t slot, const uint8_t *buf, size_t gsize,
				gp_error *err, struct gp_unwind_pc *pcs)
{
	struct gp_snapshot *snap = w->snap;
	struct gp_program *prog = snap->prog;
	uint32_t raw = 0;
	if (!err)
		raw = (uint32_t)gp_field(prog, GP_F_G_ATOMICSTATUS, buf, gsize);
	uint32_t status = raw & ~GSCAN;
	/* Dead and never-used gs keep stale fields; the runtime skips them. */
	if (!err && (status == GP_STATUS_DEAD || status == 11))
		return NULL;
	gp_error *gerr;
	struct gp_goroutine *g = &snap->gs[slot];
	snap->present[slot] = 1;
	memset(g, 0, sizeof(*g));
	g->address = gaddr;
	g->stack_id = GP_NONE;
	g->creator_stack = GP_NONE;
	g->labels = GP_NONE;
	g->waiting_first = GP_NONE;
	g->thread = -1;
	g->waitreason = -1;
	if (err)
		return w_g_error(w, g, gp_error_create(err->code,
				"reading goroutine at 0x%llx: %s",
				(unsigned long long)gaddr, err->message));

	g->raw_status = raw;
	g->status = status;
	if (raw & GSCAN)
		g->flags |= GP_G_SCAN;
	g->goid = gp_field(prog, GP_F_G_GOID, buf, gsize);
	/* what the g itself gives the mark (roots.c): nothing, in most
	 * parked goroutines, whose gs it then need not read again */
	if (no_g_roots(prog, buf, gsize))
		g->flags |= GP_G_NO_G_ROOTS;
	g->parent_goid = gp_field(prog, GP_F_G_PARENTGOID, buf, gsize);
	g->gopc = gp_field(prog, GP_F_G_GOPC, buf, gsize);
	g->startpc = gp_field(prog, GP_F_G_STARTPC, buf, gsize);
	g->waitsince = (int64_t)gp_field(prog, GP_F_G_WAITSINCE, buf, gsize);
	g->stack_lo = gp_field(prog, GP_F_G_STACK_LO, buf, gsize);
	g->stack_hi = gp_field(prog, GP_F_G_STACK_HI, buf, gsize);
	g->m_address = gp_field(prog, GP_F_G_M, buf, gsize);
	if (gp_field(prog, GP_F_G_LOCKEDM, buf, gsize))
		g->flags |= GP_G_LOCKED;
	uint32_t reason = (uint32_t)gp_field(prog, GP_F_G_WAITREASON, buf, gsize);
	g->waitreason = (int32_t)reason;

	/* The bracketed state the runtime prints (goroutineheader); the
	 * status strings are interned before the walk. */
	bool parked = status == GP_STATUS_WAITING || status == GP_STATUS_LEAKED;
	if (parked && reason && reason < snap->nwaitreasons) {
		g->waitreason_str = snap->waitreasons[reason];
	} else if (!(parked && reason) &&
		   status < GP_ARRAY_SIZE(status_strings)) {
		g->waitreason_str = snap->status_str[status];
	} else {
		char tmp[32];
		if (parked && reason)
			snprintf(tmp, sizeof(tmp), "waitreason %u", reason);
		else
			snprintf(tmp, sizeof(tmp), "???");
		wlock(w);
		gerr = gp_strtab_intern(&snap->strs, tmp, &g->waitreason_str);
		wunlock(w);
		if (gerr)
			return gerr;
	}

	/* Per-PC caches: a million goroutines come from a few go statements;
	 * each worker remembers the last ones it saw. */
	struct gp_func fn;
	struct memo *sm = memo_slot(w->start_memo, g->startpc);
	if (g->startpc && sm->key == g->startpc) {
		g->start_func = sm->val >> 1;
		if (sm->val & 1)
			g->flags |= GP_G_SYSTEM;
	} else {
		wlock(w);
		uint32_t start = gp_addr_map_get(&snap->start_cache, g->startpc);
		if (start == GP_NONE &&
		    gp_pclntab_find_func(prog->pcln, g->startpc, &fn)) {
			uint32_t id;
			bool system = is_system_func(fn.name);
			if ((gerr = gp_strtab_intern(&snap->strs, fn.name, &id)) ||
			    (gerr = gp_addr_map_put(&snap->start_cache, g->startpc,
						    (id << 1) | system))) {
				wunlock(w);
				return gerr;
			}
			start = (id << 1) | system;
		}
		wunlock(w);
		if (start != GP_NONE) {
			g->start_func = start >> 1;
			if (start & 1)
				g->flags |= GP_G_SYSTEM;
			*sm = (struct memo){ g->startpc, start };
		}
	}
	/* Creator: the physical function with the innermost file:line, as
	 * printcreatedby prints it. */
	struct memo *cm = memo_slot(w->creator_memo, g->gopc);
	if (g->gopc && cm->key == g->gopc) {
		g->creator_stack = cm->val;
	} else if (g->gopc) {
		wlock(w);
		uint32_t cr = gp_addr_map_get(&snap->creator_cache, g->gopc);
		if (cr == GP_NONE &&
		    gp_pclntab_find_func(prog->pcln, g->gopc, &fn)) {
			if ((gerr = creator_stack(snap, g->gopc, &fn, &cr)) ||
			    (gerr = gp_addr_map_put(&snap->creator_cache, g->gopc,
						    cr))) {
				wunlock(w);
				return gerr;
			}
		}
		wunlock(w);
		if (cr != GP_NONE) {
			g->creator_stack = cr;
			*cm = (struct memo){ g->gopc, cr };
		}
	}

	if (g->m_address) {
		const struct gp_m *m = find_m(snap, g->m_address);
		if (m && m->curg == gaddr) {
			g->flags |= GP_G_ON_THREAD;
			g->thread = thread_of_m(snap, g->m_address);
			if (g->thread >= 0) {
				wlock(w);
				snap->threads[g->thread].curg_goid = g->goid;
				wunlock(w);
			}
		}
	}

	uint64_t waiting = gp_field(prog, GP_F_G_WAITING, buf, gsize);
	if (waiting && (status == GP_STATUS_WAITING ||
			status == GP_STATUS_LEAKED)) {
		/* read later, in a batch of every goroutine's first sudog */
		g->wait_address = waiting;
		g->flags |= G_SUDOG;
	}
	if ((status == GP_STATUS_WAITING) && reason < snap->nwaitreasons &&
	    snap->waitreasons[reason] == snap->sleep_str)
		note_sleep(w, prog, buf, gsize);

	uint64_t labels = gp_field(prog, GP_F_G_LABELS, buf, gsize);
	if (labels) {
		wlock(w);
		gerr = gp_snapshot_read_labels(snap, labels, &g->labels);
		if (gerr && gerr != &gp_error_nomem)
			gerr = g_error(snap, g, gp_error_wrap(gerr, "reading its labels"));
		wunlock(w);
		if (gerr)
			return gerr;
	}

	size_t n;
	if ((gerr = unwind_goroutine(w, g, buf, gsize, pcs, &n)))
		return gerr;
	if (!n)
		return NULL;
	wlock(w);
	gerr = finish_stack(snap, g, pcs, n);
	wunlock(w);
	return gerr;
}

/* Index of the first physical frame of the user's code in a stack, or
 * GP_NONE: the frames that can hold the user's references to objects
 * (the runtime's own frames hold the machinery of the wait). */
static uint32_t user_pc_index(struct gp_snapshot *snap, uint32_t stack_id)
{
	struct gp_stack *st = &snap->stacks[stack_id];
	if (st->user_pc)
		return st->user_pc - 1;
	uint32_t phys = 0, found = GP_NONE;
	for (uint32_t i = 0; i < st->n && found == GP_NONE; i++) {
		const struct gp_frame *f = &snap->frames[st->first + i];
		const char *fn = gp_snapshot_string(snap, f->func);
		if (*fn && !gp_func_is_machinery(fn))
			found = phys;
		if (!(f->flags & GP_FRAME_INLINED))
			phys++;
	}
	st->user_pc = found == GP_NONE ? GP_NONE : found + 1;
	return found;
}

static gp_error *finish_stack(struct gp_snapshot *snap, struct gp_goroutine *g,
			      const struct gp_unwind_pc *pcs, size_t n)
{
	gp_error *err;
	if (n && (err = gp_snapshot_intern_stack(snap, pcs, n, &g->stack_id)))
		return err;
	if (n) {
		uint32_t u = user_pc_index(snap, g->stack_id);
		if (u != GP_NONE && u < n && pcs[u].sp >= pcs[0].sp &&
		    pcs[u].sp - pcs[0].sp < UINT32_MAX)
			g->user_sp_offset = (uint32_t)(pcs[u].sp - pcs[0].sp);
	}
	if (n >= GP_MAX_FRAMES)
		g->flags |= GP_G_TRUNCATED;
	return NULL;
}

/*
 * The walk in two batch reads (gp_memory_read_batch): every g, in file
 * order, decoded into its record; then the top of every parked stack, from
 * which the goroutine is unwound (reads past the window fall back to the
 * memory layers).
 */
#define STACK_WINDOW 2048u


static gp_error *on_g(void *arg, const struct gp_read_req *req,
		      const uint8_t *data, gp_error *err)
{
	struct walk *w = arg;
	return read_goroutine(w, req->address, req->tag, data, w->gsize,
			      err, w->pcs);
}

static struct gp_unwind_start unwind_start_of(const struct gp_goroutine *g)
{
	return (struct gp_unwind_start){
		.pc = g->pc,
		.sp = g->sp,
		.stack_lo = g->stack_lo,
		.stack_hi = g->stack_hi,
		.syscall = (g->flags & GP_G_IN_SYSCALL) != 0,
	};
}

struct window {
	const struct gp_memory *mem;
	uint64_t address;
	const uint8_t *data;
	size_t size;
};

static gp_error *window_read(void *arg, uint64_t address, void *buf,
			     size_t size)
{
	const struct window *win = arg;
	if (address >= win->address && size <= win->size &&
	    address - win->address <= win->size - size) {
		if (size == 8) /* return addresses: inline, not a call */
			memcpy(buf, win->data + (address - win->address), 8);
		else
			memcpy(buf, win->data + (address - win->address), size);
		return NULL;
	}
	return gp_memory_read(win->mem, address, buf, size);
}

/*
 * Parked goroutines of one kind have the same stack: the unwinder starts
 * at the same pc at the same depth below stack.hi and reads the same
 * return addresses at the same offsets. What it reads depends on nothing
 * else (frame sizes come from the pcs; the bounds are checked relative to
 * stack.hi, and sp >= stack.lo is checked here), so once a stack has been
 * unwound cleanly, a goroutine with the same start whose words at those
 * offsets hold the same return addresses has the same stack, exactly, and
 * needs a few loads instead of an unwind.
 */
#define TMPL_MAX_DEPTH (1u << 16)
#define TMPL_MAX 65536u
#define TMPL_CHAIN 16u   /* stacks kept per (pc, depth) */

static uint64_t tmpl_key(const struct gp_goroutine *g)
{
	uint64_t depth = g->stack_hi - g->sp;
	if (!g->pc || g->pc >= (1ULL << 47) || g->sp < g->stack_lo ||
	    g->sp >= g->stack_hi || depth >= TMPL_MAX_DEPTH)
		return 0;
	return g->pc | depth << 47 |
	       (uint64_t)((g->flags & GP_G_IN_SYSCALL) != 0) << 63;
}

static bool tmpl_match(const struct tmpl_set *set,
		       const struct stack_tmpl *t, const uint8_t *data,
		       size_t size)
{
	for (uint32_t i = 0; i < t->n; i++) {
		const struct tmpl_word *w = &set->words[t->first + i];
		uint64_t v;
		if (w->offset > size || size - w->offset < 8)
			return false;
		memcpy(&v, data + w->offset, 8);
		if (v != w->value)
			return false;
	}
	return true;
}

/* Records the words the unwind of pcs[0..n) read, if all were inside the
 * window. */
static gp_error *tmpl_add(struct tmpl_set *set, uint64_t key,
			  uint32_t head, const struct gp_goroutine *g,
			  uint32_t scan_off, const struct gp_unwind_pc *pcs,
			  size_t n, size_t size)
{
	if (set->n >= TMPL_MAX)
		return NULL;
	for (size_t i = 1; i < n; i++)
		if (pcs[i - 1].fp - 8 < pcs[0].sp ||
		    pcs[i - 1].fp - pcs[0].sp > size)
			return NULL;
	gp_error *err;
	if ((err = gp_grow((void **)&set->v, &set->cap, set->n + 1,
			   sizeof(*set->v))) ||
	    (err = gp_grow((void **)&set->words, &set->words_cap,
			   set->nwords + n, sizeof(*set->words))))
		return err;
	struct stack_tmpl *t = &set->v[set->n];
	*t = (struct stack_tmpl){ g->stack_id, g->user_sp_offset,
				  g->flags & GP_G_TRUNCATED,
				  (uint32_t)set->nwords,
				  (uint32_t)(n ? n - 1 : 0), head, scan_off };
	for (size_t i = 1; i < n; i++)
		set->words[set->nwords++] = (struct tmpl_word){
			pcs[i].pc, (uint32_t)(pcs[i - 1].fp - 8 - pcs[0].sp) };
	if ((err = gp_addr_map_put(&set->map, key, (uint32_t)set->n)))
		return err;
	set->n++;
	return NULL;
}

static void tmpl_free(struct tmpl_set *set)
{
	gp_addr_map_deinit(&set->map);
	free(set->v);
	free(set->words);
	memset(set, 0, sizeof(*set));
}

/*
 * GP_SNAPSHOT_REFS: the candidates of the reference scan in the part of
 * the window it covers. The scan's range (holders.c, scan_range) starts at
 * the first frame of the user's code, sp + scan_off, and ends at
 * stack.hi (at most GP_MAX_SCAN_STACK on); what the window does not cover
 * the scan reads. Words pointing into the stack itself are left out (the
 * scan leaves out [stack.lo, stack.hi)), and those no object can be at.
 */
static gp_error *collect_refs(struct walk *w, uint32_t k, const uint8_t *data,
			      size_t size, uint64_t sp, uint64_t hi,
			      uint64_t stack_lo, uint32_t scan_off)
{
	if (!w->rtag || !size || scan_off == GP_NONE || !sp)
		return NULL;
	uint64_t lo = sp + scan_off;
	if (hi <= lo || lo < stack_lo)
		return NULL; /* not scanned at all */
	uint64_t shi = hi - lo > GP_MAX_SCAN_STACK ? lo + GP_MAX_SCAN_STACK : hi;
	uint64_t end = size < shi - sp ? sp + size : shi;
	if (lo >= end || (end < shi && (end - lo) % 8) || end - sp > 0xfff)
		return NULL; /* read by the scan */
	struct gp_refcands *rc = w->rc;
	size_t first = rc->n, room = (size_t)(end - lo) / 8;
	if (first + room >= GP_REFS_MAX_FIRST)
		return NULL;
	if (rc->n + room > rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 4096;
		while (cap < rc->n + room)
			cap *= 2;
		uint64_t *vals = realloc(rc->vals, cap * sizeof(*vals));
		if (!vals)
			return &gp_error_nomem;
		rc->vals = vals;
		uint16_t *offs = realloc(rc->offs, cap * sizeof(*offs));
		if (!offs)
			return &gp_error_nomem;
		rc->offs = offs;
		rc->cap = cap;
	}
	for (uint64_t x = lo; x + 8 <= end; x += 8) {
		uint64_t v;
		memcpy(&v, data + (x - sp), 8);
		if (v < 4096 || (v >= sp && v < hi) ||
		    !ref_wanted(w->rr, &w->rr_hint, v))
			continue;
		rc->vals[rc->n] = v;
		rc->offs[rc->n++] = (uint16_t)(x - sp);
	}
	w->rtag[k] = gp_refs_tag(w->worker, first, (uint32_t)(lo - sp),
				 (uint32_t)(end - sp), (uint32_t)(rc->n - first));
	return NULL;
}

static gp_error *on_stack(void *arg, const struct gp_read_req *req,
			  const uint8_t *data, gp_error *rerr)
{
	struct walk *w = arg;
	struct gp_snapshot *snap = w->snap;
	struct gp_program *prog = snap->prog;
	struct tmpl_set *set = &w->tmpl;
	size_t size = rerr ? 0 : req->size;
	/* The goroutine's record is not touched on a match: requests come in
	 * stack order, records in another, and a million records do not fit
	 * in the cache; the matches are applied in record order after. */
	uint64_t key = size ? w->tkeys[req->tag] : 0;
	uint32_t head = key ? gp_addr_map_get(&set->map, key) : GP_NONE;
	uint32_t chain = 0;
	for (uint32_t ti = head; ti != GP_NONE; ti = set->v[ti].next) {
		if (tmpl_match(set, &set->v[ti], data, size)) {
			w->tmatch[req->tag] = w->worker << 31 | ti;
			/* the record is not read: stack.hi from the key's
			 * depth; stack.lo <= sp (tmpl_key) */
			return collect_refs(w, req->tag, data, size,
					    req->address,
					    req->address + (key >> 47 & 0xffff),
					    0, set->v[ti].scan_off);
		}
		chain++;
	}
	if (head != GP_NONE)
		w->tmisses++;
	struct gp_goroutine *g = &snap->gs[w->pending[req->tag]];
	struct gp_unwind_start st = unwind_start_of(g);
	st.cache = w->ucache;
	struct window win = { &prog->mem, req->address, data, size };
	struct gp_memory wmem = { .read_fn = window_read, .read_arg = &win };
	gp_error *err = NULL;
	size_t n = gp_unwind(prog->pcln, &wmem, &st, w->pcs, GP_MAX_FRAMES,
			     &err);
	uint32_t scan_off = GP_NONE;
	wlock(w);
	if (err) {
		g->flags |= GP_G_STACK_ERROR;
		err = g_error(snap, g, err);
	}
	if (!err)
		err = finish_stack(snap, g, w->pcs, n);
	if (!err && g->stack_id < snap->nstacks) {
		/* where the reference scan starts (holders.c, scan_range) */
		uint32_t user = snap->stacks[g->stack_id].user_pc;
		if (user && user != GP_NONE)
			scan_off = user > 1 ? g->user_sp_offset : 0;
	}
	wunlock(w);
	if (err)
		return err;
	if ((err = collect_refs(w, req->tag, data, size, g->sp, g->stack_hi,
				g->stack_lo, scan_off)))
		return err;
	if (key && chain < TMPL_CHAIN && n && !(g->flags & GP_G_STACK_ERROR))
		return tmpl_add(set, key, head, g, scan_off, w->pcs, n, size);
	return NULL;
}

static gp_error *on_sudog(void *arg, const struct gp_read_req *req,
			  const uint8_t *data, gp_error *rerr)
{
	struct walk *w = arg;
	struct gp_snapshot *snap = w->snap;
	struct gp_goroutine *g = &snap->gs[req->tag];
	gp_error *err = rerr ? gp_error_create(rerr->code, "%s", rerr->message) :
			       read_waiting(snap, g, req->address, data);
	if (err) {
		if (err == &gp_error_nomem)
			return err;
		gp_error *gerr = w_g_error(w, g,
					   gp_error_wrap(err, "reading its wait list"));
		if (gerr)
			return gerr;
	}
	if (g->waiting_count) {
		g->wait_address = snap->waits[g->waiting_first].object;
		if (snap->waits[g->waiting_first].flags & 1)
			g->flags |= GP_G_SELECT;
	} else {
		g->waiting_first = GP_NONE;
	}
	return NULL;
}

/*
 * The earliest wake-ups of sleeping goroutines, kept while the gs stream
 * by (1.23+ g.sleepWhen; before, g.timer.when), for the clock's upper
 * bound: the few smallest, as some may already be overdue.
 */
static void note_sleep(struct walk *w, const struct gp_program *prog,
		       const uint8_t *buf, size_t gsize)
{
	int64_t when = 0;
	if (gp_has(prog, GP_F_G_SLEEPWHEN)) {
		when = (int64_t)gp_field(prog, GP_F_G_SLEEPWHEN, buf, gsize);
	} else if (gp_has(prog, GP_F_TIMER_WHEN) && !prog->live_now) {
		/* (only a core's clock uses them: a live one is exact, and
		 * the timers are not in its copy) */
		uint64_t t = gp_field(prog, GP_F_G_TIMER, buf, gsize), v;
		if (!t || w->nsleeps_read >= 4096)
			return; /* enough samples to bound "now" */
		w->nsleeps_read++;
		gp_error *err = gp_memory_read_u64(&prog->mem,
						   t + (uint64_t)gp_off(prog, GP_F_TIMER_WHEN),
						   &v);
		if (err) {
			gp_error_destroy(err);
			return;
		}
		when = (int64_t)v;
	}
	if (when > 0)
		keep_earliest(w->sleeps, &w->nsleeps, GP_ARRAY_SIZE(w->sleeps),
			      when);
}

/* Frees *gptrs as soon as the requests are built (8 MB at 1M). */
/*
 * Stack ids in the order of the stacks' pcs: two workers intern stacks in
 * whichever order they meet them, and the same core must give the same
 * ids every time. Renumbers the table (and the creator cache); *ret maps
 * old ids to new ones for the records (NULL: nothing moved).
 */
static int stack_cmp(const void *a, const void *b, void *arg)
{
	const struct gp_snapshot *snap = arg;
	const struct gp_stack *x = &snap->stacks[*(const uint32_t *)a];
	const struct gp_stack *y = &snap->stacks[*(const uint32_t *)b];
	uint32_t n = x->npcs < y->npcs ? x->npcs : y->npcs;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t p = snap->stackpcs[x->first_pc + i];
		uint64_t q = snap->stackpcs[y->first_pc + i];
		if (p != q)
			return p < q ? -1 : 1;
	}
	if (x->npcs != y->npcs)
		return x->npcs < y->npcs ? -1 : 1;
	/* creators' one-frame stacks have no pcs: their frames' */
	n = x->n < y->n ? x->n : y->n;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t p = snap->frames[x->first + i].pc;
		uint64_t q = snap->frames[y->first + i].pc;
		if (p != q)
			return p < q ? -1 : 1;
	}
	return x->n < y->n ? -1 : x->n > y->n;
}

static gp_error *canonical_stack_ids(struct gp_snapshot *snap, uint32_t **ret)
{
	size_t ns = snap->nstacks;
	*ret = NULL;
	if (ns < 2)
		return NULL;
	uint32_t *order = malloc(ns * sizeof(*order));
	uint32_t *newid = malloc(ns * sizeof(*newid));
	struct gp_stack *stacks = malloc(ns * sizeof(*stacks));
	if (!order || !newid || !stacks) {
		free(order);
		free(newid);
		free(stacks);
		return &gp_error_nomem;
	}
	for (size_t i = 0; i < ns; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, ns, sizeof(*order), stack_cmp, snap);
	bool moved = false;
	for (size_t i = 0; i < ns; i++) {
		newid[order[i]] = (uint32_t)i;
		stacks[i] = snap->stacks[order[i]];
		moved |= order[i] != i;
	}
	free(order);
	if (!moved) {
		free(newid);
		free(stacks);
		return NULL;
	}
	memcpy(snap->stacks, stacks, ns * sizeof(*stacks));
	free(stacks);
	struct gp_addr_map *cc = &snap->creator_cache;
	for (size_t i = 0; i < cc->cap; i++)
		if (cc->keys[i] && cc->vals[i] < ns)
			cc->vals[i] = newid[cc->vals[i]];
	for (size_t i = 0; i < snap->stack_index.cap; i++)
		if (snap->stack_index.slots[i])
			snap->stack_index.slots[i] =
				newid[snap->stack_index.slots[i] - 1] + 1;
	*ret = newid;
	return NULL;
}

/* Two workers from this many goroutines: below it a thread costs more
 * than it saves. */
#define PAR_MIN 8192

/* Adds a worker's earliest sleep wake-ups to the snapshot's. */
static void merge_sleeps(struct gp_snapshot *snap, const struct walk *w)
{
	for (size_t i = 0; i < w->nsleeps; i++)
		keep_earliest(snap->sleeps, &snap->nsleeps,
			      GP_ARRAY_SIZE(snap->sleeps), w->sleeps[i]);
}

static gp_error *read_all(struct gp_snapshot *snap, uint64_t **gptrs_p,
			  uint64_t len, size_t gsize, struct gp_unwind_pc *pcs)
{
	pthread_mutex_t lock;
	if (pthread_mutex_init(&lock, NULL))
		return gp_error_create(GP_ERROR_OS, "pthread_mutex_init failed");
	struct walk *w = calloc(2, sizeof(*w));
	struct gp_unwind_pc *pcs2 = malloc(GP_MAX_FRAMES * sizeof(*pcs2));
	struct gp_read_req *reqs = NULL, *sreqs = NULL;
	uint64_t *tkeys = NULL, *rtag = NULL;
	uint32_t *tmatch = NULL, *pending = NULL;
	struct ref_ranges rr = { 0 };
	bool refs = false;
	gp_error *err = NULL;
	if (!w || !pcs2 ||
	    !(w[1].ucache = calloc(1, sizeof(*w[1].ucache)))) {
		err = &gp_error_nomem;
		goto out;
	}
	w[0] = (struct walk){ .snap = snap, .gsize = gsize, .pcs = pcs,
			      .lock = &lock, .ucache = snap->ucache };
	struct gp_unwind_cache *uc2 = w[1].ucache;
	w[1] = (struct walk){ .snap = snap, .gsize = gsize, .pcs = pcs2,
			      .lock = &lock, .ucache = uc2, .worker = 1 };
	void *second = len >= gp_par_min(PAR_MIN) ? &w[1] : NULL;

	/* Sized once: doubling a million records costs copies and zeroed
	 * pages, and leaves half an array of slack. */
	if (!(snap->gs = malloc((len ? len : 1) * sizeof(*snap->gs))) ||
	    !(reqs = malloc((len ? len : 1) * sizeof(*reqs))) ||
	    !(snap->present = calloc(len ? len : 1, 1))) {
		err = &gp_error_nomem;
		goto out;
	}
	snap->gs_cap = len ? len : 1;
	snap->ngs = len;
	/* Each record goes to its g's place in allgs: goroutines are added
	 * there as they are made, so that order is goid order or nearly,
	 * which the sort by goid then finds (or has few records to move). */
	size_t n = 0;
	for (uint64_t i = 0; i < len; i++)
		if ((*gptrs_p)[i])
			reqs[n++] = (struct gp_read_req){ .address = (*gptrs_p)[i],
							  .size = (uint32_t)gsize,
							  .tag = (uint32_t)i };
	free(*gptrs_p);
	*gptrs_p = NULL;
	gp_phase(NULL);
	struct gp_batch_out gs_out = { snap->gs, sizeof(*snap->gs), len };
	err = gp_memory_read_batch_par(&snap->prog->mem, reqs, n, on_g, &w[0],
				       second, &gs_out);
	merge_sleeps(snap, &w[0]);
	merge_sleeps(snap, &w[1]);
	gp_phase("gs");
	if (err)
		goto out;

	/* One pass over the records for both: every first sudog (a batch
	 * read by one worker: on_sudog appends to the waits list) and the
	 * top of every parked stack. Arrays sized for all; only what is used
	 * costs pages. */
	size_t ssize = (size_t)snap->prog->layout.type_size[GP_T_SUDOG];
	size_t cap = snap->ngs ? snap->ngs : 1;
	sreqs = malloc(cap * sizeof(*sreqs));
	pending = malloc(cap * sizeof(*pending));
	tkeys = malloc(cap * sizeof(*tkeys));
	tmatch = malloc(cap * sizeof(*tmatch));
	if (!sreqs || !pending || !tkeys || !tmatch) {
		err = &gp_error_nomem;
		goto out;
	}
	if ((snap->options & GP_SNAPSHOT_REFS) &&
	    (err = ref_ranges_build(snap->prog, &rr, &refs)))
		goto out;
	if (refs && (!(rtag = malloc(cap * sizeof(*rtag))) ||
		     !(snap->refs_of = malloc(cap * sizeof(*snap->refs_of))))) {
		err = &gp_error_nomem;
		goto out;
	}
	size_t nsudog = 0, npending = 0;
	for (size_t i = 0; i < snap->ngs; i++) {
		struct gp_goroutine *g = &snap->gs[i];
		if (!snap->present[i] || !(g->flags & (G_SUDOG | G_PENDING)))
			continue;
		if (g->flags & G_SUDOG) {
			sreqs[nsudog++] = (struct gp_read_req){
				.address = g->wait_address,
				.size = (uint32_t)ssize, .tag = (uint32_t)i };
			g->wait_address = 0;
		}
		if (g->flags & G_PENDING) {
			size_t k = npending++;
			pending[k] = (uint32_t)i;
			uint64_t size = STACK_WINDOW;
			if (g->stack_hi > g->sp && g->stack_hi - g->sp < size)
				size = g->stack_hi - g->sp;
			reqs[k] = (struct gp_read_req){ .address = g->sp,
							.size = (uint32_t)size,
							.tag = (uint32_t)k };
			tkeys[k] = tmpl_key(g);
			tmatch[k] = GP_NONE;
			if (rtag)
				rtag[k] = GP_REFS_NONE;
		}
		g->flags &= ~(G_SUDOG | G_PENDING);
	}
	gp_phase("requests");
	w[0].lock = NULL;
	err = gp_memory_read_batch(&snap->prog->mem, sreqs, nsudog, on_sudog,
				   &w[0]);
	w[0].lock = &lock;
	gp_phase("sudogs");
	if (err)
		goto out;

	for (int k = 0; k < 2; k++) {
		w[k].pending = pending;
		w[k].tkeys = tkeys;
		w[k].tmatch = tmatch;
		w[k].rtag = rtag;
		w[k].rc = &snap->refc[k];
		w[k].rr = &rr;
	}
	err = gp_memory_read_batch_par(&snap->prog->mem, reqs, npending,
				       on_stack, &w[0], second, NULL);
	gp_phase_note("%zu + %zu stack templates; %zu goroutines matched none "
		      "of their (pc, depth)", w[0].tmpl.n, w[1].tmpl.n,
		      w[0].tmisses + w[1].tmisses);
	gp_phase("stacks");
	if (err)
		goto out;

	/* One more pass: the matched templates applied, stack ids made the
	 * same whichever worker met a stack first, and the dead squeezed
	 * out. */
	uint32_t *newid;
	if ((err = canonical_stack_ids(snap, &newid)))
		goto out;
	size_t live = 0, k = 0;
	for (size_t i = 0; i < snap->ngs; i++) {
		if (!snap->present[i])
			continue;
		struct gp_goroutine *g = &snap->gs[i];
		if (snap->refs_of)
			snap->refs_of[live] = k < npending && pending[k] == i ?
				rtag[k] : GP_REFS_NONE;
		if (k < npending && pending[k] == i) {
			uint32_t m = tmatch[k++];
			if (m != GP_NONE) {
				const struct stack_tmpl *t =
					&w[m >> 31].tmpl.v[m & 0x7fffffffu];
				g->stack_id = t->stack_id;
				g->user_sp_offset = t->user_sp_offset;
				g->flags |= t->flags;
			}
		}
		if (newid) {
			if (g->stack_id < snap->nstacks)
				g->stack_id = newid[g->stack_id];
			if (g->creator_stack < snap->nstacks)
				g->creator_stack = newid[g->creator_stack];
		}
		if (live != i)
			snap->gs[live] = *g;
		live++;
	}
	free(newid);
	snap->ngs = live;
	free(snap->present);
	snap->present = NULL;
	gp_phase("records");
out:
	if (err && snap->present) {
		/* only what was filled is a record */
		size_t live = 0;
		for (size_t i = 0; i < snap->ngs; i++)
			if (snap->present[i]) {
				snap->gs[live] = snap->gs[i];
				snap->gs[live++].flags &= ~(G_PENDING | G_SUDOG);
			}
		snap->ngs = live;
	}
	if (err) {
		free(snap->refs_of);
		snap->refs_of = NULL;
	}
	free(rr.v);
	free(rtag);
	if (w) {
		tmpl_free(&w[0].tmpl);
		tmpl_free(&w[1].tmpl);
		free(w[1].ucache);
	}
	free(w);
	free(pcs2);
	free(reqs);
	free(sreqs);
	free(tkeys);
	free(tmatch);
	free(pending);
	pthread_mutex_destroy(&lock);
	return err;
}

/* Sorts the records by goid: 16-byte keys (radix), then the records
 * permuted in place, cycle by cycle (no second array of records). */
/*
 * Records in allgs order are in goid order but for a few (a g reused
 * after its goroutine exited takes a new goid): those are taken out, the
 * rest closed up, and they are merged back from the end. Kept are either
 * the records no later one is smaller than, or those no earlier one is
 * larger than, whichever leaves fewer out; both are in order.
 */
static int goid_cmp(const void *a, const void *b)
{
	const struct gp_goroutine *x = a, *y = b;
	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

/* A record taken out, with its reference scan candidates' tag (the tags,
 * snap->refs_of, go with their records). */
struct side_rec {
	struct gp_goroutine g;
	uint64_t tag;
};

static int side_cmp(const void *a, const void *b)
{
	return goid_cmp(&((const struct side_rec *)a)->g,
			&((const struct side_rec *)b)->g);
}

static bool sort_few_out_of_order(struct gp_snapshot *snap, size_t below)
{
	size_t n = snap->ngs;
	struct gp_goroutine *gs = snap->gs;
	uint64_t *tag = snap->refs_of;
	uint8_t *out = malloc(n);
	if (!out)
		return false;
	/* by the prefix maximum first (allgs order's exceptions are reused
	 * gs, with bigger goids than their neighbours); the other way only
	 * if that leaves too many out */
	size_t by_min = SIZE_MAX, by_max = below;
	uint64_t m;
	if (by_max > n / 16) {
		by_min = 0;
		m = UINT64_MAX;
		for (size_t i = n; i-- > 0;) {
			if (gs[i].goid > m)
				by_min++;
			else
				m = gs[i].goid;
		}
	}
	bool use_min = by_min < by_max;
	size_t k = use_min ? by_min : by_max;
	if (k > n / 16) {
		free(out);
		return false;
	}
	struct side_rec *side = malloc((k ? k : 1) * sizeof(*side));
	if (!side) {
		free(out);
		return false;
	}
#define TAG(i) (tag ? tag[i] : GP_REFS_NONE)
#define MOVE(to, from) do { gs[to] = gs[from]; if (tag) tag[to] = tag[from]; } while (0)
#define FROM_SIDE(to, s) do { gs[to] = side[s].g; if (tag) tag[to] = side[s].tag; } while (0)
	/* marked and taken out in one pass */
	size_t taken = 0;
	if (use_min) {
		m = UINT64_MAX;
		for (size_t i = n; i-- > 0;) {
			out[i] = gs[i].goid > m;
			if (!out[i])
				m = gs[i].goid;
			else
				side[taken++] = (struct side_rec){ gs[i], TAG(i) };
		}
	} else {
		m = 0;
		for (size_t i = 0; i < n; i++) {
			out[i] = gs[i].goid < m;
			if (!out[i])
				m = gs[i].goid;
			else
				side[taken++] = (struct side_rec){ gs[i], TAG(i) };
		}
	}
	gp_qsort(side, k, sizeof(*side), side_cmp);
	size_t j = k, w = n;
	if (!use_min) {
		/* Merged from the end in one pass: a record taken out was
		 * smaller than one before it, so each kept record's place is
		 * at or after where it is, and everything written lands past
		 * what is still to be read. Most records stay put. */
		for (size_t i = n; i-- > 0;) {
			if (out[i])
				continue;
			while (j > 0 && side[j - 1].g.goid > gs[i].goid) {
				--w;
				--j;
				FROM_SIDE(w, j);
			}
			if (--w != i)
				MOVE(w, i);
		}
	} else {
		/* the kept closed up, then merged from the end */
		size_t kept = 0;
		for (size_t i = 0; i < n; i++)
			if (!out[i] && kept++ != i)
				MOVE(kept - 1, i);
		size_t i = kept;
		while (j > 0) {
			if (i > 0 && gs[i - 1].goid > side[j - 1].g.goid) {
				--w;
				--i;
				MOVE(w, i);
			} else {
				--w;
				--j;
				FROM_SIDE(w, j);
			}
		}
	}
	while (j > 0) {
		--w;
		--j;
		FROM_SIDE(w, j);
	}
#undef TAG
#undef MOVE
#undef FROM_SIDE
	free(out);
	free(side);
	return true;
}

static gp_error *sort_by_goid(struct gp_snapshot *snap)
{
	size_t n = snap->ngs;
	/* records below the largest goid before them: 0 when sorted */
	size_t below = 0;
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (snap->gs[i].goid < m)
			below++;
		else
			m = snap->gs[i].goid;
	}
	if (!below || sort_few_out_of_order(snap, below))
		return NULL;
	struct gp_kv *k = malloc(n * sizeof(*k));
	if (!k)
		return &gp_error_nomem;
	for (size_t i = 0; i < n; i++)
		k[i] = (struct gp_kv){ snap->gs[i].goid, i };
	gp_error *err = gp_sort_kv(k, n);
	if (err) {
		free(k);
		return err;
	}

	/* k[i].value: the record that belongs at i (with its reference
	 * scan candidates' tag) */
	uint64_t *tag = snap->refs_of;
	for (size_t i = 0; i < n; i++) {
		if (k[i].value == i || k[i].value == UINT64_MAX)
			continue;
		struct gp_goroutine tmp = snap->gs[i];
		uint64_t tmp_tag = tag ? tag[i] : 0;
		size_t j = i;
		while (k[j].value != i) {
			size_t from = k[j].value;
			snap->gs[j] = snap->gs[from];
			if (tag)
				tag[j] = tag[from];
			k[j].value = UINT64_MAX;
			j = from;
		}
		snap->gs[j] = tmp;
		if (tag)
			tag[j] = tmp_tag;
		k[j].value = UINT64_MAX;
	}
	free(k);
	return NULL;
}

/*
 * The len pointers of runtime.allgs at array. len is the target's word,
 * bounded only by GP_MAX_GOROUTINES (512 MiB of pointers): the list is
 * read a chunk at a time into a buffer grown only by what was read, so a
 * corrupt len costs what the target really holds, never a buffer sized by
 * the word alone (the snapshot's and the live read plan's, plan.c).
 */
gp_error *gp_read_allgs(const struct gp_memory *mem, uint64_t array,
		       size_t len, uint64_t **ret)
{
	enum { CHUNK = 1 << 16 };
	uint64_t *gptrs = NULL;
	size_t have = 0;
	do {
		size_t n = len - have < CHUNK ? len - have : CHUNK;
		uint64_t *grown = realloc(gptrs, ((have + n) ? have + n : 1) * 8);
		if (!grown) {
			free(gptrs);
			return &gp_error_nomem;
		}
		gptrs = grown;
		gp_error *err;
		if (n && (err = gp_memory_read(mem, array + have * 8,
					       gptrs + have, n * 8))) {
			free(gptrs);
			return gp_error_wrap(err, "reading the goroutine list runtime.allgs");
		}
		have += n;
	} while (have < len);
	*ret = gptrs;
	return NULL;
}

GP_EXPORT gp_error *gp_snapshot_take(gp_program *prog, gp_snapshot **ret)
{
	return gp_snapshot_take_with(prog, 0, ret);
}

GP_EXPORT gp_error *gp_snapshot_take_with(gp_program *prog, uint32_t options,
					  gp_snapshot **ret)
{
	gp_error *err;
	if (options & ~(uint32_t)GP_SNAPSHOT_REFS)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "unknown snapshot options 0x%x", options);
	struct gp_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return &gp_error_nomem;
	snap->prog = prog;
	snap->options = options;
	gp_strtab_init(&snap->strs);
	uint32_t empty;
	struct gp_unwind_pc *pcs = NULL;
	uint8_t *buf = NULL;
	uint64_t *gptrs = NULL;
	if ((err = gp_strtab_intern(&snap->strs, "", &empty)))
		goto fail;
	for (size_t i = 0; i < GP_ARRAY_SIZE(status_strings); i++)
		if ((err = gp_strtab_intern(&snap->strs, status_strings[i],
					    &snap->status_str[i])))
			goto fail;
	if ((err = read_waitreasons(snap)) || (err = read_ms(snap)) ||
	    (err = read_threads(snap)))
		goto fail;

	/* runtime.allgs is a []*g. */
	uint8_t hdr[24];
	if ((err = gp_memory_read(&prog->mem, prog->layout.var_addr[GP_V_ALLGS],
				  hdr, sizeof(hdr)))) {
		err = gp_error_wrap(err, "reading runtime.allgs");
		goto fail;
	}
	uint64_t array = gp_load(hdr, 8), len = gp_load(hdr + 8, 8),
		 cap = gp_load(hdr + 16, 8);
	if (len > cap || len > GP_MAX_GOROUTINES) {
		err = gp_error_create(GP_ERROR_CORRUPT,
				      "runtime.allgs is corrupt (len %llu, cap %llu)",
				      (unsigned long long)len,
				      (unsigned long long)cap);
		goto fail;
	}
	snap->allgs_len = (size_t)len;
	if ((err = gp_read_allgs(&prog->mem, array, (size_t)len, &gptrs)))
		goto fail;
	size_t gsize = (size_t)prog->layout.type_size[GP_T_G];
	if (gsize == 0 || gsize > GP_MAX_G_SIZE) {
		err = gp_error_create(GP_ERROR_UNSUPPORTED,
				      "unexpected size of runtime.g: %zu", gsize);
		goto fail;
	}
	buf = malloc(gsize);
	pcs = malloc(GP_MAX_FRAMES * sizeof(*pcs));
	snap->ucache = calloc(1, sizeof(*snap->ucache));
	if (!buf || !pcs || !snap->ucache) {
		err = &gp_error_nomem;
		goto fail;
	}
	/* the rest of what is read of the target: a live one then runs
	 * again (GP_ATTACH_RESUME_EARLY) while its copy is walked */
	gp_snapshot_clock_gather(snap);
	if ((err = gp_semtable_gather(snap)) || (err = gp_target_gathered(prog)))
		goto fail;
	if ((err = read_all(snap, &gptrs, len, gsize, pcs)))
		goto fail;
	if ((err = sort_by_goid(snap)))
		goto fail;
	gp_phase("goid sort");
	/* semaphore and Cond waits (before 1.26 g.waiting is nil for them) */
	if ((err = gp_semtable_attribute(snap)))
		goto fail;
	gp_phase("semaphores");
	if ((err = gp_snapshot_compute_clock(snap)))
		goto fail;
	gp_phase("clock");
	if ((err = gp_target_walked(prog)))
		goto fail;
	free(gptrs);
	free(buf);
	free(pcs);
	*ret = snap;
	return NULL;
fail:
	gp_error_destroy(gp_target_walked(prog)); /* reads of it work again */
	free(gptrs);
	free(buf);
	free(pcs);
	gp_snapshot_destroy(snap);
	return err;
}

void gp_snapshot_refs_free(struct gp_snapshot *snap)
{
	for (int k = 0; k < 2; k++) {
		free(snap->refc[k].vals);
		free(snap->refc[k].offs);
		memset(&snap->refc[k], 0, sizeof(snap->refc[k]));
	}
	free(snap->refs_of);
	snap->refs_of = NULL;
}

GP_EXPORT void gp_snapshot_destroy(gp_snapshot *snap)
{
	if (!snap)
		return;
	gp_strtab_deinit(&snap->strs);
	free(snap->gs);
	free(snap->sema_recs);
	free(snap->present);
	free(snap->ucache);
	free(snap->pcframes);
	free(snap->frames);
	free(snap->stacks);
	free(snap->stackpcs);
	gp_index_deinit(&snap->stack_index);
	free(snap->waits);
	free(snap->threads);
	free(snap->ms);
	free(snap->labels);
	if (snap->analysis)
		snap->analysis_destroy(snap->analysis);
	free(snap->wait_obj);
	free(snap->wait_kind);
	free(snap->wait_role);
	free(snap->gmap);
	gp_snapshot_refs_free(snap);
	gp_index_deinit(&snap->labelset_index);
	gp_addr_map_deinit(&snap->ls_by_ptr);
	gp_addr_map_deinit(&snap->start_cache);
	gp_addr_map_deinit(&snap->creator_cache);
	gp_addr_map_deinit(&snap->pc_cache);
	free(snap->pcruns);
	free(snap);
}

GP_EXPORT void gp_snapshot_count_states(const gp_snapshot *snap,
					uint64_t all[256], uint64_t system[256])
{
	memset(all, 0, 256 * sizeof(*all));
	memset(system, 0, 256 * sizeof(*system));
	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		uint32_t st = g->status < 255 ? g->status : 255;
		all[st]++;
		if (g->flags & GP_G_SYSTEM)
			system[st]++;
	}
}

GP_EXPORT size_t gp_snapshot_num_goroutines(const gp_snapshot *snap)
{
	return snap->ngs;
}

GP_EXPORT const struct gp_goroutine *
gp_snapshot_goroutines(const gp_snapshot *snap)
{
	return snap->gs;
}

GP_EXPORT int64_t gp_snapshot_find(const gp_snapshot *snap, uint64_t goid)
{
	size_t lo = 0, hi = snap->ngs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (snap->gs[mid].goid < goid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < snap->ngs && snap->gs[lo].goid == goid ? (int64_t)lo : -1;
}

GP_EXPORT const char *gp_snapshot_string(const gp_snapshot *snap, uint32_t id)
{
	return id < snap->strs.len ? snap->strs.strs[id] : "";
}

GP_EXPORT const char *gp_snapshot_string_len(const gp_snapshot *snap,
					     uint32_t id, size_t *ret_len,
					     uint64_t *ret_full)
{
	return gp_strtab_get(&snap->strs, id, ret_len, ret_full);
}

GP_EXPORT size_t gp_snapshot_num_strings(const gp_snapshot *snap)
{
	return snap->strs.len;
}

GP_EXPORT size_t gp_snapshot_num_stacks(const gp_snapshot *snap)
{
	return snap->nstacks;
}

GP_EXPORT const struct gp_frame *gp_snapshot_stack(const gp_snapshot *snap,
						   uint32_t stack_id,
						   uint32_t *ret_nframes)
{
	if (stack_id >= snap->nstacks) {
		*ret_nframes = 0;
		return NULL;
	}
	*ret_nframes = snap->stacks[stack_id].n;
	return snap->frames + snap->stacks[stack_id].first;
}

GP_EXPORT const struct gp_wait *gp_snapshot_waits(const gp_snapshot *snap,
						  size_t *ret_count)
{
	*ret_count = snap->nwaits;
	return snap->waits;
}

GP_EXPORT const struct gp_thread *gp_snapshot_threads(const gp_snapshot *snap,
						      size_t *ret_count)
{
	*ret_count = snap->nthreads;
	return snap->threads;
}

GP_EXPORT void gp_snapshot_clock(const gp_snapshot *snap, struct gp_clock *ret)
{
	*ret = snap->clock;
}
