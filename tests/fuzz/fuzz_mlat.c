/* libFuzzer target: the MLAT importer (src/formats/mlat.c) over arbitrary
 * files: the input is the sensors file, a NUL, a messages file, a NUL, a
 * clock offsets file. What is read is assembled as `heimdall import mlat`
 * does (the offsets applied when they were read); the table must hold
 * together: receivers within HD_MAX_STATIONS, a pair masked in unless both
 * arrivals are heard. */
#include "features/features.h"
#include "formats/mlat.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    const uint8_t *ps, *pm, *po;
    size_t ns = fz_part(data, size, &off, &ps), nm = fz_part(data, size, &off, &pm), no = fz_part(data, size, &off, &po);
    const char *fs = fz_file("sensors.csv", ps, ns), *fm = fz_file("messages.csv", pm, nm),
               *fo = fz_file("offsets.csv", po, no);
    int *ser = NULL, n_off = 0;
    double *offs = NULL;
    if (hd_mlat_read_offsets(fo, &ser, &offs, &n_off) != 0) {
        ser = NULL;
        offs = NULL;
        n_off = 0;
    }
    hd_mlat m;
    hd_mlat_init(&m);
    if (hd_mlat_read_sensors(&m, fs) == 0 && hd_mlat_read_messages(&m, fm) == 0) {
        for (int64_t k = 0; k < m.n_msg; k++)
            for (int i = 0; i < m.msg[k].n; i++)
                if (m.msg[k].sensor[i] < 0 || m.msg[k].sensor[i] >= m.n_sensors)
                    abort();
        hd_mlat_opts o = {30.0, 1000.0, 50.0, 0.0, ser, offs, n_off};
        hd_mlat_table t;
        memset(&t, 0, sizeof t);
        if (hd_mlat_assemble(&m, &o, &t) == 0) {
            if (t.R < 0 || t.R > HD_MAX_STATIONS || t.E != m.n_msg || t.P != t.R * (t.R - 1) / 2)
                abort();
            for (int64_t e = 0; e < t.E; e++)
                for (int p = 0; p < t.P; p++) {
                    int i, j;
                    hd_features_pair(t.R, p, &i, &j);
                    if (t.tmask[e * t.P + p] && !(t.heard[e * t.R + i] && t.heard[e * t.R + j]))
                        abort();
                }
            hd_mlat_table_release(&t);
        }
    }
    hd_mlat_release(&m);
    free(ser);
    free(offs);
    return 0;
}
