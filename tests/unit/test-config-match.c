/* SPDX-License-Identifier: MIT */
/* config_match() searches an index built with the Config; it must answer
 * exactly what a walk of the watch list in file order answers. The walk is
 * written out here from config.h's contract, and random configurations and
 * listeners are checked against it, besides the edge cases by hand. */
#include <arpa/inet.h>
#include <check.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check-main.h"
#include "config.h"

/* ---- the reference: a plain walk ---------------------------------------- */

static bool ref_pattern(const char *pattern, const char *name) {
        return !pattern || (name && fnmatch(pattern, name, 0) == 0);
}

static bool ref_selects(const Watch *w, const Listener *l, const char *unit, const char *netns) {
        if (l->kind == LISTENER_UNIX) {
                if (!w->unix_path || strcmp(w->unix_path, l->path) != 0)
                        return false;
        } else {
                if (w->unix_path)
                        return false;
                if (!w->any_port && (l->port < w->ports.lo || l->port > w->ports.hi))
                        return false;
                if (w->has_address) {
                        size_t n = w->family == AF_INET6 ? 16 : 4;

                        if (w->family != l->family || memcmp(w->addr, l->addr, n) != 0)
                                return false;
                }
        }
        return ref_pattern(w->unit, unit) && ref_pattern(w->netns, netns);
}

static const Watch *ref_match(const Config *c, const Listener *l, const char *unit, const char *netns) {
        bool any_tcp = false;

        for (size_t i = 0; i < c->n_watch; i++)
                if (ref_selects(&c->watch[i], l, unit, netns))
                        return &c->watch[i];
        for (size_t i = 0; i < c->n_watch; i++)
                any_tcp |= !c->watch[i].unix_path;
        if (l->kind == LISTENER_UNIX)
                return c->unix_all ? &c->all : NULL;
        return any_tcp ? NULL : &c->all;
}

/* "watch[3]", "all" or "none", for messages. */
static const char *describe_match(const Config *c, const Watch *w, char *buf, size_t size) {
        if (!w)
                return "none";
        if (w == &c->all)
                return "all";
        snprintf(buf, size, "watch[%td]", w - c->watch);
        return buf;
}

static void assert_same_match(const Config *c, const Listener *l, const char *unit, const char *netns,
                              const char *what) {
        const Watch *got = config_match(c, l, unit, netns), *want = ref_match(c, l, unit, netns);
        char a[32], b[32];

        if (got == want)
                return;
        ck_abort_msg("%s: %s listener port %u path \"%s\" unit %s netns %s: got %s, want %s", what,
                     l->kind == LISTENER_UNIX ? "UNIX"
                     : l->family == AF_INET6  ? "IPv6"
                                              : "IPv4",
                     l->port, l->path, unit ? unit : "(null)", netns ? netns : "(null)",
                     describe_match(c, got, a, sizeof(a)), describe_match(c, want, b, sizeof(b)));
}

static Config *parse(const char *text) {
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        ck_assert_msg(config_parse_string(text, "t", &c, &err) == 0, "%s\n---\n%s", err.text, text);
        return c;
}

static Listener tcp(int family, const char *addr, unsigned port) {
        Listener l = { .family = (uint8_t) family, .port = (uint16_t) port, .backlog = 128 };

        ck_assert_int_eq(inet_pton(family, addr, l.addr), 1);
        return l;
}

static Listener unix_listener(const char *path) {
        Listener l = { .kind = LISTENER_UNIX, .family = AF_UNIX };

        snprintf(l.path, sizeof(l.path), "%s", path);
        return l;
}

/* ---- random configurations -------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n) {
        /* xorshift64*: a fixed sequence, so that a failure repeats. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * 2685821657736338717ULL) >> 32) % n;
}

/* Ports that overlap from entry to entry, the ends of the range, and ports
 * a power of two apart (the same low bits: the hash table's worst case). */
static const unsigned port_pool[] = { 1, 2, 80, 443, 8080, 8081, 1024, 2048, 4096, 32768, 49152, 65534, 65535 };
static const char *const addr4_pool[] = { "127.0.0.1", "0.0.0.0", "10.0.0.1" };
static const char *const addr6_pool[] = { "::1", "::", "fe80::1" };
static const char *const unit_patterns[] = { "nginx.service", "php*-fpm.service", "*", "cron.*" };
static const char *const netns_patterns[] = { "host", "web*", "web1", "*" };
static const char *const unit_names[] = { NULL, "nginx.service", "php8.2-fpm.service", "cron.service", "x" };
static const char *const netns_names[] = { NULL, "host", "web1", "web", "db" };
static const char *const unix_paths[] = { "/run/a.sock", "/run/b.sock", "@abs", "/run/a.sock2" };

#define PICK(a) (a)[rnd(ELEMENTSOF(a))]

static unsigned random_port(void) {
        return rnd(2) ? PICK(port_pool) : 1 + rnd(65535);
}

/* Appends one entry, named after its index; returns the new length. */
static size_t append_entry(char *buf, size_t size, size_t len, unsigned i, bool wide_ports) {
        unsigned kind = rnd(100);

        len += (size_t) snprintf(buf + len, size - len, "%s{ name = \"e%u\";", i ? ",\n  " : "  ", i);
        if (kind < 15) {
                len += (size_t) snprintf(buf + len, size - len, " unix = \"%s\";", PICK(unix_paths));
                if (rnd(3) == 0)
                        len += (size_t) snprintf(buf + len, size - len, " netns = \"%s\";", PICK(netns_patterns));
                return len + (size_t) snprintf(buf + len, size - len, " }");
        }
        if (kind < 60) {
                unsigned p = wide_ports ? 1 + rnd(65535) : random_port();

                if (rnd(4) == 0)
                        len += (size_t) snprintf(buf + len, size - len, " ports = \"%u\";", p);
                else
                        len += (size_t) snprintf(buf + len, size - len, " port = %u;", p);
        } else if (kind < 80) {
                unsigned lo = random_port(), hi = random_port();

                if (lo > hi) {
                        unsigned t = lo;

                        lo = hi;
                        hi = t;
                }
                len += (size_t) snprintf(buf + len, size - len, " ports = \"%u-%u\";", lo, hi);
        } /* else any port */
        if (rnd(4) == 0)
                len += (size_t) snprintf(buf + len, size - len, " address = \"%s\";",
                                         rnd(2) ? PICK(addr4_pool) : PICK(addr6_pool));
        if (rnd(5) == 0)
                len += (size_t) snprintf(buf + len, size - len, " unit = \"%s\";", PICK(unit_patterns));
        if (rnd(5) == 0)
                len += (size_t) snprintf(buf + len, size - len, " netns = \"%s\";", PICK(netns_patterns));
        return len + (size_t) snprintf(buf + len, size - len, " }");
}

static Config *random_config(unsigned n) {
        size_t size = 256 + (size_t) n * 160, len = 0;
        char *text = malloc(size);
        bool wide_ports = n > 100; /* big lists: ports all over */
        Config *c;

        ck_assert_ptr_nonnull(text);
        text[0] = 0;
        if (rnd(3) == 0)
                len += (size_t) snprintf(text + len, size - len, "unix = true;\n");
        if (n > 0) {
                len += (size_t) snprintf(text + len, size - len, "watch = (\n");
                for (unsigned i = 0; i < n; i++)
                        len = append_entry(text, size, len, i, wide_ports);
                len += (size_t) snprintf(text + len, size - len, " );\n");
        }
        ck_assert_uint_lt(len, size);
        c = parse(text);
        free(text);
        return c;
}

/* A listener near what c selects: an entry's port, address or path, or
 * one next to it, or anything. */
static Listener random_listener(const Config *c) {
        const Watch *w = c->n_watch > 0 && rnd(4) != 0 ? &c->watch[rnd((uint32_t) c->n_watch)] : NULL;
        Listener l;

        if (w && w->unix_path)
                return unix_listener(rnd(4) ? w->unix_path : PICK(unix_paths));
        if (!w && rnd(6) == 0)
                return unix_listener(rnd(5) ? PICK(unix_paths) : "");
        if (rnd(2))
                l = tcp(AF_INET, PICK(addr4_pool), 0);
        else
                l = tcp(AF_INET6, PICK(addr6_pool), 0);
        if (w && w->has_address && rnd(2)) {
                l.family = w->family;
                memcpy(l.addr, w->addr, sizeof(l.addr));
        }
        if (w && !w->any_port) {
                static const int delta[] = { 0, 0, 0, -1, 1 };
                int p = (rnd(2) ? w->ports.lo : w->ports.hi) + PICK(delta);

                l.port = (uint16_t) (p < 0 ? 0 : p > 65535 ? 65535 : p);
        } else
                l.port = rnd(10) == 0 ? 0 : (uint16_t) random_port();
        return l;
}

/* Thousands of configurations (a few of hundreds of entries, with many
 * collisions in the hash table), and listeners with names near them. */
START_TEST(test_random_equivalence) {
        unsigned checks = 0;

        rng_state = 0x9e3779b97f4a7c15ULL;
        for (unsigned round = 0; round < 2000; round++) {
                unsigned n = round % 50 == 0 ? 200 + rnd(800) : rnd(40);
                Config *c = random_config(n);
                char what[32];

                snprintf(what, sizeof(what), "config %u", round);
                for (unsigned k = 0; k < 100; k++) {
                        Listener l = random_listener(c);

                        assert_same_match(c, &l, PICK(unit_names), PICK(netns_names), what);
                        checks++;
                }
                config_free(c);
        }
        ck_assert_uint_eq(checks, 200000);
}
END_TEST

/* ---- the edge cases ----------------------------------------------------- */

START_TEST(test_port_zero_and_ends) {
        Config *c = parse("watch = ( { ports = \"1-10\"; }, { port = 65535; }, { ports = \"65000-65535\"; },\n"
                          "  { port = 1; }, { address = \"10.0.0.1\"; } );");
        Listener l = tcp(AF_INET, "0.0.0.0", 0);

        /* Port 0 is no valid entry port: only an any-port entry takes it. */
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        l = tcp(AF_INET, "10.0.0.1", 0);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[4]);
        l = tcp(AF_INET, "0.0.0.0", 1);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]); /* the range comes first */
        l.port = 10;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]);
        l.port = 11;
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        l.port = 65535;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[1]);
        l.port = 65534;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[2]);
        l.port = 64999;
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        config_free(c);

        /* The single port at the end, then its range. */
        c = parse(
                "watch = ( { port = 1; }, { ports = \"1-2\"; }, { ports = \"65535\"; }, { ports = \"1-65535\"; } );");
        l = tcp(AF_INET6, "::1", 1);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]);
        l.port = 2;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[1]);
        l.port = 65535;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[2]);
        l.port = 3;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[3]);
        l.port = 0;
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        config_free(c);
}
END_TEST

/* Several entries of one port: the first that matches, in file order. */
START_TEST(test_duplicate_ports) {
        Config *c = parse(
                "watch = ( { port = 443; name = \"a\"; }, { port = 80; address = \"10.0.0.1\"; name = \"b\"; },\n"
                "  { port = 80; unit = \"nginx.service\"; name = \"c\"; }, { port = 80; name = \"d\"; },\n"
                "  { port = 80; name = \"e\"; } );");
        Listener l = tcp(AF_INET, "10.0.0.1", 80);

        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", NULL), &c->watch[1]);
        l = tcp(AF_INET, "0.0.0.0", 80);
        ck_assert_ptr_eq(config_match(c, &l, "nginx.service", NULL), &c->watch[2]);
        ck_assert_ptr_eq(config_match(c, &l, "apache2.service", NULL), &c->watch[3]);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[3]);
        l.port = 443;
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]);
        l.port = 8080;
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        config_free(c);
}
END_TEST

/* A wide entry (any port, a range) before a single-port one wins; after
 * it, it takes what the single-port one leaves. */
START_TEST(test_wide_before_single) {
        Config *c = parse("watch = ( { address = \"::1\"; name = \"any6\"; }, { port = 80; name = \"p80\"; },\n"
                          "  { ports = \"79-81\"; name = \"r\"; }, { port = 81; name = \"p81\"; },\n"
                          "  { netns = \"web*\"; name = \"web\"; } );");
        Listener l = tcp(AF_INET6, "::1", 80);

        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]);
        l = tcp(AF_INET6, "::", 80);
        ck_assert_ptr_eq(config_match(c, &l, NULL, "web1"), &c->watch[1]);
        l.port = 81;
        ck_assert_ptr_eq(config_match(c, &l, NULL, "web1"), &c->watch[2]); /* the range, before p81 */
        l.port = 82;
        ck_assert_ptr_eq(config_match(c, &l, NULL, "web1"), &c->watch[4]);
        ck_assert_ptr_null(config_match(c, &l, NULL, "host"));
        config_free(c);

        c = parse("watch = ( { name = \"everything\"; }, { port = 80; name = \"p80\"; } );");
        l = tcp(AF_INET, "127.0.0.1", 80);
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[0]);
        config_free(c);
}
END_TEST

/* UNIX entries by path, first in file order; TCP listeners with UNIX
 * entries only, and `unix = true`. */
START_TEST(test_unix_paths) {
        Config *c = parse("unix = true;\n"
                          "watch = ( { unix = \"/run/b.sock\"; netns = \"web*\"; name = \"b-web\"; },\n"
                          "  { unix = \"/run/a.sock\"; name = \"a\"; }, { unix = \"/run/b.sock\"; name = \"b\"; },\n"
                          "  { unix = \"@b\"; name = \"abstract\"; } );");
        Listener l = unix_listener("/run/b.sock");
        Listener t = tcp(AF_INET, "0.0.0.0", 80);

        ck_assert_ptr_eq(config_match(c, &l, NULL, "web1"), &c->watch[0]);
        ck_assert_ptr_eq(config_match(c, &l, NULL, "host"), &c->watch[2]);
        l = unix_listener("/run/a.sock");
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[1]);
        l = unix_listener("@b");
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->watch[3]);
        l = unix_listener("/run/a.soc");
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->all);
        l = unix_listener("");
        ck_assert_ptr_eq(config_match(c, &l, NULL, NULL), &c->all);
        ck_assert_ptr_eq(config_match(c, &t, NULL, NULL), &c->all); /* no TCP entry */
        config_free(c);

        c = parse("watch = ( { unix = \"/run/a.sock\"; }, { port = 80; } );");
        l = unix_listener("/run/b.sock");
        ck_assert_ptr_null(config_match(c, &l, NULL, NULL));
        ck_assert_ptr_eq(config_match(c, &t, NULL, NULL), &c->watch[1]);
        t.port = 81;
        ck_assert_ptr_null(config_match(c, &t, NULL, NULL));
        config_free(c);
}
END_TEST

/* Ports with the same low bits (a power of two apart) share a start slot in
 * the hash table, and a list of 10,000 ports fills it: every port still
 * finds its own entry, and its neighbours find none. */
START_TEST(test_many_ports) {
        char *text = malloc(10000 * 24 + 32);
        size_t len = 0;
        Config *c;
        Listener l = tcp(AF_INET, "0.0.0.0", 0);

        ck_assert_ptr_nonnull(text);
        len += (size_t) sprintf(text, "watch = (");
        for (unsigned k = 1; k <= 15; k++)
                len += (size_t) sprintf(text + len, " { port = %u; },", k * 4096);
        for (unsigned k = 1; k <= 15; k++)
                len += (size_t) sprintf(text + len, " { port = %u; },", k * 4096 + 1024);
        len += (size_t) sprintf(text + len, " { port = 1; } );");
        c = parse(text);
        for (unsigned p = 0; p <= 65535; p++) {
                l.port = (uint16_t) p;
                assert_same_match(c, &l, NULL, NULL, "powers of two");
        }
        config_free(c);

        len = (size_t) sprintf(text, "watch = (");
        for (unsigned i = 0; i < 10000; i++)
                len += (size_t) sprintf(text + len, "%s{ port = %u; }", i ? ", " : " ", 8001 + i);
        sprintf(text + len, " );");
        c = parse(text);
        for (unsigned p = 0; p <= 65535; p++) {
                const Watch *w;

                l.port = (uint16_t) p;
                w = config_match(c, &l, NULL, NULL);
                if (p >= 8001 && p < 18001)
                        ck_assert_ptr_eq(w, &c->watch[p - 8001]);
                else
                        ck_assert_ptr_null(w);
        }
        config_free(c);
        free(text);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("config-match");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_random_equivalence);
        tcase_add_test(tc, test_port_zero_and_ends);
        tcase_add_test(tc, test_duplicate_ports);
        tcase_add_test(tc, test_wide_before_single);
        tcase_add_test(tc, test_unix_paths);
        tcase_add_test(tc, test_many_ports);
        suite_add_tcase(s, tc);
        return s;
}
