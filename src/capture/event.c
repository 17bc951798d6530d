#include "capture/event.h"

#include <math.h>

const char *hd_rx_status_name(int s)
{
    static const char *const names[HD_RX_STATUS_COUNT] = {"ok", "refused", "timeout", "busy",
                                                          "auth", "protocol", "disconnected", "not_run"};
    return s >= 0 && s < HD_RX_STATUS_COUNT ? names[s] : "unknown";
}

const char *hd_prop_mode_name(int m)
{
    static const char *const names[HD_MODE_COUNT] = {"ground", "1F2", "2F2"};
    return m >= 0 && m < HD_MODE_COUNT ? names[m] : "unknown";
}

void hd_tx_truth_unknown(hd_tx_truth *t)
{
    t->lat = t->lon = t->alt_m = t->height_m = NAN;
    t->power_dbm = t->gain_dbi = t->freq_offset_hz = NAN;
    t->signal_type = -1;
}

void hd_link_truth_unknown(hd_link_truth *t)
{
    t->distance_m = t->path_loss_db = t->shadowing_db = t->fading_db = t->rx_power_dbm = NAN;
    t->noise_dbm = t->snr_db = t->arrival_s = t->true_t0_s = t->clock_error_s = NAN;
    t->lo_offset_hz = t->sample_rate_error_ppm = t->freq_offset_hz = NAN;
    t->prop_mode = -1;
    t->excess_delay_s = NAN;
    t->rx_lat = t->rx_lon = NAN;
}
