/*
 * fuzz.c - libFuzzer target: the reference-model test (model.c) on
 * arbitrary inputs.  `make fuzz` builds it with clang -fsanitize=fuzzer,address
 * and runs it for FUZZ_SECONDS; a disagreement with the model, an allocator
 * panic or a sanitizer report is a crash, saved by libFuzzer as crash-*.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests/mm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char err[512];
    if (mm_model_run(data, size, err, sizeof err) != 0) {
        fprintf(stderr, "model mismatch: %s\n", err);
        abort();
    }
    return 0;
}
