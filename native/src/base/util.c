/* Small shared containers: growable arrays and an address map. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

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

/* Room for n keys in all, at most half full: one rehash however many
 * keys come, where doubling rehashed them all log n times. */
gp_error *gp_addr_map_reserve(struct gp_addr_map *m, size_t n)
{
	if ((n + 1) * 2 < m->cap)
		return NULL;
	size_t ncap = m->cap ? m->cap * 2 : 1024;
	while ((n + 1) * 2 >= ncap)
		ncap *= 2;
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
	return NULL;
}

gp_error *gp_addr_map_put(struct gp_addr_map *m, uint64_t key, uint32_t val)
{
	gp_error *err;
	if ((m->used + 1) * 2 >= m->cap && (err = gp_addr_map_reserve(m, m->used + 1)))
		return err;
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

gp_error *gp_index_reserve(struct gp_index *ix, size_t n,
			   gp_index_hash_fn *hash_of, const void *arg)
{
	if (n * 2 < ix->cap)
		return NULL;
	size_t ncap = ix->cap ? ix->cap * 2 : 64;
	while (n * 2 >= ncap)
		ncap *= 2;
	uint32_t *t = calloc(ncap, sizeof(*t));
	if (!t)
		return &gp_error_nomem;
	for (size_t i = 0; i < ix->cap; i++) {
		if (!ix->slots[i])
			continue;
		size_t h = hash_of(arg, ix->slots[i] - 1) & (ncap - 1);
		while (t[h])
			h = (h + 1) & (ncap - 1);
		t[h] = ix->slots[i];
	}
	free(ix->slots);
	ix->slots = t;
	ix->cap = ncap;
	return NULL;
}

uint32_t gp_index_find(const struct gp_index *ix, uint64_t hash,
		       const void *key, gp_index_eq_fn *eq, const void *arg,
		       size_t *slot)
{
	size_t mask = ix->cap - 1;
	size_t h = hash & mask;
	for (; ix->slots[h]; h = (h + 1) & mask)
		if (eq(arg, ix->slots[h] - 1, key))
			return ix->slots[h] - 1;
	*slot = h;
	return GP_NONE;
}

void gp_index_deinit(struct gp_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

static inline uint64_t key_at(const uint8_t *e, size_t off)
{
	uint64_t k;
	memcpy(&k, e + off, 8);
	return k;
}

/* 11 bits a pass: 2048 buckets' write positions stay in the L1 cache
 * (65536 of them thrashed it and the TLB). */
#define RADIX_BITS 11
#define RADIX_MASK ((1u << RADIX_BITS) - 1)

static inline __attribute__((always_inline)) void
scatter(const uint8_t *src, uint8_t *dst, size_t n, size_t size,
	size_t key_offset, int shift, size_t *count)
{
	for (size_t i = 0; i < n; i++) {
		size_t b = (key_at(src + i * size, key_offset) >> shift) & RADIX_MASK;
		memcpy(dst + count[b]++ * size, src + i * size, size);
	}
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
	int ndigits = 0;
	while (ndigits * RADIX_BITS < 64 && (max >> (ndigits * RADIX_BITS)))
		ndigits++;
	const size_t nb = (size_t)1 << RADIX_BITS;
	uint8_t *tmp = malloc(n * size);
	size_t *count = calloc((size_t)ndigits * (nb + 1), sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		return &gp_error_nomem;
	}
	/* every digit's histogram in one pass */
	for (size_t i = 0; i < n; i++) {
		uint64_t k = key_at(a + i * size, key_offset);
		for (int d = 0; d < ndigits; d++)
			count[(size_t)d * (nb + 1) +
			      ((k >> (d * RADIX_BITS)) & RADIX_MASK) + 1]++;
	}
	uint8_t *src = a, *dst = tmp;
	for (int d = 0; d < ndigits; d++) {
		size_t *c = count + (size_t)d * (nb + 1);
		bool one_bucket = false;
		for (size_t b = 0; b < nb && !one_bucket; b++)
			one_bucket = c[b + 1] == n;
		if (one_bucket)
			continue; /* every key has the same digit here */
		for (size_t b = 0; b < nb; b++)
			c[b + 1] += c[b];
		int shift = d * RADIX_BITS;
		/* a copy of known size is a few moves, not a call */
		switch (size) {
		case 16:
			scatter(src, dst, n, 16, key_offset, shift, c);
			break;
		case 24:
			scatter(src, dst, n, 24, key_offset, shift, c);
			break;
		default:
			scatter(src, dst, n, size, key_offset, shift, c);
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

/* GOPARKED_PHASES=1: the time each phase of a snapshot takes, on stderr
 * (for bench/; not part of any output a user parses). */
static int phases_enabled(void)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("GOPARKED_PHASES") != NULL;
	return enabled;
}

double gp_phase_clock(void)
{
	if (!phases_enabled())
		return 0;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void gp_phase(const char *name)
{
	static double last, last_cpu;
	if (!phases_enabled())
		return;
	double now = gp_phase_clock();
	/* the CPU of the process (both threads): the figure to compare on a
	 * loaded machine, where the wall time is mostly the others' */
	struct timespec ts;
	double cpu = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) ? 0 :
		     (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	if (name) {
		long rss = 0, hwm = 0, file = 0;
		FILE *f = fopen("/proc/self/status", "r");
		char line[128];
		while (f && fgets(line, sizeof(line), f)) {
			sscanf(line, "VmRSS: %ld", &rss);
			sscanf(line, "VmHWM: %ld", &hwm);
			sscanf(line, "RssFile: %ld", &file);
		}
		if (f)
			fclose(f);
		fprintf(stderr, "goparked phase %-12s %8.1f ms  cpu %7.1f ms  rss %4ld MB  peak %4ld MB  (files %ld MB)\n",
			name, (now - last) * 1e3, (cpu - last_cpu) * 1e3, rss >> 10,
			hwm >> 10, file >> 10);
	}
	last = now;
	last_cpu = cpu;
}

void gp_phase_note(const char *fmt, ...)
{
	if (!phases_enabled())
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("goparked   ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------- threads */

uint64_t gp_par_min(uint64_t dflt)
{
	const char *pm = getenv("GOPARKED_PAR_MIN");
	return pm && *pm >= '0' && *pm <= '9' ? strtoull(pm, NULL, 10) : dflt;
}

struct par_for {
	size_t n, block, next;
	gp_par_fn *fn;
	void *arg;
};

static void *par_for_run(void *arg)
{
	struct par_for *p = arg;
	for (;;) {
		size_t lo = __atomic_fetch_add(&p->next, p->block, __ATOMIC_RELAXED);
		if (lo >= p->n)
			return NULL;
		p->fn(p->arg, lo, lo + p->block < p->n ? lo + p->block : p->n);
	}
}

void gp_par_for(size_t n, size_t block, uint64_t min, gp_par_fn *fn, void *arg)
{
	struct par_for p = { n, block ? block : 1, 0, fn, arg };
	pthread_t t;
	bool two = n && n >= gp_par_min(min) && !pthread_create(&t, NULL, par_for_run, &p);
	par_for_run(&p);
	if (two)
		pthread_join(t, NULL);
}

static void *side_run(void *arg)
{
	struct gp_side *s = arg;
	pthread_setname_np(pthread_self(), "goparked-side");
	s->fn(s->arg);
	return NULL;
}

void gp_side_start(struct gp_side *s, void (*fn)(void *arg), void *arg)
{
	s->fn = fn;
	s->arg = arg;
	s->started = !pthread_create(&s->thread, NULL, side_run, s);
}

void gp_side_join(struct gp_side *s)
{
	if (s->started)
		pthread_join(s->thread, NULL);
	else
		s->fn(s->arg);
	s->started = false;
}

/* ------------------------------------------------------------ kv index */

void gp_kv_index_init(struct gp_kv_index *x, const struct gp_kv *kv, size_t n)
{
	*x = (struct gp_kv_index){ kv, n, NULL, 0 };
	if (n < 64 || n >= UINT32_MAX)
		return;
	uint64_t first = kv[0].key, range = kv[n - 1].key - first;
	unsigned shift = 0;
	while ((range >> shift) >= (1u << 16))
		shift++;
	size_t nb = (size_t)(range >> shift) + 1;
	uint32_t *bkt = malloc((nb + 1) * sizeof(*bkt));
	if (!bkt)
		return;
	size_t j = 0;
	for (size_t b = 0; b <= nb; b++) {
		while (j < n && ((kv[j].key - first) >> shift) < b)
			j++;
		bkt[b] = (uint32_t)j;
	}
	x->bkt = bkt;
	x->shift = shift;
}

void gp_kv_index_deinit(struct gp_kv_index *x)
{
	free(x->bkt);
	*x = (struct gp_kv_index){ 0 };
}

bool gp_kv_index_last(const struct gp_kv_index *x, uint64_t key, uint64_t *ret)
{
	size_t lo = 0, hi = x->n; /* the first entry past key */
	if (!hi)
		return false;
	if (x->bkt) {
		uint64_t first = x->kv[0].key;
		if (key < first || key > x->kv[hi - 1].key)
			return false;
		/* it lies in [bkt[b], bkt[b + 1]]: the keys before bkt[b]
		 * are below key's bucket, those from bkt[b + 1] past it */
		size_t b = (size_t)((key - first) >> x->shift);
		lo = x->bkt[b];
		hi = x->bkt[b + 1];
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->kv[mid].key <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || x->kv[lo - 1].key != key)
		return false;
	*ret = x->kv[lo - 1].value;
	return true;
}
