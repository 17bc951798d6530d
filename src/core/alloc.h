/* Checked allocation: on failure (or size overflow) these set an HD_ENOMEM
 * message and return NULL; callers do `rc = HD_ENOMEM; goto fail;`. */
#ifndef HD_CORE_ALLOC_H
#define HD_CORE_ALLOC_H
#include <stddef.h>

void *hd_malloc(size_t size);
void *hd_calloc(size_t n, size_t size);           /* zeroed, n*size overflow-checked */
void *hd_reallocarray(void *p, size_t n, size_t size);
char *hd_strdup(const char *s);
/* aligned to 64 bytes (for SIMD/FFTW); free with free() */
void *hd_aligned_alloc(size_t n, size_t size);

#endif
