/*
 * runtime/: the Go runtime's data structures read from a target: the
 * snapshot of every goroutine (snapshot.c), its stacks (unwind.c), labels
 * (labels.c), the clock (clock.c), and the heap model: spans and objects
 * (heap.c), pointer maps (heapbits.c), the GC's roots (roots.c) and the
 * mark pass over them (mark.c).
 */
#ifndef GP_RUNTIME_H
#define GP_RUNTIME_H

#include "target/target.h"

/* --------------------------------------------------------------- unwind.c */

/* What one pc's frame needs from the pclntab (its function and SP delta),
 * kept per pc: a million parked goroutines stop at a few dozen pcs.
 * Direct-mapped; a collision only costs a lookup. Not shared between
 * threads. */
#define GP_UNWIND_CACHE_SLOTS 4096
/* gp_goroutine.flags of the engine's own (bits 16 and up): the g's
 * sched.ctxt, _defer and _panic are nil, so the mark need not read it. */
#define GP_G_NO_G_ROOTS (1u << 16)

struct gp_unwind_cache {
	struct gp_unwind_step {
		uint64_t pc;          /* 0: empty */
		struct gp_func fn;
		int32_t delta;
	} slot[GP_UNWIND_CACHE_SLOTS];
};

struct gp_unwind_start {
	uint64_t pc, sp, bp, lr;
	uint64_t stack_lo, stack_hi;  /* bounds for sp; 0,0 = unchecked */
	bool trap;                    /* pc is a faulting instruction */
	bool syscall;                 /* pc, sp are g.syscallpc/syscallsp */
	struct gp_unwind_cache *cache; /* optional */
};

/* One physical frame; pc, sp and fp are what the runtime prints as
 * "+0x(pc - entry) fp= sp= pc=" with GOTRACEBACK=crash. */
struct gp_unwind_pc {
	uint64_t pc;
	uint64_t sympc;               /* pc for symbolization (symPC) */
	uint64_t sp, fp;
	bool trap;                    /* pc is not a return address */
};

#define GP_MAX_FRAMES 1024

/*
 * Physical frames from start, innermost first, at most max, following
 * runtime/traceback.go (unwinder.resolveInternal/next; gentraceback in
 * 1.19/1.20). Stops at a TOPFRAME function (included: runtime.goexit,
 * mstart, rt0_go, sigtramp), with *ret_err NULL. Stops early, *ret_err set
 * (may be NULL), at: a pc in no function (GP_ERROR_CORRUPT), a function
 * without SP table or one that writes SP (GP_ERROR_UNSUPPORTED; the frame
 * is included, as the runtime prints it), sp outside the stack bounds or
 * not increasing (GP_ERROR_CORRUPT), unreadable memory (GP_ERROR_FAULT),
 * max frames (GP_ERROR_LIMIT). Allocates nothing except the error.
 */
size_t gp_unwind(const struct gp_pclntab *tab, const struct gp_memory *mem,
		 const struct gp_unwind_start *start,
		 struct gp_unwind_pc *ret, size_t max, gp_error **ret_err);

/* The registers of a thread whose current goroutine (m.curg) is g. */
struct gp_unwind_thread_start {
	const struct gp_arch *arch;       /* the signal frame's layout */
	uint64_t pc, sp, bp, lr;          /* the thread's registers (lr 0
					   * without a link register) */
	uint64_t g_stack_lo, g_stack_hi;  /* g.stack */
	uint64_t g_sched_pc, g_sched_sp, g_sched_bp, g_sched_lr; /* g.sched */
	uint64_t g_syscall_pc, g_syscall_sp; /* g.syscallpc/sp, 0 if none */
	uint64_t vdso_pc, vdso_sp;        /* m.vdsoPC/vdsoSP, 0 if none */
};

/* Where gp_unwind_thread found the goroutine's innermost frame. */
enum gp_unwind_from {
	GP_UNWIND_FROM_REGS = 1,    /* the thread was running g's code */
	GP_UNWIND_FROM_SIGNAL = 2,  /* the context a signal interrupted */
	GP_UNWIND_FROM_SCHED = 3,   /* g.sched (thread on g0, e.g. systemstack) */
	GP_UNWIND_FROM_SYSCALL = 4, /* g.syscallpc/sp */
	GP_UNWIND_FROM_VDSO = 5,    /* m.vdsoPC/vdsoSP */
};

/*
 * The frames of a running goroutine g from its thread's registers, as the
 * runtime prints "goroutine N [running]" in a crash dump (sighandler:
 * tracebacktrap on the interrupted context, or traceback of curg.sched when
 * the thread was on g0). If the thread is in a signal handler (on gsignal,
 * runtime.sigtramp at the top), the kernel's ucontext is read to continue
 * at the interrupted pc/sp. ret_from (may be NULL) gets an enum
 * gp_unwind_from. Errors as gp_unwind.
 */
size_t gp_unwind_thread(const struct gp_pclntab *tab,
			const struct gp_memory *mem,
			const struct gp_unwind_thread_start *start,
			struct gp_unwind_pc *ret, size_t max, int *ret_from,
			gp_error **ret_err);

/*
 * The registers of the contexts the Go signal handlers on thread t
 * interrupted, innermost handler first, through nested signal frames (at
 * most max sets; 0 when the thread is not in a Go signal handler).
 */
size_t gp_thread_signal_regs(const struct gp_program *prog,
			     const struct gp_thread_regs *t,
			     uint64_t (*out)[GP_MAX_REGS], size_t max);

/* ------------------------------------------------------------ snapshot.c */

/*
 * The machinery of waiting, not the user's code: the runtime, sync and the
 * standard library's internal packages. The site of a wait and the frames
 * that can hold the user's references both start below these.
 */
static inline bool gp_func_is_machinery(const char *fn)
{
	return !strncmp(fn, "runtime.", 8) || !strncmp(fn, "sync.", 5) ||
	       !strncmp(fn, "internal/", 9) || !strncmp(fn, "sync/", 5);
}

struct gp_stack {
	uint64_t hash;
	uint32_t first, n;        /* frames */
	uint32_t first_pc, npcs;  /* the pcs it was made from */
	uint32_t user_pc;         /* first physical frame of the user's code
				   * (outside runtime, sync, internal), +1;
				   * 0 = not computed yet */
};

struct gp_m {
	uint64_t address;
	int64_t id;
	uint64_t procid;
	uint64_t curg, g0, gsignal;
	uint64_t vdso_sp, vdso_pc;
};

/* A run of symbolised frames of one pc in snap->pcframes. */
struct pc_run {
	uint32_t first, n;
};


struct sema_rec;

struct stack_tmpl {
	uint32_t stack_id, user_sp_offset, flags;
	uint32_t first, n;          /* words in tmpl_words */
	uint32_t next;              /* another with the same key, GP_NONE */
	uint32_t scan_off;          /* where the reference scan starts, from
				     * the sp (GP_NONE: no user frame) */
};

/*
 * The reference scan's candidates (GP_SNAPSHOT_REFS), collected by the
 * stack pass from the window it read of each stack, one array per worker:
 * the words of the user's frames that could be a holder's or a waker's
 * evidence (holders.c decides), each with its slot as an offset from the
 * goroutine's sp.
 */
struct gp_refcands {
	uint64_t *vals;
	uint16_t *offs;
	size_t n, cap;
};

/* What a goroutine's candidates are (snap->refs_of[i]): the worker's
 * array, the first and how many, and the part of the stack they cover,
 * [sp + lo, sp + end); GP_REFS_NONE when none were collected (read the
 * stack). The window is at most 2048 bytes: offsets fit 12 bits, counts
 * 9. */
#define GP_CONTAINER_WINDOW 512        /* a struct's address below its field */
#define GP_MAX_SCAN_STACK (1u << 20)   /* bytes of one stack scanned */
#define GP_REFS_NONE UINT64_MAX
#define GP_REFS_MAX_FIRST ((UINT64_C(1) << 30) - 1)
static inline uint64_t gp_refs_tag(uint32_t worker, uint64_t first,
				   uint32_t lo, uint32_t end, uint32_t n)
{
	return (uint64_t)worker << 63 | first << 33 | (uint64_t)lo << 21 |
	       (uint64_t)end << 9 | n;
}
#define GP_REFS_WORKER(t) ((uint32_t)((t) >> 63))
#define GP_REFS_FIRST(t) (((t) >> 33) & GP_REFS_MAX_FIRST)
#define GP_REFS_LO(t) ((uint32_t)((t) >> 21) & 0xfffu)
#define GP_REFS_END(t) ((uint32_t)((t) >> 9) & 0xfffu)
#define GP_REFS_N(t) ((uint32_t)(t) & 0x1ffu)
struct tmpl_word {
	uint64_t value;             /* the return address read there */
	uint32_t offset;            /* from the starting sp */
};

struct gp_snapshot {
	struct gp_program *prog;
	struct gp_strtab strs;

	struct gp_goroutine *gs;
	size_t ngs, gs_cap;
	uint8_t *present;          /* while reading: which gs[] are filled */
	size_t allgs_len;          /* runtime.allgs' length when read */

	/* per-PC symbolisation cache */
	struct gp_addr_map pc_cache;
	struct pc_run *pcruns;
	size_t npcruns, pcruns_cap;
	struct gp_frame *pcframes;
	size_t npcframes, pcframes_cap;

	/* interned stacks */
	struct gp_stack *stacks;
	size_t nstacks, stacks_cap;
	struct gp_frame *frames;
	size_t nframes, frames_cap;
	uint64_t *stackpcs;       /* pc keys of every stack */
	size_t nstackpcs, stackpcs_cap;
	struct gp_index stack_index;

	struct gp_wait *waits;
	size_t nwaits, waits_cap;
	struct gp_thread *threads;
	size_t nthreads;
	struct gp_m *ms;
	size_t nms, ms_cap;
	uint32_t *labels;          /* label sets, see labels.c */
	size_t nlabels, labels_cap;
	struct gp_index labelset_index;
	size_t nlabelsets;
	/* set id by g.labels: a label map is never changed once made, and
	 * goroutines inherit their creator's, so each map is read once */
	struct gp_addr_map ls_by_ptr;

	/* what each of waits is on (semtable.c): the object (hchan, &mu,
	 * &wg, ...), its enum gp_object_kind and the waiter's enum
	 * gp_waiter_role; a select case's role is resolved by the channel
	 * analysis, which reads its queues */
	uint64_t *wait_obj;
	uint8_t *wait_kind;
	uint8_t *wait_role;
	size_t nwait_info;
	struct gp_kv *gmap;        /* (g address, index), sorted, once built */
	size_t ngmap;

	/* GP_SNAPSHOT_REFS: the reference scan's candidates and, per
	 * goroutine, which are its (GP_REFS_NONE: none); freed once the
	 * scan has used them */
	uint32_t options;
	struct gp_refcands refc[2];
	uint64_t *refs_of;

	/* the analyses' state, built above this layer on first use, and
	 * what frees it with the snapshot */
	struct gp_analysis *analysis;
	void (*analysis_destroy)(struct gp_analysis *an);

	uint32_t waitreasons[256];
	uint32_t nwaitreasons;
	struct gp_clock clock;
	int64_t sleeps[16];        /* earliest sleep wake-ups, sorted */
	size_t nsleeps;
	uint32_t sleep_str;
	uint32_t status_str[12];   /* interned gStatusStrings */
	struct gp_addr_map start_cache;   /* startpc -> start_func << 1 | system */
	struct gp_addr_map creator_cache; /* gopc -> creator stack (one frame) */
	struct gp_unwind_cache *ucache;   /* for the snapshot's own thread */
	/* read before the walk (gp_sema_gather, gp_snapshot_clock_gather) */
	struct sema_rec *sema_recs;
	size_t nsema_recs;
	bool sema_gathered;
	struct gp_clock_inputs {
		int64_t last_gc, last_gc_unix, lastpoll, procresize, p_idle,
			polluntil;
	} clock_in;
};

/* Frees the reference scan's candidates (GP_SNAPSHOT_REFS). */
void gp_snapshot_refs_free(struct gp_snapshot *snap);

/* GP_FRAME_WRAPPER / GP_FRAME_RUNTIME of a function (name as in the
 * pclntab, funcid enum gp_funcid): what showfuncinfo (runtime/traceback.go,
 * 1.19-1.27) knows of it without its neighbours, by the Go version. */
uint32_t gp_traceback_flags(int gover, const char *name, uint8_t funcid);

gp_error *gp_snapshot_intern_stack(struct gp_snapshot *snap,
				   const struct gp_unwind_pc *pcs, size_t n,
				   uint32_t *ret);

gp_error *gp_snapshot_read_labels(struct gp_snapshot *snap, uint64_t labels,
				  uint32_t *ret);
gp_error *gp_snapshot_compute_clock(struct gp_snapshot *snap);
/* runtime.allgs's len pointers at array, read a chunk at a time into a
 * buffer grown by what was read (*ret, malloc'd): a len past what the
 * target holds is a read error, never a buffer sized by the word. */
gp_error *gp_read_allgs(const struct gp_memory *mem, uint64_t array,
		       size_t len, uint64_t **ret);

/* semtable.c. Bounds on the table walked. */
#define GP_MAX_SEMA_NODES (64u << 20) /* sudogs in the whole semtable */
#define GP_MAX_TREAP_DEPTH 4096
#define GP_SEMTAB_SIZE 251            /* runtime/sema.go semTabSize */
/* The semaphore table's sudogs, read before the goroutines are walked
 * (a live target may run again after). */
/* The live part of a parked stack, from its sp, that a live process's
 * copy holds (plan.c) and that the snapshot's own reads of a stack after
 * the copy (Cond waiters, semtable.c) look at: the same window, so that a
 * live process and a core of it give the same answers, and the walk needs
 * no second stop. */
#define GP_STACK_WINDOW (32u << 10)

gp_error *gp_semtable_gather(struct gp_snapshot *snap);
/* Once the goroutines are sorted: semaphore and Cond waiters into
 * snap->waits, and what every wait is on (wait_obj, wait_kind,
 * wait_role). */
gp_error *gp_semtable_attribute(struct gp_snapshot *snap);
/* The sync object a wait belongs to (for GP_BY_MUTEX): 0 if the wait is
 * not on a sync object. */
uint64_t gp_wait_sync_object(const struct gp_snapshot *snap, size_t wait);
void gp_snapshot_clock_gather(struct gp_snapshot *snap);

/* ------------------------------------------------- heap.c, heapbits.c */

/* Allocator generations: where an object's pointer map is. */
enum gp_heap_gen {
	GP_HEAP_BITMAP2 = 1,      /* 1.19: 2 bits per word in the arena */
	GP_HEAP_BITMAP1 = 2,      /* 1.20-1.21: 1 bit per word + noMorePtrs */
	GP_HEAP_HEADERS = 3,      /* 1.22+: span heap bits, malloc headers */
};

enum gp_span_flags {
	GP_SPAN_NOSCAN = 1 << 0,
	GP_SPAN_LARGE = 1 << 1,       /* size class 0: one object */
	GP_SPAN_CORRUPT = 1 << 2,     /* fields disagree: no objects, scanned
				       * whole, conservatively; "unknown" */
	GP_SPAN_HEADERS = 1 << 3,     /* objects start with a malloc header */
	GP_SPAN_INLINE_BITS = 1 << 4, /* heap bits at the span's end */
	GP_SPAN_INLINE_MARKS = 1 << 5,/* GreenTea's mark bits before them */
	GP_SPAN_USER_ARENA = 1 << 6,
	GP_SPAN_CONSERVATIVE = 1 << 7,/* its objects are scanned word by word */
};

/* An in-use span: slot i at base + i * elemsize, i < nelems. */
struct gp_span {
	uint64_t base, limit, end;    /* objects end at limit; pages at end */
	uint64_t mspan;               /* the runtime.mspan */
	uint64_t specials;
	uint64_t large_type;          /* 1.22+ size class 0 */
	uint64_t bits;                /* 1.22+ heap bits in the span */
	uint64_t allocbits;
	uint64_t elemsize;
	uint32_t nelems, freeindex;
	uint32_t first;               /* object id of slot 0 */
	uint32_t divmul;              /* 2^32 / elemsize rounded up, 0: none
				       * (gp_heap_find's divide) */
	uint8_t spanclass, flags;
};

struct gp_heap_arena {
	uint64_t base;                /* 64 MiB aligned */
	uint64_t ha;                  /* its runtime.heapArena, 0 if unknown */
	uint32_t *pages;              /* span index + 1 per 8 KiB page */
};

struct gp_type_rec {
	uint64_t addr, size, ptrbytes;
	size_t mask_off;              /* ptrbytes / 8 bits in the pool */
	uint32_t error;
};

struct gp_types {
	struct gp_addr_map map;       /* type address -> recs index */
	struct gp_type_rec *recs;
	size_t n, cap;
	uint8_t *pool;
	size_t pool_len, pool_cap;
};

#define GP_HEAP_MAX_NOTES 16
#define GP_HEAP_WINDOW 512            /* words scanned at a time */

struct gp_heap {
	struct gp_program *prog;
	enum gp_heap_gen gen;
	struct gp_span *spans;        /* sorted by base */
	size_t nspans;
	struct gp_heap_arena *arenas; /* sorted by base */
	size_t narenas;
	uint64_t lo, hi;              /* the arenas' extent */
	/* arena index + 1 (0: none) per 64 MiB from lo, when the extent is
	 * a few thousand arenas at most (NULL: arenas searched) */
	uint32_t *arena_idx;
	uint32_t nobjects;            /* slots of all spans */
	uint8_t *alloc;               /* allocated bit per object id */
	struct gp_types types;
	/* what could not be trusted: counts, and the first few */
	size_t nproblems, nconservative, nunreadable;
	/* in-use spans left out (unreadable, implausible, outside the
	 * heap's arenas): wherever they really were, an address in the
	 * arenas but in no span may be one of their objects ("unknown") */
	size_t ndropped;
	struct gp_heap_note {
		uint64_t addr;
		char what[96];
	} notes[GP_HEAP_MAX_NOTES];
	size_t nnotes;
};

struct gp_object {
	uint64_t base, size;
	uint32_t id;                  /* GP_NONE in a corrupt span */
	uint32_t span;
};

enum gp_heap_where {
	GP_HEAP_NOT = 0,              /* not a heap object: global, stack,
				       * outside the arenas, a span's tail */
	GP_HEAP_OBJECT = 1,           /* an allocated slot */
	GP_HEAP_FREE = 2,             /* a slot not allocated */
	GP_HEAP_UNKNOWN = 3,          /* in a corrupt span */
};

/* The heap of prog: every in-use span of mheap_.allspans. Fails only
 * when there is no heap to read at all; bad spans are kept as corrupt. */
gp_error *gp_heap_open(struct gp_program *prog, struct gp_heap **ret);
void gp_heap_destroy(struct gp_heap *h);
void gp_heap_note(struct gp_heap *h, uint64_t addr, const char *what);
struct gp_heap_arena *gp_heap_arena_of(const struct gp_heap *h,
				       uint64_t addr);
const struct gp_span *gp_heap_span_of(const struct gp_heap *h,
				      uint64_t addr);
/* The slot holding addr (findObject: interior pointers included). */
enum gp_heap_where gp_heap_find(const struct gp_heap *h, uint64_t addr,
				struct gp_object *ret);
bool gp_heap_object_of(const struct gp_heap *h, uint32_t id,
		       struct gp_object *ret);
static inline bool gp_heap_allocated(const struct gp_heap *h, uint32_t id)
{
	return h->alloc[id >> 3] >> (id & 7) & 1;
}

typedef void gp_heap_visit_fn(void *arg, uint64_t where, uint64_t value);
/* visit(arg, word address, value) for each non-zero pointer word of the
 * object [obj, obj + size) in span s (s NULL or corrupt: every word). */
gp_error *gp_heap_scan_object(struct gp_heap *h, const struct gp_span *s,
			      uint64_t obj, uint64_t size,
			      gp_heap_visit_fn *visit, void *arg,
			      bool *ret_conservative);
/* The same, changing nothing of h, so that threads may scan at once:
 * &gp_heap_shared_again when the scan would have to (a type its cache
 * does not hold yet, a word it cannot read, pointer bits it cannot
 * trust: each noted or counted in h), before or after visits; the
 * object is then for gp_heap_scan_object, whose visits replace these. */
extern struct gp_error gp_heap_shared_again;
gp_error *gp_heap_scan_object_shared(const struct gp_heap *h, const struct gp_span *s,
				     uint64_t obj, uint64_t size,
				     gp_heap_visit_fn *visit, void *arg);
/* The object's pointer bits, elemsize / 8 of them, malloc'd. */
gp_error *gp_heap_object_mask(struct gp_heap *h, const struct gp_span *s,
			      uint64_t obj, uint8_t **ret,
			      bool *ret_conservative);
/* A type's size and pointer mask (cached; the mask is in h->types.pool);
 * an error, nothing read past the header, for a type of more than
 * max_size bytes (the object it is the type of). */
gp_error *gp_heap_type(struct gp_heap *h, uint64_t type, uint64_t max_size,
		       const struct gp_type_rec **ret);
void gp_types_deinit(struct gp_types *t);
/* The name of the runtime type at type ("main.Order"), interned; 0 when
 * it cannot be read (not an error). */
gp_error *gp_type_name(const struct gp_program *prog, struct gp_strtab *strs,
		       uint64_t type, uint32_t *ret);
/* runtime.runGCProg into out (zeroed, nbits bits). */
gp_error *gp_run_gcprog(const uint8_t *prog, size_t len, uint8_t *out,
			uint64_t nbits);

/* ---------------------------------------------------- mark.c, roots.c */

struct gp_mark_stats {
	uint64_t marked, scanned_bytes;
	uint32_t roots, stacks, frames, conservative_frames, stack_errors;
	uint32_t specials, finalizers_queued;
	uint32_t unscanned_stacks;    /* bounds no stack has, or unreadable */
	/* chunks scanned on two threads, and units of them done over on
	 * one (mark.c) */
	uint32_t par_chunks, par_again;
};

/* How an object was first reached: a root (for retention paths). */
enum gp_root_kind {
	GP_ROOT_DATA = 1,             /* a global in .data */
	GP_ROOT_BSS = 2,              /* a global in .bss */
	GP_ROOT_STACK = 3,            /* a goroutine's frame (precise) */
	GP_ROOT_STACK_CONSERVATIVE = 4,
	GP_ROOT_REGISTERS = 5,        /* a running thread's registers */
	GP_ROOT_FINALIZER = 6,        /* a finalizer special (fn or object) */
	GP_ROOT_CLEANUP = 7,
	GP_ROOT_WEAK = 8,
	GP_ROOT_FINQ = 9,             /* a queued finalizer or cleanup */
	GP_ROOT_GOROUTINE = 10,       /* g.sched.ctxt, its defers */
	GP_ROOT_CORRUPT_SPAN = 11,    /* found in a span scanned whole */
};

struct gp_root_hit {
	uint64_t slot;                /* where the pointer was (0 registers) */
	uint32_t kind;                /* enum gp_root_kind */
	uint32_t goroutine;           /* snapshot index, GP_NONE */
};

/* A stack object of the goroutine being scanned (stackScanState). */
struct gp_stack_obj {
	uint64_t addr, size, ptrbytes;
	uint64_t gcdata;              /* its mask (or GC program) */
	bool prog;                    /* gcdata is a GC program (<= 1.23) */
	bool scanned;
};

/* What the mark pass knows of one pc's frame (cached). */
struct gp_frame_info {
	uint64_t pc;                  /* 0: empty */
	struct gp_func fn;
	int32_t delta;
	int32_t args;                 /* _func.args */
	const uint8_t *locals;        /* the bitmap at pc, NULL if none */
	uint32_t nlocals;             /* bits */
	const uint8_t *argmap;
	uint32_t nargs;
	const uint8_t *objs;          /* stack object records */
	uint32_t nobjs;
	uint32_t flags;               /* FRAME_* of mark.c */
};

#define GP_FRAME_CACHE_SLOTS 4096

struct gp_mark {
	struct gp_heap *h;
	struct gp_snapshot *snap;
	uint8_t *bits;                /* marked, per object id */
	uint32_t *parent;             /* object id, or nobjects + hit index */
	uint8_t *span_reached;        /* corrupt spans reached, per span */
	struct gp_mark_item {
		uint32_t id, span;
	} *stack;                     /* a queue: [head, nstack) to scan */
	size_t head, nstack, stack_cap;
	uint32_t *spans_todo;         /* corrupt spans to scan whole */
	size_t nspans_todo, spans_todo_cap;
	struct gp_root_hit *hits;
	size_t nhits, hits_cap;
	/* where pointers come from now: an object, else a root */
	uint32_t cur;
	struct gp_root_hit cur_root;
	bool cur_conservative;        /* free slots are not pointed at */
	/* words not followed (the leak detector's hidden sudog fields) */
	size_t nhidden;
	uint8_t *obj_hidden;          /* 2 bits per object id (gp_mark_hide) */
	uint64_t hidden_offs[2];      /* codes 1 and 2: the word's offset */
	uint32_t nhidden_offs;
	struct gp_addr_map hidden;    /* code 3, and words in no object */
	bool hidden_outside;          /* a hidden word in no heap object */
	uint32_t cur_span;            /* the span of cur */
	uint64_t cur_base;            /* the address of cur */
	/* the goroutine whose stack is scanned */
	uint64_t stk_lo, stk_hi;
	struct gp_stack_obj *sobjs;
	size_t nsobjs, sobjs_cap;
	struct gp_stack_ptr {
		uint64_t p;
		bool conservative;
	} *sptrs;
	size_t nsptrs, sptrs_cap;
	const uint8_t *sdata;         /* the stack's bytes [sbuf_lo, stk_hi): */
	uint8_t *sbuf;                /* in place, or copied here */
	size_t sbuf_cap;
	uint64_t sbuf_lo;
	struct gp_unwind_pc *pcs;
	struct gp_unwind_cache *ucache;
	struct gp_frame_info *frames; /* GP_FRAME_CACHE_SLOTS, by pc */
	uint64_t rodata;              /* firstmoduledata.rodata */
	bool oom;
	struct gp_trim trim;          /* gp_mark_tick's */
	/* when set, stack_block records the slots the maps call pointers
	 * instead of following them (tests against the runtime's dump) */
	bool recording;
	uint64_t *recorded;
	size_t nrecorded, recorded_cap;
	/* gp_mark_prefetch's and the drain's lookups of what they ask the
	 * CPU for ahead */
	struct gp_memory_hint pf_g, pf_stack;
	struct gp_mark_stats stats;
	/* Two threads (mark.c): a worker's copy lists what it finds
	 * unmarked instead of marking it; again: the unit it scans must be
	 * done over by the one-thread code (it would change shared state) */
	struct gp_mark_found *found;
	size_t nfound, found_cap;
	bool listing, again;
	struct gp_mark_par *par;      /* the second thread, once started */
};

enum gp_mark_state {
	GP_MARK_NOT_HEAP = 0,         /* not in the heap: always reachable */
	GP_MARK_MARKED = 1,
	GP_MARK_UNMARKED = 2,
	GP_MARK_UNKNOWN = 3,          /* in a corrupt span */
};

gp_error *gp_mark_create(struct gp_heap *h, struct gp_snapshot *snap,
			 struct gp_mark **ret);
void gp_mark_destroy(struct gp_mark *m);
/* A word the mark must not follow (the leak detector hides sudog.c and
 * sudog.elem of the goroutines it examines). */
gp_error *gp_mark_hide(struct gp_mark *m, uint64_t word);
/* The roots that do not depend on goroutines: globals of every module,
 * specials (finalizers, weak handles, cleanups), queued finalizers and
 * cleanups (markroot). */
gp_error *gp_mark_global_roots(struct gp_mark *m);
/* One goroutine's roots: its stack (precisely, with the compiler's stack
 * maps and stack objects; conservatively where the runtime is, and for a
 * running goroutine), g.sched.ctxt, its defers (scanstack). */
gp_error *gp_mark_goroutine(struct gp_mark *m, uint32_t goroutine);
/* Asks the CPU for what gp_mark_goroutine(m, goroutine) reads first (the
 * g's words, the top of the stack): called a few goroutines ahead, so
 * that the core's memory is in the cache when that goroutine's turn
 * comes. Reads nothing, changes nothing. */
void gp_mark_prefetch(struct gp_mark *m, uint32_t goroutine);
/* Marks everything reachable from what was marked so far. */
gp_error *gp_mark_drain(struct gp_mark *m);
/*
 * The roots of goroutines gis[0..n), in that order: the same marks,
 * parents and queue as gp_mark_goroutine on each in turn, on two threads
 * when there are enough. With decide, a goroutine's roots are marked
 * only if decide(arg, gi) says so, asked in order on this thread once the
 * roots of those before it are marked; guess(arg, gi), asked on either
 * thread before any of a chunk of them is marked (it may only read the
 * marks), lets its roots be scanned ahead: guess true must mean decide
 * true (decide monotone in the marks: more marked never turns it false).
 */
typedef bool gp_mark_pick_fn(void *arg, uint32_t gi);
gp_error *gp_mark_goroutines(struct gp_mark *m, const uint32_t *gis, size_t n,
			     gp_mark_pick_fn *decide, gp_mark_pick_fn *guess,
			     void *arg);
enum gp_mark_state gp_mark_state_of(const struct gp_mark *m, uint64_t addr);
/* Every object id marked: a bitmap of h->nobjects bits. */
const uint8_t *gp_mark_bits(const struct gp_mark *m);
/* How object id was first reached: *ret_parent is the object id it was
 * found in, or GP_NONE with *ret_root set. false if not marked. */
bool gp_mark_parent(const struct gp_mark *m, uint32_t id,
		    uint32_t *ret_parent, struct gp_root_hit *ret_root);
/* Goroutines whose roots could only be read in part (scanned
 * conservatively instead), and frames scanned conservatively. */
void gp_mark_stats(const struct gp_mark *m, struct gp_mark_stats *ret);
/* Called per object or stack scanned: now and then the core's pages
 * read so far are let go (gp_memory_trim), so that a mark over a heap of
 * many GB stays within a few hundred MB resident. */
void gp_mark_tick(struct gp_mark *m);
/* Frees what only marking needs (the queue, the hidden words, buffers),
 * keeping the bits and how each object was reached (gp_mark_parent):
 * for a mark that is done and kept for its paths. */
void gp_mark_trim(struct gp_mark *m);
/* Whether the stack word at slot of goroutine gi is one its frame's maps
 * call a pointer (a stale word of a reused stack is not). */
bool gp_mark_slot_live(struct gp_mark *m, uint32_t gi, uint64_t slot);

/* mark.c internals shared with roots.c: a pointer found at slot with
 * value v, from the current source (an object, or cur_root). */
void gp_mark_value(struct gp_mark *m, uint64_t slot, uint64_t v);
void gp_mark_visit(void *m, uint64_t slot, uint64_t v);   /* the same */
/* Scans [addr, addr + size) as one block: the words whose bit is set in
 * mask (NULL: every word, conservatively), read from the target. */
void gp_mark_block(struct gp_mark *m, uint64_t addr, uint64_t size,
		   const uint8_t *mask);
void gp_mark_set_root(struct gp_mark *m, uint32_t kind, uint64_t slot,
		      uint32_t goroutine);

#endif /* GP_RUNTIME_H */
