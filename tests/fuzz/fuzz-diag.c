/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the inet_diag dump parser: every input is parsed as
 * one datagram (checks off, then with the sequence number and port id of its
 * first header, then with ones that cannot match), and replayed as a
 * recorder file through diag_replay(). */

#include <errno.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "diag.h"
#include "fuzz.h"

/* Datagrams come from recv() into an aligned buffer; libFuzzer's copy of the
 * input is aligned too, but a slice of it may not be. */
static _Alignas(16) uint8_t datagram[DIAG_BUFFER_SIZE];

static void check_listeners(const ListenerSet *set, size_t from) {
        FUZZ_ASSERT(set->n <= set->cap);
        for (size_t i = from; i < set->n; i++)
                FUZZ_ASSERT(set->items[i].family == AF_INET || set->items[i].family == AF_INET6);
}

static int parse_once(const uint8_t *buf, size_t len, uint32_t seq, uint32_t portid) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        int r;

        /* An entry from an earlier datagram must survive an error. */
        FUZZ_ASSERT(listener_set_push(&set));
        set.items[0].family = AF_INET;
        set.items[0].cookie = 42;

        r = diag_parse(buf, len, seq, portid, &set, &err);
        FUZZ_ASSERT(r == 0 || r == 1 || (r < 0 && r >= -4095));
        if (r < 0)
                fuzz_check_err(&err);
        FUZZ_ASSERT(set.n >= 1 && set.items[0].cookie == 42);
        check_listeners(&set, 1);
        /* A well-formed datagram has at most one listener per
         * header + inet_diag_msg (16 + 72 bytes). */
        FUZZ_ASSERT(set.n - 1 <= len / 88);
        listener_set_done(&set);
        return r;
}

static void replay(const uint8_t *data, size_t size) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        FILE *f;
        int r;

        if (size == 0)
                return; /* glibc's fmemopen() refuses an empty buffer */
        f = fmemopen((void *) data, size, "r");
        FUZZ_ASSERT(f);
        r = diag_replay(f, &set, &err);
        fclose(f);
        if (r < 0) {
                fuzz_check_err(&err);
                FUZZ_ASSERT(set.n == 0); /* restored on error */
        } else {
                FUZZ_ASSERT((size_t) r == set.n);
                check_listeners(&set, 0);
                /* Sorted by cookie, no duplicates (netns is 0 here). */
                for (size_t i = 1; i < set.n; i++)
                        FUZZ_ASSERT(set.items[i - 1].cookie < set.items[i].cookie);
        }
        listener_set_done(&set);
}

/* The same bytes as a unix_diag answer and as a SYN_RECV dump answer: the
 * other two parsers of the module share its checks. */
static void other_parsers(const uint8_t *buf, size_t len) {
        ListenerSet set = { 0 };
        SynCounts syn = { 0 };
        ErrBuf err;
        int r;

        r = diag_parse_unix(buf, len, 0, 0, &set, &err);
        FUZZ_ASSERT(r == 0 || r == 1 || (r < 0 && r >= -4095));
        for (size_t i = 0; i < set.n; i++) {
                FUZZ_ASSERT(set.items[i].kind == LISTENER_UNIX);
                FUZZ_ASSERT(memchr(set.items[i].path, 0, sizeof(set.items[i].path)));
        }
        listener_set_done(&set);

        r = diag_parse_syn(buf, len, 0, 0, &syn, &err);
        FUZZ_ASSERT(r == 0 || r == 1 || (r < 0 && r >= -4095));
        syn_counts_sort(&syn);
        for (size_t i = 1; i < syn.n; i++)
                FUZZ_ASSERT(syn.items[i - 1].family != syn.items[i].family ||
                            syn.items[i - 1].port != syn.items[i].port ||
                            memcmp(syn.items[i - 1].addr, syn.items[i].addr, 16) != 0);
        syn_counts_done(&syn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int r0;

        if (size > sizeof(datagram)) {
                replay(data, size);
                return 0;
        }
        memcpy(datagram, data, size);

        other_parsers(datagram, size);
        r0 = parse_once(datagram, size, 0, 0);
        if (size >= sizeof(struct nlmsghdr)) {
                struct nlmsghdr h;
                int a, b;

                memcpy(&h, datagram, sizeof(h));
                /* The values the first message carries: the checks pass for
                 * it, so the outcome is the same as with checks off unless a
                 * later message differs. */
                a = parse_once(datagram, size, h.nlmsg_seq, h.nlmsg_pid);
                if (a >= 0 || (h.nlmsg_seq == 0 && h.nlmsg_pid == 0))
                        FUZZ_ASSERT(a == r0);
                /* Values that cannot match a non-zero header field; unless
                 * the header holds all ones, whose complement 0 turns the
                 * check off instead. */
                b = parse_once(datagram, size, ~h.nlmsg_seq, ~h.nlmsg_pid);
                if (b >= 0 && h.nlmsg_seq != UINT32_MAX && h.nlmsg_pid != UINT32_MAX)
                        FUZZ_ASSERT(a == b);
        }
        replay(data, size);
        return 0;
}
