/* SPDX-License-Identifier: MIT */
/* The watched network namespaces, one Space each: the daemon's own, with id
 * 0, unless `host = false`, and those the configured `namespaces` files and
 * patterns name, opened from inside (setns(2) there and back, netns_run())
 * so that their sock_diag socket, /proc/net/netstat and sysctls are theirs.
 * The configuration is looked at again every NETNS_RESCAN_USEC and on
 * reload: a new namespace is opened, one whose file went away is dropped. A
 * dropped Space is only marked gone and kept until the events of its last
 * poll are out, so that they still name it; then it is freed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "daemon-internal.h"
#include "diag.h"
#include "message-ids.h"
#include "netns.h"
#include "netstat.h"
#include "owner.h"
#include "policy.h"
#include "sink.h"

/* Configured namespace files and patterns are looked at again this often. */
#define NETNS_RESCAN_USEC (1ULL * 1000000ULL)

Space *space_free(Space *s) {
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

Space *daemon_space(Daemon *d, uint64_t id) {
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
const char *space_where(const Space *s, char *buf, size_t size) {
        if (!s->path)
                return "";
        snprintf(buf, size, " in network namespace %s", s->name);
        return buf;
}

/* Runs fn inside s (directly for the daemon's own namespace). */
int space_run(Daemon *d, Space *s, int (*fn)(void *userdata, ErrBuf *err), ErrBuf *err) {
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

int space_open_diag_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;
        int r = diag_open(&s->diag, err);

        if (r >= 0)
                diag_set_netns(s->diag, s->id);
        return r;
}

int space_open_netstat_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;

        return netstat_reader_open(s->netstat, err);
}

int space_read_sysctls_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;

        netstat_read_sysctls(s->proc_root, &s->sysctls);
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
        s->proc_root = proc_root;
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
                r = space_run(d, s, space_open_diag_cb, &err);
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
void daemon_reap_spaces(Daemon *d) {
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
void daemon_scan(Daemon *d, uint64_t now) {
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

const char *daemon_lookup_unit(void *userdata, uint64_t cgroup_id) {
        Daemon *d = userdata;

        return owner_unit(d->owner, cgroup_id);
}

const char *daemon_lookup_netns_name(void *userdata, uint64_t netns) {
        return space_name(userdata, netns);
}

const NetstatSysctls *daemon_lookup_sysctls(void *userdata, uint64_t netns) {
        const Space *s = daemon_space(userdata, netns);

        return s && s->have_sysctls ? &s->sysctls : NULL;
}
