/*
 * mb2.h - validating parser for the Multiboot2 boot information structure.
 *
 * The boot information is input, not truth: every tag's size is checked
 * against the total size and its type's minimum, the memory map's entry size
 * and count, strings for termination inside their tag, and RSDP tags for
 * length.  A malformed structure yields false and one error line naming the
 * tag (type, offset) and the problem.  Portable: the kernel and the host
 * tests (crafted byte buffers) use the same code.
 *
 * Also rejected, because accepting them would lose data or trust a guess:
 * more than MB2_MAX_REGIONS regions or MB2_MAX_MODULES modules; a second
 * cmdline, bootloader, mmap, tag 14 or tag 15; a region of length 0 or whose
 * end wraps past 2^64; usable RAM overlapping any other region; a module with
 * mod_start >= mod_end; an RSDP whose signature or checksum (tag 14: over 20
 * bytes; tag 15: also the extended checksum over its length field, >= 36) is
 * wrong.  Unknown tag types are skipped, as the specification asks.
 * Error form (one line, no '\n'):
 *   multiboot2: tag 6 (mmap) at offset 0x48: entry_size 20 is smaller than 24
 */
#ifndef LIB_MB2_H
#define LIB_MB2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB2_BOOTLOADER_MAGIC 0x36d76289u

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_BOOTLOADER 2
#define MB2_TAG_MODULE 3
#define MB2_TAG_MMAP 6
#define MB2_TAG_ACPI_OLD 14
#define MB2_TAG_ACPI_NEW 15

/* UEFI firmware hands over long maps (one region per EFI descriptor: OVMF
 * gives over 100, servers several hundred); the parser's storage is static. */
#define MB2_MAX_REGIONS 1024
#define MB2_MAX_MODULES 16
#define MB2_ERR_LEN 256

enum mb2_mem_type {
    MB2_MEM_USABLE = 1,
    MB2_MEM_RESERVED = 2,
    MB2_MEM_ACPI_RECLAIMABLE = 3,
    MB2_MEM_NVS = 4,
    MB2_MEM_BAD = 5,
};

struct mb2_region {
    uint64_t base;
    uint64_t len;
    uint32_t type; /* enum mb2_mem_type; other values are treated as reserved */
};

struct mb2_module {
    uint64_t start, end; /* physical, [start, end) */
    const char *cmdline;
};

struct mb2_info {
    uint64_t total_size;           /* of the whole structure, from its header */
    const char *cmdline;           /* "" when the tag is absent */
    const char *bootloader;        /* "" when the tag is absent */
    struct mb2_region region[MB2_MAX_REGIONS];
    unsigned region_count;
    struct mb2_module module[MB2_MAX_MODULES];
    unsigned module_count;
    const void *rsdp;              /* points into the structure; NULL when absent */
    size_t rsdp_len;
    unsigned rsdp_tag;             /* 14 (RSDP v1), 15 (v2+), 0 none; 15 wins when both */
};

/* info: the structure (8-byte aligned); avail: bytes known readable (the
 * kernel passes the header's total_size bound, tests the buffer size).
 * Strings and rsdp point into the structure, which must stay mapped.  *out
 * is reset first and only meaningful when true is returned; err may be NULL
 * when errlen is 0. */
bool mb2_parse(const void *info, size_t avail, struct mb2_info *out, char *err, size_t errlen);

/* Sum of usable bytes and the highest end address of usable RAM. */
uint64_t mb2_usable_bytes(const struct mb2_info *mi);
uint64_t mb2_max_usable_end(const struct mb2_info *mi);

#endif /* LIB_MB2_H */
