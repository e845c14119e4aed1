/*
 * run.c - bench_run(): meta.csv, the benchmarks in order, the invariant
 * checks at quiescent points, the per-benchmark blocks and the verdict.
 * (The order of a run and the timing rules are described in harness.c.)
 */
#include "bench/bench_int.h"
#include "lib/ktap.h"

#define OUT_BYTES ((uint64_t)2 << 20)    /* per block kind: one benchmark's rows */
#define META_BYTES ((uint64_t)16 << 10)
#define WORK_BYTES ((uint64_t)128 << 10) /* per CPU */
#define SAMPLES_PER_CPU_MAX 16384u
#define SAMPLE_WORDS_TOTAL (1u << 19)    /* all CPUs together: 4 MiB */

static void (*const bench_fn[BENCH_COUNT])(void) = {
    [BENCH_SMP] = bench_smp,       [BENCH_REFCOUNT] = bench_refcount, [BENCH_PCP] = bench_pcp,
    [BENCH_CONTIG] = bench_contig, [BENCH_STRESS] = bench_stress,     [BENCH_FRAG] = bench_frag,
};

/* ---- quiescent-point checks ------------------------------------------------ */

bool bench_mm_check(const char *where)
{
    char err[256];
    if (mm_check(err, sizeof err))
        return true;
    bench_fail("%s: mm_check: %s", where, err);
    return false;
}

bool bench_check_allocator(const char *bench)
{
    struct mm_stats st;
    mm_pcp_drain_all();
    if (!bench_mm_check(bench))
        return false;
    mm_get_stats(&st);
    if (st.cached_frames != 0) {
        bench_fail("%s: %llu frames still in per-CPU caches after mm_pcp_drain_all", bench,
                   (unsigned long long)st.cached_frames);
        return false;
    }
    uint64_t expected = bench_ctx.baseline_allocated + bench_scratch_frames();
    if (st.allocated_frames != expected) {
        bench_fail("%s: frames not conserved: %llu allocated, %llu expected (%s)", bench,
                   (unsigned long long)st.allocated_frames, (unsigned long long)expected,
                   st.allocated_frames > expected ? "leaked" : "freed twice or lost");
        return false;
    }
    return true;
}

/* ---- output ------------------------------------------------------------------ */

static void write_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void write_line(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = plat_vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    plat_write(line, (size_t)n);
}

static void meta_add(struct csv_block *b, const char *key, const char *value)
{
    const char *fields[] = {key, value};
    csv_block_row(b, fields, 2);
}

static void meta_add_u(struct csv_block *b, const char *key, uint64_t value)
{
    char text[24];
    plat_snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    meta_add(b, key, text);
}

static bool meta_has(const struct bench_meta *meta, const char *key)
{
    for (unsigned i = 0; meta && i < meta->count; i++) {
        const char *a = meta->kv[i].key, *b = key;
        while (*a && *a == *b)
            a++, b++;
        if (*a == *b)
            return true;
    }
    return false;
}

static void emit_meta(const struct bench_meta *meta, char *buf, size_t cap)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    struct csv_block b;
    char text[160];
    csv_block_init(&b, "meta.csv", buf, cap, "key,value");
    for (unsigned i = 0; meta && i < meta->count; i++)
        meta_add(&b, meta->kv[i].key, meta->kv[i].value ? meta->kv[i].value : "");
    if (!meta_has(meta, "tsc_khz"))
        meta_add_u(&b, "tsc_khz", bench_ctx.tsc_khz);
    size_t len = 0;
    text[0] = '\0';
    for (unsigned i = 0; i < BENCH_COUNT && len < sizeof text; i++)
        if (cfg->benches & (1u << i))
            len += (size_t)plat_snprintf(text + len, sizeof text - len, "%s%s", len ? "," : "",
                                         bench_name((enum bench_id)i));
    meta_add(&b, "bench", text);
    meta_add(&b, "profile", bench_profile_name(cfg->profile));
    meta_add_u(&b, "seed", cfg->seed);
    meta_add_u(&b, "runs", cfg->runs);
    meta_add_u(&b, "iters", cfg->iters);
    meta_add_u(&b, "sample_every", cfg->sample_every);
    meta_add_u(&b, "stress_ops", cfg->stress_ops);
    meta_add_u(&b, "stress_epochs", cfg->stress_epochs);
    meta_add_u(&b, "contig_mem_mib", cfg->contig_frames * PAGE_SIZE >> 20);
    meta_add_u(&b, "frag_cycles", cfg->frag_cycles);
    meta_add_u(&b, "frag_live_pct", cfg->frag_live_pct);
    meta_add_u(&b, "frag_long_pct", cfg->frag_long_pct);
    meta_add_u(&b, "bench_cpus", bench_ctx.cpus);
    meta_add_u(&b, "icount", cfg->icount);
    meta_add(&b, "time_unit", bench_ctx.unit_ns);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned c = 0; c < bench_ctx.cpus; c++) {
        uint64_t t = bench_ctx.slot[c].timer_overhead;
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    meta_add_u(&b, "timer_overhead_cycles", bench_ctx.slot[0].timer_overhead);
    meta_add_u(&b, "timer_overhead_cycles_min", lo);
    meta_add_u(&b, "timer_overhead_cycles_max", hi);
    meta_add_u(&b, "gap_threshold_cycles", bench_ctx.gap_cycles);
    meta_add_u(&b, "speed_probe_cycles", bench_ctx.probe_boot);
    meta_add_u(&b, "speed_probe_ref", cfg->probe_ref);
    meta_add_u(&b, "host_retry_ms", cfg->host_retry_ms);
    meta_add_u(&b, "host_cores", cfg->host_cores);
    meta_add(&b, "host_slow_ratio", BENCH_STR(HOST_SLOW_RATIO));
    meta_add_u(&b, "host_min_fast_runs", HOST_MIN_FAST_RUNS);
    meta_add_u(&b, "samples_per_cpu", bench_ctx.sample_cap);
    struct pcp_config pcp;
    mm_pcp_get_config(&pcp);
    meta_add(&b, "mm_pcp_enabled", pcp.enabled ? "1" : "0");
    meta_add_u(&b, "mm_pcp_capacity", pcp.capacity);
    meta_add_u(&b, "mm_pcp_batch", pcp.batch);
    meta_add_u(&b, "test_corrupt_frame", cfg->test_corrupt_frame);
    meta_add_u(&b, "test_slow_hit", cfg->test_slow_hit);
    if (b.overflow)
        bench_fail("meta.csv: more than %zu bytes of metadata", cap);
    csv_block_emit(&b);
}

/* Each CPU: the cycles of an empty fenced region (the floor every sample of
 * that CPU carries; CPUs differ under an emulator) and its sampling stream. */
static void timer_overhead_job(void *arg)
{
    (void)arg;
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t t0 = plat_tsc_start();
        uint64_t t1 = plat_tsc_stop();
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    s->timer_overhead = best;
    /* The boot's full speed: the fastest probe over PROBE_CALIBRATE_MS, long
     * enough to span the host's short slowed stretches (milliseconds on the
     * development host; harness.c, the host's speed).  None under icount. */
    s->probe = 0;
    uint64_t t0 = plat_tsc(), span = bench_ctx.tsc_khz * PROBE_CALIBRATE_MS;
    while (!bench_ctx.cfg->icount && (s->probe == 0 || plat_tsc() - t0 < span)) {
        uint64_t probe = bench_speed_probe(s->probe_buf);
        s->probe = s->probe == 0 || probe < s->probe ? probe : s->probe;
    }
    uint64_t seed = bench_ctx.cfg->seed ^ 0x5a3b1e5ull ^ ((uint64_t)cpu << 32);
    s->sample_rng = rng_split(&seed) | 1; /* xorshift state: never 0 */
}

/* A gap: a chunk this much longer than the shortest one of its window.
 * Host preemption of a vCPU, an emulator's vCPU switch or an SMI cost tens
 * of microseconds to milliseconds; a chunk's own variation (a refill or
 * drain of a batch, cache misses) stays below.  A CPU spinning on a lock
 * whose holder was descheduled shows the holder's gap as its own. */
#define GAP_THRESHOLD_US 50

/* Run-lifetime buffers: output text, samples, merge area, per-CPU work areas. */
static bool setup_buffers(char **meta_buf)
{
    unsigned cpus = bench_ctx.cpus;
    uint64_t cap = SAMPLE_WORDS_TOTAL / cpus;
    bench_ctx.sample_cap = cap < SAMPLES_PER_CPU_MAX ? cap : SAMPLES_PER_CPU_MAX;
    char *results = bench_scratch_alloc(OUT_BYTES);
    char *hist = bench_scratch_alloc(OUT_BYTES);
    *meta_buf = bench_scratch_alloc(META_BYTES);
    uint64_t *samples = bench_scratch_alloc(bench_ctx.sample_cap * cpus * sizeof(uint64_t));
    bench_ctx.merge = bench_scratch_alloc(bench_ctx.sample_cap * cpus * sizeof(uint64_t));
    bench_ctx.cpu_figures = bench_scratch_alloc((uint64_t)BENCH_SET_MAX * bench_ctx.cfg->runs *
                                                cpus * sizeof(double));
    bench_ctx.run_figures = bench_scratch_alloc((uint64_t)BENCH_SET_MAX * bench_ctx.cfg->runs *
                                                sizeof(struct bench_run_figures));
    if (!results || !hist || !*meta_buf || !samples || !bench_ctx.merge ||
        !bench_ctx.cpu_figures || !bench_ctx.run_figures)
        return false;
    csv_block_init(&bench_ctx.results, "results.csv", results, OUT_BYTES,
                   "bench,case,cpus,param,metric,value,unit");
    csv_block_init(&bench_ctx.hist, "hist.csv", hist, OUT_BYTES,
                   "bench,case,cpus,param,path,lo,hi,count,unit");
    bench_ctx.work_bytes = WORK_BYTES;
    for (unsigned c = 0; c < cpus; c++) {
        bench_ctx.samples[c] = samples + c * bench_ctx.sample_cap;
        bench_ctx.work[c] = bench_scratch_alloc(WORK_BYTES);
        if (!bench_ctx.work[c])
            return false;
    }
    return true;
}

static void emit_blocks(const char *bench)
{
    if (bench_ctx.results.overflow || bench_ctx.hist.overflow)
        bench_fail("%s: more rows than the %llu-byte output buffer holds; rows were lost",
                   bench, (unsigned long long)OUT_BYTES);
    bench_ctx.results.overflow = bench_ctx.hist.overflow = false;
    csv_block_emit(&bench_ctx.results);
    if (bench_ctx.hist.rows)
        csv_block_emit(&bench_ctx.hist);
}

static void run_one(enum bench_id id)
{
    const char *name = bench_name(id);
    struct mm_stats st;
    write_line("# progress: %s start", name);
    uint64_t t0 = plat_tsc();
    mm_pcp_drain_all();
    mm_get_stats(&st);
    bench_ctx.baseline_allocated = st.allocated_frames;
    bench_fn[id]();
    if (!bench_ctx.failed) {
        bench_scratch_release();
        struct bench_point pt = {.bench = name, .cas = "check", .cpus = bench_ctx.cpus};
        bench_row_u(&pt, NULL, "invariants_ok", bench_check_allocator(name) ? 1 : 0, "count");
    }
    emit_blocks(name);
    uint64_t cycles = plat_tsc() - t0;
    uint64_t ms = cycles / (bench_ctx.tsc_khz ? bench_ctx.tsc_khz : 1);
    write_line("# progress: %s done (%llu.%03llu s)", name, (unsigned long long)(ms / 1000),
               (unsigned long long)(ms % 1000));
}

enum bench_verdict bench_run(const struct bench_config *cfg, const struct bench_meta *meta)
{
    char *meta_buf = NULL;
    __builtin_memset(&bench_ctx, 0, sizeof bench_ctx);
    bench_ctx.cfg = cfg;
    bench_ctx.cpus = plat_cpu_count();
    if (cfg->max_cpus && cfg->max_cpus < bench_ctx.cpus)
        bench_ctx.cpus = cfg->max_cpus;
    bench_ctx.tsc_khz = plat_tsc_khz();
    bench_ctx.gap_cycles = bench_ctx.tsc_khz * GAP_THRESHOLD_US / 1000;
    bench_ctx.host_retry_budget = bench_ctx.tsc_khz * cfg->host_retry_ms;
    bench_ctx.unit_ns = cfg->icount ? "instr" : "ns";
    bench_ctx.unit_cycles = cfg->icount ? "instr" : "cycles";
    plat_run_on_cpus(bench_ctx.cpus, timer_overhead_job, NULL);
    bench_probe_calibrate();

    if (!setup_buffers(&meta_buf)) {
        bench_fail("cannot allocate the harness buffers (%u CPUs) from the frame allocator",
                   bench_ctx.cpus);
    } else {
        emit_meta(meta, meta_buf, META_BYTES);
        bench_scratch_keep();
    }
    /* One KTAP subtest per selected benchmark, under the kernel's `bench`
     * step (kernel/report.h): its invariant checks passed, or the first
     * failed check's message; after a failure the rest are not run. */
    unsigned selected = 0;
    for (unsigned id = 0; id < BENCH_COUNT; id++)
        selected += (cfg->benches >> id) & 1u;
    ktap_begin(1, selected);
    unsigned number = 0;
    for (unsigned id = 0; id < BENCH_COUNT; id++) {
        if (!(cfg->benches & (1u << id)))
            continue;
        const char *name = bench_name((enum bench_id)id);
        number++;
        if (bench_ctx.failed) {
            ktap_result(1, true, number, name, "SKIP not run: an earlier check failed");
            continue;
        }
        run_one((enum bench_id)id);
        if (bench_ctx.failed)
            ktap_result(1, false, number, name, "%s", bench_ctx.failure);
        else
            ktap_result(1, true, number, name, NULL);
    }
    if (bench_ctx.failed)
        plat_log("bench: an invariant failed; remaining benchmarks skipped, allocator state "
                 "left as found\n");
    else
        bench_scratch_release_all();
    write_line("@@VERDICT %s", bench_ctx.failed ? "check-failed" : "pass");
    return bench_ctx.failed ? BENCH_CHECK_FAILED : BENCH_PASS;
}
