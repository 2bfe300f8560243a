/*
 * audit.c: writes callback_log rows.
 *
 * The row is written after the answer was sent, with one write, to the
 * worker's spool file (its journal, store/spool.h); the journal goes to the
 * store in batches of up to 128 rows, one statement and one commit each
 * (audit_record_batch), when the worker waits idle or, under load (when
 * it never waits), between two requests once the file holds 64 KiB (the slot shows "store", not "busy": request_terminate_timeout is
 * for requests).
 * Auditing adds no latency, and on the request path no statement, no
 * index insertion and no commit. A worker killed keeps its rows in the
 * file (the next worker in its slot, or any other, sends them); a row
 * sent twice (a worker killed between the commit and the file's offset
 * moving) is ignored by its key (call_id, received_at), so every call has
 * its row once. Without
 * a spool_dir the row rides ahead of the next round trip, one statement
 * a row, as before.
 *
 * A batch of the journal commits as the server commits (one flush for up
 * to 128 rows), so a row leaves the file only once it is durable. A row
 * sent on its own (no spool_dir, or a record too big for the journal)
 * commits asynchronously (set_config(..., is_local) inside the
 * statement applies to its own implicit transaction): the audit row does
 * not wait for a WAL flush, which would otherwise double the flushes of a
 * newInstance and be the only one of a queryInstance. The worker keeps
 * such a row until a later commit of its connection that did wait (its
 * twin audit_record_sync, sent by db.c for the last row before the worker
 * waits idle, or every few rows under load) shows it durable; a connection
 * lost before that puts the rows it kept in the spool, to be written again
 * (ON CONFLICT: once). So a crash or a failover loses no audit row of a
 * call that was answered, but for a worker killed with rows in memory.
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"

#include "common/util.h"
#include "store/audit.h"

#define AUDIT_INSERT \
	"INSERT INTO callback_log (call_id, received_at, remote_addr, dialect, " \
	"activity, instance_id, order_id, order_line_id, result_code, http_status, " \
	"latency_us, is_test, reason, body) " \
	"SELECT $1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10::int, " \
	"$11::bigint, $12::boolean, $13, $14 "

const struct db_stmt audit_stmts[] = {
	{ "audit_record",
	  "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)) "
	  AUDIT_INSERT "FROM async ON CONFLICT (call_id, received_at) DO NOTHING", 14 },
	/*
	 * The same row committed as the server commits (db.h: "_sync"). A
	 * row already there is written again, unchanged: the commit must
	 * write WAL to wait for the flush (and the synchronous standby) that
	 * makes the asynchronous rows sent before it durable.
	 */
	{ "audit_record_sync",
	  AUDIT_INSERT "ON CONFLICT (call_id, received_at) DO UPDATE SET call_id = EXCLUDED.call_id",
	  14 },
	/*
	 * Rows of the journal, many at once (store/db.c: db_replay). It
	 * commits as the server commits: the rows leave the journal once it
	 * has, so they are durable before they leave (one flush a batch).
	 */
	{ "audit_record_batch",
	  "INSERT INTO callback_log (call_id, received_at, remote_addr, dialect, "
	  "activity, instance_id, order_id, order_line_id, result_code, http_status, "
	  "latency_us, is_test, reason, body) "
	  "SELECT r.* FROM unnest($1::text[], $2::timestamptz[], $3::text[], "
	  "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
	  "$10::int[], $11::bigint[], $12::boolean[], $13::text[], $14::text[]) AS r "
	  "ON CONFLICT (call_id, received_at) DO NOTHING", 14 },
	{ NULL, NULL, 0 },
};

const char *
audit_text(const char *s, struct buf *esc)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n, i = 0, k;

	if (s == NULL || utf8_valid(s, (n = strlen(s))))
		return s;
	while (i < n) {
		if ((k = utf8_len(u + i, n - i)) > 0) {
			buf_append(esc, s + i, k);
			i += k;
		} else {
			buf_printf(esc, "\\x%02X", u[i]);
			i++;
		}
	}
	return buf_cstr(esc);
}

void
audit_record(struct db *db, const struct audit *a)
{
	char		 when[25], status[12], lat[24];
	const char	*p[14];
	struct buf	 esc[14];
	int		 i;

	fmt_time_iso(a->received_ms, when);
	snprintf(status, sizeof(status), "%d", a->http_status);
	snprintf(lat, sizeof(lat), "%lld", (long long)a->latency_us);
	p[0] = a->call_id;
	p[1] = when;
	p[2] = a->remote_addr;
	p[3] = a->dialect;
	p[4] = a->activity;
	p[5] = a->instance_id;
	p[6] = a->order_id;
	p[7] = a->order_line_id;
	p[8] = a->result_code;
	p[9] = status;
	p[10] = lat;
	p[11] = a->is_test ? "true" : "false";
	p[12] = a->reason;
	p[13] = a->body;
	for (i = 0; i < 14; i++) {
		buf_init(&esc[i]);
		p[i] = audit_text(p[i], &esc[i]);
	}
	db_journal(db, "audit_record", 14, p, "callback_log row");
	for (i = 0; i < 14; i++)
		buf_free(&esc[i]);
}

/* Its statement is in nonce_stmts, the purge job's set. */
bool
audit_partitions(struct db *db)
{
	return db_run(db, "audit_partitions", 0, NULL);
}
