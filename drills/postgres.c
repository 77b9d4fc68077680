/* The scratch PostgreSQL of a drill (contract in drills/postgres.h). */
#include "drills/postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "drills/drill.h"
#include "wal/pgdata.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal cuts it short: the callers poll lv_interrupted() */
}

/* ---- running programs ----------------------------------------------------------------------- */

int lv_spg_run(const char *const *argv, char **out)
{
    *out = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        lv_interrupt_child();
        execv(argv[0], (char *const *)(uintptr_t)argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    lv_buf b = LV_BUF_INIT;
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n > 0) {
            if (b.len < 65536)
                lv_buf_append(&b, tmp, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            if (lv_interrupted())
                kill(pid, SIGKILL);
            continue;
        }
        break;
    }
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *out = lv_xstrdup(b.len ? lv_buf_cstr(&b) : "");
    lv_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- programs, user, port ------------------------------------------------------------------- */

int lv_spg_bindir(const char *configured, int major, char **out)
{
    *out = NULL;
    if (configured) {
        int m = lv_pg_bin_major(configured);
        if (m != major)
            return lv_err(LV_ERR_CONFIG, "pg-bin %s: %s, the backup needs PostgreSQL %d", configured,
                          m < 0 ? "no postgres program there" : "another major version", major);
        *out = lv_xstrdup(configured);
        return LV_OK;
    }
    char *deb = lv_xasprintf("/usr/lib/postgresql/%d/bin", major);
    if (lv_pg_bin_major(deb) == major) {
        *out = deb;
        return LV_OK;
    }
    free(deb);
    const char *paths[] = {"/usr/bin/pg_config", "/usr/local/bin/pg_config", "/usr/local/pgsql/bin/pg_config"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (access(paths[i], X_OK) != 0)
            continue;
        const char *argv[] = {paths[i], "--bindir", NULL};
        char *o = NULL;
        if (lv_spg_run(argv, &o) == 0) {
            o[strcspn(o, "\n")] = '\0';
            if (lv_pg_bin_major(o) == major) {
                *out = o;
                return LV_OK;
            }
        }
        free(o);
    }
    return lv_err(LV_ERR_CONFIG, "no PostgreSQL %d programs found (tried /usr/lib/postgresql/%d/bin and "
                  "pg_config --bindir): install them or set pg-bin", major, major);
}

char *lv_spg_client(const char *bindir, const char *name)
{
    char *own = lv_xasprintf("%s/%s", bindir, name);
    if (access(own, X_OK) == 0)
        return own;
    free(own);
    /* Debian's and PGDG's layout; a newer client speaks to older servers, so the newest wins. */
    for (int v = 40; v >= 13; v--) {
        char *p = lv_xasprintf("/usr/lib/postgresql/%d/bin/%s", v, name);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

int lv_spg_os_user(lv_spg *p, const char *configured, const char *pgdata)
{
    if (geteuid() != 0) {
        struct passwd *pw = getpwuid(geteuid());
        snprintf(p->user, sizeof p->user, "%s", pw ? pw->pw_name : "self");
        p->switch_user = 0;
        return LV_OK;
    }
    struct passwd *pw = NULL;
    struct stat st;
    if (configured)
        pw = getpwnam(configured);
    else if (pgdata && stat(pgdata, &st) == 0 && st.st_uid != 0)
        pw = getpwuid(st.st_uid);
    if (!pw && !configured)
        pw = getpwnam(configured = "postgres");
    if (!pw)
        return lv_err(LV_ERR_CONFIG, "drill-os-user: no OS user \"%s\" to run the scratch PostgreSQL (PostgreSQL "
                      "refuses to run as root)", configured ? configured : "postgres");
    if (pw->pw_uid == 0)
        return lv_err(LV_ERR_CONFIG, "drill-os-user: %s is root; PostgreSQL refuses to run as root", pw->pw_name);
    snprintf(p->user, sizeof p->user, "%s", pw->pw_name);
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    p->switch_user = 1;
    return LV_OK;
}

static uid_t chown_uid;
static gid_t chown_gid;
static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return lchown(path, chown_uid, chown_gid) == 0 ? 0 : errno;
}

static int free_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return lv_err_errno(errno, "drill: cannot create a socket to find a free port");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int rc = LV_OK;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        rc = lv_err_errno(errno, "drill: cannot bind 127.0.0.1:0 to find a free port");
    else
        *port = ntohs(a.sin_port);
    close(fd);
    return rc;
}

int lv_spg_prepare(lv_spg *p, const char *scratch)
{
    p->scratch = (char *)(uintptr_t)scratch;
    p->datadir = lv_xasprintf("%s/data", scratch);
    p->logfile = lv_xasprintf("%s/postgres.log", scratch);
    p->hbafile = lv_xasprintf("%s/pg_hba.conf", scratch);
    /* A socket path is at most 107 bytes (sun_path): a deep scratch directory gets its socket in a
     * private directory under /tmp instead, removed with the server. */
    if (strlen(scratch) + sizeof "/sock/.s.PGSQL.65535" <= 100) {
        p->sockdir = lv_xasprintf("%s/sock", scratch);
        if (mkdir(p->sockdir, 0700) != 0 && errno != EEXIST)
            return lv_err_errno(errno, "drill: cannot create %s", p->sockdir);
    } else {
        p->sockdir = lv_xstrdup("/tmp/labvault-drill-XXXXXX");
        if (!mkdtemp(p->sockdir))
            return lv_err_errno(errno, "drill: cannot create a socket directory in /tmp");
        p->sock_outside = 1;
        if (p->switch_user && chown(p->sockdir, p->uid, p->gid) != 0)
            return lv_err_errno(errno, "drill: cannot hand %s to %s", p->sockdir, p->user);
    }
    static const char hba[] = "# labvault drill: the private socket only\nlocal all all trust\n";
    int rc = lv_write_file_atomic(p->hbafile, hba, sizeof hba - 1, 0600, 0);
    char *conf = lv_xasprintf("%s/postgresql.conf", p->datadir);
    if (rc == LV_OK && access(conf, F_OK) != 0)
        rc = lv_write_file_atomic(conf, "", 0, 0600, 0);
    free(conf);
    if (rc == LV_OK && chmod(p->datadir, 0700) != 0)
        rc = lv_err_errno(errno, "drill: cannot chmod %s", p->datadir);
    if (rc == LV_OK && p->switch_user) {
        chown_uid = p->uid;
        chown_gid = p->gid;
        int e = nftw(scratch, chown_one, 32, FTW_PHYS);
        if (e != 0)
            rc = lv_err_errno(e > 0 ? e : errno, "drill: cannot hand %s to %s", scratch, p->user);
    }
    if (rc == LV_OK)
        rc = free_port(&p->port);
    return rc;
}

/* ---- start, wait, stop ---------------------------------------------------------------------- */

int lv_spg_start(lv_spg *p)
{
    char *prog = lv_xasprintf("%s/postgres", p->bindir), port[16], hba[4200];
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(hba, sizeof hba, "hba_file=%s", p->hbafile);
    const char *argv[] = {prog, "-D", p->datadir, "-p", port, "-k", p->sockdir,
                          "-c", "listen_addresses=127.0.0.1", "-c", hba, "-c", "archive_mode=off",
                          "-c", "hot_standby=off", "-c", "logging_collector=off", "-c", "log_destination=stderr",
                          "-c", "ssl=off", "-c", "cluster_name=labvault-drill", NULL};
    int logfd = open(p->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        free(prog);
        return lv_err_errno(errno, "drill: cannot create %s", p->logfile);
    }
    if (p->switch_user && fchown(logfd, p->uid, p->gid) != 0) {
        int e = errno;
        close(logfd);
        free(prog);
        return lv_err_errno(e, "drill: cannot hand %s to %s", p->logfile, p->user);
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(logfd);
        free(prog);
        return lv_err_errno(e, "drill: cannot fork");
    }
    if (pid == 0) {
        /* Its own session: a terminal's ^C reaches labvault, which stops the server in order. */
        setsid();
        lv_interrupt_child();
        dup2(logfd, 1);
        dup2(logfd, 2);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        if (p->switch_user && (setgid(p->gid) != 0 || initgroups(p->user, p->gid) != 0 || setuid(p->uid) != 0)) {
            dprintf(2, "labvault drill: cannot switch to the OS user %s: %s\n", p->user, strerror(errno));
            _exit(126);
        }
        if (chdir(p->scratch) != 0)
            _exit(126);
        execv(prog, (char *const *)(uintptr_t)argv);
        dprintf(2, "labvault drill: cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(logfd);
    free(prog);
    p->pid = pid;
    lv_info("drill: started PostgreSQL (pid %ld) as %s on 127.0.0.1:%d, data %s", (long)pid, p->user, p->port,
            p->datadir);
    return LV_OK;
}

/* The last FATAL/PANIC line of the log (or its last line), for the one-line error; with the last line
 * restore_command (`labvault wal fetch`) wrote before it, which says why a fetch failed (PostgreSQL's own
 * line only has its exit code). */
static char *log_tail(const lv_spg *p)
{
    lv_buf b = LV_BUF_INIT;
    char *res = NULL;
    if (lv_read_file(p->logfile, &b) == LV_OK && b.len) {
        char *s = lv_buf_cstr(&b), *best = NULL, *last = NULL, *ours = NULL, *why = NULL;
        for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
            last = line;
            if (strncmp(line, "labvault: ", 10) == 0)
                ours = line;
            /* not the drill's own connection attempts while the server is not ready */
            if ((strstr(line, "FATAL:") || strstr(line, "PANIC:")) && !strstr(line, "the database system is")) {
                best = line;
                why = ours;
            }
        }
        if (best && why)
            res = lv_xasprintf("%s (restore_command: %s)", best, why + 10);
        else if (best || last)
            res = lv_xstrdup(best ? best : last);
    } else {
        lv_err_clear();
    }
    lv_buf_free(&b);
    return res ? res : lv_xstrdup("(empty log)");
}

unsigned long lv_spg_log_count(const lv_spg *p, const char *needle)
{
    lv_buf b = LV_BUF_INIT;
    unsigned long n = 0;
    if (lv_read_file(p->logfile, &b) == LV_OK && b.len)
        for (const char *s = lv_buf_cstr(&b); (s = strstr(s, needle)); s += strlen(needle))
            n++;
    lv_buf_free(&b);
    return n;
}

void lv_spg_conn_params(const lv_spg *p, const char *user, const char *db, const char *kw[7], const char *val[7])
{
    static char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    const char *k[] = {"host", "port", "user", "dbname", "connect_timeout", "application_name", NULL};
    const char *v[] = {p->sockdir, port, user, db, "5", "labvault drill", NULL};
    memcpy(kw, k, sizeof k);
    memcpy(val, v, sizeof v);
}

static int exited(lv_spg *p)
{
    if (!p->pid)
        return 1;
    int st;
    pid_t w = waitpid(p->pid, &st, WNOHANG);
    if (w == p->pid) {
        p->exit_status = st;
        p->pid = 0;
        return 1;
    }
    return 0;
}

int lv_spg_wait_ready(lv_spg *p, int timeout, const char *const *users, char **user_out)
{
    *user_out = NULL;
    double end = lv_wall_s() + timeout;
    char *last_err = NULL;
    for (;;) {
        if (lv_interrupted()) {
            free(last_err);
            return lv_err(LV_ERR_INTERRUPTED, "drill interrupted while PostgreSQL was recovering");
        }
        if (exited(p)) {
            char *t = log_tail(p);
            int rc = lv_err(LV_ERR_PG, "the scratch PostgreSQL stopped during recovery: %s", t);
            free(t);
            free(last_err);
            return rc;
        }
        for (size_t i = 0; users[i]; i++) {
            const char *kw[7], *val[7];
            lv_spg_conn_params(p, users[i], "postgres", kw, val);
            PGconn *c = PQconnectdbParams(kw, val, 0);
            if (PQstatus(c) == CONNECTION_OK) {
                PGresult *res = PQexec(c, "SELECT pg_is_in_recovery()");
                int done = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                           strcmp(PQgetvalue(res, 0, 0), "f") == 0;
                PQclear(res);
                PQfinish(c);
                if (done) {
                    free(last_err);
                    *user_out = lv_xstrdup(users[i]);
                    return LV_OK;
                }
                break;
            }
            free(last_err);
            last_err = lv_xstrdup(PQerrorMessage(c));
            last_err[strcspn(last_err, "\n")] = '\0';
            PQfinish(c);
            if (!strstr(last_err, "does not exist"))
                break; /* not ready yet (starting up, socket not there): the user is not the question */
        }
        if (lv_wall_s() > end) {
            char *t = log_tail(p);
            int rc = lv_err(LV_ERR_PG, "the scratch PostgreSQL was not ready after %d s (drill-timeout): %s; "
                            "last log line: %s", timeout, last_err ? last_err : "-", t);
            free(t);
            free(last_err);
            return rc;
        }
        sleep_ms(200);
    }
}

void lv_spg_stop(lv_spg *p, int immediate)
{
    if (exited(p))
        return;
    pid_t pid = p->pid;
    kill(pid, immediate ? SIGQUIT : SIGINT);
    for (int i = 0; i < 600 && !exited(p); i++) {
        if (lv_interrupted() && !immediate) {
            immediate = 1; /* a second ^C, or one during the shutdown: do not wait for a checkpoint */
            kill(pid, SIGQUIT);
        }
        sleep_ms(100);
    }
    if (!exited(p)) {
        lv_warn("drill: PostgreSQL (pid %ld) did not stop in 60 s: killing it", (long)pid);
        kill(-pid, SIGKILL); /* its session: the postmaster and its children */
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->pid = 0;
    }
    /* Children of a postmaster that died on its own notice it within a second or so; make sure. */
    for (int i = 0; i < 50 && kill(-pid, 0) == 0; i++)
        sleep_ms(100);
    kill(-pid, SIGKILL);
}

void lv_spg_free(lv_spg *p)
{
    if (p->sock_outside && p->sockdir)
        lv_drill_scratch_remove(p->sockdir);
    free(p->bindir);
    free(p->datadir);
    free(p->sockdir);
    free(p->logfile);
    free(p->hbafile);
    memset(p, 0, sizeof *p);
}
