/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "diag.h"
#include "diag-internal.h"

/* What a sockaddr_un's sun_path can hold, plus the NUL the kernel stores
 * after a filesystem path. */
#define UNIX_NAME_MAX (sizeof(((struct sockaddr_un *) NULL)->sun_path) + 1)

_Static_assert(LISTENER_PATH_MAX >= UNIX_NAME_MAX, "Listener.path cannot hold a sun_path");

int diag_build_unix_request(void *buf, size_t size, uint32_t seq) {
        struct nlmsghdr *nlh;
        struct unix_diag_req *req;

        if (size < 64 || size > UINT32_MAX)
                return -ENOBUFS;
        memset(buf, 0, size);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
        req->sdiag_family = AF_UNIX;
        req->udiag_states = 1U << TCP_LISTEN;
        req->udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
        return (int) nlh->nlmsg_len;
}

/* "@name" for an abstract name (NULs inside shown as '@', as ss does), the
 * path up to its NUL otherwise. */
static void copy_name(char *dst, const uint8_t *name, size_t len) {
        size_t i;

        if (len == 0) {
                dst[0] = '\0';
                return;
        }
        if (name[0] == '\0') {
                for (i = 0; i < len; i++)
                        dst[i] = name[i] ? (char) name[i] : '@';
        } else {
                for (i = 0; i < len && name[i]; i++)
                        dst[i] = (char) name[i];
        }
        dst[i] = '\0';
}

static int unix_data_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;
        const struct nlattr *tb[UNIX_DIAG_UID + 1], *name, *rqlen, *uid, *icons;
        const struct unix_diag_rqlen *rq;
        const struct unix_diag_msg *m;
        Listener listener = { 0 }, *l = &listener;

        if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
                return diag_ctx_fail(ctx, -EPROTO, "unexpected message type %u", nlh->nlmsg_type);
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
                return diag_ctx_fail(ctx, -EPROTO, "unix_diag_msg payload too short");
        m = mnl_nlmsg_get_payload(nlh);
        if (m->udiag_family != AF_UNIX)
                return diag_ctx_fail(ctx, -EPROTO, "unexpected address family %u", m->udiag_family);
        if (!diag_attr_table(nlh, sizeof(*m), tb, ELEMENTSOF(tb)))
                return diag_ctx_fail(ctx, -EPROTO, "malformed attributes");
        name = tb[UNIX_DIAG_NAME];
        rqlen = tb[UNIX_DIAG_RQLEN];
        uid = tb[UNIX_DIAG_UID];
        icons = tb[UNIX_DIAG_ICONS];
        if (name && (diag_attr_len(name) == 0 || diag_attr_len(name) > UNIX_NAME_MAX))
                return diag_ctx_fail(ctx, -EPROTO, "UNIX_DIAG_NAME of invalid length");
        if (rqlen && diag_attr_len(rqlen) != sizeof(*rq))
                return diag_ctx_fail(ctx, -EPROTO, "UNIX_DIAG_RQLEN of invalid length");
        if (uid && diag_attr_len(uid) != sizeof(uint32_t))
                return diag_ctx_fail(ctx, -EPROTO, "UNIX_DIAG_UID of invalid length");
        if (icons && diag_attr_len(icons) % sizeof(uint32_t) != 0)
                return diag_ctx_fail(ctx, -EPROTO, "UNIX_DIAG_ICONS of invalid length");

        /* The request asks for listeners only; anything else is skipped. */
        if (m->udiag_state != TCP_LISTEN)
                return MNL_CB_OK;
        if (!rqlen)
                return diag_ctx_fail(ctx, -EPROTO, "listener without UNIX_DIAG_RQLEN");
        rq = diag_attr_data(rqlen);

        l->kind = LISTENER_UNIX;
        l->family = AF_UNIX;
        l->sotype = m->udiag_type;
        l->netns = ctx->netns;
        if (name)
                copy_name(l->path, diag_attr_data(name), diag_attr_len(name));
        l->depth = rq->udiag_rqueue;
        l->backlog = rq->udiag_wqueue;
        l->inode = m->udiag_ino;
        l->cookie = (uint64_t) m->udiag_cookie[0] | (uint64_t) m->udiag_cookie[1] << 32;
        l->uid = uid ? mnl_attr_get_u32(uid) : UINT32_MAX;
        if (icons) {
                /* The waiting clients' sockets, in queue order; 0 for one
                 * whose client is gone. */
                size_t n = diag_attr_len(icons) / sizeof(uint32_t);

                for (size_t i = 0; i < n && l->n_clients < LISTENER_CLIENTS_MAX; i++)
                        memcpy(&l->clients[l->n_clients++],
                               (const uint8_t *) diag_attr_data(icons) + i * sizeof(uint32_t), sizeof(uint32_t));
                if (l->n_clients > 0)
                        l->head = l->clients[0];
        }
        return diag_ctx_deliver(ctx, l);
}

int diag_parse_unix(const void *buf, size_t len, uint32_t seq, uint32_t portid, ListenerSet *out, ErrBuf *err) {
        size_t n = 0;

        return diag_parse_each(buf, len, seq, portid, unix_data_cb, diag_push_cb, out, 0, &n, err);
}

int diag_dump_unix(DiagSocket *s, diag_listener_cb cb, void *userdata, ErrBuf *err) {
        uint32_t seq = diag_next_seq(s);
        int len = diag_build_unix_request(s->buf, DIAG_BUFFER_SIZE, seq);
        size_t n = 0;
        int r;

        if (len < 0)
                return errbuf_set(err, len, "unix dump: cannot build request");
        r = diag_exchange(s, (size_t) len, seq, unix_data_cb, cb, userdata, &n, err);
        if (r < 0)
                return diag_describe_dump_error(err, r, "unix");
        return n > INT_MAX ? INT_MAX : (int) n;
}

int diag_build_unix_icons_request(void *buf, size_t size, uint32_t seq, uint32_t inode, uint64_t cookie) {
        struct unix_diag_req *req;
        int len = diag_build_unix_request(buf, size, seq);

        if (len < 0)
                return len;
        /* Not a dump: the kernel answers with that socket, then the ACK. */
        ((struct nlmsghdr *) buf)->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        req = mnl_nlmsg_get_payload(buf);
        req->udiag_states = 1U << TCP_LISTEN;
        req->udiag_ino = inode;
        req->udiag_cookie[0] = (uint32_t) cookie;
        req->udiag_cookie[1] = (uint32_t) (cookie >> 32);
        req->udiag_show = UDIAG_SHOW_RQLEN | UDIAG_SHOW_ICONS;
        return len;
}

typedef struct IconsAnswer {
        Listener found;
        size_t n;
} IconsAnswer;

static int icons_cb(const Listener *l, void *userdata) {
        IconsAnswer *a = userdata;

        if (a->n++ == 0)
                a->found = *l;
        return 0;
}

int diag_unix_clients(DiagSocket *s, Listener *l, ErrBuf *err) {
        uint32_t seq = diag_next_seq(s);
        int len = diag_build_unix_icons_request(s->buf, DIAG_BUFFER_SIZE, seq, l->inode, l->cookie);
        IconsAnswer a = { .n = 0 };
        size_t n = 0;
        int r;

        if (len < 0)
                return errbuf_set(err, len, "unix clients: cannot build the request");
        r = diag_exchange(s, (size_t) len, seq, unix_data_cb, icons_cb, &a, &n, err);
        /* Gone (ENOENT; ESTALE: another socket has its inode now), or too
         * many clients for the kernel's answer (EMSGSIZE, past about a
         * thousand): none known. */
        if (r == -ENOENT || r == -ESTALE || r == -EMSGSIZE) {
                if (err)
                        err->text[0] = 0;
                return 0;
        }
        if (r < 0)
                return r;
        if (a.n != 1 || a.found.cookie != l->cookie)
                return 0;
        memcpy(l->clients, a.found.clients, sizeof(l->clients));
        l->n_clients = a.found.n_clients;
        l->head = a.found.head;
        return 1;
}
