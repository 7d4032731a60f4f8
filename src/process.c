/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <time.h>

#include "process.h"
#include "util.h"

#define PROCESS_BUDGET_USEC (50ULL * 1000ULL)
#define PROCESS_MISS_USEC (5ULL * 1000000ULL)
#define PROCESS_CACHE_MAX 512
/* Within one process the budget is checked every this many links. */
#define PROCESS_LINKS_STEP 64

typedef enum ProcState {
        PROC_FREE,
        PROC_FOUND,   /* pid holds the socket at fd */
        PROC_MISSING, /* a whole scan found nobody; until expiry */
        PROC_PARTIAL, /* a scan ran out of time, goes on at next_pid */
} ProcState;

typedef struct ProcEntry {
        uint32_t inode;
        ProcState state;
        int pid, fd;
        int next_pid, next_fd; /* where a PARTIAL scan goes on */
        char comm[16];
        uint64_t expiry_usec, used_usec;
} ProcEntry;

struct ProcessFinder {
        char *proc_root;
        uint64_t budget_usec;
        uint64_t deadline_usec; /* CLOCK_MONOTONIC; 0 = none */
        ProcEntry cache[PROCESS_CACHE_MAX];
        int *pids; /* scratch for one scan, kept to avoid reallocating */
        size_t n_pids, cap_pids;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int process_finder_new(const char *proc_root, ProcessFinder **ret) {
        ProcessFinder *p;

        assert(proc_root);
        assert(ret);
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->proc_root = strdup(proc_root);
        if (!p->proc_root) {
                free(p);
                return -ENOMEM;
        }
        p->budget_usec = PROCESS_BUDGET_USEC;
        *ret = p;
        return 0;
}

ProcessFinder *process_finder_free(ProcessFinder *p) {
        if (!p)
                return NULL;
        free(p->proc_root);
        free(p->pids);
        free(p);
        return NULL;
}

void process_finder_set_budget(ProcessFinder *p, uint64_t usec) {
        if (p)
                p->budget_usec = usec;
}

void process_finder_set_deadline(ProcessFinder *p, uint64_t usec) {
        if (p)
                p->deadline_usec = usec ? now_usec() + usec : 0;
}

/* A positive decimal number without sign or leading zeros, as procfs names
 * pids ("self", "0042" are not pids). */
static bool parse_number(const char *s, int *ret) {
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

/* A descriptor number: as a pid, or "0" (a socket-activated service with
 * StandardInput=socket holds its listener there). */
static bool parse_fd(const char *s, int *ret) {
        if (s[0] == '0' && s[1] == 0) {
                *ret = 0;
                return true;
        }
        return parse_number(s, ret);
}

/* /proc/<pid>/comm holds up to 15 characters and a newline. */
static int read_comm(int dfd, const char *path, char ret[16]) {
        _cleanup_(closep) int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char buf[64];
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf));
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
        ProcessFinder *p;
        const char *want;
        size_t wlen;
        uint64_t start;
        size_t links;
        bool may_cut; /* procfs: pids and fds are listed in ascending order */
} Scan;

static bool over_budget(const Scan *s) {
        uint64_t now = now_usec();

        return now - s->start >= s->p->budget_usec || (s->p->deadline_usec && now >= s->p->deadline_usec);
}

/* Reads pid's descriptors from number first_fd up. Returns 1 (*ret_fd links
 * to the socket), 0 (no such link, or it cannot tell: EACCES, the process
 * exited) or -ETIMEDOUT with *ret_fd the first descriptor not read. The
 * budget is checked every PROCESS_LINKS_STEP links read by this scan, so
 * that a process with 100000 descriptors cannot hold a scan up and every
 * call makes progress. */
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

                if ((de->d_type != DT_LNK && de->d_type != DT_UNKNOWN) || !parse_fd(de->d_name, &fd))
                        continue;
                if (fd < first_fd)
                        continue;
                if (s->may_cut && s->links > 0 && s->links % PROCESS_LINKS_STEP == 0 && over_budget(s)) {
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

/* Lists the pids from first up, sorted, into p->pids. On procfs the listing
 * stops at the budget once one pid is in (the cut listing still holds the
 * lowest ones); *ret_complete says whether it is complete. Other trees
 * (tests) are listed whole. */
static int list_pids(Scan *s, int rfd, int first, bool *ret_complete) {
        ProcessFinder *p = s->p;
        bool complete = true;
        size_t seen = 0;
        DIR *d;
        int fd, r = 0;

        /* Its own open file, so that reading it moves no offset of rfd's. */
        fd = openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        p->n_pids = 0;
        for (struct dirent *de; (de = readdir(d));) {
                int pid;

                if (s->may_cut && ++seen % 256 == 0 && p->n_pids > 0 && over_budget(s)) {
                        complete = false;
                        break;
                }
                if (!parse_number(de->d_name, &pid) || pid < first)
                        continue;
                r = GROW(&p->pids, &p->cap_pids, p->n_pids + 1, 1024);
                if (r < 0)
                        break;
                p->pids[p->n_pids++] = pid;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (p->n_pids > 0)
                qsort(p->pids, p->n_pids, sizeof(p->pids[0]), int_cmp);
        *ret_complete = complete;
        return 0;
}

/* Scans from where e stopped (next_pid, and next_fd within it). */
static int scan(ProcessFinder *p, ProcEntry *e, const char *want, size_t wlen) {
        Scan s = { .p = p, .want = want, .wlen = wlen, .start = now_usec() };
        _cleanup_(closep) int rfd = -1;
        bool complete = true;
        struct statfs sfs;
        int r;

        if (p->budget_usec == 0 || (p->deadline_usec && now_usec() >= p->deadline_usec)) {
                e->state = PROC_PARTIAL;
                return -ETIMEDOUT;
        }
        rfd = open(p->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        s.may_cut = fstatfs(rfd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
        r = list_pids(&s, rfd, e->next_pid, &complete);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_pids; i++) {
                char path[32];
                int pid = p->pids[i], fd;

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
        if (r == 1) {
                e->state = PROC_FOUND;
                return 0;
        }
        if (r == -ETIMEDOUT || !complete) {
                e->state = PROC_PARTIAL;
                return -ETIMEDOUT;
        }
        e->state = PROC_MISSING;
        e->expiry_usec = now_usec() + PROCESS_MISS_USEC;
        return -ENOENT;
}

/* Does the cached holder still hold the socket? Refreshes its comm. */
static bool still_holds(const ProcessFinder *p, ProcEntry *e, const char *want, size_t wlen) {
        char path[4096];
        int n;

        n = snprintf(path, sizeof(path), "%s/%d/fd/%d", p->proc_root, e->pid, e->fd);
        if (n < 0 || (size_t) n >= sizeof(path) || !link_is(AT_FDCWD, path, want, wlen))
                return false;
        n = snprintf(path, sizeof(path), "%s/%d/comm", p->proc_root, e->pid);
        return n >= 0 && (size_t) n < sizeof(path) && read_comm(AT_FDCWD, path, e->comm) == 0;
}

/* The cache entry of inode, or a free one for it (the least recently used
 * replaced). */
static ProcEntry *cache_entry(ProcessFinder *p, uint32_t inode) {
        ProcEntry *victim = NULL;

        for (size_t i = 0; i < PROCESS_CACHE_MAX; i++)
                if (p->cache[i].state != PROC_FREE && p->cache[i].inode == inode)
                        return &p->cache[i];
        for (size_t i = 0; i < PROCESS_CACHE_MAX; i++) {
                ProcEntry *e = &p->cache[i];

                if (e->state == PROC_FREE) {
                        victim = e;
                        break;
                }
                if (!victim || e->used_usec < victim->used_usec)
                        victim = e;
        }
        assert(victim);
        *victim = (ProcEntry){ .inode = inode, .state = PROC_FREE };
        return victim;
}

int process_find(ProcessFinder *p, uint32_t inode, int *ret_pid, char ret_comm[16]) {
        char want[32];
        ProcEntry *e;
        size_t wlen;
        uint64_t now;
        int r;

        assert(ret_pid);
        assert(ret_comm);
        if (!p || inode == 0)
                return -EINVAL;
        wlen = (size_t) snprintf(want, sizeof(want), "socket:[%" PRIu32 "]", inode);
        now = now_usec();
        e = cache_entry(p, inode);
        e->used_usec = now;
        if (e->state == PROC_FOUND && !still_holds(p, e, want, wlen))
                e->state = PROC_FREE;
        else if (e->state == PROC_MISSING) {
                if (now < e->expiry_usec)
                        return -ENOENT;
                e->state = PROC_FREE;
        }
        if (e->state != PROC_FOUND) {
                if (e->state == PROC_FREE)
                        e->next_pid = e->next_fd = 0;
                r = scan(p, e, want, wlen);
                if (r < 0)
                        return r;
        }
        *ret_pid = e->pid;
        memcpy(ret_comm, e->comm, 16);
        return 0;
}

int process_state(const char *proc_root, int pid, char *ret_state) {
        _cleanup_(closep) int fd = -1;
        char path[4096], buf[1024];
        const char *close_paren;
        ssize_t n;
        int k;

        assert(proc_root);
        assert(ret_state);
        if (pid <= 0)
                return -EINVAL;
        k = snprintf(path, sizeof(path), "%s/%d/stat", proc_root, pid);
        if (k < 0 || (size_t) k >= sizeof(path))
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* "PID (COMM) S ...": COMM is at most 64 bytes (a kernel thread's),
         * so the state is well within the first read, and nothing after it
         * holds a ')'. */
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        close_paren = memrchr(buf, ')', (size_t) n);
        if (!close_paren || !memchr(buf, '(', (size_t) (close_paren - buf)))
                return -EBADMSG;
        /* ") S " (or ") S" ending the line, the file): one letter. */
        if (close_paren[1] != ' ' || !close_paren[2] || strchr(" \n", close_paren[2]) ||
            !strchr(" \n", close_paren[3]))
                return -EBADMSG;
        *ret_state = close_paren[2];
        return 0;
}

const char *process_state_text(char state) {
        /* The kernel's task_state_array (fs/proc/array.c). */
        static const char *const named[] = {
                "R (running)", "S (sleeping)", "D (disk sleep)", "T (stopped)", "t (tracing stop)",
                "X (dead)",    "Z (zombie)",   "P (parked)",     "I (idle)",
        };
        static const char letters[] = "A\0B\0C\0D\0E\0F\0G\0H\0I\0J\0K\0L\0M\0N\0O\0P\0Q\0R\0S\0T\0U\0V\0W\0X\0Y\0Z\0"
                                      "a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0k\0l\0m\0n\0o\0p\0q\0r\0s\0t\0u\0v\0w\0x\0y\0z";

        for (size_t i = 0; i < ELEMENTSOF(named); i++)
                if (named[i][0] == state)
                        return named[i];
        if (state >= 'A' && state <= 'Z')
                return &letters[2 * (state - 'A')];
        if (state >= 'a' && state <= 'z')
                return &letters[2 * (26 + state - 'a')];
        return "?";
}
