/*
 * fuzz_code: the instruction decoders (arch/x86_64.c, arch/arm64.c:
 * decode and next_call) and the dataflow over their instructions
 * (arch/code.c: blocks, successors, the values registers and stack
 * slots hold, events), which stripped.c's scans of the runtime's code
 * and the lock evidence (analysis/locks.c, holders.c) run on. Raw
 * bytes, no fixture per input.
 *
 * Input: sel u8, then the code (at most 64 KiB are analysed).
 *   sel & 1: arm64 (else x86-64)
 *   sel & 2: an sp delta for every pc (as the pclntab gives), else none
 *   sel & 4: every call to an odd address never returns
 * Seeds: the code of some runtime and sync functions of each fixture
 * executable (the ones stripped.c and the lock evidence read).
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_code"
#define ENTRY UINT64_C(0x401000)

static void seeds(const char *dir, size_t i, struct gp_exe *exe)
{
	static const char *const names[] = {
		"runtime.allgadd", "runtime.schedinit", "runtime.main",
		"runtime.mcommoninit", "runtime.gopark", "runtime.chanrecv",
		"runtime.selectgo", "sync.(*Mutex).Lock", "sync.(*RWMutex).RLock",
		"sync.(*WaitGroup).Wait", "runtime.semacquire1",
		"runtime.(*mheap).init", "runtime.waitReason.String",
		"main.main",
	};
	struct gp_pclntab *tab = NULL;
	if (gp_pclntab_open(exe, NULL, NULL, &tab))
		return;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		struct gp_func fn;
		if (!gp_pclntab_func_by_name(tab, names[k], &fn) || fn.end <= fn.entry)
			continue;
		size_t n = fn.end - fn.entry > 4096 ? 4096 : fn.end - fn.entry;
		const uint8_t *code = NULL;
		for (size_t s = 0; s < exe->nloads; s++) {
			const struct gp_segment *g = &exe->loads[s];
			if (fn.entry >= g->start && fn.entry - g->start + n <= g->avail)
				code = g->data + (fn.entry - g->start);
		}
		if (!code)
			continue;
		uint8_t *in = malloc(n + 1);
		if (!in)
			fz_die(H, "out of memory");
		in[0] = (exe->machine == EM_AARCH64 ? 1 : 0) | (k % 2 ? 2 : 0);
		memcpy(in + 1, code, n);
		char name[64];
		snprintf(name, sizeof(name), "seed-e%zu-f%zu", i, k);
		fz_write(H, dir, name, in, n + 1);
		free(in);
	}
	gp_pclntab_destroy(tab);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_unit_seeds(H, seeds);
	return 0;
}

static int32_t spdelta(void *arg, uint64_t pc)
{
	(void)arg;
	return pc == ENTRY ? 0 : (int32_t)(8 + (pc & 0x30));
}

static bool noreturn(void *arg, uint64_t target)
{
	(void)arg;
	return target & 1;
}

static bool walk(void *arg, const struct gp_insn *in, const struct gp_val *addr,
		 const struct gp_val *val)
{
	uint64_t *h = arg;
	*h = fz_mix(*h, &in->pc, sizeof(in->pc));
	*h = fz_mix(*h, &in->kind, 1);
	*h = fz_mix(*h, &addr->root, 1);
	*h = fz_mix(*h, &addr->base, sizeof(addr->base));
	*h = fz_mix(*h, &val->root, 1);
	return true;
}

static uint64_t run(const struct gp_arch *arch, const uint8_t *code, size_t n,
		    uint8_t sel)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	/* the direct calls, as holders.c looks for them */
	size_t off = 0;
	uint64_t t;
	for (int k = 0; k < 4096 && arch->next_call &&
			arch->next_call(code, n, ENTRY, &off, &t); k++)
		h = fz_mix(h, &t, sizeof(t));
	struct gp_code c;
	gp_error *err = gp_code_analyze(arch, code, ENTRY, n,
					sel & 2 ? spdelta : NULL,
					sel & 4 ? noreturn : NULL, NULL, &c);
	if (err) {
		h = fz_mix(h, gp_error_message(err), strlen(gp_error_message(err)));
		gp_error_destroy(err);
		return h;
	}
	gp_code_walk(&c, walk, &h);
	h = fz_mix(h, &c.nblocks, sizeof(c.nblocks));
	h = fz_mix(h, &c.nevents, sizeof(c.nevents));
	h = fz_mix(h, &c.undecoded, sizeof(c.undecoded));
	for (size_t b = 0; b < c.nblocks && b < 64; b++) {
		struct gp_code_state st;
		uint64_t pc = c.blocks[b].start;
		if (gp_code_state_at(&c, pc, &st))
			h = fz_mix(h, &st.nslots, sizeof(st.nslots));
		h = fz_mix(h, &(uint32_t){ gp_code_block_of(&c, pc) }, 4);
		struct gp_insn in;
		if (gp_code_insn_before(&c, c.blocks[b].end, &in))
			h = fz_mix(h, &in.pc, sizeof(in.pc));
		(void)gp_code_is_insn(&c, pc + 1);
		(void)gp_code_insn_at(&c, pc);
	}
	gp_code_deinit(&c);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	size_t n = size - 1 > (64u << 10) ? 64u << 10 : size - 1;
	const struct gp_arch *arch = gp_arch_find(sel & 1 ? EM_AARCH64 : EM_X86_64);
	if (!arch || !arch->decode)
		return 0;
	/* an exact-size copy: a read past the code is ASan's */
	uint8_t *code = malloc(n ? n : 1);
	if (!code)
		abort();
	memcpy(code, data + 1, n);
	uint64_t h = run(arch, code, n, sel);
	if (fz_twice() && run(arch, code, n, sel) != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
	free(code);
	return 0;
}
