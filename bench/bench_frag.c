/*
 * bench_frag.c - aging: can 2 MiB frames still be had after a long mix of
 * short- and long-lived allocations? (bench=frag; after mmtests'
 * stress-highalloc and LLFree's fragmentation runs).
 *
 * The workload (bench/README.md has the definition another allocator needs):
 * M = the free frames when the benchmark starts (caches drained).  Each CPU
 * of the n keeps a window of short-lived units of at most
 * W = M * frag_live% / n frames and a list of long-lived ones.  A cycle is
 * two dispatches on all n CPUs at once:
 *   churn    each CPU allocates units (order 0: 88 %, 1: 6 %, 2: 4 %,
 *            3: 2 %, FRAME_UNIQUE) until it has allocated 3 W frames in the
 *            cycle.  A unit is long-lived with probability
 *            1.25 L / (3 W), L = M * frag_long% / (n * frag_cycles) (the
 *            CPU's long-lived quota per cycle), while the CPU's long-lived
 *            frames are below its quota for the cycles so far; otherwise
 *            it enters the window, first evicting (freeing) uniformly
 *            random units of the window until it fits.
 *   foreign  CPU c frees every unit left in the window of CPU (c+1) mod n:
 *            about a third of the short-lived frees come from a foreign CPU.
 * Then, on CPU 0 at a quiescent point (every cache drained): rows of the
 * state and a burst of order-9 allocations (below).  Long-lived units stay
 * until the last cycle, when every CPU frees its own.  Randomness: one
 * xorshift stream per CPU from seed= (the same streams for both policies).
 *
 * The whole run is done twice in one boot, policy off then on
 * (mm_antifrag_set), and the policy in force before is restored.
 *
 * Rows, case "aging", param policy=on|off;cycle=<c> (cycle 0: before the
 * first cycle):
 *   live_frames        frames the workload holds (long-lived only, here)
 *   free_frames        free frames (buddy lists; caches drained)
 *   huge_free_frames   free frames in free blocks of order >= 9
 *   huge_blocks        the same in 2 MiB blocks
 *   ideal_huge_blocks  what perfect packing of the live frames would leave:
 *                      the 2 MiB blocks free at the start minus
 *                      ceil(live_frames / 512)
 *   huge_avail_ratio   huge_blocks / ideal_huge_blocks
 *   frag_index_4, frag_index_9  the unusable free space index (Gorman)
 *   burst_requests     ideal_huge_blocks order-9 allocations on CPU 0 (with
 *                      FRAME_RESERVE: the reserve's blocks count too), each
 *                      timed, stopping at the first failure; all released
 *   huge_alloc_success the fraction of them that succeeded
 *   burst_ns_p50 .. burst_ns_p999, burst_samples  their latency
 *   churn_ns_per_op    mean time per allocation in the churn (alloc,
 *                      evictions and bookkeeping included), churn_overlap_frac
 *                      the fraction of the CPUs' churn windows' span in
 *                      which all of them ran (1 CPU: 1)
 * and per policy (param policy=on|off): nomem (failed allocations: the
 * workload is sized never to see one), remote_frees (pcp statistics),
 * reservations (regions the policy reserved), long_frames.
 */
#include "bench/bench_int.h"

#define FRAG_REGION_FRAMES 512u /* 2 MiB */
#define FRAG_CHURN_FACTOR 3     /* frames allocated per cycle, in windows */

struct frag_cpu {
    struct frame **win;  /* short-lived units */
    uint64_t win_n, win_cap, win_frames;
    struct frame **lng;  /* long-lived units */
    uint64_t lng_n, lng_cap, lng_frames;
    uint64_t rng;
    uint64_t nomem, ops;
    uint64_t t_begin, t_end;
} __attribute__((aligned(CACHE_LINE_SIZE)));

static struct {
    struct frag_cpu cpu[PLAT_MAX_CPUS];
    unsigned cpus;
    uint64_t win_frames;      /* W: per-CPU window bound */
    uint64_t churn_frames;    /* per CPU per cycle */
    uint64_t long_quota;      /* L: per CPU per cycle */
    uint64_t long_thresh;     /* probability * 2^32 */
    unsigned cycle;           /* 0-based, read by the churn job */
    uint64_t base_allocated;  /* allocated frames before the workload */
    uint64_t huge_at_start;   /* free 2 MiB blocks before the workload */
    struct frame **burst;
    uint64_t *burst_cycles;
} fx;

/* Order mix, cumulative out of 100. */
static unsigned frag_pick_order(uint64_t *rng)
{
    uint64_t x = rng_below(rng, 100);
    return x < 88 ? 0 : x < 94 ? 1 : x < 98 ? 2 : 3;
}

static void frag_evict(struct frag_cpu *c)
{
    uint64_t i = rng_below(&c->rng, c->win_n);
    struct frame *f = c->win[i];
    c->win[i] = c->win[--c->win_n];
    c->win_frames -= (uint64_t)1 << frame_order(f);
    frame_free(f);
}

static void frag_churn_job(void *arg)
{
    (void)arg;
    struct frag_cpu *c = &fx.cpu[plat_cpu_index()];
    uint64_t quota = fx.long_quota * (fx.cycle + 1), got = 0;
    c->t_begin = plat_tsc_start();
    c->ops = 0;
    while (got < fx.churn_frames) {
        unsigned order = frag_pick_order(&c->rng);
        uint64_t size = (uint64_t)1 << order;
        bool lng = c->lng_frames + size <= quota && c->lng_n < c->lng_cap &&
                   (rng_next(&c->rng) >> 32) < fx.long_thresh;
        if (!lng)
            while (c->win_n && (c->win_frames + size > fx.win_frames || c->win_n == c->win_cap))
                frag_evict(c);
        struct frame *f = frame_alloc_order(order, FRAME_UNIQUE | (lng ? FRAME_LONG_LIVED : 0));
        c->ops++;
        got += size; /* a failed request counts, or a full memory would never end the cycle */
        if (!f) {
            c->nomem++;
            continue;
        }
        if (lng) {
            c->lng[c->lng_n++] = f;
            c->lng_frames += size;
        } else {
            c->win[c->win_n++] = f;
            c->win_frames += size;
        }
    }
    c->t_end = plat_tsc_stop();
}

static void frag_foreign_job(void *arg)
{
    (void)arg;
    unsigned cpu = plat_cpu_index();
    struct frag_cpu *c = &fx.cpu[(cpu + 1) % fx.cpus];
    while (c->win_n)
        frame_free(c->win[--c->win_n]);
    c->win_frames = 0;
}

static void frag_release_job(void *arg)
{
    (void)arg;
    struct frag_cpu *c = &fx.cpu[plat_cpu_index()];
    while (c->lng_n)
        frame_free(c->lng[--c->lng_n]);
    c->lng_frames = 0;
}

/* Free 2 MiB blocks now (caches drained). */
static uint64_t frag_huge_blocks(const struct mm_stats *st)
{
    uint64_t frames = 0;
    for (unsigned o = 9; o <= MM_MAX_ORDER; o++)
        frames += st->free_blocks[o] << o;
    return frames / FRAG_REGION_FRAMES;
}

/* CPU 0, quiescent: the state rows and the order-9 burst of one cycle. */
static void frag_measure(const char *policy, unsigned cycle, double churn_cpo, double overlap)
{
    struct bench_point pt = {.bench = "frag", .cas = "aging", .cpus = fx.cpus};
    struct mm_stats st;
    bench_param_add(pt.param, sizeof pt.param, "policy=%s;cycle=%u", policy, cycle);
    mm_pcp_drain_all();
    mm_get_stats(&st);
    uint64_t live = st.allocated_frames - fx.base_allocated;
    uint64_t huge = frag_huge_blocks(&st);
    uint64_t pinned = (live + FRAG_REGION_FRAMES - 1) / FRAG_REGION_FRAMES;
    uint64_t ideal = fx.huge_at_start > pinned ? fx.huge_at_start - pinned : 0;
    bench_row_u(&pt, NULL, "live_frames", live, "count");
    bench_row_u(&pt, NULL, "free_frames", st.free_frames, "count");
    bench_row_u(&pt, NULL, "huge_free_frames", huge * FRAG_REGION_FRAMES, "count");
    bench_row_u(&pt, NULL, "huge_blocks", huge, "count");
    bench_row_u(&pt, NULL, "ideal_huge_blocks", ideal, "count");
    if (ideal)
        bench_row(&pt, NULL, "huge_avail_ratio", (double)huge / (double)ideal, "ratio");
    bench_row(&pt, NULL, "frag_index_4", mm_fragmentation_index(4), "ratio");
    bench_row(&pt, NULL, "frag_index_9", mm_fragmentation_index(9), "ratio");
    if (cycle > 0) {
        bench_row(&pt, NULL, "churn_ns_per_op", bench_cycles_to_ns(churn_cpo), bench_ctx.unit_ns);
        bench_row(&pt, NULL, "churn_overlap_frac", overlap, "ratio");
    }
    uint64_t ok = 0;
    while (ok < ideal) {
        uint64_t a = plat_tsc_start();
        /* FRAME_RESERVE: the burst counts the 2 MiB blocks the free lists
         * hold, the allocator's small reserve (mm/buddy.c) included. */
        struct frame *f = frame_alloc_order(9, FRAME_UNIQUE | FRAME_RESERVE);
        uint64_t b = plat_tsc_stop();
        if (!f)
            break;
        fx.burst_cycles[ok] = b - a > bench_ctx.slot[0].timer_overhead
                                  ? b - a - bench_ctx.slot[0].timer_overhead
                                  : 0;
        fx.burst[ok++] = f;
    }
    for (uint64_t i = 0; i < ok; i++)
        frame_free(fx.burst[i]);
    mm_pcp_drain_all();
    bench_row_u(&pt, NULL, "burst_requests", ideal, "count");
    if (ideal)
        bench_row(&pt, NULL, "huge_alloc_success", (double)ok / (double)ideal, "ratio");
    if (ok)
        bench_latency_rows(&pt, "burst", fx.burst_cycles, ok, "all");
}

/* Mean cycles per churn allocation and the overlap of the CPUs' windows. */
static void frag_churn_figures(double *cpo, double *overlap)
{
    uint64_t first = UINT64_MAX, last = 0, late_begin = 0, early_end = UINT64_MAX;
    double sum = 0;
    for (unsigned i = 0; i < fx.cpus; i++) {
        const struct frag_cpu *c = &fx.cpu[i];
        sum += c->ops ? (double)(c->t_end - c->t_begin) / (double)c->ops : 0;
        first = c->t_begin < first ? c->t_begin : first;
        last = c->t_end > last ? c->t_end : last;
        late_begin = c->t_begin > late_begin ? c->t_begin : late_begin;
        early_end = c->t_end < early_end ? c->t_end : early_end;
    }
    *cpo = sum / fx.cpus;
    *overlap = last > first && early_end > late_begin
                   ? (double)(early_end - late_begin) / (double)(last - first)
                   : 0;
}

static void frag_run_policy(bool on)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    const char *policy = on ? "on" : "off";
    struct bench_point pt = {.bench = "frag", .cas = "aging", .cpus = fx.cpus};
    struct mm_antifrag_stats af;
    uint64_t remote = 0;
    bench_param_add(pt.param, sizeof pt.param, "policy=%s", policy);
    if (!mm_antifrag_set(on)) {
        bench_fail("frag: the allocator refused to switch its anti-fragmentation policy %s",
                   policy);
        return;
    }
    mm_pcp_stats_reset();
    for (unsigned i = 0; i < fx.cpus; i++) {
        struct frag_cpu *c = &fx.cpu[i];
        c->win_n = c->win_frames = c->lng_n = c->lng_frames = c->nomem = 0;
        c->rng = rng_split(&(uint64_t){cfg->seed ^ 0xa9e5ull ^ ((uint64_t)i << 32)});
    }
    frag_measure(policy, 0, 0, 0);
    for (unsigned k = 0; k < cfg->frag_cycles && !bench_ctx.failed; k++) {
        double cpo, overlap;
        fx.cycle = k;
        plat_run_on_cpus(fx.cpus, frag_churn_job, NULL);
        plat_run_on_cpus(fx.cpus, frag_foreign_job, NULL);
        frag_churn_figures(&cpo, &overlap);
        frag_measure(policy, k + 1, cpo, overlap);
        plat_log("bench: frag: policy %s cycle %u done\n", policy, k + 1);
    }
    uint64_t nomem = 0, long_frames = 0;
    for (unsigned i = 0; i < fx.cpus; i++) {
        nomem += fx.cpu[i].nomem;
        long_frames += fx.cpu[i].lng_frames;
        struct pcp_stats ps;
        mm_pcp_stats(i, &ps);
        remote += ps.remote_frees;
    }
    mm_antifrag_stats(&af);
    plat_run_on_cpus(fx.cpus, frag_release_job, NULL);
    bench_row_u(&pt, NULL, "nomem", nomem, "count");
    bench_row_u(&pt, NULL, "remote_frees", remote, "count");
    bench_row_u(&pt, NULL, "reservations", af.reservations, "count");
    bench_row_u(&pt, NULL, "region_frames", af.region_frames, "count");
    bench_row_u(&pt, NULL, "fallback_frames", af.fallback_frames, "count");
    bench_row_u(&pt, NULL, "foreign_drained", af.foreign_drained, "count");
    bench_row_u(&pt, NULL, "long_region_frames", af.long_frames, "count");
    bench_row_u(&pt, NULL, "long_frames", long_frames, "count");
}

void bench_frag(void)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    struct mm_stats st;
    fx.cpus = bench_ctx.cpus;
    mm_pcp_drain_all();
    mm_get_stats(&st);
    uint64_t m = st.free_frames;
    fx.win_frames = m * cfg->frag_live_pct / 100 / fx.cpus;
    fx.churn_frames = FRAG_CHURN_FACTOR * fx.win_frames;
    fx.long_quota = m * cfg->frag_long_pct / 100 / ((uint64_t)fx.cpus * cfg->frag_cycles);
    uint64_t p = fx.churn_frames ? (fx.long_quota * 5 / 4 << 32) / fx.churn_frames : 0;
    fx.long_thresh = p > UINT32_MAX ? UINT32_MAX : p;
    /* Entries: every unit is at least one frame. */
    uint64_t long_cap = fx.long_quota * cfg->frag_cycles;
    for (unsigned i = 0; i < fx.cpus; i++) {
        struct frag_cpu *c = &fx.cpu[i];
        c->win_cap = fx.win_frames ? fx.win_frames : 1;
        c->lng_cap = long_cap ? long_cap : 1;
        c->win = bench_scratch_alloc(c->win_cap * sizeof(struct frame *));
        c->lng = bench_scratch_alloc(c->lng_cap * sizeof(struct frame *));
        if (!c->win || !c->lng) {
            bench_fail("frag: no scratch for the unit lists of cpu %u (%llu + %llu entries)", i,
                       (unsigned long long)c->win_cap, (unsigned long long)c->lng_cap);
            return;
        }
    }
    uint64_t burst_cap = m / FRAG_REGION_FRAMES + 1;
    fx.burst = bench_scratch_alloc(burst_cap * sizeof(struct frame *));
    fx.burst_cycles = bench_scratch_alloc(burst_cap * sizeof(uint64_t));
    if (!fx.burst || !fx.burst_cycles) {
        bench_fail("frag: no scratch for a burst of %llu blocks", (unsigned long long)burst_cap);
        return;
    }
    mm_pcp_drain_all();
    mm_get_stats(&st);
    fx.base_allocated = st.allocated_frames;
    fx.huge_at_start = frag_huge_blocks(&st);
    plat_log("bench: frag: %llu free frames, %llu free 2 MiB blocks; per CPU a window of "
             "%llu frames, %llu long-lived frames per cycle, %u cycles\n",
             (unsigned long long)st.free_frames, (unsigned long long)fx.huge_at_start,
             (unsigned long long)fx.win_frames, (unsigned long long)fx.long_quota,
             cfg->frag_cycles);
    bool orig = mm_antifrag_enabled();
    frag_run_policy(false);
    if (!bench_ctx.failed)
        frag_run_policy(true);
    if (!mm_antifrag_set(orig))
        bench_fail("frag: the allocator refused its own anti-fragmentation policy back");
}
