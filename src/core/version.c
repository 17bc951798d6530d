#include "h5/h5.h"

#ifndef HD_GIT_COMMIT
#define HD_GIT_COMMIT "unknown"
#endif

const char *hd_version(void) { return "0.1.0"; }
const char *hd_git_commit(void) { return HD_GIT_COMMIT; }
