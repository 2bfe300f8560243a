/*
 * master.h: the supervising process.
 *
 * The master never serves a request. It forks workers onto the shared
 * listening socket, sizes the pool (pm = static | dynamic | ondemand),
 * replaces workers that exit, backs off when they keep crashing, and acts
 * on signals:
 *   SIGHUP   transactional reload: a new generation of workers starts with
 *            the new config, then the old one finishes its requests and
 *            exits; a broken file changes nothing;
 *   SIGUSR1  reopen the log file (and forward to the workers);
 *   SIGTERM, SIGQUIT  graceful stop: workers finish their requests, up to
 *            shutdown_timeout, then are killed;
 *   SIGINT, or a second SIGTERM  stop at once (SIGKILL every worker).
 */
#ifndef MKP_POOL_MASTER_H
#define MKP_POOL_MASTER_H

#include "common/defs.h"

struct config;
struct listener;
struct priv;

/*
 * Runs the master until it is stopped; returns the exit status. Takes
 * ownership of cfg (a reload replaces and frees it). lsn and priv must
 * stay valid until it returns; the caller closes the listener and removes
 * the pid file afterwards.
 */
int	 master_run(struct config *cfg, struct listener *lsn, const struct priv *priv);

#endif
