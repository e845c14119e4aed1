/*
 * bench_refcount.c - the lock-free reference count under contention (bench=refcount).
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
 *   empty         the same loop with no operation: the harness's own cost
 *                 per operation, subtracted in ns_per_op_net_median
 * The cases of one CPU count are one interleaved set.  Correctness: every
 * count is back at its start value after each set.
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
    RC_EMPTY,
    RC_KINDS
};
static const char *const rc_case[RC_KINDS] = {
    [RC_SHARED] = "shared",          [RC_PRIVATE] = "private",
    [RC_PACKED] = "packed",          [RC_CAS_SHARED] = "cas_shared",
    [RC_XADD_SHARED] = "xadd_shared", [RC_XADD_PRIVATE] = "xadd_private",
    [RC_EMPTY] = "empty",
};

#define PACKED_COUNTERS (CACHE_LINE_SIZE / sizeof(atomic_uint_least64_t))
#define REFCOUNT_MAX ((uint64_t)INT64_MAX)
#define REFCOUNT_UNUSED UINT64_MAX

/* Slot counters of this benchmark. */
enum { CNT_CAS_RETRIES, CNT_ERRORS, CNT_SINK };

/* The objects the CPUs share while they count (global: they are what is
 * measured); each point's job gets its kind and these through its argument. */
struct rc_objects {
    struct frame *shared;
    uint64_t shared_pa;
    struct frame *priv[PLAT_MAX_CPUS];
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t packed[PACKED_COUNTERS];
    _Alignas(CACHE_LINE_SIZE) atomic_uint_least64_t xadd_shared;
};
static struct rc_objects rc_objects;

_Static_assert(sizeof rc_objects.packed == CACHE_LINE_SIZE, "packed counters fill one cache line");

struct rc_point {
    enum rc_kind kind;
    struct rc_objects *obj;
};

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

/* clone + drop with the orderings of mm/frame.c on a plain counter. */
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

/* One operation of a kind.  Values the kind needs arrive in registers
 * (frame, counter), so the loop around it adds no loads of its own. */
static inline __attribute__((always_inline)) void rc_op(enum rc_kind kind, struct frame *f,
                                                        uint64_t pa,
                                                        atomic_uint_least64_t *counter,
                                                        uint64_t *sink, uint64_t *retries,
                                                        uint64_t *errors)
{
    struct frame *got;
    switch (kind) {
    case RC_SHARED:
    case RC_PRIVATE:
        frame_clone(f);
        frame_drop(f);
        break;
    case RC_PACKED:
        packed_pair(counter, sink);
        break;
    case RC_CAS_SHARED:
        if (frame_from_in_use(pa, &got, retries) == FRAME_OK && got == f)
            frame_drop(got);
        else
            (*errors)++;
        break;
    case RC_XADD_SHARED:
    case RC_XADD_PRIVATE:
        *sink += atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
        *sink += atomic_fetch_sub_explicit(counter, 1, memory_order_relaxed);
        break;
    case RC_EMPTY:
        __asm__ volatile(""); /* the loop alone: what every other kind carries */
        break;
    default:
        break;
    }
}

/* The measured loop of one kind (a constant at each call, so each kind gets
 * its own specialised loop and symbol). */
static inline __attribute__((always_inline)) void rc_loop(const struct rc_point *p,
                                                          enum rc_kind kind)
{
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    struct rc_objects *o = p->obj;
    struct frame *f = kind == RC_PRIVATE ? o->priv[cpu] : o->shared;
    atomic_uint_least64_t *counter = kind == RC_PACKED ? &o->packed[cpu % PACKED_COUNTERS]
                                     : kind == RC_XADD_PRIVATE ? &s->private_line
                                                               : &o->xadd_shared;
    uint64_t pa = o->shared_pa;
    uint64_t n = bench_ctx.warm ? bench_warm_ops(bench_iters()) : bench_iters();
    uint64_t chunks = bench_chunks(n);
    uint64_t sink = 0, retries = 0, counted_retries = 0, errors = 0;
    struct bench_loop l;
    bench_loop_begin(&l, s, chunks);
    if (unlikely(bench_ctx.sampling)) {
        while (bench_loop_next(&l))
            for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++) {
                if (!bench_should_sample(s)) {
                    rc_op(kind, f, pa, counter, &sink, &retries, &errors);
                    continue;
                }
                uint64_t a = plat_tsc_start();
                rc_op(kind, f, pa, counter, &sink, &retries, &errors);
                uint64_t b = plat_tsc_stop();
                bench_sample(s, cpu, b - a, PATH_ALL);
            }
    } else {
        while (bench_loop_next(&l)) {
            bool measured = bench_loop_measuring(&l);
            for (unsigned i = 0; i < BENCH_CHUNK_OPS; i++)
                rc_op(kind, f, pa, counter, &sink, &retries, &errors);
            if (kind == RC_CAS_SHARED && measured)
                counted_retries += retries;
            retries = 0;
        }
    }
    bench_loop_end(&l, chunks * BENCH_CHUNK_OPS);
    if (bench_counting())
        s->counter[CNT_CAS_RETRIES] += counted_retries;
    s->counter[CNT_ERRORS] += errors;
    s->counter[CNT_SINK] += sink; /* keeps the fetch results (lock xadd, not lock add) */
}

/* One job per kind: each is a hot-path symbol of its own (mk/20-kernel.mk). */
static void rc_job_shared(void *arg) { rc_loop(arg, RC_SHARED); }
static void rc_job_private(void *arg) { rc_loop(arg, RC_PRIVATE); }
static void rc_job_packed(void *arg) { rc_loop(arg, RC_PACKED); }
static void rc_job_cas_shared(void *arg) { rc_loop(arg, RC_CAS_SHARED); }
static void rc_job_xadd_shared(void *arg) { rc_loop(arg, RC_XADD_SHARED); }
static void rc_job_xadd_private(void *arg) { rc_loop(arg, RC_XADD_PRIVATE); }
static void rc_job_empty(void *arg) { rc_loop(arg, RC_EMPTY); }

static const plat_job_fn rc_jobs[RC_KINDS] = {
    [RC_SHARED] = rc_job_shared,           [RC_PRIVATE] = rc_job_private,
    [RC_PACKED] = rc_job_packed,           [RC_CAS_SHARED] = rc_job_cas_shared,
    [RC_XADD_SHARED] = rc_job_xadd_shared, [RC_XADD_PRIVATE] = rc_job_xadd_private,
    [RC_EMPTY] = rc_job_empty,
};

static void expect_count(const struct bench_point *pt, const char *what, uint64_t got,
                         uint64_t want)
{
    if (got != want)
        bench_fail("refcount %s cpus=%u: %s is %llu after the run, expected %llu", pt->cas,
                   pt->cpus, what, (unsigned long long)got, (unsigned long long)want);
}

static void check_point(const struct bench_point *pt, enum rc_kind kind)
{
    const struct rc_objects *o = &rc_objects;
    char what[48];
    switch (kind) {
    case RC_SHARED:
    case RC_CAS_SHARED:
        expect_count(pt, "the shared frame's refcount", frame_refcount(o->shared), 1);
        expect_count(pt, "failed frame_from_in_use calls", pt->counter[CNT_ERRORS], 0);
        break;
    case RC_PRIVATE:
        for (unsigned c = 0; c < pt->cpus; c++) {
            plat_snprintf(what, sizeof what, "cpu %u's frame refcount", c);
            expect_count(pt, what, frame_refcount(o->priv[c]), 1);
        }
        break;
    case RC_PACKED:
        for (unsigned i = 0; i < PACKED_COUNTERS; i++) {
            plat_snprintf(what, sizeof what, "packed counter %u", i);
            expect_count(pt, what, atomic_load_explicit(&o->packed[i], memory_order_relaxed), 1);
        }
        break;
    case RC_XADD_SHARED:
        expect_count(pt, "the shared counter",
                     atomic_load_explicit(&o->xadd_shared, memory_order_relaxed), 0);
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

/* Every kind at one CPU count, as one interleaved set with the empty loop. */
static void measure_cpus(unsigned cpus)
{
    static struct bench_point pts[RC_KINDS];
    static struct rc_point args[RC_KINDS];
    for (unsigned k = 0; k < RC_KINDS; k++) {
        args[k] = (struct rc_point){.kind = (enum rc_kind)k, .obj = &rc_objects};
        pts[k] = (struct bench_point){.bench = "refcount", .cas = rc_case[k], .cpus = cpus,
                                      .job = rc_jobs[k], .arg = &args[k],
                                      .ops_per_run = bench_iters(),
                                      .empty = k == RC_EMPTY ? NULL : &pts[RC_EMPTY]};
    }
    bench_measure_set(pts, RC_KINDS);
    uint64_t ops = bench_point_ops(&pts[RC_CAS_SHARED]);
    if (ops)
        bench_row(&pts[RC_CAS_SHARED], NULL, "cas_retries_per_op",
                  (double)pts[RC_CAS_SHARED].counter[CNT_CAS_RETRIES] / (double)ops, "ratio");
    for (unsigned k = 0; k < RC_KINDS; k++)
        check_point(&pts[k], (enum rc_kind)k);
}

/* ---- last_drop_race ----------------------------------------------------------- */

struct race {
    struct frame **frames;
    uint64_t count;
};

static void race_job(void *arg)
{
    const struct race *race = arg;
    for (uint64_t i = 0; i < race->count; i++)
        frame_drop(race->frames[i]);
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
    struct race race = {.frames = bench_ctx.work[0], .count = per_round};
    for (uint64_t r = 0; r < rounds && !bench_ctx.failed; r++) {
        for (uint64_t i = 0; i < per_round; i++) {
            struct frame *f = frame_alloc(0);
            if (!f) {
                bench_fail("refcount last_drop_race: out of frames after %llu",
                           (unsigned long long)i);
                while (i-- > 0)
                    for (unsigned c = 0; c < cpus; c++)
                        frame_drop(race.frames[i]);
                return;
            }
            for (unsigned c = 1; c < cpus; c++)
                frame_clone(f);
            race.frames[i] = f;
        }
        mm_get_stats(&before);
        plat_run_on_cpus(cpus, race_job, &race);
        mm_get_stats(&after);
        frames += per_round;
        frees += before.allocated_frames - after.allocated_frames;
        for (uint64_t i = 0; i < per_round; i++) {
            uint64_t ref = frame_refcount(race.frames[i]);
            if (ref != REFCOUNT_UNUSED)
                bench_fail("refcount last_drop_race cpus=%u: frame pa=%#llx has refcount "
                           "%#llx after every reference was dropped (expected UNUSED)",
                           cpus, (unsigned long long)frame_pa(race.frames[i]),
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
    struct rc_objects *o = &rc_objects;
    o->shared = frame_alloc(0);
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        o->priv[c] = frame_alloc(0);
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        if (!o->priv[c] || !o->shared) {
            bench_fail("refcount: out of frames for the benchmark frames");
            return;
        }
    o->shared_pa = frame_pa(o->shared);
    for (unsigned i = 0; i < PACKED_COUNTERS; i++)
        atomic_store_explicit(&o->packed[i], 1, memory_order_relaxed);
    atomic_store_explicit(&o->xadd_shared, 0, memory_order_relaxed);

    for (unsigned p = 0; p < points && !bench_ctx.failed; p++)
        measure_cpus(sweep[p]);
    for (unsigned p = 0; p < points && !bench_ctx.failed; p++)
        last_drop_race(sweep[p]);
    if (bench_ctx.failed)
        return;
    frame_drop(o->shared);
    for (unsigned c = 0; c < bench_ctx.cpus; c++)
        frame_drop(o->priv[c]);
}
