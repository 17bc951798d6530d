#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HD_ERRMSG_LEN 2048

static void hd_strlcpy_err(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}
static _Thread_local char errbuf[HD_ERRMSG_LEN];

int hd_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

int hd_error_context(int code, const char *fmt, ...)
{
    char ctx[HD_ERRMSG_LEN], old[HD_ERRMSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    const char *tail = old[0] ? old : hd_strerror(code);
    size_t n = strlen(ctx);
    if (n > sizeof errbuf - 3)
        n = sizeof errbuf - 3;
    memcpy(errbuf, ctx, n);
    memcpy(errbuf + n, ": ", 2);
    hd_strlcpy_err(errbuf + n + 2, tail, sizeof errbuf - n - 2);
    return code;
}

const char *hd_errmsg(void)
{
    return errbuf;
}

void hd_errclear(void)
{
    errbuf[0] = '\0';
}

const char *hd_strerror(int code)
{
    switch (code) {
    case HD_OK: return "success";
    case HD_EINVAL: return "invalid argument";
    case HD_ENOMEM: return "out of memory";
    case HD_EIO: return "input/output error";
    case HD_ECONFIG: return "configuration error";
    case HD_EFORMAT: return "wrong or corrupt file format";
    case HD_EEXIST: return "output exists";
    case HD_EINTR: return "interrupted";
    case HD_EMPI: return "MPI error";
    case HD_ENET: return "network error";
    case HD_EPARTIAL: return "partially done";
    case HD_ENOTFOUND: return "not found";
    case HD_EUNSUPPORTED: return "not supported";
    case HD_EDATA: return "invalid data";
    default: return "unknown error";
    }
}

int hd_exit_status(int code)
{
    switch (code) {
    case HD_OK: return 0;
    case HD_EINVAL:
    case HD_ECONFIG:
    case HD_EEXIST: return 2;
    case HD_EPARTIAL: return 3;
    case HD_EINTR: return 130;
    default: return 1;
    }
}
