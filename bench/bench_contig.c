/*
 * bench_contig.c - contiguous allocation by size and alignment (bench=contig).
 *
 * Sizes: every buddy order 0..MM_MAX_ORDER (param order=<o>), allocated as
 * one block with frame_alloc_order and released with frame_free -- the
 * allocator's own unit, what Linux's alloc_pages(order) measures; orders the
 * per-CPU caches keep (mm/pcp.c: 1..3 and 9) are then mostly cache hits, as
 * they would be for a kernel that frees what it allocated -- and
 * non-power-of-two sizes with an alignment (param n=<n>;align=<a>) through
 * frame_alloc_contig / frame_free_contig, which trims the tail and owns every
 * frame individually.  One operation = one allocation attempt; each is timed
 * (latency percentiles and histogram over attempts, failed ones included),
 * and ns_per_op is the mean of those times: the frees are not timed.
 * Cases, each on one CPU and on all CPUs at once:
 *   fresh       memory as the allocator holds it after the caches are drained;
 *               each CPU allocates up to `depth` blocks then frees them
 *               (depth = contig_mem / (cpus * n), 1..8)
 *   fragmented  everything is first pinned in the largest blocks available,
 *               then a region of contig_mem (default 64 MiB) is given back,
 *               allocated whole at order 0 and a seeded random half of it
 *               freed: the free memory is exactly that scattered half.
 *               Each attempt frees its block at once, so the state holds.
 *               Setup rows: region_frames, pinned_frames, free_frames.
 *   pair_fresh  frame_alloc_order(o) + frame_free as one operation, timed as
 *               a loop (one op = the pair, what Linux's alloc_pages +
 *               __free_pages cost together), param order=<o>, through the
 *               per-CPU caches (orders 0..3 and 9 hit them)
 *   pair_buddy  the same with the caches switched off: the buddy allocator
 *               (both every order on 1 CPU, orders 0, 3, 9, 10 on all CPUs)
 *   pair_empty  the pair loop with no allocator call (param cache=on|off:
 *               one per set), subtracted in ns_per_op_net_median
 * Per point: success_rate, p50_ns..p999_ns, ns_per_op; per case and CPU set:
 * free_blocks_before/after and frag_index (Gorman's unusable free space
 * index) by order, param order=<o>.  The orders of one case and CPU set are
 * one interleaved set, the non-power-of-two sizes another.
 */
#include "bench/bench_int.h"

enum { CNT_OK, CNT_NOMEM, CNT_ERRORS, CNT_MISALIGNED };

struct contig_size {
    uint64_t n, align;
};
static const struct contig_size npot_sizes[] = {
    {3, 1}, {5, 4}, {17, 16}, {100, 1}, {300, 64}, {1000, 512},
};

/* One measurement point: its job's argument. */
struct contig_point {
    uint64_t n, align;
    int order;           /* >= 0: one buddy block of this order, n = align = 2^order */
    uint64_t depth, rounds;
    bool empty;          /* pair_empty: the pair loop without the allocator */
};

/* One attempt of the size under test; *handle is what contig_free needs. */
static enum frame_error contig_alloc(const struct contig_point *p, uint64_t *pa,
                                     uint64_t *handle)
{
    if (p->order < 0) {
        enum frame_error err = frame_alloc_contig(p->n, p->align, 0, pa);
        *handle = *pa;
        return err;
    }
    struct frame *f = frame_alloc_order((unsigned)p->order, 0);
    if (!f)
        return FRAME_ERR_NOMEM;
    *pa = frame_pa(f);
    *handle = (uint64_t)(uintptr_t)f;
    return FRAME_OK;
}

static void contig_free(const struct contig_point *p, uint64_t handle)
{
    if (p->order < 0)
        frame_free_contig(handle, p->n);
    else
        frame_free((struct frame *)(uintptr_t)handle);
}

/* Attempts: each round allocates up to depth blocks, each timed alone, then
 * frees them (untimed: the free is not the operation). */
static void contig_job(void *arg)
{
    const struct contig_point *p = arg;
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    uint64_t *held = bench_ctx.work[cpu];
    uint64_t rounds = bench_ctx.warm ? 1 : p->rounds;
    uint64_t timed = 0, ok = 0;
    struct bench_loop l;
    bench_loop_begin(&l, s, rounds);
    while (bench_loop_next(&l)) {
        bool measured = bench_loop_measuring(&l);
        uint64_t got = 0;
        for (uint64_t d = 0; d < p->depth; d++) {
            uint64_t pa = 0, handle = 0;
            bool sample = measured && bench_should_sample(s);
            uint64_t a = plat_tsc_start();
            enum frame_error err = contig_alloc(p, &pa, &handle);
            uint64_t b = plat_tsc_stop();
            if (measured)
                timed += b - a > s->timer_overhead ? b - a - s->timer_overhead : 0;
            if (sample)
                bench_sample(s, cpu, b - a, PATH_ALL);
            if (err == FRAME_OK) {
                if (pa % (p->align * PAGE_SIZE))
                    s->counter[CNT_MISALIGNED]++;
                held[got++] = handle;
            } else if (err == FRAME_ERR_NOMEM) {
                if (measured && bench_counting())
                    s->counter[CNT_NOMEM]++;
            } else {
                s->counter[CNT_ERRORS]++;
            }
        }
        for (uint64_t i = 0; i < got; i++)
            contig_free(p, held[i]);
        if (measured)
            ok += got;
    }
    bench_loop_end(&l, rounds * p->depth);
    s->cycles = timed;
    if (bench_counting())
        s->counter[CNT_OK] += ok;
}

/* Pairs: frame_alloc_order + frame_free as one operation, the loop timed. */
static inline __attribute__((always_inline)) void pair_loop(const struct contig_point *p,
                                                            struct bench_slot *s, unsigned cpu,
                                                            bool sampling)
{
    uint64_t n = bench_ctx.warm ? bench_warm_ops(p->rounds) : p->rounds;
    uint64_t chunks = bench_chunks(n), ok = 0, nomem = 0;
    unsigned order = (unsigned)p->order;
    struct bench_loop l;
    bench_loop_begin(&l, s, chunks);
    while (bench_loop_next(&l)) {
        uint64_t failed = 0;
        for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++) {
            bool sample = sampling && bench_should_sample(s);
            uint64_t a = sample ? plat_tsc_start() : 0;
            struct frame *f = frame_alloc_order(order, 0);
            if (likely(f))
                frame_free(f);
            else
                failed++;
            if (sample)
                bench_sample(s, cpu, plat_tsc_stop() - a, PATH_ALL);
        }
        if (bench_loop_measuring(&l)) { /* this chunk's phase: set by bench_loop_next */
            ok += BENCH_CHUNK_OPS - failed;
            nomem += failed;
        }
    }
    bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
    if (bench_counting()) {
        s->counter[CNT_OK] += ok;
        s->counter[CNT_NOMEM] += nomem;
    }
}

static void pair_job(void *arg)
{
    const struct contig_point *p = arg;
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    if (p->empty) {
        struct bench_loop l;
        uint64_t chunks = bench_chunks(bench_ctx.warm ? bench_warm_ops(p->rounds) : p->rounds);
        bench_loop_begin(&l, s, chunks);
        while (bench_loop_next(&l))
            for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++)
                __asm__ volatile("");
        bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
    } else if (bench_ctx.sampling) {
        pair_loop(p, s, cpu, true);
    } else {
        pair_loop(p, s, cpu, false);
    }
}

static void state_rows(const char *cas, unsigned cpus, const char *metric, bool frag)
{
    struct bench_point pt = {.bench = "contig", .cas = cas, .cpus = cpus};
    struct mm_stats st;
    char param[24];
    mm_pcp_drain_all(); /* blocks parked in per-CPU caches belong to the free lists here */
    mm_get_stats(&st);
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++) {
        plat_snprintf(param, sizeof param, "order=%u", o);
        bench_row_u(&pt, param, metric, st.free_blocks[o], "count");
        if (frag)
            bench_row(&pt, param, "frag_index", mm_fragmentation_index(o), "ratio");
    }
}

static struct bench_point set_pts[BENCH_SET_MAX];
static struct contig_point set_args[BENCH_SET_MAX];

static void attempt_point(struct bench_point *pt, struct contig_point *p, const char *cas,
                          unsigned cpus, uint64_t n, uint64_t align, int order,
                          bool fragmented)
{
    const struct bench_config *bc = bench_ctx.cfg;
    *p = (struct contig_point){.n = n, .align = align, .order = order, .depth = 1};
    if (!fragmented) {
        uint64_t fit = bc->contig_frames / (cpus * n);
        p->depth = fit < 1 ? 1 : fit > 8 ? 8 : fit;
    }
    p->rounds = bench_iters() / 1000 > 2 ? bench_iters() / 1000 : 2;
    *pt = (struct bench_point){.bench = "contig", .cas = cas, .cpus = cpus, .job = contig_job,
                               .arg = p, .sample_every = 1, .sample_in_runs = true,
                               .ops_per_run = p->rounds * p->depth};
    if (order >= 0)
        bench_param_add(pt->param, sizeof pt->param, "order=%d", order);
    else
        bench_param_add(pt->param, sizeof pt->param, "n=%llu;align=%llu", (unsigned long long)n,
                        (unsigned long long)align);
}

static void attempt_rows(const struct bench_point *pt)
{
    uint64_t attempts = bench_point_ops(pt);
    uint64_t ok = pt->counter[CNT_OK];
    if (attempts)
        bench_row(pt, NULL, "success_rate", (double)ok / (double)attempts, "ratio");
    bench_row_u(pt, NULL, "attempts", attempts, "count");
    uint64_t misaligned = pt->counter[CNT_MISALIGNED];
    uint64_t errors = pt->counter[CNT_ERRORS];
    if (misaligned || errors)
        bench_fail("contig %s %s cpus=%u: %llu blocks misaligned, %llu unexpected errors "
                   "(neither NOMEM nor OK)",
                   pt->cas, pt->param, pt->cpus, (unsigned long long)misaligned,
                   (unsigned long long)errors);
}

static void measure_attempts(unsigned n)
{
    bench_measure_set(set_pts, n);
    for (unsigned i = 0; i < n; i++)
        attempt_rows(&set_pts[i]);
}

static void run_case(const char *cas, bool fragmented)
{
    unsigned sets[2] = {1, bench_ctx.cpus}, nsets = bench_ctx.cpus > 1 ? 2 : 1;
    for (unsigned i = 0; i < nsets && !bench_ctx.failed; i++) {
        unsigned cpus = sets[i], n = 0;
        state_rows(cas, cpus, "free_blocks_before", true);
        for (int o = 0; o <= MM_MAX_ORDER; o++, n++)
            attempt_point(&set_pts[n], &set_args[n], cas, cpus, (uint64_t)1 << o,
                          (uint64_t)1 << o, o, fragmented);
        measure_attempts(n);
        n = 0;
        for (unsigned k = 0; k < sizeof npot_sizes / sizeof npot_sizes[0]; k++, n++)
            attempt_point(&set_pts[n], &set_args[n], cas, cpus, npot_sizes[k].n,
                          npot_sizes[k].align, -1, fragmented);
        if (!bench_ctx.failed)
            measure_attempts(n);
        state_rows(cas, cpus, "free_blocks_after", false);
    }
}

/* ---- pairs ------------------------------------------------------------------- */

static void pair_point(struct bench_point *pt, struct contig_point *p, unsigned cpus, int order,
                       bool cache_on)
{
    *p = (struct contig_point){.order = order, .empty = order < 0,
                               .rounds = bench_iters() / 8 ? bench_iters() / 8 : 1};
    const char *cas = order < 0 ? "pair_empty" : cache_on ? "pair_fresh" : "pair_buddy";
    *pt = (struct bench_point){.bench = "contig", .cas = cas, .cpus = cpus, .job = pair_job,
                               .arg = p, .ops_per_run = p->rounds};
    if (order >= 0)
        bench_param_add(pt->param, sizeof pt->param, "order=%d", order);
    else /* one empty loop per set, each set its cache setting */
        bench_param_add(pt->param, sizeof pt->param, "cache=%s", cache_on ? "on" : "off");
}

/* On all CPUs the pairs of the ends and of the cached orders suffice: with
 * the caches off every CPU queues on the arena lock, and eleven orders of
 * that cost minutes where CPUs outnumber the host's cores. */
static bool pair_order_on_all_cpus(int order)
{
    return order == 0 || order == 3 || order == 9 || order == MM_MAX_ORDER;
}

/* Every order through the caches (when they are on), then with them off. */
static void run_pairs(void)
{
    struct pcp_config orig, off;
    mm_pcp_get_config(&orig);
    off = orig;
    off.enabled = false;
    unsigned sets[2] = {1, bench_ctx.cpus}, nsets = bench_ctx.cpus > 1 ? 2 : 1;
    for (int on = orig.enabled; on >= 0 && !bench_ctx.failed; on--) {
        if (!on && !mm_pcp_configure(&off)) {
            bench_fail("contig: the allocator refused to switch its caches off");
            return;
        }
        for (unsigned i = 0; i < nsets && !bench_ctx.failed; i++) {
            unsigned n = 0;
            pair_point(&set_pts[n], &set_args[n], sets[i], -1, on);
            n++;
            for (int o = 0; o <= MM_MAX_ORDER; o++) {
                if (sets[i] > 1 && !pair_order_on_all_cpus(o))
                    continue;
                pair_point(&set_pts[n], &set_args[n], sets[i], o, on);
                set_pts[n++].empty = &set_pts[0];
            }
            bench_measure_set(set_pts, n);
            for (unsigned k = 1; k < n; k++) {
                uint64_t ops = bench_point_ops(&set_pts[k]);
                if (ops)
                    bench_row(&set_pts[k], NULL, "success_rate",
                              (double)set_pts[k].counter[CNT_OK] / (double)ops, "ratio");
            }
        }
    }
    if (!mm_pcp_configure(&orig))
        bench_fail("contig: the allocator refused its own cache configuration back");
}

/* ---- the fragmented region --------------------------------------------------- */

#define PIN_ORDER_MASK 0xfffu /* order kept in the low bits of a pinned block's pa */

#define RESERVE_PINS_MAX 256 /* units: the reserve is at most 64 MiB */

static struct {
    uint64_t *pins, npins, pins_cap, first_pinned;
    uint64_t *frames, nframes, region;
    struct frame *reserve_pins[RESERVE_PINS_MAX];
    unsigned nreserve_pins;
} fr;

static void pin_everything(void)
{
    fr.npins = 0;
    for (int o = MM_MAX_ORDER; o >= 0; o--) {
        uint64_t pa, size = (uint64_t)1 << o;
        while (fr.npins < fr.pins_cap && frame_alloc_contig(size, size, 0, &pa) == FRAME_OK)
            fr.pins[fr.npins++] = pa | (uint64_t)o;
    }
    /* What is left is the allocator's reserve (mm/buddy.c), which contiguous
     * requests leave alone: pinned too, or its blocks would serve the
     * fragmented case. */
    fr.nreserve_pins = 0;
    for (int o = MM_MAX_ORDER; o >= 0; o--) {
        struct frame *f;
        while (fr.nreserve_pins < RESERVE_PINS_MAX &&
               (f = frame_alloc_order((unsigned)o, FRAME_RESERVE | FRAME_UNIQUE)) != NULL)
            fr.reserve_pins[fr.nreserve_pins++] = f;
    }
}

/* One frame of the region back, below the reserve's watermark too: with
 * the reserve pinned the region is all the free memory there is, and the
 * watermark would leave a reserve's worth of it free.  A frame of its own
 * (UNIQUE, order 0), so frame_free_contig releases it like the others. */
static bool take_frame(uint64_t *pa)
{
    struct frame *f = frame_alloc(FRAME_RESERVE | FRAME_UNIQUE);
    if (f == NULL)
        return false;
    *pa = frame_pa(f);
    return true;
}

static void free_pin(uint64_t i)
{
    uint64_t o = fr.pins[i] & PIN_ORDER_MASK;
    frame_free_contig(fr.pins[i] & ~(uint64_t)PIN_ORDER_MASK, (uint64_t)1 << o);
}

static bool fragment(void)
{
    struct mm_stats st;
    uint64_t blocks = 0;
    mm_pcp_drain_all();
    mm_get_stats(&st);
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        blocks += st.free_blocks[o];
    fr.region = bench_ctx.cfg->contig_frames;
    fr.pins_cap = blocks + 64; /* the two allocations below split a few blocks */
    fr.pins = bench_scratch_alloc(fr.pins_cap * sizeof(uint64_t));
    fr.frames = bench_scratch_alloc(fr.region * sizeof(uint64_t));
    if (!fr.pins || !fr.frames) {
        bench_fail("contig fragmented: no scratch for %llu pins and %llu frames",
                   (unsigned long long)fr.pins_cap, (unsigned long long)fr.region);
        return false;
    }
    pin_everything();
    /* Give back the largest pinned blocks until the region is covered. */
    uint64_t released = 0;
    fr.first_pinned = 0;
    while (released < fr.region && fr.first_pinned < fr.npins) {
        released += (uint64_t)1 << (fr.pins[fr.first_pinned] & PIN_ORDER_MASK);
        free_pin(fr.first_pinned++);
    }
    /* Take it all back one frame at a time, then free a random half. */
    fr.nframes = 0;
    uint64_t pa;
    while (fr.nframes < fr.region && take_frame(&pa))
        fr.frames[fr.nframes++] = pa;
    uint64_t rng = rng_split(&(uint64_t){bench_ctx.cfg->seed ^ 0xc0117e5ull});
    for (uint64_t i = fr.nframes; i > 1; i--) {
        uint64_t j = rng_below(&rng, i), t = fr.frames[i - 1];
        fr.frames[i - 1] = fr.frames[j];
        fr.frames[j] = t;
    }
    for (uint64_t i = 0; i < fr.nframes / 2; i++)
        frame_free_contig(fr.frames[i], 1);

    mm_get_stats(&st);
    struct bench_point pt = {.bench = "contig", .cas = "fragmented", .cpus = 1};
    bench_row_u(&pt, NULL, "region_frames", fr.nframes, "count");
    uint64_t pinned = 0;
    for (uint64_t i = fr.first_pinned; i < fr.npins; i++)
        pinned += (uint64_t)1 << (fr.pins[i] & PIN_ORDER_MASK);
    for (unsigned i = 0; i < fr.nreserve_pins; i++)
        pinned += (uint64_t)1 << frame_order(fr.reserve_pins[i]);
    bench_row_u(&pt, NULL, "pinned_frames", pinned, "count");
    bench_row_u(&pt, NULL, "free_frames", st.free_frames, "count");
    plat_log("bench: contig: fragmented region of %llu frames, %llu free in it, %llu pinned "
             "blocks\n",
             (unsigned long long)fr.nframes, (unsigned long long)st.free_frames,
             (unsigned long long)(fr.npins - fr.first_pinned));
    return true;
}

static void unfragment(void)
{
    for (uint64_t i = fr.nframes / 2; i < fr.nframes; i++)
        frame_free_contig(fr.frames[i], 1);
    for (uint64_t i = fr.first_pinned; i < fr.npins; i++)
        free_pin(i);
    for (unsigned i = 0; i < fr.nreserve_pins; i++)
        frame_free(fr.reserve_pins[i]);
}

void bench_contig(void)
{
    mm_pcp_drain_all();
    run_case("fresh", false);
    if (!bench_ctx.failed)
        run_pairs();
    if (bench_ctx.failed || !fragment())
        return;
    run_case("fragmented", true);
    if (!bench_ctx.failed)
        unfragment();
}
