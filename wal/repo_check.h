/* repo check of the WAL archive's objects: the stanza and wal/ (a step of maint/check.h).
 *
 *   stanza   read and authenticated every time. Missing while wal/ holds files, or while the local
 *            catalog has it cached: an ERROR (it is written once and never removed, wal/stanza.h). Another
 *            cluster than the one the catalog cached: an ERROR.
 *   wal/     every key must be a WAL object's name (else a WARNING), and
 *            - one object per name (two checksums: an ERROR; `wal fetch` refuses to choose);
 *            - no gap between a timeline's first and last segment (an ERROR: recovery cannot cross it); a
 *              gap among a timeline's newest 16 segments is first given 5 s to fill, since asynchronous
 *              pushes complete out of order;
 *            - a timeline after the first with segments has its .history file when the archive also holds
 *              an older timeline (the switch then happened while archiving here, so PostgreSQL pushed the
 *              file: its absence is a loss, an ERROR); without an older timeline a WARNING;
 *            - every segment a backup needs (maint/check.h lv_check_wal_needs: from its start to its stop
 *              LSN, on its timeline or a later one) is there, else an ERROR naming the backup;
 *            - every file the local catalog records is there with the stored size it recorded, else an
 *              ERROR (deleted, truncated or replaced; the one way to see the newest segment's loss);
 *            - with --read-data=P, P % of the objects (rounded up, at random) are downloaded,
 *              authenticated, decompressed and checksummed (lv_wal_object_read): bit rot and truncation.
 * The catalog is read, then wal/ listed, then the stanza read: a first push stores the stanza before
 * its segment, so a segment seen implies a stanza there to read. */
#ifndef LV_WAL_REPO_CHECK_H
#define LV_WAL_REPO_CHECK_H

/* Register the step with repo check (once, at startup: cli/register.c). */
void lv_wal_repo_check_register(void);

#endif
