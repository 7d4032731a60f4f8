/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "journal.h"
#include "message-ids.h"
#include "util.h"

/* An entry larger than this is refused (backlogd's are a few KiB; a datagram
 * over the socket's send buffer would need a memfd, as libsystemd does). */
#define ENTRY_MAX (64U * 1024)

typedef struct Entry {
        uint8_t *data;
        size_t len;
} Entry;

struct JournalWriter {
        char *path;
        int fd;                         /* -1: not connected */
        Entry queue[JOURNAL_QUEUE_MAX]; /* a ring */
        size_t head, n, bytes;
        uint64_t dropped; /* since the last report */
        uint8_t buf[ENTRY_MAX];
};

int journal_writer_new(const char *path, JournalWriter **ret) {
        JournalWriter *j = calloc(1, sizeof(*j));

        if (!j)
                return -ENOMEM;
        j->fd = -1;
        j->path = strdup(path);
        if (!j->path) {
                free(j);
                return -ENOMEM;
        }
        *ret = j;
        return 0;
}

JournalWriter *journal_writer_free(JournalWriter *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n; i++)
                free(j->queue[(j->head + i) % JOURNAL_QUEUE_MAX].data);
        if (j->fd >= 0)
                close(j->fd);
        free(j->path);
        free(j);
        return NULL;
}

size_t journal_queued(const JournalWriter *j) {
        return j->n;
}

uint64_t journal_dropped(const JournalWriter *j) {
        return j->dropped;
}

static int put(uint8_t *buf, size_t size, size_t *at, const void *p, size_t len) {
        if (len > size - *at)
                return -ENOBUFS;
        memcpy(buf + *at, p, len);
        *at += len;
        return 0;
}

int journal_serialize(const struct iovec *iov, size_t n, uint8_t *buf, size_t size) {
        size_t at = 0;

        for (size_t i = 0; i < n; i++) {
                const char *f = iov[i].iov_base, *eq = memchr(f, '=', iov[i].iov_len);
                size_t name = eq ? (size_t) (eq - f) : 0, len;
                uint64_t le;
                int r;

                /* A field name: A-Z, 0-9, _, not starting with _ or a digit. */
                if (name == 0 || f[0] == '_' || (f[0] >= '0' && f[0] <= '9'))
                        return -EINVAL;
                for (size_t k = 0; k < name; k++)
                        if (!((f[k] >= 'A' && f[k] <= 'Z') || (f[k] >= '0' && f[k] <= '9') || f[k] == '_'))
                                return -EINVAL;
                len = iov[i].iov_len - name - 1;
                if (!memchr(eq + 1, '\n', len)) {
                        r = put(buf, size, &at, f, iov[i].iov_len);
                        if (r >= 0)
                                r = put(buf, size, &at, "\n", 1);
                } else {
                        /* Binary-safe: NAME\n, le64 length, value, \n. */
                        le = htole64((uint64_t) len);
                        r = put(buf, size, &at, f, name);
                        if (r >= 0)
                                r = put(buf, size, &at, "\n", 1);
                        if (r >= 0)
                                r = put(buf, size, &at, &le, sizeof(le));
                        if (r >= 0)
                                r = put(buf, size, &at, eq + 1, len);
                        if (r >= 0)
                                r = put(buf, size, &at, "\n", 1);
                }
                if (r < 0)
                        return r;
        }
        return at > INT32_MAX ? -ENOBUFS : (int) at;
}

static int connect_socket(JournalWriter *j) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (j->fd >= 0)
                return 0;
        if (strlen(j->path) >= sizeof(sa.sun_path))
                return -EINVAL;
        strcpy(sa.sun_path, j->path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        j->fd = fd;
        return 0;
}

/* 1 sent, 0 not now (busy or away: try again later), < 0 never (too big). */
static int try_send(JournalWriter *j, const uint8_t *data, size_t len) {
        int r = connect_socket(j);

        if (r < 0)
                return 0; /* journald is not there (yet): later */
        if (send(j->fd, data, len, MSG_NOSIGNAL) >= 0)
                return 1;
        r = -errno;
        if (r == -EAGAIN || r == -EINTR || r == -ENOBUFS)
                return 0;
        if (r == -EMSGSIZE)
                return r;
        /* ECONNREFUSED, ENOTCONN, EPIPE: journald restarted; reconnect next
         * time. */
        close(j->fd);
        j->fd = -1;
        return 0;
}

static int enqueue(JournalWriter *j, const uint8_t *data, size_t len) {
        Entry *e;

        if (j->n == JOURNAL_QUEUE_MAX || j->bytes + len > JOURNAL_QUEUE_BYTES) {
                j->dropped++;
                return -ENOBUFS;
        }
        e = &j->queue[(j->head + j->n) % JOURNAL_QUEUE_MAX];
        e->data = malloc(len);
        if (!e->data) {
                j->dropped++;
                return -ENOMEM;
        }
        memcpy(e->data, data, len);
        e->len = len;
        j->n++;
        j->bytes += len;
        return 0;
}

static void report_drops(JournalWriter *j) {
        char msg[160], prio[16], id[64];
        struct iovec iov[4];
        int len;

        snprintf(msg, sizeof(msg),
                 "MESSAGE=%" PRIu64 " journal entr%s could not be written while the journal was not taking "
                 "entries; they are lost.",
                 j->dropped, j->dropped == 1 ? "y" : "ies");
        snprintf(prio, sizeof(prio), "PRIORITY=%d", LOG_WARNING);
        snprintf(id, sizeof(id), "MESSAGE_ID=%s", MESSAGE_ID_JOURNAL_DROPPED);
        iov[0] = (struct iovec){ msg, strlen(msg) };
        iov[1] = (struct iovec){ prio, strlen(prio) };
        iov[2] = (struct iovec){ id, strlen(id) };
        iov[3] = (struct iovec){ (char *) "SYSLOG_IDENTIFIER=backlogd", strlen("SYSLOG_IDENTIFIER=backlogd") };
        len = journal_serialize(iov, ELEMENTSOF(iov), j->buf, sizeof(j->buf));
        if (len > 0 && try_send(j, j->buf, (size_t) len) == 1)
                j->dropped = 0;
}

size_t journal_flush(JournalWriter *j) {
        while (j->n > 0) {
                Entry *e = &j->queue[j->head];
                int r = try_send(j, e->data, e->len);

                if (r == 0)
                        return j->n;
                /* Sent, or never sendable: either way it leaves the queue. */
                if (r < 0)
                        j->dropped++;
                free(e->data);
                j->bytes -= e->len;
                *e = (Entry){ 0 };
                j->head = (j->head + 1) % JOURNAL_QUEUE_MAX;
                j->n--;
        }
        if (j->dropped > 0)
                report_drops(j);
        return j->n;
}

int journal_send(JournalWriter *j, const struct iovec *iov, size_t n) {
        int len, r;

        len = journal_serialize(iov, n, j->buf, sizeof(j->buf));
        if (len < 0)
                return len;
        if (journal_flush(j) == 0) {
                r = try_send(j, j->buf, (size_t) len);
                if (r != 0)
                        return r;
        }
        r = enqueue(j, j->buf, (size_t) len);
        return r < 0 ? r : 0;
}
