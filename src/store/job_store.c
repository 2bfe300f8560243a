/*
 * job_store.c: the job queue's statements (see job_store.h).
 *
 * Why the claim looks the way it does: SELECT ... FOR UPDATE SKIP LOCKED
 * picks a due row no other transaction holds, so runners on any number of
 * hosts claim side by side without blocking or taking the same job; the
 * UPDATE stamps the lease and the attempt in the same statement, and
 * commits at once so the lease is what other hosts see. The queued jobs
 * that are due and the running ones whose lease ran out are looked for
 * apart, the first of each (the queued through job_queued_idx in run_at
 * order: one index entry read), and the earlier of the two is taken (the
 * other stays locked until the statement commits). As one query with an OR
 * they were read and sorted whole at every claim: 37 ms a claim with
 * 30 000 jobs due, which made a backlog work itself off slowly.
 * The queued jobs' kinds are asked for as array_position(...) IS NOT NULL,
 * not as kind = ANY (...) (the running ones are few either way): the
 * planner takes the latter as selective, and in a store whose job table
 * has no statistics yet (a new one, a burst of jobs before autovacuum's
 * first ANALYZE) it estimated one matching row and chose to read and sort
 * every queued job instead of the index's first entry (5 ms a claim with
 * 23 000 queued, 20 ms at 20 000 in a fresh database).
 * Both say the same of a kind, which is never NULL.
 * A job whose runner is inside its transaction is row-locked (job_store_lock),
 * so it is skipped even after its lease ran out; only a runner that is
 * gone (its connection closed, its transaction rolled back) loses it.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/job_store.h"

#define JOB_STORE_ENQUEUE_SQL \
	"INSERT INTO job (kind, payload, dedupe_key, run_at, max_attempts) " \
	"VALUES ($1, COALESCE($2::jsonb, '{}'), $3, " \
	"now() + make_interval(secs => $4::double precision / 1000), $5::int) " \
	"ON CONFLICT (kind, dedupe_key) " \
	"WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running') DO NOTHING " \
	"RETURNING id"

const struct db_stmt job_store_enqueue_stmts[] = {
	{ "job_store_enqueue", JOB_STORE_ENQUEUE_SQL, 5 },
	{ NULL, NULL, 0 },
};

const struct db_stmt job_store_stmts[] = {
	{ "job_store_enqueue", JOB_STORE_ENQUEUE_SQL, 5 },
	{ "job_store_claim",
	  "WITH due AS (SELECT id, run_at FROM job "
	  "WHERE state = 'queued' AND run_at <= now() "
	  "AND array_position($3::text[], kind) IS NOT NULL "
	  "ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED), "
	  "lapsed AS (SELECT id, run_at FROM job "
	  "WHERE state = 'running' AND lease_until < now() AND kind = ANY ($3::text[]) "
	  "ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
	  "UPDATE job SET state = 'running', attempts = attempts + 1, locked_by = $2, "
	  "lease_until = now() + make_interval(secs => $1::int), updated_at = now() "
	  "WHERE id = (SELECT id FROM (SELECT id, run_at FROM due "
	  "UNION ALL SELECT id, run_at FROM lapsed) c ORDER BY run_at LIMIT 1) "
	  "RETURNING id, kind, payload::text, attempts, COALESCE(max_attempts, 0)", 3 },
	/* job_store_claim's columns: the CLAIM_ constants below. */
	{ "job_store_extend",
	  "UPDATE job SET lease_until = now() + make_interval(secs => $3::int) "
	  "WHERE id = $1 AND attempts = $2 AND state = 'running'", 3 },
	{ "job_store_lock",
	  "SELECT set_config('mkpd.job_id', id::text, true) FROM job "
	  "WHERE id = $1 AND attempts = $2 AND state = 'running' FOR UPDATE", 2 },
	{ "job_store_done",
	  "UPDATE job SET state = 'done', lease_until = NULL, done_at = now(), "
	  "updated_at = now() WHERE id = $1 AND attempts = $2 AND state = 'running'", 2 },
	{ "job_store_retry",
	  "UPDATE job SET state = 'queued', lease_until = NULL, last_error = $4, "
	  "run_at = now() + make_interval(secs => $3::double precision / 1000), "
	  "updated_at = now() WHERE id = $1 AND attempts = $2 AND state = 'running'", 4 },
	{ "job_store_dead",
	  "UPDATE job SET state = 'dead', lease_until = NULL, last_error = $3, "
	  "done_at = now(), updated_at = now() "
	  "WHERE id = $1 AND attempts = $2 AND state = 'running'", 3 },
	{ NULL, NULL, 0 },
};

bool
job_store_enqueue(struct db *db, const char *kind, const char *payload, const char *dedupe_key,
    int64_t delay_ms, int max_attempts, int64_t *id)
{
	char		 delay[24], max[16];
	const char	*p[5];
	PGresult	*res;

	snprintf(delay, sizeof(delay), "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
	snprintf(max, sizeof(max), "%d", max_attempts);
	p[0] = kind;
	p[1] = payload;
	p[2] = dedupe_key;
	p[3] = delay;
	p[4] = max_attempts > 0 ? max : NULL;
	if ((res = db_exec(db, "job_store_enqueue", 5, p)) == NULL)
		return false;
	if (id != NULL && (PQntuples(res) != 1 ||
	    !parse_i64(PQgetvalue(res, 0, 0), 1, INT64_MAX, id)))
		*id = 0;
	PQclear(res);
	return true;
}

/* The ownership token of every finishing statement: id and attempt. */
static void
job_store_key(const struct job_store_claimed *j, char id[24], char att[16])
{
	snprintf(id, 24, "%lld", (long long)j->id);
	snprintf(att, 16, "%d", j->attempts);
}

enum { CLAIM_ID, CLAIM_KIND, CLAIM_PAYLOAD, CLAIM_ATTEMPTS, CLAIM_MAX_ATTEMPTS };

enum db_found
job_store_claim(struct db *db, const char *kinds, int lease_secs, const char *locked_by,
    struct job_store_claimed *j)
{
	char		 lease[16];
	const char	*p[3];
	PGresult	*res;
	int64_t		 n;

	memset(j, 0, sizeof(*j));
	snprintf(lease, sizeof(lease), "%d", lease_secs);
	p[0] = lease;
	p[1] = locked_by;
	p[2] = kinds;
	if ((res = db_exec(db, "job_store_claim", 3, p)) == NULL)
		return DB_FAILED;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return DB_NONE;
	}
	(void)!parse_i64(PQgetvalue(res, 0, CLAIM_ID), 1, INT64_MAX, &j->id);
	j->kind = xstrdup(PQgetvalue(res, 0, CLAIM_KIND));
	j->payload = xstrdup(PQgetvalue(res, 0, CLAIM_PAYLOAD));
	if (parse_i64(PQgetvalue(res, 0, CLAIM_ATTEMPTS), 0, INT32_MAX, &n))
		j->attempts = (int)n;
	if (parse_i64(PQgetvalue(res, 0, CLAIM_MAX_ATTEMPTS), 0, INT32_MAX, &n))
		j->max_attempts = (int)n;
	PQclear(res);
	return DB_FOUND;
}

void
job_store_claimed_free(struct job_store_claimed *j)
{
	free(j->kind);
	free(j->payload);
	j->kind = j->payload = NULL;
}

bool
job_store_extend(struct db *db, const struct job_store_claimed *j, int lease_secs)
{
	char		 id[24], att[16], lease[16];
	const char	*p[3] = { id, att, lease };

	job_store_key(j, id, att);
	snprintf(lease, sizeof(lease), "%d", lease_secs);
	return db_run(db, "job_store_extend", 3, p);
}

enum db_found
job_store_lock(struct db *db, const struct job_store_claimed *j)
{
	char		 id[24], att[16];
	const char	*p[2] = { id, att };
	PGresult	*res;
	bool		 ours;

	job_store_key(j, id, att);
	if ((res = db_exec(db, "job_store_lock", 2, p)) == NULL)
		return DB_FAILED;
	ours = PQntuples(res) == 1;
	PQclear(res);
	return ours ? DB_FOUND : DB_NONE;
}

int
job_store_notify_fd(struct db *db)
{
	PGconn	*c = db_conn(db);

	return c != NULL ? PQsocket(c) : -1;
}

bool
job_store_notify_drain(struct db *db)
{
	PGconn		*c = db_conn(db);
	PGnotify	*n;
	bool		 got = false;

	if (c == NULL)
		return false;
	if (PQconsumeInput(c) != 1)
		return true;	/* broken: the next claim finds out and reconnects */
	while ((n = PQnotifies(c)) != NULL) {
		got = true;
		PQfreemem(n);
	}
	return got;
}

bool
job_store_mark_done(struct db *db, const struct job_store_claimed *j)
{
	char		 id[24], att[16];
	const char	*p[2] = { id, att };

	job_store_key(j, id, att);
	return db_run(db, "job_store_done", 2, p);
}

bool
job_store_mark_retry(struct db *db, const struct job_store_claimed *j, int64_t delay_ms, const char *reason)
{
	char		 id[24], att[16], delay[24];
	const char	*p[4] = { id, att, delay, reason };

	job_store_key(j, id, att);
	snprintf(delay, sizeof(delay), "%lld", (long long)delay_ms);
	return db_run(db, "job_store_retry", 4, p);
}

bool
job_store_mark_dead(struct db *db, const struct job_store_claimed *j, const char *reason)
{
	char		 id[24], att[16];
	const char	*p[3] = { id, att, reason };

	job_store_key(j, id, att);
	return db_run(db, "job_store_dead", 3, p);
}

PGresult *
job_store_admin_list(PGconn *c, const char *state, int limit)
{
	char		 lim[16];
	const char	*p[2];
	PGresult	*res;

	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = state;
	p[1] = lim;
	res = PQexecParams(c,
	    "SELECT id, kind, state, attempts, COALESCE(max_attempts::text, ''), "
	    "to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "COALESCE(last_error, ''), COALESCE(locked_by, '') "
	    "FROM job WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT $2::int",
	    2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

enum job_store_requeue
job_store_admin_requeue(PGconn *c, int64_t id, char *state, size_t statesz, char *err, size_t errlen)
{
	char		 ids[24];
	const char	*p[1] = { ids };
	const char	*st;
	PGresult	*res;
	enum job_store_requeue rc;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	state[0] = err[0] = '\0';
	/*
	 * One statement: the row is locked while its state is read, so a job
	 * cannot turn dead or stop being dead between the check and the update.
	 */
	res = PQexecParams(c,
	    "WITH t AS (SELECT id, state FROM job WHERE id = $1::bigint FOR UPDATE), "
	    "u AS (UPDATE job SET state = 'queued', attempts = 0, run_at = now(), "
	    "lease_until = NULL, done_at = NULL, updated_at = now() "
	    "FROM t WHERE job.id = t.id AND t.state = 'dead' RETURNING job.id) "
	    "SELECT t.state, (SELECT count(*) FROM u) FROM t",
	    1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		rc = st != NULL && strcmp(st, "23505") == 0 ? JOB_STORE_DUPLICATE : JOB_STORE_REQUEUE_FAILED;
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		PQclear(res);
		return rc;
	}
	if (PQntuples(res) == 0)
		rc = JOB_STORE_NOT_FOUND;
	else if (strcmp(PQgetvalue(res, 0, 1), "1") == 0)
		rc = JOB_STORE_REQUEUED;
	else
		rc = JOB_STORE_NOT_DEAD;
	if (PQntuples(res) > 0)
		snprintf(state, statesz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}
