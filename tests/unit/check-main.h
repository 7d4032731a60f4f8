/* SPDX-License-Identifier: MIT */
#pragma once

/* The one main() of the check suites (check-main.c). Each tests/unit/test-*.c
 * defines test_suite(); a suite whose checks need root as a whole also
 * defines test_needs_root, the reason, so that the runner skips it with exit
 * 77 (meson's skip code) when not root, saying why, instead of passing with
 * nothing checked. A suite that mixes both kinds puts its root checks in the
 * TCase made by tcase_create_root(): when not root, only that TCase is left
 * out (and the run says so), the rest runs. */

#include <check.h>

Suite *test_suite(void);

/* Defined (non-NULL) by suites that need root as a whole. */
extern const char *test_needs_root;

/* The TCase of a mixed suite's root-only checks: named and tagged "root". */
static inline TCase *tcase_create_root(void) {
        TCase *tc = tcase_create("root");

        tcase_set_tags(tc, "root");
        return tc;
}
