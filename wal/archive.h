/* WAL objects in the repository: names, lookup, sealed write and verified read.
 *
 * One object per archived file, named by its timeline, its PostgreSQL file name and the checksum of
 * its plaintext (docs/design.md 2):
 *     wal/<TLI>/<name>-<checksum>
 *     wal/00000001/000000010000000000000003-3f1c...e9      (64 hex digits)
 *     wal/00000002/00000002.history-8a0b...
 * TLI is the file's timeline as 8 upper-case hex digits (a .history file's own timeline). The checksum
 * is the repository's blob id of the plaintext (HMAC-SHA256 under the id key; SHA-256 in an
 * unencrypted repository): it identifies the content without revealing it, and is recomputed on every
 * read but a record scan's (lv_wal_object_read_records). The object is the file compressed (zstd) and
 * sealed by lv_repo_seal with "wal/<TLI>/<name>" as associated data, so an object copied under another
 * name does not authenticate. The checksum is left out of the associated data on purpose: a push can
 * then seal while it checksums (two cores, one segment), and a changed checksum in a name is caught
 * anyway, when a read recomputes it.
 *
 * A name has at most one object. Push lists the prefix "wal/<TLI>/<name>-" first: the same checksum
 * means already archived, another one is a conflict and nothing is written. The list-then-put is not
 * atomic across two writers with different bytes for one name (only a split-brain pair of clusters
 * could do that); lv_wal_find reports such a pair as LV_ERR_CONFLICT and fetch refuses to choose.
 *
 * All functions return lv_code with one-line messages naming the file or key. */
#ifndef LV_WAL_ARCHIVE_H
#define LV_WAL_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "repo/repo.h"
#include "store/store.h"
#include "wal/segment.h"

#define LV_WAL_SUM_HEX 64
#define LV_WAL_KEY_MAX 160

typedef struct lv_wal_object {
    char key[LV_WAL_KEY_MAX];
    lv_wal_name name;
    char checksum[LV_WAL_SUM_HEX + 1];
    uint64_t stored_size;             /* sealed bytes in the repository */
} lv_wal_object;

/* Checksum of a file's plaintext, as it appears in object names. */
void lv_wal_checksum(const lv_repo *r, const void *data, size_t n, char out[LV_WAL_SUM_HEX + 1]);

/* "wal/<TLI>/" for a timeline; tli 0 gives "wal/". */
void lv_wal_prefix(uint32_t tli, char *out, size_t len);

/* Build an object (key and fields) from a name and checksum. */
void lv_wal_object_make(const lv_wal_name *n, const char *checksum, lv_wal_object *o);

/* Parse a key back into an object. -1 when the key is not a WAL object's. */
int lv_wal_object_parse(const char *key, uint64_t size, lv_wal_object *o);

/* Look the name up. *count is the number of objects found (0 = provably absent, since the listing
 * succeeded); o receives the first. Two or more objects with different checksums: LV_ERR_CONFLICT. */
int lv_wal_find(lv_store *s, const lv_wal_name *n, lv_wal_object *o, int *count);

/* Every WAL object under wal/<TLI>/ (tli 0: all timelines), in key order. Keys that are not WAL
 * objects are skipped. Return non-zero from cb to stop (that value is returned). */
typedef int (*lv_wal_list_cb)(void *arg, const lv_wal_object *o);
int lv_wal_list(lv_store *s, uint32_t tli, lv_wal_list_cb cb, void *arg);

/* Compress (unless lv_wal_compressible says it would not pay) and seal a file's plaintext for the
 * object of name n (appended to out). */
void lv_wal_object_seal(const lv_repo *r, const lv_wal_name *n, const void *plain, size_t len, lv_buf *out);

/* Whether zstd is worth running over a file: samples of it are compressed first (archive.c). */
int lv_wal_compressible(const void *plain, size_t len);

/* Store sealed bytes as object o (create-only). An existing object with this key is the same content
 * (the key carries the checksum): LV_OK with *existed = 1. Returns once durable. */
int lv_wal_object_store(const lv_repo *r, const lv_wal_object *o, const lv_buf *sealed, int *existed);

/* Get, authenticate, decompress and checksum object o into out. A mismatch is LV_ERR_CORRUPT. */
int lv_wal_object_read(const lv_repo *r, const lv_wal_object *o, lv_buf *out);

/* The same without recomputing the content's checksum, for readers that decode the segment record by
 * record (wal/segscan.h) and so check every record's CRC-32C themselves: the checksum (HMAC-SHA256 of
 * 16 MiB) was two thirds of such a read's CPU. The bytes are still authenticated as this repository's
 * file of o's name (the seal binds it); what is not caught is a key whose checksum part was changed,
 * which tells nothing to a scan, and a push that sealed other bytes than it checksummed, which `repo
 * check --read-data` and every fetch for recovery (restore_command) still catch. */
int lv_wal_object_read_records(const lv_repo *r, const lv_wal_object *o, lv_buf *out);

#endif
