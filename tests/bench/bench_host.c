/*
 * bench_host.c - runs bench/ on host threads against the real mm/, the way
 * the kernel's main does: parse the command line, init the allocator, run.
 *
 *   bench_host [--cpus N] [--mem MIB] [--nodes K] [--] [key=value ...]
 *
 * The allocator manages MIB MiB (default 256) of the host platform's fake
 * physical memory starting at 16 MiB; N threads (default 4) stand in for
 * CPUs.  With K NUMA nodes (default 1), memory and CPUs are split evenly
 * in order, as QEMU's -numa does for NUMA=, distances 10/20.  Output is the kernel's serial contract on stdout (blocks, progress,
 * @@VERDICT), log lines on stderr.  Exit status mirrors the kernel's exit
 * codes: 0 pass, 1 check failed, 3 bad command line, 4 bad usage or mm_init
 * failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "lib/cmdline.h"
#include "mm/mm.h"
#include "plat/platform.h"

#define EXIT_PASS 0
#define EXIT_CHECK_FAILED 1
#define EXIT_CONFIG 3
#define EXIT_USAGE 4
#define PHYS_BASE ((uint64_t)16 << 20)

static struct cmdline cl;

static unsigned long parse_num(const char *opt, const char *s, unsigned long lo, unsigned long hi)
{
    char *end;
    unsigned long v = strtoul(s ? s : "", &end, 10);
    if (!s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_host: %s needs a number in %lu..%lu\n", opt, lo, hi);
        exit(EXIT_USAGE);
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned cpus = 4, nodes = 1;
    unsigned long mem_mib = 256;
    char text[CMDLINE_MAX_LEN] = "";
    size_t len = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpus")) {
            cpus = (unsigned)parse_num("--cpus", argv[++i], 1, 64);
        } else if (!strcmp(argv[i], "--mem")) {
            mem_mib = parse_num("--mem", argv[++i], 16, 16384);
        } else if (!strcmp(argv[i], "--nodes")) {
            nodes = (unsigned)parse_num("--nodes", argv[++i], 1, 8);
        } else if (!strcmp(argv[i], "--")) {
            continue;
        } else {
            int n = snprintf(text + len, sizeof text - len, "%s%s", len ? " " : "", argv[i]);
            if (n < 0 || (size_t)n >= sizeof text - len) {
                fprintf(stderr, "bench_host: command line too long\n");
                return EXIT_USAGE;
            }
            len += (size_t)n;
        }
    }

    struct bench_config cfg;
    cmdline_parse(&cl, text);
    bench_parse_params(&cl, &cfg);
    if (!cmdline_finish(&cl) || cl.errors) {
        printf("config error:\n%s", cl.error);
        fflush(stdout);
        return EXIT_CONFIG;
    }

    if (nodes > cpus) {
        fprintf(stderr, "bench_host: --nodes %u: more nodes than CPUs (%u)\n", nodes, cpus);
        return EXIT_USAGE;
    }
    host_set_cpu_count(cpus);
    static struct mm_numa numa;
    struct phys_range usable[8];
    unsigned node[8];
    uint64_t per_node = ((uint64_t)mem_mib << 20) / nodes & ~(uint64_t)0xfff;
    mm_numa_default(&numa, nodes);
    for (unsigned n = 0; n < nodes; n++) {
        usable[n] = (struct phys_range){PHYS_BASE + n * per_node, PHYS_BASE + (n + 1) * per_node};
        node[n] = n;
    }
    for (unsigned c = 0; c < cpus; c++)
        numa.cpu_node[c] = (uint16_t)(c * nodes / cpus);
    struct mm_config mcfg;
    mm_default_config(&mcfg);
    mcfg.max_cpus = cpus;
    mcfg.usable_node = node;
    mcfg.numa = &numa;
    char err[256];
    if (!mm_init(usable, nodes, NULL, 0, &mcfg, err, sizeof err)) {
        fprintf(stderr, "bench_host: mm_init: %s\n", err);
        return EXIT_USAGE;
    }

    char cpus_s[16], mem_s[24], khz_s[24];
    snprintf(cpus_s, sizeof cpus_s, "%u", cpus);
    snprintf(mem_s, sizeof mem_s, "%lu", mem_mib);
    snprintf(khz_s, sizeof khz_s, "%llu", (unsigned long long)plat_tsc_khz());
    const struct bench_meta_kv kv[] = {
        {"kernel_version", "host"},       {"accel", "host-threads"},
        {"cpus", cpus_s},                 {"mem_mib", mem_s},
        {"tsc_khz", khz_s},               {"tsc_source", "host clock_gettime"},
        {"cmdline", text},
    };
    const struct bench_meta meta = {kv, sizeof kv / sizeof kv[0]};
    enum bench_verdict v = bench_run(&cfg, &meta);
    fflush(stdout);
    return v == BENCH_PASS ? EXIT_PASS : EXIT_CHECK_FAILED;
}
