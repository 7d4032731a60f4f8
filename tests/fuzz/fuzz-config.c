/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the configuration parser: config_parse_string() on
 * the input (up to its first NUL, as config_load() refuses NUL bytes), and
 * for every accepted input a round trip: config_print() must parse back to
 * the same Config and print the same text again. The validated Config must
 * also keep the invariants the rest of the daemon relies on. */

#include <errno.h>
#include <sys/socket.h>

#include "config.h"
#include "fuzz.h"

#define NAME "fuzz.conf"

static char *print(const Config *c, size_t *ret_len) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        FUZZ_ASSERT(f);
        config_print(c, f);
        FUZZ_ASSERT(fclose(f) == 0);
        *ret_len = len;
        return text;
}

static void check_invariants(const Config *c) {
        PortRange ranges[64];
        size_t n;

        FUZZ_ASSERT(c->interval_usec >= CONFIG_INTERVAL_MIN_USEC && c->interval_usec <= CONFIG_INTERVAL_MAX_USEC);
        FUZZ_ASSERT(c->warn >= 2 && c->warn <= 100);
        FUZZ_ASSERT(c->clear >= 1 && c->clear < c->warn);
        FUZZ_ASSERT(c->n_watch == 0 || c->watch);
        for (size_t i = 0; i < c->n_watch; i++) {
                const Watch *w = &c->watch[i];

                FUZZ_ASSERT(w->any_port || (w->ports.lo >= 1 && w->ports.lo <= w->ports.hi));
                FUZZ_ASSERT(!w->has_address || w->family == AF_INET || w->family == AF_INET6);
                FUZZ_ASSERT(w->clear >= 1 && w->clear < w->warn && w->warn <= 100);
                FUZZ_ASSERT(w->line >= 1);
        }

        /* Merged, sorted, disjoint and not adjacent. */
        n = config_port_ranges(c, ranges, ELEMENTSOF(ranges));
        FUZZ_ASSERT(n <= ELEMENTSOF(ranges));
        for (size_t i = 0; i < n; i++) {
                FUZZ_ASSERT(ranges[i].lo <= ranges[i].hi);
                if (i > 0)
                        FUZZ_ASSERT((unsigned) ranges[i - 1].hi + 1 < ranges[i].lo);
        }
}

/* Everything but path and the file lines, which the round trip changes. */
static void check_same(const Config *a, const Config *b) {
        FUZZ_ASSERT(a->interval_usec == b->interval_usec);
        FUZZ_ASSERT(a->warn == b->warn && a->clear == b->clear);
        FUZZ_ASSERT(a->repeat_usec == b->repeat_usec);
        FUZZ_ASSERT(a->counters == b->counters);
        FUZZ_ASSERT(a->n_watch == b->n_watch);
        for (size_t i = 0; i < a->n_watch; i++) {
                const Watch *x = &a->watch[i], *y = &b->watch[i];

                FUZZ_ASSERT(x->any_port == y->any_port);
                FUZZ_ASSERT(x->any_port || (x->ports.lo == y->ports.lo && x->ports.hi == y->ports.hi));
                FUZZ_ASSERT(x->has_address == y->has_address);
                FUZZ_ASSERT(!x->has_address ||
                            (x->family == y->family && memcmp(x->addr, y->addr, sizeof(x->addr)) == 0));
                FUZZ_ASSERT(!x->name == !y->name);
                FUZZ_ASSERT(!x->name || strcmp(x->name, y->name) == 0);
                FUZZ_ASSERT(x->warn == y->warn && x->clear == y->clear);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *text = NULL, *printed = NULL, *reprinted = NULL;
        _cleanup_(config_freep) Config *c = NULL, *again = NULL;
        ErrBuf err = {{0}};
        size_t len, relen;
        int r;

        text = strndup((const char *) data, size);
        FUZZ_ASSERT(text);
        r = config_parse_string(text, NAME, &c, &err);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL);
                FUZZ_ASSERT(!c);
                fuzz_check_err(&err);
                FUZZ_ASSERT(strncmp(err.text, NAME ":", strlen(NAME ":")) == 0);
                return 0;
        }
        FUZZ_ASSERT(r == 0 && c);
        FUZZ_ASSERT(c->path && strcmp(c->path, NAME) == 0);
        check_invariants(c);

        printed = print(c, &len);
        FUZZ_ASSERT(strlen(printed) == len);
        r = config_parse_string(printed, NAME, &again, &err);
        if (r < 0) {
                fprintf(stderr, "config_print() output does not parse back: %s\n---\n%s---\n", err.text, printed);
                abort();
        }
        check_same(c, again);
        reprinted = print(again, &relen);
        if (relen != len || memcmp(printed, reprinted, len) != 0) {
                fprintf(stderr, "config_print() is not stable:\n---\n%s---\n%s---\n", printed, reprinted);
                abort();
        }
        return 0;
}
