/*
 * base/util.c's gp_addr_map: every key put is found with its last value,
 * key 0 is never stored, and reserving room (before the puts, between
 * them, or less than there is) loses nothing and keeps the table at most
 * half full. Expectations written by hand.
 */
#include <stdio.h>

#include "base/base.h"
#include "check.h"

static uint64_t key_of(uint32_t i)
{
	/* heap-like addresses: 16-byte aligned, clustered */
	return 0xc000000000ull + (uint64_t)i * 48;
}

static int all_found(const struct gp_addr_map *m, uint32_t n, uint32_t bias)
{
	for (uint32_t i = 0; i < n; i++)
		if (gp_addr_map_get(m, key_of(i)) != i + bias)
			return 0;
	return 1;
}

int main(void)
{
	struct gp_addr_map a = { 0 }, b = { 0 };
	enum { N = 100000 };
	int ok = 1;
	/* grown by puts alone, and sized once first: the same answers */
	CHECK(!gp_addr_map_reserve(&b, N));
	size_t cap = b.cap;
	CHECK(cap > 2 * N && cap <= 4 * (size_t)N + 4096);
	for (uint32_t i = 0; i < N; i++) {
		ok &= !gp_addr_map_put(&a, key_of(i), i);
		ok &= !gp_addr_map_put(&b, key_of(i), i);
	}
	CHECK(ok);
	CHECK(b.cap == cap); /* no rehash after the reserve */
	CHECK(a.used == N && b.used == N);
	CHECK(all_found(&a, N, 0) && all_found(&b, N, 0));
	CHECK(gp_addr_map_get(&a, key_of(N)) == GP_NONE);
	CHECK(gp_addr_map_get(&b, key_of(N) + 8) == GP_NONE);
	/* key 0: never stored, never found */
	CHECK(!gp_addr_map_put(&a, 0, 7));
	CHECK(a.used == N && gp_addr_map_get(&a, 0) == GP_NONE);
	/* a put again replaces the value, adds no key */
	for (uint32_t i = 0; i < N; i++)
		ok &= !gp_addr_map_put(&a, key_of(i), i + 1);
	CHECK(ok);
	CHECK(a.used == N && all_found(&a, N, 1));
	/* reserving less than there is changes nothing; more rehashes all */
	cap = a.cap;
	CHECK(!gp_addr_map_reserve(&a, 10));
	CHECK(a.cap == cap);
	CHECK(!gp_addr_map_reserve(&a, 4 * (size_t)N));
	CHECK(a.cap > 8 * (size_t)N && a.used == N && all_found(&a, N, 1));
	/* an empty map: nothing found, reserve 0 makes a table */
	struct gp_addr_map e = { 0 };
	CHECK(gp_addr_map_get(&e, key_of(1)) == GP_NONE);
	CHECK(!gp_addr_map_reserve(&e, 0));
	CHECK(e.cap > 0 && e.used == 0 && gp_addr_map_get(&e, key_of(1)) == GP_NONE);
	gp_addr_map_deinit(&a);
	gp_addr_map_deinit(&b);
	gp_addr_map_deinit(&e);
	printf("%s: %d checks, %d failures\n", __FILE__, checks, failures);
	return failures != 0;
}
