/*
 * init.c - mm_init: arenas from the memory map, the metadata arrays, the
 * initial free lists.
 *
 *   1. usable ranges are shrunk inward to whole frames, sorted and merged
 *      where they touch or overlap - only with ranges of the same NUMA node
 *      (mm_config.usable_node), so that an arena never spans two nodes;
 *      reserved ranges (kernel image, Multiboot2 info, modules, the AP
 *      trampoline ...) are grown outward and merged.
 *   2. free = usable minus reserved.  Each merged usable region with free
 *      frames becomes an arena of the region's node, whose span runs from
 *      its first to its last free frame; reserved frames inside a span get
 *      a slot flagged RESERVED.
 *      Separate regions are separate arenas, so a hole (the 3-4 GiB PCI
 *      window) costs no metadata; RAM above 4 GiB is just another arena.
 *      Beyond MM_MAX_ARENAS regions, the neighbouring spans of one node with
 *      the smallest gap are joined and the gap frames flagged ABSENT.
 *   3. the metadata: one array of 64-byte slots indexed by PFN, the
 *      metadata window at plat_metadata_base() (PLAT_METADATA_BYTES long,
 *      reserved address space, unbacked):
 *
 *        window page p (4 KiB) = the slots of PFNs [64p, 64p + 64)
 *        span i needs pages [base_pfn / 64, ceil(end_pfn / 64)); a page two
 *        spans share is backed once (by the lower span's piece)
 *        holes between spans: no frames, no slots of their own: their
 *        pages map one shared page of zeros read-only
 *        (plat_metadata_map_zero), so a hole's "slot" reads as all zeros:
 *        refcount 0 (busy), which every operation refuses before it
 *        trusts another field or writes (a write would fault); the map of
 *        backed pages (a byte per page, one per 256 KiB of physical
 *        addresses) tells a hole from a slot
 *
 *      A boot-time bump allocator (the end of the largest free range left -
 *      high memory first, and never a tiny region it would swallow) takes
 *      one run of frames per span's piece, then the map of backed window
 *      pages (mm.backed: a byte per page, read through the direct map), and
 *      plat_metadata_map maps each piece at its place in the window,
 *      taking the page tables it needs (kernel) from the same allocator,
 *      and plat_metadata_map_zero the holes below the last piece.
 *      All of them become RESERVED|KERNEL.  The slots of a backed page that
 *      lie outside every span are RESERVED|ABSENT with arena MM_NO_ARENA.
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
/* The node of each usable and span range (reserved ranges: 0). */
static unsigned usable_nd[MM_MAX_RANGES], reserved_nd[MM_MAX_RANGES], span_nd[MM_MAX_RANGES];
/* Window pages [base, end) (page numbers, not bytes) each span's piece backs. */
static struct phys_range piece_r[MM_MAX_ARENAS];
/* Frames the metadata took (pieces, map, page tables): RESERVED|KERNEL. */
#define MM_MAX_KERNEL_RANGES (2 * MM_MAX_ARENAS + 8)
static struct phys_range kern_r[MM_MAX_KERNEL_RANGES];
static unsigned n_kern, n_free;
static uint64_t kern_bytes;

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

/* Sorts r[0..n) (node nd[i] each) by base and joins ranges of one node
 * that overlap or touch; ranges of different nodes that overlap are an
 * error (the map cannot say whose the memory is).  Returns the count left,
 * or fails. */
static bool sort_join_nodes(struct phys_range *r, unsigned *nd, unsigned n, unsigned *n_out,
                            const char *what, char *err, size_t errlen)
{
    for (unsigned i = 1; i < n; i++) { /* insertion sort: maps are short, mostly sorted */
        struct phys_range x = r[i];
        unsigned xn = nd[i], j = i;
        for (; j > 0 && r[j - 1].base > x.base; j--) {
            r[j] = r[j - 1];
            nd[j] = nd[j - 1];
        }
        r[j] = x;
        nd[j] = xn;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (k > 0 && r[i].base < r[k - 1].end && nd[i] != nd[k - 1])
            return fail(err, errlen, "%s ranges [%#llx, %#llx) of node %u and [%#llx, %#llx) of "
                        "node %u overlap", what, (unsigned long long)r[k - 1].base,
                        (unsigned long long)r[k - 1].end, nd[k - 1],
                        (unsigned long long)r[i].base, (unsigned long long)r[i].end, nd[i]);
        if (k > 0 && r[i].base <= r[k - 1].end && nd[i] == nd[k - 1]) {
            if (r[i].end > r[k - 1].end)
                r[k - 1].end = r[i].end;
        } else {
            r[k] = r[i];
            nd[k++] = nd[i];
        }
    }
    *n_out = k;
    return true;
}

/* Copies and page-rounds one list (inward for usable, outward for
 * reserved), with the node of each range (in_node NULL: all node 0). */
static bool normalise(const struct phys_range *in, const unsigned *in_node, unsigned n,
                      struct phys_range *out, unsigned *out_node, unsigned *n_out, bool inward,
                      const char *what, char *err, size_t errlen)
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
        if (in_node && in_node[i] >= MM_MAX_NODES)
            return fail(err, errlen, "%s range %u [%#llx, %#llx) is on node %u, at most %u nodes "
                        "supported", what, i, (unsigned long long)b, (unsigned long long)e,
                        in_node[i], MM_MAX_NODES);
        if (b < e) {
            out_node[k] = in_node ? in_node[i] : 0;
            out[k++] = (struct phys_range){b, e};
        }
    }
    return sort_join_nodes(out, out_node, k, n_out, what, err, errlen);
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

/* One span per usable region that has free frames: [first free, last free),
 * on the region's node.  0 when more than MM_MAX_ARENAS spans remain and no
 * two neighbours share a node. */
static unsigned make_spans(const struct phys_range *u, const unsigned *u_node, unsigned nu,
                           const struct phys_range *f, unsigned nf)
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
        if (lo < hi) {
            span_nd[n] = u_node[i];
            span_r[n++] = (struct phys_range){lo, hi};
        }
    }
    while (n > MM_MAX_ARENAS) {
        unsigned best = n;
        for (unsigned i = 0; i + 1 < n; i++)
            if (span_nd[i] == span_nd[i + 1] &&
                (best == n ||
                 span_r[i + 1].base - span_r[i].end < span_r[best + 1].base - span_r[best].end))
                best = i;
        if (best == n)
            return 0;
        plat_log("mm: more than %u memory regions: joining [%#llx, %#llx) and [%#llx, %#llx)\n",
                 MM_MAX_ARENAS, (unsigned long long)span_r[best].base,
                 (unsigned long long)span_r[best].end, (unsigned long long)span_r[best + 1].base,
                 (unsigned long long)span_r[best + 1].end);
        span_r[best].end = span_r[best + 1].end;
        for (unsigned i = best + 1; i + 1 < n; i++) {
            span_r[i] = span_r[i + 1];
            span_nd[i] = span_nd[i + 1];
        }
        n--;
    }
    return n;
}

/* The bump allocator: the end of the largest free range.  What it takes is
 * recorded in kern_r, merged with the previous run when they touch (page
 * tables come one frame at a time, each just below the last). */
static bool bump_alloc(uint64_t bytes, uint64_t *pa)
{
    unsigned best = n_free;
    for (unsigned i = 0; i < n_free; i++)
        if (free_r[i].end - free_r[i].base >= bytes &&
            (best == n_free ||
             free_r[i].end - free_r[i].base > free_r[best].end - free_r[best].base))
            best = i;
    if (best == n_free)
        return false;
    uint64_t b = free_r[best].end - bytes;
    if (n_kern && kern_r[n_kern - 1].base == b + bytes)
        kern_r[n_kern - 1].base = b;
    else if (n_kern < MM_MAX_KERNEL_RANGES)
        kern_r[n_kern++] = (struct phys_range){b, b + bytes};
    else
        return false;
    free_r[best].end = b;
    kern_bytes += bytes;
    *pa = b;
    return true;
}

/* plat_metadata_map's supplier of page-table frames. */
static uint64_t bump_table_page(void *ctx)
{
    (void)ctx;
    uint64_t pa;
    return bump_alloc(PAGE_SIZE, &pa) ? pa : 0;
}

/* Every slot starts as "not the allocator's"; arena_setup then makes its
 * span's slots its own. */
static void slot_init(uint64_t pfn, unsigned arena)
{
    struct frame *f = mm_frame_of_pfn(pfn);
    __builtin_memset(f, 0, sizeof *f);
    frame_ref_init(f, REF_UNIQUE);
    atomic_init(&f->flags, FRAME_F_RESERVED | FRAME_F_ABSENT);
    f->pfn = pfn;
    f->arena = (uint8_t)arena;
}

/* Steps 3 of the file comment for ns spans: false with a message in err. */
static bool place_metadata(unsigned ns, char *err, size_t errlen)
{
    uint64_t prev_end = 0;
    for (unsigned i = 0; i < ns; i++) {
        uint64_t b = (span_r[i].base >> PAGE_SHIFT) / MM_WINDOW_PAGE_SLOTS;
        uint64_t e = ((span_r[i].end >> PAGE_SHIFT) + MM_WINDOW_PAGE_SLOTS - 1) /
                     MM_WINDOW_PAGE_SLOTS;
        piece_r[i] = (struct phys_range){b > prev_end ? b : prev_end, e};
        prev_end = e;
    }
    uint64_t window_pages = prev_end;
    if (window_pages * PAGE_SIZE > PLAT_METADATA_BYTES)
        return fail(err, errlen, "RAM up to %#llx: the metadata window describes physical "
                    "addresses below %#llx only", (unsigned long long)span_r[ns - 1].end,
                    (unsigned long long)(PLAT_METADATA_BYTES / sizeof(struct frame) * PAGE_SIZE));
    uint64_t piece_pa[MM_MAX_ARENAS];
    for (unsigned i = 0; i < ns; i++) {
        uint64_t bytes = (piece_r[i].end - piece_r[i].base) * PAGE_SIZE;
        if (bytes && !bump_alloc(bytes, &piece_pa[i]))
            return fail(err, errlen, "no free range can hold the %llu KiB metadata array of "
                        "arena [%#llx, %#llx)", (unsigned long long)(bytes >> 10),
                        (unsigned long long)span_r[i].base, (unsigned long long)span_r[i].end);
    }
    uint64_t map_pa, map_bytes = (window_pages + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (!bump_alloc(map_bytes, &map_pa))
        return fail(err, errlen, "no free range can hold the %llu KiB map of the metadata "
                    "window", (unsigned long long)(map_bytes >> 10));
    uint8_t *backed = plat_phys_to_virt(map_pa);
    __builtin_memset(backed, 0, map_bytes);
    for (unsigned i = 0; i < ns; i++) {
        uint64_t b = piece_r[i].base, e = piece_r[i].end;
        if (b < e && !plat_metadata_map(plat_metadata_base() + b * PAGE_SIZE, piece_pa[i],
                                        (e - b) * PAGE_SIZE, bump_table_page, NULL, err, errlen))
            return false;
        __builtin_memset(backed + b, 1, e - b);
    }
    /* The holes: every unbacked page below the last piece (mm_int.h, the
     * window: the hit paths read a hole's slot). */
    for (uint64_t i = 0, hole = 0; i < ns; i++) {
        uint64_t b = piece_r[i].base;
        if (b > hole && !plat_metadata_map_zero(plat_metadata_base() + hole * PAGE_SIZE,
                                                (b - hole) * PAGE_SIZE, bump_table_page, NULL,
                                                err, errlen))
            return false;
        hole = piece_r[i].end;
    }
    /* The slots around each span that share its first and last window page. */
    for (unsigned i = 0; i < ns; i++) {
        uint64_t b = span_r[i].base >> PAGE_SHIFT, e = span_r[i].end >> PAGE_SHIFT;
        for (uint64_t pfn = b / MM_WINDOW_PAGE_SLOTS * MM_WINDOW_PAGE_SLOTS; pfn < b; pfn++)
            slot_init(pfn, MM_NO_ARENA);
        for (uint64_t pfn = e; pfn % MM_WINDOW_PAGE_SLOTS; pfn++)
            slot_init(pfn, MM_NO_ARENA);
    }
    mm.backed = backed;
    mm.window_frames = window_pages * MM_WINDOW_PAGE_SLOTS;
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

static void arena_setup(unsigned i, unsigned nu, unsigned nf)
{
    struct arena *a = &mm_arenas[i];
    __builtin_memset(a, 0, sizeof *a);
    mm_lock_init(&a->lock);
    a->index = i;
    a->node = span_nd[i];
    a->base_pfn = span_r[i].base >> PAGE_SHIFT;
    a->end_pfn = span_r[i].end >> PAGE_SHIFT;
    a->meta = mm_frame_of_pfn(a->base_pfn);
    for (uint64_t pfn = a->base_pfn; pfn < a->end_pfn; pfn++)
        slot_init(pfn, i);
    set_flags_in(a, usable_r, nu, FRAME_F_RESERVED);
    set_flags_in(a, kern_r, n_kern, FRAME_F_RESERVED | FRAME_F_KERNEL);

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
    mm.window_frames = 0;
    mm.n_arenas = 0;
    mm.max_cpus = 0;
    mm.total_frames = 0;
    pcp_publish_all(); /* every CPU: pcp_none */
    if (cfg == NULL) {
        mm_default_config(&defaults);
        cfg = &defaults;
    }
    if (cfg->max_cpus == 0 || cfg->max_cpus > PLAT_MAX_CPUS)
        return fail(err, errlen, "max_cpus %u outside 1..%u", cfg->max_cpus, PLAT_MAX_CPUS);
    if (!pcp_config_valid(&cfg->pcp, err, errlen))
        return false;
    if (cfg->numa && !numa_valid(cfg->numa, err, errlen))
        return false;
    unsigned nodes = cfg->numa ? cfg->numa->nodes : 1;
    if (!normalise(usable, cfg->usable_node, n_usable, usable_r, usable_nd, &nu, true, "usable",
                   err, errlen) ||
        !normalise(reserved, NULL, n_reserved, reserved_r, reserved_nd, &nr, false, "reserved",
                   err, errlen))
        return false;
    for (unsigned i = 0; i < nu; i++)
        if (usable_nd[i] >= nodes)
            return fail(err, errlen, "usable range [%#llx, %#llx) is on node %u, but the topology "
                        "has %u node(s)", (unsigned long long)usable_r[i].base,
                        (unsigned long long)usable_r[i].end, usable_nd[i], nodes);
    nf = subtract(usable_r, nu, reserved_r, nr, free_r);
    if (nf == 0)
        return fail(err, errlen, "no usable memory: %u usable ranges (%u whole-frame), all "
                    "reserved or smaller than a frame", n_usable, nu);
    ns = make_spans(usable_r, usable_nd, nu, free_r, nf);
    if (ns == 0)
        return fail(err, errlen, "more than %u memory regions, and no two neighbours on one "
                    "node to join: at most %u arenas", MM_MAX_ARENAS, MM_MAX_ARENAS);

    n_free = nf;
    n_kern = 0;
    kern_bytes = 0;
    if (!place_metadata(ns, err, errlen)) {
        mm.window_frames = 0;
        return false;
    }

    mm.n_arenas = ns;
    mm.max_cpus = cfg->max_cpus;
    mm.metadata_bytes = kern_bytes;
    mm.total_frames = 0;
    for (unsigned i = 0; i < ns; i++) {
        arena_setup(i, nu, nf);
        mm.span[i] = (struct mm_span){mm_arenas[i].base_pfn, mm_arenas[i].end_pfn};
        mm.total_frames += mm_arenas[i].managed_frames;
    }
    if (mm.total_frames == 0) {
        mm.n_arenas = 0;
        mm.window_frames = 0;
        return fail(err, errlen, "no usable memory left once the %llu KiB of frame metadata "
                    "is placed", (unsigned long long)(kern_bytes >> 10));
    }
    buddy_reserve_init();
    if (!pcp_init(&cfg->pcp, err, errlen)) {
        mm.n_arenas = 0;
        mm.window_frames = 0;
        return false;
    }
    numa_apply(cfg->numa);
    mm.ready = true;
    return true;
}
