/* SPDX-License-Identifier: MIT */
/* One slice of the benchmark's socket population. Meant to run inside a
 * private network namespace (tests/bench/run.sh creates it).
 *
 * Usage: bench-pop -p FIRST_PORT -l LISTENERS -c CONNECTIONS
 *                  [-g FIRST_INDEX] [-a ACCEPTING] [-b FULL_BACKLOG]
 *                  [-t LIFETIME_SECONDS] [-n] [-r EVERY_MS]
 *
 * Listener k (0 <= k < LISTENERS) listens on FIRST_PORT + k on the wildcard
 * address. Its global index g = FIRST_INDEX + k decides its kind, so that
 * several processes together build one population:
 *   g % 4 == 1    IPv6 (IPV6_V6ONLY), else IPv4;
 *   g % 100 == 50 full accept queue: listen(FULL_BACKLOG) and FULL_BACKLOG+1
 *                 connections that are never accepted (skipped for the
 *                 accepting listeners, and with -n: no queue is raised);
 *   k < ACCEPTING the listeners that the CONNECTIONS established connections
 *                 go to, round robin; both ends stay open in this process,
 *                 so each connection costs two descriptors.
 * Connections close with a reset when the process ends (no TIME_WAIT).
 * With -r, once in place, it also opens one more connection to listener 0
 * every EVERY_MS milliseconds, accepts it and closes both ends (with a
 * reset): connections that come and go, with no queue raised.
 * When everything is in place it prints one line
 *   ready listeners=N ipv6=N full=N connections=N fds=N
 * and waits for SIGTERM/SIGINT/SIGHUP or LIFETIME_SECONDS (default 600).
 * Every connect() and accept() has a timeout and the whole setup is bounded
 * by an alarm, so the process never hangs. Exit status 1 on error. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SETUP_TIMEOUT_S 240
#define IO_TIMEOUT_S 5
#define ACCEPT_BACKLOG 4096
#define LISTEN_BACKLOG 128
#define FD_RESERVE 32

typedef struct Options {
        long first_port;
        long listeners;
        long connections;
        long first_index;
        long accepting;
        long full_backlog;
        long lifetime;
        long every_ms; /* -r: 0, or a connection that comes and goes this often */
        bool no_full;  /* -n */
} Options;

typedef struct Listener {
        int fd;
        int family;
        int port;
} Listener;

static void die(const char *what, int error) {
        fprintf(stderr, "bench-pop: %s: %s\n", what, strerror(error));
        exit(1);
}

static long parse_long(const char *s, long min, long max) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || end == s || v < min || v > max) {
                fprintf(stderr, "bench-pop: invalid number '%s' (%ld..%ld)\n", s, min, max);
                exit(1);
        }
        return v;
}

static void set_timeouts(int fd) {
        struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
        struct linger rst = { .l_onoff = 1, .l_linger = 0 };

        /* SO_SNDTIMEO bounds a blocking connect(), SO_RCVTIMEO an accept().
         * SO_LINGER 0: closed with a reset at exit, so that a population
         * torn down leaves no TIME_WAIT sockets behind, which every later
         * walk of the connection table would visit. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)) < 0)
                die("setsockopt(SO_SNDTIMEO/SO_RCVTIMEO/SO_LINGER)", errno);
}

static socklen_t make_address(int family, int port, bool loopback, struct sockaddr_storage *ss) {
        memset(ss, 0, sizeof(*ss));
        if (family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) ss;

                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t) port);
                a->sin6_addr = loopback ? in6addr_loopback : in6addr_any;
                return sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *) ss;

                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t) port);
                a->sin_addr.s_addr = htonl(loopback ? INADDR_LOOPBACK : INADDR_ANY);
                return sizeof(*a);
        }
}

static int open_listener(int family, int port, int backlog) {
        struct sockaddr_storage ss;
        socklen_t len = make_address(family, port, false, &ss);
        int one = 1, fd;

        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket", errno);
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                die("setsockopt(SO_REUSEADDR)", errno);
        if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
                die("setsockopt(IPV6_V6ONLY)", errno);
        if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
                fprintf(stderr, "bench-pop: bind to port %d: %s\n", port, strerror(errno));
                exit(1);
        }
        if (listen(fd, backlog) < 0)
                die("listen", errno);
        return fd;
}

static int connect_to(const Listener *l) {
        struct sockaddr_storage ss;
        socklen_t len = make_address(l->family, l->port, true, &ss);
        int fd;

        fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket", errno);
        set_timeouts(fd);
        if (connect(fd, (struct sockaddr *) &ss, len) < 0) {
                fprintf(stderr, "bench-pop: connect to port %d: %s\n", l->port, strerror(errno));
                exit(1);
        }
        return fd;
}

static void parse_options(int argc, char *argv[], Options *o) {
        int c;

        *o = (Options){
                .first_port = -1,
                .listeners = -1,
                .connections = 0,
                .first_index = 0,
                .accepting = 4,
                .full_backlog = 2,
                .lifetime = 600,
        };
        while ((c = getopt(argc, argv, "p:l:c:g:a:b:t:nr:")) != -1) {
                switch (c) {
                case 'p':
                        o->first_port = parse_long(optarg, 1, 65535);
                        break;
                case 'l':
                        o->listeners = parse_long(optarg, 1, 65535);
                        break;
                case 'c':
                        o->connections = parse_long(optarg, 0, 1000000);
                        break;
                case 'g':
                        o->first_index = parse_long(optarg, 0, 1000000);
                        break;
                case 'a':
                        o->accepting = parse_long(optarg, 1, 1000);
                        break;
                case 'b':
                        o->full_backlog = parse_long(optarg, 0, 64);
                        break;
                case 't':
                        o->lifetime = parse_long(optarg, 1, 86400);
                        break;
                case 'n':
                        o->no_full = true;
                        break;
                case 'r':
                        o->every_ms = parse_long(optarg, 1, 60000);
                        break;
                default:
                        fprintf(stderr, "Usage: bench-pop -p FIRST_PORT -l LISTENERS -c CONNECTIONS "
                                        "[-g FIRST_INDEX] [-a ACCEPTING] [-b FULL_BACKLOG] [-t LIFETIME] [-n] "
                                        "[-r EVERY_MS]\n");
                        exit(1);
                }
        }
        if (o->first_port < 0 || o->listeners < 0 || optind != argc) {
                fprintf(stderr, "bench-pop: -p and -l are required\n");
                exit(1);
        }
        if (o->first_port + o->listeners - 1 > 65535) {
                fprintf(stderr, "bench-pop: ports beyond 65535\n");
                exit(1);
        }
        if (o->accepting > o->listeners)
                o->accepting = o->listeners;
        if (o->every_ms > 0 && o->accepting < 1) {
                fprintf(stderr, "bench-pop: -r needs an accepting listener\n");
                exit(1);
        }
}

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One connection to l that comes and goes: connected, accepted, both ends
 * closed with a reset. */
static void come_and_go(const Listener *l) {
        int c = connect_to(l), a = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

        if (a < 0) {
                fprintf(stderr, "bench-pop: accept on port %d: %s\n", l->port, strerror(errno));
                exit(1);
        }
        set_timeouts(a);
        close(a);
        close(c);
}

int main(int argc, char *argv[]) {
        Options o;
        Listener *listeners;
        long n_v6 = 0, n_full = 0, fds;
        struct rlimit rl;
        sigset_t mask;
        struct timespec lifetime;
        int sig;

        parse_options(argc, argv, &o);

        /* Projected descriptors, checked before anything is opened. */
        fds = o.listeners + 2 * o.connections;
        for (long k = o.accepting; k < o.listeners; k++)
                if (!o.no_full && (o.first_index + k) % 100 == 50)
                        fds += o.full_backlog + 1;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                die("getrlimit", errno);
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        die("setrlimit", errno);
        }
        if (rl.rlim_cur != RLIM_INFINITY && (rlim_t) (fds + FD_RESERVE) > rl.rlim_cur) {
                fprintf(stderr, "bench-pop: %ld descriptors needed, limit is %llu: use more processes\n", fds,
                        (unsigned long long) rl.rlim_cur);
                return 1;
        }

        /* Signals are taken synchronously with sigtimedwait() below. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask", errno);
        alarm(SETUP_TIMEOUT_S);

        listeners = calloc((size_t) o.listeners, sizeof(Listener));
        if (!listeners)
                die("calloc", ENOMEM);

        for (long k = 0; k < o.listeners; k++) {
                long g = o.first_index + k;
                Listener *l = &listeners[k];
                bool full = !o.no_full && k >= o.accepting && g % 100 == 50;

                l->family = g % 4 == 1 ? AF_INET6 : AF_INET;
                l->port = (int) (o.first_port + k);
                l->fd = open_listener(l->family, l->port,
                                      k < o.accepting ? ACCEPT_BACKLOG
                                      : full          ? (int) o.full_backlog
                                                      : LISTEN_BACKLOG);
                n_v6 += l->family == AF_INET6;
                if (full) {
                        /* A backlog of b takes b+1 connections; then the queue is full. */
                        for (long i = 0; i <= o.full_backlog; i++)
                                (void) connect_to(l);
                        n_full++;
                }
        }

        for (long k = 0; k < o.accepting; k++)
                set_timeouts(listeners[k].fd);
        for (long j = 0; j < o.connections; j++) {
                const Listener *l = &listeners[j % o.accepting];
                int fd;

                (void) connect_to(l);
                fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        fprintf(stderr, "bench-pop: accept on port %d: %s\n", l->port, strerror(errno));
                        return 1;
                }
                set_timeouts(fd);
        }

        alarm(0);
        printf("ready listeners=%ld ipv6=%ld full=%ld connections=%ld fds=%ld\n", o.listeners, n_v6, n_full,
               o.connections, fds);
        if (fflush(stdout) != 0)
                die("stdout", errno);

        lifetime = (struct timespec){ .tv_sec = o.lifetime };
        if (o.every_ms > 0) {
                /* On a fixed cadence, as the daemon's timer: connection k at
                 * start + k * EVERY_MS, however long each takes. Bounded by
                 * the lifetime in count of connections. */
                int64_t start = now_ms();

                for (long k = 1; k <= o.lifetime * 1000 / o.every_ms; k++) {
                        int64_t wait = start + k * o.every_ms - now_ms();
                        struct timespec t = { .tv_sec = wait > 0 ? wait / 1000 : 0,
                                              .tv_nsec = wait > 0 ? wait % 1000 * 1000000L : 0 };

                        sig = sigtimedwait(&mask, NULL, &t);
                        if (sig >= 0)
                                break;
                        if (errno == EAGAIN)
                                come_and_go(&listeners[0]);
                }
        } else
                do
                        sig = sigtimedwait(&mask, NULL, &lifetime);
                while (sig < 0 && errno == EINTR);

        /* The descriptors close with the process. */
        free(listeners);
        return 0;
}
