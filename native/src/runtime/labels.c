/*
 * pprof labels of a goroutine (g.labels), interned as sets: many goroutines
 * share one set. A set is stored in snap->labels as [npairs, key, value,
 * ...] (string ids, sorted by key) and named by its offset there.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define GP_MAX_LABELS 64
#define GP_MAX_MAP_B 4          /* 16 buckets hold far more than 64 labels */
#define GP_MAX_OVERFLOW 8
/* map[string]string bucket (runtime/map.go, bucketCnt = 8) */
#define BUCKET_CNT 8
#define BUCKET_KEYS 8
#define BUCKET_VALUES (BUCKET_KEYS + BUCKET_CNT * 16)
#define BUCKET_OVERFLOW (BUCKET_VALUES + BUCKET_CNT * 16)
#define BUCKET_SIZE (BUCKET_OVERFLOW + 8)
#define MIN_TOPHASH 5
#define NO_SET (GP_NONE - 1) /* in ls_by_ptr: a map without labels */

struct kv {
	uint32_t k, v;
};

struct label_set {
	struct kv kv[GP_MAX_LABELS];
	uint32_t n;
};

/* A label's key or value (a Go string header), interned with every byte:
 * NULs and invalid UTF-8 kept; past GP_MAX_STRING_LEN the first bytes are
 * kept with the real length, so that a long label is never dropped. */
static gp_error *read_label_str(struct gp_snapshot *snap, const uint8_t *hdr,
				uint32_t *ret)
{
	uint64_t ptr = gp_load(hdr, 8), len = gp_load(hdr + 8, 8);
	size_t n = len < GP_MAX_STRING_LEN ? (size_t)len : GP_MAX_STRING_LEN;
	char *s;
	gp_error *err;
	if ((err = gp_memory_read_string(&snap->prog->mem, ptr, n,
					 GP_MAX_STRING_LEN, &s)))
		return err;
	err = gp_strtab_intern_cut(&snap->strs, s, n, len, ret);
	free(s);
	return err;
}

static gp_error *add_pair(struct gp_snapshot *snap, struct label_set *set,
			  const uint8_t *key_hdr, const uint8_t *val_hdr)
{
	gp_error *err;
	if (set->n >= GP_MAX_LABELS)
		return gp_error_create(GP_ERROR_LIMIT, "more than %d labels",
				       GP_MAX_LABELS);
	uint32_t kid, vid;
	if ((err = read_label_str(snap, key_hdr, &kid)) ||
	    (err = read_label_str(snap, val_hdr, &vid)))
		return err;
	for (uint32_t i = 0; i < set->n; i++)
		if (set->kv[i].k == kid)
			return NULL; /* already seen (map growing) */
	set->kv[set->n++] = (struct kv){ kid, vid };
	return NULL;
}

/* Label sets are stored as their count, then the pairs (snap->labels);
 * a set's id is its offset there. */
static uint64_t set_hash(const void *arg, uint32_t id)
{
	const struct gp_snapshot *snap = arg;
	const uint32_t *s = snap->labels + id;
	return gp_hash_bytes(s + 1, s[0] * sizeof(struct kv), 0);
}

static bool set_eq(const void *arg, uint32_t id, const void *key)
{
	const struct gp_snapshot *snap = arg;
	const struct label_set *set = key;
	const uint32_t *s = snap->labels + id;
	return s[0] == set->n &&
	       !memcmp(s + 1, set->kv, set->n * sizeof(set->kv[0]));
}

static gp_error *read_buckets(struct gp_snapshot *snap, struct label_set *set,
			      uint64_t buckets, uint64_t nbuckets)
{
	uint8_t b[BUCKET_SIZE];
	gp_error *err;
	for (uint64_t i = 0; buckets && i < nbuckets; i++) {
		uint64_t addr = buckets + i * BUCKET_SIZE;
		for (int chain = 0; addr && chain <= GP_MAX_OVERFLOW; chain++) {
			if ((err = gp_memory_read(&snap->prog->mem, addr, b,
						  sizeof(b))))
				return err;
			for (int j = 0; j < BUCKET_CNT; j++) {
				if (b[j] < MIN_TOPHASH)
					continue;
				if ((err = add_pair(snap, set,
						    b + BUCKET_KEYS + 16 * j,
						    b + BUCKET_VALUES + 16 * j)))
					return err;
			}
			addr = gp_load(b + BUCKET_OVERFLOW, 8);
		}
	}
	return NULL;
}

static gp_error *read_label_set(struct gp_snapshot *snap, uint64_t labels,
				struct label_set *set)
{
	struct gp_program *prog = snap->prog;
	gp_error *err;
	set->n = 0;
	if (gp_has(prog, GP_F_HMAP_BUCKETS)) {
		uint64_t hmap;
		uint8_t h[64];
		size_t hsize = (size_t)gp_off(prog, GP_F_HMAP_OLDBUCKETS) + 8;
		if (hsize > sizeof(h))
			return gp_error_create(GP_ERROR_UNSUPPORTED,
					       "unexpected runtime.hmap layout");
		if ((err = gp_memory_read_u64(&prog->mem, labels, &hmap)))
			return err;
		if (!hmap)
			return NULL;
		if ((err = gp_memory_read(&prog->mem, hmap, h, hsize)))
			return err;
		uint64_t B = gp_field(prog, GP_F_HMAP_B, h, hsize);
		if (B > GP_MAX_MAP_B)
			return gp_error_create(GP_ERROR_LIMIT,
					       "label map with 2^%llu buckets",
					       (unsigned long long)B);
		uint64_t buckets = gp_field(prog, GP_F_HMAP_BUCKETS, h, hsize);
		uint64_t old = gp_field(prog, GP_F_HMAP_OLDBUCKETS, h, hsize);
		if ((err = read_buckets(snap, set, buckets, 1ull << B)))
			return err;
		if (old && B > 0 &&
		    (err = read_buckets(snap, set, old, 1ull << (B - 1))))
			return err;
		return NULL;
	}
	/* 1.24+: a slice of {key, value string} */
	uint8_t hdr[24];
	if ((err = gp_memory_read(&prog->mem, labels, hdr, sizeof(hdr))))
		return err;
	uint64_t ptr = gp_load(hdr, 8), len = gp_load(hdr + 8, 8);
	if (len > GP_MAX_LABELS)
		return gp_error_create(GP_ERROR_LIMIT, "%llu labels",
				       (unsigned long long)len);
	for (uint64_t i = 0; i < len; i++) {
		uint8_t kv[32];
		if ((err = gp_memory_read(&prog->mem, ptr + 32 * i, kv, 32)) ||
		    (err = add_pair(snap, set, kv, kv + 16)))
			return err;
	}
	return NULL;
}

static int kv_cmp(const void *a, const void *b, void *arg)
{
	const struct kv *x = a, *y = b;
	const struct gp_snapshot *snap = arg;
	size_t xn, yn;
	uint64_t xf, yf;
	const char *xs = gp_strtab_get(&snap->strs, x->k, &xn, &xf);
	const char *ys = gp_strtab_get(&snap->strs, y->k, &yn, &yf);
	int c = memcmp(xs, ys, xn < yn ? xn : yn);
	if (c)
		return c;
	if (xn != yn)
		return xn < yn ? -1 : 1;
	return xf < yf ? -1 : xf > yf;
}

/* The label set of the goroutine at g.labels, interned; GP_NONE if none. */
gp_error *gp_snapshot_read_labels(struct gp_snapshot *snap, uint64_t labels,
				  uint32_t *ret)
{
	struct label_set set;
	gp_error *err;
	*ret = GP_NONE;
	if (!labels)
		return NULL;
	uint32_t known = gp_addr_map_get(&snap->ls_by_ptr, labels);
	if (known != GP_NONE) {
		*ret = known == NO_SET ? GP_NONE : known;
		return NULL;
	}
	if ((err = read_label_set(snap, labels, &set)))
		return err;
	if (!set.n)
		return gp_addr_map_put(&snap->ls_by_ptr, labels, NO_SET);
	qsort_r(set.kv, set.n, sizeof(set.kv[0]), kv_cmp, snap);
	/* one probe over the sets seen keeps this O(1) */
	gp_error *ierr = gp_index_reserve(&snap->labelset_index,
					  snap->nlabelsets + 1, set_hash, snap);
	if (ierr)
		return ierr;
	size_t j;
	uint32_t found = gp_index_find(&snap->labelset_index,
				       gp_hash_bytes(set.kv, set.n * sizeof(set.kv[0]), 0),
				       &set, set_eq, snap, &j);
	if (found != GP_NONE) {
		*ret = found;
		return gp_addr_map_put(&snap->ls_by_ptr, labels, *ret);
	}
	size_t need = snap->nlabels + 1 + 2 * set.n;
	if (need > snap->labels_cap) {
		size_t ncap = snap->labels_cap ? snap->labels_cap * 2 : 256;
		while (ncap < need)
			ncap *= 2;
		uint32_t *l = realloc(snap->labels, ncap * sizeof(*l));
		if (!l)
			return &gp_error_nomem;
		snap->labels = l;
		snap->labels_cap = ncap;
	}
	uint32_t id = (uint32_t)snap->nlabels;
	snap->labels[snap->nlabels++] = set.n;
	memcpy(snap->labels + snap->nlabels, set.kv, set.n * sizeof(set.kv[0]));
	snap->nlabels += 2 * set.n;
	gp_index_set(&snap->labelset_index, j, id);
	snap->nlabelsets++;
	*ret = id;
	return gp_addr_map_put(&snap->ls_by_ptr, labels, id);
}

GP_EXPORT const uint32_t *gp_snapshot_labels(const gp_snapshot *snap,
					     uint32_t labels_id,
					     uint32_t *ret_npairs)
{
	if (labels_id == GP_NONE || labels_id >= snap->nlabels ||
	    labels_id + 1 + 2ull * snap->labels[labels_id] > snap->nlabels) {
		*ret_npairs = 0;
		return NULL;
	}
	*ret_npairs = snap->labels[labels_id];
	return snap->labels + labels_id + 1;
}
