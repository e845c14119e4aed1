/*
 * bench_pcp.c - per-CPU frame caches: hit rate and cache-vs-global latency
 * (bench=pcp).
 *
 * One operation = one frame_alloc(0) and its frame_free (random: one alloc
 * or one free; remote: one transfer).  Cases, each with the caches on and off
 * (mm_pcp_configure at quiescent points, same boot), param cache=on|off:
 *   pairs   alloc + free, over and over: the cache hit path of a counted
 *           frame (refcount 1), whose release is an atomic 1 -> 0 freeze
 *   pairs_unique  the same with frame_alloc(FRAME_UNIQUE): the hit path of a
 *           UNIQUE frame, plain loads and stores with no atomic RMW
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
 *   empty   the pairs loop with no allocator call: the harness's own cost,
 *           subtracted from both pairs cases in ns_per_op_net_median
 * Operations per CPU per run: iters/2 (remote: iters/4).  Both pairs cases,
 * remote, random and empty at one CPU count and cache setting are one
 * interleaved set, the K values of batch another.
 * Every CPU count of the sweep runs both pairs cases, remote and random; batch runs at 1
 * and all CPUs, and again for each capacity of the capacity sweep (cache on,
 * batch scaled with the capacity).  With two or more NUMA nodes the cases
 * node_local and node_remote follow (bench_numa.c).
 *
 * Latency: a random 1-in-k choice of allocations is timed alone and
 * classified by whether this CPU's hit counter moved: paths hit and miss
 * (cache on) or global (cache off), each with percentiles (<path>_ns_p50..)
 * and a histogram; sampled_miss_frac (the sampled share of misses) checks the
 * sampling against the counted 1 - hit_rate.
 * test_slow_hit=<cycles> adds a busy-wait after each cache hit inside the
 * timed loop (to test the host's regression detection).
 */
#include "bench/bench_int.h"

enum pcp_kind {
    PCP_PAIRS,
    PCP_PAIRS_UNIQUE,
    PCP_BATCH,
    PCP_REMOTE,
    PCP_RANDOM,
    PCP_EMPTY,
    PCP_KINDS
};
static const char *const pcp_case[PCP_KINDS] = {
    [PCP_PAIRS] = "pairs",   [PCP_PAIRS_UNIQUE] = "pairs_unique", [PCP_BATCH] = "batch",
    [PCP_REMOTE] = "remote", [PCP_RANDOM] = "random",             [PCP_EMPTY] = "empty",
};

/* Slot counters of this benchmark (deltas of the CPU's own pcp_stats). */
enum { CNT_HITS, CNT_MISSES, CNT_REFILLS, CNT_DRAINS, CNT_REMOTE_FREES, CNT_OOM };

#define RING_SLOTS 256
struct pcp_ring {
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t head; /* written by the producer */
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t tail; /* written by the consumer */
    _Alignas(CACHE_LINE_SIZE) struct frame *slot[RING_SLOTS];
};

/* What every point of the benchmark shares: fixed before the first point. */
struct pcp_setup {
    struct pcp_config base;  /* cache geometry of the main series */
    unsigned ws;             /* random: working set slots */
    uint64_t slow_hit;
    uint64_t max_frames;     /* frame pointers a CPU's work area holds */
    struct pcp_ring *rings;
};

/* One measurement point: its job's argument. */
struct pcp_point {
    const struct pcp_setup *setup;
    enum pcp_kind kind;
    unsigned alloc_flags;    /* FRAME_UNIQUE for pairs_unique, else 0 */
    bool cache_on;
    unsigned cpus;
    unsigned k;
    uint64_t seed;
    struct mm_stats before;  /* CPU 0, around each timed dispatch */
    uint64_t lock_acquisitions, lock_contended, lock_hold_cycles;
};

static inline uint64_t cpu_hits(unsigned cpu)
{
    struct pcp_stats st;
    mm_pcp_stats(cpu, &st);
    return st.hits;
}

/* The point's allocation as the sampling passes and test_slow_hit need it:
 * timed alone when sampled, classified by whether this CPU's hit counter
 * moved. */
static struct frame *alloc_op(const struct pcp_point *p, struct bench_slot *s, unsigned cpu)
{
    bool sample = bench_should_sample(s);
    uint64_t slow_hit = p->setup->slow_hit;
    if (!sample && !slow_hit)
        return frame_alloc(p->alloc_flags);
    uint64_t hits0 = cpu_hits(cpu);
    uint64_t t0 = plat_tsc_start();
    struct frame *f = frame_alloc(p->alloc_flags);
    bool hit = false;
    if (slow_hit) {
        hit = cpu_hits(cpu) != hits0;
        if (hit)
            bench_spin_cycles(slow_hit);
    }
    if (sample) {
        uint64_t t1 = plat_tsc_stop();
        if (!slow_hit)
            hit = cpu_hits(cpu) != hits0;
        enum sample_path path = !p->cache_on ? PATH_GLOBAL : hit ? PATH_HIT : PATH_MISS;
        bench_sample(s, cpu, t1 - t0, path);
    }
    return f;
}

/* The plain allocation of the timed runs (flags: p->alloc_flags, a constant
 * at each call), or alloc_op where it is needed. */
static inline __attribute__((always_inline)) struct frame *
pcp_alloc(const struct pcp_point *p, struct bench_slot *s, unsigned cpu, bool instrumented,
          unsigned flags)
{
    return instrumented ? alloc_op(p, s, cpu) : frame_alloc(flags);
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

/* ---- the loops: each returns the operations of its measured chunks ------- */

static inline __attribute__((always_inline)) uint64_t
pairs_loop(const struct pcp_point *p, struct bench_slot *s, unsigned cpu, uint64_t n,
           bool instrumented, unsigned flags)
{
    struct bench_loop l;
    uint64_t chunks = bench_chunks(n), oom = 0;
    bench_loop_begin(&l, s, chunks);
    while (bench_loop_next(&l))
        for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++) {
            struct frame *f = pcp_alloc(p, s, cpu, instrumented, flags);
            if (unlikely(!f)) {
                oom++;
                continue;
            }
            frame_free(f);
        }
    s->counter[CNT_OOM] += oom;
    bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
    return chunks * BENCH_CHUNK_OPS;
}

/* A pairs case: each of the instrumented and the plain loop specialised for
 * its constant flags, so the timed loop carries no test of either. */
static inline __attribute__((always_inline)) void
pairs_run(const struct pcp_point *p, struct bench_slot *s, unsigned cpu, uint64_t n,
          bool instrumented, unsigned flags)
{
    if (instrumented)
        pairs_loop(p, s, cpu, n, true, flags);
    else
        pairs_loop(p, s, cpu, n, false, flags);
}

/* The chunked loop around nothing (the compiler kept from merging the
 * iterations): what the harness adds to every operation of pairs. */
static uint64_t empty_loop(struct bench_slot *s, uint64_t n)
{
    struct bench_loop l;
    uint64_t chunks = bench_chunks(n);
    bench_loop_begin(&l, s, chunks);
    while (bench_loop_next(&l))
        for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++)
            __asm__ volatile("");
    bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
    return chunks * BENCH_CHUNK_OPS;
}

static uint64_t batch_loop(const struct pcp_point *p, struct bench_slot *s, unsigned cpu,
                           uint64_t n, bool instrumented)
{
    struct frame **held = bench_ctx.work[cpu];
    unsigned per_chunk = p->k < BENCH_CHUNK_OPS ? BENCH_CHUNK_OPS / p->k : 1; /* rounds */
    uint64_t chunks = n / ((uint64_t)per_chunk * p->k) ? n / ((uint64_t)per_chunk * p->k) : 1;
    struct bench_loop l;
    bench_loop_begin(&l, s, chunks);
    while (bench_loop_next(&l))
        for (unsigned r = 0; r < per_chunk; r++) {
            for (unsigned j = 0; j < p->k; j++) {
                held[j] = pcp_alloc(p, s, cpu, instrumented, 0);
                if (!held[j])
                    s->counter[CNT_OOM]++;
            }
            for (unsigned j = 0; j < p->k; j++)
                if (held[j])
                    frame_free(held[j]);
        }
    bench_loop_end(&l, chunks * per_chunk * p->k);
    return chunks * per_chunk * p->k;
}

/* Producer (even CPU) and consumer (the odd CPU after it) of one ring: both
 * run the chunked loop, so both are loaded while the other measures; the
 * consumer's frees complete the producer's operations, so only the producer
 * counts them (counting both would double the transfer rate). */
static uint64_t remote_loop(const struct pcp_point *p, struct bench_slot *s, unsigned cpu,
                            uint64_t n, bool instrumented)
{
    if (cpu / 2 >= p->cpus / 2)
        return 0; /* the odd CPU out */
    struct pcp_ring *r = &p->setup->rings[cpu / 2];
    uint64_t chunks = bench_chunks(n);
    struct bench_loop l;
    bench_loop_begin(&l, s, chunks);
    if (cpu % 2 == 0) {
        while (bench_loop_next(&l))
            for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++) {
                struct frame *f = pcp_alloc(p, s, cpu, instrumented, 0);
                if (!f) {
                    s->counter[CNT_OOM]++;
                    continue;
                }
                ring_push(r, f);
            }
        ring_push(r, NULL); /* every CPU is done: end of this run */
        bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
        return chunks * BENCH_CHUNK_OPS;
    }
    bool more = true; /* until the producer's NULL */
    while (more && bench_loop_next(&l))
        for (unsigned i = 0; i < BENCH_CHUNK_OPS && more; i++) {
            struct frame *f = ring_pop(r);
            if (f)
                frame_free(f);
            more = f != NULL;
        }
    while (more) {
        struct frame *f = ring_pop(r);
        if (f)
            frame_free(f);
        more = f != NULL;
    }
    bench_loop_end(&l, 0);
    return 0;
}

static uint64_t random_loop(const struct pcp_point *p, struct bench_slot *s, unsigned cpu,
                            uint64_t n, uint64_t *rng, bool instrumented)
{
    struct frame **held = bench_ctx.work[cpu];
    uint64_t chunks = bench_chunks(n);
    struct bench_loop l;
    bench_loop_begin(&l, s, chunks);
    while (bench_loop_next(&l))
        for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++) {
            uint64_t j = rng_below(rng, p->setup->ws);
            if (held[j]) {
                frame_free(held[j]);
                held[j] = NULL;
            } else {
                held[j] = pcp_alloc(p, s, cpu, instrumented, 0);
                if (!held[j])
                    s->counter[CNT_OOM]++;
            }
        }
    bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
    return chunks * BENCH_CHUNK_OPS;
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
    const struct pcp_point *p = arg;
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    uint64_t n = bench_ctx.warm ? bench_warm_ops(pcp_ops(p->kind)) : pcp_ops(p->kind);
    uint64_t rng = rng_split(&(uint64_t){p->seed ^ ((uint64_t)cpu << 32) ^ bench_ctx.run});
    bool instrumented = bench_ctx.sampling || p->setup->slow_hit;
    struct pcp_stats before, after;
    mm_pcp_stats(cpu, &before);
    switch (p->kind) {
    case PCP_PAIRS: pairs_run(p, s, cpu, n, instrumented, 0); break;
    case PCP_PAIRS_UNIQUE: pairs_run(p, s, cpu, n, instrumented, FRAME_UNIQUE); break;
    case PCP_BATCH: batch_loop(p, s, cpu, n, instrumented); break;
    case PCP_REMOTE: remote_loop(p, s, cpu, n, instrumented); break;
    case PCP_RANDOM: random_loop(p, s, cpu, n, &rng, instrumented); break;
    case PCP_EMPTY: empty_loop(s, n); break;
    default: break;
    }
    mm_pcp_stats(cpu, &after);
    if (bench_counting())
        add_stats_delta(s, &before, &after);
}

/* Frees what the random working sets still hold (on the CPU that holds it). */
static void random_cleanup_job(void *arg)
{
    const struct pcp_setup *setup = arg;
    struct frame **held = bench_ctx.work[plat_cpu_index()];
    for (unsigned j = 0; j < setup->ws; j++)
        if (held[j]) {
            frame_free(held[j]);
            held[j] = NULL;
        }
}

/* Before each attempt at a set with random (bench_measure_set): empty working sets
 * and empty caches, whatever the attempt before or the set before left. */
static void random_start(struct bench_point *pt)
{
    const struct pcp_point *p = pt->arg;
    plat_run_on_cpus(pt->cpus, random_cleanup_job, (void *)p->setup);
    mm_pcp_drain_all();
}

/* The arena lock is shared by every CPU: its statistics are taken on CPU 0
 * around each timed dispatch of the point. */
static void lock_stats_around(struct bench_point *pt, bool after)
{
    struct pcp_point *p = pt->arg;
    if (!after) {
        mm_get_stats(&p->before);
        return;
    }
    struct mm_stats now;
    mm_get_stats(&now);
    p->lock_acquisitions += now.lock.acquisitions - p->before.lock.acquisitions;
    p->lock_contended += now.lock.contended - p->before.lock.contended;
    p->lock_hold_cycles += now.lock.hold_cycles - p->before.lock.hold_cycles;
}

static void point_init(struct bench_point *pt, struct pcp_point *p,
                       const struct pcp_setup *setup, enum pcp_kind kind, unsigned cpus,
                       const struct pcp_config *cfg, unsigned k)
{
    *p = (struct pcp_point){.setup = setup, .kind = kind,
                            .alloc_flags = kind == PCP_PAIRS_UNIQUE ? FRAME_UNIQUE : 0,
                            .cache_on = cfg->enabled, .cpus = cpus, .k = k};
    p->seed = bench_ctx.cfg->seed ^ ((uint64_t)kind << 56) ^ ((uint64_t)cpus << 40) ^ k;
    *pt = (struct bench_point){.bench = "pcp", .cas = pcp_case[kind], .cpus = cpus,
                               .job = pcp_job, .arg = p, .ops_per_run = pcp_ops(kind),
                               .by_path = kind != PCP_EMPTY, .around_run = lock_stats_around};
    if (kind == PCP_RANDOM)
        pt->start = random_start;
    if (kind == PCP_BATCH)
        bench_param_add(pt->param, sizeof pt->param, "k=%u;capacity=%u;batch=%u", k,
                        cfg->capacity, cfg->batch);
    bench_param_add(pt->param, sizeof pt->param, "cache=%s", cfg->enabled ? "on" : "off");
}

static void point_rows(const struct bench_point *pt)
{
    const struct pcp_point *p = pt->arg;
    if (p->kind == PCP_EMPTY)
        return;
    uint64_t hits = pt->counter[CNT_HITS];
    uint64_t lookups = hits + pt->counter[CNT_MISSES];
    bench_row(pt, NULL, "hit_rate", lookups ? (double)hits / (double)lookups : 0.0, "ratio");
    uint64_t hit_samples = bench_point_samples(pt, PATH_HIT);
    uint64_t miss_samples = bench_point_samples(pt, PATH_MISS);
    if (p->cache_on && hit_samples + miss_samples)
        bench_row(pt, NULL, "sampled_miss_frac",
                  (double)miss_samples / (double)(hit_samples + miss_samples), "ratio");
    bench_row_u(pt, NULL, "ops", bench_point_ops(pt), "count");
    bench_row_u(pt, NULL, "refills", pt->counter[CNT_REFILLS], "count");
    bench_row_u(pt, NULL, "drains", pt->counter[CNT_DRAINS], "count");
    bench_row_u(pt, NULL, "remote_frees", pt->counter[CNT_REMOTE_FREES], "count");
    bench_row_u(pt, NULL, "lock_acquisitions", p->lock_acquisitions, "count");
    bench_row_u(pt, NULL, "lock_contended", p->lock_contended, "count");
    if (p->lock_acquisitions)
        bench_row(pt, NULL, "lock_hold_ns",
                  bench_cycles_to_ns((double)p->lock_hold_cycles / (double)p->lock_acquisitions),
                  bench_ctx.unit_ns);
    bench_row_u(pt, NULL, "oom", pt->counter[CNT_OOM], "count");
}

/* Measures a set and writes every point's rows; random's working sets are
 * emptied afterwards. */
static void measure_points(const struct pcp_setup *setup, struct bench_point *pts,
                           struct pcp_point *args, unsigned n, unsigned cpus)
{
    bool random = false;
    for (unsigned i = 0; i < n; i++)
        if (args[i].kind == PCP_RANDOM) {
            random = true;
            for (unsigned c = 0; c < cpus; c++) /* random_start frees what they hold */
                __builtin_memset(bench_ctx.work[c], 0, setup->ws * sizeof(struct frame *));
        }
    bench_measure_set(pts, n);
    if (random)
        plat_run_on_cpus(cpus, random_cleanup_job, (void *)setup);
    for (unsigned i = 0; i < n; i++)
        point_rows(&pts[i]);
}

static struct bench_point set_pts[BENCH_SET_MAX];
static struct pcp_point set_args[BENCH_SET_MAX];

/* Both pairs cases, remote (from 2 CPUs), random and the empty loop at one
 * CPU count. */
static void mixed_points(const struct pcp_setup *setup, const struct pcp_config *cfg,
                         unsigned cpus)
{
    static const enum pcp_kind kinds[] = {PCP_EMPTY, PCP_PAIRS, PCP_PAIRS_UNIQUE, PCP_REMOTE,
                                          PCP_RANDOM};
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i] == PCP_REMOTE && cpus < 2)
            continue;
        point_init(&set_pts[n], &set_args[n], setup, kinds[i], cpus, cfg, 0);
        if (kinds[i] == PCP_PAIRS || kinds[i] == PCP_PAIRS_UNIQUE)
            set_pts[n].empty = &set_pts[0];
        n++;
    }
    measure_points(setup, set_pts, set_args, n, cpus);
}

/* K values for capacity C: below, at and beyond the cache.  With the caches
 * off every K takes the same path: the two ends suffice. */
static unsigned k_values(const struct pcp_setup *setup, const struct pcp_config *cfg,
                         unsigned *k)
{
    unsigned c = cfg->capacity, n = 0;
    unsigned cand[] = {1, c / 2, c, 2 * c, 4 * c};
    unsigned off[] = {1, 4 * c};
    const unsigned *list = cfg->enabled ? cand : off;
    unsigned count = cfg->enabled ? 5 : 2;
    for (unsigned i = 0; i < count; i++) {
        unsigned v = list[i];
        if (v < 1 || v > setup->max_frames || (n && v <= k[n - 1]))
            continue;
        k[n++] = v;
    }
    return n;
}

/* batch at 1 and all CPUs: the K values of one CPU count form a set. */
static void batch_points(const struct pcp_setup *setup, const struct pcp_config *cfg)
{
    unsigned ends[2] = {1, bench_ctx.cpus}, nends = bench_ctx.cpus > 1 ? 2 : 1;
    unsigned k[8], nk = k_values(setup, cfg, k);
    for (unsigned e = 0; e < nends && !bench_ctx.failed; e++) {
        for (unsigned i = 0; i < nk; i++)
            point_init(&set_pts[i], &set_args[i], setup, PCP_BATCH, ends[e], cfg, k[i]);
        measure_points(setup, set_pts, set_args, nk, ends[e]);
    }
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

/* Between series: caches drained, allocator consistent, nothing leaked. */
static void series_check(const char *what)
{
    char where[64];
    plat_snprintf(where, sizeof where, "pcp %s", what);
    if (!bench_ctx.failed)
        bench_check_allocator(where);
}

/* The cache geometry to measure (command line over the allocator's own),
 * the working-set size and the rings. */
static bool pcp_setup(struct pcp_setup *setup, struct pcp_config *orig)
{
    const struct bench_config *bc = bench_ctx.cfg;
    mm_pcp_get_config(orig);
    if (orig->capacity == 0) {
        struct mm_config def;
        mm_default_config(&def);
        orig->capacity = def.pcp.capacity;
        orig->batch = def.pcp.batch;
    }
    struct pcp_config *base = &setup->base;
    base->enabled = true;
    base->capacity = bc->pcp_capacity ? bc->pcp_capacity : orig->capacity;
    base->batch = bc->pcp_batch ? bc->pcp_batch : orig->batch;
    if (base->batch > base->capacity)
        base->batch = base->capacity / 2 ? base->capacity / 2 : 1;
    setup->max_frames = bench_ctx.work_bytes / sizeof(struct frame *);
    setup->ws = 4 * base->capacity < setup->max_frames ? 4 * base->capacity
                                                       : (unsigned)setup->max_frames;
    if (setup->ws < 64)
        setup->ws = 64;
    setup->slow_hit = bc->test_slow_hit;
    setup->rings = bench_scratch_alloc((bench_ctx.cpus / 2 + 1) * sizeof(struct pcp_ring));
    if (!setup->rings) {
        bench_fail("pcp: out of frames for the producer/consumer rings");
        return false;
    }
    return true;
}

/* Every case at every CPU count, caches on then off. */
static bool main_series(const struct pcp_setup *setup)
{
    unsigned sweep[16], points = bench_cpu_sweep(bench_ctx.cpus, sweep, 16);
    for (int on = 1; on >= 0 && !bench_ctx.failed; on--) {
        struct pcp_config cfg = setup->base;
        cfg.enabled = on;
        if (!configure(&cfg))
            return false;
        for (unsigned p = 0; p < points && !bench_ctx.failed; p++)
            mixed_points(setup, &cfg, sweep[p]);
        if (!bench_ctx.failed)
            batch_points(setup, &cfg);
        series_check(on ? "cache=on" : "cache=off");
    }
    return true;
}

/* The batch case at other cache sizes, the batch scaled alike. */
static bool capacity_sweep(const struct pcp_setup *setup)
{
    const struct bench_config *bc = bench_ctx.cfg;
    const struct pcp_config *base = &setup->base;
    unsigned caps[BENCH_MAX_SWEEP], ncaps = bc->sweep_count;
    for (unsigned i = 0; i < ncaps; i++)
        caps[i] = bc->sweep_capacity[i];
    if (ncaps == 0) {
        caps[ncaps++] = base->capacity / 4 ? base->capacity / 4 : 1;
        if (bc->profile == BENCH_PROFILE_FULL && base->capacity <= MM_PCP_MAX_CAPACITY / 4)
            caps[ncaps++] = base->capacity * 4; /* beyond the allocator's limit: skipped */
    }
    for (unsigned i = 0; i < ncaps && !bench_ctx.failed; i++) {
        if (caps[i] == base->capacity)
            continue; /* already measured */
        struct pcp_config cfg = {.enabled = true, .capacity = caps[i]};
        cfg.batch = (unsigned)((uint64_t)caps[i] * base->batch / base->capacity);
        if (cfg.batch == 0)
            cfg.batch = 1;
        if (!configure(&cfg))
            return false;
        batch_points(setup, &cfg);
        series_check("capacity sweep");
    }
    return true;
}

void bench_pcp(void)
{
    static struct pcp_setup setup;
    struct pcp_config orig;
    if (!pcp_setup(&setup, &orig) || !main_series(&setup) || !capacity_sweep(&setup))
        return;
    if (!bench_ctx.failed && mm_numa_nodes() > 1 && configure(&setup.base)) {
        bench_pcp_numa(&setup.base);
        series_check("numa");
    }
    if (!bench_ctx.failed)
        configure(&orig);
}
