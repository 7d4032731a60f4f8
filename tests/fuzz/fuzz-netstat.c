/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the /proc/net/netstat parser: netstat_parse_text()
 * on the input as is (libFuzzer's copy has exactly size bytes, so ASan sees
 * any read past the end, and libFuzzer aborts if the input is modified),
 * netstat_parse() on the same bytes through fmemopen(), which must agree,
 * and a round trip of what was found through a minimal TcpExt section. */

#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "netstat.h"

static void fill_sentinel(NetstatCounters *c) {
        memset(c, 0xa5, sizeof(*c));
}

static bool is_sentinel(const NetstatCounters *c) {
        NetstatCounters s;

        fill_sentinel(&s);
        return memcmp(c, &s, sizeof(s)) == 0;
}

static int parse_text(const char *text, size_t len, NetstatCounters *ret) {
        ErrBuf err = { { 0 } };
        int r;

        fill_sentinel(ret);
        r = netstat_parse_text(text, len, ret, &err);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG || r == -ENODATA);
                fuzz_check_err(&err);
                FUZZ_ASSERT(is_sentinel(ret)); /* written only on success */
                return r;
        }
        FUZZ_ASSERT(r == 0);
        for (int i = 0; i < _NETSTAT_COUNTER_MAX; i++) {
                FUZZ_ASSERT(ret->present[i] == 0 || ret->present[i] == 1);
                if (!ret->present[i])
                        FUZZ_ASSERT(ret->value[i] == 0);
        }
        return r;
}

static int parse_file(const uint8_t *data, size_t size, NetstatCounters *ret) {
        ErrBuf err = { { 0 } };
        FILE *f;
        int r;

        fill_sentinel(ret);
        /* glibc's fmemopen() refuses an empty buffer: /dev/null is the same
         * empty stream. */
        f = size > 0 ? fmemopen((void *) data, size, "r") : fopen("/dev/null", "re");
        FUZZ_ASSERT(f);
        r = netstat_parse(f, ret, &err);
        fclose(f);
        if (r < 0) {
                fuzz_check_err(&err);
                FUZZ_ASSERT(is_sentinel(ret));
        }
        return r;
}

/* The counters that were found, as the kernel would print them, after a
 * name we do not know (so the section is never empty). */
static void round_trip(const NetstatCounters *c) {
        char *text = NULL;
        size_t len = 0;
        NetstatCounters again;
        FILE *f = open_memstream(&text, &len);

        FUZZ_ASSERT(f);
        fputs("TcpExt: FuzzUnknown", f);
        for (int i = 0; i < _NETSTAT_COUNTER_MAX; i++)
                if (c->present[i])
                        fprintf(f, " %s", netstat_counter_name(i));
        fputs("\nTcpExt: 0", f);
        for (int i = 0; i < _NETSTAT_COUNTER_MAX; i++)
                if (c->present[i])
                        fprintf(f, " %" PRIu64, c->value[i]);
        fputs("\n", f);
        FUZZ_ASSERT(fclose(f) == 0);

        FUZZ_ASSERT(parse_text(text, len, &again) == 0);
        FUZZ_ASSERT(memcmp(c, &again, sizeof(again)) == 0);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        NetstatCounters a, b;
        int ra, rb;

        if (size > NETSTAT_SIZE_MAX)
                return 0; /* netstat_parse() refuses it; the text parser need not */
        ra = parse_text((const char *) data, size, &a);
        rb = parse_file(data, size, &b);
        FUZZ_ASSERT(ra == rb);
        if (ra == 0) {
                FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
                round_trip(&a);
        }
        return 0;
}
