/* SPDX-License-Identifier: MIT */
/* The cost of config_match() as the watch list grows: one poll's worth of
 * matching (every listener of the population, in dump order) with a watch
 * list of 1 entry and with one of N single-port entries, as an operator
 * listing the ports would write it. No kernel, no root: the listeners are
 * built in memory, like bench-pop's (ports 8001…, a quarter IPv6 on ::1,
 * the rest on 0.0.0.0), and the configurations parsed from text.
 *
 * Usage: bench-match [LISTENERS [ENTRIES [ROUNDS]]]   (10000 10000 200)
 * Prints one line:
 *   listeners=L entries=N rounds=R one_us=X many_us=Y ratio=Y/X
 * where X and Y are CPU µs (CLOCK_PROCESS_CPUTIME_ID) per round of matching
 * all L listeners, the best of 5 runs of R rounds each, the two
 * configurations alternating. Exit status 1 on any
 * error, including a listener matched to the wrong entry. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"

#define FIRST_PORT 8001
#define RUNS 5

static double cpu_us(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
                return 0;
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* watch = ( { port = 8001; }, … ) with n entries. */
static Config *config_with_ports(unsigned n) {
        size_t size = 32 + (size_t) n * 24, len;
        char *text = malloc(size);
        Config *c = NULL;
        ErrBuf err = { { 0 } };

        if (!text)
                return NULL;
        len = (size_t) snprintf(text, size, "watch = (");
        for (unsigned i = 0; i < n; i++)
                len += (size_t) snprintf(text + len, size - len, "%s{ port = %u; }", i ? ", " : " ", FIRST_PORT + i);
        snprintf(text + len, size - len, " );\n");
        if (config_parse_string(text, "bench.conf", &c, &err) < 0)
                fprintf(stderr, "bench-match: %s\n", err.text);
        free(text);
        return c;
}

/* CPU µs per round of R rounds; *ret_matched counts the matches of one
 * round. */
static double time_match(const Config *c, const Listener *ls, unsigned n, unsigned rounds, unsigned *ret_matched) {
        unsigned matched = 0;
        double t0 = cpu_us();

        for (unsigned r = 0; r < rounds; r++) {
                matched = 0;
                for (unsigned i = 0; i < n; i++)
                        matched += config_match(c, &ls[i], NULL, NULL) != NULL;
        }
        *ret_matched = matched;
        return (cpu_us() - t0) / rounds;
}

int main(int argc, char **argv) {
        unsigned n = argc > 1 ? (unsigned) strtoul(argv[1], NULL, 10) : 10000;
        unsigned entries = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 10000;
        unsigned rounds = argc > 3 ? (unsigned) strtoul(argv[3], NULL, 10) : 200;
        Config *one, *many;
        Listener *ls;
        unsigned m1, mn;
        double t1 = 0, tn = 0;

        if (n == 0 || n > 65535 - FIRST_PORT || entries == 0 || entries > 65535 - FIRST_PORT || rounds == 0) {
                fprintf(stderr, "usage: bench-match [LISTENERS [ENTRIES [ROUNDS]]]\n");
                return 1;
        }
        ls = calloc(n, sizeof(*ls));
        one = config_with_ports(1);
        many = config_with_ports(entries);
        if (!ls || !one || !many)
                return 1;
        for (unsigned i = 0; i < n; i++) {
                ls[i].port = (uint16_t) (FIRST_PORT + i);
                ls[i].backlog = 128;
                ls[i].family = i % 4 == 1 ? AF_INET6 : AF_INET;
                if (ls[i].family == AF_INET6)
                        ls[i].addr[15] = 1;
        }

        /* Alternated, the best of RUNS each: other load on the machine
         * then weighs on both alike. */
        for (unsigned run = 0; run < RUNS; run++) {
                double a = time_match(one, ls, n, rounds, &m1), b = time_match(many, ls, n, rounds, &mn);

                t1 = run == 0 || a < t1 ? a : t1;
                tn = run == 0 || b < tn ? b : tn;
        }
        if (m1 != 1 || mn != (n < entries ? n : entries)) {
                fprintf(stderr, "bench-match: matched %u and %u listeners, expected 1 and %u\n", m1, mn,
                        n < entries ? n : entries);
                return 1;
        }
        printf("listeners=%u entries=%u rounds=%u one_us=%.1f many_us=%.1f ratio=%.2f\n", n, entries, rounds, t1, tn,
               tn / t1);
        config_free(one);
        config_free(many);
        free(ls);
        return 0;
}
