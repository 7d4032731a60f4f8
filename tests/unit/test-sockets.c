/* SPDX-License-Identifier: MIT */
/* systemd's socket units: the Listen strings as systemd prints them, which
 * listener each one is, the map's lookups, the Backlog= clamp rule and the
 * phrases built on them. No bus needed. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "check-main.h"
#include "describe.h"
#include "sockets.h"

static const struct {
        const char *type, *address;
        int r;
        uint8_t kind, family;
        bool any_family;
        const char *addr; /* textual; NULL: wildcard of the family */
        uint16_t port;
        const char *path;
} parse_table[] = {
        { "Stream", "0.0.0.0:80", 0, LISTENER_TCP, AF_INET, false, "0.0.0.0", 80, NULL },
        { "Stream", "[::]:443", 0, LISTENER_TCP, AF_INET6, false, "::", 443, NULL },
        { "Stream", "127.0.0.1:8080", 0, LISTENER_TCP, AF_INET, false, "127.0.0.1", 8080, NULL },
        { "Stream", "[::1]:9000", 0, LISTENER_TCP, AF_INET6, false, "::1", 9000, NULL },
        { "Stream", "[fe80::1]:80%2", 0, LISTENER_TCP, AF_INET6, false, "fe80::1", 80, NULL },
        { "Stream", "[fe80::1]:80%eth0", 0, LISTENER_TCP, AF_INET6, false, "fe80::1", 80, NULL },
        { "Stream", "[::ffff:10.0.0.1]:25", 0, LISTENER_TCP, AF_INET6, false, "::ffff:10.0.0.1", 25, NULL },
        { "Stream", "8080", 0, LISTENER_TCP, AF_INET6, true, "::", 8080, NULL },
        { "Stream", "65535", 0, LISTENER_TCP, AF_INET6, true, "::", 65535, NULL },
        { "Stream", "/run/x.sock", 0, LISTENER_UNIX, 0, false, NULL, 0, "/run/x.sock" },
        { "SequentialPacket", "/run/seq.sock", 0, LISTENER_UNIX, 0, false, NULL, 0, "/run/seq.sock" },
        { "Stream", "@abstract", 0, LISTENER_UNIX, 0, false, NULL, 0, "@abstract" },
        /* systemd's cescape(): octal for control bytes, the usual letters. */
        { "Stream", "/run/a\\nb\\\\c\\033d", 0, LISTENER_UNIX, 0, false, NULL, 0, "/run/a\nb\\c\033d" },
        { "Stream", "@x\\000y", 0, LISTENER_UNIX, 0, false, NULL, 0, "@x@y" },
        { "Stream", "/run/x\\000y", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "/run/bad\\q", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "/run/bad\\", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "@", -EINVAL, 0, 0, false, NULL, 0, NULL },
        /* Not listeners backlogd sees. */
        { "Datagram", "0.0.0.0:53", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        { "Datagram", "/run/systemd/journal/socket", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        { "FIFO", "/run/initctl", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        { "Netlink", "kobject-uevent 1", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        { "SequentialPacket", "127.0.0.1:80", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        { "Stream", "vsock:2:1234", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        { "Stream", "<unnamed>", -EOPNOTSUPP, 0, 0, false, NULL, 0, NULL },
        /* Garbage. */
        { "Stream", "", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "garbage", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "0", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "65536", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "1.2.3.4", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "1.2.3.4:", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "1.2.3.4:x", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "1.2.3.999:80", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "::1:80", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "[::1:80", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "[::1]80", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "[zz]:80", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "[::1]:", -EINVAL, 0, 0, false, NULL, 0, NULL },
        { "Stream", "localhost:80", -EINVAL, 0, 0, false, NULL, 0, NULL },
};

START_TEST(test_parse_listen) {
        for (size_t i = 0; i < sizeof(parse_table) / sizeof(parse_table[0]); i++) {
                SocketEndpoint e, before;
                uint8_t addr[16] = { 0 };
                int r;

                memset(&e, 0x5a, sizeof(e));
                before = e;
                r = sockets_parse_listen(parse_table[i].type, parse_table[i].address, &e);
                ck_assert_msg(r == parse_table[i].r, "%s %s: %d, expected %d", parse_table[i].type,
                              parse_table[i].address, r, parse_table[i].r);
                if (r < 0) {
                        ck_assert_msg(memcmp(&e, &before, sizeof(e)) == 0, "%s: written on failure",
                                      parse_table[i].address);
                        continue;
                }
                ck_assert_uint_eq(e.kind, parse_table[i].kind);
                if (e.kind == LISTENER_UNIX) {
                        ck_assert_str_eq(e.path, parse_table[i].path);
                        ck_assert_uint_eq(e.sotype,
                                          strcmp(parse_table[i].type, "Stream") == 0 ? SOCK_STREAM : SOCK_SEQPACKET);
                        continue;
                }
                ck_assert_uint_eq(e.family, parse_table[i].family);
                ck_assert_int_eq(e.any_family, parse_table[i].any_family);
                ck_assert_uint_eq(e.port, parse_table[i].port);
                ck_assert_int_eq(inet_pton(e.family, parse_table[i].addr, addr), 1);
                ck_assert_mem_eq(e.addr, addr, e.family == AF_INET ? 4 : 16);
        }
        ck_assert_int_eq(sockets_parse_listen(NULL, "80", &(SocketEndpoint){ 0 }), -EINVAL);
        ck_assert_int_eq(sockets_parse_listen("Stream", NULL, &(SocketEndpoint){ 0 }), -EINVAL);
}
END_TEST

static Listener tcp(const char *addr, uint16_t port) {
        Listener l = { .kind = LISTENER_TCP, .port = port };

        l.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        ck_assert_int_eq(inet_pton(l.family, addr, l.addr), 1);
        return l;
}

static Listener unix_listener(const char *path, int sotype) {
        Listener l = { .kind = LISTENER_UNIX, .sotype = (uint8_t) sotype };

        strcpy(l.path, path);
        return l;
}

static bool matches(const char *type, const char *address, Listener l) {
        SocketEndpoint e;

        ck_assert_int_eq(sockets_parse_listen(type, address, &e), 0);
        return sockets_endpoint_matches(&e, &l);
}

START_TEST(test_matching) {
        /* The same family, address and port. */
        ck_assert(matches("Stream", "127.0.0.1:8080", tcp("127.0.0.1", 8080)));
        ck_assert(!matches("Stream", "127.0.0.1:8080", tcp("127.0.0.1", 8081)));
        ck_assert(!matches("Stream", "127.0.0.1:8080", tcp("127.0.0.2", 8080)));
        ck_assert(!matches("Stream", "127.0.0.1:8080", tcp("0.0.0.0", 8080)));
        ck_assert(matches("Stream", "[::1]:8080", tcp("::1", 8080)));
        ck_assert(!matches("Stream", "[::1]:8080", tcp("127.0.0.1", 8080)));
        /* A wildcard entry is the wildcard listener of its family only. */
        ck_assert(matches("Stream", "0.0.0.0:80", tcp("0.0.0.0", 80)));
        ck_assert(!matches("Stream", "0.0.0.0:80", tcp("10.0.0.1", 80)));
        ck_assert(!matches("Stream", "0.0.0.0:80", tcp("::", 80)));
        ck_assert(matches("Stream", "[::]:80", tcp("::", 80)));
        ck_assert(!matches("Stream", "[::]:80", tcp("0.0.0.0", 80)));
        ck_assert(!matches("Stream", "[::]:80", tcp("::1", 80)));
        /* A bare port: the dual-stack wildcard, or IPv4's where IPv6 is off. */
        ck_assert(matches("Stream", "8080", tcp("::", 8080)));
        ck_assert(matches("Stream", "8080", tcp("0.0.0.0", 8080)));
        ck_assert(!matches("Stream", "8080", tcp("127.0.0.1", 8080)));
        ck_assert(!matches("Stream", "8080", tcp("::", 8081)));
        /* An IPv4 entry is also its IPv4-mapped IPv6 listener. */
        ck_assert(matches("Stream", "10.0.0.1:25", tcp("::ffff:10.0.0.1", 25)));
        ck_assert(!matches("Stream", "10.0.0.1:25", tcp("::ffff:10.0.0.2", 25)));
        ck_assert(!matches("Stream", "10.0.0.1:25", tcp("::10.0.0.1", 25)));
        /* UNIX: the name and the socket type; never a TCP listener. */
        ck_assert(matches("Stream", "/run/x.sock", unix_listener("/run/x.sock", SOCK_STREAM)));
        ck_assert(!matches("Stream", "/run/x.sock", unix_listener("/run/x.sock", SOCK_SEQPACKET)));
        ck_assert(matches("SequentialPacket", "/run/x.sock", unix_listener("/run/x.sock", SOCK_SEQPACKET)));
        ck_assert(!matches("Stream", "/run/x.sock", unix_listener("/run/x.sock2", SOCK_STREAM)));
        ck_assert(matches("Stream", "@abstract", unix_listener("@abstract", SOCK_STREAM)));
        ck_assert(!matches("Stream", "@abstract", unix_listener("/abstract", SOCK_STREAM)));
        ck_assert(!matches("Stream", "/run/x.sock", tcp("0.0.0.0", 80)));
}
END_TEST

START_TEST(test_map) {
        SocketMap *m = NULL;
        Listener l;
        int a, b, c;

        ck_assert_ptr_null(sockets_find(NULL, &(Listener){ 0 }));
        ck_assert_int_eq(sockets_new(&m), 0);
        l = tcp("127.0.0.1", 80);
        ck_assert_ptr_null(sockets_find(m, &l));
        a = sockets_add_unit(m, "web.socket", "web.service", 4096);
        b = sockets_add_unit(m, "cups.socket", NULL, SOCKETS_BACKLOG_UNLIMITED);
        c = sockets_add_unit(m, "dual.socket", "dual.service", 128);
        ck_assert_int_eq(a, 0);
        ck_assert_int_eq(b, 1);
        ck_assert_int_eq(c, 2);
        /* Added in an order that is not the index's. */
        ck_assert_int_eq(sockets_add_listen(m, (size_t) a, "Stream", "[::]:443"), 0);
        ck_assert_int_eq(sockets_add_listen(m, (size_t) a, "Stream", "127.0.0.1:80"), 0);
        ck_assert_int_eq(sockets_add_listen(m, (size_t) a, "Datagram", "127.0.0.1:80"), -EOPNOTSUPP);
        ck_assert_int_eq(sockets_add_listen(m, (size_t) b, "Stream", "/run/cups/cups.sock"), 0);
        ck_assert_int_eq(sockets_add_listen(m, (size_t) b, "Stream", "127.0.0.2:80"), 0);
        ck_assert_int_eq(sockets_add_listen(m, (size_t) c, "Stream", "80"), 0);
        ck_assert_int_eq(sockets_add_listen(m, (size_t) c, "Stream", "/run/a.sock"), 0);
        ck_assert_int_eq(sockets_add_listen(m, 7, "Stream", "81"), -EINVAL);
        ck_assert_uint_eq(sockets_n_units(m), 3);
        ck_assert_uint_eq(sockets_n_endpoints(m), 6);

        l = tcp("127.0.0.1", 80);
        ck_assert_str_eq(sockets_find(m, &l)->name, "web.socket");
        ck_assert_str_eq(sockets_find(m, &l)->service, "web.service");
        ck_assert_uint_eq(sockets_find(m, &l)->backlog, 4096);
        l = tcp("127.0.0.2", 80);
        ck_assert_str_eq(sockets_find(m, &l)->name, "cups.socket");
        ck_assert_ptr_null(sockets_find(m, &l)->service);
        l = tcp("::", 80);
        ck_assert_str_eq(sockets_find(m, &l)->name, "dual.socket");
        l = tcp("::", 443);
        ck_assert_str_eq(sockets_find(m, &l)->name, "web.socket");
        l = tcp("0.0.0.0", 443);
        ck_assert_ptr_null(sockets_find(m, &l));
        l = tcp("127.0.0.3", 80);
        ck_assert_ptr_null(sockets_find(m, &l));
        l = unix_listener("/run/cups/cups.sock", SOCK_STREAM);
        ck_assert_str_eq(sockets_find(m, &l)->name, "cups.socket");
        l = unix_listener("/run/a.sock", SOCK_STREAM);
        ck_assert_str_eq(sockets_find(m, &l)->name, "dual.socket");
        l = unix_listener("/run/b.sock", SOCK_STREAM);
        ck_assert_ptr_null(sockets_find(m, &l));
        /* PID 1 makes its sockets as root: a user's is never a socket unit's. */
        l = tcp("127.0.0.1", 80);
        l.uid = 1000;
        ck_assert_ptr_null(sockets_find(m, &l));
        /* PID 1's addresses are those of its own network namespace. */
        l = tcp("127.0.0.1", 80);
        l.netns = 4026531992;
        ck_assert_ptr_null(sockets_find(m, &l));

        /* The marks carry over to a map read afresh, by name. */
        {
                SocketMap *fresh = NULL;

                l = tcp("127.0.0.1", 80);
                sockets_find(m, &l)->said = true;
                ck_assert_int_eq(sockets_new(&fresh), 0);
                ck_assert_int_eq(sockets_add_unit(fresh, "other.socket", NULL, 1), 0);
                ck_assert_int_eq(sockets_add_unit(fresh, "web.socket", "web.service", 4096), 1);
                ck_assert_int_eq(sockets_add_listen(fresh, 1, "Stream", "127.0.0.1:80"), 0);
                ck_assert_int_eq(sockets_add_listen(fresh, 0, "Stream", "127.0.0.1:81"), 0);
                sockets_carry_marks(fresh, m);
                ck_assert(sockets_find(fresh, &l)->said);
                l.port = 81;
                ck_assert(!sockets_find(fresh, &l)->said);
                sockets_free(fresh);
        }
        ck_assert_ptr_null(sockets_free(m));
}
END_TEST

START_TEST(test_clamped) {
        /* Backlog=4096, somaxconn 256: the listener got 256. */
        ck_assert(sockets_clamped(4096, 256, 256));
        /* It got what it asked for. */
        ck_assert(!sockets_clamped(256, 256, 256));
        ck_assert(!sockets_clamped(100, 100, 256));
        /* systemd's default asks for whatever somaxconn allows. */
        ck_assert(!sockets_clamped(SOCKETS_BACKLOG_UNLIMITED, 4096, 4096));
        ck_assert(!sockets_clamped(UINT32_MAX, 4096, 4096));
        /* somaxconn unknown, or changed since the listen(). */
        ck_assert(!sockets_clamped(4096, 256, -1));
        ck_assert(!sockets_clamped(4096, 256, 512));
}
END_TEST

START_TEST(test_phrases) {
        char buf[DESCRIBE_OWNER_MAX], text[512];

        ck_assert_str_eq(describe_owner("nginx.service", NULL, "nginx", 812, buf, sizeof(buf)),
                         "nginx.service (nginx, pid 812)");
        ck_assert_str_eq(describe_owner("nginx.service", NULL, NULL, 0, buf, sizeof(buf)), "nginx.service");
        ck_assert_str_eq(describe_owner(NULL, NULL, "nginx", 812, buf, sizeof(buf)), "nginx, pid 812");
        ck_assert_str_eq(describe_owner(NULL, NULL, NULL, 0, buf, sizeof(buf)), "");
        ck_assert_str_eq(describe_owner("foo.service", "foo.socket", NULL, 0, buf, sizeof(buf)),
                         "foo.service (via foo.socket)");
        ck_assert_str_eq(describe_owner("foo.service", "foo.socket", "foo", 9, buf, sizeof(buf)),
                         "foo.service (via foo.socket; foo, pid 9)");
        /* Accept=yes: the socket unit names itself, once. */
        ck_assert_str_eq(describe_owner("foo.socket", "foo.socket", NULL, 0, buf, sizeof(buf)), "foo.socket");
        ck_assert_str_eq(describe_socket_clamp("foo.socket", 4096, 256, "127.0.0.1:9996", text, sizeof(text)),
                         "foo.socket asks for Backlog=4096 but net.core.somaxconn is 256: its listener "
                         "127.0.0.1:9996 got 256. Raise net.core.somaxconn.");
        ck_assert_str_eq(describe_socket_clamp("foo.socket", 4096, 128, NULL, text, sizeof(text)),
                         "foo.socket asks for Backlog=4096 but net.core.somaxconn is 128: its listener got 128. "
                         "Raise net.core.somaxconn.");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("sockets");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse_listen);
        tcase_add_test(tc, test_matching);
        tcase_add_test(tc, test_map);
        tcase_add_test(tc, test_clamped);
        tcase_add_test(tc, test_phrases);
        suite_add_tcase(s, tc);
        return s;
}
