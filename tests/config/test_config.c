/* Configuration: INI parsing, precedence file < environment < flag, validation errors naming
 * file:line and key, secret masking. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "config/config.h"
#include "tests/check.h"

static char dir[] = "/tmp/lv-test-config-XXXXXX";

static char *write_conf(const char *name, const char *text)
{
    char *path = lv_xasprintf("%s/%s", dir, name);
    lv_write_file_atomic(path, text, strlen(text), 0600, 0);
    return path;
}

static int load(const char *text, lv_config **out)
{
    char *path = write_conf("t.conf", text);
    *out = lv_config_new();
    int rc = lv_config_load_file(*out, path, 1);
    free(path);
    return rc;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 99;
    unsetenv("LABVAULT_REPO");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("LABVAULT_S3_ENDPOINT");
    lv_config *c;

    int rc = load("# comment\n[global]\nrepo = /srv/repo\n\n[s3]\nendpoint = http://127.0.0.1:9\n"
                  "verify-tls = no\npart-size = 8M\nsecret-key = \"s3cr3t\"\n",
                  &c);
    CHECK(rc == LV_OK, "valid file loads (%s)", rc ? lv_errmsg() : "ok");
    CHECK(strcmp(lv_config_str(c, "repo"), "/srv/repo") == 0, "repo from file");
    CHECK(strstr(lv_config_source(c, "repo"), "t.conf:3") != NULL, "source names file:line (%s)",
          lv_config_source(c, "repo"));
    CHECK(lv_config_bool(c, "s3-verify-tls") == 0, "bool parsed");
    CHECK(lv_config_int(c, "s3-part-size") == 8 * 1024 * 1024, "size with suffix parsed");
    CHECK(strcmp(lv_config_str(c, "s3-secret-key"), "s3cr3t") == 0, "quoted value unquoted");
    CHECK(lv_config_int(c, "compress-level") == 3, "default applies");

    /* precedence: env over file, flag over env */
    setenv("LABVAULT_REPO", "/env/repo", 1);
    CHECK(lv_config_load_env(c) == LV_OK, "env loads");
    CHECK(strcmp(lv_config_str(c, "repo"), "/env/repo") == 0, "env wins over file");
    CHECK(strcmp(lv_config_source(c, "repo"), "environment LABVAULT_REPO") == 0, "env source named");
    CHECK(lv_config_set_flag(c, "repo", "/flag/repo") == LV_OK, "flag sets");
    CHECK(strcmp(lv_config_str(c, "repo"), "/flag/repo") == 0, "flag wins over env");
    unsetenv("LABVAULT_REPO");

    /* standard AWS variables are read when the LABVAULT_ one is unset */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7480", 1);
    CHECK(lv_config_load_env(c) == LV_OK && strcmp(lv_config_str(c, "s3-endpoint"), "http://127.0.0.1:7480") == 0,
          "AWS_ENDPOINT_URL read");
    unsetenv("AWS_ENDPOINT_URL");

    /* secrets: refused as flags, masked in show */
    rc = lv_config_set_flag(c, "s3-secret-key", "x");
    CHECK(rc == LV_ERR_USAGE && strstr(lv_errmsg(), "not accepted on the command line"), "secret flag refused");
    lv_buf b = LV_BUF_INIT;
    lv_config_show(c, 0, &b);
    CHECK(strstr(lv_buf_cstr(&b), "s3cr3t") == NULL && strstr(lv_buf_cstr(&b), "********"), "secret masked");
    lv_buf_reset(&b);
    lv_config_show(c, 1, &b);
    CHECK(strstr(lv_buf_cstr(&b), "s3cr3t") == NULL && strstr(lv_buf_cstr(&b), "\"repo\":{\"value\":\"/flag/repo\""),
          "json show masks and lists");
    lv_buf_free(&b);
    lv_config_free(c);

    /* errors name file:line and key */
    rc = load("[global]\nrepo = /x\nbogus = 1\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "t.conf:3") && strstr(lv_errmsg(), "'bogus'"),
          "unknown key: %s", lv_errmsg());
    lv_config_free(c);
    rc = load("[s3]\n\nverify-tls = maybe\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "t.conf:3") && strstr(lv_errmsg(), "s3-verify-tls"),
          "bad bool: %s", lv_errmsg());
    lv_config_free(c);
    rc = load("[nosuch]\nx = 1\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "t.conf:1") && strstr(lv_errmsg(), "[nosuch]"),
          "unknown section: %s", lv_errmsg());
    lv_config_free(c);
    rc = load("[global]\njust some words\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "t.conf:2"), "line without '=': %s", lv_errmsg());
    lv_config_free(c);
    rc = load("[global]\npack-size = 1K\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "pack-size") && strstr(lv_errmsg(), "outside"),
          "out of range: %s", lv_errmsg());
    lv_config_free(c);
    rc = load("[global]\ncompress-level = 3x\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "not an integer"), "bad int: %s", lv_errmsg());
    lv_config_free(c);
    rc = load("[s3\nx=1\n", &c);
    CHECK(rc == LV_ERR_CONFIG && strstr(lv_errmsg(), "malformed section"), "bad header: %s", lv_errmsg());
    lv_config_free(c);

    c = lv_config_new();
    char *missing = lv_xasprintf("%s/none.conf", dir);
    CHECK(lv_config_load_file(c, missing, 0) == LV_OK, "missing optional file is fine");
    CHECK(lv_config_load_file(c, missing, 1) == LV_ERR_CONFIG, "missing required file is an error");
    free(missing);
    lv_config_free(c);

    int64_t v;
    CHECK(lv_parse_size("16MiB", &v) == LV_OK && v == 16 << 20, "16MiB");
    CHECK(lv_parse_size("99999999999T", &v) != LV_OK, "overflow refused");
    CHECK(lv_parse_size("-1", &v) != LV_OK, "negative refused");

    char *p = lv_xasprintf("%s/t.conf", dir);
    unlink(p);
    free(p);
    rmdir(dir);
    return check_done();
}
