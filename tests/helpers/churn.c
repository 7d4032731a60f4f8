/* SPDX-License-Identifier: MIT */
/*
 * churn — open and close TCP listeners as fast as possible, so a test can
 * check that a daemon polling meanwhile neither crashes, leaks nor reports
 * listeners that never filled.
 *
 * Usage: churn SECONDS FIRST_PORT LAST_PORT [KEEP]
 *
 * Listens on 127.0.0.1, cycling through the ports FIRST_PORT..LAST_PORT, and
 * keeps at most KEEP (default 64) listeners open: opening one more closes the
 * oldest.  No client ever connects.  Stops after SECONDS (at most 3600),
 * closes everything and prints one line:
 *   churn opened N closed N seconds S rate R
 * where R is (opened + closed) per second.  Exits 1 with "churn: reason" on
 * stderr on a failure other than a port in use (that one is skipped).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEEP_MAX 4096

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long arg_long(const char *s, long min, long max, const char *what) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "churn: %s: expected %ld..%ld, not '%s'\n", what, min, max, s);
                exit(1);
        }
        return v;
}

int main(int argc, char **argv) {
        static int ring[KEEP_MAX];
        unsigned long long opened = 0, closed = 0;
        long seconds, first, last, keep = 64, port;
        size_t head = 0, n_open = 0;
        double start, end, t;
        unsigned iter = 0;

        if (argc < 4 || argc > 5) {
                fputs("usage: churn SECONDS FIRST_PORT LAST_PORT [KEEP]\n", stderr);
                return 1;
        }
        seconds = arg_long(argv[1], 1, 3600, "SECONDS");
        first = arg_long(argv[2], 1, 65535, "FIRST_PORT");
        last = arg_long(argv[3], first, 65535, "LAST_PORT");
        if (argc == 5)
                keep = arg_long(argv[4], 1, KEEP_MAX, "KEEP");

        start = now_s();
        end = start + (double) seconds;
        port = first;
        for (t = start; t < end; iter++) {
                struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
                int one = 1, fd;

                if (n_open == (size_t) keep) {
                        close(ring[head]);
                        head = (head + 1) % (size_t) keep;
                        n_open--;
                        closed++;
                }
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        fprintf(stderr, "churn: socket: %s\n", strerror(errno));
                        return 1;
                }
                if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
                        fprintf(stderr, "churn: SO_REUSEADDR: %s\n", strerror(errno));
                        return 1;
                }
                if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
                        if (errno != EADDRINUSE) {
                                fprintf(stderr, "churn: port %ld: %s\n", port, strerror(errno));
                                return 1;
                        }
                        close(fd);
                } else {
                        ring[(head + n_open) % (size_t) keep] = fd;
                        n_open++;
                        opened++;
                }
                port = port == last ? first : port + 1;
                if (iter % 256 == 0)
                        t = now_s();
        }
        while (n_open > 0) {
                close(ring[head]);
                head = (head + 1) % (size_t) keep;
                n_open--;
                closed++;
        }
        t = now_s() - start;
        printf("churn opened %llu closed %llu seconds %.2f rate %.0f\n", opened, closed, t,
               (double) (opened + closed) / t);
        return 0;
}
