/* A campaign of events written in blocks per rank (see campaign.h). */
#include "capture/campaign.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/par.h"
#include "core/progress.h"

#include <stdlib.h>
#include <string.h>

static void comm_rank_size(MPI_Comm comm, int *rank, int *size)
{
    *rank = 0;
    *size = 1;
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, rank);
        MPI_Comm_size(comm, size);
    }
}

int hd_capture_plan_init(hd_capture_plan *p, const hd_capture_campaign *c)
{
    int rank, size, rc = 0;
    comm_rank_size(c->comm, &rank, &size);
    memset(p, 0, sizeof *p);
    hd_par_block(c->n_events, rank, size, &p->begin, &p->end);
    int64_t mine = p->end - p->begin, dropped = 0, my_links = 0;
    if (c->sparse && (!c->links || c->max_links < 1 || c->max_links > HD_MAX_STATIONS))
        return hd_error(HD_EINVAL, "sparse campaign: no link count, or %d links per event", c->max_links);
    p->mark = hd_calloc((size_t)(mine > 0 ? mine : 1), 1);
    if (!p->mark)
        return HD_ENOMEM;
    for (int64_t i = p->begin; i < p->end; i++) {
        int k = c->keep ? c->keep(c->ctx, i) : 1;
        if (k < 0) {
            rc = k;
            goto fail;
        }
        if (!k) {
            dropped++;
            continue;
        }
        int n = 0;
        if (c->sparse) { /* the links of a kept event, asked now */
            if ((n = c->links(c->ctx, i)) < 0) {
                rc = n;
                goto fail;
            }
            if (n > c->max_links) {
                rc = hd_error(HD_EINVAL, "event %lld: %d links, more than %d", (long long)i, n, c->max_links);
                goto fail;
            }
            my_links += n;
        }
        p->mark[i - p->begin] = (uint8_t)(1 + n);
        p->n_kept++;
    }
    p->total = p->n_kept;
    p->dropped = dropped;
    p->total_links = my_links;
    if (size > 1) {
        MPI_Exscan(&p->n_kept, &p->offset, 1, MPI_INT64_T, MPI_SUM, c->comm);
        MPI_Exscan(&my_links, &p->link_offset, 1, MPI_INT64_T, MPI_SUM, c->comm);
        if (rank == 0)
            p->offset = p->link_offset = 0;
        MPI_Allreduce(&p->n_kept, &p->total, 1, MPI_INT64_T, MPI_SUM, c->comm);
        MPI_Allreduce(&dropped, &p->dropped, 1, MPI_INT64_T, MPI_SUM, c->comm);
        MPI_Allreduce(&my_links, &p->total_links, 1, MPI_INT64_T, MPI_SUM, c->comm);
    }
    return 0;
fail:
    hd_capture_plan_release(p);
    return rc;
}

void hd_capture_plan_release(hd_capture_plan *p)
{
    free(p->mark);
    memset(p, 0, sizeof *p);
}

int hd_capture_campaign_write(const hd_capture_campaign *c, const hd_capture_plan *p, const hd_capture_output *o)
{
    int rc = 0, rank, size;
    comm_rank_size(c->comm, &rank, &size);
    int R = c->n_receivers, N = c->n_samples, L = c->n_levels, B = c->block;
    int S = c->sparse ? c->max_links : R; /* link slots per event in the buffers */
    hd_link *links = hd_calloc((size_t)B * (size_t)S, sizeof *links);
    hd_event *ev = hd_calloc((size_t)B, sizeof *ev);
    int16_t *iq = hd_calloc((size_t)B * (size_t)S * (size_t)N * 2 + 1, sizeof *iq);
    float *levels = hd_calloc((size_t)B * (size_t)S * (size_t)L + 1, sizeof *levels);
    int64_t lnext = p->link_offset; /* sparse: the file row of this rank's next link */
    int64_t *ids = hd_calloc((size_t)B, sizeof *ids), cursor = p->begin; /* the next block's kept events */
    hd_h5_out out;
    int out_open = 0;
    hd_captures_writer w = {0};
    hd_progress pr = {.quiet = 1};

    if (!links || !ev || !iq || !levels || !ids) {
        rc = HD_ENOMEM;
        goto fail;
    }
    if ((rc = hd_h5_create(&out, o->path, o->force, size > 1 ? c->comm : MPI_COMM_NULL)) < 0)
        goto fail;
    out_open = 1;
    if ((rc = hd_captures_write_receivers(out.file, o->receivers, R)) < 0 ||
        (rc = c->sparse ? hd_captures_create_sparse(&w, out.file, p->total, p->total_links, R, N, L, o->compression,
                                                    o->what)
                        : hd_captures_create(&w, out.file, p->total, R, N, L, o->compression, o->what)) < 0)
        goto fail;

    /* every rank makes the same number of collective writes */
    int64_t my_blocks = (p->n_kept + B - 1) / B, blocks = my_blocks;
    if (size > 1)
        MPI_Allreduce(&my_blocks, &blocks, 1, MPI_INT64_T, MPI_MAX, c->comm);
    hd_progress_start(&pr, "collect", "events", p->total, o->quiet);
    int64_t done = 0;
    for (int64_t k = 0; k < blocks; k++) {
        int64_t first = k * B;
        int n = (int)(first < p->n_kept ? (p->n_kept - first < B ? p->n_kept - first : B) : 0);
        for (int j = 0; j < n; cursor++) /* the block's kept events, ascending */
            if (p->mark[cursor - p->begin])
                ids[j++] = cursor;
        /* 0 go on, 1 interrupted, 2 failed: every rank learns the worst */
        int flag = c->interrupted && c->interrupted() ? 1 : 0;
        if (n > 0 && !flag && (rc = c->render(c->ctx, ids, n, ev, links, iq, levels)) < 0)
            flag = 2;
        if (size > 1)
            MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, c->comm);
        if (flag) {
            if (rc >= 0)
                rc = flag == 1 ? hd_error(HD_EINTR, "interrupted; %s not written", o->path)
                               : hd_error(HD_EIO, "another rank failed; %s not written", o->path);
            goto fail_out;
        }
        if (c->sparse) {
            /* each event's links packed after the previous event's */
            int64_t nl = 0;
            for (int i = 0; i < n; i++) {
                int m = ev[i].n_links;
                int planned = p->mark[ids[i] - p->begin] - 1;
                if (m != planned) {
                    rc = hd_error(HD_EIO, "event %lld rendered %d links, planned %d", (long long)ids[i], m, planned);
                    goto fail_out;
                }
                ev[i].link_first = lnext + nl;
                if (nl != (int64_t)i * S) {
                    memmove(links + nl, links + (size_t)i * S, (size_t)m * sizeof *links);
                    memmove(iq + (size_t)nl * N * 2, iq + (size_t)i * S * N * 2, (size_t)m * N * 2 * sizeof *iq);
                    memmove(levels + (size_t)nl * L, levels + (size_t)i * S * L, (size_t)m * L * sizeof *levels);
                }
                nl += m;
            }
            if ((rc = hd_captures_write_sparse(&w, p->offset + first, n, ev, lnext, nl, links, iq, levels)) < 0)
                goto fail_out;
            lnext += nl;
        } else if ((rc = hd_captures_write_block(&w, p->offset + first, n, ev, links, iq, levels)) < 0)
            goto fail_out;
        int64_t d = n, dsum = d;
        if (size > 1)
            MPI_Allreduce(&d, &dsum, 1, MPI_INT64_T, MPI_SUM, c->comm);
        done += dsum;
        hd_progress_update(&pr, done);
    }
    hd_progress_finish(&pr);
    hd_captures_close(&w);

    if ((rc = hd_h5_attr_str(out.file, "source", o->source)) < 0 || (rc = hd_h5_write_provenance(&out, o->prov)) < 0)
        goto fail_out;
    if (c->interrupted && c->interrupted()) {
        rc = hd_error(HD_EINTR, "interrupted; %s not written", o->path);
        goto fail_out;
    }
    if ((rc = hd_h5_commit(&out)) < 0)
        goto fail;
    out_open = 0;
    goto done;

fail_out:
    hd_progress_finish(&pr);
fail:
    hd_captures_close(&w);
    if (out_open)
        hd_h5_abort(&out);
done:
    free(ids);
    free(links);
    free(ev);
    free(iq);
    free(levels);
    return rc;
}
