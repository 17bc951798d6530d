#include "core/log.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>

static int log_rank = 0, log_size = 1;
static hd_log_level log_level = HD_LOG_INFO;
static char log_prefix[64] = "heimdall";

void hd_log_set_rank(int rank, int size) { log_rank = rank; log_size = size; }
void hd_log_set_level(hd_log_level level) { log_level = level; }
hd_log_level hd_log_get_level(void) { return log_level; }
void hd_log_set_prefix(const char *prefix) { hd_strlcpy(log_prefix, prefix, sizeof log_prefix); }
int hd_log_rank(void) { return log_rank; }
int hd_log_size(void) { return log_size; }

void hd_log(hd_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    /* info and debug from rank 0 only; warnings and errors from all */
    if (level >= HD_LOG_INFO && log_rank != 0)
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *kind = level == HD_LOG_ERROR ? "error: " : level == HD_LOG_WARN ? "warning: " : "";
    if (log_size > 1 && level < HD_LOG_INFO)
        fprintf(stderr, "%s: [rank %d] %s%s\n", log_prefix, log_rank, kind, msg);
    else
        fprintf(stderr, "%s: %s%s\n", log_prefix, kind, msg);
}
