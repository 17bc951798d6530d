/* Rank-aware logging to stderr. By default only rank 0 prints info and
 * progress; warnings and errors print from every rank prefixed "[rank N]"
 * when the world has more than one rank. */
#ifndef HD_CORE_LOG_H
#define HD_CORE_LOG_H

typedef enum { HD_LOG_ERROR = 0, HD_LOG_WARN = 1, HD_LOG_INFO = 2, HD_LOG_DEBUG = 3 } hd_log_level;

void hd_log_set_rank(int rank, int size);
void hd_log_set_level(hd_log_level level);   /* default INFO; --quiet sets WARN */
void hd_log_set_prefix(const char *prefix);  /* e.g. "heimdall collect" */
hd_log_level hd_log_get_level(void);
int hd_log_rank(void);
int hd_log_size(void);

void hd_log(hd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define hd_info(...) hd_log(HD_LOG_INFO, __VA_ARGS__)
#define hd_warn(...) hd_log(HD_LOG_WARN, __VA_ARGS__)
#define hd_debug(...) hd_log(HD_LOG_DEBUG, __VA_ARGS__)

#endif
