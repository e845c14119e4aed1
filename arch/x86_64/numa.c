/*
 * numa.c - the NUMA topology at boot (see numa.h).
 */
#include "arch/x86_64/numa.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/srat.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "lib/fmt.h"
#include "plat/platform.h"

#define SUMMARY_LEN 4096
#define LIST_LEN 256

static struct numa_topology topo;
static char msg[ACPI_MSG_LEN];
static char summary[SUMMARY_LEN];

static _Noreturn void bad_table(const char *which)
{
    acpi_print_lines(msg);
    kprintf("numa: the %s is invalid: cannot tell the NUMA topology; stopping "
            "(exit check-failed)\n", which);
    kernel_exit(EXIT_CHECK_FAILED);
}

/* Appends "a-b" or "a" to out for a run of consecutive values. */
static size_t add_run(char *out, size_t len, size_t used, uint32_t first, uint32_t last)
{
    if (used >= len)
        return used;
    const char *sep = used ? "," : "";
    int n = first == last ? fmt_snprintf(out + used, len - used, "%s%u", sep, first)
                          : fmt_snprintf(out + used, len - used, "%s%u-%u", sep, first, last);
    return n < 0 ? used : used + (size_t)n;
}

/* values[0..n) (ascending) as runs: "0-3,8,10-11". */
static void list_runs(char *out, size_t len, const uint32_t *values, unsigned n)
{
    size_t used = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n;) {
        unsigned j = i;
        while (j + 1 < n && values[j + 1] == values[j] + 1)
            j++;
        used = add_run(out, len, used, values[i], values[j]);
        i = j + 1;
    }
}

/* The APIC ids (by_cpu_index false) or dense CPU indices of node's CPUs,
 * ascending; returns how many. */
static unsigned node_cpus(unsigned node, bool by_cpu_index, uint32_t *out)
{
    unsigned n = 0;
    if (by_cpu_index) {
        const struct plat_smp_info *si = plat_smp_info();
        for (unsigned c = 0; c < si->cpus_online && c < PLAT_MAX_CPUS; c++)
            if (srat_cpu_node(&topo, si->apic_id[c]) == (int)node)
                out[n++] = c;
        return n;
    }
    for (unsigned i = 0; i < topo.cpu_count; i++) {
        if (topo.cpu[i].node != node)
            continue;
        unsigned k = n++; /* insertion sort: ids come in table order */
        for (; k > 0 && out[k - 1] > topo.cpu[i].apic_id; k--)
            out[k] = out[k - 1];
        out[k] = topo.cpu[i].apic_id;
    }
    return n;
}

static uint64_t node_mib(unsigned node)
{
    return (srat_node_bytes(&topo, node) + (1u << 19)) >> 20; /* nearest MiB */
}

static void distances(char *out, size_t len, unsigned node, char sep)
{
    size_t used = 0;
    out[0] = '\0';
    for (unsigned b = 0; b < topo.nodes && used < len; b++) {
        int n = fmt_snprintf(out + used, len - used, "%s%u", b ? (sep == ' ' ? " " : "/") : "",
                             topo.distance[node][b]);
        used = n < 0 ? used : used + (size_t)n;
    }
}

void numa_init(const struct mb2_info *mi)
{
    const struct acpi_tables *tables = acpi_tables_of(mi);
    const struct acpi_table *srat = tables ? acpi_find(tables, "SRAT") : NULL;
    if (!srat) {
        kprintf("numa: no SRAT: one node\n");
        return;
    }
    const void *p = acpi_map_phys(srat->pa, srat->len);
    msg[0] = '\0';
    if (!p || !srat_parse(p, srat->len, &topo, msg, sizeof msg))
        bad_table("SRAT");
    const struct acpi_table *slit = acpi_find(tables, "SLIT");
    if (slit) {
        p = acpi_map_phys(slit->pa, slit->len);
        if (!p || !srat_parse_slit(p, slit->len, &topo, msg, sizeof msg))
            bad_table("SLIT");
    }
    acpi_print_lines(msg);
    kprintf("numa: %u node(s) from the SRAT (%u CPU and %u memory entries, %u disabled), "
            "distances %s\n",
            topo.nodes, topo.cpu_count, topo.mem_count, topo.disabled,
            topo.slit ? "from the SLIT" : "assumed (no SLIT): 10 local, 20 remote");
    static uint32_t ids[SRAT_MAX_CPUS];
    char list[LIST_LEN], dist[LIST_LEN];
    for (unsigned node = 0; node < topo.nodes; node++) {
        unsigned n = node_cpus(node, false, ids);
        list_runs(list, sizeof list, ids, n);
        distances(dist, sizeof dist, node, ' ');
        unsigned ranges = 0;
        for (unsigned i = 0; i < topo.mem_count; i++)
            ranges += topo.mem[i].node == node;
        kprintf("numa: node %u (proximity domain %u): %u CPU(s) (APIC ids %s), %llu MiB in %u "
                "range(s), distances %s\n",
                node, topo.domain[node], n, n ? list : "none",
                (unsigned long long)node_mib(node), ranges, dist);
    }
}

unsigned numa_nodes(void)
{
    return topo.nodes;
}

/* The node of the SRAT memory range holding pa, or -1. */
static int mem_node(uint64_t pa)
{
    for (unsigned m = 0; m < topo.mem_count; m++)
        if (topo.mem[m].base <= pa && pa < topo.mem[m].end)
            return (int)topo.mem[m].node;
    return -1;
}

unsigned numa_split_ranges(struct phys_range *r, unsigned *node, unsigned n, unsigned max)
{
    unsigned before = n;
    for (unsigned m = 0; m < topo.mem_count; m++) {
        uint64_t cuts[2] = {topo.mem[m].base, topo.mem[m].end};
        for (unsigned c = 0; c < 2; c++) {
            for (unsigned i = 0; i < n; i++) {
                if (r[i].base < cuts[c] && cuts[c] < r[i].end) {
                    if (n == max) {
                        kprintf("numa: more than %u usable ranges at node boundaries; stopping "
                                "(exit check-failed)\n", max);
                        kernel_exit(EXIT_CHECK_FAILED);
                    }
                    r[n++] = (struct phys_range){cuts[c], r[i].end};
                    r[i].end = cuts[c];
                }
            }
        }
    }
    /* Each piece now lies within one SRAT range or in none; memory the SRAT
     * does not place goes to node 0, said once. */
    uint64_t unplaced = 0;
    for (unsigned i = 0; i < n; i++) {
        int nd = topo.nodes ? mem_node(r[i].base) : 0;
        if (nd < 0)
            unplaced += r[i].end - r[i].base;
        node[i] = nd < 0 ? 0 : (unsigned)nd;
    }
    if (n != before)
        kprintf("numa: usable memory cut at node boundaries: %u range(s) -> %u\n", before, n);
    if (unplaced)
        kprintf("numa: %llu KiB of usable memory lies in no SRAT memory range: given to node 0\n",
                (unsigned long long)(unplaced >> 10));
    return n;
}

unsigned numa_distance(unsigned from, unsigned to)
{
    return topo.distance[from][to];
}

int numa_cpu_node(unsigned cpu)
{
    const struct plat_smp_info *si = plat_smp_info();
    if (!topo.nodes || cpu >= si->cpus_online)
        return 0;
    return srat_cpu_node(&topo, si->apic_id[cpu]);
}

const char *numa_summary(void)
{
    static uint32_t cpus[PLAT_MAX_CPUS];
    char list[LIST_LEN], dist[LIST_LEN];
    size_t used = 0;
    summary[0] = '\0';
    for (unsigned node = 0; node < topo.nodes && used < sizeof summary; node++) {
        unsigned n = node_cpus(node, true, cpus);
        list_runs(list, sizeof list, cpus, n);
        distances(dist, sizeof dist, node, '/');
        int k = fmt_snprintf(summary + used, sizeof summary - used,
                             "%snode%u:cpus=%s:mem_mib=%llu:dist=%s", node ? ";" : "", node,
                             n ? list : "none", (unsigned long long)node_mib(node), dist);
        used = k < 0 ? used : used + (size_t)k;
    }
    return summary;
}
