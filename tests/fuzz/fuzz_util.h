/* Helpers of the libFuzzer targets whose readers take file paths: the
 * input written to a file in a private temporary folder (removed at exit),
 * an input split in parts at NUL bytes, and a mutator that edits a valid
 * heimdall HDF5 file (a seed) from the input's bytes — values overwritten,
 * datasets and attributes deleted, reshaped or retyped — so the readers
 * meet malformed datasets and attributes, not HDF5's own parser on random
 * bytes. */
#ifndef HD_TESTS_FUZZ_UTIL_H
#define HD_TESTS_FUZZ_UTIL_H
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[512];

static void fz_cleanup(void)
{
    if (!fz_dir[0])
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: cannot remove %s\n", fz_dir);
}

/* path of `name` in the private folder, holding size bytes of data */
static const char *fz_file(const char *name, const void *data, size_t size)
{
    static char paths[4][700];
    static int turn = 0;
    if (!fz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/hd-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir))
            abort();
        atexit(fz_cleanup);
    }
    char *p = paths[turn++ % 4];
    snprintf(p, 700, "%s/%s", fz_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return p;
}

/* the next part of data (up to a NUL or the end); *off moves past it */
static size_t fz_part(const uint8_t *data, size_t size, size_t *off, const uint8_t **part)
{
    size_t s = *off < size ? *off : size, e = s;
    while (e < size && data[e] != 0)
        e++;
    *part = data + s;
    *off = e < size ? e + 1 : size;
    return e - s;
}

/* ---- the HDF5 mutator ------------------------------------------------- */

typedef struct {
    char obj[256];  /* path of a dataset or a group ("/" the root) */
    char attr[128]; /* "" the dataset itself, else an attribute of obj */
} fz_item;

typedef struct {
    fz_item *it;
    int n, cap;
    const char *base; /* the object whose attributes are being listed */
} fz_list;

static void fz_add(fz_list *l, const char *obj, const char *attr)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->it = realloc(l->it, (size_t)l->cap * sizeof *l->it);
        if (!l->it)
            abort();
    }
    snprintf(l->it[l->n].obj, sizeof l->it[0].obj, "%s", obj);
    snprintf(l->it[l->n].attr, sizeof l->it[0].attr, "%s", attr);
    l->n++;
}

static herr_t fz_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)loc;
    (void)info;
    fz_list *l = data;
    fz_add(l, l->base, name);
    return 0;
}

static herr_t fz_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    fz_list *l = data;
    if (info->type != H5L_TYPE_HARD)
        return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    if (H5Iget_type(o) == H5I_DATASET)
        fz_add(l, path, "");
    l->base = path;
    hsize_t idx = 0;
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, fz_attr, l);
    H5Oclose(o);
    return 0;
}

typedef struct {
    const uint8_t *p, *end;
} fz_bytes;

static unsigned fz_byte(fz_bytes *b) { return b->p < b->end ? *b->p++ : 0; }

/* fill n bytes from the input (cycling through what is left; zeros when none) */
static void fz_fill(fz_bytes *b, unsigned char *buf, size_t n)
{
    size_t left = (size_t)(b->end - b->p);
    for (size_t i = 0; i < n; i++)
        buf[i] = left ? b->p[i % left] : 0;
    size_t used = n < left ? n : left;
    b->p += used;
}

/* write (or create) the item with type t and space s, values from the input */
static void fz_write(hid_t f, const fz_item *it, hid_t t, hid_t s, fz_bytes *b, int create)
{
    hssize_t np = H5Sget_simple_extent_npoints(s);
    size_t ts = H5Tget_size(t);
    if (np < 0 || np > (1 << 20))
        return;
    size_t n = (size_t)np * ts;
    unsigned char *buf = calloc(n ? n : 1, 1);
    char str[65];
    if (!buf)
        abort();
    if (H5Tis_variable_str(t) > 0) { /* every element the same string from the input */
        size_t len = fz_byte(b) % 64;
        fz_fill(b, (unsigned char *)str, len);
        str[len] = 0;
        for (hssize_t i = 0; i < np; i++)
            ((char **)buf)[i] = str;
    } else {
        fz_fill(b, buf, n);
    }
    if (!it->attr[0]) {
        if (create && H5Ldelete(f, it->obj, H5P_DEFAULT) < 0)
            goto done;
        hid_t d = create ? H5Dcreate2(f, it->obj, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                         : H5Dopen2(f, it->obj, H5P_DEFAULT);
        if (d >= 0) {
            H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            H5Dclose(d);
        }
    } else {
        if (create && H5Adelete_by_name(f, it->obj, it->attr, H5P_DEFAULT) < 0)
            goto done;
        hid_t a = create ? H5Acreate_by_name(f, it->obj, it->attr, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                         : H5Aopen_by_name(f, it->obj, it->attr, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Awrite(a, t, buf);
            H5Aclose(a);
        }
    }
done:
    free(buf);
}

/* the item's current type and space (native type), or -1 */
static int fz_shape(hid_t f, const fz_item *it, hid_t *t, hid_t *s)
{
    hid_t o = it->attr[0] ? H5Aopen_by_name(f, it->obj, it->attr, H5P_DEFAULT, H5P_DEFAULT)
                          : H5Dopen2(f, it->obj, H5P_DEFAULT);
    if (o < 0)
        return -1;
    hid_t ft = it->attr[0] ? H5Aget_type(o) : H5Dget_type(o);
    *s = it->attr[0] ? H5Aget_space(o) : H5Dget_space(o);
    *t = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    H5Tclose(ft);
    if (it->attr[0])
        H5Aclose(o);
    else
        H5Dclose(o);
    return 0;
}

/* Copy the seed to a file of its own and apply the input's edits (up to 12);
 * returns the path of the edited file or NULL. */
static const char *fz_h5_mutate(const char *seed, const uint8_t *data, size_t size)
{
    static unsigned char *seed_bytes = NULL;
    static size_t seed_len = 0;
    if (!seed_bytes) {
        FILE *in = fopen(seed, "rb");
        if (!in) {
            fprintf(stderr, "fuzz: no seed file %s (make fuzz makes it)\n", seed);
            abort();
        }
        fseek(in, 0, SEEK_END);
        seed_len = (size_t)ftell(in);
        fseek(in, 0, SEEK_SET);
        seed_bytes = malloc(seed_len);
        if (!seed_bytes || fread(seed_bytes, 1, seed_len, in) != seed_len)
            abort();
        fclose(in);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    }
    const char *path = fz_file("mutated.h5", seed_bytes, seed_len);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        abort();
    fz_list l = {0};
    l.base = "/";
    hsize_t idx = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, fz_attr, &l);
    H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, fz_link, &l);
    fz_bytes b = {data, data + size};
    for (int k = 0; k < 12 && b.p + 2 <= b.end && l.n > 0; k++) {
        unsigned op = fz_byte(&b) % 5, i = (fz_byte(&b) << 8 | fz_byte(&b)) % (unsigned)l.n;
        const fz_item *it = &l.it[i];
        hid_t t = -1, s = -1;
        if (op == 1) { /* delete */
            if (it->attr[0])
                H5Adelete_by_name(f, it->obj, it->attr, H5P_DEFAULT);
            else
                H5Ldelete(f, it->obj, H5P_DEFAULT);
            continue;
        }
        if (fz_shape(f, it, &t, &s) < 0)
            continue;
        if (op == 2) { /* another shape: scalar or up to 3 dimensions of 0..8 */
            int rank = (int)(fz_byte(&b) % 4);
            hsize_t dims[3];
            for (int r = 0; r < rank; r++)
                dims[r] = fz_byte(&b) % 9;
            H5Sclose(s);
            s = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
        } else if (op == 3) { /* a number where anything was */
            static const hid_t *nums[] = {&H5T_NATIVE_DOUBLE_g, &H5T_NATIVE_INT64_g, &H5T_NATIVE_INT8_g,
                                          &H5T_NATIVE_FLOAT_g};
            H5Tclose(t);
            t = H5Tcopy(*nums[fz_byte(&b) % 4]);
        } else if (op == 4) { /* a fixed-length string where anything was */
            H5Tclose(t);
            t = H5Tcopy(H5T_C_S1);
            H5Tset_size(t, 1 + fz_byte(&b) % 40);
        }
        if (t >= 0 && s >= 0)
            fz_write(f, it, t, s, &b, op != 0);
        if (t >= 0)
            H5Tclose(t);
        if (s >= 0)
            H5Sclose(s);
    }
    free(l.it);
    if (H5Fclose(f) < 0)
        return NULL;
    return path;
}

/* A target whose input edits a seed HDF5 file: the seed's path,
 * $HD_FUZZ_SEEDS/NAME (made by `make fuzz`), set once in
 * LLVMFuzzerInitialize; FZ_SEED_TARGET("model.h5") defines both. */
#define FZ_SEED_TARGET(name)                                                                                           \
    static char fz_seed[600];                                                                                          \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                                                  \
    {                                                                                                                  \
        (void)argc;                                                                                                    \
        (void)argv;                                                                                                    \
        const char *d = getenv("HD_FUZZ_SEEDS");                                                                       \
        snprintf(fz_seed, sizeof fz_seed, "%s/" name, d && *d ? d : "build-fuzz/seeds");                               \
        return 0;                                                                                                      \
    }

#endif
