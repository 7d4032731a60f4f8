/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces.h"

/* A configured namespace path that cannot be watched, reported once for as
 * long as it fails the same way. */
typedef struct NsPathError {
        char *path;
        int error;
        bool current;
} NsPathError;

int namespaces_new(const char *proc_root, Namespaces **ret) {
        Namespaces *ns = calloc(1, sizeof(*ns));

        if (!ns)
                return -ENOMEM;
        ns->proc_root = strdup(proc_root);
        if (!ns->proc_root) {
                free(ns);
                return -ENOMEM;
        }
        /* Needed only to come back from other namespaces: a failure is
         * reported when one is configured. */
        if (netns_open_self(&ns->self_fd, &ns->self_inode, NULL) < 0)
                ns->self_fd = -1;
        *ret = ns;
        return 0;
}

Namespaces *namespaces_free(Namespaces *ns) {
        if (!ns)
                return NULL;
        for (size_t i = 0; i < ns->n; i++)
                space_free(ns->spaces[i]);
        free(ns->spaces);
        for (size_t i = 0; i < ns->n_errors; i++)
                free(ns->errors[i].path);
        free(ns->errors);
        free(ns->changes);
        netns_list_done(&ns->found);
        if (ns->self_fd >= 0)
                close(ns->self_fd);
        free(ns->proc_root);
        free(ns);
        return NULL;
}

void namespaces_force(Namespaces *ns) {
        ns->forced = true;
}

Space *namespaces_find(const Namespaces *ns, uint64_t id) {
        Space *gone = NULL;

        /* A dropped namespace waits for its last events; a live one with
         * the same id (the host's, after a reload) wins. */
        for (size_t i = 0; i < ns->n; i++)
                if (ns->spaces[i]->id == id) {
                        if (!ns->spaces[i]->gone)
                                return ns->spaces[i];
                        gone = ns->spaces[i];
                }
        return gone;
}

size_t namespaces_n_live(const Namespaces *ns) {
        size_t n = 0;

        for (size_t i = 0; i < ns->n; i++)
                n += !ns->spaces[i]->gone;
        return n;
}

_printf_(4, 5) static void change(Namespaces *ns, NsChangeKind kind, uint64_t id, const char *fmt, ...) {
        NsChange *c;
        va_list ap;

        if (GROW(&ns->changes, &ns->cap_changes, ns->n_changes + 1, 4) < 0)
                return; /* out of memory: the change happens unsaid */
        c = &ns->changes[ns->n_changes++];
        c->kind = kind;
        c->id = id;
        va_start(ap, fmt);
        vsnprintf(c->text, sizeof(c->text), fmt, ap);
        va_end(ap);
}

static int add_space(Namespaces *ns, Space *s) {
        if (GROW(&ns->spaces, &ns->cap, ns->n + 1, 4) < 0)
                return -ENOMEM;
        ns->spaces[ns->n++] = s;
        return 0;
}

static void path_error(Namespaces *ns, const char *path, int error, const char *text) {
        NsPathError *e;

        for (size_t i = 0; i < ns->n_errors; i++) {
                e = &ns->errors[i];
                if (strcmp(e->path, path) != 0)
                        continue;
                e->current = true;
                if (e->error != error) {
                        e->error = error;
                        change(ns, NS_FAILING, 0, "Cannot watch network namespace %s: %s", path, text);
                }
                return;
        }
        if (GROW(&ns->errors, &ns->cap_errors, ns->n_errors + 1, 4) < 0)
                return;
        e = &ns->errors[ns->n_errors];
        *e = (NsPathError){ .path = strdup(path), .error = error, .current = true };
        if (!e->path)
                return;
        ns->n_errors++;
        change(ns, NS_FAILING, 0, "Cannot watch network namespace %s: %s", path, text);
}

static void path_errors_sweep(Namespaces *ns) {
        size_t w = 0;

        for (size_t i = 0; i < ns->n_errors; i++) {
                NsPathError *e = &ns->errors[i];

                if (!e->current) {
                        free(e->path);
                        continue;
                }
                e->current = false;
                ns->errors[w++] = *e;
        }
        ns->n_errors = w;
}

/* "web1 (/run/netns/web1)", or the path alone when that is its name. */
static const char *space_label(const Space *s, char *buf, size_t size) {
        if (strcmp(s->name, s->path) == 0)
                snprintf(buf, size, "%s", s->path);
        else
                snprintf(buf, size, "%s (%s)", s->name, s->path);
        return buf;
}

static void add_host(Namespaces *ns) {
        Space *s = NULL;

        if (space_new_own(ns->proc_root, &s) < 0 || add_space(ns, s) < 0) {
                space_free(s);
                change(ns, NS_FAILING, 0, "Out of memory: not watching the host's namespace this poll.");
                ns->forced = true;
                return;
        }
        s->inode = ns->self_inode;
        if (ns->scanned_once)
                change(ns, NS_WATCHING, 0, "Watching the host's namespace again.");
}

static void open_space(Namespaces *ns, const NetnsFile *f) {
        char label[600];
        ErrBuf err = { "" };
        Space *s = NULL;
        int r;

        r = space_new_file(f->path, f->name, ns->self_fd, ns->self_inode, &s, &err);
        if (r == -ENOTRECOVERABLE) {
                change(ns, NS_FATAL, 0, "%s; stopping.", err.text);
                return;
        }
        if (r >= 0 && add_space(ns, s) < 0) {
                s = space_free(s);
                r = errbuf_set(&err, -ENOMEM, "out of memory");
        }
        if (r < 0) {
                const char *why = err.text;
                size_t n = strlen(f->path);

                /* A reason from opening starts with "PATH: ". */
                if (strncmp(why, f->path, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
                        why += n + 2;
                path_error(ns, f->path, r, why);
                return;
        }
        s->found = true;
        change(ns, NS_WATCHING, s->id, "Watching network namespace %s.", space_label(s, label, sizeof(label)));
}

static void drop_space(Namespaces *ns, Space *s, const char *why) {
        char label[600];

        if (s->path)
                change(ns, NS_DROPPED, s->id, "Network namespace %s %s.", space_label(s, label, sizeof(label)), why);
        else
                change(ns, NS_DROPPED, s->id, "No longer watching the host's namespace.");
        s->gone = true;
}

void namespaces_reap(Namespaces *ns) {
        size_t w = 0;

        for (size_t i = 0; i < ns->n; i++) {
                if (ns->spaces[i]->gone)
                        space_free(ns->spaces[i]);
                else
                        ns->spaces[w++] = ns->spaces[i];
        }
        ns->n = w;
}

static Space *watched_path(const Namespaces *ns, const char *path) {
        for (size_t k = 0; k < ns->n; k++)
                if (!ns->spaces[k]->gone && ns->spaces[k]->path && strcmp(ns->spaces[k]->path, path) == 0)
                        return ns->spaces[k];
        return NULL;
}

static bool known_inode(void *userdata, uint64_t inode) {
        const Namespaces *ns = userdata;

        if (inode == ns->self_inode)
                return true;
        for (size_t k = 0; k < ns->n; k++)
                if (!ns->spaces[k]->gone && ns->spaces[k]->path && ns->spaces[k]->inode == inode)
                        return true;
        return false;
}

void namespaces_scan(Namespaces *ns, const Config *c, uint64_t now) {
        Space *host = NULL;
        size_t n_other = 0;
        int r;

        ns->n_changes = 0;
        if (ns->scanned && !ns->forced && now - ns->scan_usec < NAMESPACES_RESCAN_USEC)
                return;
        ns->scanned_once = ns->scanned;
        ns->scanned = true;
        ns->forced = false;
        ns->scan_usec = now;

        for (size_t i = 0; i < ns->n; i++) {
                if (ns->spaces[i]->gone)
                        continue;
                if (!ns->spaces[i]->path)
                        host = ns->spaces[i];
                else
                        n_other++;
        }
        if (c->host && !host)
                add_host(ns);
        else if (!c->host && host)
                drop_space(ns, host, "");
        if (c->n_namespaces == 0 && n_other == 0) {
                path_errors_sweep(ns); /* forget the old errors */
                return;
        }

        r = ns->self_fd < 0 ? -EBADF
                            : netns_expand(c->namespaces, c->n_namespaces,
                                           &(NetnsExpand){ .known = known_inode,
                                                           .userdata = ns,
                                                           .max_opens = NAMESPACES_OPENS_PER_SCAN },
                                           &ns->found);
        if (r < 0) {
                /* Keep watching what is watched; look again next time. */
                if (r != ns->expand_error)
                        change(ns, NS_FAILING, 0, "Cannot look for network namespaces: %s",
                               ns->self_fd < 0 ? "the daemon's own namespace is unknown" : strerror(-r));
                ns->expand_error = r;
                return;
        }
        ns->expand_error = 0;
        if (ns->found.deferred > 0)
                ns->forced = true; /* the rest at the next poll */
        for (size_t i = 0; i < ns->n; i++)
                ns->spaces[i]->found = false;
        for (size_t i = 0; i < ns->found.n; i++) {
                const NetnsFile *f = &ns->found.items[i];

                if (f->error < 0) {
                        Space *w = watched_path(ns, f->path);

                        /* A watched namespace whose file went away is
                         * reported as gone below; one that cannot be looked
                         * at for want of resources is kept as it is. */
                        if (w && f->error != -ENOENT && f->error != -ENOTTY)
                                w->found = true;
                        if (!w)
                                path_error(ns, f->path, f->error,
                                           f->error == -ENOTTY ? "not a network namespace file" : strerror(-f->error));
                        continue;
                }
                if (f->inode == ns->self_inode && c->host)
                        continue; /* the host's, watched as such */
                for (size_t k = 0; k < ns->n; k++) {
                        Space *s = ns->spaces[k];

                        if (!s->gone && s->path && s->inode == f->inode)
                                s->found = true;
                }
        }
        /* First what went: the file of one that is not found any more was
         * removed (ip netns delete) or its process exited, or another
         * namespace took its path. Holding its sockets would keep the
         * namespace alive: drop it. */
        for (size_t i = 0; i < ns->n; i++) {
                Space *s = ns->spaces[i];
                struct stat st;

                if (!s->path || s->gone || s->found)
                        continue;
                if (s->inode == ns->self_inode && c->host)
                        drop_space(ns, s, "is backlogd's own, watched as the host's from now on");
                else if (stat(s->path, &st) == 0 && (uint64_t) st.st_ino == s->inode)
                        drop_space(ns, s, "is not in `namespaces` any more; no longer watching it");
                else
                        drop_space(ns, s, "is gone; no longer watching it");
        }
        /* Then what is new. */
        for (size_t i = 0; i < ns->found.n; i++) {
                const NetnsFile *f = &ns->found.items[i];

                bool known = false;

                if (f->error < 0 || (f->inode == ns->self_inode && c->host))
                        continue; /* an error, or the host's, watched as such */
                for (size_t k = 0; k < ns->n && !known; k++)
                        known = !ns->spaces[k]->gone && ns->spaces[k]->path && ns->spaces[k]->inode == f->inode;
                if (!known)
                        open_space(ns, f);
        }
        path_errors_sweep(ns);
}
