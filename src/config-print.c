/* SPDX-License-Identifier: MIT */
/* config_print(): the configuration in the file's own syntax. It only
 * writes, so it needs no libconfig. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#include "config.h"

/* Seconds from microseconds, shortest exact decimal; always with a
 * fraction when decimal is true, so that libconfig reads a float. */
static const char *format_seconds(uint64_t usec, bool decimal, char *buf, size_t size) {
        uint64_t frac = usec % 1000000;
        int len = 6;

        if (frac == 0 && !decimal) {
                snprintf(buf, size, "%" PRIu64, usec / 1000000);
                return buf;
        }
        while (len > 1 && frac % 10 == 0) {
                frac /= 10;
                len--;
        }
        snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, usec / 1000000, len, frac);
        return buf;
}

/* A libconfig string literal: quotes and backslashes escaped. */
static void print_string(FILE *f, const char *before, const char *v, const char *after) {
        fprintf(f, "%s\"", before);
        for (const char *s = v; *s; s++) {
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fprintf(f, "\"%s", after);
}

void config_print(const Config *c, FILE *f) {
        char buf[64];

        fprintf(f, "interval = %s;\n", format_seconds(c->interval_usec, true, buf, sizeof(buf)));
        fprintf(f, "warn = %u;\n", c->warn);
        fprintf(f, "clear = %u;\n", c->clear);
        fprintf(f, "repeat = %s;\n", format_seconds(c->repeat_usec, false, buf, sizeof(buf)));
        fprintf(f, "counters = %s;\n", c->counters ? "true" : "false");
        fprintf(f, "unix = %s;\n", c->unix_all ? "true" : "false");
        fprintf(f, "syn_interval = %s;\n", format_seconds(c->syn_interval_usec, false, buf, sizeof(buf)));
        fprintf(f, "stall = %s;\n", format_seconds(c->stall_usec, false, buf, sizeof(buf)));
        if (c->metrics_file)
                print_string(f, "metrics_file = ", c->metrics_file, ";\n");
        fprintf(f, "metrics_interval = %s;\n", format_seconds(c->metrics_interval_usec, false, buf, sizeof(buf)));
        fprintf(f, "metrics_all = %s;\n", c->metrics_all ? "true" : "false");
        fprintf(f, "host = %s;\n", c->host ? "true" : "false");
        if (c->log_level >= 0)
                fprintf(f, "log_level = \"%s\";\n", log_level_to_string(c->log_level));
        if (c->n_namespaces == 0)
                fputs("namespaces = [ ];\n", f);
        else {
                fputs("namespaces = [\n", f);
                for (size_t i = 0; i < c->n_namespaces; i++)
                        print_string(f, "        ", c->namespaces[i], i + 1 < c->n_namespaces ? ",\n" : "\n");
                fputs("];\n", f);
        }
        if (c->n_watch == 0) {
                fputs("watch = ( );\n", f);
                return;
        }
        fputs("watch = (\n", f);
        for (size_t i = 0; i < c->n_watch; i++) {
                const Watch *w = &c->watch[i];

                fputs("        {", f);
                if (!w->any_port && w->ports.lo == w->ports.hi)
                        fprintf(f, " port = %u;", w->ports.lo);
                else if (!w->any_port)
                        fprintf(f, " ports = \"%u-%u\";", w->ports.lo, w->ports.hi);
                if (w->has_address)
                        fprintf(f, " address = \"%s\";", inet_ntop(w->family, w->addr, buf, sizeof(buf)));
                if (w->unix_path)
                        print_string(f, " unix = ", w->unix_path, ";");
                if (w->unit)
                        print_string(f, " unit = ", w->unit, ";");
                if (w->netns)
                        print_string(f, " netns = ", w->netns, ";");
                if (w->name)
                        print_string(f, " name = ", w->name, ";");
                if (w->interval_usec)
                        fprintf(f, " interval = %s;", format_seconds(w->interval_usec, true, buf, sizeof(buf)));
                fprintf(f, " warn = %u; clear = %u; stall = %s; }%s\n", w->warn, w->clear,
                        format_seconds(w->stall_usec, false, buf, sizeof(buf)), i + 1 < c->n_watch ? "," : "");
        }
        fputs(");\n", f);
}
