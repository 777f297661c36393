/*
 * The C unit tests' one assertion: counts checks and failures, prints each
 * failure with its line, and goes on (main returns failures != 0).
 */
#ifndef GP_TESTS_CHECK_H
#define GP_TESTS_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond)                                                        \
	do {                                                               \
		checks++;                                                  \
		if (!(cond)) {                                             \
			failures++;                                        \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,      \
				__LINE__, #cond);                          \
		}                                                          \
	} while (0)

#endif
