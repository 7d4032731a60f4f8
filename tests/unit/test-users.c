/* SPDX-License-Identifier: MIT */
/* uid to user name: the password database's answer, cached, with no numeric
 * fallback. Needs "root" (0) and "nobody" (65534) in the database, as every
 * Debian/Fedora base system has. */
#include <stdint.h>

#include "check-main.h"
#include "users.h"
#include "util.h"

START_TEST(test_users_name) {
        const char *root;
        UserNames *u = NULL;

        ck_assert_int_eq(users_new(&u), 0);
        root = users_name(u, 0);
        ck_assert_str_eq(root, "root");
        ck_assert_str_eq(users_name(u, 65534), "nobody");
        ck_assert_ptr_null(users_name(u, 4000000));
        ck_assert_ptr_null(users_name(u, UINT32_MAX));
        /* Hits answer from the cache: the very same string. */
        ck_assert_ptr_eq(users_name(u, 0), root);
        ck_assert_ptr_null(users_name(u, 4000000));
        ck_assert_ptr_null(users_name(NULL, 0));
        ck_assert_ptr_null(users_free(u));
        ck_assert_ptr_null(users_free(NULL));
}
END_TEST

/* More uids than the cache holds: old entries are replaced, answers stay. */
START_TEST(test_users_many) {
        _cleanup_(users_freep) UserNames *u = NULL;

        ck_assert_int_eq(users_new(&u), 0);
        for (uint32_t uid = 4000000; uid < 4000300; uid++)
                ck_assert_ptr_null(users_name(u, uid));
        ck_assert_str_eq(users_name(u, 0), "root");
        ck_assert_str_eq(users_name(u, 65534), "nobody");
        for (uint32_t uid = 4000000; uid < 4000300; uid++)
                ck_assert_ptr_null(users_name(u, uid));
        ck_assert_str_eq(users_name(u, 0), "root");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("users");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_users_name);
        tcase_add_test(tc, test_users_many);
        suite_add_tcase(s, tc);
        return s;
}
