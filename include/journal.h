/* SPDX-License-Identifier: MIT */
#pragma once

/* Journal entries sent without ever blocking the loop. sd_journal_sendv()
 * blocks when journald stops reading (its socket's queue is full) and
 * reports success when the socket is missing; libsystemd has no
 * non-blocking variant. So entries are written here in journald's native
 * protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL: "NAME=value\n", or, for a
 * value holding a newline, "NAME\n", a little-endian 64-bit length, the
 * bytes and "\n") to a non-blocking datagram socket. What cannot be sent
 * now waits in a bounded queue, in order, and is retried before anything
 * newer; what does not fit in the queue is counted, and the count reported
 * in an entry of its own once the journal takes entries again. Nothing here
 * logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* journald's native socket. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* The queue holds at most this many entries, and at most this many bytes. */
#define JOURNAL_QUEUE_MAX 512
#define JOURNAL_QUEUE_BYTES (2U << 20)

typedef struct JournalWriter JournalWriter;

/* path: the socket (JOURNAL_SOCKET); not connected until the first send. */
int journal_writer_new(const char *path, JournalWriter **ret);
JournalWriter *journal_writer_free(JournalWriter *j);

/* Sends one entry of n fields, each iov "NAME=value" (value may hold any
 * bytes, newlines included). Waiting entries go first. Returns 1 sent, 0
 * queued (the journal is busy or away: sent later by journal_flush() or the
 * next send), or -ENOBUFS: the queue is full, the entry is dropped (and
 * counted); -EINVAL for a malformed field; -ENOMEM. */
int journal_send(JournalWriter *j, const struct iovec *iov, size_t n);

/* Sends what waits, as far as the journal takes it. When the queue has
 * emptied after entries were dropped, sends one entry saying how many
 * (MESSAGE_ID_JOURNAL_DROPPED). Returns the number of entries still
 * waiting. Never blocks. */
size_t journal_flush(JournalWriter *j);

/* Entries waiting, and dropped since the last report of drops. */
size_t journal_queued(const JournalWriter *j);
uint64_t journal_dropped(const JournalWriter *j);

/* The serialisation, for tests: appends the entry's bytes to buf (size
 * bytes) and returns their length, or -ENOBUFS / -EINVAL. */
int journal_serialize(const struct iovec *iov, size_t n, uint8_t *buf, size_t size);
