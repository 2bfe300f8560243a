/*
 * db.c: the per-process PostgreSQL connection and its prepared statements.
 *
 * State: conn is NULL or a connection on which every registered statement
 * has been prepared, but for those in unprepared (see db_prepare_set);
 * in_tx is true between a successful BEGIN and the COMMIT/ROLLBACK. A
 * connection found dead is dropped (conn = NULL) so the next db_ensure()
 * starts afresh.
 *
 * Every wait on the server goes through db_wait(): the connection is in
 * non-blocking mode, so sending never blocks and a result is read only once
 * PQisBusy() says it is complete; until then we poll() the socket with the
 * round trip's deadline. Only the connect itself blocks, bounded by libpq's
 * connect_timeout per host of the dsn.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"
#include "store/spool.h"

#define DB_MAX_PARAMS	16
#define DB_RETRY_MS	1000	/* after a failed connect or a round trip timed out */
#define DB_RESPONSE_GRACE_MS 1000	/* statement_timeout + this: the default bound */
#define DB_MAX_DEFERRED	16
#define DB_REPLAY_BATCHES 64	/* of DB_MAX_DEFERRED, per db_flush */
#define DB_ADOPT_MS	10000	/* between looks for spool files left behind */
#define DB_JOURNAL_FLUSH (64 << 10)	/* journal bytes that make a batch worth sending */
#define DB_BATCH_ROWS	128	/* records of one statement sent as one NAME_batch */
/*
 * Spool bytes one replay round trip carries at most (a batch is cut there
 * too). libpq grows its output buffer to the largest round trip and keeps
 * it for the connection's life, and the round trip's statements are all
 * in memory at once: 16 batches of 1 MiB made a worker keep 15 MB more
 * after replaying a journal of Kit calls (doc/performance.md, worker RSS).
 */
#define DB_TRIP_BYTES	(512 << 10)
#define DB_MAX_UNCONFIRMED (2 * DB_MAX_DEFERRED)
#define DB_SYNC_SUFFIX	"_sync"	/* the synchronous twin of a statement (db.h) */
#define DB_MAX_UNPREPARED 8	/* statements a connect may leave for their first use */
#define DB_PREPARE_LOCK_MS "200"	/* lock_timeout while a connect prepares */

/* A statement kept for a later round trip, with copies of its values. */
struct db_call {
	const char	*name;
	const char	*what;
	const char	*sync;		/* its synchronous twin, NULL: none */
	int		 n;
	char		*vals[DB_MAX_PARAMS];
};

struct db {
	char			 *dsn;
	struct db_params	  p;
	int64_t			  bound;		/* ms per round trip, 0 = none */
	bool			  wait_failed;		/* the last db_wait gave up */
	bool			  timed_out;		/* ... because of the bound */
	bool			  timeout_logged;	/* once per outage */
	const char		 *app_name;
	const struct db_stmt *const *sets;
	PGconn			 *conn;
	bool			  in_tx;
	char			  sqlstate[6];
	char			  errmsg[256];		/* primary message of the last failure */
	uint64_t		  connects;		/* successful connects so far */
	int64_t			  last_connect_log;	/* mono ms, for rate-limiting */
	int64_t			  retry_after;		/* mono ms: no new connect before */
	struct db_call		  prelude;
	enum db_prelude_state	  prelude_state;
	char			  prelude_sqlstate[6];
	struct db_call		  deferred[DB_MAX_DEFERRED];
	int			  ndeferred;
	struct spool		 *spool;		/* NULL: none */
	bool			  spool_logged;		/* this outage's line was written */
	bool			  drop_logged;		/* ... and its "dropped" line */
	uint64_t		  spooled;		/* statements spooled this outage */
	uint64_t		  dropped;		/* ... and lost */
	uint64_t		  replayed;		/* written from the spool since */
	int64_t			  adopt_after;		/* mono ms: next look for orphans */
	const char		 *journal_what;		/* what db_journal writes, for the log */
	uint32_t		  deferred_failed;	/* bit i: deferred[i] failed, last pipeline */
	uint32_t		  deferred_refused;	/* ... for its content (SQLSTATE 22, 23) */
	/* Committed asynchronously on this connection, not yet shown durable. */
	struct db_call		  unconfirmed[DB_MAX_UNCONFIRMED];
	int			  nunconfirmed;
	const char		 *sync_of;		/* the last db_sync_twin lookup */
	const char		 *sync_is;
	bool			  closing;		/* db_free: confirm what is kept */
	/* Statements this connection could not prepare at connect (db_ready). */
	const struct db_stmt	 *unprepared[DB_MAX_UNPREPARED];
	int			  nunprepared;
};

static void	db_spill(struct db *, bool outage);
static void	db_spill_calls(struct db *, struct db_call *, int *, bool outage);

static const struct db_stmt db_tx_stmts[] = {
	{ "db_begin", "BEGIN", 0 },
	{ "db_commit", "COMMIT", 0 },
	{ "db_rollback", "ROLLBACK", 0 },
	{ NULL, NULL, 0 },
};

void
db_params_from_config(const struct config *cfg, struct db_params *p)
{
	p->connect_timeout = cfg->connect_timeout;
	p->keepalives_idle = cfg->keepalives_idle;
	p->keepalives_interval = cfg->keepalives_interval;
	p->keepalives_count = cfg->keepalives_count;
	p->tcp_user_timeout = cfg->tcp_user_timeout;
	p->statement_timeout = cfg->statement_timeout;
	p->response_timeout = cfg->response_timeout;
}

int64_t
db_params_bound(const struct db_params *p)
{
	if (p->response_timeout > 0)
		return p->response_timeout;
	return p->statement_timeout > 0 ? p->statement_timeout + DB_RESPONSE_GRACE_MS : 0;
}

/*
 * Our values go before dbname, so what the dsn sets itself wins (libpq
 * applies the keywords in order, the expanded dbname included);
 * application_name goes after it: it is how pg_stat_activity tells mkpd's
 * processes apart.
 */
static PGconn *
db_start(const char *dsn, const struct db_params *p, const char *app_name)
{
	char		 ct[24], ki[24], kv[24], kc[24], tu[24];
	const char	*keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname",
	    "application_name", NULL };
	const char	*vals[NELEM(keys)];

	snprintf(ct, sizeof(ct), "%lld", (long long)p->connect_timeout);
	snprintf(ki, sizeof(ki), "%lld", (long long)p->keepalives_idle);
	snprintf(kv, sizeof(kv), "%lld", (long long)p->keepalives_interval);
	snprintf(kc, sizeof(kc), "%lld", (long long)p->keepalives_count);
	snprintf(tu, sizeof(tu), "%lld", (long long)p->tcp_user_timeout);
	vals[0] = ct;
	vals[1] = "1";
	vals[2] = ki;
	vals[3] = kv;
	vals[4] = kc;
	vals[5] = tu;
	vals[6] = dsn;
	vals[7] = app_name;
	vals[8] = NULL;
	/* expand_dbname: the dsn may be a conninfo string or a URI. */
	return PQconnectdbParams(keys, vals, 1);
}

void
db_conn_error_lines(const char *msg, void (*emit)(const char *, void *), void *arg)
{
	struct buf	 line = BUF_INIT;
	const char	*p = msg, *nl;
	size_t		 n;

	/*
	 * libpq writes one "connection to server at ... failed: ..." per host
	 * tried, each maybe followed by indented detail lines: a line that
	 * starts a new host starts a new log line; the details join it.
	 */
	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		if (n > 0) {
			bool	 cont = p[0] == '\t' || p[0] == ' ';
			size_t	 skip = 0;

			if (!cont && line.len > 0) {
				emit(buf_cstr(&line), arg);
				buf_reset(&line);
			}
			while (skip < n && (p[skip] == '\t' || p[skip] == ' '))
				skip++;
			if (line.len > 0)
				buf_printf(&line, " ");
			buf_printf(&line, "%.*s", (int)(n - skip), p + skip);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (line.len > 0)
		emit(buf_cstr(&line), arg);
	buf_free(&line);
}

static void
db_log_error_line(const char *line, void *arg)
{
	log_error("db: %s: %s", (const char *)arg, line);
}

/*
 * Session setup of a fresh connection: statement_timeout, UTC, and no JIT.
 * PostgreSQL compiles a statement whose estimated cost passes jit_above_cost
 * (100 000 by default) with LLVM, optimised and inlined past 500 000: the
 * estimates of the usage statements over two years of monthly partitions
 * pass both, and a usage ingest of 10 000 events then spent 2.4 s
 * compiling for 0.3 s of work (doc/performance.md). mkpd's statements are
 * short; none gains from JIT.
 */
#define DB_SETUP_SQL \
    "SELECT set_config('statement_timeout', $1, false), " \
    "set_config('TimeZone', 'UTC', false), set_config('jit', 'off', false)"
/*
 * A connect prepares its statements with a short lock_timeout (a statement
 * whose tables somebody holds locked is left for its first use, see
 * db_prepare_set), then puts back the session's own.
 */
#define DB_CONNECT_SQL DB_SETUP_SQL ", set_config('lock_timeout', '" DB_PREPARE_LOCK_MS "', false)"
#define DB_CONNECT_DONE_SQL "RESET lock_timeout"

PGconn *
db_connect_plain(const char *dsn, const struct db_params *p, const char *app_name)
{
	PGconn		*c = db_start(dsn, p, app_name);
	char		 st[24];
	const char	*params[1] = { st };
	PGresult	*res;

	if (PQstatus(c) != CONNECTION_OK)
		return c;
	snprintf(st, sizeof(st), "%lld", (long long)p->statement_timeout);
	res = PQexecParams(c, DB_SETUP_SQL, 1, NULL, params, NULL, NULL, 0);
	PQclear(res);
	return c;
}

struct db *
db_new(const char *dsn, const struct db_params *p, const char *app_name,
    const struct db_stmt *const *sets)
{
	struct db	*db = xcalloc(1, sizeof(*db));

	db->dsn = xstrdup(dsn);
	db->p = *p;
	db->bound = db_params_bound(p);
	db->app_name = app_name;
	db->sets = sets;
	return db;
}

/*
 * The connection goes: the statements it committed asynchronously and no
 * later commit showed durable may be lost with the server (a crash, a
 * failover): they go to the spool, to be written again.
 */
static void
db_drop(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->in_tx = false;
	db->nunprepared = 0;
	if (db->nunconfirmed > 0)
		db_spill_calls(db, db->unconfirmed, &db->nunconfirmed, true);
}

static void
call_set(struct db_call *c, const char *name, int n, const char *const *vals,
    const char *what)
{
	int	i;

	if (n > DB_MAX_PARAMS)
		fatalx("db: %s takes %d parameters, more than %d", name, n, DB_MAX_PARAMS);
	c->name = name;
	c->what = what;
	c->sync = NULL;
	c->n = n;
	for (i = 0; i < n; i++)
		c->vals[i] = vals[i] != NULL ? xstrdup(vals[i]) : NULL;
}

static void
call_clear(struct db_call *c)
{
	int	i;

	for (i = 0; i < c->n; i++)
		free(c->vals[i]);
	c->n = 0;
	c->name = NULL;
}

void
db_free(struct db *db)
{
	int	i;

	if (db == NULL)
		return;
	db->closing = true;
	if (db->ndeferred > 0 || db->nunconfirmed > 0 || db_spool_bytes(db) > 0)
		db_flush(db);
	if (db->ndeferred > 0)
		db_spill(db, true);
	for (i = 0; i < db->ndeferred; i++)
		call_clear(&db->deferred[i]);
	call_clear(&db->prelude);
	db_drop(db);
	for (i = 0; i < db->nunconfirmed; i++)
		call_clear(&db->unconfirmed[i]);
	spool_free(db->spool);
	free(db->dsn);
	free(db);
}

static bool
res_ok(const PGresult *res)
{
	ExecStatusType	st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static void
db_set_state(struct db *db, const PGresult *res)
{
	const char	*st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	const char	*msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (st == NULL || strlen(st) != 5)
		st = (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) ? "08000" : "XX000";
	memcpy(db->sqlstate, st, 6);
	if (msg == NULL)
		msg = strcmp(db->sqlstate, "08000") == 0 ? "connection lost" : "statement failed";
	/* Truncation is fine: the message is for people. */
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
}

/*
 * Waits until a result can be read without blocking, at most the round
 * trip's bound. False when the connection broke or the bound passed
 * (wait_failed, timed_out): the caller drops the connection.
 */
static bool
db_wait(struct db *db)
{
	PGconn		*c = db->conn;
	struct pollfd	 pfd;
	int64_t		 deadline = db->bound > 0 ? mono_ms() + db->bound : 0, left;
	int		 f, n;

	db->wait_failed = db->timed_out = false;
	for (;;) {
		if ((f = PQflush(c)) < 0)
			break;
		if (PQconsumeInput(c) != 1)
			break;
		if (f == 0 && !PQisBusy(c))
			return true;
		left = -1;
		if (deadline != 0 && (left = deadline - mono_ms()) <= 0) {
			db->timed_out = true;
			break;
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN | (f == 1 ? POLLOUT : 0);
		pfd.revents = 0;
		n = poll(&pfd, 1, left < 0 ? -1 : (int)(left > INT32_MAX ? INT32_MAX : left));
		if (n < 0 && errno != EINTR)
			break;
	}
	db->wait_failed = true;
	if (db->timed_out) {
		if (!db->timeout_logged)
			log_error("db: no answer from the server in %lld ms: giving the "
			    "connection up", (long long)db->bound);
		db->timeout_logged = true;
		/* Do not knock again at once: the calls behind us answer 000005 now. */
		db->retry_after = mono_ms() + DB_RETRY_MS;
	}
	return false;
}

/* The next result, waited for within the bound; NULL at the end or on failure. */
static PGresult *
db_result(struct db *db)
{
	if (!db_wait(db))
		return NULL;
	return PQgetResult(db->conn);
}

/*
 * The outcome of the query just sent, as PQexec gives it: the last result
 * (an error one wins). NULL when the wait failed (wait_failed set).
 */
static PGresult *
db_collect(struct db *db)
{
	PGresult	*res, *out = NULL;

	while ((res = db_result(db)) != NULL) {
		if (out != NULL && !res_ok(out)) {
			/* The first error is the outcome. */
			PQclear(res);
			continue;
		}
		PQclear(out);
		out = res;
	}
	if (db->wait_failed) {
		PQclear(out);
		return NULL;
	}
	return out;
}

/* The connection was given up in a wait: record why. */
static void
db_wait_lost(struct db *db)
{
	/* First: what db_drop puts in the spool is logged with the reason. */
	memcpy(db->sqlstate, "08000", 6);
	snprintf(db->errmsg, sizeof(db->errmsg), "%s",
	    db->timed_out ? "no answer from the store in time" : "connection lost");
	db_drop(db);
}

enum db_prepared { DB_PREPARED, DB_REFUSED, DB_LOST };

/* Prepares one statement: DB_REFUSED (state set) or DB_LOST (dropped) when not. */
static enum db_prepared
db_prepare_one(struct db *db, const struct db_stmt *s)
{
	PGresult	*res;

	if (PQsendPrepare(db->conn, s->name, s->sql, s->nparams, NULL) != 1 ||
	    (res = db_collect(db)) == NULL) {
		log_error("db: preparing %s: %s", s->name, db->timed_out ?
		    "no answer in time" : PQerrorMessage(db->conn));
		db_wait_lost(db);
		return DB_LOST;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_set_state(db, res);
		PQclear(res);
		return PQstatus(db->conn) == CONNECTION_OK ? DB_REFUSED : DB_LOST;
	}
	PQclear(res);
	return DB_PREPARED;
}

/*
 * Prepares a set of statements on a new connection. With tolerate, one the
 * server refuses (a table locked by somebody's ALTER TABLE or LOCK TABLE:
 * parsing a statement takes its tables' locks) is left for its first use,
 * up to DB_MAX_UNPREPARED of them: a lock on the nonce table then fails the
 * purge job that deletes from it, not every job of the jobs child, which
 * could not connect at all while it lasted.
 */
static bool
db_prepare_set(struct db *db, const struct db_stmt *s, bool tolerate)
{
	for (; s->name != NULL; s++) {
		switch (db_prepare_one(db, s)) {
		case DB_PREPARED:
			continue;
		case DB_LOST:
			return false;
		case DB_REFUSED:
			break;
		}
		if (!tolerate || db->nunprepared == DB_MAX_UNPREPARED) {
			log_error("db: preparing %s: %s", s->name, db->errmsg);
			return false;
		}
		log_warn("db: preparing %s: %s (SQLSTATE %s); it is prepared when first used",
		    s->name, db->errmsg, db->sqlstate);
		db->unprepared[db->nunprepared++] = s;
	}
	return true;
}

/*
 * Prepares name now when the connect could not (db_prepare_set); false when
 * it still cannot, with the state set (and the connection dropped if lost).
 */
static bool
db_ready(struct db *db, const char *name)
{
	int	i;

	for (i = 0; i < db->nunprepared; i++)
		if (strcmp(db->unprepared[i]->name, name) == 0)
			break;
	if (i == db->nunprepared)
		return true;
	if (db_prepare_one(db, db->unprepared[i]) != DB_PREPARED) {
		if (db->conn != NULL)
			log_error("db: preparing %s: %s", name, db->errmsg);
		return false;
	}
	db->unprepared[i] = db->unprepared[--db->nunprepared];
	return true;
}

/* The end of a connect's set-up (DB_CONNECT_DONE_SQL). */
static bool
db_setup_done(struct db *db)
{
	PGresult	*res;
	bool		 ok;

	if (PQsendQuery(db->conn, DB_CONNECT_DONE_SQL) != 1 || (res = db_collect(db)) == NULL) {
		log_error("db: session setup: %s", db->timed_out ? "no answer in time" :
		    PQerrorMessage(db->conn));
		db_wait_lost(db);
		return false;
	}
	if (!(ok = PQresultStatus(res) == PGRES_COMMAND_OK)) {
		log_error("db: session setup: %s", PQresultErrorMessage(res));
		db_set_state(db, res);
	}
	PQclear(res);
	return ok;
}

static bool
db_connect(struct db *db)
{
	const struct db_stmt *const *set;
	struct buf	 q = BUF_INIT;
	const char	*params[1];
	PGresult	*res;
	int64_t		 now = mono_ms();

	db->conn = db_start(db->dsn, &db->p, db->app_name);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		if (now - db->last_connect_log >= 5000 || db->last_connect_log == 0) {
			db_conn_error_lines(PQerrorMessage(db->conn), db_log_error_line,
			    (void *)"cannot connect");
			db->last_connect_log = mono_ms();
		}
		memcpy(db->sqlstate, "08001", 6);
		snprintf(db->errmsg, sizeof(db->errmsg), "cannot connect");
		db_drop(db);
		db->retry_after = mono_ms() + DB_RETRY_MS;
		return false;
	}
	if (PQsetnonblocking(db->conn, 1) != 0) {
		log_error("db: cannot make the connection non-blocking: %s",
		    PQerrorMessage(db->conn));
		db_drop(db);
		return false;
	}
	/* set_config, not SET: the value goes in as a parameter. */
	buf_printf(&q, "%lld", (long long)db->p.statement_timeout);
	params[0] = buf_cstr(&q);
	if (PQsendQueryParams(db->conn, DB_CONNECT_SQL, 1, NULL, params, NULL, NULL, 0) != 1 ||
	    (res = db_collect(db)) == NULL) {
		buf_free(&q);
		log_error("db: session setup: %s", db->timed_out ? "no answer in time" :
		    PQerrorMessage(db->conn));
		db_wait_lost(db);
		return false;
	}
	buf_free(&q);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("db: session setup: %s", PQresultErrorMessage(res));
		db_set_state(db, res);
		PQclear(res);
		db_drop(db);
		return false;
	}
	PQclear(res);
	if (!db_prepare_set(db, db_tx_stmts, false))
		goto fail;
	for (set = db->sets; set != NULL && *set != NULL; set++)
		if (!db_prepare_set(db, *set, true))
			goto fail;
	if (!db_setup_done(db))
		goto fail;
	db->connects++;
	if (db->last_connect_log != 0 || db->timeout_logged)
		log_notice("db: connected again");
	db->last_connect_log = 0;
	db->timeout_logged = false;
	return true;
fail:
	db_drop(db);
	return false;
}

bool
db_ensure(struct db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	db_drop(db);
	/*
	 * A store that just refused us (or never answered) is not asked again
	 * for DB_RETRY_MS: calls meanwhile answer 000005 at once instead of
	 * each waiting out a connect timeout while the marketplace waits.
	 */
	if (mono_ms() < db->retry_after) {
		memcpy(db->sqlstate, "08001", 6);
		snprintf(db->errmsg, sizeof(db->errmsg), "cannot connect");
		return false;
	}
	return db_connect(db);
}

/* Records the failure of res (NULL: the connection) in sqlstate. */
static void
db_failed(struct db *db, const char *name, PGresult *res)
{
	if (res == NULL && db->wait_failed) {
		db_wait_lost(db);
		return;
	}
	db_set_state(db, res);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		memcpy(db->sqlstate, "08000", 6);
		snprintf(db->errmsg, sizeof(db->errmsg), "connection lost");
	}
	if (strncmp(db->sqlstate, "23", 2) != 0 && strcmp(db->sqlstate, "08000") != 0 &&
	    strcmp(db->sqlstate, DB_SQLSTATE_REPLAY) != 0)
		log_error("db: %s: %s", name, res != NULL ? PQresultErrorMessage(res) : "no result");
}

/* One attempt without pipelining; NULL on failure with sqlstate set. */
static PGresult *
db_try_plain(struct db *db, const char *name, int n, const char *const *values)
{
	PGresult	*res;

	db->wait_failed = false;
	if (db->nunprepared > 0 && !db_ready(db, name))
		return NULL;
	if (PQsendQueryPrepared(db->conn, name, n, values, NULL, NULL, 0) != 1) {
		db_wait_lost(db);
		return NULL;
	}
	res = db_collect(db);
	if (res == NULL) {
		db_failed(db, name, NULL);
		return NULL;
	}
	if (res_ok(res)) {
		db->sqlstate[0] = '\0';
		return res;
	}
	db_failed(db, name, res);
	PQclear(res);
	return NULL;
}

/* The next result of a pipeline, skipping the NULL that ends each query's. */
static PGresult *
pipe_next(struct db *db)
{
	PGresult	*res = db_result(db);

	if (res == NULL && !db->wait_failed)
		res = db_result(db);
	return res;
}

/* Reads one query's result and the NULL after it. */
static PGresult *
pipe_query_result(struct db *db)
{
	PGresult	*res = pipe_next(db), *extra;

	if (res == NULL)
		return NULL;
	while ((extra = db_result(db)) != NULL)
		PQclear(extra);
	if (db->wait_failed) {
		PQclear(res);
		return NULL;
	}
	return res;
}

static bool
pipe_sync(struct db *db)
{
	PGresult	*res = pipe_next(db);
	bool		 ok = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;

	PQclear(res);
	return ok;
}

static bool
pipe_send(PGconn *c, const struct db_call *call)
{
	return PQsendQueryPrepared(c, call->name, call->n, (const char *const *)call->vals,
	    NULL, NULL, 0) == 1;
}

/*
 * The deferred statements have run: those committed asynchronously wait
 * in unconfirmed for a commit that shows them durable (confirmed: this
 * round trip's), the others are done with. ok[i]: deferred[i] succeeded.
 */
static void
db_deferred_done(struct db *db, const bool *ok, bool confirmed)
{
	int	i;

	if (confirmed)
		for (; db->nunconfirmed > 0; db->nunconfirmed--)
			call_clear(&db->unconfirmed[db->nunconfirmed - 1]);
	for (i = 0; i < db->ndeferred; i++) {
		if (confirmed || db->deferred[i].sync == NULL || !ok[i]) {
			call_clear(&db->deferred[i]);
			continue;
		}
		/* Kept for good in the spool when the twin keeps failing. */
		if (db->nunconfirmed == DB_MAX_UNCONFIRMED)
			db_spill_calls(db, db->unconfirmed, &db->nunconfirmed, false);
		db->unconfirmed[db->nunconfirmed++] = db->deferred[i];
		db->deferred[i].n = 0;
		db->deferred[i].name = NULL;
	}
	db->ndeferred = 0;
}

/*
 * Prepares what the pipeline is about to send and the connect could not
 * (db_ready). One the server still refuses is sent all the same: it fails
 * in the pipeline as a statement that does not exist, after the line that
 * says why. False when the connection was lost.
 */
static bool
db_pipeline_ready(struct db *db, const char *name, bool prelude, int confirm)
{
	int	i;

	for (i = 0; i < db->ndeferred && db->conn != NULL; i++)
		(void)db_ready(db, i == confirm ? db->deferred[i].sync : db->deferred[i].name);
	if (prelude && db->conn != NULL)
		(void)db_ready(db, db->prelude.name);
	if (name != NULL && db->conn != NULL)
		(void)db_ready(db, name);
	return db->conn != NULL;
}

/*
 * One round trip in pipeline mode: the deferred statements, each followed
 * by a sync (its own transaction), then (when name is set) the prelude and
 * the statement, then a sync. Returns the statement's result as db_try
 * does. On a lost connection everything stays queued for the retry.
 *
 * Of the deferred statements that commit asynchronously, the last one is
 * sent as its synchronous twin once DB_MAX_DEFERRED of them wait for it
 * (half as many when the round trip is the worker's own: it is about to
 * wait idle, or replays the spool; any at db_free): its commit waits for
 * the flush (and the synchronous standby), which covers every commit
 * before it. Until then they are kept (unconfirmed): a connection lost
 * meanwhile puts them in the spool (db_drop). So a commit's wait is paid
 * once per DB_MAX_DEFERRED / 2 calls, mostly while the worker is idle.
 */
static PGresult *
db_try_pipeline(struct db *db, const char *name, int n, const char *const *values)
{
	PGconn		*c = db->conn;
	struct db_call	 stmt;
	PGresult	*res, *out = NULL;
	bool		 prelude = name != NULL && db->prelude_state == DB_PRELUDE_PENDING;
	bool		 broken = false, confirmed = false, ok[DB_MAX_DEFERRED];
	int		 i, confirm = -1, nasync = 0;

	if (n > DB_MAX_PARAMS)
		fatalx("db: %s takes %d parameters, more than %d", name, n, DB_MAX_PARAMS);
	stmt.name = name;
	stmt.n = n;
	if (n > 0)
		memcpy(stmt.vals, values, (size_t)n * sizeof(*values));
	db->deferred_failed = db->deferred_refused = 0;
	for (i = 0; i < db->ndeferred; i++)
		if (db->deferred[i].sync != NULL) {
			confirm = i;
			nasync++;
		}
	if (db->nunconfirmed + nasync < (name != NULL ? DB_MAX_DEFERRED :
	    db->closing ? 1 : DB_MAX_DEFERRED / 2))
		confirm = -1;
	if (db->nunprepared > 0 && !db_pipeline_ready(db, name, prelude, confirm))
		return NULL;	/* lost: everything stays queued */
	if (PQenterPipelineMode(c) != 1)
		goto lost;
	for (i = 0; i < db->ndeferred; i++) {
		struct db_call	 d = db->deferred[i];

		if (i == confirm)
			d.name = d.sync;
		if (!pipe_send(c, &d) || PQpipelineSync(c) != 1)
			goto lost;
	}
	if (name != NULL) {
		if ((prelude && !pipe_send(c, &db->prelude)) || !pipe_send(c, &stmt) ||
		    PQpipelineSync(c) != 1)
			goto lost;
	}

	for (i = 0; i < db->ndeferred; i++) {
		res = pipe_query_result(db);
		ok[i] = res != NULL && res_ok(res);
		if (res == NULL)
			broken = true;
		else if (!ok[i]) {
			log_error("db: %s: %s", db->deferred[i].what, PQresultErrorMessage(res));
			db->deferred_failed |= 1u << i;
			if (db_state_is_content(PQresultErrorField(res, PG_DIAG_SQLSTATE)))
				db->deferred_refused |= 1u << i;
		} else if (i == confirm)
			confirmed = true;
		PQclear(res);
		if (broken || !pipe_sync(db))
			goto lost;
	}
	if (name != NULL) {
		if (prelude) {
			res = pipe_query_result(db);
			if (res == NULL)
				goto lost;
			if (res_ok(res)) {
				db->prelude_state = DB_PRELUDE_OK;
			} else {
				db_set_state(db, res);
				memcpy(db->prelude_sqlstate, db->sqlstate, 6);
				db->prelude_state = DB_PRELUDE_FAILED;
			}
			PQclear(res);
		}
		out = pipe_query_result(db);
		if (out == NULL || !pipe_sync(db)) {
			PQclear(out);
			goto lost;
		}
		if (res_ok(out)) {
			db->sqlstate[0] = '\0';
		} else {
			if (PQresultStatus(out) == PGRES_PIPELINE_ABORTED)
				memcpy(db->sqlstate, db->prelude_sqlstate, 6);	/* the prelude's failure */
			else
				db_failed(db, name, out);
			PQclear(out);
			out = NULL;
		}
	}
	if (PQexitPipelineMode(c) != 1)
		goto lost;
	db_deferred_done(db, ok, confirmed);
	if (prelude)
		call_clear(&db->prelude);
	return out;
lost:
	/* Whatever happened, this connection's protocol state is unknown. */
	if (prelude)
		db->prelude_state = DB_PRELUDE_PENDING;
	if (!db->timed_out)
		log_warn("db: connection lost in a pipeline (%s)", name != NULL ? name : "deferred");
	db_wait_lost(db);
	return NULL;
}

static PGresult *
db_try(struct db *db, const char *name, int n, const char *const *values)
{
	PGresult	*res;
	int		 nd = db->ndeferred;

	/* Deferred statements never overtake the spool: they wait for db_flush. */
	if (nd > 0 && db_spool_bytes(db) > 0) {
		db->ndeferred = 0;
		res = db->prelude_state == DB_PRELUDE_PENDING ?
		    db_try_pipeline(db, name, n, values) : db_try_plain(db, name, n, values);
		db->ndeferred = nd;
		return res;
	}
	if (nd > 0 || db->prelude_state == DB_PRELUDE_PENDING)
		return db_try_pipeline(db, name, n, values);
	return db_try_plain(db, name, n, values);
}

void
db_prelude(struct db *db, const char *name, int n, const char *const *values)
{
	call_clear(&db->prelude);
	call_set(&db->prelude, name, n, values, name);
	db->prelude_state = DB_PRELUDE_PENDING;
	db->prelude_sqlstate[0] = '\0';
}

enum db_prelude_state
db_prelude_state(const struct db *db)
{
	return db->prelude_state;
}

const char *
db_prelude_sqlstate(const struct db *db)
{
	return db->prelude_sqlstate;
}

void
db_prelude_reset(struct db *db)
{
	call_clear(&db->prelude);
	db->prelude_state = DB_PRELUDE_NONE;
	db->prelude_sqlstate[0] = '\0';
}

/* The registered statement of that name (static storage), NULL if none. */
static const char *
db_stmt_name(const struct db *db, const char *name)
{
	const struct db_stmt *const *set;
	const struct db_stmt *s;

	for (set = db->sets; set != NULL && *set != NULL; set++)
		for (s = *set; s->name != NULL; s++)
			if (strcmp(s->name, name) == 0)
				return s->name;
	return NULL;
}

/* name's synchronous twin (name DB_SYNC_SUFFIX), NULL when it has none. */
static const char *
db_sync_twin(struct db *db, const char *name)
{
	char	 twin[128];

	if (db->sync_of != NULL && strcmp(db->sync_of, name) == 0)
		return db->sync_is;
	snprintf(twin, sizeof(twin), "%s" DB_SYNC_SUFFIX, name);
	db->sync_of = db_stmt_name(db, name);
	db->sync_is = db_stmt_name(db, twin);
	return db->sync_is;
}

void
db_defer(struct db *db, const char *name, int n, const char *const *values, const char *what)
{
	if (db->ndeferred == DB_MAX_DEFERRED) {
		/* Behind a spool the queue goes to it; else to the store if it can. */
		if (db_spool_bytes(db) == 0)
			db_flush(db);
		if (db->ndeferred == DB_MAX_DEFERRED)
			db_spill(db, db_spool_bytes(db) == 0);
	}
	call_set(&db->deferred[db->ndeferred], name, n, values, what);
	db->deferred[db->ndeferred++].sync = db_sync_twin(db, name);
}

void
db_journal(struct db *db, const char *name, int n, const char *const *values,
    const char *what)
{
	struct spool_rec	 r;

	if (db->spool == NULL || n > SPOOL_MAX_PARAMS) {
		db_defer(db, name, n, values, what);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.n = n;
	memcpy(r.vals, values, (size_t)n * sizeof(*values));
	if (spool_write(db->spool, &r, 1) != SPOOL_OK) {
		/* Full or unwritable: the store may still take it, the old way. */
		db_defer(db, name, n, values, what);
		return;
	}
	db->journal_what = what;
}

bool
db_journal_due(struct db *db)
{
	return db->spool != NULL && !db->in_tx && spool_pending(db->spool) >= DB_JOURNAL_FLUSH;
}

/* The store cannot take what the journal holds: said once per outage. */
static void
db_journal_outage(struct db *db)
{
	if (db->spool == NULL || spool_pending(db->spool) == 0)
		return;
	spool_sync(db->spool);	/* it may stay there a while: make it last */
	if (!db->spool_logged)
		log_warn("db: the store cannot take %s now (%s): kept in %s until it can",
		    db->journal_what != NULL ? db->journal_what : "deferred statements",
		    db->errmsg[0] != '\0' ? db->errmsg : "unreachable", spool_path(db->spool));
	db->spool_logged = true;
}

void
db_set_spool(struct db *db, const char *path, int64_t max_bytes)
{
	spool_free(db->spool);
	db->spool = spool_new(path, max_bytes);
	(void)spool_pending(db->spool);	/* open and lock it now, for the worker's life */
}

int64_t
db_spool_bytes(struct db *db)
{
	return db->spool != NULL ? spool_pending(db->spool) : 0;
}

/*
 * Moves the queue to the spool (outage: the store cannot take it now; else
 * only to keep it behind what the spool holds). Without a spool, or with
 * one full or unwritable, the queue is lost: said once per outage.
 */
static void
db_spill(struct db *db, bool outage)
{
	db_spill_calls(db, db->deferred, &db->ndeferred, outage);
}

static void
db_spill_calls(struct db *db, struct db_call *calls, int *ncalls, bool outage)
{
	struct spool_rec	 recs[DB_MAX_UNCONFIRMED];
	enum spool_rc		 rc = SPOOL_ERROR;
	int			 i, n = *ncalls;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		recs[i].name = (char *)calls[i].name;
		recs[i].n = calls[i].n;
		memcpy(recs[i].vals, calls[i].vals, sizeof(recs[i].vals));
	}
	if (db->spool != NULL)
		rc = spool_append(db->spool, recs, n);
	if (rc == SPOOL_OK) {
		db->spooled += (uint64_t)n;
		if (outage && !db->spool_logged)
			log_warn("db: the store cannot take %s now (%s): kept in %s until it can",
			    calls[0].what, db->errmsg[0] != '\0' ? db->errmsg :
			    "unreachable", spool_path(db->spool));
		db->spool_logged = true;
	} else {
		db->dropped += (uint64_t)n;
		if (!db->drop_logged)
			log_error("db: %s dropped: the store is unreachable and %s",
			    calls[0].what, db->spool == NULL ? "no [store] spool_dir is set" :
			    rc == SPOOL_FULL ? "the spool is full (spool_max)" :
			    "the spool cannot be written");
		db->drop_logged = true;
	}
	for (i = 0; i < n; i++)
		call_clear(&calls[i]);
	*ncalls = 0;
}

/* The end of an outage: one line for all of it. */
static void
db_outage_over(struct db *db)
{
	if (db->replayed > 0 || db->dropped > 0)
		log_notice("db: the store takes deferred statements again: %llu written from "
		    "the spool, %llu lost", (unsigned long long)db->replayed,
		    (unsigned long long)db->dropped);
	db->spooled = db->dropped = db->replayed = 0;
	db->spool_logged = db->drop_logged = false;
}

/* The registered NAME_batch of a statement (static storage), NULL if none. */
static const char *
db_batch_name(const struct db *db, const char *name)
{
	char	b[128];

	if ((size_t)snprintf(b, sizeof(b), "%s_batch", name) >= sizeof(b))
		return NULL;
	return db_stmt_name(db, b);
}

/* One element of a PostgreSQL array literal (the "{" is already there). */
static void
array_put(struct buf *a, bool first, const char *v)
{
	size_t	n;

	if (!first)
		buf_putc(a, ',');
	if (v == NULL) {
		buf_puts(a, "NULL");
		return;
	}
	buf_putc(a, '"');
	while (*v != '\0') {
		n = strcspn(v, "\"\\");
		buf_append(a, v, n);
		if (v[n] == '\0')
			break;
		buf_putc(a, '\\');
		buf_putc(a, v[n]);
		v += n + 1;
	}
	buf_putc(a, '"');
}

/* The batch being gathered by db_replay. */
struct db_batch {
	const char	*name;		/* NULL: none open */
	int		 n;		/* parameters */
	int		 rows;
	struct buf	 arr[SPOOL_MAX_PARAMS];
};

static void
batch_add(struct db_batch *b, const char *name, const struct spool_rec *r)
{
	int	i;

	if (b->name == NULL) {
		b->name = name;
		b->n = r->n;
		b->rows = 0;
		for (i = 0; i < r->n; i++) {
			buf_init(&b->arr[i]);
			buf_putc(&b->arr[i], '{');
		}
	}
	for (i = 0; i < r->n; i++)
		array_put(&b->arr[i], b->rows == 0, r->vals[i]);
	b->rows++;
}

/* The batch as one statement of arrays, in c. */
static void
batch_close(struct db_batch *b, struct db_call *c)
{
	int	i;

	c->name = c->what = b->name;
	c->sync = NULL;	/* a batch commits as the server commits (audit.c) */
	c->n = b->n;
	for (i = 0; i < b->n; i++) {
		buf_putc(&b->arr[i], '}');
		c->vals[i] = buf_steal(&b->arr[i]);
	}
	b->name = NULL;
}

/*
 * Sends what the spool holds, oldest first, DB_MAX_DEFERRED statements and
 * DB_TRIP_BYTES a round trip, at most DB_REPLAY_BATCHES round trips (the
 * rest at the next flush). Consecutive records of a statement that has a
 * NAME_batch form (the same parameters, each an array) go as one of those, up to
 * DB_BATCH_ROWS records: one insert of many rows, one commit. A batch the
 * store refuses for its content (SQLSTATE class 22 or 23) is sent again
 * record by record, so one bad record costs itself only (it is logged and
 * skipped); any other failure (a lost connection, a timeout, a lock, a
 * missing grant) leaves the statement and those after it in the file for
 * the next flush. A record sent twice is harmless (they are idempotent).
 */
static void
db_replay(struct db *db, struct spool *sp)
{
	struct spool_rec r;
	struct db_batch	 bt;
	int64_t		 bytes, len, single = 0, from[DB_MAX_DEFERRED], to[DB_MAX_DEFERRED];
	const char	*name, *bname;
	uint64_t	 rows, nrows[DB_MAX_DEFERRED];
	int		 b, n, i;

	memset(&bt, 0, sizeof(bt));
	for (b = 0; b < DB_REPLAY_BATCHES && spool_pending(sp) > 0; b++) {
		rows = 0;
		for (n = 0, bytes = 0; n < DB_MAX_DEFERRED && bytes < DB_TRIP_BYTES &&
		    (len = spool_read(sp, bytes, &r)) > 0; bytes += len) {
			if ((name = db_stmt_name(db, r.name)) == NULL) {
				log_error("db: spool %s: unknown statement %s skipped",
				    spool_path(sp), r.name);
				spool_rec_free(&r);
				continue;
			}
			bname = bytes < single ? NULL : db_batch_name(db, name);
			if (bt.name != NULL && (bname != bt.name || r.n != bt.n ||
			    bt.rows == DB_BATCH_ROWS)) {
				nrows[n] = (uint64_t)bt.rows;
				batch_close(&bt, &db->deferred[n++]);
				if (n == DB_MAX_DEFERRED) {
					spool_rec_free(&r);	/* read again next round */
					break;
				}
			}
			if (bname != NULL) {
				if (bt.name == NULL)
					from[n] = bytes;
				batch_add(&bt, bname, &r);
				to[n] = bytes + len;
				spool_rec_free(&r);
				continue;
			}
			db->deferred[n].name = name;
			db->deferred[n].what = name;
			db->deferred[n].sync = db_sync_twin(db, name);
			db->deferred[n].n = r.n;
			for (i = 0; i < r.n; i++)
				db->deferred[n].vals[i] = r.vals[i];
			r.n = 0;	/* the values are the queue's now */
			spool_rec_free(&r);
			from[n] = bytes;
			to[n] = bytes + len;
			nrows[n++] = 1;
		}
		if (bt.name != NULL) {
			nrows[n] = (uint64_t)bt.rows;
			batch_close(&bt, &db->deferred[n++]);
		}
		if (n > 0)
			bytes = to[n - 1];	/* a record read but not sent stays */
		if (bytes == 0) {
			/* Nothing readable though bytes remain: spool_read said why. */
			spool_done(sp, spool_pending(sp));
			break;
		}
		db->ndeferred = n;
		if (n > 0)
			(void)db_try_pipeline(db, NULL, 0, NULL);
		if (db->ndeferred > 0) {
			/* Lost again: the file still has them. */
			for (i = 0; i < db->ndeferred; i++)
				call_clear(&db->deferred[i]);
			db->ndeferred = 0;
			if (sp == db->spool)
				db_journal_outage(db);
			return;
		}
		for (i = 0; i < n; i++) {
			if ((db->deferred_failed & (1u << i)) && (nrows[i] > 1 ||
			    !(db->deferred_refused & (1u << i))))
				break;
			rows += nrows[i];
		}
		if (i < n && !(db->deferred_refused & (1u << i))) {
			/*
			 * Failed, not for what it holds (a timeout, a lock, a
			 * missing grant): kept for the next flush, from it on.
			 */
			spool_done(sp, from[i]);
			if (sp == db->spool && db->spool_logged)
				db->replayed += rows;
			return;
		}
		if (i < n) {
			/* A batch refused: its records again, one by one. */
			log_notice("db: spool %s: a batch of %llu records refused: sent one by one",
			    spool_path(sp), (unsigned long long)nrows[i]);
			spool_done(sp, from[i]);
			single = to[i] - from[i];
		} else {
			spool_done(sp, bytes);
			single = single > bytes ? single - bytes : 0;
		}
		if (sp == db->spool && db->spool_logged)
			db->replayed += rows;
	}
	if (sp == db->spool && spool_pending(sp) == 0)
		db_outage_over(db);
}

/*
 * db_replay, after which more than a round trip's worth gives the heap it
 * grew back (common/buf.h: mem_trim); the journal's usual flush of 64 KiB
 * does not pay for that.
 */
static void
db_replay_trim(struct db *db, struct spool *sp)
{
	int64_t	before = spool_pending(sp);

	db_replay(db, sp);
	if (before - spool_pending(sp) > DB_TRIP_BYTES)
		mem_trim();
}

/*
 * Replays a spool file a worker that is gone left behind (its slot not
 * used since), one at most per DB_ADOPT_MS.
 */
static void
db_adopt(struct db *db)
{
	struct spool	*o;

	if (db->spool == NULL || mono_ms() < db->adopt_after)
		return;
	db->adopt_after = mono_ms() + DB_ADOPT_MS;
	if ((o = spool_adopt(db->spool)) == NULL)
		return;
	log_notice("db: writing %s to the store: its worker is gone", spool_path(o));
	db_replay_trim(db, o);
	spool_free(o);
}

void
db_flush(struct db *db)
{
	bool	spooled;

	if (db->in_tx)
		return;
	spooled = db_spool_bytes(db) > 0;
	if (db->ndeferred == 0 && !spooled) {
		if (db->nunconfirmed == 0 || db->conn == NULL)
			return;
		if (!db->closing) {
			/* A server gone since (a crash, a failover): keep them now. */
			if (PQconsumeInput(db->conn) != 1 || PQstatus(db->conn) != CONNECTION_OK) {
				log_warn("db: connection lost while idle");
				db_drop(db);
			}
			return;
		}
		/* Leaving: the last of them again, as its twin, shows them durable. */
		db->deferred[db->ndeferred++] = db->unconfirmed[--db->nunconfirmed];
	}
	if (!db_ensure(db)) {
		db_spill(db, true);
		db_journal_outage(db);
		return;
	}
	if (spooled) {
		db_spill(db, false);	/* behind what the file holds */
		db_replay_trim(db, db->spool);
		if (spool_pending(db->spool) == 0)
			db_adopt(db);
		return;
	}
	(void)db_try_pipeline(db, NULL, 0, NULL);
	if (db->ndeferred > 0) {
		db_spill(db, true);
		return;
	}
	if (db->spooled > 0 || db->dropped > 0)
		db_outage_over(db);
	db_adopt(db);
}

int
db_deferred(const struct db *db)
{
	return db->ndeferred;
}

PGresult *
db_exec(struct db *db, const char *name, int n, const char *const *values)
{
	PGresult	*res;

	if (!db_ensure(db))
		return NULL;
	res = db_try(db, name, n, values);
	if (res != NULL || !db_conn_lost(db))
		return res;
	if (db->in_tx) {
		if (!db->timed_out)
			log_error("db: connection lost inside a transaction (%s)", name);
		db_drop(db);
		return NULL;
	}
	/* A server that does not answer is not asked again now (see db_wait). */
	if (db->timed_out)
		return NULL;
	/* Outside a transaction: the statement is idempotent, try once more. */
	log_warn("db: connection lost, reconnecting (%s)", name);
	db_drop(db);
	if (!db_connect(db))
		return NULL;
	return db_try(db, name, n, values);
}

bool
db_run(struct db *db, const char *name, int n, const char *const *values)
{
	PGresult	*res = db_exec(db, name, n, values);

	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}

bool
db_begin(struct db *db)
{
	if (db->in_tx)
		db_rollback(db);
	if (!db_run(db, "db_begin", 0, NULL))
		return false;
	db->in_tx = true;
	return true;
}

bool
db_commit(struct db *db)
{
	bool	ok;

	if (!db->in_tx)
		return false;
	ok = db_run(db, "db_commit", 0, NULL);
	db->in_tx = false;
	return ok;
}

void
db_rollback(struct db *db)
{
	PGresult	*res;

	if (!db->in_tx || db->conn == NULL) {
		db->in_tx = false;
		return;
	}
	db->in_tx = false;
	if (PQsendQueryPrepared(db->conn, "db_rollback", 0, NULL, NULL, NULL, 0) != 1 ||
	    (res = db_collect(db)) == NULL) {
		db_wait_lost(db);
		return;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(db->conn) != CONNECTION_OK)
		db_drop(db);
	PQclear(res);
}

bool
db_command(struct db *db, const char *sql)
{
	PGresult	*res;
	bool		 ok;

	if (!db_ensure(db))
		return false;
	if (PQsendQuery(db->conn, sql) != 1 || (res = db_collect(db)) == NULL) {
		log_error("db: %s: %s", sql, db->timed_out ? "no answer in time" :
		    PQerrorMessage(db->conn));
		db_wait_lost(db);
		return false;
	}
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		log_error("db: %s: %s", sql, PQresultErrorMessage(res));
		db_set_state(db, res);
	}
	PQclear(res);
	return ok;
}

bool
db_multi_host(struct db *db)
{
	PQconninfoOption	*opts, *o;
	bool			 multi = false;

	if (db->conn == NULL || (opts = PQconninfo(db->conn)) == NULL)
		return false;
	for (o = opts; o->keyword != NULL; o++)
		if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) &&
		    o->val != NULL && strchr(o->val, ',') != NULL)
			multi = true;
	PQconninfoFree(opts);
	return multi;
}

const char *
db_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

bool
db_conn_lost(const struct db *db)
{
	return strncmp(db->sqlstate, "08", 2) == 0 || strncmp(db->sqlstate, "57P", 3) == 0;
}

PGconn *
db_conn(struct db *db)
{
	return db->conn;
}

bool
db_state_is_content(const char *sqlstate)
{
	return sqlstate != NULL && (strncmp(sqlstate, "22", 2) == 0 ||
	    strncmp(sqlstate, "23", 2) == 0);
}

const char *
db_errmsg(const struct db *db)
{
	return db->sqlstate[0] != '\0' ? db->errmsg : "";
}

uint64_t
db_connects(const struct db *db)
{
	return db->connects;
}
