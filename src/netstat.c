/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "netstat.h"

static const char *const counter_names[_NETSTAT_COUNTER_MAX] = {
        [NETSTAT_LISTEN_OVERFLOWS] = "ListenOverflows",
        [NETSTAT_LISTEN_DROPS] = "ListenDrops",
        [NETSTAT_TCP_REQQ_FULL_DROP] = "TCPReqQFullDrop",
        [NETSTAT_TCP_REQQ_FULL_DO_COOKIES] = "TCPReqQFullDoCookies",
        [NETSTAT_SYNCOOKIES_SENT] = "SyncookiesSent",
        [NETSTAT_SYNCOOKIES_RECV] = "SyncookiesRecv",
        [NETSTAT_SYNCOOKIES_FAILED] = "SyncookiesFailed",
        [NETSTAT_TCP_DEFER_ACCEPT_DROP] = "TCPDeferAcceptDrop",
        [NETSTAT_TCP_MIGRATE_REQ_SUCCESS] = "TCPMigrateReqSuccess",
        [NETSTAT_TCP_MIGRATE_REQ_FAILURE] = "TCPMigrateReqFailure",
};

static const char *const sysctl_names[_SYSCTL_MAX] = {
        [SYSCTL_SOMAXCONN] = "net.core.somaxconn",
        [SYSCTL_TCP_MAX_SYN_BACKLOG] = "net.ipv4.tcp_max_syn_backlog",
        [SYSCTL_TCP_SYNCOOKIES] = "net.ipv4.tcp_syncookies",
        [SYSCTL_TCP_ABORT_ON_OVERFLOW] = "net.ipv4.tcp_abort_on_overflow",
        [SYSCTL_TCP_SYNACK_RETRIES] = "net.ipv4.tcp_synack_retries",
};

/* The same sysctls as paths below <proc_root>/sys/. */
static const char *const sysctl_paths[_SYSCTL_MAX] = {
        [SYSCTL_SOMAXCONN] = "net/core/somaxconn",
        [SYSCTL_TCP_MAX_SYN_BACKLOG] = "net/ipv4/tcp_max_syn_backlog",
        [SYSCTL_TCP_SYNCOOKIES] = "net/ipv4/tcp_syncookies",
        [SYSCTL_TCP_ABORT_ON_OVERFLOW] = "net/ipv4/tcp_abort_on_overflow",
        [SYSCTL_TCP_SYNACK_RETRIES] = "net/ipv4/tcp_synack_retries",
};

const char *netstat_counter_name(NetstatCounter c) {
        if ((unsigned) c >= _NETSTAT_COUNTER_MAX)
                return NULL;
        return counter_names[c];
}

const char *netstat_sysctl_name(NetstatSysctl s) {
        if ((unsigned) s >= _SYSCTL_MAX)
                return NULL;
        return sysctl_names[s];
}

static int counter_from_name(const char *name) {
        for (int i = 0; i < _NETSTAT_COUNTER_MAX; i++)
                if (strcmp(counter_names[i], name) == 0)
                        return i;
        return -1;
}

#define SEPARATORS " \t"

/* A names line waiting for its values line. The name pointers point into
 * line; counter[i] is the NetstatCounter of name i, or -1. */
typedef struct Section {
        char *line;
        const char *prefix;
        char **names;
        int *counter;
        size_t n_names, allocated;
        unsigned line_no;
} Section;

static void section_clear(Section *s) {
        free(s->line);
        free(s->names);
        free(s->counter);
        *s = (Section) { 0 };
}

/* Splits "Prefix: rest" in place: returns the prefix and points *rest past
 * the colon, or returns NULL if the line does not start with a prefix. */
static char *split_prefix(char *line, char **rest) {
        size_t n = strcspn(line, ":" SEPARATORS);

        if (n == 0 || line[n] != ':')
                return NULL;
        if (line[n + 1] != '\0' && !strchr(SEPARATORS, line[n + 1]))
                return NULL;
        line[n] = '\0';
        *rest = line + n + 1;
        return line;
}

static int section_add_name(Section *s, char *name, bool tcpext, ErrBuf *err) {
        int c = -1;

        if (name[0] >= '0' && name[0] <= '9')
                return errbuf_set(err, -EBADMSG, "line %u: %s: '%.40s' is not a counter name",
                                  s->line_no, s->prefix, name);
        if (tcpext) {
                c = counter_from_name(name);
                for (size_t i = 0; c >= 0 && i < s->n_names; i++)
                        if (s->counter[i] == c)
                                return errbuf_set(err, -EBADMSG, "line %u: %s: duplicate name '%s'",
                                                  s->line_no, s->prefix, name);
        }
        if (s->n_names == s->allocated) {
                size_t a = s->allocated ? s->allocated * 2 : 64;
                char **names = realloc(s->names, a * sizeof(*names));

                if (!names)
                        return errbuf_set(err, -ENOMEM, "out of memory");
                s->names = names;
                int *counter = realloc(s->counter, a * sizeof(*counter));
                if (!counter)
                        return errbuf_set(err, -ENOMEM, "out of memory");
                s->counter = counter;
                s->allocated = a;
        }
        s->names[s->n_names] = name;
        s->counter[s->n_names] = c;
        s->n_names++;
        return 0;
}

/* Takes ownership of line (a names line whose prefix is already split off). */
static int section_start(Section *s, char *line, const char *prefix, char *rest, unsigned line_no,
                         ErrBuf *err) {
        bool tcpext = strcmp(prefix, "TcpExt") == 0;
        char *save = NULL;
        int r;

        s->line = line;
        s->prefix = prefix;
        s->line_no = line_no;
        for (char *t = strtok_r(rest, SEPARATORS, &save); t; t = strtok_r(NULL, SEPARATORS, &save)) {
                r = section_add_name(s, t, tcpext, err);
                if (r < 0)
                        return r;
        }
        if (s->n_names == 0)
                return errbuf_set(err, -EBADMSG, "line %u: %s: no names", line_no, prefix);
        return 0;
}

/* Matches a values line against the pending names; fills c for TcpExt. */
static int section_finish(const Section *s, const char *prefix, char *rest, unsigned line_no,
                          NetstatCounters *c, ErrBuf *err) {
        char *save = NULL, *t;
        size_t n = 0;

        if (strcmp(prefix, s->prefix) != 0)
                return errbuf_set(err, -EBADMSG,
                                  "line %u: expected %s values after the names on line %u, got %.40s",
                                  line_no, s->prefix, s->line_no, prefix);
        for (t = strtok_r(rest, SEPARATORS, &save); t; t = strtok_r(NULL, SEPARATORS, &save), n++) {
                uint64_t v;
                int r;

                if (n >= s->n_names)
                        continue; /* counted for the error below */
                r = parse_u64(t, &v);
                if (r == -ERANGE)
                        return errbuf_set(err, -EBADMSG, "line %u: %s: %.40s: value '%.40s' overflows 64 bits",
                                          line_no, prefix, s->names[n], t);
                if (r < 0)
                        return errbuf_set(err, -EBADMSG, "line %u: %s: %.40s: invalid value '%.40s'",
                                          line_no, prefix, s->names[n], t);
                if (s->counter[n] >= 0) {
                        c->value[s->counter[n]] = v;
                        c->present[s->counter[n]] = true;
                }
        }
        if (n != s->n_names)
                return errbuf_set(err, -EBADMSG, "line %u: %s: %zu names but %zu values",
                                  line_no, prefix, s->n_names, n);
        return 0;
}

int netstat_parse(FILE *f, NetstatCounters *ret, ErrBuf *err) {
        _cleanup_(freep) char *line = NULL;
        _cleanup_(section_clear) Section pending = { 0 };
        NetstatCounters c = { 0 };
        unsigned line_no = 0, tcpext_line = 0;
        size_t allocated = 0;
        int r;

        for (;;) {
                char *prefix, *rest;
                ssize_t n;

                errno = 0;
                n = getline(&line, &allocated, f);
                if (n < 0) {
                        int e = errno > 0 ? errno : EIO;

                        if (ferror(f) || !feof(f))
                                return errbuf_set(err, -e, "line %u: read error: %s", line_no + 1, strerror(e));
                        break;
                }
                if (line_no == UINT_MAX)
                        return errbuf_set(err, -EBADMSG, "too many lines");
                line_no++;

                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if ((size_t) n != strlen(line))
                        return errbuf_set(err, -EBADMSG, "line %u: NUL byte in line", line_no);
                if (n == 0)
                        return errbuf_set(err, -EBADMSG, "line %u: empty line", line_no);
                prefix = split_prefix(line, &rest);
                if (!prefix)
                        return errbuf_set(err, -EBADMSG, "line %u: no 'Prefix:' at start of line", line_no);

                if (!pending.line) {
                        if (strcmp(prefix, "TcpExt") == 0) {
                                if (tcpext_line > 0)
                                        return errbuf_set(err, -EBADMSG,
                                                          "line %u: second TcpExt section (first on line %u)",
                                                          line_no, tcpext_line);
                                tcpext_line = line_no;
                        }
                        /* The section owns the line buffer now; getline() allocates a new one. */
                        r = section_start(&pending, line, prefix, rest, line_no, err);
                        line = NULL;
                        allocated = 0;
                        if (r < 0)
                                return r;
                        continue;
                }

                r = section_finish(&pending, prefix, rest, line_no, &c, err);
                if (r < 0)
                        return r;
                section_clear(&pending);
        }

        if (pending.line)
                return errbuf_set(err, -EBADMSG, "line %u: %s: names without a values line",
                                  pending.line_no, pending.prefix);
        if (tcpext_line == 0)
                return errbuf_set(err, -ENODATA, "no TcpExt section");
        *ret = c;
        return 0;
}

int netstat_read(const char *proc_root, NetstatCounters *ret, ErrBuf *err) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        ErrBuf e = { 0 };
        int r;

        if (asprintf(&path, "%s/net/netstat", proc_root) < 0)
                return errbuf_set(err, -ENOMEM, "out of memory");
        f = fopen(path, "re");
        if (!f)
                return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
        r = netstat_parse(f, ret, &e);
        if (r < 0)
                return errbuf_set(err, r, "%s: %s", path, e.text);
        return 0;
}

/* A sysctl file holds one decimal integer and a newline. */
static int read_sysctl(const char *path, int64_t *ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        char buf[64];
        uint64_t u;
        size_t n;
        bool negative;
        int r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        n = fread(buf, 1, sizeof(buf), f);
        if (ferror(f))
                return -EIO;
        if (n == sizeof(buf))
                return -EINVAL; /* longer than any integer */
        while (n > 0 && strchr("\n \t", buf[n - 1]))
                n--;
        buf[n] = '\0';
        if (strlen(buf) != n)
                return -EINVAL;
        negative = buf[0] == '-';
        r = parse_u64(buf + negative, &u);
        if (r < 0)
                return r;
        if (negative ? u > (uint64_t) INT64_MAX + 1 : u > INT64_MAX)
                return -ERANGE;
        *ret = negative ? (int64_t) (0 - u) : (int64_t) u;
        return 0;
}

void netstat_read_sysctls(const char *proc_root, NetstatSysctls *ret) {
        NetstatSysctls s = { 0 };

        for (int i = 0; i < _SYSCTL_MAX; i++) {
                _cleanup_(freep) char *path = NULL;

                if (asprintf(&path, "%s/sys/%s", proc_root, sysctl_paths[i]) < 0)
                        continue;
                s.present[i] = read_sysctl(path, &s.value[i]) >= 0;
        }
        *ret = s;
}
