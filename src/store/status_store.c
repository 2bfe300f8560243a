/*
 * status_store.c: the store's figures on the status page (see
 * status_store.h), in one statement so the status child makes one round
 * trip. The usage figures have the definitions of usage_store_status()
 * (mkpctl usage status): pending = pending or sending, at risk = closed
 * more than an hour ago and not delivered, last push = the last delivered
 * one; failed = refused by the marketplace (mkpctl usage failed), with the
 * end of the oldest one's hour. Packages low and used up: the states of the
 * view package_balance (mkpctl packages).
 */
#include <stdlib.h>

#include "store/status_store.h"
#include "pool/status_fmt.h"

const struct db_stmt status_store_stmts[] = {
	{ "status_figures",
	  "SELECT (SELECT count(*) FROM job WHERE state = 'queued' AND run_at <= now()),"
	  " (SELECT count(*) FROM usage_record WHERE state IN ('pending', 'sending')),"
	  " (SELECT count(*) FROM usage_record WHERE state IN ('pending', 'sending')"
	  "   AND now() > window_end + interval '1 hour'),"
	  " (SELECT coalesce((extract(epoch FROM max(finished_at)) * 1000)::bigint, 0)"
	  "   FROM usage_push WHERE outcome = 'delivered'),"
	  " (SELECT count(*) FROM usage_record WHERE state = 'failed'),"
	  " (SELECT coalesce((extract(epoch FROM min(window_end)) * 1000)::bigint, 0)"
	  "   FROM usage_record WHERE state = 'failed'),"
	  " (SELECT count(*) FROM package_balance WHERE state = 'low'),"
	  " (SELECT count(*) FROM package_balance WHERE state = 'used_up')", 0 },
	{ "status_ping", "SELECT 1", 0 },
	{ NULL, NULL, 0 },
};

bool
status_store_figures(struct db *db, struct store_figures *f)
{
	PGresult	*res;
	int64_t		*out[] = { &f->jobs_backlog, &f->usage_pending,
			    &f->usage_at_risk, &f->usage_last_push_wall, &f->usage_failed,
			    &f->usage_failed_oldest_wall, &f->packages_low, &f->packages_used_up };
	int		 i;

	for (i = 0; i < (int)NELEM(out); i++)
		*out[i] = STATUS_UNKNOWN;
	if (!db_ensure(db) || (res = db_exec(db, "status_figures", 0, NULL)) == NULL)
		return false;
	if (PQntuples(res) == 1 && PQnfields(res) == (int)NELEM(out))
		for (i = 0; i < (int)NELEM(out); i++)
			*out[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
	PQclear(res);
	return true;
}

bool
status_store_ping(struct db *db)
{
	return db_run(db, "status_ping", 0, NULL);
}
