/*
 * analysis/json.c's strings: what the target gives (any bytes, NULs too) as
 * JSON that parses to what Python's bytes.decode("utf-8", "replace")
 * gives, written ASCII-only as json.dumps does. Expectations written out
 * by hand from RFC 8259 and Unicode's "maximal subpart" replacement
 * (Unicode 15, section 3.9, table 3-8).
 */
#include <stdio.h>
#include <string.h>

#include "analysis/analysis.h"

static int failures, checks;

static void expect_n(const char *in, size_t len, const char *want)
{
	char out[256];
	size_t n = gp_json_quote(in, len, out, sizeof(out));
	checks++;
	if (strcmp(out, want) || n != strlen(want)) {
		failures++;
		fprintf(stderr, "FAIL %s: got %s want %s\n", __FILE__, out, want);
	}
}

static void expect(const char *in, const char *want)
{
	expect_n(in, in ? strlen(in) : 0, want);
}

int main(void)
{
	expect(NULL, "null");
	expect("", "null");
	expect("main.worker", "\"main.worker\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("\b\t\n\f\r", "\"\\b\\t\\n\\f\\r\"");
	expect("\x01\x0b\x1b[2J\x7f", "\"\\u0001\\u000b\\u001b[2J\\u007f\"");
	expect("caf\xc3\xa9", "\"caf\\u00e9\"");
	expect("\xe4\xb8\x96", "\"\\u4e16\"");
	expect("\xf0\x9f\x98\x80", "\"\\ud83d\\ude00\"");   /* U+1F600 */
	/* invalid: one U+FFFD per maximal subpart (the exact bytes go in a
	 * _b64 twin, tests/test_hostile.py) */
	expect("\xff", "\"\\ufffd\"");
	expect("a\xe2\x82", "\"a\\ufffd\"");                  /* truncated */
	expect("\xe2\x82" "b", "\"\\ufffdb\"");
	expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");             /* overlong */
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	expect("\xf0\x9f\x98", "\"\\ufffd\"");
	expect("\x80\x80", "\"\\ufffd\\ufffd\"");
	expect("\xe4\xb8\x96\xff\xe4\xb8\x96", "\"\\u4e16\\ufffd\\u4e16\"");
	/* NULs are bytes like any other */
	expect_n("a\0b", 3, "\"a\\u0000b\"");
	expect_n("\0", 1, "\"\\u0000\"");
	char small[4];
	checks++;
	if (gp_json_quote("abcdef", 6, small, sizeof(small)) != 8 ||
	    strcmp(small, "\"ab")) {
		failures++;
		fprintf(stderr, "FAIL %s: truncation: %s\n", __FILE__, small);
	}
	printf("%s: %d checks, %d failures\n", __FILE__, checks, failures);
	return failures != 0;
}
