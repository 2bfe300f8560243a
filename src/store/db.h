/*
 * db.h: one libpq connection per process, with its statements prepared.
 *
 * Each worker (and the jobs child, and mkpctl) opens its own connection
 * after fork; a PGconn is never shared across fork. Every statement the
 * process runs is registered up front as a struct db_stmt and prepared
 * once per connection, so a request costs one round trip per statement and
 * no parsing on the server.
 *
 * Loss of the server is expected (restarts, failovers): a statement run
 * outside a transaction, and BEGIN, are retried once on a fresh connection
 * when the old one turns out to be dead. Inside a transaction a lost
 * connection fails the statement; the caller answers 000005 and the next
 * request reconnects. Every statement mkpd runs outside a transaction is
 * idempotent, which is what makes the single retry safe.
 */
#ifndef MKP_DB_H
#define MKP_DB_H

#include <libpq-fe.h>
#include <stdint.h>
#include "common/defs.h"

struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
};

struct db;

/*
 * Creates a handle; connects lazily (db_ensure). sets is a NULL-terminated
 * array of NULL-name-terminated statement arrays. The strings are not
 * copied: pass static storage. app_name shows in pg_stat_activity.
 */
struct db *db_new(const char *dsn, int64_t statement_timeout_ms,
	    const char *app_name, const struct db_stmt *const *sets);
void	 db_free(struct db *);

/* Connects (and prepares) if not connected. Failures are logged, rate-limited. */
bool	 db_ensure(struct db *) MUSTCHECK;

/*
 * Runs a prepared statement with text parameters (NULL = SQL NULL).
 * Returns the result (caller PQclear()s it) when the statement succeeded,
 * or NULL: then db_sqlstate() tells why ("08006" and friends when the
 * connection was lost). Errors are logged except integrity violations
 * (class 23), which callers handle.
 */
PGresult *db_exec(struct db *, const char *name, int nparams,
	    const char *const *values) MUSTCHECK;

/* Runs a prepared statement and returns whether it succeeded (result dropped). */
bool	 db_run(struct db *, const char *name, int nparams,
	    const char *const *values) MUSTCHECK;

bool	 db_begin(struct db *) MUSTCHECK;
bool	 db_commit(struct db *) MUSTCHECK;
/* Rolls back if a transaction is open; never fails from the caller's view. */
void	 db_rollback(struct db *);

/* SQLSTATE of the last failure, "" if none, "08000" for connection loss. */
const char *db_sqlstate(const struct db *);
/* True when the last failure was a lost or refused connection. */
bool	 db_conn_lost(const struct db *);

/* Direct access for mkpctl (migrations, ad-hoc reports). NULL if not connected. */
PGconn	*db_conn(struct db *);

#endif
