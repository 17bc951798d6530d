/* configs/ embedded into the binary so the default runs from anywhere.
 * Assembled with -Wa,-I<repo>/configs (see the Makefile). */
    .section .rodata
    .global hd_embedded_default_yaml
    .type hd_embedded_default_yaml, @object
hd_embedded_default_yaml:
    .incbin "default.yaml"
    .byte 0
    .global hd_embedded_smoke_yaml
    .type hd_embedded_smoke_yaml, @object
hd_embedded_smoke_yaml:
    .incbin "smoke.yaml"
    .byte 0
    .global hd_embedded_nw_italy_yaml
    .type hd_embedded_nw_italy_yaml, @object
hd_embedded_nw_italy_yaml:
    .incbin "stations/nw-italy.yaml"
    .byte 0
    .section .note.GNU-stack,"",@progbits
