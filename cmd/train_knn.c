/* heimdall train --method knn: the fingerprints of a features file with
 * truth saved as model.h5 (kind knn) for evaluate/localize --method knn -m. */
#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/runinfo.h"
#include "eval/knn.h"
#include "h5/h5.h"
#include "train.h"

int hd_train_knn(const hd_cli *cli, hd_config *cfg)
{
    if (hd_par_size() > 1)
        return hd_error(HD_ECONFIG, "train --method knn runs on one rank (nothing to train)");
    if (cli->resume)
        return hd_error(HD_ECONFIG, "train --method knn has nothing to resume");
    hd_features_reader rd;
    hd_knn_model m;
    hd_h5_out out;
    int rc = hd_features_open(&rd, cli->inputs[0], MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    if ((rc = hd_knn_model_fit(&m, &rd, cli->inputs[0], &cfg->localize, cfg->evaluate.knn_k)) < 0)
        goto done;
    hd_runinfo_set_events(m.E);
    if ((rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto done;
    const char *inputs[] = {cli->inputs[0]};
    hd_h5_provenance prov = {.format = HD_FORMAT_MODEL, .version = HD_MODEL_VERSION, .command_line = cli->command_line,
                             .config_yaml = cfg->yaml, .inputs = inputs, .n_inputs = 1};
    if ((rc = hd_knn_model_write(&m, out.file)) < 0 || (rc = hd_h5_write_provenance(&out, &prov)) < 0) {
        hd_h5_abort(&out);
        goto done;
    }
    if ((rc = hd_h5_commit(&out)) < 0)
        goto done;
    hd_info("wrote %s: kNN model of %lld fingerprints over %d receivers, k %d, covariance scale %.2f", cli->output,
            (long long)m.E, m.R, m.k, m.cov_scale);
done:
    hd_knn_model_release(&m);
    hd_features_release(&rd);
    return rc;
}
