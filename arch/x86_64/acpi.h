/*
 * acpi.h - the firmware's ACPI tables on x86_64, found once per boot and
 * read by every part that needs one: the NUMA topology (SRAT, SLIT), the
 * serial console (SPCR), the reset register and PM timer (FADT), the HPET,
 * the CPUs (MADT).  The tables are validated by lib/acpi_tables.c (the walk)
 * and their parsers (lib/acpi_devices.c, arch/x86_64/madt.c, srat.c).
 *
 * The tables are physical memory.  The direct map covers every region of
 * the memory map (ACPI and reserved regions included), so a table is
 * normally read there; one the direct map does not cover (firmware that
 * left it out of the map) is mapped uncached with paging_map_mmio: slow but
 * correct for a few kilobytes read once.  Everything here needs the direct
 * map (paging_init).
 */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/acpi_devices.h"
#include "lib/acpi_tables.h"
#include "lib/mb2.h"

/* Scans from the boot loader's RSDP on the first call, printing the
 * "acpi:" lines (problems, then the table list), and returns the result;
 * NULL when there is no RSDP or no usable root table (a machine without
 * ACPI is not an error here). */
const struct acpi_tables *acpi_tables_of(const struct mb2_info *mi);

/* The scan (if not done yet), then the FADT parsed; problems with it are
 * printed as "acpi:" lines. */
void acpi_init(const struct mb2_info *mi);

/* [pa, pa + len) readable: the direct map where it covers the range, an
 * uncached mapping otherwise; NULL when it cannot be mapped. */
const void *acpi_map_phys(uint64_t pa, size_t len);

/* The first valid table with this signature, mapped, its length in *len;
 * NULL when there is none (or no scan yet). */
const void *acpi_table(const char *sig, uint32_t *len);

/* The FADT's devices (acpi_init parsed it); NULL without a valid FADT. */
const struct acpi_fadt *acpi_fadt(void);

/* Prints a message buffer of "acpi: ..." lines line by line. */
void acpi_print_lines(const char *text);

#endif /* ARCH_X86_64_ACPI_H */
