/* Typed errors whose code is the process exit code.
 *
 * Contract: a function that can fail returns int: 0 (LV_OK) on success, or one of the lv_code values
 * below. Before returning a non-zero code it records a one-line message with lv_err(), naming the cause
 * and the object ("pack data/ab/ab12...: authentication failed"). Callers either handle the error, pass
 * the code up unchanged, or add context with lv_err_ctx(). The message lives in thread-local storage,
 * so concurrent workers each keep their own. The numbers are public: docs/exit-codes.md documents them
 * and scripts depend on them, so never renumber. */
#ifndef LV_COMMON_ERROR_H
#define LV_COMMON_ERROR_H

typedef enum lv_code {
    LV_OK = 0,
    LV_ERR_NOT_FOUND = 1,   /* the object asked for does not exist (wal fetch: provably absent) */
    LV_ERR_USAGE = 2,       /* bad command line */
    LV_ERR_CONFIG = 3,      /* bad configuration file, environment variable or value */
    LV_ERR_UNREACHABLE = 4, /* repository unreachable: network, DNS, TLS, HTTP 5xx after retries */
    LV_ERR_AUTH = 5,        /* authentication or decryption failure: wrong key/passphrase, 403 */
    LV_ERR_CORRUPT = 6,     /* data corruption: checksum or authentication tag mismatch, bad format */
    LV_ERR_LOCKED = 7,      /* lock conflict: another process holds the lock */
    LV_ERR_PG = 8,          /* PostgreSQL error */
    LV_ERR_INCOMPLETE = 9,  /* the operation finished but skipped something (unreadable files) */
    LV_ERR_CONFLICT = 10,   /* an object exists with different content; nothing was overwritten */
    LV_ERR_IO = 11,         /* local I/O error: disk full, permission denied, read error */
    LV_ERR_CHECK = 12,      /* a verification or drill check failed */
    LV_ERR_INTERNAL = 13,   /* a bug: an invariant did not hold */
    LV_ERR_INTERRUPTED = 14 /* stopped by SIGINT/SIGTERM; cleanup ran */
} lv_code;

#define LV_ERR_MAX 14

/* Record the error message (printf-style) for this thread and return code. The message is made one line
 * (newlines and tabs become spaces, other control characters "?"); its arguments may include lv_errmsg(). */
int lv_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "context: " and return the current code. */
int lv_err_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Map errno to a code (ENOSPC/EACCES/EIO... -> LV_ERR_IO, ENOENT -> LV_ERR_NOT_FOUND) and record
 * "<what>: <strerror>". */
int lv_err_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message and code of the last error recorded on this thread. */
const char *lv_errmsg(void);
int lv_errcode(void);
void lv_err_clear(void);

/* Short stable name of a code ("not-found", "config", ...) for --json output. */
const char *lv_code_name(int code);

#endif
