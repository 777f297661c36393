/* The harnesses' shared parts: cases, regions, patches, seeds (fuzz.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "binary/binary.h"
#include "goparked.h"

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

uint64_t fz_mix_str(uint64_t h, const char *str)
{
	return fz_mix(h, str ? str : "", str ? strlen(str) + 1 : 1);
}

uint64_t fz_mix_err(uint64_t h, gp_error *err)
{
	if (err)
		h = fz_mix(h, gp_error_message(err), strlen(gp_error_message(err)));
	gp_error_destroy(err);
	return fz_mix(h, "|", 1);
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

/* ------------------------------------------------------ unit harnesses */

void fz_write(const char *harness, const char *dir, const char *name,
	      const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
		fz_die(harness, "cannot write %s", path);
}

/* write(dir, i, exe) of the executable at path, opened and closed here
 * (one that does not open gives no seed) */
static void unit_seed(void (*write)(const char *dir, size_t i, struct gp_exe *exe),
		      const char *dir, size_t i, const char *path)
{
	struct gp_exe exe;
	gp_error *err = gp_exe_open(path, &exe);
	if (err) {
		gp_error_destroy(err);
		return;
	}
	write(dir, i, &exe);
	gp_exe_close(&exe);
}

void fz_unit_seeds(const char *harness,
		   void (*write)(const char *dir, size_t i, struct gp_exe *exe))
{
	const char *dir = getenv("GP_FUZZ_SEEDS");
	if (!dir || !*dir)
		return;
	mkdir(dir, 0777);
	const char *list = getenv("GP_FUZZ_EXES");
	size_t n = 0;
	if (list && *list) {
		FILE *f = fopen(list, "r");
		if (!f)
			fz_die(harness, "cannot open GP_FUZZ_EXES=%s: %s", list,
			       strerror(errno));
		char line[4096];
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			struct stat st;
			if (!*line || line[0] == '#' || stat(line, &st))
				continue;
			unit_seed(write, dir, n++, line);
		}
		fclose(f);
	} else {
		fz_load_cases(harness, 0);
		for (size_t i = 0; i < fz_ncases; i++)
			unit_seed(write, dir, n++, fz_cases[i].exe);
	}
	if (!n)
		fz_die(harness, "no fixture executable to make seeds from");
	exit(0);
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The offset just past the pc-value table at off in pctab (n bytes), or
 * 0 when it runs off the end. */
static size_t pctab_end(const uint8_t *pc, size_t n, size_t off)
{
	size_t p = off;
	for (int first = 1;; first = 0) {
		uint32_t v[2];
		for (int k = 0; k < 2; k++) {
			v[k] = 0;
			for (int sh = 0;; sh += 7) {
				if (p >= n || sh > 28)
					return 0;
				uint8_t b = pc[p++];
				v[k] |= (uint32_t)(b & 0x7f) << sh;
				if (!(b & 0x80))
					break;
			}
			if (k == 0 && v[0] == 0 && !first)
				return p;
		}
	}
}

bool fz_small_pclntab(const uint8_t *sec, size_t n, size_t name_max,
		      size_t cu_max, size_t file_max, size_t pc_max,
		      uint32_t nfunc_max, uint8_t **ret, size_t *ret_n)
{
	if (n < 72)
		return false;
	uint32_t magic = ld32(sec);
	if (magic != 0xfffffff0u && magic != 0xfffffff1u)
		return false;
	size_t fsz = magic == 0xfffffff0u ? 40 : 44;
	uint64_t nfunc = ld64(sec + 8), off[6];
	for (int i = 0; i < 5; i++)
		off[i] = ld64(sec + 32 + 8 * i);
	off[5] = n;
	for (int i = 0; i < 5; i++)
		if (off[i] < 72 || off[i] > off[i + 1])
			return false;
	const uint8_t *pcln = sec + off[4], *pctab = sec + off[3];
	size_t npcln = n - off[4], npctab = off[4] - off[3];
	if ((nfunc + 1) * 8 > npcln)
		return false;
	size_t max[4] = { 0, 0, 0, 0 }; /* names, cutab, filetab, pctab */
	uint32_t k = 0;
	for (; k < nfunc && k < nfunc_max; k++) {
		uint32_t fo = ld32(pcln + 8 * (size_t)k + 4);
		if (fo + fsz > npcln)
			break;
		const uint8_t *f = pcln + fo;
		uint32_t name = ld32(f + 4), cu = ld32(f + 32),
			 npcdata = ld32(f + 28);
		if (name >= name_max || (size_t)cu * 4 >= cu_max ||
		    npcdata > 64 || fo + fsz + 4 * (size_t)npcdata > npcln)
			break;
		const char *nm = (const char *)sec + off[0] + name;
		size_t nl = strnlen(nm, off[1] - off[0] - name);
		size_t m[4] = { name + nl + 1, (size_t)cu * 4 + 64, 0, 0 };
		uint32_t tabs[4 + 64];
		size_t nt = 0;
		for (int t = 16; t <= 24; t += 4)
			tabs[nt++] = ld32(f + t);
		for (uint32_t i = 0; i < npcdata; i++)
			tabs[nt++] = ld32(f + fsz + 4 * i);
		bool ok = true;
		for (size_t i = 0; i < nt && ok; i++) {
			if (!tabs[i])
				continue;
			size_t e = pctab_end(pctab, npctab, tabs[i]);
			ok = e && e <= pc_max;
			if (e > m[3])
				m[3] = e;
		}
		if (!ok || m[0] > name_max || m[1] > cu_max)
			break;
		for (int i = 0; i < 4; i++)
			if (m[i] > max[i])
				max[i] = m[i];
	}
	if (!k)
		return false;
	/* the files the CUs of those functions name: the cutab's entries */
	size_t cu_n = max[1] < off[2] - off[1] ? max[1] : off[2] - off[1];
	cu_n &= ~(size_t)3;
	for (size_t i = 0; i + 4 <= cu_n; i += 4) {
		uint32_t fo = ld32(sec + off[1] + i);
		if (fo == UINT32_MAX || fo >= off[3] - off[2])
			continue;
		size_t e = fo + strnlen((const char *)sec + off[2] + fo,
					off[3] - off[2] - fo) + 1;
		if (e <= file_max && e > max[2])
			max[2] = e;
	}
	size_t len[4];
	for (int i = 0; i < 4; i++) {
		len[i] = max[i] < off[i + 1] - off[i] ? max[i] : off[i + 1] - off[i];
	}
	len[1] = cu_n;
	uint32_t rec0 = ld32(pcln + 4), reck = ld32(pcln + 8 * (size_t)k + 4);
	if (k == nfunc)
		reck = (uint32_t)npcln;
	/* the last record's pcdata and funcdata arrays */
	if (reck < rec0 || reck > npcln)
		return false;
	size_t ftab = ((size_t)k + 1) * 8, recs = reck - rec0;
	size_t total = 72 + len[0] + len[1] + len[2] + len[3] + ftab + recs;
	uint8_t *b = calloc(1, total);
	if (!b)
		return false;
	memcpy(b, sec, 72);
	uint64_t nf = k, o = 72;
	memcpy(b + 8, &nf, 8);
	for (int i = 0; i < 4; i++) {
		memcpy(b + 32 + 8 * i, &o, 8);
		memcpy(b + o, sec + off[i], len[i]);
		o += len[i];
	}
	memcpy(b + 64, &o, 8);
	uint8_t *ft = b + o;
	for (uint32_t i = 0; i <= k; i++) {
		uint32_t entry = ld32(pcln + 8 * (size_t)i),
			 fo = i < k ? ld32(pcln + 8 * (size_t)i + 4) - rec0 + (uint32_t)ftab : 0;
		if (i == k && k == nfunc)
			entry = ld32(pcln + 8 * (size_t)nfunc);
		memcpy(ft + 8 * (size_t)i, &entry, 4);
		memcpy(ft + 8 * (size_t)i + 4, &fo, 4);
	}
	memcpy(ft + ftab, pcln + rec0, recs);
	*ret = b;
	*ret_n = total;
	return true;
}
