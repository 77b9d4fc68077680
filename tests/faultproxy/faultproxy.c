/* faultproxy: a fault-injecting HTTP/1.1 proxy for the store tests. Test helper only.
 *
 * It listens on 127.0.0.1 (only), forwards each request to the upstream S3 server and, according to
 * a schedule, answers or breaks it instead. Every client connection carries exactly one request: the
 * proxy asks the upstream to close after the response ("Connection: close" added to the request, an
 * unsigned header, so SigV4 signatures stay valid) and tells the client the same, so "per connection"
 * and "per request" are one thing and the schedule is consumed one entry per request.
 *
 * Actions:
 *   ok     forward unchanged
 *   500    answer 500 InternalError itself        503  answer 503 SlowDown itself
 *   reset  read the request head, then reset the connection (RST)
 *   stall  read the request head, then say nothing until the client gives up (or --stall-seconds)
 *   short  forward, but cut the response body at half its announced length and close (a chunked
 *          body: half of the first piece received)
 *   lost   forward the request and let the upstream act on it, then reset instead of answering
 *   error200  answer "200 OK" whose body is an S3 <Error> (InternalError), as S3 may for
 *          CompleteMultipartUpload: a client must not take the status alone as success
 *
 * Usage: faultproxy --upstream HOST:PORT [--port N] [--schedule "ok,500,reset*3,..."] [--then ACTION]
 *                   [--method GET|PUT|POST|DELETE|HEAD] [--fail-all] [--fail-action ACTION]
 *                   [--control FILE] [--max-seconds N] [--stall-seconds N] [--verbose]
 *   --schedule  actions for the first requests in arrival order, "x*N" repeats; afterwards --then
 *               (default ok). With --method only requests of that method consume the schedule; the
 *               others are forwarded.
 *   --fail-all  start in fail-all mode: every request gets --fail-action (default 503). SIGUSR1 turns
 *               fail-all on, SIGUSR2 off. --control FILE: while FILE exists its first word is the action
 *               for every request (checked per request).
 *   --max-seconds  exit after N seconds (default 300) so a forgotten proxy cannot outlive its test.
 * The chosen port is printed on stdout as one line once the proxy listens. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum action { A_OK, A_500, A_503, A_RESET, A_STALL, A_SHORT, A_LOST, A_ERROR200, A_BAD };
static const char *const action_names[] = {"ok", "500", "503", "reset", "stall", "short", "lost", "error200"};

#define HEAD_MAX 65536
#define MAX_SCHED 4096

static struct {
    struct sockaddr_in upstream;
    enum action sched[MAX_SCHED];
    size_t nsched;
    enum action then, fail_action;
    const char *method, *control;
    int stall_seconds, verbose;
} cfg;

static atomic_size_t next_req;
static volatile sig_atomic_t fail_all;

static enum action parse_action(const char *s, size_t n)
{
    for (int i = 0; i < A_BAD; i++)
        if (strlen(action_names[i]) == n && strncmp(s, action_names[i], n) == 0)
            return (enum action)i;
    return A_BAD;
}

static int parse_schedule(const char *s)
{
    while (*s) {
        size_t n = strcspn(s, ",*");
        enum action a = parse_action(s, n);
        if (a == A_BAD)
            return -1;
        s += n;
        long count = 1;
        if (*s == '*') {
            char *end;
            count = strtol(s + 1, &end, 10);
            if (count < 1 || end == s + 1)
                return -1;
            s = end;
        }
        for (long i = 0; i < count; i++) {
            if (cfg.nsched == MAX_SCHED)
                return -1;
            cfg.sched[cfg.nsched++] = a;
        }
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return 0;
}

static enum action control_action(void)
{
    FILE *f = cfg.control ? fopen(cfg.control, "r") : NULL;
    if (!f)
        return A_BAD;
    char word[32] = "";
    enum action a = A_BAD;
    if (fscanf(f, "%31s", word) == 1)
        a = parse_action(word, strlen(word));
    fclose(f);
    return a;
}

static enum action choose(const char *method)
{
    enum action a = control_action();
    if (a != A_BAD)
        return a;
    if (fail_all)
        return cfg.fail_action;
    if (cfg.method && strcmp(method, cfg.method) != 0)
        return A_OK;
    size_t i = atomic_fetch_add(&next_req, 1);
    return i < cfg.nsched ? cfg.sched[i] : cfg.then;
}

/* ---- socket helpers ---------------------------------------------------------------------------- */

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void hard_reset(int fd)
{
    struct linger l = {1, 0}; /* close with RST instead of FIN */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* Read until "\r\n\r\n"; returns the head length (bytes after it stay in buf, *got counts all). */
static ssize_t read_head(int fd, char *buf, size_t cap, size_t *got)
{
    *got = 0;
    for (;;) {
        if (*got >= 4) {
            buf[*got] = '\0';
            char *e = strstr(buf, "\r\n\r\n");
            if (e)
                return e + 4 - buf;
        }
        if (*got + 1 >= cap)
            return -1;
        ssize_t r = recv(fd, buf + *got, cap - 1 - *got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        *got += (size_t)r;
    }
}

/* Value of header name in a head, or -1. */
static long long header_num(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':')
            return strtoll(p + 3 + nl, NULL, 10);
    return -1;
}

static int header_has(const char *head, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            return strncasecmp(v, value, strlen(value)) == 0;
        }
    return 0;
}

/* Copy head without its Connection header, adding "Connection: close" before the blank line. */
static size_t with_close(const char *head, size_t hl, char *out)
{
    size_t o = 0;
    const char *p = head, *end = head + hl - 2; /* up to the final CRLF */
    while (p < end) {
        const char *eol = strstr(p, "\r\n");
        size_t n = (size_t)(eol + 2 - p);
        if (!(p != head && strncasecmp(p, "connection:", 11) == 0)) {
            memcpy(out + o, p, n);
            o += n;
        }
        p = eol + 2;
    }
    memcpy(out + o, "Connection: close\r\n\r\n", 21);
    return o + 21;
}

/* Answer with an S3 error ourselves. The request body (if the client is sending one) is read first,
 * and we drain after answering, so the kernel does not turn our close into a reset that destroys the
 * answer before the client reads it. */
static void answer_error(int fd, int status, const char *head, size_t extra)
{
    long long cl = header_num(head, "Content-Length");
    if (cl > 0 && !header_has(head, "Expect", "100-continue")) {
        long long left = cl - (long long)extra;
        char tmp[65536];
        while (left > 0) {
            ssize_t r = recv(fd, tmp, sizeof tmp, 0);
            if (r <= 0)
                break;
            left -= r;
        }
    }
    const char *code = status == 503 ? "SlowDown" : "InternalError";
    const char *reason = status == 200 ? "OK" : status == 500 ? "Internal Server Error" : "Service Unavailable";
    char body[256], msg[512];
    int bl = snprintf(body, sizeof body,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                      "<Message>injected by faultproxy</Message></Error>", code);
    int ml = snprintf(msg, sizeof msg,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n%s", status, reason, bl, body);
    send_all(fd, msg, (size_t)ml);
    shutdown(fd, SHUT_WR);
    struct pollfd p = {fd, POLLIN, 0};
    char tmp[4096];
    while (poll(&p, 1, 1000) > 0 && recv(fd, tmp, sizeof tmp, 0) > 0) {
    }
    close(fd);
}

static void stall(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char tmp[4096];
    time_t until = time(NULL) + cfg.stall_seconds;
    while (time(NULL) < until) {
        int r = poll(&p, 1, 200);
        if (r > 0 && recv(fd, tmp, sizeof tmp, 0) <= 0)
            break; /* the client gave up */
    }
    close(fd);
}

/* ---- forwarding --------------------------------------------------------------------------------- */

typedef struct fwd {
    int cfd, ufd;
    enum action act;
    int is_head;
    char rbuf[HEAD_MAX];
    size_t rlen;         /* response head bytes collected */
    int in_body;         /* the final response head has gone to the client */
    long long body_left; /* for short: bytes still to forward before cutting; -1 = no cut */
    int cut_unknown;     /* for short without Content-Length */
} fwd;

/* Handle bytes from the upstream. Returns 0 to go on, 1 when done (close), -1 on error. */
static int from_upstream(fwd *f, const char *p, size_t n)
{
    if (f->act == A_LOST)
        return 0; /* swallow: the client never hears back */
    while (n > 0 && !f->in_body) {
        size_t room = sizeof f->rbuf - 1 - f->rlen, take = n < room ? n : room;
        if (take == 0)
            return -1;
        memcpy(f->rbuf + f->rlen, p, take);
        f->rlen += take;
        p += take;
        n -= take;
        f->rbuf[f->rlen] = '\0';
        char *e = strstr(f->rbuf, "\r\n\r\n");
        if (!e)
            continue;
        size_t hl = (size_t)(e + 4 - f->rbuf), rest = f->rlen - hl;
        int status = atoi(f->rbuf + 9);
        if (status >= 100 && status < 200) { /* 100 Continue: pass on, wait for the real answer */
            if (send_all(f->cfd, f->rbuf, hl) != 0)
                return -1;
        } else {
            char out[HEAD_MAX + 32];
            size_t ol = with_close(f->rbuf, hl, out);
            if (send_all(f->cfd, out, ol) != 0)
                return -1;
            f->in_body = 1;
            long long cl = header_num(f->rbuf, "Content-Length");
            if (f->act == A_SHORT && !f->is_head && cl > 0)
                f->body_left = cl / 2;
            else if (f->act == A_SHORT && !f->is_head && cl < 0 && status != 204 && status != 304)
                f->cut_unknown = 1; /* chunked: cut the first piece of body in half */
        }
        /* The head ended inside the bytes just taken (no earlier chunk completed it), so what follows
         * it is the tail of those bytes: give them back to p. */
        p -= rest;
        n += rest;
        f->rlen = 0;
    }
    if (n == 0)
        return 0;
    if (f->cut_unknown) {
        send_all(f->cfd, p, n / 2);
        return 1;
    }
    if (f->body_left >= 0) {
        size_t k = (long long)n < f->body_left ? n : (size_t)f->body_left;
        if (send_all(f->cfd, p, k) != 0)
            return -1;
        f->body_left -= (long long)k;
        return f->body_left == 0 ? 1 : 0;
    }
    return send_all(f->cfd, p, n) == 0 ? 0 : -1;
}

static void forward(int cfd, enum action act, const char *buf, size_t hl, size_t got)
{
    fwd *f = calloc(1, sizeof *f);
    if (!f) {
        close(cfd);
        return;
    }
    f->cfd = cfd;
    f->act = act;
    f->body_left = -1;
    f->is_head = strncmp(buf, "HEAD ", 5) == 0;
    f->ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->ufd < 0 || connect(f->ufd, (struct sockaddr *)&cfg.upstream, sizeof cfg.upstream) != 0) {
        if (f->ufd >= 0)
            close(f->ufd);
        hard_reset(cfd);
        free(f);
        return;
    }
    char *head = malloc(HEAD_MAX + 32);
    size_t ol = head ? with_close(buf, hl, head) : 0;
    int bad = !head || send_all(f->ufd, head, ol) != 0 ||
              (got > hl && send_all(f->ufd, buf + hl, got - hl) != 0);
    free(head);
    int up_done = 0;
    char tmp[65536];
    while (!bad) {
        struct pollfd p[2] = {{cfd, POLLIN, 0}, {f->ufd, POLLIN, 0}};
        if (poll(p, up_done ? 1 : 2, 60000) <= 0)
            break;
        if (p[0].revents) { /* request body (or the client hanging up) */
            ssize_t r = recv(cfd, tmp, sizeof tmp, 0);
            if (r <= 0)
                break;
            if (send_all(f->ufd, tmp, (size_t)r) != 0)
                break;
        }
        if (!up_done && p[1].revents) {
            ssize_t r = recv(f->ufd, tmp, sizeof tmp, 0);
            if (r <= 0) {
                up_done = 1; /* the upstream closed after its answer */
                break;
            }
            int v = from_upstream(f, tmp, (size_t)r);
            if (v != 0)
                break;
        }
    }
    close(f->ufd);
    if (act == A_LOST)
        hard_reset(cfd);
    else
        close(cfd);
    free(f);
}

static void *serve(void *arg)
{
    int cfd = (int)(intptr_t)arg;
    char *buf = malloc(HEAD_MAX + 1);
    size_t got;
    ssize_t hl = buf ? read_head(cfd, buf, HEAD_MAX + 1, &got) : -1;
    if (hl < 0) {
        close(cfd);
        free(buf);
        return NULL;
    }
    char method[16] = "";
    sscanf(buf, "%15s", method);
    enum action a = choose(method);
    if (cfg.verbose) {
        const char *eol = strstr(buf, "\r\n");
        fprintf(stderr, "faultproxy: %.*s -> %s\n", (int)(eol - buf), buf, action_names[a]);
    }
    switch (a) {
    case A_500: answer_error(cfd, 500, buf, got - (size_t)hl); break;
    case A_503: answer_error(cfd, 503, buf, got - (size_t)hl); break;
    case A_ERROR200: answer_error(cfd, 200, buf, got - (size_t)hl); break;
    case A_RESET: hard_reset(cfd); break;
    case A_STALL: stall(cfd); break;
    default: forward(cfd, a, buf, (size_t)hl, got);
    }
    free(buf);
    return NULL;
}

static void on_usr(int sig) { fail_all = sig == SIGUSR1; }

static void usage(void)
{
    fprintf(stderr, "usage: faultproxy --upstream HOST:PORT [--port N] [--schedule LIST] [--then ACTION]\n"
                    "       [--method M] [--fail-all] [--fail-action ACTION] [--control FILE]\n"
                    "       [--max-seconds N] [--stall-seconds N] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0, max_seconds = 300;
    const char *up = NULL;
    cfg.then = A_OK;
    cfg.fail_action = A_503;
    cfg.stall_seconds = 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--fail-all") == 0) {
            fail_all = 1;
        } else if (strcmp(a, "--verbose") == 0) {
            cfg.verbose = 1;
        } else if (!v) {
            usage();
        } else {
            i++;
            if (strcmp(a, "--upstream") == 0)
                up = v;
            else if (strcmp(a, "--port") == 0)
                port = atoi(v);
            else if (strcmp(a, "--schedule") == 0) {
                if (parse_schedule(v) != 0)
                    usage();
            } else if (strcmp(a, "--then") == 0 || strcmp(a, "--fail-action") == 0) {
                enum action x = parse_action(v, strlen(v));
                if (x == A_BAD)
                    usage();
                *(a[2] == 't' ? &cfg.then : &cfg.fail_action) = x;
            } else if (strcmp(a, "--method") == 0)
                cfg.method = v;
            else if (strcmp(a, "--control") == 0)
                cfg.control = v;
            else if (strcmp(a, "--max-seconds") == 0)
                max_seconds = atoi(v);
            else if (strcmp(a, "--stall-seconds") == 0)
                cfg.stall_seconds = atoi(v);
            else
                usage();
        }
    }
    const char *colon = up ? strrchr(up, ':') : NULL;
    if (!colon || max_seconds <= 0 || port < 0 || port > 65535)
        usage();
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - up), up);
    cfg.upstream.sin_family = AF_INET;
    cfg.upstream.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &cfg.upstream.sin_addr) != 1)
        usage();

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    alarm((unsigned)max_seconds); /* SIGALRM's default action ends the process: the hard stop */

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, never a public interface */
    socklen_t ll = sizeof la;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof la) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&la, &ll) != 0) {
        perror("faultproxy: listen");
        return 1;
    }
    printf("%d\n", ntohs(la.sin_port));
    fflush(stdout);
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("faultproxy: accept");
            return 1;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)cfd) != 0)
            close(cfd);
        pthread_attr_destroy(&at);
    }
}
