/* Just enough XML for S3 responses (ListBucketResult, InitiateMultipartUploadResult,
 * CompleteMultipartUploadResult, DeleteResult, Error) and request bodies.
 *
 * S3 response documents are flat records of simple elements; no CDATA, no comments, no element that
 * contains one of its own name. So instead of a general parser we find elements by name, strictly:
 * "<Key>" never matches "<KeyMarker>", "<Key/>" is an empty element, attributes are skipped, a missing
 * closing tag is malformed. Text is entity-decoded (the five named entities and &#N; / &#xN;), since
 * keys may contain '&', '<', quotes. Everything works on [begin, end) ranges: bodies are not
 * NUL-terminated. */
#ifndef LV_STORE_S3_XML_H
#define LV_STORE_S3_XML_H

#include "common/buf.h"

/* Find the next <tag>..</tag> in [*pos, end). Returns 1 and sets [*vs, *ve) to the raw content and
 * *pos past the closing tag; 0 when there is none; -1 when the element is not closed. */
int s3_xml_next(const char **pos, const char *end, const char *tag, const char **vs, const char **ve);

/* Decode the text [vs, ve) into out (reset first, NUL-terminated). Returns 0, or -1 for a malformed
 * entity, an embedded NUL, or a nested element. */
int s3_xml_text(const char *vs, const char *ve, lv_buf *out);

/* Convenience: decoded text of the first <tag> in [begin, end) into out. 1 found, 0 absent, -1 bad. */
int s3_xml_get(const char *begin, const char *end, const char *tag, lv_buf *out);

/* Append s with &, <, >, ", ' escaped. */
void s3_xml_escape(lv_buf *out, const char *s);

#endif
