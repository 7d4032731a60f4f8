/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prom.h"
#include "util.h"

void prom_buf_done(PromBuf *b) {
        free(b->p);
        *b = (PromBuf){ 0 };
}

int prom_grow(PromBuf *b, size_t k) {
        if (k > SIZE_MAX - b->n || GROW(&b->p, &b->cap, b->n + k, 64 * 1024) < 0) {
                b->oom = true;
                return -ENOMEM;
        }
        return 0;
}

void prom_u64(PromBuf *b, uint64_t v) {
        char d[20];
        size_t i = sizeof(d);

        do {
                d[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        prom_put(b, d + i, sizeof(d) - i);
}

void prom_double(PromBuf *b, double v, int decimals) {
        char s[64];
        int n;

        if (!isfinite(v)) {
                prom_puts(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
                return;
        }
        n = snprintf(s, sizeof(s), "%.*f", decimals, v);
        if (n < 0 || (size_t) n >= sizeof(s))
                prom_puts(b, "NaN"); /* beyond 1e50: not a time or a duration */
        else
                prom_put(b, s, (size_t) n);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s) {
        unsigned char c = s[0];

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                return (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
        }
        return 0;
}

static bool plain_byte(unsigned char c) {
        return c && c < 0x80 && c != '\\' && c != '"' && c != '\n';
}

/* A label value: \ " and newline escaped, invalid UTF-8 replaced by U+FFFD.
 * Runs of plain ASCII are copied at once. utf8_len() stops at the NUL, which
 * is never a continuation byte. */
static void label_value(PromBuf *b, const char *v) {
        const unsigned char *s = (const unsigned char *) v;

        while (*s) {
                const unsigned char *run = s;
                size_t n;

                while (plain_byte(*s))
                        s++;
                if (s > run)
                        prom_put(b, (const char *) run, (size_t) (s - run));
                if (!*s)
                        break;
                if (*s == '\\' || *s == '"') {
                        char e[2] = { '\\', (char) *s };

                        prom_put(b, e, 2);
                        s++;
                } else if (*s == '\n') {
                        prom_put(b, "\\n", 2);
                        s++;
                } else if ((n = utf8_len(s)) > 0) {
                        prom_put(b, (const char *) s, n);
                        s += n;
                } else {
                        prom_put(b, "\xef\xbf\xbd", 3);
                        s++;
                }
        }
}

void prom_label(PromBuf *b, const char *key, const char *value, bool first) {
        if (!first)
                prom_put(b, ",", 1);
        prom_puts(b, key);
        prom_put(b, "=\"", 2);
        label_value(b, value);
        prom_put(b, "\"", 1);
}

void prom_header(PromBuf *b, const char *name, const char *type, const char *help) {
        prom_puts(b, "# HELP ");
        prom_puts(b, name);
        prom_put(b, " ", 1);
        prom_puts(b, help);
        prom_puts(b, "\n# TYPE ");
        prom_puts(b, name);
        prom_put(b, " ", 1);
        prom_puts(b, type);
        prom_put(b, "\n", 1);
}
