/* The captures.h5 schema: what `collect` writes, whatever the source
 * (simulator, live receivers, recordings). Rows are events; arrays are
 * row-major [event, receiver, ...].
 *
 *   /receivers/{id,name,driver,url,clock}  strings [R]
 *   /receivers/{lat,lon,alt_m,...}          [R]
 *   /events/{index,time_ns,frequency_hz,sample_rate_hz,duration_s,n_ok} [E]
 *   /status, /has_iq, /has_levels, /gps_ok, /last_gps_solution_s,
 *   /t0_s, /gain_db, /clipped_fraction     [E, R]
 *   /iq      int16 [E, R, N, 2]  (I, Q), attribute scale = 1/32768 of full scale
 *   /levels  float32 [E, R, L]   dBFS
 *   /truth/...  transmitter [E] and per-link [E, R] truth (simulated sources)
 *
 * The sparse layout (collect.layout sparse; attribute layout = "sparse"):
 * each event holds only the receivers that heard it. Every [E, R] field
 * above is then [K] over the campaign's K links, in event order, and
 *   /events/link_first int64 [E], /events/link_count int32 [E]
 *                                        the event's rows of the link fields
 *   /links/receiver int32 [K]            each link's receiver (row of /receivers)
 *   /iq int16 [K, N, 2], /levels float32 [K, L]
 * Within an event the links are in ascending receiver order.
 */
#ifndef HD_CAPTURE_CAPTURES_H
#define HD_CAPTURE_CAPTURES_H
#include <stdint.h>
#include <hdf5.h>
#include <mpi.h>
#include "config/config.h"
#include "capture/event.h"

typedef struct {
    hid_t file;
    int64_t n_events;
    int64_t n_links;         /* sparse: link rows K */
    int n_receivers, n_samples, n_levels;
    unsigned what;
    hid_t *dsets;            /* one per schema field, then iq, levels */
    int n_dsets;
} hd_captures_writer;

/* What hd_captures_create makes: the observation fields are always there. */
#define HD_CAPTURES_TRUTH 1u   /* /truth (simulated sources) */
#define HD_CAPTURES_BULK 2u    /* /iq and /levels (a features file copies the rest without them) */
#define HD_CAPTURES_TXID 4u    /* /events/tx_id (moving simulated transmitters) */
#define HD_CAPTURES_HF 8u      /* with TRUTH: /truth/prop_mode, /truth/excess_delay_s (model hf) */
#define HD_CAPTURES_SITES 16u  /* with TRUTH: /truth/rx_lat, /truth/rx_lon (receivers' true sites, displaced) */
#define HD_CAPTURES_CLOCK 32u  /* /clock/{rate_hz,residual_s,n_fit} (the receivers' GPS clock fit) */
#define HD_CAPTURES_SPARSE 64u /* the sparse layout (hd_captures_create_sparse) */

/* Events per chunk of a dense file's /iq: as many as fit in about 1 MiB
 * (HDF5's default chunk cache, so that h5py reading event by event inflates
 * each chunk once), at least 1, at most 1024 and n_events. Fewer chunks keep
 * a parallel file's creation flat: HDF5 1.10 allocates and fills every chunk
 * of a filtered dataset at creation with an MPI datatype over all of them
 * (a chunk per event grew a 2-rank collect's peak memory x2.2 from 10^4 to
 * 10^6 events). Collective writers write whole multiples of it. */
int hd_captures_chunk_events(int64_t n_events, int n_receivers, int n_samples);

/* Create every dataset (collective in parallel files). */
int hd_captures_create(hd_captures_writer *w, hid_t file, int64_t n_events, int n_receivers,
                       int n_samples, int n_levels, int compression, unsigned what);

/* The receivers table (collective; identical arguments on every rank). */
int hd_captures_write_receivers(hid_t file, const hd_station *st, int n);

/* Write events [start, start+count) from memory: ev[count], links[count*R],
 * iq[count*R*N*2], levels[count*R*L] (iq and levels ignored without
 * HD_CAPTURES_BULK). Collective: every rank calls it the
 * same number of times; count may be 0. */
int hd_captures_write_block(hd_captures_writer *w, int64_t start, int64_t count, const hd_event *ev,
                            const hd_link *links, const int16_t *iq, const float *levels);

void hd_captures_close(hd_captures_writer *w);

/* The sparse layout: n_links rows of link fields in all (collective). */
int hd_captures_create_sparse(hd_captures_writer *w, hid_t file, int64_t n_events, int64_t n_links, int n_receivers,
                              int n_samples, int n_levels, int compression, unsigned what);
/* Write events [start, start+count) (ev[].link_first and n_links set) and
 * their links, rows [link_start, link_start+n_links): links[n_links] (rx
 * set), iq[n_links*N*2], levels[n_links*L]. Collective, counts may be 0. */
int hd_captures_write_sparse(hd_captures_writer *w, int64_t start, int64_t count, const hd_event *ev,
                             int64_t link_start, int64_t n_links, const hd_link *links, const int16_t *iq,
                             const float *levels);

/* Reading a captures file (any source). */
#define HD_CAPTURES_READER_DSETS 48 /* the fields read by block and /iq, /levels */
typedef struct {
    hid_t file;
    int64_t n_events;
    int n_receivers, n_samples, n_levels;
    int has_truth;           /* 0, or HD_CAPTURES_TRUTH with | HD_CAPTURES_HF, | HD_CAPTURES_SITES when those truths are there */
    int has_tx_id;           /* /events/tx_id is there (else every ev.tx_id is -1) */
    int has_clock;           /* /clock/{rate_hz,residual_s,n_fit} are there (else every link's clock is unknown: 0) */
    hd_station *stations;    /* [n_receivers]: id, name, driver, clock, position, … */
    /* the direct chunk path for /iq (see hd_captures_read_block) */
    void *inflater;          /* struct libdeflate_decompressor */
    unsigned char *zbuf, *sbuf;
    size_t zcap;
    int iq_direct;           /* -1 not yet judged, 0 no, 1 yes, 2 yes with a checksum */
    int iq_chunk;            /* events per /iq chunk (direct reading) */
    int64_t iq_cached;       /* the /iq chunk inflated in sbuf (its first event), -1 none */
    int sparse;              /* the sparse layout: link rows, n_links of them */
    int64_t n_links;
    int max_links;           /* sparse: the most links an event has */
    /* the datasets read by block, opened on the first block and kept open
     * (0: not yet): one open and close a dataset per file, not per block,
     * and each one's chunk cache keeps the chunk a block shares with the
     * next (it was inflated again) */
    hid_t dsets[HD_CAPTURES_READER_DSETS];
} hd_captures_reader;

/* Open and check the format (refuses a wrong or newer file), read the
 * receivers table and the dimensions. comm: MPI_COMM_NULL for serial. */
int hd_captures_open(hd_captures_reader *r, const char *path, MPI_Comm comm);
/* The same for another file carrying the captures schema's events,
 * receivers and truth (a features file: format HD_FORMAT_FEATURES, no
 * /iq or /levels, n_samples and n_levels 0). */
int hd_captures_open_as(hd_captures_reader *r, const char *path, const char *format, int max_version, MPI_Comm comm);
/* Either layout (hd_captures_open and _open_as refuse a sparse file:
 * their callers read [event, receiver] rows). */
int hd_captures_open_sparse(hd_captures_reader *r, const char *path, const char *format, int max_version,
                            MPI_Comm comm);
/* Sparse: link rows [first, first+n): links[n] (rx set), iq[n*N*2],
 * levels[n*L]; any may be NULL. Events come from hd_captures_read_block
 * (links NULL), whose ev[].link_first and n_links say where. */
int hd_captures_read_links(hd_captures_reader *r, int64_t first, int64_t n, hd_link *links, int16_t *iq,
                           float *levels);
/* Read events [start, start+count): ev[count], links[count*R] (truth fields
 * NaN when the file has none), iq[count*R*N*2], levels[count*R*L]; any of
 * the output pointers may be NULL. */
int hd_captures_read_block(hd_captures_reader *r, int64_t start, int64_t count, hd_event *ev,
                           hd_link *links, int16_t *iq, float *levels);
void hd_captures_release(hd_captures_reader *r);

#endif
