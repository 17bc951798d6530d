/* libFuzzer target: the SigMF metadata reader over arbitrary bytes, and the
 * writer on what it accepted (make fuzz).
 * fuzz-sources: src/formats/sigmf.c src/core/error.c src/core/alloc.c src/core/util.c */
#include "formats/sigmf.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hd_sigmf_meta m, m2;
    if (hd_sigmf_meta_parse(&m, (const char *)data, size) != 0)
        return 0;
    /* what was accepted formats and parses back to the same fields */
    char *json = NULL;
    if (hd_sigmf_meta_format(&m, &json) != 0)
        abort();
    if (hd_sigmf_meta_parse(&m2, json, strlen(json)) != 0 || m2.sample_rate_hz != m.sample_rate_hz ||
        m2.frequency_hz != m.frequency_hz || m2.datetime_ns != m.datetime_ns || m2.gps_ok != m.gps_ok)
        abort();
    free(json);
    return 0;
}
