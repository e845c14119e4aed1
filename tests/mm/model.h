/*
 * model.h - the reference-model test's entry point, shared by the suite's
 * fixed-seed driver (model_main.c, gcc) and the libFuzzer target (fuzz.c,
 * clang -fsanitize=fuzzer,address).
 */
#ifndef TESTS_MM_MODEL_H
#define TESTS_MM_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* Decodes a memory layout, a cache configuration and a sequence of
 * operations from data, applies each operation to the allocator and to a
 * simple model (which frames are free, which allocation holds which), and
 * compares them after every step.  Returns 0 when they always agreed, -1
 * with a message in err at the first disagreement.  Any data is valid input.
 * Single-threaded (CPU 0); calls mm_init itself. */
int mm_model_run(const uint8_t *data, size_t size, char *err, size_t errlen);

#endif /* TESTS_MM_MODEL_H */
