/*
 * instance_store.h: the SQL behind the instance commands.
 *
 * Thin typed wrappers over prepared statements; the decisions (state
 * machine, idempotency, debug-call guard) are the domain's. Functions
 * returning PGresult hand it to the caller (PQclear) and document their
 * columns; NULL means the store failed (db_sqlstate tells how).
 */
#ifndef MKP_INSTANCE_STORE_H
#define MKP_INSTANCE_STORE_H

#include <stdint.h>
#include "common/util.h"
#include "store/db.h"

extern const struct db_stmt instance_store_stmts[];

struct istore_new {
	const char	*instance_id;
	const char	*order_id;
	const char	*order_line_id;
	const char	*business_id;
	const char	*state;
	bool		 is_test;
	const char	*front_end_url;
	const char	*admin_url;
	const char	*app_user;
	const char	*app_password;	/* sealed */
	const char	*memo;
	const char	*call_id;
	bool		 queue_job;	/* queue the "provision" job with it */
};

enum istore_create_result {
	ISTORE_CREATED,
	ISTORE_EXISTS,		/* the order line has an instance already */
	ISTORE_ID_TAKEN,	/* instance_id belongs to another order line */
	ISTORE_FAILED,
};

/*
 * Inserts the instance and its "create" event in one statement, unless
 * the order line has one. On ISTORE_EXISTS, id_out/state_out (ID_SIZE and 16
 * bytes) receive the existing instance's id and state.
 */
enum istore_create_result istore_create(struct db *, const struct istore_new *,
	    char id_out[ID_SIZE], char state_out[16]);

/* SELECT ... FOR UPDATE: columns 0 state, 1 is_test ("t"/"f"). No row: unknown. */
PGresult *istore_lock(struct db *, const char *instance_id) MUSTCHECK;

/* Looks up an instance without locking: same columns as istore_lock. */
PGresult *istore_peek(struct db *, const char *instance_id) MUSTCHECK;

/*
 * Records an event; for an event with an order id, once per (instance,
 * kind, order line). *inserted says whether it was new. detail is JSON
 * text or NULL.
 */
bool	 istore_event(struct db *, const char *instance_id, const char *kind,
	    const char *from_state, const char *to_state, const char *order_id,
	    const char *order_line_id, const char *detail, const char *call_id,
	    bool *inserted) MUSTCHECK;

/* Sets the state (and frozen_at/released_at as the state implies). */
bool	 istore_set_state(struct db *, const char *instance_id, const char *state) MUSTCHECK;

/*
 * New expiry; product_id NULL keeps it; trial_ends clears the trial flag;
 * extend keeps the later of the old and the new expiry (renewals).
 */
bool	 istore_renew(struct db *, const char *instance_id, int64_t expire_ms,
	    const char *product_id, bool trial_ends, bool extend) MUSTCHECK;

/*
 * Fetches instances by id; ids_array is a PostgreSQL array literal.
 * Columns: 0 instance_id, 1 state, 2 front_end_url, 3 admin_url,
 * 4 app_user, 5 app_password (sealed), 6 memo, 7 cumulative usage
 * (numeric text; NULL unless the instance is ON_DEMAND), 8 now as
 * yyyyMMddHHmmssSSS UTC.
 */
PGresult *istore_fetch(struct db *, const char *ids_array) MUSTCHECK;
/* The same for one instance id (planned once, unlike the array form). */
PGresult *istore_fetch_one(struct db *, const char *id) MUSTCHECK;

/*
 * Licence renewal: ensure the (code, debug or real) row, lock it, record
 * the event once per order line, apply (extend as istore_renew).
 */
bool	 istore_license_renew(struct db *, const char *code, const char *scene,
	    const char *order_id, const char *order_line_id, const char *product_id,
	    int64_t expire_ms, bool extend, bool is_test, const char *call_id,
	    bool *applied) MUSTCHECK;

/*
 * Reads an instance for provisioning, without locking it (the job runs a
 * hook meanwhile, and marketplace calls must not wait for that): 0 state, 1 is_test,
 * 2 order_id, 3 order_line_id, 4 product_id, 5 sku_code, 6 charging_mode,
 * 7 expire_at in ms (NULL when unset). No row: unknown.
 */
PGresult *istore_load(struct db *, const char *instance_id) MUSTCHECK;

struct istore_provisioned {
	const char	*instance_id;
	const char	*front_end_url;
	const char	*admin_url;
	const char	*app_user;
	const char	*app_password;	/* sealed */
	const char	*memo;
	const char	*product_id;	/* NULL: keep */
	const char	*sku_code;
	const char	*charging_mode;
	int64_t		 expire_ms;	/* -1: keep */
	const char	*order_json;	/* NULL: keep */
};

/*
 * Sets the instance active with its access data and order details, if it
 * is still provisioning or failed: *applied says whether it was.
 */
bool	 istore_provisioned(struct db *, const struct istore_provisioned *,
	    bool *applied) MUSTCHECK;
/*
 * Applies an order's product, SKU, charging mode, expiry (extend: the
 * later) and document; all but the expiry only when the order is not
 * older than the one applied last (createTime order_create_ms, -1 =
 * unknown: applied; then job_id): *newer says whether it was not.
 */
bool	 istore_apply_order(struct db *, const char *instance_id, const char *product_id,
	    const char *sku_code, const char *charging_mode, int64_t expire_ms, bool extend,
	    const char *order_json, int64_t order_create_ms, int64_t job_id,
	    bool *newer) MUSTCHECK;

/*
 * The instance that owns an on-demand product of an order (not except_id,
 * not an alias, not failed): 0 instance_id, 1 state; no row: none.
 */
PGresult *istore_on_demand_owner(struct db *, const char *order_id, const char *product_id,
	    bool is_test, const char *except_id) MUSTCHECK;
/* Makes the instance an alias of owner_id, with its state and access data. */
bool	 istore_make_alias(struct db *, const char *instance_id, const char *owner_id) MUSTCHECK;

/*
 * Sets the instance failed with the reason if it is still provisioning (or
 * failed): *applied says whether it was (a release meanwhile wins).
 */
bool	 istore_failed(struct db *, const char *instance_id, const char *reason,
	    bool *applied) MUSTCHECK;

/*
 * Takes the transaction's advisory lock for one on-demand product of an
 * order, without waiting: 1 taken, 0 another job holds it, -1 store error.
 */
int	 istore_on_demand_lock(struct db *, const char *order_id, const char *product_id,
	    bool is_test);

#endif
