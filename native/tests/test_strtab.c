/*
 * base/strtab.c: a string is its bytes (NULs inside kept) and a cut string
 * (the reader kept its first bytes) is not its prefix: it keeps its real
 * length. Expectations written by hand.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "check.h"


int main(void)
{
	struct gp_strtab t;
	uint32_t a, b, c, d, e, z;
	size_t n;
	uint64_t full;
	gp_strtab_init(&t);
	CHECK(!gp_strtab_intern_n(&t, "a\0b", 3, &a));
	CHECK(!gp_strtab_intern_n(&t, "a", 1, &b));
	CHECK(!gp_strtab_intern_cut(&t, "a", 1, 100000, &c));
	CHECK(!gp_strtab_intern_cut(&t, "a", 1, 100000, &d));
	CHECK(!gp_strtab_intern_cut(&t, "a", 1, 7, &e));
	CHECK(!gp_strtab_intern_n(&t, "", 0, &z));
	CHECK(a != b && b != c && c == d && c != e && z == 0);
	const char *s = gp_strtab_get(&t, a, &n, &full);
	CHECK(n == 3 && full == 3 && !memcmp(s, "a\0b", 4));
	s = gp_strtab_get(&t, c, &n, &full);
	CHECK(n == 1 && full == 100000 && !strcmp(s, "a"));
	gp_strtab_get(&t, e, &n, &full);
	CHECK(n == 1 && full == 7);
	gp_strtab_get(&t, b, &n, &full);
	CHECK(n == 1 && full == 1);
	s = gp_strtab_get(&t, 12345, &n, &full);
	CHECK(n == 0 && full == 0 && !*s);
	/* many strings: the table grows and still finds each, cut or not */
	char buf[16];
	int ok = 1;
	for (int i = 0; i < 5000 && ok; i++) {
		uint32_t x, y;
		snprintf(buf, sizeof(buf), "s%d", i);
		ok = !gp_strtab_intern_cut(&t, buf, strlen(buf),
					   i % 3 ? strlen(buf) : 1000u + i, &x) &&
		     !gp_strtab_intern_cut(&t, buf, strlen(buf),
					   i % 3 ? strlen(buf) : 1000u + i, &y) &&
		     x == y;
		gp_strtab_get(&t, x, &n, &full);
		ok = ok && full == (i % 3 ? strlen(buf) : 1000u + i);
	}
	CHECK(ok);
	gp_strtab_get(&t, c, &n, &full);
	CHECK(full == 100000);
	gp_strtab_deinit(&t);
	printf("%s: %d checks, %d failures\n", __FILE__, checks, failures);
	return failures != 0;
}
