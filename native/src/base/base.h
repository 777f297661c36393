/*
 * base/: what every layer of the engine uses and nothing of Go or of a
 * target: error objects (error.c), growable arrays, sorting and an address
 * map (util.c), interned strings (strtab.c), little-endian loads.
 *
 * The layers of native/src, each a folder with one header, dependencies
 * pointing down only (tests/test_layers.py checks it):
 *
 *   analysis/  grouping, channels, sync objects and holders, wait graph,
 *              the leak verdict
 *   runtime/   snapshot, unwinding, labels, clock, semaphore table, heap
 *              model (spans, pointer maps, roots, mark)
 *   target/    memory, core, live process, debugger callback, program
 *   binary/    ELF, buildinfo, pclntab, runtime layouts, stripped scans
 *   arch/      one file per architecture: registers, notes, decoding
 *   base/      this
 *
 * Nothing here is exported; see include/goparked.h for the public API.
 */
#ifndef GP_BASE_H
#define GP_BASE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "goparked.h"

#define GP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- error.c */

struct gp_error {
	int code;
	int errnum;
	uint64_t address;
	char *message;
};

/* Static, so that reporting it never allocates. */
extern struct gp_error gp_error_nomem;

__attribute__((format(printf, 2, 3)))
gp_error *gp_error_create(int code, const char *fmt, ...);
/* Appends ": strerror(errnum)" and keeps errnum. */
__attribute__((format(printf, 2, 3)))
gp_error *gp_error_os(int errnum, const char *fmt, ...);
/* "cannot read N bytes at 0x...". */
gp_error *gp_error_fault(uint64_t address, size_t size);
/* Prefix an existing error's message with context ("reading g 0x...: "). */
__attribute__((format(printf, 2, 3)))
gp_error *gp_error_wrap(gp_error *err, const char *fmt, ...);
/* Whether err is an error, freeing it: for a read whose failure only
 * changes the way taken ("if (gp_failed(gp_memory_read(...)))"). An
 * error tested as a bare pointer is never freed. */
static inline bool gp_failed(gp_error *err)
{
	if (!err)
		return false;
	gp_error_destroy(err);
	return true;
}

/* Reads size bytes of a target at address into buf: how a layer below the
 * target (the pclntab's fallback for bytes the executable lacks) is given
 * the target's memory without knowing it. */
typedef gp_error *gp_read_fn(void *arg, uint64_t address, void *buf,
			     size_t size);

/* ----------------------------------------------------------------- util.c */

/* Grows *p (of *cap elements of elem bytes) to hold need, doubling. */
gp_error *gp_grow(void **p, size_t *cap, size_t need, size_t elem);
/* GOPARKED_PHASES=1 prints each phase's time on stderr (bench/). */
void gp_phase(const char *name);
double gp_phase_clock(void);  /* seconds; 0 when not enabled */
void gp_phase_note(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* GOPARKED_PAR_MIN if set, else dflt: the fewest items worth a second
 * thread (the sanitized tests set 1: small cores take those paths too). */
uint64_t gp_par_min(uint64_t dflt);
/* fn(arg, lo, hi) over [0, n) a block of items at a time, blocks taken in
 * turn by this thread and a second one, so fn must be safe for that; on
 * this thread alone below gp_par_min(min) items or without a thread. */
typedef void gp_par_fn(void *arg, size_t lo, size_t hi);
void gp_par_for(size_t n, size_t block, uint64_t min, gp_par_fn *fn, void *arg);

/* fn(arg) on a second thread while this one does other work, when a
 * thread can be had (the caller decides whether the work is worth one);
 * gp_side_join waits for it, or calls fn(arg) itself if no thread was
 * started: either way fn has run once when it returns. fn must be safe
 * beside what this thread does meanwhile. */
struct gp_side {
	void (*fn)(void *arg);
	void *arg;
	bool started;
	pthread_t thread;
};
void gp_side_start(struct gp_side *s, void (*fn)(void *arg), void *arg);
void gp_side_join(struct gp_side *s);

/* Sorts n elements of size bytes by the uint64 key at key_offset in each,
 * stably: an LSD radix sort, 11 bits a pass, over as many passes as the
 * largest key needs (a million elements sort in a few milliseconds). */
gp_error *gp_radix_sort(void *base, size_t n, size_t size, size_t key_offset);

struct gp_kv {
	uint64_t key, value;
};
/* qsort, also of an empty array, which may be NULL (qsort's isn't). */
static inline void gp_qsort(void *base, size_t n, size_t size,
			    int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static inline gp_error *gp_sort_kv(struct gp_kv *a, size_t n)
{
	return gp_radix_sort(a, n, sizeof(*a), offsetof(struct gp_kv, key));
}

/* A gp_kv array sorted by key (as gp_sort_kv leaves it), searched by
 * buckets of its key range: 2^16 buckets, each its first entry, so that a
 * lookup searches one bucket (a few entries), not the whole; no hash table
 * to fill (600,000 channels' insertions were each a cache miss) and 256
 * KiB besides the array. Without memory for the buckets, the whole array
 * is searched: the same answers. */
struct gp_kv_index {
	const struct gp_kv *kv;
	size_t n;
	uint32_t *bkt;
	unsigned shift;
};
void gp_kv_index_init(struct gp_kv_index *x, const struct gp_kv *kv, size_t n);
void gp_kv_index_deinit(struct gp_kv_index *x);
/* The value of the last entry of key (of equal keys, as a table's last
 * put): false if there is none. */
bool gp_kv_index_last(const struct gp_kv_index *x, uint64_t key, uint64_t *ret);

/* uint64 -> uint32 (open addressing; key 0 is never stored). */
struct gp_addr_map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, used;
};
gp_error *gp_addr_map_put(struct gp_addr_map *m, uint64_t key, uint32_t val);
gp_error *gp_addr_map_reserve(struct gp_addr_map *m, size_t n);
/* GP_NONE when absent. */
uint32_t gp_addr_map_get(const struct gp_addr_map *m, uint64_t key);
void gp_addr_map_deinit(struct gp_addr_map *m);

/*
 * Which addresses may be keys of a set (a one-hash Bloom filter): false
 * means no key lies in addr's grain, so the caller skips the set's
 * lookup. A map of 600,000 channels is 16 MB of keys, a cache miss a
 * lookup, while the objects it is asked about mostly lie elsewhere
 * (issue 12's heapcore: 10 million words looked up). Bits only ever get
 * set: add every key put.
 * - GP_PAGE_FILTER: 8 KiB pages, 2^19 bits (64 KiB). Keys of a set
 *   cluster on few pages (the spans of one size class), so it stays
 *   sparse, but it says "maybe" of every word into such a page.
 * - GP_WORD_FILTER: 8-byte words, 2^24 bits (2 MiB; 600,000 channels
 *   set 3.5% of it), for words that are mostly pointers near the keys
 *   (stack words against the channels: the page filter let
 *   gp_addr_map_get miss the cache for each, 7% of heapcore's --leaks).
 */
struct gp_addr_filter {
	uint64_t *bits; /* NULL: says "maybe" of every address */
	uint8_t grain;  /* log2 of the bytes a bit covers */
	uint8_t size;   /* log2 of the number of bits (at most 31) */
};
#define GP_PAGE_FILTER { NULL, 13, 19 }
#define GP_WORD_FILTER { NULL, 3, 24 }

static inline size_t gp_addr_filter_hash(const struct gp_addr_filter *f, uint64_t addr)
{
	return (size_t)(((addr >> f->grain) * 0x9e3779b97f4a7c15ULL) >>
			(64 - f->size));
}

static inline gp_error *gp_addr_filter_add(struct gp_addr_filter *f, uint64_t addr)
{
	if (!f->bits &&
	    !(f->bits = calloc((1u << f->size) / 64, sizeof(uint64_t))))
		return &gp_error_nomem;
	size_t h = gp_addr_filter_hash(f, addr);
	f->bits[h >> 6] |= 1ULL << (h & 63);
	return NULL;
}

/* false: no key added lies in addr's grain. */
static inline bool gp_addr_filter_may(const struct gp_addr_filter *f, uint64_t addr)
{
	if (!f->bits)
		return true;
	size_t h = gp_addr_filter_hash(f, addr);
	return f->bits[h >> 6] >> (h & 63) & 1;
}

static inline void gp_addr_filter_deinit(struct gp_addr_filter *f)
{
	free(f->bits);
	f->bits = NULL;
}

/*
 * An index of records the caller keeps in its own array (interned strings,
 * stacks, label sets, group keys): open addressing over their positions,
 * by their hashes; the engine's one hash table of that kind (gp_addr_map
 * is the one of uint64 keys). A lookup probes from a hash and asks eq
 * whether a record is the one sought; growing rehashes through hash_of.
 */
struct gp_index {
	uint32_t *slots;          /* record + 1, 0 for empty */
	size_t cap;
};
typedef uint64_t gp_index_hash_fn(const void *arg, uint32_t rec);
typedef bool gp_index_eq_fn(const void *arg, uint32_t rec, const void *key);
/* Room for n records at most half full (rehashing those there are). */
gp_error *gp_index_reserve(struct gp_index *ix, size_t n,
			   gp_index_hash_fn *hash_of, const void *arg);
/* The record equal to key (of that hash), else GP_NONE; *slot is where
 * an absent key goes (gp_index_set), valid until the next reserve. */
uint32_t gp_index_find(const struct gp_index *ix, uint64_t hash,
		       const void *key, gp_index_eq_fn *eq, const void *arg,
		       size_t *slot);
static inline void gp_index_set(struct gp_index *ix, size_t slot,
				uint32_t rec)
{
	ix->slots[slot] = rec + 1;
}
void gp_index_deinit(struct gp_index *ix);

/* ---------------------------------------------------------------- strtab.c */

/* Interned strings: id 0 is "". A string is its bytes and their count
 * (a target's string may hold NUL bytes; a terminating NUL is added after
 * them for the callers that only need a C string). A string longer than
 * the reader's limit is kept truncated, with its real length: the target's
 * bytes are never dropped, only bounded. */
struct gp_strtab {
	char **strs;
	uint32_t *lens;       /* bytes held; GP_STR_TRUNCATED when cut */
	size_t len, cap;
	struct gp_index index;    /* by bytes */
	struct gp_str_full {  /* real lengths of the truncated, by id */
		uint32_t id;
		uint64_t len;
	} *fulls;
	size_t nfulls, fulls_cap;
};

#define GP_STR_TRUNCATED UINT32_C(0x80000000)

void gp_strtab_init(struct gp_strtab *t);
void gp_strtab_deinit(struct gp_strtab *t);
gp_error *gp_strtab_intern(struct gp_strtab *t, const char *s, uint32_t *ret);
gp_error *gp_strtab_intern_n(struct gp_strtab *t, const char *s, size_t n,
			     uint32_t *ret);
/* n bytes of a string whose real length is full (>= n; more when the
 * reader cut it). n < 2^31. */
gp_error *gp_strtab_intern_cut(struct gp_strtab *t, const char *s, size_t n,
			       uint64_t full, uint32_t *ret);
/* The bytes of string id (NUL-terminated), their count in *ret_len and the
 * string's real length in *ret_full (may be NULL); "" for a bad id. */
const char *gp_strtab_get(const struct gp_strtab *t, uint32_t id,
			  size_t *ret_len, uint64_t *ret_full);

/* hash helpers */
static inline uint64_t gp_hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	if (!h)
		h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Reads a little-endian integer of 1, 2, 4 or 8 bytes from a buffer. */
static inline uint64_t gp_load(const uint8_t *buf, size_t size)
{
	uint64_t v = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* the hot path of decoding a million gs */
	if (size == 8) {
		memcpy(&v, buf, 8);
		return v;
	}
	if (size == 4) {
		uint32_t w;
		memcpy(&w, buf, 4);
		return w;
	}
#endif
	for (size_t i = 0; i < size && i < 8; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	return v;
}

#endif /* GP_BASE_H */
