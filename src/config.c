/* SPDX-License-Identifier: MIT */
/* The configuration file: reading it, its top-level keys, the defaults and
 * the helpers config-parse.h shares. The watch and namespaces lists are
 * parsed in config-watch.c, the normalised output is config-print.c's. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config-parse.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_REPEAT_MAX_USEC (86400ULL * 7 * 1000000ULL)

int config_fail(const ConfigParser *p, unsigned line, const char *key, int idx, const char *fmt, ...) {
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

unsigned config_clear_for_warn(unsigned warn, unsigned inherited) {
        if (inherited < warn)
                return inherited;
        return warn * 3 / 4 > 0 ? warn * 3 / 4 : 1;
}

int config_oom(const ConfigParser *p) {
        return errbuf_set(p->err, -ENOMEM, "%s: %s", p->name, strerror(ENOMEM));
}

/* What config_match() and the config_wants_*() queries need, worked out
 * once per configuration instead of once per listener. Called again after
 * parsing, on the defaults' Config: the old index goes. */
static int config_finish(Config *c) {
        c->all = (Watch){ .any_port = true, .warn = c->warn, .clear = c->clear, .stall_usec = c->stall_usec };
        c->n_tcp_watch = 0;
        c->wants_unit = c->wants_netns = false;
        for (size_t i = 0; i < c->n_watch; i++) {
                c->n_tcp_watch += !c->watch[i].unix_path;
                c->wants_unit |= c->watch[i].unit != NULL;
                c->wants_netns |= c->watch[i].netns != NULL;
        }
        c->index = config_match_index_free(c->index);
        return config_match_index_new(c, &c->index);
}

int config_new_default(Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->interval_usec = CONFIG_DEFAULT_INTERVAL_USEC;
        c->warn = CONFIG_DEFAULT_WARN;
        c->clear = CONFIG_DEFAULT_CLEAR;
        c->repeat_usec = CONFIG_DEFAULT_REPEAT_USEC;
        c->counters = true;
        c->syn_interval_usec = CONFIG_DEFAULT_SYN_INTERVAL_USEC;
        c->stall_usec = CONFIG_DEFAULT_STALL_USEC;
        c->metrics_interval_usec = CONFIG_DEFAULT_METRICS_INTERVAL_USEC;
        c->host = true;
        c->log_level = -1;
        r = config_finish(c);
        if (r < 0)
                return r;
        *ret = c;
        c = NULL;
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
        config_match_index_free(c->index);
        for (size_t i = 0; i < c->n_namespaces; i++)
                free(c->namespaces[i]);
        free(c->namespaces);
        free(c->metrics_file);
        free(c->path);
        free(c);
        return NULL;
}

const char *config_type_name(const config_setting_t *s) {
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

const char *config_quote(const char *s, char *buf, size_t size) {
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

int config_get_int(const ConfigParser *p, const config_setting_t *s, int idx, long long min, long long max,
                   unsigned *ret) {
        const char *key = config_setting_name(s);
        unsigned line = config_setting_source_line(s);
        long long v;

        if (!is_int(s))
                return config_fail(p, line, key, idx, "must be an integer, not %s", config_type_name(s));
        v = config_setting_get_int64(s);
        if (v < min || v > max)
                return config_fail(p, line, key, idx, "must be between %lld and %lld, not %lld", min, max, v);
        *ret = (unsigned) v;
        return 0;
}

int config_get_stall(const ConfigParser *p, const config_setting_t *s, int idx, uint64_t *ret) {
        uint64_t usec;
        int r = config_get_seconds(p, s, idx, 0, CONFIG_INTERVAL_MAX_USEC, "0 and 3600", &usec);

        if (r < 0)
                return r;
        /* As short as a poll may be, no shorter. */
        if (usec != 0 && usec < CONFIG_INTERVAL_MIN_USEC)
                return config_fail(p, config_setting_source_line(s), config_setting_name(s), idx,
                                   "must be 0 (off) or at least 0.01 seconds, not %.6g", (double) usec / 1e6);
        *ret = usec;
        return 0;
}

int config_get_seconds(const ConfigParser *p, const config_setting_t *s, int idx, uint64_t min_usec, uint64_t max_usec,
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
                return config_fail(p, line, key, idx, "must be a number of seconds, not %s", config_type_name(s));
        if (!ok || usec < min_usec || usec > max_usec)
                return config_fail(p, line, key, idx, "must be between %s seconds, not %s", range, value);
        *ret = usec;
        return 0;
}

static int get_bool(const ConfigParser *p, const config_setting_t *s, bool *ret) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return config_fail(p, config_setting_source_line(s), config_setting_name(s), -1,
                                   "must be true or false, not %s", config_type_name(s));
        *ret = config_setting_get_bool(s);
        return 0;
}

int config_get_string(const ConfigParser *p, const config_setting_t *s, int idx, const char **ret) {
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return config_fail(p, config_setting_source_line(s), config_setting_name(s), idx,
                                   "must be a string, not %s", config_type_name(s));
        *ret = config_setting_get_string(s);
        return 0;
}

static int parse_root(const ConfigParser *p, const config_setting_t *root, Config *c) {
        const config_setting_t *clear = NULL, *watch = NULL, *host = NULL;
        int n = config_setting_length(root), r;

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned) i);
                const char *key = config_setting_name(s);

                if (strcmp(key, "interval") == 0)
                        r = config_get_seconds(p, s, -1, CONFIG_INTERVAL_MIN_USEC, CONFIG_INTERVAL_MAX_USEC,
                                               "0.01 and 3600", &c->interval_usec);
                else if (strcmp(key, "repeat") == 0)
                        r = config_get_seconds(p, s, -1, 0, CONFIG_REPEAT_MAX_USEC, "0 and 604800", &c->repeat_usec);
                else if (strcmp(key, "warn") == 0)
                        r = config_get_int(p, s, -1, 2, 100, &c->warn);
                else if (strcmp(key, "clear") == 0) {
                        r = config_get_int(p, s, -1, 1, 99, &c->clear);
                        clear = s;
                } else if (strcmp(key, "counters") == 0)
                        r = get_bool(p, s, &c->counters);
                else if (strcmp(key, "unix") == 0)
                        r = get_bool(p, s, &c->unix_all);
                else if (strcmp(key, "host") == 0) {
                        r = get_bool(p, s, &c->host);
                        host = s;
                } else if (strcmp(key, "namespaces") == 0)
                        r = config_parse_namespaces(p, s, c);
                else if (strcmp(key, "log_level") == 0) {
                        const char *v = NULL;
                        char q[48];

                        r = config_get_string(p, s, -1, &v);
                        if (r >= 0 && log_level_from_string(v, &c->log_level) < 0)
                                return config_fail(
                                        p, config_setting_source_line(s), key, -1,
                                        "must be one of emerg, alert, crit, err, warning, notice, info, debug, "
                                        "not \"%s\"",
                                        config_quote(v, q, sizeof(q)));
                } else if (strcmp(key, "syn_interval") == 0)
                        r = config_get_seconds(p, s, -1, 0, CONFIG_INTERVAL_MAX_USEC, "0 and 3600",
                                               &c->syn_interval_usec);
                else if (strcmp(key, "metrics_interval") == 0)
                        r = config_get_seconds(p, s, -1, CONFIG_INTERVAL_MIN_USEC, CONFIG_INTERVAL_MAX_USEC,
                                               "0.01 and 3600", &c->metrics_interval_usec);
                else if (strcmp(key, "stall") == 0)
                        r = config_get_stall(p, s, -1, &c->stall_usec);
                else if (strcmp(key, "metrics_all") == 0)
                        r = get_bool(p, s, &c->metrics_all);
                else if (strcmp(key, "metrics_file") == 0) {
                        const char *v = NULL;
                        char q[48];

                        r = config_get_string(p, s, -1, &v);
                        if (r < 0)
                                return r;
                        if (v[0] != '/' || strlen(v) >= PATH_MAX || v[strlen(v) - 1] == '/')
                                return config_fail(p, config_setting_source_line(s), key, -1,
                                                   "must be an absolute file name, not \"%s\"",
                                                   config_quote(v, q, sizeof(q)));
                        free(c->metrics_file);
                        c->metrics_file = strdup(v);
                        if (!c->metrics_file)
                                return config_oom(p);
                } else if (strcmp(key, "watch") == 0) {
                        watch = s; /* after warn, clear and stall, which it inherits */
                        r = 0;
                } else
                        return config_fail(p, config_setting_source_line(s), key, -1, "unknown key");
                if (r < 0)
                        return r;
        }

        /* Only a clear given explicitly can be at or above warn. */
        if (!clear)
                c->clear = config_clear_for_warn(c->warn, c->clear);
        if (c->clear >= c->warn)
                return config_fail(p, config_setting_source_line(clear), "clear", -1,
                                   "must be below warn (%u), not %u", c->warn, c->clear);
        if (!c->host && c->n_namespaces == 0)
                return config_fail(p, config_setting_source_line(host), "host", -1,
                                   "false needs a non-empty namespaces list, or nothing is watched");
        return watch ? config_parse_watch(p, watch, c) : 0;
}

/* libconfig would resolve @include relative to the daemon's working
 * directory and report lines of the included file; refuse it instead. */
static int check_no_include(const ConfigParser *p, const char *text) {
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
        const ConfigParser p = { .name = name ? name : "<string>", .err = err };
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
        r = config_finish(c);
        if (r < 0)
                return errbuf_set(err, r, "%s: %s", p.name, strerror(-r));
        *ret = c;
        c = NULL;
        return 0;
}

/* The whole file, NUL-terminated; one parse path for files and strings, so
 * that fuzzing config_parse_string() covers config_load(). size is what
 * fstat() said: past the limit nothing is read; the loop still stops at the
 * limit, since a file may grow while it is read. */
static int read_text(int fd, const char *path, off_t size, char **ret, ErrBuf *err) {
        _cleanup_(freep) char *buf = NULL;
        size_t n = 0, cap = 0;

        if (size > CONFIG_FILE_MAX)
                return errbuf_set(err, -EFBIG, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
        for (;;) {
                ssize_t k;

                if (n == cap) {
                        char *b;

                        /* Room for one byte past the limit tells a file of
                         * exactly CONFIG_FILE_MAX bytes from a longer one. */
                        if (cap > CONFIG_FILE_MAX)
                                return errbuf_set(err, -EFBIG, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
                        cap = cap ? cap * 2 : (size_t) size + 1 > 8192 ? (size_t) size + 1 : 8192;
                        if (cap > CONFIG_FILE_MAX)
                                cap = CONFIG_FILE_MAX + 1;
                        b = realloc(buf, cap + 1);
                        if (!b)
                                return errbuf_set(err, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
                        buf = b;
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
                if (k == 0)
                        break;
                n += (size_t) k;
        }
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

/* systemd's stat_verify_regular(): -EISDIR for a directory (its message is
 * strerror's, as before), -EBADFD for a FIFO, socket or device. */
static int verify_regular(const struct stat *st, const char *path, ErrBuf *err) {
        if (S_ISDIR(st->st_mode))
                return errbuf_set(err, -EISDIR, "%s: %s", path, strerror(EISDIR));
        if (!S_ISREG(st->st_mode))
                return errbuf_set(err, -EBADFD, "%s: not a regular file", path);
        return 0;
}

/* Opens path for reading, a regular file only. Nothing else is ever opened:
 * opening a device can act (it arms /dev/watchdog, rewinds a tape) and
 * reading a FIFO or /dev/kmsg blocks the loop, so stat() comes first, and
 * fstat() of the open descriptor then closes the race with a rename in
 * between; O_NONBLOCK keeps the open and the read of whatever slipped
 * through that race from blocking, O_NOCTTY a terminal from becoming ours.
 * Symlinks are followed (no O_NOFOLLOW): administrators link /etc files to
 * where configuration management keeps them, the file lives in a directory
 * only root can write, and reading through a link a local user cannot plant
 * there gives nothing away. -ENOENT (without a message) when path does not
 * exist and !must_exist. */
static int open_regular(const char *path, bool must_exist, int *ret_fd, struct stat *ret_st, ErrBuf *err) {
        _cleanup_(closep) int fd = -1;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                goto fail;
        r = verify_regular(&st, path, err);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0)
                goto fail;
        r = verify_regular(&st, path, err);
        if (r < 0)
                return r;
        *ret_fd = fd;
        fd = -1;
        *ret_st = st;
        return 0;

fail:
        r = -errno;
        if (r == -ENOENT && !must_exist)
                return r;
        return errbuf_set(err, r, "%s: %s", path, strerror(-r));
}

/* How long the child of parse_checked() may take: a 1 MiB file parses in
 * milliseconds. */
#define CONFIG_CHECK_TIMEOUT_MSEC 10000

typedef struct CheckResult {
        int r;
        ErrBuf err;
} CheckResult;

/* libconfig 1.5 leaks the buffer of a string token that is the parser's
 * lookahead when it finds a syntax error (`a "<100 kB>";` loses 100 kB), so
 * every failed reload would grow the daemon for good. The text is therefore
 * parsed first in a forked child, which reports the outcome through a pipe
 * and exits, leak and all; the daemon parses only text the child accepted,
 * and libconfig frees everything on that path (on success and on our own
 * validation errors alike). The child's message is the one the parent would
 * have made. A parser that crashes or hangs takes the child with it, not the
 * daemon. Only when no child can be made (fork() fails) is the text parsed
 * here directly, leak or not: a reload should not fail for that.
 * config_parse_string() stays a plain call, for the fuzzer and tests.
 * text is the caller's heap copy (read_text()). */
static int parse_checked(char *text, const char *path, Config **ret, ErrBuf *err) {
        _cleanup_(closep) int rfd = -1, wfd = -1;
        CheckResult res = { .r = -EIO };
        struct pollfd pfd;
        int fds[2], status, r;
        ssize_t n = 0;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return config_parse_string(text, path, ret, err);
        rfd = fds[0];
        wfd = fds[1];
        pid = fork();
        if (pid < 0)
                return config_parse_string(text, path, ret, err);
        if (pid == 0) {
                Config *c = NULL;

                res.r = config_parse_string(text, path, &c, &res.err);
                /* The child's copies, freed so that a leak checker sees
                 * only libconfig's own leak. */
                config_free(c);
                free(text);
                /* One write of less than PIPE_BUF bytes: all or nothing. */
                _exit(write(wfd, &res, sizeof(res)) == (ssize_t) sizeof(res) ? 0 : 1);
        }
        close(wfd);
        wfd = -1;
        pfd = (struct pollfd){ .fd = rfd, .events = POLLIN };
        do
                r = poll(&pfd, 1, CONFIG_CHECK_TIMEOUT_MSEC);
        while (r < 0 && errno == EINTR);
        if (r > 0)
                do
                        n = read(rfd, &res, sizeof(res));
                while (n < 0 && errno == EINTR);
        else
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return errbuf_set(err, -errno, "%s: waiting for the parser: %s", path, strerror(errno));
        if (r == 0)
                return errbuf_set(err, -ETIMEDOUT, "%s: parsing took longer than %d s", path,
                                  CONFIG_CHECK_TIMEOUT_MSEC / 1000);
        /* A complete report is the answer, whatever the exit status (under
         * valgrind, libconfig's leak makes it 1). */
        if (n != (ssize_t) sizeof(res) && WIFSIGNALED(status))
                return errbuf_set(err, -EINVAL, "%s: the parser was killed by signal %d (%s)", path, WTERMSIG(status),
                                  strsignal(WTERMSIG(status)));
        if (n != (ssize_t) sizeof(res))
                return errbuf_set(err, -EIO, "%s: the parser reported nothing", path);
        if (res.r < 0) {
                res.err.text[sizeof(res.err.text) - 1] = 0;
                return errbuf_set(err, res.r, "%s", res.err.text);
        }
        return config_parse_string(text, path, ret, err);
}

int config_load(const char *path, bool must_exist, Config **ret, ErrBuf *err) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        struct stat st = { 0 };
        int r;

        r = open_regular(path, must_exist, &fd, &st, err);
        if (r == -ENOENT && !must_exist) {
                r = config_new_default(ret);
                return r < 0 ? errbuf_set(err, r, "%s: %s", path, strerror(-r)) : 0;
        }
        if (r < 0)
                return r;
        r = read_text(fd, path, st.st_size, &text, err);
        if (r < 0)
                return r;
        return parse_checked(text, path, ret, err);
}
