/*
 * package_store.c: prepared statements for package quotas. The decisions
 * (which package an event draws, when the seller hears of it) are in the
 * schema's functions, in the transactions that change the balance.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "store/package_store.h"

const struct db_stmt package_store_stmts[] = {
	{ "package_store_buyer",
	  "UPDATE instance SET buyer_id = $2 WHERE instance_id = $1"
	  " AND buyer_id IS DISTINCT FROM $2", 2 },
	{ "package_store_grant",
	  "SELECT mkp_package_grant($1, $2, $3, $4::numeric, $5, $6, $7, $8::numeric[])", 8 },
	{ "package_store_balance",
	  "SELECT coalesce(sum(quota), 0)::text, coalesce(sum(drawn), 0)::text,"
	  " coalesce(sum(quota - drawn), 0)::text, coalesce(max(unit), ''),"
	  " CASE WHEN coalesce(bool_or(mode = 'stop'), true) THEN 'stop' ELSE 'overflow' END,"
	  " count(*) FROM package"
	  " WHERE instance_id = $1 AND mkp_package_live(pkg_instance_id, now())", 1 },
	/* package_store_balance's columns: the BALANCE_ constants below. */
	{ NULL, NULL, 0 },
};

bool
package_store_set_buyer(struct db *db, const char *instance_id, const char *buyer_id)
{
	const char	*vals[2] = { instance_id, buyer_id };

	return db_run(db, "package_store_buyer", 2, vals);
}

bool
package_store_grant(struct db *db, const char *pkg, const char *order_id, const char *order_line_id,
    const char *quota, const char *source, const char *mode, const char *unit,
    const char *thresholds)
{
	const char	*vals[8] = { pkg, order_id, order_line_id, quota, source, mode, unit,
			    thresholds };

	return db_run(db, "package_store_grant", 8, vals);
}

enum {
	BALANCE_QUOTA, BALANCE_DRAWN, BALANCE_REMAINING, BALANCE_UNIT, BALANCE_MODE,
	BALANCE_PACKAGES,
};

bool
package_store_balance(struct db *db, const char *instance_id, struct package_store_balance *b)
{
	const char	*vals[1] = { instance_id };
	PGresult	*res;

	memset(b, 0, sizeof(*b));
	if ((res = db_exec(db, "package_store_balance", 1, vals)) == NULL)
		return false;
	if (PQntuples(res) != 1 || !parse_i64(PQgetvalue(res, 0, BALANCE_PACKAGES), 0,
	    INT64_MAX, &b->packages)) {
		log_error("package_store_balance: no balance for instance %s", instance_id);
		PQclear(res);
		return false;
	}
	b->res = res;
	b->quota = PQgetvalue(res, 0, BALANCE_QUOTA);
	b->drawn = PQgetvalue(res, 0, BALANCE_DRAWN);
	b->remaining = PQgetvalue(res, 0, BALANCE_REMAINING);
	b->unit = PQgetvalue(res, 0, BALANCE_UNIT);
	b->mode = PQgetvalue(res, 0, BALANCE_MODE);
	return true;
}

void
package_store_balance_free(struct package_store_balance *b)
{
	PQclear(b->res);
	memset(b, 0, sizeof(*b));
}
