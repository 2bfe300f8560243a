/*
 * usage_store.c: prepared statements for metered usage.
 *
 * A batch of events travels as five text arrays to one call of
 * mkp_usage_ingest_packages() (which draws package quotas, then calls
 * mkp_usage_ingest_batch()): one round trip for up to 10 000 events rather
 * than one per event, and a single statement is one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "store/pg_array.h"
#include "store/usage_store.h"

/* One row: the counts and times of struct usage_status, in its order. */
#define USTORE_STATUS_SQL \
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
	" FROM usage_record WHERE state IN ('open', 'pending', 'sending', 'failed')"

const struct db_stmt usage_store_stmts[] = {
	{ "ustore_ingest",
	  "SELECT event_id, outcome, reason, taken FROM mkp_usage_ingest_packages($1::text[],"
	  " $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
	  " make_interval(secs => $6::bigint), $7::numeric[])", 7 },
	{ "ustore_close", "SELECT mkp_usage_close_windows()", 0 },
	/*
	 * The claim commits at once (state sending, a lease): another host
	 * skips the rows while the claiming statement runs (SKIP LOCKED) and
	 * by their state afterwards, until the lease runs out.
	 */
	{ "ustore_claim",
	  "SELECT push_id, id, instance_id, pkg_instance_id,"
	  " to_char(window_begin AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " to_char(window_end AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " to_char(record_time AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " value::text, metering_sn, now() > window_end + interval '1 hour', attempts"
	  " FROM mkp_usage_claim($1::integer, make_interval(secs => $2::bigint), $3, $4)", 4 },
	{ "ustore_settle",
	  "SELECT mkp_usage_settle($1::bigint, $2, $3, $4::integer, $5, $6)", 6 },
	{ "ustore_status", USTORE_STATUS_SQL, 0 },
	{ "ustore_more",
	  "SELECT 1 FROM usage_record WHERE state = 'pending' LIMIT 1", 0 },
	{ "ustore_lease_wait",
	  "SELECT ceil(extract(epoch FROM min(lease_until) - now()) * 1000)::bigint"
	  " FROM usage_record WHERE state = 'sending'", 0 },
	{ NULL, NULL, 0 },
};

PGresult *
ustore_ingest(struct db *db, const struct ustore_event *ev, size_t n, long horizon_s,
    const char *thresholds)
{
	struct buf	 arr[5];
	const char	*vals[7];
	char		 horizon[24];
	PGresult	*res;
	size_t		 i;
	int		 k;

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
	res = db_exec(db, "ustore_ingest", 7, vals);
	for (k = 0; k < 5; k++)
		buf_free(&arr[k]);
	return res;
}

int
ustore_close(struct db *db)
{
	PGresult	*res = db_exec(db, "ustore_close", 0, NULL);
	int		 n;

	if (res == NULL)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

PGresult *
ustore_claim(struct db *db, int limit, long lease_s, const char *by, const char *request_id)
{
	char		 lim[16], lease[24];
	const char	*vals[4] = { lim, lease, by, request_id };

	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%ld", lease_s);
	return db_exec(db, "ustore_claim", 4, vals);
}

int
ustore_settle(struct db *db, const char *push_id, const char *outcome, const char *reason,
    long http_status, const char *result_code, const char *excerpt)
{
	char		 st[16];
	const char	*vals[6] = { push_id, outcome, reason, http_status > 0 ? st : NULL,
			    result_code, excerpt };
	PGresult	*res;
	int		 n;

	snprintf(st, sizeof(st), "%ld", http_status);
	res = db_exec(db, "ustore_settle", 6, vals);
	if (res == NULL)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

int
ustore_more(struct db *db)
{
	PGresult	*res = db_exec(db, "ustore_more", 0, NULL);
	int		 n;

	if (res == NULL)
		return -1;
	n = PQntuples(res) > 0;
	PQclear(res);
	return n;
}

int64_t
ustore_lease_wait(struct db *db)
{
	PGresult	*res = db_exec(db, "ustore_lease_wait", 0, NULL);
	int64_t		 ms;

	if (res == NULL)
		return -2;
	if (PQgetisnull(res, 0, 0)) {
		ms = -1;	/* min() of no rows: nothing is being sent */
	} else {
		ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		if (ms < 0)
			ms = 0;	/* a lease already ran out */
	}
	PQclear(res);
	return ms;
}

/* Copies the one row of USTORE_STATUS_SQL into st. */
static void
ustore_status_fill(const PGresult *res, struct usage_status *st)
{
	memset(st, 0, sizeof(*st));
	st->us_pending = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	st->us_sending = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	st->us_at_risk = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	st->us_failed = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	snprintf(st->us_last_push, sizeof(st->us_last_push), "%s", PQgetvalue(res, 0, 4));
	snprintf(st->us_last_outcome, sizeof(st->us_last_outcome), "%s",
	    PQgetvalue(res, 0, 5));
	snprintf(st->us_last_attempt, sizeof(st->us_last_attempt), "%s",
	    PQgetvalue(res, 0, 6));
}

bool
usage_store_status(struct db *db, struct usage_status *st)
{
	PGresult	*res = db_exec(db, "ustore_status", 0, NULL);

	if (res == NULL)
		return false;
	ustore_status_fill(res, st);
	PQclear(res);
	return true;
}

/* A query of the admin functions: its result, or NULL (and cleared) on failure. */
static PGresult *
ustore_admin_exec(PGconn *c, const char *sql, int n, const char *const *vals)
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
	PGresult	*res = ustore_admin_exec(c, USTORE_STATUS_SQL, 0, NULL);

	if (res == NULL)
		return false;
	ustore_status_fill(res, st);
	PQclear(res);
	return true;
}

#define USTORE_RFC3339(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

PGresult *
ustore_admin_hourly(PGconn *c, const char *instance, int limit)
{
	char		 lim[16];
	const char	*vals[2] = { instance, lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return ustore_admin_exec(c,
	    "SELECT instance_id, pkg_instance_id, " USTORE_RFC3339("window_begin") ","
	    " value::text, events, shifted_events, coalesce(record_state, ''),"
	    " coalesce(metering_sn, '') FROM usage_hourly"
	    " WHERE $1::text IS NULL OR instance_id = $1"
	    " ORDER BY window_begin DESC, instance_id, pkg_instance_id LIMIT $2::integer",
	    2, vals);
}

PGresult *
ustore_admin_records(PGconn *c, const char *state, int limit)
{
	char		 lim[16];
	const char	*vals[2] = { state, lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return ustore_admin_exec(c,
	    "SELECT id, instance_id, pkg_instance_id, " USTORE_RFC3339("window_begin") ","
	    " value::text, state, attempts, at_risk, coalesce(fail_reason, last_error, '')"
	    " FROM usage_unpushed"
	    " WHERE state = $1 OR ($1 = 'pending' AND state = 'sending')"
	    " ORDER BY window_begin, id LIMIT $2::integer", 2, vals);
}

PGresult *
ustore_admin_history(PGconn *c, int limit)
{
	char		 lim[16];
	const char	*vals[1] = { lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return ustore_admin_exec(c,
	    "SELECT id, " USTORE_RFC3339("sent_at") ", coalesce(" USTORE_RFC3339("finished_at")
	    ", ''), coalesce(pushed_by, ''), records, outcome, coalesce(http_status::text, ''),"
	    " coalesce(result_code, ''), coalesce(error, ''), coalesce(value::text, '')"
	    " FROM usage_push_history ORDER BY id DESC LIMIT $1::integer", 1, vals);
}

int
ustore_admin_retry(PGconn *c, int64_t id)
{
	char		 ids[24];
	const char	*vals[1] = { ids };
	PGresult	*res;
	int		 n;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	res = ustore_admin_exec(c, "SELECT mkp_usage_retry(nullif($1::bigint, 0))", 1, vals);
	if (res == NULL)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}
