/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "config.h"

/* Golden files are loaded with paths relative to FIXTURES/config, so that
 * the expected error text reads "bad/NAME.conf:LINE: ...". */
static void enter_fixtures(void) {
        const char *dir = getenv("FIXTURES");
        char path[4096];

        ck_assert_msg(dir, "FIXTURES is not set");
        snprintf(path, sizeof(path), "%s/config", dir);
        ck_assert_int_eq(chdir(path), 0);
}

static char *read_all(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        ck_assert_msg(f, "cannot open %s", path);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        ck_assert_int_ge(n, 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static char *print_config(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        config_print(c, f);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

/* Both NULL or the same string. */
static void assert_str_or_null_eq(const char *a, const char *b, const char *what, const char *field, size_t i) {
        ck_assert_msg((a == NULL) == (b == NULL), "%s: %s[%zu]: \"%s\" vs \"%s\"", what, field, i, a ? a : "(null)",
                      b ? b : "(null)");
        if (a)
                ck_assert_msg(strcmp(a, b) == 0, "%s: %s[%zu]: \"%s\" vs \"%s\"", what, field, i, a, b);
}

/* Everything but path and the source lines. */
static void assert_config_eq(const Config *a, const Config *b, const char *what) {
        ck_assert_msg(a->interval_usec == b->interval_usec, "%s: interval", what);
        ck_assert_msg(a->warn == b->warn && a->clear == b->clear, "%s: levels", what);
        ck_assert_msg(a->repeat_usec == b->repeat_usec, "%s: repeat", what);
        ck_assert_msg(a->counters == b->counters, "%s: counters", what);
        ck_assert_msg(a->unix_all == b->unix_all, "%s: unix", what);
        ck_assert_msg(a->syn_interval_usec == b->syn_interval_usec, "%s: syn_interval", what);
        ck_assert_msg(a->stall_usec == b->stall_usec, "%s: stall", what);
        assert_str_or_null_eq(a->metrics_file, b->metrics_file, what, "metrics_file", 0);
        ck_assert_msg(a->metrics_interval_usec == b->metrics_interval_usec, "%s: metrics_interval", what);
        ck_assert_msg(a->metrics_all == b->metrics_all, "%s: metrics_all", what);
        ck_assert_msg(a->host == b->host, "%s: host", what);
        ck_assert_msg(a->n_namespaces == b->n_namespaces, "%s: n_namespaces", what);
        for (size_t i = 0; i < a->n_namespaces; i++)
                ck_assert_msg(strcmp(a->namespaces[i], b->namespaces[i]) == 0, "%s: namespaces[%zu]", what, i);
        ck_assert_msg(a->n_watch == b->n_watch, "%s: n_watch", what);
        for (size_t i = 0; i < a->n_watch; i++) {
                const Watch *x = &a->watch[i], *y = &b->watch[i];

                ck_assert_msg(x->any_port == y->any_port, "%s: watch[%zu].any_port", what, i);
                if (!x->any_port)
                        ck_assert_msg(x->ports.lo == y->ports.lo && x->ports.hi == y->ports.hi, "%s: watch[%zu].ports",
                                      what, i);
                ck_assert_msg(x->has_address == y->has_address, "%s: watch[%zu].has_address", what, i);
                if (x->has_address)
                        ck_assert_msg(x->family == y->family && memcmp(x->addr, y->addr, 16) == 0,
                                      "%s: watch[%zu].address", what, i);
                ck_assert_msg((x->name == NULL) == (y->name == NULL), "%s: watch[%zu].name", what, i);
                if (x->name)
                        ck_assert_str_eq(x->name, y->name);
                assert_str_or_null_eq(x->unix_path, y->unix_path, what, "unix", i);
                assert_str_or_null_eq(x->unit, y->unit, what, "unit", i);
                assert_str_or_null_eq(x->netns, y->netns, what, "netns", i);
                ck_assert_msg(x->stall_usec == y->stall_usec, "%s: watch[%zu].stall", what, i);
                ck_assert_msg(x->warn == y->warn && x->clear == y->clear, "%s: watch[%zu] levels", what, i);
        }
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The NAME.conf files of dir, sorted; returns their number. */
static size_t list_conf(const char *dir, char ***ret) {
        DIR *d = opendir(dir);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        ck_assert_msg(d, "cannot open %s", dir);
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);

                if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                names = realloc(names, (n + 1) * sizeof(*names));
                ck_assert_ptr_nonnull(names);
                names[n] = strndup(de->d_name, len - 5);
                ck_assert_ptr_nonnull(names[n]);
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        return n;
}

START_TEST(test_golden_good) {
        char **names;
        size_t n;

        enter_fixtures();
        n = list_conf("good", &names);
        ck_assert_uint_eq(n, 21);
        for (size_t i = 0; i < n; i++) {
                char conf[256], out[256];
                Config *c = NULL, *again = NULL;
                ErrBuf err = { { 0 } };
                char *want, *got, *got2;

                snprintf(conf, sizeof(conf), "good/%s.conf", names[i]);
                snprintf(out, sizeof(out), "good/%s.out", names[i]);
                ck_assert_msg(config_load(conf, true, &c, &err) == 0, "%s: %s", conf, err.text);
                ck_assert_str_eq(c->path, conf);
                want = read_all(out);
                got = print_config(c);
                ck_assert_msg(strcmp(got, want) == 0, "%s printed:\n%s\nexpected:\n%s", conf, got, want);

                /* The printed form parses back to the same configuration
                 * and prints identically. */
                ck_assert_msg(config_parse_string(got, "printed", &again, &err) == 0, "%s reparse: %s", conf,
                              err.text);
                assert_config_eq(c, again, conf);
                got2 = print_config(again);
                ck_assert_str_eq(got2, got);

                free(got2);
                free(got);
                free(want);
                config_free(again);
                config_free(c);
                free(names[i]);
        }
        free(names);
}
END_TEST

START_TEST(test_golden_bad) {
        char **names;
        size_t n;

        enter_fixtures();
        n = list_conf("bad", &names);
        ck_assert_uint_eq(n, 77);
        for (size_t i = 0; i < n; i++) {
                char conf[256], errfile[256], got[300];
                Config *c = (Config *) 0x1;
                ErrBuf err = { { 0 } };
                char *want;

                snprintf(conf, sizeof(conf), "bad/%s.conf", names[i]);
                snprintf(errfile, sizeof(errfile), "bad/%s.err", names[i]);
                ck_assert_msg(config_load(conf, true, &c, &err) == -EINVAL, "%s: not rejected", conf);
                ck_assert_msg(c == (Config *) 0x1, "%s: ret written on failure", conf);
                want = read_all(errfile);
                snprintf(got, sizeof(got), "%s\n", err.text);
                ck_assert_str_eq(got, want);
                free(want);
                free(names[i]);
        }
        free(names);
}
END_TEST

START_TEST(test_full_values) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        uint8_t lo[4] = { 127, 0, 0, 1 };

        enter_fixtures();
        ck_assert_int_eq(config_load("good/full.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, 1000000);
        ck_assert_uint_eq(c->warn, 80);
        ck_assert_uint_eq(c->clear, 60);
        ck_assert_uint_eq(c->repeat_usec, 300000000);
        ck_assert(c->counters);
        ck_assert_uint_eq(c->n_watch, 2);

        ck_assert(!c->watch[0].any_port);
        ck_assert_uint_eq(c->watch[0].ports.lo, 443);
        ck_assert_uint_eq(c->watch[0].ports.hi, 443);
        ck_assert(!c->watch[0].has_address);
        ck_assert_ptr_null(c->watch[0].name);
        ck_assert_uint_eq(c->watch[0].warn, 80);
        ck_assert_uint_eq(c->watch[0].clear, 60);
        ck_assert_uint_eq(c->watch[0].line, 7);

        ck_assert_uint_eq(c->watch[1].ports.lo, 8000);
        ck_assert_uint_eq(c->watch[1].ports.hi, 8099);
        ck_assert(c->watch[1].has_address);
        ck_assert_uint_eq(c->watch[1].family, AF_INET);
        ck_assert_mem_eq(c->watch[1].addr, lo, 4);
        ck_assert_str_eq(c->watch[1].name, "api");
        ck_assert_uint_eq(c->watch[1].warn, 50);
        ck_assert_uint_eq(c->watch[1].clear, 30);
        ck_assert_uint_eq(c->watch[1].line, 8);
        config_free(c);
}
END_TEST

START_TEST(test_ipv6_and_catch_all) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        uint8_t one[16] = { [15] = 1 };

        enter_fixtures();
        ck_assert_int_eq(config_load("good/addresses.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->n_watch, 5);
        ck_assert_uint_eq(c->watch[0].family, AF_INET6);
        ck_assert_mem_eq(c->watch[0].addr, one, 16);
        ck_assert(c->watch[3].any_port);
        ck_assert(c->watch[3].has_address);
        ck_assert_str_eq(c->watch[4].name, "say \"hi\" \\ bye");
        config_free(c);

        ck_assert_int_eq(config_load("good/catch-all.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->n_watch, 2);
        ck_assert(c->watch[1].any_port);
        ck_assert(!c->watch[1].has_address);
        ck_assert_str_eq(c->watch[1].name, "everything else");
        config_free(c);
}
END_TEST

START_TEST(test_seconds) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(config_parse_string("interval = 0.0100004; repeat = 1.0000005;", "s", &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, 10000);
        ck_assert_uint_eq(c->repeat_usec, 1000001);
        config_free(c);
        ck_assert_int_eq(config_parse_string("interval = 0.0099996;", "s", &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, 10000);
        config_free(c);
        ck_assert_int_eq(config_parse_string("interval = 0.0099994;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: interval: must be between 0.01 and 3600 seconds, not 0.0099994");
        ck_assert_int_eq(config_parse_string("interval = 3600.000001;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: interval: must be between 0.01 and 3600 seconds, not 3600.000001");
        ck_assert_int_eq(config_parse_string("interval = 1e400;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: interval: must be between 0.01 and 3600 seconds, not inf");
        ck_assert_int_eq(config_parse_string("repeat = 4294967296000000L;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: repeat: must be between 0 and 604800 seconds, not 4294967296000000");
        ck_assert_int_eq(config_parse_string("interval = 3600; repeat = 604800.0;", "s", &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, CONFIG_INTERVAL_MAX_USEC);
        ck_assert_uint_eq(c->repeat_usec, 604800000000ULL);
        config_free(c);
}
END_TEST

START_TEST(test_missing) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        enter_fixtures();
        ck_assert_int_eq(config_load("nonexistent.conf", false, &c, &err), 0);
        ck_assert_ptr_null(c->path);
        ck_assert_uint_eq(c->interval_usec, CONFIG_DEFAULT_INTERVAL_USEC);
        ck_assert_uint_eq(c->warn, CONFIG_DEFAULT_WARN);
        ck_assert_uint_eq(c->clear, CONFIG_DEFAULT_CLEAR);
        ck_assert_uint_eq(c->repeat_usec, CONFIG_DEFAULT_REPEAT_USEC);
        ck_assert(c->counters);
        ck_assert_uint_eq(c->n_watch, 0);
        config_free(c);

        c = (Config *) 0x1;
        ck_assert_int_eq(config_load("nonexistent.conf", true, &c, &err), -ENOENT);
        ck_assert_ptr_eq(c, (Config *) 0x1);
        ck_assert_str_eq(err.text, "nonexistent.conf: No such file or directory");

        /* Only absence is forgiven, not other failures. */
        ck_assert_int_eq(config_load("good", false, &c, &err), -EISDIR);
        ck_assert_str_eq(err.text, "good: Is a directory");
        ck_assert_int_eq(config_load("good/full.conf/x", false, &c, &err), -ENOTDIR);
        ck_assert_str_eq(err.text, "good/full.conf/x: Not a directory");
}
END_TEST

START_TEST(test_unreadable) {
        char path[] = "/tmp/test-config-XXXXXX";
        int fd = mkstemp(path), status;
        pid_t pid;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "warn = 80;\n", 11), 11);
        ck_assert_int_eq(fchmod(fd, 0), 0);
        close(fd);

        /* Root reads anything: load as nobody, in a child so that the
         * rest of the suite keeps its privileges even without CK_FORK. */
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Config *c = NULL;
                ErrBuf err = { { 0 } };
                char want[128];

                if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0)
                        _exit(3);
                if (config_load(path, false, &c, &err) != -EACCES)
                        _exit(1);
                snprintf(want, sizeof(want), "%s: Permission denied", path);
                _exit(strcmp(err.text, want) == 0 ? 0 : 2);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_file_limits) {
        char tmp[] = "/tmp/test-config-XXXXXX", path[64], want[128];
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        int fd = mkstemp(tmp);

        /* Gone from /tmp at once, whatever assertion fails later. */
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(unlink(tmp), 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ck_assert_int_eq(write(fd, "warn = 80;\n\nclear\0 = 1;\n", 24), 24);
        ck_assert_int_eq(config_load(path, true, &c, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s:3: NUL byte in the file", path);
        ck_assert_str_eq(err.text, want);

        /* 1 MiB of comments is the most a file may hold. */
        ck_assert_int_eq(ftruncate(fd, 0), 0);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        for (int i = 0; i < 1024; i++) {
                char line[1024];

                memset(line, ' ', sizeof(line));
                line[0] = '#';
                line[sizeof(line) - 1] = '\n';
                ck_assert_int_eq(write(fd, line, sizeof(line)), (ssize_t) sizeof(line));
        }
        ck_assert_int_eq(config_load(path, true, &c, &err), 0);
        config_free(c);
        ck_assert_int_eq(write(fd, "#\n", 2), 2);
        ck_assert_int_eq(config_load(path, true, &c, &err), -EFBIG);
        snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
        ck_assert_str_eq(err.text, want);
        close(fd);
}
END_TEST

START_TEST(test_parse_string) {
        Config *c = (Config *) 0x1;
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(config_parse_string("warn = 70;\nbogus = 1;\n", NULL, &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "<string>:2: bogus: unknown key");
        ck_assert_ptr_eq(c, (Config *) 0x1);
        ck_assert_int_eq(config_parse_string("warn = ", "fuzz", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "fuzz:1: syntax error");
        /* Errors do not need an ErrBuf. */
        ck_assert_int_eq(config_parse_string("warn = 0;", "x", &c, NULL), -EINVAL);

        ck_assert_int_eq(config_parse_string("", NULL, &c, &err), 0);
        ck_assert_ptr_null(c->path);
        ck_assert_uint_eq(c->warn, 80);
        config_free(c);
        ck_assert_int_eq(config_parse_string("warn = 70; # comment\n// another\n/* and */ clear = 5;", "n", &c, &err),
                         0);
        ck_assert_str_eq(c->path, "n");
        ck_assert_uint_eq(c->warn, 70);
        ck_assert_uint_eq(c->clear, 5);
        config_free(c);
}
END_TEST

/* UNIX listeners are watched by path or with unix = true; a watch list of
 * UNIX entries only leaves every TCP listener watched. */
START_TEST(test_match_unix) {
        Config *c = NULL;
        Listener fpm = { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "/run/php/php-fpm.sock" };
        Listener other = { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "@other" };
        Listener tcp = { .family = AF_INET, .port = 8080 };
        PortRange r[4];

        ck_assert_int_eq(
                config_parse_string("watch = ( { unix = \"/run/php/php-fpm.sock\"; warn = 50; clear = 20; } );", "u",
                                    &c, NULL),
                0);
        ck_assert(config_wants_unix(c));
        ck_assert_uint_eq(config_match(c, &fpm, NULL, NULL)->warn, 50);
        ck_assert_ptr_null(config_match(c, &other, NULL, NULL));
        ck_assert_uint_eq(config_match(c, &tcp, NULL, NULL)->warn, 80);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);

        ck_assert_int_eq(config_parse_string("unix = true; watch = ( { port = 443; } );", "u", &c, NULL), 0);
        ck_assert(config_wants_unix(c));
        ck_assert_uint_eq(config_match(c, &other, NULL, NULL)->warn, 80);
        ck_assert_ptr_null(config_match(c, &tcp, NULL, NULL));
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 1);
        config_free(c);

        ck_assert_int_eq(config_new_default(&c), 0);
        ck_assert(!config_wants_unix(c));
        ck_assert_ptr_null(config_match(c, &fpm, NULL, NULL));
        ck_assert_ptr_nonnull(config_match(c, &tcp, NULL, NULL));
        config_free(c);
}
END_TEST

START_TEST(test_print_defaults) {
        Config *c = NULL;
        char *got, *want;

        enter_fixtures();
        ck_assert_int_eq(config_new_default(&c), 0);
        got = print_config(c);
        want = read_all("good/empty.out");
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
        config_free(c);
        ck_assert_ptr_null(config_free(NULL));
}
END_TEST

/* The installed sample documents the defaults: it must load to exactly
 * the built-in configuration. */
START_TEST(test_sample) {
        Config *c = NULL, *d = NULL;
        ErrBuf err = { { 0 } };
        char path[4096];

        snprintf(path, sizeof(path), "%s/../../conf/backlogd.conf", getenv("FIXTURES"));
        ck_assert_msg(config_load(path, true, &c, &err) == 0, "%s", err.text);
        ck_assert_int_eq(config_new_default(&d), 0);
        assert_config_eq(c, d, "sample");
        config_free(d);
        config_free(c);
}
END_TEST

START_TEST(test_match) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        Listener l = { .family = AF_INET, .port = 8050 };
        const Watch *w;

        ck_assert_int_eq(config_parse_string("warn = 90; clear = 20;", "m", &c, &err), 0);
        w = config_match(c, &l, NULL, NULL);
        ck_assert_ptr_nonnull(w);
        ck_assert(w->any_port);
        ck_assert_uint_eq(w->warn, 90);
        ck_assert_uint_eq(w->clear, 20);
        config_free(c);

        ck_assert_int_eq(config_parse_string("watch = ( { port = 443; },\n"
                                             "  { ports = \"8000-8099\"; address = \"127.0.0.1\"; },\n"
                                             "  { address = \"::1\"; } );",
                                             "m", &c, &err),
                         0);
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL)); /* 0.0.0.0:8050 */
        inet_pton(AF_INET, "127.0.0.1", l.addr);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[1]);
        l.port = 8100;
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        l.port = 443;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]);
        l.family = AF_INET6;
        l.port = 22;
        memset(l.addr, 0, sizeof(l.addr));
        l.addr[15] = 1;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[2]);
        config_free(c);
}
END_TEST

START_TEST(test_port_ranges) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        PortRange r[4];

        ck_assert_int_eq(config_parse_string("", "p", &c, &err), 0);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);

        ck_assert_int_eq(config_parse_string("watch = ( { ports = \"8000-8099\"; }, { port = 443; },"
                                             " { ports = \"8100-8200\"; }, { port = 8050; } );",
                                             "p", &c, &err),
                         0);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 2);
        ck_assert_uint_eq(r[0].lo, 443);
        ck_assert_uint_eq(r[0].hi, 443);
        ck_assert_uint_eq(r[1].lo, 8000);
        ck_assert_uint_eq(r[1].hi, 8200);
        ck_assert_uint_eq(config_port_ranges(c, r, 3), 0); /* more entries than room */
        config_free(c);

        ck_assert_int_eq(config_parse_string("watch = ( { port = 1; }, { name = \"rest\"; } );", "p", &c, &err), 0);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);
}
END_TEST

START_TEST(test_host_namespaces) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(config_new_default(&c), 0);
        ck_assert(c->host);
        ck_assert_uint_eq(c->n_namespaces, 0);
        ck_assert_ptr_null(c->namespaces);
        config_free(c);
        ck_assert_int_eq(config_parse_string("warn = 90;", "h", &c, &err), 0);
        ck_assert(c->host);
        ck_assert_uint_eq(c->n_namespaces, 0);
        config_free(c);

        enter_fixtures();
        ck_assert_int_eq(config_load("good/namespaces.conf", true, &c, &err), 0);
        ck_assert(!c->host);
        ck_assert_uint_eq(c->n_namespaces, 4);
        ck_assert_str_eq(c->namespaces[0], "/run/netns/*");
        ck_assert_str_eq(c->namespaces[1], "/proc/812/ns/net");
        ck_assert_str_eq(c->namespaces[2], "/run/netns/web[0-9]");
        ck_assert_str_eq(c->namespaces[3], "/run/netns/*");
        ck_assert_uint_eq(c->n_watch, 0);
        config_free(c);

        ck_assert_int_eq(config_load("good/namespaces-list.conf", true, &c, &err), 0);
        ck_assert(c->host);
        ck_assert_uint_eq(c->n_namespaces, 2);
        ck_assert_str_eq(c->namespaces[0], "/run/netns/web1");
        ck_assert_str_eq(c->namespaces[1], "/var/run/netns/db 1");
        config_free(c);

        /* host = true with an empty list is the default, spelt out. */
        ck_assert_int_eq(config_parse_string("host = true; namespaces = ( );", "h", &c, &err), 0);
        ck_assert(c->host);
        ck_assert_uint_eq(c->n_namespaces, 0);
        config_free(c);
        /* The order of the keys does not matter for the host check. */
        ck_assert_int_eq(config_parse_string("namespaces = [ \"/run/netns/a\" ];\nhost = false;", "h", &c, &err), 0);
        ck_assert(!c->host);
        ck_assert_uint_eq(c->n_namespaces, 1);
        config_free(c);
}
END_TEST

/* The limits themselves are accepted; one more is the golden bad files. */
START_TEST(test_limits_new_keys) {
        char *text, path[4096], unit[256];
        size_t len = 0, size = 256 * 32 + 64;
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        text = malloc(size);
        ck_assert_ptr_nonnull(text);
        len += (size_t) snprintf(text + len, size - len, "host = false; namespaces = [");
        for (int i = 0; i < 256; i++)
                len += (size_t) snprintf(text + len, size - len, "%s\"/run/netns/n%d\"", i ? ", " : " ", i);
        snprintf(text + len, size - len, " ];");
        ck_assert_msg(config_parse_string(text, "l", &c, &err) == 0, "%s", err.text);
        ck_assert_uint_eq(c->n_namespaces, 256);
        ck_assert_str_eq(c->namespaces[0], "/run/netns/n0");
        ck_assert_str_eq(c->namespaces[255], "/run/netns/n255");
        config_free(c);
        free(text);

        memset(path, 'p', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = 0; /* 4095 bytes */
        memset(unit, 'u', sizeof(unit) - 1);
        unit[sizeof(unit) - 1] = 0; /* 255 bytes */
        size = sizeof(path) + 2 * sizeof(unit) + 128;
        text = malloc(size);
        ck_assert_ptr_nonnull(text);
        snprintf(text, size, "namespaces = [ \"%s\" ];\nwatch = ( { unit = \"%s\"; netns = \"%s\"; } );", path, unit,
                 unit);
        ck_assert_msg(config_parse_string(text, "l", &c, &err) == 0, "%s", err.text);
        ck_assert_uint_eq(strlen(c->namespaces[0]), 4095);
        ck_assert_uint_eq(strlen(c->watch[0].unit), 255);
        ck_assert_uint_eq(strlen(c->watch[0].netns), 255);
        config_free(c);
        free(text);

        /* A single byte is enough for a pattern and for a path. */
        ck_assert_int_eq(config_parse_string("namespaces = [ \"/\" ]; watch = ( { unit = \"*\"; netns = \"?\"; } );",
                                             "l", &c, &err),
                         0);
        ck_assert_str_eq(c->namespaces[0], "/");
        ck_assert_str_eq(c->watch[0].unit, "*");
        ck_assert_str_eq(c->watch[0].netns, "?");
        config_free(c);
}
END_TEST

START_TEST(test_unit_netns_values) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        enter_fixtures();
        ck_assert_int_eq(config_load("good/unit-netns.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->n_watch, 5);
        ck_assert_str_eq(c->watch[0].unit, "nginx.service");
        ck_assert_ptr_null(c->watch[0].netns);
        ck_assert(c->watch[0].any_port);
        ck_assert_ptr_null(c->watch[0].unix_path);
        ck_assert_str_eq(c->watch[1].unit, "php*-fpm.service");
        ck_assert_str_eq(c->watch[1].netns, "host");
        ck_assert_uint_eq(c->watch[1].ports.lo, 8080);
        ck_assert_uint_eq(c->watch[1].warn, 50);
        ck_assert_ptr_null(c->watch[2].unit);
        ck_assert_str_eq(c->watch[2].netns, "web*");
        ck_assert_str_eq(c->watch[3].unix_path, "/run/php/php-fpm.sock");
        ck_assert_ptr_null(c->watch[3].unit);
        ck_assert_str_eq(c->watch[3].netns, "php");
        ck_assert_str_eq(c->watch[4].unit, "say \"[a-z]\\*\".service");
        ck_assert_str_eq(c->watch[4].netns, "/proc/812/ns/net");
        ck_assert_uint_eq(c->watch[4].line, 8);
        config_free(c);
}
END_TEST

START_TEST(test_match_unit) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        Listener l = { .family = AF_INET, .port = 8080 };
        PortRange r[4];

        /* Exact name: one unit, whatever the port; the entry is a TCP
         * entry, so listeners of other units are no longer watched. */
        ck_assert_int_eq(config_parse_string("watch = ( { unit = \"nginx.service\"; warn = 50; clear = 20; } );", "m",
                                             &c, &err),
                         0);
        ck_assert(config_wants_unit(c));
        ck_assert(!config_wants_netns(c));
        ck_assert(!config_wants_unix(c));
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", NULL), &c->watch[0]);
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", "web1"), &c->watch[0]);
        l.port = 1;
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", "host"), &c->watch[0]);
        ck_assert_ptr_null(config_match(c, &l, "nginx.service2", NULL));
        ck_assert_ptr_null(config_match(c, &l, "nginx", NULL));
        ck_assert_ptr_null(config_match(c, &l, "apache2.service", NULL));
        ck_assert_ptr_null(config_match(c, &l, "", NULL));
        /* Unknown unit: the entry does not select the listener. */
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);

        /* Glob patterns, fnmatch(3) with no flags: '*' also matches '/'
         * and a leading '.', '\' escapes, first matching entry wins. */
        ck_assert_int_eq(config_parse_string("watch = (\n"
                                             "  { port = 8080; unit = \"php*-fpm.service\"; name = \"fpm\"; },\n"
                                             "  { unit = \"[a-c]*.service\"; name = \"abc\"; },\n"
                                             "  { unit = \"lit\\\\*\"; name = \"literal\"; },\n"
                                             "  { unit = \"*\"; name = \"any unit\"; } );",
                                             "m", &c, &err),
                         0);
        ck_assert_str_eq(c->watch[2].unit, "lit\\*");
        l.port = 8080;
        ck_assert_ptr_eq(config_match(c, &l, "php8.2-fpm.service", NULL), &c->watch[0]);
        ck_assert_ptr_eq(config_match(c, &l, "php-fpm.service", NULL), &c->watch[0]);
        ck_assert_ptr_eq(config_match(c, &l, "php-fpm.socket", NULL), &c->watch[3]);
        ck_assert_ptr_eq(config_match(c, &l, "bind9.service", NULL), &c->watch[1]);
        ck_assert_ptr_eq(config_match(c, &l, "lit*", NULL), &c->watch[2]);
        ck_assert_ptr_eq(config_match(c, &l, "literal", NULL), &c->watch[3]);
        ck_assert_ptr_eq(config_match(c, &l, "user@1000.service/app.slice", NULL), &c->watch[3]);
        ck_assert_ptr_eq(config_match(c, &l, ".hidden", NULL), &c->watch[3]);
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        /* Port and unit together: both must match. */
        l.port = 8081;
        ck_assert_ptr_eq(config_match(c, &l, "php8.2-fpm.service", NULL), &c->watch[3]);
        ck_assert_ptr_eq(config_match(c, &l, "cron.service", NULL), &c->watch[1]);
        config_free(c);

        /* Port and unit, with a port-only fallback behind it. */
        ck_assert_int_eq(
                config_parse_string("watch = ( { port = 80; unit = \"nginx.service\"; warn = 50; clear = 20; },"
                                    " { port = 80; } );",
                                    "m", &c, &err),
                0);
        l.port = 80;
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", NULL), &c->watch[0]);
        ck_assert_ptr_eq(config_match(c, &l, "apache2.service", NULL), &c->watch[1]);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[1]);
        l.port = 81;
        ck_assert_ptr_null(config_match(c, &l, "nginx.service", NULL));
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 1);
        ck_assert_uint_eq(r[0].lo, 80);
        ck_assert_uint_eq(r[0].hi, 80);
        config_free(c);
}
END_TEST

START_TEST(test_match_netns) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        Listener l = { .family = AF_INET6, .port = 443, .netns = 4026532999 };
        Listener sock = { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "/run/app.sock" };

        /* netns alone selects every TCP listener of the matching
         * namespaces, and nothing else. */
        ck_assert_int_eq(config_parse_string("namespaces = [ \"/run/netns/*\" ];\n"
                                             "watch = ( { netns = \"web*\"; name = \"web\"; } );",
                                             "n", &c, &err),
                         0);
        ck_assert(config_wants_netns(c));
        ck_assert(!config_wants_unit(c));
        ck_assert_ptr_eq(config_match(c, &l, NULL, "web1"), &c->watch[0]);
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", "web1"), &c->watch[0]);
        l.port = 22;
        ck_assert_ptr_eq(config_match(c, &l, NULL, "web"), &c->watch[0]);
        ck_assert_ptr_null(config_match(c, &l, NULL, "host"));
        ck_assert_ptr_null(config_match(c, &l, NULL, "db1"));
        ck_assert_ptr_null(config_match(c, &l, NULL, "aweb1"));
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        ck_assert_ptr_null(config_match(c, &sock, NULL, "web1"));
        config_free(c);

        /* Both patterns must match; a path name matches a path pattern. */
        ck_assert_int_eq(config_parse_string("watch = ( { unit = \"nginx.service\"; netns = \"host\"; },\n"
                                             "  { netns = \"/proc/*/ns/net\"; } );",
                                             "n", &c, &err),
                         0);
        ck_assert(config_wants_unit(c));
        ck_assert(config_wants_netns(c));
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", "host"), &c->watch[0]);
        ck_assert_ptr_null(config_match(c, &l, "nginx.service", "web1"));
        ck_assert_ptr_null(config_match(c, &l, "nginx.service", NULL));
        ck_assert_ptr_null(config_match(c, &l, NULL, "host"));
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", "/proc/812/ns/net"), &c->watch[1]);
        ck_assert_ptr_eq(config_match(c, &l, NULL, "/proc/812/ns/net"), &c->watch[1]);
        config_free(c);
}
END_TEST

/* netns narrows a UNIX entry (unit cannot: see bad/unit-unix.conf); the
 * static "watch all" entry ignores it. */
START_TEST(test_match_unix_unit) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        Listener fpm = { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "/run/php/php-fpm.sock" };
        Listener tcp = { .family = AF_INET, .port = 8080 };
        const Watch *w;

        ck_assert_int_eq(config_parse_string("watch = ( { unix = \"/run/php/php-fpm.sock\";"
                                             " netns = \"host\"; warn = 50; clear = 20; } );",
                                             "u", &c, &err),
                         0);
        ck_assert(config_wants_unix(c));
        ck_assert(!config_wants_unit(c));
        ck_assert(config_wants_netns(c));
        ck_assert_ptr_eq(config_match(c, &fpm, NULL, "host"), &c->watch[0]);
        ck_assert_ptr_null(config_match(c, &fpm, NULL, "web1"));
        ck_assert_ptr_null(config_match(c, &fpm, NULL, NULL));
        /* Only UNIX entries: every TCP listener, whatever its unit. */
        w = config_match(c, &tcp, NULL, NULL);
        ck_assert_ptr_nonnull(w);
        ck_assert(w->any_port);
        ck_assert_ptr_null(w->unit);
        ck_assert_ptr_null(w->netns);
        ck_assert_uint_eq(w->warn, 80);
        ck_assert_ptr_eq(config_match(c, &tcp, "nginx.service", "web1"), w);
        config_free(c);

        /* unix = true: a UNIX listener the entry does not select falls to
         * the static entry, with or without a known unit. */
        ck_assert_int_eq(config_parse_string("unix = true; warn = 70; clear = 10;\n"
                                             "watch = ( { unix = \"/run/php/php-fpm.sock\"; netns = \"php*\"; },"
                                             " { port = 443; } );",
                                             "u", &c, &err),
                         0);
        ck_assert_ptr_eq(config_match(c, &fpm, NULL, "php"), &c->watch[0]);
        w = config_match(c, &fpm, NULL, "web1");
        ck_assert_ptr_nonnull(w);
        ck_assert(w != &c->watch[0] && w != &c->watch[1]);
        ck_assert_uint_eq(w->warn, 70);
        ck_assert_uint_eq(w->clear, 10);
        ck_assert_ptr_eq(config_match(c, &fpm, NULL, NULL), w);
        ck_assert_ptr_null(config_match(c, &tcp, NULL, "php"));
        config_free(c);
}
END_TEST

START_TEST(test_wants) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(config_new_default(&c), 0);
        ck_assert(!config_wants_unit(c));
        ck_assert(!config_wants_netns(c));
        config_free(c);
        /* namespaces alone do not need netns names for matching. */
        ck_assert_int_eq(config_parse_string("host = false; namespaces = [ \"/run/netns/*\" ];\n"
                                             "watch = ( { port = 80; }, { unix = \"/x.sock\"; name = \"x\"; } );",
                                             "w", &c, &err),
                         0);
        ck_assert(!config_wants_unit(c));
        ck_assert(!config_wants_netns(c));
        config_free(c);
        /* The entry that asks may be the last one. */
        ck_assert_int_eq(
                config_parse_string("watch = ( { port = 80; }, { port = 81; }, { netns = \"db\"; } );", "w", &c, &err),
                0);
        ck_assert(!config_wants_unit(c));
        ck_assert(config_wants_netns(c));
        config_free(c);
        ck_assert_int_eq(config_parse_string("watch = ( { port = 80; }, { port = 81; unit = \"a.service\"; } );", "w",
                                             &c, &err),
                         0);
        ck_assert(config_wants_unit(c));
        ck_assert(!config_wants_netns(c));
        config_free(c);
}
END_TEST

/* The new keys print as written, quotes and backslashes escaped, and parse
 * back to the same values. */
START_TEST(test_print_new_keys) {
        static const char want[] =
                "interval = 1.0;\n"
                "warn = 80;\n"
                "clear = 60;\n"
                "repeat = 300;\n"
                "counters = true;\n"
                "unix = false;\n"
                "syn_interval = 10;\n"
                "stall = 10;\n"
                "metrics_interval = 15;\n"
                "metrics_all = false;\n"
                "host = false;\n"
                "namespaces = [\n"
                "        \"/run/netns/a\\\"b\",\n"
                "        \"/run/netns/c\\\\*\"\n"
                "];\n"
                "watch = (\n"
                "        { port = 80; unit = \"x\\\\[\\\"\"; netns = \"w*\"; warn = 80; clear = 60; stall = 10; }\n"
                ");\n";
        Config *c = NULL, *again = NULL;
        ErrBuf err = { { 0 } };
        char *got, *got2;

        ck_assert_int_eq(config_parse_string("host = false;\n"
                                             "namespaces = [ \"/run/netns/a\\\"b\", \"/run/netns/c\\\\*\" ];\n"
                                             "watch = ( { netns = \"w*\"; unit = \"x\\\\[\\\"\"; port = 80; } );",
                                             "p", &c, &err),
                         0);
        ck_assert_str_eq(c->namespaces[0], "/run/netns/a\"b");
        ck_assert_str_eq(c->namespaces[1], "/run/netns/c\\*");
        ck_assert_str_eq(c->watch[0].unit, "x\\[\"");
        got = print_config(c);
        ck_assert_str_eq(got, want);
        ck_assert_msg(config_parse_string(got, "p2", &again, &err) == 0, "%s", err.text);
        assert_config_eq(c, again, "print_new_keys");
        got2 = print_config(again);
        ck_assert_str_eq(got2, want);
        free(got2);
        free(got);
        config_free(again);
        config_free(c);
}
END_TEST

/* A failure after some namespaces or patterns were copied frees them (run
 * under ASan/valgrind to see it) and leaves ret alone. */
START_TEST(test_partial_failure) {
        Config *c = (Config *) 0x1;
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(config_parse_string("namespaces = [ \"/a\", \"/b\", \"c\" ];", "f", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "f:1: namespaces[2]: must be an absolute path, not \"c\"");
        ck_assert_int_eq(config_parse_string("namespaces = [ \"/a\" ];\nwatch = ( { unit = \"a\"; netns = \"b\"; },\n"
                                             "  { unit = \"a\"; netns = \"b\"; port = 0; } );",
                                             "f", &c, &err),
                         -EINVAL);
        ck_assert_str_eq(err.text, "f:3: watch[1].port: must be between 1 and 65535, not 0");
        ck_assert_int_eq(config_parse_string("host = false;\nwatch = ( { netns = \"web\"; } );", "f", &c, &err),
                         -EINVAL);
        ck_assert_str_eq(err.text, "f:1: host: false needs a non-empty namespaces list, or nothing is watched");
        ck_assert_ptr_eq(c, (Config *) 0x1);
}
END_TEST

/* Runs config_load(path) and checks that it fails with r and err, within
 * a second; a blocking open or read (the old fopen()/fread()) hangs and the
 * alarm ends the test instead. */
static void assert_load_fails(const char *path, int r, const char *want) {
        Config *c = (Config *) 0x1;
        ErrBuf err = { { 0 } };
        struct timespec t0, t1;
        double secs;

        alarm(3);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_msg(config_load(path, false, &c, &err) == r, "%s: not %d: %s", path, r, err.text);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        alarm(0);
        secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        ck_assert_msg(secs < 1.0, "%s: took %.3f s", path, secs);
        ck_assert_str_eq(err.text, want);
        ck_assert_ptr_eq(c, (Config *) 0x1);
}

/* FIFOs, devices and sockets are refused before anything is read from
 * them (a FIFO without a writer, /dev/kmsg and /dev/zero would block or
 * never end), also behind a symlink; a symlink to a regular file is fine. */
START_TEST(test_not_regular) {
        char dir[] = "/tmp/test-config-XXXXXX", p[128], want[192];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        int s;

        ck_assert_ptr_nonnull(mkdtemp(dir));

        snprintf(p, sizeof(p), "%s/fifo.conf", dir);
        ck_assert_int_eq(mkfifo(p, 0644), 0);
        snprintf(want, sizeof(want), "%s: not a regular file", p);
        assert_load_fails(p, -EBADFD, want);
        snprintf(p, sizeof(p), "%s/link-fifo.conf", dir);
        ck_assert_int_eq(symlink("fifo.conf", p), 0);
        snprintf(want, sizeof(want), "%s: not a regular file", p);
        assert_load_fails(p, -EBADFD, want);

        if (access("/dev/kmsg", F_OK) == 0) {
                assert_load_fails("/dev/kmsg", -EBADFD, "/dev/kmsg: not a regular file");
                snprintf(p, sizeof(p), "%s/link-kmsg.conf", dir);
                ck_assert_int_eq(symlink("/dev/kmsg", p), 0);
                snprintf(want, sizeof(want), "%s: not a regular file", p);
                assert_load_fails(p, -EBADFD, want);
        }
        assert_load_fails("/dev/zero", -EBADFD, "/dev/zero: not a regular file");
        assert_load_fails("/dev/null", -EBADFD, "/dev/null: not a regular file");

        snprintf(p, sizeof(p), "%s/sock.conf", dir);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(s, 0);
        ck_assert_uint_lt(strlen(p), sizeof(sa.sun_path));
        memcpy(sa.sun_path, p, strlen(p) + 1);
        ck_assert_int_eq(bind(s, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(s, 1), 0);
        snprintf(want, sizeof(want), "%s: not a regular file", p);
        assert_load_fails(p, -EBADFD, want);
        close(s);

        snprintf(p, sizeof(p), "%s/d.conf", dir);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(want, sizeof(want), "%s: Is a directory", p);
        assert_load_fails(p, -EISDIR, want);

        /* A symlink to a regular file is followed (admins link /etc files). */
        snprintf(p, sizeof(p), "%s/real.conf", dir);
        s = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        ck_assert_int_ge(s, 0);
        ck_assert_int_eq(write(s, "warn = 70;\n", 11), 11);
        close(s);
        snprintf(p, sizeof(p), "%s/link.conf", dir);
        ck_assert_int_eq(symlink("real.conf", p), 0);
        ck_assert_msg(config_load(p, true, &c, &err) == 0, "%s", err.text);
        ck_assert_uint_eq(c->warn, 70);
        config_free(c);

        snprintf(p, sizeof(p), "rm -rf -- '%s'", dir);
        ck_assert_int_eq(system(p), 0);
}
END_TEST

static size_t heap_in_use(void) {
        struct mallinfo2 mi = mallinfo2();

        return mi.uordblks + mi.hblkhd;
}

/* libconfig 1.5 loses a string token that is the lookahead at a syntax
 * error: 100 kB per load of this file. config_load() parses in a child
 * first, so 30 failed loads leave the heap as it was; the error text is
 * the one libconfig gives. */
START_TEST(test_failed_loads_do_not_grow) {
        char path[] = "/tmp/test-config-XXXXXX", want[128];
        int fd = mkstemp(path);
        size_t before = 0, after;
        char *text;

        ck_assert_int_ge(fd, 0);
        text = malloc(100020);
        ck_assert_ptr_nonnull(text);
        memcpy(text, "warn = 70;\na \"", 14);
        memset(text + 14, 'x', 100000);
        memcpy(text + 100014, "\";\n", 3);
        ck_assert_int_eq(write(fd, text, 100017), 100017);
        close(fd);
        free(text);
        snprintf(want, sizeof(want), "%s:2: syntax error", path);
        for (int i = 0; i < 31; i++) {
                Config *c = (Config *) 0x1;
                ErrBuf err = { { 0 } };

                if (i == 1)
                        before = heap_in_use();
                ck_assert_int_eq(config_load(path, true, &c, &err), -EINVAL);
                ck_assert_str_eq(err.text, want);
                ck_assert_ptr_eq(c, (Config *) 0x1);
        }
        after = heap_in_use();
        unlink(path);
        fprintf(stderr, "heap in use before 30 failed loads %zu bytes, after %zu\n", before, after);
        ck_assert_msg(after <= before + 65536, "heap grew from %zu to %zu bytes", before, after);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_golden_good);
        tcase_add_test(tc, test_golden_bad);
        tcase_add_test(tc, test_match_unix);
        tcase_add_test(tc, test_full_values);
        tcase_add_test(tc, test_ipv6_and_catch_all);
        tcase_add_test(tc, test_seconds);
        tcase_add_test(tc, test_missing);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_file_limits);
        tcase_add_test(tc, test_parse_string);
        tcase_add_test(tc, test_print_defaults);
        tcase_add_test(tc, test_sample);
        tcase_add_test(tc, test_match);
        tcase_add_test(tc, test_port_ranges);
        tcase_add_test(tc, test_host_namespaces);
        tcase_add_test(tc, test_limits_new_keys);
        tcase_add_test(tc, test_unit_netns_values);
        tcase_add_test(tc, test_match_unit);
        tcase_add_test(tc, test_match_netns);
        tcase_add_test(tc, test_match_unix_unit);
        tcase_add_test(tc, test_wants);
        tcase_add_test(tc, test_print_new_keys);
        tcase_add_test(tc, test_partial_failure);
        tcase_add_test(tc, test_not_regular);
        tcase_add_test(tc, test_failed_loads_do_not_grow);
        suite_add_tcase(s, tc);
        return s;
}
