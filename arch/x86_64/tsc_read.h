/*
 * tsc_read.h - the TSC reads both platform implementations use on x86_64:
 * the kernel's (platform_impl.h) and the host library's
 * (tests/host/platform_impl.h), which time the same code the same way.
 */
#ifndef ARCH_X86_64_TSC_READ_H
#define ARCH_X86_64_TSC_READ_H

#include <stdint.h>

static inline uint64_t x86_rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

/* lfence;rdtsc;lfence: earlier instructions have completed and later ones
 * have not started (the start of a timed region). */
static inline uint64_t x86_rdtsc_fenced(void)
{
    __builtin_ia32_lfence();
    uint64_t t = __builtin_ia32_rdtsc();
    __builtin_ia32_lfence();
    return t;
}

#endif /* ARCH_X86_64_TSC_READ_H */
