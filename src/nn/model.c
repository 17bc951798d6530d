#include "nn/model.h"
#include "capture/captures.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const input_names[HD_NN_DIN] = {"rss_dbm", "snr_db", "has_iq", "gps_ok", "toa_residual_km",
                                                    "timed", "east_km", "north_km", "anchor_log10_sigma_km", "mask"};

int hd_nn_model_alloc(hd_nn_model *M, const hd_nn_arch *A)
{
    memset(M, 0, sizeof *M);
    M->A = *A;
    size_t n = A->n_params;
    M->params = hd_calloc(n, sizeof *M->params);
    M->best = hd_calloc(n, sizeof *M->best);
    M->m = hd_calloc(n, sizeof *M->m);
    M->v = hd_calloc(n, sizeof *M->v);
    for (int k = 0; k < HD_NN_DIN; k++)
        M->std[k] = 1;
    M->best_val = INFINITY;
    return M->params && M->best && M->m && M->v ? 0 : HD_ENOMEM;
}

void hd_nn_model_release(hd_nn_model *M)
{
    double *logs[] = {M->log_epoch, M->log_train, M->log_val, M->log_med, M->log_lr, M->log_sec, M->step_loss};
    for (size_t i = 0; i < HD_ARRAY_LEN(logs); i++)
        free(logs[i]);
    free(M->params);
    free(M->best);
    free(M->m);
    free(M->v);
    free(M->val_events);
    free(M->check_x);
    free(M->check_out);
    free(M->check_m);
    if (M->has_anchor)
        hd_locate_net_release(&M->anchor);
    memset(M, 0, sizeof *M);
}

static int grow(double **a, int64_t n)
{
    double *p = realloc(*a, (size_t)(n + 1) * sizeof *p);
    if (!p)
        return HD_ENOMEM;
    *a = p;
    return 0;
}

int hd_nn_model_log(hd_nn_model *M, double epoch, double tr, double val, double med, double lr, double sec)
{
    double **a[] = {&M->log_epoch, &M->log_train, &M->log_val, &M->log_med, &M->log_lr, &M->log_sec};
    double v[] = {epoch, tr, val, med, lr, sec};
    for (size_t i = 0; i < HD_ARRAY_LEN(a); i++) {
        if (grow(a[i], M->n_log) < 0)
            return HD_ENOMEM;
        (*a[i])[M->n_log] = v[i];
    }
    M->n_log++;
    return 0;
}

int hd_nn_model_step_loss(hd_nn_model *M, double loss)
{
    if (M->n_steps % 1024 == 0) {
        double *p = realloc(M->step_loss, (size_t)(M->n_steps + 1024) * sizeof *p);
        if (!p)
            return HD_ENOMEM;
        M->step_loss = p;
    }
    M->step_loss[M->n_steps++] = loss;
    return 0;
}

static int group(hid_t f, const char *name)
{
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return hd_error(HD_EIO, "cannot create /%s", name);
    H5Gclose(g);
    return 0;
}

int hd_nn_model_save(const hd_nn_model *M, const char *path, int force, const hd_h5_provenance *prov)
{
    hd_h5_out out;
    int rc = hd_h5_create(&out, path, force, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    hid_t f = out.file;
    const hd_nn_arch *A = &M->A;
    hsize_t np[1] = {A->n_params}, din[1] = {HD_NN_DIN}, nl[1] = {(hsize_t)M->n_log}, ns[1] = {(hsize_t)M->n_steps},
            nv[1] = {(hsize_t)M->n_val};
    const int H = A->hidden, set = A->kind == HD_NN_SET, in1 = set ? A->din : A->R * A->din, in3 = set ? 2 * H : H;
    struct { const char *name; size_t off; hsize_t r, c; const char *desc; } layers[] = {
        {"weights/dense1_W", A->off[0], (hsize_t)in1, (hsize_t)H, "encoder (set) or first (mlp) dense weights [in, out]"},
        {"weights/dense1_b", A->off[0] + (size_t)in1 * H, (hsize_t)H, 0, "its bias"},
        {"weights/dense2_W", A->off[1], (hsize_t)H, (hsize_t)H, "second dense weights [in, out]"},
        {"weights/dense2_b", A->off[1] + (size_t)H * H, (hsize_t)H, 0, "its bias"},
        {"weights/ln_gain", A->off[2], (hsize_t)H, 0, "layer norm gain (after the second activation)"},
        {"weights/ln_bias", A->off[2] + (size_t)H, (hsize_t)H, 0, "layer norm bias"},
        {"weights/dense3_W", A->off[3], (hsize_t)in3, (hsize_t)H,
         "head dense weights [in, out] (set: in = [masked mean, masked max] of the encoder)"},
        {"weights/dense3_b", A->off[3] + (size_t)in3 * H, (hsize_t)H, 0, "its bias"},
        {"weights/dense4_W", A->off[4], (hsize_t)H, 5, "output weights [in, 5]: mean east, north (km), a, b, c"},
        {"weights/dense4_b", A->off[4] + (size_t)H * 5, 5, 0, "its bias; covariance = L Lᵀ, L = [[e^a, 0], [c, e^b]]"},
    };
    if ((rc = group(f, "weights")) < 0 || (rc = group(f, "optimizer")) < 0 || (rc = group(f, "normalization")) < 0 ||
        (rc = group(f, "log")) < 0 || (rc = group(f, "split")) < 0)
        goto fail;
    if ((rc = hd_h5_write(f, "params", H5T_NATIVE_FLOAT, 1, np, M->params, "1", "live parameters (flat)")) < 0 ||
        (rc = hd_h5_write(f, "best_params", H5T_NATIVE_FLOAT, 1, np, M->best, "1",
                          "parameters with the best validation loss (flat): the ones that predict")) < 0 ||
        (rc = hd_h5_write(f, "optimizer/m", H5T_NATIVE_FLOAT, 1, np, M->m, "1", "AdamW first moments")) < 0 ||
        (rc = hd_h5_write(f, "optimizer/v", H5T_NATIVE_FLOAT, 1, np, M->v, "1", "AdamW second moments")) < 0 ||
        (rc = hd_h5_write(f, "normalization/mean", H5T_NATIVE_FLOAT, 1, din, M->mean, "mixed",
                          "input means over the training split (x - mean) / std; absent receivers stay 0")) < 0 ||
        (rc = hd_h5_write(f, "normalization/std", H5T_NATIVE_FLOAT, 1, din, M->std, "mixed", "input scales")) < 0 ||
        (rc = hd_h5_write_strings(f, "normalization/inputs", input_names, HD_NN_DIN, "per receiver inputs, in order")) < 0)
        goto fail;
    for (size_t k = 0; k < HD_ARRAY_LEN(layers); k++) {
        hsize_t d[2] = {layers[k].r, layers[k].c};
        if ((rc = hd_h5_write(f, layers[k].name, H5T_NATIVE_FLOAT, layers[k].c ? 2 : 1, d, M->best + layers[k].off, "1",
                              layers[k].desc)) < 0)
            goto fail;
    }
    double *logs[] = {M->log_epoch, M->log_train, M->log_val, M->log_med, M->log_lr, M->log_sec};
    const char *lnames[] = {"log/epoch", "log/train_loss", "log/val_loss", "log/val_median_m", "log/lr", "log/seconds"};
    const char *lunits[] = {"1", "1", "1", "m", "1", "s"};
    const char *ldesc[] = {"epoch", "mean training NLL", "mean validation NLL", "validation median error",
                           "learning rate at the epoch's end", "wall time of the epoch"};
    double zero = 0;
    for (int k = 0; k < 6; k++)
        if ((rc = hd_h5_write(f, lnames[k], H5T_NATIVE_DOUBLE, 1, nl, M->n_log ? logs[k] : &zero, lunits[k], ldesc[k])) < 0)
            goto fail;
    if ((rc = hd_h5_write(f, "log/step_loss", H5T_NATIVE_DOUBLE, 1, ns, M->n_steps ? M->step_loss : &zero, "1",
                          "mean training NLL of each step's global batch")) < 0 ||
        (rc = hd_h5_write(f, "split/validation_events", H5T_NATIVE_INT64, 1, nv, M->n_val ? (void *)M->val_events : &zero,
                          "1", "events/index of the events held out for validation")) < 0 ||
        (rc = hd_captures_write_receivers(f, M->st, M->R)) < 0)
        goto fail;
    if (M->n_check > 0) {
        hsize_t cx[3] = {(hsize_t)M->n_check, (hsize_t)A->R, HD_NN_DIN}, co[2] = {(hsize_t)M->n_check, 5};
        if ((rc = group(f, "check")) < 0 ||
            (rc = hd_h5_write(f, "check/inputs", H5T_NATIVE_FLOAT, 3, cx, M->check_x, "1",
                              "normalised inputs [event, receiver, input] of a few validation events")) < 0 ||
            (rc = hd_h5_write(f, "check/present", H5T_NATIVE_UINT8, 2, cx, M->check_m, "1",
                              "receiver present [event, receiver]")) < 0 ||
            (rc = hd_h5_write(f, "check/outputs", H5T_NATIVE_FLOAT, 2, co, M->check_out, "1",
                              "the best parameters' outputs for them: mean east, north, a, b, c")) < 0)
            goto fail;
    }
    if ((rc = hd_h5_attr_str(f, "arch", set ? "set" : "mlp")) < 0 || (rc = hd_h5_attr_int(f, "n_receivers", A->R)) < 0 ||
        (rc = hd_h5_attr_int(f, "n_inputs", A->din)) < 0 || (rc = hd_h5_attr_int(f, "hidden", H)) < 0 ||
        (rc = hd_h5_attr_str(f, "activation", A->gelu ? "gelu" : "relu")) < 0 ||
        (rc = hd_h5_attr_double(f, "tail_nu", A->nu)) < 0 ||
        (rc = hd_h5_attr_int(f, "n_params", (int64_t)A->n_params)) < 0 || (rc = hd_h5_attr_int(f, "step", M->step)) < 0 ||
        (rc = hd_h5_attr_int(f, "epoch", M->epoch)) < 0 || (rc = hd_h5_attr_double(f, "best_val_loss", M->best_val)) < 0 ||
        (rc = hd_h5_attr_int(f, "bad_epochs", M->bad_epochs)) < 0 || (rc = hd_h5_attr_int(f, "seed", (int64_t)M->seed)) < 0 ||
        (rc = hd_h5_attr_double(f, "outlier_sigma", M->outlier_sigma)) < 0 ||
        (rc = hd_h5_attr_double(f, "target_scale_km", M->target_km)) < 0 ||
        (rc = hd_h5_write_provenance(&out, prov)) < 0)
        goto fail;
    return hd_h5_commit(&out);
fail:
    hd_h5_abort(&out);
    return rc;
}

static int read_flat(hid_t f, const char *name, hid_t type, size_t n, void *dst)
{
    int rank;
    hsize_t d[8];
    void *buf = NULL;
    int rc = hd_h5_read(f, name, type, &rank, d, &buf);
    if (rc < 0)
        return rc;
    if (rank != 1 || d[0] != n) {
        free(buf);
        return hd_error(HD_EFORMAT, "/%s has %llu values, the architecture needs %zu", name,
                        (unsigned long long)(rank == 1 ? d[0] : 0), n);
    }
    memcpy(dst, buf, n * H5Tget_size(type));
    free(buf);
    return 0;
}

static int read_log(hid_t f, const char *name, double **dst, int64_t *n)
{
    int rank;
    hsize_t d[8];
    double *buf = NULL;
    int rc = hd_h5_read(f, name, H5T_NATIVE_DOUBLE, &rank, d, (void **)&buf);
    if (rc < 0)
        return rc;
    *dst = buf;
    *n = rank == 1 ? (int64_t)d[0] : 0;
    return 0;
}

int hd_nn_model_load(hd_nn_model *M, const char *path)
{
    hid_t f;
    memset(M, 0, sizeof *M);
    int rc = hd_h5_open(&f, path, HD_FORMAT_MODEL, HD_MODEL_VERSION, MPI_COMM_NULL);
    if (rc < 0)
        return rc;
    char *arch = NULL, *act = NULL;
    int64_t R = 0, din = 0, hidden = 0, np = 0, v = 0;
    hd_nn_arch A;
    hd_captures_reader cr;
    if ((rc = hd_h5_read_attr_str(f, "arch", &arch)) < 0 || (rc = hd_h5_read_attr_str(f, "activation", &act)) < 0 ||
        (rc = hd_h5_read_attr_int(f, "n_receivers", &R)) < 0 || (rc = hd_h5_read_attr_int(f, "n_inputs", &din)) < 0 ||
        (rc = hd_h5_read_attr_int(f, "hidden", &hidden)) < 0 || (rc = hd_h5_read_attr_int(f, "n_params", &np)) < 0)
        goto fail;
    int kind = strcmp(arch, "set") == 0 ? HD_NN_SET : strcmp(arch, "mlp") == 0 ? HD_NN_MLP : -1;
    if (kind < 0 || (strcmp(act, "gelu") && strcmp(act, "relu")) || din != HD_NN_DIN) {
        rc = hd_error(HD_EFORMAT, "architecture '%s' with activation '%s' and %lld inputs is not one this heimdall runs",
                      arch, act, (long long)din);
        goto fail;
    }
    if ((rc = hd_nn_arch_init(&A, kind, (int)R, (int)hidden, strcmp(act, "gelu") == 0)) < 0)
        goto fail;
    /* the loss's and the predictive's shape (absent before it existed: Gaussian,
     * the 0 hd_nn_arch_init left) */
    if (H5Aexists(f, "tail_nu") > 0 && (rc = hd_h5_read_attr_double(f, "tail_nu", &A.nu)) < 0)
        goto fail;
    if (A.nu != 0 && !(A.nu > 2)) {
        rc = hd_error(HD_EFORMAT, "tail_nu %g is not a Student-t with a covariance (more than 2) nor 0", A.nu);
        goto fail;
    }
    if ((int64_t)A.n_params != np) {
        rc = hd_error(HD_EFORMAT, "n_params %lld does not match the architecture's %zu", (long long)np, A.n_params);
        goto fail;
    }
    if ((rc = hd_nn_model_alloc(M, &A)) < 0)
        goto fail;
    if ((rc = read_flat(f, "params", H5T_NATIVE_FLOAT, A.n_params, M->params)) < 0 ||
        (rc = read_flat(f, "best_params", H5T_NATIVE_FLOAT, A.n_params, M->best)) < 0 ||
        (rc = read_flat(f, "optimizer/m", H5T_NATIVE_FLOAT, A.n_params, M->m)) < 0 ||
        (rc = read_flat(f, "optimizer/v", H5T_NATIVE_FLOAT, A.n_params, M->v)) < 0 ||
        (rc = read_flat(f, "normalization/mean", H5T_NATIVE_FLOAT, HD_NN_DIN, M->mean)) < 0 ||
        (rc = read_flat(f, "normalization/std", H5T_NATIVE_FLOAT, HD_NN_DIN, M->std)) < 0)
        goto fail;
    for (int k = 0; k < HD_NN_DIN; k++)
        if (!(M->std[k] > 0) || !isfinite(M->mean[k])) {
            rc = hd_error(HD_EFORMAT, "normalization of input %d is not usable", k);
            goto fail;
        }
    for (size_t i = 0; i < A.n_params; i++)
        if (!isfinite(M->best[i])) {
            rc = hd_error(HD_EFORMAT, "best_params holds a non-finite value");
            goto fail;
        }
    if ((rc = hd_h5_read_attr_int(f, "step", &M->step)) < 0 || (rc = hd_h5_read_attr_int(f, "epoch", &M->epoch)) < 0 ||
        (rc = hd_h5_read_attr_double(f, "best_val_loss", &M->best_val)) < 0 ||
        (rc = hd_h5_read_attr_int(f, "bad_epochs", &v)) < 0)
        goto fail;
    M->bad_epochs = (int)v;
    if ((rc = hd_h5_read_attr_int(f, "seed", &v)) < 0 ||
        (rc = hd_h5_read_attr_double(f, "outlier_sigma", &M->outlier_sigma)) < 0 ||
        (rc = hd_h5_read_attr_double(f, "target_scale_km", &M->target_km)) < 0)
        goto fail;
    if (!(M->target_km > 0)) {
        rc = hd_error(HD_EFORMAT, "target_scale_km %g is not usable", M->target_km);
        goto fail;
    }
    M->seed = (uint64_t)v;
    /* the anchor's settings: the localize section of the config it was
     * trained with (a file without one: the config at hand) */
    hd_localize_cfg acfg;
    int have_acfg = 0;
    if (H5Aexists(f, "config_yaml") > 0) {
        char *yaml = NULL;
        int64_t fv = 0;
        hd_config c;
        if ((rc = hd_h5_read_attr_str(f, "config_yaml", &yaml)) < 0 ||
            (rc = hd_h5_read_attr_int(f, "heimdall_format_version", &fv)) < 0) {
            free(yaml);
            goto fail;
        }
        rc = hd_config_load_string(&c, yaml, "the model's config_yaml", NULL, 0);
        free(yaml);
        if (rc < 0) {
            rc = hd_error(HD_EFORMAT, "%s: its config_yaml does not load", path);
            goto fail;
        }
        acfg = c.localize;
        acfg.legacy_scale = fv < 3;
        have_acfg = 1;
        hd_config_release(&c);
    }
    int64_t n = 0;
    double **logs[] = {&M->log_epoch, &M->log_train, &M->log_val, &M->log_med, &M->log_lr, &M->log_sec};
    const char *lnames[] = {"log/epoch", "log/train_loss", "log/val_loss", "log/val_median_m", "log/lr", "log/seconds"};
    for (int k = 0; k < 6; k++)
        if ((rc = read_log(f, lnames[k], logs[k], &n)) < 0)
            goto fail;
    M->n_log = (int)n;
    if ((rc = read_log(f, "log/step_loss", &M->step_loss, &M->n_steps)) < 0)
        goto fail;
    /* room for the step log to grow in blocks of 1024 */
    double *sl = realloc(M->step_loss, (size_t)((M->n_steps / 1024 + 1) * 1024) * sizeof *sl);
    if (!sl) {
        rc = HD_ENOMEM;
        goto fail;
    }
    M->step_loss = sl;
    H5Fclose(f);
    f = H5I_INVALID_HID;
    /* the receivers it was trained on */
    if ((rc = hd_captures_open_as(&cr, path, HD_FORMAT_MODEL, HD_MODEL_VERSION, MPI_COMM_NULL)) < 0)
        goto fail;
    M->R = cr.n_receivers;
    memcpy(M->st, cr.stations, (size_t)M->R * sizeof *M->st);
    hd_captures_release(&cr);
    if (have_acfg) {
        if ((rc = hd_locate_net_init(&M->anchor, M->st, M->R, &acfg)) < 0)
            goto fail;
        M->has_anchor = 1;
    }
    free(arch);
    free(act);
    return 0;
fail:
    if (f >= 0)
        H5Fclose(f);
    free(arch);
    free(act);
    hd_nn_model_release(M);
    return hd_error_context(rc, "%s", path);
}

int hd_nn_predict(const hd_nn_model *M, const hd_locate_net *net, const hd_locate_obs *obs, int n_events, int R,
                  hd_locate_result *res)
{
    if (R != M->R)
        return hd_error(HD_EDATA, "the model was trained on %d receivers, the data have %d", M->R, R);
    if (M->has_anchor) /* the anchors as in training */
        net = &M->anchor;
    hd_nn_batch *b = hd_nn_batch_new(&M->A, n_events);
    float *out = hd_malloc((size_t)n_events * 5 * sizeof *out);
    if (!b || !out) {
        hd_nn_batch_free(b);
        free(out);
        return HD_ENOMEM;
    }
    float *x = hd_nn_batch_x(b);
    uint8_t *m = hd_nn_batch_m(b);
    double *anchor = hd_malloc((size_t)n_events * 3 * sizeof *anchor);
    int rc = anchor ? 0 : HD_ENOMEM;
    for (int e = 0; e < n_events && rc == 0; e++)
        rc = hd_nn_event_inputs(net, &obs[e], x + (size_t)e * R * HD_NN_DIN, m + (size_t)e * R, anchor + 3 * e);
    if (rc < 0) {
        free(anchor);
        hd_nn_batch_free(b);
        free(out);
        return rc;
    }
    hd_nn_normalize(x, (int64_t)n_events * R, M->mean, M->std);
    hd_nn_forward(&M->A, M->best, b, n_events, out);
    for (int e = 0; e < n_events; e++) {
        hd_locate_result *r = &res[e];
        memset(r, 0, sizeof *r);
        r->method = HD_LOC_NN;
        r->gdop = r->chi2 = r->source_dbm = r->exponent = NAN;
        for (int k = 0; k < 3; k++)
            r->crlb[k] = NAN;
        int present = 0;
        for (int q = 0; q < R; q++)
            if (m[(size_t)e * R + q]) {
                present++;
                r->used |= 1ull << q;
            }
        r->n_receivers = present;
        if (!present) {
            r->status = HD_LOC_TOO_FEW;
            r->e = r->n = r->lat = r->lon = NAN;
            r->cov[0] = r->cov[1] = r->cov[2] = NAN;
            continue;
        }
        double mu[2], c[3];
        hd_nn_output(out + (size_t)e * 5, mu, c);
        double S = anchor[3 * e + 2];
        r->e = anchor[3 * e] + mu[0] * S;
        r->n = anchor[3 * e + 1] + mu[1] * S;
        for (int k = 0; k < 3; k++)
            r->cov[k] = c[k] * S * S;
        r->nu = M->A.nu;
        hd_locate_to_geo(net, r->e, r->n, &r->lat, &r->lon);
        r->alt = net->tx_alt_m;
        r->status = HD_LOC_OK;
    }
    hd_nn_batch_free(b);
    free(out);
    free(anchor);
    return 0;
}
