/*
 * test_init.c - mm_init: arenas from the memory map, reserved ranges,
 * metadata placement, holes, RAM above 4 GiB, bad input.
 */
#include "tests/mm/mm_test.h"

/* Frames the metadata of the one span [base, end) takes (mm/init.c): its
 * window pages of 64 slots, whole, and the map of backed window pages (a
 * byte each). */
static uint64_t meta_pages_of(uint64_t base, uint64_t end)
{
    uint64_t b = base / PAGE_SIZE / 64, e = (end / PAGE_SIZE + 63) / 64;
    return e - b + (e + PAGE_SIZE - 1) / PAGE_SIZE;
}

/* Counts the frames handed out and checks none lies in [lo, hi). */
static uint64_t alloc_all_avoiding(uint64_t lo, uint64_t hi, uint64_t *min_pa, uint64_t *max_pa)
{
    static struct frame *held[1 << 18];
    uint64_t n = mt_alloc_all(held, sizeof held / sizeof held[0], FRAME_UNIQUE);
    *min_pa = UINT64_MAX;
    *max_pa = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pa = frame_pa(held[i]);
        CHECKF(pa < lo || pa >= hi, "frame %#llx handed out from [%#llx, %#llx)",
               (unsigned long long)pa, (unsigned long long)lo, (unsigned long long)hi);
        if (pa < *min_pa)
            *min_pa = pa;
        if (pa > *max_pa)
            *max_pa = pa;
    }
    for (uint64_t i = 0; i < n; i++)
        frame_free(held[i]);
    return n;
}

static void init_single_arena(void)
{
    if (!mt_init1(16 * MiB, 64 * MiB))
        return;
    struct mm_stats st = mt_stats();
    uint64_t frames = 64 * MiB / PAGE_SIZE;
    CHECK_EQ_U(st.arenas, 1);
    uint64_t meta = meta_pages_of(16 * MiB, 80 * MiB);
    CHECK_EQ_U(st.metadata_bytes, meta * PAGE_SIZE);
    CHECK_EQ_U(st.total_frames, frames - meta);
    CHECK_EQ_U(st.free_frames, st.total_frames);
    CHECK_EQ_U(st.cached_frames + st.allocated_frames, 0);
    mt_check();
    uint64_t lo, hi;
    /* The metadata sits at the end of the (only) range and is never handed out. */
    uint64_t meta_lo = 80 * MiB - meta * PAGE_SIZE;
    CHECK_EQ_U(alloc_all_avoiding(meta_lo, 80 * MiB, &lo, &hi), st.total_frames);
    CHECK_EQ_U(lo, 16 * MiB);
    CHECK_EQ_U(hi, meta_lo - PAGE_SIZE);
    struct frame *f;
    CHECK_EQ_U(frame_from_unused(meta_lo, false, &f), FRAME_ERR_IN_USE);
    CHECK(frame_flags_get(arena_frame(&mm_arenas[0], meta_lo >> PAGE_SHIFT)) & FRAME_F_KERNEL);
    mm_pcp_drain_all();
    mt_check();
    /* The state dump walks everything; it must not disturb anything. */
    f = frame_alloc(0);
    struct mm_stats before = mt_stats();
    mm_dump();
    struct mm_stats after = mt_stats();
    CHECK(memcmp(&before, &after, sizeof before) == 0);
    frame_drop(f);
    mt_check();
}

static void init_merges_adjacent_and_overlapping(void)
{
    struct phys_range u[] = {{40 * MiB, 50 * MiB}, {16 * MiB, 32 * MiB}, {32 * MiB, 44 * MiB}};
    if (!mt_init(u, 3, NULL, 0))
        return;
    struct mm_stats st = mt_stats();
    uint64_t frames = 34 * MiB / PAGE_SIZE;
    CHECK_EQ_U(st.arenas, 1);
    CHECK_EQ_U(st.total_frames, frames - meta_pages_of(16 * MiB, 50 * MiB));
    mt_check();
}

/* A PC-like map: low memory, a 3-4 GiB PCI hole, RAM above 4 GiB. */
static void init_holes_and_high_ram(void)
{
    struct phys_range u[] = {
        {0x1000, 0x9fc00},           /* below 640 KiB, last frame partial */
        {1 * MiB, 512 * MiB},
        {4 * GiB, 4 * GiB + 256 * MiB},
    };
    if (!mt_init(u, 3, NULL, 0))
        return;
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.arenas, 3);
    uint64_t span_frames = (0x9f000 - 0x1000) / PAGE_SIZE + 511 * MiB / PAGE_SIZE + 256 * MiB / PAGE_SIZE;
    /* The holes cost no slots: only the spans' are paid for (in whole
     * window pages), and the map of backed window pages, a byte for each
     * 256 KiB of physical addresses up to the last frame. */
    uint64_t map_pages = ((4 * GiB + 256 * MiB) / PAGE_SIZE / 64 + PAGE_SIZE - 1) / PAGE_SIZE;
    CHECK(st.metadata_bytes <= (span_frames * 64) + (3 + map_pages) * PAGE_SIZE);
    CHECK_EQ_U(st.total_frames, span_frames - st.metadata_bytes / PAGE_SIZE);
    struct frame *f;
    uint64_t r;
    CHECK_EQ_U(frame_from_in_use(3 * GiB, &f, &r), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_in_use(0x9f000, &f, &r), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_in_use(0, &f, &r), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_in_use(0x1000, &f, &r), FRAME_ERR_UNUSED);
    /* Highest arena first: the first frames come from above 4 GiB. */
    f = frame_alloc(0);
    CHECK(f && frame_pa(f) >= 4 * GiB);
    /* Its memory is really there and writable through frame_va. */
    memset(frame_va(f), 0xa5, PAGE_SIZE);
    frame_drop(f);
    uint64_t lo, hi;
    CHECK_EQ_U(alloc_all_avoiding(512 * MiB, 4 * GiB, &lo, &hi), st.total_frames);
    CHECK_EQ_U(lo, 0x1000);
    CHECK(hi >= 4 * GiB);
    mm_pcp_drain_all();
    mt_check();
    /* A 4 MiB unit above 4 GiB and one in the middle arena. */
    struct frame *big = frame_alloc_order(MM_MAX_ORDER, 0);
    CHECK(big && frame_pa(big) >= 4 * GiB && frame_pa(big) % (4 * MiB) == 0);
    frame_free(big);
    mt_check();
}

static void init_top_of_host_memory(void)
{
    /* The host's fake physical memory ends at 64 GiB. */
    if (!mt_init1(64 * GiB - 128 * MiB, 128 * MiB))
        return;
    struct frame *f = frame_alloc_order(9, FRAME_ZERO);
    CHECK(f && frame_pa(f) >= 63 * GiB);
    uint64_t pa;
    CHECK_EQ_U(frame_alloc_contig(3000, 1, FRAME_ZERO, &pa), FRAME_OK);
    CHECK(pa >= 63 * GiB && pa + 3000 * PAGE_SIZE <= 64 * GiB);
    frame_free_contig(pa, 3000);
    frame_free(f);
    mt_check();
}

static void init_reserved_ranges_excluded(void)
{
    struct phys_range u[] = {{0, 640 * KiB}, {1 * MiB, 128 * MiB}};
    struct phys_range r[] = {
        {0x8000, 0x9000},             /* AP trampoline page */
        {1 * MiB, 3 * MiB + 100},     /* kernel image, unaligned end: grown outward */
        {10 * MiB + 5, 10 * MiB + 6}, /* Multiboot2 info: one byte reserves its frame */
        {20 * MiB, 28 * MiB},         /* a module */
        {200 * MiB, 300 * MiB},       /* outside usable memory: ignored */
    };
    if (!mt_init(u, 2, r, 5))
        return;
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.arenas, 2);
    uint64_t usable = (640 * KiB + 127 * MiB) / PAGE_SIZE;
    uint64_t reserved = 1 + (2 * MiB + PAGE_SIZE) / PAGE_SIZE + 1 + 8 * MiB / PAGE_SIZE;
    CHECK_EQ_U(st.total_frames, usable - reserved - st.metadata_bytes / PAGE_SIZE);
    static struct frame *held[1 << 16];
    uint64_t n = mt_alloc_all(held, 1 << 16, 0);
    CHECK_EQ_U(n, st.total_frames);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pa = frame_pa(held[i]);
        for (unsigned k = 0; k < 4; k++) {
            uint64_t lo = r[k].base & ~(PAGE_SIZE - 1);
            uint64_t hi = (r[k].end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
            CHECKF(pa < lo || pa >= hi, "frame %#llx inside reserved range %u",
                   (unsigned long long)pa, k);
        }
    }
    for (uint64_t i = 0; i < n; i++)
        frame_drop(held[i]);
    struct frame *f;
    CHECK_EQ_U(frame_from_unused(0x8000, false, &f), FRAME_ERR_IN_USE);
    /* Grown outward to 3 MiB + 4 KiB, which is the arena's first frame: the
     * reserved frames below it lie outside every span. */
    CHECK_EQ_U(frame_from_unused(3 * MiB, false, &f), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_unused(3 * MiB + PAGE_SIZE, false, &f), FRAME_OK);
    frame_drop(f);
    CHECK_EQ_U(frame_from_unused(10 * MiB, false, &f), FRAME_ERR_IN_USE);
    CHECK_EQ_U(frame_from_unused(10 * MiB + PAGE_SIZE, true, &f), FRAME_OK);
    frame_free(f);
    mm_pcp_drain_all();
    mt_check();
}

static void init_unaligned_edges(void)
{
    /* Usable edges shrink inward; the arena starts at an odd pfn, so the
     * first blocks are small and no block crosses either edge. */
    struct phys_range u = {0x1234567, 0x1234567 + 9 * MiB + 77};
    if (!mt_init(&u, 1, NULL, 0))
        return;
    struct mm_stats st = mt_stats();
    uint64_t first = (0x1234567 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t end = (0x1234567 + 9 * MiB + 77) & ~(PAGE_SIZE - 1);
    uint64_t frames = (end - first) / PAGE_SIZE;
    CHECK_EQ_U(st.total_frames, frames - meta_pages_of(first, end));
    CHECK(st.free_blocks[0] >= 1); /* pfn 0x1235 is odd: an order-0 edge block */
    mt_check();
    uint64_t lo, hi;
    CHECK_EQ_U(alloc_all_avoiding(0, first, &lo, &hi), st.total_frames);
    CHECK_EQ_U(lo, first);
    mm_pcp_drain_all();
    /* Everything freed: the lists are back to the initial decomposition. */
    struct mm_stats again = mt_stats();
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        CHECK_EQ_U(again.free_blocks[o], st.free_blocks[o]);
    mt_check();
}

static void init_many_regions_join_spans(void)
{
    struct phys_range u[40];
    for (unsigned i = 0; i < 40; i++)
        u[i] = (struct phys_range){i * 8 * MiB, i * 8 * MiB + 2 * MiB};
    u[0].base = PAGE_SIZE;
    if (!mt_init(u, 40, NULL, 0))
        return;
    struct mm_stats st = mt_stats();
    CHECK(st.arenas <= MM_MAX_ARENAS);
    CHECK_EQ_U(st.total_frames, (40 * 2 * MiB - PAGE_SIZE) / PAGE_SIZE - st.metadata_bytes / PAGE_SIZE);
    struct frame *f;
    uint64_t r;
    /* Gap frames inside a joined span are not memory. */
    unsigned absent = 0;
    for (unsigned i = 0; i + 1 < 40; i++)
        absent += frame_from_in_use(i * 8 * MiB + 4 * MiB, &f, &r) == FRAME_ERR_OUT_OF_BOUND;
    CHECK_EQ_U(absent, 39);
    CHECK_EQ_U(frame_from_unused(5 * MiB, false, &f), FRAME_ERR_OUT_OF_BOUND);
    uint64_t lo, hi;
    CHECK_EQ_U(alloc_all_avoiding(0, 0, &lo, &hi), st.total_frames);
    mm_pcp_drain_all();
    mt_check();
}

static void init_rejects_bad_input(void)
{
    char err[256];
    struct mm_config cfg;
    mm_default_config(&cfg);
    struct phys_range ok = {16 * MiB, 32 * MiB};
    struct phys_range inverted = {32 * MiB, 16 * MiB};
    struct phys_range tiny = {16 * MiB + 1, 16 * MiB + 4095};
    struct phys_range huge = {0, (uint64_t)1 << 60};

    CHECK(!mm_init(&inverted, 1, NULL, 0, &cfg, err, sizeof err));
    CHECKF(strstr(err, "ends before it starts"), "%s", err);
    CHECK(!mm_init(&tiny, 1, NULL, 0, &cfg, err, sizeof err));
    CHECKF(strstr(err, "no usable memory"), "%s", err);
    CHECK(!mm_init(NULL, 0, NULL, 0, &cfg, err, sizeof err));
    CHECK(!mm_init(&ok, 1, &ok, 1, &cfg, err, sizeof err));
    CHECKF(strstr(err, "no usable memory"), "%s", err);
    CHECK(!mm_init(&huge, 1, NULL, 0, &cfg, err, sizeof err));
    CHECKF(strstr(err, "52-bit"), "%s", err);
    CHECK(!mm_init(&ok, 1, &inverted, 1, &cfg, err, sizeof err));
    CHECKF(strstr(err, "reserved range 0"), "%s", err);
    static struct phys_range many[200];
    for (unsigned i = 0; i < 200; i++)
        many[i] = (struct phys_range){i * MiB, i * MiB + PAGE_SIZE};
    CHECK(!mm_init(many, 200, NULL, 0, &cfg, err, sizeof err));
    CHECKF(strstr(err, "at most"), "%s", err);

    struct mm_config bad = cfg;
    bad.pcp.capacity = 64;
    bad.pcp.batch = 65;
    CHECK(!mm_init(&ok, 1, NULL, 0, &bad, err, sizeof err));
    CHECKF(strstr(err, "batch"), "%s", err);
    bad = cfg;
    bad.pcp.capacity = 0;
    bad.pcp.batch = 1;
    CHECK(!mm_init(&ok, 1, NULL, 0, &bad, err, sizeof err));
    CHECKF(strstr(err, "capacity"), "%s", err);
    bad = cfg;
    bad.max_cpus = 0;
    CHECK(!mm_init(&ok, 1, NULL, 0, &bad, err, sizeof err));
    CHECKF(strstr(err, "max_cpus"), "%s", err);
    /* A failed init leaves no allocator behind. */
    CHECK(!mm_check(err, sizeof err));
    CHECK(frame_alloc(0) == NULL);
    /* And the next good one works. */
    CHECK(mm_init(&ok, 1, NULL, 0, NULL, err, sizeof err));
    mt_check();
}

static void init_tiny_memory(void)
{
    /* Three frames: one holds the metadata's window page, one the map of
     * backed window pages, one is handed out. */
    struct phys_range u = {1 * MiB, 1 * MiB + 3 * PAGE_SIZE};
    if (!mt_init(&u, 1, NULL, 0))
        return;
    CHECK_EQ_U(mt_stats().total_frames, 1);
    struct frame *f = frame_alloc(0);
    CHECK(f != NULL);
    CHECK(frame_alloc(0) == NULL);
    frame_drop(f);
    mt_check();
}

void mm_tests_init(void)
{
    RUN(init_single_arena);
    RUN(init_merges_adjacent_and_overlapping);
    RUN(init_holes_and_high_ram);
    RUN(init_top_of_host_memory);
    RUN(init_reserved_ranges_excluded);
    RUN(init_unaligned_edges);
    RUN(init_many_regions_join_spans);
    RUN(init_rejects_bad_input);
    RUN(init_tiny_memory);
}
