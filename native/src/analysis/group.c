/*
 * Grouping goroutines by a key. Each goroutine yields zero or more keys
 * (a goroutine in select waits on several channels); groups are ordered
 * biggest first, then oldest wait first, then by key, so that output is
 * stable. Everything per goroutine stays here in C: Python sees groups.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

struct gp_grouping {
	struct gp_group *groups;
	size_t ngroups;
	uint32_t *members;
	size_t nmembers;
	uint8_t *one_creator;   /* per group: its members share one gopc */
};

struct gkey {
	uint64_t a, b;   /* kind-specific */
};

struct pair {
	uint32_t group;
	uint32_t g;
};

struct grouper {
	struct gkey *keys;       /* per group */
	struct gp_index index;   /* of keys */
	size_t ngroups, keys_cap;
	struct pair *pairs;
	size_t npairs, pairs_cap;
};

static uint64_t gkey_hash(const void *arg, uint32_t group)
{
	const struct grouper *gr = arg;
	return gp_hash_bytes(&gr->keys[group], sizeof(struct gkey), 0);
}

static bool gkey_eq(const void *arg, uint32_t group, const void *key)
{
	const struct grouper *gr = arg;
	const struct gkey *k = &gr->keys[group], *x = key;
	return k->a == x->a && k->b == x->b;
}

static gp_error *grouper_add(struct grouper *gr, struct gkey key, uint32_t g)
{
	gp_error *err = gp_index_reserve(&gr->index, gr->ngroups + 1,
					 gkey_hash, gr);
	if (err)
		return err;
	size_t h;
	uint32_t group = gp_index_find(&gr->index,
				       gp_hash_bytes(&key, sizeof(key), 0),
				       &key, gkey_eq, gr, &h);
	if (group == GP_NONE) {
		if ((err = gp_grow((void **)&gr->keys, &gr->keys_cap,
				   gr->ngroups + 1, sizeof(*gr->keys))))
			return err;
		group = (uint32_t)gr->ngroups++;
		gr->keys[group] = key;
		gp_index_set(&gr->index, h, group);
	}
	if ((err = gp_grow((void **)&gr->pairs, &gr->pairs_cap,
			   gr->npairs + 1, sizeof(*gr->pairs))))
		return err;
	gr->pairs[gr->npairs++] = (struct pair){ group, g };
	return NULL;
}

/* ------------------------------------------------------------ the site */

/*
 * The standard library is recognised by file path: the GOROOT prefix is
 * taken from where the runtime's own files live ("/usr/local/go/src/").
 * With -trimpath, std packages are those whose first path element has no
 * dot (and "main" is the user's).
 */
struct site_ctx {
	const struct gp_snapshot *snap;
	char goroot[512];
	size_t goroot_len;
	int8_t *is_std_func;   /* per string id: -1 unknown, 0, 1 */
	uint32_t *site_of_stack; /* per stack id: frame index + 1 */
};

static void find_goroot(struct site_ctx *c)
{
	const struct gp_snapshot *snap = c->snap;
	for (size_t i = 0; i < snap->nframes; i++) {
		const char *fn = gp_snapshot_string(snap, snap->frames[i].func);
		const char *file = gp_snapshot_string(snap, snap->frames[i].file);
		if (strncmp(fn, "runtime.", 8))
			continue;
		const char *p = strstr(file, "/src/runtime/");
		if (p && (size_t)(p - file) + 5 < sizeof(c->goroot)) {
			c->goroot_len = (size_t)(p - file) + 5;
			memcpy(c->goroot, file, c->goroot_len);
			c->goroot[c->goroot_len] = '\0';
			return;
		}
	}
}

static bool pkg_is_std(const char *func)
{
	/* package path: up to the first '.' after the last '/' */
	const char *slash = NULL;
	for (const char *p = func; *p && *p != '(' && *p != '['; p++)
		if (*p == '/')
			slash = p;
	const char *first_end = strchr(func, '/');
	const char *dot = strchr(slash ? slash : func, '.');
	if (!dot)
		return false;
	if (!slash && !strncmp(func, "main.", 5))
		return false;
	/* first path element */
	const char *end = first_end && first_end < dot ? first_end : dot;
	return !memchr(func, '.', (size_t)(end - func));
}

static bool frame_is_std(struct site_ctx *c, const struct gp_frame *f)
{
	const struct gp_snapshot *snap = c->snap;
	if (c->is_std_func[f->func] >= 0)
		return c->is_std_func[f->func];
	const char *fn = gp_snapshot_string(snap, f->func);
	const char *file = gp_snapshot_string(snap, f->file);
	bool std;
	if (c->goroot_len && file[0] == '/')
		std = !strncmp(file, c->goroot, c->goroot_len);
	else
		std = pkg_is_std(fn);
	c->is_std_func[f->func] = std;
	return std;
}

static bool frame_is_machinery(const struct gp_snapshot *snap,
			       const struct gp_frame *f)
{
	return gp_func_is_machinery(gp_snapshot_string(snap, f->func));
}

static bool frame_is_parking(const struct gp_snapshot *snap,
			     const struct gp_frame *f)
{
	static const char *const park[] = {
		"runtime.gopark", "runtime.goparkunlock", "runtime.park_m",
		"runtime.mcall", "runtime.systemstack", "runtime.notetsleepg",
		"runtime.notesleep", "runtime.futexsleep", "runtime.futex",
		"runtime.semasleep", "runtime.goexit",
	};
	const char *fn = gp_snapshot_string(snap, f->func);
	for (size_t i = 0; i < GP_ARRAY_SIZE(park); i++)
		if (!strcmp(fn, park[i]))
			return true;
	return false;
}

/* The frame that names where a goroutine waits: the user's own line. */
static uint32_t site_frame(struct site_ctx *c, uint32_t stack_id)
{
	if (c->site_of_stack[stack_id])
		return c->site_of_stack[stack_id] - 1;
	uint32_t n;
	const struct gp_frame *f = gp_snapshot_stack(c->snap, stack_id, &n);
	uint32_t site = GP_NONE;
	for (uint32_t i = 0; i < n && site == GP_NONE; i++)
		if (!frame_is_std(c, &f[i]))
			site = i;
	for (uint32_t i = 0; i < n && site == GP_NONE; i++)
		if (!frame_is_machinery(c->snap, &f[i]))
			site = i;
	/* All runtime (a system goroutine): the frame that parked, the one
	 * below the parking primitives. */
	for (uint32_t i = 0; i < n && site == GP_NONE; i++)
		if (!frame_is_parking(c->snap, &f[i]))
			site = i;
	if (site == GP_NONE)
		site = 0;
	c->site_of_stack[stack_id] = site + 1;
	return site;
}

/* ---------------------------------------------------------- the filter */

struct filter_ctx {
	const struct gp_filter *f;
	bool have_regex;
	regex_t re;
	int8_t *stack_match;  /* per stack id: -1 unknown */
	int64_t now;
};

static bool stack_matches(const struct gp_snapshot *snap,
			  struct filter_ctx *fc, uint32_t stack_id)
{
	if (stack_id >= snap->nstacks)
		return false;
	if (fc->stack_match[stack_id] >= 0)
		return fc->stack_match[stack_id];
	uint32_t n;
	const struct gp_frame *f = gp_snapshot_stack(snap, stack_id, &n);
	bool m = false;
	for (uint32_t i = 0; i < n && !m; i++)
		m = regexec(&fc->re, gp_snapshot_string(snap, f[i].func), 0,
			    NULL, 0) == 0;
	fc->stack_match[stack_id] = m;
	return m;
}

/* String id holds exactly the len bytes at s (a label may hold NULs; one
 * cut at the read limit holds none). */
static bool str_is(const gp_snapshot *snap, uint32_t id, const char *s,
		   uint64_t len)
{
	size_t n;
	uint64_t full;
	const char *b = gp_snapshot_string_len(snap, id, &n, &full);
	return full == n && n == len && (!n || !memcmp(b, s, n));
}

static bool passes(const struct gp_snapshot *snap, struct filter_ctx *fc,
		   const struct gp_goroutine *g)
{
	const struct gp_filter *f = fc->f;
	if (!f)
		return !(g->flags & GP_G_SYSTEM);
	if (!f->include_system && (g->flags & GP_G_SYSTEM))
		return false;
	if (f->state_mask && !(f->state_mask & (1u << (g->status & 31))))
		return false;
	if (f->min_age_ns > 0) {
		if (!g->waitsince || !fc->now ||
		    gp_age_ns(fc->now, g->waitsince) < f->min_age_ns)
			return false;
	}
	if (fc->have_regex && !stack_matches(snap, fc, g->stack_id))
		return false;
	if (f->label_key) {
		uint32_t n;
		const uint32_t *l = gp_snapshot_labels(snap, g->labels, &n);
		bool found = false;
		for (uint32_t i = 0; i < n && !found; i++)
			found = str_is(snap, l[2 * i], f->label_key,
				       f->label_key_len) &&
				(!f->label_value ||
				 str_is(snap, l[2 * i + 1], f->label_value,
					f->label_value_len));
		if (!found)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ ordering */

static const struct gp_snapshot *sort_snap;

static int group_cmp(const void *a, const void *b)
{
	const struct gp_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	/* older first; unknown ages last */
	int64_t xa = x->oldest_waitsince ? x->oldest_waitsince : INT64_MAX;
	int64_t ya = y->oldest_waitsince ? y->oldest_waitsince : INT64_MAX;
	if (xa != ya)
		return xa < ya ? -1 : 1;
	int c = strcmp(gp_snapshot_string(sort_snap, x->waitreason_str),
		       gp_snapshot_string(sort_snap, y->waitreason_str));
	if (c)
		return c;
	c = strcmp(gp_snapshot_string(sort_snap, x->key_str),
		   gp_snapshot_string(sort_snap, y->key_str));
	if (c)
		return c;
	if (x->key_address != y->key_address)
		return x->key_address < y->key_address ? -1 : 1;
	return x->members_first < y->members_first ? -1 : 1;
}

/* "k=v k2=v2" naming a label set, or "(no labels)": the bytes of every
 * key and value as read (a front end shows a label group by its members'
 * labels; this string orders the groups). */
static gp_error *label_key_str(gp_snapshot *snap, uint32_t labels,
			       uint32_t *ret)
{
	uint32_t n;
	const uint32_t *kv = gp_snapshot_labels(snap, labels, &n);
	if (!n)
		return gp_strtab_intern(&snap->strs, "(no labels)", ret);
	size_t len = 1, k;
	for (uint32_t i = 0; i < 2 * n; i++) {
		gp_snapshot_string_len(snap, kv[i], &k, NULL);
		len += k + 1;
	}
	if (len >= GP_STR_TRUNCATED)
		len = GP_STR_TRUNCATED - 1;
	char *s = malloc(len);
	if (!s)
		return &gp_error_nomem;
	size_t p = 0;
	for (uint32_t i = 0; i < 2 * n; i++) {
		const char *b = gp_snapshot_string_len(snap, kv[i], &k, NULL);
		if (i && p < len)
			s[p++] = i & 1 ? '=' : ' ';
		if (k > len - p)
			k = len - p;
		memcpy(s + p, b, k);
		p += k;
	}
	gp_error *err = gp_strtab_intern_n(&snap->strs, s, p, ret);
	free(s);
	return err;
}

/* ------------------------------------------------------------ age */

static const struct gp_age_bucket age_buckets[GP_NUM_AGE_BUCKETS] = {
	{ 60 * INT64_C(1000000000), "< 1m" },
	{ 600 * INT64_C(1000000000), "1m-10m" },
	{ 3600 * INT64_C(1000000000), "10m-1h" },
	{ 86400 * INT64_C(1000000000), "1h-1d" },
	{ INT64_MAX, "> 1d" },
};

GP_EXPORT const struct gp_age_bucket *gp_age_buckets(size_t *ret_count)
{
	if (ret_count)
		*ret_count = GP_NUM_AGE_BUCKETS;
	return age_buckets;
}

size_t gp_age_bucket(int64_t age_ns)
{
	size_t b = 0;
	while (b + 1 < GP_NUM_AGE_BUCKETS && age_ns >= age_buckets[b].below_ns)
		b++;
	return b;
}

/* ------------------------------------------------------------ the modes */

/* What one grouping needs while it buckets. */
struct group_ctx {
	gp_snapshot *snap;
	struct grouper gr;
	struct site_ctx sc;
	uint32_t age_str[GP_NUM_AGE_BUCKETS + 1]; /* names, then unknown */
};

/*
 * A mode of grouping is two functions: the keys of one goroutine (none,
 * one, or one per object a select waits on), and the name of a group from
 * its key. gp_snapshot_group buckets by whichever mode it is asked for.
 */
typedef gp_error *keys_fn(struct group_ctx *c, const struct gp_goroutine *g,
			  uint32_t gi);
typedef gp_error *name_fn(struct group_ctx *c, const struct gkey *k,
			  struct gp_group *grp);

static gp_error *one_key(struct group_ctx *c, uint64_t a, uint64_t b,
			 uint32_t gi)
{
	return grouper_add(&c->gr, (struct gkey){ a, b }, gi);
}

/* The user's line it waits at (func, line, file) and the wait reason. */
static gp_error *site_keys(struct group_ctx *c, const struct gp_goroutine *g,
			   uint32_t gi)
{
	uint64_t site = 0, file = 0;
	if (g->stack_id != GP_NONE) {
		uint32_t n, idx = site_frame(&c->sc, g->stack_id);
		const struct gp_frame *f = gp_snapshot_stack(c->snap, g->stack_id,
							     &n);
		if (idx < n) {
			site = ((uint64_t)f[idx].func << 32) | f[idx].line;
			file = f[idx].file;
		}
	}
	return one_key(c, site, file | (uint64_t)g->waitreason_str << 32, gi);
}

static gp_error *stack_keys(struct group_ctx *c, const struct gp_goroutine *g,
			    uint32_t gi)
{
	return one_key(c, g->stack_id, 0, gi);
}

static gp_error *creator_keys(struct group_ctx *c,
			      const struct gp_goroutine *g, uint32_t gi)
{
	/* The runtime names no creator for the main goroutine (goid 1: its
	 * go statement is the runtime's start-up, printcreatedby skips it),
	 * so it is grouped with the goroutines of no known creator. */
	if (g->goid == 1)
		return one_key(c, GP_NONE, 0, gi);
	return one_key(c, g->creator_stack, 0, gi);
}

/* Every channel it waits on (a select waits on several). */
static gp_error *chan_keys(struct group_ctx *c, const struct gp_goroutine *g,
			   uint32_t gi)
{
	gp_error *err = NULL;
	for (uint32_t w = 0; w < g->waiting_count && !err; w++) {
		const struct gp_wait *wt = &c->snap->waits[g->waiting_first + w];
		if (wt->kind != GP_WAIT_SEMA && wt->kind != GP_WAIT_COND)
			err = one_key(c, wt->object, 0, gi);
	}
	return err;
}

/* By sync object (&mu, &rw, &wg, &cond), from sync.c. */
static gp_error *mutex_keys(struct group_ctx *c, const struct gp_goroutine *g,
			    uint32_t gi)
{
	gp_error *err = NULL;
	for (uint32_t w = 0; w < g->waiting_count && !err; w++) {
		uint64_t obj = gp_wait_sync_object(c->snap, g->waiting_first + w);
		if (obj)
			err = one_key(c, obj, 0, gi);
	}
	return err;
}

static gp_error *label_keys(struct group_ctx *c, const struct gp_goroutine *g,
			    uint32_t gi)
{
	return one_key(c, g->labels, 0, gi);
}

static gp_error *age_keys(struct group_ctx *c, const struct gp_goroutine *g,
			  uint32_t gi)
{
	size_t b = GP_NUM_AGE_BUCKETS;
	if (g->waitsince && c->snap->clock.now)
		b = gp_age_bucket(gp_age_ns(c->snap->clock.now, g->waitsince));
	return one_key(c, b, 0, gi);
}

static gp_error *site_name(struct group_ctx *c, const struct gkey *k,
			   struct gp_group *grp)
{
	(void)c;
	grp->key_str = (uint32_t)(k->a >> 32);
	return NULL;
}

static gp_error *address_name(struct group_ctx *c, const struct gkey *k,
			      struct gp_group *grp)
{
	(void)c;
	grp->key_address = k->a;
	return NULL;
}

static gp_error *age_name(struct group_ctx *c, const struct gkey *k,
			  struct gp_group *grp)
{
	grp->key_str = c->age_str[k->a];
	return NULL;
}

static gp_error *label_name(struct group_ctx *c, const struct gkey *k,
			    struct gp_group *grp)
{
	return label_key_str(c->snap, (uint32_t)k->a, &grp->key_str);
}

/* A creator group is named by the function that made its goroutines. */
static gp_error *creator_name(struct group_ctx *c, const struct gkey *k,
			      struct gp_group *grp)
{
	if (k->a != GP_NONE) {
		uint32_t n;
		const struct gp_frame *f = gp_snapshot_stack(c->snap,
							     (uint32_t)k->a, &n);
		if (n)
			grp->key_str = f[0].func;
	}
	return NULL;
}

static const struct {
	keys_fn *keys;
	name_fn *name;            /* NULL: named by its members */
} modes[] = {
	[GP_BY_SITE] = { site_keys, site_name },
	[GP_BY_STACK] = { stack_keys, NULL },
	[GP_BY_CHAN] = { chan_keys, address_name },
	[GP_BY_MUTEX] = { mutex_keys, address_name },
	[GP_BY_CREATOR] = { creator_keys, creator_name },
	[GP_BY_LABEL] = { label_keys, label_name },
	[GP_BY_AGE] = { age_keys, age_name },
};

GP_EXPORT gp_error *gp_snapshot_group(gp_snapshot *snap, int by,
				      const struct gp_filter *filter,
				      gp_grouping **ret)
{
	gp_error *err = NULL;
	struct group_ctx c = { .snap = snap, .sc = { .snap = snap } };
	struct filter_ctx fc = { .f = filter, .now = snap->clock.now };
	struct gp_grouping *out = NULL;

	if (by < 0 || (size_t)by >= GP_ARRAY_SIZE(modes) || !modes[by].keys)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "unknown grouping %d", by);
	c.sc.is_std_func = malloc(snap->strs.len ? snap->strs.len : 1);
	c.sc.site_of_stack = calloc(snap->nstacks + 1, sizeof(uint32_t));
	fc.stack_match = malloc(snap->nstacks + 1);
	if (!c.sc.is_std_func || !c.sc.site_of_stack || !fc.stack_match) {
		err = &gp_error_nomem;
		goto out;
	}
	memset(c.sc.is_std_func, -1, snap->strs.len ? snap->strs.len : 1);
	memset(fc.stack_match, -1, snap->nstacks + 1);
	find_goroot(&c.sc);
	if (filter && filter->func_regex && *filter->func_regex) {
		int rc = regcomp(&fc.re, filter->func_regex,
				 REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[128];
			regerror(rc, &fc.re, msg, sizeof(msg));
			err = gp_error_create(GP_ERROR_INVALID_ARGUMENT,
					      "bad --func regular expression '%s': %s",
					      filter->func_regex, msg);
			goto out;
		}
		fc.have_regex = true;
	}
	if (by == GP_BY_AGE) {
		size_t nb;
		const struct gp_age_bucket *ab = gp_age_buckets(&nb);
		for (size_t i = 0; i < nb; i++)
			if ((err = gp_strtab_intern(&snap->strs, ab[i].name,
						    &c.age_str[i])))
				goto out;
		if ((err = gp_strtab_intern(&snap->strs, GP_AGE_UNKNOWN,
					    &c.age_str[nb])))
			goto out;
	}

	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		if (passes(snap, &fc, g) &&
		    (err = modes[by].keys(&c, g, (uint32_t)i)))
			goto out;
	}
	uint32_t several;
	if ((err = gp_strtab_intern(&snap->strs, "(several)", &several)))
		goto out;
	out = calloc(1, sizeof(*out));
	if (!out) {
		err = &gp_error_nomem;
		goto out;
	}
	out->ngroups = c.gr.ngroups;
	out->nmembers = c.gr.npairs;
	out->groups = calloc(c.gr.ngroups ? c.gr.ngroups : 1, sizeof(*out->groups));
	out->members = malloc((c.gr.npairs ? c.gr.npairs : 1) * sizeof(uint32_t));
	if (!out->groups || !out->members) {
		err = &gp_error_nomem;
		goto out;
	}
	/* counts, then members in goid order (pairs come in goid order) */
	for (size_t i = 0; i < c.gr.npairs; i++)
		out->groups[c.gr.pairs[i].group].count++;
	uint32_t pos = 0;
	for (size_t i = 0; i < c.gr.ngroups; i++) {
		out->groups[i].members_first = pos;
		pos += out->groups[i].count;
		out->groups[i].count = 0;
		out->groups[i].stack_id = GP_NONE;
		out->groups[i].site_frame = GP_NONE;
	}
	for (size_t i = 0; i < c.gr.npairs; i++) {
		struct gp_group *grp = &out->groups[c.gr.pairs[i].group];
		const struct gp_goroutine *g = &snap->gs[c.gr.pairs[i].g];
		out->members[grp->members_first + grp->count++] = c.gr.pairs[i].g;
		grp->states |= 1u << (g->status & 31);
		if (grp->stack_id == GP_NONE && g->stack_id != GP_NONE) {
			grp->stack_id = g->stack_id;
			grp->site_frame = site_frame(&c.sc, g->stack_id);
		}
		if (!grp->waitreason_str)
			grp->waitreason_str = g->waitreason_str;
		else if (grp->waitreason_str != g->waitreason_str)
			grp->waitreason_str = several; /* e.g. --by age, --by label */
		if (g->waitsince) {
			grp->age_known++;
			if (!grp->oldest_waitsince ||
			    g->waitsince < grp->oldest_waitsince)
				grp->oldest_waitsince = g->waitsince;
			if (g->waitsince > grp->youngest_waitsince)
				grp->youngest_waitsince = g->waitsince;
		}
	}
	for (size_t i = 0; i < c.gr.ngroups && modes[by].name; i++)
		if ((err = modes[by].name(&c, &c.gr.keys[i], &out->groups[i])))
			goto out;
	sort_snap = snap;
	gp_qsort(out->groups, out->ngroups, sizeof(*out->groups), group_cmp);
	/* after the sort: by the groups' final order (members stay put) */
	out->one_creator = calloc(out->ngroups ? out->ngroups : 1, 1);
	if (!out->one_creator) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t k = 0; k < out->ngroups; k++) {
		const struct gp_group *grp = &out->groups[k];
		const uint32_t *m = out->members + grp->members_first;
		uint8_t one = grp->count > 0;
		for (uint32_t i = 1; i < grp->count && one; i++)
			one = snap->gs[m[i]].gopc == snap->gs[m[0]].gopc;
		out->one_creator[k] = one;
	}
	*ret = out;
	out = NULL;
out:
	if (fc.have_regex)
		regfree(&fc.re);
	free(c.sc.is_std_func);
	free(c.sc.site_of_stack);
	free(fc.stack_match);
	free(c.gr.keys);
	gp_index_deinit(&c.gr.index);
	free(c.gr.pairs);
	if (out)
		gp_grouping_destroy(out);
	return err;
}

GP_EXPORT void gp_grouping_destroy(gp_grouping *g)
{
	if (!g)
		return;
	free(g->groups);
	free(g->members);
	free(g->one_creator);
	free(g);
}

GP_EXPORT const struct gp_group *gp_grouping_groups(const gp_grouping *g,
						    size_t *ret_count)
{
	*ret_count = g->ngroups;
	return g->groups;
}

GP_EXPORT const uint32_t *gp_grouping_members(const gp_grouping *g,
					      size_t *ret_count)
{
	*ret_count = g->nmembers;
	return g->members;
}

GP_EXPORT gp_error *gp_grouping_verdicts(const gp_grouping *g,
					 const struct gp_verdicts *v,
					 struct gp_group_verdicts *ret,
					 size_t cap)
{
	if (!g || !v || (g->ngroups && !ret))
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "no grouping, verdicts or result");
	if (cap < g->ngroups)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "room for %zu groups, %zu needed", cap,
				       g->ngroups);
	for (size_t k = 0; k < g->ngroups; k++) {
		const struct gp_group *gr = &g->groups[k];
		struct gp_group_verdicts *r = &ret[k];
		memset(r, 0, sizeof(*r));
		if (gr->members_first > g->nmembers ||
		    gr->count > g->nmembers - gr->members_first)
			return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
					       "group %zu's members out of range",
					       k);
		const uint32_t *m = g->members + gr->members_first;
		r->uniform = gr->count > 0;
		for (uint32_t i = 0; i < gr->count; i++) {
			if (m[i] >= v->ngoroutines || !v->goroutines)
				return gp_error_create(
					GP_ERROR_INVALID_ARGUMENT,
					"goroutine %u has no verdict", m[i]);
			const struct gp_verdict_rec *x = &v->goroutines[m[i]];
			uint32_t vd = x->verdict < GP_NUM_VERDICTS
				? x->verdict : GP_VERDICT_UNKNOWN;
			r->counts[vd]++;
			if (!i) {
				r->verdict = x->verdict;
				r->reason = x->reason;
			} else if (r->uniform && (x->verdict != r->verdict ||
						  x->reason != r->reason)) {
				r->uniform = 0;
			}
		}
		if (!r->uniform)
			r->verdict = r->reason = 0;
		r->one_creator = g->one_creator && g->one_creator[k];
	}
	return NULL;
}
