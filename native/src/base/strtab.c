/* String interning: every name in a snapshot is stored once, id 0 is "". */
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
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static gp_error *strtab_grow(struct gp_strtab *t)
{
	size_t nb = t->nbuckets ? t->nbuckets * 2 : 1024;
	uint32_t *buckets = calloc(nb, sizeof(*buckets));
	if (!buckets)
		return &gp_error_nomem;
	for (size_t i = 0; i < t->len; i++) {
		const char *s = t->strs[i];
		size_t h = gp_hash_bytes(s, strlen(s), 0) & (nb - 1);
		while (buckets[h])
			h = (h + 1) & (nb - 1);
		buckets[h] = (uint32_t)i + 1;
	}
	free(t->buckets);
	t->buckets = buckets;
	t->nbuckets = nb;
	return NULL;
}

gp_error *gp_strtab_intern_n(struct gp_strtab *t, const char *s, size_t n,
			     uint32_t *ret)
{
	gp_error *err;
	if (!t->len) {
		/* id 0 is the empty string */
		t->cap = 256;
		t->strs = malloc(t->cap * sizeof(*t->strs));
		if (!t->strs)
			return &gp_error_nomem;
		t->strs[0] = strdup("");
		if (!t->strs[0])
			return &gp_error_nomem;
		t->len = 1;
		if ((err = strtab_grow(t)))
			return err;
	}
	if (!n) {
		*ret = 0;
		return NULL;
	}
	size_t mask = t->nbuckets - 1;
	size_t h = gp_hash_bytes(s, n, 0) & mask;
	while (t->buckets[h]) {
		const char *c = t->strs[t->buckets[h] - 1];
		if (strncmp(c, s, n) == 0 && c[n] == '\0') {
			*ret = t->buckets[h] - 1;
			return NULL;
		}
		h = (h + 1) & mask;
	}
	if (t->len >= UINT32_MAX - 1)
		return gp_error_create(GP_ERROR_LIMIT, "too many strings");
	if (t->len == t->cap) {
		char **strs = realloc(t->strs, 2 * t->cap * sizeof(*strs));
		if (!strs)
			return &gp_error_nomem;
		t->strs = strs;
		t->cap *= 2;
	}
	char *copy = strndup(s, n);
	if (!copy)
		return &gp_error_nomem;
	uint32_t id = (uint32_t)t->len;
	t->strs[t->len++] = copy;
	t->buckets[h] = id + 1;
	if (t->len * 2 > t->nbuckets && (err = strtab_grow(t)))
		return err;
	*ret = id;
	return NULL;
}

gp_error *gp_strtab_intern(struct gp_strtab *t, const char *s, uint32_t *ret)
{
	return gp_strtab_intern_n(t, s, strlen(s), ret);
}
