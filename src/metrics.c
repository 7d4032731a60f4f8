/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "prom.h"

enum {
        FAM_INET,
        FAM_INET6,
        FAM_UNIX,
};

enum {
        REC_HAS_DROPS = 1 << 0,
        REC_HAS_SYN = 1 << 1,
};

/* One listener, 104 bytes on x86-64. The label text is rendered once per
 * commit, with the first family, into the output buffer; the other families
 * copy it from there (label_off/label_len). */
typedef struct Record {
        const char *netns;
        const char *name;
        const char *unit;
        uint64_t depth;
        uint64_t backlog;
        uint64_t drops;
        uint64_t sock_netns; /* Listener.netns and .cookie: which socket it is */
        uint64_t cookie;
        uint8_t addr[16]; /* network byte order, zero-padded for IPv4 */
        uint32_t syn_depth;
        uint32_t path_off; /* FAM_UNIX: offset of the NUL-terminated path in paths */
        uint32_t label_off;
        uint32_t label_len;
        uint32_t seq; /* order of the metrics_add_listener() calls of this poll */
        uint16_t port;
        uint8_t family;
        uint8_t flags;
} Record;

/* The size metrics.h states; a new field should not grow it unnoticed. */
_Static_assert(sizeof(void *) != 8 || sizeof(Record) == 104, "Record is not 104 bytes: update metrics.h");

typedef struct NsCounters {
        const char *netns;
        NetstatCounters c;
} NsCounters;

struct MetricsWriter {
        char *path;
        char *dir;      /* where the temporary files are made */
        char *tmp_path; /* buffer for a temporary name, tmp_size bytes */
        size_t tmp_size;
        uint64_t tmp_seq; /* varies names when getrandom() has nothing */

        Record *recs;
        size_t n_recs;
        size_t cap_recs;
        bool prepared; /* recs sorted and merged since the last add */

        char *paths; /* UNIX paths, NUL-terminated, back to back */
        size_t n_paths;
        size_t cap_paths;

        NsCounters *counters; /* sorted by netns */
        size_t n_counters;
        size_t cap_counters;

        PromBuf out;
};

static const char *str_or_empty(const char *s) {
        return s ? s : "";
}

MetricsWriter *metrics_writer_free(MetricsWriter *m) {
        if (!m)
                return NULL;
        free(m->path);
        free(m->dir);
        free(m->tmp_path);
        free(m->recs);
        free(m->paths);
        free(m->counters);
        prom_buf_done(&m->out);
        free(m);
        return NULL;
}

/* ".<name>." + 16 hex digits + ".tmp" in the directory of the target. */
#define TMP_EXTRA (2 + 16 + 4)

int metrics_writer_new(const char *path, MetricsWriter **ret, ErrBuf *err) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        const char *slash, *base;
        size_t len;

        if (!path || !*path)
                return errbuf_set(err, -EINVAL, "metrics file: empty path");
        if (path[0] != '/')
                return errbuf_set(err, -EINVAL, "%s: not an absolute path", path);
        len = strlen(path);
        slash = strrchr(path, '/');
        base = slash + 1;
        if (len + TMP_EXTRA >= PATH_MAX || strlen(base) + TMP_EXTRA > NAME_MAX)
                return errbuf_set(err, -ENAMETOOLONG, "%s: path too long", path);
        if (strlen(base) <= strlen(".prom") || strcmp(base + strlen(base) - strlen(".prom"), ".prom") != 0)
                return errbuf_set(
                        err, -EINVAL,
                        "%s: the name must end in \".prom\": node_exporter's textfile collector reads nothing else",
                        path);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->path = strdup(path);
        m->dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        m->tmp_size = len + TMP_EXTRA + 1;
        m->tmp_path = malloc(m->tmp_size);
        if (!m->path || !m->dir || !m->tmp_path)
                return -ENOMEM;
        *ret = m;
        m = NULL;
        return 0;
}

void metrics_begin(MetricsWriter *m) {
        m->n_recs = 0;
        m->n_paths = 0;
        m->n_counters = 0;
        m->prepared = false;
}

int metrics_add_listener(MetricsWriter *m, const Listener *l, const char *netns, const char *name, const char *unit,
                         int64_t syn_depth) {
        Record *r;

        if (m->n_recs >= UINT32_MAX || GROW(&m->recs, &m->cap_recs, m->n_recs + 1, 64) < 0)
                return -ENOMEM;
        r = &m->recs[m->n_recs];
        *r = (Record){
                .netns = str_or_empty(netns),
                .name = str_or_empty(name),
                .unit = str_or_empty(unit),
                .sock_netns = l->netns,
                .cookie = l->cookie,
                .seq = (uint32_t) m->n_recs,
                .depth = l->depth,
                .backlog = l->backlog,
                .drops = l->has_drops ? l->drops : 0,
                .flags = (uint8_t) ((l->has_drops ? REC_HAS_DROPS : 0) | (syn_depth >= 0 ? REC_HAS_SYN : 0)),
                .syn_depth = syn_depth < 0            ? 0
                             : syn_depth > UINT32_MAX ? UINT32_MAX
                                                      : (uint32_t) syn_depth,
        };
        if (l->kind == LISTENER_UNIX) {
                size_t n = strnlen(l->path, sizeof(l->path)) + 1;

                if (m->n_paths > UINT32_MAX - n || GROW(&m->paths, &m->cap_paths, m->n_paths + n, 4096) < 0)
                        return -ENOMEM;
                memcpy(m->paths + m->n_paths, l->path, n - 1);
                m->paths[m->n_paths + n - 1] = 0;
                r->family = FAM_UNIX;
                r->path_off = (uint32_t) m->n_paths;
                m->n_paths += n;
        } else {
                r->family = l->family == AF_INET6 ? FAM_INET6 : FAM_INET;
                memcpy(r->addr, l->addr, r->family == FAM_INET6 ? 16 : 4);
                r->port = l->port;
        }
        m->n_recs++;
        m->prepared = false;
        return 0;
}

int metrics_set_counters(MetricsWriter *m, const char *netns, const NetstatCounters *c) {
        size_t i;

        netns = str_or_empty(netns);
        for (i = 0; i < m->n_counters; i++) {
                int d = strcmp(netns, m->counters[i].netns);

                if (d == 0) {
                        m->counters[i] = (NsCounters){ netns, *c };
                        return 0;
                }
                if (d < 0)
                        break;
        }
        if (GROW(&m->counters, &m->cap_counters, m->n_counters + 1, 4) < 0)
                return -ENOMEM;
        memmove(&m->counters[i + 1], &m->counters[i], (m->n_counters - i) * sizeof(NsCounters));
        m->counters[i] = (NsCounters){ netns, *c };
        m->n_counters++;
        return 0;
}

static int strcmp_fast(const char *a, const char *b) {
        return a == b ? 0 : strcmp(a, b);
}

static int cmp3(uint64_t a, uint64_t b) {
        return (a > b) - (a < b);
}

/* The order of the output, and equality of the six labels. */
static int record_cmp(const MetricsWriter *m, const Record *a, const Record *b) {
        int d;

        if ((d = strcmp_fast(a->netns, b->netns)) != 0)
                return d;
        if ((d = cmp3(a->family, b->family)) != 0)
                return d;
        if (a->family == FAM_UNIX)
                d = strcmp(m->paths + a->path_off, m->paths + b->path_off);
        else
                d = memcmp(a->addr, b->addr, sizeof(a->addr));
        if (d != 0)
                return d;
        if ((d = cmp3(a->port, b->port)) != 0)
                return d;
        if ((d = strcmp_fast(a->name, b->name)) != 0)
                return d;
        return strcmp_fast(a->unit, b->unit);
}

/* Which socket, then which sighting of it: repeats end up adjacent, the
 * later sighting last. */
static int record_id_cmp(_unused_ const MetricsWriter *m, const Record *a, const Record *b) {
        int d;

        if ((d = cmp3(a->sock_netns, b->sock_netns)) != 0)
                return d;
        if ((d = cmp3(a->cookie, b->cookie)) != 0)
                return d;
        return cmp3(a->seq, b->seq);
}

typedef int (*RecordCmp)(const MetricsWriter *m, const Record *a, const Record *b);

static void record_swap(Record *a, Record *b) {
        Record t = *a;

        *a = *b;
        *b = t;
}

static void sift_down(const MetricsWriter *m, RecordCmp cmp, Record *r, size_t i, size_t n) {
        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= n)
                        return;
                if (c + 1 < n && cmp(m, &r[c], &r[c + 1]) < 0)
                        c++;
                if (cmp(m, &r[i], &r[c]) >= 0)
                        return;
                record_swap(&r[i], &r[c]);
                i = c;
        }
}

/* Heapsort: glibc's qsort() may malloc a scratch buffer, and a poll must
 * not allocate. */
static void records_sort(MetricsWriter *m, RecordCmp cmp) {
        Record *r = m->recs;
        size_t n = m->n_recs;

        if (n < 2)
                return;
        for (size_t i = n / 2; i-- > 0;)
                sift_down(m, cmp, r, i, n);
        for (size_t end = n - 1; end > 0; end--) {
                record_swap(&r[0], &r[end]);
                sift_down(m, cmp, r, 0, end);
        }
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Keeps the last sighting of each socket (see metrics.h); records with
 * cookie 0 are all kept. */
static void records_drop_repeats(MetricsWriter *m) {
        size_t w = 0;

        records_sort(m, record_id_cmp);
        for (size_t i = 1; i < m->n_recs; i++) {
                Record *a = &m->recs[w], *b = &m->recs[i];

                if (b->cookie != 0 && b->cookie == a->cookie && b->sock_netns == a->sock_netns)
                        *a = *b;
                else
                        m->recs[++w] = *b;
        }
        if (m->n_recs > 0)
                m->n_recs = w + 1;
}

/* Drops repeated sightings, sorts, then merges records with equal labels
 * (see metrics.h). */
static void records_prepare(MetricsWriter *m) {
        size_t w = 0;

        if (m->prepared)
                return;
        records_drop_repeats(m);
        records_sort(m, record_cmp);
        for (size_t i = 1; i < m->n_recs; i++) {
                Record *a = &m->recs[w], *b = &m->recs[i];

                if (record_cmp(m, a, b) != 0) {
                        m->recs[++w] = *b;
                        continue;
                }
                a->depth = sat_add(a->depth, b->depth);
                a->backlog = sat_add(a->backlog, b->backlog);
                a->drops = sat_add(a->drops, b->drops);
                if ((b->flags & REC_HAS_SYN) && (!(a->flags & REC_HAS_SYN) || b->syn_depth > a->syn_depth))
                        a->syn_depth = b->syn_depth;
                a->flags |= b->flags;
        }
        if (m->n_recs > 0)
                m->n_recs = w + 1;
        m->prepared = true;
}

static void render_labels(MetricsWriter *m, const Record *r) {
        PromBuf *b = &m->out;
        char a[INET6_ADDRSTRLEN];

        prom_put(b, "{", 1);
        if (r->family == FAM_UNIX)
                prom_label(b, "address", m->paths + r->path_off, true);
        else {
                if (!inet_ntop(r->family == FAM_INET6 ? AF_INET6 : AF_INET, r->addr, a, sizeof(a)))
                        strcpy(a, "?");
                prom_label(b, "address", a, true);
        }
        prom_put(b, ",port=\"", 7);
        if (r->family != FAM_UNIX)
                prom_u64(b, r->port);
        prom_put(b, "\"", 1);
        prom_label(b, "family", r->family == FAM_UNIX ? "unix" : r->family == FAM_INET6 ? "inet6" : "inet", false);
        prom_label(b, "netns", r->netns, false);
        prom_label(b, "name", r->name, false);
        prom_label(b, "unit", r->unit, false);
        prom_put(b, "}", 1);
}

typedef enum ListenerMetric {
        LM_DEPTH, /* first: every record has it, and it renders the labels */
        LM_BACKLOG,
        LM_DROPS,
        LM_SYN,
        _LM_MAX,
} ListenerMetric;

static const struct {
        const char *name;
        const char *type;
        const char *help;
        uint8_t needs; /* REC_HAS_* a record must have to get a sample */
} listener_metrics[_LM_MAX] = {
        [LM_DEPTH] = { "backlogd_listen_queue_depth", "gauge",
                       "Connections waiting in the listen queue for accept() (Recv-Q).", 0 },
        [LM_BACKLOG] = { "backlogd_listen_queue_backlog", "gauge",
                         "Listen queue limit, min(listen() backlog, net.core.somaxconn) (Send-Q); "
                         "the queue holds backlog+1 connections.",
                         0 },
        [LM_DROPS] = { "backlogd_listen_drops_total", "counter",
                       "Connections the listener dropped (accept queue overflows, SYN queue drops), "
                       "as the kernel counts them for the socket.",
                       REC_HAS_DROPS },
        [LM_SYN] = { "backlogd_syn_queue_depth", "gauge",
                     "Connection requests in the SYN queue for the listener's address and port.", REC_HAS_SYN },
};

static uint64_t record_value(const Record *r, ListenerMetric lm) {
        switch (lm) {
        case LM_DEPTH:
                return r->depth;
        case LM_BACKLOG:
                return r->backlog;
        case LM_DROPS:
                return r->drops;
        default:
                return r->syn_depth;
        }
}

static void render_listener_family(MetricsWriter *m, ListenerMetric lm) {
        const char *name = listener_metrics[lm].name;
        uint8_t needs = listener_metrics[lm].needs;
        size_t name_len = strlen(name);
        PromBuf *b = &m->out;
        bool any = false;

        for (size_t i = 0; i < m->n_recs && !any; i++)
                any = (m->recs[i].flags & needs) == needs;
        if (!any)
                return;
        prom_header(b, name, listener_metrics[lm].type, listener_metrics[lm].help);
        for (size_t i = 0; i < m->n_recs; i++) {
                Record *r = &m->recs[i];

                if ((r->flags & needs) != needs)
                        continue;
                prom_put(b, name, name_len);
                if (lm == LM_DEPTH) {
                        size_t start = b->n;

                        render_labels(m, r);
                        if (b->oom || b->n - start > UINT32_MAX || start > UINT32_MAX)
                                return;
                        r->label_off = (uint32_t) start;
                        r->label_len = (uint32_t) (b->n - start);
                } else if (prom_reserve(b, r->label_len)) {
                        /* The source lies before b->n: no overlap. */
                        memcpy(b->p + b->n, b->p + r->label_off, r->label_len);
                        b->n += r->label_len;
                }
                prom_put(b, " ", 1);
                prom_u64(b, record_value(r, lm));
                prom_put(b, "\n", 1);
        }
}

static void render_counters(MetricsWriter *m) {
        PromBuf *b = &m->out;
        bool any = false;

        for (size_t i = 0; i < m->n_counters && !any; i++)
                for (int c = 0; c < _NETSTAT_COUNTER_MAX && !any; c++)
                        any = m->counters[i].c.present[c];
        if (!any)
                return;
        prom_header(b, "backlogd_tcpext_total", "counter",
                    "TcpExt listen counters of the network namespace, from /proc/net/netstat.");
        for (size_t i = 0; i < m->n_counters; i++)
                for (int c = 0; c < _NETSTAT_COUNTER_MAX; c++) {
                        if (!m->counters[i].c.present[c])
                                continue;
                        prom_puts(b, "backlogd_tcpext_total{");
                        prom_label(b, "counter", netstat_counter_name(c), true);
                        prom_label(b, "netns", m->counters[i].netns, false);
                        prom_put(b, "} ", 2);
                        prom_u64(b, m->counters[i].c.value[c]);
                        prom_put(b, "\n", 1);
                }
}

/* Renders into m->out; returns its length or -ENOMEM. */
static int render(MetricsWriter *m, double poll_seconds, double now_unix) {
        PromBuf *b = &m->out;

        records_prepare(m);
        prom_buf_reset(b);
        for (ListenerMetric lm = 0; lm < _LM_MAX; lm++)
                render_listener_family(m, lm);
        render_counters(m);
        prom_header(b, "backlogd_poll_seconds", "gauge", "Duration of the last poll in seconds.");
        prom_puts(b, "backlogd_poll_seconds ");
        prom_double(b, poll_seconds, 6);
        prom_put(b, "\n", 1);
        prom_header(b, "backlogd_last_poll_timestamp_seconds", "gauge",
                    "Time of the last poll in seconds since the Unix epoch.");
        prom_puts(b, "backlogd_last_poll_timestamp_seconds ");
        prom_double(b, now_unix, 3);
        prom_put(b, "\n", 1);
        if (b->oom)
                return -ENOMEM;
        if (b->n > INT_MAX)
                return -EFBIG;
        return (int) b->n;
}

int metrics_render(MetricsWriter *m, FILE *f, double poll_seconds, double now_unix) {
        int n = render(m, poll_seconds, now_unix);

        if (n < 0)
                return n;
        if (fwrite(m->out.p, 1, (size_t) n, f) != (size_t) n || fflush(f) != 0)
                return -EIO;
        return n;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* A fresh name for the temporary file: "<dir>/.<name>.<16 hex digits>.tmp".
 * Random, so nobody can plant anything at it in advance; it does not end in
 * ".prom", so the collector never reads it. */
static void tmp_name(MetricsWriter *m) {
        const char *base = strrchr(m->path, '/') + 1;
        uint64_t x;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t) sizeof(x)) {
                struct timespec ts;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                x = ((uint64_t) ts.tv_nsec << 32 ^ (uint64_t) ts.tv_sec ^ (uint64_t) getpid() << 16) +
                    ++m->tmp_seq * 0x9e3779b97f4a7c15ULL;
        }
        snprintf(m->tmp_path, m->tmp_size, "%.*s.%s.%016" PRIx64 ".tmp", (int) (base - m->path), m->path, base, x);
}

/* Mode 0644 whatever the umask (the service runs with UMask=0077 and
 * node_exporter must read the file), then the text. */
static int fill(MetricsWriter *m, int fd, size_t n, ErrBuf *err) {
        int r;

        if (fchmod(fd, 0644) < 0)
                return errbuf_set(err, -errno, "%s: fchmod of the temporary file: %s", m->path, strerror(errno));
        r = write_all(fd, m->out.p, n);
        if (r < 0)
                return errbuf_set(err, r, "%s: write to the temporary file: %s", m->path, strerror(-r));
        return 0;
}

/* Closes fd (a close error is a write error on some file systems) and
 * renames m->tmp_path over the target; on failure removes m->tmp_path. */
static int close_and_rename(MetricsWriter *m, int fd, size_t n, ErrBuf *err) {
        int r;

        if (close(fd) < 0 && errno != EINTR) {
                r = errbuf_set(err, -errno, "%s: close %s: %s", m->path, m->tmp_path, strerror(errno));
                goto fail;
        }
        if (rename(m->tmp_path, m->path) < 0) {
                r = errbuf_set(err, -errno, "%s: rename from %s: %s", m->path, m->tmp_path, strerror(errno));
                goto fail;
        }
        return (int) n;

fail:
        (void) unlink(m->tmp_path);
        return r;
}

/* Where O_TMPFILE is missing: mkostemps() picks a random name, creates it
 * O_EXCL (a symlink there is never followed) and tries other names while
 * they exist. */
static int commit_named(MetricsWriter *m, size_t n, ErrBuf *err) {
        const char *base = strrchr(m->path, '/') + 1;
        int fd, r;

        snprintf(m->tmp_path, m->tmp_size, "%.*s.%s.XXXXXX.tmp", (int) (base - m->path), m->path, base);
        fd = mkostemps(m->tmp_path, 4, O_CLOEXEC);
        if (fd < 0)
                return errbuf_set(err, -errno,
                                  errno == ENOENT || errno == ENOTDIR ? "%s: directory %s: %s"
                                                                      : "%s: cannot create a temporary file in %s: %s",
                                  m->path, m->dir, strerror(errno));
        r = fill(m, fd, n, err);
        if (r < 0) {
                close(fd);
                (void) unlink(m->tmp_path);
                return r;
        }
        return close_and_rename(m, fd, n, err);
}

int metrics_commit(MetricsWriter *m, double poll_seconds, double now_unix, ErrBuf *err) {
        _cleanup_(closep) int fd = -1;
        char proc[64];
        int n, r;

        n = render(m, poll_seconds, now_unix);
        if (n < 0)
                return errbuf_set(err, n, "%s: cannot render the metrics: %s", m->path, strerror(-n));

        /* An unnamed file in the directory: nothing is visible, so nothing
         * is left behind, until it is complete and linked. */
        fd = open(m->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
                r = -errno;
                if (r == -EOPNOTSUPP || r == -EISDIR || r == -EINVAL)
                        return commit_named(m, (size_t) n, err);
                if (r == -ENOENT || r == -ENOTDIR)
                        return errbuf_set(err, r, "%s: directory %s: %s", m->path, m->dir, strerror(-r));
                return errbuf_set(err, r, "%s: cannot create a temporary file in %s: %s", m->path, m->dir,
                                  strerror(-r));
        }
        r = fill(m, fd, (size_t) n, err);
        if (r < 0)
                return r;

        /* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; through /proc it
         * needs nothing. A name that exists (planted, against the odds of 64
         * random bits) is never followed: linkat() fails, try another. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        for (int i = 0; i < 16; i++) {
                tmp_name(m);
                r = linkat(AT_FDCWD, proc, AT_FDCWD, m->tmp_path, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
                if (r != -EEXIST)
                        break;
        }
        if (r == -ENOENT) /* no /proc, or the directory went away: the named way tells which */
                return commit_named(m, (size_t) n, err);
        if (r < 0)
                return errbuf_set(err, r, "%s: cannot link the temporary file into %s: %s", m->path, m->dir,
                                  strerror(-r));
        r = fd;
        fd = -1;
        return close_and_rename(m, r, (size_t) n, err);
}
