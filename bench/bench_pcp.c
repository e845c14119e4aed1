/*
 * pcp.c - per-CPU frame caches: hit rate and cache-vs-global latency
 * (bench=pcp).
 *
 * One operation = one frame_alloc(0) and its frame_free (random: one alloc
 * or one free).  Cases, each with the caches on and off (mm_pcp_configure at
 * quiescent points, same boot), param cache=on|off:
 *   pairs   alloc + free, over and over: the cache hit path
 *   batch   alloc K then free K, K in {1, C/2, C, 2C, 4C} for capacity C
 *           (caches off: K in {1, 4C}): hit rate falls and refills/drains
 *           climb once K exceeds the cache;
 *           param k=<K>;capacity=<C>;batch=<B>;cache=...
 *   remote  CPU pairs (2i producer, 2i+1 consumer): frames allocated on one
 *           CPU travel through a bounded SPSC ring and are freed on the other
 *           (remote frees); one operation = one transfer, counted by the
 *           producer; an odd CPU out idles
 *   random  each CPU flips random slots of a working set of 4C slots (alloc
 *           when empty, free when full): a random mix that settles around 2C
 *           frames held (half the slots), beyond the cache's capacity
 * Operations per CPU per run: iters/2 (remote: iters/4).
 * Every CPU count of the sweep runs pairs, remote and random; batch runs at 1
 * and all CPUs, and again for each capacity of the capacity sweep (cache on,
 * batch scaled with the capacity).
 *
 * Latency: every k-th allocation is timed alone and classified by whether
 * this CPU's hit counter moved: paths hit and miss (cache on) or global
 * (cache off), each with percentiles (<path>_ns_p50..) and a histogram.
 * test_slow_hit=<cycles> adds a busy-wait after each cache hit inside the
 * timed loop (to test the host's regression detection).
 */
#include "bench/bench_int.h"

enum pcp_kind { PCP_PAIRS, PCP_BATCH, PCP_REMOTE, PCP_RANDOM, PCP_KINDS };
static const char *const pcp_case[PCP_KINDS] = {"pairs", "batch", "remote", "random"};

/* Slot counters of this benchmark (deltas of the CPU's own pcp_stats). */
enum { CNT_HITS, CNT_MISSES, CNT_REFILLS, CNT_DRAINS, CNT_REMOTE_FREES, CNT_OOM };

#define RING_SLOTS 256
struct pcp_ring {
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t head; /* written by the producer */
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t tail; /* written by the consumer */
    _Alignas(CACHE_LINE_SIZE) struct frame *slot[RING_SLOTS];
};

static struct {
    enum pcp_kind kind;
    bool cache_on;
    unsigned k;
    unsigned ws;          /* random: working set slots */
    uint64_t slow_hit;
    struct pcp_ring *rings;
    uint64_t max_frames;  /* frame pointers a CPU's work area holds */
    uint64_t seed;
} pc;

static inline uint64_t cpu_hits(unsigned cpu)
{
    struct pcp_stats st;
    mm_pcp_stats(cpu, &st);
    return st.hits;
}

static struct frame *alloc_op(struct bench_slot *s, unsigned cpu)
{
    bool sample = bench_should_sample(s);
    if (!sample && !pc.slow_hit)
        return frame_alloc(0);
    uint64_t hits0 = cpu_hits(cpu);
    uint64_t t0 = plat_tsc_start();
    struct frame *f = frame_alloc(0);
    bool hit = false;
    if (pc.slow_hit) {
        hit = cpu_hits(cpu) != hits0;
        if (hit)
            bench_spin_cycles(pc.slow_hit);
    }
    if (sample) {
        uint64_t t1 = plat_tsc_stop();
        if (!pc.slow_hit)
            hit = cpu_hits(cpu) != hits0;
        enum sample_path path = !pc.cache_on ? PATH_GLOBAL : hit ? PATH_HIT : PATH_MISS;
        bench_sample(s, cpu, t1 - t0, path);
    }
    return f;
}

static void ring_push(struct pcp_ring *r, struct frame *f)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    while (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING_SLOTS)
        plat_pause();
    r->slot[h % RING_SLOTS] = f;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

static struct frame *ring_pop(struct pcp_ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    while (atomic_load_explicit(&r->head, memory_order_acquire) == t)
        plat_pause();
    struct frame *f = r->slot[t % RING_SLOTS];
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return f;
}

/* The loops: each returns the operations it did. */
static uint64_t pairs_loop(struct bench_slot *s, unsigned cpu, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        struct frame *f = alloc_op(s, cpu);
        if (!f) {
            s->counter[CNT_OOM]++;
            continue;
        }
        frame_free(f);
    }
    return n;
}

static uint64_t batch_loop(struct bench_slot *s, unsigned cpu, uint64_t n)
{
    struct frame **held = bench_ctx.work[cpu];
    uint64_t rounds = n / pc.k ? n / pc.k : 1;
    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned j = 0; j < pc.k; j++) {
            held[j] = alloc_op(s, cpu);
            if (!held[j])
                s->counter[CNT_OOM]++;
        }
        for (unsigned j = 0; j < pc.k; j++)
            if (held[j])
                frame_free(held[j]);
    }
    return rounds * pc.k;
}

static uint64_t remote_loop(struct bench_slot *s, unsigned cpu, unsigned cpus, uint64_t n)
{
    if (cpu / 2 >= cpus / 2)
        return 0; /* the odd CPU out */
    struct pcp_ring *r = &pc.rings[cpu / 2];
    uint64_t ops = 0;
    if (cpu % 2 == 0) {
        for (uint64_t i = 0; i < n; i++) {
            struct frame *f = alloc_op(s, cpu);
            if (!f) {
                s->counter[CNT_OOM]++;
                continue;
            }
            ring_push(r, f);
            ops++;
        }
        ring_push(r, NULL); /* end of this run */
    } else {
        /* The consumer's frees complete the producer's operations: counting
         * them again would double the transfer rate.  It reports no
         * operations of its own (the harness then leaves its time out). */
        struct frame *f;
        while ((f = ring_pop(r)) != NULL)
            frame_free(f);
    }
    return ops;
}

static uint64_t random_loop(struct bench_slot *s, unsigned cpu, uint64_t n, uint64_t *rng)
{
    struct frame **held = bench_ctx.work[cpu];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t j = rng_below(rng, pc.ws);
        if (held[j]) {
            frame_free(held[j]);
            held[j] = NULL;
        } else {
            held[j] = alloc_op(s, cpu);
            if (!held[j])
                s->counter[CNT_OOM]++;
        }
    }
    return n;
}

static void add_stats_delta(struct bench_slot *s, const struct pcp_stats *a,
                            const struct pcp_stats *b)
{
    s->counter[CNT_HITS] += b->hits - a->hits;
    s->counter[CNT_MISSES] += b->misses - a->misses;
    s->counter[CNT_REFILLS] += b->refills - a->refills;
    s->counter[CNT_DRAINS] += b->drains - a->drains;
    s->counter[CNT_REMOTE_FREES] += b->remote_frees - a->remote_frees;
}

/* Operations per CPU per run: each one costs an alloc and a free, twice the
 * work of a refcount pair; a remote transfer also crosses a ring between two
 * CPUs (and, under TCG, between two vCPU threads sharing host cores). */
static uint64_t pcp_ops(enum pcp_kind kind)
{
    uint64_t n = bench_iters() / (kind == PCP_REMOTE ? 4 : 2);
    return n ? n : 1;
}

static void pcp_job(void *arg)
{
    unsigned cpus = *(const unsigned *)arg;
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    uint64_t n = bench_ctx.warm ? bench_warm_ops(pcp_ops(pc.kind)) : pcp_ops(pc.kind);
    uint64_t rng = rng_split(&(uint64_t){pc.seed ^ ((uint64_t)cpu << 32) ^ bench_ctx.run});
    struct pcp_stats before, after;
    uint64_t ops = 0;
    mm_pcp_stats(cpu, &before);
    uint64_t t0 = plat_tsc_start();
    switch (pc.kind) {
    case PCP_PAIRS: ops = pairs_loop(s, cpu, n); break;
    case PCP_BATCH: ops = batch_loop(s, cpu, n); break;
    case PCP_REMOTE: ops = remote_loop(s, cpu, cpus, n); break;
    case PCP_RANDOM: ops = random_loop(s, cpu, n, &rng); break;
    default: break;
    }
    uint64_t t1 = plat_tsc_stop();
    mm_pcp_stats(cpu, &after);
    s->cycles = t1 - t0;
    s->ops = ops;
    if (bench_counting())
        add_stats_delta(s, &before, &after);
}

/* Frees what the random working sets still hold (on the CPU that holds it). */
static void random_cleanup_job(void *arg)
{
    (void)arg;
    struct frame **held = bench_ctx.work[plat_cpu_index()];
    for (unsigned j = 0; j < pc.ws; j++)
        if (held[j]) {
            frame_free(held[j]);
            held[j] = NULL;
        }
}

static void measure_point(enum pcp_kind kind, unsigned cpus, const struct pcp_config *cfg,
                          unsigned k)
{
    struct bench_point pt = {.bench = "pcp", .cas = pcp_case[kind], .cpus = cpus,
                             .ops_per_run = pcp_ops(kind)};
    struct mm_stats before, after;
    if (kind == PCP_BATCH)
        bench_param_add(pt.param, sizeof pt.param, "k=%u;capacity=%u;batch=%u", k,
                        cfg->capacity, cfg->batch);
    bench_param_add(pt.param, sizeof pt.param, "cache=%s", cfg->enabled ? "on" : "off");
    pc.kind = kind;
    pc.k = k;
    pc.cache_on = cfg->enabled;
    pc.seed = bench_ctx.cfg->seed ^ ((uint64_t)kind << 56) ^ ((uint64_t)cpus << 40) ^ k;
    if (kind == PCP_RANDOM)
        for (unsigned c = 0; c < cpus; c++)
            __builtin_memset(bench_ctx.work[c], 0, pc.ws * sizeof(struct frame *));

    bench_warm_up(cpus, pcp_job, &cpus);
    mm_get_stats(&before);
    bench_measure_cold(&pt, pcp_job, &cpus);
    mm_get_stats(&after);
    bench_sample_pass(&pt, pcp_job, &cpus);
    if (kind == PCP_RANDOM)
        plat_run_on_cpus(cpus, random_cleanup_job, NULL);

    bench_point_latency(&pt, true);
    uint64_t hits = bench_counter_sum(cpus, CNT_HITS);
    uint64_t lookups = hits + bench_counter_sum(cpus, CNT_MISSES);
    bench_row(&pt, NULL, "hit_rate", lookups ? (double)hits / (double)lookups : 0.0, "ratio");
    bench_row_u(&pt, NULL, "ops", bench_total_ops(), "count");
    bench_row_u(&pt, NULL, "refills", bench_counter_sum(cpus, CNT_REFILLS), "count");
    bench_row_u(&pt, NULL, "drains", bench_counter_sum(cpus, CNT_DRAINS), "count");
    bench_row_u(&pt, NULL, "remote_frees", bench_counter_sum(cpus, CNT_REMOTE_FREES), "count");
    bench_row_u(&pt, NULL, "lock_acquisitions",
                after.lock.acquisitions - before.lock.acquisitions, "count");
    bench_row_u(&pt, NULL, "lock_contended", after.lock.contended - before.lock.contended,
                "count");
    uint64_t acq = after.lock.acquisitions - before.lock.acquisitions;
    if (acq)
        bench_row(&pt, NULL, "lock_hold_ns",
                  bench_cycles_to_ns((double)(after.lock.hold_cycles - before.lock.hold_cycles) /
                                     (double)acq),
                  "ns");
    bench_row_u(&pt, NULL, "oom", bench_counter_sum(cpus, CNT_OOM), "count");
}

static bool configure(const struct pcp_config *cfg)
{
    if (mm_pcp_configure(cfg))
        return true;
    bench_fail("pcp: the allocator rejected cache configuration enabled=%d capacity=%u "
               "batch=%u",
               cfg->enabled, cfg->capacity, cfg->batch);
    return false;
}

/* K values for capacity C: below, at and beyond the cache.  With the caches
 * off every K takes the same path: the two ends suffice. */
static unsigned k_values(const struct pcp_config *cfg, unsigned *k)
{
    unsigned c = cfg->capacity, n = 0;
    unsigned cand[] = {1, c / 2, c, 2 * c, 4 * c};
    unsigned off[] = {1, 4 * c};
    const unsigned *list = cfg->enabled ? cand : off;
    unsigned count = cfg->enabled ? 5 : 2;
    for (unsigned i = 0; i < count; i++) {
        unsigned v = list[i];
        if (v < 1 || v > pc.max_frames || (n && v <= k[n - 1]))
            continue;
        k[n++] = v;
    }
    return n;
}

static void batch_points(const struct pcp_config *cfg, const unsigned *cpu_sets, unsigned sets)
{
    unsigned k[8], nk = k_values(cfg, k);
    for (unsigned s = 0; s < sets && !bench_ctx.failed; s++)
        for (unsigned i = 0; i < nk && !bench_ctx.failed; i++)
            measure_point(PCP_BATCH, cpu_sets[s], cfg, k[i]);
}

/* Between series: caches drained, allocator consistent, nothing leaked. */
static void series_check(const char *what)
{
    char where[64];
    plat_snprintf(where, sizeof where, "pcp %s", what);
    if (!bench_ctx.failed)
        bench_check_allocator(where);
}

void bench_pcp(void)
{
    const struct bench_config *bc = bench_ctx.cfg;
    struct pcp_config orig, base, cfg;
    unsigned sweep[16], points = bench_cpu_sweep(bench_ctx.cpus, sweep, 16);
    unsigned ends[2] = {1, bench_ctx.cpus}, nends = bench_ctx.cpus > 1 ? 2 : 1;

    mm_pcp_get_config(&orig);
    if (orig.capacity == 0) {
        struct mm_config def;
        mm_default_config(&def);
        orig.capacity = def.pcp.capacity;
        orig.batch = def.pcp.batch;
    }
    base.enabled = true;
    base.capacity = bc->pcp_capacity ? bc->pcp_capacity : orig.capacity;
    base.batch = bc->pcp_batch ? bc->pcp_batch : orig.batch;
    if (base.batch > base.capacity)
        base.batch = base.capacity / 2 ? base.capacity / 2 : 1;
    pc.max_frames = bench_ctx.work_bytes / sizeof(struct frame *);
    pc.ws = 4 * base.capacity < pc.max_frames ? 4 * base.capacity : (unsigned)pc.max_frames;
    if (pc.ws < 64)
        pc.ws = 64;
    pc.slow_hit = bc->test_slow_hit;
    pc.rings = bench_scratch_alloc((bench_ctx.cpus / 2 + 1) * sizeof(struct pcp_ring));
    if (!pc.rings) {
        bench_fail("pcp: out of frames for the producer/consumer rings");
        return;
    }

    for (int on = 1; on >= 0 && !bench_ctx.failed; on--) {
        cfg = base;
        cfg.enabled = on;
        if (!configure(&cfg))
            return;
        for (unsigned kind = PCP_PAIRS; kind < PCP_KINDS; kind++) {
            if (kind == PCP_BATCH) {
                batch_points(&cfg, ends, nends);
                continue;
            }
            for (unsigned p = 0; p < points && !bench_ctx.failed; p++)
                if (kind != PCP_REMOTE || sweep[p] >= 2)
                    measure_point((enum pcp_kind)kind, sweep[p], &cfg, 0);
        }
        series_check(on ? "cache=on" : "cache=off");
    }

    /* Capacity sweep: the batch case at other cache sizes, batch scaled alike. */
    unsigned caps[BENCH_MAX_SWEEP], ncaps = bc->sweep_count;
    for (unsigned i = 0; i < ncaps; i++)
        caps[i] = bc->sweep_capacity[i];
    if (ncaps == 0) {
        caps[ncaps++] = base.capacity / 4 ? base.capacity / 4 : 1;
        if (bc->profile == BENCH_PROFILE_FULL && base.capacity <= MM_PCP_MAX_CAPACITY / 4)
            caps[ncaps++] = base.capacity * 4; /* beyond the allocator's limit: skipped */
    }
    for (unsigned i = 0; i < ncaps && !bench_ctx.failed; i++) {
        if (caps[i] == base.capacity)
            continue; /* already measured */
        cfg.enabled = true;
        cfg.capacity = caps[i];
        cfg.batch = (unsigned)((uint64_t)caps[i] * base.batch / base.capacity);
        if (cfg.batch == 0)
            cfg.batch = 1;
        if (!configure(&cfg))
            return;
        batch_points(&cfg, ends, nends);
        series_check("capacity sweep");
    }
    if (!bench_ctx.failed)
        configure(&orig);
}
