/*
 * trampoline.h - the layout shared by the AP trampoline (trampoline.S) and
 * the BSP code that fills it in (smp.c).
 *
 * The trampoline is copied to one page below 1 MiB (the STARTUP IPI vector
 * names that page).  Code occupies [0, TRAMP_DATA); the BSP then writes the
 * data block at TRAMP_DATA: nothing in the code is patched.  Every AP reads
 * the same block; what differs per AP (stack, per-CPU area) is found through
 * the slot table, by the APIC id the AP reads from CPUID.
 *
 * Offsets are byte offsets in the data block; smp.c checks each against
 * struct smp_tramp_data with static asserts.
 */
#ifndef ARCH_SMP_TRAMPOLINE_H
#define ARCH_SMP_TRAMPOLINE_H

#define TRAMP_DATA 0x200       /* code must fit below (checked by .org in trampoline.S) */
#define TRAMP_SIZE 0x1000

/* Selectors of the temporary GDT inside the data block. */
#define TRAMP_SEL_CODE32 0x08
#define TRAMP_SEL_DATA32 0x10
#define TRAMP_SEL_CODE64 0x18
#define TRAMP_GDT_ENTRIES 4

/* Data block fields. */
#define TD_GDT 0          /* u64[4]: null, code32, data32, code64 */
#define TD_GDTR32 38      /* u16 limit + u32 base: lgdtl in real mode */
#define TD_FAR32 44       /* u32 offset + u16 selector: jump to 32-bit code */
#define TD_FAR64 52       /* u32 offset + u16 selector: jump to 64-bit code */
#define TD_CR3 64         /* u64, below 4 GiB (loaded in 32-bit mode) */
#define TD_EFER 72        /* u64: the BSP's EFER (LME, NXE...) */
#define TD_CR0 80         /* u64: the BSP's CR0 (PG, PE, WP, MP, NE; EM/TS clear) */
#define TD_CR4 88         /* u64: the BSP's CR4 (PAE, OSFXSR, OSXMMEXCPT...) */
#define TD_SLOTS 96       /* u64: kernel address of struct smp_slot[] */
#define TD_NSLOTS 104     /* u32: entries in it */
#define TD_ID_LEAF 108    /* u32: CPUID leaf for the APIC id: 1 (xAPIC) or 0xb (x2APIC) */
#define TD_ENTRY 112      /* u64: kernel address of smp_ap_entry(struct smp_slot *) */
#define TD_SIZE 120

/* struct smp_slot fields the trampoline reads. */
#define SLOT_APIC_ID 0    /* u32 */
#define SLOT_STACK_TOP 8  /* u64: 16-byte aligned */
#define SLOT_ENTRY 16     /* u64: overrides TD_ENTRY when non-zero (fault injection) */
#define SLOT_SIZE 128

#endif /* ARCH_SMP_TRAMPOLINE_H */
