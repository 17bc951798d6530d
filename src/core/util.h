/* Small helpers shared across domains: strings, hashing, time. */
#ifndef HD_CORE_UTIL_H
#define HD_CORE_UTIL_H
#include <stddef.h>
#include <stdint.h>

#define HD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Copy with truncation; always NUL-terminates; returns strlen(src). */
size_t hd_strlcpy(char *dst, const char *src, size_t size);

/* Levenshtein distance (case-sensitive). */
int hd_edit_distance(const char *a, const char *b);
/* Index of the candidate closest to word, or -1 if none is within
 * max(2, strlen(word)/3) edits. */
int hd_closest(const char *word, const char *const *cands, int n);

/* SHA-256 (OpenSSL EVP), as 64 lower-case hex digits plus NUL. */
int hd_sha256_hex(const void *data, size_t len, char hex[65]);
int hd_sha256_file(const char *path, char hex[65]);
/* Begin hashing the file at path in a thread, beside the work that reads
 * it (one file per process): hd_sha256_file of the same path then waits
 * for it and takes its hash when the file has not changed since (device,
 * inode, size and modification time), else hashes it again. Nothing
 * happens when it cannot start (the hash is then made when asked). */
void hd_sha256_file_start(const char *path);

/* Time: nanoseconds since the Unix epoch, UTC. */
int hd_time_parse_iso8601(const char *s, int64_t *ns);   /* "2026-06-01T08:00:00Z", fraction optional */
void hd_time_format_iso8601(int64_t ns, char buf[40]);    /* "2026-06-01T08:00:00.000000000Z" */
int64_t hd_time_now_ns(void);

/* Read a whole file into a NUL-terminated buffer. */
int hd_read_file(const char *path, char **data, size_t *len);

#endif
