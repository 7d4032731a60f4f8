/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to the config module, not part of its interface: the parsing
 * helpers shared by config.c (the file and its top-level keys) and
 * config-watch.c (the watch and namespaces lists). Include it from those
 * files only: it brings in libconfig, which must not leave the config
 * module. config_get_int() and config_get_string() are ours, not
 * libconfig's. Every function that fails puts "NAME:LINE: KEY: message" (as
 * config.h describes) in p->err and returns -EINVAL, or -ENOMEM. */

#include <libconfig.h>

#include "config.h"

/* Where messages point: the name of the file (or string) being parsed. */
typedef struct ConfigParser {
        const char *name;
        ErrBuf *err;
} ConfigParser;

/* Returns -EINVAL with "NAME:LINE: KEY: message" in p->err. KEY is key when
 * idx < 0 ("warn"), else watch entry idx's ("watch[0].port"; "watch[0]" when
 * key is NULL): entries are counted from 0, as in libconfig's own paths. */
_printf_(5, 6) int config_fail(const ConfigParser *p, unsigned line, const char *key, int idx, const char *fmt, ...);

/* Returns -ENOMEM with "NAME: strerror" in p->err. */
int config_oom(const ConfigParser *p);

/* "an integer", "a string", ...: the type of s, for messages. */
const char *config_type_name(const config_setting_t *s);

/* s made safe and short enough to quote in a message: unprintable bytes as
 * '?', cut to fit buf with "...". Returns buf. */
const char *config_quote(const char *s, char *buf, size_t size);

/* The integer s holds, if it is one in min..max. idx as in config_fail(). */
int config_get_int(const ConfigParser *p, const config_setting_t *s, int idx, long long min, long long max,
                   unsigned *ret);

/* Seconds as an integer or a float, in microseconds (rounded), if in
 * min_usec..max_usec; range says which in messages ("0 and 3600"). idx as
 * above. */
int config_get_seconds(const ConfigParser *p, const config_setting_t *s, int idx, uint64_t min_usec, uint64_t max_usec,
                       const char *range, uint64_t *ret);

/* `stall`: 0 (off), or 0.01 to 3600 seconds. idx as above. */
int config_get_stall(const ConfigParser *p, const config_setting_t *s, int idx, uint64_t *ret);

/* The string s holds (owned by libconfig), if it is one. idx as above. */
int config_get_string(const ConfigParser *p, const config_setting_t *s, int idx, const char **ret);

/* The clear of a level whose warn was given without a clear: inherited (the
 * default, or the top level's for a watch entry) when it is below warn, else
 * three quarters of warn rounded down, at least 1. */
unsigned config_clear_for_warn(unsigned warn, unsigned inherited);

/* config-watch.c. The `watch` list into c->watch: each entry inherits
 * c->warn, c->clear and c->stall_usec, so parse those first. The `namespaces` list into
 * c->namespaces. On failure c holds what was copied so far, for
 * config_free(). */
int config_parse_watch(const ConfigParser *p, const config_setting_t *list, Config *c);
int config_parse_namespaces(const ConfigParser *p, const config_setting_t *list, Config *c);
