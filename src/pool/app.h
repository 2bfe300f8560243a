/*
 * app.h: the seam between the worker pool and the request handling code.
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
 *          sleep (may be NULL): the moment for deferred work.
 *   fini   once, before a worker exits normally (not after a crash).
 *
 * The config passed to init stays valid and unchanged for the life of the
 * worker: a reload starts new workers with the new config.
 */
#ifndef MKP_POOL_APP_H
#define MKP_POOL_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <fcgiapp.h>

struct config;

struct worker_app {
	bool	(*prepare)(const struct config *, char *err, size_t errlen);
	bool	(*init)(const struct config *);
	void	(*serve)(FCGX_Request *);
	void	(*idle)(void);
	void	(*fini)(void);
};

extern const struct worker_app mkpd_app;	/* src/api/app.c */

#endif
