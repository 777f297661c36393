/*
 * target/: the memory and threads of what is examined, and the program
 * (the executable with its runtime layout and pclntab, over a target).
 * A core (core.c), a live process (live.c) or memory supplied by a
 * debugger (callback.c); memory.c reads them all the same way.
 */
#ifndef GP_TARGET_H
#define GP_TARGET_H

#include "binary/binary.h"

/* --------------------------------------------------------------- memory.c */

/*
 * The target's memory as a list of layers, searched in order, over a
 * reader for what no layer holds (drgn's model: each segment holds mapped
 * bytes or is read by a function). A core: the core's PT_LOADs, then the
 * executable's PT_LOADs (Go cores lack text, rodata and the pclntab). A
 * live process or a debugger's memory: the executable's read-only
 * segments, then each copy taken while the process was stopped, then the
 * reader (/proc/PID/mem or the debugger's callback). A segment may hold
 * file bytes for only a prefix (filesz < memsz): for the executable the
 * rest is zero (bss); for a core the rest is absent and the search falls
 * through to the next layer.
 */
struct gp_memory_layer {
	struct gp_segment *segs;  /* sorted by start, non-overlapping */
	size_t nsegs;
	bool borrowed;            /* segs belong to another (the executable) */
	/* When the segments' data lie in a mapping of a file (a core), the
	 * file and the mapping's base: batch reads read the mapping in place
	 * by file offset, the pager reads the file with read(2). */
	int fd;
	const uint8_t *base;
};

#define GP_MEMORY_LAYERS 16

struct gp_memory {
	struct gp_memory_layer layers[GP_MEMORY_LAYERS];
	size_t nlayers;
	gp_read_fn *read_fn;      /* the last layer: reads the rest */
	void *read_arg;
	/* The address ranges read_fn answers (a live process's mappings:
	 * segments without data), when known. */
	struct gp_memory_layer mapped;
};

gp_error *gp_memory_layer_add(struct gp_memory_layer *layer,
			      const struct gp_segment *seg);
void gp_memory_layer_sort(struct gp_memory_layer *layer);
/* A free layer, NULL when all GP_MEMORY_LAYERS are taken. */
struct gp_memory_layer *gp_memory_layer_push(struct gp_memory *mem);
void gp_memory_deinit(struct gp_memory *mem);

gp_error *gp_memory_read(const struct gp_memory *mem, uint64_t address,
			 void *buf, size_t size);
/* A direct pointer to size bytes when they are in one mapped segment:
 * a shortcut only, never the only way (see gp_memory_view). */
const uint8_t *gp_memory_ptr(const struct gp_memory *mem, uint64_t address,
			     size_t size);
/* gp_memory_ptr's answer, found sooner when addresses come in ascending
 * order, or near one another: the hint (zeroed at first, one per caller)
 * names the segment each layer answered last. */
struct gp_memory_hint {
	size_t seg[GP_MEMORY_LAYERS];
};
const uint8_t *gp_memory_ptr_near(const struct gp_memory *mem,
				  uint64_t address, size_t size,
				  struct gp_memory_hint *hint);
/*
 * The one way analyses look at target bytes: [address, address + size)
 * in place when one segment maps them all, else read into *buf (grown as
 * needed, *cap its size; the caller frees *buf). Faults as gp_memory_read
 * does, whatever the target: a core, a live process or a debugger's
 * memory give the same bytes.
 */
gp_error *gp_memory_view(const struct gp_memory *mem, uint64_t address,
			 size_t size, uint8_t **buf, size_t *cap,
			 const uint8_t **ret);
/* Whether address is memory of the target worth reading: held by a
 * layer, or in the reader's known mappings (any address when they are
 * unknown: a debugger's memory). A yes promises no successful read. */
bool gp_memory_holds(const struct gp_memory *mem, uint64_t address,
		     size_t size);
/* Whether every byte of [address, address + size) is held (by the
 * layers, a segment after another, or the reader's known mappings, as
 * gp_memory_holds): a buffer sized by a word from the target is
 * allocated only when this says the target has the bytes to fill it. */
bool gp_memory_covers(const struct gp_memory *mem, uint64_t address,
		      uint64_t size);
/*
 * For passes that read a mapped core out of order (the mark), to keep the
 * resident size bounded: the bytes of file pages resident in this process
 * (/proc/self/statm; 0 if unknown), and letting every page of the core's
 * mapping go (MADV_DONTNEED: they come back from the page cache on the
 * next read; the mapping is never written). No-op for other targets.
 */
uint64_t gp_memory_file_resident(void);
void gp_memory_release_all(const struct gp_memory *mem);
/* Both, for a loop of random reads: called once per item, it lets the
 * core's pages go at the first call, then whenever the file pages
 * resident have grown by more than 16 MiB (GOPARKED_MARK_RESIDENT_MB). */
struct gp_trim {
	uint64_t base;            /* file pages resident at the first call */
	uint32_t tick;
	bool started;
};
void gp_memory_trim_tick(const struct gp_memory *mem, struct gp_trim *t);
/* n ticks at once: an item that maps more of the core than one object
 * (a goroutine: its g and its stack, a large folio of the page cache
 * each) is checked for more often. */
void gp_memory_trim_ticks(const struct gp_memory *mem, struct gp_trim *t,
			  uint32_t n);
/* The same from either of two threads on one gp_trim, started first by
 * gp_memory_trim_ticks(mem, t, 0) on one thread: the ticks are counted
 * once for both, so the pages are checked for (and let go) as often as
 * one thread would, by whichever thread is scanning. */
void gp_memory_trim_ticks_shared(const struct gp_memory *mem, struct gp_trim *t,
				 uint32_t n);
/* gp_memory_read as a gp_read_fn; mem is the struct gp_memory. */
gp_error *gp_memory_read_fn(void *mem, uint64_t address, void *buf,
			     size_t size);
gp_error *gp_memory_read_u64(const struct gp_memory *mem, uint64_t address,
			     uint64_t *ret);
gp_error *gp_memory_read_u32(const struct gp_memory *mem, uint64_t address,
			     uint32_t *ret);
/*
 * Batch reads: the engine first collects what it needs (every g, then the
 * top of every stack), then reads it in file order, in large chunks, with
 * a second thread faulting in the pages ahead of fn, in order, and
 * unmapping them behind it (memory.c). fn is called once per request, in file order
 * (not request order), with the bytes or with data NULL and the error if
 * they cannot be read; it returns an error to stop. Requests are reordered.
 */
struct gp_read_req {
	uint64_t address;
	uint32_t size;
	uint32_t tag;             /* the caller's */
	uint64_t key;             /* internal: sort key */
};
typedef gp_error *gp_batch_fn(void *arg, const struct gp_read_req *req,
			      const uint8_t *data, gp_error *err);
gp_error *gp_memory_read_batch(const struct gp_memory *mem,
			       struct gp_read_req *reqs, size_t n,
			       gp_batch_fn *fn, void *arg);
/* The same, when fn fills records out[tag] (stride bytes each, n of
 * them) of fresh memory: the pages of the records a chunk fills are
 * faulted in with the chunk's, by the thread ahead (a fresh page costs
 * as much as decoding the records on it). */
struct gp_batch_out {
	void *base;
	size_t stride, n;
};
gp_error *gp_memory_read_batch_out(const struct gp_memory *mem,
				   struct gp_read_req *reqs, size_t n,
				   gp_batch_fn *fn, void *arg,
				   const struct gp_batch_out *out);
/* The same on two cores: a second thread decodes chunks too, calling
 * fn(arg2, ...) while the caller calls fn(arg, ...) on others; fn must be
 * safe for that. Without arg2 (or a mapped core) it is the above. */
gp_error *gp_memory_read_batch_par(const struct gp_memory *mem,
				   struct gp_read_req *reqs, size_t n,
				   gp_batch_fn *fn, void *arg, void *arg2,
				   const struct gp_batch_out *out);

/*
 * Pointer chasing through a core (a list of a million sudogs) with read(2)
 * and a small cache of pages: reading through the mapping instead leaves
 * every page touched mapped, which counts in the process's memory.
 * Addresses outside the core's file fall back to gp_memory_read.
 */
struct gp_pager;
gp_error *gp_pager_create(const struct gp_memory *mem, struct gp_pager **ret);
gp_error *gp_pager_read(struct gp_pager *p, uint64_t address, void *buf,
			size_t size);
void gp_pager_destroy(struct gp_pager *p);

/* Reads a Go string header {ptr,len} at address; len bounded by max. */
gp_error *gp_memory_read_gostring(const struct gp_memory *mem,
				  uint64_t address, size_t max, char **ret);
/* Reads len bytes at ptr into a NUL-terminated malloc'd string. */
gp_error *gp_memory_read_string(const struct gp_memory *mem, uint64_t ptr,
				uint64_t len, size_t max, char **ret);

/* ----------------------------------------------------------------- core.c */

struct gp_thread_regs {
	uint64_t tid;
	uint64_t regs[GP_MAX_REGS];  /* the arch's order (arch.h) */
	int32_t signal;           /* pr_cursig */
	bool crashed;             /* first thread of a core = the faulting one */
};

/* A file mapped into the target (a core's NT_FILE note). */
struct gp_file_map {
	uint64_t start, end;
	uint64_t offset;          /* bytes into the file */
	char *path;
};

struct gp_core {
	char *path;
	const struct gp_arch *arch;
	int fd;
	const uint8_t *map;
	size_t size;
	struct gp_thread_regs *threads;
	size_t nthreads;
	int32_t signal;           /* siginfo of the fatal signal, 0 if unknown */
	int64_t mtime_ns;         /* the core file's mtime, unix ns */
	uint16_t machine;         /* ELF e_machine */
	uint64_t at_entry;        /* NT_AUXV AT_ENTRY, 0 if none */
	struct gp_file_map *files; /* NT_FILE (kernel cores; qemu writes none) */
	size_t nfiles;
};

gp_error *gp_core_open(const char *path, struct gp_core *ret,
		       struct gp_memory_layer *layer);
void gp_core_close(struct gp_core *core);

/* ------------------------------------------------------------ cframes.c */

/* A frame of C code (or of anything without Go's pclntab), unwound and
 * symbolised by libdw. */
struct gp_cframe_info {
	uint64_t pc;
	char func[128];           /* "" if no symbol */
	char file[256];           /* "" if no line table */
	uint32_t line;
	char module[128];         /* the ELF file's name, "" if none */
};

/* The frames of thread tid from registers regs (the arch's order),
 * innermost first, up to the first pc in Go code (the pclntab's) or max;
 * *ret_n gets the count. */
gp_error *gp_c_frames(const struct gp_program *prog, uint64_t tid,
		      const uint64_t *regs, struct gp_cframe_info *frames,
		      size_t max, size_t *ret_n);

/* -------------------------------------------------------------- program.c */

/*
 * What a target does, whatever it is: a core, a live process or a
 * debugger's memory. Its memory is prog->mem (layers over a reader) and
 * its threads' registers prog->threads; these are the rest, each NULL
 * where the target has nothing to do. The constructors (runtime/plan.c)
 * are in one place.
 */
struct gp_read_plan;
struct gp_target_ops {
	const char *kind;         /* "core", "process", "debugger" */
	/* "copy these ranges now" (a live process, while stopped): a new
	 * layer of prog->mem holding them; the plan is sorted and merged */
	gp_error *(*copy)(struct gp_program *prog, struct gp_read_plan *plan,
			  unsigned round);
	/* room for round's copy of about bytes in at most nranges ranges,
	 * before the process stops */
	void (*reserve)(struct gp_program *prog, unsigned round, size_t bytes,
			size_t nranges);
	/* the snapshot has read all it reads but the copies: the process
	 * may run again (GP_ATTACH_RESUME_EARLY), and until walked a read
	 * outside the copies fails */
	gp_error *(*gathered)(struct gp_program *prog);
	/* the walk is over: GP_ERROR_INCOMPLETE if it missed the copies */
	gp_error *(*walked)(struct gp_program *prog);
	/* let it run again (gp_program_resume) */
	gp_error *(*resume)(struct gp_program *prog);
	/* let go of it (detach) and free what is its own */
	void (*close)(struct gp_program *prog);
};

struct gp_program {
	const struct gp_target_ops *ops;
	uint32_t flags;
	struct gp_exe exe;
	struct gp_core core;         /* for cores */
	struct gp_memory mem;
	struct gp_layout layout;
	struct gp_pclntab *pcln;
	int gover;                   /* GP_GOVER(major, minor) */
	char *go_version;
	struct gp_live *live;        /* for live processes (live.c) */
	struct gp_thread_regs *threads; /* thread registers (core or live) */
	size_t nthreads;
	uint64_t pause_ns;
	/* Live targets: CLOCK_MONOTONIC (= the target's nanotime) at the
	 * moment every thread was stopped; 0 for cores and callbacks. */
	int64_t live_now;
	int64_t live_unix_offset;    /* CLOCK_REALTIME - CLOCK_MONOTONIC then */
};

/* Go version, layout and runtime variables of prog->exe (program.c). */
gp_error *gp_program_init_runtime(struct gp_program *prog);

/* The target's operations (program.c): each does nothing where the
 * target has none. */
gp_error *gp_target_gathered(struct gp_program *prog);
gp_error *gp_target_walked(struct gp_program *prog);

/* Field helpers: offset of a declared field, or GP_ABSENT. */
static inline int32_t gp_off(const struct gp_program *p, enum gp_field_id f)
{
	return p->layout.field_off[f];
}
static inline bool gp_has(const struct gp_program *p, enum gp_field_id f)
{
	return p->layout.field_off[f] != GP_ABSENT;
}
/* Offset of whichever of two declarations this version has. */
static inline int32_t gp_off_either(const struct gp_program *p,
				    enum gp_field_id a, enum gp_field_id b)
{
	return gp_has(p, a) ? gp_off(p, a) : gp_off(p, b);
}

/* Field value from a copy of a struct in buf (of buf_size bytes). */
static inline uint64_t gp_field(const struct gp_program *p,
				enum gp_field_id f, const uint8_t *buf,
				size_t buf_size)
{
	int32_t off = p->layout.field_off[f];
	int32_t size = p->layout.field_size[f];
	if (off < 0 || size <= 0 || (size_t)off + (size_t)size > buf_size)
		return 0;
	return gp_load(buf + off, (size_t)size);
}

/* ----------------------------------------------------------------- live.c */

/*
 * Live targets (live.c) and host-supplied memory (callback.c): what the
 * two share.
 */
enum gp_live_mode {
	GP_LIVE_PTRACE = 1,     /* we stopped it with ptrace, we detach */
	GP_LIVE_NO_STOP = 2,    /* a debugger holds it stopped; /proc/PID/mem */
	GP_LIVE_CALLBACK = 3,   /* reads through the host's callback */
};

/* A copy of target memory taken while the target was stopped: one buffer,
 * whose ranges are a layer of the program's memory. */
struct gp_live_copy {
	uint8_t *data;
	size_t size;              /* bytes mapped at data */
	size_t nranges;
};

struct gp_live_tracee {
	int tid;
	int pending_signal;       /* a signal-delivery-stop's signal, to pass on */
	bool stopped;
};

struct gp_live {
	enum gp_live_mode mode;
	int pid;
	int memfd;                /* /proc/PID/mem, -1 if none */
	gp_read_memory_fn *read_cb;
	void *read_cb_arg;
	struct gp_live_tracee *tracees;
	size_t ntracees, tracees_cap;
	bool attached;            /* some tracee still attached */
	int64_t stop_start_ns;    /* CLOCK_MONOTONIC when stopping began */
	/* what the read plan asked for, a copy per round */
	struct gp_live_copy copies[GP_MEMORY_LAYERS - 1];
	/* buffers for the rounds' copies, mapped and faulted in before the
	 * process is stopped (a fresh page costs more than the copy) */
	struct gp_live_spare {
		uint8_t *data;
		size_t size;
		struct gp_segment *segs;  /* room for the copy's ranges */
		size_t nsegs;
	} spare[3];
	size_t misses, miss_bytes;  /* reads the copy did not hold */
	bool resume_early;        /* GP_ATTACH_RESUME_EARLY */
	bool copy_only;           /* resumed early, walk not over: misses fail */
	bool resumed;             /* stopped by us, running again: nothing
				   * more is read of it (one moment only) */
	size_t late_misses;       /* reads refused meanwhile */
	struct gp_thread_regs *threads;
	size_t nthreads;
};

/*
 * A program over the executable at exe_path (runtime layout and pclntab
 * from it) whose memory is read through the live reader: read-only
 * segments of the executable from the file, the rest from the copies,
 * /proc/PID/mem or the callback. Takes ownership of live (freed with the
 * program).
 */
gp_error *gp_live_program_open(const char *exe_path, struct gp_live *live,
			       struct gp_program **ret);

/*
 * The read plan: what the layer above (the snapshot) will read, copied
 * while a live process is stopped, in rounds (a round's ranges may be
 * found from what earlier rounds copied). The target knows nothing of the
 * runtime: it copies what it is asked.
 */
struct gp_plan_range {
	uint64_t start, end;
};
struct gp_read_plan {
	struct gp_plan_range *v;
	size_t n, cap;
};
gp_error *gp_plan_add(struct gp_read_plan *plan, uint64_t start,
		      uint64_t end);
/* The target's "copy these ranges now" and its reserve (gp_target_ops):
 * no-ops for targets that do not change (cores) or cannot be copied (a
 * debugger's memory). */
gp_error *gp_target_copy(struct gp_program *prog, struct gp_read_plan *plan,
			 unsigned round);
void gp_target_reserve(struct gp_program *prog, unsigned round,
		       size_t bytes, size_t nranges);
/* The one who plans, called by gp_live_open: reserve before the process
 * stops, copy once it is stopped (through gp_target_copy). */
struct gp_copy_planner {
	void (*reserve)(struct gp_program *prog);
	gp_error *(*copy)(struct gp_program *prog);
};

/* The constructors of the target layer (runtime/plan.c exports them). */
gp_error *gp_core_program_open(const char *core_path, const char *exe_path,
			       struct gp_program **ret);
gp_error *gp_live_check_flags(uint32_t flags);
gp_error *gp_live_open(int pid, const char *exe_path, uint32_t flags,
		       const struct gp_copy_planner *planner,
		       struct gp_program **ret);
gp_error *gp_callback_program_open(const char *exe_path,
				   gp_read_memory_fn *read, void *arg,
				   struct gp_program **ret);

int64_t gp_live_monotonic_ns(void);

#endif /* GP_TARGET_H */
