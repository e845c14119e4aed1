# Host tests of the benchmark harness (bench/): the harness pieces as unit
# tests, the kernel's hot paths checked to cross no 4 KiB page, then every
# benchmark run on host threads against the real mm/ (the quick profile, 4
# threads as CPUs) with its serial output checked by
# tests/bench/check_bench.py, then the same driver built with
# ThreadSanitizer on a short run, then the kernel itself under QEMU/TCG (quick
# profile at SMP=2 and 4, and test_corrupt_frame=1) through the same checks.

## Bench harness (mk/50-bench.mk):
##   make suite-bench    unit tests of bench/ (statistics, histograms, CRC32, CSV,
##                       framing, parameters) + every benchmark on host threads
##                       against mm/ (output blocks, CRCs, expected metrics,
##                       corrupt-frame detection, bad keys) + a ThreadSanitizer run
##                       + the same checks on the kernel booted under TCG (SMP=2, 4)
##   make bench-host     run the benchmarks on host threads and print the serial
##                       output; BENCH_HOST_CPUS (4), BENCH_HOST_MEM (MiB, 256),
##                       ARGS (key=value words, e.g. ARGS='profile=quick bench=pcp')

BENCH_TEST_DIR := $(BUILD)/tests/bench
BENCH_HOST_SRCS := $(wildcard bench/*.c mm/*.c) tests/host/platform_host.c \
                   lib/cmdline.c lib/fmt.c lib/ktap.c
BENCH_HOST_HDRS := $(wildcard bench/*.h mm/*.h include/plat/*.h tests/host/*.h) \
                   lib/cmdline.h lib/fmt.h tests/harness/check.h
BENCH_TSAN_CFLAGS := $(filter-out -O2,$(HOST_CFLAGS)) -O1 $(SAN_TSAN_CFLAGS)
BENCH_HOST_CPUS ?= 4
BENCH_HOST_MEM ?= 256

$(BENCH_TEST_DIR)/unit: tests/bench/test_bench_unit.c $(BENCH_HOST_SRCS) $(BENCH_HOST_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(BENCH_HOST_SRCS) -lm

$(BENCH_TEST_DIR)/bench_host: tests/bench/bench_host.c $(BENCH_HOST_SRCS) $(BENCH_HOST_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(BENCH_HOST_SRCS)

$(BENCH_TEST_DIR)/bench_host_tsan: tests/bench/bench_host.c $(BENCH_HOST_SRCS) $(BENCH_HOST_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_TSAN_CFLAGS) -o $@ $< $(BENCH_HOST_SRCS)

# The unit program exits 1 after printing its FAIL lines; any other non-zero
# status (a crash) gets a FAIL line of its own.  check_bench.py prints its own
# PASS/FAIL lines.
TEST_SUITES += bench
.PHONY: suite-bench bench-host
suite-bench: $(BENCH_TEST_DIR)/unit $(BENCH_TEST_DIR)/bench_host $(BENCH_TEST_DIR)/bench_host_tsan \
             $(KERNEL_ELF)
	@status=0; \
	$(BENCH_TEST_DIR)/unit; rc=$$?; \
	if [ $$rc -ne 0 ]; then status=1; \
	    [ $$rc -eq 1 ] || echo "FAIL bench/unit: exited with status $$rc (crash?)"; fi; \
	$(PY) tests/harness/check_hitpath.py --self-test --name bench/page_check_catches_a_straddle \
	    || status=1; \
	$(PY) tests/harness/check_hitpath.py --pages $(KERNEL_ELF) --name bench/hot_paths_cross_no_page \
	    $(KERNEL_HOT_FNS) || status=1; \
	$(PY) tests/bench/check_bench.py --driver $(BENCH_TEST_DIR)/bench_host \
	    --tsan-driver $(BENCH_TEST_DIR)/bench_host_tsan \
	    --kernel $(KERNEL_ELF) --out $(BUILD)/test/bench || status=1; \
	exit $$status

bench-host: $(BENCH_TEST_DIR)/bench_host
	$(BENCH_TEST_DIR)/bench_host --cpus $(BENCH_HOST_CPUS) --mem $(BENCH_HOST_MEM) -- $(ARGS)
