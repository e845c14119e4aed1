/*
 * params.c - the benchmark keys of the kernel command line.
 *
 * Every key is read here, before anything runs, through the typed getters of
 * lib/cmdline.h, which record a bad value as one error line naming the key;
 * the few checks the getters cannot express (lists of numbers, keys that only
 * make sense together) append their own line in the same form.  The table of
 * keys with their ranges and defaults is in bench/README.md.
 *
 * Profiles only change defaults: `quick` (tests, CI) keeps the whole suite to
 * seconds of guest time at SMP=4 under TCG; `full` (make bench) is sized so a
 * run at SMP=8 under TCG takes a few minutes on a 2-core host (137 s in QEMU
 * with every benchmark, 11 runs a point).
 */
#include <stdarg.h>

#include "bench/bench_int.h"

static const char *const bench_names[BENCH_COUNT] = {
    [BENCH_SMP] = "smp",       [BENCH_REFCOUNT] = "refcount", [BENCH_PCP] = "pcp",
    [BENCH_CONTIG] = "contig", [BENCH_STRESS] = "stress",     [BENCH_FRAG] = "frag",
};
static const char *const profile_names[] = {
    [BENCH_PROFILE_QUICK] = "quick",
    [BENCH_PROFILE_FULL] = "full",
};

struct profile_defaults {
    unsigned runs;
    uint64_t iters;
    uint64_t stress_ops;
    unsigned stress_epochs;
    unsigned frag_cycles;
};
static const struct profile_defaults profile_defaults[] = {
    [BENCH_PROFILE_QUICK] = {.runs = 3, .iters = 2000, .stress_ops = 20000, .stress_epochs = 4,
                             .frag_cycles = 4},
    [BENCH_PROFILE_FULL] = {.runs = 11, .iters = 20000, .stress_ops = 1000000,
                            .stress_epochs = 10, .frag_cycles = 8},
};

/* A CPU's work area holds 4 * capacity frame pointers (pcp batch, K = 4C). */
#define PCP_CAPACITY_MAX 4096u
_Static_assert(PCP_CAPACITY_MAX <= MM_PCP_MAX_CAPACITY, "within the allocator's limit");
#define DEFAULT_SAMPLE_EVERY 16
#define DEFAULT_SEED 1
#define DEFAULT_CONTIG_BYTES ((uint64_t)64 << 20)

const char *bench_name(enum bench_id id)
{
    return bench_names[id];
}

const char *bench_profile_name(enum bench_profile p)
{
    return profile_names[p];
}

/* One error line in the getters' style: "cmdline: key=value: problem". */
static void param_error(struct cmdline *cl, const char *key, const char *value,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void param_error(struct cmdline *cl, const char *key, const char *value,
                        const char *fmt, ...)
{
    size_t len = 0;
    while (len < sizeof cl->error && cl->error[len])
        len++;
    if (len + 1 < sizeof cl->error) {
        int n = plat_snprintf(cl->error + len, sizeof cl->error - len, "cmdline: %s=%s: ", key,
                              value ? value : "");
        len += n > 0 ? (size_t)n : 0;
    }
    if (len + 1 < sizeof cl->error) {
        va_list ap;
        va_start(ap, fmt);
        int n = plat_vsnprintf(cl->error + len, sizeof cl->error - len, fmt, ap);
        va_end(ap);
        len += n > 0 ? (size_t)n : 0;
    }
    if (len + 1 < sizeof cl->error) {
        cl->error[len] = '\n';
        cl->error[len + 1] = '\0';
    }
    cl->errors++;
}

/* "16,64,256" -> capacities; false with an error line on anything else. */
static bool parse_capacities(struct cmdline *cl, const char *text, struct bench_config *cfg)
{
    const char *key = "sweep_capacities";
    unsigned count = 0;
    const char *p = text;
    for (;;) {
        uint64_t v = 0;
        unsigned digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 10) {
            v = v * 10 + (uint64_t)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || (*p != ',' && *p != '\0')) {
            param_error(cl, key, text, "expected a comma-separated list of numbers");
            return false;
        }
        if (v < 1 || v > PCP_CAPACITY_MAX) {
            param_error(cl, key, text, "capacity %llu outside 1..%u", (unsigned long long)v,
                        PCP_CAPACITY_MAX);
            return false;
        }
        if (count == BENCH_MAX_SWEEP) {
            param_error(cl, key, text, "at most %d capacities", BENCH_MAX_SWEEP);
            return false;
        }
        cfg->sweep_capacity[count++] = (unsigned)v;
        if (*p == '\0')
            break;
        p++;
    }
    cfg->sweep_count = count;
    return true;
}

bool bench_parse_params(struct cmdline *cl, struct bench_config *cfg)
{
    bool ok = true;
    uint64_t v;
    unsigned idx;
    __builtin_memset(cfg, 0, sizeof *cfg);

    ok &= cmdline_list(cl, "bench", bench_names, BENCH_COUNT, (1u << BENCH_COUNT) - 1,
                       &cfg->benches);
    ok &= cmdline_enum(cl, "profile", profile_names, 2, BENCH_PROFILE_FULL, &idx);
    cfg->profile = (enum bench_profile)idx;
    const struct profile_defaults *d = &profile_defaults[cfg->profile];

    ok &= cmdline_u64(cl, "runs", d->runs, 1, BENCH_MAX_RUNS, &v);
    cfg->runs = (unsigned)v;
    ok &= cmdline_u64(cl, "iters", d->iters, 16, 100000000, &cfg->iters);
    ok &= cmdline_u64(cl, "seed", DEFAULT_SEED, 0, UINT64_MAX, &cfg->seed);
    ok &= cmdline_u64(cl, "sample_every", DEFAULT_SAMPLE_EVERY, 1, 1u << 20, &v);
    cfg->sample_every = (unsigned)v;
    ok &= cmdline_u64(cl, "stress_ops", d->stress_ops, 100, 10000000000ull, &cfg->stress_ops);
    ok &= cmdline_u64(cl, "stress_epochs", d->stress_epochs, 1, 1000, &v);
    cfg->stress_epochs = (unsigned)v;
    ok &= cmdline_u64(cl, "pcp_capacity", 0, 0, PCP_CAPACITY_MAX, &v); /* 0: mm's */
    cfg->pcp_capacity = (unsigned)v;
    ok &= cmdline_u64(cl, "pcp_batch", 0, 0, PCP_CAPACITY_MAX, &v);
    cfg->pcp_batch = (unsigned)v;
    ok &= cmdline_size(cl, "contig_mem", DEFAULT_CONTIG_BYTES, (uint64_t)4 << 20,
                       (uint64_t)2 << 30, &v);
    cfg->contig_frames = v / PAGE_SIZE;
    ok &= cmdline_u64(cl, "frag_cycles", d->frag_cycles, 1, 1000, &v);
    cfg->frag_cycles = (unsigned)v;
    ok &= cmdline_u64(cl, "frag_live", 50, 1, 80, &v);
    cfg->frag_live_pct = (unsigned)v;
    ok &= cmdline_u64(cl, "frag_long", 15, 0, 50, &v);
    cfg->frag_long_pct = (unsigned)v;
    ok &= cmdline_u64(cl, "probe_ref", 0, 0, UINT64_MAX, &cfg->probe_ref);
    ok &= cmdline_u64(cl, "host_retry_ms", HOST_RETRY_BUDGET_MS, 0, 3600000, &cfg->host_retry_ms);
    ok &= cmdline_u64(cl, "host_cores", 0, 0, 1u << 20, &v);
    cfg->host_cores = (unsigned)v;
    ok &= cmdline_u64(cl, "bench_cpus", 0, 0, PLAT_MAX_CPUS, &v);
    cfg->max_cpus = (unsigned)v;
    ok &= cmdline_bool(cl, "icount", false, &cfg->icount);
    ok &= cmdline_bool(cl, "test_corrupt_frame", false, &cfg->test_corrupt_frame);
    ok &= cmdline_u64(cl, "test_slow_hit", 0, 0, 100000000, &cfg->test_slow_hit);
    ok &= cmdline_bool(cl, "test_host_slowed", false, &cfg->test_host_slowed);

    const char *caps = cmdline_str(cl, "sweep_capacities");
    if (caps && !parse_capacities(cl, caps, cfg))
        ok = false;

    /* Combinations the getters cannot see. */
    if (cfg->pcp_batch && !cfg->pcp_capacity) {
        param_error(cl, "pcp_batch", cmdline_str(cl, "pcp_batch"),
                    "needs pcp_capacity= as well (the batch is checked against it)");
        ok = false;
    } else if (cfg->pcp_batch > cfg->pcp_capacity) {
        param_error(cl, "pcp_batch", cmdline_str(cl, "pcp_batch"),
                    "larger than pcp_capacity=%u", cfg->pcp_capacity);
        ok = false;
    }
    if (cfg->frag_live_pct + cfg->frag_long_pct > 90) {
        param_error(cl, "frag_long", cmdline_str(cl, "frag_long"),
                    "frag_live=%u plus frag_long=%u exceed 90 %% of free memory (the "
                    "workload would run out of memory, not age it)",
                    cfg->frag_live_pct, cfg->frag_long_pct);
        ok = false;
    }
    if (cfg->test_corrupt_frame && !(cfg->benches & (1u << BENCH_STRESS))) {
        param_error(cl, "test_corrupt_frame", cmdline_str(cl, "test_corrupt_frame"),
                    "needs the stress benchmark (bench=...,stress)");
        ok = false;
    }
    if (cfg->test_host_slowed && (cfg->icount || cfg->host_retry_ms == 0)) {
        param_error(cl, "test_host_slowed", cmdline_str(cl, "test_host_slowed"),
                    "needs timing mode and a retry budget (not icount=1 or host_retry_ms=0)");
        ok = false;
    }
    if (cfg->test_slow_hit && !(cfg->benches & (1u << BENCH_PCP))) {
        param_error(cl, "test_slow_hit", cmdline_str(cl, "test_slow_hit"),
                    "needs the pcp benchmark (bench=...,pcp)");
        ok = false;
    }
    return ok;
}
