/* SPDX-License-Identifier: MIT */
/* The cost of one walk of a network namespace's connections, as backlogd
 * makes them (src/diag-wait.c, src/diag-syn.c): the read of the queued
 * connections of one port (their age, clients that closed, the head of
 * the queue), and the SYN-queue count. Both walk every connection of the
 * namespace in the kernel, whatever the port filter; this measures how
 * much, to compare with a LISTEN dump (bench-floor). Run it in the
 * benchmark's namespace.
 *
 * Usage: bench-walk PORT [WALKS]   (WALKS default 50)
 * Prints one line:
 *   walks=W queued=Q wait_cpu_us=X wait_wall_us=Y syn_cpu_us=Z syn_wall_us=V
 * where Q is the queued connections the last read found on PORT, and the
 * others are CPU (CLOCK_PROCESS_CPUTIME_ID: the kernel's work is done in
 * this process's recvmsg()) and wall µs per walk, the best of 3 runs of W
 * walks. Exit status 1 on any error. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"

#define RUNS 3

static double clock_us(clockid_t id) {
        struct timespec ts;

        if (clock_gettime(id, &ts) < 0)
                return 0;
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

typedef struct Cost {
        double cpu, wall;
} Cost;

/* The best of RUNS runs of walks calls of one(), per call. */
static int measure(int (*one)(DiagSocket *s, uint16_t port, void *out, ErrBuf *err), DiagSocket *s, uint16_t port,
                   void *out, long walks, Cost *best, int *last) {
        ErrBuf err = { { 0 } };

        best->cpu = best->wall = -1;
        for (int r = 0; r < RUNS; r++) {
                double c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_us(CLOCK_MONOTONIC), c, w;

                for (long i = 0; i < walks; i++) {
                        *last = one(s, port, out, &err);
                        if (*last < 0) {
                                fprintf(stderr, "bench-walk: %s\n", err.text);
                                return -1;
                        }
                }
                c = (clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double) walks;
                w = (clock_us(CLOCK_MONOTONIC) - w0) / (double) walks;
                if (best->cpu < 0 || c < best->cpu)
                        best->cpu = c;
                if (best->wall < 0 || w < best->wall)
                        best->wall = w;
        }
        return 0;
}

static int wait_walk(DiagSocket *s, uint16_t port, void *out, ErrBuf *err) {
        PortRange range = { .lo = port, .hi = port };

        return diag_count_wait(s, &range, 1, out, err);
}

static int syn_walk(DiagSocket *s, uint16_t port, void *out, ErrBuf *err) {
        (void) port;
        return diag_count_syn(s, out, err);
}

int main(int argc, char *argv[]) {
        DiagSocket *s = NULL;
        WaitCounts wait = { 0 };
        SynCounts syn = { 0 };
        ErrBuf err = { { 0 } };
        long port, walks = 50;
        Cost w, y;
        int queued = 0, ignored = 0;
        char *end;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "Usage: %s PORT [WALKS]\n", argv[0]);
                return 1;
        }
        port = strtol(argv[1], &end, 10);
        if (*end || port < 1 || port > 65535) {
                fprintf(stderr, "bench-walk: invalid port '%s'\n", argv[1]);
                return 1;
        }
        if (argc == 3) {
                walks = strtol(argv[2], &end, 10);
                if (*end || walks < 1 || walks > 100000) {
                        fprintf(stderr, "bench-walk: invalid number of walks '%s'\n", argv[2]);
                        return 1;
                }
        }
        if (diag_open(&s, &err) < 0) {
                fprintf(stderr, "bench-walk: %s\n", err.text);
                return 1;
        }
        if (measure(wait_walk, s, (uint16_t) port, &wait, walks, &w, &queued) < 0 ||
            measure(syn_walk, s, (uint16_t) port, &syn, walks, &y, &ignored) < 0) {
                diag_close(s);
                return 1;
        }
        printf("walks=%ld queued=%d wait_cpu_us=%.0f wait_wall_us=%.0f syn_cpu_us=%.0f syn_wall_us=%.0f\n", walks,
               queued, w.cpu, w.wall, y.cpu, y.wall);
        wait_counts_done(&wait);
        syn_counts_done(&syn);
        diag_close(s);
        return 0;
}
