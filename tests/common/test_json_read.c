/* common/json_read: what the writer (common/json.h) writes reads back exactly, escapes included; the
 * reader refuses everything that is not one JSON value, and its getters refuse what does not fit. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/json_read.h"
#include "tests/check.h"

typedef struct seen {
    lv_buf keys;
    int n;
} seen;

static int collect(void *arg, const char *key, const lv_jval *v)
{
    seen *s = arg;
    lv_buf_printf(&s->keys, "%s%s:%d", s->n++ ? "," : "", key ? key : "-", (int)v->type);
    return 0;
}

static int stop_at_two(void *arg, const char *key, const lv_jval *v)
{
    (void)key, (void)v;
    return ++*(int *)arg == 2 ? 7 : 0;
}

static void test_round_trip(void)
{
    lv_buf b = LV_BUF_INIT;
    lv_json j;
    lv_json_init(&j, &b);
    lv_json_obj(&j);
    lv_json_key(&j, "s");
    lv_json_str(&j, "quote \" backslash \\ newline \n tab \t bell \a é");
    lv_json_key(&j, "big");
    lv_json_uint(&j, UINT64_MAX);
    lv_json_key(&j, "neg");
    lv_json_int(&j, INT64_MIN);
    lv_json_key(&j, "d");
    lv_json_double(&j, 1.5);
    lv_json_key(&j, "t");
    lv_json_bool(&j, 1);
    lv_json_key(&j, "n");
    lv_json_null(&j);
    lv_json_key(&j, "a");
    lv_json_arr(&j);
    lv_json_str(&j, "x");
    lv_json_obj(&j);
    lv_json_end(&j);
    lv_json_end(&j);
    lv_json_end(&j);
    lv_jval v;
    CHECK(lv_jparse((const char *)b.data, b.len, &v) == 0 && v.type == LV_JOBJECT, "the writer's output parses");
    seen s = {LV_BUF_INIT, 0};
    lv_jeach(&v, collect, &s);
    CHECK(strcmp(lv_buf_cstr(&s.keys), "s:3,big:2,neg:2,d:2,t:1,n:0,a:4") == 0, "members in order with their types: %s",
          lv_buf_cstr(&s.keys));
    lv_buf_free(&s.keys);
    int n = 0;
    CHECK(lv_jeach(&v, stop_at_two, &n) == 7 && n == 2, "a callback's non-zero return stops the walk");
    lv_buf_free(&b);
}

typedef struct getters {
    char s[64];
    uint64_t big;
    int64_t neg;
    double d;
    int t, got;
} getters;

static int get(void *arg, const char *key, const lv_jval *v)
{
    getters *g = arg;
    if (strcmp(key, "s") == 0)
        g->got += lv_jstr(v, g->s, sizeof g->s) == 0;
    if (strcmp(key, "big") == 0)
        g->got += lv_ju64(v, &g->big) == 0;
    if (strcmp(key, "neg") == 0)
        g->got += lv_ji64(v, &g->neg) == 0 && lv_ju64(v, &g->big) != 0;
    if (strcmp(key, "d") == 0)
        g->got += lv_jdouble(v, &g->d) == 0 && lv_ju64(v, &g->big) != 0;
    if (strcmp(key, "t") == 0)
        g->got += lv_jbool(v, &g->t) == 0 && lv_jstr(v, g->s, sizeof g->s) != 0;
    return 0;
}

static void test_getters(void)
{
    const char *text = "{\"neg\":-9223372036854775808,\"d\":2.5e1,\"t\":true,\"s\":\"a\\u00e9\\ud83d\\ude00\\/\\\"\","
                       "\"big\":18446744073709551615}";
    lv_jval v;
    getters g = {0};
    CHECK(lv_jparse(text, strlen(text), &v) == 0, "parses");
    lv_jeach(&v, get, &g);
    CHECK(g.got == 5, "every getter takes its type and refuses the others (%d)", g.got);
    CHECK(strcmp(g.s, "a\xc3\xa9\xf0\x9f\x98\x80/\"") == 0, "\\u escapes become UTF-8, a surrogate pair one character");
    CHECK(g.big == UINT64_MAX && g.neg == INT64_MIN && g.d == 25.0 && g.t == 1, "numbers at the ends of their range");
    char raw[8];
    lv_jval e;
    CHECK(lv_jparse("\"a\\udcff\\udc80\"", 15, &e) == 0 && lv_jstr(&e, raw, sizeof raw) == 0 &&
              memcmp(raw, "a\xff\x80", 4) == 0,
          "\\udcXX (the writer's surrogateescape) becomes the byte again");
    char small[4];
    lv_jval s;
    CHECK(lv_jparse("\"abcd\"", 6, &s) == 0 && lv_jstr(&s, small, sizeof small) != 0, "a string too long is refused");
    CHECK(lv_jparse("\"a\\u0000b\"", 10, &s) == 0 && lv_jstr(&s, small, sizeof small) != 0 && !lv_jstrdup(&s),
          "a string holding NUL is refused");
    uint64_t u;
    CHECK(lv_jparse("18446744073709551616", 20, &s) == 0 && lv_ju64(&s, &u) != 0, "a number above 2^64 is refused");
}

static void test_refusals(void)
{
    static const char *bad[] = {
        "", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{a:1}", "'a'", "\"abc", "\"a\\x\"",
        "\"\\u12\"", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "{\"a\":1}x", "{} {}", "\"a\tb\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lv_jval v;
        CHECK(lv_jparse(bad[i], strlen(bad[i]), &v) != 0, "refuses %s", bad[i]);
    }
    lv_jval v;
    const char *ok = " {\"a\" : [ 1 , -0.5e-3 , null , false , \"\" , { } , [ ] ] } \n";
    CHECK(lv_jparse(ok, strlen(ok), &v) == 0 && v.type == LV_JOBJECT, "white space everywhere it may be");
    CHECK(lv_jparse("{\"a\":1}", 3, &v) != 0, "reads only the bytes it is given");
}

int main(void)
{
    test_round_trip();
    test_getters();
    test_refusals();
    return check_done();
}
