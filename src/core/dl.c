/* Libraries opened on first use: see dl.h. */
#include "core/dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* AddressSanitizer refuses RTLD_DEEPBIND (GCC says so by
 * __SANITIZE_ADDRESS__, clang 14 by __has_feature) */
#if defined(__SANITIZE_ADDRESS__)
#define HD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HD_ASAN 1
#endif
#endif

const char *hd_dl_library(const char *env, const char *soname)
{
    const char *v = env ? getenv(env) : NULL;
    return v && *v ? v : soname;
}

void *hd_dl_load(const char *what, const char *lib, const char *install_hint, const hd_dl_sym *syms,
                 size_t n, int deep)
{
    const char *why = NULL, *missing = NULL;
    int flags = RTLD_NOW | RTLD_LOCAL;
#if !defined(HD_ASAN)
    if (deep)
        flags |= RTLD_DEEPBIND;
#else
    (void)deep;
#endif
    void *h = dlopen(lib, flags);
    if (!h)
        why = dlerror();
    for (size_t i = 0; h && !why && i < n; i++) {
        dlerror();
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot && !syms[i].optional) {
            why = dlerror();
            missing = syms[i].name;
        }
    }
    if (why || missing) {
        if (missing)
            fprintf(stderr, "heimdall: %s (%s) cannot be loaded: no symbol %s%s%s; %s\n", what, lib, missing,
                    why ? ": " : "", why ? why : "", install_hint);
        else
            fprintf(stderr, "heimdall: %s (%s) cannot be loaded: %s; %s\n", what, lib, why, install_hint);
        fflush(stderr);
        _exit(127);
    }
    return h;
}
