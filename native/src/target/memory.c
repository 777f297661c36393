/*
 * Target memory: layers of segments searched in order (core over
 * executable), plus an optional reader for live processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "target/target.h"

gp_error *gp_memory_layer_add(struct gp_memory_layer *layer,
			      const struct gp_segment *seg)
{
	if (seg->end <= seg->start)
		return NULL;
	if ((layer->nsegs & (layer->nsegs - 1)) == 0) {
		size_t cap = layer->nsegs ? layer->nsegs * 2 : 16;
		struct gp_segment *segs =
			realloc(layer->segs, cap * sizeof(*segs));
		if (!segs)
			return &gp_error_nomem;
		layer->segs = segs;
	}
	layer->segs[layer->nsegs++] = *seg;
	return NULL;
}

static int segment_cmp(const void *a, const void *b)
{
	const struct gp_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

void gp_memory_layer_sort(struct gp_memory_layer *layer)
{
	if (layer->nsegs)
		gp_qsort(layer->segs, layer->nsegs, sizeof(*layer->segs),
		      segment_cmp);
}

struct gp_memory_layer *gp_memory_layer_push(struct gp_memory *mem)
{
	if (mem->nlayers >= GP_MEMORY_LAYERS)
		return NULL;
	struct gp_memory_layer *l = &mem->layers[mem->nlayers++];
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	return l;
}

void gp_memory_deinit(struct gp_memory *mem)
{
	for (size_t i = 0; i < mem->nlayers; i++)
		if (!mem->layers[i].borrowed)
			free(mem->layers[i].segs);
	free(mem->mapped.segs);
	memset(mem, 0, sizeof(*mem));
}

/* The last segment starting at or before address, or NULL. */
static const struct gp_segment *layer_find(const struct gp_memory_layer *l,
					   uint64_t address)
{
	size_t lo = 0, hi = l->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->segs[mid].start <= address)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct gp_segment *s = &l->segs[lo - 1];
	return address < s->end ? s : NULL;
}

/*
 * How many bytes at address one segment (NULL: none) can supply (0 if
 * none), with a pointer to them or NULL for zero fill.
 */
static uint64_t seg_span(const struct gp_segment *s, uint64_t address,
			 const uint8_t **ret)
{
	if (!s)
		return 0;
	uint64_t off = address - s->start;
	if (off < s->avail) {
		*ret = s->data + off;
		return s->avail - off;
	}
	if (s->zero_fill) {
		*ret = NULL;
		return s->end - address;
	}
	return 0;
}

static uint64_t layer_span(const struct gp_memory_layer *l, uint64_t address,
			   const uint8_t **ret)
{
	return seg_span(layer_find(l, address), address, ret);
}

/* layer_find's answer, trying first the segment *hint names and the one
 * after it: they are that answer when they hold address and the next
 * starts past it (segments sorted). *hint names what was found. */
static const struct gp_segment *layer_find_near(const struct gp_memory_layer *l,
						uint64_t address, size_t *hint)
{
	for (size_t k = *hint; k < l->nsegs && k <= *hint + 1; k++) {
		const struct gp_segment *s = &l->segs[k];
		if (s->start > address)
			break;
		if (address < s->end &&
		    (k + 1 == l->nsegs || l->segs[k + 1].start > address)) {
			*hint = k;
			return s;
		}
	}
	const struct gp_segment *s = layer_find(l, address);
	if (s)
		*hint = (size_t)(s - l->segs);
	return s;
}

const uint8_t *gp_memory_ptr_near(const struct gp_memory *mem,
				  uint64_t address, size_t size,
				  struct gp_memory_hint *hint)
{
	for (size_t i = 0; i < mem->nlayers; i++) {
		const uint8_t *p;
		uint64_t n = seg_span(layer_find_near(&mem->layers[i], address,
						      &hint->seg[i]),
				      address, &p);
		if (n) {
			if (p && n >= size)
				return p;
			return NULL;
		}
	}
	return NULL;
}

const uint8_t *gp_memory_ptr(const struct gp_memory *mem, uint64_t address,
			     size_t size)
{
	for (size_t i = 0; i < mem->nlayers; i++) {
		const uint8_t *p;
		uint64_t n = layer_span(&mem->layers[i], address, &p);
		if (n) {
			if (p && n >= size)
				return p;
			return NULL;
		}
	}
	return NULL;
}

gp_error *gp_memory_view(const struct gp_memory *mem, uint64_t address,
			 size_t size, uint8_t **buf, size_t *cap,
			 const uint8_t **ret)
{
	const uint8_t *p = gp_memory_ptr(mem, address, size);
	if (p) {
		*ret = p;
		return NULL;
	}
	/* the buffer only for bytes the target has: a size from a corrupt
	 * word costs nothing */
	if (!gp_memory_covers(mem, address, size))
		return gp_error_fault(address, size);
	/* and a reader whose mappings are unknown (a debugger's), of which
	 * covers cannot tell: read a chunk at a time, the buffer grown by
	 * what was read */
	enum { CHUNK = 1 << 20 };
	size_t done = 0;
	do {
		size_t n = size - done < CHUNK ? size - done : CHUNK;
		gp_error *err = gp_grow((void **)buf, cap, done + n ? done + n : 1, 1);
		if (!err && n)
			err = gp_memory_read(mem, address + done, *buf + done, n);
		if (err)
			return err;
		done += n;
	} while (done < size);
	*ret = *buf;
	return NULL;
}

bool gp_memory_holds(const struct gp_memory *mem, uint64_t address,
		     size_t size)
{
	if (gp_memory_ptr(mem, address, size))
		return true;
	if (!mem->read_fn)
		return false;
	if (!mem->mapped.nsegs)
		return true;
	const struct gp_segment *s = layer_find(&mem->mapped, address);
	return s && size <= s->end - address;
}

bool gp_memory_covers(const struct gp_memory *mem, uint64_t address,
		      uint64_t size)
{
	if (address + size < address)
		return false;
	uint64_t a = address, end = address + size;
	while (a < end) {
		uint64_t n = 0;
		const uint8_t *p;
		for (size_t i = 0; i < mem->nlayers && !n; i++)
			n = layer_span(&mem->layers[i], a, &p);
		if (!n && mem->read_fn) {
			if (!mem->mapped.nsegs)
				return true;
			const struct gp_segment *s = layer_find(&mem->mapped, a);
			if (s)
				n = s->end - a;
		}
		if (!n)
			return false;
		if (n >= end - a)
			break;
		a += n;
	}
	return true;
}

gp_error *gp_memory_read(const struct gp_memory *mem, uint64_t address,
			 void *buf, size_t size)
{
	if (address + size < address)
		return gp_error_fault(address, size);
	uint8_t *out = buf;
	uint64_t a = address;
	size_t left = size;
	while (left) {
		uint64_t n = 0;
		const uint8_t *p = NULL;
		for (size_t i = 0; i < mem->nlayers && !n; i++)
			n = layer_span(&mem->layers[i], a, &p);
		if (!n) {
			/* the reader has the rest, or nothing has it: one
			 * read of the whole, as its copy of the moment
			 * must hold it all */
			if (mem->read_fn)
				return mem->read_fn(mem->read_arg, address,
						    buf, size);
			return gp_error_fault(address, size);
		}
		if (n > left)
			n = left;
		if (p)
			memcpy(out, p, n);
		else
			memset(out, 0, n);
		out += n;
		a += n;
		left -= n;
	}
	return NULL;
}

gp_error *gp_memory_read_fn(void *mem, uint64_t address, void *buf,
			     size_t size)
{
	return gp_memory_read(mem, address, buf, size);
}

gp_error *gp_memory_read_u64(const struct gp_memory *mem, uint64_t address,
			     uint64_t *ret)
{
	/* in place when one segment has all 8 bytes (gp_memory_read's
	 * answer, without its loop and a call to copy 8 bytes: the
	 * unwinder reads every return address so) */
	const uint8_t *p = gp_memory_ptr(mem, address, 8);
	if (p) {
		*ret = gp_load(p, 8);
		return NULL;
	}
	uint8_t b[8];
	gp_error *err = gp_memory_read(mem, address, b, 8);
	if (!err)
		*ret = gp_load(b, 8);
	return err;
}

gp_error *gp_memory_read_u32(const struct gp_memory *mem, uint64_t address,
			     uint32_t *ret)
{
	uint8_t b[4];
	gp_error *err = gp_memory_read(mem, address, b, 4);
	if (!err)
		*ret = (uint32_t)gp_load(b, 4);
	return err;
}

gp_error *gp_memory_read_string(const struct gp_memory *mem, uint64_t ptr,
				uint64_t len, size_t max, char **ret)
{
	if (len > max)
		return gp_error_create(GP_ERROR_LIMIT,
				       "string of %llu bytes at 0x%llx exceeds %zu",
				       (unsigned long long)len,
				       (unsigned long long)ptr, max);
	char *s = malloc(len + 1);
	if (!s)
		return &gp_error_nomem;
	gp_error *err = len ? gp_memory_read(mem, ptr, s, len) : NULL;
	if (err) {
		free(s);
		return err;
	}
	s[len] = '\0';
	*ret = s;
	return NULL;
}

gp_error *gp_memory_read_gostring(const struct gp_memory *mem,
				  uint64_t address, size_t max, char **ret)
{
	uint8_t hdr[16];
	gp_error *err = gp_memory_read(mem, address, hdr, sizeof(hdr));
	if (err)
		return err;
	return gp_memory_read_string(mem, gp_load(hdr, 8), gp_load(hdr + 8, 8),
				     max, ret);
}

static long page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? p : 4096;
}

uint64_t gp_memory_file_resident(void)
{
	/* asked thousands of times a run (every trim check): the file
	 * stays open, one pread a question, not fopen and fscanf; opened
	 * again in a forked child (/proc/self was the parent's) */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int statm = -1;
	static pid_t owner;
	pid_t me = getpid();
	pthread_mutex_lock(&lock);
	if (statm >= 0 && owner != me) {
		close(statm);
		statm = -1;
	}
	if (statm < 0) {
		statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
		owner = me;
	}
	int fd = statm;
	pthread_mutex_unlock(&lock);
	if (fd < 0)
		return 0;
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* size resident shared ... (pages) */
	char *p = buf, *end;
	unsigned long long v = 0;
	for (int k = 0; k < 3; k++, p = end) {
		v = strtoull(p, &end, 10);
		if (end == p)
			return 0;
	}
	return v * (uint64_t)page_size();
}

void gp_memory_release_all(const struct gp_memory *mem)
{
	if (mem->read_fn)
		return;
	uint64_t page = (uint64_t)page_size();
	for (size_t i = 0; i < mem->nlayers; i++) {
		const struct gp_memory_layer *l = &mem->layers[i];
		if (!l->base)
			continue;
		uint64_t end = 0;
		for (size_t k = 0; k < l->nsegs; k++) {
			if (!l->segs[k].data || !l->segs[k].avail)
				continue;
			uint64_t e = (uint64_t)(l->segs[k].data - l->base) + l->segs[k].avail;
			if (e > end)
				end = e;
		}
		/* whole pages of the mapping only: past it lies other memory */
		end &= ~(page - 1);
		if (end)
			madvise((void *)l->base, (size_t)end, MADV_DONTNEED);
	}
}

static void trim_check(const struct gp_memory *mem, const struct gp_trim *t);

void gp_memory_trim_tick(const struct gp_memory *mem, struct gp_trim *t)
{
	gp_memory_trim_ticks(mem, t, 1);
}

void gp_memory_trim_ticks(const struct gp_memory *mem, struct gp_trim *t,
			  uint32_t n)
{
	if (mem->read_fn)
		return;
	if (!t->started) {
		/* what stays is the other files' pages (the engine, python) */
		t->started = true;
		gp_memory_release_all(mem);
		t->base = gp_memory_file_resident();
	}
	uint32_t before = t->tick;
	t->tick += n;
	if ((before >> 10) == (t->tick >> 10))
		return;
	trim_check(mem, t);
}

void gp_memory_trim_ticks_shared(const struct gp_memory *mem, struct gp_trim *t,
				 uint32_t n)
{
	if (mem->read_fn || !t->started)
		return;
	uint32_t before = __atomic_fetch_add(&t->tick, n, __ATOMIC_RELAXED);
	if ((before >> 10) == ((before + n) >> 10))
		return;
	trim_check(mem, t);
}

/* The pages of the core let go when more than a few MB are mapped. */
static void trim_check(const struct gp_memory *mem, const struct gp_trim *t)
{
	uint64_t max = 16ull << 20;
	const char *e = getenv("GOPARKED_MARK_RESIDENT_MB");
	if (e && *e >= '0' && *e <= '9')
		max = strtoull(e, NULL, 10) << 20;
	if (gp_memory_file_resident() > t->base + max)
		gp_memory_release_all(mem);
}

/* ------------------------------------------------------------ batch reads */

/*
 * Batch reads plan their requests in file order, in chunks. A core file is
 * mapped (gp_core_open), so a request's bytes are read in place: the cost
 * is the page faults (the kernel maps 16 pages of the page cache per
 * fault, copying nothing) and the caller's decoding. A second thread
 * faults in the pages of the chunks ahead while the caller decodes; when
 * the caller catches up it faults its chunk itself rather than wait, so the
 * two cores share the work whichever is heavier. Pages behind the caller
 * are unmapped again (MADV_DONTNEED): the resident size stays a few
 * chunks, however big the core.
 */
#define BATCH_CHUNK (1u << 20)
#define BATCH_DIRECT UINT64_MAX
#define PAGE 4096u
#define AROUND (64u << 10)      /* Linux's default fault_around_bytes */
#define AHEAD 4                 /* chunks the thread may fault ahead */
#define PREFETCH 6              /* requests ahead the caller prefetches */

/* By file offset; requests read directly (BATCH_DIRECT) sort last, with
 * a key just above the largest offset so that the radix sort needs no
 * more passes than the offsets themselves. Nothing depends on the order
 * but speed. */
static gp_error *sort_requests(struct gp_read_req *reqs, size_t n)
{
	/* The order only buys locality: requests nearly in file order
	 * already (every g of allgs, about one descent in 5000) are read as
	 * they come, each descent starting a chunk. */
	size_t descents = 0;
	for (size_t i = 1; i < n; i++)
		descents += reqs[i].key < reqs[i - 1].key;
	if (descents <= n / 1024)
		return NULL;
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++)
		if (reqs[i].key != BATCH_DIRECT && reqs[i].key > max)
			max = reqs[i].key;
	for (size_t i = 0; i < n; i++)
		if (reqs[i].key == BATCH_DIRECT)
			reqs[i].key = max + 1;
	gp_error *err = gp_radix_sort(reqs, n, sizeof(*reqs),
				      offsetof(struct gp_read_req, key));
	for (size_t i = 0; i < n; i++)
		if (reqs[i].key == max + 1)
			reqs[i].key = BATCH_DIRECT;
	return err;
}

/* File offset of [address, address + size) when the top layer holds all of
 * it in one segment of a mapped file, else BATCH_DIRECT. *last remembers
 * the segment found: consecutive requests are mostly in the same one. */
/* The mapped file batch reads read in place, or NULL (a live target's
 * reader: every request is read directly). */
static const uint8_t *batch_map(const struct gp_memory *mem)
{
	return mem->read_fn || !mem->nlayers ? NULL : mem->layers[0].base;
}

static uint64_t file_offset_in(const struct gp_memory *mem, uint64_t address,
			       uint32_t size, const struct gp_segment **last)
{
	if (!batch_map(mem))
		return BATCH_DIRECT;
	const struct gp_memory_layer *l = &mem->layers[0];
	const struct gp_segment *s = *last;
	if (!s || address < s->start || address >= s->end)
		*last = s = layer_find(l, address);
	if (!s || address - s->start + size > s->avail)
		return BATCH_DIRECT;
	return (uint64_t)(s->data - l->base) + (address - s->start);
}

static uint64_t file_offset(const struct gp_memory *mem, uint64_t address,
			    uint32_t size)
{
	const struct gp_segment *last = NULL;
	return file_offset_in(mem, address, size, &last);
}

/* Every request's sort key: its file offset, or BATCH_DIRECT. */
static void key_requests(const struct gp_memory *mem,
			 struct gp_read_req *reqs, size_t n)
{
	const struct gp_segment *last = NULL;
	for (size_t i = 0; i < n; i++)
		reqs[i].key = reqs[i].size > BATCH_CHUNK / 2 ?
				      BATCH_DIRECT :
				      file_offset_in(mem, reqs[i].address,
						     reqs[i].size, &last);
}

/*
 * A read plan: consecutive chunks of the file, each with the run of
 * requests it satisfies; len 0 marks a request read directly.
 */
struct chunk {
	uint64_t start;
	size_t len;
	size_t first, end;      /* requests [first, end) */
};

struct faulter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct chunk *chunks;
	size_t nchunks;
	const struct gp_read_req *reqs;
	const uint8_t *map;
	size_t next;            /* the next chunk to claim (either thread) */
	size_t consumed;        /* chunks the caller is done with */
	uint8_t *ready;         /* per chunk: faulted by the thread */
	const struct gp_batch_out *out;
	bool stop;
	size_t released;        /* chunks before this one are unmapped, */
	uint64_t rel_start, rel_end; /* but for these pages, still to do */
	uint64_t rel_upto;      /* the end of the last chunk released */
	uint64_t map_end;       /* the mapping's end (offset, page-rounded):
				 * nothing past it is ever released */
	uint8_t sink;            /* what the faulting reads add up to */
};

/* Faults in the pages of a chunk's requests, one read per page. */
static void fault_chunk(struct faulter *f, const struct chunk *c)
{
	uint8_t sum = 0;
	uint64_t next = 0;  /* first page not yet touched */
	for (size_t i = c->first; i < c->end; i++) {
		uint64_t p = f->reqs[i].key & ~(uint64_t)(PAGE - 1);
		uint64_t end = f->reqs[i].key + f->reqs[i].size;
		if (p < next)
			p = next;
		for (; p < end; p += PAGE)
			sum = (uint8_t)(sum + f->map[p]);
		if (p > next)
			next = p;
	}
	__atomic_store_n(&f->sink, sum, __ATOMIC_RELAXED);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Faults in the output records of a chunk's requests, when they are a
 * compact run (in allgs order they are). */
static void fault_out(struct faulter *f, const struct chunk *c)
{
	const struct gp_batch_out *o = f->out;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (size_t i = c->first; i < c->end; i++) {
		uint32_t t = f->reqs[i].tag;
		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
	}
	if (lo > hi || hi >= o->n || hi - lo > 4 * (c->end - c->first))
		return;
	uintptr_t a = (uintptr_t)o->base + lo * o->stride;
	uintptr_t b = (uintptr_t)o->base + (hi + 1) * o->stride;
	a &= ~(uintptr_t)(PAGE - 1);
	madvise((void *)a, b - a, MADV_POPULATE_WRITE);
}

static void prepare_chunk(struct faulter *f, const struct chunk *c)
{
	if (c->len && f->map)
		fault_chunk(f, c);
	if (f->out)
		fault_out(f, c);
}

/* Unmaps the range release_pages has gathered. */
static void flush_release(struct faulter *f)
{
	if (f->rel_end > f->rel_start)
		madvise((void *)(f->map + f->rel_start),
			(size_t)(f->rel_end - f->rel_start), MADV_DONTNEED);
	f->rel_start = f->rel_end = 0;
}

/* Unmaps the pages of the chunks before `upto` (the caller is done with
 * them; a page the next chunk starts in stays), adjacent ones in one
 * call. Called with the lock held, or with no thread. */
static void release_pages(struct faulter *f, size_t upto)
{
	if (!f->map)
		return;
	for (; f->released < upto && f->released < f->nchunks; f->released++) {
		/* whole 64 KiB blocks: a fault maps the pages around it too
		 * (the kernel's fault-around), gaps between requests included */
		const struct chunk *c = &f->chunks[f->released];
		uint64_t a = c->start & ~(uint64_t)(AROUND - 1);
		uint64_t b = (c->start + c->len + AROUND - 1) & ~(uint64_t)(AROUND - 1);
		const struct chunk *next = f->released + 1 < f->nchunks ?
						   &f->chunks[f->released + 1] : NULL;
		if (next && next->len && next->start >= a && next->start < b)
			b = next->start; /* the next chunk's first page stays */
		/* rounding up to a block must not reach past the mapping:
		 * MADV_DONTNEED there would zero whatever is mapped next (a
		 * heap allocation) */
		if (b > f->map_end)
			b = f->map_end;
		if (!c->len || b <= a)
			continue;
		/* and the gap since the chunk before, when it is behind: a
		 * fault maps a whole large folio of the page cache (ext4 and
		 * xfs have them), which reaches past a sparse chunk's pages
		 * (heapcore's pointed-to objects left 320 MB mapped) */
		if (f->rel_upto && f->rel_upto < a)
			a = f->rel_upto;
		f->rel_upto = b;
		if (a != f->rel_end || f->rel_end - f->rel_start >= (4u << 20))
			flush_release(f);
		if (f->rel_end == f->rel_start)
			f->rel_start = a;
		f->rel_end = b;
	}
}

static void *faulter_main(void *arg)
{
	struct faulter *f = arg;
	pthread_setname_np(pthread_self(), "goparked-fault");
	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->stop && f->next < f->nchunks &&
		       f->next >= f->consumed + AHEAD)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->stop || f->next >= f->nchunks)
			break;
		size_t i = f->next++;
		release_pages(f, f->consumed);
		pthread_mutex_unlock(&f->lock);
		prepare_chunk(f, &f->chunks[i]);
		pthread_mutex_lock(&f->lock);
		f->ready[i] = 1;
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static gp_error *plan_chunks(const struct gp_read_req *reqs, size_t n,
			     struct chunk **ret, size_t *ret_n)
{
	size_t cap = 64, nc = 0;
	struct chunk *c = malloc(cap * sizeof(*c));
	if (!c)
		return &gp_error_nomem;
	size_t i = 0;
	while (i < n) {
		if (nc == cap) {
			struct chunk *t = realloc(c, 2 * cap * sizeof(*c));
			if (!t) {
				free(c);
				return &gp_error_nomem;
			}
			c = t;
			cap *= 2;
		}
		if (reqs[i].key == BATCH_DIRECT) {
			c[nc++] = (struct chunk){ .first = i, .end = i + 1 };
			i++;
			continue;
		}
		/* from the first pending request, as far as the requests that
		 * fit in one chunk reach, in file order */
		uint64_t start = reqs[i].key & ~(uint64_t)(PAGE - 1), end = start;
		size_t j = i;
		while (j < n && reqs[j].key != BATCH_DIRECT &&
		       (j == i || reqs[j].key >= reqs[j - 1].key) &&
		       reqs[j].key + reqs[j].size <= start + BATCH_CHUNK) {
			if (reqs[j].key + reqs[j].size > end)
				end = reqs[j].key + reqs[j].size;
			j++;
		}
		c[nc++] = (struct chunk){ start, (size_t)(end - start), i, j };
		i = j;
	}
	*ret = c;
	*ret_n = nc;
	return NULL;
}

static gp_error *run_chunk(const struct gp_memory *mem,
			   const struct gp_read_req *reqs,
			   const struct chunk *c, const uint8_t *map,
			   gp_batch_fn *fn, void *arg)
{
	gp_error *err = NULL;
	if (!c->len) {
		const struct gp_read_req *r = &reqs[c->first];
		uint8_t small[4096];
		uint8_t *buf = r->size <= sizeof(small) ? small : malloc(r->size);
		if (!buf)
			return &gp_error_nomem;
		gp_error *rerr = gp_memory_read(mem, r->address, buf, r->size);
		err = fn(arg, r, rerr ? NULL : buf, rerr);
		gp_error_destroy(rerr);
		if (buf != small)
			free(buf);
		return err;
	}
	for (size_t i = c->first; i < c->end && !err; i++) {
		/* The decoding waits on memory, not on arithmetic: ask for
		 * the lines of a few requests ahead. */
		if (i + PREFETCH < c->end) {
			const struct gp_read_req *p = &reqs[i + PREFETCH];
			const uint8_t *d = map + p->key;
			uint32_t lim = p->size < 512 ? p->size : 512;
			for (uint32_t o = 0; o < lim; o += 64)
				__builtin_prefetch(d + o);
		}
		err = fn(arg, &reqs[i], map + reqs[i].key, NULL);
	}
	return err;
}

/* What both ways of reading share: the requests keyed by file offset,
 * ordered, and cut into chunks, in f (zeroed by the caller). */
static gp_error *batch_plan(const struct gp_memory *mem,
			    struct gp_read_req *reqs, size_t n, struct faulter *f)
{
	gp_error *err;
	f->reqs = reqs;
	f->map = batch_map(mem);
	if (f->map) {
		const struct gp_memory_layer *l = &mem->layers[0];
		for (size_t k = 0; k < l->nsegs; k++) {
			uint64_t e = (uint64_t)(l->segs[k].data - l->base) + l->segs[k].avail;
			if (e > f->map_end)
				f->map_end = e;
		}
		f->map_end = (f->map_end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	}
	key_requests(mem, reqs, n);
	struct chunk *chunks;
	if ((err = sort_requests(reqs, n)) ||
	    (err = plan_chunks(reqs, n, &chunks, &f->nchunks)))
		return err;
	f->chunks = chunks;
	f->ready = calloc(f->nchunks ? f->nchunks : 1, 1);
	if (!f->ready) {
		free(chunks);
		return &gp_error_nomem;
	}
	return NULL;
}

/* The last pages dropped, the plan freed. */
static void batch_done(struct faulter *f)
{
	release_pages(f, f->nchunks);
	flush_release(f);
	free(f->ready);
	free((void *)f->chunks);
}

gp_error *gp_memory_read_batch(const struct gp_memory *mem,
			       struct gp_read_req *reqs, size_t n,
			       gp_batch_fn *fn, void *arg)
{
	return gp_memory_read_batch_out(mem, reqs, n, fn, arg, NULL);
}

gp_error *gp_memory_read_batch_out(const struct gp_memory *mem,
				   struct gp_read_req *reqs, size_t n,
				   gp_batch_fn *fn, void *arg,
				   const struct gp_batch_out *out)
{
	struct faulter f = { .out = out };
	gp_error *err = batch_plan(mem, reqs, n, &f);
	if (err)
		return err;
	const struct chunk *chunks = f.chunks;
	size_t nchunks = f.nchunks;
	pthread_t thread;
	/* A live target's requests are all direct: nothing to fault. */
	bool threaded = nchunks > 1 && f.map &&
			pthread_mutex_init(&f.lock, NULL) == 0;
	if (threaded && pthread_cond_init(&f.cond, NULL) != 0) {
		pthread_mutex_destroy(&f.lock);
		threaded = false;
	}
	if (threaded && pthread_create(&thread, NULL, faulter_main, &f) != 0) {
		pthread_cond_destroy(&f.cond);
		pthread_mutex_destroy(&f.lock);
		threaded = false;
	}
	size_t nmine = 0;
	double waited = 0;
	for (size_t i = 0; i < nchunks && !err; i++) {
		const struct chunk *c = &chunks[i];
		bool mine = true;
		if (threaded) {
			pthread_mutex_lock(&f.lock);
			/* the pages behind are let go here too: on a busy
			 * machine the thread may not run for a long while,
			 * and the chunks done pile up mapped meanwhile */
			release_pages(&f, f.consumed);
			if (f.next <= i) {
				f.next = i + 1; /* the thread is behind: do it here */
			} else {
				mine = false;
				/* while the thread finishes it, fault a later
				 * chunk here rather than wait */
				while (!f.ready[i] && f.next < nchunks &&
				       f.next < i + AHEAD) {
					size_t j = f.next++;
					pthread_mutex_unlock(&f.lock);
					prepare_chunk(&f, &chunks[j]);
					pthread_mutex_lock(&f.lock);
					f.ready[j] = 1;
					nmine++;
				}
				if (!f.ready[i]) {
					double t0 = gp_phase_clock();
					while (!f.ready[i])
						pthread_cond_wait(&f.cond, &f.lock);
					waited += gp_phase_clock() - t0;
				}
			}
			pthread_mutex_unlock(&f.lock);
			nmine += mine;
		} else {
			release_pages(&f, i);
		}
		err = run_chunk(mem, reqs, c, f.map, fn, arg);
		if (threaded) {
			pthread_mutex_lock(&f.lock);
			f.consumed = i + 1;
			pthread_cond_broadcast(&f.cond);
			pthread_mutex_unlock(&f.lock);
		}
	}
	if (threaded) {
		pthread_mutex_lock(&f.lock);
		f.stop = true;
		pthread_cond_broadcast(&f.cond);
		pthread_mutex_unlock(&f.lock);
		pthread_join(thread, NULL);
		pthread_cond_destroy(&f.cond);
		pthread_mutex_destroy(&f.lock);
	}
	gp_phase_note("%zu requests, %zu chunks (%zu faulted by the caller), "
		      "waited %.1f ms", n, nchunks, nmine, waited * 1e3);
	batch_done(&f);
	return err;
}

/*
 * Two workers: the caller and a second thread each take the next chunk,
 * fault it in by reading it and decode it with their own fn argument, so
 * decoding runs on both cores (fn must be safe to run on two chunks at
 * once). Pages are unmapped behind the first chunk not yet done.
 */
struct par_worker {
	struct faulter *f;
	const struct gp_memory *mem;
	gp_batch_fn *fn;
	void *arg;
	gp_error *err;
	size_t chunks;          /* how many this one decoded */
};

static void par_work(struct par_worker *w)
{
	struct faulter *f = w->f;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		if (f->stop || f->next >= f->nchunks) {
			pthread_mutex_unlock(&f->lock);
			return;
		}
		size_t i = f->next++;
		pthread_mutex_unlock(&f->lock);
		const struct chunk *c = &f->chunks[i];
		if (f->out)
			fault_out(f, c);
		gp_error *err = run_chunk(w->mem, f->reqs, c, f->map, w->fn,
					  w->arg);
		w->chunks++;
		pthread_mutex_lock(&f->lock);
		f->ready[i] = 1;
		while (f->consumed < f->nchunks && f->ready[f->consumed])
			f->consumed++;
		release_pages(f, f->consumed);
		if (i >= f->consumed && c->len && f->map) {
			/* done ahead of a chunk the other worker still holds:
			 * on a loaded machine a worker may not run for a long
			 * while, and everything the other one did meanwhile
			 * stayed mapped (heapcore's stacks: 570 MB of core
			 * pages). Its own pages go now; a page it shares with
			 * a chunk not done stays. */
			uint64_t a = c->start, b = c->start + c->len;
			b &= ~(uint64_t)(PAGE - 1);
			if (i + 1 < f->nchunks && f->chunks[i + 1].len &&
			    f->chunks[i + 1].start < b)
				b = f->chunks[i + 1].start;
			if (b > f->map_end)
				b = f->map_end;
			if (b > a)
				madvise((void *)(f->map + a), (size_t)(b - a), MADV_DONTNEED);
		}
		if (err) {
			f->stop = true;
			w->err = err;
		}
		pthread_mutex_unlock(&f->lock);
		if (err)
			return;
	}
}

static void *par_main(void *arg)
{
	pthread_setname_np(pthread_self(), "goparked-walk");
	par_work(arg);
	return NULL;
}

gp_error *gp_memory_read_batch_par(const struct gp_memory *mem,
				   struct gp_read_req *reqs, size_t n,
				   gp_batch_fn *fn, void *arg, void *arg2,
				   const struct gp_batch_out *out)
{
	struct faulter f = { .out = out };
	gp_error *err;
	if (!arg2 || !batch_map(mem) || !n ||
	    pthread_mutex_init(&f.lock, NULL) != 0)
		return gp_memory_read_batch_out(mem, reqs, n, fn, arg, out);
	if ((err = batch_plan(mem, reqs, n, &f))) {
		pthread_mutex_destroy(&f.lock);
		return err;
	}
	struct par_worker w[2] = {
		{ &f, mem, fn, arg, NULL, 0 },
		{ &f, mem, fn, arg2, NULL, 0 },
	};
	pthread_t thread;
	bool two = pthread_create(&thread, NULL, par_main, &w[1]) == 0;
	par_work(&w[0]); /* all of it, if there is no second thread */
	if (two)
		pthread_join(thread, NULL);
	pthread_mutex_destroy(&f.lock);
	gp_phase_note("%zu requests, %zu chunks on two workers (%zu by the "
		      "second)", n, f.nchunks, w[1].chunks);
	batch_done(&f);
	if (w[0].err) {
		gp_error_destroy(w[1].err);
		return w[0].err;
	}
	return w[1].err;
}

/* pread(2) of len bytes at off, retried on EINTR and short reads. */
static size_t pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* ------------------------------------------------------------------ pager */

#define PAGER_PAGE PAGE
#define PAGER_SLOTS 256u   /* direct-mapped: 1 MiB */

struct gp_pager {
	const struct gp_memory *mem;
	uint64_t tags[PAGER_SLOTS];   /* page address + 1; 0 = empty */
	uint8_t data[PAGER_SLOTS][PAGER_PAGE];
};

gp_error *gp_pager_create(const struct gp_memory *mem, struct gp_pager **ret)
{
	struct gp_pager *p = calloc(1, sizeof(*p));
	if (!p)
		return &gp_error_nomem;
	p->mem = mem;
	*ret = p;
	return NULL;
}

void gp_pager_destroy(struct gp_pager *p)
{
	free(p);
}

gp_error *gp_pager_read(struct gp_pager *p, uint64_t address, void *buf,
			size_t size)
{
	uint8_t *out = buf;
	uint64_t a = address;
	size_t left = size;
	if (address + size < address)
		return gp_error_fault(address, size);
	while (left) {
		uint64_t page = a & ~(uint64_t)(PAGER_PAGE - 1);
		size_t in = (size_t)(a - page);
		size_t n = PAGER_PAGE - in < left ? PAGER_PAGE - in : left;
		uint64_t off = file_offset(p->mem, page, PAGER_PAGE);
		if (off == BATCH_DIRECT)
			return gp_memory_read(p->mem, address, buf, size);
		size_t slot = (size_t)((page / PAGER_PAGE) % PAGER_SLOTS);
		if (p->tags[slot] != page + 1) {
			if (pread_full(p->mem->layers[0].fd, p->data[slot],
				       PAGER_PAGE, off) != PAGER_PAGE) {
				p->tags[slot] = 0;
				return gp_error_fault(address, size);
			}
			p->tags[slot] = page + 1;
		}
		memcpy(out, p->data[slot] + in, n);
		out += n;
		a += n;
		left -= n;
	}
	return NULL;
}
