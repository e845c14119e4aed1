/*
 * tsc.h - TSC frequency, found once at boot.
 *
 * Sources, in order of preference:
 *   "cpuid-40000010"  hypervisor timing leaf (EAX = TSC kHz): the hypervisor
 *                     knows the rate it gives the guest
 *   "kvmclock"        KVM's pvclock record (its TSC-to-ns scale), read once
 *                     through the kvmclock MSR and switched off again
 *   "cpuid-15"        Intel crystal clock ratio (ECX crystal Hz x EBX/EAX;
 *                     crystal from leaf 0x16 when ECX is 0)
 *   "cpuid-16"        processor base frequency in MHz (whole MHz only)
 *   measured: the median of 3 stretches of 15 ms against a reference
 *   counter, each timed from the narrowest of 5 TSC-bracketed reads at either
 *   end; the first of these that is present (its counter moves):
 *   "pit"             PIT channel 2 (1.193182 MHz)
 *   "hpet"            the HPET's main counter (ACPI HPET table; hardware
 *                     without a PIT: its period from the capabilities register)
 *   "pmtimer"         the ACPI PM timer (FADT; 3.579545 MHz, 24 or 32 bits)
 * `tsc=pit|hpet|pmtimer` on the command line forces that measurement (and
 * stops the run when the source is absent); every source passed over is
 * named in the boot log with the reason.
 */
#ifndef ARCH_TSC_H
#define ARCH_TSC_H

#include <stdint.h>

struct cmdline;

/* Reads `tsc=auto|pit|hpet|pmtimer` from the command line, finds the
 * frequency and prints a "tsc:" line.  acpi_init must have run (HPET, FADT). */
void tsc_init(struct cmdline *cl);

uint64_t tsc_khz(void);
const char *tsc_source(void);
/* Measured sources only: (max - min) / median of the runs, in ppm; 0 otherwise. */
uint64_t tsc_calibration_spread_ppm(void);

#endif /* ARCH_TSC_H */
