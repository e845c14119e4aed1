/*
 * test_bench_unit.c - unit tests of the harness pieces of bench/:
 * statistics (sorting, quantiles on known data, even and odd sizes),
 * histogram bucketing, CRC32 against published vectors, CSV escaping, block
 * framing, the CPU sweep, the command-line keys (good and bad values) and
 * which runs a host slowdown keeps out of the medians.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_int.h"
#include "tests/harness/check.h"
#include "lib/cmdline.h"

CHECK_SUITE("bench");

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1);
}

static void test_quantiles_odd(void)
{
    uint64_t v[] = {9, 1, 7, 3, 5};
    stats_sort_u64(v, 5);
    for (unsigned i = 0; i < 5; i++)
        CHECK_EQ_U(v[i], 2 * i + 1);
    CHECK(near(stats_quantile_u64(v, 5, 0.5), 5));
    CHECK(near(stats_quantile_u64(v, 5, 0.0), 1));
    CHECK(near(stats_quantile_u64(v, 5, 1.0), 9));
    CHECK(near(stats_quantile_u64(v, 5, 0.25), 3));
    CHECK(near(stats_quantile_u64(v, 5, 0.9), 8.2)); /* rank 3.6: 7 + 0.6 * 2 */
}

static void test_quantiles_even(void)
{
    uint64_t v[] = {40, 10, 30, 20};
    stats_sort_u64(v, 4);
    CHECK(near(stats_quantile_u64(v, 4, 0.5), 25)); /* mean of the two middle values */
    CHECK(near(stats_quantile_u64(v, 4, 0.99), 39.7));
    double d[] = {2.5, 0.5, 1.5, 3.5, -1.0, 0.0};
    stats_sort_double(d, 6);
    CHECK(d[0] == -1.0 && d[5] == 3.5);
    CHECK(near(stats_quantile_double(d, 6, 0.5), 1.0)); /* (0.5 + 1.5) / 2 */
    double one = 7;
    CHECK(near(stats_quantile_double(&one, 1, 0.999), 7));
    CHECK(near(stats_quantile_double(d, 0, 0.5), 0));
}

static void test_percentiles_large(void)
{
    /* 1..1000 shuffled: p50 = 500.5, p90 = 900.1, p99 = 990.01, p99.9 = 999.001 */
    static uint64_t v[1000];
    uint64_t rng = 12345;
    for (unsigned i = 0; i < 1000; i++)
        v[i] = i + 1;
    for (unsigned i = 999; i > 0; i--) {
        unsigned j = (unsigned)rng_below(&rng, i + 1);
        uint64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    stats_sort_u64(v, 1000);
    for (unsigned i = 0; i < 1000; i++)
        CHECK_EQ_U(v[i], i + 1);
    CHECK(near(stats_quantile_u64(v, 1000, 0.5), 500.5));
    CHECK(near(stats_quantile_u64(v, 1000, 0.9), 900.1));
    CHECK(near(stats_quantile_u64(v, 1000, 0.99), 990.01));
    CHECK(near(stats_quantile_u64(v, 1000, 0.999), 999.001));
}

static void test_histogram_buckets(void)
{
    uint64_t lo, hi;
    CHECK_EQ_U(hist_bucket(0), 0);
    CHECK_EQ_U(hist_bucket(3), 3);
    CHECK_EQ_U(hist_bucket(4), 4);
    CHECK_EQ_U(hist_bucket(7), 7);
    CHECK_EQ_U(hist_bucket(8), 8);   /* [8,10) */
    CHECK_EQ_U(hist_bucket(9), 8);
    CHECK_EQ_U(hist_bucket(10), 9);  /* [10,12) */
    CHECK_EQ_U(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
    hist_bounds(8, &lo, &hi);
    CHECK(lo == 8 && hi == 10);
    /* Every value lands in the bucket whose [lo, hi) holds it; buckets tile. */
    uint64_t prev_hi = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        hist_bounds(b, &lo, &hi);
        CHECKF(lo == prev_hi, "bucket %u starts at %llu, previous ended at %llu", b,
               (unsigned long long)lo, (unsigned long long)prev_hi);
        CHECKF(hist_bucket(lo) == b && hist_bucket(hi - 1) == b, "bucket %u [%llu,%llu)", b,
               (unsigned long long)lo, (unsigned long long)hi);
        if (lo >= 4)
            CHECKF((double)(hi - lo) <= 0.25 * (double)lo + 1e-9, "bucket %u too wide", b);
        prev_hi = hi;
    }
    CHECK(prev_hi == UINT64_MAX);
    static struct histogram h;
    hist_clear(&h);
    for (uint64_t v = 0; v < 100; v++)
        hist_add(&h, v);
    CHECK_EQ_U(h.total, 100);
    CHECK_EQ_U(h.count[hist_bucket(64)], 16); /* [64,80) */
}

static void test_crc32_vectors(void)
{
    CHECK_EQ_U(bench_crc32(0, "123456789", 9), 0xcbf43926u);
    CHECK_EQ_U(bench_crc32(0, "", 0), 0);
    CHECK_EQ_U(bench_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414fa339u);
    /* Chaining equals one pass. */
    uint32_t c = bench_crc32(0, "12345", 5);
    CHECK_EQ_U(bench_crc32(c, "6789", 4), 0xcbf43926u);
}

static void escaped(const char *in, const char *want)
{
    char out[64];
    size_t n = csv_escape(out, sizeof out, in);
    out[n < sizeof out ? n : sizeof out - 1] = '\0';
    CHECKF(strcmp(out, want) == 0, "csv_escape(%s) = %s, want %s", in, out, want);
}

static void test_csv_escape(void)
{
    escaped("plain", "plain");
    escaped("", "");
    escaped("k=1;c=2", "k=1;c=2");
    escaped("a,b", "\"a,b\"");
    escaped("say \"hi\"", "\"say \"\"hi\"\"\"");
    escaped("two\nlines", "\"two\nlines\"");
    char small[4];
    CHECK_EQ_U(csv_escape(small, sizeof small, "a,b"), 5); /* needs 5, wrote at most 4 */
}

/* The frame as bytes: captured from plat_write through a pipe on stdout. */
static void test_block_framing(void)
{
    char buf[256], text[1024];
    struct csv_block b;
    csv_block_init(&b, "t.csv", buf, sizeof buf, "a,b");
    const char *r1[] = {"1", "x,y"};
    const char *r2[] = {"2", "q\"q"};
    CHECK(csv_block_row(&b, r1, 2));
    CHECK(csv_block_row(&b, r2, 2));
    CHECK_EQ_U(b.rows, 2);
    const char *body = "a,b\n1,\"x,y\"\n2,\"q\"\"q\"\n";
    CHECK(b.len == strlen(body) && memcmp(b.buf, body, b.len) == 0);
    char trailer[80], want[80];
    csv_block_trailer(&b, trailer, sizeof trailer);
    snprintf(want, sizeof want, "@@END t.csv rows=2 crc32=%08x",
             (unsigned)bench_crc32(0, body, strlen(body)));
    CHECK_STR_EQ(trailer, want);

    /* Emit through stdout into a pipe and compare the exact bytes. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    csv_block_emit(&b);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], text, sizeof text - 1);
    close(fds[0]);
    text[n > 0 ? n : 0] = '\0';
    char expect[512];
    snprintf(expect, sizeof expect, "@@BEGIN t.csv\n%s%s\n", body, want);
    CHECK_STR_EQ(text, expect);
    /* After emitting, the header stays for the next block of the same name. */
    CHECK(b.rows == 0 && b.len == 4 && memcmp(b.buf, "a,b\n", 4) == 0);

    /* A row that does not fit is refused whole and flags the block. */
    char tiny[12];
    csv_block_init(&b, "t.csv", tiny, sizeof tiny, "a,b");
    const char *big[] = {"123456", "7890"};
    CHECK(!csv_block_row(&b, big, 2));
    CHECK(b.overflow && b.rows == 0 && b.len == 4);
}

static void test_cpu_sweep(void)
{
    unsigned out[16];
    unsigned n = bench_cpu_sweep(8, out, 16);
    CHECK(n == 4 && out[0] == 1 && out[1] == 2 && out[2] == 4 && out[3] == 8);
    n = bench_cpu_sweep(6, out, 16);
    CHECK(n == 4 && out[2] == 4 && out[3] == 6);
    n = bench_cpu_sweep(1, out, 16);
    CHECK(n == 1 && out[0] == 1);
}

static struct cmdline cl;

static bool parse(const char *text, struct bench_config *cfg)
{
    cmdline_parse(&cl, text);
    bool ok = bench_parse_params(&cl, cfg);
    return cmdline_finish(&cl) && ok;
}

static void test_params_defaults(void)
{
    struct bench_config cfg;
    CHECK(parse("", &cfg));
    CHECK_EQ_U(cfg.benches, (1u << BENCH_COUNT) - 1);
    CHECK(cfg.profile == BENCH_PROFILE_FULL);
    CHECK(cfg.runs >= 5);
    CHECK(cfg.stress_ops >= 1000000);
    CHECK(parse("profile=quick bench=pcp,stress runs=7 seed=42 sweep_capacities=8,64", &cfg));
    CHECK(cfg.profile == BENCH_PROFILE_QUICK);
    CHECK_EQ_U(cfg.benches, (1u << BENCH_PCP) | (1u << BENCH_STRESS));
    CHECK_EQ_U(cfg.runs, 7);
    CHECK_EQ_U(cfg.seed, 42);
    CHECK(cfg.sweep_count == 2 && cfg.sweep_capacity[0] == 8 && cfg.sweep_capacity[1] == 64);
    CHECK(parse("contig_mem=16M pcp_capacity=64 pcp_batch=16 test_slow_hit=100", &cfg));
    CHECK_EQ_U(cfg.contig_frames, 4096);
    CHECK(cfg.pcp_capacity == 64 && cfg.pcp_batch == 16 && cfg.test_slow_hit == 100);
    CHECK(parse("bench=stress test_corrupt_frame=1", &cfg));
    CHECK(cfg.test_corrupt_frame);
    CHECK(cfg.probe_ref == 0 && cfg.host_retry_ms == HOST_RETRY_BUDGET_MS);
    CHECK(parse("probe_ref=6200 host_retry_ms=0", &cfg));
    CHECK(cfg.probe_ref == 6200 && cfg.host_retry_ms == 0);
    CHECK(parse("host_cores=2", &cfg) && cfg.host_cores == 2);
}

static void rejected(const char *text, const char *key)
{
    struct bench_config cfg;
    bool ok = parse(text, &cfg);
    CHECKF(!ok && cl.errors > 0, "'%s' was accepted", text);
    CHECKF(strstr(cl.error, key) != NULL, "'%s': error text does not name %s: %s", text, key,
           cl.error);
}

static void test_params_rejected(void)
{
    rejected("bench=nope", "bench");
    rejected("bench=", "bench");
    rejected("profile=fast", "profile");
    rejected("runs=0", "runs");
    rejected("runs=abc", "runs");
    rejected("iters=1", "iters");
    rejected("probe_ref=fast", "probe_ref");
    rejected("host_retry_ms=99999999", "host_retry_ms");
    rejected("sweep_capacities=8,x", "sweep_capacities");
    rejected("sweep_capacities=8,,9", "sweep_capacities");
    rejected("sweep_capacities=0", "sweep_capacities");
    rejected("sweep_capacities=1,2,3,4,5,6,7,8,9", "sweep_capacities");
    rejected("pcp_capacity=64 pcp_batch=65", "pcp_batch");
    rejected("pcp_batch=8", "pcp_batch");
    rejected("bench=pcp test_corrupt_frame=1", "test_corrupt_frame");
    rejected("bench=stress test_slow_hit=5", "test_slow_hit");
    rejected("test_host_slowed=1 icount=1", "test_host_slowed");
    rejected("test_host_slowed=1 host_retry_ms=0", "test_host_slowed");
    rejected("contig_mem=1M", "contig_mem");
    rejected("benhc=all", "benhc"); /* a typo is an unknown key */
}

/* A point of six runs whose slow runs (twice the time) are the ones whose
 * host-speed probe was twice the fastest. */
static void host_speed_point(struct bench_point *pt, struct bench_run_figures *f,
                             const uint64_t *probe, unsigned runs)
{
    memset(pt, 0, sizeof *pt);
    pt->figures = f;
    pt->run_count = runs;
    for (unsigned r = 0; r < runs; r++) {
        memset(&f[r], 0, sizeof f[r]);
        f[r].ops = 100;
        f[r].windows = 1;
        f[r].probe = probe[r];
        f[r].cycles_per_op = probe[r] >= 2000 ? 20.0 : 10.0;
    }
}

static void test_host_slowed_runs_leave_the_median(void)
{
    struct bench_config cfg = {.icount = 0};
    struct bench_point pt;
    struct bench_run_figures f[6];
    const struct bench_config *saved = bench_ctx.cfg;
    bench_ctx.cfg = &cfg;
    bench_ctx.probe_min = 1000;

    /* Three of six slowed: the median is the full-speed runs' (10), where
     * all six would give 15. */
    const uint64_t half[6] = {1000, 2000, 1100, 2000, 1000, 2000};
    host_speed_point(&pt, f, half, 6);
    bench_judge_host_speed(&pt);
    CHECK_EQ_U(pt.slowed_runs, 3);
    CHECK(!pt.few_fast_runs && !pt.median_all_runs);
    CHECK(near(bench_median_cycles_per_op(&pt), 10));

    /* Under the ratio (1.2x) is full speed; unprobed runs (0) are too. */
    const uint64_t mild[6] = {1200, 0, 1000, 1200, 1000, 1000};
    host_speed_point(&pt, f, mild, 6);
    bench_judge_host_speed(&pt);
    CHECK_EQ_U(pt.slowed_runs, 0);

    /* Only two full-speed runs: too few, which the point says, but the
     * median is still theirs; none at all: every run counts. */
    const uint64_t most[6] = {2000, 2000, 1000, 2000, 1000, 2000};
    host_speed_point(&pt, f, most, 6);
    bench_judge_host_speed(&pt);
    CHECK_EQ_U(pt.slowed_runs, 4);
    CHECK(pt.few_fast_runs && !pt.median_all_runs);
    CHECK(near(bench_median_cycles_per_op(&pt), 10));
    const uint64_t all[6] = {2000, 2000, 2000, 2000, 2000, 2000};
    host_speed_point(&pt, f, all, 6);
    bench_judge_host_speed(&pt);
    CHECK(pt.few_fast_runs && pt.median_all_runs);
    CHECK(near(bench_median_cycles_per_op(&pt), 20));

    /* Under icount the probe counts instructions: nothing is ever slowed. */
    cfg.icount = 1;
    host_speed_point(&pt, f, half, 6);
    bench_judge_host_speed(&pt);
    CHECK_EQ_U(pt.slowed_runs, 0);
    CHECK(near(bench_median_cycles_per_op(&pt), 15));

    bench_ctx.cfg = saved;
    bench_ctx.probe_min = 0;
}

/* The host tools' reference is the full speed when it is faster than
 * anything the boot probed at its start; never under icount (no probes). */
static void test_probe_ref_is_full_speed(void)
{
    struct bench_config cfg = {.probe_ref = 6000};
    const struct bench_config *saved = bench_ctx.cfg;
    unsigned saved_cpus = bench_ctx.cpus;
    bench_ctx.cfg = &cfg;
    bench_ctx.cpus = 2;
    bench_ctx.slot[0].probe = 9000;
    bench_ctx.slot[1].probe = 9500;
    bench_ctx.probe_min = 0;
    bench_probe_calibrate();
    CHECK_EQ_U(bench_ctx.probe_boot, 9000);
    CHECK_EQ_U(bench_ctx.probe_min, 6000);

    cfg.probe_ref = 12000; /* slower than this boot: the boot's own stands */
    bench_ctx.probe_min = 0;
    bench_probe_calibrate();
    CHECK_EQ_U(bench_ctx.probe_min, 9000);

    bench_ctx.slot[0].probe = bench_ctx.slot[1].probe = 0; /* icount: none */
    bench_ctx.probe_min = 0;
    bench_probe_calibrate();
    CHECK_EQ_U(bench_ctx.probe_min, 0);

    bench_ctx.cfg = saved;
    bench_ctx.cpus = saved_cpus;
    bench_ctx.probe_min = bench_ctx.probe_boot = 0;
}

/* A set is measured again only in timing mode, when a point has too few
 * full-speed runs, and while attempts and the boot's budget remain. */
static void test_slowed_set_measured_again(void)
{
    struct bench_config cfg = {.icount = 0};
    struct bench_point pts[2];
    const struct bench_config *saved = bench_ctx.cfg;
    bench_ctx.cfg = &cfg;
    bench_ctx.host_retry_budget = 1000;
    bench_ctx.host_retry_cycles = 0;
    memset(pts, 0, sizeof pts);
    CHECK(!bench_set_needs_attempt(pts, 2, 1));
    pts[1].few_fast_runs = true;
    CHECK(bench_set_needs_attempt(pts, 2, 1));
    CHECK(bench_set_needs_attempt(pts, 2, HOST_SET_ATTEMPTS - 1));
    CHECK(!bench_set_needs_attempt(pts, 2, HOST_SET_ATTEMPTS));
    bench_ctx.host_retry_cycles = 1000; /* the budget is spent */
    CHECK(!bench_set_needs_attempt(pts, 2, 1));
    bench_ctx.host_retry_cycles = 0;
    pts[1].cpus = 4; /* more CPUs than the host's cores: sharing them slowed it */
    cfg.host_cores = 2;
    CHECK(!bench_set_needs_attempt(pts, 2, 1));
    pts[0].few_fast_runs = true;
    pts[0].cpus = 2;
    CHECK(bench_set_needs_attempt(pts, 2, 1));
    cfg.host_cores = 0; /* unknown: any point */
    pts[0].few_fast_runs = false;
    CHECK(bench_set_needs_attempt(pts, 2, 1));
    cfg.icount = 1;
    CHECK(!bench_set_needs_attempt(pts, 2, 1));
    bench_ctx.host_retry_budget = 0; /* host_retry_ms=0: never */
    cfg.icount = 0;
    CHECK(!bench_set_needs_attempt(pts, 2, 1));
    bench_ctx.cfg = saved;
}

int main(void)
{
    RUN(test_quantiles_odd);
    RUN(test_quantiles_even);
    RUN(test_percentiles_large);
    RUN(test_histogram_buckets);
    RUN(test_crc32_vectors);
    RUN(test_csv_escape);
    RUN(test_block_framing);
    RUN(test_cpu_sweep);
    RUN(test_params_defaults);
    RUN(test_params_rejected);
    RUN(test_host_slowed_runs_leave_the_median);
    RUN(test_probe_ref_is_full_speed);
    RUN(test_slowed_set_measured_again);
    return check_exit();
}
