/*
 * test_refcount.c - the refcount state machine: alloc states, clone/drop,
 * unique -> shared, frame_from_unused / frame_from_in_use and their error
 * codes, owner tags.
 */
#include "tests/mm/mm_test.h"

static void refcount_alloc_states(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    struct frame *s = frame_alloc(0);
    struct frame *u = frame_alloc(FRAME_UNIQUE);
    CHECK(s && u && s != u);
    CHECK_EQ_U(frame_refcount(s), 1);
    CHECK_EQ_U(frame_refcount(u), REF_UNIQUE);
    CHECK_EQ_U(frame_pa(s) % PAGE_SIZE, 0);
    CHECK(frame_va(s) == plat_phys_to_virt(frame_pa(s)));
    CHECK_EQ_U(frame_owner(s), 0);
    frame_unique_to_shared(u);
    CHECK_EQ_U(frame_refcount(u), 1);
    frame_clone(u);
    frame_clone(u);
    CHECK_EQ_U(frame_refcount(u), 3);
    frame_drop(u);
    frame_drop(u);
    CHECK_EQ_U(frame_refcount(u), 1);
    CHECK_EQ_U(mt_stats().allocated_frames, 2);
    /* The last drop tears down and returns the frame to this CPU's cache. */
    struct pcp_stats before, after;
    mm_pcp_stats(0, &before);
    frame_drop(u);
    mm_pcp_stats(0, &after);
    CHECK_EQ_U(frame_refcount(u), REF_UNUSED);
    CHECK_EQ_U(after.frees, before.frees + 1);
    CHECK_EQ_U(after.cached, before.cached + 1);
    CHECK_EQ_U(mt_stats().allocated_frames, 1);
    /* Dropping a UNIQUE frame releases it too. */
    struct frame *v = frame_alloc(FRAME_UNIQUE);
    frame_drop(v);
    CHECK_EQ_U(frame_refcount(v), REF_UNUSED);
    frame_free(s);
    CHECK_EQ_U(mt_stats().allocated_frames, 0);
    mt_check();
}

static void refcount_owner_tags(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    struct frame *f = frame_alloc(0);
    frame_set_owner(f, 0xfeedface);
    CHECK_EQ_U(frame_owner(f), 0xfeedface);
    uint64_t pa = frame_pa(f);
    frame_drop(f);
    f = frame_alloc(0);
    CHECK_EQ_U(frame_pa(f), pa); /* LIFO cache: the same frame */
    CHECK_EQ_U(frame_owner(f), 0);
    frame_drop(f);
    mt_check();
}

static void refcount_from_in_use_errors(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    struct frame *f, *g;
    uint64_t retries = 99;
    struct frame *s = frame_alloc(0);
    struct frame *u = frame_alloc(FRAME_UNIQUE);
    CHECK_EQ_U(frame_from_in_use(frame_pa(s), &g, &retries), FRAME_OK);
    CHECK(g == s);
    CHECK_EQ_U(retries, 0);
    CHECK_EQ_U(frame_refcount(s), 2);
    CHECK_EQ_U(frame_from_in_use(frame_pa(s), &g, NULL), FRAME_OK);
    CHECK_EQ_U(frame_refcount(s), 3);
    CHECK_EQ_U(frame_from_in_use(frame_pa(u), &g, &retries), FRAME_ERR_UNIQUE);
    CHECK_EQ_U(frame_from_in_use(frame_pa(s) + 8, &g, &retries), FRAME_ERR_NOT_ALIGNED);
    CHECK_EQ_U(frame_from_in_use(8 * MiB, &g, &retries), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_in_use(40 * MiB, &g, &retries), FRAME_ERR_OUT_OF_BOUND);
    /* Busy: a frame caught between construction and publication. */
    atomic_store(&u->refcount, 0);
    CHECK_EQ_U(frame_from_in_use(frame_pa(u), &g, &retries), FRAME_ERR_BUSY);
    atomic_store(&u->refcount, REF_UNIQUE);
    frame_free(u);
    /* Unused: in this CPU's cache, and in the buddy lists. */
    CHECK_EQ_U(frame_from_in_use(frame_pa(u), &g, &retries), FRAME_ERR_UNUSED);
    mm_pcp_drain_all();
    CHECK_EQ_U(frame_from_in_use(frame_pa(u), &g, &retries), FRAME_ERR_UNUSED);
    f = frame_alloc_order(2, 0);
    CHECK_EQ_U(frame_from_in_use(frame_pa(f), &g, &retries), FRAME_OK);
    CHECK_EQ_U(frame_refcount(f), 2);
    frame_drop(f);
    frame_drop(f);
    for (int i = 0; i < 3; i++)
        frame_drop(s);
    CHECK_EQ_U(mt_stats().allocated_frames, 0);
    mt_check();
}

static void refcount_from_unused_claims(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    struct frame *f, *g, *claimed;
    uint64_t total = mt_stats().total_frames;
    /* A frame deep inside a max-order free block: the block splits around it. */
    uint64_t pa = 16 * MiB + 777 * PAGE_SIZE;
    CHECK_EQ_U(frame_from_unused(pa, false, &claimed), FRAME_OK);
    CHECK_EQ_U(frame_pa(claimed), pa);
    CHECK_EQ_U(frame_refcount(claimed), 1);
    CHECK_EQ_U(mt_stats().free_frames, total - 1);
    mt_check();
    CHECK_EQ_U(frame_from_unused(pa, false, &g), FRAME_ERR_IN_USE);
    CHECK_EQ_U(frame_from_unused(pa + 1, false, &g), FRAME_ERR_NOT_ALIGNED);
    CHECK_EQ_U(frame_from_unused(1 * MiB, false, &g), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_unused(pa + PAGE_SIZE, true, &g), FRAME_OK);
    CHECK_EQ_U(frame_refcount(g), REF_UNIQUE);
    CHECK_EQ_U(frame_from_unused(pa + PAGE_SIZE, false, &f), FRAME_ERR_UNIQUE);
    atomic_store(&g->refcount, 0);
    CHECK_EQ_U(frame_from_unused(pa + PAGE_SIZE, false, &f), FRAME_ERR_BUSY);
    atomic_store(&g->refcount, REF_UNIQUE);
    /* A frame in this CPU's cache: the cache is drained, then it is claimed. */
    frame_free(g);
    CHECK_EQ_U(mt_stats().cached_frames, 1);
    CHECK_EQ_U(frame_from_unused(pa + PAGE_SIZE, true, &g), FRAME_OK);
    CHECK_EQ_U(mt_stats().cached_frames, 0);
    /* A frame in another CPU's cache is out of reach. */
    host_set_cpu(1);
    frame_free(g);
    host_set_cpu(0);
    CHECK_EQ_U(frame_from_unused(pa + PAGE_SIZE, true, &g), FRAME_ERR_BUSY);
    host_set_cpu(1);
    mm_pcp_drain_local();
    host_set_cpu(0);
    CHECK_EQ_U(frame_from_unused(pa + PAGE_SIZE, true, &g), FRAME_OK);
    frame_free(g);
    CHECK_EQ_U(frame_from_unused(pa, false, &g), FRAME_ERR_IN_USE);
    frame_drop(claimed);
    mm_pcp_drain_all();
    CHECK_EQ_U(mt_stats().free_frames, total);
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.free_blocks[MM_MAX_ORDER], total >> MM_MAX_ORDER); /* all merged back */
    mt_check();
}

/* frame_from_unused touches no cache but the one that holds the frame, and
 * a frame a refill has taken but not yet spread is BUSY, not IN_USE. */
static void refcount_from_unused_leaves_other_frames_cached(void)
{
    if (!mt_init1(16 * MiB, 16 * MiB))
        return;
    /* A refill of more than one frame (16 MiB for 8 CPUs derives a batch of 1). */
    mt_force_pcp(&(struct pcp_config){.enabled = true, .capacity = 64, .batch = 16});
    struct frame *f, *g;
    /* CPU 1 caches frame f; CPU 0 caches a refill's worth. */
    host_set_cpu(1);
    f = frame_alloc(0);
    frame_drop(f);
    host_set_cpu(0);
    frame_drop(frame_alloc(0));
    uint64_t cached0 = mt_pcp_stats(0).cached;
    CHECK(cached0 > 1);
    CHECK_EQ_U(frame_from_unused(frame_pa(f), false, &g), FRAME_ERR_BUSY);
    CHECK_EQ_U(mt_pcp_stats(0).cached, cached0); /* CPU 0's cache is untouched */
    /* A frame of CPU 0's own cache: only that frame leaves the cache. */
    if (!mm_pcp[0].head || !mm_pcp[0].head->next)
        return;
    struct frame *mine = mm_pcp[0].head->next;
    CHECK_EQ_U(frame_from_unused(frame_pa(mine), true, &g), FRAME_OK);
    CHECK(g == mine);
    CHECK_EQ_U(mt_pcp_stats(0).cached, cached0 - 1);
    mt_check();
    frame_free(g);
    /* In transit: a block a refill took from the buddy lists. */
    struct arena *a = &mm_arenas[0];
    struct frame *chain = NULL;
    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    uint64_t got = buddy_take_locked(a, 16, &chain);
    mm_lock_release(&a->lock, s);
    /* The blocks it took depend on how the metadata left the free lists:
     * the test needs one of at least 8 frames, to look inside it. */
    struct frame *big = chain;
    for (struct frame *c = chain; c != NULL; c = c->next)
        if (c->order > big->order)
            big = c;
    CHECK(got == 16 && big != NULL && big->order >= 3);
    if (big != NULL && big->order >= 3)
        CHECK_EQ_U(frame_from_unused(frame_pa(big) + 5 * PAGE_SIZE, false, &g), FRAME_ERR_BUSY);
    s = mm_lock_acquire(&a->lock);
    while (chain != NULL) {
        struct frame *c = chain;
        chain = c->next;
        buddy_free_block_locked(a, c->pfn, c->order);
    }
    mm_lock_release(&a->lock, s);
    mm_pcp_drain_all();
    mt_check();
}

/* The free lists must come back identical whatever frame was claimed. */
static void refcount_from_unused_every_frame_of_a_block(void)
{
    if (!mt_init1(32 * MiB, 8 * MiB))
        return;
    struct mm_stats st0 = mt_stats();
    for (uint64_t i = 0; i < 1024; i += 37) {
        struct frame *f;
        uint64_t pa = 32 * MiB + i * PAGE_SIZE;
        CHECK_EQ_U(frame_from_unused(pa, true, &f), FRAME_OK);
        if (i % 5 == 0)
            mt_check();
        frame_free(f);
        mm_pcp_drain_all();
    }
    struct mm_stats st1 = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(st1.free_blocks[o], st0.free_blocks[o]);
    mt_check();
}

void mm_tests_refcount(void)
{
    RUN(refcount_alloc_states);
    RUN(refcount_owner_tags);
    RUN(refcount_from_in_use_errors);
    RUN(refcount_from_unused_claims);
    RUN(refcount_from_unused_every_frame_of_a_block);
    RUN(refcount_from_unused_leaves_other_frames_cached);
}
