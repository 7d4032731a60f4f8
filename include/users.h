/* SPDX-License-Identifier: MIT */
#pragma once

/* uid to user name, from the password database (getpwuid_r(), so NSS modules
 * such as nss-systemd's DynamicUser= names count). There is no numeric
 * fallback: a uid the database does not know is NULL, and the caller prints
 * the uid itself. Answers, names and "unknown" alike, are cached and asked
 * again after 60 s; of the 256 uids cached, the one read from the database
 * longest ago makes room for a new one. A UserNames is not thread safe. */

#include <stdint.h>

typedef struct UserNames UserNames;

/* -ENOMEM only. */
int users_new(UserNames **ret);
UserNames *users_free(UserNames *u);
static inline void users_freep(UserNames **u) {
        users_free(*u);
}

/* The name of uid, or NULL when the database does not know it (or u is
 * NULL). A failing lookup (an NSS backend down, ENOMEM) keeps the answer
 * known before, if any, until the next try. The string stays valid until the
 * next users_name() call or users_free(). */
const char *users_name(UserNames *u, uint32_t uid);
