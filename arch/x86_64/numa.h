/*
 * numa.h - the machine's NUMA topology (SRAT/SLIT, arch/x86_64/srat.c) for
 * the rest of the kernel: printed at boot, used to cut the usable memory at
 * node boundaries and name each piece's node before the frame allocator
 * builds its arenas, the CPUs' nodes and distances for the allocator's
 * fallback order once the CPUs are online, and summarised for meta.csv.
 *
 * A machine without an SRAT is one node, reported as "no SRAT".  An SRAT or
 * SLIT that fails validation stops the run (exit check-failed), like an
 * invalid MADT: figures labelled with a topology the machine does not have
 * would mislead.
 */
#ifndef ARCH_X86_64_NUMA_H
#define ARCH_X86_64_NUMA_H

#include <stddef.h>

#include "lib/mb2.h"
#include "lib/phys_range.h"

/* Reads and prints the topology; after paging_init, before mm_init. */
void numa_init(const struct mb2_info *mi);

/* Nodes the SRAT lists (0: no SRAT). */
unsigned numa_nodes(void);

/* Splits ranges r[0..n) where an SRAT memory range of one node ends and
 * another's begins, so no range spans two nodes, and writes each range's
 * node to node[] (0 without an SRAT, and for memory the SRAT does not
 * place).  The frame allocator keeps ranges of different nodes apart.
 * Writes at most max ranges (more stops the run: a map it cannot place
 * would mislabel memory); returns the new count. */
unsigned numa_split_ranges(struct phys_range *r, unsigned *node, unsigned n, unsigned max);

/* SLIT distance between nodes (10 / 20 without a SLIT). */
unsigned numa_distance(unsigned from, unsigned to);

/* The node of CPU index cpu (after smp_init; 0 without an SRAT), or -1
 * when the SRAT does not list it. */
int numa_cpu_node(unsigned cpu);

/* One line for meta.csv, nodes by CPU index (after smp_init):
 * "node0:cpus=0-3:mem_mib=512:dist=10/20;node1:...", "" without an SRAT. */
const char *numa_summary(void);

#endif /* ARCH_X86_64_NUMA_H */
