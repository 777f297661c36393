/* Small shared containers: growable arrays and an address map. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

gp_error *gp_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return NULL;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return &gp_error_nomem;
	*p = q;
	*cap = n;
	return NULL;
}

static inline size_t addr_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

gp_error *gp_addr_map_put(struct gp_addr_map *m, uint64_t key, uint32_t val)
{
	if ((m->used + 1) * 2 >= m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		uint64_t *k = calloc(ncap, sizeof(*k));
		uint32_t *v = malloc(ncap * sizeof(*v));
		if (!k || !v) {
			free(k);
			free(v);
			return &gp_error_nomem;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			size_t h = addr_hash(m->keys[i]) & (ncap - 1);
			while (k[h])
				h = (h + 1) & (ncap - 1);
			k[h] = m->keys[i];
			v[h] = m->vals[i];
		}
		free(m->keys);
		free(m->vals);
		m->keys = k;
		m->vals = v;
		m->cap = ncap;
	}
	if (!key)
		return NULL;
	size_t mask = m->cap - 1;
	size_t h = addr_hash(key) & mask;
	for (; m->keys[h]; h = (h + 1) & mask) {
		if (m->keys[h] == key) {
			m->vals[h] = val;
			return NULL;
		}
	}
	m->keys[h] = key;
	m->vals[h] = val;
	m->used++;
	return NULL;
}

uint32_t gp_addr_map_get(const struct gp_addr_map *m, uint64_t key)
{
	if (!m->cap || !key)
		return GP_NONE;
	size_t mask = m->cap - 1;
	for (size_t h = addr_hash(key) & mask; m->keys[h]; h = (h + 1) & mask)
		if (m->keys[h] == key)
			return m->vals[h];
	return GP_NONE;
}

void gp_addr_map_deinit(struct gp_addr_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static inline uint64_t key_at(const uint8_t *e, size_t off)
{
	uint64_t k;
	memcpy(&k, e + off, 8);
	return k;
}

gp_error *gp_radix_sort(void *base, size_t n, size_t size, size_t key_offset)
{
	uint8_t *a = base;
	uint64_t max = 0;
	bool sorted = true;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = key_at(a + i * size, key_offset);
		if (k > max)
			max = k;
		if (i && key_at(a + (i - 1) * size, key_offset) > k)
			sorted = false;
	}
	if (sorted || n < 2)
		return NULL;
	uint8_t *tmp = malloc(n * size);
	size_t *count = malloc(65537 * sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		return &gp_error_nomem;
	}
	uint8_t *src = a, *dst = tmp;
	for (int shift = 0; shift < 64 && (max >> shift); shift += 16) {
		memset(count, 0, 65537 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[((key_at(src + i * size, key_offset) >> shift) & 0xffff) + 1]++;
		for (size_t b = 0; b < 65536; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++) {
			size_t b = (key_at(src + i * size, key_offset) >> shift) & 0xffff;
			memcpy(dst + count[b]++ * size, src + i * size, size);
		}
		uint8_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * size);
	free(tmp);
	free(count);
	return NULL;
}
