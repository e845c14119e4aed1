/*
 * main.c - kmain(): the boot sequence, one step per line.
 *
 * boot.S calls kmain on the BSP in long mode, on the boot stack and page
 * tables, SSE enabled, interrupts off.  The steps fall in three phases:
 *   1. bring-up: each step that has command-line keys reads them (errors are
 *      recorded, not fatal yet);
 *   2. boot_finish_cmdline(): every key has been read, so unknown keys and
 *      bad values stop the run here (EXIT_CONFIG_ERROR), before any work;
 *   3. the work, then the exit code.
 * A new step goes where its dependencies are met; the comments say what each
 * one provides.
 */
#include <stdint.h>

#include "bench/bench.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "kernel/report.h"
#include "lib/fmt.h"
#include "mm/mm.h"

#ifndef KERNEL_COMMIT
#define KERNEL_COMMIT "unknown"
#endif

void kmain(uint32_t mb2_magic, uint64_t mb2_info_pa); /* called by boot.S */

/* The NUMA topology for the allocator: node count and distances from the
 * firmware; the CPUs' nodes once they are online (mm_numa_start).  static:
 * 6 KiB, not on the boot stack. */
static struct mm_numa numa;

/* The frame allocator over every usable frame the boot information reports,
 * cut at NUMA node boundaries (each piece on its node), minus the reserved
 * ranges, for the one CPU running now with the allocator's default cache
 * geometry (mm_cpus_online sets the real count and the chosen geometry). */
static void mm_start(const struct phys_range *reserved, unsigned n_reserved, unsigned nodes)
{
    /* static: 16 KiB and more, not on the 16 KiB boot stack */
    static struct phys_range usable[MB2_MAX_REGIONS + ARCH_MAX_SPLITS];
    static unsigned usable_node[MB2_MAX_REGIONS + ARCH_MAX_SPLITS];
    unsigned n_usable = boot_usable_ranges(usable, MB2_MAX_REGIONS);
    n_usable = arch_split_usable(usable, usable_node, n_usable, MB2_MAX_REGIONS + ARCH_MAX_SPLITS);
    mm_numa_default(&numa, nodes ? nodes : 1);
    for (unsigned a = 0; a < nodes; a++)
        for (unsigned b = 0; b < nodes; b++)
            numa.distance[a][b] = (uint8_t)arch_numa_distance(a, b);
    struct mm_config cfg;
    mm_default_config(&cfg);
    cfg.usable_node = usable_node;
    cfg.numa = &numa;
    char err[160];
    uint64_t t0 = plat_tsc();
    bool ok = mm_init(usable, n_usable, reserved, n_reserved, &cfg, err, sizeof err);
    uint64_t us = (plat_tsc() - t0) / (plat_tsc_khz() / 1000 ? plat_tsc_khz() / 1000 : 1);
    if (!ok) {
        /* Bad input (memory map), not a kernel bug: a failed check, like a bad MADT. */
        kprintf("mm: cannot build the frame allocator: %s\n", err);
        kernel_exit(EXIT_CHECK_FAILED);
    }
    kprintf("mm: set-up %llu.%03llu ms (metadata for %u range(s))\n",
            (unsigned long long)(us / 1000), (unsigned long long)(us % 1000), n_usable);
    mm_dump();
}

/* Once every CPU is online, and before any allocates: each CPU's node, so
 * that its refills come from its own node first. */
static void mm_numa_start(void)
{
    unsigned unplaced = 0;
    for (unsigned cpu = 0; cpu < plat_cpu_count(); cpu++) {
        int node = arch_cpu_node(cpu);
        unplaced += node < 0;
        numa.cpu_node[cpu] = (uint16_t)(node < 0 ? 0 : node);
    }
    if (unplaced)
        kprintf("mm: %u CPU(s) the SRAT does not list: placed on node 0\n", unplaced);
    char err[160];
    if (!mm_numa_configure(&numa, err, sizeof err)) {
        kprintf("mm: cannot take the NUMA topology: %s\n", err);
        kernel_exit(EXIT_CHECK_FAILED);
    }
    if (numa.nodes > 1)
        kprintf("mm: %u NUMA nodes: each CPU refills from its own node first, then by distance\n",
                numa.nodes);
}

/* Every CPU is online and none has called the allocator yet: one cache per
 * CPU, with the geometry of the benchmark keys when given (pcp_capacity=,
 * pcp_batch=), otherwise the defaults for this memory and CPU count.  A
 * geometry whose caches could strand too much memory is a bad key. */
static void mm_cpus_online(const struct bench_config *bench)
{
    struct pcp_config chosen = {.enabled = true, .capacity = bench->pcp_capacity};
    chosen.batch = bench->pcp_batch ? bench->pcp_batch : (bench->pcp_capacity + 3) / 4;
    char err[320];
    if (!mm_set_cpus(plat_cpu_count(), bench->pcp_capacity ? &chosen : NULL, err, sizeof err)) {
        kprintf("cmdline: pcp_capacity=%u pcp_batch=%u: %s\n", chosen.capacity, chosen.batch,
                err);
        kernel_exit(EXIT_CONFIG_ERROR);
    }
    struct pcp_config eff;
    mm_pcp_get_config(&eff);
    struct mm_stats st;
    mm_get_stats(&st);
    kprintf("mm: caches for %u CPUs: capacity %u, batch %u, at most %llu frames cached "
            "(%llu KiB)\n", plat_cpu_count(), eff.capacity, eff.batch,
            (unsigned long long)st.cache_bound_frames,
            (unsigned long long)(st.cache_bound_frames * (PAGE_SIZE >> 10)));
}

/* What the results need to know about this machine and run (meta.csv). */
static enum bench_verdict bench_start(const struct bench_config *cfg)
{
    static char cpus[12], mem_mib[24], tsc[24], nodes[12];
    struct arch_facts facts;
    arch_facts(&facts);
    fmt_snprintf(cpus, sizeof cpus, "%u", plat_cpu_count());
    fmt_snprintf(mem_mib, sizeof mem_mib, "%llu",
                 (unsigned long long)(mb2_usable_bytes(boot_mb2()) >> 20));
    fmt_snprintf(tsc, sizeof tsc, "%llu", (unsigned long long)plat_tsc_khz());
    fmt_snprintf(nodes, sizeof nodes, "%u", facts.numa_nodes);
    const struct bench_meta_kv kv[] = {
        {"kernel_commit", KERNEL_COMMIT},
        {"accel", facts.hypervisor},
        {"cpus", cpus},
        {"mem_usable_mib", mem_mib},
        {"cpu_vendor", facts.cpu_vendor},
        {"cpu_brand", facts.cpu_brand},
        {"tsc_khz", tsc},
        {"tsc_source", facts.tsc_source},
        {"tsc_stop", facts.tsc_stop},
        {"apic_mode", facts.apic_mode},
        {"numa_nodes", nodes},
        {"numa_topology", facts.numa_topology},
        {"cmdline", boot_mb2()->cmdline},
    };
    const struct bench_meta meta = {kv, sizeof kv / sizeof kv[0]};
    return bench_run(cfg, &meta);
}

void kmain(uint32_t mb2_magic, uint64_t mb2_info_pa)
{
    /* ---- 1. bring-up ---- */
    arch_early_init();           /* plat_cpu_index(), the serial port: kprintf */
    kprintf("kernel: frame allocator harness, commit %s\n", KERNEL_COMMIT);
    report_begin();              /* the KTAP block of the steps below */
    arch_cpu_init();             /* exceptions now print a report and exit; CPU identified */
    boot_read_info(mb2_magic, mb2_info_pa, arch_boot_map_end()); /* boot_mb2() */
    boot_read_cmdline();         /* boot_cmdline() */
    struct cmdline *cl = boot_cmdline();
    arch_configure(boot_mb2(), cl); /* direct map, plat_tsc_khz(), the arch keys */
    struct bench_config bench_cfg;
    bool bench_wanted = cmdline_str(cl, "bench") != NULL; /* a plain boot runs none */
    bench_parse_params(cl, &bench_cfg); /* bench=, runs=, profile=, pcp_*, test_* ... */
    /* Kept out of the frame allocator: kernel image, boot info, every module,
     * then page tables the direct map took from RAM, the trampoline page and
     * frame 0. */
    struct phys_range reserved[MB2_MAX_MODULES + 3 + ARCH_MAX_RESERVED];
    unsigned n_reserved = boot_reserved_ranges(reserved, MB2_MAX_MODULES + 2);
    ASSERT(n_reserved == 2 + boot_mb2()->module_count); /* nothing left out */
    /* The frames after the kernel up to the next largest-block boundary stay
     * out too: the allocator's free blocks - and so every figure measured on
     * them - must not move when the kernel grows by a page. */
    reserved[0].end = align_up(reserved[0].end, PAGE_SIZE << MM_MAX_ORDER);
    n_reserved += arch_reserve_ranges(boot_mb2(), reserved, n_reserved, &reserved[n_reserved],
                                      ARCH_MAX_RESERVED); /* page tables, AP start-up page */
    reserved[n_reserved++] = (struct phys_range){0, PAGE_SIZE}; /* frame 0: never a valid frame */
    boot_print_memory();

    /* ---- 2. configuration complete ---- */
    boot_finish_cmdline();
    report_pass(REPORT_CMDLINE);

    /* ---- 3. work ---- */
    struct arch_facts facts;
    arch_facts(&facts);
    mm_start(reserved, n_reserved, facts.numa_nodes); /* frame_alloc(), "mm:" lines */
    report_pass(REPORT_MM_INIT);
    arch_smp_init(boot_mb2());   /* every CPU online, plat_run_on_cpus(), "smp:" lines */
    report_pass(REPORT_SMP);
    mm_cpus_online(&bench_cfg);  /* a cache per CPU; exit 39 on a bad cache geometry */
    mm_numa_start();             /* each CPU's node: refills from it first */
    if (arch_selftest_run() > 0) /* test_paging, test_fault */
        report_pass(REPORT_SELFTESTS);
    else
        report_skip(REPORT_SELFTESTS, "none requested");
    if (!bench_wanted) {
        report_skip(REPORT_BENCH, "no bench= key");
    } else if (bench_start(&bench_cfg) != BENCH_PASS) {
        report_fail(REPORT_BENCH, "a benchmark's invariant check failed");
        report_skip(REPORT_MM_CHECK, "the allocator is left as the failing check found it");
        kernel_exit(EXIT_CHECK_FAILED);
    } else {
        report_pass(REPORT_BENCH);
    }
    char err[256];
    if (!mm_check(err, sizeof err)) {
        kprintf("mm: invariant check failed: %s\n", err);
        report_fail(REPORT_MM_CHECK, err);
        kernel_exit(EXIT_CHECK_FAILED);
    }
    report_pass(REPORT_MM_CHECK);
    kprintf("kernel: done\n");
    kernel_exit(EXIT_PASS);
}
