/* Where an importer writes: the output file and what its provenance says.
 * Shared by the importers of src/formats (recordings, POWDER, …). */
#ifndef HD_FORMATS_IMPORT_H
#define HD_FORMATS_IMPORT_H

typedef struct {
    const char *path;            /* output file (written under a temporary name, renamed when complete) */
    int force;                   /* overwrite an existing output */
    int compression;             /* deflate level of the bulk datasets, 0–9 */
    const char *command_line;    /* provenance: argv joined */
    const char *config_yaml;     /* provenance: the resolved config */
} hd_import_out;

#endif
