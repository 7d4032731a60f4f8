/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A run of bytes inside the text being parsed; never NUL-terminated. */
typedef struct Span {
        const char *p;
        size_t n;
} Span;

/* printf arguments for "%.*s": at most max bytes of a span. */
#define SPAN_ARG(s, max) (int) ((s).n < (max) ? (s).n : (max)), (s).p
/* Longer than any ErrBuf, so "%.*s" with it truncates no differently from "%s". */
#define SPAN_ALL sizeof(ErrBuf)

static bool span_eq(Span s, const char *str) {
        return s.n == strlen(str) && memcmp(s.p, str, s.n) == 0;
}

static bool is_separator(char c) {
        return c == ' ' || c == '\t';
}

/* Takes the next blank-separated token off *rest; false at its end. */
static bool next_token(Span *rest, Span *ret) {
        const char *p = rest->p, *end = p + rest->n, *t;

        while (p < end && is_separator(*p))
                p++;
        for (t = p; t < end && !is_separator(*t); t++)
                ;
        *ret = (Span){ p, (size_t) (t - p) };
        *rest = (Span){ t, (size_t) (end - t) };
        return t > p;
}

static int counter_from_name(Span name) {
        for (int i = 0; i < _NETSTAT_COUNTER_MAX; i++)
                if (name.p[0] == counter_names[i][0] && span_eq(name, counter_names[i]))
                        return i;
        return -1;
}

/* parse_u64() on a span: -EINVAL unless all digits, -ERANGE on overflow. */
static int span_to_u64(Span s, uint64_t *ret) {
        uint64_t v = 0;

        if (s.n == 0)
                return -EINVAL;
        for (size_t i = 0; i < s.n; i++)
                if (s.p[i] < '0' || s.p[i] > '9')
                        return -EINVAL;
        for (size_t i = 0; i < s.n; i++) {
                unsigned d = (unsigned) (s.p[i] - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/* Splits "Prefix: rest": false if the line does not start with a prefix. */
static bool split_prefix(Span line, Span *ret_prefix, Span *ret_rest) {
        size_t n = 0;

        while (n < line.n && line.p[n] != ':' && !is_separator(line.p[n]))
                n++;
        if (n == 0 || n == line.n || line.p[n] != ':')
                return false;
        if (n + 1 < line.n && !is_separator(line.p[n + 1]))
                return false;
        *ret_prefix = (Span){ line.p, n };
        *ret_rest = (Span){ line.p + n + 1, line.n - n - 1 };
        return true;
}

/* A names line waiting for its values line. For TcpExt, pos[c] is 1 + the
 * index of counter c among the names, or 0. */
typedef struct Section {
        Span prefix, names;
        size_t n_names;
        size_t pos[_NETSTAT_COUNTER_MAX];
        unsigned line_no;
        bool tcpext;
} Section;

static int section_start(Section *s, Span prefix, Span rest, unsigned line_no, ErrBuf *err) {
        Span t;

        *s = (Section){ .prefix = prefix, .names = rest, .line_no = line_no, .tcpext = span_eq(prefix, "TcpExt") };
        while (next_token(&rest, &t)) {
                int c;

                if (t.p[0] >= '0' && t.p[0] <= '9')
                        return errbuf_set(err, -EBADMSG, "line %u: %.*s: '%.*s' is not a counter name", line_no,
                                          SPAN_ARG(prefix, SPAN_ALL), SPAN_ARG(t, 40));
                s->n_names++;
                c = s->tcpext ? counter_from_name(t) : -1;
                if (c < 0)
                        continue;
                if (s->pos[c] > 0)
                        return errbuf_set(err, -EBADMSG, "line %u: %.*s: duplicate name '%.*s'", line_no,
                                          SPAN_ARG(prefix, SPAN_ALL), SPAN_ARG(t, SPAN_ALL));
                s->pos[c] = s->n_names;
        }
        if (s->n_names == 0)
                return errbuf_set(err, -EBADMSG, "line %u: %.*s: no names", line_no, SPAN_ARG(prefix, SPAN_ALL));
        return 0;
}

/* Name number n (from 0) of a section, for error messages. */
static Span section_name(const Section *s, size_t n) {
        Span names = s->names, name = { 0 };

        for (size_t i = 0; i <= n; i++)
                next_token(&names, &name);
        return name;
}

/* Matches a values line against the pending names; fills c for TcpExt. */
static int section_finish(const Section *s, Span prefix, Span rest, unsigned line_no, NetstatCounters *c,
                          ErrBuf *err) {
        Span t;
        size_t n;

        if (prefix.n != s->prefix.n || memcmp(prefix.p, s->prefix.p, prefix.n) != 0)
                return errbuf_set(err, -EBADMSG, "line %u: expected %.*s values after the names on line %u, got %.*s",
                                  line_no, SPAN_ARG(s->prefix, SPAN_ALL), s->line_no, SPAN_ARG(prefix, 40));
        for (n = 0; next_token(&rest, &t); n++) {
                uint64_t v;
                int r;

                if (n >= s->n_names)
                        continue; /* counted for the error below */
                r = span_to_u64(t, &v);
                if (r == -ERANGE)
                        return errbuf_set(err, -EBADMSG, "line %u: %.*s: %.*s: value '%.*s' overflows 64 bits",
                                          line_no, SPAN_ARG(prefix, SPAN_ALL), SPAN_ARG(section_name(s, n), 40),
                                          SPAN_ARG(t, 40));
                if (r < 0)
                        return errbuf_set(err, -EBADMSG, "line %u: %.*s: %.*s: invalid value '%.*s'", line_no,
                                          SPAN_ARG(prefix, SPAN_ALL), SPAN_ARG(section_name(s, n), 40),
                                          SPAN_ARG(t, 40));
                for (int i = 0; s->tcpext && i < _NETSTAT_COUNTER_MAX; i++)
                        if (s->pos[i] == n + 1) {
                                c->value[i] = v;
                                c->present[i] = true;
                        }
        }
        if (n != s->n_names)
                return errbuf_set(err, -EBADMSG, "line %u: %.*s: %zu names but %zu values", line_no,
                                  SPAN_ARG(prefix, SPAN_ALL), s->n_names, n);
        return 0;
}

int netstat_parse_text(const char *text, size_t len, NetstatCounters *ret, ErrBuf *err) {
        const char *p = text, *end = text + len;
        NetstatCounters c = { 0 };
        Section pending = { 0 }; /* pending.line_no > 0: names await values */
        unsigned line_no = 0, tcpext_line = 0;
        int r;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                Span line = { p, (size_t) ((nl ? nl : end) - p) }, prefix, rest;

                p = nl ? nl + 1 : end;
                if (line_no == UINT_MAX)
                        return errbuf_set(err, -EBADMSG, "too many lines");
                line_no++;

                if (memchr(line.p, '\0', line.n))
                        return errbuf_set(err, -EBADMSG, "line %u: NUL byte in line", line_no);
                if (line.n == 0)
                        return errbuf_set(err, -EBADMSG, "line %u: empty line", line_no);
                if (!split_prefix(line, &prefix, &rest))
                        return errbuf_set(err, -EBADMSG, "line %u: no 'Prefix:' at start of line", line_no);

                if (pending.line_no == 0) {
                        if (span_eq(prefix, "TcpExt")) {
                                if (tcpext_line > 0)
                                        return errbuf_set(err, -EBADMSG,
                                                          "line %u: second TcpExt section (first on line %u)", line_no,
                                                          tcpext_line);
                                tcpext_line = line_no;
                        }
                        r = section_start(&pending, prefix, rest, line_no, err);
                        if (r < 0)
                                return r;
                        continue;
                }

                r = section_finish(&pending, prefix, rest, line_no, &c, err);
                if (r < 0)
                        return r;
                pending.line_no = 0;
        }

        if (pending.line_no > 0)
                return errbuf_set(err, -EBADMSG, "line %u: %.*s: names without a values line", pending.line_no,
                                  SPAN_ARG(pending.prefix, SPAN_ALL));
        if (tcpext_line == 0)
                return errbuf_set(err, -ENODATA, "no TcpExt section");
        *ret = c;
        return 0;
}

/* An integer field of /proc/net/snmp: digits, after a '-' for the signed
 * ones (Tcp MaxConn is -1). */
static bool span_is_integer(Span t) {
        size_t i = t.n > 1 && t.p[0] == '-' ? 1 : 0;

        if (i == t.n)
                return false;
        for (; i < t.n; i++)
                if (t.p[i] < '0' || t.p[i] > '9')
                        return false;
        return true;
}

int netstat_parse_snmp_text(const char *text, size_t len, uint64_t *ret, ErrBuf *err) {
        const char *p = text, *end = text + len;
        Span prefix, rest, t;
        unsigned line_no = 0, names_line = 0;
        size_t n_names = 0, pos = 0, n;
        uint64_t v = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                Span line = { p, (size_t) ((nl ? nl : end) - p) };

                p = nl ? nl + 1 : end;
                line_no++;
                if (memchr(line.p, '\0', line.n))
                        return errbuf_set(err, -EBADMSG, "line %u: NUL byte in line", line_no);
                if (!split_prefix(line, &prefix, &rest) || !span_eq(prefix, "Tcp"))
                        continue;
                if (names_line == 0) {
                        names_line = line_no;
                        for (n_names = 0; next_token(&rest, &t);) {
                                n_names++;
                                if (span_eq(t, "PassiveOpens"))
                                        pos = n_names;
                        }
                        continue;
                }
                for (n = 0; next_token(&rest, &t); n++) {
                        if (!span_is_integer(t))
                                return errbuf_set(err, -EBADMSG, "line %u: Tcp: invalid value '%.*s'", line_no,
                                                  SPAN_ARG(t, 40));
                        if (n + 1 == pos) {
                                int r = span_to_u64(t, &v);

                                if (r < 0)
                                        return errbuf_set(err, -EBADMSG, "line %u: Tcp: PassiveOpens: %s '%.*s'",
                                                          line_no,
                                                          r == -ERANGE ? "value overflows 64 bits" : "invalid value",
                                                          SPAN_ARG(t, 40));
                        }
                }
                if (n != n_names)
                        return errbuf_set(err, -EBADMSG, "line %u: Tcp: %zu names (line %u) but %zu values", line_no,
                                          n_names, names_line, n);
                if (pos == 0)
                        return errbuf_set(err, -ENODATA, "line %u: Tcp: no PassiveOpens", names_line);
                *ret = v;
                return 0;
        }
        if (names_line > 0)
                return errbuf_set(err, -EBADMSG, "line %u: Tcp: names without a values line", names_line);
        return errbuf_set(err, -ENODATA, "no Tcp section");
}

/* The line a read error happened in, as a line-by-line reader would say. */
static unsigned error_line(const char *buf, size_t size) {
        unsigned n = 1;

        for (const char *p = buf; (p = memchr(p, '\n', size - (size_t) (p - buf))); p++)
                n++;
        return n;
}

/* Doubles a read buffer (the first one is 8 KiB, twice a 6.x netstat). */
static int buffer_grow(char **buf, size_t *allocated, ErrBuf *err) {
        size_t a = *allocated ? *allocated * 2 : 8192;
        char *b;

        if (*allocated >= NETSTAT_SIZE_MAX)
                return errbuf_set(err, -EFBIG, "more than %zu bytes", NETSTAT_SIZE_MAX);
        b = realloc(*buf, a);
        if (!b)
                return errbuf_set(err, -ENOMEM, "out of memory");
        *buf = b;
        *allocated = a;
        return 0;
}

int netstat_parse(FILE *f, NetstatCounters *ret, ErrBuf *err) {
        _cleanup_(freep) char *buf = NULL;
        size_t allocated = 0, size = 0;
        int r;

        for (;;) {
                size_t n;

                if (size == allocated) {
                        r = buffer_grow(&buf, &allocated, err);
                        if (r < 0)
                                return r;
                }
                errno = 0;
                n = fread(buf + size, 1, allocated - size, f);
                size += n;
                if (size < allocated) {
                        int e = errno > 0 ? errno : EIO;

                        if (ferror(f) || !feof(f))
                                return errbuf_set(err, -e, "line %u: read error: %s", error_line(buf, size),
                                                  strerror(e));
                        break;
                }
        }
        return netstat_parse_text(buf, size, ret, err);
}

struct NetstatReader {
        char *path, *snmp_path;
        int fd;      /* -1 until opened and after any failure */
        int snmp_fd; /* opened with fd only (from inside the namespace); -1 after a failure */
        char *buf;
        size_t allocated;
};

int netstat_reader_new(const char *proc_root, NetstatReader **ret) {
        NetstatReader *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        r->fd = r->snmp_fd = -1;
        if (asprintf(&r->path, "%s/net/netstat", proc_root) < 0) {
                r->path = NULL;
                netstat_reader_free(r);
                return -ENOMEM;
        }
        if (asprintf(&r->snmp_path, "%s/net/snmp", proc_root) < 0) {
                r->snmp_path = NULL;
                netstat_reader_free(r);
                return -ENOMEM;
        }
        if (buffer_grow(&r->buf, &r->allocated, NULL) < 0) {
                netstat_reader_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

NetstatReader *netstat_reader_free(NetstatReader *r) {
        if (!r)
                return NULL;
        if (r->fd >= 0)
                close(r->fd);
        if (r->snmp_fd >= 0)
                close(r->snmp_fd);
        free(r->buf);
        free(r->path);
        free(r->snmp_path);
        free(r);
        return NULL;
}

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static int reader_fail(NetstatReader *r, const char *path, int e, ErrBuf *err, const ErrBuf *reason) {
        close_fd(&r->fd);
        close_fd(&r->snmp_fd);
        return errbuf_set(err, e, "%s: %s", path, reason->text);
}

/* The snmp file is opened with the netstat one, never alone: a reader of
 * another namespace is opened from inside it, and a later open from
 * outside would read the caller's own counters. */
int netstat_reader_open(NetstatReader *r, ErrBuf *err) {
        if (r->fd >= 0)
                return 0;
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0)
                return errbuf_set(err, -errno, "%s: %s", r->path, strerror(errno));
        close_fd(&r->snmp_fd);
        r->snmp_fd = open(r->snmp_path, O_RDONLY | O_CLOEXEC);
        return 0;
}

bool netstat_reader_is_open(const NetstatReader *r) {
        return r->fd >= 0;
}

/* Reads the whole of fd into r->buf from offset 0: its size, or -errno
 * with the reason in e. */
static ssize_t read_whole(NetstatReader *r, int fd, ErrBuf *e) {
        size_t size = 0;
        int k;

        /* seq_file regenerates the text on a read at offset 0; the reads
         * that follow continue that same snapshot. The file is one
         * seq_file record (single_open), which seq_file grows its buffer
         * to hold whole: a read that does not fill ours got the rest of
         * it, so the read that would only see end of file is not made,
         * and a poll costs one read, not two. */
        for (;;) {
                size_t want;
                ssize_t n;

                if (size == r->allocated) {
                        k = buffer_grow(&r->buf, &r->allocated, e);
                        if (k < 0)
                                return k;
                }
                want = r->allocated - size;
                n = pread(fd, r->buf + size, want, (off_t) size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        k = -errno;
                        return errbuf_set(e, k, "line %u: read error: %s", error_line(r->buf, size), strerror(-k));
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if ((size_t) n < want)
                        break;
        }
        return (ssize_t) size;
}

int netstat_reader_read(NetstatReader *r, NetstatCounters *ret, ErrBuf *err) {
        ErrBuf e = { "" };
        ssize_t size;
        int k;

        k = netstat_reader_open(r, err);
        if (k < 0)
                return k;
        size = read_whole(r, r->fd, &e);
        if (size < 0)
                return reader_fail(r, r->path, (int) size, err, &e);
        k = netstat_parse_text(r->buf, (size_t) size, ret, &e);
        if (k < 0)
                return reader_fail(r, r->path, k, err, &e);
        return 0;
}

int netstat_reader_read_passive_opens(NetstatReader *r, uint64_t *ret, ErrBuf *err) {
        ErrBuf e = { "" };
        ssize_t size;
        int k;

        if (r->fd < 0 || r->snmp_fd < 0)
                return errbuf_set(err, -ENOTCONN, "%s: %s", r->snmp_path,
                                  r->fd < 0 ? "not opened yet" : "could not be opened");
        size = read_whole(r, r->snmp_fd, &e);
        if (size < 0)
                return reader_fail(r, r->snmp_path, (int) size, err, &e);
        k = netstat_parse_snmp_text(r->buf, (size_t) size, ret, &e);
        if (k < 0)
                return reader_fail(r, r->snmp_path, k, err, &e);
        return 0;
}

int netstat_read(const char *proc_root, NetstatCounters *ret, ErrBuf *err) {
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;

        if (netstat_reader_new(proc_root, &r) < 0)
                return errbuf_set(err, -ENOMEM, "out of memory");
        return netstat_reader_read(r, ret, err);
}

/* A sysctl file holds one decimal integer and a newline. */
/* open/read/close into a stack buffer: the daemon re-reads these while it
 * runs, and its steady state allocates nothing. */
static int read_sysctl(const char *path, int64_t *ret) {
        _cleanup_(closep) int fd = -EBADF;
        char buf[64];
        uint64_t u;
        ssize_t got;
        size_t n;
        bool negative;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        got = read(fd, buf, sizeof(buf));
        if (got < 0)
                return -errno;
        n = (size_t) got;
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
                char path[PATH_MAX];
                int n = snprintf(path, sizeof(path), "%s/sys/%s", proc_root, sysctl_paths[i]);

                if (n < 0 || (size_t) n >= sizeof(path))
                        continue;
                s.present[i] = read_sysctl(path, &s.value[i]) >= 0;
        }
        *ret = s;
}
