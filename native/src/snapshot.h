/* The snapshot's internals, shared by snapshot.c and the analyses. */
#ifndef GP_SNAPSHOT_H
#define GP_SNAPSHOT_H

#include "internal.h"

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
};
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
	uint32_t *st_table;
	size_t st_cap;

	struct gp_wait *waits;
	size_t nwaits, waits_cap;
	struct gp_thread *threads;
	size_t nthreads;
	struct gp_m *ms;
	size_t nms, ms_cap;
	uint32_t *labels;          /* label sets, see labels.c */
	size_t nlabels, labels_cap;
	uint32_t *ls_table;
	size_t ls_cap, nlabelsets;

	struct gp_analysis *analysis; /* chan.c, sema.c, holders.c, waitgraph.c */

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

gp_error *gp_snapshot_intern_stack(struct gp_snapshot *snap,
				   const struct gp_unwind_pc *pcs, size_t n,
				   uint32_t *ret);

gp_error *gp_snapshot_read_labels(struct gp_snapshot *snap, uint64_t labels,
				  uint32_t *ret);
gp_error *gp_snapshot_compute_clock(struct gp_snapshot *snap);
void gp_snapshot_clock_gather(struct gp_snapshot *snap);

#endif
