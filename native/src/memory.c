/*
 * Target memory: layers of segments searched in order (core over
 * executable), plus an optional reader for live processes.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

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
		qsort(layer->segs, layer->nsegs, sizeof(*layer->segs),
		      segment_cmp);
}

void gp_memory_deinit(struct gp_memory *mem)
{
	for (size_t i = 0; i < mem->nlayers; i++)
		free(mem->layers[i].segs);
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
 * How many bytes at address one layer can supply from a single segment
 * (0 if none), with a pointer to them or NULL for zero fill.
 */
static uint64_t layer_span(const struct gp_memory_layer *l, uint64_t address,
			   const uint8_t **ret)
{
	const struct gp_segment *s = layer_find(l, address);
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

const uint8_t *gp_memory_ptr(const struct gp_memory *mem, uint64_t address,
			     size_t size)
{
	if (mem->read_fn)
		return NULL;
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

gp_error *gp_memory_read(const struct gp_memory *mem, uint64_t address,
			 void *buf, size_t size)
{
	if (address + size < address)
		return gp_error_fault(address, size);
	if (mem->read_fn)
		return mem->read_fn(mem->read_arg, address, buf, size);
	uint8_t *out = buf;
	uint64_t a = address;
	size_t left = size;
	while (left) {
		uint64_t n = 0;
		const uint8_t *p = NULL;
		for (size_t i = 0; i < mem->nlayers && !n; i++)
			n = layer_span(&mem->layers[i], a, &p);
		if (!n)
			return gp_error_fault(address, size);
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

gp_error *gp_memory_read_u64(const struct gp_memory *mem, uint64_t address,
			     uint64_t *ret)
{
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

/* ------------------------------------------------------------ batch reads */

/* Small enough that the copy out of the page cache stays in cache. */
#define BATCH_CHUNK (128u << 10)
#define BATCH_DIRECT UINT64_MAX

/* By file offset; requests read directly (BATCH_DIRECT) sort last, with
 * a key just above the largest offset so that the radix sort needs no
 * more passes than the offsets themselves. */
static gp_error *sort_requests(struct gp_read_req *reqs, size_t n)
{
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
 * it in one segment of a file, else BATCH_DIRECT. */
static uint64_t file_offset(const struct gp_memory *mem, uint64_t address,
			    uint32_t size)
{
	if (mem->read_fn || !mem->nlayers || mem->layers[0].fd <= 0)
		return BATCH_DIRECT;
	const struct gp_memory_layer *l = &mem->layers[0];
	const struct gp_segment *s = layer_find(l, address);
	if (!s || address - s->start + size > s->avail)
		return BATCH_DIRECT;
	return (uint64_t)(s->data - l->base) + (address - s->start);
}

static gp_error *batch_direct(const struct gp_memory *mem,
			      const struct gp_read_req *r, uint8_t *buf,
			      gp_batch_fn *fn, void *arg)
{
	gp_error *err = gp_memory_read(mem, r->address, buf, r->size);
	gp_error *ret = fn(arg, r, err ? NULL : buf, err);
	gp_error_destroy(err);
	return ret;
}

/*
 * A read plan: consecutive chunks of the file, each with the run of
 * requests it satisfies; len 0 marks a request read directly.
 */
struct chunk {
	uint64_t start;
	size_t len, got;
	size_t first, end;      /* requests [first, end) */
};

/* Chunks are read by a second thread while the caller works through the
 * previous ones: on this 2-core machine the kernel's copy out of the page
 * cache then overlaps the decoding. */
#define RING 4

struct reader {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct chunk *chunks;
	size_t nchunks;
	int fd;
	uint8_t *bufs[RING];
	size_t got[RING];
	size_t produced, consumed; /* chunks read / released */
	bool stop;
};

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

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	for (size_t i = 0; i < rd->nchunks; i++) {
		const struct chunk *c = &rd->chunks[i];
		pthread_mutex_lock(&rd->lock);
		while (!rd->stop && rd->produced - rd->consumed >= RING)
			pthread_cond_wait(&rd->cond, &rd->lock);
		bool stop = rd->stop;
		pthread_mutex_unlock(&rd->lock);
		if (stop)
			break;
		size_t got = c->len ? pread_full(rd->fd, rd->bufs[i % RING],
						 c->len, c->start) : 0;
		pthread_mutex_lock(&rd->lock);
		rd->got[i % RING] = got;
		rd->produced++;
		pthread_cond_broadcast(&rd->cond);
		pthread_mutex_unlock(&rd->lock);
	}
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
		 * fit in one chunk reach */
		uint64_t start = reqs[i].key & ~(uint64_t)4095, end = start;
		size_t j = i;
		while (j < n && reqs[j].key != BATCH_DIRECT &&
		       reqs[j].key + reqs[j].size <= start + BATCH_CHUNK) {
			if (reqs[j].key + reqs[j].size > end)
				end = reqs[j].key + reqs[j].size;
			j++;
		}
		c[nc++] = (struct chunk){ start, (size_t)(end - start), 0, i, j };
		i = j;
	}
	*ret = c;
	*ret_n = nc;
	return NULL;
}

static gp_error *run_chunk(const struct gp_memory *mem,
			   const struct gp_read_req *reqs,
			   const struct chunk *c, const uint8_t *data,
			   size_t got, gp_batch_fn *fn, void *arg)
{
	gp_error *err = NULL;
	if (!c->len) {
		const struct gp_read_req *r = &reqs[c->first];
		uint8_t small[4096];
		uint8_t *buf = r->size <= sizeof(small) ? small : malloc(r->size);
		if (!buf)
			return &gp_error_nomem;
		err = batch_direct(mem, r, buf, fn, arg);
		if (buf != small)
			free(buf);
		return err;
	}
	for (size_t i = c->first; i < c->end && !err; i++) {
		const struct gp_read_req *r = &reqs[i];
		if (r->key + r->size <= c->start + got) {
			err = fn(arg, r, data + (r->key - c->start), NULL);
		} else {
			gp_error *e = gp_error_fault(r->address, r->size);
			err = fn(arg, r, NULL, e);
			gp_error_destroy(e);
		}
	}
	return err;
}

gp_error *gp_memory_read_batch(const struct gp_memory *mem,
			       struct gp_read_req *reqs, size_t n,
			       gp_batch_fn *fn, void *arg)
{
	gp_error *err;
	for (size_t i = 0; i < n; i++)
		reqs[i].key = reqs[i].size > BATCH_CHUNK / 2 ?
				      BATCH_DIRECT :
				      file_offset(mem, reqs[i].address,
						  reqs[i].size);
	if ((err = sort_requests(reqs, n)))
		return err;
	struct chunk *chunks;
	size_t nchunks;
	if ((err = plan_chunks(reqs, n, &chunks, &nchunks)))
		return err;
	struct reader rd = {
		.chunks = chunks,
		.nchunks = nchunks,
		.fd = mem->nlayers ? mem->layers[0].fd : -1,
	};
	for (int b = 0; b < RING; b++) {
		rd.bufs[b] = malloc(BATCH_CHUNK);
		if (!rd.bufs[b]) {
			err = &gp_error_nomem;
			goto out;
		}
	}
	pthread_t thread;
	/* No file (a live target's read_fn): every request is direct, and a
	 * thread handshake per request would cost more than the read. */
	bool threaded = nchunks > RING && rd.fd > 0 &&
			pthread_mutex_init(&rd.lock, NULL) == 0;
	if (threaded && pthread_cond_init(&rd.cond, NULL) != 0) {
		pthread_mutex_destroy(&rd.lock);
		threaded = false;
	}
	if (threaded && pthread_create(&thread, NULL, reader_main, &rd) != 0) {
		pthread_cond_destroy(&rd.cond);
		pthread_mutex_destroy(&rd.lock);
		threaded = false;
	}
	for (size_t i = 0; i < nchunks && !err; i++) {
		const struct chunk *c = &chunks[i];
		size_t got;
		if (threaded) {
			pthread_mutex_lock(&rd.lock);
			while (rd.produced <= i)
				pthread_cond_wait(&rd.cond, &rd.lock);
			got = rd.got[i % RING];
			pthread_mutex_unlock(&rd.lock);
		} else {
			got = c->len ? pread_full(rd.fd, rd.bufs[0], c->len,
						  c->start) : 0;
		}
		err = run_chunk(mem, reqs, c,
				threaded ? rd.bufs[i % RING] : rd.bufs[0], got,
				fn, arg);
		if (threaded) {
			pthread_mutex_lock(&rd.lock);
			rd.consumed++;
			pthread_cond_broadcast(&rd.cond);
			pthread_mutex_unlock(&rd.lock);
		}
	}
	if (threaded) {
		pthread_mutex_lock(&rd.lock);
		rd.stop = true;
		pthread_cond_broadcast(&rd.cond);
		pthread_mutex_unlock(&rd.lock);
		pthread_join(thread, NULL);
		pthread_cond_destroy(&rd.cond);
		pthread_mutex_destroy(&rd.lock);
	}
out:
	for (int b = 0; b < RING; b++)
		free(rd.bufs[b]);
	free(chunks);
	return err;
}

/* ------------------------------------------------------------------ pager */

#define PAGER_PAGE 4096u
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
