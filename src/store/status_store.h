/*
 * status_store.h: the store's figures on the status page.
 *
 * One statement, run by the status child on a connection of its own with
 * a short statement_timeout, so a slow store delays the page by that much
 * at most and never blocks it. A figure the store did not give stays
 * STORE_FIGURE_UNKNOWN (-1), the value the status page shows as unknown.
 */
#ifndef MKP_STORE_STATUS_STORE_H
#define MKP_STORE_STATUS_STORE_H

#include <stdint.h>

#include "common/defs.h"
#include "store/db.h"

#define STORE_FIGURE_UNKNOWN	(-1)	/* the store did not answer */

struct store_figures {
	int64_t	 jobs_backlog;		/* queued jobs that are due */
	int64_t	 usage_pending;		/* closed usage records not yet accepted */
	int64_t	 usage_at_risk;		/* ... past window_end + 1 hour (the 2-hour target) */
	int64_t	 usage_last_push_wall;	/* epoch ms of the last push, 0 = never */
	int64_t	 usage_failed;		/* records the marketplace refused */
	int64_t	 usage_failed_oldest_wall; /* epoch ms, end of its hour; 0 = none */
	int64_t	 packages_low;		/* packages past a quota_low threshold */
	int64_t	 packages_used_up;	/* packages with nothing left */
	/*
	 * Whether an acknowledged call survives the primary's loss: standbys
	 * streaming as sync or quorum (-1: this role may not see them: grant
	 * it pg_read_all_stats), and whether commits wait for one (1: yes,
	 * synchronous_standby_names set and synchronous_commit on,
	 * remote_write or remote_apply; 0: no; -1: unknown).
	 */
	int64_t	 sync_standbys;
	int64_t	 sync_commit;
	char	 synchronous_commit[16];	/* the setting, "" = unknown */
	bool	 multi_host;			/* the dsn names several hosts */
};

extern const struct db_stmt status_store_stmts[];

/* Sets every figure of f to STORE_FIGURE_UNKNOWN (and the rest to none). */
void	 status_store_unknown(struct store_figures *f);
/* Fills f; false (every figure unknown) when the store did not answer. */
bool	 status_store_figures(struct db *, struct store_figures *f);

/*
 * Logs what an acknowledged call survives (from f's sync fields): notice
 * with a synchronous standby, warn without one when the dsn names
 * several hosts (a failover then loses what the old primary had not
 * sent). Says nothing while they are unknown.
 */
void	 status_store_log_durability(const struct store_figures *f);

#endif
