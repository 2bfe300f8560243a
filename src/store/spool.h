/*
 * spool.h: a local file for the deferred statements the store could not
 * take (the audit rows of calls answered while PostgreSQL was away).
 *
 * It is also the audit journal: a worker appends each call's callback_log
 * row here with one write (no fdatasync: the row survives the worker, as a
 * row committed asynchronously survives it), and db.c copies what the file
 * holds into the store in batches (store/db.c: db_journal).
 *
 * One file per worker (by scoreboard slot, so a worker started in the
 * slot of one that died replays what it left), owned by the worker's user,
 * appended and fdatasync()ed a batch at a time, bounded in size. Records
 * are read back in the order they were written; what was replayed is
 * remembered by an offset, and the file is emptied once everything in it
 * went to the store. Replaying a record twice (a worker killed between
 * the store's commit and the offset moving) is harmless: every deferred
 * statement is idempotent (callback_log: ON CONFLICT (call_id) DO NOTHING).
 *
 * Record: "MKS1", payload length (u32), payload, payload length again;
 * payload: name length (u16), name, parameter count (u8), then per
 * parameter its length (i32, -1 = NULL) and bytes; integers little-endian.
 * A record cut short by a kill is found when the file is first opened
 * (its trailer is missing) and cut off, so later appends follow a whole
 * record.
 *
 * A worker holds an exclusive flock(2) on its own file for its life. A
 * file whose lock nobody holds belongs to a worker that is gone and whose
 * slot no worker took again (the pool shrank, a reload moved the slots):
 * any worker may adopt it (spool_adopt) and replay it, so no spooled row
 * waits for its slot to be used again.
 */
#ifndef MKP_STORE_SPOOL_H
#define MKP_STORE_SPOOL_H

#include <stdint.h>
#include <sys/types.h>

#include "common/defs.h"

#define SPOOL_MAX_PARAMS	16

struct spool_rec {
	char	*name;
	int	 n;
	char	*vals[SPOOL_MAX_PARAMS];	/* NULL = SQL NULL */
};

enum spool_rc {
	SPOOL_OK,
	SPOOL_FULL,		/* would pass the size bound: nothing written */
	SPOOL_ERROR,		/* cannot open or write the file (logged) */
};

struct spool;

/* path is copied; nothing is opened yet (the first use opens and locks it). */
struct spool *spool_new(const char *path, int64_t max_bytes);

/*
 * Another spool file of own's directory that holds records and whose
 * owner is gone (its lock is free), opened and locked; NULL when none.
 */
struct spool *spool_adopt(const struct spool *own);
void	 spool_free(struct spool *);
const char *spool_path(const struct spool *);

/* Bytes written and not yet replayed; opens (and checks) the file first. */
int64_t	 spool_pending(struct spool *);

/* Appends n records with one write, then fdatasync. */
enum spool_rc spool_append(struct spool *, const struct spool_rec *, int n) MUSTCHECK;

/*
 * The same without the fdatasync: the records survive the process (the
 * kernel has them), not the machine, until spool_sync.
 */
enum spool_rc spool_write(struct spool *, const struct spool_rec *, int n) MUSTCHECK;
void	 spool_sync(struct spool *);

/*
 * Reads the record at the replay offset plus skip bytes into rec (the
 * caller frees it with spool_rec_free); returns its length on disk, 0 at
 * the end.
 */
int64_t	 spool_read(struct spool *, int64_t skip, struct spool_rec *rec);
void	 spool_rec_free(struct spool_rec *);

/* The records up to bytes past the replay offset are in the store. */
void	 spool_done(struct spool *, int64_t bytes);

#endif
