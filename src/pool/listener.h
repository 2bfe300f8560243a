/*
 * listener.h: the one FastCGI listening socket the workers share.
 *
 * Where it comes from, in order of precedence:
 *   1. systemd socket activation (LISTEN_PID is us, LISTEN_FDS >= 1): fd 3;
 *   2. listen = stdin | fd:0: a listening socket inherited on fd 0, as
 *      spawn-fcgi passes it;
 *   3. listen = /path: a unix socket we create (a stale one is removed, a
 *      live one is an error), chmod listen_mode, chown listen_owner/group;
 *   4. listen = host:port | port: TCP with SO_REUSEADDR ("port" and
 *      "*:port" take every address, IPv6 and IPv4 where possible).
 * The socket is made non-blocking (workers wait with epoll and accept4
 * without blocking) and close-on-exec (workers are forked, not exec'd, so
 * they keep it; a program the app might exec does not).
 */
#ifndef MKP_POOL_LISTENER_H
#define MKP_POOL_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/defs.h"

struct listener {
	int	 fd;
	int	 family;		/* AF_INET, AF_INET6 or AF_UNIX */
	char	 unix_path[108];	/* a unix socket we created, else "" */
	char	 desc[300];		/* for log lines */
};

/*
 * Opens the socket cfg names (or the inherited one). Runs as the user mkpd
 * was started as (root, usually), before privileges are dropped. On
 * failure err says why and nothing is left open.
 */
bool	 listener_open(const struct config *, struct listener *, char *err, size_t errlen) MUSTCHECK;
/*
 * Opens a further socket at spec (TCP or a unix path, as listen) with the
 * pool listener's backlog; a unix socket gets listen_mode and
 * listen_owner/listen_group, or mode 0600 and the caller's owner when
 * private. For the status and control sockets.
 */
bool	 listener_open_extra(const struct config *, const char *spec, bool private,
	    struct listener *, char *err, size_t errlen) MUSTCHECK;
/*
 * The listen queue: connections waiting to be accepted and the backlog's
 * size. TCP: TCP_INFO on the listening socket (tcpi_unacked, tcpi_sacked);
 * unix: sock_diag's UDIAG_SHOW_RQLEN. False when the kernel would not say.
 */
bool	 listener_queue(const struct listener *, uint32_t *queue, uint32_t *len);
/* Closes the socket; removes the unix socket file when we created it. */
void	 listener_close(struct listener *);

#endif
