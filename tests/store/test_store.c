/* Store tests (TAP). One program for the whole store interface:
 *   - always: the local driver in a temporary directory (plus disk-full on a tiny tmpfs when root);
 *   - with LV_TEST_S3_ENDPOINT / LV_TEST_S3_ACCESS_KEY / LV_TEST_S3_SECRET_KEY / LV_TEST_S3_REGION:
 *     the same suite against the real S3 server in a fresh bucket this test creates and removes,
 *     then S3-only cases (wrong secret, missing bucket, dead endpoint, virtual-hosted addressing), and,
 *     when argv[1] names the faultproxy binary, fault injection: transient faults are survived with
 *     correct data, persistent ones fail cleanly, and a failed put leaves no object behind.
 * Without the S3 variables the S3 part is skipped, or fails when CI is set. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/parallel.h"
#include "store/s3.h"
#include "store/s3_codec.h"
#include "store/s3_xml.h"
#include "store/store.h"

#define MIB (1024u * 1024u)

static int n_run, n_fail;

static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tap(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", ok ? "ok" : "not ok", ++n_run);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok) {
        n_fail++;
        printf("#   last error: [%s] %s\n", lv_code_name(lv_errcode()), lv_errmsg());
    }
    fflush(stdout);
}

static void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("ok %d # SKIP ", ++n_run);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* rc is what we got, want what the contract promises. */
#define EXPECT(rc, want, ...)                                                                            \
    do {                                                                                                 \
        int rc_ = (rc);                                                                                  \
        if (rc_ != (want))                                                                               \
            printf("#   got %s, want %s\n", lv_code_name(rc_), lv_code_name(want));                      \
        tap(rc_ == (want), __VA_ARGS__);                                                                 \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deterministic pseudo-random bytes (xorshift64*): incompressible, reproducible per seed. */
static uint8_t *pattern(size_t n, uint64_t seed)
{
    uint8_t *p = lv_xmalloc(n);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
    }
    return p;
}

/* ---- list helpers ------------------------------------------------------------------------------- */

typedef struct listing {
    char **keys;
    uint64_t *sizes;
    size_t n;
    size_t stop_after; /* 0 = never stop */
} listing;

static int collect(void *arg, const char *key, uint64_t size)
{
    listing *l = arg;
    l->keys = lv_xrealloc(l->keys, (l->n + 1) * sizeof *l->keys);
    l->sizes = lv_xrealloc(l->sizes, (l->n + 1) * sizeof *l->sizes);
    l->keys[l->n] = lv_xstrdup(key);
    l->sizes[l->n++] = size;
    return l->stop_after && l->n == l->stop_after ? 42 : 0;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
    *l = (listing){0};
}

static int count_keys(lv_store *s, const char *prefix, size_t *n)
{
    listing l = {0};
    int rc = lv_store_list(s, prefix, collect, &l);
    *n = l.n;
    listing_free(&l);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- parallel puts (many keys) ------------------------------------------------------------------ */

typedef struct many {
    lv_store *s;
    char **keys;
} many;

static int put_one(void *arg, size_t i)
{
    many *m = arg;
    char body[32];
    int n = snprintf(body, sizeof body, "object %zu", i);
    return lv_store_put(m->s, m->keys[i], body, (size_t)n, 0);
}

/* ---- the driver-independent suite --------------------------------------------------------------- */

static int get_equals(lv_store *s, const char *key, uint64_t off, uint64_t len, const uint8_t *want,
                      size_t wlen)
{
    lv_buf b = LV_BUF_INIT;
    lv_buf_append_str(&b, "xy"); /* get appends: keep what was there */
    int rc = lv_store_get(s, key, off, len, &b);
    int ok = rc == LV_OK && b.len == wlen + 2 && memcmp(b.data, "xy", 2) == 0 &&
             memcmp(b.data + 2, want, wlen) == 0;
    if (rc == LV_OK && !ok)
        printf("#   %s: got %zu bytes, want %zu (or the bytes differ)\n", key, b.len - 2, wlen);
    lv_buf_free(&b);
    return rc != LV_OK ? rc : ok ? LV_OK : -1;
}

static void suite(lv_store *s, const char *label, int many_keys)
{
    printf("# suite on %s (%s)\n", label, lv_store_describe(s));
    size_t n1 = 1000;
    uint8_t *d1 = pattern(n1, 1);

    /* put / get / head */
    EXPECT(lv_store_put(s, "config", d1, n1, 0), LV_OK, "%s: put config", label);
    EXPECT(get_equals(s, "config", 0, 0, d1, n1), LV_OK, "%s: get returns the same bytes", label);
    uint64_t sz = 0;
    EXPECT(lv_store_head(s, "config", &sz), LV_OK, "%s: head", label);
    tap(sz == n1, "%s: head size %llu == %zu", label, (unsigned long long)sz, n1);
    EXPECT(lv_store_put(s, "data/ab/empty", "", 0, 0), LV_OK, "%s: put an empty object", label);
    EXPECT(get_equals(s, "data/ab/empty", 0, 0, (const uint8_t *)"", 0), LV_OK, "%s: get empty", label);

    /* overwrite */
    uint8_t *d2 = pattern(n1, 2);
    EXPECT(lv_store_put(s, "config", d2, n1, 0), LV_OK, "%s: overwrite", label);
    EXPECT(get_equals(s, "config", 0, 0, d2, n1), LV_OK, "%s: get sees the new content", label);

    /* ranges */
    EXPECT(get_equals(s, "config", 100, 200, d2 + 100, 200), LV_OK, "%s: ranged get", label);
    EXPECT(get_equals(s, "config", 900, 0, d2 + 900, 100), LV_OK, "%s: get from an offset to the end", label);
    EXPECT(get_equals(s, "config", 999, 1, d2 + 999, 1), LV_OK, "%s: last byte", label);
    lv_buf b = LV_BUF_INIT;
    EXPECT(lv_store_get(s, "config", 900, 200, &b), LV_ERR_CORRUPT, "%s: range past the end is corrupt", label);
    EXPECT(lv_store_get(s, "config", 5000, 10, &b), LV_ERR_CORRUPT, "%s: range after the end is corrupt", label);
    tap(b.len == 0, "%s: failed gets appended nothing", label);

    /* missing keys */
    int rc = lv_store_get(s, "data/00/missing", 0, 0, &b);
    EXPECT(rc, LV_ERR_NOT_FOUND, "%s: get of a missing key is not-found", label);
    tap(strstr(lv_errmsg(), "data/00/missing") != NULL, "%s: the message names the key (%s)", label,
        lv_errmsg());
    EXPECT(lv_store_head(s, "data/00/missing", &sz), LV_ERR_NOT_FOUND, "%s: head of a missing key", label);
    EXPECT(lv_store_del(s, "data/00/missing"), LV_OK, "%s: delete of a missing key is ok", label);
    lv_buf_free(&b);

    /* create-only */
    EXPECT(lv_store_put(s, "wal/1/seg", d1, 10, LV_PUT_IF_ABSENT), LV_OK, "%s: put-if-absent creates", label);
    EXPECT(lv_store_put(s, "wal/1/seg", d2, 20, LV_PUT_IF_ABSENT), LV_ERR_CONFLICT,
           "%s: put-if-absent on an existing key conflicts", label);
    EXPECT(get_equals(s, "wal/1/seg", 0, 0, d1, 10), LV_OK, "%s: the conflicting put changed nothing", label);

    /* invalid keys never reach the driver */
    const char *bad[] = {"../etc/passwd", "/abs", "a//b", "a/./b", "trail/", "x.tmp-1-2", ""};
    int all_bad = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        all_bad &= lv_store_put(s, bad[i], "x", 1, 0) == LV_ERR_INTERNAL;
    tap(all_bad, "%s: invalid keys are refused", label);

    /* listing: 23 plain keys, two awkward ones (XML entities, URL escapes, UTF-8), and neighbours
     * outside the prefix that a sloppy prefix match would include */
    const char *odd[] = {"list/a&b<c>'\"d e+f%25=?", "list/\xc3\xbcnic\xc3\xb6" "de"};
    char *want[25];
    for (int i = 0; i < 23; i++) {
        char k[32];
        snprintf(k, sizeof k, "list/k%02d", i);
        want[i] = lv_xstrdup(k);
        rc = lv_store_put(s, k, k, strlen(k), 0);
        if (rc != LV_OK)
            tap(0, "%s: put %s", label, k);
    }
    want[23] = lv_xstrdup(odd[0]);
    want[24] = lv_xstrdup(odd[1]);
    int puts_ok = 1;
    for (int i = 23; i < 25; i++)
        puts_ok &= lv_store_put(s, want[i], want[i], strlen(want[i]), 0) == LV_OK;
    puts_ok &= lv_store_put(s, "list-x", "x", 1, 0) == LV_OK;
    puts_ok &= lv_store_put(s, "listz", "x", 1, 0) == LV_OK;
    tap(puts_ok, "%s: put 25 keys under list/ and 2 next to it", label);
    qsort(want, 25, sizeof *want, cmp_str);
    listing l = {0};
    EXPECT(lv_store_list(s, "list/", collect, &l), LV_OK, "%s: list list/", label);
    int same = l.n == 25;
    for (size_t i = 0; same && i < 25; i++)
        same = strcmp(l.keys[i], want[i]) == 0 && l.sizes[i] == strlen(want[i]);
    tap(same, "%s: listing has the 25 keys in byte order with sizes (got %zu)", label, l.n);
    listing_free(&l);
    l.stop_after = 9;
    EXPECT(lv_store_list(s, "list/", collect, &l), 42, "%s: a callback's non-zero stops the listing", label);
    tap(l.n == 9, "%s: ... after 9 keys (got %zu)", label, l.n);
    listing_free(&l);
    EXPECT(lv_store_list(s, "list/k1", collect, &l), LV_OK, "%s: list a partial-name prefix", label);
    tap(l.n == 10 && strcmp(l.keys[0], "list/k10") == 0, "%s: list/k1 -> k10..k19 (got %zu)", label, l.n);
    listing_free(&l);
    EXPECT(lv_store_list(s, "nothing/here/", collect, &l), LV_OK, "%s: list of an empty prefix", label);
    tap(l.n == 0, "%s: ... is empty", label);
    listing_free(&l);
    EXPECT(lv_store_list(s, "", collect, &l), LV_OK, "%s: list everything", label);
    int sorted = 1;
    for (size_t i = 1; i < l.n; i++)
        sorted &= strcmp(l.keys[i - 1], l.keys[i]) < 0;
    tap(sorted && l.n == 25 + 2 + 3, "%s: full listing sorted, %zu keys", label, l.n);
    listing_free(&l);
    int gets_ok = 1;
    for (int i = 0; i < 25; i++)
        gets_ok &= get_equals(s, want[i], 0, 0, (const uint8_t *)want[i], strlen(want[i])) == LV_OK;
    tap(gets_ok, "%s: every listed key reads back by its name", label);

    /* delete one, then many */
    EXPECT(lv_store_del(s, "list/k00"), LV_OK, "%s: delete", label);
    EXPECT(lv_store_head(s, "list/k00", &sz), LV_ERR_NOT_FOUND, "%s: deleted key is gone", label);
    EXPECT(lv_store_del_many(s, (const char *const *)want, 25), LV_OK,
           "%s: delete_many with one key already gone", label);
    size_t cnt = 99;
    EXPECT(count_keys(s, "list/", &cnt), LV_OK, "%s: list after delete_many", label);
    tap(cnt == 0, "%s: nothing left under list/ (%zu)", label, cnt);
    for (int i = 0; i < 25; i++)
        free(want[i]);

    if (many_keys) {
        size_t n = (size_t)many_keys;
        many m = {s, lv_xcalloc(n, sizeof(char *))};
        for (size_t i = 0; i < n; i++)
            m.keys[i] = lv_xasprintf("many/%02zx/%06zu", i % 256, i);
        double t0 = now();
        EXPECT(lv_parallel_for(8, n, put_one, &m), LV_OK, "%s: put %zu keys on 8 threads (%.1f s)", label, n,
               now() - t0);
        EXPECT(count_keys(s, "many/", &cnt), LV_OK, "%s: list many/", label);
        tap(cnt == n, "%s: %zu keys listed (want %zu)", label, cnt, n);
        t0 = now();
        EXPECT(lv_store_del_many(s, (const char *const *)m.keys, n), LV_OK,
               "%s: delete_many of %zu keys (%.2f s)", label, n, now() - t0);
        EXPECT(count_keys(s, "many/", &cnt), LV_OK, "%s: list many/ again", label);
        tap(cnt == 0, "%s: all gone (%zu left)", label, cnt);
        for (size_t i = 0; i < n; i++)
            free(m.keys[i]);
        free(m.keys);
    }

    /* a multipart-sized object (17 MiB: four parts of 5 MiB with the S3 test options) */
    size_t big = 17 * MIB;
    uint8_t *db = pattern(big, 3);
    double t0 = now();
    EXPECT(lv_store_put(s, "data/cd/big", db, big, 0), LV_OK, "%s: put 17 MiB (%.2f s)", label, now() - t0);
    EXPECT(lv_store_head(s, "data/cd/big", &sz), LV_OK, "%s: head big", label);
    tap(sz == big, "%s: big size %llu", label, (unsigned long long)sz);
    t0 = now();
    EXPECT(get_equals(s, "data/cd/big", 0, 0, db, big), LV_OK, "%s: get 17 MiB, bytes equal (%.2f s)", label,
           now() - t0);
    EXPECT(get_equals(s, "data/cd/big", 5 * MIB - 10, 20, db + 5 * MIB - 10, 20), LV_OK,
           "%s: ranged get across a part boundary", label);
    EXPECT(lv_store_del(s, "data/cd/big"), LV_OK, "%s: delete big", label);
    free(db);

    /* listings taken ahead: on S3 the next listing of each prefix is the one taken then, once; on a
     * local directory nothing is taken ahead */
    {
        int ahead = lv_store_puts_in_flight(s) > 1;
        const char *pf[] = {"pf/a/", "pf/b/", "pf/none/"};
        EXPECT(lv_store_put(s, "pf/a/1", "x", 1, 0), LV_OK, "%s: prefetch: put pf/a/1", label);
        EXPECT(lv_store_put(s, "pf/a/2", "yy", 2, 0), LV_OK, "%s: prefetch: put pf/a/2", label);
        EXPECT(lv_store_put(s, "pf/b/1", "z", 1, 0), LV_OK, "%s: prefetch: put pf/b/1", label);
        lv_store_prefetch(s, pf, 3);
        EXPECT(lv_store_put(s, "pf/a/3", "w", 1, 0), LV_OK, "%s: prefetch: a key put after it", label);
        listing la = {0}, lb = {0}, ln = {0};
        EXPECT(lv_store_list(s, "pf/a/", collect, &la), LV_OK, "%s: prefetch: list pf/a/", label);
        tap(la.n == (ahead ? 2u : 3u) && la.n >= 2 && strcmp(la.keys[0], "pf/a/1") == 0 && la.sizes[0] == 1 &&
                strcmp(la.keys[1], "pf/a/2") == 0 && la.sizes[1] == 2,
            "%s: prefetch: %s (%zu keys, in order, with sizes)", label,
            ahead ? "the listing taken ahead, without the key put since" : "nothing taken ahead: a listing", la.n);
        listing_free(&la);
        EXPECT(lv_store_list(s, "pf/a/", collect, &la), LV_OK, "%s: prefetch: list pf/a/ again", label);
        tap(la.n == 3, "%s: prefetch: used once: the second listing lists (%zu keys)", label, la.n);
        listing_free(&la);
        EXPECT(lv_store_list(s, "pf/", collect, &ln), LV_OK, "%s: prefetch: list pf/", label);
        tap(ln.n == 4, "%s: prefetch: another prefix lists (%zu keys)", label, ln.n);
        listing_free(&ln);
        lv_store_prefetch_end(s);
        EXPECT(lv_store_put(s, "pf/b/2", "v", 1, 0), LV_OK, "%s: prefetch: a key under pf/b/ after the end", label);
        EXPECT(lv_store_list(s, "pf/b/", collect, &lb), LV_OK, "%s: prefetch: list pf/b/", label);
        tap(lb.n == 2, "%s: prefetch: after its end, what was not used is forgotten (%zu keys)", label, lb.n);
        listing_free(&lb);
        /* a callback that stops a prefetched listing early: its value is returned, as from the driver */
        lv_store_prefetch(s, pf, 1);
        la.stop_after = 1;
        EXPECT(lv_store_list(s, "pf/a/", collect, &la), 42, "%s: prefetch: a stop from the callback is returned", label);
        tap(la.n == 1, "%s: prefetch: ... after one key", label);
        listing_free(&la);
        lv_store_prefetch_end(s);
        const char *pk[] = {"pf/a/1", "pf/a/2", "pf/a/3", "pf/b/1", "pf/b/2"};
        EXPECT(lv_store_del_many(s, pk, 5), LV_OK, "%s: prefetch: clean up", label);
    }

    const char *rest[] = {"config", "data/ab/empty", "wal/1/seg", "list-x", "listz"};
    EXPECT(lv_store_del_many(s, rest, 5), LV_OK, "%s: clean up", label);
    EXPECT(count_keys(s, "", &cnt), LV_OK, "%s: final listing", label);
    tap(cnt == 0, "%s: store is empty again (%zu)", label, cnt);
    free(d1);
    free(d2);
}


/* ---- the S3 driver's XML reader and URI encoding (internals, checked directly) ------------------ */

static int xml_is(const char *doc, const char *tag, int want_rc, const char *want)
{
    lv_buf t = LV_BUF_INIT;
    int rc = s3_xml_get(doc, doc + strlen(doc), tag, &t);
    int ok = rc == want_rc && (rc != 1 || strcmp(lv_buf_cstr(&t), want) == 0);
    if (!ok)
        printf("#   %s in %s: rc %d, text \"%s\"\n", tag, doc, rc, rc == 1 ? lv_buf_cstr(&t) : "");
    lv_buf_free(&t);
    return ok;
}

static void xml_tests(void)
{
    tap(xml_is("<a><Key>x&amp;y&#x41;&#66;&lt;&gt;&quot;&apos;</Key></a>", "Key", 1, "x&yAB<>\"'"),
        "xml: entities are decoded");
    tap(xml_is("<KeyMarker>m</KeyMarker><Key>k</Key>", "Key", 1, "k"), "xml: <KeyMarker> is not <Key>");
    tap(xml_is("<Key/><Key>k</Key>", "Key", 1, ""), "xml: <Key/> is an empty element");
    tap(xml_is("<Key a=\"1\">v</Key>", "Key", 1, "v"), "xml: attributes are skipped");
    tap(xml_is("<Key>&#xFC;</Key>", "Key", 1, "\xc3\xbc"), "xml: character references become UTF-8");
    tap(xml_is("<Key>open", "Key", -1, NULL), "xml: an unclosed element is malformed");
    tap(xml_is("<Key>a &bogus; b</Key>", "Key", -1, NULL), "xml: an unknown entity is malformed");
    tap(xml_is("<Key>a &amp b</Key>", "Key", -1, NULL), "xml: an unterminated entity is malformed");
    tap(xml_is("<Key>&#0;</Key>", "Key", -1, NULL) && xml_is("<Key>&#x110000;</Key>", "Key", -1, NULL),
        "xml: NUL and out-of-range references are malformed");
    tap(xml_is("<Key>a<b>c</b></Key>", "Key", -1, NULL), "xml: markup inside text is malformed");
    tap(xml_is("<Other>x</Other>", "Key", 0, NULL), "xml: a missing element is absent");
    lv_buf e = LV_BUF_INIT, d = LV_BUF_INIT;
    const char *raw = "a&<>\"'b \xc3\xbc";
    s3_xml_escape(&e, raw);
    tap(s3_xml_text((char *)e.data, (char *)e.data + e.len, &d) == 0 && strcmp(lv_buf_cstr(&d), raw) == 0,
        "xml: escape and decode round-trip");
    lv_buf_reset(&e);
    s3_uri_encode(&e, "a b/\xc3\xbc~-_.+=&", 1);
    tap(strcmp(lv_buf_cstr(&e), "a%20b/%C3%BC~-_.%2B%3D%26") == 0, "uri: object path encoding (%s)",
        lv_buf_cstr(&e));
    lv_buf_reset(&e);
    s3_uri_encode(&e, "p/q", 0);
    tap(strcmp(lv_buf_cstr(&e), "p%2Fq") == 0, "uri: query values encode '/'");
    lv_buf_free(&e);
    lv_buf_free(&d);
}

/* ---- local-only --------------------------------------------------------------------------------- */

typedef struct temps {
    size_t n;
    char names[4][64];
    int64_t age[4];
} temps;

static int temp_cb(void *arg, const char *name, uint64_t size, int64_t age_s)
{
    temps *t = arg;
    (void)size;
    if (t->n < 4) {
        snprintf(t->names[t->n], sizeof t->names[t->n], "%s", name);
        t->age[t->n] = age_s;
    }
    t->n++;
    return LV_OK;
}

/* Temporaries left by killed puts (store.h): listed with their age, removed once stale. young is one
 * just made (data/ab/y.tmp-1-abcd); an old one is made here. */
static void temp_tests(lv_store *s, const char *root, const char *young)
{
    char *old = lv_xasprintf("%s/z.tmp-2-beef", root);
    int fd = open(old, O_WRONLY | O_CREAT, 0600);
    time_t then = time(NULL) - LV_STORE_TEMP_STALE_S - 60;
    struct timespec ts[2] = {{then, 0}, {then, 0}};
    tap(fd >= 0 && write(fd, "abc", 3) == 3 && futimens(fd, ts) == 0, "local: an old temporary at the root");
    if (fd >= 0)
        close(fd);
    temps t = {0};
    EXPECT(lv_store_temp_list(s, "", temp_cb, &t), LV_OK, "local: list the temporaries");
    tap(t.n == 2 && strcmp(t.names[0], "data/ab/y.tmp-1-abcd") == 0 && t.age[0] < 60 &&
            strcmp(t.names[1], "z.tmp-2-beef") == 0 && t.age[1] > LV_STORE_TEMP_STALE_S,
        "local: both, in key order, with their ages (%zu: %s %lld)", t.n, t.names[0], (long long)t.age[0]);
    memset(&t, 0, sizeof t);
    EXPECT(lv_store_temp_list(s, "data/", temp_cb, &t), LV_OK, "local: list the temporaries under data/");
    tap(t.n == 1, "local: ... only the one there (%zu)", t.n);
    EXPECT(lv_store_temp_del(s, "data/ab/x"), LV_ERR_INTERNAL, "local: temp_del refuses an object's name");
    uint64_t removed = 0;
    EXPECT(lv_store_temp_sweep(s, "", &removed), LV_OK, "local: sweep");
    tap(removed == 1 && access(old, F_OK) != 0 && access(young, F_OK) == 0,
        "local: the sweep removed the stale temporary only (%llu)", (unsigned long long)removed);
    EXPECT(lv_store_temp_del(s, "data/ab/y.tmp-1-abcd"), LV_OK, "local: temp_del removes a temporary");
    tap(access(young, F_OK) != 0, "local: ... gone");
    free(old);
}

static void local_tests(const char *tmp)
{
    char *root = lv_xasprintf("%s/repo", tmp);
    lv_store *s = NULL;
    EXPECT(lv_store_open(root, NULL, &s), LV_OK, "local: open a plain path");
    tap(strcmp(lv_store_describe(s), root) == 0, "local: describe is the path");
    EXPECT(lv_store_create(s), LV_OK, "local: create the directory");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    tap(lv_store_readers(s, 4) == (ncpu < 2 ? 2 : ncpu > 64 ? 64 : (int)ncpu) && lv_store_puts_in_flight(s) == 1,
        "local: one reader per processor (%d), whatever s3 concurrency; one put in flight",
        lv_store_readers(s, 4));
    suite(s, "local", 1500);

    /* in-flight temporary files never show in a listing */
    EXPECT(lv_store_put(s, "data/ab/x", "x", 1, 0), LV_OK, "local: put data/ab/x");
    char *tmpf = lv_xasprintf("%s/data/ab/y.tmp-1-abcd", root);
    int fd = open(tmpf, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
    listing l = {0};
    EXPECT(lv_store_list(s, "data/", collect, &l), LV_OK, "local: list with a temp file present");
    tap(l.n == 1 && strcmp(l.keys[0], "data/ab/x") == 0, "local: temp files are skipped (%zu keys)", l.n);
    listing_free(&l);
    temp_tests(s, root, tmpf);
    free(tmpf);
    lv_store_close(s);

    /* file:// URL, same data */
    char *url = lv_xasprintf("file://%s", root);
    EXPECT(lv_store_open(url, NULL, &s), LV_OK, "local: open %s", url);
    EXPECT(get_equals(s, "data/ab/x", 0, 0, (const uint8_t *)"x", 1), LV_OK, "local: file:// sees the object");
    EXPECT(lv_store_del(s, "data/ab/x"), LV_OK, "local: delete");
    lv_store_close(s);
    free(url);
    EXPECT(lv_store_open("ftp://x/y", NULL, &s), LV_ERR_CONFIG, "local: unknown scheme is a config error");
    EXPECT(lv_store_open("file://host/y", NULL, &s), LV_ERR_CONFIG, "local: file://host/ is refused");
    free(root);
}

/* Streams: disjoint ranges written by several threads at once, then committed under a key given at the
 * end; a create-only commit over an existing key, and an abort, leave the key as it was and no
 * temporary. */
typedef struct stream_part {
    lv_store_stream *w;
    const uint8_t *data;
    size_t off, n;
    int rc;
} stream_part;

static void *stream_writer(void *arg)
{
    stream_part *p = arg;
    p->rc = lv_store_stream_write(p->w, p->data + p->off, p->n, p->off);
    return NULL;
}

static size_t temps_under(lv_store *s, const char *prefix)
{
    temps t = {0};
    lv_store_temp_list(s, prefix, temp_cb, &t);
    return t.n;
}

static void stream_tests(const char *tmp)
{
    char *root = lv_xasprintf("%s/streams", tmp);
    lv_store *s = NULL;
    if (lv_store_open(root, NULL, &s) != LV_OK || lv_store_create(s) != LV_OK) {
        tap(0, "stream: open (%s)", lv_errmsg());
        free(root);
        return;
    }
    tap(lv_store_can_stream(s), "stream: the local driver can stream");
    enum { PART = 300000, NP = 4 };
    uint8_t *data = lv_xmalloc(PART * NP);
    for (size_t i = 0; i < PART * NP; i++)
        data[i] = (uint8_t)(i * 7 + i / 4099);
    lv_store_stream *w = NULL;
    EXPECT(lv_store_stream_open(s, "data/pack", &w), LV_OK, "stream: open in data/");
    size_t keys = 9;
    tap(w && strncmp(lv_store_stream_name(w), "data/pack.tmp-", 14) == 0 && temps_under(s, "data/") == 1 &&
            count_keys(s, "data/", &keys) == LV_OK && keys == 0,
        "stream: its temporary is data/pack.tmp-* (%s), a temporary, not a key", w ? lv_store_stream_name(w) : "-");
    pthread_t th[NP];
    stream_part parts[NP];
    for (int i = 0; i < NP; i++) { /* last range first: the file grows with holes meanwhile */
        parts[i] = (stream_part){w, data, (size_t)(NP - 1 - i) * PART, PART, -1};
        pthread_create(&th[i], NULL, stream_writer, &parts[i]);
    }
    int ok = 1;
    for (int i = 0; i < NP; i++) {
        pthread_join(th[i], NULL);
        ok = ok && parts[i].rc == LV_OK;
    }
    tap(ok, "stream: %d threads wrote disjoint ranges", NP);
    EXPECT(lv_store_stream_commit(w, "data/cd/obj", LV_PUT_IF_ABSENT), LV_OK, "stream: commit under data/cd/obj");
    EXPECT(get_equals(s, "data/cd/obj", 0, 0, data, PART * NP), LV_OK, "stream: the object reads back equal");
    tap(temps_under(s, "") == 0, "stream: no temporary left after the commit");

    EXPECT(lv_store_stream_open(s, "data/pack", &w), LV_OK, "stream: a second one");
    EXPECT(lv_store_stream_write(w, "other", 5, 0), LV_OK, "stream: write");
    EXPECT(lv_store_stream_commit(w, "data/cd/obj", LV_PUT_IF_ABSENT), LV_ERR_CONFLICT,
           "stream: a create-only commit over an existing key is a conflict");
    EXPECT(get_equals(s, "data/cd/obj", 0, 0, data, PART * NP), LV_OK, "stream: ... and the key keeps its object");
    tap(temps_under(s, "") == 0, "stream: ... and its temporary is gone");

    EXPECT(lv_store_stream_open(s, "data/pack", &w), LV_OK, "stream: a third one");
    EXPECT(lv_store_stream_write(w, "x", 1, 100), LV_OK, "stream: write");
    lv_store_stream_abort(w);
    tap(temps_under(s, "") == 0 && lv_store_head(s, "data/pack", &(uint64_t){0}) == LV_ERR_NOT_FOUND,
        "stream: abort removes the temporary and stores nothing");
    free(data);
    lv_store_close(s);
    free(root);
}

static void disk_full(const char *tmp)
{
    char *mnt = lv_xasprintf("%s/full", tmp);
    mkdir(mnt, 0700);
    if (geteuid() != 0 || mount("lvtest", mnt, "tmpfs", 0, "size=256k") != 0) {
        skip("local: disk full (needs root to mount a small tmpfs)");
        free(mnt);
        return;
    }
    lv_store *s = NULL;
    EXPECT(lv_store_open(mnt, NULL, &s), LV_OK, "local: open a store on a 256 KiB tmpfs");
    size_t n = MIB;
    uint8_t *d = pattern(n, 9);
    int rc = lv_store_put(s, "data/ab/big", d, n, 0);
    EXPECT(rc, LV_ERR_IO, "local: put on a full disk is an I/O error");
    tap(strstr(lv_errmsg(), "data/ab/big") != NULL, "local: ... naming the key (%s)", lv_errmsg());
    uint64_t sz;
    EXPECT(lv_store_head(s, "data/ab/big", &sz), LV_ERR_NOT_FOUND, "local: nothing under the final name");
    char *dir = lv_xasprintf("%s/data/ab", mnt);
    int files = 0;
    DIR *dp = opendir(dir);
    for (struct dirent *de; dp && (de = readdir(dp));)
        files += de->d_name[0] != '.';
    if (dp)
        closedir(dp);
    tap(files == 0, "local: no temporary file left behind (%d)", files);
    EXPECT(lv_store_put(s, "data/ab/small", "ok", 2, 0), LV_OK, "local: a small put works afterwards");
    lv_store_close(s);
    free(dir);
    free(d);
    umount2(mnt, MNT_DETACH);
    free(mnt);
}

/* ---- S3 ----------------------------------------------------------------------------------------- */

typedef struct s3env {
    const char *endpoint, *access, *secret, *region;
    char bucket[64];
} s3env;

/* Small parts, pages and retry delays so that the test exercises paging and multipart quickly. */
static lv_store_opts s3_opts(const s3env *e)
{
    lv_store_opts o = {0};
    o.endpoint = e->endpoint;
    o.region = e->region;
    o.access_key = e->access;
    o.secret_key = e->secret;
    o.concurrency = 4;
    o.multipart_threshold = 5 * MIB;
    o.part_size = 5 * MIB;
    o.max_retries = 5;
    o.retry_base_ms = 20;
    o.timeout_s = 10;
    o.list_page_size = 7;
    return o;
}

static int open_s3(const s3env *e, const char *path, const lv_store_opts *o, lv_store **s)
{
    char url[256];
    snprintf(url, sizeof url, "s3://%s%s", e->bucket, path);
    return lv_store_open(url, o, s);
}

/* "http://HOST:PORT" -> "HOST:PORT"; NULL for https (the proxy speaks plain HTTP). */
static const char *hostport(const char *endpoint)
{
    return strncmp(endpoint, "http://", 7) == 0 ? endpoint + 7 : NULL;
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd); /* nothing listens there now: connections are refused */
    return ntohs(a.sin_port);
}

static void s3_negative(const s3env *e)
{
    lv_store_opts o = s3_opts(e);
    lv_store *s = NULL;
    lv_buf b = LV_BUF_INIT;

    const char *secret = "Wr0ngS3cretDoNotPrint";
    o.secret_key = secret;
    EXPECT(open_s3(e, "/repo", &o, &s), LV_OK, "s3: open with a wrong secret (no I/O yet)");
    EXPECT(lv_store_put(s, "config", "x", 1, 0), LV_ERR_AUTH, "s3: put with a wrong secret is an auth error");
    tap(!strstr(lv_errmsg(), secret), "s3: the message does not contain the secret (%s)", lv_errmsg());
    EXPECT(lv_store_get(s, "config", 0, 0, &b), LV_ERR_AUTH, "s3: get with a wrong secret is an auth error");
    lv_store_close(s);

    o = s3_opts(e);
    o.access_key = "NOSUCHACCESSKEY";
    EXPECT(open_s3(e, "", &o, &s), LV_OK, "s3: open with an unknown access key");
    EXPECT(lv_store_head(s, "config", &(uint64_t){0}), LV_ERR_AUTH, "s3: unknown access key is an auth error");
    lv_store_close(s);

    o = s3_opts(e);
    char url[128];
    snprintf(url, sizeof url, "s3://lvtest-missing-%d/x", (int)getpid());
    EXPECT(lv_store_open(url, &o, &s), LV_OK, "s3: open a missing bucket");
    EXPECT(lv_store_get(s, "config", 0, 0, &b), LV_ERR_NOT_FOUND, "s3: get in a missing bucket is not-found");
    tap(strstr(lv_errmsg(), "lvtest-missing-") && strstr(lv_errmsg(), "bucket"),
        "s3: ... and says the bucket is missing (%s)", lv_errmsg());
    EXPECT(lv_store_del(s, "config"), LV_ERR_NOT_FOUND, "s3: delete in a missing bucket is not-found");
    lv_store_close(s);

    o = s3_opts(e);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", closed_port());
    o.endpoint = ep;
    o.max_retries = 2;
    o.retry_base_ms = 10;
    EXPECT(open_s3(e, "", &o, &s), LV_OK, "s3: open a dead endpoint");
    double t0 = now();
    EXPECT(lv_store_put(s, "config", "x", 1, 0), LV_ERR_UNREACHABLE, "s3: dead endpoint is unreachable");
    double dt = now() - t0;
    tap(dt < 3.0, "s3: ... quickly (%.2f s)", dt);
    tap(strstr(lv_errmsg(), ep) && strstr(lv_errmsg(), "3 attempts"), "s3: ... naming the endpoint and the "
        "attempts (%s)", lv_errmsg());
    lv_store_close(s);

    /* libcurl signs every header we add; a session token must not break the signature. RGW without
     * STS ignores the token itself, so the request succeeds exactly when the signing is right. */
    o = s3_opts(e);
    o.session_token = "FwoGZXIvYXdzEXAMPLE+/token==";
    EXPECT(open_s3(e, "/repo", &o, &s), LV_OK, "s3: open with a session token");
    EXPECT(lv_store_put(s, "tok", "t", 1, 0), LV_OK, "s3: a request with x-amz-security-token verifies");
    EXPECT(lv_store_del(s, "tok"), LV_OK, "s3: ... and so does a delete");
    lv_store_close(s);

    o = s3_opts(e);
    o.part_size = 1 * MIB;
    EXPECT(open_s3(e, "", &o, &s), LV_ERR_CONFIG, "s3: part size below 5 MiB is refused");
    o = s3_opts(e);
    o.secret_key = NULL;
    EXPECT(open_s3(e, "", &o, &s), LV_ERR_CONFIG, "s3: missing credentials are a config error");
    lv_buf_free(&b);
}

/* TLS against `openssl s_server -www` with a throwaway self-signed certificate (no S3 needed): the
 * certificate is refused by default (at once: retrying cannot fix it), accepted with ca_file, and
 * accepted when verification is explicitly off. s_server answers any GET with a 200 status page. */
static void tls_tests(const char *tmp)
{
    char *cert = lv_xasprintf("%s/tls-cert.pem", tmp), *key = lv_xasprintf("%s/tls-key.pem", tmp);
    char *cmd = lv_xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
                             "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
                             ">/dev/null 2>&1", key, cert);
    int made = system(cmd) == 0;
    free(cmd);
    pid_t pid = -1;
    int port = closed_port(), up = 0;
    if (made) {
        char accept[32];
        snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            int dn = open("/dev/null", O_RDWR);
            dup2(dn, 0);
            dup2(dn, 1);
            dup2(dn, 2);
            execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key, "-www",
                   "-quiet", (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 50 && pid > 0 && !up; i++) { /* wait until it listens */
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            up = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
            close(fd);
            if (!up)
                usleep(100000);
        }
    }
    if (!up) {
        skip("tls: needs the openssl command (s_server) to serve a self-signed certificate");
    } else {
        char ep[64];
        snprintf(ep, sizeof ep, "https://127.0.0.1:%d", port);
        lv_store_opts o = {.endpoint = ep, .access_key = "AK", .secret_key = "SK", .max_retries = 3,
                           .retry_base_ms = 10, .timeout_s = 5};
        lv_store *s = NULL;
        lv_buf b = LV_BUF_INIT;
        EXPECT(lv_store_open("s3://tlsbucket", &o, &s), LV_OK, "tls: open an https endpoint");
        double t0 = now();
        EXPECT(lv_store_get(s, "key", 0, 0, &b), LV_ERR_UNREACHABLE, "tls: an unknown certificate is refused");
        tap(strstr(lv_errmsg(), "TLS") && now() - t0 < 2.0, "tls: ... at once, saying why (%s)", lv_errmsg());
        lv_store_close(s);
        o.ca_file = cert;
        EXPECT(lv_store_open("s3://tlsbucket", &o, &s), LV_OK, "tls: open with ca_file");
        EXPECT(lv_store_get(s, "key", 0, 0, &b), LV_OK, "tls: the certificate verifies with ca_file");
        tap(b.len > 0, "tls: ... and the answer arrived (%zu bytes)", b.len);
        lv_store_close(s);
        o.ca_file = NULL;
        o.verify_tls = -1;
        lv_buf_reset(&b);
        EXPECT(lv_store_open("s3://tlsbucket", &o, &s), LV_OK, "tls: open with verification off");
        EXPECT(lv_store_get(s, "key", 0, 0, &b), LV_OK, "tls: verify_tls = -1 skips verification");
        lv_store_close(s);
        lv_buf_free(&b);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    free(cert);
    free(key);
}

/* Virtual-hosted addressing needs the server to know its DNS name (RGW: "rgw dns name = localhost")
 * and "bucket.localhost" to resolve (libcurl maps *.localhost to loopback itself). */
static void s3_virtual_hosted(const s3env *e)
{
    const char *hp = hostport(e->endpoint), *colon = hp ? strrchr(hp, ':') : NULL;
    if (!colon) {
        skip("s3: virtual-hosted addressing (endpoint is not http://host:port)");
        return;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "http://localhost%s", colon);
    lv_store_opts o = s3_opts(e);
    o.endpoint = ep;
    o.path_style = -1;
    o.max_retries = 1;
    lv_store *s = NULL;
    EXPECT(open_s3(e, "/vhost", &o, &s), LV_OK, "s3: open virtual-hosted (%s)", ep);
    int rc = lv_store_put(s, "obj", "vhost", 5, 0);
    if (rc != LV_OK) {
        skip("s3: virtual-hosted addressing not served here: %s", lv_errmsg());
    } else {
        EXPECT(get_equals(s, "obj", 0, 0, (const uint8_t *)"vhost", 5), LV_OK, "s3: virtual-hosted get");
        size_t n = 0;
        EXPECT(count_keys(s, "", &n), LV_OK, "s3: virtual-hosted list");
        tap(n == 1, "s3: virtual-hosted list sees the object (%zu)", n);
        EXPECT(lv_store_del(s, "obj"), LV_OK, "s3: virtual-hosted delete");
    }
    lv_store_close(s);
}

/* ---- fault injection through the faultproxy ----------------------------------------------------- */

typedef struct proxy {
    pid_t pid;
    int port;
    char endpoint[64];
} proxy;

static int proxy_start(const char *bin, const char *upstream, const char *const *extra, proxy *p)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    /* execv wants char *const[]: give it copies rather than casting const away */
    const char *args[32] = {bin, "--upstream", upstream, "--max-seconds", "120"};
    int ac = 5;
    if (getenv("LV_TEST_PROXY_VERBOSE")) /* the proxy logs each request and its fate on stderr */
        args[ac++] = "--verbose";
    for (int i = 0; extra && extra[i] && ac < 30; i++)
        args[ac++] = extra[i];
    char *argv[32] = {0};
    for (int i = 0; i < ac; i++)
        argv[i] = lv_xstrdup(args[i]);
    fflush(stdout);
    p->pid = fork();
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(bin, argv);
        _exit(127);
    }
    for (int i = 0; i < ac; i++)
        free(argv[i]);
    close(fds[1]);
    char line[32] = "";
    ssize_t r = read(fds[0], line, sizeof line - 1);
    close(fds[0]);
    p->port = r > 0 ? atoi(line) : 0;
    if (p->port <= 0) {
        if (p->pid > 0)
            waitpid(p->pid, NULL, 0);
        return -1;
    }
    snprintf(p->endpoint, sizeof p->endpoint, "http://127.0.0.1:%d", p->port);
    return 0;
}

static void proxy_stop(proxy *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

typedef struct fault_env {
    const s3env *e;
    const char *bin, *upstream;
    lv_store *direct; /* the same prefix, not through the proxy: what really is in the bucket */
} fault_env;

/* Open the faults prefix through a fresh proxy running with the given arguments. */
static int via_proxy(fault_env *f, const char *const *args, lv_store_opts *o, proxy *p, lv_store **s)
{
    if (proxy_start(f->bin, f->upstream, args, p) != 0) {
        tap(0, "faults: start the faultproxy");
        return -1;
    }
    o->endpoint = p->endpoint;
    return open_s3(f->e, "/faults", o, s) == LV_OK ? 0 : -1;
}

static void faults(fault_env *f)
{
    lv_store *s = NULL;
    proxy p;
    lv_store_opts o;
    uint8_t *d = pattern(1000, 11);
    size_t big = 17 * MIB;
    uint8_t *db = pattern(big, 12);
    uint64_t sz;

    /* transient faults on a single put and a get */
    o = s3_opts(f->e);
    const char *a1[] = {"--schedule", "500,503,reset,ok,short,ok", NULL};
    if (via_proxy(f, a1, &o, &p, &s) == 0) {
        EXPECT(lv_store_put(s, "one", d, 1000, 0), LV_OK, "faults: put survives 500, 503 and a reset");
        EXPECT(get_equals(s, "one", 0, 0, d, 1000), LV_OK, "faults: get survives a short body, bytes equal");
        lv_store_close(s);
    }
    proxy_stop(&p);

    /* a stalled answer trips the low-speed limit and is retried */
    o = s3_opts(f->e);
    o.timeout_s = 2;
    const char *a2[] = {"--schedule", "stall,ok", NULL};
    if (via_proxy(f, a2, &o, &p, &s) == 0) {
        double t0 = now();
        EXPECT(get_equals(s, "one", 0, 0, d, 1000), LV_OK, "faults: get survives a stalled connection");
        double dt = now() - t0;
        tap(dt >= 1.5 && dt < 8, "faults: ... after about the 2 s timeout (%.2f s)", dt);
        lv_store_close(s);
    }
    proxy_stop(&p);

    /* create-only put whose answer is lost after the server stored it: the retry conflicts with our
     * own object, which the driver recognises by reading it back */
    o = s3_opts(f->e);
    const char *a3[] = {"--schedule", "lost", NULL};
    if (via_proxy(f, a3, &o, &p, &s) == 0) {
        EXPECT(lv_store_put(s, "created", d, 1000, LV_PUT_IF_ABSENT), LV_OK,
               "faults: put-if-absent with a lost answer succeeds");
        EXPECT(lv_store_put(s, "created", d, 10, LV_PUT_IF_ABSENT), LV_ERR_CONFLICT,
               "faults: ... and a different create still conflicts");
        lv_store_close(s);
    }
    proxy_stop(&p);

    /* multipart upload and download with faults sprinkled over the parallel parts */
    o = s3_opts(f->e);
    const char *a4[] = {"--schedule", "ok,500,ok,reset,ok,503,ok,ok,500,ok,reset,ok,short,ok,reset,short", NULL};
    if (via_proxy(f, a4, &o, &p, &s) == 0) {
        EXPECT(lv_store_put(s, "big", db, big, 0), LV_OK, "faults: multipart put of 17 MiB survives faults");
        EXPECT(get_equals(s, "big", 0, 0, db, big), LV_OK, "faults: get of 17 MiB survives faults, bytes equal");
        EXPECT(get_equals(s, "big", 7 * MIB, 3 * MIB, db + 7 * MIB, 3 * MIB), LV_OK,
               "faults: ranged get, bytes equal");
        lv_store_close(s);
    }
    proxy_stop(&p);
    EXPECT(get_equals(f->direct, "big", 0, 0, db, big), LV_OK, "faults: the stored object is intact");

    /* a CompleteMultipartUpload answered "200 OK" with an <Error> body is a failure, and retried */
    o = s3_opts(f->e);
    const char *a10[] = {"--method", "POST", "--schedule", "ok,error200,error200", NULL};
    if (via_proxy(f, a10, &o, &p, &s) == 0) {
        EXPECT(lv_store_put(s, "big200", db, big, 0), LV_OK, "faults: a 200 with <Error> on complete is retried");
        lv_store_close(s);
    }
    proxy_stop(&p);
    EXPECT(get_equals(f->direct, "big200", 0, 0, db, big), LV_OK, "faults: ... and the object is complete");
    o = s3_opts(f->e);
    o.max_retries = 2;
    o.retry_base_ms = 10;
    const char *a11[] = {"--method", "POST", "--schedule", "ok", "--then", "error200", NULL};
    if (via_proxy(f, a11, &o, &p, &s) == 0) {
        EXPECT(lv_store_put(s, "big200fail", db, big, 0), LV_ERR_UNREACHABLE,
               "faults: a complete that keeps answering 200 with <Error> fails");
        tap(strstr(lv_errmsg(), "InternalError") != NULL, "faults: ... saying so (%s)", lv_errmsg());
        lv_store_close(s);
    }
    proxy_stop(&p);
    EXPECT(lv_store_head(f->direct, "big200fail", &sz), LV_ERR_NOT_FOUND,
           "faults: ... and left no object");

    /* paging through faults: every key once, in order */
    char *keys[25];
    int ok = 1;
    for (int i = 0; i < 25; i++) {
        keys[i] = lv_xasprintf("page/%02d", i);
        ok &= lv_store_put(f->direct, keys[i], "p", 1, 0) == LV_OK;
    }
    tap(ok, "faults: 25 keys for paging");
    o = s3_opts(f->e);
    const char *a5[] = {"--schedule", "ok,500,ok,short,ok,503,reset", NULL};
    if (via_proxy(f, a5, &o, &p, &s) == 0) {
        listing l = {0};
        EXPECT(lv_store_list(s, "page/", collect, &l), LV_OK, "faults: paged list survives faults");
        int same = l.n == 25;
        for (size_t i = 0; same && i < 25; i++)
            same = strcmp(l.keys[i], keys[i]) == 0;
        tap(same, "faults: ... every key once, in order (%zu)", l.n);
        listing_free(&l);
        EXPECT(lv_store_del_many(s, (const char *const *)keys, 25), LV_OK, "faults: delete_many through faults");
        lv_store_close(s);
    }
    proxy_stop(&p);
    size_t cnt = 99;
    EXPECT(count_keys(f->direct, "page/", &cnt), LV_OK, "faults: list directly");
    tap(cnt == 0, "faults: delete_many removed everything (%zu)", cnt);
    for (int i = 0; i < 25; i++)
        free(keys[i]);

    /* persistent failure: clean error, nothing stored */
    o = s3_opts(f->e);
    o.max_retries = 2;
    o.retry_base_ms = 10;
    const char *a6[] = {"--fail-all", NULL};
    if (via_proxy(f, a6, &o, &p, &s) == 0) {
        int rc = lv_store_put(s, "never", d, 1000, 0);
        EXPECT(rc, LV_ERR_UNREACHABLE, "faults: a persistent 503 fails as unreachable");
        tap(strstr(lv_errmsg(), "503") && strstr(lv_errmsg(), "faults/never"),
            "faults: ... naming the status and the key (%s)", lv_errmsg());
        lv_store_close(s);
    }
    proxy_stop(&p);
    EXPECT(lv_store_head(f->direct, "never", &sz), LV_ERR_NOT_FOUND, "faults: the failed put left no object");

    /* a multipart upload whose parts keep failing: no object appears */
    o = s3_opts(f->e);
    o.max_retries = 2;
    o.retry_base_ms = 10;
    const char *a7[] = {"--method", "PUT", "--schedule", "ok", "--then", "500", NULL};
    if (via_proxy(f, a7, &o, &p, &s) == 0) {
        EXPECT(lv_store_put(s, "bigfail", db, big, 0), LV_ERR_UNREACHABLE,
               "faults: multipart put with failing parts fails as unreachable");
        lv_store_close(s);
    }
    proxy_stop(&p);
    EXPECT(lv_store_head(f->direct, "bigfail", &sz), LV_ERR_NOT_FOUND,
           "faults: the failed multipart put left no object");

    /* bodies always cut short: corrupt, not silently short */
    o = s3_opts(f->e);
    o.max_retries = 2;
    o.retry_base_ms = 10;
    const char *a8[] = {"--then", "short", NULL};
    if (via_proxy(f, a8, &o, &p, &s) == 0) {
        lv_buf b = LV_BUF_INIT;
        EXPECT(lv_store_get(s, "one", 0, 0, &b), LV_ERR_CORRUPT, "faults: persistently short bodies are corrupt");
        tap(b.len == 0, "faults: ... and nothing was appended");
        lv_buf_free(&b);
        lv_store_close(s);
    }
    proxy_stop(&p);

    /* fail-all switched on and off by signals, and by a control file */
    o = s3_opts(f->e);
    o.max_retries = 1;
    o.retry_base_ms = 10;
    char control[512];
    snprintf(control, sizeof control, "%s/lvstore-control-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    const char *a9[] = {"--control", control, NULL};
    if (via_proxy(f, a9, &o, &p, &s) == 0) {
        kill(p.pid, SIGUSR1);
        usleep(100000);
        EXPECT(lv_store_put(s, "toggle", "t", 1, 0), LV_ERR_UNREACHABLE, "faults: SIGUSR1 turns fail-all on");
        kill(p.pid, SIGUSR2);
        usleep(100000);
        EXPECT(lv_store_put(s, "toggle", "t", 1, 0), LV_OK, "faults: SIGUSR2 turns it off");
        FILE *cf = fopen(control, "w");
        if (cf) {
            fputs("reset\n", cf);
            fclose(cf);
        }
        EXPECT(lv_store_head(s, "toggle", &sz), LV_ERR_UNREACHABLE, "faults: control file 'reset' fails requests");
        unlink(control);
        EXPECT(lv_store_head(s, "toggle", &sz), LV_OK, "faults: removing the control file heals");
        lv_store_close(s);
    }
    proxy_stop(&p);

    const char *left[] = {"one", "created", "big", "big200", "toggle"};
    EXPECT(lv_store_del_many(f->direct, left, 5), LV_OK, "faults: clean up");
    free(d);
    free(db);
}

typedef struct keyvec {
    char **v;
    size_t n;
} keyvec;

static int gather(void *arg, const char *key, uint64_t size)
{
    (void)size;
    keyvec *k = arg;
    k->v = lv_xrealloc(k->v, (k->n + 1) * sizeof *k->v);
    k->v[k->n++] = lv_xstrdup(key);
    return 0;
}

static void s3_tests(s3env *e, const char *proxy_bin)
{
    snprintf(e->bucket, sizeof e->bucket, "lvtest-%d-%ld", (int)getpid(), (long)time(NULL));
    lv_store_opts o = s3_opts(e);
    lv_store *root = NULL, *s = NULL;
    EXPECT(open_s3(e, "", &o, &root), LV_OK, "s3: open s3://%s", e->bucket);
    if (!root)
        return;
    EXPECT(lv_store_create(root), LV_OK, "s3: create bucket %s", e->bucket);
    EXPECT(lv_store_create(root), LV_OK, "s3: creating it again is fine");

    tap(lv_store_readers(root, 4) == 8 && lv_store_readers(root, 1) == 2 && lv_store_puts_in_flight(root) == 2,
        "s3: readers are twice the concurrency; two puts in flight");
    EXPECT(open_s3(e, "/repo/one/", &o, &s), LV_OK, "s3: open with a prefix");
    tap(s && strcmp(lv_store_describe(s), "s3://" ) > 0 && strstr(lv_store_describe(s), "/repo/one") &&
            lv_store_describe(s)[strlen(lv_store_describe(s)) - 1] != '/',
        "s3: describe is s3://bucket/repo/one (%s)", s ? lv_store_describe(s) : "");
    suite(s, "s3", 1500);
    EXPECT(lv_store_put(s, "config", "c", 1, 0), LV_OK, "s3: put under the prefix");
    listing l = {0};
    EXPECT(lv_store_list(root, "", collect, &l), LV_OK, "s3: list the bucket root");
    tap(l.n == 1 && strcmp(l.keys[0], "repo/one/config") == 0, "s3: the object lives at repo/one/config");
    listing_free(&l);
    EXPECT(lv_store_del(s, "config"), LV_OK, "s3: delete under the prefix");
    lv_store_close(s);

    s3_negative(e);
    s3_virtual_hosted(e);

    const char *up = hostport(e->endpoint);
    if (!proxy_bin) {
        skip("faults: no faultproxy given (argv[1])");
    } else if (!up) {
        skip("faults: the faultproxy needs an http:// endpoint");
    } else {
        fault_env f = {.e = e, .bin = proxy_bin, .upstream = up};
        o = s3_opts(e);
        EXPECT(open_s3(e, "/faults", &o, &f.direct), LV_OK, "faults: open the direct store");
        if (f.direct) {
            faults(&f);
            lv_store_close(f.direct);
        }
    }

    /* remove everything, then the bucket */
    keyvec k = {0};
    EXPECT(lv_store_list(root, "", gather, &k), LV_OK, "s3: list leftovers");
    if (k.n)
        printf("# %zu leftover keys, first %s\n", k.n, k.v[0]);
    EXPECT(lv_store_del_many(root, (const char *const *)k.v, k.n), LV_OK, "s3: delete leftovers");
    for (size_t i = 0; i < k.n; i++)
        free(k.v[i]);
    free(k.v);
    EXPECT(lv_s3_delete_bucket(root), LV_OK, "s3: delete bucket %s", e->bucket);
    lv_store_close(root);
}

/* ---- main --------------------------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* A repository directory that gives its group access shares it: files 0660, directories with the root's
 * group bits and setgid, whatever the writer's umask (postgres runs with 077). A private one stays 0600. */
static void local_group_modes(const char *tmp)
{
    char *shared = lv_xasprintf("%s/shared-repo", tmp), *priv = lv_xasprintf("%s/private-repo", tmp);
    mkdir(shared, 0700);
    chmod(shared, 02770);
    mode_t old = umask(077);
    lv_store *s = NULL, *p = NULL;
    int ok = lv_store_open(shared, NULL, &s) == LV_OK && lv_store_open(priv, NULL, &p) == LV_OK &&
             lv_store_create(p) == LV_OK && lv_store_put(s, "data/ab/obj", "x", 1, 0) == LV_OK &&
             lv_store_put(p, "data/ab/obj", "x", 1, 0) == LV_OK;
    umask(old);
    struct stat f, d, pf, pd;
    char *sf = lv_xasprintf("%s/data/ab/obj", shared), *sd = lv_xasprintf("%s/data/ab", shared);
    char *qf = lv_xasprintf("%s/data/ab/obj", priv), *qd = lv_xasprintf("%s/data/ab", priv);
    ok = ok && stat(sf, &f) == 0 && stat(sd, &d) == 0 && stat(qf, &pf) == 0 && stat(qd, &pd) == 0;
    tap(ok && (f.st_mode & 07777) == 0660 && (d.st_mode & 07777) == 02770,
        "local: in a repository directory of mode 2770, objects are 0660 and directories 2770 under umask 077 "
        "(%o, %o)", ok ? f.st_mode & 07777 : 0, ok ? d.st_mode & 07777 : 0);
    tap(ok && (pf.st_mode & 07777) == 0600 && (pd.st_mode & 07777) == 0700,
        "local: in a private one they stay 0600 and 0700");
    lv_store_close(s);
    lv_store_close(p);
    free(shared), free(priv), free(sf), free(sd), free(qf), free(qd);
}

int main(int argc, char **argv)
{
    const char *lvl = getenv("LABVAULT_LOG_LEVEL"); /* "info" shows every retry */
    if (lvl && lv_log_parse_level(lvl) >= 0)
        lv_log_set_level((lv_log_level)lv_log_parse_level(lvl));
    /* TMPDIR: the harness points it at a directory it removes afterwards */
    char *tmp = lv_xasprintf("%s/lvstore-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }
    xml_tests();
    local_tests(tmp);
    stream_tests(tmp);
    local_group_modes(tmp);
    disk_full(tmp);
    tls_tests(tmp);
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);

    s3env e = {getenv("LV_TEST_S3_ENDPOINT"), getenv("LV_TEST_S3_ACCESS_KEY"),
               getenv("LV_TEST_S3_SECRET_KEY"), getenv("LV_TEST_S3_REGION"), ""};
    if (e.endpoint && e.access && e.secret) {
        s3_tests(&e, argc > 1 ? argv[1] : NULL);
    } else if (getenv("CI")) {
        tap(0, "s3: LV_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY are required when CI is set");
    } else {
        skip("s3: LV_TEST_S3_* not set (start tests/harness/s3.sh)");
    }
    free(tmp);
    printf("1..%d\n", n_run);
    return n_fail ? 1 : 0;
}
