/* Signals, for the whole process: one handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT, installed once
 * (main() does, through lv_interrupt_install), and one interrupt flag.
 *
 *   While a command catches interrupts (between lv_interrupt_catch and lv_interrupt_release: the long work
 *   of a backup, a restore, a drill), SIGINT and SIGTERM only set the flag. The work polls it
 *   (lv_interrupted) at the next file, page or chunk, stops, cleans up (containers restarted, hooks run,
 *   incomplete files removed, PostgreSQL taken out of backup mode, a scratch server stopped) and returns
 *   LV_ERR_INTERRUPTED.
 *   Otherwise, and always for SIGHUP and SIGQUIT, the process dies of the signal as it would by default,
 *   after the fatal hooks ran (common/tmpfile.h removes its temporary files there). A signal the process
 *   inherited as ignored (nohup) stays ignored, except SIGINT and SIGTERM during a catch: a script's
 *   background job starts with SIGINT ignored and `kill -INT` still stops its backup or drill cleanly.
 *
 * catch/release nest (a drill's restore inside the drill's catch); the outermost catch clears the flag.
 * Threads: the flag may be read from any thread; catch and release belong to the main thread. */
#ifndef LV_COMMON_INTERRUPT_H
#define LV_COMMON_INTERRUPT_H

void lv_interrupt_install(void);

void lv_interrupt_catch(void);
void lv_interrupt_release(void);

/* 1 once SIGINT or SIGTERM arrived during a catch (or lv_interrupt_set(1)). */
int lv_interrupted(void);
/* Set or clear the flag as a signal would (a worker stopping the others; tests). */
void lv_interrupt_set(int on);

/* In a forked child before exec: SIGINT and SIGTERM back to their defaults, whatever this process did
 * with them (an inherited ignore would otherwise survive exec). Async-signal-safe. */
void lv_interrupt_child(void);

/* A function run, in the signal handler, before the process dies of a signal: it must be
 * async-signal-safe. Up to 4. */
void lv_interrupt_on_fatal(void (*fn)(void));

#endif
