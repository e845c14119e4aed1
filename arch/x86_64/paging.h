/*
 * paging.h - the kernel's page tables.
 *
 * paging_init() replaces the boot-time tables (boot.S) with the final ones:
 *   - a direct map at DIRECT_MAP_BASE of every region the memory map reports
 *     (each rounded out to 2 MiB), with 1 GiB pages where CPUID allows and a
 *     whole aligned GiB is covered, 2 MiB pages elsewhere;
 *   - the identity map of the low 1 GiB without page 0 (NULL faults);
 *   - the kernel image at KERNEL_VMA (shares the identity map's tables).
 * Page-table pages come from a static pool inside the kernel image (enough
 * for the 1 GiB-page direct map of PAGING_MAX_PHYS), and beyond it from RAM:
 * a run of usable frames below the boot mapping, outside everything the
 * boot reserved, sized for the worst case before the first table is built
 * and kept from the frame allocator (paging_reserved_range).  A memory map
 * with RAM above PAGING_MAX_PHYS (or test_paging_limit_gib=) is a failed
 * check: the message names the limit and the run stops with exit 35.
 */
#ifndef ARCH_PAGING_H
#define ARCH_PAGING_H

#include "arch/x86_64/x86.h"

#define PTE_P X86_BIT(0)
#define PTE_W X86_BIT(1)
#define PTE_PWT X86_BIT(3)
#define PTE_PCD X86_BIT(4)
#define PTE_PS X86_BIT(7) /* 2 MiB (PD) or 1 GiB (PDPT) page */

#define PAGE_SIZE_2M 0x200000
#define PAGE_SIZE_1G 0x40000000

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

#include "lib/cmdline.h"
#include "lib/mb2.h"
#include "lib/phys_range.h"

#define PTE_ADDR_MASK 0x000ffffffffff000ul
/* Highest physical address the direct map can cover (documented limit):
 * 4 TiB, eight PML4 slots of the 64 TiB direct-map half. */
#define PAGING_MAX_PHYS ((uint64_t)4 << 40)

/* Reads test_paging_limit_gib= (a lower limit, to prove the check), builds
 * and loads the final page tables from the memory map.  RAM above the limit
 * stops the run (exit check-failed) with a message; an exhausted table
 * supply is a kernel bug (panic). */
void paging_init(const struct mb2_info *mi, struct cmdline *cl);

/* The RAM frames paging_init took for page tables ({0, 0} when it took
 * none): the frame allocator must never hand them out. */
struct phys_range paging_reserved_range(void);

/* Maps [pa, pa + len) uncached (PCD|PWT) in the direct map, splitting large
 * pages where needed, and returns its direct-map address.  For device
 * registers (LAPIC, IOAPIC).  Changes only this CPU's TLB: call it before
 * other CPUs touch the range. */
volatile void *paging_map_mmio(uint64_t pa, uint64_t len);

/* true when va is mapped by the current page tables. */
bool paging_is_mapped(uint64_t va);

/* test_paging=1: maps a RAM page uncached (splitting a large page), checks
 * the split kept every translation and the data, reads the local APIC's
 * version through paging_map_mmio, restores the page; panics on a failure. */
void paging_selftest(const struct mb2_info *mi);

/* Bytes the direct map covers (sum of mapped ranges) and the page-table pages
 * used, for the boot log. */
uint64_t paging_direct_map_bytes(void);
unsigned paging_pool_used(void);

#endif /* __ASSEMBLER__ */
#endif /* ARCH_PAGING_H */
