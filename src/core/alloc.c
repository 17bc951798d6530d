#include "core/alloc.h"
#include "core/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *hd_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        hd_error(HD_ENOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *hd_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        hd_error(HD_ENOMEM, "allocation of %zu × %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        hd_error(HD_ENOMEM, "out of memory allocating %zu × %zu bytes", n, size);
    return p;
}

void *hd_reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        hd_error(HD_ENOMEM, "allocation of %zu × %zu bytes overflows", n, size);
        return NULL;
    }
    size_t bytes = n * size;
    void *q = realloc(p, bytes > 0 ? bytes : 1);
    if (!q)
        hd_error(HD_ENOMEM, "out of memory allocating %zu × %zu bytes", n, size);
    return q;
}

char *hd_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hd_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void *hd_aligned_alloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        hd_error(HD_ENOMEM, "allocation of %zu × %zu bytes overflows", n, size);
        return NULL;
    }
    size_t bytes = n * size;
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        hd_error(HD_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}
