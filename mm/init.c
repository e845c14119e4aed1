/*
 * init.c - mm_init: arenas from the memory map, the metadata arrays, the
 * initial free lists.
 *
 *   1. usable ranges are shrunk inward to whole frames, sorted and merged
 *      where they touch or overlap; reserved ranges (kernel image, Multiboot2
 *      info, modules, the AP trampoline ...) are grown outward and merged.
 *   2. free = usable minus reserved.  Each merged usable region with free
 *      frames becomes an arena whose span runs from its first to its last
 *      free frame; reserved frames inside a span get a slot flagged RESERVED.
 *      Separate regions are separate arenas, so a hole (the 3-4 GiB PCI
 *      window) costs no metadata; RAM above 4 GiB is just another arena.
 *      Beyond MM_MAX_ARENAS regions, the spans with the smallest gaps are
 *      joined and the gap frames flagged ABSENT.
 *   3. a boot-time bump allocator carves each arena's metadata array (64
 *      bytes per frame of its span, page rounded) from the end of the largest
 *      free range left - high memory first, and never a tiny region it would
 *      swallow; those frames become RESERVED|KERNEL.
 *   4. every slot is written (pfn, arena, state), and each free range is
 *      given to the buddy allocator as maximal aligned blocks.
 * mm_init runs once on one CPU before any other mm call (the host tests call
 * it again between tests, with no allocator call in flight).
 */
#include "mm/mm_int.h"

#define MM_MAX_RANGES 128          /* per list handed to mm_init */
#define MM_PHYS_LIMIT ((uint64_t)1 << 52) /* x86-64 physical address width */

struct mm_state mm;
struct arena mm_arenas[MM_MAX_ARENAS];

/* Boot-time scratch: mm_init runs alone. */
static struct phys_range usable_r[MM_MAX_RANGES], reserved_r[MM_MAX_RANGES];
static struct phys_range free_r[2 * MM_MAX_RANGES];
static struct phys_range span_r[MM_MAX_RANGES];
static struct phys_range meta_r[MM_MAX_ARENAS];

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        plat_vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Copies and page-rounds one list (inward for usable, outward for reserved). */
static bool normalise(const struct phys_range *in, unsigned n, struct phys_range *out, unsigned *n_out,
                      bool inward, const char *what, char *err, size_t errlen)
{
    if (n > MM_MAX_RANGES)
        return fail(err, errlen, "%u %s ranges given, at most %u supported", n, what,
                    MM_MAX_RANGES);
    if (n && in == NULL)
        return fail(err, errlen, "%s range list is NULL", what);
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = in[i].base, e = in[i].end;
        if (e < b)
            return fail(err, errlen, "%s range %u [%#llx, %#llx) ends before it starts", what, i,
                        (unsigned long long)b, (unsigned long long)e);
        if (e > MM_PHYS_LIMIT)
            return fail(err, errlen, "%s range %u [%#llx, %#llx) exceeds the 52-bit physical "
                        "address space", what, i, (unsigned long long)b, (unsigned long long)e);
        if (inward) {
            b = (b + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
            e &= ~(PAGE_SIZE - 1);
        } else {
            b &= ~(PAGE_SIZE - 1);
            e = (e + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        }
        if (b < e)
            out[k++] = (struct phys_range){b, e};
    }
    *n_out = phys_ranges_sort_join(out, k);
    return true;
}

/* free = usable - reserved (both sorted and merged). */
static unsigned subtract(const struct phys_range *u, unsigned nu, const struct phys_range *r,
                         unsigned nr, struct phys_range *out)
{
    unsigned k = 0, j = 0;
    for (unsigned i = 0; i < nu; i++) {
        uint64_t b = u[i].base, e = u[i].end;
        while (j < nr && r[j].end <= b)
            j++;
        for (unsigned t = j; t < nr && r[t].base < e && b < e; t++) {
            if (r[t].base > b)
                out[k++] = (struct phys_range){b, r[t].base};
            if (r[t].end > b)
                b = r[t].end;
        }
        if (b < e)
            out[k++] = (struct phys_range){b, e};
    }
    return k;
}

/* One span per usable region that has free frames: [first free, last free). */
static unsigned make_spans(const struct phys_range *u, unsigned nu, const struct phys_range *f,
                           unsigned nf)
{
    unsigned n = 0, j = 0;
    for (unsigned i = 0; i < nu; i++) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (; j < nf && f[j].base < u[i].end; j++) {
            if (f[j].base < lo)
                lo = f[j].base;
            if (f[j].end > hi)
                hi = f[j].end;
        }
        if (lo < hi)
            span_r[n++] = (struct phys_range){lo, hi};
    }
    while (n > MM_MAX_ARENAS) {
        unsigned best = 0;
        for (unsigned i = 1; i + 1 < n; i++)
            if (span_r[i + 1].base - span_r[i].end < span_r[best + 1].base - span_r[best].end)
                best = i;
        plat_log("mm: more than %u memory regions: joining [%#llx, %#llx) and [%#llx, %#llx)\n",
                 MM_MAX_ARENAS, (unsigned long long)span_r[best].base,
                 (unsigned long long)span_r[best].end, (unsigned long long)span_r[best + 1].base,
                 (unsigned long long)span_r[best + 1].end);
        span_r[best].end = span_r[best + 1].end;
        for (unsigned i = best + 1; i + 1 < n; i++)
            span_r[i] = span_r[i + 1];
        n--;
    }
    return n;
}

/* The bump allocator: the end of the largest free range. */
static bool bump_alloc(uint64_t bytes, unsigned nf, uint64_t *pa)
{
    unsigned best = nf;
    for (unsigned i = 0; i < nf; i++)
        if (free_r[i].end - free_r[i].base >= bytes &&
            (best == nf || free_r[i].end - free_r[i].base > free_r[best].end - free_r[best].base))
            best = i;
    if (best == nf)
        return false;
    free_r[best].end -= bytes;
    *pa = free_r[best].end;
    return true;
}

static void set_flags_in(struct arena *a, const struct phys_range *r, unsigned n, uint32_t flags)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = r[i].base >> PAGE_SHIFT, e = r[i].end >> PAGE_SHIFT;
        if (b < a->base_pfn)
            b = a->base_pfn;
        if (e > a->end_pfn)
            e = a->end_pfn;
        for (uint64_t pfn = b; pfn < e; pfn++)
            frame_flags_set(arena_frame(a, pfn), flags);
    }
}

static void arena_setup(unsigned i, uint64_t meta_pa, unsigned nu, unsigned nf)
{
    struct arena *a = &mm_arenas[i];
    __builtin_memset(a, 0, sizeof *a);
    a->index = i;
    a->base_pfn = span_r[i].base >> PAGE_SHIFT;
    a->end_pfn = span_r[i].end >> PAGE_SHIFT;
    a->meta = plat_phys_to_virt(meta_pa);
    uint64_t frames = a->end_pfn - a->base_pfn;
    __builtin_memset(a->meta, 0, frames * sizeof(struct frame));
    for (uint64_t k = 0; k < frames; k++) {
        struct frame *f = &a->meta[k];
        frame_ref_init(f, REF_UNIQUE);
        atomic_init(&f->flags, FRAME_F_RESERVED | FRAME_F_ABSENT);
        f->pfn = a->base_pfn + k;
        f->arena = (uint8_t)i;
    }
    set_flags_in(a, usable_r, nu, FRAME_F_RESERVED);
    set_flags_in(a, meta_r, mm.n_arenas, FRAME_F_RESERVED | FRAME_F_KERNEL);

    plat_irqstate_t s = mm_lock_acquire(&a->lock);
    for (unsigned r = 0; r < nf; r++) {
        uint64_t b = free_r[r].base >> PAGE_SHIFT, e = free_r[r].end >> PAGE_SHIFT;
        if (b < a->base_pfn)
            b = a->base_pfn;
        if (e > a->end_pfn)
            e = a->end_pfn;
        if (b >= e)
            continue;
        for (uint64_t pfn = b; pfn < e; pfn++) {
            struct frame *f = arena_frame(a, pfn);
            frame_ref_set(f, REF_UNUSED);
            frame_flags_set(f, 0);
        }
        buddy_free_range_locked(a, b, e - b);
        a->managed_frames += e - b;
    }
    mm_lock_release(&a->lock, s);
    a->lock.stats = (struct mm_lock_stats){0};
}

bool mm_init(const struct phys_range *usable, unsigned n_usable, const struct phys_range *reserved,
             unsigned n_reserved, const struct mm_config *cfg, char *err, size_t errlen)
{
    unsigned nu, nr, nf, ns;
    struct mm_config defaults;

    /* Until this succeeds, every call finds no arena and no cache. */
    mm.ready = false;
    mm.n_arenas = 0;
    mm.max_cpus = 0;
    mm.total_frames = 0;
    if (cfg == NULL) {
        mm_default_config(&defaults);
        cfg = &defaults;
    }
    if (cfg->max_cpus == 0 || cfg->max_cpus > PLAT_MAX_CPUS)
        return fail(err, errlen, "max_cpus %u outside 1..%u", cfg->max_cpus, PLAT_MAX_CPUS);
    if (!pcp_config_valid(&cfg->pcp, err, errlen))
        return false;
    if (!normalise(usable, n_usable, usable_r, &nu, true, "usable", err, errlen) ||
        !normalise(reserved, n_reserved, reserved_r, &nr, false, "reserved", err, errlen))
        return false;
    nf = subtract(usable_r, nu, reserved_r, nr, free_r);
    if (nf == 0)
        return fail(err, errlen, "no usable memory: %u usable ranges (%u whole-frame), all "
                    "reserved or smaller than a frame", n_usable, nu);
    ns = make_spans(usable_r, nu, free_r, nf);

    uint64_t meta_bytes = 0;
    for (unsigned i = 0; i < ns; i++) {
        uint64_t frames = (span_r[i].end - span_r[i].base) >> PAGE_SHIFT;
        uint64_t bytes = (frames * sizeof(struct frame) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        uint64_t pa;
        if (!bump_alloc(bytes, nf, &pa))
            return fail(err, errlen, "no free range can hold the %llu KiB metadata array of "
                        "arena [%#llx, %#llx)", (unsigned long long)(bytes >> 10),
                        (unsigned long long)span_r[i].base, (unsigned long long)span_r[i].end);
        meta_r[i] = (struct phys_range){pa, pa + bytes};
        meta_bytes += bytes;
    }

    mm.n_arenas = ns;
    mm.max_cpus = cfg->max_cpus;
    mm.metadata_bytes = meta_bytes;
    mm.total_frames = 0;
    for (unsigned i = 0; i < ns; i++) {
        arena_setup(i, meta_r[i].base, nu, nf);
        mm.span[i] = (struct mm_span){mm_arenas[i].meta, mm_arenas[i].base_pfn,
                                      mm_arenas[i].end_pfn};
        mm.total_frames += mm_arenas[i].managed_frames;
    }
    if (mm.total_frames == 0) {
        mm.n_arenas = 0;
        return fail(err, errlen, "no usable memory left once the %llu KiB of frame metadata "
                    "is placed", (unsigned long long)(meta_bytes >> 10));
    }
    buddy_reserve_init();
    if (!pcp_init(&cfg->pcp, err, errlen)) {
        mm.n_arenas = 0;
        return false;
    }
    mm.ready = true;
    return true;
}
