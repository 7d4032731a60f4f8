/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

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
