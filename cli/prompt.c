/* Reading a passphrase from the controlling terminal with echo off. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"

int lv_prompt_secret(const char *prompt, char **out)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return lv_err(LV_ERR_CONFIG, "cannot prompt for the passphrase: no terminal");
    struct termios old, quiet;
    int have_tty = tcgetattr(fd, &old) == 0;
    if (have_tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;
    lv_buf b = LV_BUF_INIT;
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
        lv_buf_append(&b, &c, 1);
    if (have_tty)
        tcsetattr(fd, TCSAFLUSH, &old);
    w = write(fd, "\n", 1);
    close(fd);
    if (b.len == 0) {
        lv_buf_free(&b);
        return lv_err(LV_ERR_USAGE, "empty passphrase");
    }
    *out = lv_buf_cstr(&b);
    return LV_OK;
}
