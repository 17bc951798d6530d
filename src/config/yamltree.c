/* A small YAML document tree (libyaml events) that keeps every node's
 * position, so config errors can name file:line:column. */
#include "config/yamltree.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static hd_ynode *node_new(int kind, const char *src, int line, int col)
{
    hd_ynode *n = hd_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->src = src;
    n->line = line;
    n->col = col;
    return n;
}

void hd_ynode_free(hd_ynode *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++) {
        hd_ynode_free(n->items[i]);
        if (n->keys)
            hd_ynode_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->value);
    free(n);
}

int hd_ynode_append(hd_ynode *parent, hd_ynode *key, hd_ynode *item)
{
    if (parent->n == parent->cap) {
        int cap = parent->cap ? parent->cap * 2 : 8;
        hd_ynode **items = hd_reallocarray(parent->items, (size_t)cap, sizeof *items);
        if (!items)
            return HD_ENOMEM;
        parent->items = items;
        if (parent->kind == HD_YMAP) {
            hd_ynode **keys = hd_reallocarray(parent->keys, (size_t)cap, sizeof *keys);
            if (!keys)
                return HD_ENOMEM;
            parent->keys = keys;
        }
        parent->cap = cap;
    }
    parent->items[parent->n] = item;
    if (parent->kind == HD_YMAP)
        parent->keys[parent->n] = key;
    parent->n++;
    return 0;
}

hd_ynode *hd_ynode_get(const hd_ynode *map, const char *key)
{
    if (!map || map->kind != HD_YMAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

typedef struct {
    yaml_parser_t parser;
    const char *src;
} ctx;

static int yerr(const char *src, int line, int col, const char *what)
{
    return hd_error(HD_ECONFIG, "%s:%d:%d: %s", src, line, col, what);
}

static int next_event(ctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        const yaml_mark_t *m = &c->parser.problem_mark;
        char what[512];
        snprintf(what, sizeof what, "malformed YAML: %s%s%s", c->parser.problem ? c->parser.problem : "syntax error",
                 c->parser.context ? " " : "", c->parser.context ? c->parser.context : "");
        return yerr(c->src, (int)m->line + 1, (int)m->column + 1, what);
    }
    return 0;
}

static int parse_node(ctx *c, yaml_event_t *ev, hd_ynode **out);

static int parse_collection(ctx *c, hd_ynode *n, yaml_event_type_t end)
{
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(c, &ev);
        if (rc < 0)
            return rc;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        hd_ynode *key = NULL, *item = NULL;
        if (n->kind == HD_YMAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                rc = yerr(c->src, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                          "a mapping key must be a plain name");
                yaml_event_delete(&ev);
                return rc;
            }
            if ((rc = parse_node(c, &ev, &key)) < 0)
                return rc;
            if (hd_ynode_get(n, key->value)) {
                char what[300];
                snprintf(what, sizeof what, "duplicate key '%s'", key->value);
                rc = yerr(c->src, key->line, key->col, what);
                hd_ynode_free(key);
                return rc;
            }
            if ((rc = next_event(c, &ev)) < 0) {
                hd_ynode_free(key);
                return rc;
            }
        }
        if ((rc = parse_node(c, &ev, &item)) < 0 || (rc = hd_ynode_append(n, key, item)) < 0) {
            hd_ynode_free(key);
            hd_ynode_free(item);
            return rc;
        }
    }
}

/* Consumes ev (and the events of its children). */
static int parse_node(ctx *c, yaml_event_t *ev, hd_ynode **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    int rc = 0;
    hd_ynode *n = NULL;
    *out = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_new(HD_YSCALAR, c->src, line, col);
        if (!n || !(n->value = hd_strdup((const char *)ev->data.scalar.value))) {
            rc = HD_ENOMEM;
            break;
        }
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int seq = ev->type == YAML_SEQUENCE_START_EVENT;
        n = node_new(seq ? HD_YSEQ : HD_YMAP, c->src, line, col);
        if (!n) {
            rc = HD_ENOMEM;
            break;
        }
        yaml_event_delete(ev);
        rc = parse_collection(c, n, seq ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT);
        if (rc < 0) {
            hd_ynode_free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    case YAML_ALIAS_EVENT:
        rc = yerr(c->src, line, col, "YAML aliases (*name) are not supported in configs");
        break;
    default:
        rc = yerr(c->src, line, col, "unexpected YAML element");
        break;
    }
    yaml_event_delete(ev);
    if (rc < 0) {
        hd_ynode_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int hd_yaml_parse(const char *text, const char *src, hd_ynode **root)
{
    ctx c;
    int rc = 0;
    yaml_event_t ev;
    *root = NULL;
    c.src = src;
    if (!yaml_parser_initialize(&c.parser))
        return hd_error(HD_ENOMEM, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, strlen(text));
    /* stream start, document start (or stream end for an empty text) */
    if ((rc = next_event(&c, &ev)) < 0)
        goto done;
    yaml_event_delete(&ev);
    if ((rc = next_event(&c, &ev)) < 0)
        goto done;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        *root = node_new(HD_YMAP, src, 1, 1); /* empty document: all defaults */
        rc = *root ? 0 : HD_ENOMEM;
        goto done;
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(&c, &ev)) < 0)
        goto done;
    if ((rc = parse_node(&c, &ev, root)) < 0)
        goto done;
    /* an empty document ("---" alone) is a null scalar: treat as empty */
    if ((*root)->kind == HD_YSCALAR && (*root)->value[0] == '\0' && !(*root)->quoted) {
        hd_ynode_free(*root);
        *root = node_new(HD_YMAP, src, 1, 1);
        if (!*root) {
            rc = HD_ENOMEM;
            goto done;
        }
    }
    if ((rc = next_event(&c, &ev)) < 0) /* document end */
        goto done;
    yaml_event_delete(&ev);
    if ((rc = next_event(&c, &ev)) < 0)
        goto done;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = yerr(src, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                  "more than one YAML document in a config");
    yaml_event_delete(&ev);
done:
    yaml_parser_delete(&c.parser);
    if (rc < 0) {
        hd_ynode_free(*root);
        *root = NULL;
    }
    return rc;
}
