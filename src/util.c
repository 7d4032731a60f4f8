/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int errbuf_set(ErrBuf *err, int r, const char *fmt, ...) {
        if (err) {
                va_list ap;

                va_start(ap, fmt);
                vsnprintf(err->text, sizeof(err->text), fmt, ap);
                va_end(ap);
        }
        return r;
}

int parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || !*s)
                return -EINVAL;
        /* Syntax first, so that a long run of digits followed by garbage is
         * -EINVAL, not -ERANGE. */
        for (const char *p = s; *p; p++)
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
        for (const char *p = s; *p; p++) {
                unsigned d = (unsigned) (*p - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int grow_array(void **p, size_t *cap, size_t size, size_t want, size_t min_cap) {
        size_t c = *cap ? *cap : (min_cap ? min_cap : 1);
        void *q;

        if (want <= *cap)
                return 0;
        if (size == 0)
                return -ENOMEM;
        while (c < want) {
                if (c > SIZE_MAX / 2)
                        return -ENOMEM;
                c *= 2;
        }
        if (c > SIZE_MAX / size)
                return -ENOMEM;
        q = realloc(*p, c * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = c;
        return 0;
}

static const char *const log_levels[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

int log_level_from_string(const char *s, int *ret) {
        for (int i = 0; i < (int) ELEMENTSOF(log_levels); i++)
                if (strcmp(s, log_levels[i]) == 0 || (s[0] == '0' + i && s[1] == 0)) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        return level >= 0 && level < (int) ELEMENTSOF(log_levels) ? log_levels[level] : NULL;
}
