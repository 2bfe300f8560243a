/*
 * status_child.h: the status child, which answers for the pool when no worker can.
 *
 * The master forks it beside the workers (ps shows mkpd-status). It holds
 * no scoreboard slot and serves no marketplace call; it reads the
 * scoreboard, which takes no lock and needs no worker, so the status is
 * there when every worker is busy. It serves:
 *   - [mkpd] status_listen: FastCGI, where the web server routes /-/status
 *     and /-/ping (loopback only); formats as php-fpm: ?json,
 *     ?openmetrics, ?html, plain text by default, ?full for the workers;
 *   - [mkpd] control_socket: mkpctl's line protocol, one request per
 *     connection: "status [text|json|openmetrics|html] [full]" answers
 *     the rendering; "reload" asks the master to reload and answers
 *     "reloaded: generation N" or "reload failed: ..." (see the log).
 * Both sockets are bound by the master at start (startup-only options),
 * so they outlive the child: a replaced child misses no connection.
 *
 * The reload request goes to the master over a socketpair (chan): one
 * byte 'R' up, one byte back, 'Y' (reloaded) or 'N'.
 */
#ifndef MKP_POOL_STATUS_CHILD_H
#define MKP_POOL_STATUS_CHILD_H

#include <sys/types.h>

#include "common/defs.h"

struct config;
struct listener;
struct priv;
struct scoreboard;

struct status_args {
	const struct config	*cfg;
	const struct listener	*lsn;		/* the pool's: closed at once */
	const struct priv	*priv;
	struct scoreboard	*sb;
	int			 status_fd;	/* FastCGI listener, -1 = none */
	int			 control_fd;	/* control listener, -1 = none */
	int			 chan;		/* to the master */
	int			 master_chan;	/* the master's end: closed at once */
	pid_t			 master;
};

#define STATUS_CHAN_RELOAD	'R'
#define STATUS_CHAN_OK		'Y'
#define STATUS_CHAN_FAILED	'N'

void	 status_main(const struct status_args *) NORETURN;

#endif
