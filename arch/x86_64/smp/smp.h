/*
 * smp.h - bringing up every CPU the ACPI MADT lists, and the work dispatch
 * behind plat_run_on_cpus() / plat_smp_info() (include/plat/platform.h).
 *
 * Boot order (kernel/main.c):
 *   smp_configure(cl)            before cmdline_finish(): reads the smp_* and
 *                                test_* keys below
 *   smp_reserve_trampoline(...)  before mm_init(): picks the page below 1 MiB
 *                                the APs start in; add it to the reserved list
 *   smp_init(mi)                 after paging, IDT/GDT and TSC calibration:
 *                                ACPI scan, MADT, local APIC, INIT-SIPI-SIPI,
 *                                TSC and barrier-skew checks, "smp:" log lines
 * Afterwards plat_cpu_count() is the number of CPUs online, numbered densely
 * 0..count-1 (the BSP is 0) in MADT order, and the APs idle (interrupts
 * off) until plat_run_on_cpus() gives them work.
 *
 * Command line.  The delays' defaults depend on the processor: where it may
 * need the INIT settling time (cpu_needs_init_delay: no x2APIC and older
 * than Intel family 6 / AMD family 0xf, or an unknown vendor) they are the Intel SDM
 * Vol. 3A 8.4.4.1 "Typical BSP Initialization Sequence" ones, 10 ms after
 * INIT and 200 us after each STARTUP; otherwise Linux's, no wait after INIT
 * and 10 us after each STARTUP.  Either can be set explicitly:
 *   smp_init_delay_us=N   wait after the INIT IPIs        (0 or 10000, 0..1000000)
 *   smp_sipi_delay_us=N   wait after each STARTUP IPI     (10 or 200, 0..1000000)
 *   smp_ap_timeout_ms=N   per-AP wait before one retry    (1000, 1..60000)
 *   smp_xapic=1           use xAPIC even when x2APIC is available
 *   smp_dispatch_timeout_ms=N  a CPU that has not taken a job by then is
 *                         named and the run stops, exit check-failed
 *                         (10000, 1..3600000; per 64 participating CPUs)
 *   smp_idle=pause|halt   how idle APs wait for work (halt): pause spins
 *                         with no interrupts at all; halt sleeps in hlt and
 *                         is woken by an NMI, which frees the host CPUs of
 *                         an oversubscribed TCG run (see smp_dispatch.c)
 *   test_smp_dispatch=1   run jobs that record each CPU's index and check that
 *                         every CPU answered with a distinct index
 *   test_ap_fail=I        CPU I (MADT order, 1..) is sent to a dead loop by
 *                         its slot: shows the timeout, retry and N-1 path
 *   test_madt_corrupt=1   corrupt the copy of the MADT before parsing
 *   test_firmware_x2apic=1  switch the BSP to x2APIC before the kernel picks a
 *                         mode, as firmware may: the kernel must stay in it
 *                         (even with smp_xapic=1) and bring every AP into it
 *
 * Failure policy: a MADT that is missing or fails validation (checksum,
 * record lengths) stops the run with the message and EXIT_CHECK_FAILED
 * before any benchmark: figures labelled with a CPU count the machine did
 * not deliver would be worse than none.  An AP that does not answer after a
 * retry is reported and left out; the run continues with the CPUs that came
 * up (cpus_online in plat_smp_info and the log says how many).
 */
#ifndef ARCH_SMP_SMP_H
#define ARCH_SMP_SMP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/boot.h"
#include "lib/cmdline.h"
#include "lib/mb2.h"

/* Reads the command-line keys above (errors are recorded in cl). */
void smp_configure(struct cmdline *cl);

/* Chooses the trampoline page: the highest 4 KiB page in [4 KiB, 640 KiB)
 * that lies inside a usable region of the memory map and outside every
 * range in avoid[] (kernel image, boot information, modules).  *out is the
 * range the frame allocator must never hand out.  False (with a message on
 * the console) when no page qualifies; smp_init then refuses to start APs. */
bool smp_reserve_trampoline(const struct mb2_info *mi, const struct phys_range *avoid,
                            unsigned n_avoid, struct phys_range *out);

/* Brings up the APs (see above).  Exits with EXIT_CHECK_FAILED on an unusable
 * MADT or when APs exist but no trampoline page was reserved. */
void smp_init(const struct mb2_info *mi);

#endif /* ARCH_SMP_SMP_H */
