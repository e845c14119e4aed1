/*
 * model_main.c - runs the reference-model test (model.c) on a fixed set of
 * pseudo-random inputs, without libFuzzer: the suite's deterministic run.
 * `test_mm_model N` runs N inputs (default 300); a failure prints the seed
 * so the input can be regenerated and replayed under a debugger.
 */
#include <stdlib.h>

#include "tests/harness/check.h"
#include "tests/mm/model.h"

CHECK_SUITE("mm");

static unsigned n_inputs = 300;

static void model_fixed_seeds(void)
{
    static uint8_t buf[8192];
    char err[512];
    for (unsigned seed = 1; seed <= n_inputs; seed++) {
        uint64_t x = 0x2545f4914f6cdd1dull * seed;
        size_t len = 64 + (seed * 2654435761u) % (sizeof buf - 64);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)(x >> 24);
        }
        if (mm_model_run(buf, len, err, sizeof err) != 0) {
            CHECKF(0, "seed %u (%zu bytes): %s", seed, len, err);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        n_inputs = (unsigned)atoi(argv[1]);
    RUN(model_fixed_seeds);
    return check_exit();
}
