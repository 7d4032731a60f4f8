/* SPDX-License-Identifier: MIT */
/* Whether the users the shipped unit runs backlogd as could read the
 * configuration file, by the permission bits alone: `--check-config` runs
 * as root with every capability and reads anything, the service does not. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

/* want is the "other" bit asked for: S_IROTH or S_IXOTH. The kernel looks at
 * one class only, the first that applies: a file owned by uid 0 with no
 * owner read bit is unreadable to uid 0 without capabilities, whatever its
 * group and other bits say. */
static bool allowed(const struct stat *st, ConfigReader who, mode_t want) {
        if (who == CONFIG_READER_ROOT && st->st_uid == 0)
                return st->st_mode & (want << 6);
        if (who == CONFIG_READER_ROOT && st->st_gid == 0)
                return st->st_mode & (want << 3);
        return st->st_mode & want;
}

int config_reader_denied(const char *path, ConfigReader who, char **ret_where, struct stat *ret_st) {
        _cleanup_(freep) char *real = realpath(path, NULL);
        char dir[PATH_MAX];
        struct stat st;

        if (!real)
                return -errno;
        /* The directories are real up to each '/': "/", "/etc", "/etc/backlogd". */
        for (const char *s = real; (s = strchr(s, '/')); s++) {
                size_t n = s == real ? 1 : (size_t) (s - real);

                memcpy(dir, real, n);
                dir[n] = 0;
                if (stat(dir, &st) < 0)
                        return -errno;
                if (!allowed(&st, who, S_IXOTH)) {
                        char *where = strdup(dir);

                        if (!where)
                                return -ENOMEM;
                        *ret_where = where;
                        *ret_st = st;
                        return 1;
                }
        }
        if (stat(real, &st) < 0)
                return -errno;
        if (allowed(&st, who, S_IROTH))
                return 0;
        *ret_where = real;
        *ret_st = st;
        real = NULL;
        return 1;
}
