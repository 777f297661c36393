/*
 * The instruction decoders (arch/) against an independent disassembler:
 * every function of real Go executables is decoded from its entry to its
 * end, and the instruction boundaries must be exactly the ones GNU
 * objdump prints; direct calls and jumps must land where objdump says.
 * Then code.c runs on every function (its control flow and values must
 * settle), and the decoders get random bytes (under ASan/UBSan: no crash,
 * no read past the buffer).
 *
 * Usage: test_decode [EXE]...
 * With no arguments it takes the executables of $GP_PCLNTAB_CASES (the
 * first word of each "exe core dump" line); with none it prints SKIP
 * (exit 0, or 1 with GP_REQUIRE_CORES set).
 */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary/binary.h"

static int failures;

#define FAIL(...)                                                           \
	do {                                                                \
		if (++failures < 40) {                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
		}                                                           \
	} while (0)

/* objdump's instruction starts in .text, as a bitmap over [lo, hi) */
struct starts {
	uint64_t lo, hi;
	uint8_t *bits;
	uint64_t *call_to;   /* per start: call/jmp target, 0 if none */
};

static bool get_bit(const struct starts *s, uint64_t pc)
{
	return pc >= s->lo && pc < s->hi &&
	       (s->bits[(pc - s->lo) / 8] >> ((pc - s->lo) % 8) & 1);
}

static bool objdump_starts(const char *exe, const struct gp_section *text,
			   struct starts *s)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn -j .text '%s' 2>/dev/null", exe);
	FILE *f = popen(cmd, "r");
	if (!f)
		return false;
	s->lo = text->addr;
	s->hi = text->addr + text->size;
	s->bits = calloc((s->hi - s->lo) / 8 + 1, 1);
	s->call_to = calloc(s->hi - s->lo + 1, sizeof(*s->call_to));
	char line[4096];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *end;
		uint64_t pc = strtoull(line, &end, 16);
		if (end == line || *end != ':' || pc < s->lo || pc >= s->hi)
			continue;
		s->bits[(pc - s->lo) / 8] |= (uint8_t)(1u << ((pc - s->lo) % 8));
		n++;
		char *m = strstr(end, "call ");
		if (!m)
			m = strstr(end, "jmp ");
		if (m) {
			char *t = strchr(m, ' ');
			while (t && *t == ' ')
				t++;
			if (t && *t != '*') {
				uint64_t to = strtoull(t, &end, 16);
				if (end != t)
					s->call_to[pc - s->lo] = to;
			}
		}
	}
	int rc = pclose(f);
	return rc == 0 && n > 0;
}

static gp_error *read_exe(void *arg, uint64_t addr, void *buf, size_t size)
{
	(void)arg;
	(void)addr;
	(void)buf;
	(void)size;
	return gp_error_create(GP_ERROR_FAULT, "no target");
}

static void check_exe(const char *path)
{
	struct gp_exe exe;
	gp_error *err = gp_exe_open(path, &exe);
	if (err) {
		FAIL("%s: %s", path, gp_error_message(err));
		gp_error_destroy(err);
		return;
	}
	if (!exe.arch || !exe.arch->decode) {
		printf("SKIP %s: no decoder for machine %u\n", path, exe.machine);
		gp_exe_close(&exe);
		return;
	}
	const struct gp_section *text = gp_exe_section(&exe, ".text");
	struct gp_pclntab *tab = NULL;
	struct starts st = { 0 };
	if (!text || !text->data) {
		FAIL("%s: no .text", path);
		goto out;
	}
	if ((err = gp_pclntab_open(&exe, read_exe, NULL, &tab))) {
		FAIL("%s: pclntab: %s", path, gp_error_message(err));
		gp_error_destroy(err);
		goto out;
	}
	if (!objdump_starts(path, text, &st)) {
		FAIL("%s: objdump failed", path);
		goto out;
	}
	uint32_t nf = gp_pclntab_num_funcs(tab);
	size_t insns = 0, funcs = 0, bad = 0, calls = 0, analyzed = 0;
	uint64_t pc = text->addr;
	while (pc < text->addr + text->size) {
		struct gp_func fn;
		if (!gp_pclntab_find_func(tab, pc, &fn) || fn.end <= pc) {
			pc++;
			continue;
		}
		uint64_t entry = fn.entry, end = fn.end;
		if (end > text->addr + text->size)
			end = text->addr + text->size;
		pc = end;
		if (entry < text->addr)
			continue;
		funcs++;
		const uint8_t *code = text->data + (entry - text->addr);
		bool fn_bad = false;
		for (uint64_t at = entry; at < end;) {
			struct gp_insn in;
			size_t n = exe.arch->decode(code + (at - entry), end - at, at, &in);
			if (!n) {
				/* only the padding after the last RET may be
				 * left: objdump shows no instruction start
				 * there either, or int3 */
				if (get_bit(&st, at) && code[at - entry] != 0xcc &&
				    code[at - entry] != 0x00) {
					FAIL("%s: %s+0x%" PRIx64 ": not decoded", path,
					     fn.name, at - entry);
					fn_bad = true;
				}
				break;
			}
			if (!get_bit(&st, at)) {
				FAIL("%s: %s+0x%" PRIx64 ": objdump has no instruction here",
				     path, fn.name, at - entry);
				fn_bad = true;
				break;
			}
			for (uint64_t k = at + 1; k < at + n; k++)
				if (get_bit(&st, k)) {
					FAIL("%s: %s+0x%" PRIx64 ": length %zu, objdump starts one at +0x%" PRIx64,
					     path, fn.name, at - entry, n, k - entry);
					fn_bad = true;
				}
			if ((in.kind == GP_INSN_CALL || in.kind == GP_INSN_JUMP) &&
			    st.call_to[at - st.lo]) {
				calls++;
				if (st.call_to[at - st.lo] != in.target)
					FAIL("%s: %s+0x%" PRIx64 ": target 0x%" PRIx64 ", objdump 0x%" PRIx64,
					     path, fn.name, at - entry, in.target,
					     st.call_to[at - st.lo]);
			}
			if (fn_bad)
				break;
			insns++;
			at += n;
		}
		bad += fn_bad;
		struct gp_code c;
		err = gp_code_analyze(exe.arch, code, entry, end - entry, NULL,
				      NULL, NULL, &c);
		if (err) {
			FAIL("%s: %s: %s", path, fn.name, gp_error_message(err));
			gp_error_destroy(err);
			continue;
		}
		if (c.nblocks)
			analyzed++;
		gp_code_deinit(&c);
	}
	printf("%s: %u functions in the pclntab, %zu decoded (%zu insns, "
	       "%zu direct calls/jumps checked), %zu wrong, %zu analyzed\n",
	       path, nf, funcs, insns, calls, bad, analyzed);
	if (funcs < nf / 2)
		FAIL("%s: only %zu of %u functions found in .text", path, funcs, nf);
	if (analyzed < funcs * 9 / 10)
		FAIL("%s: code.c built the flow of only %zu of %zu functions", path,
		     analyzed, funcs);
out:
	free(st.bits);
	free(st.call_to);
	if (tab)
		gp_pclntab_destroy(tab);
	gp_exe_close(&exe);
}

/* Random bytes: any answer, no crash, never a length past the buffer. */
static void fuzz(void)
{
	const struct gp_arch *a = gp_arch_find(EM_X86_64);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[64];
	for (int round = 0; round < 200000; round++) {
		size_t n = 1 + (size_t)(x % 20);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		struct gp_insn in;
		size_t len = a->decode(buf, n, 0x1000, &in);
		if (len > n)
			FAIL("decoded %zu bytes of %zu", len, n);
	}
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		struct gp_code c;
		gp_error *err = gp_code_analyze(a, buf, 0x1000, sizeof(buf), NULL,
						NULL, NULL, &c);
		gp_error_destroy(err);
		if (!err)
			gp_code_deinit(&c);
	}
}

int main(int argc, char **argv)
{
	int n = 0;
	fuzz();
	for (int i = 1; i < argc; i++, n++)
		check_exe(argv[i]);
	const char *cases = getenv("GP_PCLNTAB_CASES");
	if (argc < 2 && cases) {
		FILE *f = fopen(cases, "r");
		char line[8192], seen[64][4096];
		int nseen = 0;
		while (f && fgets(line, sizeof(line), f)) {
			char exe[4096];
			if (sscanf(line, "%4095s", exe) != 1)
				continue;
			bool dup = false;
			for (int k = 0; k < nseen; k++)
				dup |= !strcmp(seen[k], exe);
			if (dup || nseen >= 64)
				continue;
			strcpy(seen[nseen++], exe);
			check_exe(exe);
			n++;
		}
		if (f)
			fclose(f);
	}
	if (!n) {
		printf("SKIP: no executables\n");
		return getenv("GP_REQUIRE_CORES") ? 1 : 0;
	}
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
