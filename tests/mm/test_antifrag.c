/*
 * test_antifrag.c - the anti-fragmentation policy (mm/antifrag.c): refills
 * cut from one reserved 2 MiB region, reservations dropped when the policy
 * goes off, full caches returning other regions' frames first, out-of-memory
 * only when memory is exhausted, and conservation plus every mm_check
 * invariant through a threaded aging workload with foreign frees.
 */
#include <stdlib.h>

#include "tests/mm/mm_test.h"

#define REGION (2 * MiB)

static uint64_t region_of(const struct frame *f)
{
    return frame_pa(f) & ~(REGION - 1);
}

/* One arena [16 MiB, end) with the policy on. */
static bool af_start(uint64_t end)
{
    if (!mt_init1(16 * MiB, end))
        return false;
    CHECK(mm_antifrag_set(true));
    return true;
}

static void af_refills_come_from_one_region(void)
{
    if (!af_start(32 * MiB))
        return;
    /* The first region is the top one, whose last 128 frames hold the
     * arena's metadata: 300 frames fit it. */
    static struct frame *held[300];
    for (int i = 0; i < 300; i++)
        held[i] = frame_alloc(0);
    uint64_t r;
    CHECK(mm_antifrag_reserved(0, false, &r));
    for (int i = 0; i < 300; i++)
        CHECKF(region_of(held[i]) == r, "frame %d at %#llx outside the region %#llx", i,
               (unsigned long long)frame_pa(held[i]), (unsigned long long)r);
    struct mm_antifrag_stats s;
    mm_antifrag_stats(&s);
    CHECK_EQ_U(s.reservations, 1);
    CHECK_EQ_U(s.fallback_frames, 0);
    mt_check();
    for (int i = 0; i < 300; i++)
        frame_free(held[i]);
    mt_check();
}

static void af_region_used_up_moves_to_the_next(void)
{
    if (!af_start(32 * MiB))
        return;
    static struct frame *held[1500];
    for (int i = 0; i < 1500; i++)
        held[i] = frame_alloc(0);
    /* 1500 frames: what the top region has free (the metadata takes the
     * rest), then whole regions of 512, each handed out whole before the
     * next is started. */
    uint64_t regions[8], count[8] = {0}, now;
    unsigned n = 0;
    for (int i = 0; i < 1500; i++) {
        uint64_t r = region_of(held[i]);
        unsigned k = 0;
        while (k < n && regions[k] != r)
            k++;
        if (k == n && n < 8)
            regions[n++] = r;
        if (k < 8)
            count[k]++;
    }
    CHECKF(n == 4, "1500 frames spread over %u regions", n);
    CHECK(mm_antifrag_reserved(0, false, &now));
    for (unsigned k = 0; k < n; k++)
        if (regions[k] != now)
            CHECKF(k == 0 ? count[k] > 256 && count[k] <= 512 : count[k] == 512,
                   "region %#llx gave %llu frames", (unsigned long long)regions[k],
                   (unsigned long long)count[k]);
    mt_check();
    for (int i = 0; i < 1500; i++)
        frame_free(held[i]);
    MT_CHECK_ALL_FREE();
}

static void af_switch_off_drops_reservations(void)
{
    if (!af_start(64 * MiB))
        return;
    struct frame *f[4];
    for (unsigned cpu = 0; cpu < 4; cpu++) {
        host_set_cpu(cpu);
        f[cpu] = frame_alloc(0);
    }
    host_set_cpu(0);
    uint64_t r[4];
    for (unsigned cpu = 0; cpu < 4; cpu++) {
        CHECK(mm_antifrag_reserved(cpu, false, &r[cpu]));
        for (unsigned o = 0; o < cpu; o++)
            CHECKF(r[o] != r[cpu], "cpus %u and %u share the region %#llx", o, cpu,
                   (unsigned long long)r[cpu]);
    }
    mt_check();
    struct mm_antifrag_stats s;
    mm_antifrag_stats(&s);
    CHECK_EQ_U(s.reserved_regions, 4);
    CHECK(mm_antifrag_set(false));
    CHECK(!mm_antifrag_enabled());
    mm_antifrag_stats(&s);
    CHECK_EQ_U(s.reserved_regions, 0);
    for (unsigned cpu = 0; cpu < 4; cpu++) {
        uint64_t pa;
        CHECK(!mm_antifrag_reserved(cpu, false, &pa));
    }
    /* Switching drained every cache: only the four frames are out. */
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    CHECK_EQ_U(mt_stats().allocated_frames, 4);
    mt_check();
    for (unsigned cpu = 0; cpu < 4; cpu++)
        frame_free(f[cpu]);
    MT_CHECK_ALL_FREE();
}

/* A CPU that frees another CPU's frames gives them back to the buddy lists
 * (and so to their region) first when its cache fills, and keeps its own. */
static void af_remote_frees_return_to_their_region(void)
{
    if (!mt_init_pcp(64, 16))
        return;
    CHECK(mm_antifrag_set(true));
    static struct frame *theirs[400];
    struct frame *mine[16];
    for (int i = 0; i < 400; i++)
        theirs[i] = frame_alloc(0);
    uint64_t r0, r1;
    CHECK(mm_antifrag_reserved(0, false, &r0));
    host_set_cpu(1);
    for (int i = 0; i < 16; i++)
        mine[i] = frame_alloc(0);
    CHECK(mm_antifrag_reserved(1, false, &r1));
    CHECK(r0 != r1);
    for (int i = 0; i < 16; i++)
        frame_free(mine[i]);
    for (int i = 0; i < 400; i++)
        frame_free(theirs[i]);
    /* CPU 1's cache kept its 16 frames of r1 through every drain. */
    unsigned own = 0, foreign = 0;
    for (struct frame *f = mm_pcp[1].head; f; f = f->next)
        if (region_of(f) == r1)
            own++;
        else
            foreign++;
    CHECK_EQ_U(own, 16);
    CHECK_EQ_U(own + foreign, mm_pcp[1].count);
    /* Everything else of r0 that CPU 1 freed is back in the free lists. */
    struct mm_antifrag_stats s;
    mm_antifrag_stats(&s);
    CHECK_EQ_U(s.foreign_drained, 400 - foreign);
    host_set_cpu(0);
    mt_check();
    MT_CHECK_ALL_FREE();
}

/* Reservations hold no memory: with every CPU holding one, a single CPU
 * still gets every frame before out-of-memory. */
static void af_oom_only_when_exhausted(void)
{
    if (!af_start(32 * MiB))
        return;
    struct frame *keep[MT_CPUS];
    for (unsigned cpu = 1; cpu < MT_CPUS; cpu++) {
        host_set_cpu(cpu);
        keep[cpu] = frame_alloc(0);
    }
    host_set_cpu(0);
    mm_pcp_drain_all(); /* quiescent: idle CPUs' caches are out of reach otherwise */
    struct mm_antifrag_stats s;
    mm_antifrag_stats(&s);
    CHECK_EQ_U(s.reserved_regions, MT_CPUS - 1);
    uint64_t total = mt_stats().total_frames;
    struct frame **all = calloc(total, sizeof *all);
    CHECK(all != NULL);
    if (!all)
        return;
    uint64_t n = mt_alloc_all(all, total, 0);
    CHECK_EQ_U(n, total - (MT_CPUS - 1));
    CHECK_EQ_U(mt_stats().free_frames, 0);
    CHECK(frame_alloc(0) == NULL);
    mt_check();
    for (uint64_t i = 0; i < n; i++)
        frame_free(all[i]);
    for (unsigned cpu = 1; cpu < MT_CPUS; cpu++)
        frame_free(keep[cpu]);
    free(all);
    mm_pcp_drain_all();
    CHECK_EQ_U(mt_stats().free_frames, total);
    mt_check();
}

/* FRAME_LONG_LIVED units fill a region of their own, apart from the
 * refills; with the policy off the hint changes nothing. */
static void af_long_lived_units_fill_their_own_region(void)
{
    if (!mt_init1(16 * MiB, 32 * MiB))
        return;
    struct frame *f = frame_alloc(FRAME_LONG_LIVED);
    CHECK(f != NULL);
    struct pcp_config geometry;
    mm_pcp_get_config(&geometry);
    /* off: an ordinary refill and hit */
    CHECK_EQ_U(mt_pcp_stats(0).cached, geometry.batch - 1);
    frame_free(f);
    CHECK(mm_antifrag_set(true));
    struct frame *small = frame_alloc(0);
    static struct frame *lng[200];
    for (int i = 0; i < 200; i++) {
        lng[i] = frame_alloc_order(i % 4 == 3 ? 2 : 0, FRAME_LONG_LIVED | FRAME_UNIQUE);
        CHECK(lng[i] != NULL);
    }
    uint64_t rs, rl;
    CHECK(mm_antifrag_reserved(0, false, &rs));
    CHECK(mm_antifrag_reserved(0, true, &rl));
    CHECK(rs != rl);
    CHECK(region_of(small) == rs);
    for (int i = 0; i < 200; i++) {
        CHECKF(region_of(lng[i]) == rl, "long-lived unit %d at %#llx outside %#llx", i,
               (unsigned long long)frame_pa(lng[i]), (unsigned long long)rl);
        CHECK_EQ_U(frame_order(lng[i]), i % 4 == 3 ? 2 : 0);
        CHECK_EQ_U(frame_refcount(lng[i]), REF_UNIQUE);
        if (i % 4 == 3)
            CHECK_EQ_U(frame_pa(lng[i]) % (4 * 4096), 0);
    }
    struct mm_antifrag_stats s;
    mm_antifrag_stats(&s);
    CHECK_EQ_U(s.long_frames, 150 + 50 * 4);
    CHECK_EQ_U(s.reserved_regions, 2);
    mt_check();
    EXPECT_PANIC(frame_alloc(1u << 7), "unknown flags");
    if (!mt_init1(16 * MiB, 32 * MiB))
        return;
    mt_check();
}

/* ---- threaded aging: the bench=frag shape in small ------------------------- */

#define AGE_CPUS 4
#define AGE_WINDOW 600
#define AGE_LONG 300

static struct age_cpu {
    struct frame *win[AGE_WINDOW];
    unsigned win_n;
    struct frame *lng[AGE_LONG];
    unsigned lng_n;
    uint64_t rng;
    uint64_t nomem;
} age[AGE_CPUS];

static uint64_t age_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void age_churn(void *arg)
{
    (void)arg;
    struct age_cpu *c = &age[plat_cpu_index()];
    for (unsigned i = 0; i < 3 * AGE_WINDOW; i++) {
        unsigned x = (unsigned)(age_next(&c->rng) % 100);
        unsigned order = x < 88 ? 0 : x < 94 ? 1 : x < 98 ? 2 : 3;
        struct frame *f = frame_alloc_order(order, FRAME_UNIQUE);
        if (!f) {
            c->nomem++;
            continue;
        }
        if (c->lng_n < AGE_LONG && age_next(&c->rng) % 32 == 0) {
            c->lng[c->lng_n++] = f;
            continue;
        }
        if (c->win_n == AGE_WINDOW) {
            unsigned k = (unsigned)(age_next(&c->rng) % AGE_WINDOW);
            frame_free(c->win[k]);
            c->win[k] = c->win[--c->win_n];
        }
        c->win[c->win_n++] = f;
    }
}

static void age_foreign(void *arg)
{
    (void)arg;
    struct age_cpu *c = &age[(plat_cpu_index() + 1) % AGE_CPUS];
    while (c->win_n)
        frame_free(c->win[--c->win_n]);
}

static void age_release(void *arg)
{
    (void)arg;
    struct age_cpu *c = &age[plat_cpu_index()];
    while (c->lng_n)
        frame_free(c->lng[--c->lng_n]);
}

static uint64_t age_held_frames(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < AGE_CPUS; i++) {
        for (unsigned k = 0; k < age[i].win_n; k++)
            n += (uint64_t)1 << frame_order(age[i].win[k]);
        for (unsigned k = 0; k < age[i].lng_n; k++)
            n += (uint64_t)1 << frame_order(age[i].lng[k]);
    }
    return n;
}

static void af_aging_conserves_frames(void)
{
    if (!mt_init1(16 * MiB, 64 * MiB))
        return;
    host_set_cpu_count(AGE_CPUS);
    for (int on = 0; on <= 1; on++) {
        CHECK(mm_antifrag_set(on));
        memset(age, 0, sizeof age);
        for (unsigned i = 0; i < AGE_CPUS; i++)
            age[i].rng = 0x9e3779b97f4a7c15ull ^ i;
        for (unsigned cycle = 0; cycle < 4; cycle++) {
            plat_run_on_cpus(AGE_CPUS, age_churn, NULL);
            struct mm_stats st = mt_stats();
            CHECK_EQ_U(st.allocated_frames, age_held_frames());
            mt_check();
            plat_run_on_cpus(AGE_CPUS, age_foreign, NULL);
            CHECK_EQ_U(mt_stats().allocated_frames, age_held_frames());
            mt_check();
        }
        plat_run_on_cpus(AGE_CPUS, age_release, NULL);
        for (unsigned i = 0; i < AGE_CPUS; i++)
            CHECK_EQ_U(age[i].nomem, 0);
        CHECK_EQ_U(mt_stats().allocated_frames, 0);
        mt_check();
        mm_pcp_drain_all();
        CHECK_EQ_U(mt_stats().free_frames, mt_stats().total_frames);
    }
    host_set_cpu(0);
}

void mm_tests_antifrag(void)
{
    RUN(af_refills_come_from_one_region);
    RUN(af_region_used_up_moves_to_the_next);
    RUN(af_switch_off_drops_reservations);
    RUN(af_remote_frees_return_to_their_region);
    RUN(af_oom_only_when_exhausted);
    RUN(af_long_lived_units_fill_their_own_region);
    RUN(af_aging_conserves_frames);
}

/* The ThreadSanitizer build (make suite-mm: mm/tsan/antifrag_*) runs this
 * file alone: the rest of the unit suite is single-threaded. */
#ifdef MM_ANTIFRAG_MAIN
CHECK_SUITE("mm/tsan");

int main(void)
{
    mm_tests_antifrag();
    return check_exit();
}
#endif
