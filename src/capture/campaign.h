/* A campaign of events written to captures.h5 in blocks, by one rank or
 * many, whatever fills the events (the simulator through cmd/collect.c, or
 * any source that can produce an event again from its number).
 *
 * Two passes. hd_capture_plan_init: every rank takes its contiguous block
 * of the campaign's events (hd_par_block) and asks keep() which of them to
 * write; the ranks then agree where each rank's kept events go in the file
 * (after those of lower ranks) and how many there are in all.
 * hd_capture_campaign_write: create the output (a temporary name, renamed
 * only when complete), the receivers table and every dataset, then render()
 * the kept events `block` at a time and write each block collectively:
 * every rank makes the same number of writes (ranks with fewer events
 * write empty blocks). Before each block every rank checks interrupted();
 * an interruption or a failure on any rank aborts every rank and leaves no
 * file under the output name. */
#ifndef HD_CAPTURE_CAMPAIGN_H
#define HD_CAPTURE_CAMPAIGN_H
#include <stdint.h>
#include <mpi.h>
#include "capture/captures.h"
#include "h5/h5.h"

/* 1 keep event `event`, 0 drop it, < 0 failure. */
typedef int (*hd_capture_keep_fn)(void *ctx, int64_t event);
/* Fill events ids[0..n) into ev[n], links[n×R], iq[n×R×N×2], levels[n×R×L]. 0 or < 0.
 * Sparse: event i's ev[i].n_links links in slots [i×max_links, …) of
 * links, iq and levels (each link's rx set). */
typedef int (*hd_capture_render_fn)(void *ctx, const int64_t *ids, int n, hd_event *ev, hd_link *links,
                                    int16_t *iq, float *levels);

typedef struct {
    int64_t n_events;            /* events of the campaign, all ranks */
    int n_receivers, n_samples, n_levels;
    int block;                   /* events per collective write */
    hd_capture_keep_fn keep;     /* NULL: keep every event */
    /* the sparse layout: each event holds links(ctx, event) receivers (at
     * most max_links), asked for every kept event in pass 1 */
    int sparse, max_links;
    int (*links)(void *ctx, int64_t event);
    hd_capture_render_fn render;
    void *ctx;                   /* passed to keep and render */
    int (*interrupted)(void);    /* NULL: never */
    MPI_Comm comm;               /* MPI_COMM_NULL: alone */
} hd_capture_campaign;

/* Where this rank's kept events go. */
typedef struct {
    int64_t begin, end;          /* this rank's block of the campaign's events */
    /* [end - begin], one byte an event (flat memory for long campaigns):
     * 0 dropped, else kept, with 1 + its links in the sparse layout */
    uint8_t *mark;
    int64_t n_kept;
    int64_t offset;              /* file row of kept[0] */
    int64_t total;               /* kept events, all ranks */
    int64_t dropped;             /* dropped events, all ranks */
    /* sparse: the file row of this rank's first link, and the links of all ranks */
    int64_t link_offset, total_links;
} hd_capture_plan;

/* Pass 1 (collective over c->comm). 0 or < 0 (the plan is then empty). */
int hd_capture_plan_init(hd_capture_plan *p, const hd_capture_campaign *c);
void hd_capture_plan_release(hd_capture_plan *p);

/* What the file carries besides the events. */
typedef struct {
    const char *path;
    int force;                   /* overwrite an existing file */
    const hd_station *receivers; /* [n_receivers], the receivers table */
    int compression;
    unsigned what;               /* HD_CAPTURES_TRUTH, HD_CAPTURES_BULK */
    const char *source;          /* root attribute "source" */
    const hd_h5_provenance *prov;
    int quiet;                   /* no progress line */
} hd_capture_output;

/* Pass 2 (collective over c->comm): returns 0 when the file is in place,
 * HD_EINTR ("interrupted; PATH not written"), or another negative code;
 * nothing under the output name then. */
int hd_capture_campaign_write(const hd_capture_campaign *c, const hd_capture_plan *p, const hd_capture_output *o);

#endif
