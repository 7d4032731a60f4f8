/* SPDX-License-Identifier: MIT */
#pragma once

/* Prometheus text exposition format (version 0.0.4), written into a
 * growable buffer: numbers, HELP/TYPE headers and label values escaped as
 * the format requires. Nothing here logs.
 *
 * The buffer is kept and reused: once it has grown to the size of the
 * output, writing allocates nothing. A failed growth sets oom and every
 * later write is skipped, so a caller checks oom once, after the last
 * write; prom_buf_reset() clears it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct PromBuf {
        char *p; /* the text so far, not NUL-terminated */
        size_t n;
        size_t cap;
        bool oom;
} PromBuf;

/* Empties b for a new text, keeping its memory. */
static inline void prom_buf_reset(PromBuf *b) {
        b->n = 0;
        b->oom = false;
}

/* Frees b's memory; b is then empty, as a zeroed PromBuf. */
void prom_buf_done(PromBuf *b);

/* Grows b to hold k more bytes, or sets oom; the slow path of
 * prom_reserve(). Returns 0 or -ENOMEM. */
int prom_grow(PromBuf *b, size_t k);

/* Whether b can take k more bytes at b->p + b->n (growing it if needed).
 * Inline, as prom_put(): they run for every piece of every sample. */
static inline bool prom_reserve(PromBuf *b, size_t k) {
        if (b->oom)
                return false;
        return b->cap - b->n >= k || prom_grow(b, k) >= 0;
}

static inline void prom_put(PromBuf *b, const char *s, size_t len) {
        if (!prom_reserve(b, len))
                return;
        memcpy(b->p + b->n, s, len);
        b->n += len;
}

static inline void prom_puts(PromBuf *b, const char *s) {
        prom_put(b, s, strlen(s));
}

/* v in decimal. */
void prom_u64(PromBuf *b, uint64_t v);

/* v with a fixed number of decimals, which keeps the output stable (and
 * golden files exact); "NaN", "+Inf" or "-Inf" when not finite, "NaN"
 * beyond 1e50 (not a time or a duration). */
void prom_double(PromBuf *b, double v, int decimals);

/* key="value", preceded by a comma unless first. The value is escaped
 * (\\, \", \n) and bytes that are not valid UTF-8 become U+FFFD, since
 * Prometheus rejects the whole text otherwise. */
void prom_label(PromBuf *b, const char *key, const char *value, bool first);

/* The "# HELP name help" and "# TYPE name type" lines of a metric family. */
void prom_header(PromBuf *b, const char *name, const char *type, const char *help);
