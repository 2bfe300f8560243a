/*
 * status_store.c: the store's figures on the status page (see
 * status_store.h), in one statement so the status child makes one round
 * trip. The usage figures have the definitions of usage_store_status()
 * (mkpctl usage status): pending = pending or sending, at risk = failed,
 * or not delivered an hour after its hour ended (open, pending or sending:
 * mkp_usage_at_risk() in schema/013), last push = the last delivered one.
 */
#include <stdlib.h>

#include "store/status_store.h"
#include "pool/status_fmt.h"

const struct db_stmt status_store_stmts[] = {
	{ "status_figures",
	  "SELECT (SELECT count(*) FROM job WHERE state = 'queued' AND run_at <= now()),"
	  " (SELECT count(*) FROM usage_record WHERE state IN ('pending', 'sending')),"
	  " (SELECT count(*) FROM usage_record WHERE state = 'failed'"
	  "   OR (state IN ('open', 'pending', 'sending')"
	  "   AND now() > window_end + interval '1 hour')),"
	  " (SELECT coalesce((extract(epoch FROM max(finished_at)) * 1000)::bigint, 0)"
	  "   FROM usage_push WHERE outcome = 'delivered')", 0 },
	{ NULL, NULL, 0 },
};

bool
status_store_figures(struct db *db, struct store_figures *f)
{
	PGresult	*res;
	int64_t		*out[4] = { &f->jobs_backlog, &f->usage_pending,
			    &f->usage_at_risk, &f->usage_last_push_wall };
	int		 i;

	for (i = 0; i < 4; i++)
		*out[i] = STATUS_UNKNOWN;
	if (!db_ensure(db) || (res = db_exec(db, "status_figures", 0, NULL)) == NULL)
		return false;
	if (PQntuples(res) == 1 && PQnfields(res) == 4)
		for (i = 0; i < 4; i++)
			*out[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
	PQclear(res);
	return true;
}
