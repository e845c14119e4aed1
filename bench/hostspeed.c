/*
 * hostspeed.c - how fast the host ran each run: the probe, the judgement of
 * a point's runs, and when a set is measured again (bench_measure_set in
 * harness.c does the measuring).
 */
#include "bench/bench_int.h"

/*
 * Under an emulator a guest instruction costs whatever the host core gives
 * the vCPU thread at that moment.  The development host's cores run
 * throughput-bound code at two speeds, 1.6-1.9 times apart, in stretches
 * of 20 ms to several seconds, with no steal time reported, while a chain of
 * dependent multiplies runs at one speed (a shared physical core would do
 * that): one boot in two ran every loop, the empty one included, 1.6-1.9
 * times slower.  So every CPU probes the host just before and just after
 * each job (outside the loop, so the windows carry none of it; a run lasts
 * milliseconds): the fastest of PROBE_PARTS timings of PROBE_ITERS
 * independent load-add-store steps in the CPU's own slot, bound like the
 * benchmark loops by how many instructions per cycle the host gives (a gap
 * lands in one part, a slow host in all of them), the slower of the two
 * probes kept.  A chain of dependent steps would miss the slowdown: the
 * first probe was one and read the same in the slow boots as in the fast.
 * A run whose slowest CPU probed more than HOST_SLOW_RATIO times the
 * fastest probe seen ran on a slowed host: its per-run rows stay, but the
 * medians come from the full-speed runs (host_slowed_runs says how many
 * were left out).  When fewer than HOST_MIN_FAST_RUNS remain, even after
 * the set was measured again, the point says host_slowed=1 and its medians
 * come from the one or two that remain, or from every run when none does:
 * a slowed run is off by the host's 1.6-1.9x, a lone full-speed run by its
 * own few per cent.  "Fastest seen" starts from probe_ref= when the host
 * tools know this host's full speed from earlier boots (scripts/hostspeed.py):
 * a boot the host slows from its first probe on has nothing faster of its
 * own to compare with.  Under icount time is instructions and the host
 * cannot slow a run: nothing is probed, so the probes cannot move the exact
 * figures (multi-CPU ones depend on where the round-robin vCPU switches
 * fall).
 */
#define PROBE_PARTS 4
#define PROBE_ITERS 1024

__attribute__((noinline)) uint64_t bench_speed_probe(uint64_t *buf)
{
    uint64_t best = UINT64_MAX;
    for (unsigned p = 0; p < PROBE_PARTS; p++) {
        uint64_t t0 = plat_tsc_start();
        for (unsigned i = 0; i < PROBE_ITERS; i++) {
            /* each slot's chain is BENCH_PROBE_WORDS steps apart: the steps
             * overlap; the barrier keeps them in memory, one step each */
            buf[i & (BENCH_PROBE_WORDS - 1)] += i;
            __asm__ volatile("" ::: "memory");
        }
        uint64_t dt = plat_tsc_stop() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

/* The fastest probe so far (CPU 0, between dispatches). */
void bench_probe_seen(uint64_t probe)
{
    if (probe && (bench_ctx.probe_min == 0 || probe < bench_ctx.probe_min))
        bench_ctx.probe_min = probe;
}

void bench_probe_calibrate(void)
{
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        bench_probe_seen(bench_ctx.slot[c].probe);
    bench_ctx.probe_boot = bench_ctx.probe_min;
    if (bench_ctx.probe_boot)
        bench_probe_seen(bench_ctx.cfg->probe_ref);
}

/* A probe the host ran slowed: over HOST_SLOW_RATIO x the fastest seen. */
static bool probe_slowed(uint64_t probe)
{
    return (double)probe > HOST_SLOW_RATIO * (double)bench_ctx.probe_min;
}

void bench_judge_host_speed(struct bench_point *pt)
{
    unsigned with_work = 0;
    pt->slowed_runs = 0;
    for (unsigned r = 0; r < pt->run_count; r++) {
        struct bench_run_figures *f = &pt->figures[r];
        f->host_slowed = !bench_ctx.cfg->icount && f->probe &&
                         (probe_slowed(f->probe) ||
                          (bench_ctx.cfg->test_host_slowed && bench_ctx.set_attempt == 0));
        if (f->ops == 0 && f->windows == 0)
            continue;
        with_work++;
        pt->slowed_runs += f->host_slowed;
    }
    unsigned fast = with_work - pt->slowed_runs;
    unsigned need = with_work < HOST_MIN_FAST_RUNS ? with_work : HOST_MIN_FAST_RUNS;
    pt->few_fast_runs = fast < need;
    pt->median_all_runs = fast == 0;
}

bool bench_set_needs_attempt(const struct bench_point *pts, unsigned n, unsigned attempt)
{
    if (bench_ctx.cfg->icount || attempt >= HOST_SET_ATTEMPTS ||
        bench_ctx.host_retry_cycles >= bench_ctx.host_retry_budget)
        return false;
    /* A point of more CPUs than the host has cores is slowed by sharing
     * them: measuring it again would only spend the budget. */
    unsigned cores = bench_ctx.cfg->host_cores;
    for (unsigned i = 0; i < n; i++)
        if (pts[i].few_fast_runs && (cores == 0 || pts[i].cpus <= cores))
            return true;
    return false;
}

/* CPU 0 probes until the host has run it at full speed for HOST_FAST_HOLD_MS
 * without a break (one fast probe inside a slowed stretch says little), or
 * the boot's budget is spent. */
void bench_wait_for_full_speed(void)
{
    struct bench_slot *s = &bench_ctx.slot[0];
    uint64_t hold = bench_ctx.tsc_khz * HOST_FAST_HOLD_MS;
    uint64_t t0 = plat_tsc(), fast_since = 0;
    for (;;) {
        uint64_t probe = bench_speed_probe(s->probe_buf);
        uint64_t now = plat_tsc();
        if (probe_slowed(probe))
            fast_since = 0;
        else if (fast_since == 0)
            fast_since = now;
        if ((fast_since && now - fast_since >= hold) ||
            bench_ctx.host_retry_cycles + (now - t0) >= bench_ctx.host_retry_budget)
            break;
    }
    bench_ctx.host_retry_cycles += plat_tsc() - t0;
}
