/*
 * Pointer maps: which words of a heap object hold pointers, for each
 * allocator generation (runtime/mbitmap.go of each release; the facts are
 * in ../shared/GO_HEAP.md section 2, checked in corefiles/leaks/FACTS.rst):
 *
 *   1.19       2 bits per word in heapArena.bitmap: a pointer bit, and a
 *              scan bit whose 0 ends the object's pointers (scanobject);
 *   1.20-1.21  1 bit per word in heapArena.bitmap, and noMorePtrs: the
 *              object has no pointers past the bitmap word whose bit is
 *              set there (heapBitsForAddr, heapBits.next);
 *   1.22+      objects of at most 512 bytes: the span's own heap bits, at
 *              its end (spanHeapBitsRange; GreenTea's inline mark bits sit
 *              between, 1.25+); bigger ones: a malloc header (word 0 is
 *              the *_type, the object follows) or, for one object per
 *              span, mspan.largeType; the type's mask repeats over the
 *              slot, an element at a time (typePointers.next).
 *
 * A type's mask is its GCData bitmap, except: a GC program (kind bit 0x40,
 * up to 1.23; runGCProg), and from 1.24 a mask built on demand
 * (TFlagGCMaskOnDemand): GCData then points to a slot that holds the mask
 * once the runtime built it, else it is built here from the type as
 * buildGCMask does (arrays and structs). Types are cached by address.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

#define KIND_MASK 0x1f
#define KIND_ARRAY 17
#define KIND_STRUCT 25
#define KIND_GCPROG 0x40          /* up to 1.23 */
#define TFLAG_GCMASK_ON_DEMAND 0x10 /* 1.24+ (TFlagUnrolledBitmap before) */
#define MAX_TYPE_SIZE (UINT64_C(1) << 40)
#define MAX_MASK_BITS (UINT64_C(1) << 31)   /* 16 GiB of pointers */
#define MAX_BUILD_STEPS (64u << 20)
#define MAX_PROG_BYTES (64u << 20)

struct gp_error gp_heap_shared_again = {
	.code = GP_ERROR_LIMIT,
	.message = "needs the heap's state changed: scan unshared",
};

/* ------------------------------------------------------------- types */

struct type_hdr {
	uint64_t size, ptrbytes, gcdata;
	uint8_t tflag, kind;
};

static gp_error *read_type_hdr(const struct gp_program *p, uint64_t t,
			       struct type_hdr *ret)
{
	uint8_t buf[64];
	bool old = gp_has(p, GP_F_TYPE_SIZE_OLD);
	enum gp_field_id fs = old ? GP_F_TYPE_SIZE_OLD : GP_F_TYPE_SIZE,
			 fp = old ? GP_F_TYPE_PTRDATA_OLD : GP_F_TYPE_PTRBYTES,
			 fk = old ? GP_F_TYPE_KIND_OLD : GP_F_TYPE_KIND,
			 fg = old ? GP_F_TYPE_GCDATA_OLD : GP_F_TYPE_GCDATA,
			 ft = old ? GP_F_TYPE_TFLAG_OLD : GP_F_TYPE_TFLAG;
	if (!t || t & 7)
		return gp_error_create(GP_ERROR_CORRUPT,
				       "type pointer 0x%llx not aligned",
				       (unsigned long long)t);
	gp_error *err = gp_memory_read(&p->mem, t, buf, 48);
	if (err)
		return err;
	ret->size = gp_field(p, fs, buf, 48);
	ret->ptrbytes = gp_field(p, fp, buf, 48);
	ret->kind = (uint8_t)gp_field(p, fk, buf, 48);
	ret->gcdata = gp_field(p, fg, buf, 48);
	ret->tflag = (uint8_t)gp_field(p, ft, buf, 48);
	if (ret->size > MAX_TYPE_SIZE || ret->ptrbytes > ret->size ||
	    ret->ptrbytes & 7 || (ret->ptrbytes && ret->size & 7))
		return gp_error_create(GP_ERROR_CORRUPT,
				       "type 0x%llx: size %llu, pointer bytes %llu",
				       (unsigned long long)t,
				       (unsigned long long)ret->size,
				       (unsigned long long)ret->ptrbytes);
	return NULL;
}

static inline void set_bit(uint8_t *m, uint64_t i)
{
	m[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/*
 * runtime.runGCProg: 0x00 ends; 0nnnnnnn: n literal bits follow;
 * 1nnnnnnn (n = 0: a varint n) then a varint c: repeat the last n bits
 * c times. Writes at most nbits bits into out (zeroed by the caller).
 */
gp_error *gp_run_gcprog(const uint8_t *prog, size_t len, uint8_t *out,
			uint64_t nbits)
{
	uint64_t pos = 0;
	size_t i = 0;
	for (;;) {
		if (i >= len)
			return gp_error_create(GP_ERROR_CORRUPT,
					       "GC program runs off its end");
		uint8_t x = prog[i++];
		if (!x)
			return NULL;
		if (!(x & 0x80)) {
			uint64_t n = x;
			for (uint64_t k = 0; k < n; k++) {
				size_t byte = i + (size_t)(k / 8);
				if (byte >= len)
					return gp_error_create(GP_ERROR_CORRUPT,
							       "GC program literal runs off its end");
				if (pos >= nbits)
					return NULL;
				if (prog[byte] >> (k % 8) & 1)
					set_bit(out, pos);
				pos++;
			}
			i += (size_t)((n + 7) / 8);
			continue;
		}
		uint64_t n = x & 0x7f, c = 0;
		if (!n) {
			for (unsigned shift = 0;; shift += 7) {
				if (i >= len || shift > 56)
					return gp_error_create(GP_ERROR_CORRUPT, "bad GC program");
				uint8_t b = prog[i++];
				n |= (uint64_t)(b & 0x7f) << shift;
				if (!(b & 0x80))
					break;
			}
		}
		for (unsigned shift = 0;; shift += 7) {
			if (i >= len || shift > 56)
				return gp_error_create(GP_ERROR_CORRUPT, "bad GC program");
			uint8_t b = prog[i++];
			c |= (uint64_t)(b & 0x7f) << shift;
			if (!(b & 0x80))
				break;
		}
		if (!n || n > pos)
			return gp_error_create(GP_ERROR_CORRUPT,
					       "GC program repeats %llu bits of %llu",
					       (unsigned long long)n,
					       (unsigned long long)pos);
		/* bounded by nbits: a repeat past the mask only wastes */
		uint64_t start = pos - n;
		for (uint64_t r = 0; r < c && pos < nbits; r++)
			for (uint64_t k = 0; k < n && pos < nbits; k++) {
				uint64_t src = start + k;
				if (out[src >> 3] >> (src & 7) & 1)
					set_bit(out, pos);
				pos++;
			}
		if (pos >= nbits)
			return NULL;
	}
}

/* buildGCMask (runtime/type.go, 1.24+) without recursion: a stack of
 * (type, first bit) to expand. */
struct build_item {
	uint64_t type, bit;
};

static gp_error *build_mask(const struct gp_program *p, uint64_t root,
			    const struct type_hdr *rh, uint8_t *out,
			    uint64_t nbits)
{
	struct build_item *stack = NULL;
	size_t n = 0, cap = 0;
	size_t steps = 0;
	gp_error *err = gp_grow((void **)&stack, &cap, 16, sizeof(*stack));
	if (err)
		return err;
	stack[n++] = (struct build_item){ root, 0 };
	bool is_root = true;
	while (n) {
		struct build_item it = stack[--n];
		if (++steps > MAX_BUILD_STEPS) {
			err = gp_error_create(GP_ERROR_LIMIT,
					      "type 0x%llx: mask too costly to build",
					      (unsigned long long)root);
			break;
		}
		struct type_hdr th;
		if (is_root) {
			th = *rh;
			is_root = false;
		} else if ((err = read_type_hdr(p, it.type, &th))) {
			break;
		}
		if (!th.ptrbytes)
			continue;
		if (it.bit + th.ptrbytes / 8 > nbits) {
			err = gp_error_create(GP_ERROR_CORRUPT,
					      "type 0x%llx overflows its parent's mask",
					      (unsigned long long)it.type);
			break;
		}
		if (!(th.tflag & TFLAG_GCMASK_ON_DEMAND)) {
			uint64_t nb = th.ptrbytes / 8;
			uint8_t tmp[512];
			for (uint64_t b = 0; b < nb; b += sizeof(tmp) * 8) {
				uint64_t chunk = nb - b < sizeof(tmp) * 8 ? nb - b : sizeof(tmp) * 8;
				if ((err = gp_memory_read(&p->mem, th.gcdata + b / 8,
							  tmp, (size_t)((chunk + 7) / 8))))
					goto out;
				for (uint64_t k = 0; k < chunk; k++)
					if (tmp[k >> 3] >> (k & 7) & 1)
						set_bit(out, it.bit + b + k);
			}
			continue;
		}
		uint8_t kind = th.kind & KIND_MASK;
		if (kind == KIND_ARRAY && gp_has(p, GP_F_ARRAYTYPE_ELEM)) {
			uint64_t elem, len;
			if ((err = gp_memory_read_u64(&p->mem, it.type + (uint64_t)gp_off(p, GP_F_ARRAYTYPE_ELEM), &elem)) ||
			    (err = gp_memory_read_u64(&p->mem, it.type + (uint64_t)gp_off(p, GP_F_ARRAYTYPE_LEN), &len)))
				break;
			struct type_hdr eh;
			if ((err = read_type_hdr(p, elem, &eh)))
				break;
			if (!eh.ptrbytes)
				continue;
			if (!eh.size || len > nbits || eh.size / 8 * len > th.size / 8) {
				err = gp_error_create(GP_ERROR_CORRUPT,
						      "array type 0x%llx: %llu elements of %llu bytes",
						      (unsigned long long)it.type,
						      (unsigned long long)len,
						      (unsigned long long)eh.size);
				break;
			}
			if ((err = gp_grow((void **)&stack, &cap, n + len, sizeof(*stack))))
				break;
			/* pushed in reverse so that bits are written in order */
			for (uint64_t k = len; k > 0; k--)
				stack[n++] = (struct build_item){ elem, it.bit + (k - 1) * (eh.size / 8) };
		} else if (kind == KIND_STRUCT && gp_has(p, GP_F_STRUCTTYPE_FIELDS)) {
			uint64_t sl[2];
			if ((err = gp_memory_read(&p->mem, it.type + (uint64_t)gp_off(p, GP_F_STRUCTTYPE_FIELDS), sl, 16)))
				break;
			uint64_t fsz = (uint64_t)gp_off(p, GP_F_STRUCTFIELD_OFFSET) + 8;
			if (sl[1] > 1u << 20) {
				err = gp_error_create(GP_ERROR_CORRUPT, "struct type with %llu fields",
						      (unsigned long long)sl[1]);
				break;
			}
			if ((err = gp_grow((void **)&stack, &cap, n + sl[1], sizeof(*stack))))
				break;
			for (uint64_t k = sl[1]; k > 0; k--) {
				uint8_t fb[32];
				if ((err = gp_memory_read(&p->mem, sl[0] + (k - 1) * fsz, fb, (size_t)fsz)))
					goto out;
				uint64_t ft = gp_field(p, GP_F_STRUCTFIELD_TYP, fb, sizeof(fb));
				uint64_t fo = gp_field(p, GP_F_STRUCTFIELD_OFFSET, fb, sizeof(fb));
				if (fo & 7 || fo >= th.size)
					continue; /* a pointer field is word aligned */
				stack[n++] = (struct build_item){ ft, it.bit + fo / 8 };
			}
		} else {
			err = gp_error_create(GP_ERROR_CORRUPT,
					      "type 0x%llx: mask on demand for kind %u",
					      (unsigned long long)it.type, kind);
			break;
		}
	}
out:
	free(stack);
	return err;
}

static gp_error *too_big(uint64_t type, uint64_t size, uint64_t max_size)
{
	return gp_error_create(GP_ERROR_CORRUPT,
			       "type 0x%llx of %llu bytes in an object of %llu",
			       (unsigned long long)type, (unsigned long long)size,
			       (unsigned long long)max_size);
}

void gp_types_deinit(struct gp_types *t)
{
	gp_addr_map_deinit(&t->map);
	free(t->recs);
	free(t->pool);
}

gp_error *gp_heap_type(struct gp_heap *h, uint64_t type, uint64_t max_size,
		       const struct gp_type_rec **ret)
{
	struct gp_types *t = &h->types;
	uint32_t i = gp_addr_map_get(&t->map, type);
	if (i != GP_NONE && t->recs[i].size > max_size)
		return too_big(type, t->recs[i].size, max_size);
	if (i != GP_NONE) {
		*ret = &t->recs[i];
		return t->recs[i].error ? gp_error_create(GP_ERROR_CORRUPT,
							  "type 0x%llx unreadable",
							  (unsigned long long)type) : NULL;
	}
	const struct gp_program *p = h->prog;
	struct type_hdr th;
	struct gp_type_rec rec = { .addr = type };
	gp_error *err = read_type_hdr(p, type, &th);
	/* a type bigger than the object that names it is not its type; its
	 * mask (a bit per pointer word, built or read) would be sized by the
	 * corrupt word alone: not cached, no mask */
	if (!err && th.size > max_size)
		return too_big(type, th.size, max_size);
	uint8_t *mask = NULL;
	uint64_t nbits = 0;
	if (!err) {
		rec.size = th.size;
		rec.ptrbytes = th.ptrbytes;
		nbits = th.ptrbytes / 8;
		if (nbits > MAX_MASK_BITS)
			err = gp_error_create(GP_ERROR_LIMIT, "type 0x%llx has %llu pointer words",
					      (unsigned long long)type, (unsigned long long)nbits);
	}
	if (!err && nbits) {
		mask = calloc((size_t)(nbits + 7) / 8, 1);
		if (!mask)
			return &gp_error_nomem;
		bool on_demand = p->gover >= GP_GOVER(1, 24) &&
				 (th.tflag & TFLAG_GCMASK_ON_DEMAND);
		if (on_demand) {
			uint64_t built = 0;
			if (!gp_failed(gp_memory_read_u64(&p->mem, th.gcdata, &built)) && built)
				err = gp_memory_read(&p->mem, built, mask, (size_t)(nbits + 7) / 8);
			else
				err = build_mask(p, type, &th, mask, nbits);
		} else if (p->gover < GP_GOVER(1, 24) && (th.kind & KIND_GCPROG)) {
			uint32_t len = 0;
			err = gp_memory_read_u32(&p->mem, th.gcdata, &len);
			if (!err && len > MAX_PROG_BYTES)
				err = gp_error_create(GP_ERROR_LIMIT, "GC program of %u bytes", len);
			uint8_t *prog = NULL;
			if (!err && !gp_memory_covers(&p->mem, th.gcdata + 4, len))
				err = gp_error_fault(th.gcdata + 4, len);
			if (!err && !(prog = malloc(len ? len : 1)))
				err = &gp_error_nomem;
			if (!err)
				err = gp_memory_read(&p->mem, th.gcdata + 4, prog, len);
			if (!err)
				err = gp_run_gcprog(prog, len, mask, nbits);
			free(prog);
		} else {
			err = gp_memory_read(&p->mem, th.gcdata, mask, (size_t)(nbits + 7) / 8);
		}
	}
	if (err && err != &gp_error_nomem) {
		rec.error = 1;
		nbits = 0;
	}
	if (err == &gp_error_nomem) {
		free(mask);
		return err;
	}
	size_t nbytes = (size_t)(nbits + 7) / 8;
	gp_error *e2 = gp_grow((void **)&t->pool, &t->pool_cap, t->pool_len + nbytes + 1, 1);
	if (!e2)
		e2 = gp_grow((void **)&t->recs, &t->cap, t->n + 1, sizeof(*t->recs));
	if (e2) {
		free(mask);
		gp_error_destroy(err);
		return e2;
	}
	rec.mask_off = t->pool_len;
	if (nbytes)
		memcpy(t->pool + t->pool_len, mask, nbytes);
	t->pool_len += nbytes;
	free(mask);
	t->recs[t->n] = rec;
	if ((e2 = gp_addr_map_put(&t->map, type, (uint32_t)t->n))) {
		gp_error_destroy(err);
		return e2;
	}
	*ret = &t->recs[t->n++];
	return err;
}

/* runtime/type.go (internal/abi/type.go): tflagExtraStar */
#define TFLAG_EXTRA_STAR 2
#define GP_MAX_TYPE_NAME 1024

gp_error *gp_type_name(const struct gp_program *prog, struct gp_strtab *strs,
		       uint64_t type, uint32_t *ret)
{
	*ret = 0;
	if (!type)
		return NULL;
	bool old = gp_has(prog, GP_F_TYPE_STR_OLD);
	int32_t str_off = gp_off(prog, old ? GP_F_TYPE_STR_OLD : GP_F_TYPE_STR);
	int32_t tf_off = gp_off(prog, old ? GP_F_TYPE_TFLAG_OLD : GP_F_TYPE_TFLAG);
	uint64_t md = prog->layout.var_addr[GP_V_FIRSTMODULEDATA], types;
	uint32_t nameoff;
	uint8_t tflag, hdr[11];
	if (str_off < 0 || tf_off < 0 || !md || !gp_has(prog, GP_F_MODULEDATA_TYPES))
		return NULL;
	gp_error *err;
	if ((err = gp_memory_read_u64(&prog->mem,
				      md + (uint64_t)gp_off(prog, GP_F_MODULEDATA_TYPES),
				      &types)) ||
	    (err = gp_memory_read_u32(&prog->mem, type + (uint64_t)str_off,
				      &nameoff)) ||
	    (err = gp_memory_read(&prog->mem, type + (uint64_t)tf_off, &tflag, 1)))
		goto unknown;
	/* runtime/type.go name: a flags byte, a uvarint length, the bytes */
	uint64_t name = types + (uint64_t)(int64_t)(int32_t)nameoff;
	if ((err = gp_memory_read(&prog->mem, name, hdr, 1 + 5)))
		goto unknown;
	uint64_t len = 0;
	size_t i;
	for (i = 0; i < 5; i++) {
		len |= (uint64_t)(hdr[1 + i] & 0x7f) << (7 * i);
		if (!(hdr[1 + i] & 0x80))
			break;
	}
	if (i == 5 || len == 0 || len > GP_MAX_TYPE_NAME)
		goto unknown;
	char *s;
	if ((err = gp_memory_read_string(&prog->mem, name + 2 + i, len,
					 GP_MAX_TYPE_NAME, &s)))
		goto unknown;
	const char *shown = (tflag & TFLAG_EXTRA_STAR) && s[0] == '*' ? s + 1 : s;
	err = gp_strtab_intern_n(strs, shown, len - (size_t)(shown - s), ret);
	free(s);
	return err;
unknown:
	/* an unreadable name is no name, not an error */
	gp_error_destroy(err);
	return NULL;
}

/* ------------------------------------------------------ object masks */

static inline uint64_t bit_of(const uint8_t *m, uint64_t i)
{
	return m[i >> 3] >> (i & 7) & 1;
}

/*
 * The heapArena bitmap before 1.22 for words [w, w + n) of the object,
 * into bits from bit k0, within one arena: *ret_m words done.
 *   1.19: byte (addr/32) % 2 MiB: bit j is the pointer bit of word j of
 *         the four, bit 4 + j its scan bit (0: no more pointers);
 *   1.20-1.21: bit (addr/8) % 2^23 of bitmap[] (uintptr words), and
 *         noMorePtrs: bit idx of it set means no pointers past bitmap
 *         word idx (heapBitsForAddr, heapBits.next).
 */
static gp_error *arena_bits(struct gp_heap *h, const struct gp_span *s,
			    uint64_t obj, uint64_t w, uint32_t n,
			    uint64_t *bits, uint32_t k0, uint32_t *ret_m,
			    bool *ret_done)
{
	const struct gp_program *p = h->prog;
	uint64_t a = obj + w * 8;
	const struct gp_heap_arena *ar = gp_heap_arena_of(h, a);
	*ret_m = 0;
	if (!ar || !ar->ha)
		return gp_error_create(GP_ERROR_CORRUPT, "no heap arena for 0x%llx",
				       (unsigned long long)a);
	uint64_t words = UINT64_C(1) << (26 - 3);
	uint64_t wi = (a / 8) % words;
	uint32_t m = n;
	if (wi + m > words)
		m = (uint32_t)(words - wi);
	uint64_t bitmap = ar->ha + (uint64_t)gp_off(p, GP_F_HEAPARENA_BITMAP);
	gp_error *err;
	if (h->gen == GP_HEAP_BITMAP2) {
		uint8_t buf[GP_HEAP_WINDOW / 4 + 2];
		uint64_t first = wi / 4, last = (wi + m - 1) / 4;
		if ((err = gp_memory_read(&p->mem, bitmap + first, buf,
					  (size_t)(last - first + 1))))
			return err;
		for (uint32_t k = 0; k < m; k++) {
			uint64_t x = wi + k;
			uint8_t b = buf[x / 4 - first];
			unsigned sh = (unsigned)(x % 4);
			if (!(b >> (4 + sh) & 1)) {
				*ret_done = true;
				break;
			}
			if (b >> sh & 1)
				bits[(k0 + k) / 64] |= UINT64_C(1) << ((k0 + k) % 64);
		}
		*ret_m = m;
		return NULL;
	}
	uint64_t i0 = wi / 64, i1 = (wi + m - 1) / 64;
	uint64_t bw[GP_HEAP_WINDOW / 64 + 2];
	uint8_t nm[GP_HEAP_WINDOW / 64 / 8 + 2];
	if ((err = gp_memory_read(&p->mem, bitmap + i0 * 8, bw,
				  (size_t)(i1 - i0 + 1) * 8)) ||
	    (err = gp_memory_read(&p->mem, ar->ha + (uint64_t)gp_off(p, GP_F_HEAPARENA_NOMOREPTRS) + i0 / 8,
				  nm, (size_t)(i1 / 8 - i0 / 8 + 1))))
		return err;
	uint64_t left_after = (obj + s->elemsize - a) / 8; /* words from a on */
	for (uint32_t k = 0; k < m; k++) {
		uint64_t x = wi + k;
		if (bw[x / 64 - i0] >> (x % 64) & 1)
			bits[(k0 + k) / 64] |= UINT64_C(1) << ((k0 + k) % 64);
		if (x % 64 == 63 && left_after > k + 1) {
			uint64_t idx = x / 64;
			if (nm[idx / 8 - i0 / 8] >> (idx % 8) & 1) {
				*ret_done = true;
				break;
			}
		}
	}
	*ret_m = m;
	return NULL;
}

/*
 * Pointer bits of words [w0, w0 + n) of the object in slot obj of span s
 * (n <= GP_HEAP_WINDOW), into bits (1 per word, zeroed here). *ret_done
 * is set when no word past the window can hold a pointer.
 */
static gp_error *object_bits(struct gp_heap *h, const struct gp_span *s,
			     uint64_t obj, uint64_t w0, uint32_t n,
			     uint64_t *bits, bool *ret_done, bool shared)
{
	const struct gp_program *p = h->prog;
	memset(bits, 0, GP_HEAP_WINDOW / 8);
	*ret_done = false;
	uint64_t nwords = s->elemsize / 8;
	if (w0 + n >= nwords)
		*ret_done = true;
	gp_error *err;
	switch (h->gen) {
	case GP_HEAP_BITMAP2:
	case GP_HEAP_BITMAP1:
		/* an object may cross into the next arena: by pieces */
		for (uint32_t k0 = 0; k0 < n;) {
			uint32_t m;
			if ((err = arena_bits(h, s, obj, w0 + k0, n - k0, bits, k0, &m, ret_done)))
				return err;
			if (*ret_done || !m)
				break;
			k0 += m;
		}
		return NULL;
	case GP_HEAP_HEADERS:
		break;
	}
	if (s->flags & GP_SPAN_INLINE_BITS) {
		uint64_t wi = (obj - s->base) / 8 + w0;
		uint64_t i0 = wi / 64, i1 = (wi + n - 1) / 64;
		uint64_t bw[GP_HEAP_WINDOW / 64 + 2];
		if (i1 - i0 + 1 > GP_ARRAY_SIZE(bw))
			return gp_error_create(GP_ERROR_CORRUPT, "window too big");
		/* in place when mapped (a core): a copy per object scanned
		 * was 2% of a verdict at 1M goroutines */
		size_t nb = (size_t)(i1 - i0 + 1) * 8;
		const uint8_t *src = gp_memory_ptr(&p->mem, s->bits + i0 * 8, nb);
		if (!src) {
			if ((err = gp_memory_read(&p->mem, s->bits + i0 * 8, bw, nb)))
				return err;
			src = (const uint8_t *)bw;
		}
		/* 64 words' bits at a time, not a bit at a time: the bitmap
		 * from bit wi - 64 * i0 of src (a word of it read only when
		 * the bits reach into it) */
		for (uint32_t k = 0; k < n; k += 64) {
			uint64_t pos = wi - 64 * i0 + k, sh = pos % 64, v;
			uint32_t m = n - k < 64 ? n - k : 64;
			memcpy(&v, src + 8 * (pos / 64), 8);
			v >>= sh;
			if (sh && sh + m > 64) {
				uint64_t hi;
				memcpy(&hi, src + 8 * (pos / 64 + 1), 8);
				v |= hi << (64 - sh);
			}
			bits[k / 64] = m == 64 ? v : v & ((UINT64_C(1) << m) - 1);
		}
		return NULL;
	}
	/* a malloc header (word 0) or the span's largeType */
	uint64_t type, payload;
	if (s->flags & GP_SPAN_HEADERS) {
		if ((err = gp_memory_read_u64(&p->mem, obj, &type)))
			return err;
		payload = 1;
	} else {
		type = s->large_type;
		payload = 0;
	}
	if (!type) {
		*ret_done = true; /* no type yet: nothing to scan (mallocgc) */
		return NULL;
	}
	const struct gp_type_rec *t;
	uint64_t max = s->elemsize > 8 * payload ? s->elemsize - 8 * payload : 0;
	if (shared) {
		/* the cache as it is: a type not in it, or one that fails,
		 * is for the caller to scan again unshared */
		uint32_t i = gp_addr_map_get(&h->types.map, type);
		if (i == GP_NONE || h->types.recs[i].error || h->types.recs[i].size > max)
			return &gp_heap_shared_again;
		t = &h->types.recs[i];
	} else if ((err = gp_heap_type(h, type, max, &t))) {
		return err;
	}
	if (!t->ptrbytes) {
		*ret_done = true;
		return NULL;
	}
	if (!t->size)
		return gp_error_create(GP_ERROR_CORRUPT, "type 0x%llx of size 0", (unsigned long long)type);
	const uint8_t *mask = h->types.pool + t->mask_off;
	uint64_t tw = t->size / 8, pw = t->ptrbytes / 8;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t w = w0 + k;
		if (w < payload)
			continue;
		uint64_t in = (w - payload) % tw;
		if (in < pw && bit_of(mask, in))
			bits[k / 64] |= UINT64_C(1) << (k % 64);
	}
	return NULL;
}

/*
 * Calls visit for each pointer word of the slot at obj of span s: its
 * address and value. Conservative (every word) for a span so marked or
 * when the pointer map cannot be had (then *ret_conservative is set and
 * the reason noted). Words that cannot be read are skipped with a note.
 */
static gp_error *scan_object(struct gp_heap *h, const struct gp_span *s,
			     uint64_t obj, uint64_t size,
			     gp_heap_visit_fn *visit, void *arg,
			     bool *ret_conservative, bool shared)
{
	const struct gp_program *p = h->prog;
	uint64_t bits[GP_HEAP_WINDOW / 64];
	uint64_t buf[GP_HEAP_WINDOW];
	bool conservative = !s || (s->flags & (GP_SPAN_CORRUPT | GP_SPAN_CONSERVATIVE));
	if (ret_conservative)
		*ret_conservative = conservative;
	if (s && (s->flags & GP_SPAN_NOSCAN) && !conservative)
		return NULL;
	uint64_t nwords = size / 8;
	for (uint64_t w0 = 0; w0 < nwords; w0 += GP_HEAP_WINDOW) {
		uint32_t n = nwords - w0 < GP_HEAP_WINDOW ? (uint32_t)(nwords - w0) : GP_HEAP_WINDOW;
		bool done = false;
		if (!conservative) {
			gp_error *err = object_bits(h, s, obj, w0, n, bits, &done, shared);
			if (err && shared) {
				if (err != &gp_heap_shared_again)
					gp_error_destroy(err);
				return &gp_heap_shared_again;
			}
			if (err) {
				if (err == &gp_error_nomem)
					return err;
				gp_heap_note(h, obj, gp_error_message(err));
				gp_error_destroy(err);
				conservative = true;
				h->nconservative++;
				if (ret_conservative)
					*ret_conservative = true;
			}
		}
		if (conservative) {
			memset(bits, 0xff, sizeof(bits));
			done = false;
		}
		bool any = false;
		for (size_t i = 0; i < (n + 63) / 64; i++)
			any |= bits[i] != 0;
		if (any) {
			uint64_t a = obj + w0 * 8;
			const uint64_t *words = (const uint64_t *)(const void *)
				gp_memory_ptr(&p->mem, a, (size_t)n * 8);
			if (!words) {
				gp_error *err = gp_memory_read(&p->mem, a, buf, (size_t)n * 8);
				if (err && shared) {
					gp_error_destroy(err);
					return &gp_heap_shared_again;
				}
				if (err) {
					gp_error_destroy(err);
					/* read what can be read, word by word */
					for (uint32_t k = 0; k < n; k++)
						if (gp_failed(gp_memory_read_u64(&p->mem, a + 8ull * k, &buf[k])))
							buf[k] = 0;
					h->nunreadable++;
				}
				words = buf;
			}
			/* the pointer words in order, by their set bits */
			for (uint32_t j = 0; j < (n + 63) / 64; j++) {
				for (uint64_t b = bits[j]; b; b &= b - 1) {
					uint32_t k = 64 * j + (uint32_t)__builtin_ctzll(b);
					if (k >= n)
						break;
					uint64_t v;
					memcpy(&v, &words[k], 8);
					if (v)
						visit(arg, a + 8ull * k, v);
				}
			}
		}
		if (done)
			break;
	}
	return NULL;
}

gp_error *gp_heap_scan_object(struct gp_heap *h, const struct gp_span *s,
			      uint64_t obj, uint64_t size,
			      gp_heap_visit_fn *visit, void *arg,
			      bool *ret_conservative)
{
	return scan_object(h, s, obj, size, visit, arg, ret_conservative, false);
}

gp_error *gp_heap_scan_object_shared(const struct gp_heap *h, const struct gp_span *s,
				     uint64_t obj, uint64_t size,
				     gp_heap_visit_fn *visit, void *arg)
{
	/* scan_object changes h only where shared stops it first */
	return scan_object((struct gp_heap *)h, s, obj, size, visit, arg, NULL, true);
}

/* The pointer bits of a whole object as a freshly allocated bitmap of
 * size / 8 bits (for tests and the paths' field names). */
gp_error *gp_heap_object_mask(struct gp_heap *h, const struct gp_span *s,
			      uint64_t obj, uint8_t **ret, bool *ret_conservative)
{
	uint64_t nwords = s->elemsize / 8;
	uint8_t *out = calloc((size_t)(nwords + 7) / 8 + 1, 1);
	uint64_t bits[GP_HEAP_WINDOW / 64];
	if (!out)
		return &gp_error_nomem;
	*ret_conservative = (s->flags & (GP_SPAN_CORRUPT | GP_SPAN_CONSERVATIVE)) != 0;
	if (*ret_conservative || (s->flags & GP_SPAN_NOSCAN)) {
		if (*ret_conservative)
			memset(out, 0xff, (size_t)(nwords + 7) / 8);
		*ret = out;
		return NULL;
	}
	for (uint64_t w0 = 0; w0 < nwords; w0 += GP_HEAP_WINDOW) {
		uint32_t n = nwords - w0 < GP_HEAP_WINDOW ? (uint32_t)(nwords - w0) : GP_HEAP_WINDOW;
		bool done;
		gp_error *err = object_bits(h, s, obj, w0, n, bits, &done, false);
		if (err) {
			free(out);
			return err;
		}
		for (uint32_t k = 0; k < n; k++)
			if (bits[k / 64] >> (k % 64) & 1)
				set_bit(out, w0 + k);
		if (done)
			break;
	}
	*ret = out;
	return NULL;
}
