/* SPDX-License-Identifier: MIT */
/* The monitor's outputs: its own lines, systemd's socket units, and a
 * poll's events resolved to their owners and written within the budget. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>

#include "describe.h"
#include "monitor-internal.h"

void monitor_say(Monitor *m, int priority, const char *fmt, ...) {
        char text[1024];
        va_list ap;

        if (!sink_enabled(&m->opts.sink, priority))
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        sink_log(&m->opts.sink, priority, NULL, "%s", text);
}

/* ---- socket units ------------------------------------------------------- */

/* Asks systemd (a bounded exchange) when socket-owners.h says it is due,
 * and says what came of it: a failure once, as a notice on a systemd host,
 * where the bus should be there. */
void monitor_read_sockets(Monitor *m, bool reload) {
        size_t units = 0, endpoints = 0;
        ErrBuf err = { "" };

        switch (socket_owners_refresh(m->sockets, reload, &units, &endpoints, &err)) {
        case SOCKET_OWNERS_FAILED:
                monitor_say(m, sd_booted() > 0 ? LOG_NOTICE : LOG_DEBUG,
                            "Cannot ask systemd for its socket units: %s; socket-activated listeners are named "
                            "init.scope.",
                            err.text);
                break;
        case SOCKET_OWNERS_BACK:
                monitor_say(m, LOG_NOTICE, "Asking systemd for its socket units works again.");
                monitor_say(m, LOG_DEBUG, "systemd has %zu active socket unit%s with %zu listener%s backlogd can see.",
                            units, units == 1 ? "" : "s", endpoints, endpoints == 1 ? "" : "s");
                break;
        case SOCKET_OWNERS_READ:
                monitor_say(m, LOG_DEBUG, "systemd has %zu active socket unit%s with %zu listener%s backlogd can see.",
                            units, units == 1 ? "" : "s", endpoints, endpoints == 1 ? "" : "s");
                break;
        default:
                break;
        }
}

/* Once per socket unit (and reload): its Backlog= was cut down. */
void monitor_check_clamp(Monitor *m, const Space *s, const Listener *l, SocketUnit *sock) {
        int64_t somaxconn =
                s && s->have_sysctls && s->sysctls.present[SYSCTL_SOMAXCONN] ? s->sysctls.value[SYSCTL_SOMAXCONN] : -1;
        char text[512], ep[DESCRIBE_ENDPOINT_MAX];

        if (sock->said || !sockets_clamped(sock->backlog, l->backlog, somaxconn))
                return;
        sock->said = true;
        describe_endpoint(l, NULL, ep, sizeof(ep));
        monitor_say(m, LOG_WARNING, "%s",
                    describe_socket_clamp(sock->name, sock->backlog, l->backlog, ep, text, sizeof(text)));
}

void monitor_set_socket_units(Monitor *m, SocketMap *map) {
        socket_owners_set_map(m->sockets, map);
}
/* ---- events ------------------------------------------------------------- */

/* The processes of UNIX listener l's first waiting clients, into o: the
 * clients as a stall's reading found them, else from an exact request. */
static void name_clients(Monitor *m, const Listener *l, EventOwner *o) {
        Listener c = *l;
        Space *s;

        if (c.n_clients == 0 && (!(s = namespaces_find(m->ns, l->netns)) || space_unix_clients(s, &c, NULL) <= 0))
                return;
        for (size_t k = 0; k < c.n_clients; k++) {
                ProcessName p = { 0 };

                if (c.clients[k] != 0 && process_find(m->processes, c.clients[k], &p.pid, p.comm) >= 0)
                        describe_add_client(o->clients, &o->n_clients, p.pid, p.comm);
        }
}

/* Who owns an event's listener, resolved before the sink renders it: the
 * namespace and the bound device's name in it, the unit from the cgroup id
 * (no privilege needed), the user. */
static void resolve(Monitor *m, const Event *e, EventOwner *o, char ifname[IF_NAMESIZE]) {
        const Listener *l = &e->listener;
        Space *s = namespaces_find(m->ns, l->netns);
        SocketUnit *via;

        *o = (EventOwner){ 0 };
        o->netns = s ? s->name : NULL;
        if (e->kind == EVENT_COUNTER)
                return;
        if (l->ifindex && s && space_interface_name(s, l->ifindex, ifname) >= 0)
                o->interface = ifname;
        o->cgroup = cgroup_names_path(m->cgroups, l->cgroup_id);
        o->unit = socket_owners_unit(m->sockets, l, cgroup_names_unit(m->cgroups, l->cgroup_id),
                                     socket_owners_find(m->sockets, l), &via);
        o->socket_unit = via ? via->name : NULL;
        o->user = users_name(m->users, l->uid);
}

/* An event that was not written is said again at the next poll. */
/* Whether the next poll says e again. */
static bool retry(Monitor *m, const Event *e) {
        if (e->kind == EVENT_IMBALANCE || e->kind == EVENT_IMBALANCE_CLEARED)
                return groups_retry(m->groups, e);
        if (e->kind == EVENT_STALLED || e->kind == EVENT_ACCEPTING)
                return stalls_retry(m->stalls, e);
        return policy_retry(m->policy, e);
}

/* System services' listeners come first when the budget is tight: a uid
 * below 1000, or a unit of system.slice; the host counters too. */
static bool system_owner(const Event *e, const EventOwner *o) {
        return e->kind == EVENT_COUNTER || e->listener.uid < 1000 ||
               (o->cgroup && strncmp(o->cgroup, "/system.slice/", strlen("/system.slice/")) == 0);
}

void monitor_emit_summaries(Monitor *m, uint64_t now, bool flush) {
        BudgetSummary sum;

        while (budget_next_summary(m->budget, now, flush, &sum)) {
                const char *user = sum.uid == BUDGET_OTHERS ? NULL : users_name(m->users, sum.uid);

                (void) sink_summary(&m->opts.sink, &sum, user);
        }
}

/* The events of a poll, within the budget: each allowed one gets its
 * process looked up (a bounded, cached scan of /proc, for alerts that ask
 * someone to act) and goes to the sink; what the budget holds back is
 * summed per owner; an alert that could not be written is retried. */
void monitor_emit(Monitor *m, uint64_t now) {
        m->held_back = false;
        sink_flush(&m->opts.sink);
        /* Now that this poll's counters are read: why listeners dropped. */
        for (size_t i = 0; i < m->events.n; i++)
                counters_stamp_cause(m->counters, &m->events.items[i]);
        /* A socket unit started since the map was read names its alerts'
         * service from the first one on. */
        for (size_t i = 0; i < m->events.n; i++) {
                const Listener *l = &m->events.items[i].listener;
                SocketUnit *via;

                if (m->events.items[i].kind != EVENT_COUNTER)
                        (void) socket_owners_unit(m->sockets, l, cgroup_names_unit(m->cgroups, l->cgroup_id),
                                                  socket_owners_find(m->sockets, l), &via);
        }
        monitor_read_sockets(m, false);
        process_finder_set_deadline(m->processes, PROCESS_LOOKUP_USEC);
        for (size_t i = 0; i < m->events.n; i++) {
                const Event *e = &m->events.items[i];
                char ifname[IF_NAMESIZE], state;
                EventOwner owner;
                bool system;
                int r;

                resolve(m, e, &owner, ifname);
                /* A new service's listener whose cgroup a rescan, too soon,
                 * has not looked for yet: its alert waits for that scan (at
                 * most the rescan interval) so that it names the service. */
                if (!owner.unit &&
                    (e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_DROPS ||
                     e->kind == EVENT_IMBALANCE) &&
                    cgroup_names_pending(m->cgroups, e->listener.cgroup_id)) {
                        m->held_back |= retry(m, e);
                        continue;
                }
                system = system_owner(e, &owner);
                if (!budget_take(m->budget, e->kind == EVENT_COUNTER ? 0 : e->listener.uid, system, e->kind, now)) {
                        /* A system service's alert waits for the next poll
                         * (one that cannot is in the summary, as the
                         * others are). */
                        if (system && retry(m, e))
                                m->held_back = true;
                        else if (system)
                                budget_deny(m->budget, e->kind == EVENT_COUNTER ? 0 : e->listener.uid, e->kind, now);
                        continue;
                }
                if ((e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_DROPS ||
                     e->kind == EVENT_STALLED || e->kind == EVENT_IMBALANCE) &&
                    e->listener.inode != 0 &&
                    process_find(m->processes, e->listener.inode, &owner.pid, owner.comm) < 0)
                        owner.pid = 0;
                /* PID 1 holds a socket unit's listener too: not whom to ask. */
                if (owner.socket_unit && owner.pid == 1)
                        owner.pid = 0;
                /* Why it does not accept: stopped, in disk sleep, busy? */
                if ((e->kind == EVENT_STALLED || e->kind == EVENT_IMBALANCE) && owner.pid > 0 &&
                    process_state(m->opts.proc_root, owner.pid, &state) >= 0)
                        owner.state = process_state_text(state);
                /* Who waits on a UNIX listener: its clients' processes. */
                if ((e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_STALLED) &&
                    e->listener.kind == LISTENER_UNIX && e->listener.depth > 0)
                        name_clients(m, &e->listener, &owner);
                r = sink_event(&m->opts.sink, e, &owner);
                if (r == -ENOBUFS || r == -ENOMEM)
                        m->held_back |= retry(m, e);
                else if (r < 0 && r != m->journal_error)
                        /* say so once on stderr, go on */
                        fprintf(stderr, "backlogd: cannot write to the journal: %s\n", strerror(-r));
                m->journal_error = r < 0 ? r : 0;
        }
        process_finder_set_deadline(m->processes, 0);
        event_list_clear(&m->events);
        monitor_emit_summaries(m, now, false);
}
