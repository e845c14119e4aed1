/*
 * acpi.c - ACPI tables for the boot CPU's own devices (see acpi.h).
 *
 * The tables are physical memory.  The direct map covers every region of
 * the memory map (ACPI and reserved regions included), so a table is
 * normally read there; one it does not cover (firmware that left it out of
 * the map) is mapped uncached with paging_map_mmio: slow but correct for a
 * few bytes read once.
 */
#include "arch/x86_64/acpi.h"

#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "kernel/console.h"
#include "lib/acpi_tables.h"
#include "plat/platform.h"

static struct acpi_tables tables;
static bool scanned;
static struct acpi_fadt fadt;
static bool fadt_valid;
static char msg[ACPI_MSG_LEN];

static bool direct_mapped(uint64_t pa, size_t len)
{
    for (uint64_t p = pa & ~(PAGE_SIZE - 1); p < pa + len; p += PAGE_SIZE)
        if (!paging_is_mapped(DIRECT_MAP_BASE + p))
            return false;
    return true;
}

const void *acpi_map_phys(uint64_t pa, size_t len)
{
    if (len == 0 || pa + len < pa || pa + len > PAGING_MAX_PHYS)
        return NULL;
    if (direct_mapped(pa, len))
        return plat_phys_to_virt(pa);
    return (const void *)paging_map_mmio(pa, len);
}

static const void *map_cb(void *ctx, uint64_t pa, size_t len)
{
    (void)ctx;
    return acpi_map_phys(pa, len);
}

void acpi_print_lines(const char *text)
{
    const char *line = text;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            kprintf("%.*s\n", (int)(p - line), line);
            line = p + 1;
        }
    }
    if (*line)
        kprintf("%s\n", line);
}

void acpi_init(const struct mb2_info *mi)
{
    if (mi->rsdp)
        scanned = acpi_scan(mi->rsdp, mi->rsdp_len, map_cb, NULL, &tables);
    uint32_t len;
    const void *t = acpi_table("FACP", &len);
    if (t == NULL)
        return;
    msg[0] = '\0';
    fadt_valid = acpi_parse_fadt(t, len, &fadt, msg, sizeof msg);
    acpi_print_lines(msg);
}

const void *acpi_table(const char *sig, uint32_t *len)
{
    if (!scanned)
        return NULL;
    const struct acpi_table *t = acpi_find(&tables, sig);
    if (t == NULL)
        return NULL;
    *len = t->len;
    return acpi_map_phys(t->pa, t->len);
}

const struct acpi_fadt *acpi_fadt(void)
{
    return fadt_valid ? &fadt : NULL;
}
