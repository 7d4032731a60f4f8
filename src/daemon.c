/* SPDX-License-Identifier: MIT */
/* The loop: one sd_event with a poll timer, SIGTERM/SIGINT/SIGHUP sources and
 * the watchdog. Each poll streams the kernel's dump through the pure policy
 * (nothing of the population is stored here) and hands its events to the
 * sink, for the daemon's own network namespace and those configured (one
 * Space each). The steady state allocates nothing; with `namespaces`
 * configured, the look at their files once a second does (glob(3), the
 * names found, and a retry of a namespace that cannot be entered). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "diag.h"
#include "message-ids.h"
#include "metrics.h"
#include "netns.h"
#include "netstat.h"
#include "owner.h"
#include "policy.h"
#include "snapshot.h"

/* Sysctls change rarely and only explain alerts: re-read them this often. */
#define SYSCTL_REFRESH_USEC (30ULL * 1000000ULL)
/* Configured namespace files and patterns are looked at again this often. */
#define NETNS_RESCAN_USEC (1ULL * 1000000ULL)

/* A watched network namespace: the daemon's own (id 0), or one reached
 * through a namespace file, whose kernel interfaces (the sock_diag socket,
 * /proc/net/netstat, the sysctls) were opened from inside it. */
typedef struct Space {
        uint64_t id;    /* Listener.netns: 0 for the daemon's own, else inode */
        uint64_t inode;
        char *name;     /* NETNS_HOST_NAME, "web1", "/proc/812/ns/net" */
        char *path;     /* NULL for the daemon's own */
        int fd;         /* the namespace file, -1 for the daemon's own */
        DiagSocket *diag;
        NetstatReader *netstat;
        NetstatCounters counters;
        NetstatSysctls sysctls;
        bool have_sysctls;
        uint64_t sysctls_usec;
        SynCounts syn;          /* the last SYN-queue count */
        bool syn_fresh;         /* counted in this poll: attach to listeners */
        bool syn_due;           /* a drop counter rose: count at the next poll */
        uint64_t next_syn_usec;
        uint64_t syn_trigger[3]; /* ListenDrops, TCPReqQFullDrop, TCPReqQFullDoCookies */
        bool syn_trigger_known;
        int diag_error; /* last error logged, so a failing source logs once */
        int netstat_error;
        int syn_error;
        bool found;     /* by the scan in progress */
        bool gone;      /* dropped this poll; freed once its events are out */
} Space;

/* A configured namespace path that cannot be watched, logged once. */
typedef struct PathError {
        char *path;
        int error;
        bool current;
} PathError;

struct Daemon {
        DaemonOptions opts;
        sd_event *event;
        sd_event_source *timer;
        Config *config;
        Owner *owner;
        MetricsWriter *metrics; /* NULL without metrics_file */
        Policy *policy;
        EventList events;
        Sink sink;
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges;
        Space **spaces;
        size_t n_spaces, cap_spaces;
        Space *cur;             /* the namespace being dumped */
        int self_fd;            /* the daemon's own network namespace */
        uint64_t self_inode;
        NetnsList found;        /* reused by every scan */
        PathError *path_errors;
        size_t n_path_errors;
        int expand_error;
        bool scanned;
        bool scanned_once;      /* a scan before the one in progress */
        bool scan_forced;       /* the configuration changed */
        uint64_t scan_usec;
        size_t n_seen; /* listeners in the last dump */
        uint64_t next_usec;
        bool ready;
        bool fatal;             /* stuck in another namespace: stop */
        int journal_error;
        int metrics_error;
        char status[160];
};

static void daemon_apply_metrics(Daemon *d, const Config *old, const Config *c) {
        ErrBuf err = {0};

        if (old && old->metrics_file && c->metrics_file && strcmp(old->metrics_file, c->metrics_file) == 0)
                return;
        d->metrics = metrics_writer_free(d->metrics);
        d->metrics_error = 0;
        if (c->metrics_file && metrics_writer_new(c->metrics_file, &d->metrics, &err) < 0)
                sink_log(&d->sink, LOG_ERR, NULL, "Not writing metrics: %s", err.text);
}

static void daemon_apply_config(Daemon *d, Config *c) {
        daemon_apply_metrics(d, d->config, c);
        if (d->opts.interval_usec)
                c->interval_usec = d->opts.interval_usec;
        config_free(d->config);
        d->config = c;
        d->n_ranges = config_port_ranges(c, d->ranges, DIAG_MAX_RANGES);
        d->scan_forced = true;
}

/* ---- namespaces ---------------------------------------------------------- */

static Space *space_free(Space *s) {
        if (!s)
                return NULL;
        diag_close(s->diag);
        netstat_reader_free(s->netstat);
        syn_counts_done(&s->syn);
        if (s->fd >= 0)
                close(s->fd);
        free(s->name);
        free(s->path);
        free(s);
        return NULL;
}

static Space *daemon_space(Daemon *d, uint64_t id) {
        Space *gone = NULL;

        if (d->cur && d->cur->id == id)
                return d->cur;
        /* A dropped namespace waits for its last events; a live one with
         * the same id (the host's, after a reload) wins. */
        for (size_t i = 0; i < d->n_spaces; i++)
                if (d->spaces[i]->id == id) {
                        if (!d->spaces[i]->gone)
                                return d->spaces[i];
                        gone = d->spaces[i];
                }
        return gone;
}

static const char *space_name(Daemon *d, uint64_t id) {
        const Space *s = daemon_space(d, id);

        return s ? s->name : NULL;
}

/* " in network namespace web1", or "" for the daemon's own: the messages
 * about the host read as they always did. */
static const char *space_where(const Space *s, char *buf, size_t size) {
        if (!s->path)
                return "";
        snprintf(buf, size, " in network namespace %s", s->name);
        return buf;
}

/* Runs fn inside s (directly for the daemon's own namespace). */
static int space_run(Daemon *d, Space *s, int (*fn)(void *userdata, ErrBuf *err), ErrBuf *err) {
        int r;

        if (s->fd < 0)
                return fn(s, err);
        r = netns_run(s->fd, d->self_fd, fn, s, err);
        if (r == -ENOTRECOVERABLE && !d->fatal) {
                /* Every later dump would read the wrong namespace. */
                sink_log(&d->sink, LOG_CRIT, NULL, "%s; stopping.", err->text);
                d->fatal = true;
                if (d->event)
                        sd_event_exit(d->event, EXIT_FAILURE);
        }
        return r;
}

static int open_diag_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;
        int r = diag_open(&s->diag, err);

        if (r >= 0)
                diag_set_netns(s->diag, s->id);
        return r;
}

static int open_netstat_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;

        return netstat_reader_open(s->netstat, err);
}

static int read_sysctls_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;

        netstat_read_sysctls("/proc", &s->sysctls);
        return 0;
}

static int daemon_add_space(Daemon *d, Space *s) {
        if (d->n_spaces == d->cap_spaces) {
                size_t cap = d->cap_spaces ? d->cap_spaces * 2 : 4;
                Space **v = reallocarray(d->spaces, cap, sizeof(*v));

                if (!v)
                        return -ENOMEM;
                d->spaces = v;
                d->cap_spaces = cap;
        }
        d->spaces[d->n_spaces++] = s;
        return 0;
}

static Space *space_new(const char *name, const char *path, const char *proc_root) {
        Space *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->fd = -1;
        s->name = strdup(name);
        s->path = path ? strdup(path) : NULL;
        if (!s->name || (path && !s->path) || netstat_reader_new(proc_root, &s->netstat) < 0)
                return space_free(s);
        return s;
}

static void daemon_add_host(Daemon *d) {
        Space *s = space_new(NETNS_HOST_NAME, NULL, d->opts.proc_root);

        if (!s || daemon_add_space(d, s) < 0) {
                space_free(s);
                sink_log(&d->sink, LOG_ERR, NULL, "Out of memory: not watching the host's namespace this poll.");
                d->scan_forced = true;
        }
}

/* Logs a namespace path that cannot be watched, once for as long as it
 * fails the same way. */
static void daemon_path_error(Daemon *d, const char *path, int error, const char *text) {
        PathError *e;

        for (size_t i = 0; i < d->n_path_errors; i++) {
                e = &d->path_errors[i];
                if (strcmp(e->path, path) != 0)
                        continue;
                e->current = true;
                if (e->error != error) {
                        e->error = error;
                        sink_log(&d->sink, LOG_WARNING, NULL, "Cannot watch network namespace %s: %s", path, text);
                }
                return;
        }
        e = reallocarray(d->path_errors, d->n_path_errors + 1, sizeof(*e));
        if (!e)
                return;
        d->path_errors = e;
        e = &d->path_errors[d->n_path_errors];
        *e = (PathError) { .path = strdup(path), .error = error, .current = true };
        if (!e->path)
                return;
        d->n_path_errors++;
        sink_log(&d->sink, LOG_WARNING, NULL, "Cannot watch network namespace %s: %s", path, text);
}

static void daemon_path_errors_sweep(Daemon *d) {
        size_t w = 0;

        for (size_t i = 0; i < d->n_path_errors; i++) {
                PathError *e = &d->path_errors[i];

                if (!e->current) {
                        free(e->path);
                        continue;
                }
                e->current = false;
                d->path_errors[w++] = *e;
        }
        d->n_path_errors = w;
}

/* "web1 (/run/netns/web1)", or the path alone when that is its name. */
static const char *space_label(const Space *s, char *buf, size_t size) {
        if (strcmp(s->name, s->path) == 0)
                snprintf(buf, size, "%s", s->path);
        else
                snprintf(buf, size, "%s (%s)", s->name, s->path);
        return buf;
}

static void daemon_open_space(Daemon *d, const NetnsFile *f) {
        char label[600];
        ErrBuf err = {0};
        Space *s;
        int r;

        s = space_new(f->name, f->path, "/proc");
        if (!s) {
                daemon_path_error(d, f->path, -ENOMEM, "out of memory");
                return;
        }
        r = netns_open(f->path, &s->fd, &s->inode, &err);
        if (r >= 0) {
                /* The daemon's own namespace (listed while `host = false`)
                 * keeps the id its listeners have as the host's. */
                s->id = s->inode == d->self_inode ? 0 : s->inode;
                s->found = true;
                r = space_run(d, s, open_diag_cb, &err);
        }
        if (r >= 0 && daemon_add_space(d, s) < 0)
                r = errbuf_set(&err, -ENOMEM, "out of memory");
        if (r < 0) {
                const char *why = err.text;
                size_t n = strlen(f->path);

                /* A reason from opening starts with "PATH: ". */
                if (strncmp(why, f->path, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
                        why += n + 2;
                daemon_path_error(d, f->path, r, why);
                space_free(s);
                return;
        }
        sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Watching network namespace %s.",
                 space_label(s, label, sizeof(label)));
}

static void daemon_drop_space(Daemon *d, Space *s, const char *why) {
        char label[600];

        if (s->path)
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Network namespace %s %s.",
                         space_label(s, label, sizeof(label)), why);
        else
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "No longer watching the host's namespace.");
        (void) policy_forget_netns(d->policy, s->id, &d->events);
        s->gone = true;
}

/* Frees the spaces dropped by this poll's scan, after their last events. */
static void daemon_reap_spaces(Daemon *d) {
        size_t w = 0;

        for (size_t i = 0; i < d->n_spaces; i++) {
                if (d->spaces[i]->gone) {
                        if (d->cur == d->spaces[i])
                                d->cur = NULL;
                        space_free(d->spaces[i]);
                } else
                        d->spaces[w++] = d->spaces[i];
        }
        d->n_spaces = w;
}

/* Which namespaces to watch: the host's unless `host = false`, and those
 * the configured files and patterns name now. */
static void daemon_scan(Daemon *d, uint64_t now) {
        const Config *c = d->config;
        Space *host = NULL;
        size_t n_other = 0;
        int r;

        if (d->scanned && !d->scan_forced && now - d->scan_usec < NETNS_RESCAN_USEC)
                return;
        d->scanned_once = d->scanned;
        d->scanned = true;
        d->scan_forced = false;
        d->scan_usec = now;

        for (size_t i = 0; i < d->n_spaces; i++) {
                if (d->spaces[i]->gone)
                        continue;
                if (!d->spaces[i]->path)
                        host = d->spaces[i];
                else
                        n_other++;
        }
        if (c->host && !host) {
                if (d->scanned_once)
                        sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Watching the host's namespace again.");
                daemon_add_host(d);
        }
        else if (!c->host && host)
                daemon_drop_space(d, host, "");
        if (c->n_namespaces == 0 && n_other == 0) {
                daemon_path_errors_sweep(d); /* forget the old errors */
                return;
        }

        r = d->self_fd < 0 ? -EBADF : netns_expand(c->namespaces, c->n_namespaces, &d->found);
        if (r < 0) {
                /* Keep watching what is watched; look again next time. */
                if (r != d->expand_error)
                        sink_log(&d->sink, LOG_ERR, NULL, "Cannot look for network namespaces: %s",
                                 d->self_fd < 0 ? "the daemon's own namespace is unknown" : strerror(-r));
                d->expand_error = r;
                return;
        }
        d->expand_error = 0;
        for (size_t i = 0; i < d->n_spaces; i++)
                d->spaces[i]->found = false;
        for (size_t i = 0; i < d->found.n; i++) {
                const NetnsFile *f = &d->found.items[i];

                if (f->error < 0) {
                        bool watched = false;

                        /* A watched namespace whose file went away is
                         * reported as gone below, not as an error. */
                        for (size_t k = 0; k < d->n_spaces && !watched; k++)
                                watched = !d->spaces[k]->gone && d->spaces[k]->path &&
                                          strcmp(d->spaces[k]->path, f->path) == 0;
                        if (!watched)
                                daemon_path_error(d, f->path, f->error,
                                                  f->error == -ENOTTY ? "not a network namespace file" :
                                                                        strerror(-f->error));
                        continue;
                }
                if (f->inode == d->self_inode && c->host)
                        continue; /* the host's, watched as such */
                for (size_t k = 0; k < d->n_spaces; k++) {
                        Space *s = d->spaces[k];

                        if (!s->gone && s->path && s->inode == f->inode)
                                s->found = true;
                }
        }
        /* First what went: the file of one that is not found any more was
         * removed (ip netns delete) or its process exited, or another
         * namespace took its path. Holding its sockets would keep the
         * namespace alive: drop it. */
        for (size_t i = 0; i < d->n_spaces; i++) {
                Space *s = d->spaces[i];

                struct stat st;

                if (!s->path || s->gone || s->found)
                        continue;
                if (s->inode == d->self_inode && c->host)
                        daemon_drop_space(d, s, "is backlogd's own, watched as the host's from now on");
                else if (stat(s->path, &st) == 0 && (uint64_t) st.st_ino == s->inode)
                        daemon_drop_space(d, s, "is not in `namespaces` any more; no longer watching it");
                else
                        daemon_drop_space(d, s, "is gone; no longer watching it");
        }
        /* Then what is new. */
        for (size_t i = 0; i < d->found.n; i++) {
                const NetnsFile *f = &d->found.items[i];
                bool known = false;

                if (f->error < 0 || (f->inode == d->self_inode && c->host))
                        continue; /* an error, or the host's, watched as such */
                for (size_t k = 0; k < d->n_spaces && !known; k++)
                        known = !d->spaces[k]->gone && d->spaces[k]->path && d->spaces[k]->inode == f->inode;
                if (!known)
                        daemon_open_space(d, f);
        }
        daemon_path_errors_sweep(d);
}

static const char *lookup_unit(void *userdata, uint64_t cgroup_id) {
        Daemon *d = userdata;

        return owner_unit(d->owner, cgroup_id);
}

static const char *lookup_netns_name(void *userdata, uint64_t netns) {
        return space_name(userdata, netns);
}

static const NetstatSysctls *lookup_sysctls(void *userdata, uint64_t netns) {
        const Space *s = daemon_space(userdata, netns);

        return s && s->have_sysctls ? &s->sysctls : NULL;
}

static void daemon_notify_status(Daemon *d) {
        char status[sizeof(d->status)];
        size_t n = policy_n_watched(d->policy), raised = policy_n_raised(d->policy);

        snprintf(status, sizeof(status), "watching %zu listener%s, %zu above %u%%", n, n == 1 ? "" : "s", raised,
                 d->config->warn);
        if (d->n_spaces != 1 || d->spaces[0]->path)
                snprintf(status + strlen(status), sizeof(status) - strlen(status), ", in %zu network namespace%s",
                         d->n_spaces, d->n_spaces == 1 ? "" : "s");
        if (strcmp(status, d->status) == 0)
                return;
        memcpy(d->status, status, sizeof(status));
        sd_notifyf(false, "STATUS=%s", status);
}

/* Owner details for an alert: the namespace, the unit from the cgroup id
 * (no privilege needed), the user, and, for alerts that ask someone to act,
 * the process (a bounded, cached scan of /proc that may find nothing). */
static const EventOwner *daemon_owner(Daemon *d, const Event *e, EventOwner *o, char *unit, size_t size) {
        const Listener *l = &e->listener;

        const Space *s = daemon_space(d, l->netns);

        *o = (EventOwner) { 0 };
        o->netns = s ? s->name : NULL;
        o->netns_dropped = s && s->gone && e->kind == EVENT_GONE;
        if (e->kind == EVENT_COUNTER)
                return o;
        o->cgroup = owner_cgroup(d->owner, l->cgroup_id);
        o->unit = owner_unit_from_cgroup(o->cgroup, unit, size);
        o->user = owner_user(d->owner, l->uid);
        /* A socket of another namespace is still in this /proc's fd tables. */
        if ((e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_DROPS) && l->inode != 0 &&
            owner_process(d->owner, l->inode, &o->pid, o->comm) < 0)
                o->pid = 0;
        return o;
}

/* All process lookups of one poll together. */
#define DAEMON_PROCESS_LOOKUP_USEC (100ULL * 1000)

static void daemon_emit(Daemon *d) {
        owner_set_process_deadline(d->owner, DAEMON_PROCESS_LOOKUP_USEC);
        for (size_t i = 0; i < d->events.n; i++) {
                char unit[256];
                EventOwner owner;
                int r = sink_event(&d->sink, &d->events.items[i],
                                   daemon_owner(d, &d->events.items[i], &owner, unit, sizeof(unit)));

                /* journald may be restarting: say so once on stderr, go on. */
                if (r < 0 && r != d->journal_error)
                        fprintf(stderr, "backlogd: cannot write to the journal: %s\n", strerror(-r));
                d->journal_error = r < 0 ? r : 0;
        }
        owner_set_process_deadline(d->owner, 0);
        event_list_clear(&d->events);
}

static int observe_cb(const Listener *listener, void *userdata) {
        Daemon *d = userdata;
        Space *s = d->cur;
        const Listener *l = listener;
        Listener with_syn;

        /* Only on polls that counted the SYN queues, which are rare; UNIX
         * listeners have no SYN queue. */
        if (s->syn_fresh && listener->kind == LISTENER_TCP) {
                with_syn = *listener;
                with_syn.syn_depth = syn_counts_for(&s->syn, listener, listener->v6only);
                with_syn.has_syn = true;
                l = &with_syn;
        }
        d->n_seen++;
        if (d->metrics) {
                const char *unit = owner_unit(d->owner, l->cgroup_id);
                const Watch *w = config_match(d->config, l, unit, s->name);

                if (w)
                        (void) metrics_add_listener(d->metrics, l, s->name, w->name, unit,
                                                    l->has_syn ? (int64_t) l->syn_depth : -1);
        }
        /* Out of memory for one listener's state: it is skipped this poll,
         * the dump goes on. */
        (void) policy_observe(d->policy, l, &d->events);
        return 0;
}

/* The SYN-queue dump walks every connection of the namespace: it runs every
 * syn_interval, and at the next poll after a counter that a full SYN queue
 * moves rose, never on the plain poll path. */
static void space_count_syn(Daemon *d, Space *s, uint64_t now) {
        ErrBuf err = {0};
        char where[300];
        int r;

        s->syn_fresh = false;
        if (d->config->syn_interval_usec == 0 || (now < s->next_syn_usec && !s->syn_due))
                return;
        s->syn_due = false;
        s->next_syn_usec = now + d->config->syn_interval_usec;
        r = diag_count_syn(s->diag, &s->syn, &err);
        if (r < 0) {
                if (!s->syn_error) /* once per outage, whatever the errors */
                        sink_log(&d->sink, LOG_WARNING, NULL, "Cannot count the SYN queues%s: %s; retrying in %.3g s.",
                                 space_where(s, where, sizeof(where)), err.text,
                                 (double) d->config->syn_interval_usec / 1e6);
                s->syn_error = r;
                s->diag = diag_close(s->diag); /* it may be mid-dump */
                return;
        }
        if (s->syn_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Counting the SYN queues%s works again.",
                         space_where(s, where, sizeof(where)));
        s->syn_error = 0;
        s->syn_fresh = true;
}

static void space_check_syn_trigger(Space *s) {
        static const NetstatCounter k[] = { NETSTAT_LISTEN_DROPS, NETSTAT_TCP_REQQ_FULL_DROP,
                                            NETSTAT_TCP_REQQ_FULL_DO_COOKIES };

        for (size_t i = 0; i < ELEMENTSOF(k); i++) {
                uint64_t v = s->counters.present[k[i]] ? s->counters.value[k[i]] : 0;

                if (s->syn_trigger_known && v > s->syn_trigger[i])
                        s->syn_due = true;
                s->syn_trigger[i] = v;
        }
        s->syn_trigger_known = true;
}

static int space_read_listeners(Daemon *d, Space *s, uint64_t now) {
        ErrBuf err = {0};
        char where[300];
        int r;

        d->cur = s;
        if (!s->diag) {
                r = space_run(d, s, open_diag_cb, &err);
                if (r < 0)
                        goto fail;
        }
        /* On its cadence; on failure it drops the socket, reopened here. */
        space_count_syn(d, s, now);
        if (!s->diag && (r = space_run(d, s, open_diag_cb, &err)) < 0)
                goto fail;
        r = diag_dump_each(s->diag, d->ranges, d->n_ranges, observe_cb, d, &err);
        if (r >= 0 && config_wants_unix(d->config))
                r = diag_dump_unix(s->diag, observe_cb, d, &err);
        if (r < 0) {
                /* The socket may be mid-dump: start from a fresh one. */
                s->diag = diag_close(s->diag);
                goto fail;
        }
        if (s->diag_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Listing listeners%s works again.",
                         space_where(s, where, sizeof(where)));
        s->diag_error = 0;
        return 0;
fail:
        if (!s->diag_error)
                sink_log(&d->sink, LOG_ERR, NULL, "Cannot list listening sockets%s: %s; retrying every poll.",
                         space_where(s, where, sizeof(where)), err.text);
        s->diag_error = r;
        return r;
}

static bool space_read_counters(Daemon *d, Space *s) {
        ErrBuf err = {0};
        char where[300];
        int r = 0;

        if (s->path && !netstat_reader_is_open(s->netstat))
                r = space_run(d, s, open_netstat_cb, &err);
        if (r >= 0)
                r = netstat_reader_read(s->netstat, &s->counters, &err);
        if (r < 0) {
                if (!s->netstat_error) {
                        if (s->path)
                                sink_log(&d->sink, LOG_WARNING, NULL,
                                         "Cannot read the listen counters%s: %s; retrying every poll.",
                                         space_where(s, where, sizeof(where)), err.text);
                        else
                                sink_log(&d->sink, LOG_WARNING, NULL,
                                         "Cannot read the host's listen counters: %s; retrying every poll.",
                                         err.text);
                }
                s->netstat_error = r;
                return false;
        }
        if (s->netstat_error) {
                if (s->path)
                        sink_log(&d->sink, LOG_NOTICE, NULL, "The listen counters%s are readable again.",
                                 space_where(s, where, sizeof(where)));
                else
                        sink_log(&d->sink, LOG_NOTICE, NULL, "The host's listen counters are readable again.");
        }
        s->netstat_error = 0;
        return true;
}

static void space_refresh_sysctls(Daemon *d, Space *s, uint64_t now) {
        ErrBuf err = {0};

        if (s->have_sysctls && now - s->sysctls_usec < SYSCTL_REFRESH_USEC)
                return;
        s->sysctls_usec = now;
        if (!s->path)
                netstat_read_sysctls(d->opts.proc_root, &s->sysctls);
        else if (space_run(d, s, read_sysctls_cb, &err) < 0)
                return; /* the dump will fail too, and say why */
        s->have_sysctls = true;
}

static double clock_seconds(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void daemon_write_metrics(Daemon *d, double started) {
        ErrBuf err = {0};
        int r;

        r = metrics_commit(d->metrics, clock_seconds(CLOCK_MONOTONIC) - started, clock_seconds(CLOCK_REALTIME),
                           &err);
        if (r < 0 && !d->metrics_error)
                sink_log(&d->sink, LOG_ERR, NULL, "Cannot write the metrics file: %s; retrying every poll.",
                         err.text);
        else if (r >= 0 && d->metrics_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "The metrics file is written again.");
        d->metrics_error = r < 0 ? r : 0;
}

int daemon_poll(Daemon *d, uint64_t now) {
        double started = clock_seconds(CLOCK_MONOTONIC);
        const NetstatSysctls *host_sysctls = NULL;
        size_t n_live = 0, n_failed = 0;
        int r, failure = 0;

        if (d->fatal)
                return -ENOTRECOVERABLE;
        daemon_scan(d, now);
        for (size_t i = 0; i < d->n_spaces; i++) {
                Space *s = d->spaces[i];

                if (s->gone)
                        continue;
                space_refresh_sysctls(d, s, now);
                if (s->id == 0 && s->have_sysctls)
                        host_sysctls = &s->sysctls;
        }
        policy_begin(d->policy, d->config, now, host_sysctls);
        /* The metrics writer keeps the owner's unit strings until it commits. */
        owner_hold(d->owner, true);
        if (d->metrics)
                metrics_begin(d->metrics);
        d->n_seen = 0;
        for (size_t i = 0; i < d->n_spaces; i++) {
                Space *s = d->spaces[i];

                if (s->gone)
                        continue;
                n_live++;
                r = space_read_listeners(d, s, now);
                if (d->fatal)
                        break;
                if (r < 0) {
                        /* What was not seen there is not gone. */
                        policy_keep_netns(d->policy, s->id);
                        failure = r;
                        n_failed++;
                }
        }
        d->cur = NULL;
        if (d->fatal) {
                owner_hold(d->owner, false);
                policy_abort(d->policy);
                event_list_clear(&d->events);
                return -ENOTRECOVERABLE;
        }
        if (n_live > 0 && n_failed == n_live) {
                /* What was seen before the failure is real; what was not is
                 * not gone. The metrics file keeps the last complete poll. */
                owner_hold(d->owner, false);
                policy_abort(d->policy);
                daemon_emit(d);
                /* Dropped namespaces stay until a poll has found their
                 * listeners gone, so that those events still name them. */
                return failure;
        }
        for (size_t i = 0; d->config->counters && i < d->n_spaces; i++) {
                Space *s = d->spaces[i];
                bool ok;

                if (s->gone)
                        continue;
                ok = space_read_counters(d, s);
                if (ok) {
                        space_check_syn_trigger(s);
                        if (d->metrics)
                                (void) metrics_set_counters(d->metrics, s->name, &s->counters);
                }
                if (policy_counters(d->policy, s->id, ok ? &s->counters : NULL, &d->events) < 0)
                        failure = -ENOMEM;
        }
        r = policy_end(d->policy, NULL, &d->events);
        if (r < 0 || failure == -ENOMEM)
                sink_log(&d->sink, LOG_ERR, NULL, "Out of memory while evaluating a poll; some alerts are lost.");
        if (d->metrics)
                daemon_write_metrics(d, started);
        owner_hold(d->owner, false);
        daemon_emit(d);
        daemon_reap_spaces(d);
        return d->n_seen > INT32_MAX ? INT32_MAX : (int) d->n_seen;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        int r;

        r = daemon_poll(d, usec);
        if (r < 0 && !d->ready) {
                /* Nothing ever worked: let the service manager see it. */
                sd_event_exit(d->event, EXIT_FAILURE);
                return 0;
        }
        if (r >= 0 && !d->ready) {
                size_t n = policy_n_watched(d->policy);
                char where[64] = "";

                if (d->n_spaces != 1 || d->spaces[0]->path)
                        snprintf(where, sizeof(where), " in %zu network namespace%s", d->n_spaces,
                                 d->n_spaces == 1 ? "" : "s");
                d->ready = true;
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE,
                         "backlogd started: watching %zu listener%s%s every %.3g s (warn %u%%, clear %u%%), %s.",
                         n, n == 1 ? "" : "s", where, (double) d->config->interval_usec / 1e6, d->config->warn,
                         d->config->clear, d->config->path ? d->config->path : "built-in defaults");
                sd_notify(false, "READY=1");
        }
        daemon_notify_status(d);

        /* Fixed cadence from the previous target; after a stall (suspend,
         * debugger, a slow poll), skip ahead instead of firing a burst. */
        d->next_usec += d->config->interval_usec;
        if (d->next_usec <= usec)
                d->next_usec = usec + d->config->interval_usec;
        sd_event_source_set_time(s, d->next_usec);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void daemon_set_accuracy(Daemon *d) {
        /* sd_event's default accuracy is 250 ms; a 1 % slack still lets the
         * kernel coalesce wake-ups. */
        uint64_t a = d->config->interval_usec / 100;

        sd_event_source_set_time_accuracy(d->timer, a ? a : 1);
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        uint64_t old_interval = d->config->interval_usec;
        struct timespec ts;
        Config *c = NULL;
        ErrBuf err = {0};
        int r;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
                   (uint64_t) (ts.tv_sec * 1000000LL + ts.tv_nsec / 1000));
        /* A file that existed when the running config was read must still be
         * there: a deleted file is an error, not a silent switch to defaults. */
        r = config_load(d->opts.config_path, d->opts.config_must_exist || d->config->path, &c, &err);
        if (r < 0)
                sink_log(&d->sink, LOG_ERR, MESSAGE_ID_LIFECYCLE,
                         "Reload failed, keeping the running configuration: %s", err.text);
        else {
                daemon_apply_config(d, c);
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Reloaded the configuration from %s.",
                         d->config->path ? d->config->path : "built-in defaults");
                if (d->config->interval_usec != old_interval) {
                        uint64_t now;

                        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
                        d->next_usec = now + d->config->interval_usec;
                        sd_event_source_set_time(d->timer, d->next_usec);
                        daemon_set_accuracy(d);
                }
        }
        sd_notify(false, "READY=1");
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;

        sd_notify(false, "STOPPING=1");
        /* Drops summed for the next report would be lost with us. */
        if (policy_flush(d->policy, d->config, &d->events) > 0)
                daemon_emit(d);
        sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Stopping on %s.", strsignal((int) si->ssi_signo));
        sd_event_exit(d->event, EXIT_SUCCESS);
        return 0;
}

int daemon_new(const DaemonOptions *o, Daemon **ret, ErrBuf *err) {
        Daemon *d = calloc(1, sizeof(*d));
        Config *c = NULL;
        int r;

        if (!d)
                return errbuf_set(err, -ENOMEM, "out of memory");
        d->self_fd = -1;
        d->opts = *o;
        sink_init(&d->sink, o->log_target);
        r = config_load(o->config_path, o->config_must_exist, &c, err);
        if (r < 0)
                goto fail;
        daemon_apply_config(d, c);
        r = policy_new(&d->policy);
        if (r >= 0)
                r = owner_new("/sys/fs/cgroup", &d->owner);
        if (r < 0) {
                errbuf_set(err, r, "out of memory");
                goto fail;
        }
        policy_set_lookup(d->policy, &(PolicyLookup) {
                .unit = lookup_unit,
                .netns_name = lookup_netns_name,
                .sysctls = lookup_sysctls,
                .userdata = d,
        });
        /* Needed only to come back from other namespaces: a failure is
         * reported when one is configured. */
        if (netns_open_self(&d->self_fd, &d->self_inode, NULL) < 0)
                d->self_fd = -1;
        *ret = d;
        return 0;
fail:
        daemon_free(d);
        return r;
}

Daemon *daemon_free(Daemon *d) {
        if (!d)
                return NULL;
        sd_event_source_unref(d->timer);
        sd_event_unref(d->event);
        for (size_t i = 0; i < d->n_spaces; i++)
                space_free(d->spaces[i]);
        free(d->spaces);
        for (size_t i = 0; i < d->n_path_errors; i++)
                free(d->path_errors[i].path);
        free(d->path_errors);
        netns_list_done(&d->found);
        if (d->self_fd >= 0)
                close(d->self_fd);
        owner_free(d->owner);
        metrics_writer_free(d->metrics);
        policy_free(d->policy);
        config_free(d->config);
        event_list_done(&d->events);
        free(d);
        return NULL;
}

static int daemon_loop(Daemon *d) {
        sigset_t mask;
        uint64_t now;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&d->event);
        if (r < 0)
                return r;
        if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, on_exit_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, on_exit_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGHUP, on_reload, d)) < 0)
                return r;
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return r;

        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        d->next_usec = now;
        r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, now, 1, on_timer, d);
        if (r < 0)
                return r;
        daemon_set_accuracy(d);
        sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
        return sd_event_loop(d->event);
}

int daemon_run(const DaemonOptions *o) {
        Daemon *d = NULL;
        Sink sink;
        ErrBuf err = {0};
        int r;

        r = daemon_new(o, &d, &err);
        if (r < 0) {
                sink_init(&sink, o->log_target);
                sink_log(&sink, LOG_ERR, NULL, "%s", err.text);
                return r == -ENOMEM ? EXIT_FAILURE : EX_CONFIG;
        }
        r = daemon_loop(d);
        if (r < 0) {
                sink_log(&d->sink, LOG_ERR, NULL, "Event loop failed: %s", strerror(-r));
                r = EXIT_FAILURE;
        }
        daemon_free(d);
        return r;
}
