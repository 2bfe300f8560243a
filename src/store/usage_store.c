/*
 * usage_store.c: prepared statements for metered usage.
 *
 * A batch of events travels as five text arrays to one call of
 * mkp_usage_ingest_batch(): one round trip for up to 10 000 events rather
 * than one per event, and a single statement is one transaction.
 */
#include <stdio.h>

#include "common/buf.h"
#include "store/usage_store.h"

const struct db_stmt usage_store_stmts[] = {
	{ "ustore_ingest",
	  "SELECT event_id, outcome, reason FROM mkp_usage_ingest_batch($1::text[],"
	  " $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
	  " make_interval(secs => $6::bigint))", 6 },
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
