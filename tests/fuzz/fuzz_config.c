/* libFuzzer target: the YAML config loader (src/config/config.c) over
 * arbitrary text, then one `--set` override: the input is the YAML, a NUL,
 * the override. A config it accepts resolves to a text that loads again
 * (what every output records as config_yaml and `heimdall verify` reloads).
 * Inputs naming device files are skipped (a stations file of /dev/zero
 * reads forever by design). */
#include "config/config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    const uint8_t *py, *ps;
    size_t ny = fz_part(data, size, &off, &py), ns = fz_part(data, size, &off, &ps);
    char *yaml = malloc(ny + 1), *set = malloc(ns + 1);
    if (!yaml || !set)
        abort();
    memcpy(yaml, py, ny);
    yaml[ny] = 0;
    memcpy(set, ps, ns);
    set[ns] = 0;
    if (!strstr(yaml, "/dev") && !strstr(set, "/dev") && !strstr(yaml, "/proc") && !strstr(set, "/proc")) {
        hd_config *c = calloc(1, sizeof *c), *c2 = calloc(1, sizeof *c2);
        const char *sets[1] = {set};
        if (!c || !c2)
            abort();
        if (hd_config_load_string(c, yaml, "fuzz.yaml", sets, ns ? 1 : 0) == 0) {
            if (!c->yaml || hd_config_load_string(c2, c->yaml, "resolved.yaml", NULL, 0) != 0)
                abort();
            hd_config_release(c2);
        }
        hd_config_release(c);
        free(c);
        free(c2);
    }
    free(yaml);
    free(set);
    return 0;
}
