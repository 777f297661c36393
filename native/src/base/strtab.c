/* String interning: every name in a snapshot is stored once, id 0 is "".
 * Strings are counted bytes (a target's label may hold NULs); a truncated
 * string is a different string from its prefix (its real length differs). */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

void gp_strtab_init(struct gp_strtab *t)
{
	memset(t, 0, sizeof(*t));
}

void gp_strtab_deinit(struct gp_strtab *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(t->strs[i]);
	free(t->strs);
	free(t->lens);
	gp_index_deinit(&t->index);
	free(t->fulls);
	memset(t, 0, sizeof(*t));
}

static uint64_t str_full(const struct gp_strtab *t, uint32_t id)
{
	uint32_t n = t->lens[id];
	if (!(n & GP_STR_TRUNCATED))
		return n;
	size_t lo = 0, hi = t->nfulls; /* fulls is in id order */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->fulls[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nfulls && t->fulls[lo].id == id ? t->fulls[lo].len
						       : (n & ~GP_STR_TRUNCATED);
}

static uint64_t str_hash(const void *arg, uint32_t id)
{
	const struct gp_strtab *t = arg;
	return gp_hash_bytes(t->strs[id], t->lens[id] & ~GP_STR_TRUNCATED, 0);
}

/* A string sought: its bytes and its real length. */
struct str_key {
	const char *s;
	size_t n;
	uint64_t full;
};

static bool str_eq(const void *arg, uint32_t id, const void *key)
{
	const struct gp_strtab *t = arg;
	const struct str_key *k = key;
	return (t->lens[id] & ~GP_STR_TRUNCATED) == k->n &&
	       !memcmp(t->strs[id], k->s, k->n) && str_full(t, id) == k->full;
}

static gp_error *strtab_start(struct gp_strtab *t)
{
	/* id 0 is the empty string */
	t->cap = 256;
	t->strs = malloc(t->cap * sizeof(*t->strs));
	t->lens = malloc(t->cap * sizeof(*t->lens));
	if (!t->strs || !t->lens)
		return &gp_error_nomem;
	t->strs[0] = strdup("");
	if (!t->strs[0])
		return &gp_error_nomem;
	t->lens[0] = 0;
	t->len = 1;
	return gp_index_reserve(&t->index, 512, str_hash, t);
}

gp_error *gp_strtab_intern_cut(struct gp_strtab *t, const char *s, size_t n,
			       uint64_t full, uint32_t *ret)
{
	gp_error *err;
	if (!t->len && (err = strtab_start(t)))
		return err;
	if (n >= GP_STR_TRUNCATED)
		return gp_error_create(GP_ERROR_LIMIT, "string of %zu bytes", n);
	if (full < n)
		full = n;
	if (!full) {
		*ret = 0;
		return NULL;
	}
	struct str_key key = { s, n, full };
	size_t h;
	uint32_t found = gp_index_find(&t->index, gp_hash_bytes(s, n, 0), &key,
				       str_eq, t, &h);
	if (found != GP_NONE) {
		*ret = found;
		return NULL;
	}
	if (t->len >= UINT32_MAX - 1)
		return gp_error_create(GP_ERROR_LIMIT, "too many strings");
	if (full > n && t->nfulls == t->fulls_cap) {
		size_t ncap = t->fulls_cap ? 2 * t->fulls_cap : 16;
		struct gp_str_full *f = realloc(t->fulls, ncap * sizeof(*f));
		if (!f)
			return &gp_error_nomem;
		t->fulls = f;
		t->fulls_cap = ncap;
	}
	if (t->len == t->cap) {
		char **strs = realloc(t->strs, 2 * t->cap * sizeof(*strs));
		if (!strs)
			return &gp_error_nomem;
		t->strs = strs;
		uint32_t *lens = realloc(t->lens, 2 * t->cap * sizeof(*lens));
		if (!lens)
			return &gp_error_nomem;
		t->lens = lens;
		t->cap *= 2;
	}
	char *copy = malloc(n + 1);
	if (!copy)
		return &gp_error_nomem;
	memcpy(copy, s, n);
	copy[n] = '\0';
	uint32_t id = (uint32_t)t->len;
	t->strs[t->len] = copy;
	t->lens[t->len++] = (uint32_t)n | (full > n ? GP_STR_TRUNCATED : 0);
	if (full > n)
		t->fulls[t->nfulls++] = (struct gp_str_full){ id, full };
	gp_index_set(&t->index, h, id);
	if ((err = gp_index_reserve(&t->index, t->len, str_hash, t)))
		return err;
	*ret = id;
	return NULL;
}

gp_error *gp_strtab_intern_n(struct gp_strtab *t, const char *s, size_t n,
			     uint32_t *ret)
{
	return gp_strtab_intern_cut(t, s, n, n, ret);
}

gp_error *gp_strtab_intern(struct gp_strtab *t, const char *s, uint32_t *ret)
{
	return gp_strtab_intern_n(t, s, strlen(s), ret);
}

const char *gp_strtab_get(const struct gp_strtab *t, uint32_t id,
			  size_t *ret_len, uint64_t *ret_full)
{
	if (id >= t->len) {
		if (ret_len)
			*ret_len = 0;
		if (ret_full)
			*ret_full = 0;
		return "";
	}
	if (ret_len)
		*ret_len = t->lens[id] & ~GP_STR_TRUNCATED;
	if (ret_full)
		*ret_full = str_full(t, id);
	return t->strs[id];
}
