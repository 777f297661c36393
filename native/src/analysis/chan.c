/*
 * Channels: the hchan of every channel some goroutine waits on
 * (runtime/chan.go): length and capacity, closed, the element type's name
 * (the runtime type's str nameOff, resolved against moduledata.types as
 * runtime.resolveNameOff does), blocked receivers and senders, and for
 * select cases which queue (recvq or sendq) holds the goroutine's sudog:
 * the runtime does not record a case's direction anywhere else. Every
 * queue is walked once per channel, never per waiter.
 *
 * Timer and ticker channels: from Go 1.23 hchan.timer points to the timer
 * (when, period). Before, the channel is only the timer's arg (an eface
 * whose data word is the channel) in the per-P heaps p.timers, which are
 * searched once for all channels of element type time.Time.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "analysis/analysis.h"

#define GP_MAX_HCHAN 256
#define GP_MAX_TYPE_NAME 1024
#define GP_MAX_TIMERS (16u << 20)

/* ------------------------------------------------------ element types */

struct type_cache {
	uint64_t key[64];
	uint32_t str[64];
};

/* gp_type_name, cached for the few element types of many channels. */
static gp_error *type_name(struct gp_snapshot *snap, struct type_cache *tc,
			   uint64_t type, uint32_t *ret)
{
	*ret = 0;
	if (!type)
		return NULL;
	size_t slot = (type >> 4) & 63;
	if (tc->key[slot] == type) {
		*ret = tc->str[slot];
		return NULL;
	}
	gp_error *err = gp_type_name(snap->prog, &snap->strs, type, ret);
	if (err)
		return err;
	tc->key[slot] = type;
	tc->str[slot] = *ret;
	return NULL;
}

/* --------------------------------------------------------------- hchan */

/* The fields of the hchan read into buf (size bytes) and its timer's, but
 * for its element type: *ret_elem, the type's address. Only reads. */
static void decode_hchan(const struct gp_program *prog, const uint8_t *buf,
			 size_t size, struct gp_chan *c, uint64_t *ret_elem)
{
	c->len = gp_field(prog, GP_F_HCHAN_QCOUNT, buf, size);
	c->cap = gp_field(prog, GP_F_HCHAN_DATAQSIZ, buf, size);
	c->elem_size = gp_field(prog, GP_F_HCHAN_ELEMSIZE, buf, size);
	if (gp_field(prog, GP_F_HCHAN_CLOSED, buf, size))
		c->flags |= GP_CHAN_CLOSED;
	uint64_t timer = gp_field(prog, GP_F_HCHAN_TIMER, buf, size);
	if (timer) {
		int64_t when = 0, period = 0;
		gp_error *e;
		if (!(e = gp_memory_read(&prog->mem,
					 timer + (uint64_t)gp_off(prog, GP_F_TIMER_WHEN),
					 &when, 8)) &&
		    !(e = gp_memory_read(&prog->mem,
					 timer + (uint64_t)gp_off(prog, GP_F_TIMER_PERIOD),
					 &period, 8))) {
			c->flags |= GP_CHAN_TIMER;
			c->timer_when = when;
			c->timer_period = period;
		}
		gp_error_destroy(e);
	}
	*ret_elem = gp_field(prog, GP_F_HCHAN_ELEMTYPE, buf, size);
}

static gp_error *decode(struct gp_snapshot *snap, struct type_cache *tc,
			uint64_t addr, struct gp_chan *c, uint8_t *buf,
			size_t *ret_size)
{
	const struct gp_program *prog = snap->prog;
	int64_t hsize = prog->layout.type_size[GP_T_HCHAN];
	memset(c, 0, sizeof(*c));
	c->address = addr;
	*ret_size = 0;
	if (hsize <= 0 || hsize > GP_MAX_HCHAN)
		return gp_error_create(GP_ERROR_UNSUPPORTED, "unexpected size of runtime.hchan");
	size_t size = (size_t)hsize;
	gp_error *err = gp_memory_read(&prog->mem, addr, buf, size);
	if (err)
		return err;
	*ret_size = size;
	uint64_t elem;
	decode_hchan(prog, buf, size, c, &elem);
	return type_name(snap, tc, elem, &c->elem_type);
}

/* What a batch read of one timer gives: its channel (arg's data word),
 * when and period; ok 0: unreadable. */
struct timer_fields {
	uint64_t ch;
	int64_t when, period;
	uint8_t ok;
};

struct timer_batch {
	struct timer_fields *out;     /* by the request's tag */
	int64_t lo;                   /* the read's start in the timer */
	int64_t o_ch, o_when, o_period;
};

static gp_error *timer_read(void *arg, const struct gp_read_req *req,
			    const uint8_t *data, gp_error *rerr)
{
	const struct timer_batch *b = arg;
	struct timer_fields *f = &b->out[req->tag];
	f->ok = !rerr;
	if (rerr)
		return NULL;
	f->ch = gp_load(data + (b->o_ch - b->lo), 8);
	f->when = (int64_t)gp_load(data + (b->o_when - b->lo), 8);
	f->period = (int64_t)gp_load(data + (b->o_period - b->lo), 8);
	return NULL;
}

#define TIMER_ROUND 65536u

/* Timer channels without hchan.timer: channel -> timer from the per-P
 * heaps (runtime.allp). The timers (400,000 at heapcore, across the heap)
 * are read a round at a time in one batch on two threads, then taken in
 * the heap's order as when they were read one by one: the same stops
 * (the heap's first nil or unreadable entry, 256 unreadable timers in a
 * row, GP_MAX_TIMERS in all) and the same answer. */
static gp_error *old_timers(struct gp_snapshot *snap, struct gp_analysis *an)
{
	const struct gp_program *prog = snap->prog;
	uint64_t allp = prog->layout.var_addr[GP_V_ALLP];
	bool heap = gp_has(prog, GP_F_P_TIMERS_HEAP);
	/* []*timer, or []timerWhen{timer *timer; when int64} from 1.23 */
	uint64_t stride = heap ? 16 : 8;
	int32_t toff = gp_off(prog, heap ? GP_F_P_TIMERS_HEAP : GP_F_P_TIMERS);
	if (!allp || toff < 0 || !gp_has(prog, GP_F_TIMER_ARG))
		return NULL;
	uint32_t timestr;
	gp_error *err = gp_strtab_intern(&snap->strs, "time.Time", &timestr);
	if (err)
		return err;
	struct gp_addr_map want = { 0 };
	struct gp_read_req *reqs = NULL;
	struct timer_fields *tf = NULL;
	for (size_t i = 0; i < an->nchans; i++)
		if (an->chans[i].address && !(an->chans[i].flags & GP_CHAN_TIMER) &&
		    an->chans[i].elem_type == timestr &&
		    (err = gp_addr_map_put(&want, an->chans[i].address, (uint32_t)i)))
			goto out;
	if (!want.used)
		goto out;
	reqs = malloc(TIMER_ROUND * sizeof(*reqs));
	tf = malloc(TIMER_ROUND * sizeof(*tf));
	if (!reqs || !tf) {
		err = &gp_error_nomem;
		goto out;
	}
	/* the three fields in one read: [lo, hi) of the timer */
	struct timer_batch b = { tf, 0, gp_off(prog, GP_F_TIMER_ARG) + 8,
				 gp_off(prog, GP_F_TIMER_WHEN),
				 gp_off(prog, GP_F_TIMER_PERIOD) };
	int64_t lo = b.o_ch, hi = b.o_ch;
	lo = b.o_when < lo ? b.o_when : lo;
	lo = b.o_period < lo ? b.o_period : lo;
	hi = b.o_when > hi ? b.o_when : hi;
	hi = b.o_period > hi ? b.o_period : hi;
	b.lo = lo;
	uint32_t size = (uint32_t)(hi + 8 - lo);
	uint64_t hdr[2];
	if (gp_failed(gp_memory_read(&prog->mem, allp, hdr, sizeof(hdr))) || hdr[1] > 1 << 16)
		goto fault;
	size_t visited = 0;
	struct gp_trim trim = { 0 };
	for (uint64_t pi = 0; pi < hdr[1]; pi++) {
		uint64_t p, th[2];
		if (gp_failed(gp_memory_read_u64(&prog->mem, hdr[0] + pi * 8, &p)) || !p ||
		    gp_failed(gp_memory_read(&prog->mem, p + (uint64_t)toff, th, sizeof(th))))
			continue;
		/* a heap whose array or timers cannot be read (a length
		 * from a corrupt P) is left at the first unreadable or nil
		 * entry and after 256 unreadable timers in a row */
		uint32_t bad = 0;
		uint64_t k = 0;
		bool end = false;
		while (!end && k < th[1] && visited < GP_MAX_TIMERS && bad < 256) {
			size_t n = 0;
			for (; n < TIMER_ROUND && k + n < th[1] && visited + n < GP_MAX_TIMERS; n++) {
				uint64_t t;
				/* a heap has no nil entry below its length */
				if (gp_failed(gp_memory_read_u64(&prog->mem, th[0] + (k + n) * stride, &t)) ||
				    !t) {
					end = true;
					break;
				}
				reqs[n] = (struct gp_read_req){ .address = t + (uint64_t)lo,
								.size = size, .tag = (uint32_t)n };
			}
			gp_memory_trim_ticks(&prog->mem, &trim, (uint32_t)n);
			if (n && (err = gp_memory_read_batch_par(&prog->mem, reqs, n, timer_read,
								 &b, &b, NULL)))
				goto out;
			for (size_t j = 0; j < n && bad < 256; j++, k++, visited++) {
				bad++;
				if (!tf[j].ok)
					continue;
				bad = 0;
				uint32_t ci = gp_addr_map_get(&want, tf[j].ch);
				if (ci == GP_NONE)
					continue;
				an->chans[ci].flags |= GP_CHAN_TIMER;
				an->chans[ci].timer_when = tf[j].when;
				an->chans[ci].timer_period = tf[j].period;
			}
		}
	}
fault:
	/* a time.Time channel whose timer we did not find (unreadable, or a
	 * stopped timer no longer in a heap) */
	for (size_t i = 0; i < an->nchans; i++)
		/* in want: what the loop above put there (one channel an
		 * address), without a lookup per channel */
		if (an->chans[i].address && an->chans[i].elem_type == timestr &&
		    !(an->chans[i].flags & GP_CHAN_TIMER))
			an->chans[i].flags |= GP_CHAN_TIMER_UNKNOWN;
out:
	free(reqs);
	free(tf);
	gp_addr_map_deinit(&want);
	return err;
}

/* Marks the select cases found in one queue with their direction (those
 * of sel's waits up to index limit). */
static void walk_queue(struct gp_snapshot *snap, const struct gp_addr_map *sel,
		       const struct gp_addr_filter *selpages,
		       uint64_t first, uint32_t kind, uint8_t role, uint32_t limit)
{
	const struct gp_program *prog = snap->prog;
	size_t ssize = (size_t)prog->layout.type_size[GP_T_SUDOG];
	uint8_t buf[512];
	if (ssize > sizeof(buf))
		return;
	uint64_t s = first;
	for (size_t i = 0; s && i <= snap->ngs && i < GP_MAX_QUEUE; i++) {
		gp_error *e = gp_memory_read(&prog->mem, s, buf, ssize);
		if (e) {
			gp_error_destroy(e);
			return;
		}
		uint32_t wi = gp_addr_filter_may(selpages, s) ?
			      gp_addr_map_get(sel, s) : GP_NONE;
		if (wi != GP_NONE && wi <= limit) {
			snap->waits[wi].kind = kind;
			snap->wait_role[wi] = role;
		}
		s = gp_field(prog, GP_F_SUDOG_NEXT, buf, ssize);
	}
}

/* What each wait reason (a string id) says of nil channels, worked out
 * once per reason rather than once per goroutine: a few reasons, a
 * million goroutines. */
struct nil_memo {
	uint32_t id[64];
	uint8_t role[64];   /* GP_ROLE_RECV, GP_ROLE_SEND, or 0: not nil */
};

static void nil_memo_init(struct nil_memo *m)
{
	for (size_t i = 0; i < 64; i++)
		m->id[i] = GP_NONE;
}

static bool nil_chan_wait(const struct gp_snapshot *snap,
			  const struct gp_goroutine *g, struct nil_memo *m,
			  uint8_t *ret_role)
{
	if (g->status != GP_STATUS_WAITING || g->waiting_count)
		return false;
	uint32_t id = g->waitreason_str, slot = id & 63;
	if (m->id[slot] != id) {
		const char *r = gp_snapshot_string(snap, id);
		m->id[slot] = id;
		m->role[slot] = !strcmp(r, "chan receive (nil chan)") ? GP_ROLE_RECV :
				!strcmp(r, "chan send (nil chan)") ? GP_ROLE_SEND : 0;
	}
	if (!m->role[slot])
		return false;
	*ret_role = m->role[slot];
	return true;
}

/*
 * The channels most waiters first, then by address: two stable radix
 * sorts of (key, index), by address and then by waiters, and the
 * channels moved once into that order in place. qsort of the channels
 * themselves (88 bytes each) took 0.2 s of CPU at 600,000 (issue 12's
 * heapcore); ties keep their order, as the stable qsort did.
 */
static gp_error *sort_chans(struct gp_analysis *an)
{
	size_t n = an->nchans;
	if (n < 2)
		return NULL;
	/* (mmap: its pages go back at once; the heap kept 9 MB of them) */
	size_t bytes = n * sizeof(struct gp_kv);
	struct gp_kv *kv = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kv == MAP_FAILED)
		return &gp_error_nomem;
	for (size_t i = 0; i < n; i++)
		kv[i] = (struct gp_kv){ an->chans[i].address, i };
	gp_error *err = gp_sort_kv(kv, n);
	if (!err) {
		for (size_t i = 0; i < n; i++)
			kv[i].key = UINT32_MAX - (uint64_t)an->chans[kv[i].value].nwaiters;
		err = gp_sort_kv(kv, n);
	}
	if (err) {
		munmap(kv, bytes);
		return err;
	}
	/* chans[k] = old chans[kv[k].value]: each cycle of the permutation
	 * walked once (kv[j].value = j once j holds its channel) */
	for (size_t k = 0; k < n; k++) {
		if (kv[k].value == k)
			continue;
		struct gp_chan tmp = an->chans[k];
		size_t j = k;
		for (;;) {
			size_t src = (size_t)kv[j].value;
			kv[j].value = j;
			if (src == k) {
				an->chans[j] = tmp;
				break;
			}
			an->chans[j] = an->chans[src];
			j = src;
		}
	}
	munmap(kv, bytes);
	return NULL;
}

/* read_hchans's reads, on two threads: each channel k its own. */
struct hchan_read {
	const struct gp_program *prog;
	struct gp_chan *chans;
	uint64_t *elem, *recvq, *sendq;
	size_t hsize;
	size_t base;                  /* the round's first channel */
};

#define HCHAN_ROUND 8192u

static void read_some(void *arg, size_t lo, size_t hi)
{
	struct hchan_read *r = arg;
	uint8_t buf[GP_MAX_HCHAN];
	size_t size = r->hsize;
	for (size_t k = r->base + lo; k < r->base + hi; k++) {
		struct gp_chan *c = &r->chans[k];
		if (gp_failed(gp_memory_read(&r->prog->mem, c->address, buf, size))) {
			c->flags |= GP_CHAN_UNREADABLE;
			continue;
		}
		decode_hchan(r->prog, buf, size, c, &r->elem[k]);
		r->recvq[k] = gp_field(r->prog, GP_F_HCHAN_RECVQ_FIRST, buf, size);
		r->sendq[k] = gp_field(r->prog, GP_F_HCHAN_SENDQ_FIRST, buf, size);
	}
}

/*
 * Reads every channel of an->chans (their addresses set): at a million
 * goroutines, hundreds of thousands of hchans across the heap, read on
 * two threads (the page faults were most of this phase), then, in index
 * order, each one's element type named and the queues walked of those
 * with walk_to set: what decode and walk_queue did for each in turn, the
 * same strings interned in the same order.
 */
static gp_error *read_hchans(struct gp_snapshot *snap, struct gp_analysis *an,
			     struct type_cache *tc, const uint32_t *walk_to,
			     const struct gp_addr_map *sel,
			     const struct gp_addr_filter *selpages)
{
	const struct gp_program *prog = snap->prog;
	int64_t hsize = prog->layout.type_size[GP_T_HCHAN];
	size_t n = an->nchans;
	if (!n)
		return NULL;
	if (hsize <= 0 || hsize > GP_MAX_HCHAN) {
		for (size_t k = 0; k < n; k++)
			an->chans[k].flags |= GP_CHAN_UNREADABLE;
		return NULL;
	}
	gp_error *err = NULL;
	uint64_t *q = calloc(3 * n, sizeof(*q));
	if (!q)
		return &gp_error_nomem;
	struct hchan_read r = { prog, an->chans, q, q + n, q + 2 * n, (size_t)hsize, 0 };
	struct gp_trim trim = { 0 };
	/* a round at a time, the core's pages let go between rounds as
	 * they were every 1024 channels on one thread */
	for (size_t k0 = 0; k0 < n; k0 += HCHAN_ROUND) {
		size_t c = n - k0 < HCHAN_ROUND ? n - k0 : HCHAN_ROUND;
		r.base = k0;
		/* (blocks of 256, fewer for few channels: the tests'
		 * small cores share them between the threads too) */
		size_t block = c / 8 < 256 ? c / 8 + 1 : 256;
		gp_par_for(c, block, 4096, read_some, &r);
		gp_memory_trim_ticks(&prog->mem, &trim, (uint32_t)c);
	}
	for (size_t k = 0; k < n; k++) {
		gp_memory_trim_tick(&prog->mem, &trim);
		struct gp_chan *c = &an->chans[k];
		if (c->flags & GP_CHAN_UNREADABLE)
			continue;
		gp_error *e = type_name(snap, tc, r.elem[k], &c->elem_type);
		if (e == &gp_error_nomem) {
			err = e;
			goto out;
		}
		if (e) {
			gp_error_destroy(e);
			c->flags |= GP_CHAN_UNREADABLE;
		} else if (walk_to[k] != GP_NONE) {
			walk_queue(snap, sel, selpages, r.recvq[k], GP_WAIT_CHAN_RECV,
				   GP_ROLE_RECV, walk_to[k]);
			walk_queue(snap, sel, selpages, r.sendq[k], GP_WAIT_CHAN_SEND,
				   GP_ROLE_SEND, walk_to[k]);
		}
	}
out:
	free(q);
	return err;
}

gp_error *gp_chans_build(struct gp_snapshot *snap, struct gp_analysis *an)
{
	if (an->chans_done)
		return NULL;
	const struct gp_program *prog = snap->prog;
	struct gp_addr_map sel = { 0 };
	struct gp_kv *kv = NULL, *births = NULL;
	struct gp_addr_filter selpages = GP_PAGE_FILTER;
	struct type_cache *tc = calloc(1, sizeof(*tc));
	/* each channel wait's index into an->chans (GP_NONE: none), found
	 * once here rather than looked up again in every pass below */
	uint32_t *wci = malloc((snap->nwait_info + 1) * sizeof(*wci));
	uint32_t *count = NULL, nil_index = GP_NONE;
	gp_error *err = NULL;
	uint8_t buf[GP_MAX_HCHAN];
	uint32_t *walk_to = NULL;
	size_t walk_cap = 0;
	struct nil_memo memo;
	if (!tc || !wci) {
		err = &gp_error_nomem;
		goto out;
	}
	nil_memo_init(&memo);
	/* room for a channel per channel wait at most, once: doubling to
	 * 600,000 channels copied and faulted in twice their 48 MB (only
	 * the pages used count) */
	size_t nchanwaits = 0, nselects = 0;
	for (size_t wi = 0; wi < snap->nwait_info; wi++) {
		nchanwaits += snap->wait_kind[wi] == GP_OBJ_CHAN;
		nselects += snap->wait_kind[wi] == GP_OBJ_CHAN && (snap->waits[wi].flags & 1);
	}
	/* and the select map sized once (as many keys at most) */
	if ((err = gp_grow((void **)&an->chans, &an->chans_cap, an->nchans + nchanwaits + 1,
			   sizeof(*an->chans))) ||
	    (err = gp_grow((void **)&walk_to, &walk_cap, nchanwaits + 1, sizeof(*walk_to))) ||
	    (err = gp_addr_map_reserve(&sel, nselects)))
		goto out;
	/*
	 * Every channel once, in the order of the waits (its index: where it
	 * is first waited on), with the select waits seen up to that first
	 * wait (the walk of its queues below sees only those, as when it was
	 * read right here). The channel of each wait by sorting (address,
	 * wait) pairs, not by a map: 800,000 lookups and 600,000 insertions
	 * at heapcore, each a cache miss. A wait on address 0 is a channel
	 * of its own, of no wait's index.
	 */
	kv = malloc((nchanwaits + 1) * sizeof(*kv));
	births = malloc((nchanwaits + 1) * sizeof(*births));
	if (!kv || !births) {
		err = &gp_error_nomem;
		goto out;
	}
	size_t nkv = 0, nbirths = 0;
	uint64_t first_sel = UINT64_MAX;  /* the first select wait stored */
	for (size_t wi = 0; wi < snap->nwait_info; wi++) {
		wci[wi] = GP_NONE;
		if (snap->wait_kind[wi] != GP_OBJ_CHAN)
			continue;
		uint64_t addr = snap->wait_obj[wi];
		if (snap->waits[wi].flags & 1) {
			if ((err = gp_addr_map_put(&sel, snap->waits[wi].sudog, (uint32_t)wi)) ||
			    (err = gp_addr_filter_add(&selpages, snap->waits[wi].sudog)))
				goto out;
			if (sel.used && first_sel == UINT64_MAX)
				first_sel = wi;
		}
		if (addr)
			kv[nkv++] = (struct gp_kv){ addr, wi };
		else
			births[nbirths++] = (struct gp_kv){ wi, UINT64_MAX };
	}
	/* by address, each address's waits in order (a stable sort) */
	if ((err = gp_sort_kv(kv, nkv)))
		goto out;
	for (size_t k = 0; k < nkv; k++)
		if (!k || kv[k].key != kv[k - 1].key)
			births[nbirths++] = (struct gp_kv){ kv[k].value, k };
	if ((err = gp_sort_kv(births, nbirths)))
		goto out;
	for (size_t b = 0; b < nbirths; b++) {
		size_t ci = an->nchans++, k = (size_t)births[b].value;
		memset(&an->chans[ci], 0, sizeof(*an->chans));
		walk_to[ci] = births[b].key >= first_sel ? (uint32_t)births[b].key : GP_NONE;
		if (k == UINT64_MAX)
			continue;
		an->chans[ci].address = kv[k].key;
		for (size_t e = k; e < nkv && kv[e].key == kv[k].key; e++)
			wci[kv[e].value] = (uint32_t)ci;
	}
	free(kv);
	free(births);
	kv = births = NULL;
	if ((err = read_hchans(snap, an, tc, walk_to, &sel, &selpages)))
		goto out;
	/* select cases on a channel seen before its cases were in the map are
	 * resolved here: walk the queues of channels with unresolved cases */
	for (size_t wi = 0; wi < snap->nwait_info; wi++) {
		if (snap->wait_kind[wi] != GP_OBJ_CHAN || snap->wait_role[wi] != GP_ROLE_UNKNOWN)
			continue;
		uint32_t ci = wci[wi];
		if (ci == GP_NONE || (an->chans[ci].flags & GP_CHAN_UNREADABLE))
			continue;
		int64_t hsize = prog->layout.type_size[GP_T_HCHAN];
		if (gp_failed(gp_memory_read(&prog->mem, snap->wait_obj[wi], buf, (size_t)hsize)))
			continue;
		walk_queue(snap, &sel, &selpages,
			   gp_field(prog, GP_F_HCHAN_RECVQ_FIRST, buf, (size_t)hsize),
			   GP_WAIT_CHAN_RECV, GP_ROLE_RECV, UINT32_MAX);
		walk_queue(snap, &sel, &selpages,
			   gp_field(prog, GP_F_HCHAN_SENDQ_FIRST, buf, (size_t)hsize),
			   GP_WAIT_CHAN_SEND, GP_ROLE_SEND, UINT32_MAX);
		if (snap->wait_role[wi] == GP_ROLE_UNKNOWN)
			snap->wait_role[wi] = GP_ROLE_UNKNOWN + 0; /* not queued */
	}
	/* nil channels: one entry at address 0 */
	for (size_t i = 0; i < snap->ngs && nil_index == GP_NONE; i++) {
		uint8_t role;
		if (!nil_chan_wait(snap, &snap->gs[i], &memo, &role))
			continue;
		if ((err = gp_grow((void **)&an->chans, &an->chans_cap,
				   an->nchans + 1, sizeof(*an->chans))))
			goto out;
		memset(&an->chans[an->nchans], 0, sizeof(*an->chans));
		an->chans[an->nchans].flags = GP_CHAN_NIL;
		nil_index = (uint32_t)an->nchans++;
	}
	if ((err = old_timers(snap, an)))
		goto out;

	/* waiters, grouped per channel in goroutine order */
	count = calloc(an->nchans + 1, sizeof(*count));
	if (!count) {
		err = &gp_error_nomem;
		goto out;
	}
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < snap->ngs; i++) {
			const struct gp_goroutine *g = &snap->gs[i];
			uint8_t role;
			if (nil_index != GP_NONE && nil_chan_wait(snap, g, &memo, &role)) {
				struct gp_chan *c = &an->chans[nil_index];
				if (pass == 0) {
					c->nwaiters++;
					total++;
					if (role == GP_ROLE_RECV)
						c->nrecv++;
					else
						c->nsend++;
				} else {
					struct gp_waiter *w = &an->chan_waiters[c->waiters_first + count[nil_index]++];
					*w = (struct gp_waiter){ 0, (uint32_t)i, role, 0, 0 };
				}
				continue;
			}
			for (uint32_t k = 0; k < g->waiting_count; k++) {
				size_t wi = g->waiting_first + k;
				if (wi >= snap->nwait_info || snap->wait_kind[wi] != GP_OBJ_CHAN)
					continue;
				uint32_t ci = wci[wi];
				if (ci == GP_NONE)
					continue;
				struct gp_chan *c = &an->chans[ci];
				bool select = snap->waits[wi].flags & 1;
				if (pass == 0) {
					c->nwaiters++;
					total++;
					c->nrecv += snap->wait_role[wi] == GP_ROLE_RECV;
					c->nsend += snap->wait_role[wi] == GP_ROLE_SEND;
					c->nselect += select;
				} else {
					struct gp_waiter *w = &an->chan_waiters[c->waiters_first + count[ci]++];
					*w = (struct gp_waiter){ snap->waits[wi].sudog, (uint32_t)i,
								 snap->wait_role[wi], select, 0 };
				}
			}
		}
		if (pass == 0) {
			an->chan_waiters = malloc((total ? total : 1) * sizeof(*an->chan_waiters));
			if (!an->chan_waiters) {
				err = &gp_error_nomem;
				goto out;
			}
			an->nchan_waiters = total;
			uint32_t pos = 0;
			for (size_t i = 0; i < an->nchans; i++) {
				an->chans[i].waiters_first = pos;
				pos += an->chans[i].nwaiters;
			}
		}
	}
	if ((err = sort_chans(an)))
		goto out;
	an->chans_done = true;
out:
	free(tc);
	free(wci);
	free(walk_to);
	free(count);
	free(kv);
	free(births);
	gp_addr_map_deinit(&sel);
	gp_addr_filter_deinit(&selpages);
	return err;
}

gp_error *gp_chan_decode(struct gp_snapshot *snap, uint64_t addr,
			 struct gp_chan *ret)
{
	struct type_cache tc;
	uint8_t buf[GP_MAX_HCHAN];
	size_t size;
	memset(&tc, 0, sizeof(tc));
	return decode(snap, &tc, addr, ret, buf, &size);
}
