/*
 * status_store.c: the store's figures on the status page (see
 * status_store.h). The usage figures are counted here with the same
 * definitions as the usage push job (src/store/usage_store.c: a pending
 * record is at risk once now() is past its window_end + 1 hour); should
 * usage_store grow a status function of its own, this is the one place
 * to call it from.
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
	  " (SELECT coalesce((extract(epoch FROM max(sent_at)) * 1000)::bigint, 0)"
	  "   FROM usage_push)", 0 },
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
