# Results: benchmark runs, plots, comparisons and regression tracking
# (scripts/bench.py, extract.py, plot.py, compare.py, results.py; docs/results.md).

## Results (docs/results.md):
##   make bench          boot the benchmarks, verify every framed block (rows + CRC32),
##                       write results/<date>-<commit>-smp<N>-<accel>[-icount]/ (serial.log,
##                       CSVs, meta.json, PNG+SVG plots), point results/latest at it and
##                       print a summary.  A failed run gets -failed and is never plotted.
##       SMP=8 MEM=1G ACCEL=auto|tcg|kvm ICOUNT=0|1 (1: deterministic, instructions/op)
##       BENCH=all|refcount,pcp,contig,smp,stress  RUNS=<n> (repetitions; kernel default)
##       PROFILE=full|quick  SEED=<n>  TIMEOUT=<s>  ARGS='<extra kernel words>'
##   make plot [RESULTS=dir]       redraw the plots of a results dir (default results/latest)
##   make compare BASE=dir NEW=dir per-metric table, verdict per row; exit 1 on a regression
##                                 (each side may be several boots: BASE='d1 d2 d3' or a glob)
##   make perf-check               quick profile, ICOUNT=1, SMP=2, SEED=1, compared exactly
##                                 with the committed results/baseline/ (CI runs it)
##   make baseline                 refresh results/baseline/ from the perf-check configuration;
##                                 commit it deliberately, saying why the figures moved

PROFILE ?= full
SEED    ?=
RESULTS ?= results/latest
BASE    ?=
NEW     ?=
BASELINE := results/baseline

BENCH_OPTS = --smp $(call sq,$(SMP)) --mem $(call sq,$(MEM)) \
             --accel $(call sq,$(ACCEL)) --icount $(call sq,$(ICOUNT)) \
             --bench $(call sq,$(BENCH)) --runs $(call sq,$(RUNS)) \
             --args $(call sq,$(ARGS)) --timeout $(call sq,$(TIMEOUT)) \
             --profile $(call sq,$(PROFILE)) --seed $(call sq,$(SEED)) \
             --cpu $(call sq,$(CPU)) --numa $(call sq,$(NUMA))

# The regression-tracking configuration: fixed so that every run compares
# exactly with the baseline (icount: the guest TSC counts instructions).
PERF_OPTS = --smp 2 --mem 1G --accel tcg --icount 1 --bench all --profile quick --seed 1 \
            --timeout $(call sq,$(TIMEOUT))

.PHONY: bench plot compare perf-check baseline suite-results

# Variables are validated before anything is built; the kernel is built by
# mk/20-kernel.mk's rule for $(BUILD)/kernel.elf.
bench:
	@$(PY) scripts/bench.py check $(BENCH_OPTS)
	@$(MAKE) --no-print-directory $(BUILD)/kernel.elf
	@$(PY) scripts/bench.py run $(BENCH_OPTS)

plot:
	@$(PY) scripts/plot.py $(call sq,$(RESULTS))

compare:
	@if [ -z $(call sq,$(BASE)) ] || [ -z $(call sq,$(NEW)) ]; then \
	    echo "make compare: give both BASE=<results dir> and NEW=<results dir>" >&2; exit 2; fi
	@$(PY) scripts/compare.py $(call sq,$(BASE)) $(call sq,$(NEW))

perf-check:
	@if [ ! -f $(BASELINE)/meta.json ]; then \
	    echo "perf-check: no $(BASELINE)/meta.json; create it with 'make baseline'" >&2; exit 2; fi
	@$(PY) scripts/bench.py check $(PERF_OPTS)
	@$(MAKE) --no-print-directory $(BUILD)/kernel.elf
	@$(PY) scripts/bench.py run $(PERF_OPTS) --no-plot --compare $(BASELINE)

baseline:
	@$(PY) scripts/bench.py check $(PERF_OPTS)
	@$(MAKE) --no-print-directory $(BUILD)/kernel.elf
	@$(PY) scripts/bench.py run $(PERF_OPTS) --no-plot --install-baseline $(BASELINE)

TEST_SUITES += results
suite-results:
	@$(PY) tests/scripts/test_results.py
