/*
 * usage_store.c: prepared statements for metered usage.
 *
 * A batch of events travels as five text arrays to one call of
 * mkp_usage_ingest_batch(): one round trip for up to 10 000 events rather
 * than one per event, and a single statement is one transaction.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "store/usage_store.h"

const struct db_stmt usage_store_stmts[] = {
	{ "ustore_ingest",
	  "SELECT event_id, outcome, reason FROM mkp_usage_ingest_batch($1::text[],"
	  " $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
	  " make_interval(secs => $6::bigint))", 6 },
	{ "ustore_close", "SELECT mkp_usage_close_windows()", 0 },
	/*
	 * The row locks are the claim: another host's push skips these rows
	 * until this job's transaction ends, and finds them delivered then.
	 */
	{ "ustore_claim",
	  "SELECT id, instance_id, pkg_instance_id,"
	  " to_char(window_begin AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " to_char(window_end AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " to_char(record_time AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
	  " value::text, metering_sn, now() > window_end + interval '1 hour'"
	  " FROM usage_record WHERE state = 'pending'"
	  " ORDER BY window_begin, id LIMIT $1::integer FOR UPDATE SKIP LOCKED", 1 },
	{ "ustore_log_push",
	  "INSERT INTO usage_push (records, request_id, http_status, result_code, body_excerpt)"
	  " VALUES ($1::integer, $2, $3::integer, $4, $5) RETURNING id", 5 },
	{ "ustore_mark",
	  "UPDATE usage_record SET state = $2, fail_reason = $3, attempts = attempts + 1,"
	  " last_push_id = $4::bigint, updated_at = now() WHERE id = ANY ($1::bigint[])", 4 },
	{ "ustore_more",
	  "SELECT 1 FROM usage_record WHERE state = 'pending' LIMIT 1", 0 },
	{ NULL, NULL, 0 },
};

/* Appends s to an array literal under construction: quoted, or NULL. */
static void
ustore_array_item(struct buf *b, const char *s, bool first)
{
	if (!first)
		buf_putc(b, ',');
	if (s == NULL) {
		buf_puts(b, "NULL");
		return;
	}
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

PGresult *
ustore_ingest(struct db *db, const struct ustore_event *ev, size_t n, long horizon_s)
{
	struct buf	 arr[5];
	const char	*vals[6];
	char		 horizon[24];
	PGresult	*res;
	size_t		 i;
	int		 k;

	for (k = 0; k < 5; k++) {
		buf_init(&arr[k]);
		buf_putc(&arr[k], '{');
	}
	for (i = 0; i < n; i++) {
		ustore_array_item(&arr[0], ev[i].id, i == 0);
		ustore_array_item(&arr[1], ev[i].instance_id, i == 0);
		ustore_array_item(&arr[2], ev[i].pkg_instance_id, i == 0);
		ustore_array_item(&arr[3], ev[i].value, i == 0);
		ustore_array_item(&arr[4], ev[i].time, i == 0);
	}
	for (k = 0; k < 5; k++) {
		buf_putc(&arr[k], '}');
		vals[k] = buf_cstr(&arr[k]);
	}
	snprintf(horizon, sizeof(horizon), "%ld", horizon_s);
	vals[5] = horizon;
	res = db_exec(db, "ustore_ingest", 6, vals);
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
ustore_claim(struct db *db, int limit)
{
	char		 lim[16];
	const char	*vals[1] = { lim };

	snprintf(lim, sizeof(lim), "%d", limit);
	return db_exec(db, "ustore_claim", 1, vals);
}

bool
ustore_log_push(struct db *db, int records, const char *request_id, long http_status,
    const char *result_code, const char *excerpt, char push_id[24])
{
	char		 n[16], st[16];
	const char	*vals[5] = { n, request_id, http_status > 0 ? st : NULL, result_code,
			    excerpt };
	PGresult	*res;

	snprintf(n, sizeof(n), "%d", records);
	snprintf(st, sizeof(st), "%ld", http_status);
	res = db_exec(db, "ustore_log_push", 5, vals);
	if (res == NULL)
		return false;
	snprintf(push_id, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

bool
ustore_mark(struct db *db, const char *ids, const char *state, const char *reason,
    const char *push_id)
{
	const char	*vals[4] = { ids, state, reason, push_id };

	return db_run(db, "ustore_mark", 4, vals);
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
