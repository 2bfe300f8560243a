/*
 * worker_app.h: the seam between the worker pool and the request handling code.
 *
 * The pool owns processes, sockets, signals and the scoreboard; the app
 * owns what a request means. A worker calls the app through mkpd_app only:
 *
 *   prepare in the master, before the first fork and on every reload,
 *          with the new config before it is taken: check what only the
 *          app knows and load what unprivileged workers cannot read (the
 *          master key). False (err says why) refuses the config: fatal at
 *          start and for -t, "reload failed" on SIGHUP.
 *   init   once per worker, after fork and after privileges were dropped,
 *          before the first request (open the database connection and
 *          prepare statements here, never in the master). Returning false
 *          makes the worker exit(1), which the master counts as a crash.
 *   serve  once per request accepted by libfcgi. It must write the whole
 *          answer (headers and body) to req->out; the pool then calls
 *          FCGX_Finish_r. It runs with SIGQUIT, SIGTERM and SIGUSR1
 *          blocked: a graceful stop or a log reopen takes effect between
 *          requests, never inside one, so the app sees no EINTR from them.
 *   idle   when the worker finds no connection waiting and is about to
 *          sleep (may be NULL): the moment for deferred work; the slot
 *          shows SLOT_STORE meanwhile when idle_pending says it has some.
 *   fini   once, before a worker exits normally (not after a crash).
 *
 * The config passed to init stays valid and unchanged for the life of the
 * worker: a reload starts new workers with the new config.
 */
#ifndef MKP_POOL_WORKER_APP_H
#define MKP_POOL_WORKER_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <fcgiapp.h>

struct config;

struct worker_app {
	bool	(*prepare)(const struct config *, char *err, size_t errlen);
	bool	(*init)(const struct config *);
	void	(*serve)(FCGX_Request *);
	void	(*idle)(void);
	/*
	 * Whether idle would talk to the store (may be NULL): the worker
	 * shows "store", not "idle", on the scoreboard while it does, so a
	 * worker held by a store that does not answer is never shown idle.
	 */
	bool	(*idle_pending)(void);
	/*
	 * Whether deferred work has piled up enough to be sent now, between
	 * two requests, though connections wait (may be NULL): the worker
	 * then calls idle, shown as "store". Under load it never idles.
	 */
	bool	(*flush_due)(void);
	void	(*fini)(void);
	/*
	 * The whole CGI answer (headers and body) a caller gets when its
	 * request is ended by request_terminate_timeout: resultCode 000005,
	 * signed. Called once per worker after init; writes at most size
	 * bytes and returns the length (0: none).
	 */
	size_t	(*abort_answer)(char *buf, size_t size);
};

extern const struct worker_app mkpd_app;	/* src/api/router.c */

/*
 * The other way: what the app tells the pool about the call it serves,
 * for the scoreboard, the slow log and the access log. Strings are ""
 * when unknown and live until the callback returns.
 */
struct app_call {
	const char	*dialect;	/* "v2", "v1", "kit-v2", "kit-v1", "local" */
	const char	*activity;
	const char	*ids;		/* "instance/order/line", as known */
	const char	*remote;
	const char	*method;
	const char	*path;
	const char	*result_code;
	int		 status;	/* HTTP */
};

struct app_observer {
	void	(*read)(void);				/* the whole request was read */
	void	(*named)(const struct app_call *);	/* activity and ids known */
	void	(*done)(const struct app_call *);	/* answered and flushed */
};

/* Filled by the worker before init; NULL members are not called. */
extern struct app_observer mkpd_observer;	/* src/api/router.c */

/*
 * The worker's scoreboard slot, set before init: what names the worker's
 * files that outlive it (the spool, replayed by the next worker there).
 */
extern int mkpd_worker_slot;			/* src/api/router.c */

#endif
