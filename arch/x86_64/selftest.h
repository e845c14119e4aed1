/*
 * selftest.h - boot self-tests and deliberate failures for the boot tests:
 *   test_paging=1     paging_selftest(): uncached mapping, large-page split
 *   test_fault=pf     read an unmapped address (CR2 = FAULT_TEST_PF_ADDR)
 *   test_fault=ud     ud2
 *   test_fault=de     divide by zero
 *   test_fault=gp     read a non-canonical address
 *   test_fault=stack  overflow the boot stack into its guard page (#DF on IST1)
 *   test_fault=panic  panic() with a message
 *   test_fault=hang   spin forever with interrupts off (the host's timeout)
 */
#ifndef ARCH_SELFTEST_H
#define ARCH_SELFTEST_H

#include "lib/cmdline.h"

#define SELFTEST_PF_ADDR 0x00000dead0000000ul /* above the identity map, not RAM */

/* Reads test_paging and test_fault from the command line. */
void selftest_configure(struct cmdline *cl);

/* Runs the requested self-test, then raises the requested failure; returns
 * (how many self-tests ran) when no failure was requested and the self-test
 * passed. */
unsigned selftest_run(void);

#endif /* ARCH_SELFTEST_H */
