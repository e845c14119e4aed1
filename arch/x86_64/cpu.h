/*
 * cpu.h - what CPUID says about this machine, read once at boot.
 */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* Reads the CPUID leaves used below, prints a "cpu:" line, and checks the
 * instructions the kernel relies on: without a TSC it stops (exit
 * check-failed) naming the feature; without RDTSCP it rewrites every
 * plat_tsc_stop into lfence;rdtsc and says so; a TSC that is not invariant
 * is reported (cycle figures then assume a rate the CPU may not keep);
 * x2APIC is optional (apic.c falls back to xAPIC).  Call once on the BSP
 * before paging and before any TSC read. */
void cpu_identify(void);

const char *cpu_vendor(void);     /* "GenuineIntel", "AuthenticAMD", ... */
const char *cpu_brand(void);      /* brand string, "" when the CPU has none */
/* "tcg", "kvm", "hyperv", "vmware", "xen", ... from CPUID 0x40000000, or
 * "none" on bare metal. */
const char *cpu_hypervisor(void);
uint32_t cpu_max_hypervisor_leaf(void); /* 0 when there is no hypervisor leaf */

/* Display family (base family, plus the extended family when the base is
 * 0xf: SDM Vol. 2A, CPUID leaf 1) and model. */
unsigned cpu_family(void);
unsigned cpu_model(void);

bool cpu_has_1g_pages(void);
bool cpu_has_invariant_tsc(void);
bool cpu_has_rdtscp(void);
bool cpu_has_x2apic(void);
/* "rdtscp;lfence", or "lfence;rdtsc" when the boot rewrote the sites. */
const char *cpu_tsc_stop_sequence(void);

/* True when the processor may need the INIT IPI's 10 ms settling time of
 * the MP specification before a STARTUP IPI.  Linux's rule
 * (smp_quirk_init_udelay): Intel family 6 and later, AMD family 0xf and
 * later and Hygon do not, nor does any processor with x2APIC; anything
 * else, or an unknown vendor, may. */
bool cpu_needs_init_delay(void);

#endif /* ARCH_CPU_H */
