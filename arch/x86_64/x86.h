/*
 * x86.h - register-level helpers: port I/O, MSRs, control registers, CPUID,
 * with named bits for everything the kernel touches.  Kernel-only.
 */
#ifndef ARCH_X86_H
#define ARCH_X86_H

#ifdef __ASSEMBLER__
#define X86_BIT(n) (1 << (n))
#else
#include <stdint.h>
#define X86_BIT(n) (1ul << (n))
#endif

/* ---- control registers ---- */
#define CR0_PE X86_BIT(0)
#define CR0_MP X86_BIT(1)  /* WAIT/FWAIT honour TS */
#define CR0_EM X86_BIT(2)  /* x87 emulation: must be clear for SSE */
#define CR0_TS X86_BIT(3)
#define CR0_NE X86_BIT(5)  /* native x87 error reporting */
#define CR0_WP X86_BIT(16)
#define CR0_PG X86_BIT(31)

#define CR4_PSE X86_BIT(4)
#define CR4_PAE X86_BIT(5)
#define CR4_PGE X86_BIT(7)
#define CR4_OSFXSR X86_BIT(9)      /* FXSAVE/FXRSTOR and SSE enabled */
#define CR4_OSXMMEXCPT X86_BIT(10) /* unmasked SIMD FP exceptions raise #XM */

/* ---- MSRs ---- */
#define MSR_EFER 0xc0000080
#define EFER_LME X86_BIT(8)
#define EFER_NXE X86_BIT(11)
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_KVM_SYSTEM_TIME 0x12          /* kvmclock, original MSR */
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01 /* kvmclock, KVM_FEATURE_CLOCKSOURCE2 */
#define KVM_SYSTEM_TIME_ENABLE X86_BIT(0)

/* ---- RFLAGS ---- */
#define RFLAGS_IF X86_BIT(9)

/* ---- CPUID leaves and bits ---- */
#define CPUID_FEATURES 0x1
#define CPUID_1_ECX_HYPERVISOR X86_BIT(31)
#define CPUID_1_EDX_TSC X86_BIT(4)
#define CPUID_TSC_CRYSTAL 0x15
#define CPUID_FREQUENCY 0x16
#define CPUID_HV_BASE 0x40000000
#define CPUID_HV_TIMING 0x40000010 /* VMware/KVM convention: EAX = TSC kHz */
#define CPUID_KVM_FEATURES 0x40000001 /* EAX: KVM_FEATURE_* */
#define KVM_FEATURE_CLOCKSOURCE X86_BIT(0)
#define KVM_FEATURE_CLOCKSOURCE2 X86_BIT(3)
#define CPUID_EXT_MAX 0x80000000
#define CPUID_EXT_FEATURES 0x80000001
#define CPUID_EXT_EDX_PDPE1GB X86_BIT(26)
#define CPUID_EXT_EDX_RDTSCP X86_BIT(27)
#define CPUID_EXT_EDX_LM X86_BIT(29)
#define CPUID_BRAND_FIRST 0x80000002
#define CPUID_POWER_MGMT 0x80000007
#define CPUID_80000007_EDX_INVARIANT_TSC X86_BIT(8)

#ifndef __ASSEMBLER__

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/*
 * The control-register number is part of the instruction, so no argument can
 * choose it: one definition per register, from one body.  Reads have no
 * memory clobber (nothing in memory changes); writes have one, because a CR0,
 * CR3 or CR4 write changes how every later access is translated.
 */
#define X86_DEFINE_READ_CR(n)                                                  \
    static inline uint64_t read_cr##n(void)                                    \
    {                                                                          \
        uint64_t v;                                                            \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                      \
        return v;                                                              \
    }
#define X86_DEFINE_WRITE_CR(n)                                                 \
    static inline void write_cr##n(uint64_t v)                                 \
    {                                                                          \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");             \
    }

X86_DEFINE_READ_CR(0)
X86_DEFINE_READ_CR(2)
X86_DEFINE_READ_CR(3)
X86_DEFINE_READ_CR(4)
X86_DEFINE_WRITE_CR(0)
X86_DEFINE_WRITE_CR(3)
X86_DEFINE_WRITE_CR(4)

#undef X86_DEFINE_READ_CR
#undef X86_DEFINE_WRITE_CR

static inline void invlpg(const void *va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline _Noreturn void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#endif /* __ASSEMBLER__ */
#endif /* ARCH_X86_H */
