# SMP bring-up tests: QEMU boots with 1..32 CPUs, a failing AP and a corrupt
# MADT (tests/arch/test_smp.py).  The table parsers they rely on are tested
# on the host in suite-lib.  Outputs in build/test/smp/.

## SMP (mk/60-smp.mk):
##   make suite-smp      TCG boots: SMP=1,2,4,8,16,32 + icount, every MADT CPU online and
##                       answering a dispatched job; test_ap_fail (N-1 CPUs),
##                       test_madt_corrupt (exit 35); reports bring-up times
##   kernel command line: smp_init_delay_us= smp_sipi_delay_us= smp_ap_timeout_ms=
##                       smp_xapic=1 test_smp_dispatch=1 test_ap_fail=<cpu>
##                       test_madt_corrupt=1 (see arch/x86_64/smp/smp.h)

SMP_TEST_DIR := $(BUILD)/test/smp

TEST_SUITES += smp
.PHONY: suite-smp
suite-smp: $(KERNEL_ELF) | deps
	@$(PY) tests/arch/test_smp.py --kernel $(KERNEL_ELF) --out $(SMP_TEST_DIR)
