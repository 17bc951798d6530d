/* h5 integrity: the Fletcher-32 checksum equals HDF5's own (stored after
 * each chunk); every dataset with data carries it (the small ones written
 * whole as one chunk); a flipped byte inside a chunk is reported as
 * "checksum mismatch in /x" by the row and whole readers and by
 * hd_h5_check_integrity, which names the dataset and chunk. */
#include "core/error.h"
#include "h5/h5.h"
#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t H5_checksum_fletcher32(const void *data, size_t len); /* exported by libhdf5, not declared */

#define E 5
#define N 300

static int make(const char *path)
{
    hd_h5_out o;
    int rc = hd_h5_create(&o, path, 1, MPI_COMM_NULL);
    if (rc)
        return rc;
    hd_h5_provenance p = {.format = "captures", .version = 1, .command_line = "test", .config_yaml = "seed: 1\n"};
    float v[E * N];
    for (int i = 0; i < E * N; i++)
        v[i] = (float)i * 0.25f;
    hsize_t dims[2] = {E, N}, chunk[2] = {1, N}, small[1] = {3}, none[1] = {0};
    double s[3] = {1, 2, 3};
    hid_t d = -1, z = -1;
    if ((rc = hd_h5_write_provenance(&o, &p)) < 0 ||
        (d = hd_h5_dataset(o.file, "x", H5T_NATIVE_FLOAT, 2, dims, chunk, 4, "1", "test")) < 0 ||
        (rc = hd_h5_write_rows(d, H5T_NATIVE_FLOAT, 0, E, v)) < 0 ||
        (rc = hd_h5_write(o.file, "s", H5T_NATIVE_DOUBLE, 1, small, s, "1", "small")) < 0 ||
        (z = hd_h5_dataset(o.file, "z", H5T_NATIVE_DOUBLE, 1, none, none, 0, "1", "empty")) < 0) {
        if (d >= 0)
            H5Dclose(d);
        hd_h5_abort(&o);
        return rc < 0 ? rc : (int)d;
    }
    H5Dclose(d);
    H5Dclose(z);
    return hd_h5_commit(&o);
}

int main(void)
{
    plan_no_plan();
    unsigned char buf[5000];
    srand(7);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rand();
    int same = 1;
    size_t lens[] = {0, 1, 2, 3, 719, 720, 721, 1441, 4999, 5000};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
        same &= hd_h5_fletcher32(buf, lens[k]) == H5_checksum_fletcher32(buf, lens[k]);
    ok(same, "hd_h5_fletcher32 equals HDF5's checksum (even, odd, folded lengths)");

    char dir[] = "/tmp/hd-test-h5check.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    is_int(make(path), 0, "a file with a chunked (compressed) and a small dataset");

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "x", H5P_DEFAULT), s = H5Dopen2(f, "s", H5P_DEFAULT), z = H5Dopen2(f, "z", H5P_DEFAULT);
    ok(hd_h5_has_checksum(d) == 1, "the chunked dataset carries Fletcher-32");
    ok(hd_h5_has_checksum(s) == 1, "the small one written whole too (one chunk)");
    ok(hd_h5_has_checksum(z) == 0, "an empty one cannot (contiguous: no chunk)");
    haddr_t saddr = 0;
    hsize_t soff[1] = {0}, ssz = 0;
    hid_t sfs = H5Dget_space(s);
    ok(H5Dget_chunk_info(s, sfs, 0, soff, &(unsigned){0}, &saddr, &ssz) >= 0 && ssz == 3 * 8 + 4,
       "its one chunk: 3 doubles and the checksum");
    H5Sclose(sfs);
    hsize_t off[2] = {2, 0}, sz = 0;
    haddr_t addr = 0;
    unsigned mask = 0;
    unsigned char raw[4096];
    H5Dget_chunk_storage_size(d, off, &sz);
    ok(sz > 4 && sz <= sizeof raw && H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw) >= 0, "chunk 2 read raw");
    uint32_t stored = (uint32_t)raw[sz - 4] | (uint32_t)raw[sz - 3] << 8 | (uint32_t)raw[sz - 2] << 16 |
                      (uint32_t)raw[sz - 1] << 24;
    is_int(hd_h5_fletcher32(raw, sz - 4), stored, "the checksum stored after the chunk's bytes is ours");
    hsize_t coff[2], csz = 0;
    hid_t fs = H5Dget_space(d);
    ok(H5Dget_chunk_info(d, fs, 2, coff, &mask, &addr, &csz) >= 0 && coff[0] == 2, "chunk 2's place in the file");
    H5Sclose(fs);
    hd_h5_integrity r;
    is_int(hd_h5_check_integrity(f, &r), 0, "integrity check of the intact file");
    ok(r.n_problems == 0 && r.chunks == E + 1 && r.chunked == 2 && r.checksummed == 2 && r.contiguous == 0 &&
           r.unread == 1,
       "intact: %lld chunks of %d chunked datasets (%d checksummed), %d contiguous, %d empty", r.chunks, r.chunked,
       r.checksummed, r.contiguous, r.unread);
    H5Dclose(d);
    H5Dclose(s);
    H5Dclose(z);
    H5Fclose(f);

    /* one bit flipped in the middle of chunk 2's stored bytes */
    int fd = open(path, O_RDWR);
    unsigned char b = 0, b2 = 0;
    off_t at = (off_t)addr + (off_t)csz / 2, at2 = (off_t)saddr + 9; /* and one in the second double of /s */
    ok(fd >= 0 && pread(fd, &b, 1, at) == 1 && pread(fd, &b2, 1, at2) == 1, "read the bytes");
    b ^= 0x10;
    b2 ^= 0x01;
    ok(pwrite(fd, &b, 1, at) == 1 && pwrite(fd, &b2, 1, at2) == 1 && close(fd) == 0, "flip one bit in each");

    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    d = H5Dopen2(f, "x", H5P_DEFAULT);
    float v[E * N];
    is_int(hd_h5_read_rows(d, H5T_NATIVE_FLOAT, 0, 2, v), 0, "rows before the damaged chunk read");
    is_int(hd_h5_read_rows(d, H5T_NATIVE_FLOAT, 1, 3, v), HD_EDATA, "rows over it fail with HD_EDATA");
    like(hd_errmsg(), "checksum mismatch in /x rows [1, 4)", "checksum mismatch in /x, which rows");
    H5Dclose(d);
    int rank;
    hsize_t dims[8];
    void *all = NULL;
    is_int(hd_h5_read(f, "x", H5T_NATIVE_FLOAT, &rank, dims, &all), HD_EDATA, "reading it whole fails too");
    like(hd_errmsg(), "checksum mismatch in /x", "with the dataset's name");
    ok(all == NULL, "and no data");
    double *sv2 = NULL;
    is_int(hd_h5_read(f, "s", H5T_NATIVE_DOUBLE, &rank, dims, (void **)&sv2), HD_EDATA, "the small /s: refused too");
    like(hd_errmsg(), "checksum mismatch in /s", "naming /s");
    is_int(hd_h5_check_integrity(f, &r), 0, "integrity check of the damaged file runs");
    is_int(r.n_problems, 2, "two problems");
    like(r.problems[0], "checksum mismatch in /s chunk at [0]", "/s named (visited first)");
    like(r.problems[1], "checksum mismatch in /x chunk at [2, 0]", "the dataset and chunk named");
    like(r.problems[1], "1 of 5 chunks of /x bad", "only that chunk");
    H5Fclose(f);

    /* single-value attribute readers refuse an array (they overran it before; found by fuzz_model) */
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    double three[3] = {1, 2, 3};
    hd_h5_attr_doubles(f, "trio", three, 3);
    double one = 0;
    is_int(hd_h5_read_attr_double(f, "trio", &one), HD_EFORMAT, "an array attribute read as one number: refused");
    like(hd_errmsg(), "attribute trio is not a single number", "saying so");
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    hsize_t two = 2;
    hid_t sp = H5Screate_simple(1, &two, NULL), a = H5Acreate2(f, "pair", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *pair[2] = {"a", "b"};
    H5Awrite(a, st, pair);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    char *sv = NULL;
    is_int(hd_h5_read_attr_str(f, "pair", &sv), HD_EFORMAT, "an array of strings read as one string: refused");
    ok(sv == NULL, "and nothing returned");
    H5Fclose(f);

    /* chunks are found by their place in the grid (over both dimensions
     * here), the ones never written skipped: in the 1.10 format heimdall
     * writes (fixed-array index) and the earliest one (v1 B-tree) */
    for (int fmt = 0; fmt < 2; fmt++) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, fmt ? H5F_LIBVER_V110 : H5F_LIBVER_EARLIEST, H5F_LIBVER_V110);
        hid_t g = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        H5Pclose(fapl);
        hsize_t gd[2] = {7, 10}, gc[2] = {2, 4}; /* a 4 x 3 grid, the last row and column partial */
        hid_t gx = g >= 0 ? hd_h5_dataset(g, "g", H5T_NATIVE_FLOAT, 2, gd, gc, 0, "1", "grid") : -1;
        float gv[3 * 10] = {0};
        /* rows 2..4: grid rows 1 and 2, all three columns: 6 chunks */
        int wrote = gx >= 0 && hd_h5_write_rows(gx, H5T_NATIVE_FLOAT, 2, 3, gv) == 0;
        if (gx >= 0)
            H5Dclose(gx);
        if (g >= 0)
            H5Fclose(g);
        g = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        /* damage chunk [4, 8] (grid row 2, column 2: partial) */
        gx = g >= 0 ? H5Dopen2(g, "g", H5P_DEFAULT) : -1;
        hsize_t want[2] = {4, 8}, gsz = 0;
        haddr_t gaddr = 0;
        hid_t gs = gx >= 0 ? H5Dget_space(gx) : -1;
        int found = 0;
        hsize_t nchunks = 0;
        if (gs >= 0 && H5Dget_num_chunks(gx, gs, &nchunks) >= 0)
            for (hsize_t k = 0; k < nchunks; k++) {
                hsize_t o2[2];
                unsigned m2;
                if (H5Dget_chunk_info(gx, gs, k, o2, &m2, &gaddr, &gsz) >= 0 && o2[0] == want[0] && o2[1] == want[1]) {
                    found = 1;
                    break;
                }
            }
        if (gs >= 0)
            H5Sclose(gs);
        if (gx >= 0)
            H5Dclose(gx);
        if (g >= 0)
            H5Fclose(g);
        fd = open(path, O_RDWR);
        unsigned char gb = 0;
        int flipped = found && fd >= 0 && pread(fd, &gb, 1, (off_t)gaddr + 1) == 1 && (gb ^= 0x40, 1) &&
                      pwrite(fd, &gb, 1, (off_t)gaddr + 1) == 1;
        if (fd >= 0)
            close(fd);
        ok(wrote && nchunks == 6 && flipped, "%s format: 6 of 12 chunks written, one damaged",
           fmt ? "1.10" : "earliest");
        g = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        ok(g >= 0 && hd_h5_check_integrity(g, &r) == 0 && r.chunks == 6 && r.chunked == 1 && r.n_problems == 1,
           "%s format: 6 chunks checked (%lld), the unwritten ones skipped", fmt ? "1.10" : "earliest", r.chunks);
        like(r.problems[0], "checksum mismatch in /g chunk at [4, 8] (the file is damaged); 1 of 6 chunks of /g bad", "the damaged one named");
        if (g >= 0)
            H5Fclose(g);
    }
    unlink(path);
    rmdir(dir);
    done_testing();
    return exit_status();
}
