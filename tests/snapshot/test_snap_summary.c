/* snapshot/summary: the summary of a file snapshot encodes to exactly the JSON backup files has always
 * written and decodes back, its string arrays and a compose project's volumes included. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "snapshot/summary.h"
#include "tests/check.h"

int main(void)
{
    char p0[] = "/etc", p1[] = "/srv/a \"b\"", t0[] = "nightly";
    char *paths[] = {p0, p1}, *tags[] = {t0};
    lv_snap_summary s = {.source = "paths", .paths = paths, .npaths = 2, .tags = tags, .ntags = 1,
                         .files_new = 1, .files_changed = 2, .files_unchanged = 3, .dirs = 4, .others = 5,
                         .errors = 0, .bytes_total = 6, .bytes_read = 7, .bytes_new = 8, .bytes_stored = 9,
                         .blobs_new = 10, .trees_new = 11, .seconds = 0.25, .end_ns = 1796596412123456789,
                         .incomplete = 0};
    snprintf(s.host, sizeof s.host, "vm");
    snprintf(s.docker_volume, sizeof s.docker_volume, "pgdata");
    lv_buf b = LV_BUF_INIT;
    lv_snap_summary_encode(&s, &b);
    CHECK(strcmp(lv_buf_cstr(&b),
                 "{\"host\":\"vm\",\"source\":\"paths\",\"paths\":[\"/etc\",\"/srv/a \\\"b\\\"\"],\"tags\":[\"nightly\"],"
                 "\"docker_volume\":\"pgdata\",\"files_new\":1,\"files_changed\":2,\"files_unchanged\":3,\"dirs\":4,"
                 "\"others\":5,\"errors\":0,\"bytes_total\":6,\"bytes_read\":7,\"bytes_new\":8,\"bytes_stored\":9,"
                 "\"blobs_new\":10,\"trees_new\":11,\"seconds\":0.25,\"end_ns\":1796596412123456789,"
                 "\"incomplete\":false}") == 0,
          "a snapshot's summary, byte for byte: %s", lv_buf_cstr(&b));
    lv_snap_summary d;
    int rc = lv_snap_summary_decode(lv_buf_cstr(&b), &d);
    CHECK(rc == LV_OK && strcmp(d.host, "vm") == 0 && strcmp(d.source, "paths") == 0 && d.npaths == 2 &&
              strcmp(d.paths[1], "/srv/a \"b\"") == 0 && d.ntags == 1 && strcmp(d.tags[0], "nightly") == 0 &&
              strcmp(d.docker_volume, "pgdata") == 0 && d.stdin_name[0] == '\0' && d.files_unchanged == 3 &&
              d.trees_new == 11 && d.seconds == 0.25 && d.end_ns == 1796596412123456789 && !d.incomplete,
          "decodes back to every field");
    lv_snap_summary_free(&d);
    CHECK(lv_snap_summary_decode("{\"source\":\"stdin\",\"stdin_name\":\"dump.sql\"}", &d) == LV_ERR_CORRUPT,
          "a summary without its host is refused");
    lv_snap_summary_free(&d);
    CHECK(lv_snap_summary_decode("{\"host\":\"h\",\"source\":\"stdin\",\"stdin_name\":\"dump.sql\",\"paths\":[],"
                                 "\"future\":{\"x\":1}}", &d) == LV_OK && d.npaths == 0 &&
              strcmp(d.stdin_name, "dump.sql") == 0,
          "a stream's summary, with a key of a later labvault ignored");
    lv_snap_summary_free(&d);

    /* A compose project's snapshot: the project and which mount point is which volume. */
    char v0[] = "shop_db", m0[] = "/var/lib/docker/volumes/shop_db/_data", v1[] = "shop_files",
         m1[] = "/var/lib/docker/volumes/shop_files/_data";
    lv_snap_volume vols[] = {{v0, m0}, {v1, m1}};
    char *vpaths[] = {m0, m1};
    memset(s.docker_volume, 0, sizeof s.docker_volume);
    snprintf(s.compose_project, sizeof s.compose_project, "shop");
    s.paths = vpaths;
    s.volumes = vols;
    s.nvolumes = 2;
    lv_buf_reset(&b);
    lv_snap_summary_encode(&s, &b);
    CHECK(strstr(lv_buf_cstr(&b), "\"tags\":[\"nightly\"],\"compose_project\":\"shop\",\"docker_volumes\":["
                 "{\"name\":\"shop_db\",\"path\":\"/var/lib/docker/volumes/shop_db/_data\"},"
                 "{\"name\":\"shop_files\",\"path\":\"/var/lib/docker/volumes/shop_files/_data\"}],"
                 "\"files_new\":1,") != NULL,
          "compose_project and docker_volumes after the tags: %s", lv_buf_cstr(&b));
    rc = lv_snap_summary_decode(lv_buf_cstr(&b), &d);
    CHECK(rc == LV_OK && strcmp(d.compose_project, "shop") == 0 && d.docker_volume[0] == '\0' && d.nvolumes == 2 &&
              strcmp(d.volumes[0].name, "shop_db") == 0 && strcmp(d.volumes[1].path, m1) == 0,
          "decodes back to the project and its volumes");
    lv_snap_summary_free(&d);
    CHECK(lv_snap_summary_decode("{\"host\":\"h\",\"source\":\"paths\",\"docker_volumes\":[{\"name\":\"a\"},7,"
                                 "{\"name\":\"b\",\"path\":\"/b\"}]}", &d) == LV_OK &&
              d.nvolumes == 1 && strcmp(d.volumes[0].name, "b") == 0,
          "a docker_volumes element without a name and a path is left out");
    lv_snap_summary_free(&d);
    lv_buf_free(&b);
    return check_done();
}
