/*
 * numa.h - the machine's NUMA topology (SRAT/SLIT, arch/x86_64/srat.c) for
 * the rest of the kernel: printed at boot, used to cut the usable memory at
 * node boundaries before the frame allocator builds its arenas, and
 * summarised for meta.csv.
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
 * another's begins, so no range spans two nodes.  The frame allocator
 * merges touching ranges into one arena, so the first frame after each cut
 * is left out: a hole the arenas cannot bridge.  Writes at most max
 * ranges; returns the new count (n when nothing is split or no room). */
unsigned numa_split_ranges(struct phys_range *r, unsigned n, unsigned max);

/* One line for meta.csv, nodes by CPU index (after smp_init):
 * "node0:cpus=0-3:mem_mib=512:dist=10/20;node1:...", "" without an SRAT. */
const char *numa_summary(void);

#endif /* ARCH_X86_64_NUMA_H */
