/* core/table: see table.h */
#include "core/table.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

void hd_table_init(hd_table *t, int ncol)
{
    memset(t, 0, sizeof *t);
    t->ncol = ncol > 0 ? ncol : 1;
}

size_t hd_utf8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int hd_table_add(hd_table *t, const char *const *row)
{
    if (t->nrow == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, (size_t)cap * (size_t)t->ncol * sizeof *c);
        if (!c)
            return hd_error(HD_ENOMEM, "out of memory growing a table");
        t->cells = c;
        t->cap = cap;
    }
    char **r = t->cells + (size_t)t->nrow * (size_t)t->ncol;
    for (int j = 0; j < t->ncol; j++) {
        r[j] = strdup(row[j] ? row[j] : "");
        if (!r[j]) {
            while (j--)
                free(r[j]);
            return hd_error(HD_ENOMEM, "out of memory filling a table");
        }
    }
    t->nrow++;
    return 0;
}

int hd_table_format(const hd_table *t, const char *indent, const char *sep, const char *align, char **out)
{
    *out = NULL;
    size_t *w = calloc((size_t)t->ncol, sizeof *w), total = 1;
    if (!w)
        return hd_error(HD_ENOMEM, "out of memory formatting a table");
    for (int i = 0; i < t->nrow; i++)
        for (int j = 0; j < t->ncol; j++) {
            size_t k = hd_utf8_width(t->cells[(size_t)i * (size_t)t->ncol + (size_t)j]);
            w[j] = k > w[j] ? k : w[j];
        }
    size_t li = strlen(indent), ls = strlen(sep);
    for (int i = 0; i < t->nrow; i++) {
        total += li + 1;
        for (int j = 0; j < t->ncol; j++)
            total += strlen(t->cells[(size_t)i * (size_t)t->ncol + (size_t)j]) + w[j] + ls;
    }
    char *buf = malloc(total), *p = buf;
    if (!buf) {
        free(w);
        return hd_error(HD_ENOMEM, "out of memory formatting a table");
    }
    for (int i = 0; i < t->nrow; i++) {
        char *line = p;
        memcpy(p, indent, li), p += li;
        for (int j = 0; j < t->ncol; j++) {
            const char *c = t->cells[(size_t)i * (size_t)t->ncol + (size_t)j];
            size_t cl = strlen(c), pad = w[j] - hd_utf8_width(c);
            int right = align && align[j] == 'r';
            if (j)
                memcpy(p, sep, ls), p += ls;
            if (right)
                memset(p, ' ', pad), p += pad;
            memcpy(p, c, cl), p += cl;
            if (!right)
                memset(p, ' ', pad), p += pad;
        }
        while (p > line + li && p[-1] == ' ')
            p--;
        *p++ = '\n';
    }
    *p = 0;
    free(w);
    *out = buf;
    return 0;
}

void hd_table_release(hd_table *t)
{
    for (size_t k = 0; k < (size_t)t->nrow * (size_t)t->ncol; k++)
        free(t->cells[k]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
