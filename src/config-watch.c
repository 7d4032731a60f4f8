/* SPDX-License-Identifier: MIT */
/* The configuration's lists: the watch entries and the namespaces. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config-parse.h"

#define CONFIG_NAME_MAX 64
#define CONFIG_NAMESPACES_MAX 256
#define CONFIG_PATTERN_MAX 255 /* unit and netns: a unit name is at most 255 bytes */

/* "N" or "N-M", 1 <= N <= M <= 65535, digits only. */
static int parse_ports(const char *s, PortRange *ret) {
        char buf[16];
        const char *dash;
        uint64_t lo, hi;

        if (strlen(s) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, s);
        dash = strchr(buf, '-');
        if (dash) {
                buf[dash - buf] = 0;
                if (parse_u64(buf, &lo) < 0 || parse_u64(dash + 1, &hi) < 0)
                        return -EINVAL;
        } else {
                if (parse_u64(buf, &lo) < 0)
                        return -EINVAL;
                hi = lo;
        }
        if (lo < 1 || lo > hi || hi > 65535)
                return -EINVAL;
        *ret = (PortRange){ .lo = (uint16_t) lo, .hi = (uint16_t) hi };
        return 0;
}

/* IPv4 or IPv6 literal; an IPv6 literal may be written in brackets, as in
 * "[::1]:80" that listener_endpoint() prints. */
static int parse_address(const char *s, Watch *w) {
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(s);

        if (n >= sizeof(buf))
                return -EINVAL;
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
                memcpy(buf, s + 1, n - 2);
                buf[n - 2] = 0;
                if (inet_pton(AF_INET6, buf, w->addr) != 1)
                        return -EINVAL;
                w->family = AF_INET6;
        } else if (inet_pton(AF_INET, s, w->addr) == 1)
                w->family = AF_INET;
        else if (inet_pton(AF_INET6, s, w->addr) == 1)
                w->family = AF_INET6;
        else
                return -EINVAL;
        w->has_address = true;
        return 0;
}

static int check_name(const ConfigParser *p, const config_setting_t *s, int idx, const char *v) {
        unsigned line = config_setting_source_line(s);
        size_t n = strlen(v);

        if (n == 0)
                return config_fail(p, line, "name", idx, "must not be empty");
        if (n > CONFIG_NAME_MAX)
                return config_fail(p, line, "name", idx, "must be at most %d characters, not %zu", CONFIG_NAME_MAX, n);
        for (size_t i = 0; i < n; i++)
                if (v[i] < 0x20 || v[i] > 0x7e)
                        return config_fail(p, line, "name", idx, "must hold printable ASCII characters only");
        return 0;
}

/* unit and netns: fnmatch(3) patterns, stored as written. */
static int get_pattern(const ConfigParser *p, const config_setting_t *s, int idx, char **ret) {
        const char *key = config_setting_name(s), *v = NULL;
        unsigned line = config_setting_source_line(s);
        size_t n;
        int r;

        r = config_get_string(p, s, idx, &v);
        if (r < 0)
                return r;
        n = strlen(v);
        if (n == 0)
                return config_fail(p, line, key, idx, "must not be empty");
        if (n > CONFIG_PATTERN_MAX)
                return config_fail(p, line, key, idx, "must be at most %d bytes, not %zu", CONFIG_PATTERN_MAX, n);
        *ret = strdup(v);
        if (!*ret)
                return config_oom(p);
        return 0;
}

static int parse_watch_entry(const ConfigParser *p, const config_setting_t *g, int idx, const Config *c, Watch *w) {
        const config_setting_t *port = NULL, *ports = NULL, *clear = NULL, *unix_sel = NULL, *unit_sel = NULL,
                               *interval = NULL;
        unsigned line = config_setting_source_line(g);
        char q[48];
        int n, r;

        if (!config_setting_is_group(g))
                return config_fail(p, line, NULL, idx, "must be a group { ... }, not %s", config_type_name(g));
        n = config_setting_length(g);
        if (n == 0)
                return config_fail(p, line, NULL, idx,
                                   "empty entry; give at least one of port, ports, address, unix, unit, netns, name, "
                                   "warn, clear, stall, interval");

        *w = (Watch){
                .any_port = true, .warn = c->warn, .clear = c->clear, .stall_usec = c->stall_usec, .line = line
        };
        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const char *key = config_setting_name(s), *v = NULL;
                unsigned l = config_setting_source_line(s);

                if (strcmp(key, "port") == 0) {
                        unsigned u;

                        if (ports)
                                return config_fail(p, l, key, idx, "cannot be combined with ports");
                        r = config_get_int(p, s, idx, 1, 65535, &u);
                        if (r < 0)
                                return r;
                        w->ports = (PortRange){ .lo = (uint16_t) u, .hi = (uint16_t) u };
                        w->any_port = false;
                        port = s;
                } else if (strcmp(key, "ports") == 0) {
                        if (port)
                                return config_fail(p, l, key, idx, "cannot be combined with port");
                        r = config_get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        if (parse_ports(v, &w->ports) < 0)
                                return config_fail(p, l, key, idx,
                                                   "must be \"N\" or \"N-M\" with 1 <= N <= M <= 65535, not \"%s\"",
                                                   config_quote(v, q, sizeof(q)));
                        w->any_port = false;
                        ports = s;
                } else if (strcmp(key, "address") == 0) {
                        r = config_get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        if (parse_address(v, w) < 0)
                                return config_fail(p, l, key, idx, "must be an IPv4 or IPv6 address, not \"%s\"",
                                                   config_quote(v, q, sizeof(q)));
                } else if (strcmp(key, "unix") == 0) {
                        r = config_get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        if ((v[0] != '/' && v[0] != '@') || strlen(v) < 2 || strlen(v) >= LISTENER_PATH_MAX - 1)
                                return config_fail(p, l, key, idx,
                                                   "must be an absolute socket path or @name (abstract), of at most "
                                                   "107 characters, not \"%s\"",
                                                   config_quote(v, q, sizeof(q)));
                        w->unix_path = strdup(v);
                        if (!w->unix_path)
                                return config_oom(p);
                        unix_sel = s;
                } else if (strcmp(key, "unit") == 0) {
                        r = get_pattern(p, s, idx, &w->unit);
                        if (r < 0)
                                return r;
                        unit_sel = s;
                } else if (strcmp(key, "netns") == 0) {
                        r = get_pattern(p, s, idx, &w->netns);
                        if (r < 0)
                                return r;
                } else if (strcmp(key, "name") == 0) {
                        r = config_get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        r = check_name(p, s, idx, v);
                        if (r < 0)
                                return r;
                        w->name = strdup(v);
                        if (!w->name)
                                return config_oom(p);
                } else if (strcmp(key, "warn") == 0) {
                        r = config_get_int(p, s, idx, 2, 100, &w->warn);
                        if (r < 0)
                                return r;
                } else if (strcmp(key, "clear") == 0) {
                        r = config_get_int(p, s, idx, 1, 99, &w->clear);
                        if (r < 0)
                                return r;
                        clear = s;
                } else if (strcmp(key, "stall") == 0) {
                        r = config_get_stall(p, s, idx, &w->stall_usec);
                        if (r < 0)
                                return r;
                } else if (strcmp(key, "interval") == 0) {
                        r = config_get_seconds(p, s, idx, CONFIG_INTERVAL_MIN_USEC, CONFIG_INTERVAL_MAX_USEC,
                                               "0.01 and 3600", &w->interval_usec);
                        if (r < 0)
                                return r;
                        interval = s;
                } else
                        return config_fail(p, l, key, idx, "unknown key");
        }

        if (unix_sel && (port || ports || w->has_address))
                return config_fail(p, config_setting_source_line(unix_sel), "unix", idx,
                                   "selects a UNIX listener: cannot be combined with port, ports or address");
        /* Fast polls look TCP listeners up by address, port and cookie. */
        if (unix_sel && interval)
                return config_fail(p, config_setting_source_line(interval), "interval", idx,
                                   "cannot be combined with unix: fast polls read TCP listeners only");
        /* unix_diag reports no cgroup: such an entry would never match. */
        if (unix_sel && unit_sel)
                return config_fail(p, config_setting_source_line(unit_sel), "unit", idx,
                                   "cannot select UNIX listeners: the kernel reports no cgroup for them");
        /* As at the top level, whose clear is inherited if below warn. */
        if (!clear)
                w->clear = config_clear_for_warn(w->warn, w->clear);
        if (w->clear >= w->warn)
                return config_fail(p, config_setting_source_line(clear), "clear", idx,
                                   "must be below warn (%u), not %u", w->warn, w->clear);
        return 0;
}

int config_parse_watch(const ConfigParser *p, const config_setting_t *list, Config *c) {
        int n;

        if (!config_setting_is_list(list))
                return config_fail(p, config_setting_source_line(list), "watch", -1,
                                   "must be a list ( { ... }, ... ), not %s", config_type_name(list));
        n = config_setting_length(list);
        if (n == 0)
                return 0;
        c->watch = calloc((size_t) n, sizeof(Watch));
        if (!c->watch)
                return config_oom(p);
        for (int i = 0; i < n; i++) {
                /* Counted before parsing so that config_free() releases a
                 * name the failing entry already copied. */
                c->n_watch++;
                int r = parse_watch_entry(p, config_setting_get_elem(list, (unsigned) i), i, c, &c->watch[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Namespace files or glob(7) patterns; the daemon expands them, on every
 * rescan, so only their form is checked here. Repeats are kept as written:
 * overlapping patterns find the same namespace anyway, and the daemon
 * tells namespaces apart by inode, not by the entry that found them. */
int config_parse_namespaces(const ConfigParser *p, const config_setting_t *list, Config *c) {
        unsigned line = config_setting_source_line(list);
        int n;

        if (!config_setting_is_array(list) && !config_setting_is_list(list))
                return config_fail(p, line, "namespaces", -1, "must be a list of paths [ \"...\", ... ], not %s",
                                   config_type_name(list));
        n = config_setting_length(list);
        if (n > CONFIG_NAMESPACES_MAX)
                return config_fail(p, line, "namespaces", -1, "must hold at most %d paths, not %d",
                                   CONFIG_NAMESPACES_MAX, n);
        if (n == 0)
                return 0;
        c->namespaces = calloc((size_t) n, sizeof(char *));
        if (!c->namespaces)
                return config_oom(p);
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(list, (unsigned) i);
                unsigned l = config_setting_source_line(e);
                const char *v;
                char key[32], q[48];
                size_t len;

                snprintf(key, sizeof(key), "namespaces[%d]", i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                        return config_fail(p, l, key, -1, "must be a string, not %s", config_type_name(e));
                v = config_setting_get_string(e);
                len = strlen(v);
                if (len == 0)
                        return config_fail(p, l, key, -1, "must not be empty");
                if (v[0] != '/')
                        return config_fail(p, l, key, -1, "must be an absolute path, not \"%s\"",
                                           config_quote(v, q, sizeof(q)));
                if (len >= PATH_MAX)
                        return config_fail(p, l, key, -1, "must be at most %d bytes, not %zu", PATH_MAX - 1, len);
                c->namespaces[i] = strdup(v);
                if (!c->namespaces[i])
                        return config_oom(p);
                c->n_namespaces++;
        }
        return 0;
}
