#include "core/outfile.h"
#include "core/error.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_BUF ((size_t)1 << 18)

/* This host's name, as temporaries carry it ('.' and '/' would confuse the
 * parse: replaced by '-') */
static void host_name(char *h, size_t n)
{
    if (gethostname(h, n) != 0 || !h[0])
        hd_strlcpy(h, "localhost", n);
    h[n - 1] = 0;
    for (char *c = h; *c; c++)
        if (*c == '.' || *c == '/')
            *c = '-';
}

int hd_tmp_name(const char *dir, const char *base, char *buf, size_t size)
{
    char host[64], prefix[1100];
    host_name(host, sizeof host);
    snprintf(prefix, sizeof prefix, ".%s.tmp.", base);
    size_t pl = strlen(prefix);
    int removed = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, pl) != 0)
            continue;
        /* ".<base>.tmp.<host>.<pid>", or ".<base>.tmp.<pid>" (before hosts) */
        const char *rest = e->d_name + pl, *dot = strrchr(rest, '.');
        const char *pid_s = dot ? dot + 1 : rest;
        size_t hl = dot ? (size_t)(dot - rest) : 0;
        char *end;
        long pid = strtol(pid_s, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid())
            continue;
        if (dot && (hl != strlen(host) || strncmp(rest, host, hl) != 0))
            continue; /* another host's run (a shared file system): not ours to judge */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to signal): its run may still be writing */
        char p[2400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        removed += unlink(p) == 0;
    }
    if (d)
        closedir(d);
    int n = snprintf(buf, size, "%s/%s%s.%ld", dir, prefix, host, (long)getpid());
    if (n < 0 || (size_t)n >= size)
        return hd_error(HD_EINVAL, "output path too long: %s/%s", dir, base);
    return removed;
}

int hd_outfile_open(hd_outfile *o, const char *path, int force)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->final_path)
        return hd_error(HD_EINVAL, "output path too long: %s", path);
    struct stat st;
    char dirbuf[1024], basebuf[1024];
    hd_strlcpy(o->final_path, path, sizeof o->final_path);
    hd_strlcpy(dirbuf, path, sizeof dirbuf);
    hd_strlcpy(basebuf, path, sizeof basebuf);
    const char *dir = dirname(dirbuf), *base = basename(basebuf);
    if (!force && stat(path, &st) == 0)
        return hd_error(HD_EEXIST, "%s exists; use --force to overwrite", path);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return hd_error(HD_EIO, "cannot write %s: directory %s does not exist", path, dir);
    int rc = hd_tmp_name(dir, base, o->tmp_path, sizeof o->tmp_path);
    if (rc < 0) {
        o->tmp_path[0] = 0;
        return rc;
    }
    o->f = fopen(o->tmp_path, "w");
    if (!o->f) {
        int e = errno;
        o->tmp_path[0] = 0;
        return hd_error(HD_EIO, "cannot write %s: %s", path,
                        e == ENOSPC || e == EDQUOT ? "no space left on device" : strerror(e));
    }
    /* 256 KiB at a time, not the file system's 4 KiB block: localize's
     * three outputs of the demo's 400 events were 694 write calls (glibc
     * ignores the size unless given the buffer); without memory for it,
     * stdio's own */
    if ((o->buf = malloc(OUT_BUF)) && setvbuf(o->f, o->buf, _IOFBF, OUT_BUF) != 0) {
        free(o->buf);
        o->buf = NULL;
    }
    return 0;
}

int hd_outfile_commit(hd_outfile *o)
{
    if (!o->f)
        return hd_error(HD_EINVAL, "%s is not open", o->final_path);
    int bad = ferror(o->f) || fflush(o->f) != 0 || fsync(fileno(o->f)) != 0;
    int e = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    free(o->buf);
    o->buf = NULL;
    if (bad) {
        unlink(o->tmp_path);
        o->tmp_path[0] = 0;
        return hd_error(HD_EIO, "cannot write %s: %s", o->final_path,
                        e == ENOSPC || e == EDQUOT ? "no space left on device" : strerror(e));
    }
    if (rename(o->tmp_path, o->final_path) != 0) {
        e = errno;
        unlink(o->tmp_path);
        o->tmp_path[0] = 0;
        return hd_error(HD_EIO, "cannot rename to %s: %s", o->final_path, strerror(e));
    }
    o->tmp_path[0] = 0;
    return 0;
}

void hd_outfile_abort(hd_outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    free(o->buf);
    o->buf = NULL;
    if (o->tmp_path[0])
        unlink(o->tmp_path);
    o->tmp_path[0] = 0;
}
