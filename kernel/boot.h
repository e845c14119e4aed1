/*
 * boot.h - what the boot code found, for the rest of the kernel: the parsed
 * Multiboot2 information, the command line, and the physical ranges the
 * frame allocator must not hand out.
 *
 * All of it is valid after boot_read_info() and boot_read_cmdline(), which
 * kmain() calls before anything else needs them.  The Multiboot2 structure
 * itself is not copied (mb2_info points into it for the command line and the
 * RSDP), so its range must stay reserved.
 */
#ifndef KERNEL_BOOT_H
#define KERNEL_BOOT_H

#include <stdint.h>

#include "lib/cmdline.h"
#include "lib/mb2.h"
#include "lib/phys_range.h"

/* Validates the loader's handover (magic, size, inside the boot mapping
 * that ends at early_end) and parses the Multiboot2 information; panics
 * naming the problem when it is malformed. */
void boot_read_info(uint32_t magic, uint64_t info_pa, uint64_t early_end);

/* Splits the command line; exits with EXIT_CONFIG_ERROR on a syntax error. */
void boot_read_cmdline(void);

/* Every module has read its keys: reports unknown keys and bad values and
 * exits with EXIT_CONFIG_ERROR if there was any. */
void boot_finish_cmdline(void);

const struct mb2_info *boot_mb2(void);
struct cmdline *boot_cmdline(void);

/* The kernel image, .bss included (linker symbols), and the Multiboot2
 * structure. */
struct phys_range boot_kernel_image(void);
struct phys_range boot_info_range(void);

/* Ranges to keep out of the allocator: the kernel image, the Multiboot2
 * structure and every boot module.  Returns how many were written (<= max). */
unsigned boot_reserved_ranges(struct phys_range *out, unsigned max);

/* The usable regions of the memory map sorted by address, touching regions
 * joined (the allocator rounds them inward).  Returns how many were written
 * (<= max; max >= MB2_MAX_REGIONS never drops one). */
unsigned boot_usable_ranges(struct phys_range *out, unsigned max);

/* Prints the memory summary line
 *   mem: usable <N> MiB in <R> regions, highest usable address 0x<hex>
 * (boot tests parse it) and one line per memory-map region. */
void boot_print_memory(void);

#endif /* KERNEL_BOOT_H */
