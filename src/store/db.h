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
 *
 * Round trips are what a call costs most on a busy host, so two kinds of
 * statements ride along with the next one (libpq pipeline mode):
 *   - a prelude (db_prelude) runs just before the next statement or
 *     BEGIN, in the same transaction: the replay check, whose failure must
 *     undo the call;
 *   - deferred statements (db_defer) run before that, each in a
 *     transaction of its own: the audit row of the previous call.
 * A call then costs one round trip in the common case.
 */
#ifndef MKP_DB_H
#define MKP_DB_H

#include <libpq-fe.h>
#include <stdint.h>
#include "common/defs.h"

/* The SQLSTATE mkp_nonce_claim() raises for a nonce seen before. */
#define DB_SQLSTATE_REPLAY	"MKP01"

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

enum db_prelude_state {
	DB_PRELUDE_NONE,	/* none was set */
	DB_PRELUDE_PENDING,	/* set, not sent yet */
	DB_PRELUDE_OK,		/* ran and succeeded */
	DB_PRELUDE_FAILED,	/* ran and failed: db_prelude_sqlstate says how */
};

/*
 * Sets the statement to run first with the next db_exec/db_begin. Values
 * are copied. The transaction it shares with that statement is aborted
 * when it fails, so nothing of the call is applied.
 */
void	 db_prelude(struct db *, const char *name, int nparams, const char *const *values);
enum db_prelude_state db_prelude_state(const struct db *);
const char *db_prelude_sqlstate(const struct db *);
/* Forgets the prelude (set or run) so the next call starts clean. */
void	 db_prelude_reset(struct db *);

/*
 * Queues an idempotent statement to run, in its own transaction, ahead of
 * the next round trip; values are copied. The queue is flushed when full.
 * Failures are logged with what, the caller's description of the statement.
 */
void	 db_defer(struct db *, const char *name, int nparams, const char *const *values,
	    const char *what);
/* Runs the queued statements now (a worker about to wait idle). */
void	 db_flush(struct db *);
/* Statements queued and not yet run. */
int	 db_deferred(const struct db *);

/* SQLSTATE of the last failure, "" if none, "08000" for connection loss. */
const char *db_sqlstate(const struct db *);
/*
 * Whether a SQLSTATE says the store refused a value it was given (class
 * 22, data exception: an invalid byte sequence, a number out of range;
 * class 23, a constraint) rather than failed or went away: the caller's
 * content is at fault, and sending it again will not help.
 */
bool	 db_state_is_content(const char *sqlstate);
/*
 * The server's primary message for the last failure ("" if none), for a
 * person reading a log line or a job's last_error; never holds a value.
 */
const char *db_errmsg(const struct db *);
/*
 * How many times this handle has connected. A caller that keeps session
 * state the server forgets on reconnect (LISTEN) compares it to the count
 * it set that state up under.
 */
uint64_t db_connects(const struct db *);
/* True when the last failure was a lost or refused connection. */
bool	 db_conn_lost(const struct db *);

/* Direct access for mkpctl (migrations, ad-hoc reports). NULL if not connected. */
PGconn	*db_conn(struct db *);

#endif
