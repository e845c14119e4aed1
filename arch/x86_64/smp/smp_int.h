/*
 * smp_int.h - internals shared by the files of arch/x86_64/smp (not a public
 * interface: other code uses smp.h and platform.h).
 *
 * A slot is one CPU the BSP tries to run, numbered in MADT order with the
 * BSP as slot 0.  The slot number never changes; the dense CPU index
 * (percpu.cpu_index, plat_cpu_index) equals it unless some AP failed to
 * start, in which case the CPUs that came up are renumbered 0..N-1 in slot
 * order before anything uses the index.
 *
 * Slot states (slot.state, an atomic_uint):
 *
 * | state     | meaning                           | entered by                                 |
 * |-----------|-----------------------------------|--------------------------------------------|
 * | UNUSED    | not started (the BSP: always)     | zero initialisation                        |
 * | STARTING  | IPIs on their way                 | BSP store (relaxed: no AP looks before the |
 * |           |                                   | IPI, which follows a full fence)           |
 * | ONLINE    | AP set up, idling for jobs        | AP CAS STARTING->ONLINE (acq_rel): its     |
 * |           |                                   | percpu/GDT/IDT/APIC setup happens-before   |
 * |           |                                   | the BSP's acquire load that counts it      |
 * | ABANDONED | the BSP gave up on it, for good   | BSP CAS STARTING->ABANDONED (acq_rel), then|
 * |           | or until its retry                | an INIT IPI; an AP losing the CAS parks    |
 *
 * Exactly one of the two CASes wins, so a late AP can never join a run that
 * has already counted it out.  A retry first abandons the slot that way and
 * lets the INIT take effect (the INIT delay) before it stores STARTING
 * again: otherwise the first attempt's AP, still running, could go online
 * between that store and the new INIT, be reset, and leave a slot counted
 * ONLINE with no CPU behind it.
 */
#ifndef ARCH_SMP_SMP_INT_H
#define ARCH_SMP_SMP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/acpi_tables.h"
#include "arch/x86_64/madt.h"
#include "lib/mb2.h"
#include "arch/x86_64/percpu.h"
#include "plat/platform.h"
#include "arch/x86_64/smp/trampoline.h"

#define SMP_AP_STACK_SIZE 0x4000 /* 16 KiB, like the BSP's boot stack */
/* AP stacks have no guard page (they live in the kernel image's large
 * pages): the lowest bytes hold a pattern checked after every job, so an
 * overflow is at least reported, naming the CPU. */
#define SMP_STACK_CANARY 0x5350434e41524459ull /* "YDRANCPS" */
#define SMP_STACK_CANARY_WORDS 8

enum smp_slot_state {
    SLOT_UNUSED = 0,
    SLOT_STARTING,
    SLOT_ONLINE,
    SLOT_ABANDONED,
};

struct smp_slot {
    uint32_t apic_id;      /* SLOT_APIC_ID: read by the trampoline */
    uint32_t slot;         /* this slot's number */
    uint64_t stack_top;    /* SLOT_STACK_TOP */
    uint64_t entry;        /* SLOT_ENTRY: 0 = smp_ap_entry */
    atomic_uint state;     /* enum smp_slot_state */
    unsigned attempts;     /* INIT-SIPI-SIPI sequences sent */
    uint64_t sipi_tsc;     /* first STARTUP IPI of the last attempt */
    uint64_t online_tsc;   /* the AP's own TSC as it went online (before its CAS) */
    uint64_t seen_tsc;     /* when the BSP saw it online; 0 = not yet */
    struct percpu *percpu;
    uint64_t *stack_bottom; /* the canary words */
    atomic_bool halted;    /* smp_idle=halt: asleep in hlt, wake it with an NMI */
    atomic_uint_fast64_t job_seen; /* last job sequence it took part in (watchdog) */
    atomic_uint wakes_sent;        /* wake NMIs sent and not yet taken by it */
} __attribute__((aligned(SLOT_SIZE)));

/* ---- configuration (smp.c, from the command line) ------------------------ */
struct smp_config {
    uint64_t init_delay_us;
    uint64_t sipi_delay_us;
    uint64_t ap_timeout_ms;
    bool force_xapic;
    bool test_dispatch;
    uint64_t test_ap_fail; /* slot number, 0 = off */
    bool test_madt_corrupt;
    bool test_firmware_x2apic; /* x2APIC on before apic_init_bsp, as firmware may leave it */
    bool idle_halt;        /* smp_idle=halt */
    uint64_t dispatch_timeout_ms; /* a CPU not at a job's start by then is reported */
};
extern struct smp_config smp_cfg;

/* ---- the CPUs (smp_madt.c) ------------------------------------------------- */

/* Scans the ACPI tables from the boot loader's RSDP, copies and parses the
 * MADT (corrupting the copy under test_madt_corrupt) and prints what it
 * found.  Exits the run (EXIT_CHECK_FAILED) when there is no valid MADT. */
void smp_read_madt(const struct mb2_info *mi, struct madt *madt);

/* Fills slots[] from the MADT: slot 0 = the BSP (bsp_apic_id), then every
 * enabled CPU in table order that the APIC mode can address, up to
 * PLAT_MAX_CPUS; reports the ones it skips.  Returns the slot count. */
unsigned smp_build_slots(const struct madt *madt, uint32_t bsp_apic_id,
                         struct smp_slot *slots);

/* ---- dispatch and measurements (smp_dispatch.c) --------------------------- */

/* Bring-up figures, filled by smp.c and smp_dispatch.c. */
extern struct plat_smp_info smp_info;

/* Dense CPU index -> slot (slot 0, the BSP, has percpu = &percpu_bsp). */
extern struct smp_slot *smp_cpu_slot[PLAT_MAX_CPUS];

/* Chooses pause or halt idling (and installs the NMI wake-up for halt);
 * before any AP starts. */
void smp_idle_setup(bool halt);

/* An AP's life after bring-up: waits for jobs, never returns. */
_Noreturn void smp_idle_loop(struct smp_slot *self);

/* Ping-pong TSC comparison of every AP with the BSP; fills
 * smp_info.tsc_skew_cycles and prints one line. */
void smp_check_tsc(void);

/* Runs `jobs` empty jobs on every CPU and prints the start skew. */
void smp_measure_barrier(unsigned jobs);

/* test_smp_dispatch: every CPU records its index; false (and a message)
 * unless all n answered with distinct, correct indices. */
bool smp_test_dispatch(void);

/* Cycles for a number of microseconds at the calibrated TSC rate. */
uint64_t smp_us_to_cycles(uint64_t us);
uint64_t smp_cycles_to_ns(uint64_t cycles);

#endif /* ARCH_SMP_SMP_INT_H */
