/* Text that comes from outside: UTF-8 validation, and file names made safe for a terminal.
 *
 * A file name may hold any byte but '/' and NUL. Printed raw, a newline in it forges a line of output and
 * an escape sequence drives the terminal. lv_quote_name writes a name the way `ls -b` (GNU "escape"
 * quoting) does, so every line of human output is one entry and the original bytes can be read back:
 *   \\  for a backslash;  \a \b \t \n \v \f \r  for those controls;
 *   \ooo (three octal digits) for every other C0 control, DEL, the C1 controls U+0080..U+009F (each byte
 *   of their UTF-8 form) and every byte that is not part of valid UTF-8;
 *   everything else (printable ASCII, valid UTF-8) unchanged. */
#ifndef LV_COMMON_TEXT_H
#define LV_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Length of the valid UTF-8 sequence at p (1 for ASCII, 2..4), or 0 when p does not start one: overlong
 * forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF and truncated sequences are invalid.
 * At most avail bytes are read; a NUL ends any sequence, so a NUL-terminated string may pass SIZE_MAX. */
size_t lv_utf8_seq_len(const unsigned char *p, size_t avail);

/* Append name[0..len) quoted as above. */
void lv_quote_name(lv_buf *out, const void *name, size_t len);
/* The same for a NUL-terminated string. */
void lv_quote_str(lv_buf *out, const char *s);

/* A byte count for people: "812 B", "1.5 MiB" (binary units, one decimal). */
void lv_human_size(uint64_t v, char out[32]);

#endif
