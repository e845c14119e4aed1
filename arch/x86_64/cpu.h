/*
 * cpu.h - what CPUID says about this machine, read once at boot.
 */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* Reads the CPUID leaves used below and prints a "cpu:" line; call once on
 * the BSP before paging. */
void cpu_identify(void);

const char *cpu_vendor(void);     /* "GenuineIntel", "AuthenticAMD", ... */
const char *cpu_brand(void);      /* brand string, "" when the CPU has none */
/* "tcg", "kvm", "hyperv", "vmware", "xen", ... from CPUID 0x40000000, or
 * "none" on bare metal. */
const char *cpu_hypervisor(void);
uint32_t cpu_max_hypervisor_leaf(void); /* 0 when there is no hypervisor leaf */

bool cpu_has_1g_pages(void);
bool cpu_has_invariant_tsc(void);

#endif /* ARCH_CPU_H */
