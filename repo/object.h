/* Repository objects: the one way an object other than a pack, a WAL segment or a text object (config,
 * keys, locks) is sealed, named, stored, read back and listed. Index objects, manifests, deletion records,
 * drill records and the stanza all go through it, each a type that says:
 *
 *   key       prefix + name ("index/<64 hex>", "manifests/<64 hex>", "deleted/<64 hex>", "drills/<id>",
 *             "stanza" with an empty name);
 *   name      hashed types (index, manifest, deletion record): the hex SHA-256 of the stored (sealed)
 *             bytes, computed on put and checked on every get, so storage damage is found without the key;
 *             the others: the caller's name, checked by the type's rule;
 *   sealing   lv_repo_seal with the type's associated data (followed by the name for drill records, so a
 *             record cannot pass under another id), zstd or not (docs/repository-format.md 6, 7.5);
 *   put       create-only (LV_PUT_IF_ABSENT): a hashed object already there holds these very bytes, which
 *             is success; a named one already there is LV_ERR_CONFLICT and nothing is written.
 *
 * Errors name the key: LV_ERR_NOT_FOUND (no such object), LV_ERR_CORRUPT (the name does not match, the
 * seal does not open: "<key>: content does not match its name (SHA-256 differs)"), LV_ERR_USAGE (a name
 * the type does not allow), the store's codes. Read paths take a const handle and may run on any thread.
 * The byte formats are unchanged by this module: it only gathers what each object's code did by hand. */
#ifndef LV_REPO_OBJECT_H
#define LV_REPO_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "repo/repo.h"

#define LV_OBJ_NAME_MAX 256
#define LV_OBJ_KEY_MAX (LV_OBJ_NAME_MAX + 16)

typedef struct lv_obj_type {
    const char *prefix;            /* the key is prefix + name */
    const char *aad;               /* associated data of the seal ... */
    int aad_name;                  /* ... followed by the name */
    int hashed;                    /* the name is the hex SHA-256 of the stored object */
    int compress;
    int (*name_ok)(const char *name); /* named types: which names are allowed (NULL: any); never a '/' */
} lv_obj_type;

/* Each owner defines its type: lv_obj_index (repo/index.h), lv_obj_manifest (repo/manifest.h), and the
 * deletion records' (repo/deleted.c), the drill records' and the stanza's in their modules. */

/* The key of name (truncated to n bytes). */
void lv_obj_key(const lv_obj_type *t, const char *name, char *key, size_t n);
/* Is name a name of type t (hashed: 64 lower-case hex digits)? */
int lv_obj_name_valid(const lv_obj_type *t, const char *name);

/* Seal and store plain (see above). Hashed types compute the name (name NULL) into name_out (65 bytes);
 * *existed (may be NULL) says whether the object was there already. Named types take name; name_out
 * may be NULL. */
int lv_obj_put(const lv_repo *r, const lv_obj_type *t, const char *name, const void *plain, size_t n,
               char name_out[65], int *existed);

/* Get, check the name (hashed types), unseal; the plaintext is appended to out (unchanged on failure). */
int lv_obj_get(const lv_repo *r, const lv_obj_type *t, const char *name, lv_buf *out);

/* Every object under the type's prefix, in key order: cb(arg, key, name, size), name NULL when the key is
 * not a name of the type (repo check warns about those, the others skip them). A non-zero return of cb
 * stops the listing and is returned. */
typedef int (*lv_obj_list_fn)(void *arg, const char *key, const char *name, uint64_t size);
int lv_obj_list(const lv_repo *r, const lv_obj_type *t, lv_obj_list_fn cb, void *arg);

#endif
