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

static bool objdump_starts(const char *exe, uint16_t machine,
			   const struct gp_section *text, struct starts *s)
{
	char cmd[4096];
	bool a64 = machine == EM_AARCH64;
	snprintf(cmd, sizeof(cmd),
		 "%s -d -z --no-show-raw-insn -j .text '%s' 2>/dev/null",
		 a64 ? "aarch64-linux-gnu-objdump" : "objdump", exe);
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
		/* x86: "call 4a1b20 <f>", "jmp ..."; arm64: "bl\t12340 <f>",
		 * "b\t..." (not b.cond: the decoder's BRANCH is not compared) */
		char *m = a64 ? strstr(end, "\tbl\t") : strstr(end, "call ");
		if (!m)
			m = a64 ? strstr(end, "\tb\t") : strstr(end, "jmp ");
		if (m && a64)
			m++;
		if (m) {
			char *t = strpbrk(m, " \t");
			while (t && (*t == ' ' || *t == '\t'))
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

/*
 * Where a decoder may stop although objdump shows an instruction: x86
 * padding (int3, zeros); on arm64, a word of the groups Go never emits
 * (op0 = bits 28:25 of 0000 but UDF, 0001, 0010 SVE, 0011): the literal
 * pools and jump tables the assembler leaves after a function's code,
 * which objdump prints as ".inst" or as SVE/SME instructions.
 */
static bool declined(uint16_t machine, const uint8_t *p, uint64_t avail)
{
	if (machine != EM_AARCH64)
		return p[0] == 0xcc || p[0] == 0x00;
	if (avail < 4)
		return true;
	uint32_t w = (uint32_t)gp_load(p, 4);
	return ((w >> 25) & 15) < 4 && (w >> 16) != 0;
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
	if (!objdump_starts(path, exe.machine, text, &st)) {
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
				if (get_bit(&st, at) && !declined(exe.machine, code + (at - entry),
								  end - at)) {
					FAIL("%s: %s+0x%" PRIx64 ": not decoded (%08x, %zu left)", path,
					     fn.name, at - entry, end - at >= 4 ? (unsigned)gp_load(code + (at - entry), 4) : 0u, (size_t)(end - at));
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

/*
 * arm64 encodings, one word each, as GNU as 2.40 (-march=armv8.1-a)
 * assembles the text beside it (ADRP and ADR: words and targets from
 * aarch64 objdump of a Go executable), decoded at pc 0x10000 unless
 * given. The fields expected are what the instruction does (ARM ARM):
 * kind, dst, src, base, disp, width, target, clobber, cond.
 */
struct a64_case {
	const char *text;
	uint32_t word;
	uint64_t pc;
	uint8_t kind, dst, src, base;
	int64_t disp;
	uint8_t width;
	uint64_t target;
	uint32_t clobber;
	uint8_t cond;
	uint8_t ldex;
};

#define N GP_REG_NONE
static const struct a64_case a64_cases[] = {
	{ "adrp x27, 21b000", 0xd000105b, 0x111d0, GP_INSN_ADDR, 27, N, N, 0, 0, 0x21b000, 0, 0, 0 },
	{ "adrp x0, 133000", 0xd0000900, 0x11204, GP_INSN_ADDR, 0, N, N, 0, 0, 0x133000, 0, 0, 0 },
	{ "adr x27, 172e4", 0x1000009b, 0x172d4, GP_INSN_ADDR, 27, N, N, 0, 0, 0x172e4, 0, 0, 0 },
	{ "add x3, x3, #0x7a8", 0x911ea063, 0, GP_INSN_LEA, 3, N, 3, 0x7a8, 0, 0, 0, 0, 0 },
	{ "add x0, x27, #0x1, lsl #12", 0x91400760, 0, GP_INSN_LEA, 0, N, 27, 0x1000, 0, 0, 0, 0, 0 },
	{ "sub x20, sp, #0x50", 0xd10143f4, 0, GP_INSN_LEA, 20, N, 31, -0x50, 0, 0, 0, 0, 0 },
	{ "ldrb w2, [x27, #1001]", 0x394fa762, 0, GP_INSN_LOAD, 2, N, 27, 1001, 1, 0, 0, 0, 0 },
	{ "ldr w1, [x2, #16]", 0xb9401041, 0, GP_INSN_LOAD, 1, N, 2, 16, 4, 0, 0, 0, 0 },
	{ "ldr x1, [x3, #2040]", 0xf943fc61, 0, GP_INSN_LOAD, 1, N, 3, 2040, 8, 0, 0, 0, 0 },
	{ "str x30, [sp, #-80]!", 0xf81b0ffe, 0, GP_INSN_STORE, N, 30, 31, -80, 8, 0, 1u << 31, 0, 0 },
	{ "stur x29, [sp, #-8]", 0xf81f83fd, 0, GP_INSN_STORE, N, 29, 31, -8, 8, 0, 0, 0, 0 },
	{ "ldur x29, [sp, #-8]", 0xf85f83fd, 0, GP_INSN_LOAD, 29, N, 31, -8, 8, 0, 0, 0, 0 },
	{ "ldr x30, [sp], #80", 0xf84507fe, 0, GP_INSN_LOAD, 30, N, 31, 0, 8, 0, 1u << 31, 0, 0 },
	{ "ldp x29, x30, [sp, #-16]", 0xa97f7bfd, 0, GP_INSN_LOAD, N, N, 31, -16, 16, 0, 3u << 29, 0, 0 },
	{ "stp x29, x30, [x20, #-8]", 0xa93ffa9d, 0, GP_INSN_STORE, N, N, 20, -8, 16, 0, 0, 0, 0 },
	{ "str x0, [sp, #8]", 0xf90007e0, 0, GP_INSN_STORE, N, 0, 31, 8, 8, 0, 0, 0, 0 },
	{ "str xzr, [sp, #16]", 0xf9000bff, 0, GP_INSN_STORE, N, N, 31, 16, 8, 0, 0, 0, 0 },
	{ "ldr x5, [x1, x2, lsl #3]", 0xf8627825, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 5, 0, 0 },
	{ "ldaxr w27, [x3]", 0x885ffc7b, 0, GP_INSN_ATOMIC, 27, N, 3, 0, 4, 0, 0, 0, 1 },
	{ "stlxr w27, w2, [x3]", 0x881bfc62, 0, GP_INSN_STORE, N, N, 3, 0, 4, 0, 1u << 27, 0, 0 },
	{ "ldaxr x4, [x0]", 0xc85ffc04, 0, GP_INSN_ATOMIC, 4, N, 0, 0, 8, 0, 0, 0, 1 },
	{ "stlxr w5, x6, [x0]", 0xc805fc06, 0, GP_INSN_STORE, N, N, 0, 0, 8, 0, 1u << 5, 0, 0 },
	{ "casal w27, w2, [x3]", 0x88fbfc62, 0, GP_INSN_ATOMIC, 27, N, 3, 0, 4, 0, 0, 0, 0 },
	{ "cas x1, x2, [x4]", 0xc8a17c82, 0, GP_INSN_ATOMIC, 1, N, 4, 0, 8, 0, 0, 0, 0 },
	{ "casa w1, w2, [x4]", 0x88e17c82, 0, GP_INSN_ATOMIC, 1, N, 4, 0, 4, 0, 0, 0, 0 },
	{ "casl w1, w2, [x4]", 0x88a1fc82, 0, GP_INSN_ATOMIC, 1, N, 4, 0, 4, 0, 0, 0, 0 },
	{ "ldaddal w5, w6, [x7]", 0xb8e500e6, 0, GP_INSN_ATOMIC, 6, N, 7, 0, 4, 0, 0, 0, 0 },
	{ "swpal w5, w6, [x7]", 0xb8e580e6, 0, GP_INSN_ATOMIC, 6, N, 7, 0, 4, 0, 0, 0, 0 },
	{ "stadd w5, [x7]", 0xb82500ff, 0, GP_INSN_ATOMIC, N, N, 7, 0, 4, 0, 0, 0, 0 },
	{ "ldar x1, [x2]", 0xc8dffc41, 0, GP_INSN_LOAD, 1, N, 2, 0, 8, 0, 0, 0, 0 },
	{ "stlr w1, [x2]", 0x889ffc41, 0, GP_INSN_STORE, N, 1, 2, 0, 4, 0, 0, 0, 0 },
	{ "bl .+0x100", 0x94000040, 0, GP_INSN_CALL, N, N, N, 0, 0, 0x10100, 0, 0, 0 },
	{ "bl .-0x8", 0x97fffffe, 0, GP_INSN_CALL, N, N, N, 0, 0, 0xfff8, 0, 0, 0 },
	{ "b .+0x40", 0x14000010, 0, GP_INSN_JUMP, N, N, N, 0, 0, 0x10040, 0, 0, 0 },
	{ "b.ne .-0x20", 0x54ffff01, 0, GP_INSN_BRANCH, N, N, N, 0, 0, 0xffe0, 0, 0, 0 },
	{ "cbz w1, .+0x10", 0x34000081, 0, GP_INSN_BRANCH, N, 1, N, 0, 4, 0x10010, 0, GP_COND_ZERO, 0 },
	{ "cbnz x2, .+0x10", 0xb5000082, 0, GP_INSN_BRANCH, N, 2, N, 0, 8, 0x10010, 0, GP_COND_NONZERO, 0 },
	{ "tbz w2, #0, .+0x20", 0x36000102, 0, GP_INSN_BRANCH, N, 2, N, 0, 1, 0x10020, 0, GP_COND_ZERO, 0 },
	{ "tbnz w4, #0, .-0x4", 0x3707ffe4, 0, GP_INSN_BRANCH, N, 4, N, 0, 1, 0xfffc, 0, GP_COND_NONZERO, 0 },
	{ "tbnz x4, #63, .+0x8", 0xb7f80044, 0, GP_INSN_BRANCH, N, N, N, 0, 0, 0x10008, 0, 0, 0 },
	{ "blr x3", 0xd63f0060, 0, GP_INSN_CALL_REG, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "br x16", 0xd61f0200, 0, GP_INSN_JUMP_REG, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "ret", 0xd65f03c0, 0, GP_INSN_RET, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "brk #0x0", 0xd4200000, 0, GP_INSN_TRAP, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "udf #0", 0x00000000, 0, GP_INSN_TRAP, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "mov x2, x5", 0xaa0503e2, 0, GP_INSN_MOV, 2, 5, N, 0, 0, 0, 0, 0, 0 },
	{ "mov w27, wzr", 0x2a1f03fb, 0, GP_INSN_CONST, 27, N, N, 0, 0, 0, 0, 0, 0 },
	{ "mov x1, xzr", 0xaa1f03e1, 0, GP_INSN_CONST, 1, N, N, 0, 0, 0, 0, 0, 0 },
	{ "orr x2, xzr, #0x1", 0xb24003e2, 0, GP_INSN_CONST, 2, N, N, 0, 0, 1, 0, 0, 0 },
	{ "mov x0, #0x10000", 0xd2a00020, 0, GP_INSN_CONST, 0, N, N, 0, 0, 0x10000, 0, 0, 0 },
	{ "mov w0, #0x7063", 0x528e0c60, 0, GP_INSN_CONST, 0, N, N, 0, 0, 0x7063, 0, 0, 0 },
	{ "mov x1, #0xffffffffffffffff", 0x92800001, 0, GP_INSN_CONST, 1, N, N, 0, 0, ~0ull, 0, 0, 0 },
	{ "movk x27, #0x400, lsl #16", 0xf2a0801b, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 27, 0, 0 },
	{ "cmp x1, #0x4", 0xf100103f, 0, GP_INSN_CMP, N, 1, N, 0, 8, 0, 0, 0, 0 },
	{ "cmp x1, x2", 0xeb02003f, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "cset x4, eq", 0x9a9f17e4, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 4, 0, 0 },
	{ "svc #0x0", 0xd4000001, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 0, 0, 0 },
	{ "mrs x0, tpidr_el0", 0xd53bd040, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 0, 0, 0 },
	{ "dmb ish", 0xd5033bbf, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "nop", 0xd503201f, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 0, 0, 0 },
	{ "ldr x0, .+0x20", 0x58000100, 0, GP_INSN_LOAD, 0, N, N, 0, 8, 0x10020, 0, 0, 0 },
	{ "fmov x3, d1", 0x9e660023, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 3, 0, 0 },
	{ "fmov d1, x3", 0x9e670061, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 1, 0, 0 },
	{ "add x20, sp, x27", 0x8b3b63f4, 0, GP_INSN_OTHER, N, N, N, 0, 0, 0, 1u << 20, 0, 0 },
};
#undef N

static void check_arm64_cases(void)
{
	const struct gp_arch *a = gp_arch_find(EM_AARCH64);
	for (size_t i = 0; i < sizeof(a64_cases) / sizeof(a64_cases[0]); i++) {
		const struct a64_case *c = &a64_cases[i];
		uint8_t b[4] = { (uint8_t)c->word, (uint8_t)(c->word >> 8),
				 (uint8_t)(c->word >> 16), (uint8_t)(c->word >> 24) };
		uint64_t pc = c->pc ? c->pc : 0x10000;
		struct gp_insn in;
		size_t n = a->decode(b, 4, pc, &in);
		if (n != 4 || in.kind != c->kind || in.dst != c->dst ||
		    in.src != c->src || in.base != c->base ||
		    (c->base != GP_REG_NONE && in.disp != c->disp) ||
		    (c->width && in.width != c->width) ||
		    (c->target && in.target != c->target) ||
		    in.clobber != c->clobber || in.cond != c->cond ||
		    in.ldex != c->ldex)
			FAIL("arm64 %s (%08x): len %zu kind %u dst %u src %u base %u "
			     "disp %" PRId64 " width %u target 0x%" PRIx64
			     " clobber 0x%x cond %u ldex %u", c->text, c->word, n,
			     in.kind, in.dst, in.src, in.base, in.disp, in.width,
			     in.target, in.clobber, in.cond, in.ldex);
	}
	/* the lengths are always 4: a short or misaligned buffer is no
	 * instruction */
	uint8_t b[4] = { 0xc0, 0x03, 0x5f, 0xd6 };
	struct gp_insn in;
	if (a->decode(b, 3, 0x10000, &in) || a->decode(b, 4, 0x10002, &in))
		FAIL("arm64: decoded a short or misaligned word");
}

/*
 * x86-64: the compares and immediate stores stripped.c reads, as GNU as
 * 2.40 assembles them at address 0 (objdump's text beside each), decoded
 * at pc 0x1000: kind, src, base, width, the absolute address (RIP-
 * relative: next instruction + disp32) and the immediate.
 */
struct x86_case {
	const char *text;
	uint8_t bytes[12];
	uint8_t len, kind, src, base, width, has_imm;
	uint64_t target;
	int64_t imm;
};

static const struct x86_case x86_cases[] = {
	{ "cmpq $0x0,0x100(%rip)", { 0x48, 0x83, 0x3d, 0x00, 0x01, 0x00, 0x00, 0x00 },
	  8, GP_INSN_CMP, GP_REG_NONE, GP_REG_NONE, 8, 1, 0x1108, 0 },
	{ "movq $0x7,0x100(%rip)", { 0x48, 0xc7, 0x05, 0x00, 0x01, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00 },
	  11, GP_INSN_STORE, GP_REG_NONE, GP_REG_NONE, 8, 1, 0x110b, 7 },
	{ "cmp $0x2f,%al", { 0x3c, 0x2f }, 2, GP_INSN_CMP, 0, GP_REG_NONE, 1, 1, 0, 0x2f },
	{ "cmp %rcx,0x100(%rip)", { 0x48, 0x39, 0x0d, 0x00, 0x01, 0x00, 0x00 },
	  7, GP_INSN_CMP, 1, GP_REG_NONE, 8, 0, 0x1107, 0 },
	{ "movq $0xffffffffffffffff,0x8(%rsp)", { 0x48, 0xc7, 0x44, 0x24, 0x08, 0xff, 0xff, 0xff, 0xff },
	  9, GP_INSN_STORE, GP_REG_NONE, 4, 8, 1, 0, -1 },
	{ "movb $0x1,0x10(%rip)", { 0xc6, 0x05, 0x10, 0x00, 0x00, 0x00, 0x01 },
	  7, GP_INSN_STORE, GP_REG_NONE, GP_REG_NONE, 1, 1, 0x1017, 1 },
};

static void check_x86_cases(void)
{
	const struct gp_arch *a = gp_arch_find(EM_X86_64);
	for (size_t i = 0; i < sizeof(x86_cases) / sizeof(x86_cases[0]); i++) {
		const struct x86_case *c = &x86_cases[i];
		struct gp_insn in;
		size_t n = a->decode(c->bytes, c->len, 0x1000, &in);
		if (n != c->len || in.kind != c->kind || in.src != c->src ||
		    in.base != c->base || in.width != c->width ||
		    in.has_imm != c->has_imm || in.target != c->target ||
		    (c->has_imm && in.imm != c->imm))
			FAIL("x86-64 %s: len %zu kind %u src %u base %u width %u "
			     "has_imm %u target 0x%" PRIx64 " imm %" PRId64, c->text, n,
			     in.kind, in.src, in.base, in.width, in.has_imm,
			     in.target, in.imm);
	}
}

/* Random bytes: any answer, no crash, never a length past the buffer. */
static void fuzz(const struct gp_arch *a)
{
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
	check_arm64_cases();
	check_x86_cases();
	fuzz(gp_arch_find(EM_X86_64));
	fuzz(gp_arch_find(EM_AARCH64));
	for (int i = 1; i < argc; i++, n++)
		check_exe(argv[i]);
	static char line[8192], seen[64][4096];
	int nseen = 0;
	/* GP_PCLNTAB_CASES: the amd64 corpus; GP_DECODE_EXES: more
	 * executables, one a line (the arm64 cells) */
	const char *lists[2] = { getenv("GP_PCLNTAB_CASES"), getenv("GP_DECODE_EXES") };
	for (int li = 0; li < 2 && argc < 2; li++) {
		const char *cases = lists[li];
		if (!cases)
			continue;
		FILE *f = fopen(cases, "r");
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
	if (!n && !failures) {
		printf("SKIP: no executables\n");
		return getenv("GP_REQUIRE_CORES") ? 1 : 0;
	}
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures ? 1 : 0;
}
