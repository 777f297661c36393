/*
 * fuzz_heap: the heap model, the mark and the leak verdict over a fixture
 * core whose heap metadata the input patches (spans, alloc bits, pointer
 * bitmaps, malloc headers and type pointers, arenas, specials). The
 * harness is fuzz_snapshot.c's, built with FZ_HEAP.
 */
#define FZ_HEAP 1
#include "fuzz_snapshot.c"
