#include "locate_common.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/calibrate.h"
#include "eval/knn.h"
#include "core/util.h"
#include "h5/h5.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hd_locate_input_open(hd_locate_input *in, const hd_cli *cli, hd_config *cfg)
{
    memset(in, 0, sizeof *in);
    in->rd.meta.file = H5I_INVALID_HID;
    /* --method overrides localize.method for this run (the output records
     * the method used in its own attribute; its config stays the file's) */
    in->method = cfg->localize.method;
    if (cli->method && (in->method = hd_method_parse(cli->method)) < 0)
        return hd_error(HD_ECONFIG, "--method %s: expected tdoa, rss, hybrid, nn or knn", cli->method);
    if (in->method == HD_LOC_KNN && !cli->model && strcmp(cli->cmd, "evaluate") != 0)
        return hd_error(HD_ECONFIG, "--method knn learns from events with truth: -m model.h5 (heimdall train "
                                    "--method knn), or heimdall evaluate with evaluate.split");
    if (in->method == HD_LOC_NN && !cli->model)
        return hd_error(HD_ECONFIG, "--method nn needs a trained model: -m model.h5 (heimdall train)");
    if (cli->model && in->method != HD_LOC_NN && in->method != HD_LOC_KNN)
        return hd_error(HD_ECONFIG, "--model is for --method nn or knn");
    if (cli->model && in->method == HD_LOC_KNN) {
        if (cfg->evaluate.split != HD_SPLIT_NONE && strcmp(cli->cmd, "evaluate") == 0)
            return hd_error(HD_ECONFIG, "%s was fitted elsewhere: score it on the whole file (--set "
                                        "evaluate.split=none); the split refits on the other groups", cli->model);
        if (cli->calibration || cfg->localize.calibration[0])
            return hd_error(HD_ECONFIG, "--method knn matches raw RSS fingerprints: a calibration has nothing to "
                                        "add (leave --calibration out)");
        if (!(in->knn = hd_calloc(1, sizeof *in->knn)))
            return HD_ENOMEM;
        int rc = hd_knn_model_load(in->knn, cli->model);
        if (rc < 0) {
            free(in->knn);
            in->knn = NULL;
            return rc;
        }
    } else if (cli->model && cfg->evaluate.split != HD_SPLIT_NONE && strcmp(cli->cmd, "evaluate") == 0)
        ; /* a model per group (a %d pattern), loaded group by group */
    else if (cli->model) {
        hid_t mf;
        char fmt[32], kind[32] = "nn";
        int ver, krc = hd_h5_open_any(&mf, cli->model, fmt, &ver);
        if (krc == 0) {
            krc = hd_model_kind(mf, kind, sizeof kind);
            H5Fclose(mf);
        }
        if (krc == 0 && strcmp(kind, "nn") != 0)
            return hd_error(HD_ECONFIG, "%s is a %s model: use --method %s", cli->model, kind, kind);
        if (!(in->model = hd_calloc(1, sizeof *in->model)))
            return HD_ENOMEM;
        int rc = hd_nn_model_load(in->model, cli->model);
        if (rc < 0) {
            free(in->model);
            in->model = NULL;
            return rc;
        }
    }
    const char *input = cli->inputs[0];
    hid_t f;
    char format[32];
    int version, rc = hd_h5_open_any(&f, input, format, &version);
    if (rc < 0)
        return rc;
    H5Fclose(f);
    if (strcmp(format, HD_FORMAT_CAPTURES) == 0) {
        /* featurize on the fly into a private temporary file */
        const char *dir = getenv("TMPDIR");
        snprintf(in->tmp_features, sizeof in->tmp_features, "%s/heimdall-features.%ld.h5", dir && dir[0] ? dir : "/tmp",
                 (long)getpid());
        char *argv[8 + 2 * HD_CLI_MAX_SETS];
        int argc = 0;
        argv[argc++] = "featurize";
        argv[argc++] = "-q";
        argv[argc++] = "--force";
        if (cli->config) {
            argv[argc++] = "-c";
            argv[argc++] = (char *)cli->config;
        }
        for (int i = 0; i < cli->n_sets; i++) {
            argv[argc++] = "--set";
            argv[argc++] = (char *)cli->sets[i];
        }
        argv[argc++] = "-o";
        argv[argc++] = in->tmp_features;
        argv[argc++] = (char *)input;
        argv[argc] = NULL;
        hd_info("%s is a captures file: featurizing it first", input);
        if (hd_cmd_featurize(argc, argv) != 0) {
            unlink(in->tmp_features);
            in->tmp_features[0] = 0;
            return hd_error(HD_EIO, "could not featurize %s (see above)", input);
        }
        input = in->tmp_features;
    } else if (strcmp(format, HD_FORMAT_FEATURES) != 0) {
        return hd_error(HD_EFORMAT, "%s is a heimdall %s file; expected a features (or captures) file", input, format);
    }
    if ((rc = hd_features_open_sparse(&in->rd, input, MPI_COMM_NULL)) < 0) {
        hd_locate_input_release(in);
        return rc;
    }
    if (cli->calibration)
        hd_strlcpy(cfg->localize.calibration, cli->calibration, sizeof cfg->localize.calibration);
    if (in->rd.meta.sparse) { /* each event its own receivers: the classical solvers */
        const char *no = in->model || in->knn || in->method == HD_LOC_NN || in->method == HD_LOC_KNN
                             ? "a trained model (--method nn or knn)"
                         : strcmp(cli->cmd, "evaluate") == 0 && cfg->evaluate.split != HD_SPLIT_NONE
                             ? "evaluate.split (set it to none)"
                             : NULL;
        if (no) {
            rc = hd_error(HD_ECONFIG, "%s has the sparse layout (%d receivers, each event holding those that heard it): "
                                      "not with %s yet; localize --method tdoa, rss or hybrid reads it",
                          cli->inputs[0], in->rd.meta.n_receivers, no);
            hd_locate_input_release(in);
            return rc;
        }
        if (cfg->localize.calibration[0]) { /* per event, its own receivers' offsets */
            in->calibration = cfg->localize.calibration;
            rc = hd_calib_table_use(&in->cal, in->rd.meta.stations, in->rd.meta.n_receivers, &cfg->localize);
            if (rc < 0) {
                hd_locate_input_release(in);
                return rc;
            }
            in->calibrated_known = rc;
        }
        return 0;
    }
    if (cfg->localize.calibration[0]) {
        in->calibration = cfg->localize.calibration;
        if ((rc = hd_calib_use(in->rd.meta.stations, in->rd.meta.n_receivers, &cfg->localize)) < 0) {
            hd_locate_input_release(in);
            return rc;
        }
        in->calibrated_known = rc;
        rc = 0;
    }
    if (in->model) { /* the network knows its receivers by position in the list */
        int ok = in->model->R == in->rd.meta.n_receivers;
        for (int r = 0; ok && r < in->model->R; r++)
            ok = strcmp(in->model->st[r].id, in->rd.meta.stations[r].id) == 0;
        if (!ok) {
            rc = hd_error(HD_EDATA, "%s was trained on other receivers than %s has", cli->model, cli->inputs[0]);
            hd_locate_input_release(in);
            return rc;
        }
    }
    return 0;
}

int hd_locate_input_run(hd_locate_input *in, const hd_cli *cli, const hd_config *cfg, hd_run *r,
                        void (*progress)(void *ctx, int64_t done), void *ctx)
{
    if (in->knn)
        return hd_run_locate_knn(r, &in->rd, &cfg->localize, in->knn, cli->model, progress, ctx);
    if (in->model)
        return hd_run_locate_nn(r, &in->rd, &cfg->localize, in->model, progress, ctx);
    if (in->rd.meta.sparse)
        return hd_run_locate_sparse(r, &in->rd, &cfg->localize, in->method, in->cal.R ? &in->cal : NULL, NULL, NULL,
                                    in->event_hook, in->event_hook_ctx, progress, ctx);
    return hd_run_locate(r, &in->rd, &cfg->localize, in->method, progress, ctx);
}

int hd_locate_input_stream(hd_locate_input *in, const hd_cli *cli, const hd_config *cfg, hd_run *r,
                           hd_run_sink sink, void *sink_ctx, void (*progress)(void *ctx, int64_t done), void *ctx)
{
    if (in->knn) {
        int rc = hd_run_locate_knn(r, &in->rd, &cfg->localize, in->knn, cli->model, progress, ctx);
        return rc < 0 ? rc : sink(sink_ctx, r);
    }
    if (in->rd.meta.sparse)
        return hd_run_locate_sparse(r, &in->rd, &cfg->localize, in->method, in->cal.R ? &in->cal : NULL, sink, sink_ctx,
                                    in->event_hook, in->event_hook_ctx, progress, ctx);
    return hd_run_locate_stream(r, &in->rd, &cfg->localize, in->method, in->model, sink, sink_ctx, progress, ctx);
}

void hd_locate_input_release(hd_locate_input *in)
{
    if (in->knn) {
        hd_knn_model_release(in->knn);
        free(in->knn);
        in->knn = NULL;
    }
    if (in->model) {
        hd_nn_model_release(in->model);
        free(in->model);
        in->model = NULL;
    }
    hd_calib_table_release(&in->cal);
    hd_features_release(&in->rd);
    if (in->tmp_features[0])
        unlink(in->tmp_features);
    in->tmp_features[0] = 0;
}
