/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers shared by every module: cleanup attributes and an error
 * buffer through which library-like modules describe a failure without
 * logging it themselves. */

#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* A human-readable reason for the last failure of a call that takes one.
 * Modules fill it, callers decide whether and where to show it. */
typedef struct ErrBuf {
        char text[256];
} ErrBuf;

/* Formats the reason into err (which may be NULL) and returns r, so that
 * `return errbuf_set(err, -EINVAL, "...")` reads naturally. r must be < 0. */
int errbuf_set(ErrBuf *err, int r, const char *fmt, ...) _printf_(3, 4);

/* Parses a decimal unsigned 64-bit number that fills the whole of s.
 * -EINVAL if s is empty or holds anything else, -ERANGE on overflow. */
int parse_u64(const char *s, uint64_t *ret);

/* A syslog priority from "emerg" .. "debug" (the names of systemd's
 * LogLevel= and SYSTEMD_LOG_LEVEL) or "0" .. "7"; -EINVAL otherwise. */
int log_level_from_string(const char *s, int *ret);
const char *log_level_to_string(int level);

/* Grows the array *p of *cap elements of size bytes so that it holds at
 * least want elements: the capacity doubles from min_cap (or from *cap),
 * with every multiplication checked for overflow. *p and *cap change only on
 * success; the contents are kept, the new tail is not initialised. Returns
 * 0, or -ENOMEM (allocation failed, or the size would overflow). */
int grow_array(void **p, size_t *cap, size_t size, size_t want, size_t min_cap);

/* grow_array() for a typed pointer: GROW(&v, &cap, n + 1, 16). */
#define GROW(pp, capp, want, min_cap) grow_array((void **) (pp), (capp), sizeof(**(pp)), (want), (min_cap))
