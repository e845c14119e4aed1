# Results: benchmark runs, plots, comparisons and regression tracking
# (scripts/bench.py, extract.py, plot.py, compare.py, results.py; docs/results.md).

## Results (docs/results.md):
##   make bench          boot the benchmarks, verify every framed block (rows + CRC32),
##                       write results/<date>-<commit>-smp<N>-<accel>[-icount]/ (serial.log,
##                       CSVs, meta.json, PNG+SVG plots), point results/latest at it and
##                       print a summary.  A failed run gets -failed and is never plotted.
##       SMP=8 MEM=1G ACCEL=auto|tcg|kvm ICOUNT=0|1 (1: deterministic, instructions/op)
##       BENCH=all|refcount,pcp,contig,smp,stress,frag  RUNS=<n> (repetitions; kernel default)
##       PROFILE=full|quick  SEED=<n>  TIMEOUT=<s>  ARGS='<extra kernel words>'  FIRMWARE=bios|uefi
##   make plot [RESULTS=dir]       redraw the plots of a results dir (default results/latest)
##   make report [RESULTS=dir]     rebuild its report.html (one self-contained page)
##   make history                  index every run under results/ (results/index.sqlite,
##                                 rebuilt from the directories) and draw the headline
##                                 figures across commits: results/history.html
##   make compare BASE=dir NEW=dir per-metric table, verdict per row; exit 1 on a regression
##                                 (each side may be several boots: BASE='d1 d2 d3' or a glob)
##   make perf-check               quick profile, ICOUNT=1, SMP=2, SEED=1, compared exactly
##                                 with the committed results/baseline/ (CI runs it)
##   make baseline                 refresh results/baseline/ from the perf-check configuration;
##                                 commit it deliberately, saying why the figures moved
##   make ab BASE=<commit> NEW=<commit> BOOTS=5
##                                 build both commits in scratch worktrees under build/ab/,
##                                 boot them in interleaved pairs (AB BA AB ...) with the
##                                 make bench variables, compare as paired boots (+ HTML);
##                                 NEW_ARGS='<kernel words>' for the new side only
##   make ab-demo                  the paired rule's false alarms and its sensitivity to a
##                                 +10 % slowdown of one case, from AB_DEMO_BOOTS (20) boots
##                                 of this kernel (SMP=2, refcount,pcp); boots kept in build/
##   make noise                    3 boots in the same configuration: the boot-to-boot spread
##                                 of the single-CPU ns_per_op medians
##   make ingest LOG=file          a serial log captured elsewhere (BMC serial-over-LAN, screen -L,
##                                 a console server) -> a results directory, verified, judged and
##                                 plotted like make bench; LOG_RUN=<n> picks a run of a log that
##                                 holds several (default: the last), SOURCE='...' is recorded

PROFILE ?= full
SEED    ?=
RESULTS ?= results/latest
BASE    ?=
NEW     ?=
BASELINE := results/baseline
BOOTS   ?= 5
NEW_ARGS ?=
AB_DEMO_BOOTS ?= 20

BENCH_OPTS = --smp $(call sq,$(SMP)) --mem $(call sq,$(MEM)) \
             --accel $(call sq,$(ACCEL)) --icount $(call sq,$(ICOUNT)) \
             --bench $(call sq,$(BENCH)) --runs $(call sq,$(RUNS)) \
             --args $(call sq,$(ARGS)) --timeout $(call sq,$(TIMEOUT)) \
             --profile $(call sq,$(PROFILE)) --seed $(call sq,$(SEED)) \
             --cpu $(call sq,$(CPU)) --numa $(call sq,$(NUMA)) \
             --firmware $(call sq,$(FIRMWARE))

# The regression-tracking configuration: fixed so that every run compares
# exactly with the baseline (icount: the guest TSC counts instructions).
PERF_OPTS = --smp 2 --mem 1G --accel tcg --icount 1 --bench all --profile quick --seed 1 \
            --timeout $(call sq,$(TIMEOUT))

# The configuration of the A/B demonstration and the noise measurement, the
# one the noise figures in docs/results.md were measured in.
AB_DEMO_OPTS = --smp 2 --mem 1G --accel tcg --icount 0 --bench refcount,pcp --profile full \
               --timeout $(call sq,$(TIMEOUT))

LOG     ?=
LOG_RUN ?=
SOURCE  ?=

.PHONY: bench plot report history compare perf-check baseline ab ab-demo noise ingest \
        suite-results

# Variables are validated before anything is built; the kernel is built by
# mk/20-kernel.mk's rule for $(BUILD)/kernel.elf.
bench:
	@$(PY) scripts/bench.py check $(BENCH_OPTS)
	@$(MAKE) --no-print-directory $(BUILD)/kernel.elf
	@$(PY) scripts/bench.py run $(BENCH_OPTS)

plot:
	@$(PY) scripts/plot.py $(call sq,$(RESULTS))

report:
	@$(PY) scripts/report.py $(call sq,$(RESULTS))

history:
	@$(PY) scripts/history.py results

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

ab:
	@if [ -z $(call sq,$(BASE)) ] || [ -z $(call sq,$(NEW)) ]; then \
	    echo "make ab: give both BASE=<commit> and NEW=<commit>" >&2; exit 2; fi
	@$(PY) scripts/ab.py --base $(call sq,$(BASE)) --new $(call sq,$(NEW)) \
	    --boots $(call sq,$(BOOTS)) --new-args $(call sq,$(NEW_ARGS)) $(BENCH_OPTS)

ab-demo:
	@$(PY) scripts/bench.py check $(AB_DEMO_OPTS)
	@$(MAKE) --no-print-directory $(BUILD)/kernel.elf
	@$(PY) tests/scripts/false_alarm.py --ab --count $(call sq,$(AB_DEMO_BOOTS)) \
	    --boots $(call sq,$(BOOTS)) --root $(BUILD)/ab-demo/$$(date +%Y%m%d-%H%M%S) \
	    $(AB_DEMO_OPTS)

noise:
	@$(PY) scripts/bench.py check $(AB_DEMO_OPTS)
	@$(MAKE) --no-print-directory $(BUILD)/kernel.elf
	@$(PY) tests/scripts/noise.py --count 3 --root $(BUILD)/noise/$$(date +%Y%m%d-%H%M%S) \
	    $(AB_DEMO_OPTS)

ingest:
	@if [ -z $(call sq,$(LOG)) ]; then \
	    echo "make ingest: give LOG=<serial log file>" >&2; exit 2; fi
	@$(PY) scripts/ingest.py $(call sq,$(LOG)) $(if $(LOG_RUN),--run $(call sq,$(LOG_RUN))) \
	    $(if $(SOURCE),--source $(call sq,$(SOURCE)))

TEST_SUITES += results
suite-results:
	@$(PY) tests/scripts/test_results.py
