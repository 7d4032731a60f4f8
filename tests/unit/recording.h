/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading the netlink recordings under $FIXTURES/FIXTURE_DIR (a record is a
 * 4-byte length in host byte order, then the datagram). Define FIXTURE_DIR
 * before including. */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline FILE *open_fixture(const char *name) {
        const char *dir = getenv("FIXTURES");
        char path[4096];
        FILE *f;

        ck_assert_ptr_nonnull(dir);
        snprintf(path, sizeof(path), "%s/%s/%s", dir, FIXTURE_DIR, name);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s", path);
        return f;
}

/* Datagram idx (from 0) of a recording, into buf; returns its length. */
static inline size_t load_record(const char *name, size_t idx, uint32_t *buf, size_t size) {
        FILE *f = open_fixture(name);
        uint32_t len = 0;

        for (size_t i = 0; i <= idx; i++) {
                ck_assert_uint_eq(fread(&len, sizeof(len), 1, f), 1);
                ck_assert_uint_le(len, size);
                ck_assert_uint_eq(fread(buf, 1, len, f), len);
        }
        fclose(f);
        return len;
}
