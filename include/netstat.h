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

/* Parses the text of /proc/net/netstat. Succeeds only if a well-formed
 * TcpExt section is present; counters it does not list are marked absent.
 * Any malformed section (name/value count mismatch, a values line that
 * does not follow its names line, a non-numeric or overflowing value, a
 * truncated line) fails with -EBADMSG and a reason naming the line.
 * Missing TcpExt: -ENODATA. ret is written only on success. */
int netstat_parse(FILE *f, NetstatCounters *ret, ErrBuf *err);

/* Reads <proc_root>/net/netstat. -errno of open/read, or as netstat_parse. */
int netstat_read(const char *proc_root, NetstatCounters *ret, ErrBuf *err);

/* Reads the sysctls under <proc_root>/sys/. A file that is missing or
 * unreadable leaves that entry absent; never fails. */
void netstat_read_sysctls(const char *proc_root, NetstatSysctls *ret);
