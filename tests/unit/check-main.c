/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check-main.h"

/* Suites that need root define it; the others leave it NULL. */
__attribute__((weak)) const char *test_needs_root = NULL;

/* meson's code for a skipped test. */
#define EXIT_SKIP 77

int main(void) {
        Suite *s = test_suite();
        SRunner *sr;
        int failed, run;

        if (test_needs_root && geteuid() != 0) {
                printf("SKIP: not root: %s\n", test_needs_root);
                /* check has no suite_free(): a runner frees its suite. */
                srunner_free(srunner_create(s));
                return EXIT_SKIP;
        }
        sr = srunner_create(s);
        if (geteuid() != 0 && suite_tcase(s, "root")) {
                printf("not root: skipping the checks of TCase \"root\"\n");
                srunner_run_tagged(sr, NULL, NULL, NULL, "root", CK_NORMAL);
        } else
                srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        run = srunner_ntests_run(sr);
        srunner_free(sr);
        if (failed)
                return EXIT_FAILURE;
        /* A suite that ran nothing checked nothing. */
        return run > 0 ? EXIT_SUCCESS : EXIT_SKIP;
}
