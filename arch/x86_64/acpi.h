/*
 * acpi.h - the ACPI tables the x86 side reads before the other CPUs start:
 * the serial console (SPCR), the reset register and PM timer (FADT), the
 * HPET.  acpi_init() scans the tables once the direct map exists; the
 * tables are parsed by lib/acpi_devices.c, which validates every field.
 */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/acpi_devices.h"
#include "lib/mb2.h"

/* Scans RSDP -> RSDT/XSDT and the tables they list, quietly (smp_init
 * prints the table list and any invalid table later), then parses the
 * FADT; problems with the tables read here are printed as "acpi:" lines.
 * A machine without ACPI is not an error here. */
void acpi_init(const struct mb2_info *mi);

/* [pa, pa + len) readable: the direct map where it covers the range, an
 * uncached mapping otherwise; NULL when it cannot be mapped. */
const void *acpi_map_phys(uint64_t pa, size_t len);

/* The first valid table with this signature, mapped, its length in *len;
 * NULL when there is none. */
const void *acpi_table(const char *sig, uint32_t *len);

/* The FADT's devices (acpi_init parsed it); NULL without a valid FADT. */
const struct acpi_fadt *acpi_fadt(void);

/* Prints a message buffer of "acpi: ..." lines line by line. */
void acpi_print_lines(const char *text);

#endif /* ARCH_X86_64_ACPI_H */
