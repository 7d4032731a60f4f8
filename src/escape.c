/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "escape.h"

/* The length of the valid UTF-8 sequence at p (Unicode's table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if none starts
 * there. The NUL that ends the string is never a continuation byte, so a
 * truncated sequence stops at it. */
static size_t utf8_length(const unsigned char *p) {
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                n = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                n = 3;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                n = 4;
        else
                return 0;
        if (p[0] == 0xe0)
                lo = 0xa0;
        else if (p[0] == 0xed)
                hi = 0x9f;
        else if (p[0] == 0xf0)
                lo = 0x90;
        else if (p[0] == 0xf4)
                hi = 0x8f;
        if (p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (p[i] < 0x80 || p[i] > 0xbf)
                        return 0;
        return n;
}

static const char hex[] = "0123456789abcdef";

/* The escape of the next character or byte at *p into unit (at most 8
 * bytes, NUL terminated); advances *p and returns the unit's length.
 * *columns is what it takes on a terminal: 1 per character. */
static size_t next_unit(const unsigned char **p, bool json, char unit[static 9], size_t *columns) {
        const unsigned char *s = *p;
        size_t n = utf8_length(s), len = 0;

        if (n == 1 && s[0] >= 0x20 && s[0] != 0x7f && s[0] != '\\' && (!json || s[0] != '"')) {
                unit[len++] = (char) s[0];
        } else if (n == 1 && json) {
                if (s[0] == '"' || s[0] == '\\') {
                        unit[len++] = '\\';
                        unit[len++] = (char) s[0];
                } else {
                        memcpy(unit, "\\u00", 4);
                        len = 4;
                        unit[len++] = hex[s[0] >> 4];
                        unit[len++] = hex[s[0] & 0xf];
                }
        } else if (n == 1 && (s[0] == '\\' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t')) {
                unit[len++] = '\\';
                unit[len++] = s[0] == '\\' ? '\\' : s[0] == '\n' ? 'n' : s[0] == '\r' ? 'r' : 't';
        } else if (n > 1 && (json || s[0] != 0xc2 || s[1] >= 0xa0)) {
                /* Valid UTF-8; in text, not a C1 control (U+0080-U+009F):
                 * terminals obey those too. */
                memcpy(unit, s, n);
                unit[n] = '\0';
                *columns += 1;
                *p += n;
                return n;
        } else {
                /* A control byte in text, or a byte that is not valid
                 * UTF-8, or a C1 control's bytes in text. */
                if (n == 0)
                        n = 1;
                for (size_t i = 0; i < n; i++) {
                        if (json) {
                                memcpy(unit + len, "\\udc", 4);
                                len += 4;
                        } else {
                                memcpy(unit + len, "\\x", 2);
                                len += 2;
                        }
                        unit[len++] = hex[s[i] >> 4];
                        unit[len++] = hex[s[i] & 0xf];
                }
        }
        unit[len] = '\0';
        *columns += len;
        *p += n;
        return len;
}

static size_t escape_into(char *buf, size_t size, const char *s, bool json) {
        const unsigned char *p = (const unsigned char *) s;
        size_t total = 0, used = 0, columns = 0;
        bool full = false;
        char unit[9];

        while (*p) {
                size_t len = next_unit(&p, json, unit, &columns);

                if (!full && used + len < size) {
                        memcpy(buf + used, unit, len);
                        used += len;
                } else
                        full = true;
                total += len;
        }
        if (size > 0)
                buf[used] = '\0';
        return total;
}

size_t escape_text(char *buf, size_t size, const char *s) {
        return escape_into(buf, size, s, false);
}

size_t escape_json(char *buf, size_t size, const char *s) {
        return escape_into(buf, size, s, true);
}

size_t escape_text_width(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t columns = 0;
        char unit[9];

        while (*p)
                next_unit(&p, false, unit, &columns);
        return columns;
}

static void escape_fputs(const char *s, FILE *f, bool json) {
        const unsigned char *p = (const unsigned char *) s;
        size_t columns = 0;
        char unit[9];

        while (*p) {
                next_unit(&p, json, unit, &columns);
                fputs(unit, f);
        }
}

void escape_text_fputs(const char *s, FILE *f) {
        escape_fputs(s, f, false);
}

void escape_json_fputs(const char *s, FILE *f) {
        escape_fputs(s, f, true);
}
