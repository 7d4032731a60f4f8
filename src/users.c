/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "users.h"
#include "util.h"

/* User names change rarely; a uid the database did not know may appear
 * (useradd, a DynamicUser= service starting). */
#define USERS_TTL_USEC (60ULL * 1000000ULL)
#define USERS_MAX 256
/* getpwuid_r() buffers grow up to this on ERANGE. */
#define USERS_BUF_MAX (1024 * 1024)

typedef struct UserEntry {
        uint32_t uid;
        char *name; /* NULL: unknown to the database */
        uint64_t checked_usec;
} UserEntry;

struct UserNames {
        UserEntry entries[USERS_MAX];
        size_t n;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int users_new(UserNames **ret) {
        UserNames *u;

        assert(ret);
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *ret = u;
        return 0;
}

UserNames *users_free(UserNames *u) {
        if (!u)
                return NULL;
        for (size_t i = 0; i < u->n; i++)
                free(u->entries[i].name);
        free(u);
        return NULL;
}

static void refresh(UserEntry *e, uint64_t now) {
        char stack[4096], *buf = stack;
        _cleanup_(freep) char *heap = NULL;
        size_t size = sizeof(stack);
        struct passwd pw, *res = NULL;
        int r;

        e->checked_usec = now;
        for (;;) {
                r = getpwuid_r((uid_t) e->uid, &pw, buf, size, &res);
                if (r != ERANGE || size >= USERS_BUF_MAX)
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
                if (!e->name || strcmp(e->name, res->pw_name) != 0) {
                        char *n = strdup(res->pw_name);

                        if (n) {
                                free(e->name);
                                e->name = n;
                        }
                }
        } else if (r == 0) {
                free(e->name);
                e->name = NULL;
        }
        /* Other errors (an NSS backend failing, ENOMEM): keep what was
         * known, ask again after the TTL. */
}

const char *users_name(UserNames *u, uint32_t uid) {
        UserEntry *e = NULL;
        uint64_t now;

        if (!u)
                return NULL;
        now = now_usec();
        for (size_t i = 0; i < u->n; i++)
                if (u->entries[i].uid == uid) {
                        e = &u->entries[i];
                        break;
                }
        if (e) {
                if (now - e->checked_usec >= USERS_TTL_USEC)
                        refresh(e, now);
                return e->name;
        }
        if (u->n < USERS_MAX)
                e = &u->entries[u->n++];
        else {
                /* Full (a host rarely has this many uids with sockets):
                 * replace the one read from the database longest ago. */
                e = &u->entries[0];
                for (size_t i = 1; i < u->n; i++)
                        if (u->entries[i].checked_usec < e->checked_usec)
                                e = &u->entries[i];
                free(e->name);
        }
        *e = (UserEntry){ .uid = uid };
        refresh(e, now);
        return e->name;
}
