/*
 * The goroutines of a snapshot as JSON, written in chunks: the body of the
 * "goroutines" array of goparked's goparked/snapshot document (one object
 * a line, joined by ",\n"; goparked/jsonstream.py writes the rest).
 *
 * In analysis/ as the top layer, but a front end above the engine: it uses
 * only the public API (goparked.h) and base's errors, and every name it writes (states, flags, wait kinds, signatures) comes
 * from the caller, so that the words stay defined once, in Python. Output
 * is ASCII: strings from the target keep every byte (NULs too), escaped as
 * JSON requires, everything past ASCII as \uXXXX. A string that is not
 * valid UTF-8 is written with U+FFFD for each maximal invalid subpart (as
 * Python's "replace" decoder does) and its exact bytes follow in a twin
 * field, NAME_b64 (base64); for a dict of strings (labels), NAME_b64 lists
 * every [key, value] pair in base64. The rule of README.rst's JSON
 * section, applied to Python's documents by goparked/schema.py, exact().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

#define JW_CHUNK (1u << 16)

struct jw {
	char *buf;
	size_t len;
	gp_json_write_fn *write;
	void *arg;
	int failed;
};

static void jw_flush(struct jw *w)
{
	if (w->len && !w->failed && w->write(w->arg, w->buf, w->len))
		w->failed = 1;
	w->len = 0;
}

/* Room for n more bytes (n <= JW_CHUNK / 2). */
static char *jw_room(struct jw *w, size_t n)
{
	if (w->len + n > JW_CHUNK)
		jw_flush(w);
	return w->buf + w->len;
}

static void jw_raw(struct jw *w, const char *s, size_t n)
{
	while (n) {
		size_t k = n < JW_CHUNK / 2 ? n : JW_CHUNK / 2;
		memcpy(jw_room(w, k), s, k);
		w->len += k;
		s += k;
		n -= k;
	}
}

static void jw_str(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* Numbers by hand: snprintf was most of the writer's time. */
static void jw_fmt_u64(struct jw *w, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jw_raw(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void jw_fmt_i64(struct jw *w, int64_t v)
{
	if (v < 0) {
		jw_raw(w, "-", 1);
		jw_fmt_u64(w, (uint64_t)0 - (uint64_t)v);
	} else {
		jw_fmt_u64(w, (uint64_t)v);
	}
}

static void jw_hex(struct jw *w, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24], *p = tmp + sizeof(tmp);
	if (!v) {
		jw_raw(w, "null", 4);
		return;
	}
	*--p = '"';
	do {
		*--p = digits[v & 15];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	*--p = '"';
	jw_raw(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void jw_u16(struct jw *w, unsigned c)
{
	char *p = jw_room(w, 8);
	w->len += (size_t)snprintf(p, 8, "\\u%04x", c & 0xffff);
}

/* The code point of the UTF-8 sequence at s (n bytes left), its length in
 * *len; -1 with *len the maximal invalid subpart (at least 1). */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	unsigned c = s[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xbf;
	long cp;
	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*len = 1;
		return -1;
	}
	size_t i = 1;
	for (; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*len = i;
			return -1;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*len = i;
	return cp;
}

/* The n bytes at s as a JSON string. */
static void jw_json_bytes(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	jw_raw(w, "\"", 1);
	while (n) {
		/* the common case: a run of printable ASCII, copied at once */
		size_t run = 0;
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f &&
		       p[run] != '"' && p[run] != '\\')
			run++;
		if (run) {
			jw_raw(w, (const char *)p, run);
			p += run;
			n -= run;
			continue;
		}
		size_t len;
		long cp = utf8_next(p, n, &len);
		if (cp < 0) {
			jw_u16(w, 0xfffd);
		} else if (cp == '"' || cp == '\\') {
			char e[2] = { '\\', (char)cp };
			jw_raw(w, e, 2);
		} else if (cp < 0x20 || cp >= 0x7f) {
			static const char short_esc[] = "btnvfr";
			if (cp >= 8 && cp <= 13 && cp != 11) {
				char e[2] = { '\\', short_esc[cp - 8] };
				jw_raw(w, e, 2);
			} else if (cp >= 0x10000) {
				cp -= 0x10000;
				jw_u16(w, 0xd800 | (unsigned)(cp >> 10));
				jw_u16(w, 0xdc00 | (unsigned)(cp & 0x3ff));
			} else {
				jw_u16(w, (unsigned)cp);
			}
		} else {
			char c = (char)cp;
			jw_raw(w, &c, 1);
		}
		p += len;
		n -= len;
	}
	jw_raw(w, "\"", 1);
}

static bool utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	while (n) {
		size_t len;
		if (utf8_next(p, n, &len) < 0)
			return false;
		p += len;
		n -= len;
	}
	return true;
}

/* The n bytes at s in base64, quoted. */
static void jw_b64(struct jw *w, const char *s, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	jw_raw(w, "\"", 1);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = { digits[v >> 18], digits[(v >> 12) & 63],
			      i + 1 < n ? digits[(v >> 6) & 63] : '=',
			      i + 2 < n ? digits[v & 63] : '=' };
		jw_raw(w, q, 4);
	}
	jw_raw(w, "\"", 1);
}

/* A JSON string, or null for NULL or "". */
static void jw_json_str(struct jw *w, const char *s)
{
	if (!s || !*s)
		jw_str(w, "null");
	else
		jw_json_bytes(w, s, strlen(s));
}

/* ,"name":<string id> (null for ""), and ,"name_b64":<its bytes> when
 * they are not UTF-8. */
static void jw_sid_field(struct jw *w, const char *name,
			 const gp_snapshot *snap, uint32_t id)
{
	size_t n = 0;
	const char *s = id ? gp_snapshot_string_len(snap, id, &n, NULL) : NULL;
	jw_str(w, ",\"");
	jw_str(w, name);
	jw_str(w, "\":");
	if (!n) {
		jw_str(w, "null");
		return;
	}
	jw_json_bytes(w, s, n);
	if (utf8_ok(s, n))
		return;
	jw_str(w, ",\"");
	jw_str(w, name);
	jw_str(w, "_b64\":");
	jw_b64(w, s, n);
}

struct quote_buf {
	char *out;
	size_t cap, len;
};

static int quote_write(void *arg, const char *buf, size_t len)
{
	struct quote_buf *q = arg;
	for (size_t i = 0; i < len; i++, q->len++)
		if (q->len + 1 < q->cap)
			q->out[q->len] = buf[i];
	return 0;
}

size_t gp_json_quote(const char *s, size_t n, char *out, size_t cap)
{
	struct quote_buf q = { out, cap, 0 };
	struct jw w = { .write = quote_write, .arg = &q };
	char buf[JW_CHUNK];
	w.buf = buf;
	if (s && n)
		jw_json_bytes(&w, s, n);
	else
		jw_str(&w, "null");
	jw_flush(&w);
	if (cap)
		out[q.len < cap ? q.len : cap - 1] = '\0';
	return q.len;
}

static void jw_opt_u32(struct jw *w, uint32_t v)
{
	if (v == GP_NONE)
		jw_str(w, "null");
	else
		jw_fmt_u64(w, v);
}

static void jw_name(struct jw *w, const char *const *names, size_t n,
		    uint32_t v, const char *unknown)
{
	if (v < n && names[v]) {
		jw_json_str(w, names[v]);
	} else {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "%s%u", unknown, v);
		jw_json_str(w, tmp);
	}
}

/* The goroutine's signature: nm->sig_keys is sorted (stack id << 32 |
 * wait reason string id), nm->sig_of the signature of each key. */
static uint32_t sig_index(const struct gp_json_names *nm,
			  const struct gp_goroutine *g)
{
	uint64_t key = (uint64_t)g->stack_id << 32 | g->waitreason_str;
	size_t lo = 0, hi = nm->nkeys;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (nm->sig_keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < nm->nkeys && nm->sig_keys[lo] == key)
		return nm->sig_of[lo];
	return GP_NONE;
}

/* A label's key or value as a JSON string; whether it is UTF-8. */
static bool label_str(struct jw *w, const gp_snapshot *snap, uint32_t id)
{
	size_t n;
	const char *s = gp_snapshot_string_len(snap, id, &n, NULL);
	jw_json_bytes(w, s, n);
	return utf8_ok(s, n);
}

/* ,"labels_b64":[[key, value], ...] every pair in base64, or (cut)
 * ,"labels_truncated_b64":[[key, length], ...] for the values cut. */
static void label_twins(struct jw *w, const gp_snapshot *snap,
			const uint32_t *pairs, uint32_t np, bool cut)
{
	jw_str(w, cut ? ",\"labels_truncated_b64\":[" : ",\"labels_b64\":[");
	int any = 0;
	for (uint32_t k = 0; k < np; k++) {
		size_t kn, vn;
		uint64_t full;
		const char *key = gp_snapshot_string_len(snap, pairs[2 * k],
							 &kn, NULL);
		const char *val = gp_snapshot_string_len(snap, pairs[2 * k + 1],
							 &vn, &full);
		if (cut && full == vn)
			continue;
		jw_str(w, any++ ? ",[" : "[");
		jw_b64(w, key, kn);
		jw_raw(w, ",", 1);
		if (cut)
			jw_fmt_u64(w, full);
		else
			jw_b64(w, val, vn);
		jw_raw(w, "]", 1);
	}
	jw_raw(w, "]", 1);
}

static void goroutine(struct jw *w, const gp_snapshot *snap,
		      const struct gp_json_names *nm,
		      const struct gp_goroutine *g, const struct gp_clock *clk,
		      const struct gp_thread *threads, size_t nthreads,
		      const struct gp_wait *waits, size_t nwaits,
		      const struct gp_verdict_rec *vr)
{
	jw_str(w, "{\"goid\":");
	jw_fmt_u64(w, g->goid);
	jw_str(w, ",\"state\":");
	jw_name(w, nm->status, nm->nstatus, g->status, "status");
	jw_str(w, ",\"status\":");
	jw_fmt_u64(w, g->status);
	jw_str(w, ",\"raw_status\":");
	jw_fmt_u64(w, g->raw_status);
	jw_sid_field(w, "wait_reason", snap, g->waitreason_str);
	jw_str(w, ",\"wait_reason_code\":");
	if (g->waitreason >= 0)
		jw_fmt_i64(w, g->waitreason);
	else
		jw_str(w, "null");
	jw_str(w, ",\"waitsince_ns\":");
	if (g->waitsince)
		jw_fmt_i64(w, g->waitsince);
	else
		jw_str(w, "null");
	jw_str(w, ",\"age_ns\":");
	if (nm->clock_known && g->waitsince > 0 && g->waitsince <= clk->now)
		jw_fmt_i64(w, gp_age_ns(clk->now, g->waitsince));
	else
		jw_str(w, "null");
	jw_str(w, g->flags & nm->flag_system ? ",\"system\":true"
					     : ",\"system\":false");
	jw_str(w, g->flags & nm->flag_locked ? ",\"locked_to_thread\":true"
					     : ",\"locked_to_thread\":false");
	jw_str(w, ",\"flags\":[");
	int first = 1;
	for (unsigned b = 0; b < 32; b++) {
		if (!(g->flags & (1u << b)) || !nm->flag[b])
			continue;
		if (!first)
			jw_raw(w, ",", 1);
		first = 0;
		jw_json_str(w, nm->flag[b]);
	}
	jw_str(w, "],\"parent_goid\":");
	if (g->parent_goid)
		jw_fmt_u64(w, g->parent_goid);
	else
		jw_str(w, "null");
	jw_sid_field(w, "start_func", snap, g->start_func);
	static const char *const addr_keys[] = {
		",\"address\":", ",\"gopc\":", ",\"startpc\":", ",\"pc\":",
		",\"sp\":", ",\"stack_lo\":", ",\"stack_hi\":", ",\"m\":",
	};
	const uint64_t addrs[] = { g->address, g->gopc, g->startpc, g->pc,
				   g->sp, g->stack_lo, g->stack_hi,
				   g->m_address };
	for (size_t k = 0; k < GP_ARRAY_SIZE(addrs); k++) {
		jw_str(w, addr_keys[k]);
		jw_hex(w, addrs[k]);
	}
	jw_str(w, ",\"thread_tid\":");
	if (g->thread >= 0 && (size_t)g->thread < nthreads)
		jw_fmt_u64(w, threads[g->thread].tid);
	else
		jw_str(w, "null");
	jw_str(w, ",\"wait_address\":");
	jw_hex(w, g->wait_address);
	jw_str(w, ",\"waiting_on\":[");
	if (g->waiting_first != GP_NONE && g->waiting_count) {
		for (uint32_t k = 0; k < g->waiting_count; k++) {
			size_t wi = (size_t)g->waiting_first + k;
			if (wi >= nwaits)
				break;
			const struct gp_wait *wt = &waits[wi];
			jw_str(w, k ? ",{\"kind\":" : "{\"kind\":");
			jw_name(w, nm->wait_kind, nm->nwait_kind, wt->kind, "");
			jw_str(w, ",\"object\":");
			jw_hex(w, wt->object);
			jw_str(w, ",\"sudog\":");
			jw_hex(w, wt->sudog);
			jw_str(w, wt->flags & 1 ? ",\"select\":true}"
						: ",\"select\":false}");
		}
	}
	uint32_t np = 0;
	const uint32_t *pairs = g->labels != GP_NONE
		? gp_snapshot_labels(snap, g->labels, &np) : NULL;
	if (!pairs)
		np = 0;
	bool ok = true, cut_ok = true;
	jw_str(w, "],\"labels\":{");
	for (uint32_t k = 0; k < np; k++) {
		if (k)
			jw_raw(w, ",", 1);
		/* "" stays "" here: a label's key and value are strings */
		ok &= label_str(w, snap, pairs[2 * k]);
		jw_raw(w, ":", 1);
		ok &= label_str(w, snap, pairs[2 * k + 1]);
	}
	jw_raw(w, "}", 1);
	if (!ok)
		label_twins(w, snap, pairs, np, false);
	/* the real length of each value the engine cut (over its limit) */
	jw_str(w, ",\"labels_truncated\":{");
	int any = 0;
	for (uint32_t k = 0; k < np; k++) {
		size_t n;
		uint64_t full;
		gp_snapshot_string_len(snap, pairs[2 * k + 1], &n, &full);
		if (full == n)
			continue;
		if (any++)
			jw_raw(w, ",", 1);
		cut_ok &= label_str(w, snap, pairs[2 * k]);
		jw_raw(w, ":", 1);
		jw_fmt_u64(w, full);
	}
	jw_raw(w, "}", 1);
	if (!cut_ok)
		label_twins(w, snap, pairs, np, true);
	jw_sid_field(w, "error", snap, g->error_str);
	jw_str(w, ",\"signature\":");
	uint32_t sig = sig_index(nm, g);
	if (sig < nm->nsigs)
		jw_json_str(w, nm->sigs[sig]);
	else
		jw_str(w, "null");
	jw_str(w, ",\"stack_id\":");
	jw_opt_u32(w, g->stack_id);
	jw_str(w, ",\"creator_stack_id\":");
	jw_opt_u32(w, g->creator_stack);
	if (vr) {
		jw_str(w, ",\"verdict\":");
		jw_json_str(w, vr->verdict < nm->nverdict &&
				       nm->verdict[vr->verdict]
				       ? nm->verdict[vr->verdict] : "unknown");
		jw_str(w, ",\"verdict_reason\":");
		if (vr->reason < nm->nreason && nm->reason[vr->reason])
			jw_json_str(w, nm->reason[vr->reason]);
		else
			jw_str(w, "null");
	}
	jw_raw(w, "}", 1);
}

GP_EXPORT gp_error *gp_snapshot_write_goroutines_json(
	const gp_snapshot *snap, const struct gp_json_names *names,
	gp_json_write_fn *write, void *arg)
{
	struct jw w = { .write = write, .arg = arg };
	struct gp_clock clk;
	size_t n = gp_snapshot_num_goroutines(snap), nthreads = 0, nwaits = 0;
	const struct gp_goroutine *gs = gp_snapshot_goroutines(snap);
	const struct gp_thread *threads = gp_snapshot_threads(snap, &nthreads);
	const struct gp_wait *waits = gp_snapshot_waits(snap, &nwaits);

	if (!names || !write)
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "no names or writer for the JSON");
	if (names->verdicts && (names->nverdicts != n || !names->verdict))
		return gp_error_create(GP_ERROR_INVALID_ARGUMENT,
				       "%zu verdicts or no words for %zu goroutines",
				       names->nverdicts, n);
	gp_snapshot_clock(snap, &clk);
	w.buf = malloc(JW_CHUNK);
	if (!w.buf)
		return &gp_error_nomem;
	for (size_t i = 0; i < n && !w.failed; i++) {
		if (i)
			jw_raw(&w, ",\n", 2);
		goroutine(&w, snap, names, &gs[i], &clk, threads, nthreads,
			  waits, nwaits,
			  names->verdicts ? &names->verdicts[i] : NULL);
	}
	jw_flush(&w);
	free(w.buf);
	if (w.failed)
		return gp_error_create(GP_ERROR_OS, "writing the JSON failed");
	return NULL;
}
