/* version and config show: the commands that need no repository. */
#include <archive.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <xxhash.h>
#include <zstd.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "common/json.h"

int lv_cmd_version(lv_ctx *ctx)
{
    char pq[32], xx[32];
    int v = PQlibVersion();
    snprintf(pq, sizeof pq, "%d.%d", v / 10000, v % 100);
    unsigned x = XXH_versionNumber();
    snprintf(xx, sizeof xx, "%u.%u.%u", x / 10000, x / 100 % 100, x % 100);
    const char *names[] = {"libpq", "libcurl", "zstd", "openssl", "libarchive", "xxhash", "sqlite"};
    const char *vers[] = {pq,
                          curl_version_info(CURLVERSION_NOW)->version,
                          ZSTD_versionString(),
                          OpenSSL_version(OPENSSL_VERSION),
                          archive_version_string(),
                          xx,
                          lv_catalog_sqlite_version()};
    lv_buf b = LV_BUF_INIT;
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &b);
        lv_json_obj(&j);
        lv_json_key(&j, "labvault");
        lv_json_str(&j, LV_VERSION);
        lv_json_key(&j, "libraries");
        lv_json_obj(&j);
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            lv_json_key(&j, names[i]);
            lv_json_str(&j, vers[i]);
        }
        lv_json_end(&j);
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
    } else {
        lv_buf_printf(&b, "labvault %s\n", LV_VERSION);
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            lv_buf_printf(&b, "  %-11s %s\n", names[i], vers[i]);
    }
    lv_out_buf(&b);
    lv_buf_free(&b);
    return 0;
}

int lv_cmd_config_show(lv_ctx *ctx)
{
    lv_buf b = LV_BUF_INIT;
    lv_config_show(ctx->cfg, ctx->json, &b);
    lv_out_buf(&b);
    lv_buf_free(&b);
    return 0;
}
