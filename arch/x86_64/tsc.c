/*
 * tsc.c - TSC frequency from CPUID, or calibrated against the PIT, the HPET
 * or the ACPI PM timer (tsc.h says which, when).
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/cmdline.h"
#include "kernel/console.h"
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "lib/pvclock.h"
#include "lib/str.h"
#include "plat/platform.h"
#include "arch/x86_64/tsc.h"
#include "arch/x86_64/x86.h"

#define PIT_HZ 1193182u
#define PIT_CH2_DATA 0x42
#define PIT_COMMAND 0x43
#define PIT_CMD_CH2_LOHI_MODE2 0xb4 /* channel 2, lobyte/hibyte, mode 2 (rate), binary */
#define PIT_CMD_CH2_LATCH 0x80      /* channel 2, latch the count */
#define PIT_START_COUNT 0xffff      /* 54.9 ms before the counter wraps */
#define PORT_B 0x61                 /* system control port B */
#define PORT_B_GATE2 0x01           /* channel 2 gate */
#define PORT_B_SPEAKER 0x02         /* speaker data enable */

#define CALIBRATION_MS 15
#define CALIBRATION_RUNS 3
#define CALIBRATION_ROUNDS 3   /* sets of runs tried while they disagree */
#define MAX_SPREAD_PPM 1000    /* runs of one round agreeing this well are trusted */
#define SAMPLE_TRIES 5
/* Counter reads before giving up on a counter that does not move. */
#define POLL_LIMIT 10000000u
/* Reads that must see a counter change for the source to count as present:
 * a working one moves within a few (the PIT every 0.84 us); a missing one
 * reads all ones for ever. */
#define PROBE_READS 100000u
/* The gap check multiplies by half the counter's period: bounded so that a
 * 64-bit counter cannot overflow it (2^32 HPET ticks are minutes). */
#define HALF_PERIOD_CAP ((uint64_t)1 << 32)

static uint64_t khz;
static const char *source = "none";
static uint64_t spread_ppm; /* max - min of the runs, parts per million of the median */

/*
 * A reference counter to time the TSC against: it counts up at `hz` and
 * wraps after `period` values (0: 2^64).  The PIT counts down from
 * PIT_START_COUNT to 1 and reloads; read as PIT_START_COUNT - count it is
 * an up-counter of period PIT_START_COUNT.
 */
struct ref_clock {
    const char *name;  /* the tsc_source: "pit", "hpet", "pmtimer" */
    uint64_t hz;
    uint64_t period;
    uint64_t (*read)(void);
    void (*start)(void); /* before each measurement, or NULL */
};

static uint64_t pit_read(void)
{
    outb(PIT_COMMAND, PIT_CMD_CH2_LATCH);
    uint8_t lo = inb(PIT_CH2_DATA);
    uint8_t hi = inb(PIT_CH2_DATA);
    return PIT_START_COUNT - (uint16_t)(lo | hi << 8);
}

static void pit_start(void)
{
    outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2); /* count, silently */
    outb(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE2);
    outb(PIT_CH2_DATA, PIT_START_COUNT & 0xff);
    outb(PIT_CH2_DATA, PIT_START_COUNT >> 8);
}

static volatile uint8_t *hpet_regs;
static uint16_t pm_timer_port;
static uint32_t pm_timer_mask;

static uint64_t hpet_read(void)
{
    return *(volatile uint64_t *)(hpet_regs + HPET_REG_COUNTER);
}

static uint64_t hpet_read32(void)
{
    return *(volatile uint32_t *)(hpet_regs + HPET_REG_COUNTER);
}

static uint64_t pm_timer_read(void)
{
    return inl(pm_timer_port) & pm_timer_mask;
}

static uint64_t ticks_between(const struct ref_clock *rc, uint64_t a, uint64_t b)
{
    return rc->period ? (b + rc->period - a) % rc->period : b - a;
}

/* One counter value with the TSC read around it: the value was read
 * somewhere in [tsc - width/2, tsc + width/2]. */
struct ref_sample {
    uint64_t value;
    uint64_t tsc, width;
};

static struct ref_sample sample_once(const struct ref_clock *rc)
{
    struct ref_sample s;
    uint64_t before = plat_tsc_start();
    s.value = rc->read();
    uint64_t after = plat_tsc_stop();
    s.tsc = before + (after - before) / 2;
    s.width = after - before;
    return s;
}

/* The narrowest of a few samples: a vCPU preempted mid-read gives a wide one. */
static struct ref_sample sample(const struct ref_clock *rc)
{
    struct ref_sample best = sample_once(rc);
    for (unsigned i = 1; i < SAMPLE_TRIES; i++) {
        struct ref_sample s = sample_once(rc);
        if (s.width < best.width)
            best = s;
    }
    return best;
}

/* True when the counter moves: a missing device reads the same value
 * (all ones) every time. */
static bool counter_moves(const struct ref_clock *rc)
{
    if (rc->start)
        rc->start();
    uint64_t first = rc->read();
    for (unsigned i = 0; i < PROBE_READS; i++)
        if (rc->read() != first)
            return true;
    return false;
}

/* TSC kHz over one CALIBRATION_MS stretch of the counter, or 0 when the run
 * cannot be trusted: elapsed ticks are summed read to read, so a wrap is
 * harmless, but a gap between two reads of half the counter's period or
 * more (the vCPU descheduled on a loaded host) could hide a whole one. */
static uint64_t measure_once(const struct ref_clock *rc)
{
    const uint64_t window = rc->hz * CALIBRATION_MS / 1000;
    uint64_t half = rc->period ? rc->period / 2 : HALF_PERIOD_CAP;
    if (half > HALF_PERIOD_CAP)
        half = HALF_PERIOD_CAP;
    if (rc->start)
        rc->start();
    struct ref_sample first = sample(rc), prev = first;
    uint64_t elapsed = 0;
    for (uint32_t i = 0; i < POLL_LIMIT; i++) {
        bool done = elapsed >= window;
        struct ref_sample s = done ? sample(rc) : sample_once(rc);
        /* cycles per tick so far, times half a period: the longest safe gap */
        if (elapsed > 0 && (s.tsc - prev.tsc) * elapsed >= (prev.tsc - first.tsc) * half)
            return 0;
        elapsed += ticks_between(rc, prev.value, s.value);
        prev = s;
        if (done)
            return (s.tsc - first.tsc) * rc->hz / elapsed / 1000;
    }
    PANIC("tsc: the %s did not advance %lu ticks in %u reads; cannot calibrate the TSC",
          rc->name, window, POLL_LIMIT);
}

/* The median of CALIBRATION_RUNS trusted runs; *spread gets their spread. */
static uint64_t calibrate_round(const struct ref_clock *rc, uint64_t *spread)
{
    uint64_t runs[CALIBRATION_RUNS];
    unsigned n = 0, attempts = 0;
    while (n < CALIBRATION_RUNS) {
        if (++attempts > CALIBRATION_RUNS * 8)
            PANIC("tsc: %u of %u %s calibration runs were interrupted for half a counter "
                  "period or more; the host is too loaded to calibrate the TSC (use tsc=auto "
                  "on a hypervisor that reports it)", attempts - 1 - n, attempts - 1, rc->name);
        uint64_t k = measure_once(rc);
        if (k == 0)
            continue;
        unsigned j = n++; /* insertion sort for the median */
        while (j > 0 && runs[j - 1] > k) {
            runs[j] = runs[j - 1];
            j--;
        }
        runs[j] = k;
    }
    uint64_t median = runs[CALIBRATION_RUNS / 2];
    if (median == 0)
        PANIC("tsc: %s calibration measured 0 kHz (the TSC does not advance?)", rc->name);
    *spread = (runs[CALIBRATION_RUNS - 1] - runs[0]) * 1000000 / median;
    return median;
}

/* Rounds until the runs agree within MAX_SPREAD_PPM (at most
 * CALIBRATION_ROUNDS); the round with the smallest spread wins. */
static uint64_t calibrate_khz(const struct ref_clock *rc)
{
    uint64_t best = 0;
    spread_ppm = UINT64_MAX;
    for (unsigned r = 0; r < CALIBRATION_ROUNDS && spread_ppm > MAX_SPREAD_PPM; r++) {
        uint64_t spread;
        uint64_t k = calibrate_round(rc, &spread);
        if (spread < spread_ppm) {
            spread_ppm = spread;
            best = k;
        }
    }
    return best;
}

/* ---- the reference counters, each found or refused with a reason ---------- */

static bool pit_clock(struct ref_clock *rc, const char **why)
{
    *rc = (struct ref_clock){"pit", PIT_HZ, PIT_START_COUNT, pit_read, pit_start};
    *why = "channel 2 does not count (no PIT)";
    return counter_moves(rc);
}

static bool hpet_clock(struct ref_clock *rc, const char **why)
{
    uint32_t len;
    const void *t = acpi_table("HPET", &len);
    *why = "no valid ACPI HPET table";
    if (t == NULL)
        return false;
    struct acpi_hpet h;
    char msg[256] = "";
    bool ok = acpi_parse_hpet(t, len, &h, msg, sizeof msg);
    if (ok) {
        hpet_regs = paging_map_mmio(h.base, ACPI_HPET_MMIO_LEN);
        uint64_t cap = *(volatile uint64_t *)(hpet_regs + HPET_REG_CAPABILITIES);
        uint64_t hz = acpi_hpet_hz(cap, msg, sizeof msg);
        ok = hz != 0;
        bool wide = cap & HPET_CAP_COUNT_64;
        *rc = (struct ref_clock){"hpet", hz, wide ? 0 : (uint64_t)1 << 32,
                                 wide ? hpet_read : hpet_read32, NULL};
        volatile uint64_t *config = (volatile uint64_t *)(hpet_regs + HPET_REG_CONFIG);
        if (ok && !(*config & HPET_CONFIG_ENABLE))
            *config |= HPET_CONFIG_ENABLE; /* the main counter runs only when enabled */
    }
    acpi_print_lines(msg);
    *why = ok ? "its main counter does not count" : "the HPET is unusable (see above)";
    return ok && counter_moves(rc);
}

static bool pm_timer_clock(struct ref_clock *rc, const char **why)
{
    const struct acpi_fadt *f = acpi_fadt();
    *why = "the FADT describes no usable PM timer";
    if (f == NULL || !f->has_pm_timer)
        return false;
    pm_timer_port = f->pm_timer_port;
    pm_timer_mask = f->pm_timer_bits == 32 ? UINT32_MAX : (1u << 24) - 1;
    *rc = (struct ref_clock){"pmtimer", ACPI_FADT_PM_TMR_HZ, (uint64_t)pm_timer_mask + 1,
                             pm_timer_read, NULL};
    *why = "it does not count";
    return counter_moves(rc);
}

static uint64_t cpuid_hypervisor_khz(void)
{
    if (cpu_max_hypervisor_leaf() < CPUID_HV_TIMING)
        return 0;
    return cpuid(CPUID_HV_TIMING, 0).eax;
}

/* kvmclock: KVM's pvclock record for this CPU, read once and switched off
 * again.  Offered when CPUID 0x40000010 is not (QEMU needs invtsc for that
 * leaf); KVM derives the record's scale from the TSC rate it set for the
 * guest.  The record sits in the kernel image, whose physical address is its
 * link address minus KERNEL_VMA. */
static struct pvclock_time_info kvmclock_record __attribute__((aligned(64)));

static uint64_t kvmclock_khz(void)
{
    if (!str_eq(cpu_hypervisor(), "kvm") || cpu_max_hypervisor_leaf() < CPUID_KVM_FEATURES)
        return 0;
    uint32_t features = cpuid(CPUID_KVM_FEATURES, 0).eax;
    uint32_t msr = features & KVM_FEATURE_CLOCKSOURCE2 ? MSR_KVM_SYSTEM_TIME_NEW
                 : features & KVM_FEATURE_CLOCKSOURCE  ? MSR_KVM_SYSTEM_TIME
                                                       : 0;
    if (msr == 0)
        return 0;
    volatile struct pvclock_time_info *rec = &kvmclock_record;
    wrmsr(msr, ((uint64_t)(uintptr_t)&kvmclock_record - KERNEL_VMA) | KVM_SYSTEM_TIME_ENABLE);
    uint32_t version, mul;
    int8_t shift;
    unsigned tries = 0;
    do { /* a consistent copy: the same even version before and after */
        version = rec->version;
        __atomic_signal_fence(__ATOMIC_ACQUIRE);
        mul = rec->tsc_to_system_mul;
        shift = rec->tsc_shift;
        __atomic_signal_fence(__ATOMIC_ACQUIRE);
    } while (((version & 1) || version != rec->version || version == 0) && ++tries < 1000000);
    wrmsr(msr, 0);
    return tries < 1000000 ? pvclock_tsc_khz(mul, shift) : 0;
}

static uint64_t cpuid_15_khz(uint32_t max_leaf)
{
    if (max_leaf < CPUID_TSC_CRYSTAL)
        return 0;
    struct cpuid_regs r = cpuid(CPUID_TSC_CRYSTAL, 0);
    if (r.eax == 0 || r.ebx == 0)
        return 0;
    uint64_t crystal_hz = r.ecx;
    if (crystal_hz == 0 && max_leaf >= CPUID_FREQUENCY) {
        /* Base frequency = crystal x EBX/EAX, so crystal = base x EAX/EBX. */
        uint64_t base_mhz = cpuid(CPUID_FREQUENCY, 0).eax & 0xffff;
        crystal_hz = base_mhz * 1000000u * r.eax / r.ebx;
    }
    return crystal_hz * r.ebx / r.eax / 1000;
}

static uint64_t cpuid_16_khz(uint32_t max_leaf)
{
    if (max_leaf < CPUID_FREQUENCY)
        return 0;
    return (uint64_t)(cpuid(CPUID_FREQUENCY, 0).eax & 0xffff) * 1000;
}

/* Measures against the reference counters allowed (bit per source, in
 * order of preference); the first present one wins.  Every source tried
 * and passed over is named in the boot log. */
static void measure(unsigned allowed)
{
    static bool (*const finders[])(struct ref_clock *, const char **) = {
        pit_clock, hpet_clock, pm_timer_clock,
    };
    static const char *const names[] = {"pit", "hpet", "pmtimer"};
    for (unsigned i = 0; i < sizeof finders / sizeof finders[0]; i++) {
        if (!(allowed & 1u << i))
            continue;
        struct ref_clock rc;
        const char *why;
        if (finders[i](&rc, &why)) {
            khz = calibrate_khz(&rc);
            source = rc.name;
            return;
        }
        kprintf("tsc: not calibrating against the %s: %s\n", names[i], why);
    }
    PANIC("tsc: no reference counter to calibrate the TSC against (tried %s%s%s)",
          allowed & 1 ? "pit " : "", allowed & 2 ? "hpet " : "", allowed & 4 ? "pmtimer" : "");
}

void tsc_init(struct cmdline *cl)
{
    enum { TSC_AUTO, TSC_PIT, TSC_HPET, TSC_PMTIMER };
    static const char *const modes[] = {[TSC_AUTO] = "auto", [TSC_PIT] = "pit",
                                        [TSC_HPET] = "hpet", [TSC_PMTIMER] = "pmtimer"};
    unsigned mode = TSC_AUTO;
    cmdline_enum(cl, "tsc", modes, sizeof modes / sizeof modes[0], TSC_AUTO, &mode);

    uint32_t max_leaf = cpuid(0, 0).eax;
    bool cpuid_ok = mode == TSC_AUTO;
    bool measured = false;
    if (cpuid_ok && (khz = cpuid_hypervisor_khz()) != 0)
        source = "cpuid-40000010";
    else if (cpuid_ok && (khz = kvmclock_khz()) != 0)
        source = "kvmclock";
    else if (cpuid_ok && (khz = cpuid_15_khz(max_leaf)) != 0)
        source = "cpuid-15";
    else if (cpuid_ok && (khz = cpuid_16_khz(max_leaf)) != 0)
        source = "cpuid-16";
    else {
        measure(mode == TSC_AUTO ? 7u : 1u << (mode - TSC_PIT));
        measured = true;
    }
    if (khz == 0)
        PANIC("tsc: %s reported a TSC frequency of 0 kHz", source);
    if (measured) /* say how well the calibration runs agreed */
        kprintf("tsc: %lu kHz (source %s, runs within %lu ppm)%s\n", khz, source, spread_ppm,
                cpu_has_invariant_tsc() ? ", invariant" : "");
    else
        kprintf("tsc: %lu kHz (source %s)%s\n", khz, source,
                cpu_has_invariant_tsc() ? ", invariant" : "");
}

uint64_t tsc_khz(void)
{
    return khz;
}

const char *tsc_source(void)
{
    return source;
}

uint64_t tsc_calibration_spread_ppm(void)
{
    return spread_ppm;
}
