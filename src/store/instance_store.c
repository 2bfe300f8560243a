/*
 * instance_store.c: prepared statements for instances and licences.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/instance_store.h"
#include "store/pg_array.h"

/*
 * queryInstance's fetch. usageInfo (issue 5): the cumulative usage of an
 * on-demand instance, the amount drawn from a package and the on-demand
 * instance that drew on it last.
 */
#define INSTANCE_STORE_FETCH \
	"SELECT instance_id, state, front_end_url, admin_url, app_user, app_password, memo," \
	" CASE WHEN charging_mode IN ('ON_DEMAND', 'ON_DEMAND_PKG') THEN" \
	"  mkp_usage_cumulative(instance_id, charging_mode = 'ON_DEMAND_PKG')::text END," \
	" to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSMS')," \
	" CASE WHEN charging_mode = 'ON_DEMAND_PKG' THEN" \
	"  mkp_usage_package_drawer(instance_id) END" \
	" FROM instance WHERE "
/* INSTANCE_STORE_FETCH's columns. */
enum {
	FETCH_ID, FETCH_STATE, FETCH_FRONT_END_URL, FETCH_ADMIN_URL, FETCH_APP_USER,
	FETCH_APP_PASSWORD, FETCH_MEMO, FETCH_USAGE_VALUE, FETCH_USAGE_TIME,
	FETCH_USAGE_RELATED,
};

/* instance_store_lock's and instance_store_peek's columns. */
enum { STATE_STATE, STATE_IS_TEST };
/* instance_store_load's columns. */
enum {
	LOAD_STATE, LOAD_IS_TEST, LOAD_ORDER_ID, LOAD_ORDER_LINE_ID, LOAD_PRODUCT_ID,
	LOAD_SKU_CODE, LOAD_CHARGING_MODE, LOAD_EXPIRE_MS,
};
/* instance_store_create's, instance_store_find_line's and instance_store_on_demand_owner's columns. */
enum { LINE_ID, LINE_STATE };

const struct db_stmt instance_store_stmts[] = {
	/*
	 * ON CONFLICT on the order line waits for a concurrent insert of the
	 * same line to commit, then does nothing: exactly one instance per
	 * order line however many identical calls race.
	 */
	{ "instance_store_create",
	  "WITH ins AS ("
	  " INSERT INTO instance (instance_id, order_id, order_line_id, business_id, state,"
	  "  is_test, front_end_url, admin_url, app_user, app_password, memo)"
	  " VALUES ($1, $2, $3, $4, $5, $6::boolean, $7, $8, $9, $10, $11)"
	  " ON CONFLICT (order_id, order_line_id, is_test) DO NOTHING"
	  " RETURNING instance_id, state),"
	  " ev AS (INSERT INTO instance_event (instance_id, kind, to_state, order_id,"
	  "  order_line_id, call_id)"
	  " SELECT instance_id, 'create', state, $2, $3, $12 FROM ins),"
	  /* $13: provisioning goes on in a job, queued in the same statement. */
	  " job AS (INSERT INTO job (kind, payload, dedupe_key)"
	  " SELECT 'provision', json_build_object('instanceId', instance_id), instance_id"
	  " FROM ins WHERE $13::boolean)"
	  " SELECT instance_id, state FROM ins", 13 },
	{ "instance_store_find_line",
	  "SELECT instance_id, state FROM instance"
	  " WHERE order_id = $1 AND order_line_id = $2 AND is_test = $3::boolean", 3 },
	{ "instance_store_lock",
	  "SELECT state, is_test FROM instance WHERE instance_id = $1 FOR UPDATE", 1 },
	{ "instance_store_peek",
	  "SELECT state, is_test FROM instance WHERE instance_id = $1", 1 },
	{ "instance_store_event",
	  "INSERT INTO instance_event (instance_id, kind, from_state, to_state, order_id,"
	  " order_line_id, detail, call_id) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)"
	  " ON CONFLICT (instance_id, kind, order_id, order_line_id)"
	  " WHERE order_id IS NOT NULL DO NOTHING RETURNING 1", 8 },
	{ "instance_store_set_state",
	  "UPDATE instance SET state = $2::text, updated_at = now(),"
	  " frozen_at = CASE WHEN $2 = 'frozen' THEN now() WHEN $2 = 'active' THEN NULL"
	  "  ELSE frozen_at END,"
	  " released_at = CASE WHEN $2 = 'released' THEN now() ELSE released_at END"
	  " WHERE instance_id = $1", 2 },
	/*
	 * $5 (extend): a renewal only ever moves the expiry forward, so a
	 * renewal retried after a later one was applied cannot take the
	 * buyer's time back; only an unsubscription shortens it.
	 */
	{ "instance_store_renew",
	  "UPDATE instance SET expire_at = CASE WHEN $5::boolean"
	  "  THEN greatest(coalesce(expire_at, '-infinity'), to_timestamp($2::bigint / 1000.0))"
	  "  ELSE to_timestamp($2::bigint / 1000.0) END,"
	  " product_id = coalesce($3, product_id),"
	  " trial = trial AND NOT $4::boolean, updated_at = now()"
	  " WHERE instance_id = $1", 5 },
	{ "instance_store_load",
	  "SELECT state, is_test, order_id, order_line_id, product_id, sku_code, charging_mode,"
	  " (extract(epoch FROM expire_at) * 1000)::bigint"
	  " FROM instance WHERE instance_id = $1", 1 },
	{ "instance_store_provisioned",
	  "UPDATE instance SET state = 'active', front_end_url = $2, admin_url = $3,"
	  " app_user = $4, app_password = $5, memo = $6,"
	  /*
	   * The order fills only what is empty, and the expiry only moves
	   * forward: a renewal or upgrade applied while the hook ran stays.
	   */
	  " product_id = coalesce(product_id, $7), sku_code = coalesce(sku_code, $8),"
	  " charging_mode = coalesce(charging_mode, $9),"
	  " expire_at = greatest(expire_at, to_timestamp($10::bigint / 1000.0)),"
	  " order_info = coalesce(order_info, $11::jsonb), fail_reason = NULL,"
	  " updated_at = now()"
	  " WHERE instance_id = $1 AND state IN ('provisioning', 'failed')", 11 },
	/*
	 * An order older than the one applied last (createTime $8, then the
	 * change job's id $9) leaves product, SKU, charging mode and
	 * document alone (015_order_applied.sql). Answers whether it was newer.
	 */
	{ "instance_store_apply_order",
	  "WITH o AS (SELECT $8::bigint IS NULL OR i.applied_order_at IS NULL"
	  "  OR (to_timestamp($8::bigint / 1000.0), $9::bigint)"
	  "   >= (i.applied_order_at, coalesce(i.applied_order_job, 0)) AS newer"
	  "  FROM instance i WHERE i.instance_id = $1) "
	  "UPDATE instance SET"
	  " product_id = CASE WHEN o.newer THEN coalesce($2, product_id) ELSE product_id END,"
	  " sku_code = CASE WHEN o.newer THEN coalesce($3, sku_code) ELSE sku_code END,"
	  " charging_mode = CASE WHEN o.newer THEN coalesce($4, charging_mode)"
	  "  ELSE charging_mode END,"
	  " expire_at = CASE WHEN $5::bigint IS NULL THEN expire_at"
	  "  WHEN $6::boolean THEN greatest(coalesce(expire_at, '-infinity'),"
	  "   to_timestamp($5::bigint / 1000.0))"
	  "  ELSE to_timestamp($5::bigint / 1000.0) END,"
	  " order_info = CASE WHEN o.newer THEN coalesce($7::jsonb, order_info)"
	  "  ELSE order_info END,"
	  " applied_order_at = CASE WHEN o.newer AND $8::bigint IS NOT NULL"
	  "  THEN to_timestamp($8::bigint / 1000.0) ELSE applied_order_at END,"
	  " applied_order_job = CASE WHEN o.newer AND $8::bigint IS NOT NULL"
	  "  THEN $9::bigint ELSE applied_order_job END,"
	  " updated_at = now()"
	  " FROM o WHERE instance_id = $1 RETURNING o.newer", 9 },
	/* The instance owning an on-demand product of an order, other than $4. */
	{ "instance_store_on_demand_owner",
	  "SELECT instance_id, state FROM instance WHERE order_id = $1 AND product_id = $2"
	  " AND is_test = $3::boolean AND charging_mode = 'ON_DEMAND' AND alias_of IS NULL"
	  " AND state <> 'failed' AND instance_id <> $4", 4 },
	{ "instance_store_make_alias",
	  "UPDATE instance b SET alias_of = a.instance_id, state = a.state,"
	  " front_end_url = a.front_end_url, admin_url = a.admin_url, app_user = a.app_user,"
	  " app_password = a.app_password, memo = a.memo, product_id = a.product_id,"
	  " sku_code = a.sku_code, charging_mode = a.charging_mode, expire_at = a.expire_at,"
	  " order_info = a.order_info, fail_reason = NULL, updated_at = now()"
	  " FROM instance a WHERE b.instance_id = $1 AND a.instance_id = $2"
	  " AND b.state IN ('provisioning', 'failed')", 2 },
	{ "instance_store_failed",
	  "UPDATE instance SET state = 'failed', fail_reason = $2, updated_at = now()"
	  " WHERE instance_id = $1 AND state IN ('provisioning', 'failed')", 2 },
	/* Serialises the provisioning of one on-demand product of an order. */
	{ "instance_store_on_demand_lock",
	  "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7305126013))", 1 },
	{ "instance_store_fetch", INSTANCE_STORE_FETCH "instance_id = ANY ($1::text[])", 1 },
	/*
	 * The same for one id, the usual queryInstance. PostgreSQL plans the
	 * array form afresh at every call (its generic plan, sized for an
	 * array of unknown length, never looks cheaper than a custom one),
	 * which cost more than the rest of the statement (doc/performance.md);
	 * this form is planned once per connection.
	 */
	{ "instance_store_fetch_one", INSTANCE_STORE_FETCH "instance_id = $1", 1 },
	{ "instance_store_license_ensure",
	  "INSERT INTO license (license_code, order_id, order_line_id, product_id,"
	  " expire_at, scene, is_test) VALUES ($1, $2, $3, $4,"
	  " to_timestamp($5::bigint / 1000.0), $6, $7::boolean)"
	  " ON CONFLICT (license_code, is_test) DO NOTHING", 7 },
	{ "instance_store_license_lock",
	  "SELECT 1 FROM license WHERE license_code = $1 AND is_test = $2::boolean"
	  " FOR UPDATE", 2 },
	{ "instance_store_license_event",
	  "INSERT INTO license_event (license_code, is_test, scene, order_id, order_line_id,"
	  " expire_at, call_id) VALUES ($1, $7::boolean, $2, $3, $4,"
	  " to_timestamp($5::bigint / 1000.0), $6)"
	  " ON CONFLICT DO NOTHING RETURNING 1", 7 },
	{ "instance_store_license_apply",
	  "UPDATE license SET expire_at = CASE WHEN $8::boolean"
	  "  THEN greatest(expire_at, to_timestamp($2::bigint / 1000.0))"
	  "  ELSE to_timestamp($2::bigint / 1000.0) END, scene = $3,"
	  " order_id = $4, order_line_id = $5, product_id = coalesce($6, product_id),"
	  " updated_at = now() WHERE license_code = $1 AND is_test = $7::boolean", 8 },
	{ NULL, NULL, 0 },
};

static void
copy_field(char *dst, size_t n, PGresult *res, int col)
{
	if (!str_copy(dst, n, PQgetvalue(res, 0, col)))
		dst[n - 1] = '\0';
}

/*
 * Runs an INSERT ... ON CONFLICT DO NOTHING RETURNING 1: *inserted says
 * whether it inserted its row (false when the row was there already).
 */
static bool
exec_insert(struct db *db, const char *name, int nparams, const char *const *p,
    bool *inserted)
{
	PGresult	*res = db_exec(db, name, nparams, p);

	if (res == NULL)
		return false;
	*inserted = PQntuples(res) == 1;
	PQclear(res);
	return true;
}

enum instance_store_create_result
instance_store_create(struct db *db, const struct instance_store_new *n, char id_out[ID_SIZE], char state_out[16])
{
	const char	*p[13];
	const char	*q[3];
	PGresult	*res;

	p[0] = n->instance_id;
	p[1] = n->order_id;
	p[2] = n->order_line_id;
	p[3] = n->business_id;
	p[4] = n->state;
	p[5] = n->is_test ? "true" : "false";
	p[6] = n->front_end_url;
	p[7] = n->admin_url;
	p[8] = n->app_user;
	p[9] = n->app_password;
	p[10] = n->memo;
	p[11] = n->call_id;
	p[12] = n->queue_job ? "true" : "false";
	res = db_exec(db, "instance_store_create", 13, p);
	if (res == NULL)
		return strcmp(db_sqlstate(db), "23505") == 0 ? INSTANCE_STORE_ID_TAKEN : INSTANCE_STORE_FAILED;
	if (PQntuples(res) == 1) {
		copy_field(id_out, ID_SIZE, res, LINE_ID);
		copy_field(state_out, 16, res, LINE_STATE);
		PQclear(res);
		return INSTANCE_STORE_CREATED;
	}
	PQclear(res);
	/* The line has an instance; the inserter committed before we returned. */
	q[0] = n->order_id;
	q[1] = n->order_line_id;
	q[2] = p[5];
	res = db_exec(db, "instance_store_find_line", 3, q);
	if (res == NULL)
		return INSTANCE_STORE_FAILED;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return INSTANCE_STORE_FAILED;
	}
	copy_field(id_out, ID_SIZE, res, LINE_ID);
	copy_field(state_out, 16, res, LINE_STATE);
	PQclear(res);
	return INSTANCE_STORE_EXISTS;
}

/* The one row of instance_store_lock or instance_store_peek. */
static enum db_found
read_state(struct db *db, const char *name, const char *id, struct instance_store_state *st)
{
	PGresult	*res = db_exec(db, name, 1, &id);

	memset(st, 0, sizeof(*st));
	if (res == NULL)
		return DB_FAILED;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return DB_NONE;
	}
	copy_field(st->state, sizeof(st->state), res, STATE_STATE);
	st->is_test = PQgetvalue(res, 0, STATE_IS_TEST)[0] == 't';
	PQclear(res);
	return DB_FOUND;
}

enum db_found
instance_store_lock(struct db *db, const char *id, struct instance_store_state *st)
{
	return read_state(db, "instance_store_lock", id, st);
}

enum db_found
instance_store_peek(struct db *db, const char *id, struct instance_store_state *st)
{
	return read_state(db, "instance_store_peek", id, st);
}

bool
instance_store_event(struct db *db, const char *id, const char *kind, const char *from,
    const char *to, const char *order_id, const char *line, const char *detail,
    const char *call_id, bool *inserted)
{
	const char	*p[8] = { id, kind, from, to, order_id, line, detail, call_id };

	return exec_insert(db, "instance_store_event", 8, p, inserted);
}

bool
instance_store_set_state(struct db *db, const char *id, const char *state)
{
	const char	*p[2] = { id, state };

	return db_run(db, "instance_store_set_state", 2, p);
}

bool
instance_store_renew(struct db *db, const char *id, int64_t expire_ms, const char *product_id,
    bool trial_ends, bool extend)
{
	char		 exp[24];
	const char	*p[5];

	snprintf(exp, sizeof(exp), "%lld", (long long)expire_ms);
	p[0] = id;
	p[1] = exp;
	p[2] = product_id;
	p[3] = trial_ends ? "true" : "false";
	p[4] = extend ? "true" : "false";
	return db_run(db, "instance_store_renew", 5, p);
}

/* A column of row as a string, NULL for SQL NULL; it lives as long as res. */
static const char *
opt_value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

bool
instance_store_fetch(struct db *db, const char *const *ids, size_t n, struct instance_store_fetch *f)
{
	struct buf	 lit = BUF_INIT;
	const char	*p[1];
	int		 row;

	memset(f, 0, sizeof(*f));
	if (n == 1) {
		f->res = db_exec(db, "instance_store_fetch_one", 1, ids);
	} else {
		pg_array_text(&lit, ids, n);
		p[0] = buf_cstr(&lit);
		f->res = db_exec(db, "instance_store_fetch", 1, p);
		buf_free(&lit);
	}
	if (f->res == NULL)
		return false;
	f->n = (size_t)PQntuples(f->res);
	f->rows = xcalloc(f->n > 0 ? f->n : 1, sizeof(*f->rows));
	for (row = 0; row < (int)f->n; row++) {
		struct instance_store_fetched *r = &f->rows[row];

		r->instance_id = PQgetvalue(f->res, row, FETCH_ID);
		r->state = PQgetvalue(f->res, row, FETCH_STATE);
		r->front_end_url = opt_value(f->res, row, FETCH_FRONT_END_URL);
		r->admin_url = opt_value(f->res, row, FETCH_ADMIN_URL);
		r->app_user = opt_value(f->res, row, FETCH_APP_USER);
		r->app_password = opt_value(f->res, row, FETCH_APP_PASSWORD);
		r->memo = opt_value(f->res, row, FETCH_MEMO);
		r->usage_value = opt_value(f->res, row, FETCH_USAGE_VALUE);
		r->usage_time = PQgetvalue(f->res, row, FETCH_USAGE_TIME);
		r->usage_related = opt_value(f->res, row, FETCH_USAGE_RELATED);
	}
	return true;
}

void
instance_store_fetch_free(struct instance_store_fetch *f)
{
	free(f->rows);
	PQclear(f->res);
	memset(f, 0, sizeof(*f));
}

bool
instance_store_license_renew(struct db *db, const char *code, const char *scene,
    const char *order_id, const char *line, const char *product_id, int64_t expire_ms,
    bool extend, bool is_test, const char *call_id, bool *applied)
{
	char		 exp[24];
	const char	*test = is_test ? "true" : "false";
	const char	*p[8];

	snprintf(exp, sizeof(exp), "%lld", (long long)expire_ms);
	p[0] = code;
	p[1] = order_id;
	p[2] = line;
	p[3] = product_id;
	p[4] = exp;
	p[5] = scene;
	p[6] = test;
	if (!db_run(db, "instance_store_license_ensure", 7, p))
		return false;
	/* Renewals of one licence apply one after the other. */
	p[0] = code;
	p[1] = test;
	if (!db_run(db, "instance_store_license_lock", 2, p))
		return false;
	p[0] = code;
	p[1] = scene;
	p[2] = order_id;
	p[3] = line;
	p[4] = exp;
	p[5] = call_id;
	p[6] = test;
	if (!exec_insert(db, "instance_store_license_event", 7, p, applied))
		return false;
	if (!*applied)
		return true;
	p[0] = code;
	p[1] = exp;
	p[2] = scene;
	p[3] = order_id;
	p[4] = line;
	p[5] = product_id;
	p[6] = test;
	p[7] = extend ? "true" : "false";
	return db_run(db, "instance_store_license_apply", 8, p);
}

static char *
dup_value(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : xstrdup(PQgetvalue(res, 0, col));
}

enum db_found
instance_store_load(struct db *db, const char *id, struct instance_store_loaded *row)
{
	PGresult	*res = db_exec(db, "instance_store_load", 1, &id);
	int64_t		 ms;

	memset(row, 0, sizeof(*row));
	row->expire_ms = -1;
	if (res == NULL)
		return DB_FAILED;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return DB_NONE;
	}
	row->state = dup_value(res, LOAD_STATE);
	row->is_test = PQgetvalue(res, 0, LOAD_IS_TEST)[0] == 't';
	row->order_id = dup_value(res, LOAD_ORDER_ID);
	row->order_line_id = dup_value(res, LOAD_ORDER_LINE_ID);
	row->product_id = dup_value(res, LOAD_PRODUCT_ID);
	row->sku_code = dup_value(res, LOAD_SKU_CODE);
	row->charging_mode = dup_value(res, LOAD_CHARGING_MODE);
	if (!PQgetisnull(res, 0, LOAD_EXPIRE_MS) && parse_i64(PQgetvalue(res, 0,
	    LOAD_EXPIRE_MS), INT64_MIN, INT64_MAX, &ms))
		row->expire_ms = ms;
	PQclear(res);
	return DB_FOUND;
}

bool
instance_store_provisioned(struct db *db, const struct instance_store_provisioned *v, bool *applied)
{
	PGresult	*res;
	char		 exp[24];
	const char	*p[11];

	snprintf(exp, sizeof(exp), "%lld", (long long)v->expire_ms);
	p[0] = v->instance_id;
	p[1] = v->front_end_url;
	p[2] = v->admin_url;
	p[3] = v->app_user;
	p[4] = v->app_password;
	p[5] = v->memo;
	p[6] = v->product_id;
	p[7] = v->sku_code;
	p[8] = v->charging_mode;
	p[9] = v->expire_ms >= 0 ? exp : NULL;
	p[10] = v->order_json;
	res = db_exec(db, "instance_store_provisioned", 11, p);
	if (res == NULL)
		return false;
	*applied = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return true;
}

bool
instance_store_failed(struct db *db, const char *id, const char *reason, bool *applied)
{
	const char	*p[2] = { id, reason };
	PGresult	*res = db_exec(db, "instance_store_failed", 2, p);

	if (res == NULL)
		return false;
	*applied = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return true;
}

enum db_found
instance_store_on_demand_lock(struct db *db, const char *order_id, const char *product_id,
    bool is_test)
{
	struct buf	 key = BUF_INIT;
	const char	*p[1];
	PGresult	*res;
	bool		 got;

	buf_printf(&key, "%s/%s/%d", order_id, product_id, is_test);
	p[0] = buf_cstr(&key);
	res = db_exec(db, "instance_store_on_demand_lock", 1, p);
	buf_free(&key);
	if (res == NULL)
		return DB_FAILED;
	got = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return got ? DB_FOUND : DB_NONE;
}

bool
instance_store_apply_order(struct db *db, const char *id, const char *product_id, const char *sku,
    const char *charging_mode, int64_t expire_ms, bool extend, const char *order_json,
    int64_t order_create_ms, int64_t job_id, bool *newer)
{
	char		 exp[24], created[24], job[24];
	const char	*p[9];
	PGresult	*res;

	snprintf(exp, sizeof(exp), "%lld", (long long)expire_ms);
	p[0] = id;
	p[1] = product_id;
	p[2] = sku;
	p[3] = charging_mode;
	p[4] = expire_ms >= 0 ? exp : NULL;
	p[5] = extend ? "true" : "false";
	p[6] = order_json;
	snprintf(created, sizeof(created), "%lld", (long long)order_create_ms);
	snprintf(job, sizeof(job), "%lld", (long long)job_id);
	p[7] = order_create_ms >= 0 ? created : NULL;
	p[8] = job;
	if ((res = db_exec(db, "instance_store_apply_order", 9, p)) == NULL)
		return false;
	*newer = PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

enum db_found
instance_store_on_demand_owner(struct db *db, const char *order_id, const char *product_id,
    bool is_test, const char *except_id, char owner[ID_SIZE], char state[16])
{
	const char	*p[4] = { order_id, product_id, is_test ? "true" : "false", except_id };
	PGresult	*res = db_exec(db, "instance_store_on_demand_owner", 4, p);

	if (res == NULL)
		return DB_FAILED;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return DB_NONE;
	}
	copy_field(owner, ID_SIZE, res, LINE_ID);
	copy_field(state, 16, res, LINE_STATE);
	PQclear(res);
	return DB_FOUND;
}

bool
instance_store_make_alias(struct db *db, const char *id, const char *owner_id)
{
	const char	*p[2] = { id, owner_id };

	return db_run(db, "instance_store_make_alias", 2, p);
}
