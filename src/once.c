/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "describe.h"
#include "escape.h"
#include "groups.h"
#include "netns.h"
#include "once.h"
#include "policy.h"
#include "process.h"
#include "report.h"
#include "sockets.h"
#include "space.h"
#include "users.h"

/* Processes are named for listeners in trouble, within this bound. */
#define ONCE_PROCESS_LOOKUP_USEC (100ULL * 1000)
/* Asking systemd for its socket units. */
#define ONCE_SOCKETS_TIMEOUT_USEC (1000ULL * 1000)

typedef struct Once {
        const OnceOptions *o;
        Snapshot snap;
        Space **spaces;
        size_t n_spaces, cap_spaces;
        int self_fd;
        uint64_t self_inode;
        bool failed;
        SocketMap *sockets; /* systemd's socket units, read if PID 1 listens */
        /* user names by uid, owned here (the cache may replace its own) */
        struct {
                uint32_t uid;
                char *name;
        } * users;
        size_t n_users, cap_users;
} Once;

/* "backlogd: ..." on stderr, escaped: namespace paths and error texts may
 * carry names a local user chose. */
static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...) {
        char raw[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        fputs("backlogd: ", stderr);
        escape_text_fputs(raw, stderr);
        fputc('\n', stderr);
}

static void warn(Once *w, const Space *s, const char *what, const char *text) {
        if (s && s->path)
                say("network namespace %s: %s%s", s->name, text, what);
        else
                say("%s%s", text, what);
        w->failed = true;
}

static int add_space(Once *w, Space *s) {
        if (GROW(&w->spaces, &w->cap_spaces, w->n_spaces + 1, 4) < 0) {
                space_free(s);
                return -ENOMEM;
        }
        w->spaces[w->n_spaces++] = s;
        return 0;
}

/* The configured namespaces and those of --netns. */
static void open_namespaces(Once *w) {
        const Config *c = w->o->config;
        _cleanup_(netns_list_done) NetnsList found = { 0 };
        _cleanup_(freep) char **patterns = calloc(c->n_namespaces + w->o->n_netns + 1, sizeof(char *));
        ErrBuf err = { "" };
        size_t n = 0;
        int r;

        if (!patterns) {
                warn(w, NULL, "", "out of memory");
                return;
        }
        for (size_t i = 0; i < c->n_namespaces; i++)
                patterns[n++] = c->namespaces[i];
        for (size_t i = 0; i < w->o->n_netns; i++)
                patterns[n++] = w->o->netns[i];
        if (n == 0)
                return;
        if (netns_open_self(&w->self_fd, &w->self_inode, &err) < 0) {
                warn(w, NULL, "", err.text);
                return;
        }
        r = netns_expand(patterns, n, NULL, &found);
        if (r < 0) {
                warn(w, NULL, strerror(-r), "looking for network namespaces: ");
                return;
        }
        for (size_t i = 0; i < found.n; i++) {
                const NetnsFile *f = &found.items[i];
                Space *s = NULL;

                if (f->error < 0) {
                        say("network namespace %s: %s", f->path,
                            f->error == -ENOTTY ? "not a network namespace file" : strerror(-f->error));
                        w->failed = true;
                        continue;
                }
                if (f->inode == w->self_inode && c->host)
                        continue; /* shown as the host */
                r = space_new_file(f->path, f->name, w->self_fd, w->self_inode, &s, &err);
                if (r == -ENOTRECOVERABLE) {
                        say("%s", err.text);
                        exit(EXIT_FAILURE);
                }
                if (r < 0) {
                        /* Not shown at all: an empty entry would look like
                         * an empty namespace. */
                        say("%s", err.text);
                        w->failed = true;
                        continue;
                }
                if (add_space(w, s) < 0)
                        warn(w, NULL, "", "out of memory");
        }
}

/* The ports of the listeners from index start on whose queue is not
 * empty, as filter ranges into ranges: how many (0: none). -ENOMEM. */
static int wait_ranges(const Once *w, size_t start, PortRange ranges[DIAG_MAX_RANGES]) {
        const ListenerSet *ls = &w->snap.listeners;
        _cleanup_(freep) uint16_t *ports = NULL;
        size_t n_ports = 0;

        if (ls->n == start)
                return 0;
        ports = malloc((ls->n - start) * sizeof(*ports));
        if (!ports)
                return -ENOMEM;
        for (size_t i = start; i < ls->n; i++)
                if (ls->items[i].kind == LISTENER_TCP && ls->items[i].depth > 0)
                        ports[n_ports++] = ls->items[i].port;
        return (int) space_port_ranges(ports, n_ports, ranges, DIAG_MAX_RANGES);
}

static void apply_syn(Once *w, Space *s, size_t start) {
        ListenerSet *ls = &w->snap.listeners;

        for (size_t i = start; i < ls->n; i++) {
                int64_t syn = space_syn_for(s, &ls->items[i]);

                if (syn >= 0) {
                        ls->items[i].syn_depth = (uint32_t) syn;
                        ls->items[i].has_syn = true;
                }
        }
}

/* Half-open connections per listener, and how long the queued connections
 * of the non-empty queues have waited: one walk of every connection of the
 * namespace (two on a kernel that cannot filter for both at once). */
static void read_syn_wait(Once *w, Space *s, size_t start) {
        PortRange ranges[DIAG_MAX_RANGES];
        ErrBuf err = { "" };
        int n = wait_ranges(w, start, ranges), r;

        if (n < 0) {
                warn(w, s, ", showing no wait times", "out of memory");
                n = 0;
        }
        r = space_count_syn_wait(s, 0, ranges, (size_t) n, &err);
        if (r >= 0) {
                apply_syn(w, s, start);
                if (n > 0)
                        for (size_t i = start; i < w->snap.listeners.n; i++)
                                space_apply_wait(s, &w->snap.listeners.items[i]);
                return;
        }
        if (r != -EOPNOTSUPP) {
                warn(w, s, ", showing no SYN queues or wait times", err.text);
                return;
        }
        err = (ErrBuf){ "" };
        r = space_count_syn(s, 0, &err);
        if (r < 0)
                warn(w, s, ", showing no SYN queues", err.text);
        else
                apply_syn(w, s, start);
        if (n == 0)
                return;
        err = (ErrBuf){ "" };
        r = space_count_wait(s, ranges, (size_t) n, &err);
        if (r < 0) {
                warn(w, s, ", showing no wait times", err.text);
                return;
        }
        for (size_t i = start; i < w->snap.listeners.n; i++)
                space_apply_wait(s, &w->snap.listeners.items[i]);
}

/* One namespace: its listeners, SYN queues, counters and sysctls. */
static void read_space(Once *w, Space *s, FILE *record) {
        const OnceOptions *o = w->o;
        ListenerSet *ls = &w->snap.listeners;
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges = o->n_ports, start = ls->n;
        ErrBuf err = { "" };
        int r;

        if (o->n_ports > 0)
                memcpy(ranges, o->ports, o->n_ports * sizeof(ranges[0]));
        else
                n_ranges = config_port_ranges(o->config, ranges, DIAG_MAX_RANGES);
        if (record && space_open(s, &err) >= 0)
                diag_set_recorder(s->diag, record);
        r = space_dump(s, ranges, n_ranges, o->unix_listeners || config_wants_unix(o->config), diag_push_cb, ls, &err);
        if (s->diag)
                diag_set_recorder(s->diag, NULL);
        if (r < 0) {
                /* Half a namespace would look like a whole one. */
                ls->n = start;
                warn(w, s, "", err.text);
                return;
        }
        read_syn_wait(w, s, start);
        r = space_read_counters(s, &err);
        if (r < 0)
                warn(w, s, s->path ? ", showing no listen counters" : ", showing no host counters", err.text);
        (void) space_refresh_sysctls(s, 0, 0, NULL);
}

static const char *user_name(Once *w, UserNames *users, uint32_t uid) {
        const char *name;

        for (size_t i = 0; i < w->n_users; i++)
                if (w->users[i].uid == uid)
                        return w->users[i].name;
        name = users_name(users, uid);
        if (GROW(&w->users, &w->cap_users, w->n_users + 1, 16) < 0)
                return NULL;
        w->users[w->n_users].uid = uid;
        w->users[w->n_users].name = name ? strdup(name) : NULL;
        return w->users[w->n_users++].name;
}

/* Owners and devices, resolved before the report renders. */
static void resolve(Once *w, CgroupNames *cgroups, UserNames *users, ProcessFinder *processes) {
        const Config *c = w->o->config;
        Snapshot *s = &w->snap;

        s->info = calloc(s->listeners.n ? s->listeners.n : 1, sizeof(*s->info));
        if (!s->info)
                return;
        cgroup_names_hold(cgroups, true);
        process_finder_set_deadline(processes, ONCE_PROCESS_LOOKUP_USEC);
        /* PID 1's listeners are socket units': ask systemd which (without
         * a bus, they stay init.scope's, silently). */
        for (size_t i = 0; i < s->listeners.n && !w->sockets; i++) {
                const Listener *l = &s->listeners.items[i];
                const char *unit = cgroup_names_unit(cgroups, l->cgroup_id);

                if (l->netns == 0 && unit && strcmp(unit, "init.scope") == 0 &&
                    sockets_read(ONCE_SOCKETS_TIMEOUT_USEC, &w->sockets, NULL) < 0)
                        break;
        }
        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = &s->listeners.items[i];
                ListenerInfo *in = &s->info[i];
                const SocketUnit *sock = sockets_find(w->sockets, l);
                const Watch *wt;
                Space *sp = NULL;

                in->cgroup = cgroup_names_path(cgroups, l->cgroup_id);
                in->unit = cgroup_names_unit(cgroups, l->cgroup_id);
                if (sock && (!in->unit || strcmp(in->unit, "init.scope") == 0)) {
                        int64_t somaxconn =
                                s->sysctls.present[SYSCTL_SOMAXCONN] ? s->sysctls.value[SYSCTL_SOMAXCONN] : -1;

                        in->unit = sock->service ? sock->service : sock->name;
                        in->socket_unit = sock->name;
                        if (sockets_clamped(sock->backlog, l->backlog, somaxconn))
                                in->socket_backlog = sock->backlog;
                }
                in->user = user_name(w, users, l->uid);
                for (size_t k = 0; k < w->n_spaces && !sp; k++)
                        if (w->spaces[k]->id == l->netns)
                                sp = w->spaces[k];
                if (l->ifindex && sp)
                        (void) space_interface_name(sp, l->ifindex, in->interface);
                /* The process only for listeners in trouble: the ones a
                 * person will want to find (a bounded scan of /proc). */
                wt = config_match(c, l, in->unit, snapshot_netns_name(s, l->netns));
                if (w->o->processes && l->inode != 0 &&
                    (levels_classify(l, wt ? wt->warn : c->warn) != STATE_OK || (l->has_drops && l->drops > 0)) &&
                    process_find(processes, l->inode, &in->pid, in->comm) < 0)
                        in->pid = 0;
                /* PID 1 holds a socket unit's listener too: not whom to ask. */
                if (in->socket_unit && in->pid == 1)
                        in->pid = 0;
                /* Who waits on a UNIX listener: its clients' processes (an
                 * exact request each: not in the dump). */
                if (w->o->processes && l->kind == LISTENER_UNIX && l->depth > 0 && sp) {
                        Listener q = *l;

                        if (space_unix_clients(sp, &q, NULL) <= 0)
                                q.n_clients = 0;
                        for (size_t k = 0; k < q.n_clients; k++) {
                                ProcessName p = { 0 };

                                if (q.clients[k] != 0 && process_find(processes, q.clients[k], &p.pid, p.comm) >= 0)
                                        describe_add_client(in->clients, &in->n_clients, p.pid, p.comm);
                        }
                }
        }
}

/* Each listener's SO_REUSEPORT group, for the report. Out of memory: none
 * is shown. */
static void add_groups(Once *w) {
        Snapshot *s = &w->snap;
        _cleanup_(freep) ListenerGroup *g = NULL;

        if (!s->info)
                return;
        g = calloc(s->listeners.n ? s->listeners.n : 1, sizeof(*g));
        if (!g || groups_tally(s->listeners.items, s->listeners.n, g) < 0) {
                warn(w, NULL, ", showing no SO_REUSEPORT groups", "out of memory");
                return;
        }
        for (size_t i = 0; i < s->listeners.n; i++)
                s->info[i].group = g[i];
}

int once_run(const OnceOptions *o) {
        _cleanup_(fclosep) FILE *record = NULL;
        CgroupNames *cgroups = NULL;
        UserNames *users = NULL;
        ProcessFinder *processes = NULL;
        Once w = { .o = o, .self_fd = -1 };
        int r, ret = EXIT_FAILURE;

        if (o->record_path) {
                record = fopen(o->record_path, "wex");
                if (!record) {
                        fprintf(stderr, "backlogd: --record: %s: %s\n", o->record_path, strerror(errno));
                        return EXIT_FAILURE;
                }
        }
        w.snap.no_host = !o->config->host;
        if (o->config->host) {
                Space *s = NULL;

                if (space_new_own(o->proc_root, &s) < 0 || add_space(&w, s) < 0) {
                        fprintf(stderr, "backlogd: out of memory\n");
                        return EXIT_FAILURE;
                }
        }
        open_namespaces(&w);
        for (size_t i = 0; i < w.n_spaces; i++) {
                Space *s = w.spaces[i];

                read_space(&w, s, s->path ? NULL : record);
                if (s->path) {
                        SnapshotNetns *e;

                        if (!s->dumped)
                                continue; /* not shown at all: see open_namespaces() */
                        e = snapshot_add_netns(&w.snap, s->id, s->name);
                        if (!e) {
                                fprintf(stderr, "backlogd: out of memory\n");
                                w.failed = true;
                                break;
                        }
                        e->counters = s->counters;
                        e->have_counters = s->have_counters;
                        e->sysctls = s->sysctls;
                } else {
                        if (!s->dumped) {
                                /* The other namespaces are still worth showing. */
                                w.snap.no_host = true;
                                if (w.n_spaces == 1)
                                        goto finish;
                        }
                        w.snap.counters = s->counters;
                        w.snap.have_counters = s->have_counters;
                        w.snap.sysctls = s->sysctls;
                }
        }
        /* A dump is not a snapshot: a socket may show twice. */
        listener_set_sort_dedup(&w.snap.listeners);

        if (cgroup_names_new("/sys/fs/cgroup", &cgroups) < 0 || users_new(&users) < 0 ||
            process_finder_new(o->proc_root, &processes) < 0) {
                fprintf(stderr, "backlogd: out of memory\n");
                goto finish;
        }
        resolve(&w, cgroups, users, processes);
        add_groups(&w);

        /* A report of 10,000 listeners is megabytes: written in 64 KiB
         * blocks, not in the 4 KiB a pipe's st_blksize gives stdio (a
         * terminal stays line-buffered). */
        if (!isatty(STDOUT_FILENO))
                setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
        r = o->json ? report_json(stdout, &w.snap, o->config) : report_table(stdout, &w.snap, o->config);
        if (r < 0) {
                fprintf(stderr, "backlogd: writing the report: %s\n", strerror(-r));
                goto finish;
        }
        ret = w.failed ? EXIT_FAILURE : EXIT_SUCCESS;
finish:
        cgroup_names_free(cgroups);
        users_free(users);
        process_finder_free(processes);
        snapshot_done(&w.snap);
        sockets_free(w.sockets);
        for (size_t i = 0; i < w.n_spaces; i++)
                space_free(w.spaces[i]);
        free(w.spaces);
        for (size_t i = 0; i < w.n_users; i++)
                free(w.users[i].name);
        free(w.users);
        if (w.self_fd >= 0)
                close(w.self_fd);
        return ret;
}
