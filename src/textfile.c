/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "textfile.h"

/* ".<name>." + 16 hex digits + ".tmp" in the directory of the target. */
#define TMP_EXTRA (2 + 16 + 4)

struct TextFile {
        char *path;
        char *dir;      /* where the temporary files are made */
        char *tmp_path; /* buffer for a temporary name, tmp_size bytes */
        size_t tmp_size;
        uint64_t tmp_seq; /* varies names when getrandom() has nothing */

        char *last; /* the text last written, when have_last */
        size_t last_n, last_cap, last_stable;
        bool have_last;
        dev_t last_dev; /* the file it was written to */
        ino_t last_ino;
};

int textfile_new(const char *path, TextFile **ret, ErrBuf *err) {
        const char *slash, *base;
        size_t len;
        TextFile *t;

        if (!path || path[0] != '/')
                return errbuf_set(err, -EINVAL, "%s: not an absolute path", path ? path : "");
        len = strlen(path);
        slash = strrchr(path, '/');
        base = slash + 1;
        if (len + TMP_EXTRA >= PATH_MAX || strlen(base) + TMP_EXTRA > NAME_MAX)
                return errbuf_set(err, -ENAMETOOLONG, "%s: path too long", path);
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->path = strdup(path);
        t->dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        t->tmp_size = len + TMP_EXTRA + 1;
        t->tmp_path = malloc(t->tmp_size);
        if (!t->path || !t->dir || !t->tmp_path) {
                textfile_free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

TextFile *textfile_free(TextFile *t) {
        if (!t)
                return NULL;
        free(t->path);
        free(t->dir);
        free(t->tmp_path);
        free(t->last);
        free(t);
        return NULL;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* A fresh name for the temporary file: "<dir>/.<name>.<16 hex digits>.tmp".
 * Random, so nobody can plant anything at it in advance; it does not end in
 * the target's suffix, so a collector never reads it. */
static void tmp_name(TextFile *t) {
        const char *base = strrchr(t->path, '/') + 1;
        uint64_t x;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t) sizeof(x)) {
                struct timespec ts;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                x = ((uint64_t) ts.tv_nsec << 32 ^ (uint64_t) ts.tv_sec ^ (uint64_t) getpid() << 16) +
                    ++t->tmp_seq * 0x9e3779b97f4a7c15ULL;
        }
        snprintf(t->tmp_path, t->tmp_size, "%.*s.%s.%016" PRIx64 ".tmp", (int) (base - t->path), t->path, base, x);
}

/* Mode 0644 whatever the umask (the service runs with UMask=0077 and the
 * collector must read the file), then the text. */
static int fill(TextFile *t, int fd, const char *text, size_t n, ErrBuf *err) {
        int r;

        if (fchmod(fd, 0644) < 0)
                return errbuf_set(err, -errno, "%s: fchmod of the temporary file: %s", t->path, strerror(errno));
        r = write_all(fd, text, n);
        if (r < 0)
                return errbuf_set(err, r, "%s: write to the temporary file: %s", t->path, strerror(-r));
        return 0;
}

/* What is in the file now, for the next replace to compare with. A copy
 * that fails to grow only means the next replace writes again. */
static void remember_written(TextFile *t, const char *text, size_t n, size_t stable, const struct stat *st) {
        t->have_last = false;
        if (GROW(&t->last, &t->last_cap, n ? n : 1, 4096) < 0)
                return;
        memcpy(t->last, text, n);
        t->last_n = n;
        t->last_stable = stable;
        t->have_last = true;
        t->last_dev = st->st_dev;
        t->last_ino = st->st_ino;
}

/* Closes fd (a close error is a write error on some file systems) and
 * renames t->tmp_path over the target; on failure removes t->tmp_path. */
static int close_and_rename(TextFile *t, int fd, const char *text, size_t n, size_t stable, ErrBuf *err) {
        struct stat st = { 0 };
        int r;

        (void) fstat(fd, &st);
        if (close(fd) < 0 && errno != EINTR) {
                r = errbuf_set(err, -errno, "%s: close %s: %s", t->path, t->tmp_path, strerror(errno));
                goto fail;
        }
        if (rename(t->tmp_path, t->path) < 0) {
                r = errbuf_set(err, -errno, "%s: rename from %s: %s", t->path, t->tmp_path, strerror(errno));
                goto fail;
        }
        remember_written(t, text, n, stable, &st);
        return n > INT32_MAX ? INT32_MAX : (int) n;

fail:
        (void) unlink(t->tmp_path);
        return r;
}

/* Where O_TMPFILE is missing: mkostemps() picks a random name, creates it
 * O_EXCL (a symlink there is never followed) and tries other names while
 * they exist. */
static int replace_named(TextFile *t, const char *text, size_t n, size_t stable, ErrBuf *err) {
        const char *base = strrchr(t->path, '/') + 1;
        int fd, r;

        snprintf(t->tmp_path, t->tmp_size, "%.*s.%s.XXXXXX.tmp", (int) (base - t->path), t->path, base);
        fd = mkostemps(t->tmp_path, 4, O_CLOEXEC);
        if (fd < 0)
                return errbuf_set(err, -errno,
                                  errno == ENOENT || errno == ENOTDIR ? "%s: directory %s: %s"
                                                                      : "%s: cannot create a temporary file in %s: %s",
                                  t->path, t->dir, strerror(errno));
        r = fill(t, fd, text, n, err);
        if (r < 0) {
                close(fd);
                (void) unlink(t->tmp_path);
                return r;
        }
        return close_and_rename(t, fd, text, n, stable, err);
}

/* Whether the stable part is that of the file last written, and that file
 * is still in place, as long as it was (nobody removed, replaced or
 * rewrote it). */
static bool unchanged(const TextFile *t, const char *text, size_t stable) {
        struct stat st;

        if (!t->have_last || stable != t->last_stable || memcmp(text, t->last, stable) != 0)
                return false;
        return lstat(t->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == t->last_dev &&
               st.st_ino == t->last_ino && (size_t) st.st_size == t->last_n;
}

int textfile_replace(TextFile *t, const char *text, size_t n, size_t stable, ErrBuf *err) {
        _cleanup_(closep) int fd = -1;
        char proc[64];
        int r;

        /* A symlink planted at the path since is touched itself, never
         * followed. */
        if (unchanged(t, text, stable) && utimensat(AT_FDCWD, t->path, NULL, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;

        /* An unnamed file in the directory: nothing is visible, so nothing
         * is left behind, until it is complete and linked. */
        fd = open(t->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
                r = -errno;
                if (r == -EOPNOTSUPP || r == -EISDIR || r == -EINVAL)
                        return replace_named(t, text, n, stable, err);
                if (r == -ENOENT || r == -ENOTDIR)
                        return errbuf_set(err, r, "%s: directory %s: %s", t->path, t->dir, strerror(-r));
                return errbuf_set(err, r, "%s: cannot create a temporary file in %s: %s", t->path, t->dir,
                                  strerror(-r));
        }
        r = fill(t, fd, text, n, err);
        if (r < 0)
                return r;

        /* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; through /proc it
         * needs nothing. A name that exists (planted, against the odds of 64
         * random bits) is never followed: linkat() fails, try another. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        for (int i = 0; i < 16; i++) {
                tmp_name(t);
                r = linkat(AT_FDCWD, proc, AT_FDCWD, t->tmp_path, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
                if (r != -EEXIST)
                        break;
        }
        if (r == -ENOENT) /* no /proc, or the directory went away: the named way tells which */
                return replace_named(t, text, n, stable, err);
        if (r < 0)
                return errbuf_set(err, r, "%s: cannot link the temporary file into %s: %s", t->path, t->dir,
                                  strerror(-r));
        r = fd;
        fd = -1;
        return close_and_rename(t, r, text, n, stable, err);
}
