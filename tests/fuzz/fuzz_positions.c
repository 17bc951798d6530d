/* libFuzzer target: the positions files of `heimdall import --positions`
 * (src/formats/recordings.c), as text (id lat lon [alt] per line) and, when
 * the input's first byte is odd, as a stations YAML file through the config
 * loader; and the JSON-lines fixes `heimdall track` reads (src/track/io.c).
 * Accepted positions are in range with unique ids; accepted fixes are as
 * many as the reader says. */
#include "formats/recordings.h"
#include "fuzz_util.h"
#include "track/io.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fz_file(size && (data[0] & 1) ? "positions.yaml" : "positions.txt", data, size);
    hd_positions ps;
    memset(&ps, 0, sizeof ps);
    if (hd_positions_read(&ps, p) == 0) {
        for (int i = 0; i < ps.n; i++) {
            if (!(fabs(ps.p[i].lat) <= 90) || !(fabs(ps.p[i].lon) <= 180))
                abort();
            for (int j = 0; j < i; j++)
                if (strcmp(ps.p[i].id, ps.p[j].id) == 0)
                    abort();
        }
        hd_positions_release(&ps);
    }
    hd_track_input in;
    memset(&in, 0, sizeof in);
    if (hd_track_input_read(&in, fz_file("fixes.jsonl", data, size), NULL) == 0) {
        if (in.n < 0 || (in.n > 0 && !in.fix))
            abort();
        hd_track_input_release(&in);
    }
    return 0;
}
