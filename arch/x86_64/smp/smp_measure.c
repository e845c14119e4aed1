/*
 * smp_measure.c - what the BSP checks once the APs are up: TSC agreement
 * across CPUs, and (test_smp_dispatch) that dispatched jobs reach every CPU
 * under the right index.
 */
#include <stdatomic.h>

#include "arch/x86_64/apic.h"
#include "kernel/console.h"
#include "arch/x86_64/smp/smp_int.h"

#define TSC_MIN_ROUNDS 8            /* ping-pongs per AP; the shortest one counts */
#define TSC_MAX_ROUNDS 64
#define TSC_GOOD_TRIP_US 2          /* a round trip this short needs no more rounds */
#define TSC_EXTRA_BUDGET_US 200000  /* for rounds beyond the minimum, all APs together */
#define TSC_REPLY_TIMEOUT_US 100000 /* a reply slower than this (scaled) is a lost reply */
#define TSC_SAMPLE_MAX 64           /* APs measured; more are sampled evenly */
#define TSC_SCALE_APS 8             /* the reply timeout grows per this many APs pinged */
#define TSC_SILENT_NAMED 8          /* silent APs named in the warning */

/* ---- TSC agreement ------------------------------------------------------------ */

/*
 * Each round, CPU 0 pings every AP that still needs a measurement, each
 * through its own mailbox: t1 = TSC, ping (release); the AP reads its TSC
 * and answers (release); CPU 0 polls the answers and takes t2 = TSC when it
 * sees one.  With agreeing TSCs the AP's reading lies in [t1, t2]; its
 * offset from the midpoint is the estimate, good to within half the round
 * trip, so only the shortest trip per AP counts.  APs are pinged together
 * rather than one after another because on an oversubscribed host (TCG) an
 * answer often waits for the AP's vCPU to be scheduled: in parallel those
 * waits overlap.  The first AP pinged rotates so none always waits for the
 * others' pings.
 *
 * Two figures come out.  The estimate (offset from the midpoint) is only as
 * good as the shortest trip, which on a loaded TCG host may be milliseconds.
 * The proven disagreement is what no scheduling delay can explain: an AP
 * reading before t1 or after t2 (time going backwards between the CPUs, as
 * Linux's TSC warp check looks for).  tsc_skew_cycles is the worst proven
 * disagreement, so a noisy host cannot turn into a fake skew; the log line
 * gives both.
 *
 * Scale: with more than TSC_SAMPLE_MAX APs an even sample of them is
 * measured (the first and the last included) and the line says so; the
 * reply timeout grows with the APs pinged per round, since on an
 * oversubscribed host each answer waits its turn for a host core.  APs that
 * still never answered are one warning with the figures, not a line each.
 */
struct tsc_box {
    _Alignas(CACHE_LINE_SIZE) atomic_uint_fast64_t ping; /* round number, CPU 0 -> AP */
    atomic_uint_fast64_t pong;                           /* round echoed, AP -> CPU 0 */
    atomic_uint_fast64_t ap_tsc;                         /* the AP's TSC, before pong */
    uint64_t t1;
    int64_t offset;      /* AP TSC minus CPU 0's, from the shortest round trip */
    uint64_t round_trip; /* shortest, cycles; UINT64_MAX before any answer */
    uint64_t proven;     /* largest reading outside [t1, t2], cycles */
    unsigned rounds;
    bool waiting;        /* pinged this round, no answer yet */
};
static struct tsc_box tsc_box[PLAT_MAX_CPUS];
static atomic_bool tsc_done;
static unsigned tsc_cpu[TSC_SAMPLE_MAX]; /* the APs measured */
static unsigned tsc_count;

static void tsc_answer(struct tsc_box *b)
{
    uint_fast64_t answered = 0;
    while (!atomic_load_explicit(&tsc_done, memory_order_acquire)) {
        uint_fast64_t s = atomic_load_explicit(&b->ping, memory_order_acquire);
        if (s != answered) {
            atomic_store_explicit(&b->ap_tsc, plat_tsc_start(), memory_order_relaxed);
            atomic_store_explicit(&b->pong, s, memory_order_release);
            answered = s;
        }
        plat_pause();
    }
}

static uint64_t tsc_reply_timeout_us(unsigned pinged)
{
    return TSC_REPLY_TIMEOUT_US * (1 + pinged / TSC_SCALE_APS);
}

static bool tsc_needs_round(const struct tsc_box *b, uint64_t good, bool budget_left)
{
    if (b->rounds < TSC_MIN_ROUNDS)
        return true;
    return b->rounds < TSC_MAX_ROUNDS && b->round_trip > good && budget_left;
}

/* One round over the APs that need it; false when none did. */
static bool tsc_round(uint64_t round, uint64_t good, bool budget_left)
{
    unsigned pinged = 0;
    for (unsigned k = 0; k < tsc_count; k++) {
        struct tsc_box *b = &tsc_box[tsc_cpu[(k + round) % tsc_count]];
        b->waiting = tsc_needs_round(b, good, budget_left);
        if (!b->waiting)
            continue;
        b->rounds++;
        pinged++;
        b->t1 = plat_tsc_start();
        atomic_store_explicit(&b->ping, round, memory_order_release);
    }
    uint64_t start = plat_tsc();
    uint64_t timeout = smp_us_to_cycles(tsc_reply_timeout_us(pinged));
    unsigned pending = pinged;
    while (pending && plat_tsc() - start < timeout) {
        for (unsigned k = 0; k < tsc_count; k++) {
            struct tsc_box *b = &tsc_box[tsc_cpu[k]];
            if (!b->waiting || atomic_load_explicit(&b->pong, memory_order_acquire) != round)
                continue;
            uint64_t t2 = plat_tsc_stop();
            uint64_t ap = atomic_load_explicit(&b->ap_tsc, memory_order_relaxed);
            uint64_t trip = t2 - b->t1;
            uint64_t outside = ap < b->t1 ? b->t1 - ap : ap > t2 ? ap - t2 : 0;
            if (outside > b->proven)
                b->proven = outside;
            if (trip < b->round_trip) {
                b->round_trip = trip;
                b->offset = (int64_t)(ap - b->t1) - (int64_t)(trip / 2);
            }
            b->waiting = false;
            pending--;
        }
        plat_pause(); /* also lets a single-threaded TCG (icount) run the APs */
    }
    return pinged > 0;
}

static bool tsc_sampled(unsigned cpu)
{
    for (unsigned k = 0; k < tsc_count; k++)
        if (tsc_cpu[k] == cpu)
            return true;
    return false;
}

static void tsc_job(void *arg)
{
    (void)arg;
    unsigned me = plat_cpu_index();
    if (me != 0) {
        if (tsc_sampled(me))
            tsc_answer(&tsc_box[me]);
        return;
    }
    uint64_t good = smp_us_to_cycles(TSC_GOOD_TRIP_US);
    uint64_t budget = smp_us_to_cycles(TSC_EXTRA_BUDGET_US), extra_start = 0;
    for (uint64_t round = 1;; round++) {
        if (round == TSC_MIN_ROUNDS + 1)
            extra_start = plat_tsc();
        bool budget_left = round <= TSC_MIN_ROUNDS || plat_tsc() - extra_start < budget;
        if (!tsc_round(round, good, budget_left))
            break;
    }
    atomic_store_explicit(&tsc_done, true, memory_order_release);
}

/* An even sample of APs 1..n-1, the first and the last included. */
static void tsc_choose(unsigned n)
{
    unsigned aps = n - 1;
    tsc_count = aps < TSC_SAMPLE_MAX ? aps : TSC_SAMPLE_MAX;
    for (unsigned k = 0; k < tsc_count; k++)
        tsc_cpu[k] = tsc_count == 1 ? 1 : 1 + (unsigned)((uint64_t)k * (aps - 1) / (tsc_count - 1));
}

void smp_check_tsc(void)
{
    unsigned n = plat_cpu_count();
    tsc_choose(n);
    for (unsigned k = 0; k < tsc_count; k++) {
        struct tsc_box *b = &tsc_box[tsc_cpu[k]];
        atomic_store_explicit(&b->ping, 0, memory_order_relaxed);
        atomic_store_explicit(&b->pong, 0, memory_order_relaxed);
        b->round_trip = UINT64_MAX;
        b->proven = 0;
        b->rounds = 0;
    }
    atomic_store_explicit(&tsc_done, false, memory_order_relaxed);
    plat_run_on_cpus(n, tsc_job, NULL);

    uint64_t worst = 0, proven = 0, min_trip = UINT64_MAX;
    unsigned worst_cpu = 0, proven_cpu = 0, silent = 0, rounds = 0, silent_pings = 0;
    char silent_list[TSC_SILENT_NAMED * 6 + 8] = "";
    size_t used = 0;
    for (unsigned k = 0; k < tsc_count; k++) {
        unsigned cpu = tsc_cpu[k];
        const struct tsc_box *b = &tsc_box[cpu];
        rounds += b->rounds;
        if (b->round_trip == UINT64_MAX) {
            if (silent++ < TSC_SILENT_NAMED)
                used += (size_t)plat_snprintf(silent_list + used, sizeof silent_list - used,
                                              "%s%u", silent > 1 ? " " : "", cpu);
            else if (silent == TSC_SILENT_NAMED + 1)
                plat_snprintf(silent_list + used, sizeof silent_list - used, " ...");
            silent_pings = b->rounds;
            continue;
        }
        uint64_t mag = b->offset < 0 ? (uint64_t)-b->offset : (uint64_t)b->offset;
        if (mag >= worst) {
            worst = mag;
            worst_cpu = cpu;
        }
        if (b->proven > proven) {
            proven = b->proven;
            proven_cpu = cpu;
        }
        if (b->round_trip < min_trip)
            min_trip = b->round_trip;
    }
    smp_info.tsc_skew_cycles = proven;
    char sampled[48] = "";
    if (tsc_count < n - 1)
        plat_snprintf(sampled, sizeof sampled, ", a sample of %u of the %u APs", tsc_count, n - 1);
    if (silent)
        kprintf("smp: TSC check: warning: %u of %u APs measured%s answered none of their %u "
                "pings (each allowed %llu ms; the host is oversubscribed: %u vCPUs): cpus %s; "
                "their offsets are unknown\n",
                silent, tsc_count, sampled, silent_pings,
                (unsigned long long)(tsc_reply_timeout_us(tsc_count) / 1000), n, silent_list);
    if (silent == tsc_count)
        return;
    char who[24] = "";
    if (proven)
        plat_snprintf(who, sizeof who, " (cpu %u)", proven_cpu);
    kprintf("smp: TSC skew (ping-pong with CPU 0, %u rounds over %u APs%s): proven %llu cycles%s; "
            "estimate worst %llu cycles (cpu %u, +-%llu); shortest round trip %llu cycles\n",
            rounds, tsc_count - silent, sampled, (unsigned long long)proven, who,
            (unsigned long long)worst, worst_cpu,
            (unsigned long long)(tsc_box[worst_cpu].round_trip / 2), (unsigned long long)min_trip);
}

/* ---- test_smp_dispatch ---------------------------------------------------------- */

static struct {
    _Alignas(CACHE_LINE_SIZE) atomic_uint calls;
    uint32_t apic_id;
    struct percpu *self;
} answer[PLAT_MAX_CPUS];

static void index_job(void *arg)
{
    (void)arg;
    unsigned i = plat_cpu_index();
    if (i >= PLAT_MAX_CPUS)
        PANIC("index_job: CPU index %u out of range", i);
    answer[i].apic_id = apic_id();
    answer[i].self = this_cpu();
    atomic_fetch_add_explicit(&answer[i].calls, 1, memory_order_relaxed);
}

/* Runs index_job on n CPUs; true when exactly indices 0..n-1 answered, once
 * each, from the CPU (APIC id, per-CPU area) that index belongs to. */
static bool dispatch_check(unsigned n)
{
    for (unsigned i = 0; i < PLAT_MAX_CPUS; i++)
        atomic_store_explicit(&answer[i].calls, 0, memory_order_relaxed);
    plat_run_on_cpus(n, index_job, NULL);
    unsigned distinct = 0;
    bool ok = true;
    for (unsigned i = 0; i < PLAT_MAX_CPUS; i++) {
        unsigned calls = atomic_load_explicit(&answer[i].calls, memory_order_relaxed);
        bool want = i < n;
        if (calls == 0 && !want)
            continue;
        if (calls != (want ? 1u : 0u) || answer[i].apic_id != smp_info.apic_id[i] ||
            answer[i].self != smp_cpu_slot[i]->percpu) {
            kprintf("smp: dispatch FAILED on %u CPUs: index %u answered %u time(s) from APIC id "
                    "%u (expected %s from APIC id %u)\n",
                    n, i, calls, answer[i].apic_id, want ? "once" : "never",
                    smp_info.apic_id[i]);
            ok = false;
            continue;
        }
        distinct++;
    }
    if (ok && n == plat_cpu_count())
        kprintf("smp: dispatch ok: %u distinct indices\n", distinct);
    return ok;
}

bool smp_test_dispatch(void)
{
    unsigned n = plat_cpu_count();
    bool ok = dispatch_check(n);
    /* Partial sets: the CPUs left out must stay out. */
    if (n > 1)
        ok = dispatch_check(n - 1) && ok;
    if (n > 2)
        ok = dispatch_check(1) && ok;
    kprintf("smp: dispatch test %s (%u, %u and 1 CPU(s); worst start skew %llu cycles)\n",
            ok ? "passed" : "FAILED", n, n > 1 ? n - 1 : 1,
            (unsigned long long)smp_info.barrier_skew_cycles);
    return ok;
}
