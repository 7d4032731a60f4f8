/* SPDX-License-Identifier: MIT */
/* Records one live listener dump of the current network namespace into a
 * file that diag_replay() reads, and prints what it saw, one listener a line
 * ("ss -ltnmH" order of columns: depth backlog endpoint drops cookie), so a
 * capture can be checked against ss. Usage:
 *   diag-record OUTPUT [PORT | LO-HI]...
 * With --unix, records a unix_diag dump of the UNIX listeners instead and
 * prints "depth backlog path ino=INODE uid=UID cookie=COOKIE" a line, the
 * path quoted as "PATH" (empty for an unnamed socket):
 *   diag-record --unix OUTPUT                                              */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "diag-internal.h"

static int parse_range(const char *s, PortRange *ret) {
        unsigned lo, hi;
        char c;

        if (sscanf(s, "%u-%u%c", &lo, &hi, &c) == 2 && lo <= hi && hi <= 65535) {
                *ret = (PortRange){ (uint16_t) lo, (uint16_t) hi };
                return 0;
        }
        if (sscanf(s, "%u%c", &lo, &c) == 1 && lo <= 65535) {
                *ret = (PortRange){ (uint16_t) lo, (uint16_t) lo };
                return 0;
        }
        return -EINVAL;
}

static int record_unix(const char *output) {
        ListenerSet set = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        FILE *f = fopen(output, "we");
        int r;

        if (!f) {
                fprintf(stderr, "cannot open %s: %s\n", output, strerror(errno));
                return 1;
        }
        r = diag_open(&s, &err);
        if (r >= 0) {
                diag_set_recorder(s, f);
                r = diag_dump_unix(s, diag_push_cb, &set, &err);
        }
        diag_close(s);
        if (fclose(f) != 0 && r >= 0) {
                fprintf(stderr, "cannot write %s\n", output);
                r = -EIO;
        }
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", strerror(-r), err.text);
                listener_set_done(&set);
                return 1;
        }
        for (size_t i = 0; i < set.n; i++) {
                const Listener *l = &set.items[i];

                printf("%" PRIu32 " %" PRIu32 " \"%s\" ino=%" PRIu32 " uid=%" PRIu32 " cookie=%" PRIu64 "\n", l->depth,
                       l->backlog, l->path, l->inode, l->uid, l->cookie);
        }
        fprintf(stderr, "%zu listeners\n", set.n);
        listener_set_done(&set);
        return 0;
}

int main(int argc, char **argv) {
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges = 0;
        ListenerSet set = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        FILE *f;
        int r;

        if (argc == 3 && strcmp(argv[1], "--unix") == 0)
                return record_unix(argv[2]);
        if (argc < 2) {
                fprintf(stderr, "usage: %s OUTPUT [PORT|LO-HI]...\n       %s --unix OUTPUT\n", argv[0], argv[0]);
                return 2;
        }
        for (int i = 2; i < argc; i++) {
                if (n_ranges == DIAG_MAX_RANGES || parse_range(argv[i], &ranges[n_ranges]) < 0) {
                        fprintf(stderr, "invalid or too many port ranges: %s\n", argv[i]);
                        return 2;
                }
                n_ranges++;
        }
        f = fopen(argv[1], "we");
        if (!f) {
                fprintf(stderr, "cannot open %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        r = diag_open(&s, &err);
        if (r >= 0) {
                diag_set_recorder(s, f);
                r = diag_dump_listeners(s, ranges, n_ranges, &set, &err);
        }
        diag_close(s);
        if (fclose(f) != 0 && r >= 0) {
                fprintf(stderr, "cannot write %s\n", argv[1]);
                r = -EIO;
        }
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", strerror(-r), err.text);
                listener_set_done(&set);
                return 1;
        }
        for (size_t i = 0; i < set.n; i++) {
                char ep[LISTENER_ENDPOINT_MAX];
                const Listener *l = &set.items[i];

                printf("%" PRIu32 " %" PRIu32 " %s d%" PRIu32 " cookie=%" PRIu64 " if=%" PRIu32 "\n", l->depth,
                       l->backlog, listener_endpoint(l, ep, sizeof(ep)), l->drops, l->cookie, l->ifindex);
        }
        fprintf(stderr, "%zu listeners\n", set.n);
        listener_set_done(&set);
        return 0;
}
