/*
 * acpi.c - the firmware's ACPI tables, found once (see acpi.h).
 */
#include "arch/x86_64/acpi.h"

#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "kernel/console.h"
#include "plat/platform.h"

static struct acpi_tables tables;
static bool scanned, usable;
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

static void print_tables(void)
{
    char list[ACPI_MAX_TABLES * (ACPI_SIG_LEN + 1) + 1];
    size_t used = 0;
    for (unsigned i = 0; i < tables.count; i++) {
        const struct acpi_table *t = &tables.table[i];
        for (unsigned k = 0; k < ACPI_SIG_LEN; k++)
            list[used++] = t->sig[k];
        list[used++] = t->valid ? ' ' : '!'; /* '!': failed validation, ignored */
    }
    if (used > 0 && list[used - 1] == ' ')
        used--;
    list[used] = '\0';
    kprintf("acpi: RSDP rev %u (oem %s) -> %s at 0x%llx: %u tables (%u invalid): %s\n",
            tables.rsdp_revision, tables.oem_id, tables.xsdt ? "XSDT" : "RSDT",
            (unsigned long long)tables.root_pa, tables.count, tables.invalid, list);
}

const struct acpi_tables *acpi_tables_of(const struct mb2_info *mi)
{
    if (!scanned) {
        scanned = true;
        if (!mi->rsdp)
            return NULL;
        usable = acpi_scan(mi->rsdp, mi->rsdp_len, map_cb, NULL, &tables);
        acpi_print_lines(tables.msg);
        if (usable)
            print_tables();
    }
    return usable ? &tables : NULL;
}

void acpi_init(const struct mb2_info *mi)
{
    acpi_tables_of(mi);
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
    if (!usable)
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
