/* libFuzzer target: the KiwiSDR TDoA tool's gnss_pos/<station>.txt parser
 * (src/formats/kiwiwav.c): the input is the station's name, a NUL, the
 * file's text. A position it accepts is a position (finite, in range) and
 * survives the writer: formatted and parsed back, the same numbers to the
 * format's precision. */
#include "formats/kiwiwav.h"
#include "fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    const uint8_t *pst, *ptx;
    size_t nst = fz_part(data, size, &off, &pst), ntx = fz_part(data, size, &off, &ptx);
    char station[HD_KIWI_NAME_LEN];
    size_t l = nst < sizeof station - 1 ? nst : sizeof station - 1;
    memcpy(station, pst, l);
    station[l] = 0;
    char *text = malloc(ntx + 1);
    if (!text)
        return 0;
    memcpy(text, ptx, ntx);
    text[ntx] = 0;
    double lat = NAN, lon = NAN;
    if (hd_kiwi_gnss_pos_parse(text, station, &lat, &lon) == 0) {
        if (!isfinite(lat) || !isfinite(lon) || fabs(lat) > 90 || fabs(lon) > 180)
            abort();
        char line[512];
        double lat2 = NAN, lon2 = NAN;
        hd_kiwi_gnss_pos_format(line, sizeof line, station, lat, lon, "http://host.example:8073");
        if (hd_kiwi_gnss_pos_parse(line, station, &lat2, &lon2) != 0 || fabs(lat2 - lat) > 1e-6 ||
            fabs(lon2 - lon) > 1e-6)
            abort();
    }
    free(text);
    return 0;
}
