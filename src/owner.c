/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "owner.h"
#include "util.h"

/* A scan of a busy host visits a few thousand directories; rescanning on
 * every miss (a socket whose cgroup is already gone) would repeat that each
 * poll, so misses rescan at most this often. */
#define OWNER_RESCAN_USEC (5ULL * 1000000ULL)
#define OWNER_MAX_DEPTH 32

typedef struct OwnerEntry {
        uint64_t ino;
        char *path;
} OwnerEntry;

struct Owner {
        char *root;
        OwnerEntry *entries;
        size_t n, cap;
        bool scanned;
        uint64_t last_scan_usec;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int owner_new(const char *cgroup_root, Owner **ret) {
        Owner *o = calloc(1, sizeof(*o));

        if (!o)
                return -ENOMEM;
        o->root = strdup(cgroup_root);
        if (!o->root) {
                free(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

static void owner_drop_entries(Owner *o) {
        for (size_t i = 0; i < o->n; i++)
                free(o->entries[i].path);
        o->n = 0;
}

Owner *owner_free(Owner *o) {
        if (!o)
                return NULL;
        owner_drop_entries(o);
        free(o->entries);
        free(o->root);
        free(o);
        return NULL;
}

static int owner_add(Owner *o, uint64_t ino, const char *path) {
        if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 256;
                OwnerEntry *e = realloc(o->entries, cap * sizeof(*e));

                if (!e)
                        return -ENOMEM;
                o->entries = e;
                o->cap = cap;
        }
        o->entries[o->n].path = strdup(*path ? path : "/");
        if (!o->entries[o->n].path)
                return -ENOMEM;
        o->entries[o->n++].ino = ino;
        return 0;
}

/* Walks the directory open at fd (consumed), whose path relative to the
 * root is rel. Unreadable subtrees are skipped: ownership is best effort. */
static void owner_walk(Owner *o, int fd, dev_t dev, char *rel, size_t rel_len, size_t rel_size, unsigned depth) {
        struct stat st;
        DIR *d;

        /* Stay on the cgroup2 file system: ids are inode numbers of that one. */
        if (fstat(fd, &st) < 0 || st.st_dev != dev || owner_add(o, (uint64_t) st.st_ino, rel) < 0) {
                close(fd);
                return;
        }
        if (depth >= OWNER_MAX_DEPTH || !(d = fdopendir(fd))) {
                close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                size_t len;
                int cfd;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                len = strlen(de->d_name);
                if (rel_len + 1 + len + 1 > rel_size)
                        continue;
                cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (cfd < 0)
                        continue;
                rel[rel_len] = '/';
                memcpy(rel + rel_len + 1, de->d_name, len + 1);
                owner_walk(o, cfd, dev, rel, rel_len + 1 + len, rel_size, depth + 1);
                rel[rel_len] = 0;
        }
        closedir(d);
}

static int entry_cmp(const void *a, const void *b) {
        const OwnerEntry *x = a, *y = b;

        return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The unified (v2) hierarchy: the root itself, or "unified" below it on
 * hosts that still mount the v1 controllers (systemd's hybrid layout). */
static int open_unified(const char *root) {
        static const char *const sub[] = { ".", "unified" };
        int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (rfd < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
                int fd = openat(rfd, sub[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct statfs sfs;

                if (fd < 0)
                        continue;
                if (fstatfs(fd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
                        close(rfd);
                        return fd;
                }
                close(fd);
        }
        close(rfd);
        return -ENOENT;
}

static void owner_scan(Owner *o) {
        char rel[4096] = "";
        struct stat st;
        int fd;

        owner_drop_entries(o);
        o->scanned = true;
        o->last_scan_usec = now_usec();
        fd = open_unified(o->root);
        if (fd < 0)
                return;
        if (fstat(fd, &st) < 0) {
                close(fd);
                return;
        }
        owner_walk(o, fd, st.st_dev, rel, 0, sizeof(rel), 0);
        qsort(o->entries, o->n, sizeof(o->entries[0]), entry_cmp);
}

static const char *owner_lookup(const Owner *o, uint64_t ino) {
        OwnerEntry key = { .ino = ino };
        const OwnerEntry *e = bsearch(&key, o->entries, o->n, sizeof(key), entry_cmp);

        return e ? e->path : NULL;
}

const char *owner_cgroup(Owner *o, uint64_t cgroup_id) {
        const char *p;

        if (!o || cgroup_id == 0)
                return NULL;
        if (!o->scanned)
                owner_scan(o);
        p = owner_lookup(o, cgroup_id);
        if (!p && now_usec() - o->last_scan_usec >= OWNER_RESCAN_USEC) {
                owner_scan(o);
                p = owner_lookup(o, cgroup_id);
        }
        return p;
}

static bool is_unit_name(const char *s, size_t len) {
        static const char *const suffixes[] = { ".service", ".scope", ".socket", ".slice" };

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sl = strlen(suffixes[i]);

                if (len > sl && memcmp(s + len - sl, suffixes[i], sl) == 0)
                        return true;
        }
        return false;
}

const char *owner_unit_from_cgroup(const char *path, char *buf, size_t size) {
        const char *best = NULL;
        size_t best_len = 0;

        if (!path)
                return NULL;
        /* The innermost .service/.scope wins; a .slice only if nothing else
         * names the owner ("user.slice" alone says little, but it is true). */
        for (const char *p = path; *p;) {
                const char *end;
                size_t len;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                len = (size_t) (end - p);
                if (len > 0 && is_unit_name(p, len)) {
                        bool slice = len > 6 && memcmp(p + len - 6, ".slice", 6) == 0;

                        if (!slice || !best || (best_len > 6 && memcmp(best + best_len - 6, ".slice", 6) == 0)) {
                                best = p;
                                best_len = len;
                        }
                }
                p = end;
        }
        if (!best || best_len + 1 > size)
                return NULL;
        memcpy(buf, best, best_len);
        buf[best_len] = 0;
        return buf;
}
