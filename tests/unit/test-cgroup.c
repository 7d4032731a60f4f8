/* SPDX-License-Identifier: MIT */
/* cgroup ids to paths and units: systemd's unit naming rule as a table, the
 * live hierarchy, and private cgroup2 mounts (root) for the scan, the hybrid
 * layout, holds, rescans and the known-missing set. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "check-main.h"
#include "util.h"

static const struct {
        const char *path, *unit, *user_unit;
} unit_table[] = {
        { "/system.slice/nginx.service", "nginx.service", NULL },
        { "/system.slice/nginx.service/worker", "nginx.service", NULL },
        { "/init.scope", "init.scope", NULL },
        { "/system.slice", NULL, NULL },
        { "/", NULL, NULL },
        { "", NULL, NULL },
        { "//system.slice//nginx.service//", "nginx.service", NULL },
        { "/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", NULL },
        { "/user.slice/user-1000.slice/session-2.scope", "session-2.scope", NULL },
        { "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service", "foo.service" },
        { "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service/sub", "user@1000.service",
          "foo.service" },
        { "/user.slice/user-1000.slice/user@1000.service/init.scope", "user@1000.service", "init.scope" },
        { "/user.slice/user-1000.slice/user@1000.service", "user@1000.service", NULL },
        { "/user.slice/user-1000.slice/user@1000.service/app.slice", "user@1000.service", NULL },
        { "/user.slice/user-1000.slice/user@1000.service/app.slice/a@.service", "user@1000.service", NULL },
        { "/user.slice/user-1000.slice/user@1000.service/payload/foo.service", "user@1000.service", NULL },
        /* Not a uid, or one systemd reserves (-1, 65535). */
        { "/user.slice/user@abc.service/foo.service", "user@abc.service", NULL },
        { "/user.slice/user@4294967295.service/foo.service", "user@4294967295.service", NULL },
        { "/user.slice/user@65535.service/foo.service", "user@65535.service", NULL },
        /* Only below a user manager. */
        { "/user.slice/user-1000.slice/session-2.scope/foo.service", "session-2.scope", NULL },
        { "/system.slice/foo.service/user@1000.service/bar.service", "foo.service", NULL },
        /* A container's nested units are the container's, not the host's. */
        { "/machine.slice/systemd-nspawn@web.service/payload/system.slice/nginx.service", "systemd-nspawn@web.service",
          NULL },
        { "/machine.slice/libpod-1.scope/container/app.service", "libpod-1.scope", NULL },
        { "/payload/system.slice/nginx.service", NULL, NULL },
        { "/docker/0123abcd", NULL, NULL },
        /* Templates, bad suffixes, names systemd would not accept. */
        { "/system.slice/a@.service", NULL, NULL },
        { "/system.slice/@a.service", NULL, NULL },
        { "/system.slice/.service", NULL, NULL },
        { "/.service", NULL, NULL },
        { "/system.slice/foo.txt", NULL, NULL },
        { "/system.slice/foo.service.d", NULL, NULL },
        { "/system.slice/foo", NULL, NULL },
        { "/system.slice/foo bar.service", NULL, NULL },
        { "/system.slice/a$b.service", NULL, NULL },
        { "/system.slice/caf\xc3\xa9.service", NULL, NULL },
        { "/system.slice/a\tb.service", NULL, NULL },
        /* An instance slice is no slice: it ends the skipping, and a slice
         * is never the unit. */
        { "/a@b.slice/x.service", NULL, NULL },
        /* Every unit type, and the characters systemd allows. */
        { "/system.slice/a.socket", "a.socket", NULL },
        { "/system.slice/-.mount", "-.mount", NULL },
        { "/system.slice/dev-sda1.swap", "dev-sda1.swap", NULL },
        { "/a.target", "a.target", NULL },
        { "/a.device", "a.device", NULL },
        { "/a.automount", "a.automount", NULL },
        { "/a.path", "a.path", NULL },
        { "/a.timer", "a.timer", NULL },
        { "/system.slice/A-z_0:9.x\\x2dy.service", "A-z_0:9.x\\x2dy.service", NULL },
        { "/system.slice/a@b@c.service", "a@b@c.service", NULL },
        /* systemd's cgroup escape: one leading '_' is dropped. */
        { "/system.slice/_cpu.service", "cpu.service", NULL },
        { "/_system.slice/nginx.service", "nginx.service", NULL },
};

START_TEST(test_unit_table) {
        char buf[300];
        const char *got;

        for (size_t i = 0; i < ELEMENTSOF(unit_table); i++) {
                const char *path = unit_table[i].path, *want = unit_table[i].unit;

                memset(buf, 'x', sizeof(buf));
                got = cgroup_path_unit(path, buf, sizeof(buf));
                if (want) {
                        ck_assert_msg(got == buf, "%s: unit NULL, want %s", path, want);
                        ck_assert_msg(strcmp(got, want) == 0, "%s: unit %s, want %s", path, got, want);
                } else
                        ck_assert_msg(!got, "%s: unit %s, want NULL", path, got);

                want = unit_table[i].user_unit;
                got = cgroup_path_user_unit(path, buf, sizeof(buf));
                if (want) {
                        ck_assert_msg(got == buf, "%s: user unit NULL, want %s", path, want);
                        ck_assert_msg(strcmp(got, want) == 0, "%s: user unit %s, want %s", path, got, want);
                } else
                        ck_assert_msg(!got, "%s: user unit %s, want NULL", path, got);
        }
}
END_TEST

START_TEST(test_unit_limits) {
        char name[300], path[320], buf[300];

        /* A unit name is shorter than 256 bytes. */
        memset(name, 'a', 247);
        strcpy(name + 247, ".service");
        ck_assert_uint_eq(strlen(name), 255);
        snprintf(path, sizeof(path), "/system.slice/%s", name);
        ck_assert_str_eq(cgroup_path_unit(path, buf, sizeof(buf)), name);
        memmove(name + 1, name, strlen(name) + 1);
        ck_assert_uint_eq(strlen(name), 256);
        snprintf(path, sizeof(path), "/system.slice/%s", name);
        ck_assert_ptr_null(cgroup_path_unit(path, buf, sizeof(buf)));

        /* buf must hold the name and its NUL. */
        ck_assert_ptr_null(cgroup_path_unit("/system.slice/nginx.service", buf, 13));
        ck_assert_str_eq(cgroup_path_unit("/system.slice/nginx.service", buf, 14), "nginx.service");
        ck_assert_ptr_null(cgroup_path_user_unit("/user.slice/user@1000.service/foo.service", buf, 11));
        ck_assert_str_eq(cgroup_path_user_unit("/user.slice/user@1000.service/foo.service", buf, 12), "foo.service");
        ck_assert_ptr_null(cgroup_path_unit(NULL, buf, sizeof(buf)));
        ck_assert_ptr_null(cgroup_path_user_unit(NULL, buf, sizeof(buf)));
}
END_TEST

/* Our own cgroup, found from the inode number of its directory. */
START_TEST(test_names_live) {
        char line[4096], dir[4200], buf[300];
        const char *path = NULL, *base;
        struct stat st;
        CgroupNames *c = NULL;
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

        ck_assert_int_eq(cgroup_names_new("/sys/fs/cgroup", &c), 0);
        ck_assert_str_eq(cgroup_names_path(c, st.st_ino), path);
        if (cgroup_path_unit(path, buf, sizeof(buf)))
                ck_assert_str_eq(cgroup_names_unit(c, st.st_ino), buf);
        else
                ck_assert_ptr_null(cgroup_names_unit(c, st.st_ino));
        ck_assert_ptr_null(cgroup_names_path(c, 0));
        ck_assert_ptr_null(cgroup_names_unit(c, 0));
        ck_assert_ptr_null(cgroup_names_path(c, UINT64_MAX));
        ck_assert_ptr_null(cgroup_names_free(c));

        ck_assert_int_eq(cgroup_names_new("/nonexistent", &c), 0);
        ck_assert_ptr_null(cgroup_names_path(c, st.st_ino));
        ck_assert_ptr_null(cgroup_names_free(c));

        ck_assert_ptr_null(cgroup_names_free(NULL));
        ck_assert_ptr_null(cgroup_names_path(NULL, st.st_ino));
        ck_assert_ptr_null(cgroup_names_unit(NULL, st.st_ino));
        ck_assert_ptr_null(cgroup_names_user_unit(NULL, st.st_ino));
        ck_assert_uint_eq(cgroup_names_scans(NULL), 0);
        cgroup_names_hold(NULL, true);
        cgroup_names_set_rescan_interval(NULL, 0);
}
END_TEST

START_TEST(test_names_freep) {
        _cleanup_(cgroup_names_freep) CgroupNames *c = NULL;

        ck_assert_int_eq(cgroup_names_new("/nonexistent", &c), 0);
        ck_assert_ptr_nonnull(c);
}
END_TEST

/* ---- private cgroup2 mounts (root) ---- */

static uint64_t mkdir_ino(const char *dir, const char *name) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        if (mkdir(p, 0755) < 0 || stat(p, &st) < 0)
                return 0;
        return (uint64_t) st.st_ino;
}

/* The first mismatch of a test on a cgroup2 mount, asserted once its cgroups
 * are removed again: a failing check would leave them behind. */
static char failure[512];

static void expect(unsigned line, const char *got, const char *want) {
        if (failure[0] || (!got && !want) || (got && want && strcmp(got, want) == 0))
                return;
        snprintf(failure, sizeof(failure), "line %u: got %s, want %s", line, got ? got : "NULL", want ? want : "NULL");
}
#define EXPECT(got, want) expect(__LINE__, got, want)

static void expect_u(unsigned line, unsigned got, unsigned want) {
        if (failure[0] || got == want)
                return;
        snprintf(failure, sizeof(failure), "line %u: got %u, want %u", line, got, want);
}
#define EXPECT_SCANS(c, want) expect_u(__LINE__, cgroup_names_scans(c), want)

/* A private mount namespace and cgroup namespace (so the directories made
 * are below this test's cgroup) and a temporary directory mnt for a mount. */
static void private_mnt(char mnt[64]) {
        snprintf(mnt, 64, "%s/test-cgroup-mnt-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        ck_assert_msg(unshare(CLONE_NEWNS | CLONE_NEWCGROUP) == 0, "unshare: %s", strerror(errno));
        ck_assert_int_eq(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_ptr_nonnull(mkdtemp(mnt));
}

/* cgroup2 mounted on mnt, and a directory top in it. */
static void cgroup_setup(char mnt[64], char top[128]) {
        private_mnt(mnt);
        ck_assert_msg(mount("cgroup2", mnt, "cgroup2", 0, NULL) == 0, "mount cgroup2: %s", strerror(errno));
        snprintf(top, 128, "%s/test-cgroup-XXXXXX", mnt);
        ck_assert_ptr_nonnull(mkdtemp(top));
}

/* Removes names (deepest first) below top, top, and the mount. */
static void cgroup_teardown(const char *mnt, const char *top, const char *const *names, size_t n) {
        char p[512];

        for (size_t i = 0; i < n; i++) {
                snprintf(p, sizeof(p), "%s/%s", top, names[i]);
                rmdir(p);
        }
        ck_assert_int_eq(rmdir(top), 0);
        ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
        ck_assert_int_eq(rmdir(mnt), 0);
}

/* A scanned tree, parents first: each cgroup's path, system unit and user
 * unit. */
static const struct {
        const char *dir, *unit, *user_unit;
} tree[] = {
        { "system.slice", NULL, NULL },
        { "system.slice/nginx.service", "nginx.service", NULL },
        { "system.slice/nginx.service/worker", "nginx.service", NULL },
        { "user.slice", NULL, NULL },
        { "user.slice/user-1000.slice", NULL, NULL },
        { "user.slice/user-1000.slice/user@1000.service", "user@1000.service", NULL },
        { "user.slice/user-1000.slice/user@1000.service/app.slice", "user@1000.service", NULL },
        { "user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service", "foo.service" },
        { "machine.slice", NULL, NULL },
        { "machine.slice/systemd-nspawn@web.service", "systemd-nspawn@web.service", NULL },
        { "machine.slice/systemd-nspawn@web.service/payload", "systemd-nspawn@web.service", NULL },
        { "machine.slice/systemd-nspawn@web.service/payload/system.slice", "systemd-nspawn@web.service", NULL },
        { "machine.slice/systemd-nspawn@web.service/payload/system.slice/nginx.service", "systemd-nspawn@web.service",
          NULL },
};

START_TEST(test_names_tree) {
        const char *reverse[ELEMENTSOF(tree)];
        uint64_t ids[ELEMENTSOF(tree)];
        char mnt[64], top[128], want[300];
        CgroupNames *c = NULL;

        cgroup_setup(mnt, top);
        for (size_t i = 0; i < ELEMENTSOF(tree); i++) {
                ids[i] = mkdir_ino(top, tree[i].dir);
                reverse[ELEMENTSOF(tree) - 1 - i] = tree[i].dir;
        }
        ck_assert_int_eq(cgroup_names_new(top, &c), 0);
        cgroup_names_hold(c, true);
        for (size_t i = 0; i < ELEMENTSOF(tree); i++) {
                snprintf(want, sizeof(want), "/%s", tree[i].dir);
                EXPECT(cgroup_names_path(c, ids[i]), want);
                EXPECT(cgroup_names_unit(c, ids[i]), tree[i].unit);
                EXPECT(cgroup_names_user_unit(c, ids[i]), tree[i].user_unit);
        }
        cgroup_names_hold(c, false);
        EXPECT_SCANS(c, 1);
        cgroup_names_free(c);

        cgroup_teardown(mnt, top, reverse, ELEMENTSOF(reverse));
        for (size_t i = 0; i < ELEMENTSOF(tree); i++)
                ck_assert_uint_ne(ids[i], 0);
        ck_assert_msg(failure[0] == 0, "%s", failure);
}
END_TEST

/* systemd's hybrid layout: v1 controllers on the root, the unified
 * hierarchy on root/unified. */
START_TEST(test_names_hybrid) {
        char mnt[64], unified[128], top[192], want[128];
        uint64_t id;
        CgroupNames *c = NULL;

        private_mnt(mnt);
        ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=64k"), 0);
        snprintf(unified, sizeof(unified), "%s/unified", mnt);
        ck_assert_int_eq(mkdir(unified, 0755), 0);
        ck_assert_msg(mount("cgroup2", unified, "cgroup2", 0, NULL) == 0, "mount cgroup2: %s", strerror(errno));
        snprintf(top, sizeof(top), "%s/test-cgroup-XXXXXX", unified);
        ck_assert_ptr_nonnull(mkdtemp(top));
        id = mkdir_ino(top, "a.service");
        snprintf(want, sizeof(want), "%s/a.service", strrchr(top, '/'));

        ck_assert_int_eq(cgroup_names_new(mnt, &c), 0);
        EXPECT(cgroup_names_path(c, id), want);
        EXPECT_SCANS(c, 1);
        cgroup_names_free(c);

        snprintf(top + strlen(top), sizeof(top) - strlen(top), "/a.service");
        rmdir(top);
        *strrchr(top, '/') = 0;
        ck_assert_int_eq(rmdir(top), 0);
        ck_assert_int_eq(umount2(unified, MNT_DETACH), 0);
        ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
        ck_assert_int_eq(rmdir(mnt), 0);
        ck_assert_uint_ne(id, 0);
        ck_assert_msg(failure[0] == 0, "%s", failure);
}
END_TEST

/* A unit that starts while the daemon holds the names through its polls:
 * its first miss rescans at once (one rescan per hold), and the strings
 * handed out before stay valid until the release; a miss that cannot
 * rescan yet is remembered and the release rescans, at most as often as
 * the rescan interval allows. */
START_TEST(test_hold_rescan) {
        static const char *const names[] = { "d.service", "c.service", "b.service", "a.service" };
        char mnt[64], top[128];
        uint64_t a, b, c, d;
        CgroupNames *n = NULL;

        cgroup_setup(mnt, top);
        a = mkdir_ino(top, "a.service");
        ck_assert_int_eq(cgroup_names_new(top, &n), 0);
        cgroup_names_set_rescan_interval(n, 0);
        EXPECT_SCANS(n, 0);
        EXPECT(cgroup_names_path(n, a), "/a.service");
        EXPECT_SCANS(n, 1);

        /* Started after the first scan: named on the poll that meets it. */
        b = mkdir_ino(top, "b.service");
        cgroup_names_hold(n, true);
        {
                const char *before = cgroup_names_path(n, a);

                EXPECT(cgroup_names_unit(n, b), "b.service");
                EXPECT_SCANS(n, 2);
                EXPECT(before, "/a.service"); /* retired, not freed */
        }
        EXPECT(cgroup_names_unit(n, a), "a.service");
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 2);
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_unit(n, b), "b.service");
        EXPECT(cgroup_names_path(n, b), "/b.service");
        EXPECT(cgroup_names_user_unit(n, b), NULL);
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 2);

        /* A release without a miss does not rescan; one rescan per hold. */
        c = mkdir_ino(top, "c.service");
        cgroup_names_hold(n, true);
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 2);
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_unit(n, c), "c.service");
        EXPECT_SCANS(n, 3);
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 3);

        /* Too soon after a scan the release does not rescan, but the miss
         * is kept: a later release, once allowed, rescans without another. */
        d = mkdir_ino(top, "d.service");
        cgroup_names_set_rescan_interval(n, 3600ULL * 1000000ULL);
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_unit(n, d), NULL);
        ck_assert(cgroup_names_pending(n, d));
        ck_assert(!cgroup_names_pending(n, c));
        cgroup_names_hold(n, false);
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_path(n, d), NULL);
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 3);
        ck_assert(cgroup_names_pending(n, d));
        cgroup_names_set_rescan_interval(n, 0);
        cgroup_names_hold(n, true);
        cgroup_names_hold(n, false);
        ck_assert(!cgroup_names_pending(n, d));
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_unit(n, d), "d.service");
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 4);
        cgroup_names_free(n);

        cgroup_teardown(mnt, top, names, ELEMENTSOF(names));
        ck_assert(a != 0 && b != 0 && c != 0 && d != 0);
        ck_assert_msg(failure[0] == 0, "%s", failure);
}
END_TEST

/* A socket whose cgroup was removed (passed to another process, kept in
 * the fd store across a restart) is looked up on every poll: one scan that
 * does not find it is enough, later misses and releases rescan nothing. A
 * unit started meanwhile is still found after one release. */
START_TEST(test_known_missing) {
        static const char *const names[] = { "new.service", "a.service" };
        char mnt[64], top[128], p[256];
        uint64_t a, gone, fresh;
        CgroupNames *n = NULL;

        cgroup_setup(mnt, top);
        a = mkdir_ino(top, "a.service");
        gone = mkdir_ino(top, "gone.service");
        snprintf(p, sizeof(p), "%s/gone.service", top);
        ck_assert_int_eq(rmdir(p), 0);

        ck_assert_int_eq(cgroup_names_new(top, &n), 0);
        cgroup_names_set_rescan_interval(n, 0);
        /* The first lookup scans; the miss is judged by the release's. */
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_path(n, gone), NULL);
        EXPECT(cgroup_names_unit(n, a), "a.service");
        EXPECT_SCANS(n, 1);
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 2);

        /* Known missing: polls of it rescan nothing, held or not, however
         * often the interval would allow. */
        for (int i = 0; i < 5; i++) {
                cgroup_names_hold(n, true);
                EXPECT(cgroup_names_path(n, gone), NULL);
                EXPECT(cgroup_names_unit(n, gone), NULL);
                EXPECT(cgroup_names_user_unit(n, gone), NULL);
                EXPECT(cgroup_names_unit(n, a), "a.service");
                cgroup_names_hold(n, false);
        }
        EXPECT(cgroup_names_path(n, gone), NULL);
        EXPECT_SCANS(n, 2);

        /* A unit started now: its miss is new, so it rescans once, at
         * once, and from then on it is known. The gone id stays known
         * missing across that scan. */
        fresh = mkdir_ino(top, "new.service");
        cgroup_names_hold(n, true);
        EXPECT(cgroup_names_unit(n, gone), NULL);
        EXPECT(cgroup_names_unit(n, fresh), "new.service");
        cgroup_names_hold(n, false);
        EXPECT_SCANS(n, 3);
        for (int i = 0; i < 3; i++) {
                cgroup_names_hold(n, true);
                EXPECT(cgroup_names_unit(n, fresh), "new.service");
                EXPECT(cgroup_names_path(n, gone), NULL);
                cgroup_names_hold(n, false);
        }
        EXPECT_SCANS(n, 3);
        cgroup_names_free(n);

        /* Unheld (--once), the same: a miss scans at once, once. */
        ck_assert_int_eq(cgroup_names_new(top, &n), 0);
        cgroup_names_set_rescan_interval(n, 0);
        EXPECT(cgroup_names_path(n, gone), NULL); /* first scan, then a rescan */
        EXPECT_SCANS(n, 2);
        EXPECT(cgroup_names_path(n, gone), NULL);
        EXPECT(cgroup_names_unit(n, gone), NULL);
        EXPECT(cgroup_names_path(n, fresh), "/new.service");
        EXPECT_SCANS(n, 2);
        cgroup_names_free(n);

        cgroup_teardown(mnt, top, names, ELEMENTSOF(names));
        ck_assert(a != 0 && gone != 0 && fresh != 0 && gone != a && fresh != gone);
        ck_assert_msg(failure[0] == 0, "%s", failure);
}
END_TEST

/* At most 256 ids are known missing, the oldest replaced; so are the misses
 * a scan is to judge. Ids that no cgroup has (the root does not even exist,
 * so every scan finds nothing). */
#define FAKE_ID(i) ((1ULL << 62) + (uint64_t) (i))

static void hold_miss(CgroupNames *n, unsigned from, unsigned to) {
        cgroup_names_hold(n, true);
        for (unsigned i = from; i < to; i++)
                ck_assert_ptr_null(cgroup_names_path(n, FAKE_ID(i)));
        cgroup_names_hold(n, false);
}

START_TEST(test_known_missing_bounded) {
        CgroupNames *n = NULL;

        ck_assert_int_eq(cgroup_names_new("/nonexistent", &n), 0);
        cgroup_names_set_rescan_interval(n, 0);
        hold_miss(n, 0, 256); /* the first scan, then the release's */
        ck_assert_uint_eq(cgroup_names_scans(n), 2);
        hold_miss(n, 0, 256); /* all 256 are known */
        ck_assert_uint_eq(cgroup_names_scans(n), 2);

        /* A 257th replaces the oldest, 0: 1..256 are known, 0 is not. */
        hold_miss(n, 256, 257);
        ck_assert_uint_eq(cgroup_names_scans(n), 3);
        hold_miss(n, 1, 257);
        ck_assert_uint_eq(cgroup_names_scans(n), 3);
        hold_miss(n, 0, 1);
        ck_assert_uint_eq(cgroup_names_scans(n), 4);
        /* 0 replaced 1 in turn; unheld, a forgotten id rescans once too. */
        ck_assert_ptr_null(cgroup_names_path(n, FAKE_ID(1)));
        ck_assert_uint_eq(cgroup_names_scans(n), 5);
        ck_assert_ptr_null(cgroup_names_path(n, FAKE_ID(1)));
        ck_assert_ptr_null(cgroup_names_path(n, FAKE_ID(0)));
        ck_assert_ptr_null(cgroup_names_path(n, FAKE_ID(256)));
        ck_assert_uint_eq(cgroup_names_scans(n), 5);

        /* 300 new misses in one poll: the first rescans at once (one
         * rescan per poll), the next 256 are judged by the release's scan,
         * the 43 others (not remembered) by the next poll's. */
        hold_miss(n, 1000, 1300);
        ck_assert_uint_eq(cgroup_names_scans(n), 7);
        hold_miss(n, 1001, 1257);
        ck_assert_uint_eq(cgroup_names_scans(n), 7);
        hold_miss(n, 1257, 1300); /* 1257 at once, the rest at the release */
        ck_assert_uint_eq(cgroup_names_scans(n), 9);
        hold_miss(n, 1257, 1300);
        ck_assert_uint_eq(cgroup_names_scans(n), 9);

        /* The interval holds rescans back, misses or not. */
        cgroup_names_set_rescan_interval(n, 3600ULL * 1000000ULL);
        hold_miss(n, 2000, 2010);
        ck_assert_ptr_null(cgroup_names_path(n, FAKE_ID(3000)));
        ck_assert_uint_eq(cgroup_names_scans(n), 9);
        cgroup_names_free(n);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("cgroup");
        TCase *tc = tcase_create("core"), *root = tcase_create_root();

        tcase_add_test(tc, test_unit_table);
        tcase_add_test(tc, test_unit_limits);
        tcase_add_test(tc, test_names_live);
        tcase_add_test(tc, test_names_freep);
        tcase_add_test(tc, test_known_missing_bounded);
        suite_add_tcase(s, tc);

        tcase_set_timeout(root, 60);
        tcase_add_test(root, test_names_tree);
        tcase_add_test(root, test_names_hybrid);
        tcase_add_test(root, test_hold_rescan);
        tcase_add_test(root, test_known_missing);
        suite_add_tcase(s, root);
        return s;
}
