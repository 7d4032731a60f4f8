/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
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

/* Ids that a scan did not find and that will likely never be (a socket that
 * outlived its cgroup: passed to another process, or stored in the fd store
 * across a restart). The daemon looks every listener up on every poll, so
 * without this each one would rescan the hierarchy every OWNER_RESCAN. More
 * such ids than this only bring those rescans back, never a wrong answer. */
#define OWNER_MISSING_MAX 256

/* User names change rarely; a uid the database did not know may appear
 * (useradd, a DynamicUser= service starting). */
#define OWNER_USER_TTL_USEC (60ULL * 1000000ULL)
#define OWNER_USER_MAX 256

#define OWNER_PROCESS_BUDGET_USEC (50ULL * 1000ULL)
#define OWNER_PROCESS_MISS_USEC (5ULL * 1000000ULL)
#define OWNER_PROCESS_MAX 64

typedef struct OwnerEntry {
        uint64_t ino;
        char *path;
        char *unit; /* owner_unit_from_cgroup(path), or NULL */
} OwnerEntry;

typedef struct OwnerUser {
        uint32_t uid;
        char *name; /* NULL: unknown to the database */
        uint64_t checked_usec;
} OwnerUser;

typedef enum ProcState {
        PROC_FREE,
        PROC_FOUND,   /* pid holds the socket at fd */
        PROC_MISSING, /* a whole scan found nobody; until expiry */
        PROC_PARTIAL, /* a scan ran out of time, goes on at next_pid */
} ProcState;

typedef struct OwnerProc {
        uint32_t inode;
        ProcState state;
        int pid, fd;
        int next_pid, next_fd; /* where a PARTIAL scan goes on */
        char comm[16];
        uint64_t expiry_usec, used_usec;
} OwnerProc;

struct Owner {
        char *root;
        OwnerEntry *entries;
        size_t n, cap;
        bool scanned;
        bool held; /* no rescans: pointers handed out stay valid */
        bool missed; /* an id not known missing missed: rescan (on release) */
        uint64_t last_scan_usec;
        uint64_t rescan_usec; /* OWNER_RESCAN_USEC, or a test's own */
        unsigned scans; /* owner_scans(), for tests */

        /* Known missing: ids a scan started after their miss did not find,
         * oldest replaced when full. Only decides whether a miss is worth a
         * rescan; lookups always search the map first. */
        uint64_t missing[OWNER_MISSING_MAX];
        size_t n_missing, missing_next;
        /* Missed since the last scan and not known missing: judged by the
         * next scan. If more miss, the rest are judged on a later miss. */
        uint64_t pending[OWNER_MISSING_MAX];
        size_t n_pending;

        OwnerUser users[OWNER_USER_MAX];
        size_t n_users;

        char *proc_root;
        uint64_t proc_budget_usec;
        uint64_t proc_deadline_usec; /* CLOCK_MONOTONIC; 0 = none */
        OwnerProc procs[OWNER_PROCESS_MAX];
        int *pids; /* scratch for one scan, kept to avoid reallocating */
        size_t n_pids, cap_pids;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int owner_new_full(const char *cgroup_root, const char *proc_root, Owner **ret) {
        Owner *o = calloc(1, sizeof(*o));

        if (!o)
                return -ENOMEM;
        o->root = strdup(cgroup_root);
        o->proc_root = strdup(proc_root);
        if (!o->root || !o->proc_root) {
                owner_free(o);
                return -ENOMEM;
        }
        o->proc_budget_usec = OWNER_PROCESS_BUDGET_USEC;
        o->rescan_usec = OWNER_RESCAN_USEC;
        *ret = o;
        return 0;
}

int owner_new(const char *cgroup_root, Owner **ret) {
        return owner_new_full(cgroup_root, "/proc", ret);
}

static void owner_drop_entries(Owner *o) {
        for (size_t i = 0; i < o->n; i++) {
                free(o->entries[i].path);
                free(o->entries[i].unit);
        }
        o->n = 0;
}

Owner *owner_free(Owner *o) {
        if (!o)
                return NULL;
        owner_drop_entries(o);
        free(o->entries);
        free(o->root);
        for (size_t i = 0; i < o->n_users; i++)
                free(o->users[i].name);
        free(o->proc_root);
        free(o->pids);
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
        char unit[256];
        const char *u;

        o->entries[o->n].path = strdup(*path ? path : "/");
        if (!o->entries[o->n].path)
                return -ENOMEM;
        u = owner_unit_from_cgroup(o->entries[o->n].path, unit, sizeof(unit));
        o->entries[o->n].unit = u ? strdup(u) : NULL;
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

static const OwnerEntry *bsearch_entry(const Owner *o, const OwnerEntry *key) {
        /* bsearch() must not be handed a NULL array, even of 0 entries. */
        if (o->n == 0)
                return NULL;
        return bsearch(key, o->entries, o->n, sizeof(*key), entry_cmp);
}

static bool id_in(const uint64_t *ids, size_t n, uint64_t id) {
        for (size_t i = 0; i < n; i++)
                if (ids[i] == id)
                        return true;
        return false;
}

static void missing_add(Owner *o, uint64_t id) {
        if (o->n_missing < OWNER_MISSING_MAX) {
                o->missing[o->n_missing++] = id;
                return;
        }
        o->missing[o->missing_next] = id;
        o->missing_next = (o->missing_next + 1) % OWNER_MISSING_MAX;
}

/* A miss of an id the map does not hold: whether a scan may find it. Ids
 * known missing are not worth one; others are remembered for the next scan
 * to judge. */
static bool owner_note_miss(Owner *o, uint64_t id) {
        if (id_in(o->missing, o->n_missing, id))
                return false;
        if (!id_in(o->pending, o->n_pending, id) && o->n_pending < OWNER_MISSING_MAX)
                o->pending[o->n_pending++] = id;
        o->missed = true;
        return true;
}

static void owner_walk_root(Owner *o) {
        char rel[4096] = "";
        struct stat st;
        int fd;

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

static void owner_scan(Owner *o) {
        owner_drop_entries(o);
        o->scanned = true;
        o->missed = false;
        o->last_scan_usec = now_usec();
        o->scans++;
        owner_walk_root(o);
        /* This scan started after they missed: what it did not find either
         * is gone for good (cgroup ids are not reused) or will be found by
         * a later scan that something else asks for. */
        for (size_t i = 0; i < o->n_pending; i++) {
                OwnerEntry key = { .ino = o->pending[i] };

                if (!bsearch_entry(o, &key))
                        missing_add(o, key.ino);
        }
        o->n_pending = 0;
}

static bool owner_may_rescan(const Owner *o) {
        return now_usec() - o->last_scan_usec >= o->rescan_usec;
}

static const OwnerEntry *owner_find(Owner *o, uint64_t cgroup_id) {
        OwnerEntry key = { .ino = cgroup_id };
        const OwnerEntry *e;

        if (!o || cgroup_id == 0)
                return NULL;
        if (!o->scanned)
                owner_scan(o);
        e = bsearch_entry(o, &key);
        if (e || !owner_note_miss(o, cgroup_id))
                return e;
        /* Unheld, the miss rescans at once if the interval allows;
         * otherwise, like a miss while held, it waits for a later scan. */
        if (!o->held && owner_may_rescan(o)) {
                owner_scan(o);
                e = bsearch_entry(o, &key);
        }
        return e;
}

const char *owner_cgroup(Owner *o, uint64_t cgroup_id) {
        const OwnerEntry *e = owner_find(o, cgroup_id);

        return e ? e->path : NULL;
}

const char *owner_unit(Owner *o, uint64_t cgroup_id) {
        const OwnerEntry *e = owner_find(o, cgroup_id);

        return e ? e->unit : NULL;
}

void owner_hold(Owner *o, bool hold) {
        if (!o)
                return;
        o->held = hold;
        /* The daemon holds the owner through every poll, so without this a
         * unit started after the last scan would never be found. Too soon
         * after a scan, the miss stays remembered for a later release. Ids
         * a scan already failed to find set no flag (owner_note_miss()). */
        if (!hold && o->missed && owner_may_rescan(o))
                owner_scan(o);
}

void owner_set_rescan_interval(Owner *o, uint64_t usec) {
        if (o)
                o->rescan_usec = usec;
}

unsigned owner_scans(const Owner *o) {
        return o ? o->scans : 0;
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

static void user_refresh(OwnerUser *u, uint64_t now) {
        char stack[4096], *heap = NULL, *buf = stack;
        size_t size = sizeof(stack);
        struct passwd pw, *res = NULL;
        int r;

        u->checked_usec = now;
        for (;;) {
                r = getpwuid_r((uid_t) u->uid, &pw, buf, size, &res);
                if (r != ERANGE || size >= 1024 * 1024)
                        break;
                size *= 2;
                free(heap);
                heap = buf = malloc(size);
                if (!buf) {
                        r = ENOMEM;
                        break;
                }
        }
        if (r == 0 && res && res->pw_name && res->pw_name[0]) {
                /* The usual refresh finds the same name: nothing to copy. */
                if (!u->name || strcmp(u->name, res->pw_name) != 0) {
                        char *n = strdup(res->pw_name);

                        if (n) {
                                free(u->name);
                                u->name = n;
                        }
                }
        } else if (r == 0) {
                free(u->name);
                u->name = NULL;
        }
        /* Other errors (an NSS backend failing, ENOMEM): keep what was
         * known, ask again after the TTL. */
        free(heap);
}

const char *owner_user(Owner *o, uint32_t uid) {
        OwnerUser *u = NULL;
        uint64_t now;

        if (!o)
                return NULL;
        now = now_usec();
        for (size_t i = 0; i < o->n_users; i++)
                if (o->users[i].uid == uid) {
                        u = &o->users[i];
                        break;
                }
        if (u) {
                if (now - u->checked_usec >= OWNER_USER_TTL_USEC)
                        user_refresh(u, now);
                return u->name;
        }
        if (o->n_users < OWNER_USER_MAX)
                u = &o->users[o->n_users++];
        else {
                /* Full (a host rarely has this many uids with sockets):
                 * replace the entry asked for longest ago. */
                u = &o->users[0];
                for (size_t i = 1; i < o->n_users; i++)
                        if (o->users[i].checked_usec < u->checked_usec)
                                u = &o->users[i];
                free(u->name);
        }
        *u = (OwnerUser) { .uid = uid };
        user_refresh(u, now);
        return u->name;
}

void owner_set_process_budget(Owner *o, uint64_t usec) {
        if (o)
                o->proc_budget_usec = usec;
}

void owner_set_process_deadline(Owner *o, uint64_t usec) {
        if (o)
                o->proc_deadline_usec = usec ? now_usec() + usec : 0;
}

static bool parse_pid(const char *s, int *ret) {
        long v = 0;

        if (*s < '1' || *s > '9')
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (INT32_MAX - 9) / 10)
                        return false;
                v = v * 10 + (*s - '0');
        }
        *ret = (int) v;
        return true;
}

/* /proc/<pid>/comm holds up to 15 characters and a newline. */
static int read_comm(int dfd, const char *path, char ret[16]) {
        char buf[64];
        ssize_t n;
        int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf));
        close(fd);
        if (n < 0)
                return -errno;
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (n > 15)
                n = 15;
        memcpy(ret, buf, (size_t) n);
        ret[n] = 0;
        return 0;
}

static bool link_is(int dfd, const char *path, const char *want, size_t wlen) {
        char link[64];
        ssize_t n = readlinkat(dfd, path, link, sizeof(link));

        return n == (ssize_t) wlen && memcmp(link, want, wlen) == 0;
}

/* One scan: what it looks for, and how much of the budget it used. */
typedef struct Scan {
        Owner *o;
        const char *want;
        size_t wlen;
        uint64_t start;
        size_t links;
        bool may_cut; /* procfs: pids and fds are listed in ascending order */
} Scan;

static bool over_budget(const Scan *s) {
        uint64_t now = now_usec();

        return now - s->start >= s->o->proc_budget_usec ||
               (s->o->proc_deadline_usec && now >= s->o->proc_deadline_usec);
}

/* Reads pid's descriptors from number first_fd up. Returns 1 (*ret_fd
 * links to the socket), 0 (no such link, or it cannot tell: EACCES, the
 * process exited) or -ETIMEDOUT with *ret_fd the first descriptor not read.
 * The budget is checked every 64 links read by this call, so that a
 * process with 100000 descriptors cannot hold a scan up and every call
 * makes progress. */
static int pid_holds(Scan *s, int rfd, int pid, int first_fd, int *ret_fd) {
        char path[32];
        int dfd, r = 0;
        DIR *d;

        snprintf(path, sizeof(path), "%d/fd", pid);
        dfd = openat(rfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return 0;
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return 0;
        }
        for (struct dirent *de; r == 0 && (de = readdir(d));) {
                int fd;

                if ((de->d_type != DT_LNK && de->d_type != DT_UNKNOWN) || !parse_pid(de->d_name, &fd))
                        continue;
                if (fd < first_fd)
                        continue;
                if (s->may_cut && s->links > 0 && s->links % 64 == 0 && over_budget(s)) {
                        *ret_fd = fd;
                        r = -ETIMEDOUT;
                        break;
                }
                s->links++;
                if (link_is(dirfd(d), de->d_name, s->want, s->wlen)) {
                        *ret_fd = fd;
                        r = 1;
                }
        }
        closedir(d);
        return r;
}

static int int_cmp(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;

        return x < y ? -1 : x > y;
}

/* Lists the pids from first up, sorted, into o->pids. On procfs the
 * listing stops at the budget once one pid is in (the cut listing still
 * holds the lowest ones); returns whether it is complete. Other trees
 * (tests) are listed whole. */
static int list_pids(Scan *s, int rfd, int first, bool *ret_complete) {
        Owner *o = s->o;
        bool complete = true;
        size_t seen = 0;
        DIR *d;
        int fd;

        fd = dup(rfd);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        o->n_pids = 0;
        for (struct dirent *de; (de = readdir(d));) {
                int pid;

                if (s->may_cut && ++seen % 256 == 0 && o->n_pids > 0 && over_budget(s)) {
                        complete = false;
                        break;
                }
                if (!parse_pid(de->d_name, &pid) || pid < first)
                        continue;
                if (o->n_pids == o->cap_pids) {
                        size_t cap = o->cap_pids ? o->cap_pids * 2 : 1024;
                        int *p = realloc(o->pids, cap * sizeof(*p));

                        if (!p) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        o->pids = p;
                        o->cap_pids = cap;
                }
                o->pids[o->n_pids++] = pid;
        }
        closedir(d);
        qsort(o->pids, o->n_pids, sizeof(o->pids[0]), int_cmp);
        *ret_complete = complete;
        return 0;
}

/* Scans from where e stopped (next_pid, and next_fd within it). */
static int proc_scan(Owner *o, OwnerProc *e, const char *want, size_t wlen) {
        Scan s = { .o = o, .want = want, .wlen = wlen, .start = now_usec() };
        bool complete = true;
        struct statfs sfs;
        int rfd, r;

        if (o->proc_budget_usec == 0 || (o->proc_deadline_usec && now_usec() >= o->proc_deadline_usec)) {
                e->state = PROC_PARTIAL;
                return -ETIMEDOUT;
        }
        rfd = open(o->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        s.may_cut = fstatfs(rfd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
        r = list_pids(&s, rfd, e->next_pid, &complete);
        if (r < 0) {
                close(rfd);
                return r;
        }
        for (size_t i = 0; i < o->n_pids; i++) {
                char path[32];
                int pid = o->pids[i], fd;

                /* The first process is always started, so calls progress. */
                if (i > 0 && over_budget(&s)) {
                        r = -ETIMEDOUT;
                        e->next_pid = pid;
                        e->next_fd = 0;
                        break;
                }
                r = pid_holds(&s, rfd, pid, pid == e->next_pid ? e->next_fd : 0, &fd);
                if (r == -ETIMEDOUT) {
                        e->next_pid = pid;
                        e->next_fd = fd;
                        break;
                }
                e->next_pid = pid + 1;
                e->next_fd = 0;
                if (r == 0)
                        continue;
                snprintf(path, sizeof(path), "%d/comm", pid);
                if (read_comm(rfd, path, e->comm) < 0) {
                        r = 0;
                        continue; /* exited meanwhile */
                }
                e->pid = pid;
                e->fd = fd;
                break;
        }
        close(rfd);
        if (r == 1) {
                e->state = PROC_FOUND;
                return 0;
        }
        if (r == -ETIMEDOUT || !complete) {
                e->state = PROC_PARTIAL;
                return -ETIMEDOUT;
        }
        e->state = PROC_MISSING;
        e->expiry_usec = now_usec() + OWNER_PROCESS_MISS_USEC;
        return -ENOENT;
}

/* Does the cached holder still hold the socket? Refreshes its comm. */
static bool proc_valid(const Owner *o, OwnerProc *e, const char *want, size_t wlen) {
        char path[4096];
        int n;

        n = snprintf(path, sizeof(path), "%s/%d/fd/%d", o->proc_root, e->pid, e->fd);
        if (n < 0 || (size_t) n >= sizeof(path) || !link_is(AT_FDCWD, path, want, wlen))
                return false;
        n = snprintf(path, sizeof(path), "%s/%d/comm", o->proc_root, e->pid);
        return n >= 0 && (size_t) n < sizeof(path) && read_comm(AT_FDCWD, path, e->comm) == 0;
}

static OwnerProc *proc_entry(Owner *o, uint32_t inode) {
        OwnerProc *victim = NULL;

        for (size_t i = 0; i < OWNER_PROCESS_MAX; i++)
                if (o->procs[i].state != PROC_FREE && o->procs[i].inode == inode)
                        return &o->procs[i];
        for (size_t i = 0; i < OWNER_PROCESS_MAX; i++) {
                OwnerProc *e = &o->procs[i];

                if (e->state == PROC_FREE) {
                        victim = e;
                        break;
                }
                if (!victim || e->used_usec < victim->used_usec)
                        victim = e;
        }
        *victim = (OwnerProc) { .inode = inode, .state = PROC_FREE };
        return victim;
}

int owner_process(Owner *o, uint32_t inode, int *ret_pid, char ret_comm[16]) {
        char want[32];
        OwnerProc *e;
        size_t wlen;
        uint64_t now;
        int r;

        if (!o || inode == 0)
                return -EINVAL;
        wlen = (size_t) snprintf(want, sizeof(want), "socket:[%" PRIu32 "]", inode);
        now = now_usec();
        e = proc_entry(o, inode);
        e->used_usec = now;
        if (e->state == PROC_FOUND && !proc_valid(o, e, want, wlen))
                e->state = PROC_FREE;
        else if (e->state == PROC_MISSING) {
                if (now < e->expiry_usec)
                        return -ENOENT;
                e->state = PROC_FREE;
        }
        if (e->state != PROC_FOUND) {
                if (e->state == PROC_FREE)
                        e->next_pid = e->next_fd = 0;
                r = proc_scan(o, e, want, wlen);
                if (r < 0)
                        return r;
        }
        *ret_pid = e->pid;
        memcpy(ret_comm, e->comm, 16);
        return 0;
}
