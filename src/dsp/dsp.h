/* Signal processing over FFTW single precision: spectra, SNR, frequency
 * offset, occupied bandwidth, GCC-PHAT time differences, log-mel
 * spectrograms. Computes on memory only; knows nothing of files.
 *
 * Complex baseband samples are interleaved float pairs (I, Q): x[2n], x[2n+1]
 * — the layout of fftwf_complex. Frequencies are in Hz relative to the
 * tuning (baseband), in [-fs/2, fs/2). */
#ifndef HD_DSP_DSP_H
#define HD_DSP_DSP_H
#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

/* ---- FFT plans ------------------------------------------------------- */
/* Plans are made once per (size, direction) and cached; thread-compatible
 * (one cache per process; call from one thread). Plans are estimated
 * (FFTW_ESTIMATE, or its unbuffered plan where FFTW's cost model prices
 * that lower) unless HD_FFTW_MEASURE=1 or hd_fft_measure (measured); after
 * hd_fft_wisdom_load, the file's plans, and a size it lacks estimated
 * (never measured: every rank then plans alike). */
typedef struct hd_fft_plan hd_fft_plan;
/* A complex-to-complex plan of size n; sign -1 forward, +1 backward
 * (unnormalised). Returns NULL with an error message on failure. */
const hd_fft_plan *hd_fft_plan_get(int n, int sign);
/* Execute on arrays of n complex (2n floats), 64-byte aligned (use
 * hd_aligned_alloc); in may equal out. */
void hd_fft_execute(const hd_fft_plan *p, const float *in, float *out);
/* howmany transforms of n points interleaved, out of place: transform t
 * reads in[k·howmany + t] and writes out[k·howmany + t], k < n (a
 * decimation: x[k1 + howmany·k2] is point k2 of transform k1); in must
 * differ from out. */
const hd_fft_plan *hd_fft_plan_many_t(int n, int howmany, int sign);
int hd_fft_wisdom_load(const char *path);   /* optional; the file's plans are then used */
void hd_fft_measure(void);                   /* plans made from now on measured (FFTW_MEASURE) */
int hd_fft_wisdom_save(const char *path);
/* Profiling: with on, hd_fft_execute adds its time to a total that
 * hd_fft_seconds returns (featurize --profile). */
void hd_fft_profile(int on);
double hd_fft_seconds(void);
void hd_fft_cleanup(void);                  /* destroy cached plans */

/* ---- Spectra ------------------------------------------------------------ */
/* Welch PSD of complex x[n]: Hann window of nfft (power of two not required),
 * overlap 50 %, averaged periodograms; psd[nfft] in power per bin, FFT-shifted
 * (psd[0] is -fs/2, psd[nfft/2] is DC), scaled so that sum(psd) equals the
 * mean power of x (mean |x|^2). */
int hd_dsp_welch(const float *x, int n, int nfft, float *psd);

/* Number of segments hd_dsp_welch averages for n samples. */
int hd_dsp_welch_segments(int n, int nfft);

/* Robust noise floor per bin: the median of the lowest `fraction` (e.g. 0.5)
 * of bins, corrected for the bias of the median of an exponential/chi2
 * distribution of averaged periodograms with `n_avg` segments, so that for
 * white noise it equals the mean per-bin power. */
double hd_dsp_noise_floor(const float *psd, int nfft, double fraction, int n_avg);

/* The same for a spectrum whose bins average Gamma-distributed powers of
 * shape k (the equivalent number of independent periodograms). */
double hd_dsp_noise_floor_shape(const float *psd, int nfft, double fraction, double k);

typedef struct {
    double total_power;      /* mean |x|^2 */
    double noise_power;      /* noise over the full band: floor × nfft */
    double signal_power;     /* max(total - noise, tiny) */
    double snr_db;           /* 10 log10(signal / noise) over the full band */
    double freq_offset_hz;   /* power-weighted centroid of the peak region, or
                                interpolated peak (see below) */
    double peak_freq_hz;     /* strongest bin with sub-bin interpolation */
    double occupied_bw_hz;   /* 99 % of the signal power (above floor) */
    double rms_bw_hz;        /* RMS bandwidth of the signal around its centroid
                                (for the time-difference CRLB) */
    double rss_dbfs;         /* 10 log10(total_power) with full scale = 1.0 */
} hd_spectral;

/* Summary of a PSD (from hd_dsp_welch) of a capture at sample rate fs. */
int hd_dsp_spectral(const float *psd, int nfft, int n_avg, double fs, hd_spectral *out);

int hd_dsp_spectral_shape(const float *psd, int nfft, double shape, double fs, hd_spectral *out);

/* Welch PSD (nfft) and its summary in one call, with the SNR refined at high
 * SNR by the second- and fourth-moment (M2M4) estimator, exact for
 * constant-envelope signals (FM, FSK, CW) whatever their spectrum: spectral
 * tails of a strong FM signal fill the bins a spectral noise floor needs.
 * psd: nfft floats of scratch (filled). */
int hd_dsp_analyze(const float *x, int n, int nfft, double fs, float *psd, hd_spectral *out);

/* The M2M4 refinement of hd_dsp_analyze alone (out from a spectrum of x). */
void hd_dsp_m2m4(const float *x, int n, hd_spectral *out);

/* ---- Cross-correlation time differences ----------------------------------- */
typedef struct {
    double delay_s;          /* lag of b relative to a: b(t) ≈ a(t - delay) */
    double peak;             /* normalised GCC-PHAT peak height */
    double psr_db;           /* peak-to-sidelobe ratio */
    double sigma_s;          /* standard deviation estimate of delay_s */
    int valid;               /* peak significant (psr above threshold) */
    double freq_diff_hz;     /* hd_dsp_tdoa: b's frequency minus a's, removed before timing */
} hd_xcorr;

/* GCC-PHAT between a and b (n complex samples each, sample rate fs), zero
 * padded against circular wrap, searching lags within ±max_lag_s. PHAT
 * weighting is applied over the bins where the cross-spectrum stands above
 * its noise (the signal's band); the integer peak is refined to a fraction of
 * a sample by a weighted least-squares fit of the residual cross-spectrum
 * phase slope. snr_a/snr_b (linear, full band) and rms_bw_hz give sigma_s
 * from the Cramér–Rao bound for a time difference between two noisy copies:
 *   sigma = 1 / (2π β sqrt(2 n · snr_eff)),  snr_eff = sa sb / (1 + sa + sb).
 * psr_db = 10 log10(peak² / mean |r|² outside ±4 samples of the peak, within
 * the searched lags); valid = psr_db ≥ psr_min_db. */
int hd_dsp_gcc_phat(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                    double snr_b, double rms_bw_hz, double psr_min_db, hd_xcorr *out);

/* Time difference between two receivers' captures of one signal whose
 * frequencies differ by their LO errors: a coarse GCC-PHAT, the frequency
 * difference measured from the aligned product conj(a)·b (zero-padded FFT
 * peak, interpolated), b de-rotated by it, and GCC-PHAT again. Without the
 * correction a hertz of LO difference pulls an FM or 4FSK correlation by
 * microseconds (delay–Doppler coupling). A signal with no bandwidth to time
 * (a CW carrier: fewer than 8 bins in band) is never valid. Arguments as
 * hd_dsp_gcc_phat; `scratch` holds 2·hd_dsp_xcorr_size(n) floats. */
int hd_dsp_tdoa(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                double snr_b, double rms_bw_hz, double psr_min_db, float *scratch, hd_xcorr *out);

/* Time difference of a narrow signal from its modulation, for what
 * hd_dsp_tdoa cannot time: a keyed carrier (CW, on-off time codes), AM, a
 * signal whose receivers' frequencies differ by more than a long capture's
 * coherence allows. Both captures' envelope |x| and instantaneous
 * frequency are formed (insensitive to the LO offsets between receivers;
 * a band narrower than the capture at a decimated rate, four times its
 * width or more), each pair of series is correlated (up to half the band filter's width)
 * from its segment-averaged cross spectrum with the maximum-likelihood
 * weighting γ²/((1-γ²)|S_ab|), γ² the bias-corrected coherence; the
 * integer lag (within center_s ± max_lag_s) is refined by the
 * coherence-weighted phase slope, then timed again with b's series aligned
 * on it; sigma_s is the larger of the Knapp–Carter bound
 * 1/sqrt(2T ∫(2πf)² γ²/(1-γ²) df) from the same coherence and a jackknife
 * over ten blocks of segments, so a 30 s capture's processing gain counts
 * in full and the sigma matches the errors' spread (tests/unit/test_crlb.c).
 * The kind with the smaller sigma is kept (*kind_used 0 envelope, 1
 * instantaneous frequency, -1 none valid); valid needs 3 coherent bins and
 * psr_db ≥ psr_min_db. Overlaps under 512 samples are never valid. */
int hd_dsp_modulation_tdoa(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s,
                           double psr_min_db, int *kind_used, hd_xcorr *out);
/* The same for the pairs of one event: a cache of n-sample captures keeps
 * each receiver's spectrum, band and modulation series (up to 64 MiB of
 * them), so a receiver in R - 1 pairs is transformed and demodulated once
 * per band; ia, ib (< 64, different) name the receivers of a and b, whose
 * samples must not change until hd_mod_cache_clear (the next event). The
 * results equal hd_dsp_modulation_tdoa's. */
typedef struct hd_mod_cache hd_mod_cache;
int hd_mod_cache_new(hd_mod_cache **c, int n);
void hd_mod_cache_clear(hd_mod_cache *c);
void hd_mod_cache_free(hd_mod_cache *c);
int hd_dsp_modulation_tdoa_rx(hd_mod_cache *c, int ia, int ib, const float *a, const float *b, int n, double fs,
                              double center_s, double max_lag_s, double psr_min_db, int *kind_used, hd_xcorr *out);

/* The same from spectra computed once per receiver (hd_dsp_spectrum), so a
 * network of R receivers needs R forward transforms, not R(R-1). */
int hd_dsp_tdoa_spec(const float *a, const float *b, const float *SA, const float *SB, int n, double fs, double center_s,
                     double max_lag_s, double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, float *scratch,
                     hd_xcorr *out);
/* Zero-padded transform length for correlating n samples, and the
 * transform itself: X (2·hd_dsp_xcorr_size(n) floats, 64-byte aligned). */
int hd_dsp_xcorr_size(int n);
int hd_dsp_spectrum(const float *x, int n, float *X);

/* GCC-PHAT without the phase-slope refinement: the integer peak with its
 * parabolic fraction (what hd_dsp_gcc_phat_mpi computes). */
int hd_dsp_gcc_phat_coarse(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s,
                           double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, hd_xcorr *out);

/* The same with fftw3-mpi distributed transforms over comm (collective):
 * for captures too long for one rank's transform. a and b are the whole
 * captures on every rank; each rank transforms its slice. */
int hd_dsp_gcc_phat_mpi(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s,
                        double snr_a, double snr_b, double rms_bw_hz, double psr_min_db, MPI_Comm comm, hd_xcorr *out);

/* b's frequency minus a's (Hz) when b(t) ≈ a(t - tau/fs) e^{j2π df t}:
 * from conj(a(m))·b(m + tau) (tau in samples, b linearly interpolated at
 * its fraction), block sums of 8, the peak of their zero-padded transform
 * and the phase slope over 8 segments. Reach ±fs/16. Returns 1 when
 * measured, 0 (df 0) when the overlap is under 256 samples or no tone
 * stands out of the product (b misaligned, or no common signal). */
int hd_dsp_freq_diff(const float *a, const float *b, int n, double fs, double tau, double *df);

/* hd_dsp_gcc_phat_mpi with the frequency-difference correction of
 * hd_dsp_tdoa: a distributed coarse correlation, the frequency difference
 * (hd_dsp_freq_diff, local: every rank holds both captures), b de-rotated
 * into scratch (2n floats) and correlated again (collective over comm). */
int hd_dsp_tdoa_mpi(const float *a, const float *b, int n, double fs, double center_s, double max_lag_s, double snr_a,
                    double snr_b, double rms_bw_hz, double psr_min_db, MPI_Comm comm, float *scratch, hd_xcorr *out);

/* ---- One event's receivers together ------------------------------------------
 * What featurize uses: every receiver's capture is transformed once, and
 * everything comes from that spectrum.
 *  - Its PSD is a Daniell estimate: the capture (10 % Tukey taper) is
 *    transformed at a length M a little above n, Hann-windowed in the
 *    frequency domain (a 3-tap convolution) and its bins averaged in groups
 *    onto the nfft-bin grid of hd_dsp_welch (same scaling, same summary).
 *  - Pairs correlate only over their common band (PSD bins clearly above
 *    both floors): GCC-PHAT as one short inverse transform of the band (the
 *    band-limited correlation sampled at its own rate), the peak within the
 *    lag window, then the phase slope fitted with Hannan–Thomson weights
 *    (per-bin SNR_a SNR_b / (1 + SNR_a + SNR_b) from the PSDs).
 *  - Frequency differences (LO errors) are measured once per receiver
 *    against a reference (the best SNR): the aligned product conj(ref)·x,
 *    block sums, a short transform and a segment phase slope; the capture is
 *    de-rotated and transformed again. Every pair then correlates
 *    de-rotated spectra.
 *  - sigma_s is the bound of that weighted fit from the per-bin SNRs (the
 *    Cramér–Rao bound of the band actually used).
 *  - The pairs' spectra are of the captures windowed over the instants all
 *    timed captures cover (absolute time), so that captures started apart
 *    weight the same stretch of the signal. */
typedef struct hd_dsp_net hd_dsp_net;
hd_dsp_net *hd_dsp_net_new(int n_receivers, int n, int nfft);
void hd_dsp_net_free(hd_dsp_net *w);
/* The next events' receivers: 1 to the n_receivers it was made for. */
int hd_dsp_net_resize(hd_dsp_net *w, int n_receivers);
/* A new event at sample rate fs whose pairs search lags up to max_abs_lag
 * samples (time-stamp spread + max lag); forgets the previous receivers. */
int hd_dsp_net_begin(hd_dsp_net *w, double fs, int max_abs_lag);
/* Receiver r's capture x (n samples; must stay valid until hd_dsp_net_tdoa):
 * spectrum, PSD (psd: nfft floats, filled) and summary with M2M4. */
int hd_dsp_net_receiver(hd_dsp_net *w, int r, const float *x, float *psd, hd_spectral *out);
/* Time differences of the receivers with use[r] (each analysed by
 * hd_dsp_net_receiver), t0_s[r] their first-sample time stamps (pair (i, j)
 * searches center -(t0_j - t0_i) ± max_lag_s); out[P] in pair order (0,1),
 * (0,2), …, (R-2,R-1); delay_s excludes the time stamps (as hd_dsp_tdoa).
 * reference_only: only the pairs with the reference receiver (the best
 * SNR) are computed, the others are left invalid. *ref gets the reference
 * (-1 when fewer than two receivers are used). */
int hd_dsp_net_tdoa(hd_dsp_net *w, const unsigned char *use, const double *t0_s, double max_lag_s, double psr_min_db,
                    int reference_only, hd_xcorr *out, int *ref);
/* After hd_dsp_net_tdoa: receiver r correlated with the reference (a peak)
 * but no single frequency difference explains their product (an LO that
 * drifts or hops during the capture): its pairs are left invalid. */
int hd_dsp_net_no_freq_lock(const hd_dsp_net *w, int r);

/* ---- Log-mel spectrogram ---------------------------------------------------- */
/* Frames of n_fft samples every hop (Hann window), power spectrum, mapped
 * onto n_mels triangular filters equally spaced on the mel scale
 * (2595 log10(1 + f/700)) of |f| over [0, fs/2] (a baseband spectrum folds
 * its two sides together), out[frame * n_mels + m] = log10(energy + 1e-12).
 * Frames: 1 + (n - n_fft) / hop, or 0 when n < n_fft. */
int hd_dsp_logmel_frames(int n, int n_fft, int hop);
int hd_dsp_logmel(const float *x, int n, double fs, int n_fft, int hop, int n_mels, float *out);

/* int16 interleaved IQ → float interleaved, scaled by `scale`. */
void hd_dsp_iq_to_float(const int16_t *iq, size_t n, float scale, float *out);

/* ---- Clock resampling ------------------------------------------------------- */
/* x[2n] (interleaved IQ) was sampled by a clock running at rate_hz, not the
 * nominal fs: resample it in place onto n samples at fs from the same first
 * sample (windowed-sinc interpolation; samples past the end are zero).
 * scratch: 2n floats. Nothing is done when rate_hz is unknown (0, NaN) or
 * the drift over the capture is below a thousandth of a sample
 * (hd_dsp_clock_drift_small). */
int hd_dsp_resample_clock(float *x, int n, double fs, double rate_hz, float *scratch);
int hd_dsp_clock_drift_small(int n, double fs, double rate_hz);

#endif
