/*
 * bench.h - the benchmark and stress harness: the kernel's view of bench/.
 *
 * The kernel parses its command line once; bench_parse_params() reads every
 * benchmark key from it (bench=, profile=, runs=, ...; bench/README.md lists
 * them) and records bad values through the cmdline error mechanism, so a bad
 * parameter stops the boot before anything runs.  After the allocator and
 * every CPU are up, bench_run() runs the selected benchmarks on CPU sets
 * through plat_run_on_cpus() and writes the serial contract (docs/design.md):
 *   meta.csv     the kernel's key/value pairs plus the harness's own
 *   results.csv  bench,case,cpus,param,metric,value,unit
 *   hist.csv     bench,case,cpus,param,path,lo,hi,count,unit
 * each inside @@BEGIN/@@END frames with row count and CRC32, progress lines
 * (`# progress: <bench> start|done (<secs> s)`), a KTAP subtest block with
 * one result per selected benchmark (lib/ktap.h, depth 1: the caller's KTAP
 * block reports it as its `bench` test) and, last, the line
 * `@@VERDICT pass|check-failed`.  The caller maps the returned verdict to its
 * exit code.
 *
 * Portable C11: built into the kernel and into the host test library.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/cmdline.h"

/* Benchmarks, in the order bench_run() runs them; bit i of bench_config.benches. */
enum bench_id {
    BENCH_SMP,
    BENCH_REFCOUNT,
    BENCH_PCP,
    BENCH_CONTIG,
    BENCH_STRESS,
    BENCH_FRAG,
    BENCH_COUNT
};

enum bench_profile {
    BENCH_PROFILE_QUICK, /* tests/CI: the whole suite in seconds of guest time */
    BENCH_PROFILE_FULL,  /* make bench: sized for SMP=8 under TCG in < 60 s */
};

#define BENCH_MAX_RUNS 64
#define BENCH_MAX_SWEEP 8 /* capacities in sweep_capacities= */

struct bench_config {
    uint64_t benches;            /* mask of 1 << enum bench_id */
    enum bench_profile profile;
    unsigned runs;               /* timed repetitions per measurement point */
    uint64_t iters;              /* operations per CPU per run (refcount, pcp) */
    uint64_t seed;               /* every random choice derives from it */
    unsigned sample_every;       /* time every k-th operation individually */
    uint64_t stress_ops;         /* per CPU */
    unsigned stress_epochs;      /* invariant checks during the stress run */
    unsigned pcp_capacity;       /* 0: the allocator's configuration at run time */
    unsigned pcp_batch;          /* 0: the allocator's (or capacity / 4) */
    unsigned sweep_capacity[BENCH_MAX_SWEEP];
    unsigned sweep_count;        /* 0: capacity/4, capacity, capacity*4 */
    uint64_t contig_frames;      /* bound of the fragmented region, in frames */
    unsigned frag_cycles;        /* aging cycles per policy (bench=frag) */
    unsigned frag_live_pct;      /* short-lived peak, % of free memory */
    unsigned frag_long_pct;      /* long-lived at the end, % of free memory */
    unsigned max_cpus;           /* 0: every online CPU */
    uint64_t probe_ref;          /* probe_ref=: the host's full-speed probe from
                                  * earlier boots (cycles; 0: none, harness.c) */
    uint64_t host_retry_ms;      /* host_retry_ms=: the boot's budget for sets
                                  * measured again on a slowed host (0: none) */
    unsigned host_cores;         /* host_cores=: the host's cores as the host
                                  * tools counted them (0: unknown) */
    bool icount;                 /* the host ran QEMU with -icount: the TSC counts
                                  * instructions and vCPUs take turns */
    bool test_corrupt_frame;     /* test only: corrupt a free frame mid-stress */
    uint64_t test_slow_hit;      /* test only: cycles added to each cache hit */
    bool test_host_slowed;       /* test only: every run of a set's first attempt
                                  * is judged slowed, so every set is measured again
                                  * (without waiting for the host) */
};

enum bench_verdict {
    BENCH_PASS,
    BENCH_CHECK_FAILED, /* an invariant of the allocator or the harness failed */
};

/* Key/value pairs the kernel knows (version, commit, accelerator, CPU vendor
 * and brand, cpus, memory, tsc_khz, tsc_source, cmdline ...); emitted first
 * in meta.csv, followed by the harness's own keys (seed, profile, runs ...). */
struct bench_meta_kv {
    const char *key;
    const char *value;
};
struct bench_meta {
    const struct bench_meta_kv *kv;
    unsigned count;
};

/* Reads every benchmark key; false when any was invalid (the problem is
 * recorded in cl->error, cfg then holds defaults for the bad keys). */
bool bench_parse_params(struct cmdline *cl, struct bench_config *cfg);

/* Runs the selected benchmarks on CPU 0 after mm_init() and SMP bring-up
 * (all other CPUs idle, waiting for plat_run_on_cpus); prints the blocks and
 * the @@VERDICT line.  The caller exits with the verdict. */
enum bench_verdict bench_run(const struct bench_config *cfg, const struct bench_meta *meta);

#endif /* BENCH_BENCH_H */
