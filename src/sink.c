/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "budget.h"
#include "describe.h"
#include "escape.h"
#include "journal.h"
#include "message-ids.h"
#include "process.h"
#include "sink.h"

/* " of " and describe_owner()'s phrase. */
#define OWNER_PHRASE_MAX (4 + DESCRIBE_OWNER_MAX)

static const char *const log_target_names[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_CONSOLE] = "console",
};

const char *log_target_name(LogTarget t) {
        return t >= 0 && t < _LOG_TARGET_MAX ? log_target_names[t] : NULL;
}

int log_target_from_string(const char *s, LogTarget *ret) {
        for (int t = 0; t < _LOG_TARGET_MAX; t++)
                if (strcmp(s, log_target_names[t]) == 0) {
                        *ret = (LogTarget) t;
                        return 0;
                }
        return -EINVAL;
}

bool sink_stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void sink_init(Sink *s, LogTarget t) {
        if (t == LOG_TARGET_AUTO)
                t = sink_stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        s->target = t;
        s->journal = NULL;
        s->max_priority = LOG_INFO;
}

static const char *event_message_id(const Event *e) {
        switch (e->kind) {
        case EVENT_HIGH:
                return MESSAGE_ID_HIGH;
        case EVENT_FULL:
                return MESSAGE_ID_FULL;
        case EVENT_CLEARED:
                return MESSAGE_ID_CLEARED;
        case EVENT_DROPS:
                return MESSAGE_ID_DROPS;
        case EVENT_GONE:
                return MESSAGE_ID_GONE;
        case EVENT_SYN_HIGH:
                return MESSAGE_ID_SYN_HIGH;
        case EVENT_SYN_FULL:
                return MESSAGE_ID_SYN_FULL;
        case EVENT_SYN_CLEARED:
                return MESSAGE_ID_SYN_CLEARED;
        case EVENT_STALLED:
                return MESSAGE_ID_STALLED;
        case EVENT_ACCEPTING:
                return MESSAGE_ID_ACCEPTING;
        case EVENT_IMBALANCE:
                return MESSAGE_ID_IMBALANCE;
        case EVENT_IMBALANCE_CLEARED:
                return MESSAGE_ID_IMBALANCE_CLEARED;
        default:
                return MESSAGE_ID_COUNTER;
        }
}

static int event_priority(const Event *e) {
        switch (e->kind) {
        case EVENT_HIGH:
        case EVENT_SYN_HIGH:
        case EVENT_STALLED:
                return LOG_WARNING;
        case EVENT_FULL:
        case EVENT_DROPS:
        case EVENT_SYN_FULL:
        case EVENT_IMBALANCE:
                return LOG_ERR;
        case EVENT_CLEARED:
        case EVENT_GONE:
        case EVENT_SYN_CLEARED:
        case EVENT_ACCEPTING:
        case EVENT_IMBALANCE_CLEARED:
                return LOG_NOTICE;
        default:
                return e->counter == NETSTAT_TCP_REQQ_FULL_DO_COOKIES ? LOG_WARNING : LOG_ERR;
        }
}

/* "127.0.0.1:8080 (api) in network namespace web1 of nginx.service (nginx, pid 812)" */
static const char *event_subject(const Event *e, const EventOwner *o, char *buf, size_t size) {
        char ep[DESCRIBE_ENDPOINT_MAX], name[80] = "", ns[DESCRIBE_NETNS_MAX], who[DESCRIBE_OWNER_MAX] = "";

        describe_endpoint(&e->listener, o ? o->interface : NULL, ep, sizeof(ep));
        if (e->name[0])
                snprintf(name, sizeof(name), " (%s)", e->name);
        describe_netns(o ? o->netns : NULL, ns, sizeof(ns));
        if (o)
                describe_owner(o->unit, o->socket_unit, o->comm, o->pid, who, sizeof(who));
        snprintf(buf, size, "%s%s%s%s%s", ep, name, ns, who[0] ? " of " : "", who);
        return buf;
}

static const char *event_remedy(const Event *e, char *buf, size_t size) {
        /* The reset note only where connections are being turned away. */
        return describe_remedy(e->listener.backlog, e->clamped, e->abort_on_overflow,
                               e->kind == EVENT_FULL || e->kind == EVENT_DROPS, buf, size);
}

static const char *period_text(uint64_t usec, char *buf, size_t size) {
        uint64_t s = (usec + 500000) / 1000000;

        if (s < 1)
                snprintf(buf, size, "since the previous poll");
        else if (s < 120)
                snprintf(buf, size, "in the last %" PRIu64 " s", s);
        else
                snprintf(buf, size, "in the last %" PRIu64 " min", (s + 30) / 60);
        return buf;
}

/* The remedy for a full SYN queue, in the SYN queue alerts and for the
 * syn_queue cause. */
#define SYN_REMEDY "Raise the listen backlog and net.ipv4.tcp_max_syn_backlog"

/* Why a listener dropped, after its numbers: ": its accept queue
 * overflowed"; "" when the cause is not known. */
static const char *drops_cause(EventCause c) {
        switch (c) {
        case EVENT_CAUSE_ACCEPT_QUEUE:
                return ": its accept queue overflowed";
        case EVENT_CAUSE_SYN_QUEUE:
                return ": its SYN queue overflowed and SYN cookies are off";
        case EVENT_CAUSE_DEFER_ACCEPT:
                return ": TCP_DEFER_ACCEPT dropped the handshake ACKs of clients that sent no data";
        case EVENT_CAUSE_OTHER:
                return ": the host counters show no full accept or SYN queue and no TCP_DEFER_ACCEPT drop";
        default:
                return "";
        }
}

/* What to do about a cause, as its own sentence; NULL for the accept
 * queue, whose advice names the listener's backlog (describe_remedy()). */
static const char *cause_remedy(EventCause c) {
        switch (c) {
        case EVENT_CAUSE_SYN_QUEUE:
                return SYN_REMEDY ", or turn net.ipv4.tcp_syncookies on.";
        case EVENT_CAUSE_SYN_FLOOD:
                return "An attack or a burst that SYN cookies are coping with: connections still get through; "
                       "look for a SYN flood if it lasts.";
        case EVENT_CAUSE_DEFER_ACCEPT:
                return "These are clients that connect and say nothing (idle pools, health checks, scanners): "
                       "they wait half open until they send data or the TCP_DEFER_ACCEPT time runs out.";
        case EVENT_CAUSE_OTHER:
                return "Such drops come from memory pressure, net.ipv4.tcp_max_syn_backlog with SYN cookies off, "
                       "or a socket filter; nstat -az shows the host's other TCP counters.";
        default:
                return NULL;
        }
}

static const char *counter_meaning(NetstatCounter c) {
        switch (c) {
        case NETSTAT_LISTEN_OVERFLOWS:
                return "a listener's accept queue was full when a handshake completed";
        case NETSTAT_LISTEN_DROPS:
                return "connection attempts were dropped at a listening socket";
        case NETSTAT_TCP_REQQ_FULL_DROP:
                return "SYNs were dropped because a SYN queue was full and SYN cookies are off";
        case NETSTAT_TCP_REQQ_FULL_DO_COOKIES:
                return "a SYN queue was full and SYN cookies were sent instead";
        default:
                return "the host's listen counters moved";
        }
}

/* Why ListenDrops rose, after its meaning; "" for the other counters,
 * whose meaning is their cause. */
static const char *counter_cause(const Event *e) {
        if (e->counter != NETSTAT_LISTEN_DROPS)
                return "";
        switch (e->cause) {
        case EVENT_CAUSE_ACCEPT_QUEUE:
                return ", as an accept queue overflowed";
        case EVENT_CAUSE_SYN_QUEUE:
                return ", as a SYN queue overflowed with SYN cookies off";
        case EVENT_CAUSE_OTHER:
                return ", and neither ListenOverflows nor TCPReqQFullDrop rose with it";
        default:
                return "";
        }
}

/* What to do about a host counter's cause; "" if nothing is known. */
static const char *counter_remedy(EventCause c) {
        if (c == EVENT_CAUSE_ACCEPT_QUEUE)
                return "Raise the listen backlog of the listener concerned or make it accept connections faster.";
        return cause_remedy(c) ? cause_remedy(c) : "";
}

/* "clients have waited up to 4.2 s; 3 gave up" after prefix, with only
 * the parts that are known and not zero; "" when none is. */
static const char *wait_text(const Event *e, const char *prefix, const char *suffix, char *buf, size_t size) {
        const Listener *l = &e->listener;
        char secs[DESCRIBE_WAIT_MAX], waited[64] = "", gave_up[32] = "";

        buf[0] = 0;
        if (!l->has_wait || (l->wait_ms == 0 && l->gave_up == 0))
                return buf;
        if (l->wait_ms > 0)
                snprintf(waited, sizeof(waited), "clients have waited up to %s",
                         describe_wait(l->wait_ms, " ", secs, sizeof(secs)));
        if (l->gave_up > 0)
                snprintf(gave_up, sizeof(gave_up), "%u gave up", l->gave_up);
        snprintf(buf, size, "%s%s%s%s%s", prefix, waited, waited[0] && gave_up[0] ? "; " : "", gave_up, suffix);
        return buf;
}

/* What the holder's state says about a stall, and what to do. */
static const char *stall_remedy(const EventOwner *o) {
        switch (o && o->state ? o->state[0] : 0) {
        case 'T':
        case 't':
                return "Its process is stopped (state T): resume it (kill -CONT), or let its debugger go on.";
        case 'D':
                return "Its process is in uninterruptible sleep (state D): it waits for the kernel, often for disk "
                       "or network file system I/O.";
        case 'S':
                return "Its process is sleeping (state S): its accept loop waits for something else (a lock, a "
                       "backend, a full worker pool).";
        case 'R':
                return "Its process is running (state R) but does not call accept(): it is busy with other work.";
        case 'Z':
                return "Its process has exited (state Z): another process holds the socket and does not accept.";
        default:
                return "Look at what the application's accept loop waits for.";
        }
}

/* "12 s", "3 min" */
static const char *duration_text(uint64_t usec, char *buf, size_t size) {
        uint64_t s = usec / 1000000;

        if (s < 120)
                snprintf(buf, size, "%" PRIu64 " s", s);
        else
                snprintf(buf, size, "%" PRIu64 " min", (s + 30) / 60);
        return buf;
}

/* "1 of 8 sockets on *:443 of web.service is full, the others are nearly
 * empty: one worker is not accepting (web, pid 4711, state T). ..." The
 * process is the full member's; the subject names the unit only. */
static int imbalance_sentence(const Event *e, const EventOwner *o, char *buf, size_t size) {
        char who[DESCRIBE_ENDPOINT_MAX + 80 + DESCRIBE_NETNS_MAX + OWNER_PHRASE_MAX], others[64];
        char proc[64] = "", state[16] = "";
        uint32_t n_others = e->group_size > e->group_full ? e->group_size - e->group_full : 0;
        EventOwner unit_only;

        if (o) {
                unit_only = *o;
                unit_only.pid = 0;
        }
        event_subject(e, o ? &unit_only : NULL, who, sizeof(who));
        if (e->group_below >= n_others)
                snprintf(others, sizeof(others), "the others are nearly empty");
        else
                snprintf(others, sizeof(others), "%u of the %u others are nearly empty", e->group_below, n_others);
        if (o && o->state)
                snprintf(state, sizeof(state), ", state %c", o->state[0]);
        if (o && o->pid > 0)
                snprintf(proc, sizeof(proc), " (%s%s, pid %d%s)", e->group_full == 1 ? "" : "one of them: ", o->comm,
                         o->pid, state);
        return snprintf(buf, size,
                        "%u of %u sockets on %s %s full, %s: %s not accepting%s. New connections are spread over "
                        "the sockets by a hash of the client's address and port: those sent to a full one are "
                        "dropped or delayed while the others idle. Find out why its process does not accept() "
                        "(stopped, blocked, or stuck in a loop).",
                        e->group_full, e->group_size, who, e->group_full == 1 ? "is" : "are", others,
                        e->group_full == 1 ? "one worker is" : "workers are", proc);
}

/* Why an imbalance is over, from the group as last counted. */
static int imbalance_cleared_sentence(const Event *e, const EventOwner *o, char *buf, size_t size) {
        char who[DESCRIBE_ENDPOINT_MAX + 80 + DESCRIBE_NETNS_MAX + OWNER_PHRASE_MAX], why[128];
        uint32_t n_others = e->group_size > e->group_full ? e->group_size - e->group_full : 0;

        event_subject(e, o, who, sizeof(who));
        if (e->group_size < 2)
                snprintf(why, sizeof(why), "only %u is left", e->group_size);
        else if (e->group_full == 0)
                snprintf(why, sizeof(why), "none of the %u is full anymore", e->group_size);
        else if (e->group_below == 0)
                snprintf(why, sizeof(why),
                         "all %u are at or above the clear level, %u of them full: the group is loaded as a whole",
                         e->group_size, e->group_full);
        else
                snprintf(why, sizeof(why), "%u of %u %s full, %u of the %u others nearly empty", e->group_full,
                         e->group_size, e->group_full == 1 ? "is" : "are", e->group_below, n_others);
        return snprintf(buf, size, "Sockets on %s are no longer unbalanced: %s; imbalance alert cleared.", who, why);
}

/* " Waiting clients: psql (pid 812), curl (pid 900)." when known. */
static const char *clients_text(const EventOwner *o, char *buf, size_t size) {
        char list[DESCRIBE_CLIENTS_MAX];

        buf[0] = 0;
        if (o && o->n_clients > 0)
                snprintf(buf, size, " Waiting clients: %s.",
                         describe_clients(o->clients, o->n_clients, list, sizeof(list)));
        return buf;
}

/* The sentence as it reads before escaping, snprintf-like. */
static size_t format_sentence(const Event *e, const EventOwner *o, char *buf, size_t size) {
        char who[DESCRIBE_ENDPOINT_MAX + 80 + DESCRIBE_NETNS_MAX + OWNER_PHRASE_MAX], remedy[512], period[48],
                ns[DESCRIBE_NETNS_MAX], waited[128];
        const Listener *l = &e->listener;
        int n = 0;

        if (e->kind != EVENT_COUNTER)
                event_subject(e, o, who, sizeof(who));
        switch (e->kind) {
        case EVENT_IMBALANCE:
                n = imbalance_sentence(e, o, buf, size);
                break;
        case EVENT_IMBALANCE_CLEARED:
                n = imbalance_cleared_sentence(e, o, buf, size);
                break;
        case EVENT_HIGH:
                n = snprintf(buf, size,
                             "Listen queue of %s is %s%u%% full: %u of %" PRIu64
                             " connections wait for accept()%s. %s",
                             who, e->reminder ? "still " : "", e->fill_pct, l->depth, listener_capacity(l),
                             wait_text(e, " (", ")", waited, sizeof(waited)), event_remedy(e, remedy, sizeof(remedy)));
                break;
        case EVENT_FULL:
                n = snprintf(buf, size,
                             "Listen queue of %s is %sfull: %u of %" PRIu64
                             " connections wait for accept()%s, new connections are dropped or delayed. %s",
                             who, e->reminder ? "still " : "", l->depth, listener_capacity(l),
                             wait_text(e, " (", ")", waited, sizeof(waited)), event_remedy(e, remedy, sizeof(remedy)));
                break;
        case EVENT_CLEARED:
                n = snprintf(buf, size, "Listen queue of %s has drained to %u%% (%u of %" PRIu64 "); alert cleared.",
                             who, e->fill_pct, l->depth, listener_capacity(l));
                break;
        case EVENT_DROPS:
                n = snprintf(
                        buf, size, "%s dropped %" PRIu64 " connection attempt%s %s (queue %u of %" PRIu64 "%s)%s. %s",
                        who, e->drops, e->drops == 1 ? "" : "s", period_text(e->period_usec, period, sizeof(period)),
                        l->depth, listener_capacity(l), wait_text(e, "; ", "", waited, sizeof(waited)),
                        drops_cause(e->cause),
                        cause_remedy(e->cause) ? cause_remedy(e->cause) : event_remedy(e, remedy, sizeof(remedy)));
                break;
        case EVENT_SYN_HIGH:
        case EVENT_SYN_FULL:
                n = snprintf(buf, size,
                             "SYN queue of %s is %s: %u half-open connections for a capacity of %" PRIu64
                             ", %s. " SYN_REMEDY ", keep net.ipv4.tcp_syncookies on, and look for clients that "
                             "connect and stall or a SYN flood.",
                             who, e->kind == EVENT_SYN_FULL ? "full" : "filling up", l->syn_depth,
                             listener_capacity(l),
                             e->kind == EVENT_SYN_FULL ? "new SYNs are dropped or answered with SYN cookies"
                                                       : "the next ones may be dropped");
                break;
        case EVENT_SYN_CLEARED:
                n = snprintf(buf, size, "SYN queue of %s has drained to %u half-open connections; alert cleared.", who,
                             l->syn_depth);
                break;
        case EVENT_STALLED:
                n = snprintf(buf, size,
                             "Listen queue of %s has not moved for %s: nothing was accepted while %u connection%s "
                             "wait%s%s. %s",
                             who, duration_text(e->stalled_usec, period, sizeof(period)), l->depth,
                             l->depth == 1 ? "" : "s", l->depth == 1 ? "s" : "",
                             wait_text(e, " (", ")", waited, sizeof(waited)), stall_remedy(o));
                break;
        case EVENT_ACCEPTING:
                n = snprintf(buf, size,
                             "Listen queue of %s moves again after a stall of %s: connections are accepted (queue %u "
                             "of %" PRIu64 ").",
                             who, duration_text(e->stalled_usec, period, sizeof(period)), l->depth,
                             listener_capacity(l));
                break;
        case EVENT_GONE:
                if (e->gone == GONE_NETNS)
                        n = snprintf(buf, size,
                                     "%s is no longer watched, as its network namespace is not, while its queue "
                                     "alert was raised (last %u of %" PRIu64 "); alert withdrawn.",
                                     who, l->depth, listener_capacity(l));
                else if (e->gone == GONE_UNWATCHED)
                        n = snprintf(buf, size,
                                     "%s is no longer watched after a reload of the configuration, while its "
                                     "queue alert was raised (last %u of %" PRIu64 "); alert withdrawn.",
                                     who, l->depth, listener_capacity(l));
                else
                        n = snprintf(buf, size,
                                     "%s stopped listening while its queue alert was raised (last %u of %" PRIu64
                                     "); alert withdrawn.",
                                     who, l->depth, listener_capacity(l));
                break;
        default:
                n = snprintf(buf, size, "Host counter %s rose by %" PRIu64 "%s %s: %s%s.%s%s%s",
                             netstat_counter_name(e->counter), e->increase,
                             describe_netns(o ? o->netns : NULL, ns, sizeof(ns)),
                             period_text(e->period_usec, period, sizeof(period)), counter_meaning(e->counter),
                             counter_cause(e),
                             e->counter == NETSTAT_LISTEN_OVERFLOWS && e->abort_on_overflow == 1
                                     ? " net.ipv4.tcp_abort_on_overflow is 1: those clients were sent resets."
                                     : "",
                             counter_remedy(e->cause)[0] ? " " : "", counter_remedy(e->cause));
                break;
        }
        return n < 0 ? 0 : (size_t) n;
}

/* The raw sentence is at most ~1,400 bytes (the subject's pieces are
 * bounded); escaped, at most four times that, and far less in practice. */
#define SENTENCE_MAX 2048
#define MESSAGE_MAX 4096

size_t sink_format_message(const Event *e, const EventOwner *o, char *buf, size_t size) {
        char raw[SENTENCE_MAX], clients[DESCRIBE_CLIENTS_MAX + 32];
        size_t n = format_sentence(e, o, raw, sizeof(raw));

        if (n < sizeof(raw))
                snprintf(raw + n, sizeof(raw) - n, "%s", clients_text(o, clients, sizeof(clients)));
        return escape_text(buf, size, raw);
}

#define MAX_FIELDS 32

/* One entry's fields, each "NAME=value", packed into one buffer: a value is
 * cut only when the whole entry would not fit. A cgroup path (a Kubernetes
 * pod's is near 200 bytes) or a unit name (up to 255) must come out whole. */
typedef struct Fields {
        struct iovec iov[MAX_FIELDS];
        char buf[8192];
        size_t n, used;
} Fields;

static void field(Fields *f, const char *fmt, ...) _printf_(2, 3);
static void field(Fields *f, const char *fmt, ...) {
        size_t room = sizeof(f->buf) - f->used;
        char *p = f->buf + f->used;
        va_list ap;
        int len;

        if (f->n == MAX_FIELDS || room <= 1)
                return;
        va_start(ap, fmt);
        len = vsnprintf(p, room, fmt, ap);
        va_end(ap);
        if (len < 0)
                return;
        if ((size_t) len >= room)
                len = (int) room - 1;
        f->iov[f->n++] = (struct iovec){ .iov_base = p, .iov_len = (size_t) len };
        f->used += (size_t) len + 1;
}

/* Through the non-blocking writer when there is one (the daemon), else
 * libsystemd's (tools, tests). 0, or -ENOBUFS/-ENOMEM: the entry was not
 * written and will not be. */
static int sink_send(const Sink *s, const Fields *f) {
        int r;

        if (s->journal) {
                r = journal_send(s->journal, f->iov, f->n);
                return r < 0 ? r : 0;
        }
        r = sd_journal_sendv(f->iov, (int) f->n);
        return r < 0 ? r : 0;
}

int sink_event(const Sink *s, const Event *e, const EventOwner *o) {
        char text[MESSAGE_MAX];
        Fields f;

        sink_format_message(e, o, text, sizeof(text));
        if (s->target != LOG_TARGET_JOURNAL) {
                fprintf(stderr, "%s%s: %s\n", event_kind_name(e->kind), e->reminder ? " (reminder)" : "", text);
                return 0;
        }

        f.n = f.used = 0;
        field(&f, "MESSAGE=%s", text);
        field(&f, "PRIORITY=%d", event_priority(e));
        field(&f, "MESSAGE_ID=%s", event_message_id(e));
        field(&f, "SYSLOG_IDENTIFIER=backlogd");
        field(&f, "BACKLOGD_EVENT=%s", event_kind_name(e->kind));
        if (o && o->netns)
                field(&f, "BACKLOGD_NETNS=%s", o->netns);
        if (e->kind == EVENT_COUNTER) {
                field(&f, "BACKLOGD_COUNTER=%s", netstat_counter_name(e->counter));
                field(&f, "BACKLOGD_INCREASE=%" PRIu64, e->increase);
                if (event_cause_name(e->cause))
                        field(&f, "BACKLOGD_CAUSE=%s", event_cause_name(e->cause));
        } else {
                char a[LISTENER_ADDRESS_MAX];
                const Listener *l = &e->listener;

                if (l->kind == LISTENER_UNIX)
                        field(&f, "BACKLOGD_PATH=%s", l->path);
                else {
                        field(&f, "BACKLOGD_ADDRESS=%s", listener_address(l, a, sizeof(a)));
                        field(&f, "BACKLOGD_PORT=%u", l->port);
                        if (o && o->interface && o->interface[0])
                                field(&f, "BACKLOGD_INTERFACE=%s", o->interface);
                }
                field(&f, "BACKLOGD_DEPTH=%u", l->depth);
                field(&f, "BACKLOGD_BACKLOG=%u", l->backlog);
                field(&f, "BACKLOGD_FILL=%u", e->fill_pct);
                if (e->kind == EVENT_DROPS)
                        field(&f, "BACKLOGD_DROPS=%" PRIu64, e->drops);
                if (e->kind == EVENT_DROPS && event_cause_name(e->cause))
                        field(&f, "BACKLOGD_CAUSE=%s", event_cause_name(e->cause));
                if (e->kind == EVENT_IMBALANCE || e->kind == EVENT_IMBALANCE_CLEARED) {
                        field(&f, "BACKLOGD_GROUP_SIZE=%u", e->group_size);
                        field(&f, "BACKLOGD_GROUP_FULL=%u", e->group_full);
                }
                if (l->has_syn)
                        field(&f, "BACKLOGD_SYN_DEPTH=%u", l->syn_depth);
                if (l->has_wait && (e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_DROPS ||
                                    e->kind == EVENT_STALLED)) {
                        field(&f, "BACKLOGD_WAIT_MS=%u", l->wait_ms);
                        field(&f, "BACKLOGD_GAVE_UP=%u", l->gave_up);
                }
                if (e->name[0])
                        field(&f, "BACKLOGD_NAME=%s", e->name);
                if (e->kind == EVENT_GONE)
                        field(&f, "BACKLOGD_GONE=%s",
                              e->gone == GONE_NETNS       ? "netns"
                              : e->gone == GONE_UNWATCHED ? "unwatched"
                                                          : "closed");
                if (e->reminder)
                        field(&f, "BACKLOGD_REMINDER=1");
                if (e->kind == EVENT_STALLED || e->kind == EVENT_ACCEPTING)
                        field(&f, "BACKLOGD_STALLED_S=%" PRIu64, e->stalled_usec / 1000000);
                if (o && o->n_clients > 0) {
                        char pids[LISTENER_CLIENTS_MAX * 12] = "";
                        size_t used = 0;

                        for (size_t k = 0; k < o->n_clients && used < sizeof(pids); k++) {
                                int w = snprintf(pids + used, sizeof(pids) - used, "%s%d", k ? " " : "",
                                                 o->clients[k].pid);

                                used += w > 0 ? (size_t) w : 0;
                        }
                        field(&f, "BACKLOGD_CLIENT_PIDS=%s", pids);
                }
                if (o && o->state && (e->kind == EVENT_STALLED || e->kind == EVENT_IMBALANCE))
                        field(&f, "BACKLOGD_PROCESS_STATE=%s", o->state);
                field(&f, "BACKLOGD_UID=%u", l->uid);
                if (o && o->unit) {
                        field(&f, "BACKLOGD_UNIT=%s", o->unit);
                        /* journalctl -u UNIT shows the entry next to the
                         * unit's own log (honoured from uid 0 only). */
                        field(&f, "OBJECT_SYSTEMD_UNIT=%s", o->unit);
                }
                if (o && o->socket_unit)
                        field(&f, "BACKLOGD_SOCKET_UNIT=%s", o->socket_unit);
                if (o && o->cgroup)
                        field(&f, "BACKLOGD_CGROUP=%s", o->cgroup);
                if (o && o->user)
                        field(&f, "BACKLOGD_USER=%s", o->user);
                if (o && o->pid > 0) {
                        field(&f, "BACKLOGD_PID=%d", o->pid);
                        field(&f, "OBJECT_PID=%d", o->pid);
                        field(&f, "BACKLOGD_COMM=%s", o->comm);
                }
        }
        return sink_send(s, &f);
}

static int send_line(const Sink *s, int priority, const char *message_id, const char *text, const Fields *extra);

int sink_log(const Sink *s, int priority, const char *message_id, const char *fmt, ...) {
        char raw[1024], text[ESCAPE_TEXT_MAX(sizeof(raw))];
        va_list ap;

        if (!sink_enabled(s, priority))
                return 0;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        /* It may name namespace files and carry error texts with foreign
         * names: escaped as a whole, as the events' sentences. */
        escape_text(text, sizeof(text), raw);

        if (s->target != LOG_TARGET_JOURNAL) {
                fprintf(stderr, "%s\n", text);
                return 0;
        }
        return send_line(s, priority, message_id, text, NULL);
}

/* A line of ours, with its priority, message id and extra fields. */
static int send_line(const Sink *s, int priority, const char *message_id, const char *text, const Fields *extra) {
        Fields f;

        f.n = f.used = 0;
        field(&f, "MESSAGE=%s", text);
        field(&f, "PRIORITY=%d", priority);
        field(&f, "SYSLOG_IDENTIFIER=backlogd");
        if (message_id)
                field(&f, "MESSAGE_ID=%s", message_id);
        for (size_t i = 0; extra && i < extra->n; i++)
                field(&f, "%.*s", (int) extra->iov[i].iov_len, (const char *) extra->iov[i].iov_base);
        return sink_send(s, &f);
}

int sink_summary(const Sink *s, const BudgetSummary *sum, const char *user) {
        char what[512], period[48], raw[800], text[ESCAPE_TEXT_MAX(sizeof(raw))], who[64];
        Fields extra;

        if (sum->uid == BUDGET_OTHERS)
                snprintf(who, sizeof(who), "Other users");
        else if (user)
                snprintf(who, sizeof(who), "uid %u (%s)", sum->uid, user);
        else
                snprintf(who, sizeof(who), "uid %u", sum->uid);
        snprintf(text, sizeof(text), "%s: %s %s; not reported one by one, to keep the journal for everybody's alerts.",
                 who, budget_describe(sum, what, sizeof(what)), period_text(sum->period_usec, period, sizeof(period)));
        if (s->target != LOG_TARGET_JOURNAL) {
                fprintf(stderr, "summary: %s\n", text);
                return 0;
        }
        extra.n = extra.used = 0;
        field(&extra, "BACKLOGD_EVENT=summary");
        if (sum->uid != BUDGET_OTHERS)
                field(&extra, "BACKLOGD_UID=%u", sum->uid);
        if (user)
                field(&extra, "BACKLOGD_USER=%s", user);
        field(&extra, "BACKLOGD_SUPPRESSED=%" PRIu64, sum->total);
        return send_line(s, LOG_WARNING, MESSAGE_ID_SUMMARY, text, &extra);
}

void sink_flush(const Sink *s) {
        if (s->journal)
                (void) journal_flush(s->journal);
}
