/* The unit tests' one runner: every suite of tests/unit/test_*.c, results
 * as TAP on stdout (tests/run-unit counts them; CK_RUN_SUITE=<unit> runs
 * one suite, CK_RUN_CASE one of its cases).
 *
 * One binary for all suites, not one per file: the core is linked once,
 * and one TAP stream carries one plan, which Check prints at the end, so a
 * runner that dies midway has none and fails as a whole. Each test still
 * runs in a fork of its own (CK_FORK), as before; what a suite needs once
 * per process (fixture files, a library's init) is its unchecked fixture,
 * run here before that suite's tests fork. */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include <apr_general.h>

/* PV_TEST_UNITS is X(b64url) X(cache) ...: one X(<unit>) per
 * tests/unit/test_<unit>.c, written by apxs.mk from the file names. Each
 * file defines Suite *pv_test_<unit>_suite(void): a test file without one
 * does not link, and a new one is run without an edit here. */
#define X(unit) Suite *pv_test_##unit##_suite(void);
PV_TEST_UNITS
#undef X

static Suite *(*const suites[])(void) = {
#define X(unit) pv_test_##unit##_suite,
    PV_TEST_UNITS
#undef X
};

/* Check logs a test's result, and a checked fixture's as that test's, but
 * not an unchecked fixture that failed (its suite's tests then never ran):
 * that one is told here, and the exit status fails the run. */
static void report_fixture_failures(SRunner *sr)
{
    TestResult **fails = srunner_failures(sr);
    int i, n = srunner_ntests_failed(sr);

    for (i = 0; i < n; i++) {
        if (tr_ctx(fails[i]) != CK_CTX_TEST) {
            fprintf(stderr, "%s:%d: %s: fixture failed: %s\n",
                    tr_lfile(fails[i]), tr_lno(fails[i]), tr_tcname(fails[i]),
                    tr_msg(fails[i]));
        }
    }
    free(fails);
}

int main(void)
{
    SRunner *sr = NULL;
    size_t i;
    int failed;

    apr_initialize();
    atexit(apr_terminate);
    for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (!sr) {
            sr = srunner_create(suites[i]());
        }
        else {
            srunner_add_suite(sr, suites[i]());
        }
    }
    srunner_set_tap(sr, "-");
    /* stdout is TAP alone; a failure's file, line and message are in its
     * "not ok" line */
    srunner_run_all(sr, CK_SILENT);
    failed = srunner_ntests_failed(sr);
    report_fixture_failures(sr);
    if (srunner_ntests_run(sr) == 0) {
        /* a CK_RUN_SUITE or CK_RUN_CASE that names nothing */
        fprintf(stderr, "no test ran\n");
        failed = 1;
    }
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
