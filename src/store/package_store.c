/*
 * package_store.c: prepared statements for package quotas. The decisions
 * (which package an event draws, when the seller hears of it) are in the
 * schema's functions, in the transactions that change the balance.
 */
#include <stdlib.h>

#include "store/package_store.h"

const struct db_stmt package_store_stmts[] = {
	{ "pstore_buyer",
	  "UPDATE instance SET buyer_id = $2 WHERE instance_id = $1"
	  " AND buyer_id IS DISTINCT FROM $2", 2 },
	{ "pstore_grant",
	  "SELECT mkp_package_grant($1, $2, $3, $4::numeric, $5, $6, $7, $8::numeric[])", 8 },
	{ "pstore_balance",
	  "SELECT coalesce(sum(quota), 0)::text, coalesce(sum(drawn), 0)::text,"
	  " coalesce(sum(quota - drawn), 0)::text, coalesce(max(unit), ''),"
	  " CASE WHEN coalesce(bool_or(mode = 'stop'), true) THEN 'stop' ELSE 'overflow' END,"
	  " count(*) FROM package"
	  " WHERE instance_id = $1 AND mkp_package_live(pkg_instance_id, now())", 1 },
	{ NULL, NULL, 0 },
};

bool
pstore_set_buyer(struct db *db, const char *instance_id, const char *buyer_id)
{
	const char	*vals[2] = { instance_id, buyer_id };

	return db_run(db, "pstore_buyer", 2, vals);
}

bool
pstore_grant(struct db *db, const char *pkg, const char *order_id, const char *order_line_id,
    const char *quota, const char *source, const char *mode, const char *unit,
    const char *thresholds)
{
	const char	*vals[8] = { pkg, order_id, order_line_id, quota, source, mode, unit,
			    thresholds };

	return db_run(db, "pstore_grant", 8, vals);
}

PGresult *
pstore_balance(struct db *db, const char *instance_id)
{
	const char	*vals[1] = { instance_id };

	return db_exec(db, "pstore_balance", 1, vals);
}
