/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "cgroup.h"
#include "util.h"

/* A scan of a busy host visits a few thousand directories; rescanning on
 * every miss (a socket whose cgroup is already gone) would repeat that each
 * poll, so misses rescan at most this often. */
#define CGROUP_RESCAN_USEC (1ULL * 1000000ULL)
#define CGROUP_MAX_DEPTH 32

/* Ids that a scan did not find and that will likely never be (a socket that
 * outlived its cgroup). The daemon looks every listener up on every poll, so
 * without this each one would rescan the hierarchy every interval. More such
 * ids than this only bring those rescans back, never a wrong answer. */
#define CGROUP_MISSING_MAX 256

/* systemd's UNIT_NAME_MAX: a unit name is shorter than this. */
#define UNIT_NAME_MAX 256

typedef struct CgroupEntry {
        uint64_t ino;
        /* One allocation: the path, then the unit and user unit (if any)
         * after its NUL, which the two pointers point into. */
        char *path;
        const char *unit;
        const char *user_unit;
} CgroupEntry;

struct CgroupNames {
        char *root;
        CgroupEntry *entries; /* sorted by ino after a scan */
        size_t n, cap;
        bool scanned;
        bool held;            /* pointers handed out stay valid: a rescan retires the
                               * old entries' strings instead of freeing them */
        bool scanned_in_hold; /* at most one rescan per hold (per poll) */
        char **retired;       /* strings of entries replaced while held */
        size_t n_retired, cap_retired;
        bool missed; /* an id not known missing missed: rescan (on release) */
        uint64_t last_scan_usec;
        uint64_t rescan_usec;
        unsigned scans;

        /* Known missing: ids a scan started after their miss did not find,
         * oldest replaced when full. Only decides whether a miss is worth a
         * rescan; lookups always search the map first. */
        uint64_t missing[CGROUP_MISSING_MAX];
        size_t n_missing, missing_next;
        /* Missed since the last scan and not known missing: judged by the
         * next scan. If more miss, the rest are judged on a later miss. */
        uint64_t pending[CGROUP_MISSING_MAX];
        size_t n_pending;
};

/* ---- unit names (systemd's unit_name_is_valid() and cg_path_get_unit()) ---- */

static bool unit_type_valid(const char *s, size_t n) {
        static const char *const types[] = {
                "service", "socket", "target", "device", "mount", "automount",
                "swap",    "timer",  "path",   "slice",  "scope",
        };

        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strlen(types[i]) == n && memcmp(types[i], s, n) == 0)
                        return true;
        return false;
}

static bool unit_char_valid(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               strchr(":-_.\\@", ch) != NULL;
}

/* Whether the n bytes at s are a unit name: "prefix.type" or, with
 * instance, "prefix@instance.type" (never a template "prefix@.type"). */
static bool unit_name_valid(const char *s, size_t n, bool instance) {
        const char *dot = NULL, *at = NULL;

        if (n == 0 || n >= UNIT_NAME_MAX)
                return false;
        for (size_t i = n; i > 0; i--)
                if (s[i - 1] == '.') {
                        dot = s + i - 1;
                        break;
                }
        if (!dot || dot == s || !unit_type_valid(dot + 1, (size_t) (s + n - dot - 1)))
                return false;
        for (const char *p = s; p < dot; p++) {
                if (!unit_char_valid(*p))
                        return false;
                if (*p == '@' && !at)
                        at = p;
        }
        if (!at)
                return true;
        return instance && at > s && dot > at + 1;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t l = strlen(suffix);

        return n >= l && memcmp(s + n - l, suffix, l) == 0;
}

/* systemd prefixes a cgroup name with '_' when it would clash with the
 * kernel's own files (cg_escape()); one leading '_' is dropped again. */
static void unescape(const char **s, size_t *n) {
        if (*n > 0 && **s == '_') {
                (*s)++;
                (*n)--;
        }
}

static bool is_slice(const char *s, size_t n) {
        if (n < strlen("x.slice") || !ends_with(s, n, ".slice"))
                return false;
        unescape(&s, &n);
        return unit_name_valid(s, n, false);
}

static const char *skip_slashes(const char *p) {
        return p + strspn(p, "/");
}

static const char *skip_slices(const char *p) {
        for (;;) {
                size_t n;

                p = skip_slashes(p);
                n = strcspn(p, "/");
                if (!is_slice(p, n))
                        return p;
                p += n;
        }
}

/* The system unit of path: its first non-slice component, if that is a
 * unit, in *ret and *ret_len (unescaped, not NUL-terminated). */
static bool path_unit(const char *path, const char **ret, size_t *ret_len) {
        const char *p = skip_slices(path);
        size_t n = strcspn(p, "/");

        unescape(&p, &n);
        if (!unit_name_valid(p, n, true) || ends_with(p, n, ".slice"))
                return false;
        *ret = p;
        *ret_len = n;
        return true;
}

/* "user@UID.service", UID a decimal uid other than -1 and 65535 (which
 * systemd reserves). */
static bool is_user_manager(const char *s, size_t n) {
        const size_t pre = strlen("user@"), suf = strlen(".service");
        uint64_t uid = 0;

        if (n <= pre + suf || memcmp(s, "user@", pre) != 0 || !ends_with(s, n, ".service") || n - pre - suf > 10)
                return false;
        for (const char *p = s + pre; p < s + n - suf; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                uid = uid * 10 + (uint64_t) (*p - '0');
        }
        return uid < UINT32_MAX && uid != 65535;
}

static bool path_user_unit(const char *path, const char **ret, size_t *ret_len) {
        const char *p = skip_slices(path);
        size_t n = strcspn(p, "/");

        if (!is_user_manager(p, n))
                return false;
        return path_unit(p + n, ret, ret_len);
}

static const char *copy_out(const char *s, size_t n, char *buf, size_t size) {
        if (n + 1 > size)
                return NULL;
        memcpy(buf, s, n);
        buf[n] = 0;
        return buf;
}

const char *cgroup_path_unit(const char *path, char *buf, size_t size) {
        const char *u;
        size_t n;

        assert(buf || size == 0);
        if (!path || !path_unit(path, &u, &n))
                return NULL;
        return copy_out(u, n, buf, size);
}

const char *cgroup_path_user_unit(const char *path, char *buf, size_t size) {
        const char *u;
        size_t n;

        assert(buf || size == 0);
        if (!path || !path_user_unit(path, &u, &n))
                return NULL;
        return copy_out(u, n, buf, size);
}

/* ---- the map ---- */

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int cgroup_names_new(const char *root, CgroupNames **ret) {
        CgroupNames *c;

        assert(root);
        assert(ret);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->root = strdup(root);
        if (!c->root) {
                free(c);
                return -ENOMEM;
        }
        c->rescan_usec = CGROUP_RESCAN_USEC;
        *ret = c;
        return 0;
}

static void free_retired(CgroupNames *c) {
        for (size_t i = 0; i < c->n_retired; i++)
                free(c->retired[i]);
        c->n_retired = 0;
}

/* Forgets the entries; while held, their strings live on until release. */
static void drop_entries(CgroupNames *c) {
        for (size_t i = 0; i < c->n; i++) {
                if (c->held && GROW(&c->retired, &c->cap_retired, c->n_retired + 1, 64) >= 0)
                        c->retired[c->n_retired++] = c->entries[i].path;
                else if (c->held)
                        continue; /* out of memory: leak rather than dangle */
                else
                        free(c->entries[i].path);
        }
        c->n = 0;
}

CgroupNames *cgroup_names_free(CgroupNames *c) {
        if (!c)
                return NULL;
        c->held = false;
        drop_entries(c);
        free_retired(c);
        free(c->retired);
        free(c->entries);
        free(c->root);
        free(c);
        return NULL;
}

static int add_entry(CgroupNames *c, uint64_t ino, const char *rel) {
        const char *path = *rel ? rel : "/", *u = NULL, *uu = NULL;
        size_t plen = strlen(path), ulen = 0, uulen = 0;
        CgroupEntry *e;
        char *block;
        int r;

        r = GROW(&c->entries, &c->cap, c->n + 1, 256);
        if (r < 0)
                return r;
        if (!path_unit(path, &u, &ulen))
                u = NULL;
        if (!path_user_unit(path, &uu, &uulen))
                uu = NULL;
        block = malloc(plen + 1 + (u ? ulen + 1 : 0) + (uu ? uulen + 1 : 0));
        if (!block)
                return -ENOMEM;
        e = &c->entries[c->n++];
        *e = (CgroupEntry){ .ino = ino, .path = block };
        memcpy(block, path, plen + 1);
        block += plen + 1;
        if (u) {
                e->unit = copy_out(u, ulen, block, ulen + 1);
                block += ulen + 1;
        }
        if (uu)
                e->user_unit = copy_out(uu, uulen, block, uulen + 1);
        return 0;
}

/* Walks the directory open at fd (consumed), whose path relative to the
 * root is rel. Unreadable subtrees are skipped: names are best effort. */
static void walk(CgroupNames *c, int fd, dev_t dev, char *rel, size_t rel_len, size_t rel_size, unsigned depth) {
        struct stat st;
        DIR *d;

        /* Stay on the cgroup2 file system: ids are inode numbers of that one. */
        if (fstat(fd, &st) < 0 || st.st_dev != dev || add_entry(c, (uint64_t) st.st_ino, rel) < 0 ||
            depth >= CGROUP_MAX_DEPTH || !(d = fdopendir(fd))) {
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
                walk(c, cfd, dev, rel, rel_len + 1 + len, rel_size, depth + 1);
                rel[rel_len] = 0;
        }
        closedir(d);
}

static int entry_cmp(const void *a, const void *b) {
        const CgroupEntry *x = a, *y = b;

        return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The unified (v2) hierarchy: the root itself, or "unified" below it on
 * hosts that still mount the v1 controllers (systemd's hybrid layout). */
static int open_unified(const char *root) {
        static const char *const sub[] = { ".", "unified" };
        _cleanup_(closep) int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (rfd < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
                int fd = openat(rfd, sub[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct statfs sfs;

                if (fd < 0)
                        continue;
                if (fstatfs(fd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
                        return fd;
                close(fd);
        }
        return -ENOENT;
}

uint64_t cgroup_id_of(const char *root, const char *path) {
        _cleanup_(closep) int fd = open_unified(root);
        struct stat st;

        while (*path == '/')
                path++;
        if (fd < 0 || !*path || fstatat(fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        return (uint64_t) st.st_ino;
}

static const CgroupEntry *find_entry(const CgroupNames *c, uint64_t id) {
        const CgroupEntry key = { .ino = id };

        /* bsearch() must not be handed a NULL array, even of 0 entries. */
        if (c->n == 0)
                return NULL;
        return bsearch(&key, c->entries, c->n, sizeof(key), entry_cmp);
}

static bool id_in(const uint64_t *ids, size_t n, uint64_t id) {
        for (size_t i = 0; i < n; i++)
                if (ids[i] == id)
                        return true;
        return false;
}

static void missing_add(CgroupNames *c, uint64_t id) {
        if (c->n_missing < CGROUP_MISSING_MAX) {
                c->missing[c->n_missing++] = id;
                return;
        }
        c->missing[c->missing_next] = id;
        c->missing_next = (c->missing_next + 1) % CGROUP_MISSING_MAX;
}

/* A miss of an id the map does not hold: whether a scan may find it. Ids
 * known missing are not worth one; others are remembered for the next scan
 * to judge. */
static bool note_miss(CgroupNames *c, uint64_t id) {
        if (id_in(c->missing, c->n_missing, id))
                return false;
        if (!id_in(c->pending, c->n_pending, id) && c->n_pending < CGROUP_MISSING_MAX)
                c->pending[c->n_pending++] = id;
        c->missed = true;
        return true;
}

static void scan(CgroupNames *c) {
        char rel[4096] = "";
        struct stat st;
        int fd;

        drop_entries(c);
        c->scanned = true;
        c->scanned_in_hold = c->held;
        c->missed = false;
        c->last_scan_usec = now_usec();
        c->scans++;
        fd = open_unified(c->root);
        if (fd >= 0) {
                if (fstat(fd, &st) == 0)
                        walk(c, fd, st.st_dev, rel, 0, sizeof(rel), 0);
                else
                        close(fd);
        }
        if (c->n > 0)
                qsort(c->entries, c->n, sizeof(c->entries[0]), entry_cmp);
        /* This scan started after they missed: what it did not find either
         * is gone for good (cgroup ids are not reused) or will be found by a
         * later scan that something else asks for. */
        for (size_t i = 0; i < c->n_pending; i++)
                if (!find_entry(c, c->pending[i]))
                        missing_add(c, c->pending[i]);
        c->n_pending = 0;
}

static bool may_rescan(const CgroupNames *c) {
        return now_usec() - c->last_scan_usec >= c->rescan_usec;
}

static const CgroupEntry *lookup(CgroupNames *c, uint64_t id) {
        const CgroupEntry *e;

        if (!c || id == 0)
                return NULL;
        if (!c->scanned)
                scan(c);
        e = find_entry(c, id);
        if (e || !note_miss(c, id))
                return e;
        /* The miss rescans at once if the interval allows, and, held, if
         * this hold (this poll) has not scanned yet: a new service's first
         * alert names it. Otherwise it waits for a later scan. */
        if (may_rescan(c) && !(c->held && c->scanned_in_hold)) {
                scan(c);
                e = find_entry(c, id);
        }
        return e;
}

const char *cgroup_names_path(CgroupNames *c, uint64_t id) {
        const CgroupEntry *e = lookup(c, id);

        return e ? e->path : NULL;
}

const char *cgroup_names_unit(CgroupNames *c, uint64_t id) {
        const CgroupEntry *e = lookup(c, id);

        return e ? e->unit : NULL;
}

const char *cgroup_names_user_unit(CgroupNames *c, uint64_t id) {
        const CgroupEntry *e = lookup(c, id);

        return e ? e->user_unit : NULL;
}

void cgroup_names_hold(CgroupNames *c, bool hold) {
        if (!c)
                return;
        c->held = hold;
        c->scanned_in_hold = false;
        if (!hold)
                free_retired(c);
        /* A miss too soon after a scan stays remembered for a later
         * release. Ids a scan already failed to find set no flag
         * (note_miss()). */
        if (!hold && c->missed && may_rescan(c))
                scan(c);
}

bool cgroup_names_pending(const CgroupNames *c, uint64_t id) {
        return c && id != 0 && id_in(c->pending, c->n_pending, id);
}

unsigned cgroup_names_scans(const CgroupNames *c) {
        return c ? c->scans : 0;
}

void cgroup_names_set_rescan_interval(CgroupNames *c, uint64_t usec) {
        if (c)
                c->rescan_usec = usec;
}
