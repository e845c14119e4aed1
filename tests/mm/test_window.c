/*
 * test_window.c - the metadata window (mm/init.c): one slot per PFN at a
 * fixed offset from plat_metadata_base(), backed by the frames mm_init took
 * for it and only where arenas are; holes cost no frames, and every handle
 * check refuses a pointer into a hole, a misaligned one, one past the
 * window and a slot around a span without touching what is not mapped.
 *
 * The host window is PROT_NONE past the last backed page (mt_init resets
 * it), so a check that read there would fault and end the test binary; the
 * holes below it read as zeros and fault on a write.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/mm/mm_test.h"

#define HOLE_LO (32 * MiB)
#define HIGH_BASE (40 * GiB)

/* Frames the map of backed window pages (a byte per page of 64 slots)
 * takes for RAM up to end_pa. */
static uint64_t map_pages(uint64_t end_pa)
{
    uint64_t window_pages = (end_pa / PAGE_SIZE + 63) / 64;
    return (window_pages + PAGE_SIZE - 1) / PAGE_SIZE;
}

/* [16 MiB, 32 MiB) and [40 GiB, 40 GiB + 16 MiB): a 40 GiB hole between. */
static bool init_with_hole(void)
{
    struct phys_range u[] = {{16 * MiB, HOLE_LO}, {HIGH_BASE, HIGH_BASE + 16 * MiB}};
    return mt_init(u, 2, NULL, 0);
}

static void window_holes_cost_nothing(void)
{
    if (!init_with_hole())
        return;
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.arenas, 2);
    /* 16 MiB = 4096 frames = 64 window pages per span; the 40 GiB between
     * them would be 160 MiB of slots in a dense array. */
    uint64_t pages = 64 + 64 + map_pages(HIGH_BASE + 16 * MiB);
    CHECK_EQ_U(st.metadata_bytes, pages * PAGE_SIZE);
    CHECK_EQ_U(st.total_frames, 2 * 4096 - pages);
    /* The slot of pfn is base + 64 * pfn, and frame_pa inverts it. */
    struct frame *f = frame_alloc(0);
    CHECK((uintptr_t)f == plat_metadata_base() + (frame_pa(f) >> PAGE_SHIFT) * 64);
    CHECK(f == mm_frame_of_pfn(frame_pa(f) >> PAGE_SHIFT));
    frame_drop(f);
    mt_check();
}

/* The slots are the frames flagged KERNEL, not a copy: a write through the
 * window shows in "physical memory" at the piece the bump allocator took. */
static void window_slots_live_in_the_kernel_frames(void)
{
    if (!mt_init1(16 * MiB, 64 * MiB))
        return;
    /* The piece (window pages 64..319) was taken first, from the end. */
    uint64_t piece_pa = 80 * MiB - 256 * PAGE_SIZE, first_pfn = 16 * MiB / PAGE_SIZE;
    struct frame *f = frame_alloc(FRAME_UNIQUE);
    uint64_t pfn = frame_pa(f) >> PAGE_SHIFT;
    frame_set_owner(f, 0x5157ab1e);
    const struct frame *alias = plat_phys_to_virt(piece_pa + (pfn - first_pfn) * 64);
    CHECK_EQ_U(alias->owner, 0x5157ab1e);
    CHECK_EQ_U(alias->pfn, pfn);
    for (uint64_t pa = piece_pa; pa < 80 * MiB; pa += PAGE_SIZE)
        CHECKF(frame_flags_get(mm_frame_of_pfn(pa >> PAGE_SHIFT)) & FRAME_F_KERNEL,
               "metadata frame %#llx not flagged KERNEL", (unsigned long long)pa);
    frame_free(f);
    mt_check();
}

/* Every entry point that takes a handle refuses f with a panic naming `what`. */
static void expect_refused(struct frame *f, const char *what)
{
    EXPECT_PANIC(frame_free(f), what);
    EXPECT_PANIC(frame_drop(f), what);
    EXPECT_PANIC(frame_clone(f), what);
    EXPECT_PANIC(frame_unique_to_shared(f), what);
}

/* Exit status of a child that wrote to a hole slot and took the fault. */
#define HOLE_WRITE_FAULTED 42

static void hole_write_fault(int sig)
{
    (void)sig;
    _exit(HOLE_WRITE_FAULTED);
}

/* Writes to the slot h in a child process: true when the write faulted.
 * The child's own SIGSEGV handler turns the fault into an exit status
 * (ASan's would report it as an error of the test). */
static bool hole_write_faults(struct frame *h)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = hole_write_fault};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        frame_set_owner(h, 1);
        _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == HOLE_WRITE_FAULTED;
}

/* The hit paths' handle check lets any slot of the window's extent through
 * and reads it: the holes below the last backed page (before the first span
 * and between the spans) read as zeros - refcount 0, which every operation
 * refuses - and cannot be written; the whole check refuses them. */
static void window_holes_read_as_zeros(void)
{
    if (!init_with_hole())
        return;
    static const struct frame zero;
    uint64_t holes[] = {0, 63, HOLE_LO / PAGE_SIZE, GiB / PAGE_SIZE, HIGH_BASE / PAGE_SIZE - 1};
    for (unsigned i = 0; i < sizeof holes / sizeof holes[0]; i++) {
        struct frame *h = mm_frame_of_pfn(holes[i]);
        CHECKF(mm_is_window_slot(h) && !mm_is_frame_ptr(h) && mm_arena_of_pfn(holes[i]) == -1,
               "pfn %#llx: a hole", (unsigned long long)holes[i]);
        CHECKF(memcmp(h, &zero, sizeof zero) == 0, "pfn %#llx: hole slot not all zeros",
               (unsigned long long)holes[i]);
        CHECKF(hole_write_faults(h), "pfn %#llx: a write to a hole slot did not fault",
               (unsigned long long)holes[i]);
    }
    /* Past the last backed page the window is not the extent's. */
    CHECK(!mm_is_window_slot(mm_frame_of_pfn(mm.window_frames)));
    mt_check();
}

static void window_refuses_what_is_not_a_frame(void)
{
    if (!init_with_hole())
        return;
    const char *foreign = "not a frame owned by the allocator";
    /* The holes' slots: they read as zeros (refcount 0, busy), and a write
     * would fault. */
    expect_refused(mm_frame_of_pfn(0), foreign);
    expect_refused(mm_frame_of_pfn(HOLE_LO / PAGE_SIZE + 64), foreign);
    expect_refused(mm_frame_of_pfn(GiB / PAGE_SIZE), foreign);
    expect_refused(mm_frame_of_pfn(HIGH_BASE / PAGE_SIZE - 1), foreign);
    /* Past the last backed page, below the window, misaligned, NULL. */
    expect_refused(mm_frame_of_pfn(mm.window_frames), foreign);
    expect_refused(mm_frame_of_pfn((HIGH_BASE + 16 * MiB) / PAGE_SIZE), foreign);
    expect_refused((struct frame *)(plat_metadata_base() - 64), foreign);
    expect_refused(NULL, foreign);
    struct frame *f = frame_alloc(FRAME_UNIQUE);
    expect_refused((struct frame *)((char *)f + 8), foreign);
    expect_refused((struct frame *)((char *)f + 63), foreign);
    frame_free(f);
    /* Lookups by address: the hole is out of bounds. */
    struct frame *g;
    uint64_t r;
    CHECK_EQ_U(frame_from_in_use(HOLE_LO + 5 * PAGE_SIZE, &g, &r), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_unused(20 * GiB, false, &g), FRAME_ERR_OUT_OF_BOUND);
    CHECK_EQ_U(frame_from_unused(60 * GiB, false, &g), FRAME_ERR_OUT_OF_BOUND);
    mt_check();
}

/* A span that starts and ends inside a window page: the page is backed, and
 * the slots around the span in it are the allocator's to refuse. */
static void window_refuses_slots_around_a_span(void)
{
    struct phys_range u = {16 * MiB + 5 * PAGE_SIZE, 24 * MiB - 7 * PAGE_SIZE};
    if (!mt_init(&u, 1, NULL, 0))
        return;
    uint64_t below = 16 * MiB / PAGE_SIZE + 4, above = (24 * MiB - 7 * PAGE_SIZE) / PAGE_SIZE;
    CHECK(mm_is_frame_ptr(mm_frame_of_pfn(below)));
    CHECK(mm_is_frame_ptr(mm_frame_of_pfn(above)));
    CHECK(mm_arena_of_pfn(below) == -1);
    CHECK(mm_arena_of_pfn(above) == -1);
    CHECK(mm_arena_of_pfn(below + 1) == 0);
    for (uint64_t pfn = below; pfn <= above; pfn += above - below) {
        struct frame *f = mm_frame_of_pfn(pfn);
        EXPECT_PANIC(frame_free(f), "reserved frame the allocator does not own");
        EXPECT_PANIC(frame_drop(f), "reserved frame the allocator does not own");
        EXPECT_PANIC(frame_clone(f), "reserved frame the allocator does not own");
        EXPECT_PANIC(frame_unique_to_shared(f), "did not hand out");
        struct frame *g;
        uint64_t r;
        CHECK_EQ_U(frame_from_in_use(pfn << PAGE_SHIFT, &g, &r), FRAME_ERR_OUT_OF_BOUND);
        CHECK_EQ_U(frame_from_unused(pfn << PAGE_SHIFT, false, &g), FRAME_ERR_OUT_OF_BOUND);
    }
    mt_check();
}

/* Two spans sharing a window page (a 16 KiB hole inside it): the page is
 * backed once and each slot answers for its own span. */
static void window_shared_page(void)
{
    struct phys_range u[] = {{16 * MiB, 16 * MiB + 20 * PAGE_SIZE},
                             {16 * MiB + 24 * PAGE_SIZE, 32 * MiB}};
    if (!mt_init(u, 2, NULL, 0))
        return;
    struct mm_stats st = mt_stats();
    CHECK_EQ_U(st.arenas, 2);
    CHECK_EQ_U(st.metadata_bytes, (64 + map_pages(32 * MiB)) * PAGE_SIZE);
    uint64_t pfn0 = 16 * MiB / PAGE_SIZE;
    CHECK(mm_arena_of_pfn(pfn0 + 19) == 0);
    CHECK(mm_arena_of_pfn(pfn0 + 20) == -1);
    CHECK(mm_arena_of_pfn(pfn0 + 23) == -1);
    CHECK(mm_arena_of_pfn(pfn0 + 24) == 1);
    struct frame *g;
    CHECK_EQ_U(frame_from_unused((pfn0 + 3) << PAGE_SHIFT, true, &g), FRAME_OK);
    frame_free(g);
    CHECK_EQ_U(frame_from_unused((pfn0 + 21) << PAGE_SHIFT, true, &g), FRAME_ERR_OUT_OF_BOUND);
    mt_check();
}

static void window_bad_input(void)
{
    char err[256];
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = MT_CPUS;
    /* The window ends where the host's physical span does (64 GiB). */
    struct phys_range u[] = {{16 * MiB, 32 * MiB}, {64 * GiB, 64 * GiB + 16 * MiB}};
    host_metadata_reset();
    CHECK(!mm_init(u, 2, NULL, 0, &cfg, err, sizeof err));
    CHECKF(strstr(err, "metadata window") != NULL, "message: %s", err);
    /* A failed init refuses every handle. */
    expect_refused(mm_frame_of_pfn(16 * MiB / PAGE_SIZE), "not a frame owned by the allocator");
    /* The hook itself refuses ranges outside the window or not whole pages. */
    CHECK(!plat_metadata_map(plat_metadata_base() + PLAT_METADATA_BYTES, 0, PAGE_SIZE, NULL,
                             NULL, err, sizeof err));
    CHECK(!plat_metadata_map(plat_metadata_base() + 64, 0, PAGE_SIZE, NULL, NULL, err,
                             sizeof err));
    CHECK(!plat_metadata_map(plat_metadata_base(), 0, PLAT_METADATA_BYTES + PAGE_SIZE, NULL,
                             NULL, err, sizeof err));
    CHECK(!plat_metadata_map_zero(plat_metadata_base() + PLAT_METADATA_BYTES, PAGE_SIZE, NULL,
                                  NULL, err, sizeof err));
    CHECK(!plat_metadata_map_zero(plat_metadata_base() + 64, PAGE_SIZE, NULL, NULL, err,
                                  sizeof err));
    CHECK(!plat_metadata_map_zero(plat_metadata_base(), PLAT_METADATA_BYTES + PAGE_SIZE, NULL,
                                  NULL, err, sizeof err));
    CHECKF(strstr(err, "plat_metadata_map_zero") != NULL, "message: %s", err);
    CHECK(mt_init1(16 * MiB, 16 * MiB));
    mt_check();
}

void mm_tests_window(void)
{
    RUN(window_holes_cost_nothing);
    RUN(window_slots_live_in_the_kernel_frames);
    RUN(window_holes_read_as_zeros);
    RUN(window_refuses_what_is_not_a_frame);
    RUN(window_refuses_slots_around_a_span);
    RUN(window_shared_page);
    RUN(window_bad_input);
}
