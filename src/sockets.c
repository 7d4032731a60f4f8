/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "sockets.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PRIVATE "unix:path=/run/systemd/private"

typedef struct MapEntry {
        SocketEndpoint ep;
        size_t unit;
} MapEntry;

struct SocketMap {
        SocketUnit *units;
        size_t n_units, cap_units;
        MapEntry *entries; /* sorted by entry_cmp() */
        size_t n_entries, cap_entries;
};

/* ---- parsing ------------------------------------------------------------ */

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* The inverse of systemd's cescape() (\a \b \f \n \r \t \v \\ \" \' \NNN,
 * and \xNN), into buf. A NUL, which only an abstract name can hold, is
 * shown as '@' as Listener.path shows it (diag-unix.c). */
static int unescape(const char *s, bool abstract, char *buf, size_t size) {
        static const char letters[] = "abfnrtv\\\"'", values[] = "\a\b\f\n\r\t\v\\\"'";
        size_t n = 0;

        for (; *s; s++) {
                int c = (unsigned char) *s;

                if (c == '\\') {
                        s++;
                        if (*s && strchr(letters, *s)) {
                                c = values[strchr(letters, *s) - letters];
                        } else if (*s == 'x') {
                                if (hex_value(s[1]) < 0 || hex_value(s[2]) < 0)
                                        return -EINVAL;
                                c = hex_value(s[1]) * 16 + hex_value(s[2]);
                                s += 2;
                        } else {
                                if (s[0] < '0' || s[0] > '3' || s[1] < '0' || s[1] > '7' || s[2] < '0' || s[2] > '7')
                                        return -EINVAL;
                                c = (s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0');
                                s += 2;
                        }
                }
                if (c == 0) {
                        if (!abstract)
                                return -EINVAL;
                        c = '@';
                }
                if (n + 1 >= size)
                        return -EINVAL;
                buf[n++] = (char) c;
        }
        buf[n] = '\0';
        return 0;
}

/* "80": 1..65535, digits only. */
static int parse_port(const char *s, size_t len, uint16_t *ret) {
        unsigned v = 0;

        if (len == 0 || len > 5)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

/* "0.0.0.0:80", "[::]:80", "[fe80::1]:80%2" (the scope after the port, as
 * systemd's sockaddr_pretty() prints it), "8080". */
static int parse_inet(const char *a, SocketEndpoint *e) {
        char host[INET6_ADDRSTRLEN];
        const char *colon, *end, *pct;

        if (strspn(a, "0123456789") == strlen(a)) {
                e->family = AF_INET6;
                e->any_family = true;
                return parse_port(a, strlen(a), &e->port);
        }
        if (a[0] == '[') {
                end = strchr(a, ']');
                if (!end || end[1] != ':' || (size_t) (end - a - 1) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, a + 1, (size_t) (end - a - 1));
                host[end - a - 1] = '\0';
                if (inet_pton(AF_INET6, host, e->addr) != 1)
                        return -EINVAL;
                e->family = AF_INET6;
                colon = end + 1;
                pct = strchr(colon, '%');
                return parse_port(colon + 1, pct ? (size_t) (pct - colon - 1) : strlen(colon + 1), &e->port);
        }
        colon = strrchr(a, ':');
        if (!colon || (size_t) (colon - a) >= sizeof(host))
                return -EINVAL;
        memcpy(host, a, (size_t) (colon - a));
        host[colon - a] = '\0';
        if (inet_pton(AF_INET, host, e->addr) != 1)
                return -EINVAL;
        e->family = AF_INET;
        return parse_port(colon + 1, strlen(colon + 1), &e->port);
}

int sockets_parse_listen(const char *type, const char *address, SocketEndpoint *ret) {
        SocketEndpoint e = { 0 };
        bool stream;
        int r;

        if (!type || !address)
                return -EINVAL;
        if (strcmp(type, "Stream") == 0)
                stream = true;
        else if (strcmp(type, "SequentialPacket") == 0)
                stream = false;
        else
                return -EOPNOTSUPP; /* Datagram, FIFO, Special, Netlink, MessageQueue, USBFunction */
        if (address[0] == '/' || address[0] == '@') {
                e.kind = LISTENER_UNIX;
                e.sotype = stream ? SOCK_STREAM : SOCK_SEQPACKET;
                r = unescape(address, address[0] == '@', e.path, sizeof(e.path));
                if (r < 0)
                        return r;
                /* sun_path's 108 bytes; an abstract name's NUL is the '@'. */
                if (strlen(e.path) > 108 || (address[0] == '@' && e.path[1] == '\0'))
                        return -EINVAL;
        } else if (strncmp(address, "vsock:", 6) == 0 || strcmp(address, "<unnamed>") == 0)
                return -EOPNOTSUPP;
        else {
                if (!stream)
                        return -EOPNOTSUPP; /* SCTP */
                e.kind = LISTENER_TCP;
                r = parse_inet(address, &e);
                if (r < 0)
                        return r;
        }
        *ret = e;
        return 0;
}

bool sockets_endpoint_matches(const SocketEndpoint *e, const Listener *l) {
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (l->kind != e->kind)
                return false;
        if (l->kind == LISTENER_UNIX)
                return l->sotype == e->sotype && strcmp(l->path, e->path) == 0;
        if (l->port != e->port)
                return false;
        if (e->any_family)
                return listener_is_wildcard(l);
        if (l->family == e->family)
                return memcmp(l->addr, e->addr, e->family == AF_INET ? 4 : 16) == 0;
        return e->family == AF_INET && l->family == AF_INET6 && memcmp(l->addr, mapped, 12) == 0 &&
               memcmp(l->addr + 12, e->addr, 4) == 0;
}

bool sockets_clamped(uint32_t asked, uint32_t got, int64_t somaxconn) {
        return asked < SOCKETS_BACKLOG_UNLIMITED && somaxconn >= 0 && got < asked && (int64_t) got == somaxconn;
}

/* ---- the map ------------------------------------------------------------ */

int sockets_new(SocketMap **ret) {
        SocketMap *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

SocketMap *sockets_free(SocketMap *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_units; i++) {
                free(m->units[i].name);
                free(m->units[i].service);
        }
        free(m->units);
        free(m->entries);
        free(m);
        return NULL;
}

size_t sockets_n_units(const SocketMap *m) {
        return m ? m->n_units : 0;
}

size_t sockets_n_endpoints(const SocketMap *m) {
        return m ? m->n_entries : 0;
}

int sockets_add_unit(SocketMap *m, const char *name, const char *service, uint32_t backlog) {
        SocketUnit u = { .backlog = backlog };

        if (m->n_units >= INT_MAX || GROW(&m->units, &m->cap_units, m->n_units + 1, 16) < 0)
                return -ENOMEM;
        u.name = strdup(name);
        u.service = service ? strdup(service) : NULL;
        if (!u.name || (service && !u.service)) {
                free(u.name);
                free(u.service);
                return -ENOMEM;
        }
        m->units[m->n_units] = u;
        return (int) m->n_units++;
}

/* The order of the index: kind, port, and for UNIX the name. */
static int key_cmp(uint8_t kind, uint16_t port, const char *path, const SocketEndpoint *e) {
        if (kind != e->kind)
                return kind < e->kind ? -1 : 1;
        if (kind == LISTENER_UNIX)
                return strcmp(path, e->path);
        return port < e->port ? -1 : port > e->port;
}

/* The first entry whose key is not below the given one. */
static size_t lower_bound(const SocketMap *m, uint8_t kind, uint16_t port, const char *path) {
        size_t lo = 0, hi = m->n_entries;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (key_cmp(kind, port, path, &m->entries[mid].ep) > 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int sockets_add_listen(SocketMap *m, size_t unit, const char *type, const char *address) {
        SocketEndpoint e;
        size_t at;
        int r;

        if (unit >= m->n_units)
                return -EINVAL;
        r = sockets_parse_listen(type, address, &e);
        if (r < 0)
                return r;
        if (GROW(&m->entries, &m->cap_entries, m->n_entries + 1, 16) < 0)
                return -ENOMEM;
        /* Built rarely and small: kept sorted by insertion. */
        at = lower_bound(m, e.kind, e.port, e.path);
        memmove(&m->entries[at + 1], &m->entries[at], (m->n_entries - at) * sizeof(m->entries[0]));
        m->entries[at] = (MapEntry){ .ep = e, .unit = unit };
        m->n_entries++;
        return 0;
}

SocketUnit *sockets_find(SocketMap *m, const Listener *l) {
        /* PID 1 makes them as uid 0: nobody else's socket can pass for one. */
        if (!m || m->n_entries == 0 || l->netns != 0 || l->uid != 0)
                return NULL;
        for (size_t i = lower_bound(m, l->kind, l->port, l->path); i < m->n_entries; i++) {
                const MapEntry *x = &m->entries[i];

                if (key_cmp(l->kind, l->port, l->path, &x->ep) != 0)
                        break;
                if (sockets_endpoint_matches(&x->ep, l))
                        return &m->units[x->unit];
        }
        return NULL;
}

void sockets_carry_marks(SocketMap *m, const SocketMap *old) {
        if (!m || !old)
                return;
        for (size_t i = 0; i < m->n_units; i++)
                for (size_t k = 0; k < old->n_units; k++)
                        if (old->units[k].said && strcmp(m->units[i].name, old->units[k].name) == 0) {
                                m->units[i].said = true;
                                break;
                        }
}

/* ---- asking systemd ------------------------------------------------------ */

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* Bounds the next call by what is left of the deadline. */
static int arm(sd_bus *bus, uint64_t deadline) {
        uint64_t now = now_usec();

        if (now >= deadline)
                return -ETIMEDOUT;
        return sd_bus_set_method_call_timeout(bus, deadline - now);
}

static int connect_bus(sd_bus **ret, ErrBuf *err) {
        sd_bus *bus = NULL;
        int r, r2;

        r = sd_bus_open_system(&bus);
        if (r >= 0) {
                *ret = bus;
                return 0;
        }
        /* No D-Bus daemon: root may talk to PID 1 directly, as systemctl does. */
        if (geteuid() != 0)
                return errbuf_set(err, r, "cannot connect to the system bus: %s", strerror(-r));
        r2 = sd_bus_new(&bus);
        if (r2 >= 0)
                r2 = sd_bus_set_address(bus, SYSTEMD_PRIVATE);
        if (r2 >= 0)
                r2 = sd_bus_start(bus);
        if (r2 < 0) {
                sd_bus_close_unref(bus);
                return errbuf_set(err, r, "cannot connect to the system bus: %s", strerror(-r));
        }
        *ret = bus;
        return 0;
}

static int call_failed(ErrBuf *err, int r, const sd_bus_error *e, const char *what, const char *unit) {
        return errbuf_set(err, r, "%s%s%s: %s", what, unit ? " of " : "", unit ? unit : "",
                          e && e->message ? e->message : strerror(-r));
}

/* Fatal for the whole reading: the bus is gone or too slow. */
static bool fatal(int r) {
        return r == -ETIMEDOUT || r == -ENOMEM || r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE;
}

/* The unit a socket unit starts: the first .service it triggers. */
static const char *pick_service(char **triggers) {
        for (size_t i = 0; triggers && triggers[i]; i++) {
                size_t len = strlen(triggers[i]);

                if (len > 8 && strcmp(triggers[i] + len - 8, ".service") == 0)
                        return triggers[i];
        }
        return triggers ? triggers[0] : NULL;
}

static void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* One socket unit: Backlog, Triggers, then its Listen entries. Errors
 * other than fatal() ones skip the unit (it may have gone meanwhile). */
static int read_unit(sd_bus *bus, uint64_t deadline, SocketMap *m, const char *name, const char *path, ErrBuf *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **triggers = NULL;
        const char *type, *address;
        uint32_t backlog = UINT32_MAX;
        int r, unit;

        r = arm(bus, deadline);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Socket", "Backlog",
                                                &e, 'u', &backlog);
        if (r < 0)
                goto fail;
        r = arm(bus, deadline);
        if (r >= 0)
                r = sd_bus_get_property_strv(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Unit", "Triggers", &e,
                                             &triggers);
        if (r < 0)
                goto fail;
        unit = sockets_add_unit(m, name, pick_service(triggers), backlog);
        strv_free(triggers);
        if (unit < 0)
                return errbuf_set(err, unit, "out of memory");
        r = arm(bus, deadline);
        if (r >= 0)
                r = sd_bus_get_property(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Socket", "Listen", &e,
                                        &reply, "a(ss)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &type, &address)) > 0)
                if (sockets_add_listen(m, (size_t) unit, type, address) == -ENOMEM)
                        r = -ENOMEM;
        if (r < 0)
                goto fail;
        sd_bus_error_free(&e);
        return 0;
fail:
        if (fatal(r))
                call_failed(err, r, &e, "reading the properties", name);
        sd_bus_error_free(&e);
        return fatal(r) ? r : 0;
}

int sockets_read(uint64_t timeout_usec, SocketMap **ret, ErrBuf *err) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sockets_freep) SocketMap *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t deadline = now_usec() + timeout_usec;
        const char *name, *path, *skip_s, *skip_o;
        uint32_t skip_u;
        int r;

        r = connect_bus(&bus, err);
        if (r < 0)
                return r;
        if (sockets_new(&m) < 0)
                return errbuf_set(err, -ENOMEM, "out of memory");
        r = arm(bus, deadline);
        if (r >= 0)
                r = sd_bus_call_method(bus, SYSTEMD_DEST, "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", &e, &reply, "asas",
                                       1, "active", 1, "*.socket");
        if (r < 0) {
                call_failed(err, r, &e, "listing the socket units", NULL);
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(ssssssouso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssssssouso)", &name, &skip_s, &skip_s, &skip_s, &skip_s,
                                                  &skip_s, &path, &skip_u, &skip_s, &skip_o)) > 0)
                r = read_unit(bus, deadline, m, name, path, err);
        if (r < 0) {
                if (!err || !err->text[0])
                        errbuf_set(err, r, "reading the socket units: %s", strerror(-r));
                return r;
        }
        *ret = m;
        m = NULL;
        return 0;
}
