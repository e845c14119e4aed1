/*
 * tsc.h - TSC frequency, found once at boot.
 *
 * Sources, in order of preference:
 *   "cpuid-40000010"  hypervisor timing leaf (EAX = TSC kHz): the hypervisor
 *                     knows the rate it gives the guest
 *   "cpuid-15"        Intel crystal clock ratio (ECX crystal Hz x EBX/EAX;
 *                     crystal from leaf 0x16 when ECX is 0)
 *   "cpuid-16"        processor base frequency in MHz (whole MHz only)
 *   "pit"             measured against PIT channel 2: the median of 3 stretches
 *                     of 15 ms, each timed from the narrowest of 5 TSC-bracketed
 *                     reads of the PIT count at either end
 * `tsc=pit` on the command line forces the measurement.
 */
#ifndef ARCH_TSC_H
#define ARCH_TSC_H

#include <stdint.h>

struct cmdline;

/* Reads `tsc=auto|pit` from the command line, finds the frequency and prints
 * a "tsc:" line. */
void tsc_init(struct cmdline *cl);

uint64_t tsc_khz(void);
const char *tsc_source(void);
/* PIT calibration only: (max - min) / median of the runs, in ppm; 0 otherwise. */
uint64_t tsc_calibration_spread_ppm(void);

#endif /* ARCH_TSC_H */
