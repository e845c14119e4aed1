/*
 * srat.h - NUMA topology from the ACPI SRAT (System Resource Affinity Table,
 * ACPI 6.5 section 5.2.16) and SLIT (System Locality Information Table,
 * section 5.2.17).
 *
 * x86 platform code that builds on the host too, like madt.c: the kernel
 * parses the firmware's tables (arch/x86_64/numa.c), the host tests feed it
 * crafted ones.  Header and checksum are checked with acpi_table_check(),
 * records walked with acpi_next_record() (lib/acpi_tables.h) against the
 * table of record types read below and their minimum lengths.
 *
 * SRAT records read (others are counted and skipped):
 *   type 0  Processor Local APIC affinity: 8-bit APIC id, domain bits 0-7
 *           in byte 2 and 8-31 in bytes 9-11;
 *   type 1  Memory affinity: 32-bit domain, 64-bit base and length;
 *   type 2  Processor Local x2APIC affinity: 32-bit domain and APIC id.
 * Entries without the Enabled flag are skipped (QEMU ends its SRAT with an
 * all-zero memory entry).  The table is rejected, with a message naming the
 * offset, when a record is shorter than its type, a proximity domain is
 * SRAT_MAX_DOMAINS or more, two enabled memory ranges overlap, a range
 * wraps, or an APIC id is listed twice.  Proximity domains become dense
 * node numbers in ascending domain order.
 *
 * The SLIT, when there is one, must list at least every domain the SRAT
 * uses, hold 10 on its diagonal (a node's distance to itself, by
 * definition) and more than 10 elsewhere; it gives the distances between
 * nodes.  Without a SLIT a node is 10 from itself and 20 from the others
 * (the ACPI default remote distance, as Linux assumes).
 */
#ifndef ARCH_X86_64_SRAT_H
#define ARCH_X86_64_SRAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRAT_HEADER_LEN 48     /* SDT header + table revision + 8 reserved bytes */
#define SLIT_HEADER_LEN 44     /* SDT header + 64-bit locality count */
#define SRAT_MAX_DOMAINS 64    /* proximity domains (and so nodes) accepted */
#define SRAT_MAX_CPUS 1024
#define SRAT_MAX_MEM 128       /* enabled memory ranges kept */
#define SLIT_LOCAL 10          /* distance of a node to itself */
#define SLIT_REMOTE_DEFAULT 20 /* without a SLIT */

enum srat_type {
    SRAT_CPU_APIC = 0,
    SRAT_MEMORY = 1,
    SRAT_CPU_X2APIC = 2,
};

#define SRAT_ENABLED (1u << 0)
#define SRAT_MEM_HOTPLUG (1u << 1)
#define SRAT_MEM_NONVOLATILE (1u << 2)

struct srat_cpu {
    uint32_t apic_id;
    unsigned node;
};

struct srat_mem {
    uint64_t base, end;
    unsigned node;
    bool hotplug;
};

struct numa_topology {
    unsigned nodes;                     /* 0: no SRAT */
    uint32_t domain[SRAT_MAX_DOMAINS];  /* node -> proximity domain */
    struct srat_cpu cpu[SRAT_MAX_CPUS]; /* table order */
    unsigned cpu_count;
    struct srat_mem mem[SRAT_MAX_MEM];  /* table order */
    unsigned mem_count;
    unsigned disabled;                  /* entries skipped for want of the Enabled flag */
    unsigned other_records;             /* types not read (GICC, GIC ITS, generic ...) */
    bool slit;                          /* distances from a SLIT (else the defaults) */
    uint8_t distance[SRAT_MAX_DOMAINS][SRAT_MAX_DOMAINS]; /* by node */
};

/* Parses the SRAT (avail readable bytes at table) into *out.  False, with a
 * message, when it cannot be trusted (see above); true with notes
 * otherwise.  Distances are the defaults until srat_parse_slit(). */
bool srat_parse(const void *table, size_t avail, struct numa_topology *out, char *msg,
                size_t msglen);

/* Reads the SLIT's distances into a topology srat_parse() filled.  False,
 * with a message, for a malformed SLIT or one that does not cover every
 * proximity domain of the SRAT (the topology keeps the default distances). */
bool srat_parse_slit(const void *table, size_t avail, struct numa_topology *topo, char *msg,
                     size_t msglen);

/* The node of a CPU by APIC id, or -1 when the SRAT does not list it. */
int srat_cpu_node(const struct numa_topology *topo, uint32_t apic_id);

/* Bytes of memory the SRAT gives node (hot-pluggable ranges excluded). */
uint64_t srat_node_bytes(const struct numa_topology *topo, unsigned node);

#endif /* ARCH_X86_64_SRAT_H */
