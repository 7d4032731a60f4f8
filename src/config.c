/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_NAME_MAX 64
#define CONFIG_REPEAT_MAX_USEC (86400ULL * 7 * 1000000ULL)
#define CONFIG_NAMESPACES_MAX 256
#define CONFIG_PATTERN_MAX 255 /* unit and netns: a unit name is at most 255 bytes */

/* Where messages point: the name of the file (or string) being parsed. */
typedef struct Parser {
        const char *name;
        ErrBuf *err;
} Parser;

/* "NAME:LINE: KEY: message". KEY is "warn" or "watch[0].port"; watch
 * entries are counted from 0, as in libconfig's own paths. */
_printf_(5, 6) static int fail(const Parser *p, unsigned line, const char *key, int idx, const char *fmt, ...) {
        char msg[192], k[64];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (idx < 0)
                snprintf(k, sizeof(k), "%s", key);
        else if (key)
                snprintf(k, sizeof(k), "watch[%d].%s", idx, key);
        else
                snprintf(k, sizeof(k), "watch[%d]", idx);
        return errbuf_set(p->err, -EINVAL, "%s:%u: %s: %s", p->name, line, k, msg);
}

static int oom(const Parser *p) {
        return errbuf_set(p->err, -ENOMEM, "%s: %s", p->name, strerror(ENOMEM));
}

/* What config_match() and the config_wants_*() queries need, worked out
 * once per configuration instead of once per listener. */
static void config_finish(Config *c) {
        c->all = (Watch) { .any_port = true, .warn = c->warn, .clear = c->clear };
        c->n_tcp_watch = 0;
        c->wants_unit = c->wants_netns = false;
        for (size_t i = 0; i < c->n_watch; i++) {
                c->n_tcp_watch += !c->watch[i].unix_path;
                c->wants_unit |= c->watch[i].unit != NULL;
                c->wants_netns |= c->watch[i].netns != NULL;
        }
}

int config_new_default(Config **ret) {
        Config *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->interval_usec = CONFIG_DEFAULT_INTERVAL_USEC;
        c->warn = CONFIG_DEFAULT_WARN;
        c->clear = CONFIG_DEFAULT_CLEAR;
        c->repeat_usec = CONFIG_DEFAULT_REPEAT_USEC;
        c->counters = true;
        c->syn_interval_usec = CONFIG_DEFAULT_SYN_INTERVAL_USEC;
        c->host = true;
        c->log_level = -1;
        config_finish(c);
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_watch; i++) {
                free(c->watch[i].name);
                free(c->watch[i].unix_path);
                free(c->watch[i].unit);
                free(c->watch[i].netns);
        }
        free(c->watch);
        for (size_t i = 0; i < c->n_namespaces; i++)
                free(c->namespaces[i]);
        free(c->namespaces);
        free(c->metrics_file);
        free(c->path);
        free(c);
        return NULL;
}

static const char *type_name(const config_setting_t *s) {
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_GROUP:
                return "a group";
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a float";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array";
        case CONFIG_TYPE_LIST:
                return "a list";
        default:
                return "unknown";
        }
}

static bool is_int(const config_setting_t *s) {
        return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* A string value made safe and short enough to quote in a message. */
static const char *quote(const char *s, char *buf, size_t size) {
        size_t n = 0;

        for (; *s && n + 4 < size; s++)
                buf[n++] = isprint((unsigned char) *s) ? *s : '?';
        if (*s) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n] = 0;
        return buf;
}

static int get_int(const Parser *p, const config_setting_t *s, int idx, long long min, long long max,
                   unsigned *ret) {
        const char *key = config_setting_name(s);
        unsigned line = config_setting_source_line(s);
        long long v;

        if (!is_int(s))
                return fail(p, line, key, idx, "must be an integer, not %s", type_name(s));
        v = config_setting_get_int64(s);
        if (v < min || v > max)
                return fail(p, line, key, idx, "must be between %lld and %lld, not %lld", min, max, v);
        *ret = (unsigned) v;
        return 0;
}

/* Seconds as an integer or a float, stored in microseconds (rounded). */
static int get_seconds(const Parser *p, const config_setting_t *s, uint64_t min_usec, uint64_t max_usec,
                       const char *range, uint64_t *ret) {
        const char *key = config_setting_name(s);
        unsigned line = config_setting_source_line(s);
        char value[32];
        uint64_t usec;
        bool ok;

        if (is_int(s)) {
                long long v = config_setting_get_int64(s);

                snprintf(value, sizeof(value), "%lld", v);
                ok = v >= 0 && (uint64_t) v <= max_usec / 1000000;
                usec = ok ? (uint64_t) v * 1000000 : 0;
        } else if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
                double v = config_setting_get_float(s);

                snprintf(value, sizeof(value), "%.10g", v);
                ok = v >= 0 && v <= (double) max_usec / 1e6 + 1.0;
                usec = ok ? (uint64_t) (v * 1e6 + 0.5) : 0; /* v >= 0: rounds to nearest */
        } else
                return fail(p, line, key, -1, "must be a number of seconds, not %s", type_name(s));
        if (!ok || usec < min_usec || usec > max_usec)
                return fail(p, line, key, -1, "must be between %s seconds, not %s", range, value);
        *ret = usec;
        return 0;
}

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
        *ret = (PortRange) { .lo = (uint16_t) lo, .hi = (uint16_t) hi };
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

static int get_bool(const Parser *p, const config_setting_t *s, bool *ret) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return fail(p, config_setting_source_line(s), config_setting_name(s), -1,
                            "must be true or false, not %s", type_name(s));
        *ret = config_setting_get_bool(s);
        return 0;
}

static int get_string(const Parser *p, const config_setting_t *s, int idx, const char **ret) {
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return fail(p, config_setting_source_line(s), config_setting_name(s), idx,
                            "must be a string, not %s", type_name(s));
        *ret = config_setting_get_string(s);
        return 0;
}

static int check_name(const Parser *p, const config_setting_t *s, int idx, const char *v) {
        unsigned line = config_setting_source_line(s);
        size_t n = strlen(v);

        if (n == 0)
                return fail(p, line, "name", idx, "must not be empty");
        if (n > CONFIG_NAME_MAX)
                return fail(p, line, "name", idx, "must be at most %d characters, not %zu", CONFIG_NAME_MAX, n);
        for (size_t i = 0; i < n; i++)
                if (v[i] < 0x20 || v[i] > 0x7e)
                        return fail(p, line, "name", idx, "must hold printable ASCII characters only");
        return 0;
}

/* unit and netns: fnmatch(3) patterns, stored as written. */
static int get_pattern(const Parser *p, const config_setting_t *s, int idx, char **ret) {
        const char *key = config_setting_name(s), *v = NULL;
        unsigned line = config_setting_source_line(s);
        size_t n;
        int r;

        r = get_string(p, s, idx, &v);
        if (r < 0)
                return r;
        n = strlen(v);
        if (n == 0)
                return fail(p, line, key, idx, "must not be empty");
        if (n > CONFIG_PATTERN_MAX)
                return fail(p, line, key, idx, "must be at most %d bytes, not %zu", CONFIG_PATTERN_MAX, n);
        *ret = strdup(v);
        if (!*ret)
                return oom(p);
        return 0;
}

static int parse_watch_entry(const Parser *p, const config_setting_t *g, int idx, const Config *c, Watch *w) {
        const config_setting_t *port = NULL, *ports = NULL, *warn = NULL, *clear = NULL, *unix_sel = NULL,
                               *unit_sel = NULL;
        unsigned line = config_setting_source_line(g);
        char q[48];
        int n, r;

        if (!config_setting_is_group(g))
                return fail(p, line, NULL, idx, "must be a group { ... }, not %s", type_name(g));
        n = config_setting_length(g);
        if (n == 0)
                return fail(p, line, NULL, idx,
                            "empty entry; give at least one of port, ports, address, unix, unit, netns, name, "
                            "warn, clear");

        *w = (Watch) { .any_port = true, .warn = c->warn, .clear = c->clear, .line = line };
        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const char *key = config_setting_name(s), *v = NULL;
                unsigned l = config_setting_source_line(s);

                if (strcmp(key, "port") == 0) {
                        unsigned u;

                        if (ports)
                                return fail(p, l, key, idx, "cannot be combined with ports");
                        r = get_int(p, s, idx, 1, 65535, &u);
                        if (r < 0)
                                return r;
                        w->ports = (PortRange) { .lo = (uint16_t) u, .hi = (uint16_t) u };
                        w->any_port = false;
                        port = s;
                } else if (strcmp(key, "ports") == 0) {
                        if (port)
                                return fail(p, l, key, idx, "cannot be combined with port");
                        r = get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        if (parse_ports(v, &w->ports) < 0)
                                return fail(p, l, key, idx,
                                            "must be \"N\" or \"N-M\" with 1 <= N <= M <= 65535, not \"%s\"",
                                            quote(v, q, sizeof(q)));
                        w->any_port = false;
                        ports = s;
                } else if (strcmp(key, "address") == 0) {
                        r = get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        if (parse_address(v, w) < 0)
                                return fail(p, l, key, idx, "must be an IPv4 or IPv6 address, not \"%s\"",
                                            quote(v, q, sizeof(q)));
                } else if (strcmp(key, "unix") == 0) {
                        r = get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        if ((v[0] != '/' && v[0] != '@') || strlen(v) < 2 || strlen(v) >= LISTENER_PATH_MAX - 1)
                                return fail(p, l, key, idx,
                                            "must be an absolute socket path or @name (abstract), of at most "
                                            "107 characters, not \"%s\"",
                                            quote(v, q, sizeof(q)));
                        w->unix_path = strdup(v);
                        if (!w->unix_path)
                                return oom(p);
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
                        r = get_string(p, s, idx, &v);
                        if (r < 0)
                                return r;
                        r = check_name(p, s, idx, v);
                        if (r < 0)
                                return r;
                        w->name = strdup(v);
                        if (!w->name)
                                return oom(p);
                } else if (strcmp(key, "warn") == 0) {
                        r = get_int(p, s, idx, 2, 100, &w->warn);
                        if (r < 0)
                                return r;
                        warn = s;
                } else if (strcmp(key, "clear") == 0) {
                        r = get_int(p, s, idx, 1, 99, &w->clear);
                        if (r < 0)
                                return r;
                        clear = s;
                } else
                        return fail(p, l, key, idx, "unknown key");
        }

        if (unix_sel && (port || ports || w->has_address))
                return fail(p, config_setting_source_line(unix_sel), "unix", idx,
                            "selects a UNIX listener: cannot be combined with port, ports or address");
        /* unix_diag reports no cgroup: such an entry would never match. */
        if (unix_sel && unit_sel)
                return fail(p, config_setting_source_line(unit_sel), "unit", idx,
                            "cannot select UNIX listeners: the kernel reports no cgroup for them");
        if (w->clear >= w->warn) {
                if (clear)
                        return fail(p, config_setting_source_line(clear), "clear", idx,
                                    "must be below warn (%u), not %u", w->warn, w->clear);
                return fail(p, warn ? config_setting_source_line(warn) : line, "warn", idx,
                            "must be above clear (%u, from the top level), not %u", w->clear, w->warn);
        }
        return 0;
}

static int parse_watch(const Parser *p, const config_setting_t *list, Config *c) {
        int n;

        if (!config_setting_is_list(list))
                return fail(p, config_setting_source_line(list), "watch", -1,
                            "must be a list ( { ... }, ... ), not %s", type_name(list));
        n = config_setting_length(list);
        if (n == 0)
                return 0;
        c->watch = calloc((size_t) n, sizeof(Watch));
        if (!c->watch)
                return oom(p);
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
static int parse_namespaces(const Parser *p, const config_setting_t *list, Config *c) {
        unsigned line = config_setting_source_line(list);
        int n;

        if (!config_setting_is_array(list) && !config_setting_is_list(list))
                return fail(p, line, "namespaces", -1, "must be a list of paths [ \"...\", ... ], not %s",
                            type_name(list));
        n = config_setting_length(list);
        if (n > CONFIG_NAMESPACES_MAX)
                return fail(p, line, "namespaces", -1, "must hold at most %d paths, not %d", CONFIG_NAMESPACES_MAX,
                            n);
        if (n == 0)
                return 0;
        c->namespaces = calloc((size_t) n, sizeof(char *));
        if (!c->namespaces)
                return oom(p);
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(list, (unsigned) i);
                unsigned l = config_setting_source_line(e);
                const char *v;
                char key[32], q[48];
                size_t len;

                snprintf(key, sizeof(key), "namespaces[%d]", i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                        return fail(p, l, key, -1, "must be a string, not %s", type_name(e));
                v = config_setting_get_string(e);
                len = strlen(v);
                if (len == 0)
                        return fail(p, l, key, -1, "must not be empty");
                if (v[0] != '/')
                        return fail(p, l, key, -1, "must be an absolute path, not \"%s\"", quote(v, q, sizeof(q)));
                if (len >= PATH_MAX)
                        return fail(p, l, key, -1, "must be at most %d bytes, not %zu", PATH_MAX - 1, len);
                c->namespaces[i] = strdup(v);
                if (!c->namespaces[i])
                        return oom(p);
                c->n_namespaces++;
        }
        return 0;
}

static int parse_root(const Parser *p, const config_setting_t *root, Config *c) {
        const config_setting_t *warn = NULL, *clear = NULL, *watch = NULL, *host = NULL;
        int n = config_setting_length(root), r;

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned) i);
                const char *key = config_setting_name(s);

                if (strcmp(key, "interval") == 0)
                        r = get_seconds(p, s, CONFIG_INTERVAL_MIN_USEC, CONFIG_INTERVAL_MAX_USEC, "0.01 and 3600",
                                        &c->interval_usec);
                else if (strcmp(key, "repeat") == 0)
                        r = get_seconds(p, s, 0, CONFIG_REPEAT_MAX_USEC, "0 and 604800", &c->repeat_usec);
                else if (strcmp(key, "warn") == 0) {
                        r = get_int(p, s, -1, 2, 100, &c->warn);
                        warn = s;
                } else if (strcmp(key, "clear") == 0) {
                        r = get_int(p, s, -1, 1, 99, &c->clear);
                        clear = s;
                } else if (strcmp(key, "counters") == 0)
                        r = get_bool(p, s, &c->counters);
                else if (strcmp(key, "unix") == 0)
                        r = get_bool(p, s, &c->unix_all);
                else if (strcmp(key, "host") == 0) {
                        r = get_bool(p, s, &c->host);
                        host = s;
                } else if (strcmp(key, "namespaces") == 0)
                        r = parse_namespaces(p, s, c);
                else if (strcmp(key, "log_level") == 0) {
                        const char *v = NULL;
                        char q[48];

                        r = get_string(p, s, -1, &v);
                        if (r >= 0 && log_level_from_string(v, &c->log_level) < 0)
                                return fail(p, config_setting_source_line(s), key, -1,
                                            "must be one of emerg, alert, crit, err, warning, notice, info, debug, "
                                            "not \"%s\"",
                                            quote(v, q, sizeof(q)));
                } else if (strcmp(key, "syn_interval") == 0)
                        r = get_seconds(p, s, 0, CONFIG_INTERVAL_MAX_USEC, "0 and 3600", &c->syn_interval_usec);
                else if (strcmp(key, "metrics_file") == 0) {
                        const char *v = NULL;
                        char q[48];

                        r = get_string(p, s, -1, &v);
                        if (r < 0)
                                return r;
                        if (v[0] != '/' || strlen(v) >= PATH_MAX || v[strlen(v) - 1] == '/')
                                return fail(p, config_setting_source_line(s), key, -1,
                                            "must be an absolute file name, not \"%s\"", quote(v, q, sizeof(q)));
                        free(c->metrics_file);
                        c->metrics_file = strdup(v);
                        if (!c->metrics_file)
                                return oom(p);
                } else if (strcmp(key, "watch") == 0) {
                        watch = s; /* after warn and clear, which it inherits */
                        r = 0;
                } else
                        return fail(p, config_setting_source_line(s), key, -1, "unknown key");
                if (r < 0)
                        return r;
        }

        if (c->clear >= c->warn) {
                if (clear)
                        return fail(p, config_setting_source_line(clear), "clear", -1,
                                    "must be below warn (%u), not %u", c->warn, c->clear);
                return fail(p, warn ? config_setting_source_line(warn) : 0, "warn", -1,
                            "must be above clear (%u, the default), not %u", c->clear, c->warn);
        }
        if (!c->host && c->n_namespaces == 0)
                return fail(p, config_setting_source_line(host), "host", -1,
                            "false needs a non-empty namespaces list, or nothing is watched");
        return watch ? parse_watch(p, watch, c) : 0;
}

/* libconfig would resolve @include relative to the daemon's working
 * directory and report lines of the included file; refuse it instead. */
static int check_no_include(const Parser *p, const char *text) {
        unsigned line = 1;

        for (const char *l = text; l; line++) {
                l += strspn(l, " \t");
                if (strncmp(l, "@include", 8) == 0)
                        return errbuf_set(p->err, -EINVAL, "%s:%u: @include is not supported", p->name, line);
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return 0;
}

int config_parse_string(const char *text, const char *name, Config **ret, ErrBuf *err) {
        _cleanup_(config_freep) Config *c = NULL;
        const Parser p = { .name = name ? name : "<string>", .err = err };
        config_t lc;
        int r;

        r = check_no_include(&p, text);
        if (r < 0)
                return r;
        r = config_new_default(&c);
        if (r < 0)
                return errbuf_set(err, r, "%s: %s", p.name, strerror(-r));
        if (name) {
                c->path = strdup(name);
                if (!c->path)
                        return errbuf_set(err, -ENOMEM, "%s: %s", p.name, strerror(ENOMEM));
        }

        config_init(&lc);
        if (!config_read_string(&lc, text)) {
                r = errbuf_set(err, -EINVAL, "%s:%d: %s", p.name, config_error_line(&lc),
                               config_error_text(&lc) ? config_error_text(&lc) : "syntax error");
                config_destroy(&lc);
                return r;
        }
        r = parse_root(&p, config_root_setting(&lc), c);
        config_destroy(&lc);
        if (r < 0)
                return r;
        config_finish(c);
        *ret = c;
        c = NULL;
        return 0;
}

/* The whole file, NUL-terminated; one parse path for files and strings, so
 * that fuzzing config_parse_string() covers config_load(). */
static int read_text(FILE *f, const char *path, char **ret, ErrBuf *err) {
        _cleanup_(freep) char *buf = NULL;
        size_t n = 0, cap = 0;
        struct stat st;

        if (fstat(fileno(f), &st) < 0)
                return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return errbuf_set(err, -EISDIR, "%s: %s", path, strerror(EISDIR));
        for (;;) {
                size_t k;

                if (n == cap) {
                        char *b;

                        /* Room for one byte past the limit tells a file of
                         * exactly CONFIG_FILE_MAX bytes from a longer one. */
                        if (cap > CONFIG_FILE_MAX)
                                return errbuf_set(err, -EFBIG, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
                        cap = cap ? cap * 2 : 8192;
                        if (cap > CONFIG_FILE_MAX)
                                cap = CONFIG_FILE_MAX + 1;
                        b = realloc(buf, cap + 1);
                        if (!b)
                                return errbuf_set(err, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
                        buf = b;
                }
                k = fread(buf + n, 1, cap - n, f);
                n += k;
                if (k == 0)
                        break;
        }
        if (ferror(f))
                return errbuf_set(err, -EIO, "%s: %s", path, strerror(EIO));
        buf[n] = 0;
        if (memchr(buf, 0, n)) {
                unsigned line = 1;

                for (const char *c = buf; *c; c++)
                        line += *c == '\n';
                return errbuf_set(err, -EINVAL, "%s:%u: NUL byte in the file", path, line);
        }
        *ret = buf;
        buf = NULL;
        return 0;
}

int config_load(const char *path, bool must_exist, Config **ret, ErrBuf *err) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_(freep) char *text = NULL;
        int r;

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (r == -ENOENT && !must_exist) {
                        r = config_new_default(ret);
                        return r < 0 ? errbuf_set(err, r, "%s: %s", path, strerror(-r)) : 0;
                }
                return errbuf_set(err, r, "%s: %s", path, strerror(-r));
        }
        r = read_text(f, path, &text, err);
        if (r < 0)
                return r;
        return config_parse_string(text, path, ret, err);
}

/* Seconds from microseconds, shortest exact decimal; always with a
 * fraction when decimal is true, so that libconfig reads a float. */
static const char *format_seconds(uint64_t usec, bool decimal, char *buf, size_t size) {
        uint64_t frac = usec % 1000000;
        int len = 6;

        if (frac == 0 && !decimal) {
                snprintf(buf, size, "%" PRIu64, usec / 1000000);
                return buf;
        }
        while (len > 1 && frac % 10 == 0) {
                frac /= 10;
                len--;
        }
        snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, usec / 1000000, len, frac);
        return buf;
}

/* A libconfig string literal: quotes and backslashes escaped. */
static void print_string(FILE *f, const char *before, const char *v, const char *after) {
        fprintf(f, "%s\"", before);
        for (const char *s = v; *s; s++) {
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fprintf(f, "\"%s", after);
}

void config_print(const Config *c, FILE *f) {
        char buf[64];

        fprintf(f, "interval = %s;\n", format_seconds(c->interval_usec, true, buf, sizeof(buf)));
        fprintf(f, "warn = %u;\n", c->warn);
        fprintf(f, "clear = %u;\n", c->clear);
        fprintf(f, "repeat = %s;\n", format_seconds(c->repeat_usec, false, buf, sizeof(buf)));
        fprintf(f, "counters = %s;\n", c->counters ? "true" : "false");
        fprintf(f, "unix = %s;\n", c->unix_all ? "true" : "false");
        fprintf(f, "syn_interval = %s;\n", format_seconds(c->syn_interval_usec, false, buf, sizeof(buf)));
        if (c->metrics_file)
                print_string(f, "metrics_file = ", c->metrics_file, ";\n");
        fprintf(f, "host = %s;\n", c->host ? "true" : "false");
        if (c->log_level >= 0)
                fprintf(f, "log_level = \"%s\";\n", log_level_to_string(c->log_level));
        if (c->n_namespaces == 0)
                fputs("namespaces = [ ];\n", f);
        else {
                fputs("namespaces = [\n", f);
                for (size_t i = 0; i < c->n_namespaces; i++)
                        print_string(f, "        ", c->namespaces[i], i + 1 < c->n_namespaces ? ",\n" : "\n");
                fputs("];\n", f);
        }
        if (c->n_watch == 0) {
                fputs("watch = ( );\n", f);
                return;
        }
        fputs("watch = (\n", f);
        for (size_t i = 0; i < c->n_watch; i++) {
                const Watch *w = &c->watch[i];

                fputs("        {", f);
                if (!w->any_port && w->ports.lo == w->ports.hi)
                        fprintf(f, " port = %u;", w->ports.lo);
                else if (!w->any_port)
                        fprintf(f, " ports = \"%u-%u\";", w->ports.lo, w->ports.hi);
                if (w->has_address)
                        fprintf(f, " address = \"%s\";", inet_ntop(w->family, w->addr, buf, sizeof(buf)));
                if (w->unix_path)
                        print_string(f, " unix = ", w->unix_path, ";");
                if (w->unit)
                        print_string(f, " unit = ", w->unit, ";");
                if (w->netns)
                        print_string(f, " netns = ", w->netns, ";");
                if (w->name)
                        print_string(f, " name = ", w->name, ";");
                fprintf(f, " warn = %u; clear = %u; }%s\n", w->warn, w->clear, i + 1 < c->n_watch ? "," : "");
        }
        fputs(");\n", f);
}
