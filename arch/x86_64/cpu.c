/*
 * cpu.c - CPUID identification: vendor, brand, hypervisor, features.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/apic.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/x86.h"
#include "kernel/console.h"
#include "kernel/exit.h"
#include "lib/str.h"
#include "plat/platform.h"

static char vendor[13];
static char brand[49];
static char hypervisor_raw[13];
static const char *hypervisor = "none";
static uint32_t max_hv_leaf;
static bool gib_pages;
static bool invariant_tsc;
static bool rdtscp;
static bool x2apic;
static unsigned family, model;
static bool tsc_stop_patched;

/* plat_tsc_stop's sites (platform_impl.h, collected by linker.ld) and the
 * bytes each must hold: rdtscp (0f 01 f9) lfence (0f ae e8), replaced by
 * lfence (0f ae e8) rdtsc (0f 31) nop (90) where RDTSCP is missing. */
extern const uint64_t __tsc_stop_sites_start[], __tsc_stop_sites_end[];
#define TSC_STOP_BYTES 6
static const uint8_t tsc_stop_rdtscp[TSC_STOP_BYTES] = {0x0f, 0x01, 0xf9, 0x0f, 0xae, 0xe8};
static const uint8_t tsc_stop_rdtsc[TSC_STOP_BYTES] = {0x0f, 0xae, 0xe8, 0x0f, 0x31, 0x90};

#define CPUID_1_EAX_MODEL(a) (((a) >> 4) & 0xf)
#define CPUID_1_EAX_FAMILY(a) (((a) >> 8) & 0xf)
#define CPUID_1_EAX_EXT_MODEL(a) (((a) >> 16) & 0xf)
#define CPUID_1_EAX_EXT_FAMILY(a) (((a) >> 20) & 0xff)
#define FAMILY_EXTENDED 0xf /* the base value that adds the extended family */
#define FAMILY_P6 0x6       /* ...and, with it, the extended model */

/* Rewrites every plat_tsc_stop site; the kernel text is mapped writable
 * (paging.c) and no other CPU runs yet.  A site holding other bytes means
 * the compiler or the linker script changed it: a kernel bug, stopped. */
static unsigned patch_tsc_stop_sites(void)
{
    unsigned n = 0;
    for (const uint64_t *site = __tsc_stop_sites_start; site < __tsc_stop_sites_end; site++) {
        uint8_t *code = (uint8_t *)*site;
        if (__builtin_memcmp(code, tsc_stop_rdtscp, TSC_STOP_BYTES) != 0)
            PANIC("cpu: plat_tsc_stop site %p does not hold rdtscp;lfence", (void *)code);
        __builtin_memcpy(code, tsc_stop_rdtsc, TSC_STOP_BYTES);
        n++;
    }
    /* Serialising, so this CPU fetches the new bytes (SDM Vol. 3A 8.1.3). */
    cpuid(0, 0);
    return n;
}

static void check_features(uint32_t edx1)
{
    if (!(edx1 & CPUID_1_EDX_TSC)) {
        kprintf("cpu: this CPU has no time-stamp counter (CPUID.01H:EDX.TSC = 0); every "
                "figure is a TSC difference, so nothing can be measured: stopping "
                "(exit check-failed)\n");
        kernel_exit(EXIT_CHECK_FAILED);
    }
    if (!rdtscp) {
        unsigned n = patch_tsc_stop_sites();
        tsc_stop_patched = true;
        kprintf("cpu: no RDTSCP (CPUID.80000001H:EDX bit 27): the %u timed-region ends use "
                "lfence;rdtsc instead\n", n);
    }
    if (!invariant_tsc)
        kprintf("cpu: the TSC is not invariant (CPUID.80000007H:EDX bit 8): cycle figures "
                "assume the rate calibrated at boot holds for the whole run\n");
    if (!x2apic)
        kprintf("cpu: no x2APIC (CPUID.01H:ECX bit 21): xAPIC mode, at most 255 CPUs\n");
}

static void copy_regs(char *dst, uint32_t a, uint32_t b, uint32_t c)
{
    __builtin_memcpy(dst, &a, 4);
    __builtin_memcpy(dst + 4, &b, 4);
    __builtin_memcpy(dst + 8, &c, 4);
    dst[12] = '\0';
}

static const char *const hypervisor_names[][2] = {
    {"TCGTCGTCGTCG", "tcg"},    {"KVMKVMKVM", "kvm"},     {"Microsoft Hv", "hyperv"},
    {"VMwareVMware", "vmware"}, {"XenVMMXenVMM", "xen"},  {"VBoxVBoxVBox", "virtualbox"},
    {"bhyve bhyve ", "bhyve"},  {"ACRNACRNACRN", "acrn"},
};

static void identify_hypervisor(void)
{
    /* Only trust leaf 0x40000000 when CPUID.1:ECX says a hypervisor is
     * present: on bare metal it returns unrelated data. */
    if (!(cpuid(CPUID_FEATURES, 0).ecx & CPUID_1_ECX_HYPERVISOR))
        return;
    struct cpuid_regs r = cpuid(CPUID_HV_BASE, 0);
    copy_regs(hypervisor_raw, r.ebx, r.ecx, r.edx);
    max_hv_leaf = r.eax >= CPUID_HV_BASE ? r.eax : 0;
    hypervisor = hypervisor_raw[0] ? hypervisor_raw : "unknown"; /* unlisted: its signature */
    for (unsigned i = 0; i < sizeof hypervisor_names / sizeof hypervisor_names[0]; i++)
        if (str_eq(hypervisor_raw, hypervisor_names[i][0]))
            hypervisor = hypervisor_names[i][1];
}

void cpu_identify(void)
{
    struct cpuid_regs r = cpuid(0, 0);
    copy_regs(vendor, r.ebx, r.edx, r.ecx);
    r = cpuid(CPUID_FEATURES, 0);
    family = CPUID_1_EAX_FAMILY(r.eax);
    model = CPUID_1_EAX_MODEL(r.eax);
    if (family == FAMILY_EXTENDED)
        family += CPUID_1_EAX_EXT_FAMILY(r.eax);
    if (family == FAMILY_EXTENDED || family == FAMILY_P6 || family > FAMILY_EXTENDED)
        model += CPUID_1_EAX_EXT_MODEL(r.eax) << 4;
    x2apic = r.ecx & CPUID_1_ECX_X2APIC;
    uint32_t edx1 = r.edx;

    uint32_t max_ext = cpuid(CPUID_EXT_MAX, 0).eax;
    if (max_ext >= CPUID_EXT_FEATURES) {
        uint32_t edx = cpuid(CPUID_EXT_FEATURES, 0).edx;
        gib_pages = edx & CPUID_EXT_EDX_PDPE1GB;
        rdtscp = edx & CPUID_EXT_EDX_RDTSCP;
    }
    if (max_ext >= CPUID_POWER_MGMT)
        invariant_tsc = cpuid(CPUID_POWER_MGMT, 0).edx & CPUID_80000007_EDX_INVARIANT_TSC;
    if (max_ext >= CPUID_BRAND_FIRST + 2) {
        for (uint32_t i = 0; i < 3; i++) {
            r = cpuid(CPUID_BRAND_FIRST + i, 0);
            __builtin_memcpy(brand + 16 * i, &r, 16);
        }
        brand[48] = '\0';
    }
    /* Brand strings are often right-justified with leading spaces. */
    const char *b = brand;
    while (*b == ' ')
        b++;
    if (b != brand)
        __builtin_memmove(brand, b, __builtin_strlen(b) + 1);
    identify_hypervisor();
    kprintf("cpu: %s \"%s\" family 0x%x model 0x%x, hypervisor %s; rdtscp %s, invariant TSC "
            "%s, x2APIC %s, 1 GiB pages %s\n",
            vendor, brand, family, model, hypervisor, rdtscp ? "yes" : "no",
            invariant_tsc ? "yes" : "no", x2apic ? "yes" : "no", gib_pages ? "yes" : "no");
    check_features(edx1);
}

const char *cpu_vendor(void)
{
    return vendor;
}

const char *cpu_brand(void)
{
    return brand;
}

const char *cpu_hypervisor(void)
{
    return hypervisor;
}

uint32_t cpu_max_hypervisor_leaf(void)
{
    return max_hv_leaf;
}

bool cpu_has_1g_pages(void)
{
    return gib_pages;
}

bool cpu_has_invariant_tsc(void)
{
    return invariant_tsc;
}

unsigned cpu_family(void)
{
    return family;
}

unsigned cpu_model(void)
{
    return model;
}

bool cpu_has_rdtscp(void)
{
    return rdtscp;
}

bool cpu_has_x2apic(void)
{
    return x2apic;
}

bool cpu_needs_init_delay(void)
{
    /* x2APIC came long after the processors that needed the wait (QEMU's
     * TCG "max" CPU says AMD family 6 but has it). */
    if (x2apic)
        return false;
    if (str_eq(vendor, "GenuineIntel"))
        return family < FAMILY_P6;
    if (str_eq(vendor, "AuthenticAMD"))
        return family < FAMILY_EXTENDED;
    return !str_eq(vendor, "HygonGenuine");
}

const char *cpu_tsc_stop_sequence(void)
{
    return tsc_stop_patched ? "lfence;rdtsc" : "rdtscp;lfence";
}
