/* core/table: widths from the data, UTF-8 characters counted, alignment. */
#include "core/table.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
    plan_no_plan();
    is_int((long long)hd_utf8_width("6 × 7"), 5, "'6 × 7' is five characters wide");
    is_int((long long)hd_utf8_width(""), 0, "empty");
    hd_table t;
    hd_table_init(&t, 3);
    const char *r1[3] = {"id", "6 × 7", "1.5"}, *r2[3] = {"a-very-long-identifier", "6", "-120.25"},
               *r3[3] = {"b", NULL, ""};
    ok(hd_table_add(&t, r1) == 0 && hd_table_add(&t, r2) == 0 && hd_table_add(&t, r3) == 0, "three rows");
    char *s = NULL;
    ok(hd_table_format(&t, "  ", " | ", "llr", &s) == 0, "format");
    is_str(s,
           "  id                     | 6 × 7 |     1.5\n"
           "  a-very-long-identifier | 6     | -120.25\n"
           "  b                      |       |\n",
           "columns from the widest cell, right alignment, no trailing blanks");
    free(s);
    hd_table_release(&t);
    hd_table_init(&t, 2);
    ok(hd_table_format(&t, "", " ", NULL, &s) == 0 && strcmp(s, "") == 0, "an empty table is an empty string");
    free(s);
    hd_table_release(&t);
    done_testing();
    return exit_status();
}
