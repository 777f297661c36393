/*
 * base/util.c's gp_kv_index: on sorted arrays with repeated keys, small
 * (searched whole) and large (by buckets, over a narrow and a wide range of
 * keys), every key asked for gives what a scan of the whole array gives:
 * the value of the last entry with that key, or nothing (keys absent,
 * between entries, below the first, past the last).
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "check.h"

/* The answer by a scan of the array. */
static int scan_last(const struct gp_kv *kv, size_t n, uint64_t key, uint64_t *ret)
{
	int found = 0;
	for (size_t i = 0; i < n; i++)
		if (kv[i].key == key) {
			*ret = kv[i].value;
			found = 1;
		}
	return found;
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* n entries from base, steps of 0 (a repeat) to maxstep; every key of
 * the range and around it asked for (or a sample of a wide range). */
static void one_array(size_t n, uint64_t base, uint64_t maxstep)
{
	struct gp_kv *kv = malloc(n * sizeof(*kv));
	CHECK(kv != NULL);
	if (!kv)
		return;
	uint64_t k = base;
	for (size_t i = 0; i < n; i++) {
		kv[i] = (struct gp_kv){ k, i };
		k += rnd() % 4 == 0 ? 0 : 1 + rnd() % maxstep;
	}
	struct gp_kv_index x;
	gp_kv_index_init(&x, kv, n);
	CHECK(n < 64 || x.bkt != NULL);
	int same = 1;
	uint64_t lo = base - 3 * maxstep, hi = kv[n - 1].key + 3 * maxstep;
	uint64_t stride = (hi - lo) / 200000 + 1;
	for (uint64_t q = lo; q <= hi; q += stride) {
		uint64_t want = 0, got = 0;
		int w = scan_last(kv, n, q, &want);
		int g = gp_kv_index_last(&x, q, &got);
		same &= w == g && (!w || want == got);
	}
	/* and every key present */
	for (size_t i = 0; i < n; i++) {
		uint64_t want = 0, got = 0;
		int w = scan_last(kv, n, kv[i].key, &want);
		int g = gp_kv_index_last(&x, kv[i].key, &got);
		same &= w && g && want == got;
		if (i > 2000)
			i += n / 2000; /* a sample of a big array */
	}
	CHECK(same);
	gp_kv_index_deinit(&x);
	CHECK(x.bkt == NULL && x.n == 0);
	free(kv);
}

int main(void)
{
	one_array(1, 0x1000, 8);              /* one entry */
	one_array(50, 0xc000000000ull, 48);   /* few: searched whole */
	one_array(5000, 0xc000000000ull, 96); /* buckets of 1 byte or so */
	one_array(70000, 0xc000000000ull, 4096); /* a wide range: shift > 0 */
	one_array(3000, UINT64_MAX - 3000 * 64, 32); /* keys near the top */
	/* an empty index finds nothing */
	struct gp_kv_index e;
	uint64_t v;
	gp_kv_index_init(&e, NULL, 0);
	CHECK(!gp_kv_index_last(&e, 1, &v));
	gp_kv_index_deinit(&e);
	printf("%s: %d checks, %d failures\n", __FILE__, checks, failures);
	return failures != 0;
}
