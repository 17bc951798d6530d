/* The POWDER data set (formats/powder.h, read into memory) as a features
 * file: level-only receivers with RSS features and no time differences,
 * bus positions per sample (/rx_lat, /rx_lon), the GPS truth, and the
 * honest splits (/splits/month, /splits/time_block). */
#ifndef HD_FORMATS_POWDER_IMPORT_H
#define HD_FORMATS_POWDER_IMPORT_H
#include "capture/event.h"
#include "formats/import.h"
#include "formats/powder.h"

/* Samples [first, first+n) as events and links: ev[n], lk[n*R] (status ok,
 * has_levels where heard, truth the GPS position), feat[n*R*HD_FEAT_COUNT]
 * zeroed here, RSS as rss_dbfs and rss_dbm where heard. */
void hd_powder_events(const hd_powder *p, int64_t first, int n, hd_event *ev, hd_link *lk, float *feat);
/* Write the whole features file; inputs: the CSV and the receivers list
 * (hashed into the provenance). */
int hd_powder_write_features(const hd_import_out *o, const hd_powder *p, const char *const inputs[2]);

#endif
