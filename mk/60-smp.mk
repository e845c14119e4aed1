# x86 platform code on the host, then SMP bring-up under QEMU.
#
# suite-arch: the ACPI parsers under arch/x86_64/ (madt.c, srat.c; they read tables,
# touch no register) built for the host with lib/ and run on crafted tables,
# plain and under ASan+UBSan, like suite-lib.
# suite-smp: QEMU boots with 1..32 CPUs, a failing AP and a corrupt MADT
# (tests/arch/test_smp.py).  Outputs in build/test/smp/.

## x86 platform (mk/60-smp.mk):
##   make suite-arch     MADT, SRAT and SLIT parser host tests on crafted tables, plain
##                       and ASan+UBSan
##                       (results: arch/<test> and arch/san/<test>)
##   make suite-smp      TCG boots: SMP=1,2,4,8,16,32 + icount, every MADT CPU online and
##                       answering a dispatched job; test_ap_fail (N-1 CPUs),
##                       test_madt_corrupt (exit 35); reports bring-up times
##   make suite-scale    NUMA=2/4 topology read back, MEM=64G (reserve=off backend),
##                       RAM above the direct-map limit (exit 35), qemu.py refusals
##   kernel command line: smp_init_delay_us= smp_sipi_delay_us= smp_ap_timeout_ms=
##                       smp_xapic=1 test_smp_dispatch=1 test_ap_fail=<cpu>
##                       test_madt_corrupt=1 (see arch/x86_64/smp/smp.h)

ARCH_HOST_SRCS  := arch/x86_64/madt.c arch/x86_64/srat.c
ARCH_HOST_HDRS  := $(ARCH_HOST_SRCS:.c=.h) tests/lib/acpi_builder.h
ARCH_PROGS      := madt srat
ARCH_TEST_DIR   := $(BUILD)/tests/arch
ARCH_LINK       := $(ARCH_HOST_SRCS) $(LIB_LINK)
$(eval $(call host_test_suite,arch,$(ARCH_TEST_DIR),tests/arch,$(ARCH_PROGS),$(ARCH_LINK),\
    $(ARCH_HOST_HDRS) $(LIB_HDRS),$(SAN_ENV)))

SMP_TEST_DIR := $(BUILD)/test/smp

TEST_SUITES += smp
.PHONY: suite-smp
suite-smp: $(KERNEL_ELF) | deps
	@$(PY) tests/arch/test_smp.py --kernel $(KERNEL_ELF) --out $(SMP_TEST_DIR)

# Scale: NUMA topology read back (SMP=8, NUMA=2 and 4), MEM=64G through the
# reserve=off backend, RAM above the direct-map limit (exit 35), and what
# qemu.py refuses (tests/arch/test_scale.py).
SCALE_TEST_DIR := $(BUILD)/test/scale

TEST_SUITES += scale
.PHONY: suite-scale
suite-scale: $(KERNEL_ELF) | deps
	@$(PY) tests/arch/test_scale.py --kernel $(KERNEL_ELF) --out $(SCALE_TEST_DIR)
