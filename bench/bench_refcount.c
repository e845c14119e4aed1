/*
 * refcount.c - the lock-free reference count under contention (bench=refcount).
 *
 * One operation = one clone+drop pair (two atomic read-modify-writes), at
 * every CPU count of the sweep:
 *   shared        frame_clone + frame_drop on one frame all CPUs share
 *   private       the same on a frame per CPU (each 64-byte slot its own line)
 *   packed        the same instructions on plain atomics packed 8 to a cache
 *                 line (CPU c uses counter c % 8): the false sharing the
 *                 64-byte metadata slot avoids
 *   cas_shared    frame_from_in_use (CAS loop) + frame_drop on the shared
 *                 frame; cas_retries_per_op counts the failed CAS attempts
 *   xadd_shared   atomic_fetch_add(+1) + atomic_fetch_sub(1) on one shared
 *   xadd_private  line / on a line per CPU: the hardware floor (lock xadd)
 * Correctness: every count is back at its start value after each point.
 *
 *   last_drop_race  frames with n references each, one per CPU; all CPUs
 *                   drop theirs at once, in the same order, so the last drops
 *                   race.  Each frame must be freed exactly once: the
 *                   allocator's allocated-frame count falls by exactly the
 *                   number of frames and every one is UNUSED afterwards
 *                   (a double free panics in mm/).
 */
#include "bench/bench_int.h"

enum rc_kind {
    RC_SHARED,
    RC_PRIVATE,
    RC_PACKED,
    RC_CAS_SHARED,
    RC_XADD_SHARED,
    RC_XADD_PRIVATE,
    RC_KINDS
};
static const char *const rc_case[RC_KINDS] = {
    [RC_SHARED] = "shared",          [RC_PRIVATE] = "private",
    [RC_PACKED] = "packed",          [RC_CAS_SHARED] = "cas_shared",
    [RC_XADD_SHARED] = "xadd_shared", [RC_XADD_PRIVATE] = "xadd_private",
};

#define PACKED_COUNTERS (CACHE_LINE_SIZE / sizeof(atomic_uint_least64_t))
#define REFCOUNT_MAX ((uint64_t)INT64_MAX)
#define REFCOUNT_UNUSED UINT64_MAX

/* Slot counters of this benchmark. */
enum { CNT_CAS_RETRIES, CNT_ERRORS, CNT_SINK };

static struct {
    enum rc_kind kind;
    struct frame *shared;
    uint64_t shared_pa;
    struct frame *priv[PLAT_MAX_CPUS];
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t packed[PACKED_COUNTERS];
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t xadd_shared;
    _Alignas(CACHE_LINE_SIZE) struct frame **race_frames;
    uint64_t race_count;
} rc;

_Static_assert(sizeof rc.packed == CACHE_LINE_SIZE, "packed counters fill one cache line");

/* ThreadSanitizer does not model fences (GCC refuses them under TSan): there
 * the acquire side of the last drop is an acquire load, as mm/frame.c does. */
static inline void acquire_after_last_drop(atomic_uint_least64_t *a)
{
#if defined(__SANITIZE_THREAD__)
    (void)atomic_load_explicit(a, memory_order_acquire);
#else
    (void)a;
    atomic_thread_fence(memory_order_acquire);
#endif
}

/* clone + drop with the orderings of mm/ (seed 000) on a plain counter. */
static inline void packed_pair(atomic_uint_least64_t *a, uint64_t *sink)
{
    uint64_t old = atomic_fetch_add_explicit(a, 1, memory_order_relaxed);
    if (unlikely(old >= REFCOUNT_MAX))
        PANIC("refcount bench: packed counter overflow (%llu)", (unsigned long long)old);
    old = atomic_fetch_sub_explicit(a, 1, memory_order_release);
    if (unlikely(old == 1))
        acquire_after_last_drop(a);
    *sink += old;
}

static inline __attribute__((always_inline)) void rc_op(enum rc_kind kind, unsigned cpu,
                                                        struct bench_slot *s, uint64_t *sink)
{
    struct frame *f;
    uint64_t retries = 0;
    switch (kind) {
    case RC_SHARED:
        frame_clone(rc.shared);
        frame_drop(rc.shared);
        break;
    case RC_PRIVATE:
        frame_clone(rc.priv[cpu]);
        frame_drop(rc.priv[cpu]);
        break;
    case RC_PACKED:
        packed_pair(&rc.packed[cpu % PACKED_COUNTERS], sink);
        break;
    case RC_CAS_SHARED:
        if (frame_from_in_use(rc.shared_pa, &f, &retries) == FRAME_OK && f == rc.shared)
            frame_drop(f);
        else
            s->counter[CNT_ERRORS]++;
        if (bench_counting())
            s->counter[CNT_CAS_RETRIES] += retries;
        break;
    case RC_XADD_SHARED:
        *sink += atomic_fetch_add_explicit(&rc.xadd_shared, 1, memory_order_relaxed);
        *sink += atomic_fetch_sub_explicit(&rc.xadd_shared, 1, memory_order_relaxed);
        break;
    case RC_XADD_PRIVATE:
        *sink += atomic_fetch_add_explicit(&s->private_line, 1, memory_order_relaxed);
        *sink += atomic_fetch_sub_explicit(&s->private_line, 1, memory_order_relaxed);
        break;
    default:
        break;
    }
}

/* The timed loop, specialised per kind (kind is a constant at each call). */
static inline __attribute__((always_inline)) void rc_loop(enum rc_kind kind)
{
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    uint64_t n = bench_ctx.warm ? bench_warm_ops(bench_iters()) : bench_iters();
    uint64_t sink = 0;
    uint64_t t0 = plat_tsc_start();
    for (uint64_t i = 0; i < n; i++) {
        if (bench_should_sample(s)) {
            uint64_t a = plat_tsc_start();
            rc_op(kind, cpu, s, &sink);
            uint64_t b = plat_tsc_stop();
            bench_sample(s, cpu, b - a, PATH_ALL);
        } else {
            rc_op(kind, cpu, s, &sink);
        }
    }
    uint64_t t1 = plat_tsc_stop();
    s->cycles = t1 - t0;
    s->ops = n;
    s->counter[CNT_SINK] += sink; /* keeps the fetch results (lock xadd, not lock add) */
}

static void rc_job(void *arg)
{
    (void)arg;
    switch (rc.kind) {
    case RC_SHARED: rc_loop(RC_SHARED); break;
    case RC_PRIVATE: rc_loop(RC_PRIVATE); break;
    case RC_PACKED: rc_loop(RC_PACKED); break;
    case RC_CAS_SHARED: rc_loop(RC_CAS_SHARED); break;
    case RC_XADD_SHARED: rc_loop(RC_XADD_SHARED); break;
    case RC_XADD_PRIVATE: rc_loop(RC_XADD_PRIVATE); break;
    default: break;
    }
}

static void expect_count(const struct bench_point *pt, const char *what, uint64_t got,
                         uint64_t want)
{
    if (got != want)
        bench_fail("refcount %s cpus=%u: %s is %llu after the run, expected %llu", pt->cas,
                   pt->cpus, what, (unsigned long long)got, (unsigned long long)want);
}

static void check_point(const struct bench_point *pt, enum rc_kind kind)
{
    char what[48];
    switch (kind) {
    case RC_SHARED:
    case RC_CAS_SHARED:
        expect_count(pt, "the shared frame's refcount", frame_refcount(rc.shared), 1);
        expect_count(pt, "failed frame_from_in_use calls",
                     bench_counter_sum(pt->cpus, CNT_ERRORS), 0);
        break;
    case RC_PRIVATE:
        for (unsigned c = 0; c < pt->cpus; c++) {
            plat_snprintf(what, sizeof what, "cpu %u's frame refcount", c);
            expect_count(pt, what, frame_refcount(rc.priv[c]), 1);
        }
        break;
    case RC_PACKED:
        for (unsigned i = 0; i < PACKED_COUNTERS; i++) {
            plat_snprintf(what, sizeof what, "packed counter %u", i);
            expect_count(pt, what, atomic_load_explicit(&rc.packed[i], memory_order_relaxed), 1);
        }
        break;
    case RC_XADD_SHARED:
        expect_count(pt, "the shared counter",
                     atomic_load_explicit(&rc.xadd_shared, memory_order_relaxed), 0);
        break;
    case RC_XADD_PRIVATE:
        for (unsigned c = 0; c < pt->cpus; c++) {
            plat_snprintf(what, sizeof what, "cpu %u's counter", c);
            expect_count(pt, what,
                         atomic_load_explicit(&bench_ctx.slot[c].private_line,
                                              memory_order_relaxed),
                         0);
        }
        break;
    default:
        break;
    }
}

static void measure_kind(enum rc_kind kind, unsigned cpus)
{
    struct bench_point pt = {.bench = "refcount", .cas = rc_case[kind], .cpus = cpus,
                             .ops_per_run = bench_iters()};
    rc.kind = kind;
    bench_measure(&pt, rc_job, NULL);
    bench_sample_pass(&pt, rc_job, NULL);
    bench_point_latency(&pt, false);
    if (kind == RC_CAS_SHARED) {
        uint64_t ops = bench_total_ops();
        if (ops)
            bench_row(&pt, NULL, "cas_retries_per_op",
                      (double)bench_counter_sum(cpus, CNT_CAS_RETRIES) / (double)ops, "ratio");
    }
    check_point(&pt, kind);
}

/* ---- last_drop_race ----------------------------------------------------------- */

static void race_job(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < rc.race_count; i++)
        frame_drop(rc.race_frames[i]);
}

static void last_drop_race(unsigned cpus)
{
    struct bench_point pt = {.bench = "refcount", .cas = "last_drop_race", .cpus = cpus};
    uint64_t per_round = bench_ctx.work_bytes / sizeof(struct frame *);
    uint64_t rounds = bench_ctx.cfg->profile == BENCH_PROFILE_QUICK ? 2 : 8;
    uint64_t frames = 0, frees = 0;
    struct mm_stats before, after;
    if (per_round > 512)
        per_round = 512;
    rc.race_frames = bench_ctx.work[0];
    rc.race_count = per_round;
    for (uint64_t r = 0; r < rounds && !bench_ctx.failed; r++) {
        for (uint64_t i = 0; i < per_round; i++) {
            struct frame *f = frame_alloc(0);
            if (!f) {
                bench_fail("refcount last_drop_race: out of frames after %llu",
                           (unsigned long long)i);
                while (i-- > 0)
                    for (unsigned c = 0; c < cpus; c++)
                        frame_drop(rc.race_frames[i]);
                return;
            }
            for (unsigned c = 1; c < cpus; c++)
                frame_clone(f);
            rc.race_frames[i] = f;
        }
        mm_get_stats(&before);
        plat_run_on_cpus(cpus, race_job, NULL);
        mm_get_stats(&after);
        frames += per_round;
        frees += before.allocated_frames - after.allocated_frames;
        for (uint64_t i = 0; i < per_round; i++) {
            uint64_t ref = frame_refcount(rc.race_frames[i]);
            if (ref != REFCOUNT_UNUSED)
                bench_fail("refcount last_drop_race cpus=%u: frame pa=%#llx has refcount "
                           "%#llx after every reference was dropped (expected UNUSED)",
                           cpus, (unsigned long long)frame_pa(rc.race_frames[i]),
                           (unsigned long long)ref);
        }
    }
    bench_row_u(&pt, NULL, "frames", frames, "count");
    bench_row_u(&pt, NULL, "frees", frees, "count");
    bench_row_u(&pt, NULL, "frees_exact", frees == frames, "count");
    if (frees != frames)
        bench_fail("refcount last_drop_race cpus=%u: %llu frames had their last reference "
                   "dropped, the allocator freed %llu",
                   cpus, (unsigned long long)frames, (unsigned long long)frees);
}

void bench_refcount(void)
{
    unsigned sweep[16], points = bench_cpu_sweep(bench_ctx.cpus, sweep, 16);
    rc.shared = frame_alloc(0);
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        rc.priv[c] = frame_alloc(0);
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        if (!rc.priv[c] || !rc.shared) {
            bench_fail("refcount: out of frames for the benchmark frames");
            return;
        }
    rc.shared_pa = frame_pa(rc.shared);
    for (unsigned i = 0; i < PACKED_COUNTERS; i++)
        atomic_store_explicit(&rc.packed[i], 1, memory_order_relaxed);
    atomic_store_explicit(&rc.xadd_shared, 0, memory_order_relaxed);

    for (unsigned p = 0; p < points && !bench_ctx.failed; p++)
        for (unsigned k = 0; k < RC_KINDS && !bench_ctx.failed; k++)
            measure_kind((enum rc_kind)k, sweep[p]);
    for (unsigned p = 0; p < points && !bench_ctx.failed; p++)
        last_drop_race(sweep[p]);
    if (bench_ctx.failed)
        return;
    frame_drop(rc.shared);
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        frame_drop(rc.priv[c]);
}
