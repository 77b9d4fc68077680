/* Lower-case hexadecimal encoding of binary identifiers (blob ids, pack ids, key ids). */
#ifndef LV_COMMON_HEX_H
#define LV_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex digits and a NUL into out (size >= 2*n+1). */
void lv_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2*n hex digits; returns 0 on success, -1 on bad input. */
int lv_hex_decode(const char *in, uint8_t *out, size_t n);

#endif
