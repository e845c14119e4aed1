# Hardware suite: the hybrid ISO under OVMF (UEFI) and SeaBIOS, the kernel
# without QEMU's conveniences (no isa-debug-exit, no PIT, no HPET), the
# console moved by an SPCR table or console=, and a UEFI run's serial log
# through make ingest (tests/kernel/test_hardware.py).  Outputs in
# build/test/hardware/.

## Hardware (mk/75-hardware.mk):
##   make suite-hardware the quick profile at SMP=2 under UEFI and BIOS from one ISO; exit=reset
##                       and halt without isa-debug-exit; TSC calibration against the HPET
##                       (pit=off) and the PM timer (pit=off,hpet=off); SPCR / console= on
##                       COM2; the UEFI log with CR LF and noise through make ingest
##   kernel command line: console=com1..4|io:<hex>|mmio:<hex>|mmio32:<hex>[,<baud>]
##                       exit=auto|debug-exit|reset|halt  tsc=auto|pit|hpet|pmtimer

HARDWARE_TEST_DIR := $(BUILD)/test/hardware

TEST_SUITES += hardware
.PHONY: suite-hardware
suite-hardware: $(KERNEL_ELF) | deps
	@mkdir -p $(HARDWARE_TEST_DIR)
	@$(PY) tests/kernel/test_hardware.py --kernel $(KERNEL_ELF) --out $(HARDWARE_TEST_DIR)
