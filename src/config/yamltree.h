/* Internal to src/config: a YAML document as a tree of nodes with their
 * source positions (1-based line and column). */
#ifndef HD_CONFIG_YAMLTREE_H
#define HD_CONFIG_YAMLTREE_H

enum { HD_YSCALAR, HD_YSEQ, HD_YMAP };

typedef struct hd_ynode {
    int kind;
    char *value;              /* scalars */
    int quoted;               /* scalar written in quotes (a string, never null) */
    const char *src;          /* file name, or "--set a.b=c" (not owned) */
    int line, col;            /* 0 for --set values */
    struct hd_ynode **items;  /* sequence items, or mapping values */
    struct hd_ynode **keys;   /* mapping keys (scalars) */
    int n, cap;
} hd_ynode;

/* Parse one YAML document; an empty text is an empty mapping. */
int hd_yaml_parse(const char *text, const char *src, hd_ynode **root);
void hd_ynode_free(hd_ynode *n);
hd_ynode *hd_ynode_get(const hd_ynode *map, const char *key);
int hd_ynode_append(hd_ynode *parent, hd_ynode *key, hd_ynode *item);

#endif
