/*
 * usage_store.c: prepared statements for metered usage.
 *
 * A batch of events travels as five text arrays to one call of
 * mkp_usage_ingest_packages() (which draws package quotas, then calls
 * mkp_usage_ingest_batch()): one round trip for up to 10 000 events rather
 * than one per event, and a single statement is one transaction.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/pg_array.h"
#include "store/usage_store.h"

/* One row: the counts and times of struct usage_status, in its order. */
#define USAGE_STORE_STATUS_SQL \
	"SELECT count(*) FILTER (WHERE state IN ('pending', 'sending'))," \
	" count(*) FILTER (WHERE state = 'sending')," \
	" count(*) FILTER (WHERE state = 'failed' OR (state IN ('open', 'pending', 'sending')" \
	"  AND now() > window_end + interval '1 hour'))," \
	" count(*) FILTER (WHERE state = 'failed')," \
	" coalesce((SELECT to_char(max(finished_at) AT TIME ZONE 'UTC'," \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM usage_push WHERE outcome = 'delivered'), '')," \
	" coalesce((SELECT outcome FROM usage_push WHERE finished_at IS NOT NULL" \
	"  ORDER BY finished_at DESC, id DESC LIMIT 1), '')," \
	" coalesce((SELECT to_char(max(finished_at) AT TIME ZONE 'UTC'," \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM usage_push), '')" \
	" FROM usage_record WHERE state IN ('open', 'pending', 'sending') OR state = 'failed'"
enum {
	STATUS_PENDING, STATUS_SENDING, STATUS_AT_RISK, STATUS_FAILED, STATUS_LAST_PUSH,
	STATUS_LAST_OUTCOME, STATUS_LAST_ATTEMPT,
};

/* usage_store_ingest's columns. */
enum { INGEST_ID, INGEST_OUTCOME, INGEST_REASON, INGEST_TAKEN };
/* usage_store_claim's columns. */
enum {
	CLAIM_PUSH_ID, CLAIM_ID, CLAIM_INSTANCE_ID, CLAIM_PKG_INSTANCE_ID, CLAIM_BEGIN,
	CLAIM_END, CLAIM_RECORD_TIME, CLAIM_VALUE, CLAIM_METERING_SN, CLAIM_AT_RISK,
	CLAIM_ATTEMPTS,
};

const struct db_stmt usage_store_stmts[] = {
	{ "usage_store_ingest",
	  "SELECT event_id, outcome, reason, taken FROM mkp_usage_ingest_packages($1::text[],"
	  " $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
	  " make_interval(secs => $6::bigint), $7::numeric[])", 7 },
	{ "usage_store_close", "SELECT mkp_usage_close_windows()", 0 },
	/*
	 * The claim commits at once (state sending, a lease): another host
	 * skips the rows while the claiming statement runs (SKIP LOCKED) and
	 * by their state afterwards, until the lease runs out.
	 */
	{ "usage_store_claim",
	  "SELECT push_id, id, instance_id, pkg_instance_id,"
	  " to_char(window_begin AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " to_char(window_end AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " to_char(record_time AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " value::text, metering_sn, now() > window_end + interval '1 hour', attempts"
	  " FROM mkp_usage_claim($1::integer, make_interval(secs => $2::bigint), $3, $4)", 4 },
	{ "usage_store_settle",
	  "SELECT mkp_usage_settle($1::bigint, $2, $3, $4::integer, $5, $6)", 6 },
	{ "usage_store_status", USAGE_STORE_STATUS_SQL, 0 },
	{ "usage_store_more",
	  "SELECT 1 FROM usage_record WHERE state = 'pending' LIMIT 1", 0 },
	{ "usage_store_lease_wait",
	  "SELECT ceil(extract(epoch FROM min(lease_until) - now()) * 1000)::bigint"
	  " FROM usage_record WHERE state = 'sending'", 0 },
	{ NULL, NULL, 0 },
};

static const struct {
	const char		*name;
	enum usage_store_outcome	 outcome;
} ingest_outcomes[] = {
	{ "duplicate", USAGE_STORE_DUPLICATE },
	{ "rejected", USAGE_STORE_REJECTED },
	{ "shifted", USAGE_STORE_SHIFTED },
	{ "capped", USAGE_STORE_CAPPED },
	{ "quota", USAGE_STORE_QUOTA },
};

static enum usage_store_outcome
ingest_outcome(const char *s)
{
	size_t	i;

	for (i = 0; i < NELEM(ingest_outcomes); i++)
		if (strcmp(s, ingest_outcomes[i].name) == 0)
			return ingest_outcomes[i].outcome;
	return USAGE_STORE_REJECTED;
}

/* A column of row as a string, NULL for SQL NULL; it lives as long as res. */
static const char *
opt_value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

bool
usage_store_ingest(struct db *db, const struct usage_store_event *ev, size_t n, long horizon_s,
    const char *thresholds, struct usage_store_ingest *out)
{
	struct buf	 arr[5];
	const char	*vals[7];
	char		 horizon[24];
	PGresult	*res;
	size_t		 i;
	int		 k, row;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < 5; k++) {
		buf_init(&arr[k]);
		pg_array_open(&arr[k]);
	}
	for (i = 0; i < n; i++) {
		pg_array_elem(&arr[0], ev[i].id);
		pg_array_elem(&arr[1], ev[i].instance_id);
		pg_array_elem(&arr[2], ev[i].pkg_instance_id);
		pg_array_elem(&arr[3], ev[i].value);
		pg_array_elem(&arr[4], ev[i].time);
	}
	for (k = 0; k < 5; k++) {
		pg_array_close(&arr[k]);
		vals[k] = buf_cstr(&arr[k]);
	}
	snprintf(horizon, sizeof(horizon), "%ld", horizon_s);
	vals[5] = horizon;
	vals[6] = thresholds;
	res = db_exec(db, "usage_store_ingest", 7, vals);
	for (k = 0; k < 5; k++)
		buf_free(&arr[k]);
	if (res == NULL)
		return false;
	out->res = res;
	out->n = (size_t)PQntuples(res);
	out->rows = xcalloc(out->n > 0 ? out->n : 1, sizeof(*out->rows));
	for (row = 0; row < (int)out->n; row++) {
		struct usage_store_ingested *r = &out->rows[row];

		r->outcome = ingest_outcome(PQgetvalue(res, row, INGEST_OUTCOME));
		r->id = PQgetvalue(res, row, INGEST_ID);
		r->reason = opt_value(res, row, INGEST_REASON);
		r->taken = opt_value(res, row, INGEST_TAKEN);
	}
	return true;
}

void
usage_store_ingest_free(struct usage_store_ingest *in)
{
	free(in->rows);
	PQclear(in->res);
	memset(in, 0, sizeof(*in));
}

/*
 * The one integer a statement answers into *n; false (logged) when the
 * store failed or answered something else.
 */
static bool
exec_count(struct db *db, const char *name, int nparams, const char *const *vals,
    int64_t *n)
{
	PGresult	*res = db_exec(db, name, nparams, vals);
	bool		 ok;

	*n = 0;
	if (res == NULL)
		return false;
	ok = PQntuples(res) == 1 && parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, n);
	if (!ok)
		log_error("%s: answered no count", name);
	PQclear(res);
	return ok;
}

bool
usage_store_close(struct db *db, int64_t *closed)
{
	return exec_count(db, "usage_store_close", 0, NULL, closed);
}

bool
usage_store_claim(struct db *db, int limit, long lease_s, const char *by, const char *request_id,
    struct usage_store_claim *out)
{
	char		 lim[16], lease[24];
	const char	*vals[4] = { lim, lease, by, request_id };
	PGresult	*res;
	int		 row;

	memset(out, 0, sizeof(*out));
	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%ld", lease_s);
	if ((res = db_exec(db, "usage_store_claim", 4, vals)) == NULL)
		return false;
	out->res = res;
	out->n = (size_t)PQntuples(res);
	out->rows = xcalloc(out->n > 0 ? out->n : 1, sizeof(*out->rows));
	if (out->n > 0)
		snprintf(out->push_id, sizeof(out->push_id), "%s",
		    PQgetvalue(res, 0, CLAIM_PUSH_ID));
	for (row = 0; row < (int)out->n; row++) {
		struct usage_store_claimed *r = &out->rows[row];

		r->id = PQgetvalue(res, row, CLAIM_ID);
		r->instance_id = PQgetvalue(res, row, CLAIM_INSTANCE_ID);
		r->pkg_instance_id = PQgetvalue(res, row, CLAIM_PKG_INSTANCE_ID);
		r->begin_time = PQgetvalue(res, row, CLAIM_BEGIN);
		r->end_time = PQgetvalue(res, row, CLAIM_END);
		r->record_time = PQgetvalue(res, row, CLAIM_RECORD_TIME);
		r->value = PQgetvalue(res, row, CLAIM_VALUE);
		r->metering_sn = PQgetvalue(res, row, CLAIM_METERING_SN);
		r->at_risk = PQgetvalue(res, row, CLAIM_AT_RISK)[0] == 't';
		if (!parse_i64(PQgetvalue(res, row, CLAIM_ATTEMPTS), 0, INT64_MAX, &r->attempts))
			r->attempts = 0;	/* for the log only */
	}
	return true;
}

void
usage_store_claim_free(struct usage_store_claim *c)
{
	free(c->rows);
	PQclear(c->res);
	memset(c, 0, sizeof(*c));
}

bool
usage_store_settle(struct db *db, const char *push_id, const char *outcome, const char *reason,
    long http_status, const char *result_code, const char *excerpt, int64_t *settled)
{
	char		 st[16];
	const char	*vals[6] = { push_id, outcome, reason, http_status > 0 ? st : NULL,
			    result_code, excerpt };

	snprintf(st, sizeof(st), "%ld", http_status);
	return exec_count(db, "usage_store_settle", 6, vals, settled);
}

enum db_found
usage_store_more(struct db *db)
{
	PGresult	*res = db_exec(db, "usage_store_more", 0, NULL);
	bool		 more;

	if (res == NULL)
		return DB_FAILED;
	more = PQntuples(res) > 0;
	PQclear(res);
	return more ? DB_FOUND : DB_NONE;
}

enum db_found
usage_store_lease_wait(struct db *db, int64_t *ms)
{
	PGresult	*res = db_exec(db, "usage_store_lease_wait", 0, NULL);
	enum db_found	 found = DB_FOUND;

	*ms = 0;
	if (res == NULL)
		return DB_FAILED;
	if (PQgetisnull(res, 0, 0)) {
		found = DB_NONE;	/* min() of no rows: nothing is being sent */
	} else if (!parse_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, ms)) {
		log_error("usage_store_lease_wait: answered no number");
		found = DB_FAILED;
	} else if (*ms < 0) {
		*ms = 0;	/* a lease already ran out */
	}
	PQclear(res);
	return found;
}

/* Copies the one row of USAGE_STORE_STATUS_SQL into st; false if it does not read. */
static bool
usage_store_status_fill(const PGresult *res, struct usage_status *st)
{
	memset(st, 0, sizeof(*st));
	if (PQntuples(res) != 1 ||
	    !parse_i64(PQgetvalue(res, 0, STATUS_PENDING), 0, INT64_MAX, &st->us_pending) ||
	    !parse_i64(PQgetvalue(res, 0, STATUS_SENDING), 0, INT64_MAX, &st->us_sending) ||
	    !parse_i64(PQgetvalue(res, 0, STATUS_AT_RISK), 0, INT64_MAX, &st->us_at_risk) ||
	    !parse_i64(PQgetvalue(res, 0, STATUS_FAILED), 0, INT64_MAX, &st->us_failed))
		return false;
	snprintf(st->us_last_push, sizeof(st->us_last_push), "%s",
	    PQgetvalue(res, 0, STATUS_LAST_PUSH));
	snprintf(st->us_last_outcome, sizeof(st->us_last_outcome), "%s",
	    PQgetvalue(res, 0, STATUS_LAST_OUTCOME));
	snprintf(st->us_last_attempt, sizeof(st->us_last_attempt), "%s",
	    PQgetvalue(res, 0, STATUS_LAST_ATTEMPT));
	return true;
}

bool
usage_store_status(struct db *db, struct usage_status *st)
{
	PGresult	*res = db_exec(db, "usage_store_status", 0, NULL);
	bool		 ok;

	if (res == NULL)
		return false;
	ok = usage_store_status_fill(res, st);
	PQclear(res);
	return ok;
}

/* A query of the admin functions: its result, or NULL (and cleared) on failure. */
static PGresult *
usage_store_admin_exec(PGconn *c, const char *sql, int n, const char *const *vals)
{
	PGresult	*res = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

bool
usage_store_status_pq(PGconn *c, struct usage_status *st)
{
	PGresult	*res = usage_store_admin_exec(c, USAGE_STORE_STATUS_SQL, 0, NULL);
	bool		 ok;

	if (res == NULL)
		return false;
	ok = usage_store_status_fill(res, st);
	PQclear(res);
	return ok;
}

#define USAGE_STORE_RFC3339(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

PGresult *
usage_store_admin_hourly(PGconn *c, const char *instance, int limit)
{
	char		 lim[16];
	const char	*vals[2] = { instance, lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return usage_store_admin_exec(c,
	    "SELECT instance_id, pkg_instance_id, " USAGE_STORE_RFC3339("window_begin") ","
	    " value::text, events, shifted_events, coalesce(record_state, ''),"
	    " coalesce(metering_sn, '') FROM usage_hourly"
	    " WHERE $1::text IS NULL OR instance_id = $1"
	    " ORDER BY window_begin DESC, instance_id, pkg_instance_id LIMIT $2::integer",
	    2, vals);
}

PGresult *
usage_store_admin_records(PGconn *c, const char *state, int limit)
{
	char		 lim[16];
	const char	*vals[2] = { state, lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return usage_store_admin_exec(c,
	    "SELECT id, instance_id, pkg_instance_id, " USAGE_STORE_RFC3339("window_begin") ","
	    " value::text, state, attempts, at_risk, coalesce(fail_reason, last_error, '')"
	    " FROM usage_unpushed"
	    " WHERE state = $1 OR ($1 = 'pending' AND state = 'sending')"
	    " ORDER BY window_begin, id LIMIT $2::integer", 2, vals);
}

PGresult *
usage_store_admin_history(PGconn *c, int limit)
{
	char		 lim[16];
	const char	*vals[1] = { lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return usage_store_admin_exec(c,
	    "SELECT id, " USAGE_STORE_RFC3339("sent_at") ", coalesce(" USAGE_STORE_RFC3339("finished_at")
	    ", ''), coalesce(pushed_by, ''), records, outcome, coalesce(http_status::text, ''),"
	    " coalesce(result_code, ''), coalesce(error, ''), coalesce(value::text, '')"
	    " FROM usage_push_history ORDER BY id DESC LIMIT $1::integer", 1, vals);
}

bool
usage_store_admin_retry(PGconn *c, int64_t id, int64_t *n)
{
	char		 ids[24];
	const char	*vals[1] = { ids };
	PGresult	*res;
	bool		 ok;

	*n = 0;
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	res = usage_store_admin_exec(c, "SELECT mkp_usage_retry(nullif($1::bigint, 0))", 1, vals);
	if (res == NULL)
		return false;
	ok = PQntuples(res) == 1 && parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, n);
	PQclear(res);
	return ok;
}
