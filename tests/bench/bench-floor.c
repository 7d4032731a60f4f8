/* SPDX-License-Identifier: MIT */
/* The floor of the benchmark: the least work any tool can do to learn the
 * accept queues of all TCP listeners, i.e. one raw inet_diag LISTEN dump of
 * AF_INET and AF_INET6 with INET_DIAG_SKMEMINFO, nothing parsed beyond
 * counting the answers. No libmnl: socket() + sendto() + recv() loop with a
 * 32 KiB buffer.
 *
 * Usage: bench-floor [--one-walk] [--gap-ms MS] [DUMPS]   (default 200)
 * --one-walk sends the old TCPDIAG_GETSOCK request instead, as backlogd
 * does: no family filter, so one walk of the listener hash answers for both
 * families (the per-listener work is the same).
 * --gap-ms sleeps MS milliseconds (1-1000) between dumps, as a daemon's
 * cadence does: each dump then starts with the caches others have used in
 * between. The sleep is not CPU; wall time counts only the dumps.
 * Prints one line:
 *   dumps=N sockets=M cpu_us_per_dump=X wall_us_per_dump=Y
 * where sockets is the number of listeners seen in the last dump and cpu is
 * utime+stime of this process (CLOCK_PROCESS_CPUTIME_ID), which includes the
 * kernel's work of building the dump. Exit status 1 on any error. */

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_SIZE 32768
#define MAX_DUMPS 1000000L

static double now_us(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* One family (AF_UNSPEC: both, through TCPDIAG_GETSOCK): returns the number
 * of sockets or -errno. */
static long dump_family(int fd, uint8_t family, uint32_t seq, unsigned char *buf) {
        union {
                struct {
                        struct nlmsghdr nlh;
                        struct inet_diag_req_v2 req;
                } v2;
                struct {
                        struct nlmsghdr nlh;
                        struct inet_diag_req req;
                } old;
        } msg;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        long count = 0;
        size_t req_len;

        memset(&msg, 0, sizeof(msg));
        if (family == AF_UNSPEC) {
                req_len = sizeof(msg.old);
                msg.old.nlh.nlmsg_type = TCPDIAG_GETSOCK;
                msg.old.req.idiag_states = 1U << TCP_LISTEN;
                msg.old.req.idiag_ext = 1U << (INET_DIAG_SKMEMINFO - 1);
        } else {
                req_len = sizeof(msg.v2);
                msg.v2.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
                msg.v2.req.sdiag_family = family;
                msg.v2.req.sdiag_protocol = IPPROTO_TCP;
                msg.v2.req.idiag_states = 1U << TCP_LISTEN;
                msg.v2.req.idiag_ext = 1U << (INET_DIAG_SKMEMINFO - 1);
        }
        msg.v2.nlh.nlmsg_len = (uint32_t) req_len;
        msg.v2.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        msg.v2.nlh.nlmsg_seq = seq;

        if (sendto(fd, &msg, req_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;

        for (;;) {
                ssize_t n = recv(fd, buf, BUFFER_SIZE, 0);
                struct nlmsghdr *h;
                size_t len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPROTO;
                len = (size_t) n;
                for (h = (struct nlmsghdr *) buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != seq)
                                return -EPROTO;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return count;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                return e->error < 0 ? e->error : -EPROTO;
                        }
                        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY || h->nlmsg_type == TCPDIAG_GETSOCK)
                                count++;
                }
        }
}

int main(int argc, char *argv[]) {
        static unsigned char buf[BUFFER_SIZE];
        struct sockaddr_nl local = { .nl_family = AF_NETLINK };
        double cpu0, wall0, cpu1, wall1, slept = 0;
        long gap_ms = 0;
        long dumps = 200, sockets = 0;
        bool one_walk = false;
        uint32_t seq = 1;
        int fd;

        if (argc > 1 && strcmp(argv[1], "--one-walk") == 0) {
                one_walk = true;
                argv++;
                argc--;
        }
        if (argc > 2 && strcmp(argv[1], "--gap-ms") == 0) {
                char *end;

                errno = 0;
                gap_ms = strtol(argv[2], &end, 10);
                if (errno != 0 || *end != '\0' || gap_ms < 1 || gap_ms > 1000) {
                        fprintf(stderr, "bench-floor: invalid gap '%s' (1-1000 ms)\n", argv[2]);
                        return 1;
                }
                argv += 2;
                argc -= 2;
        }
        if (argc > 2 || (argc == 2 && strcmp(argv[1], "--help") == 0)) {
                fprintf(stderr, "Usage: %s [--one-walk] [--gap-ms MS] [DUMPS]\n", argv[0]);
                return 1;
        }
        if (argc == 2) {
                char *end;

                errno = 0;
                dumps = strtol(argv[1], &end, 10);
                if (errno != 0 || *end != '\0' || dumps < 1 || dumps > MAX_DUMPS) {
                        fprintf(stderr, "bench-floor: invalid number of dumps '%s'\n", argv[1]);
                        return 1;
                }
        }

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0) {
                perror("bench-floor: socket");
                return 1;
        }
        if (bind(fd, (struct sockaddr *) &local, sizeof(local)) < 0) {
                perror("bench-floor: bind");
                close(fd);
                return 1;
        }

        cpu0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
        wall0 = now_us(CLOCK_MONOTONIC);
        for (long i = 0; i < dumps; i++) {
                long v4, v6;

                if (gap_ms > 0) {
                        struct timespec gap = { gap_ms / 1000, (gap_ms % 1000) * 1000000L };
                        double w = now_us(CLOCK_MONOTONIC);

                        nanosleep(&gap, NULL);
                        slept += now_us(CLOCK_MONOTONIC) - w;
                }
                v4 = dump_family(fd, one_walk ? AF_UNSPEC : AF_INET, seq++, buf);
                v6 = v4 < 0 || one_walk ? 0 : dump_family(fd, AF_INET6, seq++, buf);
                if (v4 < 0 || v6 < 0) {
                        fprintf(stderr, "bench-floor: dump failed: %s\n", strerror((int) -(v4 < 0 ? v4 : v6)));
                        close(fd);
                        return 1;
                }
                sockets = v4 + v6;
        }
        cpu1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
        wall1 = now_us(CLOCK_MONOTONIC);
        close(fd);

        printf("dumps=%ld sockets=%ld cpu_us_per_dump=%.1f wall_us_per_dump=%.1f\n", dumps, sockets,
               (cpu1 - cpu0) / (double) dumps, (wall1 - wall0 - slept) / (double) dumps);
        return 0;
}
