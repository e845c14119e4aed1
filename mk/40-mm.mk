# mk/40-mm.mk - the frame allocator (mm/) on the host: unit tests, the
# reference-model test, the multi-threaded stress test (plain, ThreadSanitizer,
# ASan+UBSan), libFuzzer, the host benchmark, and a build of mm/*.c with the
# kernel's flags (KERNEL_CFLAGS of mk/20-kernel.mk).  The host library is mm/*.c +
# tests/host/platform_host.c;
# DEBUG=1 builds everything with MM_DEBUG=1 into build/mm-debug/.
#
## Frame allocator (mm/):
##   make suite-mm        unit, model and stress tests (plain, TSan, ASan+UBSan),
##                        platform-boundary and kernel-flags build checks
##   make hostbench       host benchmark: ns/op of the allocator's paths, 1 and 2 threads
##   make hostbench-sweep the cache capacity/batch sweep behind mm/pcp.c's defaults
##   make fuzz            libFuzzer on the reference model (clang), FUZZ_SECONDS=60
##   MM_RACE_SECONDS=s    how long each cross-CPU regression test races (default 2)
##   MM_STRESS="cpus epochs ops"  size of the plain stress run (default "3 12 3000";
##                        DEBUG=1: "3 3 1500")

TEST_SUITES += mm

MM_OUT       := $(BUILD)/mm$(if $(filter 1,$(DEBUG)),-debug)
MM_SRCS      := $(wildcard mm/*.c)
MM_HOST_LIB  := $(MM_SRCS) tests/host/platform_host.c
MM_DEPS      := $(MM_HOST_LIB) $(wildcard mm/*.h tests/mm/*.h include/plat/*.h) \
                tests/host/platform_impl.h tests/harness/check.h mk/40-mm.mk
MM_CFLAGS    := $(HOST_CFLAGS)
MM_TSAN      := -O1 $(SAN_TSAN_CFLAGS)
MM_ASAN      := -O1 $(SAN_ASAN_CFLAGS)
MM_UNIT_SRCS := $(wildcard tests/mm/test_*.c)
# Stress sizes (cpus epochs ops-per-epoch).  DEBUG=1 walks every free list
# after every buddy operation, so its runs are smaller.
ifeq ($(DEBUG),1)
MM_STRESS    ?= 3 3 1500
MM_STRESS_TSAN := 2 2 1000
MM_STRESS_ASAN := 3 2 1000
else
MM_STRESS    ?= 3 12 3000
MM_STRESS_TSAN := 2 5 2000
MM_STRESS_ASAN := 3 6 2000
endif
# Seconds each cross-CPU regression test races (tests/mm/race.c).
MM_RACE_SECONDS ?= 2
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
$(MM_OUT):
	@mkdir -p $@

$(MM_OUT)/test_mm: $(MM_DEPS) $(MM_UNIT_SRCS) | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_HOST_LIB) $(MM_UNIT_SRCS) -o $@ -lm

$(MM_OUT)/test_mm_asan: $(MM_DEPS) $(MM_UNIT_SRCS) | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_ASAN) -DMM_TEST_SUITE='"mm/asan"' $(MM_HOST_LIB) \
	    $(MM_UNIT_SRCS) -o $@ -lm

$(MM_OUT)/test_mm_model: $(MM_DEPS) tests/mm/model.c tests/mm/model_main.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_HOST_LIB) tests/mm/model.c tests/mm/model_main.c -o $@

$(MM_OUT)/test_mm_stress: $(MM_DEPS) tests/mm/stress.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_HOST_LIB) tests/mm/stress.c -o $@

$(MM_OUT)/test_mm_stress_tsan: $(MM_DEPS) tests/mm/stress.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_TSAN) -DMM_VARIANT='"tsan"' $(MM_HOST_LIB) tests/mm/stress.c -o $@

$(MM_OUT)/test_mm_stress_asan: $(MM_DEPS) tests/mm/stress.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_ASAN) -DMM_VARIANT='"asan"' $(MM_HOST_LIB) tests/mm/stress.c -o $@

$(MM_OUT)/test_mm_race: $(MM_DEPS) tests/mm/race.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_HOST_LIB) tests/mm/race.c -o $@

$(MM_OUT)/test_mm_race_tsan: $(MM_DEPS) tests/mm/race.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_TSAN) -DMM_VARIANT='"tsan"' -DMM_RACE_TSAN $(MM_HOST_LIB) tests/mm/race.c -o $@

$(MM_OUT)/test_mm_race_asan: $(MM_DEPS) tests/mm/race.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_ASAN) -DMM_VARIANT='"asan"' $(MM_HOST_LIB) tests/mm/race.c -o $@

# The anti-fragmentation tests alone under ThreadSanitizer (the threaded
# aging workload is the part that needs it).
$(MM_OUT)/test_mm_antifrag_tsan: $(MM_DEPS) tests/mm/test_antifrag.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_TSAN) -DMM_ANTIFRAG_MAIN $(MM_HOST_LIB) tests/mm/test_antifrag.c -o $@

$(MM_OUT)/hostbench: $(MM_DEPS) tests/mm/hostbench.c | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) $(MM_HOST_LIB) tests/mm/hostbench.c -o $@

# The cache hit paths, compiled as the host library compiles them, for the
# no-atomic-RMW check below.
$(MM_OUT)/frame_hitpath.o: $(MM_DEPS) | $(MM_OUT)
	$(HOST_CC) $(MM_CFLAGS) -c mm/frame.c -o $@

$(MM_OUT)/fuzz_mm: $(MM_DEPS) tests/mm/model.c tests/mm/fuzz.c | $(MM_OUT)
	$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -Werror \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(if $(filter 1,$(DEBUG)),-DMM_DEBUG=1) $(INCLUDE_ROOTS) -DPLAT_IMPL_H='"tests/host/platform_impl.h"' \
	    $(MM_HOST_LIB) tests/mm/model.c tests/mm/fuzz.c -o $@ -pthread

MM_SUITE_BINS := $(addprefix $(MM_OUT)/,test_mm test_mm_asan test_mm_model test_mm_stress \
                 test_mm_stress_tsan test_mm_stress_asan test_mm_race test_mm_race_tsan \
                 test_mm_race_asan test_mm_antifrag_tsan frame_hitpath.o)
# frame_alloc, frame_alloc_order and frame_free (with the handle and
# ownership checks and the order-0 cache push inlined into it), the
# high-order release they jump to, the FRAME_ZERO tail of an allocation
# hit and frame_drop's UNIQUE release must be present and contain no locked
# instruction: the UNIQUE hit paths (order 0 and the cached high orders)
# are plain loads and stores.
MM_HITPATH_FNS := frame_alloc frame_alloc_order frame_free frame_release_high frame_prepare_zeroed \
                  frame_drop_unshared

# Each program prints its PASS/FAIL lines; the recipe runs them all and fails
# if any failed.  The sanitizer stress runs are sized to stay well under a
# minute together on a 2-core machine.
.PHONY: suite-mm hostbench hostbench-sweep fuzz
suite-mm: $(MM_SUITE_BINS)
	@rc=0; \
	if log=$$(for f in $(MM_SRCS); do \
	        $(KERNEL_CC) $(KERNEL_CFLAGS) -c $$f -o /dev/null 2>&1 || echo "($$f failed)"; done) && \
	     [ -z "$$log" ]; then echo "PASS mm/kernel_flags_build"; \
	else echo "FAIL mm/kernel_flags_build: $$(echo "$$log" | head -3 | tr '\n' ' ')"; rc=1; fi; \
	$(PY) tests/harness/check_hitpath.py --object $(MM_OUT)/frame_hitpath.o \
	    --name mm/hit_path_has_no_atomic_rmw $(MM_HITPATH_FNS) || rc=1; \
	$(MM_OUT)/test_mm || rc=1; \
	$(MM_OUT)/test_mm_asan || rc=1; \
	$(MM_OUT)/test_mm_model 300 || rc=1; \
	$(MM_OUT)/test_mm_stress $(MM_STRESS) || rc=1; \
	$(MM_OUT)/test_mm_stress_tsan $(MM_STRESS_TSAN) || rc=1; \
	$(MM_OUT)/test_mm_stress_asan $(MM_STRESS_ASAN) || rc=1; \
	$(MM_OUT)/test_mm_race $(MM_RACE_SECONDS) || rc=1; \
	$(MM_OUT)/test_mm_race_tsan $(MM_RACE_SECONDS) || rc=1; \
	$(MM_OUT)/test_mm_race_asan $(MM_RACE_SECONDS) || rc=1; \
	$(MM_OUT)/test_mm_antifrag_tsan || rc=1; \
	exit $$rc

hostbench: $(MM_OUT)/hostbench
	@$(MM_OUT)/hostbench

hostbench-sweep: $(MM_OUT)/hostbench
	@$(MM_OUT)/hostbench --sweep

fuzz: $(MM_OUT)/fuzz_mm
	@case '$(FUZZ_SECONDS)' in ''|*[!0-9]*|0) \
	    echo "fuzz: FUZZ_SECONDS must be a positive whole number of seconds, got '$(FUZZ_SECONDS)'" >&2; \
	    exit 2;; esac
	@mkdir -p $(MM_OUT)/fuzz-corpus
	@[ -n "$$(ls -A $(MM_OUT)/fuzz-corpus)" ] || for i in 1 2 3 4 5 6 7 8; do \
	    head -c 3000 /dev/urandom > $(MM_OUT)/fuzz-corpus/seed$$i; done
	cd $(MM_OUT) && ./fuzz_mm -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=4096 \
	    -artifact_prefix=fuzz- fuzz-corpus
