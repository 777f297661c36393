/*
 * Target memory: layers of segments searched in order (core over
 * executable), plus an optional reader for live processes.
 */
#include <stdlib.h>
#include <string.h>

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
