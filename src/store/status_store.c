/*
 * status_store.c: the store's figures on the status page (see
 * status_store.h), in one statement so the status child makes one round
 * trip. The usage figures have the definitions of usage_store_status()
 * (mkpctl usage status): pending = pending or sending, at risk = failed,
 * or not delivered an hour after its hour ended (open, pending or sending:
 * mkp_usage_at_risk() in schema/013), last push = the last delivered
 * one; failed = refused by the marketplace (mkpctl usage failed), with the
 * end of the oldest one's hour. Packages low and used up: the states of the
 * view package_balance (mkpctl packages).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#include "store/status_store.h"

const struct db_stmt status_store_stmts[] = {
	{ "status_figures",
	  "SELECT (SELECT count(*) FROM job WHERE state = 'queued' AND run_at <= now()),"
	  " (SELECT count(*) FROM usage_record WHERE state IN ('pending', 'sending')),"
	  " (SELECT count(*) FROM usage_record WHERE state = 'failed'"
	  "   OR (state IN ('open', 'pending', 'sending')"
	  "   AND now() > window_end + interval '1 hour')),"
	  " (SELECT coalesce((extract(epoch FROM max(finished_at)) * 1000)::bigint, 0)"
	  "   FROM usage_push WHERE outcome = 'delivered'),"
	  " (SELECT count(*) FROM usage_record WHERE state = 'failed'),"
	  " (SELECT coalesce((extract(epoch FROM min(window_end)) * 1000)::bigint, 0)"
	  "   FROM usage_record WHERE state = 'failed'),"
	  " (SELECT count(*) FROM package_balance WHERE state = 'low'),"
	  " (SELECT count(*) FROM package_balance WHERE state = 'used_up'),"
	  " (SELECT CASE WHEN bool_or(sync_state IS NULL) THEN -1"
	  "   ELSE count(*) FILTER (WHERE sync_state IN ('sync', 'quorum')) END"
	  "   FROM pg_stat_replication),"
	  " current_setting('synchronous_standby_names') <> ''"
	  "   AND current_setting('synchronous_commit') IN ('on', 'remote_write', 'remote_apply'),"
	  " current_setting('synchronous_commit')", 0 },
	{ NULL, NULL, 0 },
};

void
status_store_unknown(struct store_figures *f)
{
	memset(f, 0, sizeof(*f));
	f->jobs_backlog = f->usage_pending = f->usage_at_risk = STORE_FIGURE_UNKNOWN;
	f->usage_last_push_wall = f->usage_failed = STORE_FIGURE_UNKNOWN;
	f->usage_failed_oldest_wall = STORE_FIGURE_UNKNOWN;
	f->packages_low = f->packages_used_up = STORE_FIGURE_UNKNOWN;
	f->sync_standbys = f->sync_commit = STORE_FIGURE_UNKNOWN;
}

bool
status_store_figures(struct db *db, struct store_figures *f)
{
	PGresult	*res;
	int64_t		*out[] = { &f->jobs_backlog, &f->usage_pending,
			    &f->usage_at_risk, &f->usage_last_push_wall, &f->usage_failed,
			    &f->usage_failed_oldest_wall, &f->packages_low, &f->packages_used_up,
			    &f->sync_standbys };
	const int	 n = (int)NELEM(out);
	int		 i;

	status_store_unknown(f);
	if (!db_ensure(db) || (res = db_exec(db, "status_figures", 0, NULL)) == NULL)
		return false;
	f->multi_host = db_multi_host(db);
	if (PQntuples(res) == 1 && PQnfields(res) == n + 2) {
		for (i = 0; i < n; i++)
			if (!parse_i64(PQgetvalue(res, 0, i), INT64_MIN, INT64_MAX, out[i]))
				*out[i] = STORE_FIGURE_UNKNOWN;
		f->sync_commit = strcmp(PQgetvalue(res, 0, n), "t") == 0;
		snprintf(f->synchronous_commit, sizeof(f->synchronous_commit), "%s",
		    PQgetvalue(res, 0, n + 1));
	}
	PQclear(res);
	return true;
}

void
status_store_log_durability(const struct store_figures *f)
{
	if (f->sync_commit < 0)
		return;
	if (f->sync_commit == 1 && f->sync_standbys != 0)
		log_notice("store: commits wait for a synchronous standby (synchronous_commit = "
		    "%s, %s streaming): an acknowledged call survives a failover",
		    f->synchronous_commit, f->sync_standbys < 0 ? "standbys not visible to this "
		    "role" : f->sync_standbys == 1 ? "1 standby" : "several standbys");
	else if (f->multi_host)
		log_warn("store: the dsn names several hosts but %s: a failover may lose "
		    "calls already acknowledged (doc/operations.md, High availability)",
		    f->sync_commit == 0 ? "commits do not wait for a synchronous standby "
		    "(synchronous_standby_names, synchronous_commit)" :
		    "no synchronous standby is streaming");
	else
		log_info("store: no synchronous standby: an acknowledged call is as durable "
		    "as the one PostgreSQL server");
}
