/*
 * The GC's roots (runtime/mgcmark.go markroot, markrootSpans, scanstack,
 * scanframeworker; runtime/stkframe.go getStackMap (stack.go in 1.19);
 * runtime/mfinal.go, runtime/mcleanup.go), each marked through mark.c:
 *
 *   globals     [data, edata) and [bss, ebss) of every module with its
 *               pointer mask (moduledata.gcdatamask, gcbssmask: built by
 *               the runtime at start-up, so in the core);
 *   specials    of every in-use span: a finalizer's object is scanned
 *               without being marked, and its function is a root; a weak
 *               handle (1.23+) and a cleanup's function (1.24+) too;
 *   queues      finalizers waiting to run (allfin's blocks, 5 words each:
 *               fn, arg, nret, fint, ot; finptrmask 11011) and cleanups
 *               (gcCleanups' blocks, 1.25+);
 *   goroutines  g.sched.ctxt; every frame of the stack with the compiler's
 *               maps at its pc (locals, arguments and their spill slots),
 *               stack objects only when a pointer reaches them; the frame
 *               of asyncPreempt and debugCallV2 and the frame they
 *               interrupted conservatively; defers (fn, link, the record
 *               itself when on the heap); g._panic. A running goroutine
 *               (the runtime never scans one) is scanned conservatively,
 *               its thread's registers included.
 *
 * Wherever a map is missing or does not fit, the frame is scanned word by
 * word instead (sound: it can only keep more alive), and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define GP_MAX_MODULES 64
#define GP_MAX_SPECIALS (1u << 20)     /* per span */
#define GP_MAX_FINBLOCKS (1u << 20)
#define GP_MAX_DEFERS 100000
#define GP_MAX_STACK_OBJS (1u << 20)
/* The largest goroutine stack the runtime makes (runtime/proc.go main:
 * maxstacksize 1e9 bytes on 64-bit, maxstackceiling twice that for
 * debug.SetMaxStack; stack sizes are powers of two): 1 GiB. Bounds wider
 * than that are not a stack's, and its words are not scanned. */
#define GP_MAX_STACK_SIZE (UINT64_C(1) << 30)
#define ARGS_SIZE_UNKNOWN INT32_MIN    /* abi.ArgsSizeUnknown */

enum {
	FRAME_CONSERVATIVE = 1 << 0,   /* asyncPreempt, debugCallV2 */
	FRAME_BAD_MAP = 1 << 1,        /* a map is missing or out of range */
	FRAME_REFLECT = 1 << 2,        /* args of unknown size */
};

/* ----------------------------------------------------------- globals */

static void mark_segment(struct gp_mark *m, uint32_t kind, uint64_t start,
			 uint64_t end, uint64_t nbits, uint64_t mask_addr)
{
	const struct gp_program *p = m->snap->prog;
	if (end <= start || !mask_addr)
		return;
	uint64_t words = (end - start) / 8;
	if (nbits < words)
		words = nbits;
	/* bounds from a corrupt moduledata: nothing the target lacks is
	 * scanned (a window at a time, each a failed read) */
	if (!gp_memory_covers(&p->mem, start, words * 8)) {
		gp_heap_note(m->h, start, "globals' segment unreadable");
		return;
	}
	/* the mask's length is the moduledata's word: a buffer only for a
	 * mask the target holds */
	uint8_t *mask = NULL;
	if (!gp_memory_covers(&p->mem, mask_addr, (words + 7) / 8) ||
	    !(mask = malloc((size_t)(words + 7) / 8 + 1)) ||
	    gp_failed(gp_memory_read(&p->mem, mask_addr, mask, (size_t)(words + 7) / 8))) {
		/* no mask: every word (sound) */
		gp_heap_note(m->h, mask_addr, "globals' pointer mask unreadable");
		free(mask);
		gp_mark_set_root(m, GP_ROOT_STACK_CONSERVATIVE, start, GP_NONE);
		m->cur_root.kind = kind;
		gp_mark_block(m, start, words * 8, NULL);
		return;
	}
	gp_mark_set_root(m, kind, start, GP_NONE);
	gp_mark_block(m, start, words * 8, mask);
	free(mask);
}

static void mark_globals(struct gp_mark *m)
{
	const struct gp_program *p = m->snap->prog;
	uint64_t md = p->layout.var_addr[GP_V_FIRSTMODULEDATA];
	for (int i = 0; md && i < GP_MAX_MODULES; i++) {
		uint8_t buf[1024];
		int32_t need = gp_off(p, GP_F_MODULEDATA_NEXT) + 8;
		if (need <= 0 || need > (int32_t)sizeof(buf) ||
		    gp_failed(gp_memory_read(&p->mem, md, buf, (size_t)need))) {
			gp_heap_note(m->h, md, "moduledata unreadable");
			return;
		}
#define MD(f) gp_field(p, GP_F_MODULEDATA_##f, buf, sizeof(buf))
		mark_segment(m, GP_ROOT_DATA, MD(DATA), MD(EDATA),
			     (uint64_t)(int64_t)(int32_t)MD(GCDATAMASK_N), MD(GCDATAMASK));
		mark_segment(m, GP_ROOT_BSS, MD(BSS), MD(EBSS),
			     (uint64_t)(int64_t)(int32_t)MD(GCBSSMASK_N), MD(GCBSSMASK));
		md = MD(NEXT);
#undef MD
	}
}

/* ---------------------------------------------------------- specials */

/* The special kinds (mheap.go _KindSpecial*) of this release. */
static void special_kinds(int gover, int *fin, int *weak, int *cleanup)
{
	*fin = gover >= GP_GOVER(1, 25) ? 2 : 1;
	*weak = gover >= GP_GOVER(1, 25) ? 3 : gover >= GP_GOVER(1, 23) ? 2 : -1;
	*cleanup = gover >= GP_GOVER(1, 25) ? 7 : gover >= GP_GOVER(1, 24) ? 6 : -1;
}

static void mark_specials(struct gp_mark *m)
{
	struct gp_heap *h = m->h;
	const struct gp_program *p = m->snap->prog;
	int kfin, kweak, kclean;
	special_kinds(p->gover, &kfin, &kweak, &kclean);
	int32_t o_next = gp_off(p, GP_F_SPECIAL_NEXT);
	int32_t o_off = gp_off(p, GP_F_SPECIAL_OFFSET), s_off = p->layout.field_size[GP_F_SPECIAL_OFFSET];
	int32_t o_kind = gp_off(p, GP_F_SPECIAL_KIND);
	if (o_next < 0 || o_off < 0 || o_kind < 0)
		return;
	for (size_t i = 0; i < h->nspans; i++) {
		const struct gp_span *s = &h->spans[i];
		uint64_t sp = s->specials;
		/* the list is sorted by offset, then kind
		 * (specialFindSplicePoint); a loop is caught by keeping
		 * one record at each power of two steps (Brent) */
		uint64_t prev_key = 0, seen = 0;
		for (uint32_t n = 0; sp && n < GP_MAX_SPECIALS; n++) {
			uint8_t buf[64];
			if (gp_failed(gp_memory_read(&p->mem, sp, buf, sizeof(buf)))) {
				gp_heap_note(h, sp, "special unreadable");
				break;
			}
			uint64_t next = gp_load(buf + o_next, 8);
			uint64_t off = gp_load(buf + o_off, (size_t)s_off);
			int kind = buf[o_kind];
			uint64_t key = off << 8 | (uint8_t)kind;
			if (key < prev_key || sp == seen) {
				gp_heap_note(h, sp, "specials list out of order or looping");
				break;
			}
			prev_key = key;
			if (!(n & (n + 1)))
				seen = sp;
			m->stats.specials++;
			if (kind == kfin) {
				/* gcScanFinalizer: the object, not marked */
				if (!(s->flags & GP_SPAN_CORRUPT) && s->elemsize &&
				    !(s->flags & GP_SPAN_NOSCAN)) {
					uint64_t obj = s->base + off / s->elemsize * s->elemsize;
					gp_mark_set_root(m, GP_ROOT_FINALIZER, sp, GP_NONE);
					gp_heap_scan_object(h, s, obj, s->elemsize,
							    gp_mark_visit, m, NULL);
				}
				uint64_t fn = sp + (uint64_t)gp_off(p, GP_F_SPECIALFINALIZER_FN);
				gp_mark_set_root(m, GP_ROOT_FINALIZER, fn, GP_NONE);
				gp_mark_block(m, fn, 8, NULL);
				m->cur_conservative = false;
			} else if (kind == kweak && gp_has(p, GP_F_SPECIALWEAKHANDLE_HANDLE)) {
				uint64_t w = sp + (uint64_t)gp_off(p, GP_F_SPECIALWEAKHANDLE_HANDLE);
				gp_mark_set_root(m, GP_ROOT_WEAK, w, GP_NONE);
				gp_mark_block(m, w, 8, NULL);
			} else if (kind == kclean) {
				uint64_t w;
				uint64_t size = 8;
				if (gp_has(p, GP_F_SPECIALCLEANUP_CLEANUP)) {
					w = sp + (uint64_t)gp_off(p, GP_F_SPECIALCLEANUP_CLEANUP);
					size = 24; /* cleanupFn{call, fn, arg}: 0b111 */
				} else {
					w = sp + (uint64_t)gp_off(p, GP_F_SPECIALCLEANUP_FN);
				}
				gp_mark_set_root(m, GP_ROOT_CLEANUP, w, GP_NONE);
				gp_mark_block(m, w, size, NULL);
			}
			sp = next;
		}
	}
}

/* allfin's blocks: cnt finalizers {fn, arg, nret, fint, ot}. */
static void mark_finq(struct gp_mark *m)
{
	const struct gp_program *p = m->snap->prog;
	bool old = gp_has(p, GP_F_FINBLOCK_ALLLINK_OLD);
	int32_t o_link = gp_off_either(p, GP_F_FINBLOCK_ALLLINK, GP_F_FINBLOCK_ALLLINK_OLD);
	int32_t o_cnt = gp_off_either(p, GP_F_FINBLOCK_CNT, GP_F_FINBLOCK_CNT_OLD);
	int32_t o_fin = gp_off_either(p, GP_F_FINBLOCK_FIN, GP_F_FINBLOCK_FIN_OLD);
	int64_t fsize = p->layout.type_size[GP_T_FINALIZER];
	int32_t fsz_field = p->layout.field_size[old ? GP_F_FINBLOCK_FIN_OLD : GP_F_FINBLOCK_FIN];
	uint64_t fb = 0;
	if (!p->layout.var_addr[GP_V_ALLFIN] || o_link < 0 || fsize <= 0 ||
	    gp_failed(gp_memory_read_u64(&p->mem, p->layout.var_addr[GP_V_ALLFIN], &fb)))
		return;
	int32_t ptrs[4] = { gp_off(p, GP_F_FINALIZER_FN), gp_off(p, GP_F_FINALIZER_ARG),
			    gp_off(p, GP_F_FINALIZER_FINT), gp_off(p, GP_F_FINALIZER_OT) };
	for (uint32_t n = 0; fb && n < GP_MAX_FINBLOCKS; n++) {
		uint64_t link = 0;
		uint32_t cnt = 0;
		if (gp_failed(gp_memory_read_u64(&p->mem, fb + (uint64_t)o_link, &link)) ||
		    gp_failed(gp_memory_read_u32(&p->mem, fb + (uint64_t)o_cnt, &cnt))) {
			gp_heap_note(m->h, fb, "finalizer block unreadable");
			return;
		}
		if (fsz_field > 0 && (uint64_t)cnt * (uint64_t)fsize > (uint64_t)fsz_field)
			cnt = (uint32_t)((uint64_t)fsz_field / (uint64_t)fsize);
		for (uint32_t k = 0; k < cnt; k++) {
			uint64_t f = fb + (uint64_t)o_fin + (uint64_t)k * (uint64_t)fsize;
			for (int j = 0; j < 4; j++) {
				if (ptrs[j] < 0)
					continue;
				gp_mark_set_root(m, GP_ROOT_FINQ, f + (uint64_t)ptrs[j], GP_NONE);
				gp_mark_block(m, f + (uint64_t)ptrs[j], 8, NULL);
			}
			m->stats.finalizers_queued++;
		}
		fb = link;
	}
	m->cur_conservative = false;
}

/* gcCleanups.all's blocks (1.25+): n entries of *funcval (1.25) or
 * cleanupFn{call, fn, arg} (1.26+), all pointers. */
static void mark_cleanupq(struct gp_mark *m)
{
	const struct gp_program *p = m->snap->prog;
	uint64_t q = p->layout.var_addr[GP_V_GCCLEANUPS], cb = 0;
	if (!q || !gp_has(p, GP_F_CLEANUPQUEUE_ALL) ||
	    gp_failed(gp_memory_read_u64(&p->mem, q + (uint64_t)gp_off(p, GP_F_CLEANUPQUEUE_ALL), &cb)))
		return;
	uint64_t esize = p->gover >= GP_GOVER(1, 26) ? 24 : 8;
	int32_t cap = p->layout.field_size[GP_F_CLEANUPBLOCK_CLEANUPS];
	for (uint32_t n = 0; cb && n < GP_MAX_FINBLOCKS; n++) {
		uint64_t link = 0;
		uint32_t cnt = 0;
		if (gp_failed(gp_memory_read_u64(&p->mem, cb + (uint64_t)gp_off(p, GP_F_CLEANUPBLOCK_ALLLINK), &link)) ||
		    gp_failed(gp_memory_read_u32(&p->mem, cb + (uint64_t)gp_off(p, GP_F_CLEANUPBLOCK_N), &cnt))) {
			gp_heap_note(m->h, cb, "cleanup block unreadable");
			return;
		}
		if (cap > 0 && cnt * esize > (uint64_t)cap)
			cnt = (uint32_t)((uint64_t)cap / esize);
		uint64_t a = cb + (uint64_t)gp_off(p, GP_F_CLEANUPBLOCK_CLEANUPS);
		gp_mark_set_root(m, GP_ROOT_FINQ, a, GP_NONE);
		gp_mark_block(m, a, cnt * esize, NULL);
		cb = link;
	}
	m->cur_conservative = false;
}

gp_error *gp_mark_global_roots(struct gp_mark *m)
{
	mark_globals(m);
	mark_specials(m);
	mark_finq(m);
	mark_cleanupq(m);
	m->stats.roots++;
	return NULL;
}

/* ------------------------------------------------------------ stacks */

static bool stack_word(struct gp_mark *m, uint64_t addr, uint64_t *ret)
{
	if (m->sdata && addr >= m->sbuf_lo && addr + 8 <= m->stk_hi) {
		memcpy(ret, m->sdata + (addr - m->sbuf_lo), 8);
		return true;
	}
	return !gp_failed(gp_memory_read_u64(&m->snap->prog->mem, addr, ret));
}

/* A word of the stack being scanned: a pointer into the stack itself is
 * a stack object's reference (state.putPtr), the rest goes to the heap. */
static void stack_value(struct gp_mark *m, uint64_t slot, uint64_t v,
			bool conservative)
{
	if (v >= m->stk_lo && v < m->stk_hi) {
		if (!gp_grow((void **)&m->sptrs, &m->sptrs_cap, m->nsptrs + 1,
			     sizeof(*m->sptrs)))
			m->sptrs[m->nsptrs++] = (struct gp_stack_ptr){ v, conservative };
		return;
	}
	gp_mark_value(m, slot, v);
}

/* nwords stack words at addr whose bit is set (bitmap NULL: all, and
 * then conservatively). Only words of the goroutine's stack
 * [stk_lo, stk_hi): a frame or stack object reaching past it (corrupt
 * bounds or maps) is cut there. */
static void stack_block(struct gp_mark *m, uint32_t gi, uint64_t addr,
			uint64_t nwords, const uint8_t *bitmap)
{
	bool cons = bitmap == NULL;
	if (addr < m->stk_lo || addr >= m->stk_hi)
		return;
	if (nwords > (m->stk_hi - addr) / 8)
		nwords = (m->stk_hi - addr) / 8;
	if (m->recording) {
		for (uint64_t w = 0; bitmap && w < nwords; w++)
			if ((bitmap[w >> 3] >> (w & 7) & 1) &&
			    !gp_grow((void **)&m->recorded, &m->recorded_cap,
				     m->nrecorded + 1, sizeof(uint64_t)))
				m->recorded[m->nrecorded++] = addr + 8 * w;
		return;
	}
	gp_mark_set_root(m, cons ? GP_ROOT_STACK_CONSERVATIVE : GP_ROOT_STACK,
			 addr, gi);
	for (uint64_t w = 0; w < nwords; w++) {
		if (bitmap && !(bitmap[w >> 3] >> (w & 7) & 1))
			continue;
		uint64_t v;
		if (stack_word(m, addr + 8 * w, &v) && v)
			stack_value(m, addr + 8 * w, v, cons);
	}
}

/* A stackmap {n, nbit int32; bytedata}: bitmap idx, or NULL with *bad. */
static const uint8_t *stackmap_bits(const uint8_t *p, size_t avail,
				    int32_t idx, uint32_t *ret_nbit, bool *bad)
{
	*ret_nbit = 0;
	if (!p || avail < 8) {
		*bad = true;
		return NULL;
	}
	int32_t n = (int32_t)gp_load(p, 4), nbit = (int32_t)gp_load(p + 4, 4);
	if (n <= 0 || nbit < 0) {
		*bad = true;
		return NULL;
	}
	if (nbit == 0)
		return NULL;
	uint64_t row = ((uint64_t)nbit + 7) / 8;
	if (idx < 0 || idx >= n || 8 + row * (uint64_t)(idx + 1) > avail) {
		*bad = true;
		return NULL;
	}
	*ret_nbit = (uint32_t)nbit;
	return p + 8 + row * (uint64_t)idx;
}

/* What the stack maps say at pc (runtime getStackMap), cached by pc. */
static const struct gp_frame_info *frame_info(struct gp_mark *m, uint64_t pc)
{
	const struct gp_pclntab *tab = m->snap->prog->pcln;
	size_t slot = (size_t)((pc * UINT64_C(0x9e3779b97f4a7c15)) >> 52) &
		      (GP_FRAME_CACHE_SLOTS - 1);
	struct gp_frame_info *fi = &m->frames[slot];
	if (fi->pc == pc)
		return fi;
	memset(fi, 0, sizeof(*fi));
	if (!gp_pclntab_find_func(tab, pc, &fi->fn)) {
		fi->flags = FRAME_BAD_MAP;
		fi->pc = pc;
		return fi;
	}
	if (fi->fn.funcid == GP_FUNCID_ASYNCPREEMPT ||
	    fi->fn.funcid == GP_FUNCID_DEBUGCALLV2)
		fi->flags |= FRAME_CONSERVATIVE;
	int32_t idx = -1;
	if (pc != fi->fn.entry)
		idx = gp_pclntab_pcdata(tab, &fi->fn, GP_PCDATA_STACKMAPINDEX, pc - 1);
	if (idx == -1)
		idx = 0; /* the prologue: the entry map */
	uint64_t addr;
	size_t avail = 0;
	bool bad = false;
	const uint8_t *p = gp_pclntab_funcdata(tab, &fi->fn, GP_FUNCDATA_LOCALSPOINTERMAPS,
					       &addr, &avail);
	bool bad_locals = false;
	fi->locals = stackmap_bits(p, avail, idx, &fi->nlocals, &bad_locals);
	if (bad_locals && p)
		bad = true;
	if (!p)
		fi->nlocals = UINT32_MAX; /* no map: only an error if there are locals */
	fi->args = gp_pclntab_func_args(tab, &fi->fn);
	if (fi->args == ARGS_SIZE_UNKNOWN) {
		fi->flags |= FRAME_REFLECT;
	} else if (fi->args > 0) {
		avail = 0;
		p = gp_pclntab_funcdata(tab, &fi->fn, GP_FUNCDATA_ARGSPOINTERMAPS, &addr, &avail);
		fi->argmap = stackmap_bits(p, avail, idx, &fi->nargs, &bad);
	}
	avail = 0;
	p = gp_pclntab_funcdata(tab, &fi->fn, GP_FUNCDATA_STACKOBJECTS, &addr, &avail);
	if (p && avail >= 8) {
		uint64_t n = gp_load(p, 8);
		if (n > (avail - 8) / 16 || n > GP_MAX_STACK_OBJS)
			bad = true;
		else {
			fi->objs = p + 8;
			fi->nobjs = (uint32_t)n;
		}
	}
	if (bad)
		fi->flags |= FRAME_BAD_MAP;
	fi->pc = pc;
	return fi;
}

static void add_stack_obj(struct gp_mark *m, uint64_t ptr, const uint8_t *r)
{
	const struct gp_program *p = m->snap->prog;
	int32_t size = (int32_t)gp_load(r + 4, 4);
	int32_t ptrdata = (int32_t)gp_load(r + 8, 4);
	uint32_t gcdataoff = (uint32_t)gp_load(r + 12, 4);
	if (size <= 0 || ptr + (uint64_t)size > m->stk_hi ||
	    gp_grow((void **)&m->sobjs, &m->sobjs_cap, m->nsobjs + 1, sizeof(*m->sobjs)))
		return;
	struct gp_stack_obj *o = &m->sobjs[m->nsobjs++];
	memset(o, 0, sizeof(*o));
	o->addr = ptr;
	o->size = (uint64_t)size;
	/* 1.19-1.23: a negative ptrdata means a GC program (useGCProg) */
	o->prog = ptrdata < 0 && p->gover < GP_GOVER(1, 24);
	o->ptrbytes = (uint64_t)(ptrdata < 0 ? -(int64_t)ptrdata : ptrdata);
	if (o->ptrbytes > o->size)
		o->ptrbytes = o->size;
	o->gcdata = m->rodata + gcdataoff;
}

static int sobj_cmp(const void *a, const void *b)
{
	const struct gp_stack_obj *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The stack objects pointers reached (scanstack's loop over
 * state.getPtr), precise pointers first. */
static void scan_stack_objects(struct gp_mark *m, uint32_t gi)
{
	const struct gp_program *p = m->snap->prog;
	if (!m->nsobjs || m->recording)
		return;
	gp_qsort(m->sobjs, m->nsobjs, sizeof(*m->sobjs), sobj_cmp);
	for (size_t guard = 0; m->nsptrs && guard < 4 * GP_MAX_STACK_OBJS; guard++) {
		/* precise before conservative */
		size_t pick = m->nsptrs - 1;
		for (size_t i = m->nsptrs; i > 0; i--)
			if (!m->sptrs[i - 1].conservative) {
				pick = i - 1;
				break;
			}
		struct gp_stack_ptr sp = m->sptrs[pick];
		m->sptrs[pick] = m->sptrs[--m->nsptrs];
		size_t lo = 0, hi = m->nsobjs;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (m->sobjs[mid].addr <= sp.p)
				lo = mid;
			else
				hi = mid;
		}
		struct gp_stack_obj *o = &m->sobjs[lo];
		if (o->scanned || sp.p < o->addr || sp.p >= o->addr + o->size)
			continue;
		o->scanned = true;
		uint64_t nwords = o->ptrbytes / 8;
		if (!nwords)
			continue;
		uint8_t *mask = calloc((size_t)(nwords + 7) / 8 + 1, 1);
		if (!mask)
			return;
		bool ok;
		if (o->prog) {
			/* materializeGCProg: a uint32 length, the program */
			uint32_t len = 0;
			uint8_t *prog = NULL;
			ok = !gp_failed(gp_memory_read_u32(&p->mem, o->gcdata, &len)) &&
			     len <= (1u << 20) && (prog = malloc(len + 1)) &&
			     !gp_failed(gp_memory_read(&p->mem, o->gcdata + 4, prog, len));
			if (ok) {
				gp_error *e = gp_run_gcprog(prog, len, mask, nwords);
				ok = !e;
				gp_error_destroy(e);
			}
			free(prog);
		} else {
			ok = !gp_failed(gp_memory_read(&p->mem, o->gcdata, mask, (size_t)(nwords + 7) / 8));
		}
		stack_block(m, gi, o->addr, nwords, ok && !sp.conservative ? mask : NULL);
		free(mask);
	}
}

/* Reads the goroutine's stack [lo, hi) for the frames' words; false when
 * it cannot be read whole (its first and last words are tried first, so
 * that bounds into memory the target lacks allocate nothing). */
static bool read_stack(struct gp_mark *m, uint64_t lo, uint64_t hi)
{
	const struct gp_program *p = m->snap->prog;
	uint64_t w;
	m->sbuf_lo = hi;
	m->sdata = NULL;
	if (hi <= lo || hi - lo > GP_MAX_STACK_SIZE)
		return false;
	/* in place when the target maps it whole (a core): no copy */
	if ((m->sdata = gp_memory_ptr_near(&p->mem, lo, (size_t)(hi - lo), &m->pf_stack))) {
		m->sbuf_lo = lo;
		return true;
	}
	if (gp_failed(gp_memory_read_u64(&p->mem, lo, &w)) ||
	    gp_failed(gp_memory_read_u64(&p->mem, hi - 8, &w)))
		return false;
	if (gp_failed(gp_memory_view(&p->mem, lo, (size_t)(hi - lo), &m->sbuf,
				     &m->sbuf_cap, &m->sdata))) {
		m->sdata = NULL;
		return false;
	}
	m->sbuf_lo = lo;
	return true;
}

/* A stack the mark could not scan: what only it reaches is not marked,
 * so no unreached goroutine is proven leaked (verdict.c). */
static void stack_unscanned(struct gp_mark *m, uint64_t g, const char *what)
{
	if (m->listing) {
		m->again = true; /* the note is the heap's: done over unshared */
		return;
	}
	m->stats.stack_errors++;
	m->stats.unscanned_stacks++;
	gp_heap_note(m->h, g, what);
}

static void scan_defers(struct gp_mark *m, uint32_t gi, uint64_t d)
{
	const struct gp_program *p = m->snap->prog;
	int32_t o_fn = gp_off(p, GP_F_DEFER_FN), o_link = gp_off(p, GP_F_DEFER_LINK),
		o_heap = gp_off(p, GP_F_DEFER_HEAP);
	for (uint32_t n = 0; d && n < GP_MAX_DEFERS; n++) {
		uint64_t fn = 0, link = 0;
		uint8_t heap = 0;
		if (gp_failed(gp_memory_read_u64(&p->mem, d + (uint64_t)o_fn, &fn)) ||
		    gp_failed(gp_memory_read_u64(&p->mem, d + (uint64_t)o_link, &link)) ||
		    gp_failed(gp_memory_read(&p->mem, d + (uint64_t)o_heap, &heap, 1))) {
			m->stats.stack_errors++;
			return;
		}
		gp_mark_set_root(m, GP_ROOT_GOROUTINE, d, gi);
		if (fn)
			stack_value(m, d + (uint64_t)o_fn, fn, false);
		if (link)
			stack_value(m, d + (uint64_t)o_link, link, false);
		if (heap)
			gp_mark_value(m, d, d);
		d = link;
	}
}

/* The g's bytes gp_mark_goroutine reads: to its last word of sched.ctxt,
 * _defer and _panic. */
static int32_t g_need(const struct gp_program *p)
{
	int32_t gneed = gp_off(p, GP_F_G_PANIC) > gp_off(p, GP_F_G_DEFER) ?
				gp_off(p, GP_F_G_PANIC) : gp_off(p, GP_F_G_DEFER);
	if (gp_off(p, GP_F_G_SCHED_CTXT) > gneed)
		gneed = gp_off(p, GP_F_G_SCHED_CTXT);
	return gneed + 8;
}

#define PREFETCH_STACK 512u   /* a parked goroutine's frames, mostly */

void gp_mark_prefetch(struct gp_mark *m, uint32_t gi)
{
	const struct gp_snapshot *snap = m->snap;
	const struct gp_memory *mem = &snap->prog->mem;
	if (gi >= snap->ngs || mem->read_fn)
		return;
	const struct gp_goroutine *g = &snap->gs[gi];
	if (g->status == GP_STATUS_DEAD || g->status == GP_STATUS_IDLE)
		return;
	int32_t gneed = g_need(snap->prog);
	const uint8_t *q = gneed > 8 ?
		gp_memory_ptr_near(mem, g->address, (size_t)gneed, &m->pf_g) : NULL;
	for (int32_t off = 0; q && off < gneed; off += 64)
		__builtin_prefetch(q + off);
	if (g->sp < g->stack_lo || g->sp >= g->stack_hi)
		return;
	uint64_t n = g->stack_hi - g->sp;
	if (n > PREFETCH_STACK)
		n = PREFETCH_STACK;
	q = gp_memory_ptr_near(mem, g->sp, (size_t)n, &m->pf_stack);
	for (uint64_t off = 0; q && off < n; off += 64)
		__builtin_prefetch(q + off);
	if (q && g->stack_hi - g->sp > n)
		__builtin_prefetch(q + (g->stack_hi - 8 - g->sp));
}

gp_error *gp_mark_goroutine(struct gp_mark *m, uint32_t gi)
{
	struct gp_snapshot *snap = m->snap;
	const struct gp_program *p = snap->prog;
	if (gi >= snap->ngs)
		return NULL;
	const struct gp_goroutine *g = &snap->gs[gi];
	if (g->status == GP_STATUS_DEAD || g->status == GP_STATUS_IDLE)
		return NULL;
	m->stats.stacks++;
	/* a goroutine maps its g and its stack (up to a large folio of
	 * the page cache each, 64 KiB and more): checked every 128, not
	 * every 1024 (heapcore's proof had 120 MB of the core mapped) */
	if (!m->listing) /* gp_mark_goroutines ticks for its workers */
		gp_memory_trim_ticks(&p->mem, &m->trim, 8);
	m->stk_lo = g->stack_lo;
	m->stk_hi = g->stack_hi;
	m->nsobjs = m->nsptrs = 0;
	const struct gp_arch *arch = gp_pclntab_arch(p->pcln);
	bool lr = arch && arch->uses_lr;
	/* the g's own words (sched.ctxt, _defer, _panic) */
	uint8_t gbuf[1024];
	int32_t gneed = g_need(p);
	/* (nothing to read when the snapshot saw them all nil) */
	bool have_g = !(g->flags & GP_G_NO_G_ROOTS) &&
		      gneed > 8 && gneed <= (int32_t)sizeof(gbuf) &&
		      !gp_failed(gp_memory_read(&p->mem, g->address, gbuf, (size_t)gneed));
	uint64_t start_sp = g->sp;
	bool running = g->status == GP_STATUS_RUNNING || g->status == GP_STATUS_COPYSTACK;
	if (running && g->thread >= 0 && (size_t)g->thread < p->nthreads) {
		/* the registers, and the stack from the thread's sp when it
		 * is on this goroutine's stack */
		const struct gp_thread_regs *r = &p->threads[g->thread];
		gp_mark_set_root(m, GP_ROOT_REGISTERS, 0, gi);
		/* the thread's registers, and those of every context its
		 * signal handlers interrupted: after GOTRACEBACK=crash the
		 * thread is in a handler and the goroutine's registers are
		 * in the ucontext */
		uint64_t sig[4][GP_MAX_REGS];
		size_t nsig = arch ? gp_thread_signal_regs(p, r, sig, 4) : 0;
		for (size_t k = 0; k <= nsig; k++) {
			const uint64_t *regs = k ? sig[k - 1] : r->regs;
			for (uint32_t i = 0; arch && i < arch->nregs && i < GP_MAX_REGS; i++)
				stack_value(m, 0, regs[i], true);
			uint64_t tsp = arch ? regs[arch->reg_sp] : 0;
			if (tsp >= g->stack_lo && tsp < g->stack_hi && (!start_sp || tsp < start_sp))
				start_sp = tsp;
		}
	}
	if (have_g) {
		uint64_t ctxt = gp_field(p, GP_F_G_SCHED_CTXT, gbuf, sizeof(gbuf));
		gp_mark_set_root(m, GP_ROOT_GOROUTINE, g->address + (uint64_t)gp_off(p, GP_F_G_SCHED_CTXT), gi);
		if (ctxt)
			stack_value(m, g->address + (uint64_t)gp_off(p, GP_F_G_SCHED_CTXT), ctxt, false);
	}
	if (!start_sp || start_sp < g->stack_lo || start_sp >= g->stack_hi) {
		if (g->stack_hi > g->stack_lo && start_sp)
			m->stats.stack_errors++;
		goto defers;
	}
	if (g->stack_hi - g->stack_lo > GP_MAX_STACK_SIZE) {
		/* a word-by-word scan of what no stack spans */
		stack_unscanned(m, g->address, "goroutine stack bounds wider than any stack");
		goto defers;
	}
	if (!read_stack(m, start_sp, g->stack_hi)) {
		stack_unscanned(m, g->address, "goroutine stack unreadable");
		goto defers;
	}
	if (running || (g->flags & GP_G_NO_STACK)) {
		/* no frames to trust: every word of the used stack */
		stack_block(m, gi, start_sp, (g->stack_hi - start_sp) / 8, NULL);
		m->stats.conservative_frames++;
		goto defers;
	}
	struct gp_unwind_start st = {
		.pc = g->pc, .sp = g->sp, .stack_lo = g->stack_lo,
		.stack_hi = g->stack_hi, .cache = m->ucache,
		.syscall = (g->flags & GP_G_IN_SYSCALL) != 0,
	};
	gp_error *uerr = NULL;
	size_t n = gp_unwind(p->pcln, &p->mem, &st, m->pcs, GP_MAX_FRAMES, &uerr);
	bool conservative_next = false;
	uint64_t covered = start_sp; /* the frames scanned end here */
	for (size_t i = 0; i < n; i++) {
		const struct gp_unwind_pc *f = &m->pcs[i];
		const struct gp_frame_info *fi = frame_info(m, f->pc);
		m->stats.frames++;
		uint64_t varp = f->fp - (lr ? 0 : 8);
		if (varp > f->sp)
			varp -= 8; /* the saved frame pointer */
		uint64_t argp = f->fp + (lr ? 8 : 0);
		uint64_t minsize = lr ? 16 : 0;
		uint64_t argbytes = fi->args > 0 ? (uint64_t)fi->args : 0;
		bool cons = conservative_next || (fi->flags & (FRAME_CONSERVATIVE | FRAME_BAD_MAP)) ||
			    (varp - f->sp > minsize && fi->nlocals == UINT32_MAX);
		if (cons) {
			/* scanframeworker's conservative case: [sp, varp) and
			 * the arguments */
			m->stats.conservative_frames++;
			if (varp > f->sp)
				stack_block(m, gi, f->sp, (varp - f->sp) / 8, NULL);
			if (argbytes)
				stack_block(m, gi, argp, argbytes / 8, NULL);
			conservative_next = (fi->flags & FRAME_CONSERVATIVE) != 0;
			covered = argp + argbytes;
			continue;
		}
		if (varp - f->sp > minsize && fi->locals && fi->nlocals) {
			uint64_t size = (uint64_t)fi->nlocals * 8;
			if (size <= varp - g->stack_lo)
				stack_block(m, gi, varp - size, fi->nlocals, fi->locals);
		}
		if (fi->argmap && fi->nargs)
			stack_block(m, gi, argp, fi->nargs, fi->argmap);
		for (uint32_t k = 0; k < fi->nobjs; k++) {
			const uint8_t *r = fi->objs + 16 * (size_t)k;
			int32_t off = (int32_t)gp_load(r, 4);
			uint64_t ptr = (off >= 0 ? argp : varp) + (uint64_t)(int64_t)off;
			if (ptr < f->sp)
				continue; /* not allocated in the frame yet */
			add_stack_obj(m, ptr, r);
		}
		covered = argp + argbytes;
	}
	if (uerr || n == GP_MAX_FRAMES) {
		/* frames the unwinder could not give: the rest of the stack,
		 * word by word */
		m->stats.stack_errors++;
		uint64_t from = n ? covered : start_sp;
		if (from < g->stack_hi && from >= start_sp)
			stack_block(m, gi, from, (g->stack_hi - from) / 8, NULL);
	}
	gp_error_destroy(uerr);
defers:
	if (have_g) {
		scan_defers(m, gi, gp_field(p, GP_F_G_DEFER, gbuf, sizeof(gbuf)));
		uint64_t panic = gp_field(p, GP_F_G_PANIC, gbuf, sizeof(gbuf));
		if (panic && panic >= m->stk_lo && panic < m->stk_hi &&
		    !gp_grow((void **)&m->sptrs, &m->sptrs_cap, m->nsptrs + 1, sizeof(*m->sptrs)))
			m->sptrs[m->nsptrs++] = (struct gp_stack_ptr){ panic, false };
	}
	scan_stack_objects(m, gi);
	m->nsobjs = m->nsptrs = 0;
	m->sbuf_lo = m->stk_hi = m->stk_lo = 0;
	m->sdata = NULL;
	m->cur_conservative = false;
	return NULL;
}

/* Whether the word at slot of goroutine gi's stack is one the GC would
 * follow: a pointer bit of its frame's maps, a word of one of the frame's
 * stack objects, or a frame (or goroutine) scanned conservatively. A
 * dead word (a stale value in a reused stack) is not. */
bool gp_mark_slot_live(struct gp_mark *m, uint32_t gi, uint64_t slot)
{
	struct gp_snapshot *snap = m->snap;
	const struct gp_program *p = snap->prog;
	if (gi >= snap->ngs)
		return false;
	const struct gp_goroutine *g = &snap->gs[gi];
	if (slot < g->stack_lo || slot >= g->stack_hi)
		return true; /* not a stack word: not ours to judge */
	if (g->status == GP_STATUS_RUNNING || g->status == GP_STATUS_COPYSTACK ||
	    (g->flags & GP_G_NO_STACK) || !g->pc)
		return true;
	const struct gp_arch *arch = gp_pclntab_arch(p->pcln);
	bool lr = arch && arch->uses_lr;
	struct gp_unwind_start st = {
		.pc = g->pc, .sp = g->sp, .stack_lo = g->stack_lo,
		.stack_hi = g->stack_hi, .cache = m->ucache,
		.syscall = (g->flags & GP_G_IN_SYSCALL) != 0,
	};
	gp_error *uerr = NULL;
	size_t n = gp_unwind(p->pcln, &p->mem, &st, m->pcs, GP_MAX_FRAMES, &uerr);
	bool truncated = uerr || n == GP_MAX_FRAMES;
	gp_error_destroy(uerr);
	bool conservative_next = false;
	for (size_t i = 0; i < n; i++) {
		const struct gp_unwind_pc *f = &m->pcs[i];
		const struct gp_frame_info *fi = frame_info(m, f->pc);
		uint64_t varp = f->fp - (lr ? 0 : 8);
		if (varp > f->sp)
			varp -= 8;
		uint64_t argp = f->fp + (lr ? 8 : 0);
		uint64_t argbytes = fi->args > 0 ? (uint64_t)fi->args : 0;
		uint64_t end = argp + argbytes;
		bool cons = conservative_next ||
			    (fi->flags & (FRAME_CONSERVATIVE | FRAME_BAD_MAP)) ||
			    (varp - f->sp > (lr ? 16u : 0u) && fi->nlocals == UINT32_MAX);
		conservative_next = (fi->flags & FRAME_CONSERVATIVE) != 0;
		if (slot < f->sp || slot >= (end > f->fp ? end : f->fp))
			continue;
		if (cons)
			return true;
		if (fi->locals && fi->nlocals && slot < varp &&
		    slot >= varp - (uint64_t)fi->nlocals * 8) {
			uint64_t w = (slot - (varp - (uint64_t)fi->nlocals * 8)) / 8;
			if (fi->locals[w >> 3] >> (w & 7) & 1)
				return true;
		}
		if (fi->argmap && fi->nargs && slot >= argp &&
		    slot < argp + (uint64_t)fi->nargs * 8) {
			uint64_t w = (slot - argp) / 8;
			if (fi->argmap[w >> 3] >> (w & 7) & 1)
				return true;
		}
		for (uint32_t k = 0; k < fi->nobjs; k++) {
			const uint8_t *r = fi->objs + 16 * (size_t)k;
			int32_t off = (int32_t)gp_load(r, 4);
			int32_t size = (int32_t)gp_load(r + 4, 4);
			uint64_t ptr = (off >= 0 ? argp : varp) + (uint64_t)(int64_t)off;
			if (size > 0 && slot >= ptr && slot < ptr + (uint64_t)size)
				return true; /* a stack object: live if reached */
		}
		/* the arguments this frame passes are the callee's (argp) */
	}
	return truncated;
}
