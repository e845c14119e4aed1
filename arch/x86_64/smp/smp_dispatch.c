/*
 * smp_dispatch.c - work dispatch to the APs (plat_run_on_cpus), the idle
 * loop they wait in, and the start-skew measurement.
 *
 * One job at a time, posted by CPU 0 through a sequence lock (job.seq is odd
 * while CPU 0 writes the job, even once it is published):
 *
 * | step | CPU 0 (caller)                                 | each AP (idle loop)                         |
 * |------|------------------------------------------------|---------------------------------------------|
 * | 1    | seq = odd (relaxed), release fence; fn, arg, n | waits for an even seq it has not handled    |
 * |      | (relaxed atomics); barrier_init(n); acks = 0;  | (acquire); reads fn, arg, n (relaxed);      |
 * |      | seq = even (seq_cst: see halting below)        | acquire fence; seq unchanged -> a consistent|
 * |      |                                                | snapshot, else read again                   |
 * | 2    | barrier_wait, start TSC, fn(arg)               | index < n: barrier_wait, start TSC, fn(arg) |
 * | 3    | waits acks == n - 1 (acquire)                  | participants: acks++ (release)              |
 *
 * Only participants touch the barrier and the ack count, and CPU 0 waits for
 * all of them, so the next job may re-initialise both; whatever fn wrote on
 * any CPU happens-before plat_run_on_cpus returns.  A non-participant may
 * still be reading a job's fields when the next one is written: the sequence
 * check makes it read again rather than act on a mix.
 *
 * Idling (smp_idle=):
 *   pause            spin on job.seq with pause: no interrupts at all, the
 *                    fastest start, but every idle vCPU keeps a host CPU busy
 *                    (under TCG on a small host this slows the CPUs at work:
 *                    a one-CPU loop at SMP=8 on 2 host cores took 230-410 ms
 *                    spinning, 65-87 ms halting, 39-72 ms at SMP=1);
 *   halt (default)   the AP sets slot.halted (seq_cst), re-checks job.seq and
 *                    executes hlt with interrupts still off; CPU 0, after
 *                    publishing (seq_cst), sends an NMI to every participant
 *                    whose flag it sees set.  The seq_cst pair guarantees that
 *                    the AP sees the new job or CPU 0 sees the flag.  An NMI
 *                    landing between the re-check and the hlt would be lost,
 *                    so the NMI handler moves a RIP inside that window
 *                    (smp_idle_halt in idle.S) past the hlt.
 *
 * Start skew: each participant reads the TSC right after the barrier into its
 * own cache line; skew = max - min over the participants, the worst one kept
 * in plat_smp_info.
 */
#include <stdatomic.h>

#include "arch/x86_64/apic.h"
#include "plat/barrier.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "arch/x86_64/smp/smp_int.h"
#include "arch/x86_64/trap.h"

#define MAX_SKEW_SAMPLES 64
#define MIN_SKEW_SAMPLES 3
#define BARRIER_BUDGET_US 500000 /* stop sampling after 0.5 s (at least MIN samples) */
#define VECTOR_NMI 2
#define NMI_SEND_TIMEOUT_US 1000
#define DISPATCH_SCALE_CPUS 64 /* the dispatch timeout and re-wake period are per this many */
#define REWAKE_US 1000

struct plat_smp_info smp_info = {.cpus_online = 1};
struct smp_slot *smp_cpu_slot[PLAT_MAX_CPUS];

static struct {
    _Alignas(CACHE_LINE_SIZE) atomic_uint_fast64_t seq;
    _Atomic(plat_job_fn) fn;
    _Atomic(void *) arg;
    atomic_uint n;
    _Alignas(CACHE_LINE_SIZE) atomic_uint acks;
    _Alignas(CACHE_LINE_SIZE) atomic_uint arrived; /* APs that took the job (watchdog) */
    struct barrier start;
} job;

static struct {
    _Alignas(CACHE_LINE_SIZE) uint64_t tsc;
} start_tsc[PLAT_MAX_CPUS];

static uint64_t last_skew;
static bool idle_halt; /* smp_idle=halt; set before any AP starts */

/* idle.S: halts unless *seq != seen; [window_start, window_end) is the
 * stretch an NMI must skip. */
void smp_idle_halt(const atomic_uint_fast64_t *seq, uint64_t seen);
extern const char smp_idle_window_start[], smp_idle_window_end[];

/* Split so that no product overflows 64 bits (no 128-bit division in a
 * freestanding kernel): kHz < 2^32. */
uint64_t smp_us_to_cycles(uint64_t us)
{
    uint64_t khz = plat_tsc_khz();
    return us / 1000 * khz + us % 1000 * khz / 1000;
}

uint64_t smp_cycles_to_ns(uint64_t cycles)
{
    uint64_t khz = plat_tsc_khz();
    return cycles / khz * 1000000 + cycles % khz * 1000000 / khz;
}

const struct plat_smp_info *plat_smp_info(void)
{
    return &smp_info;
}

/* ---- idling ------------------------------------------------------------------ */

/* A wake-up NMI moves a RIP inside the halt window past the hlt.  Any other
 * NMI (hardware, a watchdog, the QEMU monitor's `nmi`) is reported like an
 * exception, not swallowed: the sender counts each wake-up it sends in the
 * target's slot first, and only a counted NMI is taken as one.  (Several
 * sends may merge into one delivered NMI; the count then stays high, which
 * errs towards treating a later foreign NMI as a wake-up, never the
 * reverse.) */
static void nmi_wake(struct trap_frame *f)
{
    struct smp_slot *self = smp_cpu_slot[plat_cpu_index()];
    unsigned sent = self ? atomic_load_explicit(&self->wakes_sent, memory_order_relaxed) : 0;
    while (sent && !atomic_compare_exchange_weak_explicit(&self->wakes_sent, &sent, sent - 1,
                                                          memory_order_relaxed,
                                                          memory_order_relaxed))
        ;
    if (sent == 0)
        trap_report(f);
    if (f->rip >= (uint64_t)smp_idle_window_start && f->rip < (uint64_t)smp_idle_window_end)
        f->rip = (uint64_t)smp_idle_window_end;
}

void smp_idle_setup(bool halt)
{
    idle_halt = halt;
    if (halt)
        trap_set_handler(VECTOR_NMI, nmi_wake);
}

/* Returns once job.seq holds a published job other than *seen, with a
 * consistent snapshot of it. */
static void wait_job(struct smp_slot *self, uint_fast64_t *seen, plat_job_fn *fn, void **arg,
                     unsigned *n)
{
    for (;;) {
        uint_fast64_t s1 = atomic_load_explicit(&job.seq, memory_order_acquire);
        if (s1 == *seen || (s1 & 1)) {
            if (idle_halt) {
                atomic_store_explicit(&self->halted, true, memory_order_seq_cst);
                smp_idle_halt(&job.seq, s1);
                atomic_store_explicit(&self->halted, false, memory_order_relaxed);
            } else {
                plat_pause();
            }
            continue;
        }
        *fn = atomic_load_explicit(&job.fn, memory_order_relaxed);
        *arg = atomic_load_explicit(&job.arg, memory_order_relaxed);
        *n = atomic_load_explicit(&job.n, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&job.seq, memory_order_relaxed) == s1) {
            *seen = s1;
            return;
        }
    }
}

static void participate(unsigned index, plat_job_fn fn, void *arg)
{
    bool sense = false; /* the barrier is initialised afresh for every job */
    barrier_wait(&job.start, &sense);
    start_tsc[index].tsc = plat_tsc_start();
    fn(arg);
}

static void check_stack(const struct smp_slot *self)
{
    for (unsigned i = 0; i < SMP_STACK_CANARY_WORDS; i++)
        if (self->stack_bottom[i] != SMP_STACK_CANARY)
            PANIC("smp: cpu %u (APIC id %u) overflowed its %u KiB stack: word %u of the canary "
                  "at %p is 0x%lx",
                  plat_cpu_index(), self->apic_id, SMP_AP_STACK_SIZE / 1024, i,
                  (void *)&self->stack_bottom[i], self->stack_bottom[i]);
}

_Noreturn void smp_idle_loop(struct smp_slot *self)
{
    uint_fast64_t seen = 0; /* no job is published before the APs are counted */
    for (;;) {
        plat_job_fn fn;
        void *arg;
        unsigned n;
        wait_job(self, &seen, &fn, &arg, &n);
        unsigned index = plat_cpu_index();
        if (index >= n)
            continue;
        atomic_store_explicit(&self->job_seen, seen, memory_order_relaxed);
        atomic_fetch_add_explicit(&job.arrived, 1, memory_order_release);
        participate(index, fn, arg);
        check_stack(self);
        atomic_fetch_add_explicit(&job.acks, 1, memory_order_release);
    }
}

/* NMIs every participant still asleep in hlt that has not taken job seq;
 * returns how many sends the local APIC did not accept. */
static unsigned wake_halted(unsigned n, uint_fast64_t seq)
{
    uint64_t timeout = smp_us_to_cycles(NMI_SEND_TIMEOUT_US);
    unsigned failed = 0;
    for (unsigned i = 1; i < n; i++) {
        struct smp_slot *s = smp_cpu_slot[i];
        if (atomic_load_explicit(&s->job_seen, memory_order_relaxed) == seq ||
            !atomic_load_explicit(&s->halted, memory_order_seq_cst))
            continue;
        atomic_fetch_add_explicit(&s->wakes_sent, 1, memory_order_relaxed); /* before the NMI */
        if (!apic_send_nmi(s->apic_id, timeout))
            failed++;
    }
    return failed;
}

/* Waits until every AP of the job has taken it.  A CPU that has not within
 * smp_dispatch_timeout_ms would otherwise hang the run silently (the barrier
 * waits for it forever): the watchdog names it and stops the run.  Halted
 * CPUs are sent another NMI every millisecond (per 64 participants), so one
 * lost wake-up costs a millisecond, not the run. */
static void wait_arrivals(unsigned n, uint_fast64_t seq)
{
    /* Both scale with the participants: on an oversubscribed host each
     * vCPU waits its turn for a host core, and a round of wake-ups to a
     * thousand CPUs is itself a thousand ICR writes. */
    uint64_t scale = 1 + (n - 1) / DISPATCH_SCALE_CPUS;
    uint64_t t0 = plat_tsc(), last_wake = t0, now = t0;
    uint64_t limit = smp_us_to_cycles(smp_cfg.dispatch_timeout_ms * 1000 * scale);
    uint64_t rewake = smp_us_to_cycles(REWAKE_US * scale);
    unsigned failed_sends = 0;
    while (atomic_load_explicit(&job.arrived, memory_order_acquire) != n - 1) {
        now = plat_tsc();
        if (now - t0 > limit)
            break;
        if (idle_halt && now - last_wake > rewake) {
            failed_sends += wake_halted(n, seq);
            last_wake = now;
        }
        plat_pause();
    }
    if (atomic_load_explicit(&job.arrived, memory_order_acquire) == n - 1)
        return;
    for (unsigned i = 1; i < n; i++) {
        struct smp_slot *s = smp_cpu_slot[i];
        if (atomic_load_explicit(&s->job_seen, memory_order_relaxed) != seq)
            kprintf("smp: cpu %u (APIC id %u) did not take job %llu within %llu ms (%s)\n", i,
                    s->apic_id, (unsigned long long)seq,
                    (unsigned long long)(smp_cfg.dispatch_timeout_ms * scale),
                    atomic_load_explicit(&s->halted, memory_order_relaxed) ? "asleep in hlt"
                                                                           : "not idling");
    }
    if (failed_sends)
        kprintf("smp: %u wake-up NMI(s) were not accepted by the local APIC\n", failed_sends);
    kprintf("smp: work dispatch failed; stopping (exit check-failed)\n");
    kernel_exit(EXIT_CHECK_FAILED);
}

void plat_run_on_cpus(unsigned n, plat_job_fn fn, void *arg)
{
    unsigned online = plat_cpu_count();
    if (n == 0 || n > online)
        PANIC("plat_run_on_cpus: %u CPUs requested, %u online", n, online);
    if (plat_cpu_index() != 0)
        PANIC("plat_run_on_cpus: called on CPU %u; only CPU 0 dispatches", plat_cpu_index());
    uint_fast64_t s = atomic_load_explicit(&job.seq, memory_order_relaxed);
    atomic_store_explicit(&job.seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&job.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&job.arg, arg, memory_order_relaxed);
    atomic_store_explicit(&job.n, n, memory_order_relaxed);
    barrier_init(&job.start, n);
    atomic_store_explicit(&job.acks, 0, memory_order_relaxed);
    atomic_store_explicit(&job.arrived, 0, memory_order_relaxed);
    atomic_store_explicit(&job.seq, s + 2, memory_order_seq_cst);
    if (idle_halt)
        wake_halted(n, s + 2);
    wait_arrivals(n, s + 2);
    participate(0, fn, arg);
    while (atomic_load_explicit(&job.acks, memory_order_acquire) != n - 1)
        plat_pause();

    uint64_t lo = start_tsc[0].tsc, hi = lo;
    for (unsigned i = 1; i < n; i++) {
        uint64_t t = start_tsc[i].tsc;
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    last_skew = hi - lo;
    if (last_skew > smp_info.barrier_skew_cycles)
        smp_info.barrier_skew_cycles = last_skew;
}

/* ---- start skew at bring-up ------------------------------------------------ */

static void empty_job(void *arg)
{
    (void)arg;
}

void smp_measure_barrier(unsigned jobs)
{
    uint64_t skew[MAX_SKEW_SAMPLES];
    uint64_t budget = smp_us_to_cycles(BARRIER_BUDGET_US), start = plat_tsc();
    unsigned done = 0;
    if (jobs > MAX_SKEW_SAMPLES)
        jobs = MAX_SKEW_SAMPLES;
    /* Bounded in time too: on an oversubscribed host (32 vCPUs on 2 cores)
     * one job can take tens of milliseconds. */
    while (done < jobs && (done < MIN_SKEW_SAMPLES || plat_tsc() - start < budget)) {
        plat_run_on_cpus(plat_cpu_count(), empty_job, NULL);
        uint64_t s = last_skew;
        unsigned k = done++; /* insertion sort: the median is printed */
        for (; k > 0 && skew[k - 1] > s; k--)
            skew[k] = skew[k - 1];
        skew[k] = s;
    }
    kprintf("smp: barrier start skew over %u empty jobs on %u CPUs: median %llu, worst %llu "
            "cycles\n",
            done, plat_cpu_count(), (unsigned long long)skew[done / 2],
            (unsigned long long)skew[done - 1]);
}
