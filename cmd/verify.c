/* heimdall verify: the provenance chain of heimdall files — each output
 * names the sha256 of its inputs; are they still the files it was made
 * from, and (with -c) was it made with the config as it stands? */
#include "cli.h"
#include "config/config.h"
#include "core/error.h"
#include "core/util.h"
#include "h5/h5.h"

#include <dirent.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hd_cmd_verify_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall verify [-c exp.yaml] [--set KEY=VALUE]... PATH...\n"
            "\n"
            "Check the provenance chain of heimdall files. PATH is a file, or a folder whose\n"
            "*.h5 files are all checked. For each file:\n"
            "  - every input it names (/provenance/inputs, or the root attribute `inputs` of older files: path and sha256 when it was\n"
            "    made) is hashed again: an input changed since it was used, or missing, is\n"
            "    reported (the recorded path is tried as it is, then relative to the file's\n"
            "    folder and each folder above it, then its name beside the file);\n"
            "  - with -c, the config sections its stage reads (captures: seed, stations,\n"
            "    collect; features: featurize; model: train; evaluation: localize, evaluate)\n"
            "    are compared with exp.yaml's (after --set): an output whose config no longer\n"
            "    matches its stamp is reported as stale;\n"
            "  - every chunk of every dataset is read and checked against its Fletcher-32\n"
            "    checksum (contiguous datasets of older files, which have none, are read whole): a\n"
            "    damaged dataset is reported by name (CORRUPT).\n"
            "Prints one line per check; exits 0 when everything holds, 1 when anything is\n"
            "changed, missing or stale.\n"
            "\n");
    hd_cli_common_usage(out);
}

typedef struct {
    int files, problems;
} tally;

/* every chunk read against its checksum, every other dataset read whole */
static int verify_data(hid_t f, const char *path, tally *t)
{
    hd_h5_integrity r;
    int rc = hd_h5_check_integrity(f, &r);
    for (int i = 0; rc == 0 && i < r.n_problems && i < HD_H5_MAX_PROBLEMS; i++)
        printf("CORRUPT %s: %s\n", path, r.problems[i]);
    if (rc == 0 && r.n_problems == 0)
        printf("ok      %s: data intact: %lld chunks of %d chunked datasets read (%d with checksums); %d "
               "contiguous (no checksum) read whole, %d empty\n", path, r.chunks, r.chunked, r.checksummed,
               r.contiguous, r.unread);
    t->problems += r.n_problems;
    return rc;
}

static int verify_file(const char *path, const hd_config *cfg, tally *t)
{
    hid_t f;
    char format[32];
    int version, rc = hd_h5_open_any(&f, path, format, &version);
    if (rc < 0) {
        printf("SKIP    %s: %s\n", path, hd_errmsg());
        return 0;
    }
    t->files++;
    char **inputs = NULL;
    int n = 0;
    if ((rc = verify_data(f, path, t)) < 0 || (rc = hd_h5_read_inputs(f, &inputs, &n)) < 0) {
        H5Fclose(f);
        return rc;
    }
    if (n == 0)
        printf("ok      %s (%s): no inputs (a first stage)\n", path, format);
    for (int i = 0; i < n; i++) {
        char *sp = strrchr(inputs[i], ' ');
        if (!sp || strlen(sp + 1) != 64) {
            printf("BROKEN  %s: unreadable input record '%s'\n", path, inputs[i]);
            t->problems++;
            continue;
        }
        *sp = 0;
        const char *want = sp + 1;
        char where[2100], hex[65];
        if (!hd_h5_find_input(path, inputs[i], want, where, sizeof where, hex)) {
            printf("MISSING %s: input %s (sha256 %.12s…) is gone\n", path, inputs[i], want);
            t->problems++;
        } else if (strcmp(hex, want) != 0) {
            printf("CHANGED %s: input %s changed since it was used (sha256 %.12s… then, %.12s… now)\n", path, where,
                   want, hex);
            t->problems++;
        } else {
            printf("ok      %s: input %s unchanged (sha256 %.12s…)\n", path, where, hex);
        }
    }
    for (int i = 0; i < n; i++)
        free(inputs[i]);
    free(inputs);
    if (cfg) {
        const char *keys[4];
        int nk = hd_config_stage_sections(format, keys);
        char *yaml = NULL, then[65], now[65];
        if (nk > 0 && (rc = hd_h5_read_attr_str(f, "config_yaml", &yaml)) == 0 &&
            (rc = hd_config_sections_sha256(yaml, keys, nk, then)) == 0 &&
            (rc = hd_config_sections_sha256(cfg->yaml, keys, nk, now)) == 0) {
            char names[64] = "";
            for (int k = 0; k < nk; k++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", keys[k]);
            /* another campaign of the same experiment (make pipeline's test
             * campaign): the same settings with another seed */
            const char *rest[4];
            int nr = 0;
            for (int k = 0; k < nk; k++)
                if (strcmp(keys[k], "seed") != 0)
                    rest[nr++] = keys[k];
            char then2[65] = "", now2[65] = "";
            const char *sd = strstr(yaml, "\nseed: ");
            if (strcmp(then, now) != 0 && nr < nk && sd && hd_config_sections_sha256(yaml, rest, nr, then2) == 0 &&
                hd_config_sections_sha256(cfg->yaml, rest, nr, now2) == 0 && strcmp(then2, now2) == 0) {
                char others[64] = "";
                for (int k = 0; k < nr; k++)
                    snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s", k ? ", " : "", rest[k]);
                printf("ok      %s: %s as in %s, with seed %lld (another campaign of this experiment)\n", path,
                       others, cfg->path, strtoll(sd + 7, NULL, 10));
            } else if (strcmp(then, now) != 0) {
                printf("STALE   %s: made with other %s settings than %s has now\n", path, names, cfg->path);
                t->problems++;
            } else {
                printf("ok      %s: %s as in %s\n", path, names, cfg->path);
            }
        }
        free(yaml);
        if (rc < 0) {
            H5Fclose(f);
            return rc;
        }
    }
    H5Fclose(f);
    return 0;
}

static int is_h5(const struct dirent *e)
{
    size_t l = strlen(e->d_name);
    return e->d_name[0] != '.' && l >= 4 && strcmp(e->d_name + l - 3, ".h5") == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int verify_path(const char *path, const hd_config *cfg, tally *t)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return hd_error(HD_EIO, "%s does not exist", path);
    if (!S_ISDIR(st.st_mode))
        return verify_file(path, cfg, t);
    struct dirent **list = NULL;
    int n = scandir(path, &list, is_h5, by_name), rc = 0;
    if (n < 0)
        return hd_error(HD_EIO, "cannot read folder %s", path);
    for (int i = 0; i < n; i++) {
        char file[4200];
        snprintf(file, sizeof file, "%s/%s", path, list[i]->d_name);
        if (rc == 0)
            rc = verify_file(file, cfg, t);
        free(list[i]);
    }
    free(list);
    return rc;
}

int hd_cmd_verify(int argc, char **argv)
{
    hd_cli cli;
    hd_config cfg = {0};
    int st = hd_cli_parse(&cli, hd_cmd_find("verify"), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    if (cli.n_inputs < 1 || cli.output) {
        fprintf(stderr, "heimdall verify: error: %s\nTry 'heimdall verify --help'.\n",
                cli.output ? "verify writes no output (-o)" : "a file or folder to verify is required");
        return 2;
    }
    int rc = 0, with_cfg = cli.config != NULL || cli.n_sets > 0;
    if (with_cfg && (rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets)) < 0)
        return hd_cli_fail(&cli, rc);
    tally t = {0};
    for (int i = 0; i < cli.n_inputs && rc == 0; i++)
        rc = verify_path(cli.inputs[i], with_cfg ? &cfg : NULL, &t);
    hd_config_release(&cfg);
    if (rc < 0)
        return hd_cli_fail(&cli, rc);
    printf("verify: %d file%s, %d problem%s\n", t.files, t.files == 1 ? "" : "s", t.problems, t.problems == 1 ? "" : "s");
    return t.problems ? 1 : 0;
}

void hd_cmd_stamp_usage(FILE *out)
{
    fprintf(out,
            "usage: heimdall stamp [-c exp.yaml] [--set KEY=VALUE]... -o STAMP FORMAT\n"
            "\n"
            "Write the sha256 of the config sections read by the stage that writes FORMAT\n"
            "(captures, features, model, evaluation) into STAMP, only when it differs from\n"
            "what STAMP holds: make rules that depend on the stamp rerun a stage exactly\n"
            "when its own settings changed (see `make pipeline`).\n"
            "\n");
    hd_cli_common_usage(out);
}

int hd_cmd_stamp(int argc, char **argv)
{
    hd_cli cli;
    hd_config cfg = {0};
    int st = hd_cli_parse(&cli, hd_cmd_find("stamp"), argc, argv);
    if (st)
        return st == 1 ? 0 : 2;
    const char *keys[4];
    int nk = cli.n_inputs == 1 ? hd_config_stage_sections(cli.inputs[0], keys) : 0;
    if (!cli.output || nk == 0) {
        fprintf(stderr, "heimdall stamp: error: %s\nTry 'heimdall stamp --help'.\n",
                !cli.output ? "a stamp file is required (-o STAMP)"
                            : "one FORMAT is required: captures, features, model or evaluation");
        return 2;
    }
    int rc = hd_config_load(&cfg, cli.config, cli.sets, cli.n_sets);
    char hex[65], line[256], *old = NULL;
    size_t len = 0;
    if (rc == 0 && (rc = hd_config_sections_sha256(cfg.yaml, keys, nk, hex)) == 0) {
        snprintf(line, sizeof line, "%s %s\n", hex, cli.inputs[0]);
        if (hd_read_file(cli.output, &old, &len) == 0 && strcmp(old, line) == 0) {
            free(old);
            hd_config_release(&cfg);
            return 0; /* unchanged: keep the file and its time */
        }
        free(old);
        FILE *f = fopen(cli.output, "w");
        if (!f || fputs(line, f) < 0 || fclose(f) != 0)
            rc = hd_error(HD_EIO, "cannot write %s", cli.output);
    }
    hd_config_release(&cfg);
    return rc < 0 ? hd_cli_fail(&cli, rc) : 0;
}
