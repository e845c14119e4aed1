# SMP bring-up tests: the ACPI/MADT parser (kernel/acpi.c) on crafted tables
# on the host, plain and under AddressSanitizer + UBSan (a malformed table
# must never be read out of bounds), then QEMU boots with 1..16 CPUs, a
# failing AP and a corrupt MADT (tests/smp/test_smp.py).  Outputs in
# build/test/smp/.

## SMP (mk/60-smp.mk):
##   make suite-smp      ACPI/MADT parser host tests (plain + ASan/UBSan), then TCG
##                       boots: SMP=1,2,4,8,16 + icount, every MADT CPU online and
##                       answering a dispatched job; test_ap_fail (N-1 CPUs),
##                       test_madt_corrupt (exit 35); reports bring-up times
##   kernel command line: smp_init_delay_us= smp_sipi_delay_us= smp_ap_timeout_ms=
##                       smp_xapic=1 test_smp_dispatch=1 test_ap_fail=<cpu>
##                       test_madt_corrupt=1 (see arch/x86_64/smp/smp.h)

SMP_TEST_DIR := $(BUILD)/test/smp
SMP_ACPI_SRCS := tests/smp/test_acpi.c kernel/acpi.c tests/host/platform_host.c
SMP_ACPI_DEPS := $(SMP_ACPI_SRCS) kernel/acpi.h tests/check.h include/platform.h \
                 tests/host/platform_impl.h
SMP_SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SMP_SAN_ENV := ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:exitcode=86

$(SMP_TEST_DIR)/test_acpi: $(SMP_ACPI_DEPS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $(SMP_ACPI_SRCS)

$(SMP_TEST_DIR)/san/test_acpi: $(SMP_ACPI_DEPS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(SMP_SAN_CFLAGS) -o $@ $(SMP_ACPI_SRCS)

# $(1): binary, $(2): suite name, $(3): environment.  A crash or sanitizer
# report (status other than 0/1, or 1 without a FAIL line) gets a FAIL line.
define smp_host_run
out=$(1).out; $(3) $(1) $(2) >$$out 2>&1; rc=$$?; cat $$out; \
if [ $$rc -ne 0 ]; then status=1; \
    if [ $$rc -ne 1 ] || ! grep -q '^FAIL ' $$out; then \
        echo "FAIL $(2)/test_acpi: exited with status $$rc (crash or sanitizer report above)"; fi; fi;
endef

TEST_SUITES += smp
.PHONY: suite-smp
suite-smp: $(SMP_TEST_DIR)/test_acpi $(SMP_TEST_DIR)/san/test_acpi $(KERNEL_ELF) | deps
	@status=0; \
	$(call smp_host_run,$(SMP_TEST_DIR)/test_acpi,smp,) \
	$(call smp_host_run,$(SMP_TEST_DIR)/san/test_acpi,smp/san,$(SMP_SAN_ENV)) \
	$(PY) tests/smp/test_smp.py --kernel $(KERNEL_ELF) --out $(SMP_TEST_DIR) || status=1; \
	exit $$status
