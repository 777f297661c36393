/*
 * fuzz_buildinfo: binary/exe.c's Go build information alone, over raw
 * bytes: the .go.buildinfo header (magic, pointer size, flags), the
 * version string's uvarint length, the version's parse (go1.N.P), the
 * search for the magic in load segments when the section is gone, the
 * build ID note; then what the version chooses: the built-in layout
 * table of that release and machine (layout_tables.c). fuzz_elf reaches
 * these inside a whole small ELF; here every input is only them, so
 * libFuzzer spends nothing on ELF headers.
 *
 * Input: sel u8, note_len u8, note_len bytes of .note.go.buildid, the
 * rest the build information.
 *   sel & 3: where the build information is: 0 the .go.buildinfo
 *            section, 1 a load segment only (found by its magic, after
 *            16 * (sel >> 4) zero bytes), 2 both, 3 neither
 *   sel & 4: no .note.go.buildid section
 *   sel & 8: arm64 (else x86-64)
 * Seeds: each fixture executable's .go.buildinfo (its first KiB) and
 * build ID note, in a section and in a segment.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "target/target.h"

#define H "fuzz_buildinfo"

static void seeds(const char *dir, size_t i, struct gp_exe *exe)
{
	const struct gp_section *bi = gp_exe_section(exe, ".go.buildinfo");
	const struct gp_section *note = gp_exe_section(exe, ".note.go.buildid");
	if (bi && bi->data) {
		size_t nbi = bi->size < 1024 ? bi->size : 1024;
		size_t nnote = note && note->data ? (note->size < 255 ? note->size : 255) : 0;
		uint8_t *in = malloc(2 + nnote + nbi);
		if (!in)
			fz_die(H, "out of memory");
		in[1] = (uint8_t)nnote;
		if (nnote)
			memcpy(in + 2, note->data, nnote);
		memcpy(in + 2 + nnote, bi->data, nbi);
		uint8_t arch = exe->machine == EM_AARCH64 ? 8 : 0;
		static const struct {
			uint8_t sel;
			const char *name;
		} modes[] = { { 0, "section" }, { 1 | 2 << 4, "segment" } };
		for (size_t m = 0; m < 2; m++) {
			char name[64];
			in[0] = modes[m].sel | arch | (nnote ? 0 : 4);
			snprintf(name, sizeof(name), "seed-e%zu-%s", i, modes[m].name);
			fz_write(H, dir, name, in, 2 + nnote + nbi);
		}
		free(in);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_unit_seeds(H, seeds);
	return 0;
}

#define BI_ADDR UINT64_C(0x500000)
#define NOTE_ADDR UINT64_C(0x400f00)

static uint64_t run(uint8_t sel, const uint8_t *note, size_t nnote,
		    const uint8_t *bi, size_t nbi, const uint8_t *seg,
		    size_t nseg)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	struct gp_section secs[2];
	size_t nsecs = 0;
	if ((sel & 3) == 0 || (sel & 3) == 2)
		secs[nsecs++] = (struct gp_section){ .name = ".go.buildinfo",
			.addr = BI_ADDR, .size = nbi, .data = bi, .type = SHT_PROGBITS };
	if (!(sel & 4))
		secs[nsecs++] = (struct gp_section){ .name = ".note.go.buildid",
			.addr = NOTE_ADDR, .size = nnote, .data = note, .type = SHT_NOTE };
	struct gp_segment load = { .start = BI_ADDR, .end = BI_ADDR + nseg + 4096,
				   .data = seg, .avail = nseg, .writable = true };
	struct gp_exe exe = {
		.path = (char *)"fuzz", .fd = -1,
		.machine = sel & 8 ? EM_AARCH64 : EM_X86_64,
		.elf_type = ET_EXEC,
		.sections = secs, .nsections = nsecs,
		.loads = &load, .nloads = (sel & 3) == 1 || (sel & 3) == 2,
	};
	exe.arch = gp_arch_find(exe.machine);
	gp_error *err = gp_exe_read_buildinfo(&exe);
	gp_exe_read_buildid(&exe);
	h = fz_mix_str(h, exe.build_id);
	if (err) {
		h = fz_mix_err(h, err);
	} else {
		h = fz_mix_str(h, exe.go_version);
		h = fz_mix(h, &exe.go_major, sizeof(exe.go_major));
		h = fz_mix(h, &exe.go_minor, sizeof(exe.go_minor));
		h = fz_mix(h, &exe.go_patch, sizeof(exe.go_patch));
		/* what the version chooses */
		struct gp_layout *layout = calloc(1, sizeof(*layout));
		if (!layout)
			abort();
		h = fz_mix_err(h, gp_layout_from_table(&exe, layout));
		h = fz_mix(h, layout, sizeof(*layout));
		free(layout);
	}
	free(exe.go_version);
	free(exe.build_id);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t sel = data[0];
	size_t nnote = data[1] < size - 2 ? data[1] : size - 2;
	size_t nbi = size - 2 - nnote;
	size_t pre = 16 * (size_t)(sel >> 4);
	/* exact-size copies: a read past any of them is ASan's */
	uint8_t *note = malloc(nnote ? nnote : 1), *bi = malloc(nbi ? nbi : 1),
		*seg = malloc(pre + nbi ? pre + nbi : 1);
	if (!note || !bi || !seg)
		abort();
	memcpy(note, data + 2, nnote);
	memcpy(bi, data + 2 + nnote, nbi);
	memset(seg, 0, pre);
	memcpy(seg + pre, bi, nbi);
	uint64_t h = run(sel, note, nnote, bi, nbi, seg, pre + nbi);
	if (fz_twice() && run(sel, note, nnote, bi, nbi, seg, pre + nbi) != h) {
		fprintf(stderr, H ": the same input gave two different runs\n");
		abort();
	}
	free(note);
	free(bi);
	free(seg);
	return 0;
}
