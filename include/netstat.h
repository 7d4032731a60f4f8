/* SPDX-License-Identifier: MIT */
#pragma once

/* Host listen counters from <proc>/net/netstat, parsed by name, and the
 * sysctls that explain them. Readers take a proc root ("/proc", or
 * "/proc/<pid>" for another network namespace, or a fixture directory) or an
 * open FILE, never a hard-coded path. Nothing here logs. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

typedef enum NetstatCounter {
        NETSTAT_LISTEN_OVERFLOWS,
        NETSTAT_LISTEN_DROPS,
        NETSTAT_TCP_REQQ_FULL_DROP,
        NETSTAT_TCP_REQQ_FULL_DO_COOKIES,
        NETSTAT_SYNCOOKIES_SENT,
        NETSTAT_SYNCOOKIES_RECV,
        NETSTAT_SYNCOOKIES_FAILED,
        NETSTAT_TCP_DEFER_ACCEPT_DROP,
        NETSTAT_TCP_MIGRATE_REQ_SUCCESS,
        NETSTAT_TCP_MIGRATE_REQ_FAILURE,
        _NETSTAT_COUNTER_MAX,
} NetstatCounter;

typedef struct NetstatCounters {
        uint64_t value[_NETSTAT_COUNTER_MAX];
        bool present[_NETSTAT_COUNTER_MAX]; /* older kernels lack some */
} NetstatCounters;

typedef enum NetstatSysctl {
        SYSCTL_SOMAXCONN,             /* net.core.somaxconn */
        SYSCTL_TCP_MAX_SYN_BACKLOG,   /* net.ipv4.tcp_max_syn_backlog */
        SYSCTL_TCP_SYNCOOKIES,        /* net.ipv4.tcp_syncookies */
        SYSCTL_TCP_ABORT_ON_OVERFLOW, /* net.ipv4.tcp_abort_on_overflow */
        SYSCTL_TCP_SYNACK_RETRIES,    /* net.ipv4.tcp_synack_retries */
        _SYSCTL_MAX,
} NetstatSysctl;

typedef struct NetstatSysctls {
        int64_t value[_SYSCTL_MAX];
        bool present[_SYSCTL_MAX];
} NetstatSysctls;

/* Kernel name of a counter ("ListenOverflows"), as in TcpExt. */
const char *netstat_counter_name(NetstatCounter c);
/* Dotted sysctl name ("net.core.somaxconn"). */
const char *netstat_sysctl_name(NetstatSysctl s);

/* Parses the text of /proc/net/netstat: len bytes at text, which need not
 * be NUL-terminated and are not modified. Allocates nothing. Succeeds only
 * if a well-formed TcpExt section is present; counters it does not list are
 * marked absent. Any malformed section (name/value count mismatch, a values
 * line that does not follow its names line, a non-numeric or overflowing
 * value, a truncated line, a NUL byte) fails with -EBADMSG and a reason
 * naming the line. Missing TcpExt: -ENODATA. ret is written only on
 * success. */
int netstat_parse_text(const char *text, size_t len, NetstatCounters *ret, ErrBuf *err);

/* Reads f to its end (into a heap buffer: for tests and --once) and parses
 * it as netstat_parse_text(). A read error: -errno, "line N: read error: …";
 * more than NETSTAT_SIZE_MAX bytes: -EFBIG. */
int netstat_parse(FILE *f, NetstatCounters *ret, ErrBuf *err);

/* Parses the text of /proc/net/snmp (len bytes at text, as
 * netstat_parse_text()) for its Tcp PassiveOpens. The Tcp names line and
 * its values line must hold as many fields, each value an integer (MaxConn
 * is -1); -EBADMSG with a reason naming the line, -ENODATA without a Tcp
 * section or without PassiveOpens in it. The other sections are skipped
 * unread. *ret is written only on success. */
int netstat_parse_snmp_text(const char *text, size_t len, uint64_t *ret, ErrBuf *err);

/* Reads <proc_root>/net/netstat once (a reader made and freed): -errno of
 * open/read, or as netstat_parse(); the reason starts with the path. */
int netstat_read(const char *proc_root, NetstatCounters *ret, ErrBuf *err);

#define NETSTAT_SIZE_MAX ((size_t) 16 << 20)

/* A reader for polling: it keeps <proc_root>/net/netstat (and, opened with
 * it, net/snmp) open and re-reads them from offset 0 with pread(), which
 * makes the kernel's seq_file generate fresh values, into a buffer it owns.
 * The buffer grows only when a file got bigger, so a steady-state read
 * makes no heap allocation (one pread() per file, no open/close).
 *
 * Any failure (open, read, parse, growth) closes the file, and the next read
 * opens the path again: a file that was unreadable for a while, or a proc
 * root whose contents were swapped, is picked up then. A file replaced by
 * rename() while reads keep succeeding is NOT noticed: the reader goes on
 * reading the old inode (harmless for /proc, where files are never
 * replaced). */
typedef struct NetstatReader NetstatReader;

/* Copies proc_root and allocates the buffer; does not open the file yet.
 * -ENOMEM only. */
int netstat_reader_new(const char *proc_root, NetstatReader **ret);
NetstatReader *netstat_reader_free(NetstatReader *r);
static inline void netstat_reader_freep(NetstatReader **r) {
        netstat_reader_free(*r);
}

/* Opens the file now unless it is open: a reader for another network
 * namespace is opened while the caller is inside it (/proc/net follows the
 * opening task's namespace, and the open file keeps it). -errno with
 * "PATH: strerror". A failed read closes the file, so the caller checks
 * netstat_reader_is_open() and reopens from inside the namespace first;
 * a read of a closed reader opens it wherever the caller is. */
int netstat_reader_open(NetstatReader *r, ErrBuf *err);
bool netstat_reader_is_open(const NetstatReader *r);

/* As netstat_read(): "PATH: strerror" when open fails, "PATH: line N: read
 * error: strerror" when a read fails, "PATH: <parse reason>" otherwise. */
int netstat_reader_read(NetstatReader *r, NetstatCounters *ret, ErrBuf *err);

/* Tcp PassiveOpens of <proc_root>/net/snmp, which counts every connection
 * that enters an accept queue (the kernel makes its socket then, in
 * tcp_create_openreq_child()). The file is opened only with net/netstat
 * (netstat_reader_open(): from inside another namespace), never alone:
 * -ENOTCONN until then, and when it could not be opened (a tree without
 * it). A failed read or parse closes both files, so that the next
 * netstat_reader_read() opens them again; -errno with "PATH: reason". */
int netstat_reader_read_passive_opens(NetstatReader *r, uint64_t *ret, ErrBuf *err);

/* Reads the sysctls under <proc_root>/sys/. A file that is missing or
 * unreadable leaves that entry absent; never fails. */
void netstat_read_sysctls(const char *proc_root, NetstatSysctls *ret);
