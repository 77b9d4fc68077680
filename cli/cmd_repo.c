/* repo init and repo key add|list|remove. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "crypto/crypto.h"

/* A key file named in the configuration but absent is created at init/key add: that is how an
 * unattended setup (cron, archive_command) gets its credential without a passphrase anywhere. */
static int ensure_key_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return LV_OK;
    if (errno != ENOENT)
        return lv_err_errno(errno, "key file %s", path);
    uint8_t key[64];
    lv_random(key, sizeof key);
    int rc = lv_write_file_atomic(path, key, sizeof key, 0600, 1);
    lv_wipe(key, sizeof key);
    if (rc != LV_OK)
        return lv_err_ctx("cannot create key file");
    fprintf(stderr, "labvault: created key file %s (keep a copy: without it the repository cannot be "
                    "opened)\n", path);
    return LV_OK;
}

int lv_cmd_repo_init(lv_ctx *ctx)
{
    lv_repo_params p;
    lv_repo_params_default(&p);
    p.encrypted = lv_ctx_flag(ctx, "unencrypted") == NULL;
    p.compress_level = (int)lv_config_int(ctx->cfg, "compress-level");
    p.pack_size = (uint64_t)lv_config_int(ctx->cfg, "pack-size");

    int rc = lv_ctx_open_store(ctx);
    if (rc == LV_OK)
        rc = lv_store_create(ctx->store); /* the bucket or directory; one that exists is fine */
    if (rc != LV_OK)
        return rc;
    lv_credential cred;
    memset(&cred, 0, sizeof cred);
    if (p.encrypted) {
        const char *kf = lv_config_str(ctx->cfg, "key-file");
        if (kf && (rc = ensure_key_file(kf)) != LV_OK)
            return rc;
        if ((rc = lv_ctx_credential(ctx, 1, &cred)) != LV_OK)
            return rc;
    } else {
        lv_warn("creating an UNENCRYPTED repository: anyone who can read the storage can read the data");
    }
    rc = lv_repo_init(ctx->store, &p, &cred, &ctx->repo);
    if (rc != LV_OK)
        return rc;
    /* Bind a catalog to the new repository right away, so later commands find it. */
    rc = lv_catalog_open(lv_config_str(ctx->cfg, "catalog"), ctx->repo->id_hex, &ctx->cat);
    if (rc != LV_OK)
        return lv_err_ctx("repository %s was created, but its catalog could not be", ctx->repo->id_hex);
    ctx->repo->cat = ctx->cat;

    lv_buf b = LV_BUF_INIT;
    if (ctx->json) {
        lv_json j;
        lv_json_init(&j, &b);
        lv_json_obj(&j);
        lv_json_key(&j, "id");
        lv_json_str(&j, ctx->repo->id_hex);
        lv_json_key(&j, "location");
        lv_json_str(&j, lv_store_describe(ctx->store));
        lv_json_key(&j, "encrypted");
        lv_json_bool(&j, p.encrypted);
        lv_json_key(&j, "key");
        lv_json_str(&j, ctx->repo->key_id);
        lv_json_key(&j, "catalog");
        lv_json_str(&j, lv_catalog_path(ctx->cat));
        lv_json_end(&j);
        lv_buf_append_str(&b, "\n");
    } else {
        lv_buf_printf(&b, "created repository %s at %s\n", ctx->repo->id_hex, lv_store_describe(ctx->store));
        if (p.encrypted)
            lv_buf_printf(&b, "encryption: AES-256-GCM, first key %.16s (%s)\n", ctx->repo->key_id,
                          cred.key_file ? "key file" : "passphrase");
        else
            lv_buf_printf(&b, "encryption: NONE (chosen with --unencrypted)\n");
        lv_buf_printf(&b, "catalog: %s\n", lv_catalog_path(ctx->cat));
    }
    lv_out_buf(&b);
    lv_buf_free(&b);
    return LV_OK;
}

int lv_cmd_repo_key_add(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    lv_credential cred;
    memset(&cred, 0, sizeof cred);
    char *pass = NULL;
    const char *kf = lv_ctx_flag(ctx, "new-key-file"), *pf = lv_ctx_flag(ctx, "new-passphrase-file");
    if (kf && pf)
        return lv_err(LV_ERR_USAGE, "give either --new-key-file or --new-passphrase-file, not both");
    if (kf) {
        if ((rc = ensure_key_file(kf)) != LV_OK)
            return rc;
        cred.key_file = kf;
        cred.key_file_code = LV_ERR_USAGE;
        cred.key_file_origin = "flag --new-key-file";
    } else if (pf) {
        if ((rc = lv_read_secret_file(pf, LV_ERR_USAGE, "flag --new-passphrase-file", &pass)) != LV_OK)
            return rc;
    } else if (getenv("LABVAULT_NEW_PASSPHRASE") && *getenv("LABVAULT_NEW_PASSPHRASE")) {
        pass = lv_xstrdup(getenv("LABVAULT_NEW_PASSPHRASE"));
    } else if (isatty(STDIN_FILENO)) {
        char *again = NULL;
        rc = lv_prompt_secret("New passphrase: ", &pass);
        if (rc == LV_OK)
            rc = lv_prompt_secret("Repeat new passphrase: ", &again);
        if (rc == LV_OK && strcmp(pass, again) != 0)
            rc = lv_err(LV_ERR_USAGE, "the passphrases do not match");
        free(again);
    } else {
        rc = lv_err(LV_ERR_USAGE, "no new credential: give --new-key-file, --new-passphrase-file or "
                                  "LABVAULT_NEW_PASSPHRASE");
    }
    char id[65] = "";
    if (rc == LV_OK) {
        cred.passphrase = pass;
        rc = lv_repo_key_add(ctx->repo, &cred, id);
    }
    if (pass) {
        lv_wipe(pass, strlen(pass));
        free(pass);
    }
    if (rc != LV_OK)
        return rc;
    if (ctx->json)
        lv_out("{\"id\":\"%s\"}\n", id);
    else
        lv_out("added key %s\n", id);
    return LV_OK;
}

static const char *const key_titles[] = {" ", "ID", "KDF", "HOST", "USER", "CREATED"};
static const int key_widths[] = {0, -64, -8, -20, -12, 0};

static int key_row(void *arg, const lv_key_info *k)
{
    lv_rec *r = arg;
    lv_rec_begin(r);
    lv_rec_str(r, NULL, k->current ? "*" : " ", key_widths[0]);
    lv_rec_str(r, "id", k->id, key_widths[1]);
    lv_rec_str(r, "kdf", k->kdf, key_widths[2]);
    lv_rec_str(r, "host", k->host, key_widths[3]);
    lv_rec_str(r, "user", k->user, key_widths[4]);
    lv_rec_str(r, "created", k->created, key_widths[5]);
    lv_rec_bool(r, "current", k->current, "", "", LV_REC_JSON);
    lv_rec_end(r);
    return 0;
}

int lv_cmd_repo_key_list(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    lv_buf b = LV_BUF_INIT;
    lv_rec r;
    lv_rec_init(&r, &b, ctx->json, " ");
    lv_rec_list_begin(&r, key_titles, key_widths, sizeof key_titles / sizeof *key_titles);
    rc = lv_repo_key_list(ctx->repo, key_row, &r);
    if (rc == LV_OK) {
        lv_rec_list_end(&r);
        lv_out_buf(&b);
    }
    lv_buf_free(&b);
    return rc;
}

int lv_cmd_repo_key_remove(lv_ctx *ctx)
{
    int rc = lv_ctx_open_repo(ctx, 0);
    if (rc != LV_OK)
        return rc;
    rc = lv_repo_key_remove(ctx->repo, ctx->argv[0]);
    if (rc != LV_OK)
        return rc;
    if (ctx->json)
        lv_out("{\"removed\":\"%s\"}\n", ctx->argv[0]);
    else
        lv_out("removed key %s\n", ctx->argv[0]);
    return LV_OK;
}
