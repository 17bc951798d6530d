#include "core/outfile.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    snprintf(o->tmp_path, sizeof o->tmp_path, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
    o->f = fopen(o->tmp_path, "w");
    if (!o->f) {
        int e = errno;
        o->tmp_path[0] = 0;
        return hd_error(HD_EIO, "cannot write %s: %s", path, strerror(e));
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
    if (bad) {
        unlink(o->tmp_path);
        o->tmp_path[0] = 0;
        return hd_error(HD_EIO, "cannot write %s: %s", o->final_path, strerror(e));
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
    if (o->tmp_path[0])
        unlink(o->tmp_path);
    o->tmp_path[0] = 0;
}
