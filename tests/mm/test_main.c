/*
 * test_main.c - the allocator's unit tests (suite `mm`), single-threaded
 * except where a test switches the calling thread's CPU index.
 */
#include "tests/mm/mm_test.h"

/* The ASan+UBSan build reports as mm/asan/<test>. */
#ifndef MM_TEST_SUITE
#define MM_TEST_SUITE "mm"
#endif
CHECK_SUITE(MM_TEST_SUITE);

int main(void)
{
    mm_tests_init();
    mm_tests_buddy();
    mm_tests_contig();
    mm_tests_refcount();
    mm_tests_pcp();
    mm_tests_pcp_high();
    mm_tests_numa();
    mm_tests_geometry();
    mm_tests_reserve();
    mm_tests_pcp_cold();
    mm_tests_panic();
    mm_tests_window();
    mm_tests_antifrag();
    return check_exit();
}
