/* Error codes and the per-thread error message.
 *
 * Library functions return 0 on success or a negative HD_E* code, and leave
 * a human message retrievable with hd_errmsg(). Messages are lower case with
 * no final full stop; commands print "heimdall <cmd>: error: <message>". */
#ifndef HD_CORE_ERROR_H
#define HD_CORE_ERROR_H

enum {
    HD_OK = 0,
    HD_EINVAL = -1,      /* invalid argument (a programming or usage error) */
    HD_ENOMEM = -2,      /* allocation failed */
    HD_EIO = -3,         /* file or system I/O failed */
    HD_ECONFIG = -4,     /* configuration is malformed or out of range */
    HD_EFORMAT = -5,     /* a file is not of the expected format/version */
    HD_EEXIST = -6,      /* output exists and --force was not given */
    HD_EINTR = -7,       /* interrupted by a signal */
    HD_EMPI = -8,        /* MPI or parallel I/O failure */
    HD_ENET = -9,        /* network failure */
    HD_EPARTIAL = -10,   /* done, but partially (e.g. a receiver failed) */
    HD_ENOTFOUND = -11,  /* a named thing does not exist */
    HD_EUNSUPPORTED = -12, /* not supported in this build or by this input */
    HD_EDATA = -13,      /* data are invalid (NaN, empty, inconsistent) */
};

/* Set the message (printf-style) and return code, so that
 *     return hd_error(HD_EINVAL, "bad value %d", v);
 * both reports and propagates. */
int hd_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend context to the current message: "context: previous message".
 * Returns code unchanged. */
int hd_error_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message set in this thread ("" when none). */
const char *hd_errmsg(void);

/* Generic text for a code ("out of memory", …). */
const char *hd_strerror(int code);

void hd_errclear(void);

/* Exit status a command should use for a code: 0 ok, 2 usage/config,
 * 3 partial, 1 otherwise. */
int hd_exit_status(int code);

#endif
