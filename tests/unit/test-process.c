/* SPDX-License-Identifier: MIT */
/* Processes from /proc: which one holds a socket, and its state. The scan
 * runs live against /proc for what only the kernel can show (our own
 * sockets, another user's), and against fake trees (symlinks whose targets
 * read "socket:[N]") for ordering, comm parsing and the budget. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "process.h"
#include "util.h"

/* Live scans that must finish: the default 50 ms is not enough under
 * valgrind on a busy machine, and the budget has tests of its own. */
#define LIVE_BUDGET (20 * 1000000ULL)

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
        ProcessFinder *o = NULL;

        /* Our comm is "test-process" from exec, but valgrind's tool names the
         * process "memcheck-amd64-": say it ourselves. */
        ck_assert_int_eq(prctl(PR_SET_NAME, "test-process"), 0);
        ck_assert_int_ge(s, 0);
        ino = sock_inode(s);
        gone = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        gone_ino = sock_inode(gone);
        close(gone);

        ck_assert_int_eq(process_finder_new("/proc", &o), 0);
        process_finder_set_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        ck_assert_str_eq(comm, "test-process");
        /* A hit, re-validated. */
        pid = -1;
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        ck_assert_str_eq(comm, "test-process");

        /* Nobody holds a closed socket; outputs stay untouched. */
        ck_assert_int_eq(process_find(o, gone_ino, &keep, before), -ENOENT);
        ck_assert_int_eq(keep, -7);
        ck_assert_str_eq(before, "unchanged");
        ck_assert_int_eq(process_find(o, 0, &keep, before), -EINVAL);
        ck_assert_int_eq(process_find(NULL, ino, &keep, before), -EINVAL);

        /* Once our socket is closed the cached answer is not given again. */
        close(s);
        ck_assert_int_eq(process_find(o, ino, &keep, before), -ENOENT);
        ck_assert_int_eq(keep, -7);
        process_finder_free(o);

        ck_assert_int_eq(process_finder_new("/nonexistent", &o), 0);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(process_find(o, sock_inode(s), &keep, before), -ENOENT);
        close(s);
        process_finder_free(o);
}
END_TEST

/* A socket shared with a forked child: the lowest pid (us) first, the child
 * once we close our copy, nobody once the child is gone. */
START_TEST(test_process_child) {
        char comm[16], c;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ready[2], pid = -1, status;
        uint32_t ino;
        ProcessFinder *o = NULL;
        pid_t child;

        ck_assert_int_eq(prctl(PR_SET_NAME, "test-process"), 0);
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

        ck_assert_int_eq(process_finder_new("/proc", &o), 0);
        process_finder_set_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        ck_assert_str_eq(comm, "test-process");

        close(s);
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, child);
        ck_assert_str_eq(comm, "qholder");
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, child);

        /* The cached holder exits: the hit fails validation, the rescan
         * finds nobody, and that answer is cached. */
        ck_assert_int_eq(kill(child, SIGKILL), 0);
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFSIGNALED(status));
        pid = -7;
        ck_assert_int_eq(process_find(o, ino, &pid, comm), -ENOENT);
        ck_assert_int_eq(process_find(o, ino, &pid, comm), -ENOENT);
        ck_assert_int_eq(pid, -7);
        process_finder_free(o);
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
                ProcessFinder *o = NULL;
                int pid = -7, r;
                DIR *d;

                close(s);
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(10);
                /* Really unprivileged: the parent's descriptors are hidden. */
                d = opendir("/proc/1/fd");
                if (d || errno != EACCES)
                        _exit(11);
                if (process_finder_new("/proc", &o) < 0)
                        _exit(12);
                process_finder_set_budget(o, LIVE_BUDGET);
                r = process_find(o, ino, &pid, comm);
                process_finder_free(o);
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
        ProcessFinder *o = NULL;

        ck_assert_int_ge(s, 0);
        ino = sock_inode(s);
        ck_assert_int_eq(process_finder_new("/proc", &o), 0);
        process_finder_set_budget(o, 0);
        ck_assert_int_eq(process_find(o, ino, &pid, comm), -ETIMEDOUT);
        ck_assert_int_eq(pid, -1);
        process_finder_set_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        process_finder_set_budget(o, 0);
        pid = -1;
        ck_assert_int_eq(process_find(o, ino, &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());

        /* An unknown inode: a scan of every process. */
        gone = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        gone_ino = sock_inode(gone);
        close(gone);
        process_finder_set_budget(o, 50000);
        t = usec();
        r = process_find(o, gone_ino, &pid, comm);
        t = usec() - t;
        fprintf(stderr, "process_find: uncached scan of /proc: %d after %llu us\n", r, (unsigned long long) t);
        ck_assert(r == -ENOENT || (r == -ETIMEDOUT && t >= 50000));
        close(s);
        process_finder_free(o);
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
        char dir[] = "/dev/shm/test-process-proc-XXXXXX", comm[16];
        struct rlimit rl;
        int s, t, pid = -1, r = 0, calls = 0, n = 0, below;
        ProcessFinder *o = NULL;

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
        if (s < 0 || t < 0 || n < 1000 || process_finder_new(dir, &o) < 0)
                return 23;
        below = fds_below(dir, t);
        process_finder_set_budget(o, 1);
        while (calls < 10000 && (r = process_find(o, sock_inode_quiet(t), &pid, comm)) == -ETIMEDOUT)
                calls++;
        process_finder_free(o);
        fprintf(stderr, "big_process: %d descriptors before ours, %d calls timed out, then %d pid %d %s\n", below,
                calls, r, pid, r == 0 ? comm : "");
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
        snprintf(fake, sizeof(fake), "%s/test-process-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
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
        ProcessFinder *o = NULL;

        fake_setup();
        /* Created out of order: the lowest pid must win all the same. */
        fake_proc(1000, "late\n", 3, "socket:[4242]");
        fake_proc(300, "averyveryverylongname\n", 7, "socket:[4242]");
        fake_proc(42, "first\n", 5, "socket:[4242]");
        fake_proc(42, NULL, 0, "/dev/null");
        fake_proc(42, NULL, 1, "socket:[42420]");
        fake_proc(43, "nocomm-holder", 9, "socket:[4243]");
        fake_proc(12, "nofd\n", 0, NULL);
        fake_proc(44, "stdin\n", 0, "socket:[4244]");
        snprintf(p, sizeof(p), "%s/self", fake);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/0042", fake);
        ck_assert_int_eq(mkdir(p, 0755), 0);

        ck_assert_int_eq(process_finder_new(fake, &o), 0);
        ck_assert_int_eq(process_find(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 42);
        ck_assert_str_eq(comm, "first");
        /* No newline at the end of comm: taken as it is. */
        ck_assert_int_eq(process_find(o, 4243, &pid, comm), 0);
        ck_assert_int_eq(pid, 43);
        ck_assert_str_eq(comm, "nocomm-holder");
        /* Descriptor 0 counts (StandardInput=socket). */
        ck_assert_int_eq(process_find(o, 4244, &pid, comm), 0);
        ck_assert_int_eq(pid, 44);
        ck_assert_str_eq(comm, "stdin");

        /* Our holder lets go: the next one, its comm cut at 15. */
        snprintf(p, sizeof(p), "%s/42/fd/5", fake);
        ck_assert_int_eq(unlink(p), 0);
        ck_assert_int_eq(process_find(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 300);
        ck_assert_str_eq(comm, "averyveryverylo");

        /* A holder without a readable comm has exited meanwhile: skipped. */
        snprintf(p, sizeof(p), "%s/300/comm", fake);
        ck_assert_int_eq(unlink(p), 0);
        ck_assert_int_eq(process_find(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 1000);
        ck_assert_str_eq(comm, "late");
        /* comm changed (exec): read again on a hit. */
        snprintf(p, sizeof(p), "%s/1000/comm", fake);
        writef(p, "renamed\n");
        ck_assert_int_eq(process_find(o, 4242, &pid, comm), 0);
        ck_assert_int_eq(pid, 1000);
        ck_assert_str_eq(comm, "renamed");

        /* Not found is cached: a holder appearing within 5 s is not seen. */
        ck_assert_int_eq(process_find(o, 999, &pid, comm), -ENOENT);
        fake_proc(50, "newcomer\n", 4, "socket:[999]");
        ck_assert_int_eq(process_find(o, 999, &pid, comm), -ENOENT);
        ck_assert_int_eq(pid, 1000);
        process_finder_free(o);

        /* A fresh finder sees it. */
        ck_assert_int_eq(process_finder_new(fake, &o), 0);
        ck_assert_int_eq(process_find(o, 999, &pid, comm), 0);
        ck_assert_int_eq(pid, 50);
        ck_assert_str_eq(comm, "newcomer");
        process_finder_free(o);
        fake_teardown();
}
END_TEST

/* Many processes, a tiny budget: every call times out after reading at
 * least one process, and the calls resume until the holder is found. */
START_TEST(test_fake_budget_resume) {
        char comm[16];
        int pid = -1, r = 0, calls = 0;
        ProcessFinder *o = NULL;

        fake_setup();
        for (int p = 2; p < 600; p++) {
                char c[32];

                snprintf(c, sizeof(c), "p%d\n", p);
                fake_proc(p, c, 3, "socket:[1]");
                fake_proc(p, NULL, 4, "pipe:[2]");
        }
        fake_proc(555, NULL, 9, "socket:[31337]");
        fake_proc(560, NULL, 9, "socket:[31337]");

        ck_assert_int_eq(process_finder_new(fake, &o), 0);
        process_finder_set_budget(o, 0);
        ck_assert_int_eq(process_find(o, 31337, &pid, comm), -ETIMEDOUT);
        process_finder_set_budget(o, 1);
        while (calls < 1000 && (r = process_find(o, 31337, &pid, comm)) == -ETIMEDOUT)
                calls++;
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(pid, 555);
        ck_assert_str_eq(comm, "p555");
        ck_assert_int_gt(calls, 10);
        ck_assert_int_le(calls, 554);

        /* The same with a budget that fits: one call. */
        process_finder_set_budget(o, 10 * 1000000ULL);
        ck_assert_int_eq(process_find(o, 1, &pid, comm), 0);
        ck_assert_int_eq(pid, 2);
        ck_assert_str_eq(comm, "p2");
        process_finder_free(o);
        fake_teardown();
}
END_TEST

START_TEST(test_process_null) {
        _cleanup_(process_finder_freep) ProcessFinder *p = NULL;
        char comm[16] = "unchanged";
        int pid = -7;

        ck_assert_ptr_null(process_finder_free(NULL));
        ck_assert_int_eq(process_find(NULL, 1, &pid, comm), -EINVAL);
        process_finder_set_budget(NULL, 1);
        process_finder_set_deadline(NULL, 1);
        ck_assert_int_eq(process_finder_new("/proc", &p), 0);
        ck_assert_int_eq(process_find(p, 0, &pid, comm), -EINVAL);
        ck_assert_int_eq(pid, -7);
        ck_assert_str_eq(comm, "unchanged");
}
END_TEST

/* A deadline in the past lets only cached answers through, whatever the
 * budget; 0 lifts it. */
START_TEST(test_process_deadline) {
        char comm[16];
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int pid = -1;
        ProcessFinder *o = NULL;

        ck_assert_int_ge(s, 0);
        ck_assert_int_ge(t, 0);
        ck_assert_int_eq(process_finder_new("/proc", &o), 0);
        process_finder_set_budget(o, LIVE_BUDGET);
        ck_assert_int_eq(process_find(o, sock_inode(s), &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        process_finder_set_deadline(o, 1);
        usleep(2000);
        pid = -1;
        ck_assert_int_eq(process_find(o, sock_inode(t), &pid, comm), -ETIMEDOUT);
        ck_assert_int_eq(pid, -1);
        ck_assert_int_eq(process_find(o, sock_inode(s), &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        process_finder_set_deadline(o, 0);
        pid = -1;
        ck_assert_int_eq(process_find(o, sock_inode(t), &pid, comm), 0);
        ck_assert_int_eq(pid, getpid());
        process_finder_free(o);
        close(s);
        close(t);
}
END_TEST

/* ---- process_state() ---- */

START_TEST(test_state_live) {
        char state = '?';
        int status;
        pid_t child;

        /* Reading our own stat, we are running. */
        ck_assert_int_eq(process_state("/proc", getpid(), &state), 0);
        ck_assert_int_eq(state, 'R');

        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                alarm(30);
                for (;;)
                        pause();
        }
        ck_assert_int_eq(kill(child, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(child, &status, WUNTRACED), child);
        ck_assert(WIFSTOPPED(status));
        state = '?';
        ck_assert_int_eq(process_state("/proc", child, &state), 0);
        ck_assert_int_eq(state, 'T');
        ck_assert_str_eq(process_state_text(state), "T (stopped)");
        /* the words are /proc/<pid>/status's */
        {
                char path[64], line[256];
                bool found = false;
                FILE *f;

                snprintf(path, sizeof(path), "/proc/%d/status", (int) child);
                f = fopen(path, "re");
                ck_assert_ptr_nonnull(f);
                while (fgets(line, sizeof(line), f))
                        if (strncmp(line, "State:\t", 7) == 0) {
                                ck_assert_str_eq(line + 7, "T (stopped)\n");
                                found = true;
                        }
                fclose(f);
                ck_assert(found);
        }
        ck_assert_str_eq(process_state_text('D'), "D (disk sleep)");
        ck_assert_str_eq(process_state_text('S'), "S (sleeping)");
        ck_assert_str_eq(process_state_text('?'), "?");

        /* Killed and not yet reaped: a zombie. waitid(WNOWAIT) waits for
         * the exit without reaping. */
        ck_assert_int_eq(kill(child, SIGKILL), 0);
        {
                siginfo_t si;

                ck_assert_int_eq(waitid(P_PID, (id_t) child, &si, WEXITED | WNOWAIT), 0);
        }
        ck_assert_int_eq(process_state("/proc", child, &state), 0);
        ck_assert_int_eq(state, 'Z');
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFSIGNALED(status));

        /* Reaped: gone. */
        state = '?';
        ck_assert_int_eq(process_state("/proc", child, &state), -ENOENT);
        ck_assert_int_eq(state, '?');
        ck_assert_int_eq(process_state("/proc", 0, &state), -EINVAL);
        ck_assert_int_eq(process_state("/proc", -1, &state), -EINVAL);
        ck_assert_int_eq(process_state("/nonexistent", getpid(), &state), -ENOENT);
        ck_assert_int_eq(state, '?');
}
END_TEST

/* Fake stat lines: the comm may hold spaces, parentheses and what looks like
 * a state; only what follows the last ')' counts. */
START_TEST(test_state_parse) {
        static const struct {
                const char *stat;
                int ret;
                char state;
        } table[] = {
                { "42 (nginx) S 1 42 42 0 -1 4194560 100 0 0 0\n", 0, 'S' },
                { "42 (a b) D 1 2 3\n", 0, 'D' },
                { "42 (x) S (y) Z 1 2 3\n", 0, 'Z' },
                { "42 ()) R 1\n", 0, 'R' },
                { "42 (:-)) t 1\n", 0, 't' },
                { "42 (x) I", 0, 'I' },
                { "42 (x) X\n", 0, 'X' },
                { "", -EBADMSG, 0 },
                { "42 nocomm S 1\n", -EBADMSG, 0 },
                { "42 (x)S 1\n", -EBADMSG, 0 },
                { "42 (x) \n", -EBADMSG, 0 },
                { "42 (x) SS 1\n", -EBADMSG, 0 },
                { "42 (x)", -EBADMSG, 0 },
                { "42 x) S 1\n", -EBADMSG, 0 },
        };
        char p[256];

        fake_setup();
        snprintf(p, sizeof(p), "%s/42", fake);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/42/stat", fake);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char state = '?';
                int r;

                writef(p, table[i].stat);
                r = process_state(fake, 42, &state);
                ck_assert_msg(r == table[i].ret, "\"%s\": %d, want %d", table[i].stat, r, table[i].ret);
                ck_assert_msg(state == (table[i].ret == 0 ? table[i].state : '?'), "\"%s\": state %c", table[i].stat,
                              state);
        }
        fake_teardown();
}
END_TEST

/* The state letter as /proc/<pid>/status spells it out. */
START_TEST(test_state_text) {
        ck_assert_str_eq(process_state_text('R'), "R (running)");
        ck_assert_str_eq(process_state_text('S'), "S (sleeping)");
        ck_assert_str_eq(process_state_text('D'), "D (disk sleep)");
        ck_assert_str_eq(process_state_text('T'), "T (stopped)");
        ck_assert_str_eq(process_state_text('t'), "t (tracing stop)");
        ck_assert_str_eq(process_state_text('Z'), "Z (zombie)");
        ck_assert_str_eq(process_state_text('X'), "X (dead)");
        ck_assert_str_eq(process_state_text('I'), "I (idle)");
        ck_assert_str_eq(process_state_text('P'), "P (parked)");
        ck_assert_str_eq(process_state_text('W'), "W");
        ck_assert_str_eq(process_state_text('A'), "A");
        ck_assert_str_eq(process_state_text('z'), "z");
        ck_assert_str_eq(process_state_text('x'), "x");
        ck_assert_str_eq(process_state_text('\n'), "?");
        ck_assert_str_eq(process_state_text(0), "?");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("process");
        TCase *tc = tcase_create("core"), *root = tcase_create_root();

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_process_self);
        tcase_add_test(tc, test_process_child);
        tcase_add_test(tc, test_process_budget);
        tcase_add_test(tc, test_process_null);
        tcase_add_test(tc, test_process_deadline);
        tcase_add_test(tc, test_fake_lowest_and_comm);
        tcase_add_test(tc, test_fake_budget_resume);
        tcase_add_test(tc, test_state_live);
        tcase_add_test(tc, test_state_parse);
        tcase_add_test(tc, test_state_text);
        suite_add_tcase(s, tc);

        tcase_set_timeout(root, 60);
        tcase_add_test(root, test_process_nobody);
        tcase_add_test(root, test_process_budget_within);
        suite_add_tcase(s, root);
        return s;
}
