/* The scratch PostgreSQL of a drill: find the programs, choose the OS user and a free loopback port,
 * start the server on a restored data directory, wait until it accepts queries, stop it.
 *
 * The server is started directly (fork, setsid, drop to the OS user, exec postgres), not through pg_ctl,
 * so the drill knows the postmaster's pid without reading postmaster.pid and notices at once when it
 * dies (waitpid). Its settings come from the restored configuration overridden on the command line:
 *   -p PORT -k SOCKDIR -c listen_addresses=127.0.0.1   a free port (bind to port 0) and a private socket
 *                                                      directory (mode 0700, the OS user's; see sockdir)
 *   -c hba_file=SCRATCH/pg_hba.conf                    "local all all trust" only: the drill connects
 *                                                      through the private socket whatever the restored
 *                                                      pg_hba.conf demands; TCP is refused
 *   -c archive_mode=off                                never archive the scratch cluster's WAL (or a
 *                                                      promoted timeline's history) into the repository
 *   -c hot_standby=off                                 no connections before recovery ends (and no
 *                                                      "insufficient parameter settings" stop)
 *   -c logging_collector=off -c log_destination=stderr the log goes to SCRATCH/postgres.log
 *   -c ssl=off -c cluster_name=labvault-drill
 * A data directory without postgresql.conf (Debian keeps it in /etc/postgresql) gets an empty one.
 *
 * Stop: SIGINT (fast shutdown) or SIGQUIT (immediate, after an interrupt), waiting up to 60 s, then
 * SIGKILL of the postmaster and of every process still in its session. */
#ifndef LV_DRILLS_POSTGRES_H
#define LV_DRILLS_POSTGRES_H

#include <sys/types.h>

typedef struct lv_spg {
    char *bindir;        /* PostgreSQL programs */
    char *scratch;       /* the drill's scratch directory (borrowed) */
    char *datadir;       /* SCRATCH/data */
    char *sockdir;       /* SCRATCH/sock, or /tmp/labvault-drill-XXXXXX when that path would be too long
                            for a socket (removed by lv_spg_free) */
    int sock_outside;
    char *logfile;       /* SCRATCH/postgres.log */
    char *hbafile;       /* SCRATCH/pg_hba.conf */
    int port;
    int switch_user;     /* run as uid/gid (we are root) */
    uid_t uid;
    gid_t gid;
    char user[64];       /* that OS user's name */
    pid_t pid;           /* postmaster, 0 when not running */
    int exit_status;     /* after it exited on its own */
} lv_spg;

/* The directory of PostgreSQL's programs for major version `major`: configured (must hold postgres of
 * that major version), else /usr/lib/postgresql/<major>/bin, else `pg_config --bindir`. LV_ERR_CONFIG
 * naming what was tried. *out is malloc'ed. */
int lv_spg_bindir(const char *configured, int major, char **out);

/* A client program (pg_amcheck): bindir/name, else the newest /usr/lib/postgresql/<N>/bin/name (bin
 * directories that hold only the server, like some relocatable builds, lack the clients); NULL when
 * there is none. malloc'ed. */
char *lv_spg_client(const char *bindir, const char *name);

/* Who runs the server: when we are not root, ourselves; as root: configured, else the owner of pgdata
 * (when given and not root), else "postgres". LV_ERR_CONFIG when the user does not exist. */
int lv_spg_os_user(lv_spg *p, const char *configured, const char *pgdata);

/* Set the paths below scratch, create sockdir and the hba file, hand scratch and everything in it to
 * the OS user (the restored data directory was written by us), and pick the port. */
int lv_spg_prepare(lv_spg *p, const char *scratch);

/* Start the server (returns once it was forked). */
int lv_spg_start(lv_spg *p);

/* Poll (every 0.2 s) until a connection as one of the candidate users works and
 * pg_is_in_recovery() is false; *user_out gets the user that worked (malloc'ed). Returns
 * LV_ERR_INTERRUPTED on lv_interrupted(), LV_ERR_PG when the server exited (naming the last FATAL or
 * PANIC line of its log) or did not get ready within timeout seconds. */
int lv_spg_wait_ready(lv_spg *p, int timeout, const char *const *users, char **user_out);

/* Stop (immediate = SIGQUIT instead of SIGINT); always leaves no postmaster behind. */
void lv_spg_stop(lv_spg *p, int immediate);
void lv_spg_free(lv_spg *p);

/* libpq keyword/value pairs for a connection to database db as user (arrays of 6 + NULL). */
void lv_spg_conn_params(const lv_spg *p, const char *user, const char *db, const char *kw[7], const char *val[7]);

/* Lines of the server log that contain needle, counted. */
unsigned long lv_spg_log_count(const lv_spg *p, const char *needle);

/* Run argv (argv[0] a full path) as ourselves, wait for it (a drill interrupt kills it), capture up
 * to 64 KiB of its stdout+stderr into out (NUL-terminated, malloc'ed). Returns the exit status (0..255),
 * or -1 when it could not run or was killed. */
int lv_spg_run(const char *const *argv, char **out);

#endif
