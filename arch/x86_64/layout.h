/*
 * layout.h - the kernel's virtual address layout, shared by assembly and C.
 *
 *   0x0000000000000000 .. 1 GiB    identity map (page 0 left unmapped so NULL
 *                                  faults); the AP trampoline runs here
 *   0xffff800000000000 + pa        direct map of every region of the memory
 *                                  map (plat_phys_to_virt)
 *   0xffffc00000000000 + 64 * pfn  the frame-metadata window (mm/init.c):
 *                                  64 GiB reserved, one 64-byte slot per PFN
 *                                  below PAGING_MAX_PHYS, backed only where
 *                                  RAM is (plat_metadata_map in paging.c),
 *                                  the holes below the last backed page one
 *                                  zero page, read-only (_map_zero)
 *   0xffffffff80000000 + pa        the kernel image (-mcmodel=kernel), loaded
 *                                  by GRUB at physical 1 MiB
 */
#ifndef ARCH_LAYOUT_H
#define ARCH_LAYOUT_H

#define KERNEL_VMA 0xffffffff80000000
#define KERNEL_LMA 0x100000
#define DIRECT_MAP_BASE 0xffff800000000000
#define METADATA_WINDOW_BASE 0xffffc00000000000
#define METADATA_WINDOW_BYTES 0x1000000000 /* 64 GiB: (4 TiB >> 12) * 64 */
#define IDENTITY_MAP_END 0x40000000 /* 1 GiB */

/* The boot-time page tables map the first EARLY_MAP_GIB GiB identically, in
 * the direct map and (first 2 GiB) at KERNEL_VMA, so that C code can read the
 * Multiboot2 structure wherever GRUB put it below 4 GiB. */
#define EARLY_MAP_GIB 4

#define BOOT_STACK_SIZE 0x4000 /* 16 KiB for the BSP, above an unmapped guard page */

#ifndef __ASSEMBLER__
extern char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[]; /* boot.S */
#endif

#endif /* ARCH_LAYOUT_H */
