/*
 * stress.c - every CPU runs a seeded random mix against the allocator while
 * the harness checks every handout (bench=stress).
 *
 * Operations (weights in percent), on a per-CPU table of held items:
 *   24 alloc     frame_alloc, UNIQUE 1 in 4, FRAME_ZERO 1 in 8 (checked zero)
 *   24 release   frame_free (UNIQUE) or frame_drop (shared: a racer below may
 *                hold a reference to any of them); contiguous:
 *                frame_free_contig
 *    8 clone     frame_clone of a shared frame held
 *    4 from_in_use  on a shared frame: must succeed and return the same
 *                handle; on a UNIQUE frame: must fail with FRAME_ERR_UNIQUE
 *    4 recycled  frame_from_in_use on the address of a frame some CPU
 *                released lately: a clean error, or a reference to the
 *                frame's new incarnation (count >= 2), dropped at once
 *    4 unique_to_shared
 *   10 contig    frame_alloc_contig, n in 1..16, alignment 1..16 (checked)
 *   11 publish   clone a shared frame into a mailbox slot all CPUs see
 *   11 take      take a frame out of a mailbox slot: its last drop may then
 *                happen on another CPU than its allocation (remote free)
 * Owner stamps: each allocation gets a stamp (CPU, sequence) written to the
 * frame's owner tag (frame_set_owner) and to the first and last word of its
 * page (for contiguous blocks: stamp + i in frame i).  Every release, clone
 * and take first checks the refcount state, the owner tag and the page
 * words, so a frame handed out twice, freed under a holder or corrupted is
 * caught at the next touch.  A violation prints the frame, its state and the
 * operation.
 *
 * Epochs: stress_ops per CPU are split into stress_epochs; at each epoch end
 * all CPUs meet at a barrier, CPU 0 runs the full mm_check while the others
 * wait, then all go on (or all stop after a violation).  test_corrupt_frame=1
 * sets a free frame (in CPU 0's cache) to UNIQUE behind the allocator's back
 * at the middle epoch's barrier; mm_check must report it.
 */
#include "plat/barrier.h"
#include "bench/bench_int.h"

#define STRESS_ITEMS 256
#define MAILBOX_SLOTS 64
#define RECYCLED_SLOTS 64
#define REFCOUNT_UNIQUE (UINT64_MAX - 1)
#define REFCOUNT_MAX ((uint64_t)INT64_MAX)
#define PAGE_WORDS (PAGE_SIZE / sizeof(uint64_t))
#define MAX_REFS_HELD 1000

enum item_kind { ITEM_NONE, ITEM_UNIQUE, ITEM_SHARED, ITEM_CONTIG };
struct stress_item {
    struct frame *f;  /* single frames */
    uint64_t pa;      /* contiguous blocks */
    uint64_t stamp;
    uint32_t n;       /* contiguous: frames */
    uint16_t refs;    /* shared: references this CPU holds */
    uint8_t kind;
    bool published;   /* shared: other CPUs may have held it (frame_free is off) */
};

struct stress_cpu {
    struct stress_item item[STRESS_ITEMS];
    unsigned count;
    uint64_t rng, seq;
};

enum { CNT_OPS, CNT_OOM, CNT_TRANSFERS, CNT_CONTIG, CNT_VIOLATIONS, CNT_RECYCLED };

static struct {
    struct barrier barrier;
    _Alignas(CACHE_LINE_SIZE) atomic_uintptr_t mailbox[MAILBOX_SLOTS];
    /* Addresses of single frames released lately, by any CPU: the frame
     * there now is another incarnation, maybe another CPU's. */
    _Alignas(CACHE_LINE_SIZE) _Atomic uint64_t recycled[RECYCLED_SLOTS];
    _Alignas(CACHE_LINE_SIZE) atomic_bool stop;
    atomic_uint_least64_t violations;
    unsigned epochs_done;
} sx;

static void violation(unsigned cpu, const char *op, struct frame *f, uint64_t pa, uint64_t stamp,
                      const char *what)
{
    uint64_t where = f ? frame_pa(f) : pa;
    const uint64_t *page = where ? plat_phys_to_virt(where) : NULL; /* no block: no page */
    plat_log("stress: VIOLATION cpu %u op %s: frame pa=%#llx refcount=%#llx owner=%#llx "
             "expected stamp %#llx page words %#llx/%#llx: %s\n",
             cpu, op, (unsigned long long)where, (unsigned long long)(f ? frame_refcount(f) : 0),
             (unsigned long long)(f ? frame_owner(f) : 0), (unsigned long long)stamp,
             (unsigned long long)(page ? page[0] : 0),
             (unsigned long long)(page ? page[PAGE_WORDS - 1] : 0), what);
    atomic_fetch_add_explicit(&sx.violations, 1, memory_order_relaxed);
}

static void stamp_page(uint64_t pa, uint64_t stamp)
{
    uint64_t *page = plat_phys_to_virt(pa);
    page[0] = stamp;
    page[PAGE_WORDS - 1] = ~stamp;
}

static bool page_stamped(uint64_t pa, uint64_t stamp)
{
    const uint64_t *page = plat_phys_to_virt(pa);
    return page[0] == stamp && page[PAGE_WORDS - 1] == ~stamp;
}

/* The state a held single frame must be in; false after reporting. */
static bool check_single(unsigned cpu, const char *op, const struct stress_item *it)
{
    uint64_t ref = frame_refcount(it->f);
    const char *bad = NULL;
    if (it->kind == ITEM_UNIQUE && ref != REFCOUNT_UNIQUE)
        bad = "held UNIQUE but the refcount says otherwise";
    else if (it->kind == ITEM_SHARED && (ref < it->refs || ref > REFCOUNT_MAX))
        bad = "refcount below the references held, or not a shared count";
    else if (frame_owner(it->f) != it->stamp)
        bad = "owner tag changed while held";
    else if (!page_stamped(frame_pa(it->f), it->stamp))
        bad = "page stamp overwritten while held";
    if (bad)
        violation(cpu, op, it->f, 0, it->stamp, bad);
    return bad == NULL;
}

static bool check_contig(unsigned cpu, const struct stress_item *it)
{
    for (uint32_t i = 0; i < it->n; i++)
        if (!page_stamped(it->pa + i * PAGE_SIZE, it->stamp + i)) {
            violation(cpu, "free_contig", NULL, it->pa + i * PAGE_SIZE, it->stamp + i,
                      "page stamp of a contiguous block overwritten while held");
            return false;
        }
    return true;
}

static struct stress_item *add_item(struct stress_cpu *c)
{
    struct stress_item *it = &c->item[c->count++];
    __builtin_memset(it, 0, sizeof *it);
    return it;
}

static void remove_item(struct stress_cpu *c, struct stress_item *it)
{
    *it = c->item[--c->count];
}

static uint64_t next_stamp(struct stress_cpu *c, unsigned cpu)
{
    return ((uint64_t)(cpu + 1) << 48) | (++c->seq << 5); /* room for stamp + i, i < 32 */
}

static void op_alloc(struct stress_cpu *c, unsigned cpu, struct bench_slot *s)
{
    uint64_t r = rng_next(&c->rng);
    unsigned flags = ((r & 3) == 0 ? FRAME_UNIQUE : 0) | ((r & 0x38) == 0 ? FRAME_ZERO : 0);
    struct frame *f = frame_alloc(flags);
    if (!f) {
        s->counter[CNT_OOM]++;
        return;
    }
    /* A shared frame may already carry a racer's reference (op_recycled). */
    uint64_t ref = frame_refcount(f);
    if ((flags & FRAME_UNIQUE) ? ref != REFCOUNT_UNIQUE : ref == 0 || ref > REFCOUNT_MAX)
        violation(cpu, "alloc", f, 0, 0, "new frame in the wrong refcount state");
    if (flags & FRAME_ZERO) {
        const uint64_t *page = frame_va(f);
        for (unsigned i = 0; i < PAGE_WORDS; i++)
            if (page[i]) {
                violation(cpu, "alloc_zeroed", f, 0, 0, "FRAME_ZERO frame not zero");
                break;
            }
    }
    struct stress_item *it = add_item(c);
    it->f = f;
    it->stamp = next_stamp(c, cpu);
    it->kind = (flags & FRAME_UNIQUE) ? ITEM_UNIQUE : ITEM_SHARED;
    it->refs = 1;
    frame_set_owner(f, it->stamp);
    stamp_page(frame_pa(f), it->stamp);
}

static void op_contig(struct stress_cpu *c, unsigned cpu, struct bench_slot *s)
{
    uint64_t r = rng_next(&c->rng), pa;
    uint64_t n = 1 + (r & 15), align = (uint64_t)1 << ((r >> 4) % 5);
    enum frame_error err = frame_alloc_contig(n, align, 0, &pa);
    if (err == FRAME_ERR_NOMEM) {
        s->counter[CNT_OOM]++;
        return;
    }
    if (err != FRAME_OK || pa % (align * PAGE_SIZE)) {
        violation(cpu, "alloc_contig", NULL, err == FRAME_OK ? pa : 0, 0,
                  err == FRAME_OK ? "block misaligned" : frame_error_name(err));
        return;
    }
    struct stress_item *it = add_item(c);
    it->pa = pa;
    it->n = (uint32_t)n;
    it->kind = ITEM_CONTIG;
    it->stamp = next_stamp(c, cpu);
    for (uint64_t i = 0; i < n; i++)
        stamp_page(pa + i * PAGE_SIZE, it->stamp + i);
    s->counter[CNT_CONTIG]++;
}

static void remember_recycled(struct stress_cpu *c, uint64_t pa)
{
    atomic_store_explicit(&sx.recycled[rng_below(&c->rng, RECYCLED_SLOTS)], pa,
                          memory_order_relaxed);
}

/* Gives up one reference (or the whole block) of item it. */
static void release(struct stress_cpu *c, unsigned cpu, struct stress_item *it)
{
    switch (it->kind) {
    case ITEM_CONTIG:
        if (check_contig(cpu, it))
            frame_free_contig(it->pa, it->n);
        remove_item(c, it);
        return;
    case ITEM_UNIQUE:
        if (check_single(cpu, "free", it)) {
            remember_recycled(c, frame_pa(it->f));
            frame_free(it->f);
        }
        remove_item(c, it);
        return;
    case ITEM_SHARED:
        if (!check_single(cpu, "drop", it)) {
            remove_item(c, it); /* leave a broken frame alone */
            return;
        }
        /* Always frame_drop, never frame_free: the racers of op_recycled may
         * hold a reference to any shared frame, whose pa they found among
         * recycled addresses; a count of 1 is never known to be exclusive. */
        if (it->refs == 1)
            remember_recycled(c, frame_pa(it->f));
        frame_drop(it->f);
        if (--it->refs == 0)
            remove_item(c, it);
        return;
    default:
        return;
    }
}

static void op_more_refs(unsigned cpu, struct stress_item *it, bool cas)
{
    if (it->kind == ITEM_UNIQUE && cas) {
        struct frame *g = NULL;
        enum frame_error err = frame_from_in_use(frame_pa(it->f), &g, NULL);
        if (err != FRAME_ERR_UNIQUE)
            violation(cpu, "from_in_use", it->f, 0, it->stamp,
                      "a UNIQUE frame did not answer FRAME_ERR_UNIQUE");
        return;
    }
    if (it->kind != ITEM_SHARED || it->refs >= MAX_REFS_HELD || !check_single(cpu, "clone", it))
        return;
    if (!cas) {
        frame_clone(it->f);
        it->refs++;
        return;
    }
    struct frame *g = NULL;
    enum frame_error err = frame_from_in_use(frame_pa(it->f), &g, NULL);
    if (err == FRAME_OK && g == it->f)
        it->refs++;
    else
        violation(cpu, "from_in_use", it->f, 0, it->stamp,
                  err == FRAME_OK ? "returned another handle" : frame_error_name(err));
}

/* A reference by address to whatever frame now sits at a recycled pa (a
 * racer that cannot know its address was reused): a clean error, or a
 * reference to a live shared frame that it gives back at once.  Its owner's
 * stamps, checked at the owner's next touch, catch a frame this reference
 * would have handed to two owners. */
static void op_recycled(struct stress_cpu *c, unsigned cpu, struct bench_slot *s)
{
    uint64_t pa = atomic_load_explicit(&sx.recycled[rng_below(&c->rng, RECYCLED_SLOTS)],
                                       memory_order_relaxed);
    struct frame *g;
    if (!pa || frame_from_in_use(pa, &g, NULL) != FRAME_OK)
        return;
    /* At least our reference: the owner may drop its own at any moment
     * after ours was taken (a count of 1 is then ours alone). */
    uint64_t ref = frame_refcount(g);
    if (ref < 1 || ref > REFCOUNT_MAX)
        violation(cpu, "recycled_from_in_use", g, 0, 0,
                  "a reference taken by address left the count illegal");
    s->counter[CNT_RECYCLED]++;
    frame_drop(g);
}

static void op_publish(struct stress_cpu *c, unsigned cpu, struct stress_item *it)
{
    if (it->kind != ITEM_SHARED || !check_single(cpu, "publish", it))
        return;
    atomic_uintptr_t *slot = &sx.mailbox[rng_below(&c->rng, MAILBOX_SLOTS)];
    uintptr_t empty = 0;
    it->published = true;
    frame_clone(it->f); /* the mailbox's own reference */
    if (!atomic_compare_exchange_strong_explicit(slot, &empty, (uintptr_t)it->f,
                                                 memory_order_release, memory_order_relaxed))
        frame_drop(it->f);
}

static void op_take(struct stress_cpu *c, unsigned cpu, struct bench_slot *s)
{
    atomic_uintptr_t *slot = &sx.mailbox[rng_below(&c->rng, MAILBOX_SLOTS)];
    struct frame *f = (struct frame *)atomic_exchange_explicit(slot, 0, memory_order_acquire);
    if (!f)
        return;
    s->counter[CNT_TRANSFERS]++;
    struct stress_item tmp = {.f = f, .stamp = frame_owner(f), .refs = 1, .kind = ITEM_SHARED,
                              .published = true};
    if (!check_single(cpu, "take", &tmp))
        return;
    if (c->count == STRESS_ITEMS) {
        frame_drop(f);
        return;
    }
    *add_item(c) = tmp;
}

static void do_op(struct stress_cpu *c, unsigned cpu, struct bench_slot *s)
{
    unsigned pick = (unsigned)rng_below(&c->rng, 100);
    struct stress_item *it = c->count ? &c->item[rng_below(&c->rng, c->count)] : NULL;
    if (c->count == STRESS_ITEMS && pick < 24)
        pick = 24; /* table full: release instead */
    if (!it && pick >= 24 && pick < 68)
        pick = 0; /* nothing held: allocate instead */
    if (pick < 24)
        op_alloc(c, cpu, s);
    else if (pick < 48)
        release(c, cpu, it);
    else if (pick < 60)
        op_more_refs(cpu, it, pick >= 56); /* 8 clone, 4 from_in_use */
    else if (pick < 64)
        op_recycled(c, cpu, s);
    else if (pick < 68) {
        if (it->kind == ITEM_UNIQUE && check_single(cpu, "unique_to_shared", it)) {
            frame_unique_to_shared(it->f);
            it->kind = ITEM_SHARED;
            it->refs = 1;
        }
    } else if (pick < 78) {
        if (c->count < STRESS_ITEMS)
            op_contig(c, cpu, s);
    } else if (pick < 89) {
        if (it)
            op_publish(c, cpu, it);
    } else if (c->count < STRESS_ITEMS) {
        op_take(c, cpu, s);
    }
}

/*
 * test_corrupt_frame=1: simulate a stray store into the metadata array, the
 * failure mm_check exists to catch.  The allocator's API cannot do this (it
 * validates every transition), so the test writes the state word directly:
 * DESIGN.md's slot keeps its refcount state in its first 64-bit word.  The
 * write is read back through frame_refcount() so a layout change makes the
 * test fail loudly instead of passing without corrupting anything.
 */
static void corrupt_free_frame(void)
{
    struct frame *f = frame_alloc(0);
    if (!f) {
        bench_fail("stress: test_corrupt_frame: no frame to corrupt");
        return;
    }
    uint64_t pa = frame_pa(f);
    frame_free(f); /* free again: UNUSED, in CPU 0's cache */
    atomic_store_explicit((_Atomic uint64_t *)(void *)f, REFCOUNT_UNIQUE, memory_order_relaxed);
    if (frame_refcount(f) != REFCOUNT_UNIQUE)
        bench_fail("stress: test_corrupt_frame: the refcount is not the slot's first word; "
                   "the corruption did not land");
    plat_log("stress: test_corrupt_frame: free frame pa=%#llx set to UNIQUE behind the "
             "allocator's back\n",
             (unsigned long long)pa);
}

/* CPU 0 at an epoch barrier, every other CPU waiting: a quiescent point. */
static void epoch_check(unsigned epoch)
{
    const struct bench_config *cfg = bench_ctx.cfg;
    char where[48];
    if (cfg->test_corrupt_frame && epoch == cfg->stress_epochs / 2)
        corrupt_free_frame();
    plat_snprintf(where, sizeof where, "stress epoch %u", epoch);
    bool ok = bench_mm_check(where);
    uint64_t v = atomic_load_explicit(&sx.violations, memory_order_relaxed);
    if (v)
        bench_fail("stress epoch %u: %llu violations (see the lines above)", epoch,
                   (unsigned long long)v);
    if (!ok && cfg->test_corrupt_frame)
        plat_log("stress: test_corrupt_frame: the corruption was caught\n");
    else if (ok && cfg->test_corrupt_frame && epoch == cfg->stress_epochs / 2)
        bench_fail("stress: test_corrupt_frame: mm_check missed the corrupted frame");
    sx.epochs_done = epoch + 1;
    if (!ok || v || bench_ctx.failed)
        atomic_store_explicit(&sx.stop, true, memory_order_relaxed);
}

static void stress_job(void *arg)
{
    (void)arg;
    const struct bench_config *cfg = bench_ctx.cfg;
    unsigned cpu = plat_cpu_index();
    struct bench_slot *s = &bench_ctx.slot[cpu];
    struct stress_cpu *c = bench_ctx.work[cpu];
    bool sense = false;
    uint64_t per_epoch = cfg->stress_ops / cfg->stress_epochs;
    c->count = 0;
    c->seq = 0;
    c->rng = rng_split(&(uint64_t){cfg->seed ^ 0x57e55ull ^ ((uint64_t)cpu << 32)});
    s->cycles = s->ops = 0;
    s->t_begin = s->t_end = s->gap_cycles = 0;
    for (unsigned e = 0; e < cfg->stress_epochs; e++) {
        uint64_t n = e + 1 == cfg->stress_epochs ? cfg->stress_ops - per_epoch * e : per_epoch;
        uint64_t t0 = plat_tsc_start();
        for (uint64_t i = 0; i < n; i++)
            do_op(c, cpu, s);
        uint64_t t1 = plat_tsc_stop();
        /* the window spans every epoch; the barriers and the checks between
         * them are gaps in it, time this CPU was not running the mix */
        if (e == 0)
            s->t_begin = t0;
        else
            s->gap_cycles += t0 - s->t_end;
        s->t_end = t1;
        s->cycles += t1 - t0;
        s->ops += n;
        barrier_wait(&sx.barrier, &sense);
        if (cpu == 0)
            epoch_check(e);
        barrier_wait(&sx.barrier, &sense);
        if (atomic_load_explicit(&sx.stop, memory_order_relaxed))
            return; /* allocator state is suspect: touch nothing more */
    }
    while (c->count)
        release(c, cpu, &c->item[c->count - 1]);
}

void bench_stress(void)
{
    unsigned cpus = bench_ctx.cpus;
    struct bench_point pt = {.bench = "stress", .cas = "mix", .cpus = cpus};
    _Static_assert(sizeof(struct stress_cpu) <= (64u << 10), "fits a CPU's work area");
    barrier_init(&sx.barrier, cpus);
    for (unsigned i = 0; i < MAILBOX_SLOTS; i++)
        atomic_store_explicit(&sx.mailbox[i], 0, memory_order_relaxed);
    for (unsigned i = 0; i < RECYCLED_SLOTS; i++)
        atomic_store_explicit(&sx.recycled[i], 0, memory_order_relaxed);
    atomic_store_explicit(&sx.stop, false, memory_order_relaxed);
    atomic_store_explicit(&sx.violations, 0, memory_order_relaxed);
    sx.epochs_done = 0;
    for (unsigned c = 0; c < cpus; c++)
        __builtin_memset(bench_ctx.slot[c].counter, 0, sizeof bench_ctx.slot[c].counter);

    plat_run_on_cpus(cpus, stress_job, NULL);

    uint64_t ops = 0, max_cycles = 0;
    double cpo = 0;
    for (unsigned c = 0; c < cpus; c++) {
        const struct bench_slot *s = &bench_ctx.slot[c];
        ops += s->ops;
        cpo += s->ops ? (double)s->cycles / (double)s->ops : 0;
        if (s->cycles > max_cycles)
            max_cycles = s->cycles;
    }
    bench_row_u(&pt, NULL, "ops", ops, "count");
    bench_row_u(&pt, NULL, "violations", atomic_load_explicit(&sx.violations,
                                                              memory_order_relaxed), "count");
    bench_row_u(&pt, NULL, "epochs", sx.epochs_done, "count");
    bench_row_u(&pt, NULL, "oom", bench_counter_sum(cpus, CNT_OOM), "count");
    bench_row_u(&pt, NULL, "transfers", bench_counter_sum(cpus, CNT_TRANSFERS), "count");
    bench_row_u(&pt, NULL, "contig_allocs", bench_counter_sum(cpus, CNT_CONTIG), "count");
    bench_row_u(&pt, NULL, "recycled_refs", bench_counter_sum(cpus, CNT_RECYCLED), "count");
    bench_row(&pt, NULL, "ns_per_op", bench_cycles_to_ns(cpo / cpus), bench_ctx.unit_ns);
    if (max_cycles)
        bench_row(&pt, NULL, "mops",
                  (double)ops * (double)bench_ctx.tsc_khz / ((double)max_cycles * 1000.0), "mops");
    if (cpus > 1)
        bench_window_rows(&pt);
    if (bench_ctx.failed)
        return;
    /* The mailbox's references go last, from CPU 0. */
    for (unsigned i = 0; i < MAILBOX_SLOTS; i++) {
        uintptr_t f = atomic_exchange_explicit(&sx.mailbox[i], 0, memory_order_acquire);
        if (f)
            frame_drop((struct frame *)f);
    }
}
