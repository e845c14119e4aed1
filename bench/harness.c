/*
 * harness.c - the machinery every benchmark shares (bench_run() itself is
 * in run.c).
 *
 * A run: meta.csv first (so a run that dies still says what it was), then each
 * selected benchmark in enum bench_id order:
 *   # progress: <bench> start
 *   the benchmark (measurement points, each = warm-up + runs= timed dispatches)
 *   its scratch memory returned, caches drained, mm_check + frame conservation
 *   its rows as one results.csv block and one hist.csv block
 *   # progress: <bench> done (<secs> s)
 * and last `@@VERDICT pass|check-failed`.  The host concatenates same-name
 * blocks, so every benchmark's figures are safe on the wire before the next
 * one starts.  After a failed invariant nothing more touches the allocator:
 * the remaining benchmarks are skipped and the verdict is check-failed.
 *
 * Timing: every CPU of a point times its own loop with the fenced TSC
 * (plat_tsc_start/stop); ns_per_op and cycles_per_op of a run are the mean
 * over CPUs of cycles/ops, mops is all CPUs' operations over the longest
 * CPU's time.  Latencies come from separate sampling passes (the same
 * runs again, not part of the figures above) in which every k-th operation
 * is timed alone (k = sample_every, raised so the samples fit the buffers);
 * the cost of an empty timed region, measured once, is subtracted from each
 * sample.  contig, which times every attempt anyway, samples in its runs.
 *
 * Memory: buffers (samples, per-CPU work areas, the output text) are frames
 * from the allocator under test (frame_alloc_contig), so the harness needs no
 * large static arrays and runs unchanged in the kernel and on the host; the
 * frames allocated at the start of a benchmark define its conservation
 * baseline.
 */
#include <stdarg.h>

#include "bench/bench_int.h"

struct bench_ctx bench_ctx;

#define CONTIG_MAX_FRAMES ((uint64_t)1 << MM_MAX_ORDER)

/* ---- scratch memory -------------------------------------------------------- */

#define SCRATCH_MAX (PLAT_MAX_CPUS + 64)
static struct {
    uint64_t pa, frames;
} scratch[SCRATCH_MAX];
static unsigned scratch_count;
static unsigned scratch_keep; /* entries below this live for the whole run */

void *bench_scratch_alloc(uint64_t bytes)
{
    uint64_t frames = (bytes + PAGE_SIZE - 1) / PAGE_SIZE, pa;
    if (frames == 0 || frames > CONTIG_MAX_FRAMES || scratch_count == SCRATCH_MAX)
        return NULL;
    if (frame_alloc_contig(frames, 1, FRAME_ZERO, &pa) != FRAME_OK)
        return NULL;
    scratch[scratch_count].pa = pa;
    scratch[scratch_count].frames = frames;
    scratch_count++;
    return plat_phys_to_virt(pa);
}

void bench_scratch_release(void)
{
    while (scratch_count > scratch_keep) {
        scratch_count--;
        frame_free_contig(scratch[scratch_count].pa, scratch[scratch_count].frames);
    }
}

uint64_t bench_scratch_frames(void)
{
    uint64_t frames = 0;
    for (unsigned i = scratch_keep; i < scratch_count; i++)
        frames += scratch[i].frames;
    return frames;
}

void bench_scratch_keep(void)
{
    scratch_keep = scratch_count;
}

void bench_scratch_release_all(void)
{
    scratch_keep = 0;
    bench_scratch_release();
}

/* ---- failures, params, rows ------------------------------------------------ */

void bench_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    plat_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    plat_log("bench: CHECK FAILED: %s\n", msg);
    bench_ctx.failed = true;
}

void bench_param_add(char *param, size_t cap, const char *fmt, ...)
{
    size_t len = 0;
    while (len < cap && param[len])
        len++;
    if (len > 0 && len + 1 < cap)
        param[len++] = ';';
    va_list ap;
    va_start(ap, fmt);
    plat_vsnprintf(param + len, cap - len, fmt, ap);
    va_end(ap);
}

double bench_cycles_to_ns(double cycles)
{
    return cycles * 1e6 / (double)bench_ctx.tsc_khz;
}

static void format_double(char *buf, size_t cap, double v)
{
    double a = v < 0 ? -v : v;
    if (a >= 1e15)
        plat_snprintf(buf, cap, "%.0f", v < 0 ? -1e15 : 1e15);
    else if (a >= 1e5)
        plat_snprintf(buf, cap, "%.0f", v);
    else if (a >= 100)
        plat_snprintf(buf, cap, "%.2f", v);
    else if (a >= 1)
        plat_snprintf(buf, cap, "%.3f", v);
    else
        plat_snprintf(buf, cap, "%.6f", v);
}

static void emit_row(const struct bench_point *pt, const char *param_extra, const char *metric,
                     const char *value, const char *unit)
{
    char cpus[16], param[160];
    plat_snprintf(cpus, sizeof cpus, "%u", pt->cpus);
    plat_snprintf(param, sizeof param, "%s", pt->param);
    if (param_extra && param_extra[0])
        bench_param_add(param, sizeof param, "%s", param_extra);
    const char *fields[] = {pt->bench, pt->cas, cpus, param, metric, value, unit};
    csv_block_row(&bench_ctx.results, fields, 7);
}

void bench_row(const struct bench_point *pt, const char *param_extra, const char *metric,
               double value, const char *unit)
{
    char text[48];
    if (value != value) /* NaN: a figure without data is not sent */
        return;
    format_double(text, sizeof text, value);
    emit_row(pt, param_extra, metric, text, unit);
}

void bench_row_u(const struct bench_point *pt, const char *param_extra, const char *metric,
                 uint64_t value, const char *unit)
{
    char text[24];
    plat_snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    emit_row(pt, param_extra, metric, text, unit);
}

static const char *const path_names[PATH_COUNT] = {
    [PATH_ALL] = "all", [PATH_HIT] = "hit", [PATH_MISS] = "miss", [PATH_GLOBAL] = "global"};

static void hist_rows(const struct bench_point *pt, const char *path, const uint64_t *cycles,
                      size_t n)
{
    static struct histogram h; /* CPU 0 only; too big for a kernel stack */
    hist_clear(&h);
    for (size_t i = 0; i < n; i++)
        hist_add(&h, (uint64_t)(bench_cycles_to_ns((double)cycles[i]) + 0.5));
    char cpus[16], lo_s[24], hi_s[24], count_s[24];
    plat_snprintf(cpus, sizeof cpus, "%u", pt->cpus);
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        if (!h.count[b])
            continue;
        uint64_t lo, hi;
        hist_bounds(b, &lo, &hi);
        plat_snprintf(lo_s, sizeof lo_s, "%llu", (unsigned long long)lo);
        plat_snprintf(hi_s, sizeof hi_s, "%llu", (unsigned long long)hi);
        plat_snprintf(count_s, sizeof count_s, "%llu", (unsigned long long)h.count[b]);
        const char *fields[] = {pt->bench, pt->cas, cpus, pt->param, path, lo_s, hi_s,
                                count_s, "ns"};
        csv_block_row(&bench_ctx.hist, fields, 9);
    }
}

void bench_latency_rows(const struct bench_point *pt, const char *prefix, uint64_t *cycles,
                        size_t n, const char *path)
{
    static const struct {
        const char *name;
        double q;
    } pct[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};
    char metric[48];
    if (n == 0)
        return;
    stats_sort_u64(cycles, n);
    for (unsigned i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        double ns = bench_cycles_to_ns(stats_quantile_u64(cycles, n, pct[i].q));
        if (prefix)
            plat_snprintf(metric, sizeof metric, "%s_ns_%s", prefix, pct[i].name);
        else
            plat_snprintf(metric, sizeof metric, "%s_ns", pct[i].name);
        bench_row(pt, NULL, metric, ns, "ns");
    }
    plat_snprintf(metric, sizeof metric, "%s%ssamples", prefix ? prefix : "", prefix ? "_" : "");
    bench_row_u(pt, NULL, metric, n, "count");
    if (path)
        hist_rows(pt, path, cycles, n);
}

/* ---- timed runs ------------------------------------------------------------ */

uint64_t bench_iters(void)
{
    return bench_ctx.cfg->iters;
}

unsigned bench_cpu_sweep(unsigned cpus, unsigned *out, unsigned cap)
{
    unsigned n = 0;
    for (unsigned c = 1; c < cpus && n < cap; c *= 2)
        out[n++] = c;
    if (n < cap)
        out[n++] = cpus;
    return n;
}

static void reset_slots(unsigned cpus)
{
    for (unsigned c = 0; c < cpus; c++) {
        struct bench_slot *s = &bench_ctx.slot[c];
        s->cycles = s->ops = 0;
        __builtin_memset(s->counter, 0, sizeof s->counter);
        s->nsamples = 0;
        s->sample_skip = 0;
    }
}

/* Pools every CPU's samples of one path (all paths for PATH_COUNT). */
static size_t gather_samples(unsigned cpus, enum sample_path want)
{
    size_t n = 0;
    for (unsigned c = 0; c < cpus; c++) {
        for (uint64_t i = 0; i < bench_ctx.slot[c].nsamples; i++) {
            uint64_t s = bench_ctx.samples[c][i];
            if (want == PATH_COUNT || (s >> SAMPLE_PATH_SHIFT) == want)
                bench_ctx.merge[n++] = s & SAMPLE_CYCLES_MASK;
        }
    }
    return n;
}

static void timing_rows(const struct bench_point *pt)
{
    double ns[BENCH_MAX_RUNS], cyc[BENCH_MAX_RUNS], mops[BENCH_MAX_RUNS];
    unsigned runs = 0;
    for (unsigned r = 0; r < bench_ctx.run_count; r++) {
        const struct bench_run_figures *f = &bench_ctx.figures[r];
        if (f->ops == 0)
            continue;
        char run[16];
        plat_snprintf(run, sizeof run, "run=%u", r);
        ns[runs] = bench_cycles_to_ns(f->cycles_per_op);
        cyc[runs] = f->cycles_per_op;
        mops[runs] = f->mops;
        bench_row(pt, run, "ns_per_op", ns[runs], "ns");
        bench_row(pt, run, "cycles_per_op", cyc[runs], "cycles");
        bench_row(pt, run, "mops", mops[runs], "mops");
        runs++;
    }
    if (runs == 0)
        return;
    stats_sort_double(ns, runs);
    stats_sort_double(cyc, runs);
    stats_sort_double(mops, runs);
    bench_row(pt, NULL, "ns_per_op_median", stats_quantile_double(ns, runs, 0.5), "ns");
    bench_row(pt, NULL, "ns_per_op_min", ns[0], "ns");
    bench_row(pt, NULL, "ns_per_op_max", ns[runs - 1], "ns");
    bench_row(pt, NULL, "cycles_per_op_median", stats_quantile_double(cyc, runs, 0.5), "cycles");
    bench_row(pt, NULL, "mops_median", stats_quantile_double(mops, runs, 0.5), "mops");
}

/* CPU 0 after a timed dispatch: the run's figures from the slots. */
static void collect_run(unsigned cpus)
{
    struct bench_run_figures *f = &bench_ctx.figures[bench_ctx.run_count++];
    double sum_cpo = 0;
    unsigned counted = 0;
    uint64_t max_cycles = 0;
    f->ops = 0;
    for (unsigned c = 0; c < cpus; c++) {
        const struct bench_slot *s = &bench_ctx.slot[c];
        if (s->ops == 0)
            continue; /* an idle CPU (odd one out of producer/consumer pairs) */
        sum_cpo += (double)s->cycles / (double)s->ops;
        counted++;
        f->ops += s->ops;
        if (s->cycles > max_cycles)
            max_cycles = s->cycles;
    }
    f->cycles_per_op = counted ? sum_cpo / counted : 0;
    f->mops = max_cycles ? (double)f->ops * (double)bench_ctx.tsc_khz / ((double)max_cycles * 1000.0)
                         : 0;
}

static void measure(const struct bench_point *pt, plat_job_fn job, void *arg, bool warm_up)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    uint64_t wanted = pt->ops_per_run * cfg->runs;
    uint64_t stride = pt->sample_every ? pt->sample_every : cfg->sample_every;
    if (wanted / stride > bench_ctx.sample_cap)
        stride = (wanted + bench_ctx.sample_cap - 1) / bench_ctx.sample_cap;
    bench_ctx.stride = stride;
    reset_slots(pt->cpus);
    if (warm_up) {
        bench_ctx.warm = true;
        plat_run_on_cpus(pt->cpus, job, arg);
        bench_ctx.warm = false;
        reset_slots(pt->cpus);
    }
    bench_ctx.run_count = 0;
    bench_ctx.sampling = pt->sample_in_runs;
    for (unsigned r = 0; r < cfg->runs; r++) {
        bench_ctx.run = r;
        for (unsigned c = 0; c < pt->cpus; c++)
            bench_ctx.slot[c].cycles = bench_ctx.slot[c].ops = 0;
        plat_run_on_cpus(pt->cpus, job, arg);
        collect_run(pt->cpus);
    }
    bench_ctx.sampling = false;
    timing_rows(pt);
}

void bench_sample_pass(const struct bench_point *pt, plat_job_fn job, void *arg)
{
    bench_ctx.sampling = bench_ctx.sample_pass = true;
    for (unsigned r = 0; r < bench_ctx.cfg->runs; r++) {
        bench_ctx.run = r;
        plat_run_on_cpus(pt->cpus, job, arg);
    }
    bench_ctx.sampling = bench_ctx.sample_pass = false;
}

void bench_measure(const struct bench_point *pt, plat_job_fn job, void *arg)
{
    measure(pt, job, arg, true);
}

void bench_measure_cold(const struct bench_point *pt, plat_job_fn job, void *arg)
{
    measure(pt, job, arg, false);
}

void bench_point_latency(const struct bench_point *pt, bool by_path)
{
    size_t n = gather_samples(pt->cpus, PATH_COUNT);
    bench_latency_rows(pt, NULL, bench_ctx.merge, n, by_path ? NULL : path_names[PATH_ALL]);
    if (!by_path)
        return;
    for (unsigned p = PATH_HIT; p < PATH_COUNT; p++) {
        n = gather_samples(pt->cpus, (enum sample_path)p);
        bench_latency_rows(pt, path_names[p], bench_ctx.merge, n, path_names[p]);
    }
}

uint64_t bench_total_ops(void)
{
    uint64_t ops = 0;
    for (unsigned r = 0; r < bench_ctx.run_count; r++)
        ops += bench_ctx.figures[r].ops;
    return ops;
}

void bench_warm_up(unsigned cpus, plat_job_fn job, void *arg)
{
    bench_ctx.warm = true;
    plat_run_on_cpus(cpus, job, arg);
    bench_ctx.warm = false;
}

uint64_t bench_counter_sum(unsigned cpus, unsigned index)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < cpus; c++)
        sum += bench_ctx.slot[c].counter[index];
    return sum;
}
