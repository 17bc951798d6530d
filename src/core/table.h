/* core/table: a text table whose column widths come from its data (the
 * width of a cell counts UTF-8 characters, not bytes, so "6 × 7" is five
 * wide). Cells are copied; the table formats to a string the command prints. */
#ifndef HD_CORE_TABLE_H
#define HD_CORE_TABLE_H

#include <stddef.h>

typedef struct {
    int ncol, nrow, cap;
    char **cells; /* nrow * ncol */
} hd_table;

void hd_table_init(hd_table *t, int ncol);
/* one row of ncol cells (NULL as "") */
int hd_table_add(hd_table *t, const char *const *row);
/* every row: indent, the cells left-aligned ('l') or right-aligned ('r')
 * per align[col] (NULL: all left), sep between columns, no trailing blanks;
 * *out is malloc'd */
int hd_table_format(const hd_table *t, const char *indent, const char *sep, const char *align, char **out);
void hd_table_release(hd_table *t);
/* characters (UTF-8 code points) of s */
size_t hd_utf8_width(const char *s);

#endif
