/*
 * test_numa.c - NUMA nodes in the allocator: arenas per node (touching
 * ranges of two nodes stay two arenas), refills and buddy allocations from
 * the CPU's node first, fallback by distance when it is exhausted, the
 * preferred-node override, the counters (exact), and the topology checks.
 */
#include "tests/mm/mm_test.h"

#define NODE_MIB 8 /* memory per node in most tests */

static struct mm_numa topo;

/* topo.nodes nodes of NODE_MIB each from 16 MiB up, touching, with topo's
 * distances; MT_CPUS CPUs split evenly in index order; cache geometry
 * capacity / batch. */
static bool init_topo(unsigned capacity, unsigned batch, bool cache)
{
    static struct phys_range u[MM_MAX_NODES];
    static unsigned node[MM_MAX_NODES];
    const unsigned nodes = topo.nodes;
    for (unsigned n = 0; n < nodes; n++) {
        u[n] = (struct phys_range){(16 + n * NODE_MIB) * MiB, (16 + (n + 1) * NODE_MIB) * MiB};
        node[n] = n;
    }
    for (unsigned cpu = 0; cpu < MT_CPUS; cpu++)
        topo.cpu_node[cpu] = (uint16_t)(cpu * nodes / MT_CPUS);
    const struct pcp_config pcp = {cache, capacity, batch};
    return mt_init_numa(u, node, nodes, NULL, 0, &topo, &pcp, MT_CPUS);
}

/* The same with the default distances (10 to itself, 20 to the others). */
static bool init_nodes(unsigned nodes, unsigned capacity, unsigned batch, bool cache)
{
    mm_numa_default(&topo, nodes);
    return init_topo(capacity, batch, cache);
}

static uint64_t node_frames(void)
{
    return NODE_MIB * MiB / PAGE_SIZE;
}

/* Frames node n's arenas hand out (its memory less any metadata placed
 * there). */
static uint64_t node_managed(unsigned n)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < mm.n_arenas; i++)
        if (mm_arenas[i].node == n)
            sum += mm_arenas[i].managed_frames;
    return sum;
}

/* Touching ranges of two nodes stay two arenas, each on its node, with no
 * frame lost at the boundary; 4 nodes likewise, and a reserved range over a
 * boundary cuts both sides. */
static void numa_arenas_per_node(void)
{
    for (unsigned nodes = 2; nodes <= 4; nodes += 2) {
        if (!init_nodes(nodes, 64, 16, true))
            return;
        struct mm_stats st = mt_stats();
        CHECK_EQ_U(st.arenas, nodes);
        CHECK_EQ_U(st.nodes, nodes);
        CHECK_EQ_U(st.total_frames, nodes * node_frames() - st.metadata_bytes / PAGE_SIZE);
        for (unsigned n = 0; n < nodes; n++) {
            CHECK_EQ_U(mm_arenas[n].node, n);
            CHECK_EQ_U(mm_arenas[n].base_pfn << PAGE_SHIFT, (16 + n * NODE_MIB) * MiB);
            CHECK_EQ_U(mm_arenas[n].end_pfn << PAGE_SHIFT, (16 + (n + 1) * NODE_MIB) * MiB);
        }
        mt_check();
    }
    /* Two ranges of one node touching: one arena; a reserved range across
     * the boundary of two nodes: both arenas end at it. */
    struct phys_range u[] = {{16 * MiB, 20 * MiB}, {20 * MiB, 24 * MiB}, {24 * MiB, 32 * MiB}};
    unsigned node[] = {0, 0, 1};
    struct phys_range r[] = {{24 * MiB - PAGE_SIZE, 24 * MiB + PAGE_SIZE}};
    mm_numa_default(&topo, 2);
    if (!mt_init_numa(u, node, 3, r, 1, &topo, NULL, MT_CPUS))
        return;
    CHECK_EQ_U(mm.n_arenas, 2);
    CHECK_EQ_U(mm_arenas[0].end_pfn << PAGE_SHIFT, 24 * MiB - PAGE_SIZE);
    CHECK_EQ_U(mm_arenas[1].base_pfn << PAGE_SHIFT, 24 * MiB + PAGE_SIZE);
    CHECK_EQ_U(mt_stats().total_frames,
               (16 * MiB - 2 * PAGE_SIZE - mt_stats().metadata_bytes) / PAGE_SIZE);
    mt_check();
}

/* Every CPU's refills come from its own node; counters exact. */
static void numa_refills_local_first(void)
{
    if (!init_nodes(4, 64, 16, true))
        return;
    for (unsigned cpu = 0; cpu < MT_CPUS; cpu++) {
        host_set_cpu(cpu);
        unsigned want = cpu * 4 / MT_CPUS;
        CHECK_EQ_U(mm_cpu_node(cpu), want);
        struct frame *held[40];
        for (unsigned i = 0; i < 40; i++) {
            held[i] = frame_alloc(0);
            CHECK(held[i] && frame_node(held[i]) == want);
        }
        struct pcp_stats s = mt_pcp_stats(cpu);
        CHECK_EQ_U(s.refills, 3); /* 40 frames in batches of 16 */
        CHECK_EQ_U(s.local_refills, 3);
        CHECK_EQ_U(s.remote_refills, 0);
        CHECK_EQ_U(s.remote_refill_frames, 0);
        for (unsigned i = 0; i < 40; i++)
            frame_free(held[i]);
    }
    host_set_cpu(0);
    mm_pcp_drain_all();
    mt_check();
}

/* Within a node the highest arena still goes first: node 0 has two arenas
 * (below and above node 1's), and CPU 0 refills from the upper one. */
static void numa_highest_arena_within_node(void)
{
    struct phys_range u[] = {{16 * MiB, 24 * MiB}, {24 * MiB, 32 * MiB}, {64 * MiB, 72 * MiB}};
    unsigned node[] = {0, 1, 0};
    mm_numa_default(&topo, 2);
    for (unsigned cpu = 0; cpu < MT_CPUS; cpu++)
        topo.cpu_node[cpu] = cpu >= MT_CPUS / 2;
    if (!mt_init_numa(u, node, 3, NULL, 0, &topo, NULL, MT_CPUS))
        return;
    CHECK_EQ_U(mm.node_arenas[0][0], 2);
    CHECK_EQ_U(mm.node_arenas[0][1], 0);
    CHECK_EQ_U(mm.node_arenas[0][2], 1);
    CHECK_EQ_U(mm.node_arenas[1][0], 1);
    host_set_cpu(0);
    struct frame *f = frame_alloc(0);
    CHECK(f && frame_pa(f) >= 64 * MiB);
    host_set_cpu(MT_CPUS - 1);
    struct frame *g = frame_alloc(0);
    CHECK(g && frame_pa(g) >= 24 * MiB && frame_pa(g) < 32 * MiB);
    frame_free(g);
    host_set_cpu(0);
    frame_free(f);
    mm_pcp_drain_all();
    mt_check();
}

/* Node 0 exhausted: CPU 0's refills move to the other nodes nearest first
 * (SLIT from node 0: node 2 at 15, node 3 at 20, node 1 at 30), a refill
 * that straddles two nodes counts as remote with the frames it brought from
 * the other, and only when every node is empty does allocation fail. */
static void numa_fallback_by_distance(void)
{
    mm_numa_default(&topo, 4);
    topo.distance[0][1] = topo.distance[1][0] = 30;
    topo.distance[0][2] = topo.distance[2][0] = 15;
    topo.distance[0][3] = topo.distance[3][0] = 20;
    if (!init_topo(64, 25, true))
        return;
    static const unsigned want_order[4] = {0, 2, 3, 1};
    for (unsigned k = 0; k < 4; k++)
        CHECK_EQ_U(mm_arenas[mm.node_arenas[0][k]].node, want_order[k]);
    static struct frame *held[4 * 2048];
    uint64_t n = 0;
    host_set_cpu(0);
    uint64_t total = 0;
    for (unsigned k = 0; k < 4; k++) {
        const uint64_t per_node = node_managed(want_order[k]);
        total += per_node;
        for (uint64_t i = 0; i < per_node; i++, n++) {
            held[n] = frame_alloc(0);
            if (!held[n]) {
                CHECKF(0, "out of frames after %llu", (unsigned long long)n);
                return;
            }
        }
        /* The frames handed out so far came from the first k+1 nodes of
         * the order, and each node in full. */
        uint64_t on[4] = {0};
        for (uint64_t i = 0; i < n; i++)
            on[frame_node(held[i])]++;
        for (unsigned j = 0; j <= k; j++)
            CHECKF(on[want_order[j]] == node_managed(want_order[j]),
                   "after %u node(s): node %u gave %llu frames", k + 1, want_order[j],
                   (unsigned long long)on[want_order[j]]);
    }
    CHECK(frame_alloc(0) == NULL);
    struct pcp_stats s = mt_pcp_stats(0);
    /* Every frame in batches of 25 (the last one short).  Node 0's frames
     * (2016: its 8 MiB less metadata) fill 80 batches and part of the 81st,
     * which takes the rest from node 2: from there on every refill brings
     * remote frames. */
    const uint64_t local = node_managed(0);
    CHECK(local % 25 != 0);
    CHECK_EQ_U(s.refills, (total + 24) / 25);
    CHECK_EQ_U(s.local_refills, local / 25);
    CHECK_EQ_U(s.remote_refills, s.refills - local / 25);
    CHECK_EQ_U(s.remote_refill_frames, total - local);
    CHECK_EQ_U(s.local_refills + s.remote_refills, s.refills);
    for (uint64_t i = 0; i < n; i++)
        frame_free(held[i]);
    mm_pcp_drain_all();
    mt_check();
}

/* Caches off, every allocation a buddy allocation: those served by another
 * node are counted, and the order is by distance too. */
static void numa_buddy_allocs_counted(void)
{
    if (!init_nodes(2, 64, 16, false))
        return;
    host_set_cpu(MT_CPUS - 1); /* node 1 */
    static struct frame *held[2 * 2048];
    const uint64_t on1 = node_managed(1), all = mm.total_frames;
    for (uint64_t i = 0; i < all; i++) {
        held[i] = frame_alloc(0);
        CHECK(held[i] && frame_node(held[i]) == (i < on1 ? 1u : 0u));
    }
    struct pcp_stats s = mt_pcp_stats(MT_CPUS - 1);
    CHECK_EQ_U(s.remote_buddy_allocs, all - on1);
    CHECK_EQ_U(s.refills, 0);
    for (uint64_t i = 0; i < all; i++)
        frame_free(held[i]);
    /* High orders from the cache-on path: one block from the local node. */
    struct pcp_config on = {true, 64, 16};
    CHECK(mm_pcp_configure(&on));
    mm_pcp_stats_reset();
    struct frame *b = frame_alloc_order(9, 0);
    CHECK(b && frame_node(b) == 1);
    CHECK_EQ_U(mt_pcp_stats(MT_CPUS - 1).remote_buddy_allocs, 0);
    frame_free(b);
    host_set_cpu(0);
    mm_pcp_drain_all();
    mt_check();
}

/* A preferred node makes a CPU live on another node's memory; the
 * counters call that remote; MM_NODE_OWN restores. */
static void numa_preferred_node(void)
{
    if (!init_nodes(2, 64, 16, true))
        return;
    host_set_cpu(0);
    CHECK(mm_pcp_prefer_node(0, 1));
    CHECK(!mm_pcp_prefer_node(0, 2));
    CHECK(!mm_pcp_prefer_node(MT_CPUS, 0));
    struct frame *f = frame_alloc(0);
    CHECK(f && frame_node(f) == 1);
    struct pcp_stats s = mt_pcp_stats(0);
    CHECK_EQ_U(s.remote_refills, 1);
    CHECK_EQ_U(s.remote_refill_frames, 16);
    CHECK_EQ_U(s.local_refills, 0);
    frame_free(f);
    CHECK(mm_pcp_prefer_node(0, MM_NODE_OWN));
    CHECK_EQ_U(mt_pcp_stats(0).cached, 0); /* drained */
    f = frame_alloc(0);
    CHECK(f && frame_node(f) == 0);
    CHECK_EQ_U(mt_pcp_stats(0).local_refills, 1);
    frame_free(f);
    mm_pcp_drain_all();
    mt_check();
}

/* The CPU map can come later (the kernel knows it after SMP bring-up). */
static void numa_configure_later(void)
{
    if (!init_nodes(2, 64, 16, true))
        return;
    char err[200];
    struct mm_numa later;
    mm_numa_default(&later, 2);
    later.distance[0][1] = later.distance[1][0] = 40;
    for (unsigned cpu = 0; cpu < MT_CPUS; cpu++)
        later.cpu_node[cpu] = (uint16_t)(1 - cpu * 2 / MT_CPUS); /* the other way round */
    host_set_cpu(0);
    struct frame *f = frame_alloc(0); /* leaves a batch in CPU 0's cache */
    frame_free(f);
    CHECK(mm_numa_configure(&later, err, sizeof err));
    CHECK_EQ_U(mt_pcp_stats(0).cached, 0);
    CHECK_EQ_U(mm_cpu_node(0), 1);
    CHECK_EQ_U(mm.distance[0][1], 40);
    f = frame_alloc(0);
    CHECK(f && frame_node(f) == 1);
    frame_free(f);
    mm_numa_default(&later, 3);
    CHECK(!mm_numa_configure(&later, err, sizeof err));
    CHECK(strstr(err, "3 nodes given, the arenas were built for 2"));
    mm_pcp_drain_all();
    mt_check();
}

#define EXPECT_INIT_FAILS(u, nu, cfg, needle)                                               \
    do {                                                                                  \
        char err_[256] = "";                                                              \
        CHECK(!mm_init(u, nu, NULL, 0, cfg, err_, sizeof err_));                          \
        CHECKF(strstr(err_, needle), "message \"%s\" lacks \"%s\"", err_, needle);         \
    } while (0)

/* Bad topologies are refused with a message naming the problem. */
static void numa_bad_input(void)
{
    struct phys_range u[] = {{16 * MiB, 24 * MiB}, {20 * MiB, 32 * MiB}};
    unsigned node[] = {0, 1};
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.max_cpus = MT_CPUS;
    cfg.usable_node = node;
    mm_numa_default(&topo, 2);
    cfg.numa = &topo;
    EXPECT_INIT_FAILS(u, 2, &cfg, "of node 0 and [0x1400000, 0x2000000) of node 1 overlap");
    u[1].base = 24 * MiB;
    node[1] = 2;
    EXPECT_INIT_FAILS(u, 2, &cfg, "is on node 2, but the topology has 2 node(s)");
    node[1] = 64;
    EXPECT_INIT_FAILS(u, 2, &cfg, "at most 64 nodes");
    node[1] = 1;
    cfg.numa = NULL; /* one node */
    EXPECT_INIT_FAILS(u, 2, &cfg, "has 1 node(s)");
    cfg.numa = &topo;
    topo.distance[1][1] = 12;
    EXPECT_INIT_FAILS(u, 2, &cfg, "distance from node 1 to node 1 is 12");
    topo.distance[1][1] = 10;
    topo.distance[0][1] = 10;
    EXPECT_INIT_FAILS(u, 2, &cfg, "distance from node 0 to node 1 is 10");
    topo.distance[0][1] = 20;
    topo.cpu_node[3] = 2;
    EXPECT_INIT_FAILS(u, 2, &cfg, "CPU 3 on node 2");
    topo.cpu_node[3] = 0;
    topo.nodes = 0;
    EXPECT_INIT_FAILS(u, 2, &cfg, "0 nodes");
    /* More regions than arenas, no two neighbours on one node. */
    static struct phys_range many[40];
    static unsigned many_node[40];
    for (unsigned i = 0; i < 40; i++) {
        many[i] = (struct phys_range){(16 + 4 * i) * MiB, (18 + 4 * i) * MiB};
        many_node[i] = i % 2;
    }
    mm_numa_default(&topo, 2);
    cfg.usable_node = many_node;
    EXPECT_INIT_FAILS(many, 40, &cfg, "no two neighbours on one node");
    /* Pairs on one node: the joins stay inside nodes. */
    for (unsigned i = 0; i < 40; i++)
        many_node[i] = (i / 2) % 2;
    if (!mt_init_numa(many, many_node, 40, NULL, 0, &topo, NULL, MT_CPUS))
        return;
    CHECK_EQ_U(mm.n_arenas, MM_MAX_ARENAS);
    for (unsigned a = 0; a < mm.n_arenas; a++) {
        uint64_t base = mm_arenas[a].base_pfn << PAGE_SHIFT, end = mm_arenas[a].end_pfn << PAGE_SHIFT;
        unsigned first = (unsigned)((base - 16 * MiB) / (4 * MiB)), last =
            (unsigned)((end - 1 - 16 * MiB) / (4 * MiB));
        CHECKF(many_node[first] == mm_arenas[a].node && many_node[last] == mm_arenas[a].node,
               "arena %u [%#llx, %#llx) of node %u covers regions %u..%u", a,
               (unsigned long long)base, (unsigned long long)end, mm_arenas[a].node, first, last);
    }
    mt_check();
}

/* With the anti-fragmentation policy on, a refill cut from the policy's
 * region counts its frames local or remote by the region's node, as a refill
 * from the buddy lists does: the counters say which node served them. */
static void numa_policy_refills_counted_by_node(void)
{
    if (!init_nodes(2, 64, 16, true))
        return;
    CHECK(mm_antifrag_set(true));
    host_set_cpu(0); /* node 0 */
    mm_pcp_stats_reset();
    struct frame *held[16];
    uint64_t remote = 0;
    for (int i = 0; i < 16; i++) { /* one refill of 16, then hits */
        held[i] = frame_alloc(0);
        CHECK(held[i] != NULL);
        remote += held[i] && frame_node(held[i]) != 0;
    }
    struct pcp_stats s = mt_pcp_stats(0);
    CHECK_EQ_U(s.refills, 1);
    CHECK_EQ_U(s.remote_refill_frames, remote);
    CHECK_EQ_U(s.remote_refills, remote != 0);
    CHECK_EQ_U(s.local_refills, remote == 0);
    for (int i = 0; i < 16; i++)
        frame_free(held[i]);
    CHECK(mm_antifrag_set(false));
    MT_CHECK_ALL_FREE();
}

void mm_tests_numa(void)
{
    RUN(numa_arenas_per_node);
    RUN(numa_refills_local_first);
    RUN(numa_highest_arena_within_node);
    RUN(numa_fallback_by_distance);
    RUN(numa_buddy_allocs_counted);
    RUN(numa_preferred_node);
    RUN(numa_configure_later);
    RUN(numa_policy_refills_counted_by_node);
    RUN(numa_bad_input);
}
