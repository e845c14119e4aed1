/*
 * harness.c - the machinery every benchmark shares (bench_run() itself is
 * in run.c; the scheme of sets, loops and windows is described in
 * bench_int.h).
 *
 * Figures of one timed run of a point, from its CPUs' slots (window
 * w_c = [b_c, e_c] of each CPU that ran a loop, g_c the gaps detected in it,
 * span = max e - min b):
 *   cycles_per_op   mean over the CPUs that counted operations of
 *                   (|w_c| - g_c) / their operations: time working, not time
 *                   descheduled (contig attempts: the sum of the timed
 *                   attempts instead)
 *   mops            all CPUs' operations over the longest |w_c| (wall clock)
 *   desched_frac    sum g_c / sum |w_c| (every point)
 *   (cpus >= 2)
 *   overlap_frac    (min e - max b) / span, 0 when some windows are disjoint
 *   concurrency     sum (|w_c| - g_c) / span: CPUs working on average
 *   start_skew      max b - min b
 * A point is `concurrent` when the medians over its runs say every CPU ran at
 * once: overlap_frac >= 0.9, concurrency >= 0.9 x CPUs, desched_frac <= 0.1,
 * and the TSC does not count instructions (under icount the vCPUs take turns:
 * never concurrent).
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
    if (!bench_ctx.failed)
        plat_snprintf(bench_ctx.failure, sizeof bench_ctx.failure, "%s", msg);
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
                                count_s, bench_ctx.unit_ns};
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
        bench_row(pt, NULL, metric, ns, bench_ctx.unit_ns);
    }
    plat_snprintf(metric, sizeof metric, "%s%ssamples", prefix ? prefix : "", prefix ? "_" : "");
    bench_row_u(pt, NULL, metric, n, "count");
    if (path)
        hist_rows(pt, path, cycles, n);
}

/* ---- the loop ------------------------------------------------------------ */

void bench_loop_begin(struct bench_loop *l, struct bench_slot *s, uint64_t chunks)
{
    l->s = s;
    l->chunks = l->left = chunks ? chunks : 1;
    l->min_chunk = UINT64_MAX;
    l->warm_chunks = 0;
    l->phase = LOOP_WARM;
    s->loop_state = LOOP_WARM;
    s->gap_cycles = 0;
    atomic_fetch_add_explicit(&bench_ctx.loop_arrived, 1, memory_order_relaxed);
    l->last = plat_tsc();
}

static void loop_finish(struct bench_slot *s, uint64_t t_end)
{
    s->t_end = t_end;
    s->loop_state = LOOP_COOL;
    atomic_fetch_add_explicit(&bench_ctx.loop_finished, 1, memory_order_relaxed);
}

/* Chunks a CPU keeps working while it waits for the others: before its
 * window as many as it measures (the others may still be waking up), after
 * it half as many (CPUs that started together finish close together).
 * Where the CPUs cannot run at once (more vCPUs than host cores) waiting
 * longer creates no overlap, it only takes host time from the CPUs still
 * measuring; the concurrency rows say which case a point was. */
static uint64_t loop_wait_cap(const struct bench_loop *l)
{
    uint64_t cap = l->phase == LOOP_WARM ? l->chunks : l->chunks / 2;
    return cap ? cap : 1;
}

bool bench_loop_step(struct bench_loop *l, uint64_t now)
{
    unsigned cpus = bench_ctx.loop_cpus;
    switch (l->phase) {
    case LOOP_WARM: {
        uint64_t dt = now - l->last;
        l->last = now;
        if (l->warm_chunks > 0 && dt < l->min_chunk)
            l->min_chunk = dt; /* the first interval is the set-up, not a chunk */
        l->warm_chunks++;
        if (l->warm_chunks <= BENCH_WARM_CHUNKS)
            return true;
        if (atomic_load_explicit(&bench_ctx.loop_arrived, memory_order_relaxed) < cpus &&
            l->warm_chunks <= BENCH_WARM_CHUNKS + loop_wait_cap(l)) {
            plat_pause(); /* lets a single-threaded emulator (icount) run the others */
            return true;
        }
        l->phase = LOOP_MEASURE;
        l->s->loop_state = LOOP_MEASURE;
        l->s->t_begin = l->last = plat_tsc_start();
        return true;
    }
    case LOOP_MEASURE:
        loop_finish(l->s, plat_tsc_stop());
        l->phase = LOOP_COOL;
        l->warm_chunks = 0; /* counts the cool-down chunks from here */
        __attribute__((fallthrough)); /* a lone CPU stops at once */
    case LOOP_COOL:
        if (atomic_load_explicit(&bench_ctx.loop_finished, memory_order_relaxed) < cpus &&
            l->warm_chunks++ < loop_wait_cap(l)) {
            plat_pause();
            return true;
        }
        l->phase = LOOP_DONE;
        l->s->loop_state = LOOP_DONE;
        return false;
    default:
        return false;
    }
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

/* Every CPU of a dispatch runs this around the point's job: the interrupt
 * check first, and a CPU whose job ran no loop (or left it early) still
 * counts as arrived and finished, so the others' warm-up and cool-down end. */
static void point_job(void *arg)
{
    struct bench_point *pt = arg;
    struct bench_slot *s = &bench_ctx.slot[plat_cpu_index()];
    s->irq_pending = plat_irq_pending();
    if (bench_ctx.cfg->icount) {
        pt->job(pt->arg);
    } else {
        uint64_t probe = bench_speed_probe(s->probe_buf);
        pt->job(pt->arg);
        uint64_t after = bench_speed_probe(s->probe_buf);
        s->probe = after > probe ? after : probe;
    }
    if (s->loop_state == LOOP_NONE) {
        atomic_fetch_add_explicit(&bench_ctx.loop_arrived, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&bench_ctx.loop_finished, 1, memory_order_relaxed);
    } else if (s->loop_state <= LOOP_MEASURE) {
        if (s->loop_state == LOOP_WARM)
            s->t_begin = plat_tsc();
        loop_finish(s, plat_tsc());
    }
}

static void reset_slots(unsigned cpus, bool samples)
{
    for (unsigned c = 0; c < cpus; c++) {
        struct bench_slot *s = &bench_ctx.slot[c];
        s->cycles = s->ops = 0;
        s->t_begin = s->t_end = s->gap_cycles = 0;
        s->probe = 0;
        s->loop_state = LOOP_NONE;
        __builtin_memset(s->counter, 0, sizeof s->counter);
        if (samples) {
            s->nsamples = 0;
            s->sample_skip = 0;
        }
    }
}

static void dispatch(struct bench_point *pt)
{
    reset_slots(pt->cpus, false);
    bench_ctx.loop_cpus = pt->cpus;
    bench_ctx.sample_point = pt->index;
    atomic_store_explicit(&bench_ctx.loop_arrived, 0, memory_order_relaxed);
    atomic_store_explicit(&bench_ctx.loop_finished, 0, memory_order_relaxed);
    plat_run_on_cpus(pt->cpus, point_job, pt);
}

/* Concurrency figures of one run from the windows of its CPUs. */
static void window_figures(unsigned cpus, struct bench_run_figures *f)
{
    uint64_t min_b = UINT64_MAX, max_b = 0, min_e = UINT64_MAX, max_e = 0;
    double sum_w = 0, sum_g = 0;
    f->windows = 0;
    for (unsigned c = 0; c < cpus; c++) {
        const struct bench_slot *s = &bench_ctx.slot[c];
        if (s->t_end <= s->t_begin)
            continue; /* no loop on this CPU (the odd one out of remote) */
        f->windows++;
        min_b = s->t_begin < min_b ? s->t_begin : min_b;
        max_b = s->t_begin > max_b ? s->t_begin : max_b;
        min_e = s->t_end < min_e ? s->t_end : min_e;
        max_e = s->t_end > max_e ? s->t_end : max_e;
        uint64_t w = s->t_end - s->t_begin;
        sum_w += (double)w;
        sum_g += (double)(s->gap_cycles < w ? s->gap_cycles : w);
    }
    if (f->windows == 0)
        return;
    double span = (double)(max_e - min_b);
    f->overlap_frac = min_e > max_b ? (double)(min_e - max_b) / span : 0;
    f->concurrency = (sum_w - sum_g) / span;
    f->desched_frac = sum_g / sum_w;
    f->start_skew_cycles = (double)(max_b - min_b);
}

/* CPU 0 after a timed dispatch: the run's figures from the slots. */
static void collect_run(struct bench_point *pt)
{
    struct bench_run_figures *f = &pt->figures[pt->run_count];
    double *per_cpu = pt->cpu_cycles_per_op + (size_t)pt->run_count * pt->cpus;
    double sum_cpo = 0;
    unsigned counted = 0;
    uint64_t max_cycles = 0;
    __builtin_memset(f, 0, sizeof *f);
    for (unsigned c = 0; c < pt->cpus; c++) {
        const struct bench_slot *s = &bench_ctx.slot[c];
        for (unsigned i = 0; i < SLOT_COUNTERS; i++)
            pt->counter[i] += s->counter[i];
        if (s->irq_pending) {
            plat_log("bench: %s %s cpus=%u %s run %u: CPU %u had %u interrupts pending\n",
                     pt->bench, pt->cas, pt->cpus, pt->param, pt->run_count, c, s->irq_pending);
            pt->irq_pending += s->irq_pending;
        }
        per_cpu[c] = __builtin_nan("");
        if (s->ops == 0)
            continue; /* an idle CPU, or the consumer of producer/consumer pairs */
        if (s->probe > f->probe)
            f->probe = s->probe;
        per_cpu[c] = (double)s->cycles / (double)s->ops;
        sum_cpo += per_cpu[c];
        counted++;
        f->ops += s->ops;
        uint64_t wall = s->t_end > s->t_begin ? s->t_end - s->t_begin : s->cycles;
        if (wall > max_cycles)
            max_cycles = wall;
    }
    f->cycles_per_op = counted ? sum_cpo / counted : 0;
    f->mops = max_cycles ? (double)f->ops * (double)bench_ctx.tsc_khz / ((double)max_cycles * 1000.0)
                         : 0;
    window_figures(pt->cpus, f);
    bench_probe_seen(f->probe);
    pt->run_count++;
}

/* Whether run r enters the point's medians. */
static bool run_in_median(const struct bench_point *pt, unsigned r)
{
    return pt->median_all_runs || !pt->figures[r].host_slowed;
}

static double median_of(double *v, unsigned n)
{
    stats_sort_double(v, n);
    return stats_quantile_double(v, n, 0.5);
}

/* Per run and median: a figure of every run with work, in the given unit. */
static double run_metric(const struct bench_point *pt, const char *metric, const char *unit,
                         double (*get)(const struct bench_run_figures *))
{
    double v[BENCH_MAX_RUNS];
    unsigned n = 0;
    char run[16], name[48];
    for (unsigned r = 0; r < pt->run_count; r++) {
        const struct bench_run_figures *f = &pt->figures[r];
        if (f->ops == 0 && f->windows == 0)
            continue;
        plat_snprintf(run, sizeof run, "run=%u", r);
        double x = get(f);
        bench_row(pt, run, metric, x, unit);
        if (run_in_median(pt, r))
            v[n++] = x;
    }
    if (n == 0)
        return __builtin_nan("");
    double med = median_of(v, n);
    plat_snprintf(name, sizeof name, "%s_median", metric);
    bench_row(pt, NULL, name, med, unit);
    return med;
}

static double fig_ns(const struct bench_run_figures *f) { return bench_cycles_to_ns(f->cycles_per_op); }
static double fig_cycles(const struct bench_run_figures *f) { return f->cycles_per_op; }
static double fig_mops(const struct bench_run_figures *f) { return f->mops; }
static double fig_overlap(const struct bench_run_figures *f) { return f->overlap_frac; }
static double fig_concurrency(const struct bench_run_figures *f) { return f->concurrency; }
static double fig_desched(const struct bench_run_figures *f) { return f->desched_frac; }
static double fig_skew(const struct bench_run_figures *f) { return bench_cycles_to_ns(f->start_skew_cycles); }
static double fig_host_speed(const struct bench_run_figures *f)
{
    return f->probe ? (double)bench_ctx.probe_min / (double)f->probe : 1.0;
}

#define CONCURRENT_MIN_OVERLAP 0.9
#define CONCURRENT_MIN_SHARE 0.9   /* of the CPUs with a window */
#define CONCURRENT_MAX_DESCHED 0.1

static void concurrency_rows(const struct bench_point *pt)
{
    unsigned windows = 0;
    for (unsigned r = 0; r < pt->run_count; r++)
        windows = pt->figures[r].windows > windows ? pt->figures[r].windows : windows;
    if (windows == 0)
        return;
    double overlap = run_metric(pt, "overlap_frac", "frac", fig_overlap);
    double conc = run_metric(pt, "concurrency", "cpus", fig_concurrency);
    double desched = run_metric(pt, "desched_frac", "frac", fig_desched);
    run_metric(pt, "start_skew_ns", bench_ctx.unit_ns, fig_skew);
    bool concurrent = bench_ctx.cfg->icount == 0 && windows >= 2 &&
                      overlap >= CONCURRENT_MIN_OVERLAP &&
                      conc >= CONCURRENT_MIN_SHARE * windows &&
                      desched <= CONCURRENT_MAX_DESCHED;
    bench_row_u(pt, NULL, "concurrent", concurrent ? 1 : 0, "bool");
}

void bench_window_rows(struct bench_point *pt)
{
    struct bench_run_figures f = {0};
    window_figures(pt->cpus, &f);
    pt->figures = &f;
    pt->run_count = 1;
    concurrency_rows(pt);
    pt->figures = NULL;
    pt->run_count = 0;
}

/* Per CPU, the median over runs of its cycles per operation. */
static void per_cpu_rows(const struct bench_point *pt)
{
    double v[BENCH_MAX_RUNS];
    char param[24];
    for (unsigned c = 0; c < pt->cpus; c++) {
        unsigned n = 0;
        for (unsigned r = 0; r < pt->run_count; r++) {
            double x = pt->cpu_cycles_per_op[(size_t)r * pt->cpus + c];
            if (x == x && run_in_median(pt, r))
                v[n++] = x;
        }
        if (n == 0)
            continue;
        plat_snprintf(param, sizeof param, "cpu=%u", c);
        bench_row(pt, param, "ns_per_op_cpu_median", bench_cycles_to_ns(median_of(v, n)),
                  bench_ctx.unit_ns);
    }
}

double bench_median_cycles_per_op(const struct bench_point *pt)
{
    double v[BENCH_MAX_RUNS];
    unsigned n = 0;
    for (unsigned r = 0; r < pt->run_count; r++)
        if (pt->figures[r].ops && run_in_median(pt, r))
            v[n++] = pt->figures[r].cycles_per_op;
    return n ? median_of(v, n) : __builtin_nan("");
}

static void timing_rows(const struct bench_point *pt)
{
    double ns[BENCH_MAX_RUNS];
    unsigned runs = 0;
    for (unsigned r = 0; r < pt->run_count; r++)
        if (pt->figures[r].ops)
            ns[runs++] = bench_cycles_to_ns(pt->figures[r].cycles_per_op);
    if (runs == 0)
        return;
    run_metric(pt, "ns_per_op", bench_ctx.unit_ns, fig_ns);
    stats_sort_double(ns, runs);
    bench_row(pt, NULL, "ns_per_op_min", ns[0], bench_ctx.unit_ns);
    bench_row(pt, NULL, "ns_per_op_max", ns[runs - 1], bench_ctx.unit_ns);
    run_metric(pt, "cycles_per_op", bench_ctx.unit_cycles, fig_cycles);
    run_metric(pt, "mops", "mops", fig_mops);
    if (pt->empty && pt->empty->cycles_per_op_median == pt->empty->cycles_per_op_median) {
        double net = pt->cycles_per_op_median - pt->empty->cycles_per_op_median;
        bench_row(pt, NULL, "ns_per_op_net_median", bench_cycles_to_ns(net), bench_ctx.unit_ns);
        bench_row(pt, NULL, "cycles_per_op_net_median", net, bench_ctx.unit_cycles);
    }
    if (pt->cpus > 1)
        per_cpu_rows(pt);
    if (pt->irq_pending)
        bench_row_u(pt, NULL, "irq_pending", pt->irq_pending, "count");
    if (!bench_ctx.cfg->icount) {
        run_metric(pt, "host_speed", "frac", fig_host_speed);
        bench_row_u(pt, NULL, "host_slowed_runs", pt->slowed_runs, "count");
        if (pt->few_fast_runs)
            bench_row_u(pt, NULL, "host_slowed", 1, "bool");
        if (pt->attempts > 1)
            bench_row_u(pt, NULL, "host_set_attempts", pt->attempts, "count");
    }
}

/* Mean sampling period so that the samples of `share` points fit the buffers. */
static void set_stride(const struct bench_point *pt, unsigned share)
{
    uint64_t wanted = pt->ops_per_run * bench_ctx.cfg->runs * share;
    uint64_t stride = pt->sample_every ? pt->sample_every : bench_ctx.cfg->sample_every;
    if (wanted / stride > bench_ctx.sample_cap)
        stride = (wanted + bench_ctx.sample_cap - 1) / bench_ctx.sample_cap;
    bench_ctx.stride = stride;
}

static void sample_pass(struct bench_point *pt)
{
    set_stride(pt, 1);
    reset_slots(pt->cpus, true);
    bench_ctx.sampling = bench_ctx.sample_pass = true;
    for (unsigned r = 0; r < bench_ctx.cfg->runs; r++) {
        bench_ctx.run = r;
        dispatch(pt);
    }
    bench_ctx.sampling = bench_ctx.sample_pass = false;
}

static void measure_runs(struct bench_point *pts, unsigned n, bool in_runs)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    for (unsigned i = 0; i < n; i++) {
        struct bench_point *pt = &pts[i];
        pt->run_count = 0;
        pt->irq_pending = 0;
        __builtin_memset(pt->counter, 0, sizeof pt->counter);
        if (!pt->cold) {
            bench_ctx.warm = true;
            dispatch(pt);
            bench_ctx.warm = false;
        }
    }
    reset_slots(bench_ctx.cpus, true);
    bench_ctx.sampling = in_runs;
    if (in_runs)
        set_stride(&pts[0], n);
    for (unsigned r = 0; r < cfg->runs; r++) {
        bench_ctx.run = r;
        for (unsigned k = 0; k < n; k++) {
            struct bench_point *pt = &pts[(k + r) % n];
            bool around = pt->around_run && bench_ctx.set_attempt == 0;
            if (around)
                pt->around_run(pt, false);
            dispatch(pt);
            if (around)
                pt->around_run(pt, true);
            collect_run(pt);
        }
    }
    bench_ctx.sampling = false;
    for (unsigned i = 0; i < n; i++)
        bench_judge_host_speed(&pts[i]);
}

void bench_measure_set(struct bench_point *pts, unsigned n)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    bool in_runs = false;
    if (n > BENCH_SET_MAX)
        PANIC("%s: %u points in one set, at most %u", __func__, n, BENCH_SET_MAX);
    for (unsigned i = 0; i < n; i++) {
        struct bench_point *pt = &pts[i];
        pt->index = i;
        pt->cpu_cycles_per_op = bench_ctx.cpu_figures + (size_t)i * cfg->runs * bench_ctx.cpus;
        pt->figures = bench_ctx.run_figures + (size_t)i * cfg->runs;
        in_runs |= pt->sample_in_runs;
    }
    /* A slowed stretch of the host can outlast a whole set (a set of short
     * runs takes a fraction of a second): then the set is measured again
     * once the host is back at full speed, its earlier times dropped whole,
     * so that every time still comes from one attempt's runs.  Each attempt
     * starts from the same state (pt->start): pcp random carried on from the
     * working set and caches the first left behind, with 9 refills and 5
     * drains at 1 CPU where a first attempt has 1 and 10, and ran 4 % faster.
     * Its counts (pt->counter, what around_run gathers) stay the first
     * attempt's even so: they are compared exactly between boots, and a
     * point without a start hook may still differ. */
    static uint64_t first_counts[BENCH_SET_MAX][SLOT_COUNTERS];
    unsigned attempt = 0;
    for (;;) {
        uint64_t t0 = plat_tsc();
        bench_ctx.set_attempt = attempt;
        for (unsigned i = 0; i < n; i++)
            if (pts[i].start)
                pts[i].start(&pts[i]);
        measure_runs(pts, n, in_runs);
        if (attempt++ > 0)
            bench_ctx.host_retry_cycles += plat_tsc() - t0;
        else
            for (unsigned i = 0; i < n; i++)
                __builtin_memcpy(first_counts[i], pts[i].counter, sizeof first_counts[i]);
        if (!bench_set_needs_attempt(pts, n, attempt))
            break;
        plat_log("bench: %s %s cpus=%u: the host slowed most runs; measuring the set again\n",
                 pts[0].bench, pts[0].cas, pts[0].cpus);
        if (!cfg->test_host_slowed) /* a pretended slowdown: nothing to wait for */
            bench_wait_for_full_speed();
    }
    if (attempt > 1)
        for (unsigned i = 0; i < n; i++)
            __builtin_memcpy(pts[i].counter, first_counts[i], sizeof first_counts[i]);
    for (unsigned i = 0; i < n; i++) {
        pts[i].attempts = attempt;
        /* the empty cases' medians, before any net row */
        pts[i].cycles_per_op_median = bench_median_cycles_per_op(&pts[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        timing_rows(&pts[i]);
        if (pts[i].cpus > 1)
            concurrency_rows(&pts[i]);
        else if (pts[i].run_count && pts[i].figures[0].windows)
            run_metric(&pts[i], "desched_frac", "frac", fig_desched);
    }
    for (unsigned i = 0; i < n; i++) {
        if (!pts[i].sample_in_runs)
            sample_pass(&pts[i]);
        bench_point_latency(&pts[i]);
    }
}

/* Pools every CPU's samples of one point and path (all paths for PATH_COUNT). */
static size_t gather_samples(const struct bench_point *pt, enum sample_path want)
{
    size_t n = 0;
    for (unsigned c = 0; c < pt->cpus; c++) {
        for (uint64_t i = 0; i < bench_ctx.slot[c].nsamples; i++) {
            uint64_t s = bench_ctx.samples[c][i];
            if (((s >> SAMPLE_POINT_SHIFT) & SAMPLE_POINT_MASK) != pt->index)
                continue;
            if (want == PATH_COUNT || (s >> SAMPLE_PATH_SHIFT) == want)
                bench_ctx.merge[n++] = s & SAMPLE_CYCLES_MASK;
        }
    }
    return n;
}

uint64_t bench_point_samples(const struct bench_point *pt, enum sample_path path)
{
    return pt->samples[path];
}

/* Right after the point's samples were taken: the next point's pass reuses
 * the buffers. */
void bench_point_latency(struct bench_point *pt)
{
    __builtin_memset(pt->samples, 0, sizeof pt->samples);
    size_t n = gather_samples(pt, PATH_COUNT);
    bench_latency_rows(pt, NULL, bench_ctx.merge, n, pt->by_path ? NULL : path_names[PATH_ALL]);
    if (!pt->by_path) {
        pt->samples[PATH_ALL] = n;
        return;
    }
    for (unsigned p = PATH_HIT; p < PATH_COUNT; p++) {
        n = gather_samples(pt, (enum sample_path)p);
        pt->samples[p] = n;
        bench_latency_rows(pt, path_names[p], bench_ctx.merge, n, path_names[p]);
    }
}

uint64_t bench_point_ops(const struct bench_point *pt)
{
    uint64_t ops = 0;
    for (unsigned r = 0; r < pt->run_count; r++)
        ops += pt->figures[r].ops;
    return ops;
}

uint64_t bench_counter_sum(unsigned cpus, unsigned index)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < cpus; c++)
        sum += bench_ctx.slot[c].counter[index];
    return sum;
}
