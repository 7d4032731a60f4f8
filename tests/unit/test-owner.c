/* SPDX-License-Identifier: MIT */
/* The owner of a listener: cgroup and unit, user name, holding process. The
 * process scan runs live against /proc for what only the kernel can show
 * (our own sockets, another user's), and against fake trees (symlinks whose
 * targets read "socket:[N]") for ordering, comm parsing and the budget. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "owner.h"
#include "util.h"

/* Live scans that must finish: the default 50 ms is not enough under
 * valgrind on a busy machine, and the budget has tests of its own. */
#define LIVE_BUDGET (20 * 1000000ULL)

START_TEST(test_unit_from_cgroup) {
        char buf[64];

        ck_assert_str_eq(owner_unit_from_cgroup("/system.slice/nginx.service", buf, sizeof(buf)), "nginx.service");
        ck_assert_str_eq(owner_unit_from_cgroup("/system.slice/nginx.service/worker", buf, sizeof(buf)),
                         "nginx.service");
        ck_assert_str_eq(owner_unit_from_cgroup("/user.slice/user-1000.slice/session-4.scope", buf, sizeof(buf)),
                         "session-4.scope");
        ck_assert_str_eq(owner_unit_from_cgroup("/user.slice", buf, sizeof(buf)), "user.slice");
        ck_assert_str_eq(owner_unit_from_cgroup("/machine.slice/libpod-1.scope/container/app.service", buf,
                                                sizeof(buf)),
                         "app.service");
        ck_assert_ptr_null(owner_unit_from_cgroup("/", buf, sizeof(buf)));
        ck_assert_ptr_null(owner_unit_from_cgroup("/docker/0123abcd", buf, sizeof(buf)));
        ck_assert_ptr_null(owner_unit_from_cgroup("/.service", buf, sizeof(buf)));
        ck_assert_ptr_null(owner_unit_from_cgroup("/system.slice/a-very-long-name.service", buf, 8));
        ck_assert_ptr_null(owner_unit_from_cgroup(NULL, buf, sizeof(buf)));
}
END_TEST

/* Our own cgroup, found from the inode number of its directory. */
START_TEST(test_owner_live) {
        char line[4096], dir[4200];
        const char *path = NULL, *base;
        struct stat st;
        Owner *o = NULL;
        FILE *f = fopen("/proc/self/cgroup", "re");

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = 0;
                        path = line + 3;
                }
        fclose(f);
        ck_assert_ptr_nonnull(path);
        base = stat("/sys/fs/cgroup/unified", &st) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
        snprintf(dir, sizeof(dir), "%s%s", base, path);
        ck_assert_int_eq(stat(dir, &st), 0);

        ck_assert_int_eq(owner_new("/sys/fs/cgroup", &o), 0);
        ck_assert_str_eq(owner_cgroup(o, st.st_ino), path);
        ck_assert_ptr_null(owner_cgroup(o, 0));
        ck_assert_ptr_null(owner_cgroup(o, UINT64_MAX));
        owner_free(o);

        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        ck_assert_ptr_null(owner_cgroup(o, st.st_ino));
        ck_assert_ptr_null(owner_free(o));
}
END_TEST

START_TEST(test_user) {
        const char *root;
        Owner *o = NULL;

        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        root = owner_user(o, 0);
        ck_assert_str_eq(root, "root");
        ck_assert_str_eq(owner_user(o, 65534), "nobody");
        ck_assert_ptr_null(owner_user(o, 4000000));
        ck_assert_ptr_null(owner_user(o, UINT32_MAX));
        /* Hits answer from the cache: the very same string. */
        ck_assert_ptr_eq(owner_user(o, 0), root);
        ck_assert_ptr_null(owner_user(o, 4000000));
        ck_assert_ptr_null(owner_user(NULL, 0));
        ck_assert_ptr_null(owner_free(o));
}
END_TEST

/* More uids than the cache holds: old entries are replaced, answers stay. */
START_TEST(test_user_many) {
        Owner *o = NULL;

        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        for (uint32_t uid = 4000000; uid < 4000300; uid++)
                ck_assert_ptr_null(owner_user(o, uid));
        ck_assert_str_eq(owner_user(o, 0), "root");
        ck_assert_str_eq(owner_user(o, 65534), "nobody");
        owner_free(o);
}
END_TEST

static uint32_t sock_inode_quiet(int fd) {
        struct stat st;

        return fstat(fd, &st) == 0 ? (uint32_t) st.st_ino : 0;
}

static uint32_t sock_inode(int fd) {
        struct stat st;

        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        return (uint32_t) st.st_ino;
}

START_TEST(test_process_self) {
        char comm[16] = "", before[16] = "unchanged";
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), gone, pid = -1, keep = -7;
        uint32_t ino, gone_ino;
        Owner *o = NULL;

        /* Our comm is "test-owner" from exec, but valgrind's tool names the
         * process "memcheck-amd64-": say it ourselves. */
        ck_assert_int_eq(prctl(PR_SET_NAME, "test-owner"), 0);
        ck_assert_int_ge(s, 0);
        ino = sock_inode(s);
        gone = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        gone_ino = sock_inode(gone);
        close(gone);

        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        owner_set_process_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        ck_assert_str_eq(comm, "test-owner");
        /* A hit, re-validated. */
        pid = -1;
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        ck_assert_str_eq(comm, "test-owner");

        /* Nobody holds a closed socket; outputs stay untouched. */
        ck_assert_int_eq(owner_process(o, gone_ino, &keep, before), -ENOENT);
        ck_assert_int_eq(keep, -7);
        ck_assert_str_eq(before, "unchanged");
        ck_assert_int_eq(owner_process(o, 0, &keep, before), -EINVAL);
        ck_assert_int_eq(owner_process(NULL, ino, &keep, before), -EINVAL);

        /* Once our socket is closed the cached answer is not given again. */
        close(s);
        ck_assert_int_eq(owner_process(o, ino, &keep, before), -ENOENT);
        ck_assert_int_eq(keep, -7);
        owner_free(o);

        ck_assert_int_eq(owner_new_full("/nonexistent", "/nonexistent", &o), 0);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(owner_process(o, sock_inode(s), &keep, before), -ENOENT);
        close(s);
        owner_free(o);
}
END_TEST

/* A socket shared with a forked child: the lowest pid (us) first, the child
 * once we close our copy, nobody once the child is gone. */
START_TEST(test_process_child) {
        char comm[16], c;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ready[2], pid = -1, status;
        uint32_t ino;
        Owner *o = NULL;
        pid_t child;

        ck_assert_int_eq(prctl(PR_SET_NAME, "test-owner"), 0);
        ck_assert_int_ge(s, 0);
        ino = sock_inode(s);
        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                alarm(30);
                if (prctl(PR_SET_NAME, "qholder") < 0 || write(ready[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);

        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        owner_set_process_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        ck_assert_str_eq(comm, "test-owner");

        close(s);
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, child);
        ck_assert_str_eq(comm, "qholder");
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, child);

        /* The cached holder exits: the hit fails validation, the rescan
         * finds nobody, and that answer is cached. */
        ck_assert_int_eq(kill(child, SIGKILL), 0);
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFSIGNALED(status));
        pid = -7;
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), -ENOENT);
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), -ENOENT);
        ck_assert_int_eq(pid, -7);
        owner_free(o);
}
END_TEST

/* Without privilege, a root process's descriptors cannot be read: the
 * socket's holder is unknown (-ENOENT), and that is not an error. */
START_TEST(test_process_nobody) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), status;
        uint32_t ino;
        pid_t child;

        ck_assert_int_ge(s, 0);
        ino = sock_inode(s);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char comm[16];
                Owner *o = NULL;
                int pid = -7, r;
                DIR *d;

                close(s);
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(10);
                /* Really unprivileged: the parent's descriptors are hidden. */
                d = opendir("/proc/1/fd");
                if (d || errno != EACCES)
                        _exit(11);
                if (owner_new("/nonexistent", &o) < 0)
                        _exit(12);
                owner_set_process_budget(o, LIVE_BUDGET);
                r = owner_process(o, ino, &pid, comm);
                owner_free(o);
                _exit(r == -ENOENT && pid == -7 ? 0 : 13);
        }
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        close(s);
}
END_TEST

static uint64_t usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* A budget of 0 lets only cached answers through; a scan that ran out of
 * time resumes. Also measures one uncached scan of the whole of /proc. */
START_TEST(test_process_budget) {
        char comm[16];
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), gone, pid = -1, r;
        uint32_t ino, gone_ino;
        uint64_t t;
        Owner *o = NULL;

        ck_assert_int_ge(s, 0);
        ino = sock_inode(s);
        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        owner_set_process_budget(o, 0);
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), -ETIMEDOUT);
        ck_assert_int_eq(pid, -1);
        owner_set_process_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        owner_set_process_budget(o, 0);
        pid = -1;
        ck_assert_int_eq(owner_process(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());

        /* An unknown inode: a scan of every process. */
        gone = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        gone_ino = sock_inode(gone);
        close(gone);
        owner_set_process_budget(o, 50000);
        t = usec();
        r = owner_process(o, gone_ino, &pid, comm);
        t = usec() - t;
        fprintf(stderr, "owner_process: uncached scan of /proc: %d after %llu us\n", r, (unsigned long long) t);
        ck_assert(r == -ENOENT || (r == -ETIMEDOUT && t >= 50000));
        close(s);
        owner_free(o);
}
END_TEST

/* One process with thousands of descriptors cannot hold a scan up: the
 * budget also cuts within a process, and the next call goes on from that
 * descriptor. Alone in a private pid namespace with its own procfs, the
 * holder is pid 1 and every call but the last reads exactly 64 links. */
static int fds_below(const char *proc, int fd) {
        char path[128];
        int n = 0, x;
        DIR *d;

        snprintf(path, sizeof(path), "%s/self/fd", proc);
        d = opendir(path);
        if (!d)
                return -1;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.' && (x = atoi(de->d_name)) < fd && x != dirfd(d))
                        n++;
        closedir(d);
        return n;
}

static int big_process(void) {
        char dir[] = "/dev/shm/test-owner-proc-XXXXXX", comm[16];
        struct rlimit rl;
        int s, t, pid = -1, r = 0, calls = 0, n = 0, below;
        Owner *o = NULL;

        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 || !mkdtemp(dir) ||
            mount("proc", dir, "proc", 0, NULL) < 0)
                return 20;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 21;
        rl.rlim_cur = rl.rlim_max < 4000 ? rl.rlim_max : 4000;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || prctl(PR_SET_NAME, "bigholder") < 0)
                return 22;
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        while (n < 3000 && dup(s) >= 0)
                n++;
        t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || t < 0 || n < 1000 || owner_new_full("/nonexistent", dir, &o) < 0)
                return 23;
        below = fds_below(dir, t);
        owner_set_process_budget(o, 1);
        while (calls < 10000 && (r = owner_process(o, sock_inode_quiet(t), &pid, comm)) == -ETIMEDOUT)
                calls++;
        owner_free(o);
        fprintf(stderr, "big_process: %d descriptors before ours, %d calls timed out, then %d pid %d %s\n",
                below, calls, r, pid, r == 0 ? comm : "");
        if (r != 0 || pid != 1 || strcmp(comm, "bigholder") != 0)
                return 24;
        /* t is link number below (from 0); each call reads 64. */
        if (below < n || calls != below / 64)
                return 25;
        umount2(dir, MNT_DETACH);
        rmdir(dir);
        return 0;
}

START_TEST(test_process_budget_within) {
        int status;
        pid_t child;

        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                pid_t inner;

                if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
                        _exit(30);
                inner = fork();
                if (inner < 0)
                        _exit(31);
                if (inner == 0)
                        _exit(big_process());
                if (waitpid(inner, &status, 0) != inner || !WIFEXITED(status))
                        _exit(32);
                _exit(WEXITSTATUS(status));
        }
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* ---- fake proc trees ---- */

static void writef(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
}

static char fake[64];

static void fake_proc(int pid, const char *comm, int fd, const char *target) {
        char p[256];

        snprintf(p, sizeof(p), "%s/%d", fake, pid);
        ck_assert(mkdir(p, 0755) == 0 || errno == EEXIST);
        if (comm) {
                snprintf(p, sizeof(p), "%s/%d/comm", fake, pid);
                writef(p, comm);
        }
        snprintf(p, sizeof(p), "%s/%d/fd", fake, pid);
        ck_assert(mkdir(p, 0755) == 0 || errno == EEXIST);
        if (target) {
                snprintf(p, sizeof(p), "%s/%d/fd/%d", fake, pid, fd);
                ck_assert_int_eq(symlink(target, p), 0);
        }
}

static void fake_setup(void) {
        /* tmpfs: thousands of mkdir and symlink on a disk take seconds. */
        snprintf(fake, sizeof(fake), "%s/test-owner-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(fake));
}

static void fake_teardown(void) {
        char cmd[128];

        if (!fake[0])
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake);
        ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_fake_lowest_and_comm) {
        char comm[16], p[256];
        int pid = -1;
        Owner *o = NULL;

        fake_setup();
        /* Created out of order: the lowest pid must win all the same. */
        fake_proc(1000, "late\n", 3, "socket:[4242]");
        fake_proc(300, "averyveryverylongname\n", 7, "socket:[4242]");
        fake_proc(42, "first\n", 5, "socket:[4242]");
        fake_proc(42, NULL, 0, "/dev/null");
        fake_proc(42, NULL, 1, "socket:[42420]");
        fake_proc(43, "nocomm-holder", 9, "socket:[4243]");
        fake_proc(12, "nofd\n", 0, NULL);
        snprintf(p, sizeof(p), "%s/self", fake);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/0042", fake);
        ck_assert_int_eq(mkdir(p, 0755), 0);

        ck_assert_int_eq(owner_new_full("/nonexistent", fake, &o), 0);
        ck_assert_int_eq(owner_process(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 42);
        ck_assert_str_eq(comm, "first");
        /* No newline at the end of comm: taken as it is. */
        ck_assert_int_eq(owner_process(o, 4243, &pid, comm), 0);
        ck_assert_int_eq(pid, 43);
        ck_assert_str_eq(comm, "nocomm-holder");

        /* Our holder lets go: the next one, its comm cut at 15. */
        snprintf(p, sizeof(p), "%s/42/fd/5", fake);
        ck_assert_int_eq(unlink(p), 0);
        ck_assert_int_eq(owner_process(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 300);
        ck_assert_str_eq(comm, "averyveryverylo");

        /* A holder without a readable comm has exited meanwhile: skipped. */
        snprintf(p, sizeof(p), "%s/300/comm", fake);
        ck_assert_int_eq(unlink(p), 0);
        ck_assert_int_eq(owner_process(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 1000);
        ck_assert_str_eq(comm, "late");
        /* comm changed (exec): read again on a hit. */
        snprintf(p, sizeof(p), "%s/1000/comm", fake);
        writef(p, "renamed\n");
        ck_assert_int_eq(owner_process(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 1000);
        ck_assert_str_eq(comm, "renamed");

        /* Not found is cached: a holder appearing within 5 s is not seen. */
        ck_assert_int_eq(owner_process(o, 999, &pid, comm), -ENOENT);
        fake_proc(50, "newcomer\n", 4, "socket:[999]");
        ck_assert_int_eq(owner_process(o, 999, &pid, comm), -ENOENT);
        ck_assert_int_eq(pid, 1000);
        owner_free(o);

        /* A fresh Owner sees it. */
        ck_assert_int_eq(owner_new_full("/nonexistent", fake, &o), 0);
        ck_assert_int_eq(owner_process(o, 999, &pid, comm), 0);
        ck_assert_int_eq(pid, 50);
        ck_assert_str_eq(comm, "newcomer");
        owner_free(o);
        fake_teardown();
}
END_TEST

/* Many processes, a tiny budget: every call times out after reading at
 * least one process, and the calls resume until the holder is found. */
START_TEST(test_fake_budget_resume) {
        char comm[16];
        int pid = -1, r = 0, calls = 0;
        Owner *o = NULL;

        fake_setup();
        for (int p = 2; p < 600; p++) {
                char c[32];

                snprintf(c, sizeof(c), "p%d\n", p);
                fake_proc(p, c, 3, "socket:[1]");
                fake_proc(p, NULL, 4, "pipe:[2]");
        }
        fake_proc(555, NULL, 9, "socket:[31337]");
        fake_proc(560, NULL, 9, "socket:[31337]");

        ck_assert_int_eq(owner_new_full("/nonexistent", fake, &o), 0);
        owner_set_process_budget(o, 0);
        ck_assert_int_eq(owner_process(o, 31337, &pid, comm), -ETIMEDOUT);
        owner_set_process_budget(o, 1);
        while (calls < 1000 && (r = owner_process(o, 31337, &pid, comm)) == -ETIMEDOUT)
                calls++;
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(pid, 555);
        ck_assert_str_eq(comm, "p555");
        ck_assert_int_gt(calls, 10);
        ck_assert_int_le(calls, 554);

        /* The same with a budget that fits: one call. */
        owner_set_process_budget(o, 10 * 1000000ULL);
        ck_assert_int_eq(owner_process(o, 1, &pid, comm), 0);
        ck_assert_int_eq(pid, 2);
        ck_assert_str_eq(comm, "p2");
        owner_free(o);
        fake_teardown();
}
END_TEST

static uint64_t mkdir_ino(const char *dir, const char *name) {
        char p[256];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        if (mkdir(p, 0755) < 0 || stat(p, &st) < 0)
                return 0;
        return (uint64_t) st.st_ino;
}

/* The first mismatch of test_hold_rescan, asserted once its cgroups are
 * removed again: a failing check would leave them behind. */
static char hold_failure[256];

static void expect(unsigned line, const char *got, const char *want) {
        if (hold_failure[0] || (!got && !want) || (got && want && strcmp(got, want) == 0))
                return;
        snprintf(hold_failure, sizeof(hold_failure), "line %u: got %s, want %s", line, got ? got : "NULL",
                 want ? want : "NULL");
}
#define EXPECT(got, want) expect(__LINE__, got, want)

static void expect_u(unsigned line, unsigned got, unsigned want) {
        if (hold_failure[0] || got == want)
                return;
        snprintf(hold_failure, sizeof(hold_failure), "line %u: got %u, want %u", line, got, want);
}
#define EXPECT_SCANS(o, want) expect_u(__LINE__, owner_scans(o), want)

/* A private cgroup2 mount (in a cgroup namespace of our own, so below this
 * test's cgroup) and a directory in it, into mnt and top. Root only (the
 * TCase "root"): as root, not getting them is a failure. */
static void cgroup_setup(char mnt[64], char top[128]) {
        snprintf(mnt, 64, "%s/test-owner-cg-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        ck_assert_msg(unshare(CLONE_NEWNS | CLONE_NEWCGROUP) == 0 &&
                              mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 && mkdtemp(mnt),
                      "no private mount and cgroup namespace: %s", strerror(errno));
        ck_assert_msg(mount("cgroup2", mnt, "cgroup2", 0, NULL) == 0, "cannot mount cgroup2: %s", strerror(errno));
        snprintf(top, 128, "%s/test-owner-XXXXXX", mnt);
        ck_assert_ptr_nonnull(mkdtemp(top));
}

static void cgroup_teardown(const char *mnt, const char *top, const char *const *names, size_t n) {
        char p[256];

        for (size_t i = 0; i < n; i++) {
                snprintf(p, sizeof(p), "%s/%s", top, names[i]);
                rmdir(p);
        }
        ck_assert_int_eq(rmdir(top), 0);
        ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
        ck_assert_int_eq(rmdir(mnt), 0);
}

/* A unit that starts while the daemon holds the owner through its polls:
 * the miss is remembered and the release rescans, at most as often as the
 * rescan interval allows. The tree is a real cgroup2 one (the scan checks
 * the file system), mounted in a cgroup namespace of our own, so the
 * directories made are below this test's cgroup. */
START_TEST(test_hold_rescan) {
        static const char *const names[] = { "d.service", "c.service", "b.service", "a.service" };
        char mnt[64], top[128], p[256];
        uint64_t a, b, c, d;
        Owner *o = NULL;

        cgroup_setup(mnt, top);
        a = mkdir_ino(top, "a.service");
        ck_assert_int_eq(owner_new(top, &o), 0);
        owner_set_rescan_interval(o, 0);
        EXPECT_SCANS(o, 0);
        EXPECT(owner_cgroup(o, a), "/a.service");
        EXPECT_SCANS(o, 1);

        /* Started after the first scan: not seen while held, even though
         * the interval would allow a rescan; found from the release on. */
        b = mkdir_ino(top, "b.service");
        owner_hold(o, true);
        EXPECT(owner_unit(o, b), NULL);
        EXPECT(owner_unit(o, a), "a.service");
        owner_hold(o, false);
        EXPECT_SCANS(o, 2);
        owner_hold(o, true);
        EXPECT(owner_unit(o, b), "b.service");
        EXPECT(owner_cgroup(o, b), "/b.service");
        owner_hold(o, false);
        EXPECT_SCANS(o, 2);

        /* A release without a miss does not rescan. */
        c = mkdir_ino(top, "c.service");
        owner_hold(o, true);
        owner_hold(o, false);
        EXPECT_SCANS(o, 2);
        owner_hold(o, true);
        EXPECT(owner_unit(o, c), NULL);
        owner_hold(o, false);
        EXPECT_SCANS(o, 3);
        EXPECT(owner_unit(o, c), "c.service");

        /* Too soon after a scan the release does not rescan, but the miss
         * is kept: a later release, once allowed, rescans without another. */
        d = mkdir_ino(top, "d.service");
        owner_set_rescan_interval(o, 3600ULL * 1000000ULL);
        owner_hold(o, true);
        EXPECT(owner_unit(o, d), NULL);
        owner_hold(o, false);
        owner_hold(o, true);
        EXPECT(owner_cgroup(o, d), NULL);
        owner_hold(o, false);
        owner_set_rescan_interval(o, 0);
        owner_hold(o, true);
        owner_hold(o, false);
        owner_hold(o, true);
        EXPECT(owner_unit(o, d), "d.service");
        owner_hold(o, false);
        EXPECT_SCANS(o, 4);
        owner_free(o);

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(p, sizeof(p), "%s/%s", top, names[i]);
                rmdir(p);
        }
        ck_assert_int_eq(rmdir(top), 0);
        ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
        ck_assert_int_eq(rmdir(mnt), 0);
        ck_assert(a != 0 && b != 0 && c != 0 && d != 0);
        ck_assert_msg(hold_failure[0] == 0, "%s", hold_failure);
}
END_TEST

/* A socket whose cgroup was removed (passed to another process, kept in
 * the fd store across a restart) is looked up on every poll: one scan
 * that does not find it is enough, later misses and releases rescan
 * nothing. A unit started meanwhile is still found after one release. */
START_TEST(test_known_missing) {
        static const char *const names[] = { "new.service", "a.service" };
        char mnt[64], top[128], p[256];
        uint64_t a, gone, fresh;
        Owner *o = NULL;

        cgroup_setup(mnt, top);
        a = mkdir_ino(top, "a.service");
        gone = mkdir_ino(top, "gone.service");
        snprintf(p, sizeof(p), "%s/gone.service", top);
        ck_assert_int_eq(rmdir(p), 0);

        ck_assert_int_eq(owner_new(top, &o), 0);
        owner_set_rescan_interval(o, 0);
        /* The first lookup scans; the miss is judged by the release's. */
        owner_hold(o, true);
        EXPECT(owner_cgroup(o, gone), NULL);
        EXPECT(owner_unit(o, a), "a.service");
        EXPECT_SCANS(o, 1);
        owner_hold(o, false);
        EXPECT_SCANS(o, 2);

        /* Known missing: polls of it rescan nothing, held or not, however
         * often the interval would allow. */
        for (int i = 0; i < 5; i++) {
                owner_hold(o, true);
                EXPECT(owner_cgroup(o, gone), NULL);
                EXPECT(owner_unit(o, gone), NULL);
                EXPECT(owner_unit(o, a), "a.service");
                owner_hold(o, false);
        }
        EXPECT(owner_cgroup(o, gone), NULL);
        EXPECT_SCANS(o, 2);

        /* A unit started now: its miss is new, so the release rescans
         * once, and from then on it is known. The gone id stays known
         * missing across that scan. */
        fresh = mkdir_ino(top, "new.service");
        owner_hold(o, true);
        EXPECT(owner_unit(o, gone), NULL);
        EXPECT(owner_unit(o, fresh), NULL);
        owner_hold(o, false);
        EXPECT_SCANS(o, 3);
        for (int i = 0; i < 3; i++) {
                owner_hold(o, true);
                EXPECT(owner_unit(o, fresh), "new.service");
                EXPECT(owner_cgroup(o, gone), NULL);
                owner_hold(o, false);
        }
        EXPECT_SCANS(o, 3);
        owner_free(o);

        /* Unheld (--once), the same: a miss scans at once, once. */
        ck_assert_int_eq(owner_new(top, &o), 0);
        owner_set_rescan_interval(o, 0);
        EXPECT(owner_cgroup(o, gone), NULL); /* first scan, then a rescan */
        EXPECT_SCANS(o, 2);
        EXPECT(owner_cgroup(o, gone), NULL);
        EXPECT(owner_unit(o, gone), NULL);
        EXPECT(owner_cgroup(o, fresh), "/new.service");
        EXPECT_SCANS(o, 2);
        owner_free(o);

        cgroup_teardown(mnt, top, names, ELEMENTSOF(names));
        ck_assert(a != 0 && gone != 0 && fresh != 0 && gone != a && fresh != gone);
        ck_assert_msg(hold_failure[0] == 0, "%s", hold_failure);
}
END_TEST

/* At most 256 ids are known missing, the oldest replaced; so are the misses
 * a scan is to judge. Ids that no cgroup has (the root does not even exist,
 * so every scan finds nothing). */
#define FAKE_ID(i) ((1ULL << 62) + (uint64_t) (i))

static void hold_miss(Owner *o, unsigned from, unsigned to) {
        owner_hold(o, true);
        for (unsigned i = from; i < to; i++)
                ck_assert_ptr_null(owner_cgroup(o, FAKE_ID(i)));
        owner_hold(o, false);
}

START_TEST(test_known_missing_bounded) {
        Owner *o = NULL;

        ck_assert_int_eq(owner_new("/nonexistent", &o), 0);
        owner_set_rescan_interval(o, 0);
        hold_miss(o, 0, 256); /* the first scan, then the release's */
        ck_assert_uint_eq(owner_scans(o), 2);
        hold_miss(o, 0, 256); /* all 256 are known */
        ck_assert_uint_eq(owner_scans(o), 2);

        /* A 257th replaces the oldest, 0: 1..256 are known, 0 is not. */
        hold_miss(o, 256, 257);
        ck_assert_uint_eq(owner_scans(o), 3);
        hold_miss(o, 1, 257);
        ck_assert_uint_eq(owner_scans(o), 3);
        hold_miss(o, 0, 1);
        ck_assert_uint_eq(owner_scans(o), 4);
        /* 0 replaced 1 in turn; unheld, a forgotten id rescans once too. */
        ck_assert_ptr_null(owner_cgroup(o, FAKE_ID(1)));
        ck_assert_uint_eq(owner_scans(o), 5);
        ck_assert_ptr_null(owner_cgroup(o, FAKE_ID(1)));
        ck_assert_ptr_null(owner_cgroup(o, FAKE_ID(0)));
        ck_assert_ptr_null(owner_cgroup(o, FAKE_ID(256)));
        ck_assert_uint_eq(owner_scans(o), 5);

        /* 300 new misses in one poll: the first 256 are judged by the
         * release's scan, the 44 others (not remembered) by the next. */
        hold_miss(o, 1000, 1300);
        ck_assert_uint_eq(owner_scans(o), 6);
        hold_miss(o, 1000, 1256);
        ck_assert_uint_eq(owner_scans(o), 6);
        hold_miss(o, 1256, 1300);
        ck_assert_uint_eq(owner_scans(o), 7);
        hold_miss(o, 1256, 1300);
        ck_assert_uint_eq(owner_scans(o), 7);
        ck_assert_uint_eq(owner_scans(NULL), 0);
        owner_free(o);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("owner");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_unit_from_cgroup);
        tcase_add_test(tc, test_owner_live);
        tcase_add_test(tc, test_user);
        tcase_add_test(tc, test_user_many);
        tcase_add_test(tc, test_process_self);
        tcase_add_test(tc, test_process_child);
        tcase_add_test(tc, test_process_budget);
        tcase_add_test(tc, test_fake_lowest_and_comm);
        tcase_add_test(tc, test_fake_budget_resume);
        tcase_add_test(tc, test_known_missing_bounded);
        suite_add_tcase(s, tc);

        /* Dropping to nobody, pid and cgroup namespaces, cgroup2 mounts: root. */
        tc = tcase_create_root();
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_process_nobody);
        tcase_add_test(tc, test_process_budget_within);
        tcase_add_test(tc, test_hold_rescan);
        tcase_add_test(tc, test_known_missing);
        suite_add_tcase(s, tc);
        return s;
}
