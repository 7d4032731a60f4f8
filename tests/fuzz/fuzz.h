/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the libFuzzer targets: an invariant that does not hold is a
 * crash, reported with the line, so libFuzzer saves the input. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FUZZ_ASSERT(cond)                                                                                             \
        do {                                                                                                          \
                if (!(cond)) {                                                                                        \
                        fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                  \
                        abort();                                                                                      \
                }                                                                                                     \
        } while (0)

/* libFuzzer's entry point; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure must leave a NUL-terminated, non-empty reason. */
static inline void fuzz_check_err(const ErrBuf *err) {
        FUZZ_ASSERT(memchr(err->text, 0, sizeof(err->text)) != NULL);
        FUZZ_ASSERT(err->text[0] != 0);
}
