/*
 * target/memory.c: gp_memory_covers says whether every byte of a range is
 * held (segments end to end, across layers, zero-fill, the reader's known
 * mappings), and gp_memory_view allocates nothing for a range it does not
 * cover: a size from a corrupt target word (a stack's bounds) must not
 * become a buffer; gp_memory_ptr_near gives gp_memory_ptr's answer
 * whatever its hint. Expectations written by hand from the segments below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/target.h"
#include "check.h"


/* Memory of 0xab bytes below 0x40000000 + 3 MiB, from 0x12000 up. */
static gp_error *reader(void *arg, uint64_t address, void *buf, size_t size)
{
	(void)arg;
	if (address < 0x12000 || address + size > 0x40000000 + (3u << 20))
		return gp_error_fault(address, size);
	memset(buf, 0xab, size);
	return NULL;
}

int main(void)
{
	static uint8_t a[0x1000], b[0x1000], c[0x800];
	struct gp_memory mem;
	memset(&mem, 0, sizeof(mem));
	struct gp_memory_layer *l0 = gp_memory_layer_push(&mem);
	struct gp_memory_layer *l1 = gp_memory_layer_push(&mem);
	CHECK(l0 && l1);
	/* layer 0: [0x10000, 0x11000) then [0x11000, 0x12000) end to end,
	 * then a gap, then [0x20000, 0x20800) and zero fill to 0x21000 */
	CHECK(!gp_memory_layer_add(l0, &(struct gp_segment){ 0x10000, 0x11000, a, 0x1000, false, false }));
	CHECK(!gp_memory_layer_add(l0, &(struct gp_segment){ 0x11000, 0x12000, b, 0x1000, false, false }));
	CHECK(!gp_memory_layer_add(l0, &(struct gp_segment){ 0x20000, 0x21000, c, 0x800, true, false }));
	/* layer 1 fills the gap's first page */
	CHECK(!gp_memory_layer_add(l1, &(struct gp_segment){ 0x12000, 0x13000, a, 0x1000, false, false }));
	gp_memory_layer_sort(l0);
	gp_memory_layer_sort(l1);

	CHECK(gp_memory_covers(&mem, 0x10000, 0x2000));
	CHECK(gp_memory_covers(&mem, 0x10ff8, 0x10));     /* across segments */
	CHECK(gp_memory_covers(&mem, 0x10000, 0x3000));    /* across layers */
	CHECK(!gp_memory_covers(&mem, 0x10000, 0x3001));   /* into the gap */
	CHECK(!gp_memory_covers(&mem, 0x13000, 8));
	CHECK(gp_memory_covers(&mem, 0x20000, 0x1000));    /* zero fill */
	CHECK(!gp_memory_covers(&mem, 0x20000, 0x1001));
	CHECK(gp_memory_covers(&mem, 0x10000, 0));
	CHECK(!gp_memory_covers(&mem, UINT64_MAX - 4, 8)); /* wraps */
	/* first and last words held, the middle not: read_stack's case */
	CHECK(gp_memory_holds(&mem, 0x10000, 8) && gp_memory_holds(&mem, 0x207f8, 8));
	CHECK(!gp_memory_covers(&mem, 0x10000, 0x11000));

	uint8_t *buf = NULL;
	size_t cap = 0;
	const uint8_t *p = NULL;
	gp_error *err = gp_memory_view(&mem, 0x10000, 0x11000, &buf, &cap, &p);
	CHECK(err && !buf && !cap);
	gp_error_destroy(err);
	/* a range held across two segments: copied */
	err = gp_memory_view(&mem, 0x10800, 0x1000, &buf, &cap, &p);
	CHECK(!err && buf && cap >= 0x1000 && p == buf);
	gp_error_destroy(err);
	/* a huge range past anything held: no buffer, an error */
	free(buf);
	buf = NULL;
	cap = 0;
	err = gp_memory_view(&mem, 0x10000, (size_t)1 << 40, &buf, &cap, &p);
	CHECK(err && !buf);
	gp_error_destroy(err);

	/* a reader with known mappings: covered only inside them */
	mem.read_fn = reader;
	CHECK(!gp_memory_layer_add(&mem.mapped, &(struct gp_segment){ 0x40000, 0x50000, NULL, 0, false, false }));
	gp_memory_layer_sort(&mem.mapped);
	CHECK(gp_memory_covers(&mem, 0x40000, 0x10000));
	CHECK(!gp_memory_covers(&mem, 0x40000, 0x10001));
	CHECK(gp_memory_covers(&mem, 0x12ff8, 8));
	CHECK(!gp_memory_covers(&mem, 0x30000, 8));

	/* a reader whose mappings are unknown (a debugger's): covers says
	 * yes to anything; the view reads a chunk at a time, its buffer
	 * grown by what was read, so a read failing at 3 MiB leaves at
	 * most 4 MiB allocated, not the range's size */
	struct gp_memory dbg;
	memset(&dbg, 0, sizeof(dbg));
	dbg.read_fn = reader;
	CHECK(gp_memory_covers(&dbg, 0x40000000, (size_t)1 << 40));
	buf = NULL;
	cap = 0;
	err = gp_memory_view(&dbg, 0x40000000, (size_t)1 << 40, &buf, &cap, &p);
	CHECK(err && cap <= (4u << 20));
	gp_error_destroy(err);
	err = gp_memory_view(&dbg, 0x40000000, (3u << 20) - 8, &buf, &cap, &p);
	CHECK(!err && p == buf && buf[0] == 0xab && buf[(3u << 20) - 9] == 0xab);
	gp_error_destroy(err);
	free(buf);

	/* gp_memory_ptr_near: the bytes by hand, whatever the hint says
	 * (fresh, stale, past the layer's end), in any order */
	struct gp_memory_hint hint = { { 0 } };
	CHECK(gp_memory_ptr_near(&mem, 0x10010, 8, &hint) == a + 0x10);
	CHECK(gp_memory_ptr_near(&mem, 0x11008, 8, &hint) == b + 8);
	CHECK(gp_memory_ptr_near(&mem, 0x12100, 8, &hint) == a + 0x100);
	CHECK(gp_memory_ptr_near(&mem, 0x20010, 8, &hint) == c + 0x10);
	CHECK(!gp_memory_ptr_near(&mem, 0x20900, 8, &hint));  /* zero fill */
	CHECK(gp_memory_ptr_near(&mem, 0x10ff8, 8, &hint) == a + 0xff8);
	CHECK(!gp_memory_ptr_near(&mem, 0x10ff8, 0x10, &hint)); /* 2 segments */
	CHECK(!gp_memory_ptr_near(&mem, 0x13000, 8, &hint));  /* gap */
	CHECK(!gp_memory_ptr_near(&mem, 0xfff8, 8, &hint));   /* before all */
	hint.seg[0] = 7;
	hint.seg[1] = 3;
	CHECK(gp_memory_ptr_near(&mem, 0x11ff8, 8, &hint) == b + 0xff8);
	hint.seg[0] = 2;
	CHECK(gp_memory_ptr_near(&mem, 0x10000, 8, &hint) == a);
	/* and gp_memory_ptr's answer at every 8th address of the range, up
	 * and down, with one hint kept throughout */
	memset(&hint, 0, sizeof(hint));
	int same = 1;
	for (uint64_t x = 0xf000; x < 0x22000; x += 8)
		same &= gp_memory_ptr_near(&mem, x, 16, &hint) ==
			gp_memory_ptr(&mem, x, 16);
	for (uint64_t x = 0x22000; x > 0xf000; x -= 24)
		same &= gp_memory_ptr_near(&mem, x, 8, &hint) ==
			gp_memory_ptr(&mem, x, 8);
	CHECK(same);

	gp_memory_deinit(&mem);
	printf("%s: %d checks, %d failures\n", __FILE__, checks, failures);
	return failures != 0;
}
