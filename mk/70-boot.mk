# Boot tests: the kernel under QEMU/TCG (tests/kernel/test_boot.py, with
# scripts/qemu.py and tests/harness/testlib.py).  ISOs and serial logs go to
# build/test/boot/.

## Boot tests (mk/70-boot.mk):
##   make suite-boot     boot under TCG: SMP 1/2, -m 128M/2G/8G memory summaries, bad
##                       command-line keys/values (exit 39), deliberate exceptions and
##                       panic (exit 37), a hang (timeout), no long mode, bad Make
##                       variables; reports the time to the first serial line

BOOT_TEST_DIR := $(BUILD)/test/boot

TEST_SUITES += boot
.PHONY: suite-boot
suite-boot: $(KERNEL_ELF) | deps
	@$(PY) tests/kernel/test_boot.py --kernel $(KERNEL_ELF) --out $(BOOT_TEST_DIR)
