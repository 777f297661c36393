/*
 * The wait-for graph and its cycles.
 *
 * Nodes are goroutines and the objects they wait on; a goroutine points to
 * each object it waits on, an object to each goroutine that could wake it:
 * its best-ranked probable holders (sync objects), or the goroutines that
 * reference a channel and have the waking operation on their stack
 * (holders.c). Going through object nodes keeps the graph linear in the
 * number of waits and holders (a million waiters on one mutex are a
 * million edges, not a million times the holders).
 *
 * Cycles: strongly connected components (iterative Tarjan), then every
 * elementary cycle inside each component by a bounded depth-first search
 * from its smallest goroutine, so each cycle is reported once, starting at
 * its smallest goroutine index. The search stops at GP_MAX_CYCLES or
 * GP_MAX_CYCLE_STEPS and says so (truncated).
 *
 * "Nobody can wake this": nil channels and select {} (provable from the
 * runtime's rules), and objects no other goroutine references or none of
 * the referencing goroutines can operate on (evidence, not proof: a global
 * variable or a timer could still reach them).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

#define GP_MAX_CYCLES 10000
#define GP_MAX_CYCLE_STEPS (4u << 20)
#define GP_MAX_CYCLE_LEN 256

struct graph {
	size_t n;          /* nodes: goroutines, then chans, then syncs */
	uint32_t *off;     /* CSR offsets, n + 1 */
	uint32_t *adj;
	uint32_t *via;     /* for object -> goroutine edges: holder index */
};

/* The one rule for an edge object -> goroutine: the best-ranked holder of
 * a Mutex or RWMutex; for a channel, a WaitGroup or a Cond, only a
 * goroutine that has the waking operation (send/receive/close, Done,
 * Signal/Broadcast) on its stack. */
GP_EXPORT int gp_holder_wakes(const struct gp_holder *h, uint32_t kind)
{
	if (h->rank != 1)
		return 0;
	if (kind == GP_OBJ_CHAN || kind == GP_OBJ_WAITGROUP || kind == GP_OBJ_COND)
		return (h->evidence & GP_EV_CALLS_OP) != 0;
	return 1;
}

static gp_error *graph_build(const struct gp_snapshot *snap,
			     const struct gp_analysis *an, struct graph *gr)
{
	size_t ng = snap->ngs, nc = an->nchans;
	gr->n = ng + nc + an->nsyncs;
	gr->off = calloc(gr->n + 2, sizeof(uint32_t));
	if (!gr->off)
		return &gp_error_nomem;
	/* count, then fill (two passes over the same edges) */
	for (int pass = 0; pass < 2; pass++) {
		size_t e = 0;
		for (size_t i = 0; i < nc; i++) {
			const struct gp_chan *c = &an->chans[i];
			for (uint32_t k = 0; k < c->nwaiters; k++) {
				uint32_t g = an->chan_waiters[c->waiters_first + k].goroutine;
				if (pass)
					gr->adj[gr->off[g + 1]++] = (uint32_t)(ng + i);
				else
					gr->off[g + 2]++;
				e++;
			}
			for (uint32_t k = 0; k < c->nwakers; k++) {
				const struct gp_holder *h = &an->holders[c->wakers_first + k];
				if (!gp_holder_wakes(h, GP_OBJ_CHAN))
					continue;
				size_t node = ng + i;
				if (pass) {
					gr->via[gr->off[node + 1]] = c->wakers_first + k;
					gr->adj[gr->off[node + 1]++] = h->goroutine;
				} else {
					gr->off[node + 2]++;
				}
				e++;
			}
		}
		for (size_t i = 0; i < an->nsyncs; i++) {
			const struct gp_sync *s = &an->syncs[i];
			size_t node = ng + nc + i;
			for (uint32_t k = 0; k < s->nwaiters; k++) {
				uint32_t g = an->sync_waiters[s->waiters_first + k].goroutine;
				if (pass)
					gr->adj[gr->off[g + 1]++] = (uint32_t)node;
				else
					gr->off[g + 2]++;
				e++;
			}
			for (uint32_t k = 0; k < s->nholders; k++) {
				const struct gp_holder *h = &an->holders[s->holders_first + k];
				if (!gp_holder_wakes(h, s->kind))
					continue;
				if (pass) {
					gr->via[gr->off[node + 1]] = s->holders_first + k;
					gr->adj[gr->off[node + 1]++] = h->goroutine;
				} else {
					gr->off[node + 2]++;
				}
				e++;
			}
		}
		if (!pass) {
			for (size_t i = 0; i < gr->n; i++)
				gr->off[i + 2] += gr->off[i + 1];
			gr->adj = malloc((e + 1) * sizeof(uint32_t));
			gr->via = malloc((e + 1) * sizeof(uint32_t));
			if (!gr->adj || !gr->via)
				return &gp_error_nomem;
		}
	}
	/* off[i + 1] advanced to the end of i's edges: that is off[i + 1] */
	return NULL;
}

static void graph_deinit(struct graph *gr)
{
	free(gr->off);
	free(gr->adj);
	free(gr->via);
}

/* Iterative Tarjan: comp[v] = component id; size per component. */
static gp_error *tarjan(const struct graph *gr, uint32_t *comp,
			uint32_t *comp_size)
{
	size_t n = gr->n;
	uint32_t *index = malloc(n * sizeof(uint32_t));
	uint32_t *low = malloc(n * sizeof(uint32_t));
	uint32_t *stack = malloc(n * sizeof(uint32_t));
	uint32_t *cs_node = malloc(n * sizeof(uint32_t));
	uint32_t *cs_edge = malloc(n * sizeof(uint32_t));
	bool *on = calloc(n, sizeof(bool));
	gp_error *err = NULL;
	if (!index || !low || !stack || !cs_node || !cs_edge || !on) {
		err = &gp_error_nomem;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		index[i] = GP_NONE;
	uint32_t next = 0, ncomp = 0;
	size_t sp = 0;
	for (size_t root = 0; root < n; root++) {
		if (index[root] != GP_NONE)
			continue;
		size_t csp = 0;
		cs_node[csp] = (uint32_t)root;
		cs_edge[csp++] = gr->off[root];
		index[root] = low[root] = next++;
		stack[sp++] = (uint32_t)root;
		on[root] = true;
		while (csp) {
			uint32_t v = cs_node[csp - 1];
			if (cs_edge[csp - 1] < gr->off[v + 1]) {
				uint32_t w = gr->adj[cs_edge[csp - 1]++];
				if (index[w] == GP_NONE) {
					index[w] = low[w] = next++;
					stack[sp++] = w;
					on[w] = true;
					cs_node[csp] = w;
					cs_edge[csp++] = gr->off[w];
				} else if (on[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			if (low[v] == index[v]) {
				uint32_t w, size = 0;
				do {
					w = stack[--sp];
					on[w] = false;
					comp[w] = ncomp;
					size++;
				} while (w != v);
				comp_size[ncomp++] = size;
			}
			csp--;
			if (csp) {
				uint32_t u = cs_node[csp - 1];
				if (low[v] < low[u])
					low[u] = low[v];
			}
		}
	}
out:
	free(index);
	free(low);
	free(stack);
	free(cs_node);
	free(cs_edge);
	free(on);
	return err;
}

struct cycles_ctx {
	struct gp_snapshot *snap;
	struct gp_analysis *an;
	const struct graph *gr;
	const uint32_t *comp;
	size_t steps;
	size_t edges_cap, cycles_cap;
};

static uint32_t node_kind(const struct gp_snapshot *snap,
			  const struct gp_analysis *an, uint32_t node,
			  uint64_t *ret_obj)
{
	size_t ng = snap->ngs;
	if (node < ng + an->nchans) {
		*ret_obj = an->chans[node - ng].address;
		return GP_OBJ_CHAN;
	}
	const struct gp_sync *s = &an->syncs[node - ng - an->nchans];
	*ret_obj = s->address;
	return s->kind;
}

static gp_error *emit_cycle(struct cycles_ctx *cx, const uint32_t *path,
			    const uint32_t *via, size_t len, uint32_t closing_via)
{
	struct gp_analysis *an = cx->an;
	gp_error *err;
	if ((err = gp_grow((void **)&an->cycles, &cx->cycles_cap, an->ncycles + 1,
			   sizeof(*an->cycles))) ||
	    (err = gp_grow((void **)&an->edges, &cx->edges_cap,
			   an->nedges + len / 2, sizeof(*an->edges))))
		return err;
	struct gp_cycle *c = &an->cycles[an->ncycles++];
	memset(c, 0, sizeof(*c));
	c->edges_first = (uint32_t)an->nedges;
	/* path: g0 o0 g1 o1 ... g(k-1) o(k-1), closing back to g0 */
	for (size_t i = 0; i + 1 < len; i += 2) {
		struct gp_edge *e = &an->edges[an->nedges++];
		memset(e, 0, sizeof(*e));
		e->from = path[i];
		e->to = i + 2 < len ? path[i + 2] : path[0];
		e->kind = node_kind(cx->snap, an, path[i + 1], &e->object);
		e->holder = i + 2 < len ? via[i + 2] : closing_via;
		if (cx->snap->gs[e->from].flags & GP_G_SELECT)
			c->flags |= GP_CYCLE_SELECT;
	}
	c->nedges = (uint32_t)(an->nedges - c->edges_first);
	return NULL;
}

/* Elementary cycles through start whose goroutines all have index >= start,
 * within start's component. Iterative DFS with an explicit path. */
static gp_error *cycles_from(struct cycles_ctx *cx, uint32_t start,
			     uint32_t *path, uint32_t *via, uint32_t *edge,
			     bool *on_path)
{
	const struct graph *gr = cx->gr;
	size_t ng = cx->snap->ngs;
	size_t len = 0;
	path[len] = start;
	via[len] = GP_NONE;
	edge[len++] = gr->off[start];
	on_path[start] = true;
	gp_error *err = NULL;
	while (len) {
		if (++cx->steps > GP_MAX_CYCLE_STEPS ||
		    cx->an->ncycles >= GP_MAX_CYCLES) {
			cx->an->truncated = 1;
			break;
		}
		uint32_t v = path[len - 1];
		if (edge[len - 1] >= gr->off[v + 1]) {
			on_path[v] = false;
			len--;
			continue;
		}
		uint32_t ei = edge[len - 1]++;
		uint32_t w = gr->adj[ei];
		if (cx->comp[w] != cx->comp[start] || (w < ng && w < start))
			continue;
		if (w == start) {
			/* via of the closing edge is recorded on the object */
			if ((err = emit_cycle(cx, path, via, len, gr->via[ei])))
				break;
			continue;
		}
		if (on_path[w] || len + 1 >= GP_MAX_CYCLE_LEN)
			continue;
		path[len] = w;
		via[len] = v >= ng ? gr->via[ei] : GP_NONE;
		edge[len++] = gr->off[w];
		on_path[w] = true;
	}
	while (len)
		on_path[path[--len]] = false;
	return err;
}

static gp_error *add_stuck(struct gp_analysis *an, size_t *cap, size_t *wcap,
			   uint64_t obj, uint32_t kind, uint32_t reason,
			   uint32_t provable, const struct gp_waiter *w,
			   size_t nw, const uint32_t *gidx, size_t ng)
{
	gp_error *err;
	size_t n = w ? nw : ng;
	if ((err = gp_grow((void **)&an->stuck, cap, an->nstuck + 1,
			   sizeof(*an->stuck))) ||
	    (err = gp_grow((void **)&an->stuck_waiters, wcap,
			   an->nstuck_waiters + n + 1, sizeof(uint32_t))))
		return err;
	struct gp_stuck *s = &an->stuck[an->nstuck++];
	memset(s, 0, sizeof(*s));
	s->object = obj;
	s->kind = kind;
	s->reason = reason;
	s->provable = provable;
	s->waiters_first = (uint32_t)an->nstuck_waiters;
	s->nwaiters = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		an->stuck_waiters[an->nstuck_waiters++] = w ? w[i].goroutine : gidx[i];
	return NULL;
}

static gp_error *find_stuck(struct gp_snapshot *snap, struct gp_analysis *an)
{
	size_t cap = 0, wcap = 0;
	gp_error *err = NULL;
	for (size_t i = 0; i < an->nchans && !err; i++) {
		const struct gp_chan *c = &an->chans[i];
		const struct gp_waiter *w = an->chan_waiters + c->waiters_first;
		if (c->flags & GP_CHAN_NIL) {
			err = add_stuck(an, &cap, &wcap, 0, GP_OBJ_CHAN,
					GP_STUCK_NIL_CHAN, 1, w, c->nwaiters, NULL, 0);
			continue;
		}
		/* select waiters can leave through another case; timers fire */
		if (c->nselect || (c->flags & (GP_CHAN_TIMER | GP_CHAN_TIMER_UNKNOWN |
					       GP_CHAN_UNREADABLE | GP_CHAN_CLOSED)))
			continue;
		bool any_op = false;
		for (uint32_t k = 0; k < c->nwakers; k++)
			any_op |= !!(an->holders[c->wakers_first + k].evidence & GP_EV_CALLS_OP);
		if (!c->nwakers)
			err = add_stuck(an, &cap, &wcap, c->address, GP_OBJ_CHAN,
					GP_STUCK_NO_REFERENCE, 0, w, c->nwaiters, NULL, 0);
		else if (!any_op)
			err = add_stuck(an, &cap, &wcap, c->address, GP_OBJ_CHAN,
					GP_STUCK_NO_OPERATION, 0, w, c->nwaiters, NULL, 0);
	}
	for (size_t i = 0; i < an->nsyncs && !err; i++) {
		const struct gp_sync *s = &an->syncs[i];
		if (s->kind != GP_OBJ_WAITGROUP && s->kind != GP_OBJ_COND)
			continue;
		const struct gp_waiter *w = an->sync_waiters + s->waiters_first;
		bool any_op = false;
		for (uint32_t k = 0; k < s->nholders; k++)
			any_op |= !!(an->holders[s->holders_first + k].evidence & GP_EV_CALLS_OP);
		if (!s->nholders)
			err = add_stuck(an, &cap, &wcap, s->address, s->kind,
					GP_STUCK_NO_REFERENCE, 0, w, s->nwaiters, NULL, 0);
		else if (!any_op)
			err = add_stuck(an, &cap, &wcap, s->address, s->kind,
					GP_STUCK_NO_OPERATION, 0, w, s->nwaiters, NULL, 0);
	}
	if (err)
		return err;
	/* select {}: runtime/select.go block() parks with waitReasonSelectNoCases */
	uint32_t *gidx = NULL;
	size_t n = 0, gcap = 0;
	for (size_t i = 0; i < snap->ngs; i++) {
		const struct gp_goroutine *g = &snap->gs[i];
		if (g->status != GP_STATUS_WAITING ||
		    strcmp(gp_snapshot_string(snap, g->waitreason_str), "select (no cases)"))
			continue;
		if ((err = gp_grow((void **)&gidx, &gcap, n + 1, sizeof(*gidx))))
			break;
		gidx[n++] = (uint32_t)i;
	}
	if (!err && n)
		err = add_stuck(an, &cap, &wcap, 0, GP_OBJ_UNKNOWN,
				GP_STUCK_SELECT_EMPTY, 1, NULL, 0, gidx, n);
	free(gidx);
	return err;
}

gp_error *gp_deadlocks_build(struct gp_snapshot *snap, struct gp_analysis *an)
{
	if (an->deadlocks_done)
		return NULL;
	struct graph gr = { 0 };
	uint32_t *comp = NULL, *comp_size = NULL, *path = NULL, *via = NULL,
		 *edge = NULL;
	bool *on_path = NULL;
	gp_error *err = graph_build(snap, an, &gr);
	if (err)
		goto out;
	/* graph_build advanced off[i + 1] to the end of node i's edges, so
	 * off now reads as CSR offsets with off[0] = 0 */
	size_t n = gr.n ? gr.n : 1;
	comp = malloc(n * sizeof(uint32_t));
	comp_size = calloc(n, sizeof(uint32_t));
	path = malloc(GP_MAX_CYCLE_LEN * sizeof(uint32_t));
	via = malloc(GP_MAX_CYCLE_LEN * sizeof(uint32_t));
	edge = malloc(GP_MAX_CYCLE_LEN * sizeof(uint32_t));
	on_path = calloc(n, sizeof(bool));
	if (!comp || !comp_size || !path || !via || !edge || !on_path) {
		err = &gp_error_nomem;
		goto out;
	}
	if (gr.n && (err = tarjan(&gr, comp, comp_size)))
		goto out;
	struct cycles_ctx cx = { snap, an, &gr, comp, 0, 0, 0 };
	for (uint32_t g = 0; g < snap->ngs && !an->truncated; g++) {
		if (comp_size[comp[g]] < 2)
			continue;
		if ((err = cycles_from(&cx, g, path, via, edge, on_path)))
			goto out;
	}
	if (!(err = find_stuck(snap, an)))
		an->deadlocks_done = true;
out:
	graph_deinit(&gr);
	free(comp);
	free(comp_size);
	free(path);
	free(via);
	free(edge);
	free(on_path);
	return err;
}
