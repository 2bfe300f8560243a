/*
 * instance_store.h: the SQL behind the instance commands.
 *
 * Thin typed wrappers over prepared statements; the decisions (state
 * machine, idempotency, debug-call guard) are the domain's. Rows come back
 * as structs; DB_FAILED or false means the store failed (db_sqlstate
 * tells how).
 */
#ifndef MKP_INSTANCE_STORE_H
#define MKP_INSTANCE_STORE_H

#include <stdint.h>
#include "common/util.h"
#include "store/db.h"

extern const struct db_stmt instance_store_stmts[];

struct instance_store_new {
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

enum instance_store_create_result {
	INSTANCE_STORE_CREATED,
	INSTANCE_STORE_EXISTS,		/* the order line has an instance already */
	INSTANCE_STORE_ID_TAKEN,	/* instance_id belongs to another order line */
	INSTANCE_STORE_FAILED,
};

/*
 * Inserts the instance and its "create" event in one statement, unless
 * the order line has one. On INSTANCE_STORE_EXISTS, id_out/state_out (ID_SIZE and 16
 * bytes) receive the existing instance's id and state.
 */
enum instance_store_create_result instance_store_create(struct db *, const struct instance_store_new *,
	    char id_out[ID_SIZE], char state_out[16]);

/* What the state machine decides from. */
struct instance_store_state {
	char	 state[16];
	bool	 is_test;
};

/* SELECT ... FOR UPDATE. DB_NONE: no such instance. */
enum db_found instance_store_lock(struct db *, const char *instance_id,
	    struct instance_store_state *) MUSTCHECK;

/* Looks up an instance without locking. */
enum db_found instance_store_peek(struct db *, const char *instance_id,
	    struct instance_store_state *) MUSTCHECK;

/*
 * Records an event; for an event with an order id, once per (instance,
 * kind, order line). *inserted says whether it was new. detail is JSON
 * text or NULL.
 */
bool	 instance_store_event(struct db *, const char *instance_id, const char *kind,
	    const char *from_state, const char *to_state, const char *order_id,
	    const char *order_line_id, const char *detail, const char *call_id,
	    bool *inserted) MUSTCHECK;

/* Sets the state (and frozen_at/released_at as the state implies). */
bool	 instance_store_set_state(struct db *, const char *instance_id, const char *state) MUSTCHECK;

/*
 * New expiry; product_id NULL keeps it; trial_ends clears the trial flag;
 * extend keeps the later of the old and the new expiry (renewals).
 */
bool	 instance_store_renew(struct db *, const char *instance_id, int64_t expire_ms,
	    const char *product_id, bool trial_ends, bool extend) MUSTCHECK;

/* An instance as queryInstance answers it; NULL: SQL NULL. */
struct instance_store_fetched {
	const char	*instance_id;
	const char	*state;
	const char	*front_end_url;
	const char	*admin_url;
	const char	*app_user;
	const char	*app_password;	/* sealed */
	const char	*memo;
	const char	*usage_value;	/* cumulative usage, numeric text: on-demand only */
	const char	*usage_time;	/* now, yyyyMMddHHmmssSSS UTC */
	const char	*usage_related;	/* the on-demand instance that drew on the package */
};

/* The instances found; the strings live until instance_store_fetch_free. */
struct instance_store_fetch {
	struct instance_store_fetched	*rows;
	size_t			 n;
	PGresult		*res;
};

/*
 * Fetches the n instances by id (absent ones are not in the rows, a
 * repeated id may be). False: the store failed.
 */
bool	 instance_store_fetch(struct db *, const char *const *ids, size_t n,
	    struct instance_store_fetch *) MUSTCHECK;
void	 instance_store_fetch_free(struct instance_store_fetch *);

/*
 * Licence renewal: ensure the (code, debug or real) row, lock it, record
 * the event once per order line, apply (extend as instance_store_renew).
 */
bool	 instance_store_license_renew(struct db *, const char *code, const char *scene,
	    const char *order_id, const char *order_line_id, const char *product_id,
	    int64_t expire_ms, bool extend, bool is_test, const char *call_id,
	    bool *applied) MUSTCHECK;

/* An instance's order details; the strings are the caller's (free()), NULL: unset. */
struct instance_store_loaded {
	char		*state;
	bool		 is_test;
	char		*order_id;
	char		*order_line_id;
	char		*product_id;
	char		*sku_code;
	char		*charging_mode;
	int64_t		 expire_ms;	/* -1: unset */
};

/*
 * Reads an instance for provisioning, without locking it (the job runs a
 * hook meanwhile, and marketplace calls must not wait for that). DB_NONE:
 * no such instance.
 */
enum db_found instance_store_load(struct db *, const char *instance_id,
	    struct instance_store_loaded *) MUSTCHECK;

struct instance_store_provisioned {
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
bool	 instance_store_provisioned(struct db *, const struct instance_store_provisioned *,
	    bool *applied) MUSTCHECK;
/*
 * Applies an order's product, SKU, charging mode, expiry (extend: the
 * later) and document; all but the expiry only when the order is not
 * older than the one applied last (createTime order_create_ms, -1 =
 * unknown: applied; then job_id): *newer says whether it was not.
 */
bool	 instance_store_apply_order(struct db *, const char *instance_id, const char *product_id,
	    const char *sku_code, const char *charging_mode, int64_t expire_ms, bool extend,
	    const char *order_json, int64_t order_create_ms, int64_t job_id,
	    bool *newer) MUSTCHECK;

/*
 * The instance that owns an on-demand product of an order (not except_id,
 * not an alias, not failed): its id and state. DB_NONE: none.
 */
enum db_found instance_store_on_demand_owner(struct db *, const char *order_id,
	    const char *product_id, bool is_test, const char *except_id,
	    char owner[ID_SIZE], char state[16]) MUSTCHECK;
/* Makes the instance an alias of owner_id, with its state and access data. */
bool	 instance_store_make_alias(struct db *, const char *instance_id, const char *owner_id) MUSTCHECK;

/*
 * Sets the instance failed with the reason if it is still provisioning (or
 * failed): *applied says whether it was (a release meanwhile wins).
 */
bool	 instance_store_failed(struct db *, const char *instance_id, const char *reason,
	    bool *applied) MUSTCHECK;

/*
 * Takes the transaction's advisory lock for one on-demand product of an
 * order, without waiting: DB_FOUND taken, DB_NONE another job holds it.
 */
enum db_found instance_store_on_demand_lock(struct db *, const char *order_id,
	    const char *product_id, bool is_test) MUSTCHECK;

#endif
