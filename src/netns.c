/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "netns.h"
#include "snapshot.h"

#define RUN_NETNS "/run/netns/"

void netns_list_clear(NetnsList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].path);
                free(l->items[i].name);
        }
        l->n = 0;
}

void netns_list_done(NetnsList *l) {
        netns_list_clear(l);
        free(l->items);
        *l = (NetnsList){ 0 };
}

/* ip-netns names its namespaces by their file under /run/netns. */
static char *name_for(const char *path) {
        size_t n = strlen(RUN_NETNS);

        if (strncmp(path, RUN_NETNS, n) == 0 && path[n] && !strchr(path + n, '/') &&
            strcmp(path + n, NETNS_HOST_NAME) != 0)
                return strdup(path + n);
        return strdup(path);
}

static bool seen_inode(const NetnsList *l, uint64_t inode) {
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].inode == inode)
                        return true;
        return false;
}

static int add(NetnsList *l, const char *path, uint64_t inode, int error) {
        NetnsFile *f;

        if (GROW(&l->items, &l->cap, l->n + 1, 8) < 0)
                return -ENOMEM;
        f = &l->items[l->n];
        *f = (NetnsFile){ .path = strdup(path), .name = name_for(path), .inode = inode, .error = error };
        if (!f->path || !f->name) {
                free(f->path);
                free(f->name);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

/* Namespace files live on nsfs, one superblock for all of them; the file
 * says which kind of namespace it is (NS_GET_NSTYPE: readlink() of the
 * descriptor would show the bind mount's path for /run/netns files). A file
 * whose inode the caller knows as a network namespace is not opened. */
static int check(const char *path, dev_t nsfs, const NetnsExpand *x, size_t *opens, uint64_t *ret_inode) {
        struct stat st;
        int fd, type;

        if (stat(path, &st) < 0)
                return -errno;
        if (st.st_dev != nsfs)
                return -ENOTTY;
        if (x->known && x->known(x->userdata, (uint64_t) st.st_ino)) {
                *ret_inode = (uint64_t) st.st_ino;
                return 0;
        }
        if (x->max_opens > 0 && *opens >= x->max_opens)
                return -EAGAIN;
        (*opens)++;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        type = ioctl(fd, NS_GET_NSTYPE);
        close(fd);
        if (type != CLONE_NEWNET)
                return -ENOTTY;
        *ret_inode = (uint64_t) st.st_ino;
        return 0;
}

/* Errors that say nothing about whether the file is a namespace. */
static bool transient(int r) {
        return r == -EMFILE || r == -ENFILE || r == -ENOMEM || r == -EAGAIN || r == -EINTR;
}

/* glob(3) reports errors through a callback without user data; the library
 * is single threaded, as the daemon is. */
static int glob_error;

static int remember_glob_error(const char *path, int error) {
        glob_error = error == ENOENT || error == ENOTDIR ? 0 : -error;
        /* A missing directory is no error: nothing is there yet. */
        return glob_error < 0;
}

int netns_expand(char *const *patterns, size_t n, const NetnsExpand *x, NetnsList *out) {
        static const NetnsExpand none = { 0 };
        size_t opens = 0;
        struct stat self;
        int r;

        if (!x)
                x = &none;
        netns_list_clear(out);
        out->deferred = 0;
        if (n == 0)
                return 0;
        if (stat("/proc/self/ns/net", &self) < 0)
                return -errno;
        for (size_t i = 0; i < n; i++) {
                const char *p = patterns[i];
                uint64_t inode = 0;

                if (!strpbrk(p, "*?[")) {
                        r = check(p, self.st_dev, x, &opens, &inode);
                        if (r == -EAGAIN) {
                                out->deferred++;
                                continue;
                        }
                        if (r >= 0 && seen_inode(out, inode))
                                continue;
                        if (add(out, p, r < 0 ? 0 : inode, r < 0 ? r : 0) < 0)
                                return -ENOMEM;
                        continue;
                }

                glob_t g = { 0 };

                /* A directory that cannot be read (EMFILE, EACCES) makes the
                 * whole expansion fail: matching nothing would look as if
                 * every namespace there had gone. */
                glob_error = 0;
                r = glob(p, 0, remember_glob_error, &g);
                if (r == GLOB_NOSPACE || r == GLOB_ABORTED) {
                        globfree(&g);
                        return r == GLOB_NOSPACE ? -ENOMEM : glob_error < 0 ? glob_error : -EIO;
                }
                for (size_t k = 0; r == 0 && k < g.gl_pathc; k++) {
                        int e = check(g.gl_pathv[k], self.st_dev, x, &opens, &inode);

                        if (e == -EAGAIN) {
                                out->deferred++;
                                continue;
                        }
                        /* A match that is not a network namespace file (or
                         * vanished) is not one; a match that could not be
                         * looked at for want of resources is reported. */
                        if ((e < 0 && !transient(e)) || (e >= 0 && seen_inode(out, inode)))
                                continue;
                        if (add(out, g.gl_pathv[k], e < 0 ? 0 : inode, e < 0 ? e : 0) < 0) {
                                globfree(&g);
                                return -ENOMEM;
                        }
                }
                globfree(&g);
        }
        return (int) out->n;
}

int netns_open_self(int *ret_fd, uint64_t *ret_inode, ErrBuf *err) {
        struct stat st;
        int fd;

        /* Known to be a network namespace: no NS_GET_NSTYPE, which valgrind
         * does not know and warns about on stderr at every start. */
        fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errbuf_set(err, -errno, "/proc/self/ns/net: %s", strerror(errno));
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return errbuf_set(err, r, "/proc/self/ns/net: %s", strerror(-r));
        }
        *ret_fd = fd;
        *ret_inode = (uint64_t) st.st_ino;
        return 0;
}

int netns_open(const char *path, int *ret_fd, uint64_t *ret_inode, ErrBuf *err) {
        struct stat st;
        int fd, type;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
        type = ioctl(fd, NS_GET_NSTYPE);
        if (type != CLONE_NEWNET) {
                close(fd);
                return errbuf_set(err, -ENOTTY, "%s: not a network namespace file", path);
        }
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return errbuf_set(err, r, "%s: %s", path, strerror(-r));
        }
        *ret_fd = fd;
        *ret_inode = (uint64_t) st.st_ino;
        return 0;
}

int netns_run(int fd, int self_fd, int (*fn)(void *userdata, ErrBuf *err), void *userdata, ErrBuf *err) {
        int r;

        if (setns(fd, CLONE_NEWNET) < 0) {
                r = -errno;
                if (r == -EPERM)
                        return errbuf_set(err, r,
                                          "cannot enter the namespace: %s (needs CAP_SYS_ADMIN; "
                                          "under systemd, RestrictNamespaces= must allow net)",
                                          strerror(-r));
                return errbuf_set(err, r, "cannot enter the namespace: %s", strerror(-r));
        }
        r = fn(userdata, err);
        if (setns(self_fd, CLONE_NEWNET) < 0)
                return errbuf_set(err, -ENOTRECOVERABLE, "cannot return to the own network namespace: %s",
                                  strerror(errno));
        return r;
}
