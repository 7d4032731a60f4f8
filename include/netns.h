/* SPDX-License-Identifier: MIT */
#pragma once

/* Network namespaces other than the caller's own: finding them from the
 * configured files and glob patterns, and running code inside one. A
 * netlink socket, or a /proc/net file, opened while inside keeps reading
 * that namespace after the caller returns. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* One namespace file found by netns_expand(). */
typedef struct NetnsFile {
        char *path;     /* "/run/netns/web1", "/proc/812/ns/net" */
        char *name;     /* what outputs call it: "web1" for /run/netns/NAME,
                         * the path otherwise (and for /run/netns/host, so
                         * that "host" always means the caller's own) */
        uint64_t inode; /* nsfs inode: the namespace's identity; 0 on error */
        int error;      /* 0, or why the path cannot be used (-errno) */
} NetnsFile;

typedef struct NetnsList {
        NetnsFile *items;
        size_t n, cap;
        size_t deferred; /* candidates left for a later call (max_opens) */
} NetnsList;

/* How netns_expand() may spare work: files whose inode known() says is a
 * network namespace the caller watches are only stat()ed, not opened; at
 * most max_opens (0: no limit) other files are opened per call, the rest
 * are counted in NetnsList.deferred and left for a later call. */
typedef struct NetnsExpand {
        bool (*known)(void *userdata, uint64_t inode);
        void *userdata;
        size_t max_opens;
} NetnsExpand;

void netns_list_clear(NetnsList *l);
void netns_list_done(NetnsList *l);

/* Expands the patterns, in order, into out (cleared first). A pattern with
 * glob(7) magic characters yields its matches in sorted order; matches that
 * are not network namespace files (a file `ip netns add` has created but
 * not yet mounted over, /proc/PID/ns/uts, ...) or that vanish meanwhile
 * are left out silently, and matches that could not be opened for want of
 * resources (EMFILE, ENFILE, ENOMEM) are entries with that error. A literal
 * path yields one entry: with error -ENOENT if it does not exist (yet),
 * -EACCES and the like if it cannot be opened, -ENOTTY if it is not a
 * network namespace file. Each candidate is stat()ed, and opened once
 * (NS_GET_NSTYPE) unless x says it is known. Namespaces reached by several
 * paths appear once (the first path wins). x may be NULL. Allocates
 * (glob(3), the entries). Returns the number of entries, -ENOMEM, or -errno
 * when the caller's own namespace file cannot be stat()ed. */
int netns_expand(char *const *patterns, size_t n, const NetnsExpand *x, NetnsList *out);

/* The inode of the caller's own network namespace, and an fd to come back
 * to it (O_RDONLY|O_CLOEXEC on /proc/self/ns/net). */
int netns_open_self(int *ret_fd, uint64_t *ret_inode, ErrBuf *err);

/* Opens a namespace file and checks that it is a network namespace
 * (NS_GET_NSTYPE). Returns the fd and its inode; -ENOTTY "not a network
 * namespace", or -errno of open(). */
int netns_open(const char *path, int *ret_fd, uint64_t *ret_inode, ErrBuf *err);

/* setns() into the namespace fd, runs fn, then setns() back to self_fd.
 * Needs CAP_SYS_ADMIN (and no seccomp filter against setns: systemd's
 * RestrictNamespaces=); -EPERM otherwise, with a reason saying so. Returns
 * fn's result, or -errno of entering. If returning fails the caller is left
 * in the wrong namespace: that is -ENOTRECOVERABLE, and the caller must
 * stop. Not for threaded programs (setns acts on the calling thread). */
int netns_run(int fd, int self_fd, int (*fn)(void *userdata, ErrBuf *err), void *userdata, ErrBuf *err);
