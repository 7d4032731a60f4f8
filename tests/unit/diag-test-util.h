/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the unit tests of the three sock_diag parsers (test-diag.c,
 * test-diag-unix.c, test-diag-syn.c): they share one framing and control
 * message path (diag_parse_each()), so the same malformed input must fail
 * the same way in each. */

#include <check.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"

/* A parser of one datagram, whatever it fills (ListenerSet or SynCounts). */
typedef int (*diag_parse_fn)(const void *buf, size_t len, uint32_t seq, uint32_t portid, void *out, ErrBuf *err);

static inline int parse_inet(const void *buf, size_t len, uint32_t seq, uint32_t portid, void *out, ErrBuf *err) {
        return diag_parse(buf, len, seq, portid, out, err);
}

static inline int parse_unix(const void *buf, size_t len, uint32_t seq, uint32_t portid, void *out, ErrBuf *err) {
        return diag_parse_unix(buf, len, seq, portid, out, err);
}

static inline int parse_syn(const void *buf, size_t len, uint32_t seq, uint32_t portid, void *out, ErrBuf *err) {
        return diag_parse_syn(buf, len, seq, portid, out, err);
}

/* Parses buf (checks off) and asserts the error and its exact reason. */
#define expect_parse_error(parse, buf, len, out, want_r, want_text)                                                   \
        do {                                                                                                          \
                ErrBuf _e = { { 0 } };                                                                                \
                ck_assert_int_eq((parse) ((buf), (len), 0, 0, (out), &_e), (want_r));                                 \
                ck_assert_str_eq(_e.text, (want_text));                                                               \
        } while (0)

/* A datagram of one NLMSG_ERROR message with payload bytes of struct
 * nlmsgerr (error set when it fits); returns its length. */
static inline size_t put_nlmsg_error(void *buf, int error, size_t payload) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nlmsgerr *e;

        nlh->nlmsg_type = NLMSG_ERROR;
        e = mnl_nlmsg_put_extra_header(nlh, payload);
        if (payload >= sizeof(*e))
                e->error = error;
        return nlh->nlmsg_len;
}

/* A datagram of one NLMSG_DONE carrying status, as the kernel ends a dump;
 * returns its header so that a test can change it. */
static inline struct nlmsghdr *put_nlmsg_done(void *buf, int32_t status) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        int32_t *p;

        nlh->nlmsg_type = NLMSG_DONE;
        nlh->nlmsg_flags = NLM_F_MULTI;
        p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
        *p = status;
        return nlh;
}

/* rec is a captured datagram: a sequence number or port id other than its
 * own is refused (-EPROTO, -ESRCH) with a reason naming both, and nothing
 * reaches out; its own are accepted. Returns what that last parse
 * returned. */
static inline int check_seq_portid(diag_parse_fn parse, const void *rec, size_t len, void *out) {
        const struct nlmsghdr *nlh = rec;
        ErrBuf err = { { 0 } };
        char want[128];

        ck_assert_int_eq(parse(rec, len, nlh->nlmsg_seq + 1, 0, out, &err), -EPROTO);
        snprintf(want, sizeof(want), "sequence number %u, expected %u", nlh->nlmsg_seq, nlh->nlmsg_seq + 1);
        ck_assert_str_eq(err.text, want);
        ck_assert_int_eq(parse(rec, len, 0, nlh->nlmsg_pid + 1, out, &err), -ESRCH);
        snprintf(want, sizeof(want), "message for port id %u, expected %u", nlh->nlmsg_pid, nlh->nlmsg_pid + 1);
        ck_assert_str_eq(err.text, want);
        return parse(rec, len, nlh->nlmsg_seq, nlh->nlmsg_pid, out, &err);
}

/* The control messages every parser handles alike: the kernel's error, an
 * ACK, a short NLMSG_ERROR, a failed and a good NLMSG_DONE, NLM_F_DUMP_INTR,
 * NLMSG_NOOP and NLMSG_OVERRUN. out must stay empty. */
static inline void check_control_messages(diag_parse_fn parse, void *out) {
        uint32_t buf[16] = { 0 };
        struct nlmsghdr *nlh;
        ErrBuf err = { { 0 } };

        expect_parse_error(parse, buf, put_nlmsg_error(buf, -EBUSY, sizeof(struct nlmsgerr)), out, -EBUSY,
                           "kernel answered EBUSY: another dump is running on this socket");
        expect_parse_error(parse, buf, put_nlmsg_error(buf, -EINVAL, sizeof(struct nlmsgerr)), out, -EINVAL,
                           "kernel answered: Invalid argument");
        ck_assert_int_eq(parse(buf, put_nlmsg_error(buf, 0, sizeof(struct nlmsgerr)), 0, 0, out, &err), 0);
        expect_parse_error(parse, buf, put_nlmsg_error(buf, 0, 4), out, -EPROTO, "NLMSG_ERROR too short");
        expect_parse_error(parse, buf, put_nlmsg_error(buf, 5, sizeof(struct nlmsgerr)), out, -EPROTO,
                           "NLMSG_ERROR with an invalid error code");

        nlh = put_nlmsg_done(buf, -ENOBUFS);
        expect_parse_error(parse, buf, nlh->nlmsg_len, out, -ENOBUFS, "dump failed: No buffer space available");
        nlh = put_nlmsg_done(buf, 0);
        ck_assert_int_eq(parse(buf, nlh->nlmsg_len, 0, 0, out, &err), 0);
        nlh->nlmsg_flags |= NLM_F_DUMP_INTR;
        expect_parse_error(parse, buf, nlh->nlmsg_len, out, -EINTR, "dump interrupted (NLM_F_DUMP_INTR)");
        nlh->nlmsg_flags = NLM_F_MULTI;
        nlh->nlmsg_type = NLMSG_NOOP;
        ck_assert_int_eq(parse(buf, nlh->nlmsg_len, 0, 0, out, &err), 1);
        nlh->nlmsg_type = NLMSG_OVERRUN;
        expect_parse_error(parse, buf, nlh->nlmsg_len, out, -ENOSPC, "NLMSG_OVERRUN: the kernel dropped data");
}

/* A framing case: a captured datagram, changed in its first message or cut,
 * and what the parser must answer. Zero fields leave the recording as it
 * is. */
#define FRAMING_WHOLE SIZE_MAX

typedef struct FramingCase {
        const char *name;
        size_t len;          /* bytes of the datagram parsed, FRAMING_WHOLE: all */
        uint32_t nlmsg_len;  /* the first message's nlmsg_len */
        uint16_t nlmsg_type; /* the first message's nlmsg_type */
        uint8_t family;      /* the first message's family (its first payload byte) */
        uint16_t nla_len;    /* the first message's first attribute's nla_len */
        int want_r;
        const char *want_text; /* the exact reason, for want_r < 0 */
        size_t want_n;         /* entries in out afterwards */
} FramingCase;

/* Changes rec (len bytes, messages whose fixed header of hdrlen bytes
 * precedes the attributes) as c says, parses it (checks off) into out and
 * asserts the result and the reason; the caller checks c->want_n. */
static inline void check_framing_case(diag_parse_fn parse, void *rec, size_t len, size_t hdrlen, const FramingCase *c,
                                      void *out) {
        struct nlmsghdr *nlh = rec;
        ErrBuf err = { { 0 } };
        int r;

        if (c->nlmsg_len)
                nlh->nlmsg_len = c->nlmsg_len;
        if (c->nlmsg_type)
                nlh->nlmsg_type = c->nlmsg_type;
        if (c->family)
                *(uint8_t *) mnl_nlmsg_get_payload(nlh) = c->family;
        if (c->nla_len)
                ((struct nlattr *) ((uint8_t *) rec + NLMSG_HDRLEN + MNL_ALIGN(hdrlen)))->nla_len = c->nla_len;
        r = parse(rec, c->len == FRAMING_WHOLE ? len : c->len, 0, 0, out, &err);
        ck_assert_msg(r == c->want_r, "%s: returned %d, want %d (%s)", c->name, r, c->want_r, err.text);
        if (c->want_r < 0)
                ck_assert_msg(strcmp(err.text, c->want_text) == 0, "%s: \"%s\", want \"%s\"", c->name, err.text,
                              c->want_text);
}
