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
 * No wait is without a bound. A server that stops answering (a frozen
 * host, a network that drops packets) must not hold a worker past what the
 * marketplace waits for an answer, so every connection carries libpq's
 * connect_timeout, TCP keepalives and tcp_user_timeout (struct db_params,
 * from [store]; the dsn's own values win), the server a statement_timeout,
 * and the client its own bound on every round trip (response_timeout): the
 * socket is non-blocking and each wait is a poll() with a deadline. A round
 * trip that passes it gives the connection up; the statement fails as a
 * lost connection, is not retried, and no new connection is tried for a
 * second, so the calls behind it answer 000005 at once.
 *
 * Round trips are what a call costs most on a busy host, so two kinds of
 * statements ride along with the next one (libpq pipeline mode):
 *   - a prelude (db_prelude) runs just before the next statement or
 *     BEGIN, in the same transaction: the replay check, whose failure must
 *     undo the call;
 *   - deferred statements (db_defer) run before that, each in a
 *     transaction of its own: the audit row of the previous call.
 * A call then costs one round trip in the common case.
 *
 * Deferred statements the store cannot take (it is down, or does not
 * answer) go to a local spool file when one is set (db_set_spool), one
 * log line per outage; they are replayed, oldest first, by the next
 * db_flush that finds the store back. While the spool holds anything,
 * new deferred statements queue behind it, never ahead.
 *
 * A deferred statement X may commit asynchronously when a statement
 * "X_sync" is registered too: the same, committing as the server commits,
 * and writing WAL even when it changes nothing. X is then kept after it
 * ran until a later X_sync of the connection succeeded (its commit covers
 * every earlier one); a connection lost before that puts what is kept in
 * the spool, so a crash or a failover of the store loses none of them.
 */
#ifndef MKP_DB_H
#define MKP_DB_H

#include <stdint.h>
#include "common/defs.h"

/*
 * libpq's handles, by name only: the store (and mkpctl's reports) include
 * libpq-fe.h; the layers above get typed rows and never do.
 */
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

/*
 * What a statement that reads (or takes) at most one thing found: a lookup
 * by key, a lock tried without waiting, a claim. DB_FAILED: the store
 * failed, db_sqlstate() says how.
 */
enum db_found {
	DB_FOUND,
	DB_NONE,
	DB_FAILED,
};

/* The SQLSTATE mkp_nonce_claim() raises for a nonce seen before. */
#define DB_SQLSTATE_REPLAY	"MKP01"

struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
};

struct db;
struct config;

/* How long each wait on the server may last ([store], mkpd.conf(5)). */
struct db_params {
	int64_t	 connect_timeout;	/* seconds per host, libpq's connect_timeout */
	int64_t	 keepalives_idle;	/* seconds */
	int64_t	 keepalives_interval;	/* seconds */
	int64_t	 keepalives_count;
	int64_t	 tcp_user_timeout;	/* milliseconds, 0 = the kernel's */
	int64_t	 statement_timeout;	/* milliseconds, 0 = none */
	int64_t	 response_timeout;	/* milliseconds, 0 = statement_timeout + 1 s */
};

void	 db_params_from_config(const struct config *, struct db_params *);

/*
 * The longest a round trip may wait for the server, in milliseconds
 * (0 = no bound: statement_timeout and response_timeout both 0).
 */
int64_t	 db_params_bound(const struct db_params *);

/*
 * A blocking connect with the params (for mkpctl, which then uses the
 * PGconn directly): the session gets statement_timeout and TimeZone UTC.
 * Returns the connection, CONNECTION_OK or not (caller PQfinish()es it).
 */
PGconn	*db_connect_plain(const char *dsn, const struct db_params *, const char *app_name);

/*
 * A libpq error message as one line per host it names: libpq joins the
 * errors of a multi-host dsn with newlines. Calls emit once per line.
 */
void	 db_conn_error_lines(const char *msg, void (*emit)(const char *line, void *),
	    void *arg);

/*
 * Creates a handle; connects lazily (db_ensure). sets is a NULL-terminated
 * array of NULL-name-terminated statement arrays. The strings are not
 * copied: pass static storage. app_name shows in pg_stat_activity.
 */
struct db *db_new(const char *dsn, const struct db_params *, const char *app_name,
	    const struct db_stmt *const *sets);
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

/*
 * The same statement written to the spool (the journal) with one write
 * instead, when the process has one (else db_defer): what the journal holds
 * goes to the store in batches (NAME_batch, when registered: the same
 * parameters, each an array of the records' values), by db_flush: when
 * the process waits idle, and between two requests once db_journal_due.
 * The records survive the process; an outage leaves them there
 * (fdatasync()ed) until the store takes them.
 */
void	 db_journal(struct db *, const char *name, int nparams, const char *const *values,
	    const char *what);
/* The journal holds a batch's worth (64 KiB): time for db_flush. */
bool	 db_journal_due(struct db *);
/*
 * Runs the queued statements now (a worker about to wait idle), after
 * what the spool holds; when the store cannot take them they go to the
 * spool.
 */
void	 db_flush(struct db *);

/*
 * Keeps the deferred statements the store cannot take in a local file
 * (store/spool.h) instead of dropping them; they are sent, in order and
 * before newer ones, once it can. path is copied.
 */
void	 db_set_spool(struct db *, const char *path, int64_t max_bytes);
/* Bytes in the spool not yet in the store (0: none, or no spool). */
int64_t	 db_spool_bytes(struct db *);
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
/* Whether the connection's dsn names several hosts (a failover set). */
bool	 db_multi_host(struct db *);
/* True when the last failure was a lost or refused connection. */
bool	 db_conn_lost(const struct db *);

/*
 * Runs one SQL command (no parameters, simple protocol) within the round
 * trip's bound: LISTEN. False on failure, logged.
 */
bool	 db_command(struct db *, const char *sql) MUSTCHECK;

/* Direct access for mkpctl (migrations, ad-hoc reports). NULL if not connected. */
PGconn	*db_conn(struct db *);

#endif
