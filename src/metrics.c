/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "followed.h"
#include "metrics.h"
#include "textfile.h"
#include "prom.h"

enum {
        FAM_INET,
        FAM_INET6,
        FAM_UNIX,
};

enum {
        REC_HAS_DROPS = 1 << 0,
        REC_HAS_SYN = 1 << 1,
        REC_EXPORT = 1 << 2, /* its series are written (metrics.h: which) */
        REC_HAS_WAIT = 1 << 3,
        REC_STALLED = 1 << 4,
};

/* One listener, 112 bytes on x86-64. The label text is rendered once per
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
        uint32_t wait_ms;
        uint32_t stalled_s;
        uint32_t path_off; /* FAM_UNIX: offset of the NUL-terminated path in paths */
        uint32_t label_off;
        uint32_t label_len;
        uint32_t seq; /* order of the metrics_add_listener() calls of this poll */
        uint16_t port;
        uint8_t family;
        uint8_t flags;
} Record;

/* The size metrics.h states; a new field should not grow it unnoticed. */
_Static_assert(sizeof(void *) != 8 || sizeof(Record) == 112, "Record is not 112 bytes: update metrics.h");

typedef struct NsCounters {
        const char *netns;
        NetstatCounters c;
} NsCounters;

struct MetricsWriter {
        char *path;
        TextFile *file;

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

        bool all;          /* metrics_writer_set_all() */
        Followed followed; /* sockets that have been non-empty or dropped */

        PromBuf out;
        size_t out_samples; /* out's length before the poll-duration lines */
};

static const char *str_or_empty(const char *s) {
        return s ? s : "";
}

MetricsWriter *metrics_writer_free(MetricsWriter *m) {
        if (!m)
                return NULL;
        free(m->path);
        textfile_free(m->file);
        free(m->recs);
        free(m->paths);
        free(m->counters);
        followed_done(&m->followed);
        prom_buf_done(&m->out);
        free(m);
        return NULL;
}

int metrics_writer_new(const char *path, MetricsWriter **ret, ErrBuf *err) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        const char *base;
        int r;

        if (!path || !*path)
                return errbuf_set(err, -EINVAL, "metrics file: empty path");
        if (path[0] != '/')
                return errbuf_set(err, -EINVAL, "%s: not an absolute path", path);
        base = strrchr(path, '/') + 1;
        if (strlen(base) <= strlen(".prom") || strcmp(base + strlen(base) - strlen(".prom"), ".prom") != 0)
                return errbuf_set(
                        err, -EINVAL,
                        "%s: the name must end in \".prom\": node_exporter's textfile collector reads nothing else",
                        path);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->path = strdup(path);
        if (!m->path)
                return -ENOMEM;
        r = textfile_new(path, &m->file, err);
        if (r < 0)
                return r;
        m->all = true;
        *ret = m;
        m = NULL;
        return 0;
}

void metrics_writer_set_all(MetricsWriter *m, bool all) {
        m->all = all;
}

/* ---- the sockets that have been non-empty or dropped -------------------- */

size_t metrics_n_listeners(const MetricsWriter *m) {
        return m->n_recs;
}

/* Record idx, if it is l's and the poll's records are still open. */
static Record *record_of(MetricsWriter *m, size_t idx, const Listener *l) {
        Record *r;

        if (m->prepared || idx >= m->n_recs)
                return NULL;
        r = &m->recs[idx];
        return r->cookie == l->cookie && r->sock_netns == l->netns ? r : NULL;
}

void metrics_set_wait(MetricsWriter *m, size_t idx, const Listener *l, uint32_t wait_ms) {
        Record *r = record_of(m, idx, l);

        if (!r)
                return;
        r->wait_ms = wait_ms;
        r->flags |= REC_HAS_WAIT;
}

void metrics_set_stalled(MetricsWriter *m, size_t idx, const Listener *l, uint32_t stalled_s) {
        Record *r = record_of(m, idx, l);

        if (!r)
                return;
        r->stalled_s = stalled_s;
        r->flags |= REC_STALLED;
}

static bool listener_active(const Listener *l, int64_t syn_depth) {
        return l->depth > 0 || (l->has_drops && l->drops > 0) || syn_depth > 0;
}

int metrics_note_listener(MetricsWriter *m, const Listener *l, int64_t syn_depth) {
        if (m->all || !listener_active(l, syn_depth))
                return 0;
        return followed_mark(&m->followed, l->netns, l->cookie);
}

void metrics_keep_netns(MetricsWriter *m, uint64_t netns) {
        followed_keep_netns(&m->followed, netns);
}

size_t metrics_n_followed(const MetricsWriter *m) {
        return m->followed.n;
}

void metrics_begin(MetricsWriter *m) {
        m->n_recs = 0;
        m->n_paths = 0;
        m->n_counters = 0;
        m->prepared = false;
        followed_next(&m->followed);
}

int metrics_add_listener(MetricsWriter *m, const Listener *l, const char *netns, const char *name, const char *unit,
                         int64_t syn_depth) {
        bool export = m->all;
        Record *r;

        if (!export) {
                /* Out of memory: a listener busy now is exported anyway. */
                if (listener_active(l, syn_depth)) {
                        (void) followed_mark(&m->followed, l->netns, l->cookie);
                        export = true;
                } else
                        export = followed_touch(&m->followed, l->netns, l->cookie);
        }

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
                .flags = (uint8_t) ((l->has_drops ? REC_HAS_DROPS : 0) | (syn_depth >= 0 ? REC_HAS_SYN : 0) |
                                    (export ? REC_EXPORT : 0)),
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
                if ((b->flags & REC_HAS_WAIT) && (!(a->flags & REC_HAS_WAIT) || b->wait_ms > a->wait_ms))
                        a->wait_ms = b->wait_ms;
                if ((b->flags & REC_STALLED) && (!(a->flags & REC_STALLED) || b->stalled_s > a->stalled_s))
                        a->stalled_s = b->stalled_s;
                a->flags |= b->flags;
        }
        if (m->n_recs > 0)
                m->n_recs = w + 1;
        m->prepared = true;
}

/* A label, left out when its value is empty: Prometheus takes an empty
 * label for an absent one, so the series are the same, and the file is
 * shorter by the name="" and unit="" most listeners would carry. */
static void label(PromBuf *b, const char *key, const char *value, bool *first) {
        if (!*value)
                return;
        prom_label(b, key, value, *first);
        *first = false;
}

static void render_labels(MetricsWriter *m, const Record *r) {
        PromBuf *b = &m->out;
        char a[INET6_ADDRSTRLEN];
        bool first = true;

        prom_put(b, "{", 1);
        if (r->family == FAM_UNIX)
                label(b, "address", m->paths + r->path_off, &first);
        else {
                if (!inet_ntop(r->family == FAM_INET6 ? AF_INET6 : AF_INET, r->addr, a, sizeof(a)))
                        strcpy(a, "?");
                label(b, "address", a, &first);
                prom_put(b, first ? "port=\"" : ",port=\"", first ? 6 : 7);
                prom_u64(b, r->port);
                prom_put(b, "\"", 1);
                first = false;
        }
        label(b, "family", r->family == FAM_UNIX ? "unix" : r->family == FAM_INET6 ? "inet6" : "inet", &first);
        label(b, "netns", r->netns, &first);
        label(b, "name", r->name, &first);
        label(b, "unit", r->unit, &first);
        prom_put(b, "}", 1);
}

typedef enum ListenerMetric {
        LM_DEPTH, /* first: every record has it, and it renders the labels */
        LM_BACKLOG,
        LM_DROPS,
        LM_SYN,
        LM_WAIT,
        LM_STALLED,
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
        [LM_WAIT] = { "backlogd_listen_queue_wait_seconds", "gauge",
                      "How long the oldest connection in the listen queue has waited for accept(), "
                      "when the queue is not empty.",
                      REC_HAS_WAIT },
        [LM_STALLED] = { "backlogd_listen_queue_stalled_seconds", "gauge",
                         "How long a stalled listener has accepted nothing while connections wait (the head "
                         "of its queue has not moved), at least.",
                         REC_STALLED },
};

static uint64_t record_value(const Record *r, ListenerMetric lm) {
        switch (lm) {
        case LM_DEPTH:
                return r->depth;
        case LM_BACKLOG:
                return r->backlog;
        case LM_DROPS:
                return r->drops;
        case LM_STALLED:
                return r->stalled_s;
        default:
                return r->syn_depth;
        }
}

static void render_listener_family(MetricsWriter *m, ListenerMetric lm) {
        const char *name = listener_metrics[lm].name;
        uint8_t needs = listener_metrics[lm].needs | REC_EXPORT;
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
                if (lm == LM_WAIT) {
                        char v[24];
                        int n = snprintf(v, sizeof(v), "%u.%03u", r->wait_ms / 1000, r->wait_ms % 1000);

                        prom_put(b, v, (size_t) n);
                } else
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
                        bool first = true;

                        prom_puts(b, "backlogd_tcpext_total{");
                        label(b, "counter", netstat_counter_name(c), &first);
                        label(b, "netns", m->counters[i].netns, &first);
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
        m->out_samples = b->n;
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

int metrics_commit(MetricsWriter *m, double poll_seconds, double now_unix, ErrBuf *err) {
        int n = render(m, poll_seconds, now_unix);

        if (n < 0)
                return errbuf_set(err, n, "%s: cannot render the metrics: %s", m->path, strerror(-n));
        /* Only the poll's time and duration changed: the file is touched,
         * for staleness alerts (node_textfile_mtime_seconds). */
        return textfile_replace(m->file, m->out.p, (size_t) n, m->out_samples, err);
}
