/*
 * numa.c - NUMA nodes in the frame allocator: the topology (which node each
 * CPU sits on, the distances between nodes), each node's fallback order of
 * arenas, and the per-CPU preferred node.
 *
 * Every arena holds the memory of one node (mm_init never merges ranges of
 * different nodes).  For each node n, node_arenas[n] lists every arena once:
 * n's own arenas first, then the other nodes' by increasing distance from n
 * (ties: lower node first), and within one node the highest arena first -
 * the same rule as without NUMA, low memory last.  That is Linux's zonelist
 * ordered by node distance, computed once per topology (mm_init,
 * mm_numa_configure) so that a refill or a buddy allocation walks a list
 * instead of sorting on every miss.
 *
 * A CPU allocates in the order of its preferred node, which is the node it
 * sits on unless mm_pcp_prefer_node said otherwise; its local/remote
 * counters always compare the serving arena's node with the node it sits
 * on, so a preferred remote node shows as remote refills.
 *
 * The topology changes only at quiescent points, a preference on its own
 * CPU or at one: the refill and buddy paths read node_arenas, pcp.node and
 * pcp.pref_node without synchronisation.
 */
#include "mm/mm_int.h"

static void order_node(unsigned from)
{
    /* Nodes by increasing distance from `from` (itself first: numa_valid
     * makes 10 the smallest distance and a node's own); a selection sort
     * over at most MM_MAX_NODES, once per topology. */
    bool done[MM_MAX_NODES] = {false};
    unsigned k = 0;
    for (unsigned round = 0; round < mm.nodes; round++) {
        unsigned best = mm.nodes;
        for (unsigned n = 0; n < mm.nodes; n++)
            if (!done[n] && (best == mm.nodes || mm.distance[from][n] < mm.distance[from][best]))
                best = n;
        done[best] = true;
        for (unsigned i = mm.n_arenas; i-- > 0;)
            if (mm_arenas[i].node == best)
                mm.node_arenas[from][k++] = (uint8_t)i;
    }
}

void mm_numa_default(struct mm_numa *numa, unsigned nodes)
{
    __builtin_memset(numa, 0, sizeof *numa);
    numa->nodes = nodes;
    for (unsigned a = 0; a < MM_MAX_NODES; a++)
        for (unsigned b = 0; b < MM_MAX_NODES; b++)
            numa->distance[a][b] = a == b ? MM_NODE_LOCAL : MM_NODE_REMOTE;
}

bool numa_valid(const struct mm_numa *numa, char *err, size_t errlen)
{
    if (numa->nodes == 0 || numa->nodes > MM_MAX_NODES) {
        plat_snprintf(err, errlen, "numa: %u nodes, outside 1..%u", numa->nodes, MM_MAX_NODES);
        return false;
    }
    for (unsigned a = 0; a < numa->nodes; a++)
        for (unsigned b = 0; b < numa->nodes; b++) {
            unsigned d = numa->distance[a][b];
            if ((a == b) != (d == MM_NODE_LOCAL) || d < MM_NODE_LOCAL) {
                plat_snprintf(err, errlen, "numa: distance from node %u to node %u is %u: a node "
                              "is %u from itself and more than that from the others", a, b, d,
                              MM_NODE_LOCAL);
                return false;
            }
        }
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++)
        if (numa->cpu_node[cpu] >= numa->nodes) {
            plat_snprintf(err, errlen, "numa: CPU %u on node %u, but there are %u nodes", cpu,
                          numa->cpu_node[cpu], numa->nodes);
            return false;
        }
    return true;
}

void numa_apply(const struct mm_numa *numa)
{
    static struct mm_numa one;
    if (numa == NULL) {
        mm_numa_default(&one, 1);
        numa = &one;
    }
    mm.nodes = numa->nodes;
    __builtin_memcpy(mm.distance, numa->distance, sizeof mm.distance);
    for (unsigned n = 0; n < mm.nodes; n++)
        order_node(n);
    for (unsigned cpu = 0; cpu < PLAT_MAX_CPUS; cpu++)
        mm_pcp[cpu].node = mm_pcp[cpu].pref_node = numa->cpu_node[cpu];
}

bool mm_numa_configure(const struct mm_numa *numa, char *err, size_t errlen)
{
    if (!mm.ready) {
        plat_snprintf(err, errlen, "numa: the allocator is not initialised");
        return false;
    }
    if (numa->nodes != mm.nodes) {
        plat_snprintf(err, errlen, "numa: %u nodes given, the arenas were built for %u",
                      numa->nodes, mm.nodes);
        return false;
    }
    if (!numa_valid(numa, err, errlen))
        return false;
    mm_pcp_drain_all();
    numa_apply(numa);
    return true;
}

unsigned mm_numa_nodes(void)
{
    return mm.nodes ? mm.nodes : 1;
}

unsigned mm_cpu_node(unsigned cpu)
{
    return cpu < PLAT_MAX_CPUS ? mm_pcp[cpu].node : 0;
}

bool mm_pcp_prefer_node(unsigned cpu, uint32_t node)
{
    if (!mm.ready || cpu >= mm.max_cpus || (node != MM_NODE_OWN && node >= mm.nodes))
        return false;
    struct pcp *p = &mm_pcp[cpu];
    plat_irqstate_t s = plat_irq_save(); /* the cache's rule when cpu is the caller */
    pcp_drain(p, p->count);
    pcp_drain_high(p);
    p->pref_node = (uint16_t)(node == MM_NODE_OWN ? p->node : node);
    plat_irq_restore(s);
    return true;
}

unsigned mm_node_distance(unsigned from, unsigned to)
{
    return from < mm.nodes && to < mm.nodes ? mm.distance[from][to] : 0;
}

unsigned frame_node(const struct frame *f)
{
    return frame_arena(f)->node;
}
