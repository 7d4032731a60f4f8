/* SPDX-License-Identifier: MIT */
/*
 * qfill — create TCP listeners that never accept() and fill their queues, so
 * integration tests can compare what backlogd reports with the kernel.
 *
 * Usage: qfill [-t SECONDS] SPEC...
 *
 * SPEC is one listener:  ADDR:PORT:BACKLOG[:OPTION]...
 *   ADDR     127.0.0.1, 0.0.0.0, any IPv4 literal, or an IPv6 literal in
 *            brackets: [::1], [::] (dual-stack unless v6only is given).
 *   PORT     a port; 0 picks an ephemeral one (printed, see below).
 *   BACKLOG  the listen() backlog (the kernel clamps it to somaxconn).
 *   OPTIONs:
 *     c=N        open N client connections.  The first min(N, capacity) are
 *                waited for until the listener's accept queue holds them
 *                (capacity = effective backlog + 1); the rest are "pending":
 *                their SYNs are dropped, they stay in SYN-SENT and every SYN
 *                retransmission counts another drop.
 *     reuseport  set SO_REUSEPORT.  Listeners with this option and the same
 *                ADDR:PORT form one group, in command-line order; a classic
 *                BPF program steers each client to its group member by the
 *                client's source port (port % group size == member index),
 *                so every member gets exactly its own clients.
 *     v6only     set IPV6_V6ONLY=1 (default 0 for IPv6 listeners).
 *     to=ADDR    connect clients to ADDR (IPv4 or bracketed IPv6) instead of
 *                the default: 127.0.0.1 for IPv4, ::1 for IPv6.
 *
 * Output on stdout, one line each:
 *   listener IDX ADDR PORT BACKLOG INODE ESTABLISHED PENDING
 *   ready
 * IDX counts SPECs from 0, BACKLOG is the effective backlog read back from
 * the kernel, INODE the listener socket's inode (ss -e's ino:).
 *
 * Then qfill reads commands from stdin, one a line:
 *   close-pending   close every pending client; answers "closed N".
 *   pend IDX N      open N more clients to listener IDX that must stay
 *                   pending (the queue is full); answers "ready".
 * It exits 0 at EOF on stdin, on SIGTERM/SIGINT, or after -t SECONDS
 * (default 300).  Every wait is bounded (at most 10 s); on any failure it
 * prints "qfill: reason" on stderr and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000
#define SRC_PORT_BASE 20000

typedef struct Spec {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        struct sockaddr_storage to;
        socklen_t to_len;
        char text_addr[INET6_ADDRSTRLEN];
        int backlog;
        unsigned connects;
        bool reuseport;
        bool v6only;

        int fd;
        unsigned port;
        unsigned effective_backlog;
        unsigned group_size;  /* members of its reuseport group, 1 if none */
        unsigned group_index; /* its index in the group */
        unsigned established;
        unsigned pending;
} Spec;

static int *clients;
static size_t n_clients, cap_clients;
static bool *client_pending;
static unsigned next_src_port = SRC_PORT_BASE;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        va_list ap;

        fputs("qfill: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
}

static bool parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(s);

        memset(ss, 0, sizeof(*ss));
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(buf)) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) ss;

                memcpy(buf, s + 1, n - 2);
                buf[n - 2] = 0;
                a->sin6_family = AF_INET6;
                *len = sizeof(*a);
                return inet_pton(AF_INET6, buf, &a->sin6_addr) == 1;
        }
        struct sockaddr_in *a = (struct sockaddr_in *) ss;

        a->sin_family = AF_INET;
        *len = sizeof(*a);
        return inet_pton(AF_INET, s, &a->sin_addr) == 1;
}

static void set_port(struct sockaddr_storage *ss, unsigned port) {
        if (ss->ss_family == AF_INET6)
                ((struct sockaddr_in6 *) ss)->sin6_port = htons(port);
        else
                ((struct sockaddr_in *) ss)->sin_port = htons(port);
}

static unsigned get_port(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
        return ntohs(((const struct sockaddr_in *) ss)->sin_port);
}

static bool parse_uint(const char *s, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!*s || *s == '-' || *s == '+')
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return false;
        *ret = (unsigned) v;
        return true;
}

/* ADDR:PORT:BACKLOG[:OPTION]...; IPv6 ADDR in brackets. */
static void parse_spec(const char *arg, Spec *sp) {
        char *copy = strdup(arg), *rest, *tok, *save = NULL;
        unsigned v;

        if (!copy)
                die("out of memory");
        memset(sp, 0, sizeof(*sp));
        sp->fd = -1;
        if (copy[0] == '[') {
                char *close = strchr(copy, ']');

                if (!close || close[1] != ':')
                        die("bad address in '%s'", arg);
                close[1] = 0;
                rest = close + 2;
        } else {
                char *colon = strchr(copy, ':');

                if (!colon)
                        die("bad spec '%s'", arg);
                *colon = 0;
                rest = colon + 1;
        }
        if (!parse_ip(copy, &sp->addr, &sp->addr_len))
                die("bad address '%s' in '%s'", copy, arg);
        snprintf(sp->text_addr, sizeof(sp->text_addr), "%s", copy);

        tok = strtok_r(rest, ":", &save);
        if (!tok || !parse_uint(tok, 65535, &v))
                die("bad port in '%s'", arg);
        set_port(&sp->addr, v);
        tok = strtok_r(NULL, ":", &save);
        if (!tok || !parse_uint(tok, 1000000, &v))
                die("bad backlog in '%s'", arg);
        sp->backlog = (int) v;

        /* Default connect address: loopback of the listener's family. */
        if (sp->addr.ss_family == AF_INET6)
                parse_ip("[::1]", &sp->to, &sp->to_len);
        else
                parse_ip("127.0.0.1", &sp->to, &sp->to_len);
        if (sp->addr.ss_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *) &sp->addr;

                if (a->sin_addr.s_addr != htonl(INADDR_ANY))
                        sp->to = sp->addr;
        } else {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) &sp->addr;

                if (!IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
                        sp->to = sp->addr;
        }

        /* strtok_r would split a bracketed to=[::1] at its colons: options
         * are separated by ':' only outside brackets. */
        char *p = save;
        while (p && *p) {
                char *end = p;
                int depth = 0;

                for (; *end && (depth > 0 || *end != ':'); end++)
                        if (*end == '[')
                                depth++;
                        else if (*end == ']')
                                depth--;
                char *next = *end ? end + 1 : NULL;
                *end = 0;
                if (strncmp(p, "c=", 2) == 0) {
                        if (!parse_uint(p + 2, 15000, &sp->connects))
                                die("bad c= in '%s'", arg);
                } else if (strcmp(p, "reuseport") == 0)
                        sp->reuseport = true;
                else if (strcmp(p, "v6only") == 0)
                        sp->v6only = true;
                else if (strncmp(p, "to=", 3) == 0) {
                        if (!parse_ip(p + 3, &sp->to, &sp->to_len))
                                die("bad to= in '%s'", arg);
                } else if (*p)
                        die("unknown option '%s' in '%s'", p, arg);
                p = next;
        }
        free(copy);
}

static void tcp_listener_info(int fd, unsigned *ret_depth, unsigned *ret_backlog) {
        struct tcp_info ti;
        socklen_t len = sizeof(ti);

        memset(&ti, 0, sizeof(ti));
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                die("TCP_INFO: %s", strerror(errno));
        /* For a listener the kernel reports the accept queue length in
         * tcpi_unacked and the backlog limit in tcpi_sacked. */
        if (ret_depth)
                *ret_depth = ti.tcpi_unacked;
        if (ret_backlog)
                *ret_backlog = ti.tcpi_sacked;
}

static unsigned tcp_state(int fd) {
        struct tcp_info ti;
        socklen_t len = sizeof(ti);

        memset(&ti, 0, sizeof(ti));
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                die("TCP_INFO: %s", strerror(errno));
        return ti.tcpi_state;
}

static void open_listener(Spec *sp) {
        int one = 1;
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);

        sp->fd = socket(sp->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sp->fd < 0)
                die("socket: %s", strerror(errno));
        if (setsockopt(sp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                die("SO_REUSEADDR: %s", strerror(errno));
        if (sp->reuseport && setsockopt(sp->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
                die("SO_REUSEPORT: %s", strerror(errno));
        if (sp->addr.ss_family == AF_INET6) {
                int v = sp->v6only ? 1 : 0;

                if (setsockopt(sp->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)) < 0)
                        die("IPV6_V6ONLY: %s", strerror(errno));
        }
        if (bind(sp->fd, (struct sockaddr *) &sp->addr, sp->addr_len) < 0)
                die("bind %s:%u: %s", sp->text_addr, get_port(&sp->addr), strerror(errno));
        if (listen(sp->fd, sp->backlog) < 0)
                die("listen: %s", strerror(errno));
        if (getsockname(sp->fd, (struct sockaddr *) &bound, &len) < 0)
                die("getsockname: %s", strerror(errno));
        sp->port = get_port(&bound);
        set_port(&sp->to, sp->port);
        tcp_listener_info(sp->fd, NULL, &sp->effective_backlog);
}

/* Steers each connection to member (source port % n) of the group. */
static void attach_steering(int fd, unsigned n) {
        struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (unsigned) SKF_NET_OFF),
                BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 2),
                BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (unsigned) SKF_NET_OFF + 40),
                BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
                BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (unsigned) SKF_NET_OFF + 20),
                BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
                BPF_STMT(BPF_RET | BPF_A, 0),
        };
        struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0)
                die("SO_ATTACH_REUSEPORT_CBPF: %s", strerror(errno));
}

static void track_client(int fd, bool pending) {
        if (n_clients == cap_clients) {
                size_t cap = cap_clients ? cap_clients * 2 : 256;
                int *c = realloc(clients, cap * sizeof(*c));
                bool *p = realloc(client_pending, cap * sizeof(*p));

                if (!c || !p)
                        die("out of memory");
                clients = c;
                client_pending = p;
                cap_clients = cap;
        }
        clients[n_clients] = fd;
        client_pending[n_clients] = pending;
        n_clients++;
}

/* Opens one non-blocking client.  Members of a reuseport group get a source
 * port that the steering program maps to their index. */
static int connect_client(const Spec *sp) {
        int fd = socket(sp->to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                die("socket: %s (raise the fd limit or open fewer clients)", strerror(errno));
        if (sp->group_size > 1) {
                struct sockaddr_storage src;
                socklen_t len;
                int one = 1;

                while (next_src_port % sp->group_size != sp->group_index)
                        next_src_port++;
                if (next_src_port > 32000)
                        die("out of steering source ports");
                if (sp->to.ss_family == AF_INET6)
                        parse_ip("[::]", &src, &len);
                else
                        parse_ip("0.0.0.0", &src, &len);
                set_port(&src, next_src_port++);
                if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                        die("SO_REUSEADDR: %s", strerror(errno));
                if (bind(fd, (struct sockaddr *) &src, len) < 0)
                        die("bind source port %u: %s", get_port(&src), strerror(errno));
        }
        if (connect(fd, (const struct sockaddr *) &sp->to, sp->to_len) < 0 && errno != EINPROGRESS)
                die("connect to port %u: %s", sp->port, strerror(errno));
        return fd;
}

static void wait_established(int fd) {
        long long deadline = now_ms() + WAIT_MS;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                long long left = deadline - now_ms();
                int err = 0;
                socklen_t len = sizeof(err);

                if (left <= 0)
                        die("client not established after %d ms", WAIT_MS);
                if (poll(&p, 1, (int) left) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %s", strerror(errno));
                }
                if (!(p.revents & (POLLOUT | POLLERR | POLLHUP)))
                        continue;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        die("SO_ERROR: %s", strerror(errno));
                if (err)
                        die("connect: %s", strerror(err));
                return;
        }
}

static void wait_depth(const Spec *sp, unsigned want) {
        long long deadline = now_ms() + WAIT_MS;
        unsigned depth;

        for (;;) {
                tcp_listener_info(sp->fd, &depth, NULL);
                if (depth == want)
                        return;
                if (now_ms() > deadline)
                        die("listener %s:%u: accept queue holds %u, expected %u", sp->text_addr, sp->port, depth,
                            want);
                sleep_ms(5);
        }
}

static void open_pending(Spec *sp, unsigned n) {
        unsigned capacity = sp->effective_backlog + 1;
        unsigned depth;

        tcp_listener_info(sp->fd, &depth, NULL);
        if (depth < capacity)
                die("listener %s:%u is not full (%u of %u): clients would not stay pending", sp->text_addr, sp->port,
                    depth, capacity);
        for (unsigned i = 0; i < n; i++) {
                int fd = connect_client(sp);

                track_client(fd, true);
                sp->pending++;
        }
        /* Give the loopback SYNs a moment to be processed, then make sure
         * they were dropped rather than queued. */
        sleep_ms(20);
        for (size_t i = n_clients - n; i < n_clients; i++)
                if (tcp_state(clients[i]) != TCP_SYN_SENT)
                        die("pending client to port %u is in TCP state %u, not SYN-SENT", sp->port,
                            tcp_state(clients[i]));
        wait_depth(sp, capacity);
}

static void fill(Spec *sp) {
        unsigned capacity = sp->effective_backlog + 1;
        unsigned n_est = sp->connects < capacity ? sp->connects : capacity;

        for (unsigned i = 0; i < n_est; i++) {
                int fd = connect_client(sp);

                wait_established(fd);
                track_client(fd, false);
                sp->established++;
        }
        wait_depth(sp, n_est);
        if (sp->connects > n_est)
                open_pending(sp, sp->connects - n_est);
}

static unsigned close_pending(void) {
        unsigned n = 0;

        for (size_t i = 0; i < n_clients; i++)
                if (client_pending[i] && clients[i] >= 0) {
                        close(clients[i]);
                        clients[i] = -1;
                        n++;
                }
        return n;
}

static bool same_addr(const Spec *a, const Spec *b) {
        return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

static void handle_line(char *line, Spec *specs, size_t n_specs) {
        unsigned idx, n;
        char extra;

        line[strcspn(line, "\r\n")] = 0;
        if (strcmp(line, "close-pending") == 0) {
                n = close_pending();
                for (size_t i = 0; i < n_specs; i++)
                        specs[i].pending = 0;
                printf("closed %u\n", n);
        } else if (sscanf(line, "pend %u %u %c", &idx, &n, &extra) == 2) {
                if (idx >= n_specs)
                        die("pend: no listener %u", idx);
                open_pending(&specs[idx], n);
                printf("ready\n");
        } else if (*line)
                die("unknown command '%s'", line);
        fflush(stdout);
}

int main(int argc, char **argv) {
        unsigned lifetime = 300;
        int opt;

        while ((opt = getopt(argc, argv, "t:")) != -1)
                if (opt != 't' || !parse_uint(optarg, 86400, &lifetime))
                        die("usage: qfill [-t SECONDS] ADDR:PORT:BACKLOG[:OPTION]...");
        if (optind >= argc)
                die("usage: qfill [-t SECONDS] ADDR:PORT:BACKLOG[:OPTION]...");

        size_t n_specs = (size_t) (argc - optind);
        Spec *specs = calloc(n_specs, sizeof(*specs));

        if (!specs)
                die("out of memory");
        for (size_t i = 0; i < n_specs; i++)
                parse_spec(argv[optind + i], &specs[i]);

        /* Signals are read from a signalfd so the wait below stays one poll. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGPIPE);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask: %s", strerror(errno));
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0)
                die("signalfd: %s", strerror(errno));

        /* All listeners first: a reuseport group must be complete before its
         * steering program is attached and clients arrive. */
        for (size_t i = 0; i < n_specs; i++) {
                specs[i].group_size = 1;
                if (specs[i].reuseport)
                        for (size_t j = 0; j < n_specs; j++) {
                                if (j == i || !specs[j].reuseport || !same_addr(&specs[i], &specs[j]))
                                        continue;
                                specs[i].group_size++;
                                if (j < i)
                                        specs[i].group_index++;
                        }
                open_listener(&specs[i]);
        }
        for (size_t i = 0; i < n_specs; i++)
                if (specs[i].group_size > 1 && specs[i].group_index == 0)
                        attach_steering(specs[i].fd, specs[i].group_size);
        for (size_t i = 0; i < n_specs; i++)
                fill(&specs[i]);

        for (size_t i = 0; i < n_specs; i++) {
                struct stat st;

                if (fstat(specs[i].fd, &st) < 0)
                        die("fstat: %s", strerror(errno));
                printf("listener %zu %s %u %u %lu %u %u\n", i, specs[i].text_addr, specs[i].port,
                       specs[i].effective_backlog, (unsigned long) st.st_ino, specs[i].established, specs[i].pending);
        }
        printf("ready\n");
        fflush(stdout);

        long long deadline = now_ms() + (long long) lifetime * 1000;
        char line[256];
        size_t used = 0;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = STDIN_FILENO, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                };
                long long left = deadline - now_ms();

                if (left <= 0)
                        break;
                if (poll(p, 2, left > 60000 ? 60000 : (int) left) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %s", strerror(errno));
                }
                if (p[1].revents & POLLIN)
                        break;
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(STDIN_FILENO, line + used, sizeof(line) - 1 - used);

                        if (n <= 0)
                                break;
                        used += (size_t) n;
                        line[used] = 0;
                        char *nl;
                        while ((nl = strchr(line, '\n'))) {
                                *nl = 0;
                                handle_line(line, specs, n_specs);
                                used -= (size_t) (nl + 1 - line);
                                memmove(line, nl + 1, used + 1);
                        }
                        if (used == sizeof(line) - 1)
                                die("command line too long");
                }
        }
        close_pending();
        return 0;
}
