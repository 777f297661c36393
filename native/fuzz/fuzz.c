/* The harnesses' shared parts: cases, regions, patches, seeds (fuzz.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

struct fz_case *fz_cases;
size_t fz_ncases;
int fz_staged;
int fz_seeds_per_kind = 2;

void fz_die(const char *harness, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", harness);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void fz_load_cases(const char *harness, int need_core)
{
	const char *path = getenv("GP_FUZZ_CASES");
	if (!path || !*path)
		fz_die(harness, "GP_FUZZ_CASES is not set (make fuzz-build writes native/build-fuzz/fuzz.cases)");
	FILE *f = fopen(path, "r");
	if (!f)
		fz_die(harness, "cannot open GP_FUZZ_CASES=%s: %s", path,
		       strerror(errno));
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		char exe[4096], core[4096];
		int n = sscanf(line, "%4095s %4095s", exe, core);
		if (n < 1 || exe[0] == '#' || (need_core && n < 2))
			continue;
		fz_cases = realloc(fz_cases, (fz_ncases + 1) * sizeof(*fz_cases));
		if (!fz_cases)
			fz_die(harness, "out of memory");
		struct fz_case *c = &fz_cases[fz_ncases++];
		memset(c, 0, sizeof(*c));
		c->exe = strdup(exe);
		c->core = n > 1 ? strdup(core) : NULL;
	}
	fclose(f);
	if (!fz_ncases)
		fz_die(harness, "no cases in %s", path);
}

void fz_add(struct fz_case *c, const char *kind, uint64_t addr,
	    uint64_t size)
{
	if (!size)
		return;
	size_t k;
	for (k = 0; k < c->nkinds; k++)
		if (!strcmp(c->kinds[k].name, kind))
			break;
	if (k == c->nkinds) {
		if (c->nkinds == FZ_MAX_KINDS)
			return;
		c->kinds[c->nkinds++].name = kind;
	}
	struct fz_kind *K = &c->kinds[k];
	if (K->n == K->cap) {
		K->cap = K->cap ? 2 * K->cap : 16;
		K->r = realloc(K->r, K->cap * sizeof(*K->r));
		if (!K->r)
			fz_die("fuzz", "out of memory");
	}
	K->r[K->n++] = (struct fz_region){ addr, size };
}

static uint32_t le(const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

struct fz_case *fz_parse(const uint8_t *data, size_t size,
			 struct fz_patch *ret, size_t *ret_n)
{
	*ret_n = 0;
	if (!fz_ncases)
		return NULL;
	struct fz_case *c = &fz_cases[size ? data[0] % fz_ncases : 0];
	size_t i = 1;
	while (c->nkinds && i + 8 <= size && *ret_n < FZ_MAX_PATCHES) {
		const struct fz_kind *K = &c->kinds[data[i] % c->nkinds];
		const struct fz_region *r = &K->r[le(data + i + 1, 2) % K->n];
		uint64_t off = le(data + i + 3, 4) % r->size;
		size_t len = 1 + data[i + 7] % 64;
		i += 8;
		if (len > size - i)
			len = size - i;
		if (len > r->size - off)
			len = (size_t)(r->size - off);
		if (len)
			ret[(*ret_n)++] = (struct fz_patch){ r->addr + off,
							     data + i, len };
		i += len;
	}
	return c;
}

void fz_apply(const struct fz_patch *p, size_t n, uint64_t addr,
	      uint8_t *buf, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t lo = p[i].addr > addr ? p[i].addr : addr;
		uint64_t hi = p[i].addr + p[i].len;
		if (hi > addr + size)
			hi = addr + size;
		if (lo < hi)
			memcpy(buf + (lo - addr), p[i].bytes + (lo - p[i].addr),
			       (size_t)(hi - lo));
	}
}

int fz_touches(const struct fz_case *c, const char *kind,
	       const struct fz_patch *p, size_t n)
{
	for (size_t k = 0; k < c->nkinds; k++) {
		const struct fz_kind *K = &c->kinds[k];
		if (strcmp(K->name, kind))
			continue;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < K->n; j++)
				if (p[i].addr < K->r[j].addr + K->r[j].size &&
				    K->r[j].addr < p[i].addr + p[i].len)
					return 1;
	}
	return 0;
}

int fz_twice(void)
{
	static int twice = -1;
	if (twice < 0)
		twice = getenv("GP_FUZZ_TWICE") && *getenv("GP_FUZZ_TWICE") == '1';
	return twice;
}

uint64_t fz_mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	if (!fz_twice())
		return h;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

int fz_full(const uint8_t *data, size_t size)
{
	if (!size || !fz_ncases)
		return 0;
	return data[0] / fz_ncases % FZ_STAGES == FZ_STAGES - 1;
}

void fz_file_run(const uint8_t *data, size_t size,
		 void (*put)(struct fz_case *c, uint64_t off,
			     const uint8_t *bytes, size_t len),
		 const uint8_t *(*orig)(struct fz_case *c),
		 void (*run)(struct fz_case *c, const uint8_t *data,
			     size_t size, const struct fz_patch *p,
			     size_t n))
{
	struct fz_patch p[FZ_MAX_PATCHES];
	size_t n;
	struct fz_case *c = fz_parse(data, size, p, &n);
	for (size_t i = 0; i < n; i++)
		put(c, p[i].addr, p[i].bytes, p[i].len);
	run(c, data, size, p, n);
	for (size_t i = n; i-- > 0;)
		put(c, p[i].addr, orig(c) + p[i].addr, p[i].len);
}

/* One seed: case ci, one patch of kind k, region item, its own bytes at
 * offset off. */
static void write_seed(const char *dir, size_t ci, struct fz_case *c,
		       size_t k, size_t item, uint64_t off,
		       int (*read_orig)(struct fz_case *, uint64_t, void *,
					size_t))
{
	const struct fz_region *r = &c->kinds[k].r[item];
	size_t len = r->size - off < 64 ? (size_t)(r->size - off) : 64;
	/* [0] case, then one record (fuzz.h) */
	uint8_t rec[9 + 64];
	rec[0] = (uint8_t)ci;
	rec[1] = (uint8_t)k;
	rec[2] = (uint8_t)item;
	rec[3] = (uint8_t)(item >> 8);
	for (int b = 0; b < 4; b++)
		rec[4 + b] = (uint8_t)(off >> (8 * b));
	rec[8] = (uint8_t)(len - 1);
	if (read_orig(c, r->addr + off, rec + 9, len))
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/seed-c%zu-%s-%zu-%llu", dir, ci,
		 c->kinds[k].name, item, (unsigned long long)off);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(rec, 1, 9 + len, f) != 9 + len)
		fz_die("fuzz", "cannot write %s", path);
	fclose(f);
}

void fz_ready(const char *harness,
	      int (*read_orig)(struct fz_case *c, uint64_t addr, void *buf,
			       size_t size))
{
	if (getenv("GP_FUZZ_VERBOSE"))
		for (size_t ci = 0; ci < fz_ncases; ci++)
			for (size_t k = 0; k < fz_cases[ci].nkinds; k++)
				fprintf(stderr, "%s: case %zu (%s): %zu %s regions\n",
					harness, ci, fz_cases[ci].exe,
					fz_cases[ci].kinds[k].n,
					fz_cases[ci].kinds[k].name);
	const char *dir = getenv("GP_FUZZ_SEEDS");
	if (!dir || !*dir)
		return;
	mkdir(dir, 0777);
	for (size_t ci = 0; ci < fz_ncases && ci < 256; ci++) {
		struct fz_case *c = &fz_cases[ci];
		/* the case alone: the unmodified fixture */
		char path[4096];
		snprintf(path, sizeof(path), "%s/seed-c%zu", dir, ci);
		FILE *f = fopen(path, "wb");
		uint8_t b = (uint8_t)ci;
		if (!f || fwrite(&b, 1, 1, f) != 1)
			fz_die(harness, "cannot write %s", path);
		fclose(f);
		if (fz_staged && ci + (FZ_STAGES - 1) * fz_ncases < 256) {
			snprintf(path, sizeof(path), "%s/seed-c%zu-full", dir, ci);
			b = (uint8_t)(ci + (FZ_STAGES - 1) * fz_ncases);
			if (!(f = fopen(path, "wb")) || fwrite(&b, 1, 1, f) != 1)
				fz_die(harness, "cannot write %s", path);
			fclose(f);
		}
		for (size_t k = 0; k < c->nkinds; k++) {
			const struct fz_kind *K = &c->kinds[k];
			/* two of each kind: the first region from its
			 * start, the middle one from its middle (a seed
			 * costs a run of the harness in CI's 60 s) */
			write_seed(dir, ci, c, k, 0, 0, read_orig);
			if (fz_seeds_per_kind > 1 && (K->n > 1 || K->r[0].size > 128))
				write_seed(dir, ci, c, k, K->n / 2,
					   K->r[K->n / 2].size / 2, read_orig);
		}
	}
	fprintf(stderr, "%s: seeds written to %s\n", harness, dir);
	exit(0);
}
