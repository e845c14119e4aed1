/*
 * madt.h - the ACPI MADT ("APIC" table): which CPUs exist and where their
 * local APICs are (ACPI 6.5 section 5.2.12).
 *
 * x86 platform code that builds on the host too (no register is touched):
 * the kernel parses a copy of the firmware's table (arch/x86_64/smp/
 * smp_madt.c), the host tests feed it crafted ones.  The table's header and
 * checksum are checked with acpi_table_check() and its records walked with
 * acpi_next_record() (lib/acpi_tables.h) against this file's table of the
 * record types it reads and their minimum lengths; this file adds the rules
 * for the CPUs listed:
 *
 *   - types 0 (Local APIC, 8-bit id) and 9 (Local x2APIC, 32-bit id) list
 *     CPUs; type 5 overrides the local APIC address; the others (I/O APICs,
 *     interrupt overrides, NMI routing) are counted and skipped, since the
 *     kernel delivers no device interrupts;
 *   - a CPU neither enabled nor online-capable is absent; an online-capable
 *     one is a hot-plug slot (kept, marked not enabled);
 *   - a type 0 entry with id 0xff is a placeholder; an enabled one is
 *     reported and ignored, as is an APIC id listed twice;
 *   - at most MADT_MAX_CPUS CPUs are kept, the rest counted as overflow.
 */
#ifndef ARCH_X86_64_MADT_H
#define ARCH_X86_64_MADT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MADT_HEADER_LEN 44 /* SDT header + local APIC address + flags */
#define MADT_MAX_CPUS 1024 /* entries kept; more are counted as dropped */

enum madt_type {
    MADT_LAPIC = 0,
    MADT_IOAPIC = 1,
    MADT_INT_OVERRIDE = 2,
    MADT_NMI_SOURCE = 3,
    MADT_LAPIC_NMI = 4,
    MADT_LAPIC_ADDR = 5,
    MADT_X2APIC = 9,
    MADT_X2APIC_NMI = 10,
};

/* Local APIC / x2APIC entry flags. */
#define MADT_ENABLED (1u << 0)
#define MADT_ONLINE_CAPABLE (1u << 1) /* hot-pluggable; not running now */

/* An xAPIC id of 0xff in a type 0 entry means "no such CPU". */
#define MADT_XAPIC_ID_NONE 0xffu

struct madt_cpu {
    uint32_t apic_id;
    uint32_t uid;      /* ACPI processor UID */
    bool x2apic_entry; /* listed by a type 9 entry */
    bool enabled;      /* usable now (else online-capable only) */
};

struct madt {
    uint64_t lapic_pa;     /* from the header, or the type 5 override */
    bool lapic_overridden;
    uint32_t flags;        /* MADT flags (bit 0: PC-AT compatible 8259s) */
    struct madt_cpu cpu[MADT_MAX_CPUS]; /* enabled or online-capable, table order */
    unsigned cpu_count;
    unsigned enabled;          /* of cpu_count, enabled now */
    unsigned disabled;         /* entries neither enabled nor online-capable: ignored */
    unsigned dropped;          /* duplicates, invalid ids, beyond MADT_MAX_CPUS */
    unsigned overflow;         /* of dropped, beyond MADT_MAX_CPUS */
    unsigned records;          /* records of any type */
};

/* Validates (header, checksum, every record's length, per-type minimum
 * length) and extracts the CPUs.  avail: readable bytes at table.  False (a
 * message naming the offset, type and length) when the table cannot be
 * trusted; true with notes (duplicates, ignored ids) in msg otherwise. */
bool madt_parse(const void *table, size_t avail, struct madt *out, char *msg, size_t msglen);

#endif /* ARCH_X86_64_MADT_H */
