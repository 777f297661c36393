/*
 * Target memory: layers of segments searched in order (core over
 * executable), plus an optional reader for live processes.
 */
#include <errno.h>
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

#define BATCH_CHUNK (4u << 20)
#define BATCH_DIRECT UINT64_MAX

static int req_cmp(const void *a, const void *b)
{
	const struct gp_read_req *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
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

gp_error *gp_memory_read_batch(const struct gp_memory *mem,
			       struct gp_read_req *reqs, size_t n,
			       gp_batch_fn *fn, void *arg)
{
	gp_error *err = NULL;
	uint8_t *chunk = malloc(BATCH_CHUNK);
	if (!chunk)
		return &gp_error_nomem;
	for (size_t i = 0; i < n; i++)
		reqs[i].key = reqs[i].size > BATCH_CHUNK / 2 ?
				      BATCH_DIRECT :
				      file_offset(mem, reqs[i].address,
						  reqs[i].size);
	qsort(reqs, n, sizeof(*reqs), req_cmp);
	int fd = mem->nlayers ? mem->layers[0].fd : -1;
	size_t i = 0;
	while (i < n && !err) {
		if (reqs[i].key == BATCH_DIRECT) {
			uint8_t small[4096];
			uint8_t *buf = reqs[i].size <= sizeof(small) ?
					       small : malloc(reqs[i].size);
			if (!buf) {
				err = &gp_error_nomem;
				break;
			}
			err = batch_direct(mem, &reqs[i], buf, fn, arg);
			if (buf != small)
				free(buf);
			i++;
			continue;
		}
		/* One chunk from the first pending request, as far as the
		 * requests that fit in it reach. */
		uint64_t start = reqs[i].key & ~(uint64_t)4095;
		uint64_t end = start;
		size_t j = i;
		while (j < n && reqs[j].key != BATCH_DIRECT &&
		       reqs[j].key + reqs[j].size <= start + BATCH_CHUNK) {
			if (reqs[j].key + reqs[j].size > end)
				end = reqs[j].key + reqs[j].size;
			j++;
		}
		size_t len = (size_t)(end - start), got = 0;
		while (got < len) {
			ssize_t r = pread(fd, chunk + got, len - got,
					  (off_t)(start + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		for (; i < j && !err; i++) {
			const struct gp_read_req *r = &reqs[i];
			if (r->key + r->size <= start + got) {
				err = fn(arg, r, chunk + (r->key - start), NULL);
			} else {
				gp_error *e = gp_error_fault(r->address, r->size);
				err = fn(arg, r, NULL, e);
				gp_error_destroy(e);
			}
		}
	}
	free(chunk);
	return err;
}
