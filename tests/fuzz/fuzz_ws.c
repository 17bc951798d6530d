/* libFuzzer target: the WebSocket frame parser (net/ws.c) over arbitrary
 * bytes, as a client (unmasked frames) and as a server (masked), with a small
 * maximum message so oversize paths are reached. Build:
 *   clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_ws.c src/net/ws.c … */
#include "net/ws.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int side = 0; side < 2; side++) {
        hd_ws_parser p;
        hd_ws_parser_init(&p, 4096, side);
        size_t off = 0, used = 0;
        hd_ws_msg m;
        int rc;
        while ((rc = hd_ws_parse(&p, data + off, size - off, &used, &m)) == 1) {
            off += used;
            if (m.len && m.data[m.len] != 0)   /* the parser NUL-terminates */
                __builtin_trap();
        }
        if (rc == 0 && off + used > size)
            __builtin_trap();
        hd_ws_parser_release(&p);
    }
    return 0;
}
