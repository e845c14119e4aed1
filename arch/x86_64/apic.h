/*
 * apic.h - the local APIC behind one interface, in xAPIC (MMIO) or x2APIC
 * (MSR) mode.
 *
 * The kernel uses the local APIC only to start CPUs (INIT and STARTUP IPIs),
 * to wake halted idle CPUs (NMIs, smp_idle=halt) and to read APIC ids: no
 * maskable interrupt is ever delivered (IF stays clear, every LVT entry stays
 * masked).  x2APIC is used when CPUID.01H:ECX reports it
 * (QEMU TCG 7.2 does not, KVM and -cpu host do); otherwise the xAPIC page is
 * mapped uncached.  apic_init_bsp() picks the mode once; every AP calls
 * apic_init_ap() so that all CPUs run in the same mode (the mode is per-CPU
 * state in IA32_APIC_BASE).
 *
 * Register offsets and ICR fields follow the Intel SDM Vol. 3A chapter 11
 * ("Advanced Programmable Interrupt Controller"); x2APIC MSR n maps xAPIC
 * offset (n - 0x800) << 4.
 */
#ifndef ARCH_APIC_H
#define ARCH_APIC_H

#include <stdbool.h>
#include <stdint.h>

/* IA32_APIC_BASE MSR. */
#define MSR_APIC_BASE 0x1b
#define APIC_BASE_BSP (1ul << 8)     /* this CPU is the bootstrap processor */
#define APIC_BASE_EXTD (1ul << 10)   /* x2APIC mode */
#define APIC_BASE_ENABLE (1ul << 11) /* APIC globally enabled */
#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ul

#define CPUID_1_EDX_APIC (1u << 9)     /* on-chip local APIC */
#define CPUID_1_ECX_X2APIC (1u << 21)
#define CPUID_1_EBX_APIC_ID_SHIFT 24  /* initial xAPIC id in EBX[31:24] */
#define CPUID_TOPOLOGY 0xb            /* EDX = x2APIC id of this CPU */

/* Register offsets in the xAPIC MMIO page. */
#define APIC_REG_ID 0x020
#define APIC_REG_VERSION 0x030
#define APIC_REG_SVR 0x0f0    /* spurious-interrupt vector register */
#define APIC_REG_ESR 0x280    /* error status */
#define APIC_REG_ICR_LOW 0x300
#define APIC_REG_ICR_HIGH 0x310
#define APIC_MMIO_SIZE 0x1000

#define APIC_XAPIC_ID_SHIFT 24  /* ID register bits 31:24 in xAPIC mode */
#define APIC_X2APIC_MSR_BASE 0x800
#define APIC_X2APIC_MSR(reg) (APIC_X2APIC_MSR_BASE + ((reg) >> 4))
#define APIC_X2APIC_ICR_MSR APIC_X2APIC_MSR(APIC_REG_ICR_LOW) /* one 64-bit register */

#define APIC_SVR_ENABLE (1u << 8)   /* software enable */
#define APIC_SPURIOUS_VECTOR 0xff   /* never delivered: interrupts stay off */

/* Interrupt Command Register fields (low dword; destination in the high part). */
#define APIC_ICR_VECTOR_MASK 0xffu
#define APIC_ICR_DM_FIXED (0u << 8)
#define APIC_ICR_DM_NMI (4u << 8)
#define APIC_ICR_DM_INIT (5u << 8)
#define APIC_ICR_DM_STARTUP (6u << 8)
#define APIC_ICR_DEST_LOGICAL (1u << 11)
#define APIC_ICR_SEND_PENDING (1u << 12) /* delivery status, xAPIC only */
#define APIC_ICR_LEVEL_ASSERT (1u << 14)
#define APIC_ICR_TRIGGER_LEVEL (1u << 15)
#define APIC_ICR_DEST_SHIFT_XAPIC 56     /* 8-bit destination in ICR[63:56] */
#define APIC_ICR_DEST_SHIFT_X2APIC 32    /* 32-bit destination in ICR[63:32] */

/* Highest destination an xAPIC ICR can name (0xff is broadcast). */
#define APIC_XAPIC_MAX_ID 0xfeu

enum apic_mode {
    APIC_MODE_NONE = 0,
    APIC_MODE_XAPIC,
    APIC_MODE_X2APIC,
};

/* Sets up the BSP's local APIC.  madt_lapic_pa: the MADT's local APIC address
 * (checked against IA32_APIC_BASE; the MSR wins).  force_xapic: ignore x2APIC
 * support (command line smp_xapic=1).  False with a message when there is no
 * usable local APIC. */
bool apic_init_bsp(uint64_t madt_lapic_pa, bool force_xapic);
/* test_firmware_x2apic: switches the BSP's APIC to x2APIC mode before
 * apic_init_bsp looks, as firmware does on machines with APIC ids above 254
 * (and may do anywhere).  False when the CPU has no x2APIC. */
bool apic_test_preenable_x2apic(void);

/* Puts the calling AP's local APIC in the BSP's mode and software-enables it. */
void apic_init_ap(void);

enum apic_mode apic_mode(void);
const char *apic_mode_name(void);
/* The calling CPU's APIC id (x2APIC: 32-bit; xAPIC: 8-bit). */
uint32_t apic_id(void);
/* True when an IPI can be addressed to this id in the current mode. */
bool apic_id_addressable(uint32_t id);

/* INIT (level assert) and STARTUP IPIs to one CPU.  page: physical page
 * number of the real-mode entry (below 1 MiB).  False when the xAPIC never
 * reported the IPI as sent (within timeout_cycles), with a message. */
bool apic_send_init(uint32_t apic_id, uint64_t timeout_cycles);
bool apic_send_startup(uint32_t apic_id, uint8_t page, uint64_t timeout_cycles);
/* An NMI: the only thing besides INIT that ends a hlt with interrupts off. */
bool apic_send_nmi(uint32_t apic_id, uint64_t timeout_cycles);

#endif /* ARCH_APIC_H */
