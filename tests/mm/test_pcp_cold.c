/*
 * test_pcp_cold.c - the drain returns the cold end of a cache (mm/pcp.c:
 * drain): checked against a model of the order-0 list after every operation
 * of a random mix of allocations, frees, overflows and removals from the
 * middle (frame_from_unused on a cached frame), so that every path that
 * could leave a stale cold-end mark is exercised.
 */
#include "tests/mm/mm_test.h"

#define COLD_CAP 64
#define COLD_BATCH 16

/* The model: model[0] is the cold end, model[n - 1] the top. */
static struct frame *model[COLD_CAP + 1];
static unsigned model_n;

static void model_resync(void)
{
    struct frame *top_down[COLD_CAP + 1];
    unsigned n = 0;
    for (struct frame *f = mm_pcp[0].head; f && n <= COLD_CAP; f = f->next)
        top_down[n++] = f;
    for (unsigned i = 0; i < n; i++)
        model[i] = top_down[n - 1 - i];
    model_n = n;
}

/* The list, top first, equals the model read backwards. */
static bool model_matches(unsigned step)
{
    unsigned i = model_n;
    struct frame *f = mm_pcp[0].head;
    for (; f && i > 0; f = f->next)
        if (f != model[--i]) {
            CHECKF(false, "step %u: list position %u holds pa %#llx, model pa %#llx", step,
                   model_n - 1 - i, (unsigned long long)frame_pa(f),
                   (unsigned long long)frame_pa(model[i]));
            return false;
        }
    CHECKF(f == NULL && i == 0 && mm_pcp[0].count == model_n,
           "step %u: list of %u frames, model %u", step, mm_pcp[0].count, model_n);
    return f == NULL && i == 0;
}

static void pcp_drain_takes_the_cold_end(void)
{
    if (!mt_init_pcp(COLD_CAP, COLD_BATCH))
        return;
    /* Frames freed 0..63 in order: 0 is the coldest. */
    static struct frame *held[COLD_CAP + COLD_BATCH];
    for (unsigned i = 0; i < COLD_CAP + 1; i++)
        held[i] = frame_alloc(FRAME_UNIQUE);
    mm_pcp_drain_local();
    for (unsigned i = 0; i < COLD_CAP; i++)
        frame_free(held[i]);
    CHECK_EQ_U(mm_pcp[0].count, COLD_CAP);
    frame_free(held[COLD_CAP]); /* overflow: one batch drains */
    for (unsigned i = 0; i < COLD_BATCH; i++)
        CHECKF(!(frame_flags_get(held[i]) & FRAME_F_CACHED),
               "frame %u (freed %u-th, among the coldest) still cached", i, i);
    for (unsigned i = COLD_BATCH; i <= COLD_CAP; i++)
        CHECKF(frame_flags_get(held[i]) & FRAME_F_CACHED, "frame %u (hot) was drained", i);
    CHECK(frame_alloc(0) == held[COLD_CAP]); /* the top is still the hottest */
    mt_check();
}

static void pcp_drain_cold_end_against_a_model(void)
{
    if (!mt_init_pcp(COLD_CAP, COLD_BATCH))
        return;
    static struct frame *held[4 * COLD_CAP];
    unsigned nheld = 0;
    uint64_t rng = 12345, drains_seen = 0, removals = 0;
    model_n = 0;
    for (unsigned step = 0; step < 40000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(rng >> 33);
        uint64_t hits = mm_pcp[0].hits, drains = mm_pcp[0].drains;
        if (r % 256 == 0 && model_n > 2) {
            /* Claim a frame from the middle of the cache (rarely: it drops
             * the cold-end marks, whose reuse this test is also about). */
            unsigned k = 1 + r / 256 % (model_n - 2);
            struct frame *g;
            CHECK_EQ_U(frame_from_unused(frame_pa(model[k]), true, &g), FRAME_OK);
            for (unsigned i = k; i + 1 < model_n; i++)
                model[i] = model[i + 1];
            model_n--;
            held[nheld++] = g;
            removals++;
        } else if ((r % 16 < (step / 400 % 2 ? 12u : 4u) && nheld < 4 * COLD_CAP) ||
                   nheld == 0) { /* phases of mostly allocations, mostly frees */
            struct frame *f = frame_alloc(FRAME_UNIQUE);
            CHECK(f != NULL);
            held[nheld++] = f;
            if (mm_pcp[0].hits == hits + 1)
                CHECK(model_n > 0 && f == model[--model_n]);
            else
                model_resync(); /* a refill: the list is new */
        } else {
            unsigned k = r / 16 % nheld;
            struct frame *f = held[k];
            held[k] = held[--nheld];
            frame_free(f);
            if (mm_pcp[0].drains != drains) { /* the coldest batch left */
                for (unsigned i = 0; i + COLD_BATCH < model_n; i++)
                    model[i] = model[i + COLD_BATCH];
                model_n -= COLD_BATCH;
                drains_seen++;
            }
            model[model_n++] = f;
        }
        if (!model_matches(step))
            break;
    }
    CHECKF(drains_seen > 100 && removals > 50, "%llu drains, %llu removals",
           (unsigned long long)drains_seen, (unsigned long long)removals);
    for (unsigned i = 0; i < nheld; i++)
        frame_free(held[i]);
    mt_check();
}

void mm_tests_pcp_cold(void)
{
    RUN(pcp_drain_takes_the_cold_end);
    RUN(pcp_drain_cold_end_against_a_model);
}
