/* The map of tracks against the truth: png (X.png) drawn by GMT from the
 * script X.sh and its data X_{truths,fixes,tracks,receivers}.dat written
 * beside it (redraw or restyle with bash X.sh): per track the truth's path,
 * the fixes and the smoothed states' path, the receivers of the features
 * file (in->features), the fixes' and tracks' median errors on the same
 * events in the title. draw 0: the script and data only. A missing or
 * failing GMT is a warning, not an error. */
#ifndef HD_TRACK_PLOT_H
#define HD_TRACK_PLOT_H
#include "track/io.h"
#include "track/track.h"

int hd_track_write_map(const char *png, const hd_track_input *in, const hd_track_result *r, int draw);

#endif
