/* Test-only pauses: a command waits at a named point when the environment asks it to, so that an
 * integration test can act in between (commit a row after a backup's stop, run a prune against a command
 * holding an old catalog, kill a prune inside a phase). Without the variable, nothing happens.
 *
 * lv_test_pause sleeps getenv(env) * unit seconds (unit 1 for seconds, 0.001 for milliseconds), waking every
 * 50 ms to see a signal: LV_ERR_INTERRUPTED (with a message) if one came, else LV_OK. */
#ifndef LV_COMMON_TESTPAUSE_H
#define LV_COMMON_TESTPAUSE_H

int lv_test_pause(const char *env, double unit);

#endif
