/*
 * kit_store.h: prepared statements for the Kit (joint-operation) sync
 * objects: tenant, app, app_user, org (schema/007_kit.sql). The ordering
 * and idempotency rules (readings 7 and 8) are in the mkp_kit_* SQL
 * functions; these wrappers only pass values. Each runs in the caller's
 * transaction.
 */
#ifndef MKP_KIT_STORE_H
#define MKP_KIT_STORE_H

#include <stdint.h>
#include "store/db.h"

extern const struct db_stmt kit_store_stmts[];

/* What applying one object did. */
enum kit_outcome {
	KIT_APPLIED,	/* changed; a kit_event row was written */
	KIT_SAME,	/* a repeat: nothing changed */
	KIT_STALE,	/* older than the stored stamp: ignored */
};

/*
 * Each returns false on a store failure (db_sqlstate says why), else sets
 * *out. Strings may be NULL (SQL NULL). flag: 0 delete, 1 add, 2 modify,
 * 3 cancel (users only). stamp: 17-digit timeStamp.
 */
bool	 kit_store_tenant(struct db *, const char *tenant_id, const char *tenant_code,
	    const char *name, const char *domain_name, const char *instance_id,
	    const char *order_id, bool is_test, int flag, const char *stamp,
	    const char *call_id, enum kit_outcome *out) MUSTCHECK;

/* sealed_secret: "s1:..." or NULL; secret_plain: stored as received (debug). */
bool	 kit_store_app(struct db *, const char *tenant_id, const char *app_id,
	    const char *client_id, const char *sealed_secret, bool secret_plain,
	    const char *instance_id, bool is_test, int flag, const char *stamp,
	    const char *call_id, enum kit_outcome *out) MUSTCHECK;

/* A user's values, in this order: user_name, app_id, name, org_code, role,
 * enabled ("true"/"false"), position, employee_code, employee_type,
 * mobile, email, work_place, entry_date, extension (JSON text). */
#define KIT_USER_NVALS	14

/*
 * Applies n users (KIT_USER_NVALS values each) in one
 * statement; counts[] gets how many were applied, unchanged, stale (by
 * enum kit_outcome).
 */
bool	 kit_store_users(struct db *, const char *tenant_id,
	    const char *const (*users)[KIT_USER_NVALS], size_t n, const char *instance_id,
	    bool is_test, int flag, const char *stamp, const char *sync_time,
	    const char *call_id, size_t counts[3]) MUSTCHECK;

bool	 kit_store_org(struct db *, const char *tenant_id, const char *org_code,
	    const char *name, const char *parent_code, const char *instance_id,
	    bool is_test, int flag, const char *stamp, const char *call_id,
	    enum kit_outcome *out) MUSTCHECK;

/*
 * Adds or modifies n departments (codes[i], names[i], parents[i]: NULL for
 * a top-level one) in one statement (mkp_kit_orgs_set, schema/013), each
 * with the outcome kit_store_org would give it; counts[] by enum
 * kit_outcome.
 */
bool	 kit_store_orgs_set(struct db *, const char *tenant_id, const char *const *codes,
	    const char *const *names, const char *const *parents, size_t n,
	    const char *instance_id, bool is_test, const char *stamp, const char *call_id,
	    size_t counts[3]) MUSTCHECK;

/* Soft-deletes the tenant's live departments this call did not list. */
bool	 kit_store_org_prune(struct db *, const char *tenant_id, const char *stamp,
	    bool is_test, const char *call_id, int64_t *pruned) MUSTCHECK;

/*
 * Recomputes the tenant's department paths; orphans (malloc'd, caller
 * frees; NULL when none) lists the departments whose parent is unknown.
 */
bool	 kit_store_org_paths(struct db *, const char *tenant_id, char **orphans) MUSTCHECK;

#endif
