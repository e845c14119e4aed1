/*
 * boot.c - the Multiboot2 handover and the kernel command line.
 */
#include <stdint.h>

#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "kernel/panic.h"
#include "plat/platform.h"

/* Larger than GRUB ever builds on BIOS (a few KiB); a bigger total_size
 * means garbage in EBX rather than a real structure. */
#define MB2_INFO_MAX_SIZE (1u << 20)
#define MB2_INFO_ALIGN 8
#define MIB (1024 * 1024)
#define KIB 1024

extern char kernel_phys_start[], kernel_phys_end[]; /* linker.ld */

static struct mb2_info mb2;
static struct phys_range info_range;
static struct cmdline cmdline;

void boot_read_info(uint32_t magic, uint64_t info_pa, uint64_t early_end)
{
    if (magic != MB2_BOOTLOADER_MAGIC)
        panic("boot: not started by a Multiboot2 loader: EAX=0x%x, expected 0x%x", magic,
              MB2_BOOTLOADER_MAGIC);
    if (info_pa == 0 || info_pa % MB2_INFO_ALIGN != 0)
        panic("boot: Multiboot2 information at 0x%lx is not 8-byte aligned", info_pa);
    if (info_pa + 8 > early_end)
        panic("boot: Multiboot2 information at 0x%lx lies above the boot mapping (%lu GiB)",
              info_pa, early_end >> 30);
    const uint32_t *header = plat_phys_to_virt(info_pa);
    uint32_t total = header[0];
    if (total < 8 || total > MB2_INFO_MAX_SIZE || info_pa + total > early_end)
        panic("boot: Multiboot2 information at 0x%lx has an implausible total_size %u", info_pa,
              total);
    char err[MB2_ERR_LEN];
    if (!mb2_parse(header, total, &mb2, err, sizeof err))
        panic("boot: malformed Multiboot2 information: %s", err);
    info_range = (struct phys_range){info_pa, info_pa + total};
    kprintf("boot: loader \"%s\", Multiboot2 information at 0x%lx (%u bytes), %u memory regions\n",
            mb2.bootloader, info_pa, total, mb2.region_count);
}

void boot_read_cmdline(void)
{
    kprintf("cmdline: %s\n", mb2.cmdline);
    if (!cmdline_parse(&cmdline, mb2.cmdline)) {
        kprintf("cmdline: cannot parse the kernel command line:\n%s", cmdline.error);
        kernel_exit(EXIT_CONFIG_ERROR);
    }
}

void boot_finish_cmdline(void)
{
    if (cmdline_finish(&cmdline))
        return;
    kprintf("cmdline: %u problem(s) with the kernel command line:\n%s", cmdline.errors,
            cmdline.error);
    kernel_exit(EXIT_CONFIG_ERROR);
}

const struct mb2_info *boot_mb2(void)
{
    return &mb2;
}

struct cmdline *boot_cmdline(void)
{
    return &cmdline;
}

struct phys_range boot_kernel_image(void)
{
    return (struct phys_range){(uint64_t)kernel_phys_start, (uint64_t)kernel_phys_end};
}

struct phys_range boot_info_range(void)
{
    return info_range;
}

unsigned boot_reserved_ranges(struct phys_range *out, unsigned max)
{
    unsigned n = 0;
    if (n < max)
        out[n++] = boot_kernel_image();
    if (n < max)
        out[n++] = info_range;
    for (unsigned i = 0; i < mb2.module_count && n < max; i++)
        out[n++] = (struct phys_range){mb2.module[i].start, mb2.module[i].end};
    return n;
}

/* Usable regions sorted by address, touching ones joined: a UEFI map lists
 * one region per EFI descriptor, and neighbours (loader data, boot services
 * memory, free memory) all arrive as usable.  Joining loses nothing and
 * keeps the allocator's range count near the number of real holes. */
unsigned boot_usable_ranges(struct phys_range *out, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < mb2.region_count && n < max; i++) {
        const struct mb2_region *r = &mb2.region[i];
        if (r->type == MB2_MEM_USABLE && r->len > 0)
            out[n++] = (struct phys_range){r->base, r->base + r->len};
    }
    return phys_ranges_sort_join(out, n); /* usable regions never overlap (mb2_parse) */
}

static const char *region_type_name(uint32_t type)
{
    switch (type) {
    case MB2_MEM_USABLE:
        return "usable";
    case MB2_MEM_RESERVED:
        return "reserved";
    case MB2_MEM_ACPI_RECLAIMABLE:
        return "acpi";
    case MB2_MEM_NVS:
        return "acpi-nvs";
    case MB2_MEM_BAD:
        return "bad";
    default:
        return "other";
    }
}

void boot_print_memory(void)
{
    unsigned usable_regions = 0;
    for (unsigned i = 0; i < mb2.region_count; i++)
        usable_regions += mb2.region[i].type == MB2_MEM_USABLE;
    uint64_t usable = mb2_usable_bytes(&mb2);
    uint64_t end = mb2_max_usable_end(&mb2);
    kprintf("mem: usable %lu MiB in %u regions, highest usable address 0x%lx\n", usable / MIB,
            usable_regions, end ? end - 1 : 0);
    for (unsigned i = 0; i < mb2.region_count; i++) {
        const struct mb2_region *r = &mb2.region[i];
        uint64_t last = r->len ? r->base + r->len - 1 : r->base;
        kprintf("mem:   0x%016lx-0x%016lx %-8s %10lu KiB\n", r->base, last,
                region_type_name(r->type), r->len / KIB);
    }
}
