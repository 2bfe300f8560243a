/*
 * db.c: the per-process PostgreSQL connection and its prepared statements.
 *
 * State: conn is NULL or a connection on which every registered statement
 * has been prepared; in_tx is true between a successful BEGIN and the
 * COMMIT/ROLLBACK. A connection found dead is dropped (conn = NULL) so the
 * next db_ensure() starts afresh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "store/db.h"

struct db {
	char			 *dsn;
	int64_t			  statement_timeout;
	const char		 *app_name;
	const struct db_stmt *const *sets;
	PGconn			 *conn;
	bool			  in_tx;
	char			  sqlstate[6];
	int64_t			  last_connect_log;	/* mono ms, for rate-limiting */
};

static const struct db_stmt db_tx_stmts[] = {
	{ "db_begin", "BEGIN", 0 },
	{ "db_commit", "COMMIT", 0 },
	{ "db_rollback", "ROLLBACK", 0 },
	{ NULL, NULL, 0 },
};

struct db *
db_new(const char *dsn, int64_t statement_timeout_ms, const char *app_name,
    const struct db_stmt *const *sets)
{
	struct db	*db = xcalloc(1, sizeof(*db));

	db->dsn = xstrdup(dsn);
	db->statement_timeout = statement_timeout_ms;
	db->app_name = app_name;
	db->sets = sets;
	return db;
}

static void
db_drop(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->in_tx = false;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_drop(db);
	free(db->dsn);
	free(db);
}

static void
db_set_state(struct db *db, const PGresult *res)
{
	const char	*st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (st == NULL || strlen(st) != 5)
		st = (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) ? "08000" : "XX000";
	memcpy(db->sqlstate, st, 6);
}

static bool
db_prepare_set(struct db *db, const struct db_stmt *s)
{
	for (; s->name != NULL; s++) {
		PGresult	*res = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("db: preparing %s: %s", s->name, PQresultErrorMessage(res));
			db_set_state(db, res);
			PQclear(res);
			return false;
		}
		PQclear(res);
	}
	return true;
}

static bool
db_connect(struct db *db)
{
	const char	*keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char	*vals[] = { db->dsn, db->app_name, "5", NULL };
	const struct db_stmt *const *set;
	struct buf	 q = BUF_INIT;
	PGresult	*res;
	int64_t		 now = mono_ms();

	/* expand_dbname: the dsn may be a conninfo string or a URI. */
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		if (now - db->last_connect_log >= 5000 || db->last_connect_log == 0) {
			log_error("db: cannot connect: %s", PQerrorMessage(db->conn));
			db->last_connect_log = now;
		}
		memcpy(db->sqlstate, "08001", 6);
		db_drop(db);
		return false;
	}
	buf_printf(&q, "SET statement_timeout = %lld; SET TIME ZONE 'UTC'",
	    (long long)db->statement_timeout);
	res = PQexec(db->conn, buf_cstr(&q));
	buf_free(&q);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_error("db: session setup: %s", PQresultErrorMessage(res));
		db_set_state(db, res);
		PQclear(res);
		db_drop(db);
		return false;
	}
	PQclear(res);
	if (!db_prepare_set(db, db_tx_stmts))
		goto fail;
	for (set = db->sets; set != NULL && *set != NULL; set++)
		if (!db_prepare_set(db, *set))
			goto fail;
	if (db->last_connect_log != 0)
		log_notice("db: connected again");
	db->last_connect_log = 0;
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
	return db_connect(db);
}

/* One attempt; NULL on failure with sqlstate set. */
static PGresult *
db_try(struct db *db, const char *name, int n, const char *const *values)
{
	PGresult	*res;
	ExecStatusType	 st;

	res = PQexecPrepared(db->conn, name, n, values, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		db->sqlstate[0] = '\0';
		return res;
	}
	db_set_state(db, res);
	if (PQstatus(db->conn) != CONNECTION_OK)
		memcpy(db->sqlstate, "08000", 6);
	if (strncmp(db->sqlstate, "23", 2) != 0 && strcmp(db->sqlstate, "08000") != 0)
		log_error("db: %s: %s", name, PQresultErrorMessage(res));
	PQclear(res);
	return NULL;
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
		log_error("db: connection lost inside a transaction (%s)", name);
		db_drop(db);
		return NULL;
	}
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
	res = PQexecPrepared(db->conn, "db_rollback", 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(db->conn) != CONNECTION_OK)
		db_drop(db);
	PQclear(res);
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
