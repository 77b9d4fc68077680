/* pg/summary: the summary of a pg backup encodes to exactly the JSON backup pg has always written (the
 * catalog and every repository hold it), decodes back to the same fields whatever its strings hold, and a
 * summary without what a restore plans with is refused naming the field. */
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "pg/summary.h"
#include "tests/check.h"

static void sample(lv_pg_summary *s, int incr)
{
    memset(s, 0, sizeof *s);
    s->incr = incr;
    snprintf(s->label, sizeof s->label, "nightly \"full\" \\ é");
    s->sysid = 7301234567890123456ull;
    s->pg_version = 150018;
    s->timeline = 2;
    s->start_lsn = 0x2000028;
    s->stop_lsn = 0x1000002000100ull;
    s->start_time = 1796596413;
    s->stop_time = 1796596414;
    snprintf(s->wal_start, sizeof s->wal_start, "000000020000000000000002");
    snprintf(s->wal_stop, sizeof s->wal_stop, "000000020000000100000002");
    s->files = 969;
    s->bytes = 24860450;
    s->bytes_read = 24860450;
    s->bytes_new = 1234;
    s->bytes_stored = 999;
    s->bad_pages = 1;
    if (incr) {
        memset(s->prev, 'a', 64);
        s->delta_pages = 3;
        s->delta_bytes = 300;
        s->base_blobs_read = 2;
    }
    s->rows_exact = 1;
    snprintf(s->pgdata, sizeof s->pgdata, "/var/lib/postgresql/15/main");
}

int main(void)
{
    lv_pg_summary s, d;
    lv_buf b = LV_BUF_INIT;
    sample(&s, 0);
    lv_pg_summary_encode(&s, &b);
    CHECK(strcmp(lv_buf_cstr(&b),
                 "{\"type\":\"full\",\"label\":\"nightly \\\"full\\\" \\\\ é\",\"sysid\":\"7301234567890123456\","
                 "\"pg_version\":150018,\"timeline\":2,\"start_lsn\":\"0/2000028\",\"stop_lsn\":\"10000/2000100\","
                 "\"start_time\":1796596413,\"stop_time\":1796596414,\"wal_start\":\"000000020000000000000002\","
                 "\"wal_stop\":\"000000020000000100000002\",\"files\":969,\"bytes\":24860450,\"bytes_read\":24860450,"
                 "\"bytes_new\":1234,\"bytes_stored\":999,\"bad_pages\":1,\"rows_exact\":true,"
                 "\"pgdata\":\"/var/lib/postgresql/15/main\"}") == 0,
          "a full backup's summary, byte for byte: %s", lv_buf_cstr(&b));
    CHECK(lv_pg_summary_decode(lv_buf_cstr(&b), &d) == LV_OK && memcmp(&s, &d, sizeof s) == 0,
          "decodes back to every field (a label with quotes and backslashes included)");
    lv_buf_reset(&b);
    sample(&s, 1);
    lv_pg_summary_encode(&s, &b);
    CHECK(strstr(lv_buf_cstr(&b), "\"bad_pages\":1,\"prev\":\"aaaa") &&
              strstr(lv_buf_cstr(&b), "\"delta_pages\":3,\"delta_bytes\":300,\"base_blobs_read\":2,\"rows_exact\""),
          "an incremental's summary adds prev and its delta counts before rows_exact");
    CHECK(lv_pg_summary_decode(lv_buf_cstr(&b), &d) == LV_OK && memcmp(&s, &d, sizeof s) == 0,
          "an incremental's decodes back to every field");
    const char *newer = "{\"type\":\"incr\",\"sysid\":7301234567890123456,\"pg_version\":180001,\"timeline\":1,"
                        "\"start_lsn\":\"0/5000028\",\"stop_lsn\":\"0/5000100\",\"start_time\":5,\"stop_time\":6,"
                        "\"standby\":{\"lag\":[1,2]},\"files\":\"not a number\"}";
    CHECK(lv_pg_summary_decode(newer, &d) == LV_OK && d.incr && d.sysid == 7301234567890123456ull &&
              d.pg_version == 180001 && d.files == 0 && d.label[0] == '\0',
          "unknown keys and malformed optional fields are ignored; sysid as a number is read (%s)", lv_errmsg());
    const char *no_time = "{\"type\":\"full\",\"sysid\":\"1\",\"pg_version\":1,\"timeline\":1,\"start_lsn\":\"0/1\","
                          "\"stop_lsn\":\"0/2\",\"start_time\":5}";
    CHECK(lv_pg_summary_decode(no_time, &d) == LV_ERR_CORRUPT && strstr(lv_errmsg(), "\"stop_time\""),
          "a missing field a restore needs is refused, naming it (%s)", lv_errmsg());
    const char *bad_lsn = "{\"type\":\"full\",\"sysid\":\"1\",\"pg_version\":1,\"timeline\":1,\"start_lsn\":\"0-1\","
                          "\"stop_lsn\":\"0/2\",\"start_time\":5,\"stop_time\":6}";
    CHECK(lv_pg_summary_decode(bad_lsn, &d) == LV_ERR_CORRUPT && strstr(lv_errmsg(), "\"start_lsn\""),
          "a malformed LSN is refused (%s)", lv_errmsg());
    CHECK(lv_pg_summary_decode("{\"type\":\"full\"", &d) == LV_ERR_CORRUPT, "text that is not JSON is refused");
    lv_buf_free(&b);
    return check_done();
}
