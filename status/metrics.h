/* The Prometheus textfile: the facts of `labvault status` (status/status.h) and the last run of each
 * command that changes state, in the text exposition format of node_exporter's textfile collector, written
 * atomically (a temporary file beside it, renamed: the collector never reads half a file) to the path of
 * the [global] metrics-file option after every such command. Metric names: docs/status.md.
 *
 * The last runs live in the catalog's meta table ("lastrun <command>"), so each write has every
 * command's, whichever ran last. */
#ifndef LV_STATUS_METRICS_H
#define LV_STATUS_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "status/status.h"

/* The commands whose runs are recorded (NULL-terminated). */
extern const char *const lv_metrics_commands[];

/* Record a run of command (one of lv_metrics_commands) in the catalog. */
int lv_metrics_record_run(struct lv_catalog *c, const char *command, int64_t when, double seconds, int exit_code,
                          uint64_t bytes);
/* The exposition text of st and the recorded runs. */
int lv_metrics_format(struct lv_catalog *c, const lv_status *st, lv_buf *out);
/* Format and write atomically to path (mode 0644: the collector runs as another user). */
int lv_metrics_write(struct lv_catalog *c, const lv_status *st, const char *path);

#endif
