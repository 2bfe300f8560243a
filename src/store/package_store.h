/*
 * package_store.h: the SQL behind package quotas (schema/014_packages.sql).
 */
#ifndef MKP_PACKAGE_STORE_H
#define MKP_PACKAGE_STORE_H

#include <stdint.h>
#include "store/db.h"

extern const struct db_stmt package_store_stmts[];

/* Sets the instance's buyer (buyerInfo.customerId). */
bool	 package_store_set_buyer(struct db *, const char *instance_id, const char *buyer_id);

/*
 * mkp_package_grant: quota more for package pkg, once per order line.
 * Returns false when the store failed.
 */
bool	 package_store_grant(struct db *, const char *pkg, const char *order_id,
	    const char *order_line_id, const char *quota, const char *source,
	    const char *mode, const char *unit, const char *thresholds);

/*
 * An instance's balance over its live packages: amounts as numeric text;
 * the strings live until package_store_balance_free.
 */
struct package_store_balance {
	const char	*quota;
	const char	*drawn;
	const char	*remaining;
	const char	*unit;		/* "" none */
	const char	*mode;		/* "stop" or "overflow" */
	int64_t		 packages;	/* how many are live */
	PGresult	*res;
};

/* What the hook of a package event needs. False on failure. */
bool	 package_store_balance(struct db *, const char *instance_id,
	    struct package_store_balance *) MUSTCHECK;
void	 package_store_balance_free(struct package_store_balance *);

#endif
