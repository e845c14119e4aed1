/*
 * bench_int.h - the internals of bench/: how a figure is made.  Only the files
 * of bench/ and its host tests include this; the kernel sees bench/bench.h.
 *
 * A run (bench_run, run.c) is meta.csv first, then every selected benchmark
 * in enum bench_id order, each ending with the allocator's invariant check
 * and its rows as one results.csv and one hist.csv block, then the verdict.
 *
 * A figure comes from a measurement point: (bench, case, cpus, param) and a
 * job that every one of the point's CPUs runs at once (plat_run_on_cpus).
 * Points are measured in sets (bench_measure_set): each point gets a warm-up
 * dispatch, then the runs= timed dispatches of all points of the set are
 * interleaved (run 0 of every point, run 1 of every point, ...), so a slow
 * stretch of the host spreads over every case instead of covering one; the
 * cases of one benchmark at one CPU count form a set, and the set carries
 * the empty-operation case whose median is subtracted where a figure is
 * "per operation" (ns_per_op_net_median).
 *
 * Inside a job every CPU runs its loop through a struct bench_loop, in
 * chunks of operations: warm-up chunks until every CPU of the point has
 * arrived, the measured chunks between two fenced TSC reads (the CPU's
 * window), then cool-down chunks until every CPU has finished its measured
 * portion (refscale's scheme), so each window overlaps the others' load;
 * the waits are bounded (before the window by the CPU's measured portion,
 * after it by half that), so a host that cannot run the CPUs at once does not
 * pay for the waiting too.
 * Just before and after each job every CPU probes the host's speed (fixed
 * independent steps, harness.c): runs the host ran slowed keep their
 * per-run rows but stay out of the medians while enough full-speed runs
 * remain (host_slowed_runs counts them).
 * One unfenced TSC read per chunk finds the gaps where the CPU did not run
 * (a chunk far longer than the shortest one): the per-operation time is the
 * window minus its gaps, and desched_frac says how much was taken out.  From
 * the windows of a multi-CPU point the harness also reports, per run and as
 * medians, overlap_frac, concurrency and start_skew_ns, and whether the point
 * was concurrent at all.
 *
 * Latencies come from separate sampling passes (the same runs again, not
 * part of the figures above): a randomised 1-in-k choice of operations is
 * timed alone, the CPU's own timer overhead subtracted.  contig, which times
 * every attempt anyway, samples in its timed runs.
 *
 * Files:
 *   csv.c      CRC32 (IEEE), CSV escaping, framed blocks buffered in memory
 *   stats.c    sorting, quantiles, log-spaced histograms, the seeded RNG
 *   params.c   bench_parse_params and the profile defaults
 *   harness.c  scratch memory, CPU sweep, the loop phases, point sets, rows
 *   run.c      bench_run: meta.csv, timer overhead, the benchmarks in order,
 *              invariant checks at quiescent points, blocks, verdict
 *   bench_refcount.c bench_pcp.c (+ bench_numa.c) bench_contig.c bench_stress.c
 *   bench_smp.c
 *
 * State: one struct bench_ctx owned by CPU 0; a job reads its point from its
 * argument, and CPUs running a job write only their own cache-line-aligned
 * slot, their sample buffer and the loop's two arrival counters.
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

/* Latency sample word: top 2 bits the path, the next 4 the point's index in
 * its set, the rest cycles. */
enum sample_path {
    PATH_ALL,     /* benchmarks without a hit/miss distinction */
    PATH_HIT,     /* per-CPU cache hit */
    PATH_MISS,    /* per-CPU cache miss: refill from the buddy allocator */
    PATH_GLOBAL,  /* caches off: straight to the buddy allocator */
    PATH_COUNT
};
#define SAMPLE_PATH_SHIFT 62
#define SAMPLE_POINT_SHIFT 58
#define SAMPLE_POINT_MASK 0xfu
#define SAMPLE_CYCLES_MASK ((UINT64_C(1) << SAMPLE_POINT_SHIFT) - 1)
#define BENCH_SET_MAX 16 /* points per set: fits SAMPLE_POINT_MASK */

/* Per-CPU slot: written only by its CPU while a job runs, read by CPU 0 after. */
#define BENCH_PROBE_WORDS 8
/* A run probed over HOST_SLOW_RATIO x the fastest probe ran slowed; a point
 * needs HOST_MIN_FAST_RUNS full-speed runs for medians without them
 * (harness.c, the host's speed).  meta.csv carries both. */
#define HOST_SLOW_RATIO 1.25
#define HOST_MIN_FAST_RUNS 3
/* A set left with a point short of full-speed runs is measured again, at
 * most HOST_SET_ATTEMPTS times in all, after the host has run CPU 0 at full
 * speed for HOST_FAST_HOLD_MS, while the boot has spent less than
 * host_retry_ms= (default HOST_RETRY_BUDGET_MS) on waiting for the host and
 * on the sets measured again: a host slowed throughout costs a bounded time. */
#define HOST_SET_ATTEMPTS 3
/* At the start every CPU probes for PROBE_CALIBRATE_MS; the fastest probe is
 * the boot's own full speed (speed_probe_cycles). */
#define PROBE_CALIBRATE_MS 50
#define HOST_FAST_HOLD_MS 20
#define HOST_RETRY_BUDGET_MS 30000
#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)
#define SLOT_COUNTERS 8
struct bench_slot {
    _Alignas(CACHE_LINE_SIZE) uint64_t cycles; /* per-op time basis of the run:
                                                * the window minus its gaps */
    uint64_t ops;                              /* operations in it (0: not counted) */
    uint64_t t_begin, t_end;                   /* the measured window (TSC) */
    uint64_t gap_cycles;                       /* detected gaps inside it */
    uint64_t counter[SLOT_COUNTERS];           /* benchmark-defined, this dispatch */
    uint64_t nsamples;
    uint64_t sample_skip;                      /* operations until the next sample */
    uint64_t sample_rng;
    uint64_t timer_overhead;                   /* this CPU's empty fenced region */
    uint64_t probe;                            /* host-speed probe around the job
                                                * (bench_speed_probe; 0: none) */
    uint64_t probe_buf[BENCH_PROBE_WORDS];     /* the probe's memory */
    unsigned irq_pending;                      /* seen before the job started */
    unsigned loop_state;                       /* enum loop_phase reached */
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t private_line; /* xadd_private */
};

/* One timed run of a measurement point, from the slots. */
struct bench_run_figures {
    uint64_t ops;          /* all CPUs */
    double cycles_per_op;  /* mean over the CPUs that did work */
    double mops;           /* ops over the longest CPU's window (wall clock) */
    /* Windows of the CPUs that ran a loop. */
    unsigned windows;
    double overlap_frac, concurrency, desched_frac, start_skew_cycles;
    uint64_t probe;        /* slowest CPU's host-speed probe (0: none) */
    bool host_slowed;      /* probe over HOST_SLOW_RATIO x the fastest seen */
};

/* A measurement point: the (bench, case, cpus, param) every row of it
 * carries, the job and its argument, and what the harness gathers. */
struct bench_point {
    const char *bench;
    const char *cas;
    unsigned cpus;
    char param[96];
    plat_job_fn job;
    void *arg;             /* the job's state: the point's own description */
    uint64_t ops_per_run;  /* per CPU, to size the sampling stride */
    unsigned sample_every; /* 0: sample_every= of the command line */
    bool sample_in_runs;   /* every operation is timed anyway (contig): sample in
                            * the timed runs instead of a separate pass */
    bool cold;             /* no warm-up dispatch (state it would change) */
    bool by_path;          /* latency rows per path (hit, miss, global) */
    const struct bench_point *empty; /* the empty-operation case of this loop
                                      * shape in the same set: net rows */
    /* CPU 0 before (after=false) and after each timed dispatch of the set's
     * first attempt (its counts are the first attempt's: harness.c). */
    void (*around_run)(struct bench_point *pt, bool after);
    /* CPU 0 before every attempt at the set (harness.c), the first too: puts
     * back the state the point's runs start from, so that a set measured
     * again repeats the first attempt instead of carrying on from where it
     * ended (NULL: the point leaves no state behind). */
    void (*start)(struct bench_point *pt);
    /* Filled by the harness. */
    uint64_t counter[SLOT_COUNTERS];   /* sums over CPUs and timed runs */
    uint64_t irq_pending;              /* over CPUs and timed runs */
    unsigned run_count;
    struct bench_run_figures *figures; /* [run] */
    double *cpu_cycles_per_op;         /* [run * cpus + cpu], NaN: no work */
    double cycles_per_op_median;
    unsigned slowed_runs;              /* runs the host ran slowed */
    bool few_fast_runs;                /* fewer than HOST_MIN_FAST_RUNS ran at
                                        * full speed (host_slowed row): medians
                                        * over the ones that did, */
    bool median_all_runs;              /* or, none did, over every run */
    unsigned attempts;                 /* times its set was measured (>1: the
                                        * host slowed the earlier ones) */
    uint64_t samples[PATH_COUNT];      /* kept by its latency rows, per path */
    unsigned index;                    /* in its set */
};

struct bench_ctx {
    const struct bench_config *cfg;
    unsigned cpus;               /* CPUs used: min(online, max_cpus) */
    uint64_t tsc_khz;
    uint64_t gap_cycles;         /* a chunk this much over the shortest is a gap */
    uint64_t host_retry_cycles;  /* spent waiting for the host and measuring
                                  * sets again (harness.c, the host's speed) */
    uint64_t host_retry_budget;  /* host_retry_ms= in cycles */
    unsigned set_attempt;        /* of the set being measured, from 0 */
    uint64_t probe_boot;         /* fastest probe of this boot's start (meta.csv) */
    uint64_t probe_min;          /* fastest probe so far, probe_ref included: the
                                  * full speed runs are judged against */
    const char *unit_ns;         /* "ns", or "instr" when the TSC counts instructions */
    const char *unit_cycles;     /* "cycles" or "instr" */
    bool failed;                 /* an invariant failed: stop, verdict check-failed */
    char failure[160];           /* the first failed check's message (the KTAP diagnostic) */
    bool warm;                   /* the current dispatch is a warm-up */
    bool sampling;               /* bench_should_sample may pick operations */
    bool sample_pass;            /* the current dispatch only samples latencies:
                                  * its time and counters are not the run's */
    unsigned run;                /* index of the current timed run */
    unsigned loop_cpus;          /* CPUs of the current dispatch */
    unsigned sample_point;       /* index tagged into samples */
    _Alignas(CACHE_LINE_SIZE) atomic_uint loop_arrived;
    _Alignas(CACHE_LINE_SIZE) atomic_uint loop_finished;
    _Alignas(CACHE_LINE_SIZE) uint64_t stride; /* mean sampling period */
    uint64_t baseline_allocated; /* frames allocated outside the benchmarks */
    struct csv_block results, hist;
    uint64_t *samples[PLAT_MAX_CPUS];
    uint64_t sample_cap;         /* per CPU */
    uint64_t *merge;             /* cpus * sample_cap words, CPU 0 only */
    double *cpu_figures;         /* BENCH_SET_MAX * runs * cpus, for the points */
    struct bench_run_figures *run_figures; /* BENCH_SET_MAX * runs */
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

/* The host-speed probe (hostspeed.c): cycles of fixed independent steps over
 * buf[BENCH_PROBE_WORDS], the fastest of a few timings.  bench_probe_calibrate
 * takes the slots' probes (after every CPU has stored one) as the boot's
 * first fastest probe, and probe_ref= as the host's full speed if faster;
 * bench_probe_seen keeps the fastest probe so far (CPU 0, between
 * dispatches). */
uint64_t bench_speed_probe(uint64_t *buf);
void bench_probe_calibrate(void);
void bench_probe_seen(uint64_t probe);
/* Whether a set just measured (attempt times so far) is measured again: in
 * timing mode, a point left with too few full-speed runs on no more CPUs
 * than host_cores= (when known), attempts and the boot's budget left. */
bool bench_set_needs_attempt(const struct bench_point *pts, unsigned n, unsigned attempt);
/* Before a set is measured again: CPU 0 probes until the host has run it at
 * full speed for HOST_FAST_HOLD_MS, or the boot's budget is spent. */
void bench_wait_for_full_speed(void);

/* CPU counts to sweep: 1, 2, 4, ... and cpus itself; returns how many. */
unsigned bench_cpu_sweep(unsigned cpus, unsigned *out, unsigned cap);

/* Records a failed invariant: logs the message and fails the run. */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the loop of one CPU in one dispatch ----------------------------------- */

enum loop_phase { LOOP_NONE, LOOP_WARM, LOOP_MEASURE, LOOP_COOL, LOOP_DONE };
#define BENCH_CHUNK_OPS 64     /* operations per chunk in the per-op loops */
#define BENCH_WARM_CHUNKS 4    /* at least, before the window opens */

struct bench_loop {
    struct bench_slot *s;
    uint64_t left;             /* measured chunks not yet finished */
    uint64_t chunks;
    uint64_t last;             /* TSC at the last chunk boundary */
    uint64_t min_chunk;        /* shortest chunk so far */
    uint64_t warm_chunks;      /* warm-up chunks; in the cool-down, its chunks */
    enum loop_phase phase;
};

/* Arrives at the point's loop; chunks = measured chunks (>= 1). */
void bench_loop_begin(struct bench_loop *l, struct bench_slot *s, uint64_t chunks);
/* Phase changes (out of line: once per phase, not per chunk). */
bool bench_loop_step(struct bench_loop *l, uint64_t now);

/* Called before every chunk; false when the CPU is done.  The measured
 * window opens and closes with fenced TSC reads; between them each chunk
 * boundary costs one plain TSC read, a compare and a store. */
static inline bool bench_loop_next(struct bench_loop *l)
{
    uint64_t now = plat_tsc();
    if (likely(l->phase == LOOP_MEASURE)) {
        uint64_t dt = now - l->last;
        l->last = now;
        if (dt < l->min_chunk)
            l->min_chunk = dt;
        else if (unlikely(dt - l->min_chunk > bench_ctx.gap_cycles))
            l->s->gap_cycles += dt - l->min_chunk;
        if (likely(--l->left))
            return true;
    }
    return bench_loop_step(l, now);
}

/* Whether the chunk about to run is a measured one. */
static inline bool bench_loop_measuring(const struct bench_loop *l)
{
    return l->phase == LOOP_MEASURE;
}

/* After the loop: the run's operations; the per-op time basis is the window
 * minus its detected gaps, the time the CPU really worked (a job that times
 * its operations itself, as contig does, sets cycles afterwards). */
static inline void bench_loop_end(struct bench_loop *l, uint64_t ops)
{
    struct bench_slot *s = l->s;
    uint64_t window = s->t_end - s->t_begin;
    s->ops = ops;
    s->cycles = window - (s->gap_cycles < window ? s->gap_cycles : window);
}

/* ---- timed runs ----------------------------------------------------------- */

/* Measures a set of points (1..BENCH_SET_MAX): per point a warm-up dispatch
 * (unless cold), then cfg->runs rounds in which every point runs once (the
 * order rotated each round), then per point the timing, concurrency and
 * per-CPU rows, its sampling pass and latency rows.  Afterwards each point's
 * counters, figures and run count describe its timed runs. */
void bench_measure_set(struct bench_point *pts, unsigned n);
/* The concurrency rows of a point measured outside bench_measure_set, in
 * one run, from the windows (t_begin, t_end, gap_cycles) its CPUs left in
 * their slots (bench_stress). */
void bench_window_rows(struct bench_point *pt);

/* After a set's runs (bench_measure_set calls it): marks the runs the host
 * ran slowed (probe over HOST_SLOW_RATIO x bench_ctx.probe_min, never under
 * icount) and decides whether enough full-speed runs remain for the medians;
 * then the median cycles per operation over the runs the medians use. */
void bench_judge_host_speed(struct bench_point *pt);
double bench_median_cycles_per_op(const struct bench_point *pt);

/* After a measurement: pooled sampled latencies as p50_ns..p999_ns rows and
 * a hist.csv part (path "all"); by_path adds <path>_ns_p50.. rows and a
 * histogram per path (hit, miss, global). */
void bench_point_latency(struct bench_point *pt);
/* Operations of every timed run of a measured point. */
uint64_t bench_point_ops(const struct bench_point *pt);
/* Samples of one path a measured point's latency rows were made from. */
uint64_t bench_point_samples(const struct bench_point *pt, enum sample_path path);
/* Sum over CPUs 0..cpus-1 of slot counter[index] (jobs outside point sets). */
uint64_t bench_counter_sum(unsigned cpus, unsigned index);

/* Per-operation sampling inside a job: true when this op should be timed.
 * The gaps between samples are uniform in [0, 2k-2], so the mean period is k
 * and no periodic workload can lock onto it. */
static inline bool bench_should_sample(struct bench_slot *s)
{
    if (!bench_ctx.sampling || bench_ctx.warm || s->loop_state != LOOP_MEASURE)
        return false; /* warm-up and cool-down chunks would crowd the buffers */
    if (s->sample_skip > 0) {
        s->sample_skip--;
        return false;
    }
    s->sample_skip = rng_below(&s->sample_rng, 2 * bench_ctx.stride - 1);
    return true;
}

static inline void bench_sample(struct bench_slot *s, unsigned cpu, uint64_t cycles,
                                enum sample_path path)
{
    cycles = cycles > s->timer_overhead ? cycles - s->timer_overhead : 0;
    if (s->nsamples < bench_ctx.sample_cap)
        bench_ctx.samples[cpu][s->nsamples++] =
            (cycles & SAMPLE_CYCLES_MASK) |
            ((uint64_t)bench_ctx.sample_point << SAMPLE_POINT_SHIFT) |
            ((uint64_t)path << SAMPLE_PATH_SHIFT);
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
/* Measured chunks of BENCH_CHUNK_OPS for n operations (>= 1). */
static inline uint64_t bench_chunks(uint64_t n)
{
    return n / BENCH_CHUNK_OPS ? n / BENCH_CHUNK_OPS : 1;
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
/* TSC cycles in the unit of bench_ctx.unit_ns (nanoseconds; under icount the
 * TSC counts instructions and the calibrated rate makes this instructions). */
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
/* pcp's node_local / node_remote cases at cache geometry cfg (configured by
 * the caller); nothing on one node. */
void bench_pcp_numa(const struct pcp_config *cfg);
void bench_contig(void);
void bench_stress(void);
void bench_frag(void);

#endif /* BENCH_BENCH_INT_H */
