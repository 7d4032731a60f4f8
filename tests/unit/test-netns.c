/* SPDX-License-Identifier: MIT */
/* Namespace files: expanding configured paths and patterns, names, and
 * running code inside another network namespace. Real namespaces: our own
 * (/proc/self/ns/net), and, as root, those of child processes that unshared
 * theirs, bind-mounted under a private /run/netns like `ip netns add` does. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-main.h"
#include "netns.h"
#include "util.h"

static uint64_t inode_of(const char *path) {
        struct stat st;

        ck_assert_int_eq(stat(path, &st), 0);
        return (uint64_t) st.st_ino;
}

START_TEST(test_expand_literal) {
        char tmp[] = "/tmp/backlogd-netns-XXXXXX";
        int fd = mkstemp(tmp);
        char *patterns[] = { "/proc/self/ns/net", "/nonexistent/netns", tmp, "/proc/self/ns/uts",
                             "/proc/thread-self/ns/net" };
        NetnsList l = { 0 };

        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(netns_expand(patterns, ELEMENTSOF(patterns), NULL, &l), 4);
        ck_assert_str_eq(l.items[0].path, "/proc/self/ns/net");
        ck_assert_str_eq(l.items[0].name, "/proc/self/ns/net");
        ck_assert_uint_eq(l.items[0].inode, inode_of("/proc/self/ns/net"));
        ck_assert_int_eq(l.items[0].error, 0);
        ck_assert_str_eq(l.items[1].path, "/nonexistent/netns");
        ck_assert_int_eq(l.items[1].error, -ENOENT);
        ck_assert_uint_eq(l.items[1].inode, 0);
        ck_assert_str_eq(l.items[2].path, tmp);
        ck_assert_int_eq(l.items[2].error, -ENOTTY); /* a regular file */
        ck_assert_str_eq(l.items[3].path, "/proc/self/ns/uts");
        ck_assert_int_eq(l.items[3].error, -ENOTTY); /* another kind of namespace */
        /* /proc/thread-self/ns/net is the same namespace: left out. */

        /* Reused: cleared first. */
        ck_assert_int_eq(netns_expand(patterns, 1, NULL, &l), 1);
        ck_assert_int_eq(netns_expand(patterns, 0, NULL, &l), 0);
        ck_assert_uint_eq(l.n, 0);
        netns_list_done(&l);
        unlink(tmp);
}
END_TEST

START_TEST(test_expand_glob) {
        char *all[] = { "/proc/self/ns/*" }, *none[] = { "/nonexistent/*" };
        NetnsList l = { 0 };

        /* Of the namespace files there, only one is a network namespace. */
        ck_assert_int_eq(netns_expand(all, 1, NULL, &l), 1);
        ck_assert_str_eq(l.items[0].path, "/proc/self/ns/net");
        ck_assert_int_eq(l.items[0].error, 0);
        ck_assert_uint_eq(l.items[0].inode, inode_of("/proc/self/ns/net"));
        /* A pattern that matches nothing is no error: nothing is there yet. */
        ck_assert_int_eq(netns_expand(none, 1, NULL, &l), 0);
        netns_list_done(&l);
}
END_TEST

static bool known_net(void *userdata, uint64_t inode) {
        return inode == *(const uint64_t *) userdata;
}

/* A /proc/PID/ns/net pattern matches every process: known namespaces are
 * only stat()ed, and at most max_opens others are opened per call. */
START_TEST(test_expand_bounded) {
        char *all[] = { "/proc/self/ns/*" };
        uint64_t net = inode_of("/proc/self/ns/net");
        size_t total;
        NetnsList l = { 0 };

        ck_assert_int_eq(netns_expand(all, 1, &(NetnsExpand){ .max_opens = 1 }, &l), 0);
        total = l.deferred + 1;
        ck_assert_uint_ge(total, 6); /* cgroup ipc mnt net pid uts ... */
        ck_assert_int_eq(
                netns_expand(all, 1, &(NetnsExpand){ .known = known_net, .userdata = &net, .max_opens = 1 }, &l), 1);
        ck_assert_str_eq(l.items[0].path, "/proc/self/ns/net");
        ck_assert_uint_eq(l.items[0].inode, net);
        ck_assert_uint_eq(l.deferred, total - 2);
        ck_assert_int_eq(netns_expand(all, 1, &(NetnsExpand){ .max_opens = 0 }, &l), 1);
        ck_assert_uint_eq(l.deferred, 0);
        netns_list_done(&l);
}
END_TEST

START_TEST(test_open) {
        ErrBuf err = { "" };
        uint64_t inode = 0;
        int fd = -1;

        ck_assert_int_eq(netns_open_self(&fd, &inode, &err), 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_uint_eq(inode, inode_of("/proc/self/ns/net"));
        close(fd);
        ck_assert_int_eq(netns_open("/proc/self/ns/uts", &fd, &inode, &err), -ENOTTY);
        ck_assert_str_eq(err.text, "/proc/self/ns/uts: not a network namespace file");
        ck_assert_int_eq(netns_open("/nonexistent/netns", &fd, &inode, &err), -ENOENT);
        ck_assert_str_eq(err.text, "/nonexistent/netns: No such file or directory");
}
END_TEST

/* A child in a network namespace of its own, until killed. */
static pid_t spawn_netns(void) {
        int p[2];
        char c;
        pid_t pid;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                (void) write(p[1], "x", 1);
                pause();
                _exit(0);
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

static void reap(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* "net:[4026531840]" */
static void link_of(const char *path, char buf[64]) {
        ssize_t n = readlink(path, buf, 63);

        ck_assert_int_gt(n, 0);
        buf[n] = 0;
}

static int read_own_netns(void *userdata, ErrBuf *err) {
        char *buf = userdata;
        ssize_t n = readlink("/proc/thread-self/ns/net", buf, 63);

        if (n < 0)
                return errbuf_set(err, -errno, "readlink: %s", strerror(errno));
        buf[n] = 0;
        return 42;
}

START_TEST(test_run) {
        char own[64], inside[64] = "", want[64], path[64];
        ErrBuf err = { "" };
        uint64_t self_inode, inode;
        int self_fd, fd;
        pid_t child;

        child = spawn_netns();
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) child);
        link_of(path, want);
        link_of("/proc/self/ns/net", own);

        ck_assert_int_eq(netns_open_self(&self_fd, &self_inode, &err), 0);
        ck_assert_int_eq(netns_open(path, &fd, &inode, &err), 0);
        ck_assert_uint_eq(inode, inode_of(path));
        ck_assert_uint_ne(inode, self_inode);
        /* fn runs inside, its result comes back, and so do we. */
        ck_assert_int_eq(netns_run(fd, self_fd, read_own_netns, inside, &err), 42);
        ck_assert_str_eq(inside, want);
        ck_assert_int_eq(read_own_netns(inside, &err), 42);
        ck_assert_str_eq(inside, own);
        close(fd);
        close(self_fd);
        reap(child);
}
END_TEST

START_TEST(test_run_unprivileged) {
        char path[64];
        ErrBuf err = { "" };
        uint64_t self_inode, inode;
        int self_fd, fd, status;
        pid_t child, pid;

        child = spawn_netns();
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) child);
        ck_assert_int_eq(netns_open_self(&self_fd, &self_inode, &err), 0);
        ck_assert_int_eq(netns_open(path, &fd, &inode, &err), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char buf[64];

                /* nobody, no capabilities: setns() is refused. */
                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                if (netns_run(fd, self_fd, read_own_netns, buf, &err) != -EPERM)
                        _exit(3);
                _exit(strcmp(err.text, "cannot enter the namespace: Operation not permitted (needs CAP_SYS_ADMIN; "
                                       "under systemd, RestrictNamespaces= must allow net)") == 0
                              ? 0
                              : 4);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        close(fd);
        close(self_fd);
        reap(child);
}
END_TEST

/* What `ip netns add` makes: /run/netns/NAME, a namespace bind-mounted on an
 * empty file. Named by NAME, but /run/netns/host by its path, so that "host"
 * always means the daemon's own namespace. */
START_TEST(test_run_netns_names) {
        char *patterns[] = { "/run/netns/*" }, src[64];
        const char *names[] = { "host", "web1" };
        NetnsList l = { 0 };
        pid_t child[2];

        /* This test runs in its own process (CK_FORK): a private /run. */
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"), 0);
        ck_assert_int_eq(mkdir("/run/netns", 0755), 0);
        for (int i = 0; i < 2; i++) {
                char dst[64];
                int fd;

                child[i] = spawn_netns();
                snprintf(src, sizeof(src), "/proc/%d/ns/net", (int) child[i]);
                snprintf(dst, sizeof(dst), "/run/netns/%s", names[i]);
                fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
                ck_assert_int_ge(fd, 0);
                close(fd);
                ck_assert_int_eq(mount(src, dst, NULL, MS_BIND, NULL), 0);
        }
        /* Not yet mounted over (ip netns add is half done): left out. */
        close(open("/run/netns/pending", O_CREAT | O_WRONLY | O_CLOEXEC, 0444));

        ck_assert_int_eq(netns_expand(patterns, 1, NULL, &l), 2);
        ck_assert_str_eq(l.items[0].path, "/run/netns/host");
        ck_assert_str_eq(l.items[0].name, "/run/netns/host");
        ck_assert_str_eq(l.items[1].path, "/run/netns/web1");
        ck_assert_str_eq(l.items[1].name, "web1");
        snprintf(src, sizeof(src), "/proc/%d/ns/net", (int) child[1]);
        ck_assert_uint_eq(l.items[1].inode, inode_of(src));

        /* The same namespace by another path: once, under the first name. */
        ck_assert_int_eq(netns_expand((char *[]){ "/run/netns/web1", src }, 2, NULL, &l), 1);
        ck_assert_str_eq(l.items[0].name, "web1");
        netns_list_done(&l);
        reap(child[0]);
        reap(child[1]);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("netns");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_expand_literal);
        tcase_add_test(tc, test_expand_glob);
        tcase_add_test(tc, test_expand_bounded);
        tcase_add_test(tc, test_open);
        suite_add_tcase(s, tc);

        /* Making network namespaces, mounts under /run, setns(): root. */
        tc = tcase_create_root();
        tcase_add_test(tc, test_run);
        tcase_add_test(tc, test_run_unprivileged);
        tcase_add_test(tc, test_run_netns_names);
        suite_add_tcase(s, tc);
        return s;
}
