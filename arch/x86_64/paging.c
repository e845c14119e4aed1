/*
 * paging.c - the final page tables: direct map, identity map, kernel image.
 *
 * Tables come from `pool` (in .bss, so inside the kernel image the frame
 * allocator reserves) and are reached through the direct map.  Levels are
 * numbered like the page-walk: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT.  A large
 * page met on the way to a smaller mapping is split into a table of pages
 * with the same flags, so paging_map_mmio() can carve uncached 4 KiB pages
 * out of a 2 MiB or 1 GiB mapping.
 *
 * Memory types: the direct map is write-back; regions are rounded out to
 * 2 MiB, so a device hole next to RAM may be mapped write-back too, but it is
 * never touched through the direct map (paging_map_mmio gives devices
 * uncached pages, and the firmware's MTRRs make the PCI hole uncached
 * whatever the page tables say).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "lib/phys_range.h"
#include "lib/spinlock.h"
#include "plat/platform.h"
#include "arch/x86_64/x86.h"

#define ENTRIES 512
#define PAGE_SIZE_4K 0x1000ul
/* The static pool: the PML4, a PDPT per 512 GiB of PAGING_MAX_PHYS, the
 * identity map's PD and PT, room for MMIO splits, and POOL_PD_PAGES page
 * directories for the direct map: a few GiB without 1 GiB pages, the
 * unaligned range ends with them.  Beyond that the PDs come from RAM. */
#define POOL_FIXED_PAGES 8
#define POOL_MMIO_PAGES 32
#define POOL_PDPT_PAGES (PAGING_MAX_PHYS >> 39)
#define POOL_PD_PAGES 32
#define POOL_PAGES (POOL_PDPT_PAGES + POOL_PD_PAGES + POOL_FIXED_PAGES + POOL_MMIO_PAGES)
#define PHYS_ADDR_LIMIT ((uint64_t)1 << 46) /* direct map ends where the kernel half begins */
#define PAGING_LIMIT_GIB_MIN 1

static uint64_t pool[POOL_PAGES][ENTRIES] __attribute__((aligned(4096)));
static unsigned pool_used;
/* Page tables taken from RAM: [ram_base, ram_base + ram_pages * 4 KiB). */
static uint64_t ram_base;
static unsigned ram_pages, ram_used;
static uint64_t *pml4;
static uint64_t direct_map_bytes;
static uint64_t max_phys = PAGING_MAX_PHYS;
static struct spinlock paging_lock = SPINLOCK_INIT; /* guards the tables and the pool */

static void paging_check(const struct mb2_info *mi);

_Static_assert(METADATA_WINDOW_BYTES == (PAGING_MAX_PHYS >> 12) * 64,
               "the metadata window holds one 64-byte slot per frame below PAGING_MAX_PHYS");
_Static_assert(METADATA_WINDOW_BASE >= DIRECT_MAP_BASE + PHYS_ADDR_LIMIT &&
                   METADATA_WINDOW_BASE + METADATA_WINDOW_BYTES <= KERNEL_VMA,
               "the metadata window lies between the direct map and the kernel image");

static uint64_t *table_alloc(void)
{
    uint64_t *t;
    /* RAM first: it was sized for the whole direct map, and the pool stays
     * for the MMIO splits later. */
    if (ram_used < ram_pages)
        t = plat_phys_to_virt(ram_base + (uint64_t)ram_used++ * PAGE_SIZE_4K);
    else if (pool_used < POOL_PAGES)
        t = pool[pool_used++];
    else
        PANIC("paging: page tables exhausted (%u pool pages, %u from RAM); the worst-case "
              "count in paging_init is wrong", (unsigned)POOL_PAGES, ram_pages);
    __builtin_memset(t, 0, PAGE_SIZE_4K);
    return t;
}

static uint64_t level_page_size(int level)
{
    return PAGE_SIZE_4K << (9 * (level - 1));
}

static unsigned level_index(uint64_t va, int level)
{
    return (va >> (12 + 9 * (level - 1))) & (ENTRIES - 1);
}

static uint64_t *entry_table(uint64_t entry)
{
    return plat_phys_to_virt(entry & PTE_ADDR_MASK);
}

/* Where a new table comes from: NULL for the pool and paging_init's RAM run
 * (table_alloc, which panics when exhausted), or a caller's supplier of
 * frames (the metadata window), which may run dry: then NULL. */
struct table_source {
    plat_table_page_fn page;
    void *ctx;
};

static uint64_t *table_from(const struct table_source *src)
{
    if (src == NULL)
        return table_alloc();
    uint64_t pa = src->page(src->ctx);
    if (pa == 0)
        return NULL;
    uint64_t *t = plat_phys_to_virt(pa);
    __builtin_memset(t, 0, PAGE_SIZE_4K);
    return t;
}

/* The metadata window's holes (plat_metadata_map_zero): a hole page maps
 * hole_zero read-only, a page table all of whose pages are a hole is
 * hole_pt, a directory all of whose tables are is hole_pd.  Shared by every
 * hole, so a hole of any size costs these 12 KiB of the image; a walk that
 * must write below a shared table gives its entry a private copy first
 * (next_table), so the other holes keep reading zeros. */
static uint8_t hole_zero[PAGE_SIZE_4K] __attribute__((aligned(4096)));
static uint64_t hole_pt[ENTRIES] __attribute__((aligned(4096)));
static uint64_t hole_pd[ENTRIES] __attribute__((aligned(4096)));

/* The shared hole table a table entry (not a large page) points to, or NULL. */
static const uint64_t *hole_table_of(uint64_t e)
{
    uint64_t pa = e & PTE_ADDR_MASK;
    return pa == plat_virt_to_phys(hole_pt)   ? hole_pt
           : pa == plat_virt_to_phys(hole_pd) ? hole_pd
                                              : NULL;
}

/* Returns the table the entry points to, creating it when absent, splitting
 * a large page (level 3 or 2) into next-level pages and copying a shared
 * hole table; NULL when src has no frame for it. */
static uint64_t *next_table(uint64_t *table, unsigned index, int level,
                            const struct table_source *src)
{
    uint64_t e = table[index];
    if (!(e & PTE_P)) {
        uint64_t *t = table_from(src);
        if (t != NULL)
            table[index] = plat_virt_to_phys(t) | PTE_P | PTE_W;
        return t;
    }
    const uint64_t *shared = e & PTE_PS ? NULL : hole_table_of(e);
    if (!(e & PTE_PS) && shared == NULL)
        return entry_table(e);
    uint64_t *t = table_from(src);
    if (t == NULL)
        return NULL;
    if (shared != NULL) {
        __builtin_memcpy(t, shared, PAGE_SIZE_4K);
    } else {
        uint64_t base = e & PTE_ADDR_MASK;
        uint64_t flags = e & (PTE_P | PTE_W | PTE_PWT | PTE_PCD);
        uint64_t size = level_page_size(level - 1);
        /* Bit 7 means PS in a PD but PAT in a PT: 4 KiB pages must not carry it. */
        uint64_t ps = level - 1 > 1 ? PTE_PS : 0;
        for (unsigned i = 0; i < ENTRIES; i++)
            t[i] = (base + i * size) | flags | ps;
    }
    table[index] = plat_virt_to_phys(t) | PTE_P | PTE_W;
    return t;
}

/* Writes the entry of va at `level`, the tables above it from src; false
 * when src ran dry. */
static bool set_entry_from(uint64_t va, int level, uint64_t entry, const struct table_source *src)
{
    uint64_t *t = pml4;
    for (int l = 4; l > level && t != NULL; l--)
        t = next_table(t, level_index(va, l), l, src);
    if (t == NULL)
        return false;
    t[level_index(va, level)] = entry;
    return true;
}

/* Maps one page of the size of `level` at va, its tables from src; false
 * when src ran dry. */
static bool map_page_from(uint64_t va, uint64_t pa, int level, uint64_t flags,
                          const struct table_source *src)
{
    return set_entry_from(va, level, pa | flags | (level > 1 ? PTE_PS : 0), src);
}

static void map_page(uint64_t va, uint64_t pa, int level, uint64_t flags)
{
    map_page_from(va, pa, level, flags, NULL); /* table_alloc panics rather than fail */
}

static void map_direct_range(uint64_t base, uint64_t end, bool gib_pages)
{
    uint64_t pa = base;
    while (pa < end) {
        if (gib_pages && pa % PAGE_SIZE_1G == 0 && end - pa >= PAGE_SIZE_1G) {
            map_page(DIRECT_MAP_BASE + pa, pa, 3, PTE_P | PTE_W);
            pa += PAGE_SIZE_1G;
        } else {
            map_page(DIRECT_MAP_BASE + pa, pa, 2, PTE_P | PTE_W);
            pa += PAGE_SIZE_2M;
        }
    }
    direct_map_bytes += end - base;
}

static bool is_ram(uint32_t type)
{
    return type == MB2_MEM_USABLE || type == MB2_MEM_ACPI_RECLAIMABLE || type == MB2_MEM_NVS;
}

static uint64_t round_down_2m(uint64_t x)
{
    return x & ~(uint64_t)(PAGE_SIZE_2M - 1);
}

/* The memory map's regions rounded out to 2 MiB, clipped, sorted, merged. */
static unsigned direct_map_ranges(const struct mb2_info *mi, struct phys_range *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        uint64_t end = r->base + r->len;
        if (r->len == 0)
            continue;
        if (end > max_phys) {
            if (is_ram(r->type)) {
                /* Bad input, not a kernel bug: a failed check, like a bad MADT. */
                kprintf("paging: the memory map reports RAM up to 0x%lx (type %u region at "
                        "0x%lx) but the direct map covers physical addresses below 0x%lx "
                        "(%lu GiB%s): boot with less memory; stopping (exit check-failed)\n",
                        end, r->type, r->base, max_phys, max_phys >> 30,
                        max_phys == PAGING_MAX_PHYS ? ", PAGING_MAX_PHYS in arch/x86_64/paging.h"
                                                    : ", test_paging_limit_gib");
                kernel_exit(EXIT_CHECK_FAILED);
            }
            kprintf("paging: not mapping type %u region 0x%lx-0x%lx above the %lu GiB limit\n",
                    r->type, r->base, end, max_phys >> 30);
            if (r->base >= max_phys)
                continue;
            end = max_phys;
        }
        out[n++] = (struct phys_range){round_down_2m(r->base),
                                       round_down_2m(end + PAGE_SIZE_2M - 1)};
    }
    return phys_ranges_sort_join(out, n);
}

/* Page-directory pages to take from RAM for the direct map of ranges[], in
 * the worst case: one per GiB touched without 1 GiB pages, two per range
 * (its unaligned ends) with them; none when the pool's share holds them. */
static uint64_t ram_tables_needed(const struct phys_range *ranges, unsigned n, bool gib_pages)
{
    uint64_t pds = 0;
    for (unsigned i = 0; i < n; i++)
        pds += gib_pages ? 2 : (ranges[i].end + PAGE_SIZE_1G - 1) / PAGE_SIZE_1G -
                                   ranges[i].base / PAGE_SIZE_1G;
    return pds > POOL_PD_PAGES ? pds : 0; /* a small machine fits the pool */
}

/* The highest run of `pages` usable 4 KiB frames below the boot mapping
 * (which is what reaches them before the new tables are loaded) that
 * overlaps nothing the boot reserved.  0 when there is none. */
static uint64_t ram_tables_place(const struct mb2_info *mi, uint64_t pages)
{
    struct phys_range reserved[MB2_MAX_MODULES + 2];
    unsigned nr = boot_reserved_ranges(reserved, MB2_MAX_MODULES + 2);
    uint64_t len = pages * PAGE_SIZE_4K, best = 0;
    uint64_t limit = (uint64_t)EARLY_MAP_GIB << 30;
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        if (r->type != MB2_MEM_USABLE)
            continue;
        uint64_t lo = (r->base + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
        uint64_t hi = (r->base + r->len < limit ? r->base + r->len : limit) & ~(PAGE_SIZE_4K - 1);
        /* Walk down from the top, stepping below any reserved range in the way. */
        while (hi >= lo + len && hi - len > best) {
            uint64_t cand = hi - len;
            bool clash = false;
            for (unsigned k = 0; k < nr && !clash; k++) {
                if (cand < reserved[k].end && reserved[k].base < hi) {
                    clash = true;
                    hi = reserved[k].base & ~(PAGE_SIZE_4K - 1);
                }
            }
            if (!clash && cand > 0)
                best = cand;
            if (!clash)
                break;
        }
    }
    return best;
}

void paging_init(const struct mb2_info *mi, struct cmdline *cl)
{
    static struct phys_range ranges[MB2_MAX_REGIONS];
    bool gib_pages = cpu_has_1g_pages();
    uint64_t limit_gib = 0;
    cmdline_u64(cl, "test_paging_limit_gib", 0, PAGING_LIMIT_GIB_MIN, PAGING_MAX_PHYS >> 30,
                &limit_gib);
    if (limit_gib)
        max_phys = limit_gib << 30;

    unsigned n = direct_map_ranges(mi, ranges);
    uint64_t need = ram_tables_needed(ranges, n, gib_pages);
    if (need) {
        ram_base = ram_tables_place(mi, need);
        if (ram_base == 0) {
            kprintf("paging: no %lu KiB of usable RAM below %u GiB for the direct map's page "
                    "tables; stopping (exit check-failed)\n", need * 4, EARLY_MAP_GIB);
            kernel_exit(EXIT_CHECK_FAILED);
        }
        ram_pages = (unsigned)need;
    }
    pml4 = table_alloc();
    for (unsigned i = 0; i < n; i++)
        map_direct_range(ranges[i].base, ranges[i].end, gib_pages);

    /* Identity map of the low 1 GiB without page 0: 4 KiB pages in the first
     * 2 MiB, 2 MiB pages above. */
    for (uint64_t pa = PAGE_SIZE_4K; pa < PAGE_SIZE_2M; pa += PAGE_SIZE_4K)
        map_page(pa, pa, 1, PTE_P | PTE_W);
    for (uint64_t pa = PAGE_SIZE_2M; pa < IDENTITY_MAP_END; pa += PAGE_SIZE_2M)
        map_page(pa, pa, 2, PTE_P | PTE_W);

    /* The kernel image at KERNEL_VMA shares the identity map's PD. */
    uint64_t *identity_pdpt = entry_table(pml4[level_index(0, 4)]);
    uint64_t *kernel_pdpt = next_table(pml4, level_index(KERNEL_VMA, 4), 4, NULL);
    kernel_pdpt[level_index(KERNEL_VMA, 3)] = identity_pdpt[0];
    /* The boot stack's guard page (kernel and identity views: shared tables). */
    map_page((uint64_t)boot_stack_guard, 0, 1, 0);

    write_cr3(plat_virt_to_phys(pml4));
    paging_check(mi);
    kprintf("paging: direct map %lu MiB in %u ranges (%s pages), page tables %u of %u pool "
            "pages + %u from RAM at 0x%lx\n",
            direct_map_bytes >> 20, n, gib_pages ? "1 GiB + 2 MiB" : "2 MiB", pool_used,
            (unsigned)POOL_PAGES, ram_used, ram_base);
}

struct phys_range paging_reserved_range(void)
{
    return (struct phys_range){ram_base, ram_base + (uint64_t)ram_pages * PAGE_SIZE_4K};
}

volatile void *paging_map_mmio(uint64_t pa, uint64_t len)
{
    ASSERT(pml4 != NULL); /* paging_init() first */
    if (len == 0 || pa + len < pa || pa + len > PHYS_ADDR_LIMIT)
        PANIC("paging_map_mmio: bad range 0x%lx + 0x%lx", pa, len);
    uint64_t first = pa & ~(PAGE_SIZE_4K - 1);
    uint64_t end = (pa + len + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
    plat_irqstate_t irq = spin_lock_irqsave(&paging_lock);
    for (uint64_t p = first; p < end; p += PAGE_SIZE_4K)
        map_page(DIRECT_MAP_BASE + p, p, 1, PTE_P | PTE_W | PTE_PCD | PTE_PWT);
    /* A split changed page sizes as well as the memory type: drop every
     * cached translation, not just the pages' own (SDM vol. 3, 4.10.4.3). */
    write_cr3(read_cr3());
    spin_unlock_irqrestore(&paging_lock, irq);
    return (volatile void *)(DIRECT_MAP_BASE + pa);
}

/* [va, va + bytes) is whole pages of the metadata window, and the frames
 * [pa, pa + pa_bytes) whole pages of RAM below max_phys; else false with
 * the message of `fn`. */
static bool window_range_ok(const char *fn, uint64_t va, uint64_t bytes, uint64_t pa,
                            uint64_t pa_bytes, char *err, size_t errlen)
{
    uint64_t off = va - METADATA_WINDOW_BASE;
    if (((va | pa | bytes) & (PAGE_SIZE_4K - 1)) || va < METADATA_WINDOW_BASE ||
        off > METADATA_WINDOW_BYTES || bytes > METADATA_WINDOW_BYTES - off ||
        pa + pa_bytes < pa || pa + pa_bytes > max_phys) {
        plat_snprintf(err, errlen, "%s: va %#lx + %#lx -> pa %#lx is not whole pages of the "
                      "metadata window [%#lx, %#lx) and of RAM below %#lx", fn, va, bytes, pa,
                      (uint64_t)METADATA_WINDOW_BASE,
                      (uint64_t)METADATA_WINDOW_BASE + METADATA_WINDOW_BYTES, max_phys);
        return false;
    }
    return true;
}

static bool window_tables_dry(const char *fn, uint64_t va, char *err, size_t errlen)
{
    plat_snprintf(err, errlen, "%s: no frame left for the page tables of the metadata window "
                  "at %#lx", fn, va);
    return false;
}

/* The metadata window (layout.h) in 4 KiB pages: mm/init.c backs it in pieces
 * of whole window pages, rarely 2 MiB aligned in both va and pa, and under
 * TCG the softmmu TLB is 4 KiB-granular whatever the page size. */
bool plat_metadata_map(uintptr_t va, uint64_t pa, uint64_t bytes, plat_table_page_fn table_page,
                       void *ctx, char *err, size_t errlen)
{
    ASSERT(pml4 != NULL); /* paging_init() first */
    if (!window_range_ok(__func__, va, bytes, pa, bytes, err, errlen))
        return false;
    struct table_source src = {table_page, ctx};
    bool ok = true;
    plat_irqstate_t irq = spin_lock_irqsave(&paging_lock);
    for (uint64_t p = 0; p < bytes && ok; p += PAGE_SIZE_4K)
        ok = map_page_from(va + p, pa + p, 1, PTE_P | PTE_W, &src);
    /* A re-init may move a window page to another frame: drop stale entries. */
    write_cr3(read_cr3());
    spin_unlock_irqrestore(&paging_lock, irq);
    return ok || window_tables_dry(__func__, va, err, errlen);
}

/* A hole in the largest entries its alignment allows: a whole GiB of window
 * is one PDPT entry (hole_pd), a whole 2 MiB one PD entry (hole_pt), the
 * rest single pages of hole_zero.  Every entry is read-only. */
bool plat_metadata_map_zero(uintptr_t va, uint64_t bytes, plat_table_page_fn table_page,
                            void *ctx, char *err, size_t errlen)
{
    ASSERT(pml4 != NULL); /* paging_init() first */
    if (!window_range_ok(__func__, va, bytes, 0, 0, err, errlen))
        return false;
    struct table_source src = {table_page, ctx};
    bool ok = true;
    plat_irqstate_t irq = spin_lock_irqsave(&paging_lock);
    for (unsigned i = 0; i < ENTRIES; i++) {
        hole_pt[i] = plat_virt_to_phys(hole_zero) | PTE_P;
        hole_pd[i] = plat_virt_to_phys(hole_pt) | PTE_P;
    }
    for (uint64_t p = va, end = va + bytes; p < end && ok;) {
        int level = p % PAGE_SIZE_1G == 0 && end - p >= PAGE_SIZE_1G   ? 3
                    : p % PAGE_SIZE_2M == 0 && end - p >= PAGE_SIZE_2M ? 2
                                                                       : 1;
        const void *target = level == 3 ? (const void *)hole_pd
                             : level == 2 ? (const void *)hole_pt
                                          : (const void *)hole_zero;
        ok = set_entry_from(p, level, plat_virt_to_phys(target) | PTE_P, &src);
        p += level_page_size(level);
    }
    write_cr3(read_cr3());
    spin_unlock_irqrestore(&paging_lock, irq);
    return ok || window_tables_dry(__func__, va, err, errlen);
}

/* The entry that maps va in the current tables and its level; false when
 * va is not mapped. */
static bool lookup(uint64_t va, uint64_t *entry, int *level)
{
    /* Canonical: bits 63..47 all equal. */
    if ((uint64_t)((int64_t)(va << 16) >> 16) != va)
        return false;
    const uint64_t *t = plat_phys_to_virt(read_cr3() & PTE_ADDR_MASK);
    for (int l = 4; l >= 1; l--) {
        uint64_t e = t[level_index(va, l)];
        if (!(e & PTE_P))
            return false;
        if (l == 1 || (l <= 3 && (e & PTE_PS))) {
            *entry = e;
            *level = l;
            return true;
        }
        t = entry_table(e);
    }
    return false;
}

bool paging_is_mapped(uint64_t va)
{
    uint64_t e;
    int level;
    return lookup(va, &e, &level);
}

/* Physical address va translates to (va must be mapped). */
static uint64_t translate(uint64_t va)
{
    uint64_t e;
    int level;
    if (!lookup(va, &e, &level))
        return UINT64_MAX;
    uint64_t size = level_page_size(level);
    return (e & PTE_ADDR_MASK & ~(size - 1)) + (va & (size - 1));
}

static void check_mapping(uint64_t va, uint64_t pa, const char *what)
{
    if (translate(va) != pa)
        PANIC("paging: %s: 0x%lx translates to 0x%lx, expected 0x%lx", what, va, translate(va), pa);
}

/* Always-on checks of what paging_init promised, cheap enough for every boot. */
static void paging_check(const struct mb2_info *mi)
{
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        if (r->type != MB2_MEM_USABLE || r->len == 0)
            continue;
        check_mapping(DIRECT_MAP_BASE + r->base, r->base, "direct map, usable region start");
        check_mapping(DIRECT_MAP_BASE + r->base + r->len - 1, r->base + r->len - 1,
                      "direct map, usable region end");
    }
    if (paging_is_mapped(0))
        PANIC("paging: page 0 is mapped: NULL dereferences would not fault");
    check_mapping(PAGE_SIZE_4K, PAGE_SIZE_4K, "identity map, page 1");
    check_mapping(IDENTITY_MAP_END - 1, IDENTITY_MAP_END - 1, "identity map, last byte");
    check_mapping((uint64_t)&pool[0][0], plat_virt_to_phys(&pool[0][0]), "kernel image");
    check_mapping((uint64_t)boot_stack_bottom, plat_virt_to_phys(boot_stack_bottom), "boot stack");
    if (paging_is_mapped((uint64_t)boot_stack_guard))
        PANIC("paging: the boot stack's guard page is mapped");
}
uint64_t paging_direct_map_bytes(void)
{
    return direct_map_bytes;
}

unsigned paging_pool_used(void)
{
    return pool_used + ram_used;
}

/* ---- test_paging=1 --------------------------------------------------------- */

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ADDR_MASK 0xffffff000ul
#define APIC_REG_VERSION 0x30

/* A usable page with usable neighbours above everything the boot reserved,
 * inside a 1 GiB page when there is one (so mapping it uncached splits two
 * levels), else in the middle of the last whole 2 MiB page of a region. */
static uint64_t selftest_page(const struct mb2_info *mi)
{
    struct phys_range reserved[MB2_MAX_MODULES + 2];
    unsigned n = boot_reserved_ranges(reserved, MB2_MAX_MODULES + 2);
    uint64_t floor = 0;
    for (unsigned i = 0; i < n; i++)
        floor = reserved[i].end > floor ? reserved[i].end : floor;
    uint64_t fallback = 0;
    for (unsigned i = 0; i < mi->region_count; i++) {
        const struct mb2_region *r = &mi->region[i];
        uint64_t end = r->base + r->len;
        if (r->type != MB2_MEM_USABLE || end < floor + PAGE_SIZE_2M)
            continue;
        uint64_t base = r->base > floor ? r->base : floor;
        uint64_t gib = (base + PAGE_SIZE_1G - 1) & ~(uint64_t)(PAGE_SIZE_1G - 1);
        if (cpu_has_1g_pages() && gib + PAGE_SIZE_1G <= end)
            return gib + PAGE_SIZE_1G / 2;
        uint64_t last_2m = round_down_2m(end) - PAGE_SIZE_2M;
        if (last_2m >= base)
            fallback = last_2m + PAGE_SIZE_2M / 2;
    }
    return fallback;
}

static uint64_t selftest_table(void *ctx)
{
    (void)ctx;
    return plat_virt_to_phys(table_alloc()); /* paging_lock held by the caller */
}

static void selftest_expect(uint64_t va, uint64_t pa, bool writable, const char *what)
{
    uint64_t e;
    int level;
    if (!lookup(va, &e, &level) || level != 1 || translate(va) != pa || !!(e & PTE_W) != writable)
        PANIC("test_paging: %s: 0x%lx is not a %s 4 KiB page of 0x%lx", what, va,
              writable ? "writable" : "read-only", pa);
}

/* The window's last GiB (physical addresses just below PAGING_MAX_PHYS,
 * where no test machine has RAM) as a hole: one shared directory.  A page
 * mapped into it gets private copies of the directory and the table on its
 * way down; the shared tables and every other page of the hole stay zeros,
 * read-only.  Unmapped again at the end.  Returns false when that GiB is in
 * use (a machine with RAM there). */
static bool selftest_window_holes(uint64_t pa)
{
    uint64_t va = METADATA_WINDOW_BASE + METADATA_WINDOW_BYTES - PAGE_SIZE_1G;
    uint64_t page = va + 5 * PAGE_SIZE_2M + 7 * PAGE_SIZE_4K;
    uint64_t zero = plat_virt_to_phys(hole_zero);
    char err[200];
    if (paging_is_mapped(va) || paging_is_mapped(page))
        return false;
    if (!plat_metadata_map_zero(va, PAGE_SIZE_1G, selftest_table, NULL, err, sizeof err))
        PANIC("test_paging: %s", err);
    selftest_expect(page, zero, false, "a page of a hole");
    if (!plat_metadata_map(page, pa, PAGE_SIZE_4K, selftest_table, NULL, err, sizeof err))
        PANIC("test_paging: %s", err);
    selftest_expect(page, pa, true, "a window page mapped into a hole");
    selftest_expect(page + PAGE_SIZE_4K, zero, false, "its neighbour in the hole");
    selftest_expect(page + PAGE_SIZE_2M, zero, false, "the hole's next 2 MiB");
    selftest_expect(va, zero, false, "the hole's first page");
    for (unsigned i = 0; i < ENTRIES; i++)
        if (hole_pt[i] != (zero | PTE_P) || hole_pd[i] != (plat_virt_to_phys(hole_pt) | PTE_P))
            PANIC("test_paging: the shared hole tables were written (entry %u)", i);
    const volatile uint64_t *hole = (const volatile uint64_t *)(page + PAGE_SIZE_4K);
    if (*(const volatile uint64_t *)page != *(uint64_t *)plat_phys_to_virt(pa) || hole[0] != 0 ||
        hole[ENTRIES - 1] != 0)
        PANIC("test_paging: the window page or the hole beside it reads wrong data");
    plat_irqstate_t irq = spin_lock_irqsave(&paging_lock);
    set_entry_from(va, 3, 0, NULL);
    write_cr3(read_cr3());
    spin_unlock_irqrestore(&paging_lock, irq);
    return true;
}

void paging_selftest(const struct mb2_info *mi)
{
    uint64_t pa = selftest_page(mi);
    if (pa == 0)
        PANIC("test_paging: no usable 2 MiB page to test with");
    uint64_t *before = plat_phys_to_virt(pa - PAGE_SIZE_4K);
    uint64_t *page = plat_phys_to_virt(pa);
    uint64_t *after = plat_phys_to_virt(pa + PAGE_SIZE_4K);
    uint64_t e;
    int level_before;
    lookup((uint64_t)page, &e, &level_before);
    *before = 0x1111111111111111ul;
    *page = 0x2222222222222222ul;
    *after = 0x3333333333333333ul;

    volatile uint64_t *mmio = paging_map_mmio(pa, sizeof(uint64_t));
    int level;
    if ((uint64_t)mmio != (uint64_t)page || !lookup((uint64_t)mmio, &e, &level) || level != 1 ||
        (e & (PTE_PCD | PTE_PWT)) != (PTE_PCD | PTE_PWT))
        PANIC("test_paging: 0x%lx is not an uncached 4 KiB page after paging_map_mmio "
              "(entry 0x%lx, level %d)", pa, e, level);
    check_mapping((uint64_t)page, pa, "uncached page");
    check_mapping((uint64_t)before, pa - PAGE_SIZE_4K, "page below the uncached one");
    check_mapping((uint64_t)after, pa + PAGE_SIZE_4K, "page above the uncached one");
    if (lookup((uint64_t)before, &e, &level) && (e & PTE_PCD))
        PANIC("test_paging: the neighbour of the uncached page became uncached too");
    if (*before != 0x1111111111111111ul || *mmio != 0x2222222222222222ul ||
        *after != 0x3333333333333333ul)
        PANIC("test_paging: data changed when the mapping was split");

    /* A device: the local APIC's version register, through an uncached mapping. */
    uint64_t apic_pa = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;
    volatile uint32_t *apic = paging_map_mmio(apic_pa, PAGE_SIZE_4K);
    uint32_t version = apic[APIC_REG_VERSION / 4];
    if ((version & 0xff) == 0 || (version & 0xff) == 0xff)
        PANIC("test_paging: local APIC at 0x%lx reads version 0x%x", apic_pa, version);

    /* Give the RAM page back its write-back mapping. */
    plat_irqstate_t irq = spin_lock_irqsave(&paging_lock);
    map_page((uint64_t)page, pa, 1, PTE_P | PTE_W);
    write_cr3(read_cr3());
    spin_unlock_irqrestore(&paging_lock, irq);
    bool holes = selftest_window_holes(pa);
    kprintf("paging: self-test passed: uncached 4 KiB page at 0x%lx split from a %s page, "
            "neighbours and data intact; local APIC at 0x%lx version 0x%x; %s\n",
            pa, level_before == 3 ? "1 GiB" : "2 MiB", apic_pa, version,
            holes ? "a metadata window hole shared, copied on write, read-only"
                  : "metadata window holes not tested (its last GiB is in use)");
}
