/*
 * acpi_boot.h - the firmware's ACPI tables, found once per boot.
 *
 * The tables are physical memory.  The direct map covers every region of
 * the memory map (ACPI and reserved regions included), so a table is
 * normally read there; one the direct map does not cover (firmware that
 * left it out of the map) is mapped uncached with paging_map_mmio, which is
 * slow but correct for a few kilobytes read once.  Needs the direct map
 * (paging_init); the SRAT is read before the frame allocator exists, the
 * MADT after.
 */
#ifndef ARCH_X86_64_ACPI_BOOT_H
#define ARCH_X86_64_ACPI_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/acpi_tables.h"
#include "lib/mb2.h"

/* Scans from the boot loader's RSDP on the first call (printing the
 * "acpi:" lines: problems, then the table list) and returns the result;
 * NULL when there is no RSDP or no usable root table. */
const struct acpi_tables *acpi_boot_tables(const struct mb2_info *mi);

/* A readable pointer to [pa, pa + len), or NULL. */
const void *acpi_boot_map(uint64_t pa, size_t len);

/* Prints a message buffer line by line (each already starts "acpi: "). */
void acpi_boot_print(const char *text);

#endif /* ARCH_X86_64_ACPI_BOOT_H */
