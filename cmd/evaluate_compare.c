/* heimdall evaluate --method a,b,…: each method scored alone, then all of
 * them on the events every one located (one table, one figure). */
#include "core/error.h"
#include "core/outfile.h"
#include "eval/compare.h"
#include "eval/report.h"
#include "evaluate.h"
#include "h5/h5.h"

#include <stdio.h>
#include <string.h>

/* --method a,b,…: each method alone (NAME_<method>.h5 and its report and
 * plots), then all of them on the events every one located: NAME.h5,
 * its report, one CDF and the maps side by side */
int hd_evaluate_compare(const hd_cli *cli, hd_config *cfg)
{
    char list[256], *names[HD_EVAL_MAX_METHODS], outs[HD_EVAL_MAX_METHODS][1100];
    int M = 0, rc = 0;
    snprintf(list, sizeof list, "%s", cli->method ? cli->method : "");
    for (char *tok = strtok(list, ","); tok && M < HD_EVAL_MAX_METHODS + 1; tok = strtok(NULL, ","))
        names[M < HD_EVAL_MAX_METHODS ? M : 0] = tok, M++;
    if (M <= 1) {
        hd_run r;
        hd_eval_report sr;
        rc = hd_evaluate_one(cli, cfg, &r, &sr);
        hd_eval_report_release(&sr);
        hd_run_release(&r);
        return rc;
    }
    if (M > HD_EVAL_MAX_METHODS)
        return hd_error(HD_ECONFIG, "--method: at most %d methods at once", HD_EVAL_MAX_METHODS);
    int has_nn = 0;
    for (int m = 0; m < M; m++) {
        has_nn |= strcmp(names[m], "nn") == 0;
        for (int k = 0; k < m; k++)
            if (strcmp(names[k], names[m]) == 0)
                return hd_error(HD_ECONFIG, "--method %s: %s is listed twice", cli->method, names[m]);
    }
    if (cli->model && !has_nn)
        return hd_error(HD_ECONFIG, "--model is for --method nn (not in %s)", cli->method);
    hd_run runs[HD_EVAL_MAX_METHODS];
    hd_eval_report reps[HD_EVAL_MAX_METHODS];
    const hd_eval_report *ep[HD_EVAL_MAX_METHODS];
    memset(runs, 0, sizeof runs);
    memset(reps, 0, sizeof reps);
    hd_eval_comparison cmp = {0};
    hd_h5_out out;
    int out_open = 0, done = 0;
    hd_outfile rep = {0};
    char report_file[1100];
    hd_eval_report_path(cli->output, report_file, sizeof report_file);
    for (int m = 0; m < M && rc == 0; m++, done++) {
        hd_cli one = *cli;
        char suffix[64];
        snprintf(suffix, sizeof suffix, "_%s.h5", names[m]);
        hd_eval_beside(cli->output, suffix, outs[m], sizeof outs[m]);
        one.method = names[m];
        one.output = outs[m];
        one.model = strcmp(names[m], "nn") == 0 ? cli->model : NULL;
        rc = hd_evaluate_one(&one, cfg, &runs[m], &reps[m]);
        ep[m] = &reps[m];
    }
    if (rc < 0 || (rc = hd_eval_compare(&cmp, ep, M)) < 0 ||
        (rc = hd_h5_create(&out, cli->output, cli->force, MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    const char *inputs[HD_EVAL_MAX_METHODS];
    for (int m = 0; m < M; m++)
        inputs[m] = outs[m];
    hd_h5_provenance prov = {.format = HD_FORMAT_COMPARISON, .version = HD_COMPARISON_VERSION,
                             .command_line = cli->command_line, .config_yaml = cfg->yaml, .inputs = inputs,
                             .n_inputs = M};
    if ((rc = hd_outfile_open(&rep, report_file, cli->force)) < 0 ||
        (rc = hd_eval_write_compare_h5(out.file, &cmp, (const char *const *)names)) < 0 ||
        (rc = hd_h5_write_provenance(&out, &prov)) < 0 ||
        (rc = hd_eval_write_compare_json(rep.f, report_file, &cmp, (const char *const *)names, cli->inputs[0])) < 0)
        goto fail;
    out_open = 0;
    if ((rc = hd_h5_commit(&out)) < 0 || (rc = hd_outfile_commit(&rep)) < 0 ||
        (rc = hd_eval_write_compare_plots(cli->output, &cmp, ep, (const char *const *)names, &runs[0].net,
                                          cfg->evaluate.plots)) < 0)
        goto fail;
    printf("evaluate %s: the same %lld events (located by every method, of %lld)\n", cli->method,
           (long long)cmp.n_common, (long long)cmp.n);
    char table[2048];
    hd_eval_compare_table(&cmp, (const char *const *)names, table, sizeof table);
    fputs(table, stdout);
    printf("  wrote %s and %s\n", cli->output, report_file);
fail:
    if (out_open)
        hd_h5_abort(&out);
    hd_outfile_abort(&rep);
    hd_eval_comparison_release(&cmp);
    for (int m = 0; m < done; m++) {
        hd_eval_report_release(&reps[m]);
        hd_run_release(&runs[m]);
    }
    return rc;
}

