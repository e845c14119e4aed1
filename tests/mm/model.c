/*
 * model.c - reference-model test: the allocator against a model that only
 * knows which frames are free and which allocation holds which frame.
 *
 * Memory lives in two windows of the host's fake physical memory, [0, 64 MiB)
 * and [4 GiB, 4 GiB + 32 MiB), so any input touches a bounded set of pages.
 * The model predicts exactly:
 *   - mm_init: the arenas (runs of whole usable frames, trimmed to their
 *     first and last free frame) and where the bump allocator puts each
 *     metadata array (the end of the largest free run);
 *   - frame_alloc fails iff no frame is free (one CPU: every cached frame is
 *     this CPU's);
 *   - order-k and contiguous requests succeed whenever a fully free window
 *     of the covering block's size and alignment exists (the buddy lists are
 *     fully coalesced, and a failure drains this CPU's cache and retries);
 *     any frame they return was free and is aligned;
 *   - every error code of frame_from_in_use / frame_from_unused;
 *   - refcounts, and the allocator's free/allocated totals after every step.
 * Every 64 steps and at the end: a frame-by-frame comparison and mm_check.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mm/mm.h"
#include "mm/mm_int.h"
#include "tests/mm/model.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define LOW_FRAMES (64 * MIB / PAGE_SIZE)
#define HIGH_BASE ((uint64_t)4 << 30)
#define HIGH_FRAMES (32 * MIB / PAGE_SIZE)
#define NFRAMES (LOW_FRAMES + HIGH_FRAMES)
#define MAX_ITEMS 256
#define MAX_STEPS 3000
#define FREE 0u
#define NOT_MANAGED UINT32_MAX /* reserved, metadata, or not RAM */

enum kind { SINGLE, UNIT, CONTIG };

struct item {
    bool used;
    enum kind kind;
    unsigned order;
    uint64_t pa, n;
    bool unique;
    uint64_t refs; /* shared count when !unique */
    struct frame *f;
};

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint32_t state[NFRAMES]; /* FREE, NOT_MANAGED or item index + 1 */
static uint64_t spans[8][2];     /* the model's arenas, frame index ranges */
static unsigned n_spans;
static bool usable[NFRAMES], in_span[NFRAMES];
static struct item items[MAX_ITEMS];
static uint64_t free_count, allocated_count;
static char *errbuf;
static size_t errlen;

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static unsigned rd8(struct reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static unsigned rd16(struct reader *r)
{
    unsigned lo = rd8(r);
    return lo | rd8(r) << 8;
}

static uint64_t pieces_total(const uint64_t *pieces, unsigned n)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < n; i++)
        t += pieces[i];
    return t;
}

static uint64_t pa_of(uint64_t i)
{
    return i < LOW_FRAMES ? i * PAGE_SIZE : HIGH_BASE + (i - LOW_FRAMES) * PAGE_SIZE;
}

static int64_t idx_of(uint64_t pa)
{
    if (pa < LOW_FRAMES * PAGE_SIZE)
        return (int64_t)(pa / PAGE_SIZE);
    if (pa >= HIGH_BASE && pa < HIGH_BASE + HIGH_FRAMES * PAGE_SIZE)
        return (int64_t)(LOW_FRAMES + (pa - HIGH_BASE) / PAGE_SIZE);
    return -1;
}

/* Runs of frames with a property: [lo, hi) index pairs, never crossing windows. */
static unsigned runs(const bool *in, uint64_t (*out)[2], unsigned max)
{
    unsigned n = 0;
    for (uint64_t i = 0; i < NFRAMES;) {
        if (!in[i]) {
            i++;
            continue;
        }
        uint64_t j = i;
        while (j < NFRAMES && in[j] && (j != LOW_FRAMES || j == i))
            j++;
        if (n < max)
            out[n][0] = i, out[n][1] = j;
        n++;
        i = j;
    }
    return n;
}

static struct phys_range window_range(struct reader *r, bool big)
{
    bool high = !big && (rd8(r) & 1);
    uint64_t w = high ? HIGH_FRAMES : LOW_FRAMES;
    uint64_t start = big ? rd16(r) % (w / 2) : rd16(r) % w;
    uint64_t room = w - start;
    uint64_t len = big ? 512 + rd16(r) % (room - 512) : 1 + rd16(r) % (rd8(r) & 1 ? room : 64);
    if (len > room)
        len = room;
    uint64_t base = pa_of(start + (high ? LOW_FRAMES : 0));
    uint64_t end = base + len * PAGE_SIZE;
    /* Unaligned edges: the allocator rounds usable in, reserved out. */
    unsigned edge = rd8(r);
    if (edge & 1)
        base += rd8(r) * 16;
    if ((edge & 2) && end - base > PAGE_SIZE)
        end -= rd8(r) * 16;
    return (struct phys_range){base, end};
}

/* The model's rule for a chosen cache geometry (mm/pcp.c: geometry): refused
 * when the caches of its 2 CPUs could hold more than a quarter of memory. */
static bool geometry_fits(const struct pcp_config *c, uint64_t managed)
{
    return !c->enabled || mm_pcp_bound_frames(c->capacity) * 2 <= managed / MM_PCP_STRAND_LIMIT;
}

static int setup(struct reader *r)
{
    struct phys_range u[4], res[3];
    unsigned nu = 1 + rd8(r) % 4, nr = rd8(r) % 4;
    for (unsigned i = 0; i < nu; i++)
        u[i] = window_range(r, i == 0);
    if (nr > 3)
        nr = 3;
    for (unsigned i = 0; i < nr; i++)
        res[i] = window_range(r, false);
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = 2;
    unsigned pc = rd8(r);
    cfg.pcp.enabled = pc % 4 != 0;
    cfg.pcp.capacity = 1 + rd8(r) % 64;
    cfg.pcp.batch = 1 + rd8(r) % cfg.pcp.capacity;

    /* The model's view of the map. */
    memset(items, 0, sizeof items);
    static bool free_frame[NFRAMES];
    free_count = allocated_count = 0;
    for (uint64_t i = 0; i < NFRAMES; i++) {
        uint64_t pa = pa_of(i);
        usable[i] = false;
        for (unsigned k = 0; k < nu; k++)
            usable[i] |= pa >= u[k].base && pa + PAGE_SIZE <= u[k].end;
        bool reserved = false;
        for (unsigned k = 0; k < nr; k++)
            reserved |= pa < res[k].end && pa + PAGE_SIZE > res[k].base;
        free_frame[i] = usable[i] && !reserved;
        in_span[i] = false;
        state[i] = NOT_MANAGED;
    }
    static uint64_t urun[NFRAMES / 2][2], frun[NFRAMES / 2][2], span[8][2];
    unsigned n_urun = runs(usable, urun, NFRAMES / 2);
    unsigned n_frun = runs(free_frame, frun, NFRAMES / 2);
    unsigned n_span = 0;
    for (unsigned k = 0; k < n_urun; k++) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint64_t i = urun[k][0]; i < urun[k][1]; i++)
            if (free_frame[i]) {
                lo = lo < i ? lo : i;
                hi = i + 1;
            }
        if (lo < hi && n_span < 8) {
            span[n_span][0] = lo, span[n_span][1] = hi, n_span++;
            for (uint64_t i = lo; i < hi; i++)
                in_span[i] = true;
        }
    }
    /* The bump allocator: each span's piece of the metadata window (its
     * window pages of 64 slots, less one it shares with the span below),
     * then the map of backed window pages (a byte each), each at the end of the largest
     * free run. */
    uint64_t meta_pred[9][2], pieces[9], window_end = 0;
    for (unsigned s = 0; s < n_span; s++) {
        uint64_t b = (pa_of(span[s][0]) >> PAGE_SHIFT) / 64;
        uint64_t e = ((pa_of(span[s][1] - 1) >> PAGE_SHIFT) + 1 + 63) / 64;
        pieces[s] = e - (b > window_end ? b : window_end);
        window_end = e;
    }
    pieces[n_span] = (window_end + PAGE_SIZE - 1) / PAGE_SIZE;
    bool fits = n_span > 0;
    for (unsigned s = 0; s <= n_span && fits; s++) {
        uint64_t pages = pieces[s];
        meta_pred[s][0] = meta_pred[s][1] = 0;
        if (pages == 0)
            continue;
        unsigned best = n_frun;
        for (unsigned k = 0; k < n_frun; k++)
            if (frun[k][1] - frun[k][0] >= pages &&
                (best == n_frun || frun[k][1] - frun[k][0] > frun[best][1] - frun[best][0]))
                best = k;
        if (best == n_frun) {
            fits = false;
            break;
        }
        frun[best][1] -= pages;
        meta_pred[s][0] = frun[best][1], meta_pred[s][1] = frun[best][1] + pages;
    }
    for (unsigned k = 0; fits && k < n_frun; k++)
        for (uint64_t i = frun[k][0]; i < frun[k][1]; i++)
            state[i] = FREE, free_count++;

    char err[256];
    bool ok = mm_init(u, nu, res, nr, &cfg, err, sizeof err);
    /* A chosen geometry whose caches could hold more than a quarter of the
     * managed frames is refused (mm/pcp.c: geometry). */
    bool geometry_ok = geometry_fits(&cfg.pcp, free_count);
    if (ok != (fits && free_count > 0 && geometry_ok))
        return bad("mm_init %s (%s) but the model %s", ok ? "succeeded" : "failed",
                   ok ? "" : err,
                   !(fits && free_count) ? "has no room"
                   : geometry_ok         ? "has room"
                                         : "expects the cache geometry refused");
    if (!ok)
        return 1;
    /* The model has no reserve: it expects every free frame allocatable
     * (test_reserve.c tests the reserve). */
    for (unsigned i = 0; i < mm.n_arenas; i++)
        mm_arenas[i].reserve_frames = 0;
    if (mm.n_arenas != n_span)
        return bad("%u arenas, model %u", mm.n_arenas, n_span);
    for (unsigned s = 0; s < n_span; s++) {
        const struct arena *a = &mm_arenas[s];
        if (a->base_pfn != pa_of(span[s][0]) >> PAGE_SHIFT ||
            a->end_pfn != (pa_of(span[s][1] - 1) >> PAGE_SHIFT) + 1)
            return bad("arena %u [%#llx, %#llx); model [%#llx, %#llx)", s,
                       (unsigned long long)(a->base_pfn << PAGE_SHIFT),
                       (unsigned long long)(a->end_pfn << PAGE_SHIFT),
                       (unsigned long long)pa_of(span[s][0]),
                       (unsigned long long)(pa_of(span[s][1] - 1) + PAGE_SIZE));
    }
    /* The metadata is where the model put it: those frames hold it. */
    for (unsigned s = 0; s <= n_span; s++)
        for (uint64_t i = meta_pred[s][0]; i < meta_pred[s][1]; i++)
            if (!(frame_flags_get(mm_frame_of_pfn(pa_of(i) >> PAGE_SHIFT)) & FRAME_F_KERNEL))
                return bad("frame %#llx should hold metadata (piece %u) but is not flagged "
                           "KERNEL", (unsigned long long)pa_of(i), s);
    if (mm.metadata_bytes != 0 && mm.metadata_bytes / PAGE_SIZE !=
        pieces_total(pieces, n_span + 1))
        return bad("metadata %llu KiB, model %llu KiB",
                   (unsigned long long)(mm.metadata_bytes >> 10),
                   (unsigned long long)(pieces_total(pieces, n_span + 1) * 4));
    memcpy(spans, span, sizeof spans);
    n_spans = n_span;
    if (mm.total_frames != free_count)
        return bad("mm_init manages %llu frames, model %llu", (unsigned long long)mm.total_frames,
                   (unsigned long long)free_count);
    return 0;
}

/* A fully free window of `len` frames at an `align`-frame boundary. */
static bool free_window(uint64_t len, uint64_t align)
{
    if (free_count < len)
        return false;
    for (unsigned s = 0; s < n_spans; s++) {
        for (uint64_t i = spans[s][0]; i + len <= spans[s][1];) {
            uint64_t pfn = pa_of(i) >> PAGE_SHIFT;
            if (pfn % align) {
                i += align - pfn % align;
                continue;
            }
            uint64_t k = 0;
            while (k < len && state[i + k] == FREE)
                k++;
            if (k == len)
                return true;
            i += k + 1; /* every window starting at or before the blocker fails */
        }
    }
    return false;
}

static int new_item(enum kind kind, unsigned order, uint64_t pa, uint64_t n, bool unique,
                    struct frame *f)
{
    unsigned id = 0;
    while (id < MAX_ITEMS && items[id].used)
        id++;
    if (id == MAX_ITEMS)
        return bad("model: item table full");
    for (uint64_t k = 0; k < n; k++) {
        int64_t i = idx_of(pa + k * PAGE_SIZE);
        if (i < 0 || state[i] != FREE)
            return bad("frame %#llx of a new %llu-frame allocation at %#llx was not free "
                       "(model state %u)", (unsigned long long)(pa + k * PAGE_SIZE),
                       (unsigned long long)n, (unsigned long long)pa, i < 0 ? 0 : state[i]);
        state[i] = id + 1;
    }
    items[id] = (struct item){true, kind, order, pa, n, unique, 1, f};
    free_count -= n;
    allocated_count += n;
    frame_set_owner(f, 0x1000 + id);
    *(uint64_t *)plat_phys_to_virt(pa) = 0x1000 + id;
    return 0;
}

static int drop_item(unsigned id)
{
    struct item *it = &items[id];
    if (frame_owner(it->f) != 0x1000 + id || *(uint64_t *)plat_phys_to_virt(it->pa) != 0x1000 + id)
        return bad("item at %#llx lost its owner tag", (unsigned long long)it->pa);
    /* Dirty the words check_zero looks at, so that FRAME_ZERO must work. */
    for (uint64_t k = 0; k < it->n; k++) {
        uint64_t *w = plat_phys_to_virt(it->pa + k * PAGE_SIZE);
        w[0] = w[PAGE_SIZE / 8 - 1] = 0x5a5a5a5a5a5a5a5aull;
    }
    for (uint64_t k = 0; k < it->n; k++)
        state[idx_of(it->pa + k * PAGE_SIZE)] = FREE;
    free_count += it->n;
    allocated_count -= it->n;
    it->used = false;
    return 0;
}

static int pick(struct reader *r)
{
    unsigned start = rd8(r);
    for (unsigned k = 0; k < MAX_ITEMS; k++)
        if (items[(start + k) % MAX_ITEMS].used)
            return (int)((start + k) % MAX_ITEMS);
    return -1;
}

static uint64_t expected_refcount(const struct item *it)
{
    return it->unique ? REF_UNIQUE : it->refs;
}

/* The first and last word of every frame (the ones drop_item dirties). */
static int check_zero(uint64_t pa, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        const uint64_t *w = plat_phys_to_virt(pa + k * PAGE_SIZE);
        if (w[0] || w[PAGE_SIZE / 8 - 1])
            return bad("zeroed allocation at %#llx: frame %llu not zero", (unsigned long long)pa,
                       (unsigned long long)k);
    }
    return 0;
}

static int op_release(struct reader *r);

static bool table_full(void)
{
    for (unsigned id = 0; id < MAX_ITEMS; id++)
        if (!items[id].used)
            return false;
    return true;
}

static int op_alloc(struct reader *r)
{
    if (table_full())
        return op_release(r);
    unsigned b = rd8(r);
    unsigned flags = (b & 1 ? FRAME_UNIQUE : 0) | (b & 2 ? FRAME_ZERO : 0);
    struct frame *f = frame_alloc(flags);
    if (!f)
        return free_count ? bad("frame_alloc failed with %llu frames free",
                                (unsigned long long)free_count) : 0;
    if ((flags & FRAME_ZERO) && check_zero(frame_pa(f), 1))
        return -1;
    if (frame_refcount(f) != (flags & FRAME_UNIQUE ? REF_UNIQUE : 1))
        return bad("fresh frame %#llx has refcount %#llx", (unsigned long long)frame_pa(f),
                   (unsigned long long)frame_refcount(f));
    return new_item(SINGLE, 0, frame_pa(f), 1, flags & FRAME_UNIQUE, f);
}

static int op_alloc_order(struct reader *r)
{
    if (table_full())
        return op_release(r);
    unsigned b = rd8(r);
    unsigned order = (b & 0x80) ? rd8(r) % (MM_MAX_ORDER + 1) : rd8(r) % 4;
    unsigned flags = (b & 1 ? FRAME_UNIQUE : 0) | ((b & 2) && order <= 6 ? FRAME_ZERO : 0);
    uint64_t n = (uint64_t)1 << order;
    bool expect = free_window(n, n);
    struct frame *f = frame_alloc_order(order, flags);
    if (!f)
        return expect ? bad("order-%u allocation failed though an aligned free block exists",
                            order) : 0;
    uint64_t pa = frame_pa(f);
    if (pa % (n * PAGE_SIZE) || frame_order(f) != order)
        return bad("order-%u unit at %#llx (order %u)", order, (unsigned long long)pa,
                   frame_order(f));
    if ((flags & FRAME_ZERO) && check_zero(pa, n))
        return -1;
    return new_item(UNIT, order, pa, n, flags & FRAME_UNIQUE, f);
}

static int op_contig(struct reader *r)
{
    if (table_full())
        return op_release(r);
    unsigned b = rd8(r);
    uint64_t n = (b & 0x80) ? 1 + rd16(r) % 3000 : 1 + rd8(r) % 64;
    uint64_t align = (uint64_t)1 << (rd8(r) % 13), pa;
    unsigned flags = (b & 1) && n <= 256 ? FRAME_ZERO : 0; /* zeroing big runs is slow */
    if ((b & 0x7e) == 0x40) {
        enum frame_error e = frame_alloc_contig(b & 1 ? 0 : n, b & 1 ? align : 3, 0, &pa);
        return e == FRAME_ERR_INVALID ? 0 : bad("bad contig arguments gave %s", frame_error_name(e));
    }
    unsigned need = mm_ceil_log2(n) > mm_ilog2(align) ? mm_ceil_log2(n) : mm_ilog2(align);
    bool expect;
    if (need <= MM_MAX_ORDER) {
        expect = free_window((uint64_t)1 << need, (uint64_t)1 << need);
    } else {
        uint64_t blocks = (n + 1023) >> MM_MAX_ORDER;
        expect = free_window(blocks << MM_MAX_ORDER, align > 1024 ? align : 1024);
    }
    enum frame_error e = frame_alloc_contig(n, align, flags, &pa);
    if (e == FRAME_ERR_NOMEM)
        return expect ? bad("contig n=%llu align=%llu failed though a free window exists",
                            (unsigned long long)n, (unsigned long long)align) : 0;
    if (e != FRAME_OK || pa % (align * PAGE_SIZE))
        return bad("contig n=%llu align=%llu: %s at %#llx", (unsigned long long)n,
                   (unsigned long long)align, frame_error_name(e), (unsigned long long)pa);
    if ((flags & FRAME_ZERO) && check_zero(pa, n))
        return -1;
    struct frame *f = arena_frame(&mm_arenas[mm_arena_of_pfn(pa >> PAGE_SHIFT)], pa >> PAGE_SHIFT);
    return new_item(CONTIG, 0, pa, n, true, f);
}

static int op_release(struct reader *r)
{
    int id = pick(r);
    if (id < 0)
        return 0;
    struct item *it = &items[id];
    bool use_free = rd8(r) & 1;
    if (!it->unique && it->refs > 1) {
        frame_drop(it->f);
        it->refs--;
        return 0;
    }
    if (drop_item((unsigned)id))
        return -1;
    if (it->kind == CONTIG)
        frame_free_contig(it->pa, it->n);
    else if (use_free)
        frame_free(it->f);
    else
        frame_drop(it->f);
    return 0;
}

static int op_clone(struct reader *r)
{
    int id = pick(r);
    if (id < 0 || items[id].kind == CONTIG)
        return 0;
    struct item *it = &items[id];
    if (it->unique) {
        frame_unique_to_shared(it->f);
        it->unique = false;
        it->refs = 1;
    } else if (it->refs < 1000) {
        frame_clone(it->f);
        it->refs++;
    }
    return 0;
}

static enum frame_error predict(uint64_t pa, bool in_use, int *id)
{
    *id = -1;
    if (pa % PAGE_SIZE)
        return FRAME_ERR_NOT_ALIGNED;
    int64_t i = idx_of(pa);
    if (i < 0 || !in_span[i])
        return FRAME_ERR_OUT_OF_BOUND;
    if (state[i] == NOT_MANAGED) /* reserved frames are UNIQUE to their owner */
        return in_use ? FRAME_ERR_UNIQUE : FRAME_ERR_IN_USE;
    if (state[i] == FREE)
        return in_use ? FRAME_ERR_UNUSED : FRAME_OK;
    const struct item *it = &items[state[i] - 1];
    *id = (int)(state[i] - 1);
    if (it->kind != CONTIG && pa != it->pa) /* behind the head of an order-k unit */
        return in_use ? FRAME_ERR_UNUSED : FRAME_ERR_IN_USE;
    if (it->unique)
        return FRAME_ERR_UNIQUE;
    return in_use ? FRAME_OK : FRAME_ERR_IN_USE;
}

static uint64_t random_pa(struct reader *r)
{
    unsigned b = rd8(r);
    int id = pick(r);
    switch (b % 8) {
    case 0: return pa_of(rd16(r) % NFRAMES) + 1 + rd8(r) % (PAGE_SIZE - 1);
    case 1: return (b & 8) ? 100 * MIB : HIGH_BASE + 64 * MIB + rd16(r) * PAGE_SIZE;
    case 2:
    case 3: return id < 0 ? 0 : items[id].pa + (rd16(r) % items[id].n) * PAGE_SIZE;
    default: return pa_of(rd16(r) % NFRAMES);
    }
}

static int op_from_in_use(struct reader *r)
{
    uint64_t pa = random_pa(r), retries = 7;
    int id;
    struct frame *f = NULL;
    enum frame_error want = predict(pa, true, &id);
    enum frame_error got = frame_from_in_use(pa, &f, &retries);
    if (got != want || retries != 0)
        return bad("from_in_use(%#llx) = %s (%llu retries), model %s", (unsigned long long)pa,
                   frame_error_name(got), (unsigned long long)retries, frame_error_name(want));
    if (got == FRAME_OK) {
        if (f != items[id].f)
            return bad("from_in_use(%#llx) returned another frame", (unsigned long long)pa);
        items[id].refs++;
    }
    return 0;
}

static int op_from_unused(struct reader *r)
{
    if (table_full())
        return op_release(r);
    uint64_t pa = random_pa(r);
    bool unique = rd8(r) & 1;
    int id;
    struct frame *f = NULL;
    enum frame_error want = predict(pa, false, &id);
    enum frame_error got = frame_from_unused(pa, unique, &f);
    if (got != want)
        return bad("from_unused(%#llx) = %s, model %s", (unsigned long long)pa,
                   frame_error_name(got), frame_error_name(want));
    if (got != FRAME_OK)
        return 0;
    if (frame_pa(f) != pa || frame_refcount(f) != (unique ? REF_UNIQUE : 1))
        return bad("from_unused(%#llx) gave %#llx refcount %#llx", (unsigned long long)pa,
                   (unsigned long long)frame_pa(f), (unsigned long long)frame_refcount(f));
    return new_item(SINGLE, 0, pa, 1, unique, f);
}

static int op_cache(struct reader *r)
{
    uint64_t managed = mm.total_frames;
    bool refused = false;
    unsigned b = rd8(r);
    struct pcp_config cfg = {.enabled = (b & 4) != 0, .capacity = 1 + rd8(r) % 64};
    cfg.batch = 1 + rd8(r) % cfg.capacity;
    switch (b % 4) {
    case 0: mm_pcp_drain_local(); break;
    case 1: mm_pcp_drain_all(); break;
    case 2:
        if (mm_pcp_configure(&cfg) != geometry_fits(&cfg, managed))
            return bad("configuration %u/%u %s", cfg.capacity, cfg.batch,
                       geometry_fits(&cfg, managed) ? "rejected" : "accepted past the limit");
        refused = !geometry_fits(&cfg, managed); /* refused: nothing drained */
        break;
    default:
        cfg.batch = cfg.capacity + 1;
        if (mm_pcp_configure(&cfg))
            return bad("batch > capacity accepted");
    }
    struct mm_stats st;
    mm_get_stats(&st);
    if (b % 4 != 0 && b % 4 != 3 && !refused && st.cached_frames)
        return bad("%llu frames still cached after a full drain",
                   (unsigned long long)st.cached_frames);
    return 0;
}

static int compare_totals(void)
{
    struct mm_stats st;
    mm_get_stats(&st);
    if (st.allocated_frames != allocated_count || st.free_frames + st.cached_frames != free_count)
        return bad("allocator: %llu allocated, %llu free + %llu cached; model: %llu allocated, "
                   "%llu free", (unsigned long long)st.allocated_frames,
                   (unsigned long long)st.free_frames, (unsigned long long)st.cached_frames,
                   (unsigned long long)allocated_count, (unsigned long long)free_count);
    for (unsigned id = 0; id < MAX_ITEMS; id++)
        if (items[id].used && frame_refcount(items[id].f) != expected_refcount(&items[id]))
            return bad("allocation at %#llx has refcount %#llx, model %#llx",
                       (unsigned long long)items[id].pa,
                       (unsigned long long)frame_refcount(items[id].f),
                       (unsigned long long)expected_refcount(&items[id]));
    return 0;
}

/* Frame by frame. */
static int compare_all(void)
{
    char err[300];
    if (!mm_check(err, sizeof err))
        return bad("mm_check: %s", err);
    for (uint64_t i = 0; i < NFRAMES; i++) {
        uint64_t pa = pa_of(i);
        int ai = mm_arena_of_pfn(pa >> PAGE_SHIFT);
        if (!in_span[i]) {
            /* Outside: every frame next to a span, a sample of the rest. */
            if (i % 61 && !(i > 0 && in_span[i - 1]) && !(i + 1 < NFRAMES && in_span[i + 1]))
                continue;
            if (ai >= 0)
                return bad("frame %#llx is in arena %d, model: outside", (unsigned long long)pa, ai);
            continue;
        }
        if (ai < 0)
            return bad("frame %#llx is in no arena, model: inside one", (unsigned long long)pa);
        struct frame *f = arena_frame(&mm_arenas[ai], pa >> PAGE_SHIFT);
        uint64_t v = frame_refcount(f);
        uint32_t fl = frame_flags_get(f) & ~FRAME_F_POISONED;
        bool ok;
        if (state[i] == NOT_MANAGED) {
            ok = (fl & FRAME_F_RESERVED) && v == REF_UNIQUE;
        } else if (state[i] == FREE) {
            ok = v == REF_UNUSED && !(fl & (FRAME_F_ALLOCATED | FRAME_F_RESERVED));
        } else {
            const struct item *it = &items[state[i] - 1];
            if (it->kind == CONTIG || pa == it->pa)
                ok = fl == FRAME_F_ALLOCATED && v == expected_refcount(it) &&
                     frame_order(f) == it->order;
            else
                ok = fl == 0 && v == REF_UNUSED;
        }
        if (!ok)
            return bad("frame %#llx: refcount %#llx flags %#x, model state %u",
                       (unsigned long long)pa, (unsigned long long)v, fl, state[i]);
    }
    return 0;
}

int mm_model_run(const uint8_t *data, size_t size, char *err, size_t len)
{
    errbuf = err;
    errlen = len;
    err[0] = '\0';
    host_set_cpu(0);
    struct reader r = {data, size};
    int rc = setup(&r);
    if (rc)
        return rc < 0 ? -1 : 0;
    unsigned step;
    for (step = 0; r.n && step < MAX_STEPS && rc == 0; step++) {
        unsigned op = rd8(&r) % 16;
        switch (op) {
        case 0: case 1: case 2: rc = op_alloc(&r); break;
        case 3: case 4: rc = op_alloc_order(&r); break;
        case 5: case 6: rc = op_contig(&r); break;
        case 7: case 8: case 9: rc = op_release(&r); break;
        case 10: rc = op_clone(&r); break;
        case 11: case 12: rc = op_from_in_use(&r); break;
        case 13: case 14: rc = op_from_unused(&r); break;
        default: rc = op_cache(&r); break;
        }
        if (rc == 0)
            rc = compare_totals();
        if (rc == 0 && step % 64 == 63)
            rc = compare_all();
    }
    if (rc == 0)
        rc = compare_all();
    for (unsigned id = 0; rc == 0 && id < MAX_ITEMS; id++) {
        while (rc == 0 && items[id].used) {
            struct item *it = &items[id];
            if (!it->unique && it->refs > 1) {
                frame_drop(it->f);
                it->refs--;
            } else {
                rc = drop_item(id);
                if (rc == 0 && it->kind == CONTIG)
                    frame_free_contig(it->pa, it->n);
                else if (rc == 0)
                    frame_drop(it->f);
            }
        }
    }
    if (rc == 0) {
        mm_pcp_drain_all();
        rc = compare_all();
    }
    if (rc == 0 && mm.total_frames != free_count)
        rc = bad("after releasing everything: %llu frames free in the model, %llu managed",
                 (unsigned long long)free_count, (unsigned long long)mm.total_frames);
    if (rc) {
        char msg[400];
        snprintf(msg, sizeof msg, "step %u: %s", step, err);
        snprintf(err, len, "%s", msg);
        return -1;
    }
    return 0;
}
