/*
 * bench_smp.c - the bring-up figures of the SMP code as rows (bench=smp).
 *
 * plat_smp_info() is filled by the kernel while it starts the APs (MADT
 * entries, INIT-SIPI-SIPI timings, the worst barrier and TSC skew it saw); the
 * host platform has no bring-up and returns NULL, so there are no rows there.
 * Rows: smp,bringup,<cpus_online>,... cpus_in_madt, cpus_online,
 * bringup_total_ns, ap_start_ns (param cpu=<i>), apic_id (param cpu=<i>),
 * barrier_skew_cycles, tsc_skew_cycles.
 */
#include "bench/bench_int.h"

void bench_smp(void)
{
    const struct plat_smp_info *info = plat_smp_info();
    if (!info) {
        plat_log("bench: smp: no bring-up figures on this platform; no rows\n");
        return;
    }
    struct bench_point pt = {.bench = "smp", .cas = "bringup", .cpus = info->cpus_online};
    char param[24];
    bench_row_u(&pt, NULL, "cpus_in_madt", info->cpus_in_madt, "count");
    bench_row_u(&pt, NULL, "cpus_online", info->cpus_online, "count");
    bench_row_u(&pt, NULL, "bringup_total_ns", info->bringup_total_ns, bench_ctx.unit_ns);
    unsigned n = info->cpus_online < PLAT_MAX_CPUS ? info->cpus_online : PLAT_MAX_CPUS;
    for (unsigned cpu = 0; cpu < n; cpu++) {
        plat_snprintf(param, sizeof param, "cpu=%u", cpu);
        if (cpu > 0) /* the BSP is not started */
            bench_row_u(&pt, param, "ap_start_ns", info->ap_start_ns[cpu], bench_ctx.unit_ns);
        bench_row_u(&pt, param, "apic_id", info->apic_id[cpu], "id");
    }
    bench_row_u(&pt, NULL, "barrier_skew_cycles", info->barrier_skew_cycles,
                bench_ctx.unit_cycles);
    bench_row_u(&pt, NULL, "tsc_skew_cycles", info->tsc_skew_cycles, bench_ctx.unit_cycles);
}
