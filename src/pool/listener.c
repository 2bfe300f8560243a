/*
 * listener.c: binding or inheriting the FastCGI socket (see listener.h).
 *
 * Why we check an inherited socket: a wrong fd 0 (a terminal, a pipe, a
 * socket nobody called listen on) would otherwise surface as workers
 * failing accept forever; we refuse it at start with a clear message.
 *
 * Invariants: on success lsn->fd is a listening SOCK_STREAM socket with
 * O_NONBLOCK and FD_CLOEXEC, at fd >= 3 (fd 0..2 stay stdio); on failure
 * no fd is left open and no file is left behind.
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "pool/listener.h"

#define SD_LISTEN_FDS_START	3

/* fd must be a listening stream socket; take it as ours at fd >= 3. */
static bool
listener_adopt(struct listener *lsn, int fd, const char *what, char *err, size_t errlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(int);
	int			type = 0, acc = 0, nfd, flags, devnull;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		snprintf(err, errlen, "%s is not a socket: %s", what, strerror(errno));
		return false;
	}
	len = sizeof(int);
	if (type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc) {
		snprintf(err, errlen, "%s is not a listening stream socket", what);
		return false;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(err, errlen, "%s: getsockname: %s", what, strerror(errno));
		return false;
	}
	nfd = fd;
	if (fd < 3) {
		/* Free stdio: 0..2 become /dev/null, the socket moves up. */
		if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
			snprintf(err, errlen, "%s: dup: %s", what, strerror(errno));
			return false;
		}
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || dup2(devnull, fd) < 0) {
			snprintf(err, errlen, "/dev/null: %s", strerror(errno));
			close(nfd);
			if (devnull >= 0)
				close(devnull);
			return false;
		}
		if (devnull != fd)
			close(devnull);
	} else if (fcntl(nfd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: fcntl: %s", what, strerror(errno));
		return false;
	}
	/*
	 * O_NONBLOCK is a property of the open file, shared with whoever
	 * passed it (systemd, spawn-fcgi); neither of them accepts on it.
	 */
	if ((flags = fcntl(nfd, F_GETFL)) < 0 ||
	    fcntl(nfd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "%s: fcntl: %s", what, strerror(errno));
		if (nfd != fd)
			close(nfd);
		return false;
	}
	lsn->fd = nfd;
	lsn->family = ss.ss_family;
	return true;
}

/* systemd socket activation: true and *fd when we were given sockets. */
static bool
listener_systemd(int *fd, int *nfds)
{
	const char	*pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	int64_t		 pid, n;

	if (pid_s == NULL || fds_s == NULL)
		return false;
	if (!parse_i64(pid_s, 1, INT32_MAX, &pid) || (pid_t)pid != getpid() ||
	    !parse_i64(fds_s, 1, 1024, &n))
		return false;
	/* Not for our children (they are not the process systemd meant). */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	*fd = SD_LISTEN_FDS_START;
	*nfds = (int)n;
	return true;
}

static bool
listener_tcp(const struct config *cfg, const struct listen_addr *a,
    struct listener *lsn, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	int		 rc, fd = -1, one = 1, zero = 0, pass;
	char		 cause[200] = "no usable address";

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (a->host[0] ? 0 : AI_ADDRCONFIG);
	rc = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s: %s", cfg->listen, gai_strerror(rc));
		return false;
	}
	/*
	 * For "every address" try IPv6 first with IPV6_V6ONLY off, which
	 * serves IPv4 as well; then whatever else getaddrinfo offered.
	 */
	for (pass = 0; pass < 2 && fd < 0; pass++) {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (a->host[0] == '\0' && (pass == 0) != (ai->ai_family == AF_INET6))
				continue;
			if (a->host[0] != '\0' && pass == 1)
				break;
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
			if (fd < 0) {
				snprintf(cause, sizeof(cause), "socket: %s", strerror(errno));
				continue;
			}
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (ai->ai_family == AF_INET6 && a->host[0] == '\0')
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
				snprintf(cause, sizeof(cause), "bind: %s", strerror(errno));
				close(fd);
				fd = -1;
				continue;
			}
			if (listen(fd, (int)cfg->listen_backlog) < 0) {
				snprintf(cause, sizeof(cause), "listen: %s", strerror(errno));
				close(fd);
				fd = -1;
				continue;
			}
			lsn->family = ai->ai_family;
			break;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "listen %s: %s", cfg->listen, cause);
		return false;
	}
	lsn->fd = fd;
	snprintf(lsn->desc, sizeof(lsn->desc), "%s", cfg->listen);
	return true;
}

/* Removes path if it is a unix socket nobody listens on. */
static bool
listener_unlink_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return true;
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "listen %s: exists and is not a socket", path);
		return false;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);	/* length checked by config */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		snprintf(err, errlen, "listen %s: another process is listening on it", path);
		return false;
	}
	close(fd);
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "listen %s: probing the old socket: %s", path, strerror(errno));
		return false;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "listen %s: removing the stale socket: %s", path, strerror(errno));
		return false;
	}
	return true;
}

static bool
listener_unix(const struct config *cfg, const struct listen_addr *a,
    struct listener *lsn, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	uid_t			 uid = (uid_t)-1;
	gid_t			 gid = (gid_t)-1;
	mode_t			 old;
	int			 fd, rc;

	if (cfg->listen_owner[0] != '\0') {
		struct passwd *pw = getpwnam(cfg->listen_owner);

		if (pw == NULL) {
			snprintf(err, errlen, "listen_owner %s: no such user", cfg->listen_owner);
			return false;
		}
		uid = pw->pw_uid;
	}
	if (cfg->listen_group[0] != '\0') {
		struct group *gr = getgrnam(cfg->listen_group);

		if (gr == NULL) {
			snprintf(err, errlen, "listen_group %s: no such group", cfg->listen_group);
			return false;
		}
		gid = gr->gr_gid;
	}
	if (!listener_unlink_stale(a->path, err, errlen))
		return false;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	/* Born private; opened up by chmod below, never wider than asked. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "listen %s: bind: %s", a->path, strerror(errno));
		close(fd);
		return false;
	}
	if (chmod(a->path, (mode_t)cfg->listen_mode) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(a->path, uid, gid) < 0)) {
		snprintf(err, errlen, "listen %s: chmod/chown: %s", a->path, strerror(errno));
		close(fd);
		unlink(a->path);
		return false;
	}
	if (listen(fd, (int)cfg->listen_backlog) < 0) {
		snprintf(err, errlen, "listen %s: listen: %s", a->path, strerror(errno));
		close(fd);
		unlink(a->path);
		return false;
	}
	lsn->fd = fd;
	lsn->family = AF_UNIX;
	memcpy(lsn->unix_path, a->path, sizeof(lsn->unix_path));
	snprintf(lsn->desc, sizeof(lsn->desc), "%s", a->path);
	return true;
}

bool
listener_open(const struct config *cfg, struct listener *lsn, char *err, size_t errlen)
{
	struct listen_addr	a;
	char			why[200];
	int			fd, n;

	memset(lsn, 0, sizeof(*lsn));
	lsn->fd = -1;
	if (listener_systemd(&fd, &n)) {
		if (!listener_adopt(lsn, fd, "systemd's socket (fd 3)", err, errlen))
			return false;
		snprintf(lsn->desc, sizeof(lsn->desc), "systemd socket (fd 3%s)",
		    n > 1 ? "; further sockets ignored" : "");
		return true;
	}
	if (!config_parse_listen(cfg->listen, &a, why, sizeof(why))) {
		snprintf(err, errlen, "listen %s: %s", cfg->listen, why);
		return false;
	}
	switch (a.kind) {
	case LISTEN_FD0:
		if (!listener_adopt(lsn, 0, "fd 0 (listen = stdin)", err, errlen))
			return false;
		snprintf(lsn->desc, sizeof(lsn->desc), "inherited socket (fd 0)");
		return true;
	case LISTEN_UNIX:
		return listener_unix(cfg, &a, lsn, err, errlen);
	case LISTEN_TCP:
		return listener_tcp(cfg, &a, lsn, err, errlen);
	}
	snprintf(err, errlen, "listen %s: unknown kind", cfg->listen);
	return false;
}

void
listener_close(struct listener *lsn)
{
	if (lsn->fd >= 0)
		close(lsn->fd);
	lsn->fd = -1;
	if (lsn->unix_path[0] != '\0')
		unlink(lsn->unix_path);
	lsn->unix_path[0] = '\0';
}

bool
listener_open_extra(const struct config *cfg, const char *spec, bool private,
    struct listener *lsn, char *err, size_t errlen)
{
	struct config		c = *cfg;	/* shallow: only read below */
	struct listen_addr	a;
	char			why[200];

	memset(lsn, 0, sizeof(*lsn));
	lsn->fd = -1;
	if (!config_parse_listen(spec, &a, why, sizeof(why)) || a.kind == LISTEN_FD0) {
		snprintf(err, errlen, "%s: %s", spec, a.kind == LISTEN_FD0 ?
		    "an inherited socket cannot be used here" : why);
		return false;
	}
	c.listen = (char *)spec;
	if (private) {
		c.listen_owner = c.listen_group = (char *)"";
		c.listen_mode = 0600;
	}
	if (a.kind == LISTEN_UNIX)
		return listener_unix(&c, &a, lsn, err, errlen);
	return listener_tcp(&c, &a, lsn, err, errlen);
}

/* A unix listening socket's queue, from sock_diag (UDIAG_SHOW_RQLEN). */
static bool
listener_queue_unix(int fd, uint32_t *queue, uint32_t *len)
{
	struct {
		struct nlmsghdr		nlh;
		struct unix_diag_req	req;
	} rq;
	union {
		struct nlmsghdr	nlh;
		char		buf[1024];
	} an;
	struct stat		 st;
	struct sockaddr_nl	 nl = { .nl_family = AF_NETLINK };
	struct unix_diag_msg	*msg;
	struct rtattr		*attr;
	struct unix_diag_rqlen	*rql;
	ssize_t			 n;
	int			 ns, rlen;
	bool			 ok = false;

	if (fstat(fd, &st) < 0)
		return false;
	if ((ns = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
		return false;
	memset(&rq, 0, sizeof(rq));
	rq.nlh.nlmsg_len = sizeof(rq);
	rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	rq.nlh.nlmsg_flags = NLM_F_REQUEST;
	rq.req.sdiag_family = AF_UNIX;
	rq.req.udiag_states = ~0u;
	rq.req.udiag_ino = (uint32_t)st.st_ino;
	rq.req.udiag_show = UDIAG_SHOW_RQLEN;
	rq.req.udiag_cookie[0] = rq.req.udiag_cookie[1] = ~0u;	/* no cookie */
	if (sendto(ns, &rq, sizeof(rq), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0 ||
	    (n = recv(ns, &an, sizeof(an), 0)) < (ssize_t)NLMSG_LENGTH(sizeof(*msg)) ||
	    !NLMSG_OK(&an.nlh, (size_t)n) || an.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY) {
		close(ns);
		return false;
	}
	msg = NLMSG_DATA(&an.nlh);
	rlen = (int)an.nlh.nlmsg_len - (int)NLMSG_LENGTH(sizeof(*msg));
	for (attr = (struct rtattr *)(msg + 1); RTA_OK(attr, rlen); attr = RTA_NEXT(attr, rlen)) {
		if (attr->rta_type == UNIX_DIAG_RQLEN &&
		    RTA_PAYLOAD(attr) >= sizeof(*rql)) {
			rql = RTA_DATA(attr);
			*queue = rql->udiag_rqueue;
			*len = rql->udiag_wqueue;
			ok = true;
		}
	}
	close(ns);
	return ok;
}

bool
listener_queue(const struct listener *lsn, uint32_t *queue, uint32_t *len)
{
	struct tcp_info	ti;
	socklen_t	tl = sizeof(ti);

	*queue = *len = 0;
	if (lsn->family == AF_UNIX)
		return listener_queue_unix(lsn->fd, queue, len);
	if (getsockopt(lsn->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0)
		return false;
	/* On a listening socket: the accept queue and its limit. */
	*queue = ti.tcpi_unacked;
	*len = ti.tcpi_sacked;
	return true;
}
