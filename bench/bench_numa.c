/*
 * bench_numa.c - node-local and remote allocation (part of bench=pcp, on
 * machines with two or more NUMA nodes; nothing is emitted on one node).
 *
 * One operation = one frame_alloc(0) and, K allocations later, its
 * frame_free: each CPU allocates K = 2 x capacity frames, then frees them,
 * so every round refills the cache (and drains it) in batches.  Cases,
 * interleaved in one set, at 1 CPU and at all CPUs:
 *   node_local   every CPU allocates in its own node's order (the default)
 *   node_remote  every CPU prefers the nearest other node
 *                (mm_pcp_prefer_node), so its cache is filled with another
 *                node's memory: the cost of remote memory on real hardware
 * param k=<K>;serve=own_node|nearest_other_node.  Each dispatch starts with
 * the CPU's cache drained (the preference change drains it) and ends with
 * the CPU back on its own node, drained again.
 *
 * Rows besides the harness's timing and latency rows (a sampled 1-in-k
 * allocation timed alone, p50_ns..): served_node_local_frac (share of
 * allocations whose frame lies on the node the allocating CPU sits on,
 * checked per allocation with frame_node), and the allocator's own counters
 * over the timed runs: refills, local_refills, remote_refills,
 * remote_refill_frames, hit_rate.  Under TCG memory has one latency
 * wherever it is, so the timing rows of the two cases agree there: what
 * these rows show under QEMU is topology and correctness (which node served
 * what), not the remote-access cost.
 */
#include "bench/bench_int.h"

enum numa_kind { NUMA_LOCAL, NUMA_REMOTE, NUMA_KINDS };
static const char *const numa_case[NUMA_KINDS] = {"node_local", "node_remote"};
static const char *const numa_serve[NUMA_KINDS] = {"own_node", "nearest_other_node"};

enum { CNT_ALLOCS, CNT_LOCAL, CNT_HITS, CNT_MISSES, CNT_REFILLS, CNT_LOCAL_REFILLS,
       CNT_REMOTE_REFILLS, CNT_REMOTE_FRAMES };
_Static_assert(CNT_REMOTE_FRAMES < SLOT_COUNTERS, "counters fit the slot");

struct numa_point {
    enum numa_kind kind;
    unsigned k;
};

/* The node nearest to `node` other than itself (ties: the lower). */
static unsigned nearest_other(unsigned node)
{
    unsigned best = node, nodes = mm_numa_nodes();
    for (unsigned n = 0; n < nodes; n++)
        if (n != node &&
            (best == node || mm_node_distance(node, n) < mm_node_distance(node, best)))
            best = n;
    return best;
}

static void add_delta(struct bench_slot *s, const struct pcp_stats *a, const struct pcp_stats *b)
{
    s->counter[CNT_HITS] += b->hits - a->hits;
    s->counter[CNT_MISSES] += b->misses - a->misses;
    s->counter[CNT_REFILLS] += b->refills - a->refills;
    s->counter[CNT_LOCAL_REFILLS] += b->local_refills - a->local_refills;
    s->counter[CNT_REMOTE_REFILLS] += b->remote_refills - a->remote_refills;
    s->counter[CNT_REMOTE_FRAMES] += b->remote_refill_frames - a->remote_refill_frames;
}

/* frame_alloc(0), timed alone when the sampling pass picks it. */
static inline struct frame *numa_alloc(struct bench_slot *s, unsigned cpu)
{
    if (likely(!bench_should_sample(s)))
        return frame_alloc(0);
    uint64_t t0 = plat_tsc_start();
    struct frame *f = frame_alloc(0);
    bench_sample(s, cpu, plat_tsc_stop() - t0, PATH_ALL);
    return f;
}

static uint64_t numa_ops(void)
{
    uint64_t n = bench_iters() / 2;
    return n ? n : 1;
}

static void numa_job(void *arg)
{
    const struct numa_point *p = arg;
    unsigned cpu = plat_cpu_index(), home = mm_cpu_node(cpu);
    struct bench_slot *s = &bench_ctx.slot[cpu];
    struct frame **held = bench_ctx.work[cpu];
    uint64_t n = bench_ctx.warm ? bench_warm_ops(numa_ops()) : numa_ops();
    bool placed = mm_pcp_prefer_node(cpu, p->kind == NUMA_LOCAL ? MM_NODE_OWN
                                                                : nearest_other(home));
    ASSERT(placed); /* every benchmark CPU has a cache */
    struct pcp_stats before, after;
    mm_pcp_stats(cpu, &before);
    uint64_t rounds = n / p->k ? n / p->k : 1, allocs = 0, local = 0;
    struct bench_loop l;
    bench_loop_begin(&l, s, rounds);
    while (bench_loop_next(&l)) {
        for (unsigned j = 0; j < p->k; j++) {
            held[j] = numa_alloc(s, cpu);
            if (held[j]) {
                allocs++;
                local += frame_node(held[j]) == home;
            }
        }
        for (unsigned j = 0; j < p->k; j++)
            if (held[j])
                frame_free(held[j]);
    }
    bench_loop_end(&l, rounds * p->k);
    mm_pcp_stats(cpu, &after);
    mm_pcp_prefer_node(cpu, MM_NODE_OWN);
    if (bench_counting()) {
        add_delta(s, &before, &after);
        s->counter[CNT_ALLOCS] += allocs;
        s->counter[CNT_LOCAL] += local;
    }
}

static void point_rows(const struct bench_point *pt)
{
    const uint64_t *c = pt->counter;
    if (c[CNT_ALLOCS])
        bench_row(pt, NULL, "served_node_local_frac", (double)c[CNT_LOCAL] / (double)c[CNT_ALLOCS],
                  "ratio");
    uint64_t lookups = c[CNT_HITS] + c[CNT_MISSES];
    bench_row(pt, NULL, "hit_rate", lookups ? (double)c[CNT_HITS] / (double)lookups : 0.0, "ratio");
    bench_row_u(pt, NULL, "ops", bench_point_ops(pt), "count");
    bench_row_u(pt, NULL, "refills", c[CNT_REFILLS], "count");
    bench_row_u(pt, NULL, "local_refills", c[CNT_LOCAL_REFILLS], "count");
    bench_row_u(pt, NULL, "remote_refills", c[CNT_REMOTE_REFILLS], "count");
    bench_row_u(pt, NULL, "remote_refill_frames", c[CNT_REMOTE_FRAMES], "count");
}

void bench_pcp_numa(const struct pcp_config *cfg)
{
    if (mm_numa_nodes() < 2)
        return;
    static struct bench_point pts[NUMA_KINDS];
    static struct numa_point args[NUMA_KINDS];
    uint64_t max_frames = bench_ctx.work_bytes / sizeof(struct frame *);
    unsigned k = 2 * cfg->capacity;
    if (k > max_frames)
        k = (unsigned)max_frames;
    unsigned ends[2] = {1, bench_ctx.cpus}, nends = bench_ctx.cpus > 1 ? 2 : 1;
    for (unsigned e = 0; e < nends && !bench_ctx.failed; e++) {
        for (unsigned i = 0; i < NUMA_KINDS; i++) {
            args[i] = (struct numa_point){.kind = (enum numa_kind)i, .k = k};
            pts[i] = (struct bench_point){.bench = "pcp", .cas = numa_case[i], .cpus = ends[e],
                                          .job = numa_job, .arg = &args[i],
                                          .ops_per_run = numa_ops()};
            bench_param_add(pts[i].param, sizeof pts[i].param, "k=%u;serve=%s", k, numa_serve[i]);
        }
        bench_measure_set(pts, NUMA_KINDS);
        for (unsigned i = 0; i < NUMA_KINDS; i++)
            point_rows(&pts[i]);
    }
}
