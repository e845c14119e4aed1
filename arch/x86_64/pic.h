/*
 * pic.h - the legacy 8259 PICs: remapped and masked at boot (see pic.c).
 */
#ifndef ARCH_PIC_H
#define ARCH_PIC_H

#define PIC_MASTER_VECTOR 0x20 /* IRQ0-7 -> 0x20-0x27, clear of the exceptions */
#define PIC_SLAVE_VECTOR 0x28  /* IRQ8-15 -> 0x28-0x2f */

/* Remaps both controllers and masks every line; BSP, once, before anything
 * could unmask interrupts. */
void pic_init(void);
/* 8259 lines requested and not masked (bit 8+n: the slave's line n). */
unsigned pic_unmasked_requests(void);

#endif /* ARCH_PIC_H */
