/* common/progress: the progress line as a user sees it. Off a terminal (--progress into a log): one plain
 * line per 10 s and always the last one; on a terminal (a pseudo-terminal here): one line rewritten in
 * place, a bar with the share, bytes, rate and ETA when the total is known, nothing left behind by a
 * command too fast to show a line, and lv_progress_clear erasing the line for a log message. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "common/progress.h"
#include "common/text.h"

static int saved_stderr = -1;

/* Point stderr at fd until captured() returns what was written there. */
static void capture(int fd)
{
    fflush(stderr);
    if (saved_stderr < 0)
        saved_stderr = dup(2);
    dup2(fd, 2);
}

static char *read_all(int fd)
{
    static char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return buf;
}

static void restore(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
}

int main(void)
{
    char sz[32];
    lv_human_size(812, sz);
    CHECK(strcmp(sz, "812 B") == 0, "812 bytes: %s", sz);
    lv_human_size(1536 * 1024, sz);
    CHECK(strcmp(sz, "1.5 MiB") == 0, "1.5 MiB: %s", sz);

    /* Off a terminal: a pipe. */
    int pfd[2];
    if (pipe(pfd) != 0)
        return 1;
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    capture(pfd[1]);
    lv_progress p;
    lv_progress_start(&p, 0, "read", "files");
    lv_progress_update(&p, 1, 2, 3, NULL);
    lv_progress_end(&p, 1, 2, 3, NULL);
    restore();
    CHECK(strcmp(read_all(pfd[0]), "") == 0, "off: nothing at all");

    capture(pfd[1]);
    lv_progress_start(&p, 1, "read", "files");
    for (int i = 0; i < 1000; i++)
        lv_progress_update(&p, (uint64_t)i, 0, (uint64_t)i, NULL);
    lv_progress_end(&p, 3u << 20, 0, 42, "2.0 MiB new");
    restore();
    char *out = read_all(pfd[0]);
    CHECK(strncmp(out, "0 B read", 8) == 0, "off a terminal: the first update shows at once");
    out = strchr(out, '\n') + 1;
    CHECK(strchr(out, '\r') == NULL && strchr(out, '\033') == NULL, "off a terminal: no carriage return, no escape");
    CHECK(strstr(out, "3.0 MiB read") && strstr(out, "42 files") && strstr(out, "2.0 MiB new") &&
              strstr(out, " in 0:00"),
          "off a terminal: the last line has bytes, count, note and duration");
    CHECK(strchr(out, '\n') == out + strlen(out) - 1, "off a terminal: later fast updates print no line but the last");

    /* On a terminal: a pseudo-terminal. */
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "a pseudo-terminal");
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    fcntl(m, F_SETFL, O_NONBLOCK);
    capture(s);
    lv_progress_start(&p, 1, "read", "files");
    lv_progress_end(&p, 100, 100, 1, NULL);
    restore();
    usleep(50000);
    CHECK(strcmp(read_all(m), "") == 0, "a terminal: nothing left behind by a command that showed no line");

    capture(s);
    lv_progress_start(&p, 1, "written", "files");
    p.t0 -= 10; /* as if it had run 10 s */
    lv_progress_update(&p, 25u << 20, 100u << 20, 7, NULL);
    lv_progress_clear(&p);
    fputs("warning\n", stderr);
    p.last -= 1;
    lv_progress_update(&p, 50u << 20, 100u << 20, 9, NULL);
    lv_progress_end(&p, 100u << 20, 100u << 20, 12, NULL);
    restore();
    usleep(50000);
    out = read_all(m);
    CHECK(strstr(out, "\r\033[K[######>.................]  25%  25.0 MiB of 100.0 MiB written, 2.5 MiB/s, ETA 0:30, 7 files") != NULL,
          "a terminal: bar, share, bytes of total, rate, ETA, count");
    CHECK(strstr(out, "7 files\r\033[Kwarning") != NULL, "clear erases the line before a message");
    CHECK(strstr(out, " 50%  50.0 MiB of 100.0 MiB written") != NULL, "the next update draws it again");
    CHECK(strstr(out, "[########################] 100%  100.0 MiB of 100.0 MiB written") && strstr(out, "12 files\r\n"),
          "the last line: full bar, a newline, no ETA");
    CHECK(strstr(out, "ETA 0:00") == NULL, "no ETA on the last line");
    close(s);
    close(m);
    if (check_failed) /* what the terminal got, escaped, for the log */
        for (const char *c = out; *c; c++)
            printf(*c == '\n' ? "\n# " : (unsigned char)*c < 32 ? "\\x%02x" : "%c", (unsigned char)*c);
    return check_done();
}
