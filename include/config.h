/* SPDX-License-Identifier: MIT */
#pragma once

/* The configuration file (libconfig), validated into an immutable struct.
 * libconfig never leaves the module: config.c and config-watch.c parse,
 * through the internal config-parse.h; config-print.c and config-match.c
 * only read the struct. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "util.h"

#define CONFIG_DEFAULT_INTERVAL_USEC 1000000ULL
#define CONFIG_DEFAULT_WARN 80
#define CONFIG_DEFAULT_CLEAR 60
#define CONFIG_DEFAULT_REPEAT_USEC (300ULL * 1000000ULL)
#define CONFIG_INTERVAL_MIN_USEC 10000ULL      /* 0.01 s */
#define CONFIG_INTERVAL_MAX_USEC 3600000000ULL /* 3600 s */
#define CONFIG_DEFAULT_SYN_INTERVAL_USEC 10000000ULL
#define CONFIG_DEFAULT_STALL_USEC 10000000ULL
/* A scrape sees data at most this old; Prometheus scrapes every 15-60 s. */
#define CONFIG_DEFAULT_METRICS_INTERVAL_USEC 15000000ULL

/* One entry of the watch list. */
typedef struct Watch {
        bool any_port;   /* neither port nor ports given */
        PortRange ports; /* valid when !any_port */
        bool has_address;
        uint8_t family;   /* AF_INET / AF_INET6 when has_address */
        uint8_t addr[16]; /* network byte order */
        char *unix_path;  /* selects the UNIX listener bound there ("@x": abstract);
                           * NULL: the entry selects TCP listeners */
        char *unit;       /* fnmatch(3) pattern on the owning systemd unit
                           * ("nginx.service", "php*-fpm.service"); NULL: any */
        char *netns;      /* fnmatch(3) pattern on the network namespace's
                           * name ("host", "web1", "/proc/812/ns/net"); NULL: any */
        char *name;       /* NULL when not configured */
        unsigned warn;    /* percent; inherited from the top level if unset */
        unsigned clear;
        uint64_t stall_usec;    /* `stall`, inherited from the top level if unset; 0 = off */
        uint64_t interval_usec; /* `interval`: read this entry's listeners this often
                                 * between full polls (config_watch_is_fast()); 0 = unset */
        unsigned line;          /* line in the file, 0 for built-in */
} Watch;

/* config_match()'s index of the watch list (config-match.c). */
typedef struct ConfigMatchIndex ConfigMatchIndex;

typedef struct Config {
        char *path; /* file it came from; NULL for the built-in defaults */
        uint64_t interval_usec;
        unsigned warn;        /* 2..100 */
        unsigned clear;       /* 1..warn-1 */
        uint64_t repeat_usec; /* 0 = never */
        bool counters;
        bool unix_all;                  /* `unix = true`: watch every UNIX listener */
        char *metrics_file;             /* NULL: none */
        uint64_t metrics_interval_usec; /* the file is written at most this often */
        bool metrics_all;               /* series for every watched listener, not only
                                         * those that have been non-empty or dropped */
        uint64_t syn_interval_usec;     /* between SYN-queue counts; 0 = never */
        uint64_t stall_usec;            /* a queue whose head stays this long is stalled; 0 = off */
        bool host;                      /* watch the daemon's own network namespace (default true) */
        int log_level;                  /* `log_level`: a syslog priority, -1 when not set */
        char **namespaces;              /* namespace files or glob(7) patterns, absolute, in file order */
        size_t n_namespaces;
        Watch *watch; /* no TCP entry: every TCP listener, with the top-level levels */
        size_t n_watch;
        /* Worked out when the configuration is made, for the queries below. */
        Watch all;          /* the entry that watches what no entry selects:
                             * every port, the top-level warn/clear */
        size_t n_tcp_watch; /* entries without `unix` */
        bool wants_unit, wants_netns;
        ConfigMatchIndex *index; /* never NULL in a Config made by this module */
} Config;

/* The built-in defaults. */
int config_new_default(Config **ret);

/* Loads and validates path. If the file does not exist and must_exist is
 * false, returns the built-in defaults (with path NULL). Only a regular
 * file (or a symlink to one) is opened, never blocking: a directory is
 * -EISDIR, a FIFO, socket or device -EBADFD ("FILE: not a regular file").
 * Errors: -ENOENT (missing and must_exist), -errno of opening or reading,
 * -EFBIG past 1 MiB, -EINVAL for any syntax or validation error. The text is
 * parsed in a child process first, so that libconfig's leaks on syntax
 * errors die with it: failed reloads do not grow the caller.
 * err then reads "FILE:LINE: KEY: message", e.g.
 * "/etc/backlogd/backlogd.conf:4: warn: must be between 1 and 100, not 120";
 * watch entries are named "watch[0].port" (counted from 0), "watch[1]" for a
 * whole entry. Syntax errors read "FILE:LINE: syntax error" (libconfig's
 * text), unreadable files "FILE: strerror". @include is rejected.
 * ret is written only on success. */
int config_load(const char *path, bool must_exist, Config **ret, ErrBuf *err);

/* Same, from a string (for tests and fuzzing); name is used in messages. */
int config_parse_string(const char *text, const char *name, Config **ret, ErrBuf *err);

Config *config_free(Config *c);

static inline void config_freep(Config **c) {
        config_free(*c);
}

/* Prints the normalised configuration in the file's own syntax, every key
 * explicit, so that it parses back to the same Config. */
void config_print(const Config *c, FILE *f);

/* The watch entry that selects l (the first that matches, in file order),
 * or NULL if l is not watched. TCP listeners are selected by the entries
 * without `unix`; when there are none, every TCP listener is watched with the
 * entry c->all, which carries the top-level warn/clear. UNIX listeners are
 * selected by the entries with a matching `unix` path, or, with
 * `unix = true`, by c->all. An entry with `unit` matches only
 * when unit (the listener's owning unit, NULL when unknown) matches its
 * pattern; one with `netns` only when netns (the name of the listener's
 * namespace, NULL when unknown) matches its pattern. Callers that do not
 * know pass NULL: such entries then select nothing. */
const Watch *config_match(const Config *c, const Listener *l, const char *unit, const char *netns);

/* The index config_match() searches instead of walking c->watch: built
 * once per configuration, when it is made (config.c), and freed with it.
 * Its size is proportional to c->n_watch. Errors: -ENOMEM. */
int config_match_index_new(const Config *c, ConfigMatchIndex **ret);
ConfigMatchIndex *config_match_index_free(ConfigMatchIndex *x);

/* Whether any watch entry selects by `unit` / by `netns`: callers resolve
 * those names for config_match() only then. */
bool config_wants_unit(const Config *c);
bool config_wants_netns(const Config *c);

/* Whether UNIX listeners need to be dumped at all. */
bool config_wants_unix(const Config *c);

/* The port ranges to ask the kernel for, merged and sorted. Returns the
 * number written to ret (at most max), 0 meaning "all ports" (no watch
 * list, or an entry without ports, or more ranges than max). */
size_t config_port_ranges(const Config *c, PortRange *ret, size_t max);

/* Whether the listeners entry w selects are read by fast polls: w has an
 * `interval` below the top-level one (c->interval_usec, after any
 * command-line override) and selects TCP listeners. */
bool config_watch_is_fast(const Config *c, const Watch *w);

/* The fast polls' cadence: the smallest `interval` of the entries
 * config_watch_is_fast() accepts, or 0 when there is none (no fast polls). */
uint64_t config_fast_interval(const Config *c);

/* Who the shipped service runs backlogd as, for config_reader_denied(). */
typedef enum ConfigReader {
        CONFIG_READER_ROOT,      /* uid 0, gid 0, no capability (backlogd.service) */
        CONFIG_READER_TRANSIENT, /* a transient uid and gid that own no file
                                  * (backlogd-unprivileged.conf.example) */
} ConfigReader;

/* Whether the permission bits keep who from reading the file at path: each
 * directory on the way to it (after resolving links) must grant search and
 * the file read, to the owner, group or other class that applies to who, as
 * for any process without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH.
 * Supplementary groups, ACLs and the unit's own file system view
 * (ProtectHome=, PrivateTmp=) are not taken into account. Returns 1 when
 * denied, with the path of the file or directory that denies (allocated)
 * and its stat in ret_where and ret_st; 0 when readable; -errno when path
 * or one of its directories cannot be resolved or stat()ed. */
int config_reader_denied(const char *path, ConfigReader who, char **ret_where, struct stat *ret_st);
