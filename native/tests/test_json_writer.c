/*
 * analysis/json.c's strings: what the target gives (any bytes, NULs too) as
 * JSON that parses to what Python's bytes.decode("utf-8",
 * "surrogateescape") gives, written ASCII-only as json.dumps does: a byte
 * outside valid UTF-8 is \udcXX. Expectations written out by hand from
 * RFC 8259, Unicode's well-formed UTF-8 (Unicode 15, section 3.9, table
 * 3-7) and PEP 383.
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
	/* invalid: each byte of a maximal invalid subpart is \udcXX */
	expect("\xff", "\"\\udcff\"");
	expect("a\xe2\x82", "\"a\\udce2\\udc82\"");          /* truncated */
	expect("\xe2\x82" "b", "\"\\udce2\\udc82b\"");
	expect("\xc0\xaf", "\"\\udcc0\\udcaf\"");           /* overlong */
	expect("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\""); /* surrogate */
	expect("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"");
	expect("\xf0\x9f\x98", "\"\\udcf0\\udc9f\\udc98\"");
	expect("\x80\x80", "\"\\udc80\\udc80\"");
	expect("\xe4\xb8\x96\xff\xe4\xb8\x96", "\"\\u4e16\\udcff\\u4e16\"");
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
