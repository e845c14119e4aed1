/*
 * tsc.c - TSC frequency from CPUID or calibrated against the PIT.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/cmdline.h"
#include "kernel/console.h"
#include "arch/x86_64/cpu.h"
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
/* PIT reads before giving up on a counter that does not move. */
#define PIT_POLL_LIMIT 10000000u

static uint64_t khz;
static const char *source = "none";
static uint64_t pit_spread_ppm; /* max - min of the runs, parts per million of the median */

/* One PIT count with the TSC read around it: the count was latched somewhere
 * in [tsc - width/2, tsc + width/2]. */
struct pit_sample {
    uint16_t count;
    uint64_t tsc, width;
};

static struct pit_sample pit_sample_once(void)
{
    struct pit_sample s;
    uint64_t before = plat_tsc_start();
    outb(PIT_COMMAND, PIT_CMD_CH2_LATCH);
    uint8_t lo = inb(PIT_CH2_DATA);
    uint8_t hi = inb(PIT_CH2_DATA);
    uint64_t after = plat_tsc_stop();
    s.count = (uint16_t)(lo | hi << 8);
    s.tsc = before + (after - before) / 2;
    s.width = after - before;
    return s;
}

/* The narrowest of a few samples: a vCPU preempted mid-read gives a wide one. */
static struct pit_sample pit_sample(void)
{
    struct pit_sample best = pit_sample_once();
    for (unsigned i = 1; i < SAMPLE_TRIES; i++) {
        struct pit_sample s = pit_sample_once();
        if (s.width < best.width)
            best = s;
    }
    return best;
}

/* PIT ticks from count a to a later count b, across at most one reload
 * (mode 2 counts PIT_START_COUNT down to 1, then reloads). */
static uint32_t pit_ticks_between(uint16_t a, uint16_t b)
{
    return a >= b ? (uint32_t)(a - b) : (uint32_t)a + PIT_START_COUNT - b;
}

/* TSC kHz over one CALIBRATION_MS stretch of PIT channel 2 counting down, or
 * 0 when the run cannot be trusted: elapsed ticks are summed read to read,
 * so a reload is harmless, but a gap between two reads of half the PIT's
 * period or more (the vCPU descheduled on a loaded host) could hide a whole
 * one. */
static uint64_t pit_measure_once(void)
{
    const uint32_t window = PIT_HZ / 1000 * CALIBRATION_MS;
    outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2); /* count, silently */
    outb(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE2);
    outb(PIT_CH2_DATA, PIT_START_COUNT & 0xff);
    outb(PIT_CH2_DATA, PIT_START_COUNT >> 8);
    struct pit_sample first = pit_sample(), prev = first;
    uint64_t elapsed = 0;
    for (uint32_t i = 0; i < PIT_POLL_LIMIT; i++) {
        bool done = elapsed >= window;
        struct pit_sample s = done ? pit_sample() : pit_sample_once();
        /* cycles per tick so far, times half a period: the longest safe gap */
        if (elapsed > 0 &&
            (s.tsc - prev.tsc) * elapsed >= (prev.tsc - first.tsc) * (PIT_START_COUNT / 2))
            return 0;
        elapsed += pit_ticks_between(prev.count, s.count);
        prev = s;
        if (done)
            return (s.tsc - first.tsc) * PIT_HZ / elapsed / 1000;
    }
    PANIC("tsc: PIT channel 2 did not count down %u ticks in %u reads; cannot calibrate the "
          "TSC (no PIT?)", window, PIT_POLL_LIMIT);
}

/* The median of CALIBRATION_RUNS trusted runs; *spread_ppm gets their spread. */
static uint64_t pit_calibrate_round(uint64_t *spread_ppm)
{
    uint64_t runs[CALIBRATION_RUNS];
    unsigned n = 0, attempts = 0;
    while (n < CALIBRATION_RUNS) {
        if (++attempts > CALIBRATION_RUNS * 8)
            PANIC("tsc: %u of %u PIT calibration runs were interrupted for half a PIT period "
                  "or more; the host is too loaded to calibrate the TSC (use tsc=auto on a "
                  "hypervisor that reports it)", attempts - 1 - n, attempts - 1);
        uint64_t k = pit_measure_once();
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
        PANIC("tsc: PIT calibration measured 0 kHz (the TSC does not advance?)");
    *spread_ppm = (runs[CALIBRATION_RUNS - 1] - runs[0]) * 1000000 / median;
    return median;
}

/* Rounds until the runs agree within MAX_SPREAD_PPM (at most
 * CALIBRATION_ROUNDS); the round with the smallest spread wins. */
static uint64_t pit_calibrate_khz(void)
{
    uint64_t best = 0;
    pit_spread_ppm = UINT64_MAX;
    for (unsigned r = 0; r < CALIBRATION_ROUNDS && pit_spread_ppm > MAX_SPREAD_PPM; r++) {
        uint64_t spread;
        uint64_t khz = pit_calibrate_round(&spread);
        if (spread < pit_spread_ppm) {
            pit_spread_ppm = spread;
            best = khz;
        }
    }
    return best;
}

static uint64_t cpuid_hypervisor_khz(void)
{
    if (cpu_max_hypervisor_leaf() < CPUID_HV_TIMING)
        return 0;
    return cpuid(CPUID_HV_TIMING, 0).eax;
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

void tsc_init(struct cmdline *cl)
{
    enum { TSC_AUTO, TSC_PIT };
    static const char *const modes[] = {[TSC_AUTO] = "auto", [TSC_PIT] = "pit"};
    unsigned mode = TSC_AUTO;
    cmdline_enum(cl, "tsc", modes, 2, TSC_AUTO, &mode);

    uint32_t max_leaf = cpuid(0, 0).eax;
    bool cpuid_ok = mode == TSC_AUTO;
    bool measured = false;
    if (cpuid_ok && (khz = cpuid_hypervisor_khz()) != 0)
        source = "cpuid-40000010";
    else if (cpuid_ok && (khz = cpuid_15_khz(max_leaf)) != 0)
        source = "cpuid-15";
    else if (cpuid_ok && (khz = cpuid_16_khz(max_leaf)) != 0)
        source = "cpuid-16";
    else {
        khz = pit_calibrate_khz();
        source = "pit";
        measured = true;
    }
    if (khz == 0)
        PANIC("tsc: %s reported a TSC frequency of 0 kHz", source);
    if (measured) /* say how well the calibration runs agreed */
        kprintf("tsc: %lu kHz (source %s, runs within %lu ppm)%s\n", khz, source, pit_spread_ppm,
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
    return pit_spread_ppm;
}
