/*
 * worker.c: the accept loop of one worker (see worker.h for its life).
 *
 * Why we do not let libfcgi accept: FCGX_Accept_r blocks in accept(2)
 * until a connection comes, so a worker could not notice a stop request,
 * its idle timeout or its master's death while idle, and every idle worker
 * would wake for each connection. Instead:
 *
 *   1. try accept4() on the non-blocking listening socket; a connection
 *      already queued (the common case under load) is taken at once;
 *   2. on EAGAIN, wait in epoll_pwait() on the socket, registered with
 *      EPOLLEXCLUSIVE so one connection wakes one idle worker, not all;
 *      the wait lasts at most 1 s so the flags, idle_timeout and the
 *      master's pid are checked at least once a second, and it is the
 *      only place our signals are unblocked;
 *   3. give the connection to libfcgi by setting req.ipcFd, then
 *      FCGX_Accept_r, mkpd_app.serve, FCGX_Finish_r.
 *
 * The libfcgi detail step 3 depends on (fcgiapp.c, 2.4.x): FCGX_Accept_r
 * begins with FCGX_Finish_r, which closes ipcFd unless keepConnection is
 * set; and it accepts by itself only while ipcFd < 0. So we set
 * keepConnection = 1 before each call (the BEGIN_REQUEST record then sets
 * the real value), and we create the request with listen_sock = -1: when
 * a connection fails before a complete request, libfcgi closes it and its
 * own accept on fd -1 fails at once (EBADF) instead of blocking, and we
 * are back in our loop.
 *
 * A connection the web server asks to keep (fastcgi_keep_conn on) is
 * served again on the same worker: we wait for its next request with the
 * same 1 s timeout, so stop and idle checks still run. Each kept
 * connection pins a worker, which is why nginx should not use it.
 *
 * Signals: SIGQUIT and SIGTERM set child_quit, SIGUSR1 sets child_reopen (they
 * are blocked outside waits, so the app never sees EINTR from them);
 * SIGHUP and SIGPIPE are ignored. libfcgi installs a SIGUSR1 handler of
 * its own only where the disposition is the default, so ours, installed
 * before FCGX_Init, stays.
 *
 * What the app says about a call (mkpd_observer) goes to the scoreboard
 * slot (for the status and the master's slow log) and, when it is
 * answered, to the access log: a buffer of whole lines, written with one
 * write() to an O_APPEND descriptor when the next line would not fit,
 * when the worker is about to wait idle, before a reopen and at exit. A
 * busy worker writes in large pieces and the request path makes no system
 * call for it; since a write holds only whole lines and O_APPEND places
 * each write at the end as a unit, the lines of several workers never run
 * into each other (as php-fpm and nginx write theirs). Control characters
 * in a field are written as \xHH, so a line is a line.
 *
 * request_read_timeout: a connection must deliver its whole request (the
 * FastCGI records of its parameters and its body) within that many
 * seconds of being taken, or the worker is held by whoever opened it: an
 * idle or trickling connection to a TCP listener, which any local user
 * can open, would otherwise keep a worker as long as it likes. A timer
 * (ITIMER_REAL, SIGALRM) is armed when a request is about to be read and
 * disarmed when the app says it has read it (mkpd_observer.read); when it
 * fires, its handler shuts the connection down for reading (shutdown(2)
 * is async-signal-safe), so the read libfcgi or the app is blocked in, or
 * the next one, ends at once; libfcgi then drops the connection, or the
 * app answers "incomplete request", and the worker is free again.
 *
 * request_terminate_timeout: the master sends SIGUSR2 to a worker whose
 * request ran too long. SIGUSR2 is not blocked while a request is served,
 * so the handler runs wherever the worker is stuck (a store call, say):
 * it writes the app's prepared 000005 answer to the connection as
 * FastCGI records, then _exit()s. The answer is built once at start and
 * only the request id is patched in, so the handler makes no call that is
 * not async-signal-safe. Should the app have flushed part of an answer
 * already, the caller gets that part and then ours; nginx then reports
 * the upstream's error, which the marketplace retries like 000005.
 *
 * Invariant: only this process writes its scoreboard slot, from
 * scoreboard_worker_start until exit.
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "pool/worker_app.h"
#include "pool/listener.h"
#include "pool/priv.h"
#include "pool/child.h"
#include "pool/scoreboard.h"
#include "pool/worker.h"

#define W_WAIT_MS		1000	/* longest wait before checking flags */
#define W_EMFILE_PAUSE_MS	500	/* pause when out of descriptors */
#define W_ACCESS_BUF		65536	/* access log buffer */
#define W_ABORT_MAX		1024	/* the 000005 answer, headers and body */

struct worker {
	const struct worker_args *a;
	FCGX_Request	 req;
	int		 ep;		/* epoll on the listening socket */
	uint64_t	 served;
	int64_t		 idle_since;	/* mono ms */
	int64_t		 last_emfile_warn;
	bool		 warned_keep;
	int		 access_fd;	/* -1: no access log */
	struct buf	 access;	/* whole lines not written yet */
	volatile sig_atomic_t answered;	/* the current request has its answer */
	volatile sig_atomic_t read_fd;	/* the connection being read, or -1 */
	volatile sig_atomic_t read_expired;	/* request_read_timeout ran out */
	int64_t		 req_start;	/* mono ms */
};

static struct worker	*cur;		/* for the observer and the SIGUSR2 handler */

/*
 * The 000005 answer as FastCGI records: STDOUT with the CGI answer, an
 * empty STDOUT, END_REQUEST. The request id is bytes 2-3 of each header.
 */
static struct {
	unsigned char	 buf[W_ABORT_MAX + 64];
	size_t		 len;
	size_t		 hdr[3];	/* offsets of the three record headers */
} abort_rec;

static void
fcgi_header(unsigned char *h, int type, size_t clen, size_t pad)
{
	h[0] = 1;		/* FCGI_VERSION_1 */
	h[1] = (unsigned char)type;
	h[2] = h[3] = 0;	/* request id, patched in the handler */
	h[4] = (unsigned char)(clen >> 8);
	h[5] = (unsigned char)clen;
	h[6] = (unsigned char)pad;
	h[7] = 0;
}

static void
worker_abort_prepare(void)
{
	char		 ans[W_ABORT_MAX];
	size_t		 n = 0, pad, o = 0;
	unsigned char	*b = abort_rec.buf;

	if (mkpd_app.abort_answer != NULL)
		n = mkpd_app.abort_answer(ans, sizeof(ans));
	pad = (8 - n % 8) % 8;
	abort_rec.hdr[0] = o;
	fcgi_header(b + o, 6, n, pad);	/* FCGI_STDOUT */
	o += 8;
	memcpy(b + o, ans, n);
	memset(b + o + n, 0, pad);
	o += n + pad;
	abort_rec.hdr[1] = o;
	fcgi_header(b + o, 6, 0, 0);	/* end of stdout */
	o += 8;
	abort_rec.hdr[2] = o;
	fcgi_header(b + o, 3, 8, 0);	/* FCGI_END_REQUEST */
	o += 8;
	memset(b + o, 0, 8);		/* appStatus 0, FCGI_REQUEST_COMPLETE */
	o += 8;
	abort_rec.len = o;
}

static void
worker_on_terminate(int signo)
{
	struct worker	*w = cur;
	unsigned char	*b = abort_rec.buf;
	size_t		 i, off = 0;
	ssize_t		 n;
	int		 fd, id;

	(void)signo;
	/* A caller that has its answer (the audit row was being written) gets no second one. */
	if (w != NULL && !w->answered && (fd = w->req.ipcFd) >= 0 && abort_rec.len > 0) {
		id = w->req.requestId;
		for (i = 0; i < 3; i++) {
			b[abort_rec.hdr[i] + 2] = (unsigned char)(id >> 8);
			b[abort_rec.hdr[i] + 3] = (unsigned char)id;
		}
		while (off < abort_rec.len) {
			n = write(fd, b + off, abort_rec.len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	_exit(3);
}

/* ---- what the app says -------------------------------------------------- */

static void
worker_named(const struct app_call *c)
{
	if (cur != NULL)
		scoreboard_worker_note(cur->a->sb, cur->a->slot, c->dialect, c->activity,
		    c->ids, c->remote);
}

static void
access_put(struct buf *b, const char *s)
{
	if (s[0] == '\0') {
		buf_putc(b, '-');
		return;
	}
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			buf_printf(b, "\\x%02X", (unsigned char)*s);
		else
			buf_putc(b, *s);
	}
}

/* Writes the buffered lines (whole ones only) and empties the buffer. */
static void
access_flush(struct worker *w)
{
	const char	*p = w->access.data;
	size_t		 n = w->access.len;
	ssize_t		 k;

	while (w->access_fd >= 0 && n > 0) {
		if ((k = write(w->access_fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("access_log %s: %s (%zu bytes lost)", w->a->cfg->access_log,
			    strerror(errno), n);
			break;
		}
		p += k;
		n -= (size_t)k;
	}
	buf_reset(&w->access);
}

static struct buf	 line = BUF_INIT;	/* the access-log line being made */

static void
worker_done(const struct app_call *c)
{
	struct worker	*w = cur;
	const char	*p;
	char		 t[32];

	if (w == NULL)
		return;
	w->answered = 1;
	if (c->dialect[0] == '\0')
		scoreboard_worker_note(w->a->sb, w->a->slot, "", "", "", c->remote);
	struct buf	*b = &line;

	if (w->access_fd < 0)
		return;
	buf_reset(b);
	for (p = w->a->cfg->access_format; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0') {
			buf_putc(b, *p);
			continue;
		}
		switch (*++p) {
		case 't':
			fmt_time_iso(now_ms(), t);
			buf_puts(b, t);
			break;
		case 'a':
			access_put(b, c->remote);
			break;
		case 'd':
			access_put(b, c->dialect);
			break;
		case 'A':
			access_put(b, c->activity);
			break;
		case 'c':
			access_put(b, c->result_code);
			break;
		case 's':
			buf_printf(b, "%d", c->status);
			break;
		case 'D':
			buf_printf(b, "%lld", (long long)(mono_ms() - w->req_start));
			break;
		case 'w':
			buf_printf(b, "%d/%d", w->a->slot, (int)getpid());
			break;
		case 'i':
			access_put(b, c->ids);
			break;
		case 'm':
			access_put(b, c->method);
			break;
		case 'u':
			access_put(b, c->path);
			break;
		case '%':
			buf_putc(b, '%');
			break;
		default:
			buf_putc(b, '%');
			buf_putc(b, *p);
			break;
		}
	}
	buf_putc(b, '\n');
	/* Only whole lines go out: flush what is held first if this one would not fit. */
	if (w->access.len + b->len > W_ACCESS_BUF)
		access_flush(w);
	buf_append(&w->access, b->data, b->len);
	if (w->access.len >= W_ACCESS_BUF)
		access_flush(w);
}

static void
worker_access_open(struct worker *w)
{
	const char	*path = w->a->cfg->access_log;

	/* What was logged before the reopen goes to the file it was meant for. */
	access_flush(w);
	if (w->access_fd >= 0)
		close(w->access_fd);
	w->access_fd = -1;
	if (path[0] == '\0')
		return;
	if ((w->access_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666)) < 0) {
		log_warn("access_log %s: %s", path, strerror(errno));
		return;
	}
	buf_reserve(&w->access, W_ACCESS_BUF);
}

/* SIGALRM: request_read_timeout ran out (see the top of the file). */
static void
worker_on_read_timeout(int sig)
{
	int	saved = errno;

	(void)sig;
	if (cur != NULL && cur->read_fd >= 0) {
		cur->read_expired = 1;
		shutdown(cur->read_fd, SHUT_RD);
	}
	errno = saved;
}

static void
worker_read_timer(int64_t seconds)
{
	struct itimerval	 it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)seconds;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The request is read (or will not be): the timer is off. */
static void
worker_read_done(void)
{
	if (cur == NULL || cur->read_fd < 0)
		return;
	worker_read_timer(0);
	cur->read_fd = -1;
}

static void
worker_read_timeout_handler(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = worker_on_read_timeout;
	sigaction(SIGALRM, &sa, NULL);
}

/* Serves what arrives on req.ipcFd (a new or a kept connection). */
static void
worker_serve(struct worker *w)
{
	struct scoreboard	*sb = w->a->sb;
	int64_t			 timeout = w->a->cfg->request_read_timeout;
	int			 rc;

	scoreboard_worker_set_state(sb, w->a->slot, SLOT_BUSY);
	w->req_start = mono_ms();
	w->answered = 0;
	w->read_expired = 0;
	if (timeout > 0) {
		w->read_fd = w->req.ipcFd;
		worker_read_timer(timeout);
	}
	/* Keep FCGX_Accept_r's own FCGX_Finish_r from closing ipcFd. */
	w->req.keepConnection = 1;
	rc = FCGX_Accept_r(&w->req);
	if (rc < 0) {
		/* libfcgi has closed the connection (it sent no request). */
		worker_read_done();
		if (w->read_expired)
			log_warn("a connection sent no complete request within "
			    "request_read_timeout (%lld s): closed", (long long)timeout);
		else
			log_debug("%s: connection closed before a complete request",
			    __func__);
		w->req.ipcFd = -1;
	} else {
		mkpd_app.serve(&w->req);
		worker_read_done();
		if (w->read_expired) {
			log_warn("a request's body did not arrive within "
			    "request_read_timeout (%lld s): connection closed",
			    (long long)timeout);
			w->req.keepConnection = 0;
		}
		FCGX_Finish_r(&w->req);
		w->served++;
		if (w->req.ipcFd >= 0 && !w->warned_keep) {
			w->warned_keep = true;
			log_warn("the web server keeps FastCGI connections open "
			    "(nginx fastcgi_keep_conn): each one pins a worker");
		}
	}
	scoreboard_worker_set_state(sb, w->a->slot, SLOT_IDLE);
	w->idle_since = mono_ms();
	child_take_signals();
}

static void
worker_new_connection(struct worker *w, int fd)
{
	int	one = 1;

	scoreboard_count_accept(w->a->sb);
	if (w->a->lsn->family == AF_INET || w->a->lsn->family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->req.ipcFd = fd;
	worker_serve(w);
}

/* Waits up to W_WAIT_MS for the next request on a kept connection. */
static void
worker_wait_kept(struct worker *w)
{
	struct pollfd	 pfd = { .fd = w->req.ipcFd, .events = POLLIN };
	struct timespec	 ts = { W_WAIT_MS / 1000, 0 };
	int		 n;

	n = ppoll(&pfd, 1, &ts, &child_wait_mask);
	if (n > 0)
		worker_serve(w);
	else if (n < 0 && errno != EINTR)
		fatal("ppoll");
}

/*
 * Handles an accept4 failure. Returns true when the caller should wait
 * for the socket to become readable, false to loop again at once.
 */
static bool
worker_accept_failed(struct worker *w)
{
	struct timespec	ts = { 0, W_EMFILE_PAUSE_MS * 1000000L };
	int64_t		now;

	switch (errno) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return true;
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM:		/* firewall rules on Linux */
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENONET:
	case EOPNOTSUPP:
	case ETIMEDOUT:
		return false;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		/* Pause instead of spinning on a queued connection. */
		now = mono_ms();
		if (now - w->last_emfile_warn >= 10000) {
			w->last_emfile_warn = now;
			log_warn("accept: %s: pausing %d ms", strerror(errno),
			    W_EMFILE_PAUSE_MS);
		}
		ppoll(NULL, 0, &ts, &child_wait_mask);
		return false;
	default:
		fatal("accept on %s", w->a->lsn->desc);
	}
}

/* Returns why the worker should stop now, or NULL to go on. */
static const char *
worker_should_exit(struct worker *w)
{
	const struct config	*cfg = w->a->cfg;

	if (child_reopen) {
		child_reopen_log();
		worker_access_open(w);
	}
	if (child_quit)
		return "asked to stop";
	if (getppid() != w->a->master)
		return "the master is gone";
	if (cfg->max_requests > 0 && w->served >= (uint64_t)cfg->max_requests)
		return "max_requests reached";
	return NULL;
}

static const char *
worker_loop(struct worker *w)
{
	const struct config	*cfg = w->a->cfg;
	struct epoll_event	 ev;
	const char		*why;
	int			 fd, n;

	for (;;) {
		if ((why = worker_should_exit(w)) != NULL)
			return why;
		if (mkpd_app.flush_due != NULL && mkpd_app.flush_due()) {
			scoreboard_worker_set_state(w->a->sb, w->a->slot, SLOT_STORE);
			mkpd_app.idle();
			scoreboard_worker_set_state(w->a->sb, w->a->slot, SLOT_IDLE);
		}
		if (w->req.ipcFd >= 0) {
			worker_wait_kept(w);
			continue;
		}
		fd = accept4(w->a->lsn->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			worker_new_connection(w, fd);
			continue;
		}
		if (!worker_accept_failed(w))
			continue;
		if (mkpd_app.idle != NULL) {
			bool	store = mkpd_app.idle_pending != NULL && mkpd_app.idle_pending();

			if (store)
				scoreboard_worker_set_state(w->a->sb, w->a->slot, SLOT_STORE);
			mkpd_app.idle();
			if (store)
				scoreboard_worker_set_state(w->a->sb, w->a->slot, SLOT_IDLE);
		}
		access_flush(w);
		n = epoll_pwait(w->ep, &ev, 1, W_WAIT_MS, &child_wait_mask);
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		if (n == 0 && cfg->pm == PM_ONDEMAND &&
		    mono_ms() - w->idle_since >= cfg->idle_timeout * 1000)
			return "idle_timeout reached";
	}
}

/* SIGUSR2: request_terminate_timeout (see the top of the file). */
static void
worker_terminate_handler(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_handler = worker_on_terminate;
	sigaction(SIGUSR2, &sa, NULL);
}

static int
worker_epoll(const struct listener *lsn)
{
	struct epoll_event	ev;
	int			ep;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = lsn->fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lsn->fd, &ev) < 0) {
		if (errno != EINVAL)
			fatal("epoll_ctl");
		/* Kernel before 4.5: every idle worker wakes per connection. */
		ev.events = EPOLLIN;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lsn->fd, &ev) < 0)
			fatal("epoll_ctl");
	}
	return ep;
}

void
worker_main(const struct worker_args *a)
{
	struct worker	 w;
	char		 err[256];
	const char	*why;

	log_set_tag("worker %d", a->slot);
	child_signals();
	child_stdio();
	if (!priv_drop(a->priv, err, sizeof(err)))
		fatalx("cannot drop privileges: %s", err);
	scoreboard_worker_start(a->sb, a->slot, getpid());
	mkpd_observer.read = worker_read_done;
	mkpd_observer.named = worker_named;
	mkpd_worker_slot = a->slot;
	mkpd_observer.done = worker_done;

	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (!mkpd_app.init(a->cfg)) {
		log_error("the application failed to initialise");
		exit(1);
	}

	memset(&w, 0, sizeof(w));
	w.a = a;
	w.access_fd = -1;
	w.read_fd = -1;
	cur = &w;
	worker_access_open(&w);
	worker_abort_prepare();
	worker_terminate_handler();
	worker_read_timeout_handler();
	w.ep = worker_epoll(a->lsn);
	/* listen_sock -1: libfcgi must never accept by itself (see above). */
	if (FCGX_InitRequest(&w.req, -1, 0) != 0)
		fatalx("FCGX_InitRequest failed");
	w.idle_since = mono_ms();
	scoreboard_worker_set_state(a->sb, a->slot, SLOT_IDLE);
	log_debug("ready (generation %u)", a->generation);
	/* A reload while this worker started: it stops before its first call. */
	child_take_signals();

	why = worker_loop(&w);

	scoreboard_worker_set_state(a->sb, a->slot, SLOT_EXITING);
	log_info("exiting after %llu requests: %s", (unsigned long long)w.served, why);
	if (w.req.ipcFd >= 0)
		close(w.req.ipcFd);	/* a kept connection, between requests */
	mkpd_app.fini();
	access_flush(&w);
	if (w.access_fd >= 0)
		close(w.access_fd);
	buf_free(&w.access);
	buf_free(&line);
	close(w.ep);
	exit(0);
}
