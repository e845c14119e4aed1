/*
 * bench_int.h - internals shared by the files of bench/ (and its host tests).
 *
 * Pieces:
 *   csv.c      CRC32 (IEEE), CSV escaping, framed blocks buffered in memory
 *   stats.c    sorting, quantiles, log-spaced histograms, the seeded RNG
 *   params.c   bench_parse_params and the profile defaults
 *   harness.c  bench_run: scratch memory, CPU sweep, timed runs, rows,
 *              invariant checks at quiescent points
 *   refcount.c pcp.c contig.c stress.c smp.c   the benchmarks
 *
 * One run at a time: the harness state is one static struct bench_ctx owned
 * by CPU 0; benchmark bodies running on other CPUs touch only their own
 * cache-line-aligned slot and sample buffer in it.
 */
#ifndef BENCH_BENCH_INT_H
#define BENCH_BENCH_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"
#include "mm/mm.h"
#include "plat/platform.h"

/* ---- params.c ------------------------------------------------------------ */

const char *bench_name(enum bench_id id);
const char *bench_profile_name(enum bench_profile p);

/* ---- csv.c ---------------------------------------------------------------- */

/* zlib-compatible CRC32: crc = bench_crc32(0, buf, len) or chained. */
uint32_t bench_crc32(uint32_t crc, const void *buf, size_t len);

/* Writes field to out with the contract's escaping (quote when it holds , "
 * or a newline; inner quotes doubled); returns the length it needs, writing
 * at most cap bytes (no terminator). */
size_t csv_escape(char *out, size_t cap, const char *field);

/* A framed block assembled in memory (header and rows, each ending "\n") and
 * written out whole by csv_block_emit(), so no log line from another module
 * can land inside a frame. */
struct csv_block {
    const char *name;
    char *buf;
    size_t cap, len;
    unsigned rows;      /* records after the header */
    bool overflow;      /* a row did not fit: the block is incomplete */
};
void csv_block_init(struct csv_block *b, const char *name, char *buf, size_t cap,
                    const char *header);
/* Appends one record from n fields (escaped); false when it did not fit. */
bool csv_block_row(struct csv_block *b, const char *const *fields, unsigned n);
/* Prints @@BEGIN, the buffered text, @@END with rows and CRC; resets the rows. */
void csv_block_emit(struct csv_block *b);
/* "@@END <name> rows=<N> crc32=<hex>" for the buffered text (no newline). */
int csv_block_trailer(const struct csv_block *b, char *out, size_t cap);

/* ---- stats.c -------------------------------------------------------------- */

void stats_sort_u64(uint64_t *v, size_t n);
void stats_sort_double(double *v, size_t n);
/* Quantile q in [0,1] of sorted data, linear interpolation between ranks
 * (q=0.5 of an even count is the mean of the two middle values). */
double stats_quantile_u64(const uint64_t *sorted, size_t n, double q);
double stats_quantile_double(const double *sorted, size_t n, double q);

/* Log-spaced histogram: 4 buckets per power of two ([4,5) [5,6) [6,7) [7,8)
 * [8,10) ...), values below 4 one bucket each; lo/hi in the value's unit. */
#define HIST_BUCKETS 252
struct histogram {
    uint64_t count[HIST_BUCKETS];
    uint64_t total;
};
unsigned hist_bucket(uint64_t v);
void hist_bounds(unsigned bucket, uint64_t *lo, uint64_t *hi);
void hist_clear(struct histogram *h);
void hist_add(struct histogram *h, uint64_t v);

/* splitmix64: seeds per-CPU xorshift streams from one seed. */
uint64_t rng_split(uint64_t *state);
/* xorshift64*, state never 0. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}
/* Uniform in [0, n) (n > 0), by multiply-shift. */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

/* ---- harness.c ------------------------------------------------------------ */

/* Latency sample tags (top bits of a sample word; the rest is cycles). */
enum sample_path {
    PATH_ALL,     /* benchmarks without a hit/miss distinction */
    PATH_HIT,     /* per-CPU cache hit */
    PATH_MISS,    /* per-CPU cache miss: refill from the buddy allocator */
    PATH_GLOBAL,  /* caches off: straight to the buddy allocator */
    PATH_COUNT
};
#define SAMPLE_PATH_SHIFT 62
#define SAMPLE_CYCLES_MASK ((UINT64_C(1) << SAMPLE_PATH_SHIFT) - 1)

/* Per-CPU slot: written only by its CPU while a job runs, read by CPU 0 after. */
#define SLOT_COUNTERS 8
struct bench_slot {
    _Alignas(CACHE_LINE_SIZE) uint64_t cycles; /* timed region of the current run */
    uint64_t ops;                              /* operations in it */
    uint64_t counter[SLOT_COUNTERS];           /* benchmark-defined, over all runs */
    uint64_t nsamples;
    uint64_t sample_skip;                      /* countdown to the next sample */
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t private_line; /* xadd_private */
};

/* One timed run of a measurement point, from the slots. */
struct bench_run_figures {
    uint64_t ops;          /* all CPUs */
    double cycles_per_op;  /* mean over the CPUs that did work */
    double mops;           /* ops over the longest CPU's time */
};

struct bench_ctx {
    const struct bench_config *cfg;
    unsigned cpus;               /* CPUs used: min(online, max_cpus) */
    uint64_t tsc_khz;
    uint64_t timer_overhead;     /* cycles of an empty fenced region, subtracted */
    bool failed;                 /* an invariant failed: stop, verdict check-failed */
    bool warm;                   /* the current dispatch is a warm-up */
    bool sampling;               /* bench_should_sample may pick operations */
    bool sample_pass;            /* the current dispatch only samples latencies:
                                  * its time and counters are not the run's */
    unsigned run;                /* index of the current timed run */
    unsigned run_count;
    struct bench_run_figures figures[BENCH_MAX_RUNS];
    uint64_t stride;             /* sample every stride-th operation */
    uint64_t baseline_allocated; /* frames allocated outside the benchmarks */
    struct csv_block results, hist;
    uint64_t *samples[PLAT_MAX_CPUS];
    uint64_t sample_cap;         /* per CPU */
    uint64_t *merge;             /* cpus * sample_cap words, CPU 0 only */
    void *work[PLAT_MAX_CPUS];   /* per-CPU work area (frame arrays, rings) */
    size_t work_bytes;
    struct bench_slot slot[PLAT_MAX_CPUS];
};

extern struct bench_ctx bench_ctx;

/* Scratch for a benchmark: frames from the allocator, returned by
 * bench_scratch_release() before the benchmark's invariant check.  NULL when
 * out of memory (the caller fails the benchmark with a message). */
void *bench_scratch_alloc(uint64_t bytes);
void bench_scratch_release(void);
/* Frames of the current benchmark's scratch (not yet released). */
uint64_t bench_scratch_frames(void);
/* Everything allocated so far lives for the whole run (harness buffers). */
void bench_scratch_keep(void);
void bench_scratch_release_all(void);

/* CPU counts to sweep: 1, 2, 4, ... and cpus itself; returns how many. */
unsigned bench_cpu_sweep(unsigned cpus, unsigned *out, unsigned cap);

/* Records a failed invariant: logs the message and fails the run. */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- timed runs ----------------------------------------------------------- */

/* A measurement point: the (bench, case, cpus, param) every row of it carries. */
struct bench_point {
    const char *bench;
    const char *cas;
    unsigned cpus;
    char param[96];
    uint64_t ops_per_run;  /* per CPU, to size the sampling stride */
    unsigned sample_every; /* 0: sample_every= of the command line */
    bool sample_in_runs;   /* every operation is timed anyway (contig): sample in
                            * the timed runs instead of a separate pass */
};

/* Resets slots and samples, picks the stride, runs one warm-up dispatch and
 * cfg->runs timed dispatches of job on pt->cpus CPUs, emitting per-run and
 * aggregate timing rows.  The job reads bench_ctx.warm/run and fills its
 * slot.  The timed runs sample nothing (unless pt->sample_in_runs): timing
 * single operations costs fenced TSC reads that would inflate ns_per_op
 * (pcp pairs on the host: 10.3-10.8 ns with every 16th operation timed,
 * 6.5-8.0 ns without), so latencies come from bench_sample_pass. */
void bench_measure(const struct bench_point *pt, plat_job_fn job, void *arg);

/* cfg->runs more dispatches of job that only sample single-operation
 * latencies (every k-th operation) for bench_point_latency; their time and
 * counters (bench_counting() false) are not part of the measurement. */
void bench_sample_pass(const struct bench_point *pt, plat_job_fn job, void *arg);

/* As bench_measure, without the warm-up (for jobs whose state a warm-up
 * would change, like the fragmented contig region). */
void bench_measure_cold(const struct bench_point *pt, plat_job_fn job, void *arg);

/* After a measurement: pooled sampled latencies as p50_ns..p999_ns rows and
 * a hist.csv part (path "all"); by_path adds <path>_ns_p50.. rows and a
 * histogram per path (hit, miss, global). */
void bench_point_latency(const struct bench_point *pt, bool by_path);
/* Operations of every timed run of the last measurement. */
uint64_t bench_total_ops(void);
/* One warm-up dispatch (bench_ctx.warm set), for bench_measure_cold users
 * that snapshot allocator statistics between warm-up and timed runs. */
void bench_warm_up(unsigned cpus, plat_job_fn job, void *arg);
/* Sum over CPUs 0..cpus-1 of slot counter[index]. */
uint64_t bench_counter_sum(unsigned cpus, unsigned index);

/* Per-operation sampling inside a job: true when this op should be timed. */
static inline bool bench_should_sample(struct bench_slot *s)
{
    if (!bench_ctx.sampling || bench_ctx.warm)
        return false;
    if (s->sample_skip > 0) {
        s->sample_skip--;
        return false;
    }
    s->sample_skip = bench_ctx.stride - 1;
    return true;
}

static inline void bench_sample(struct bench_slot *s, unsigned cpu, uint64_t cycles,
                                enum sample_path path)
{
    cycles = cycles > bench_ctx.timer_overhead ? cycles - bench_ctx.timer_overhead : 0;
    if (s->nsamples < bench_ctx.sample_cap)
        bench_ctx.samples[cpu][s->nsamples++] =
            (cycles & SAMPLE_CYCLES_MASK) | ((uint64_t)path << SAMPLE_PATH_SHIFT);
}

/* Whether a job's counters (slot counters, allocator statistics deltas)
 * belong to the measurement: not in a warm-up, not in a sampling pass. */
static inline bool bench_counting(void)
{
    return !bench_ctx.warm && !bench_ctx.sample_pass;
}

/* Busy-waits for the given number of TSC cycles (test_slow_hit). */
static inline void bench_spin_cycles(uint64_t cycles)
{
    uint64_t t0 = plat_tsc();
    while (plat_tsc() - t0 < cycles)
        plat_pause();
}

/* Operations per CPU per run for the profile (iters= overrides). */
uint64_t bench_iters(void);
/* Operations in a warm-up given the timed count. */
static inline uint64_t bench_warm_ops(uint64_t ops)
{
    return ops / 8 ? ops / 8 : 1;
}

/* ---- rows ----------------------------------------------------------------- */

void bench_row(const struct bench_point *pt, const char *param_extra, const char *metric,
               double value, const char *unit);
void bench_row_u(const struct bench_point *pt, const char *param_extra, const char *metric,
                 uint64_t value, const char *unit);
/* Samples (cycles, sorted in place) -> p50/p90/p99/p999 rows named p50_ns..
 * (prefix NULL) or <prefix>_ns_p50.., a samples count, and the hist.csv rows
 * of path unless path is NULL. */
void bench_latency_rows(const struct bench_point *pt, const char *prefix, uint64_t *cycles,
                        size_t n, const char *path);
double bench_cycles_to_ns(double cycles);
/* Appends formatted text to a param string, with ';' before it unless empty. */
void bench_param_add(char *param, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- quiescent-point checks ------------------------------------------------ */

/* Drains every cache, runs mm_check and frame conservation against the
 * baseline; false (and the run failed) on any violation. */
bool bench_check_allocator(const char *bench);
/* mm_check only, no drain (stress epochs). */
bool bench_mm_check(const char *where);

/* ---- the benchmarks ------------------------------------------------------- */

void bench_smp(void);
void bench_refcount(void);
void bench_pcp(void);
void bench_contig(void);
void bench_stress(void);

#endif /* BENCH_BENCH_INT_H */
