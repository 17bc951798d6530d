/* Libraries opened when first needed (dlopen), not linked.
 *
 * A linked library costs every command its loading and relocation, and
 * its symbols join the scope every other lookup searches: OpenBLAS alone
 * was half of the start-up's symbol lookups (14,035 of 27,466), with
 * libxml2, ICU and libstdc++ another sixth, while only train, the network
 * methods and track's KML use them. Each such library is opened on first
 * use by its SONAME at build time, or by the file an environment variable
 * names. */
#ifndef HD_CORE_DL_H
#define HD_CORE_DL_H

#include <stddef.h>

/* one symbol to resolve into *slot (a function pointer's address);
 * optional ones are left NULL when absent */
typedef struct {
    const char *name;
    void **slot;
    int optional;
} hd_dl_sym;

/* The library's file: $env when set and not empty, else soname. */
const char *hd_dl_library(const char *env, const char *soname);

/* Opens lib (RTLD_NOW | RTLD_LOCAL, and RTLD_DEEPBIND with deep: the
 * library's own symbols found in its own scope first, not after every
 * library of the program's; left out under AddressSanitizer, which refuses
 * it) and resolves syms. What cannot be
 * loaded ends the program as a missing linked library would, with the
 * dynamic loader's status (127) and a message naming what (e.g. "PROJ's
 * geodesic routines"), the library, the reason and how to install it
 * (install_hint). Outputs are written to temporaries, so no final file is
 * left half done. Returns the handle. */
void *hd_dl_load(const char *what, const char *lib, const char *install_hint, const hd_dl_sym *syms,
                 size_t n, int deep);

#endif
