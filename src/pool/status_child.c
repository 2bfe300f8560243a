/*
 * status_child.c: the status child (see status_child.h).
 *
 * One connection at a time, in one loop: the page is rendered from
 * memory in microseconds, so serialising is simpler than it is slow. The
 * store's figures are never fetched on the page's path: a thread of their
 * own (the child's only other one) queries the store once a second on its
 * own connection, bounded (500 ms statement_timeout, a round trip given up
 * after 1 s, connect_timeout per host), and leaves the last outcome in a
 * cache under a mutex; the page shows that cache, so a store that hangs or
 * a host that does not answer a connect never delays it. Every
 * accepted connection gets send and receive timeouts, so a client that
 * stalls holds the child for STATUS_IO_MS at most.
 *
 * Signals as in a worker: blocked while a request is served, taken in the
 * wait (ppoll with child_wait_mask).
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first, PACKAGE_VERSION */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "pool/child.h"
#include "pool/listener.h"
#include "pool/priv.h"
#include "pool/scoreboard.h"
#include "pool/status_child.h"
#include "pool/status_fmt.h"
#include "store/status_store.h"

#define STATUS_WAIT_MS		1000	/* longest wait before checking flags */
#define STATUS_IO_MS		2000	/* a client's longest stall */
#define STATUS_DB_TIMEOUT_MS	500	/* the store query's statement_timeout */
#define STATUS_RELOAD_MS	60000	/* longest wait for the master's answer */
#define STATUS_REFRESH_MS	1000	/* the store figures' refresh interval */

static const struct db_stmt *const status_stmts[] = { status_store_stmts, NULL };

static struct {
	const struct status_args *a;
	struct db		*db;
	struct listener		 lsn;		/* the pool's, to read its queue live */
	struct status_worker	 w[SCOREBOARD_SLOTS];
	long			 page_kb;
	char			 host[256];
	char			 store_error[160];	/* the page's copy of cache's */
} st;

/*
 * The store figures and the store's health, written by the refresh thread
 * (the only user of st.db), read by the page and /-/ping under mu: neither
 * ever waits for the store.
 */
static struct {
	pthread_mutex_t		 mu;
	struct store_figures	 f;		/* the last attempt's (-1: failed) */
	int			 store_up;		/* STATUS_UNKNOWN until asked */
	int64_t			 store_down_since;	/* epoch ms; 0 while up */
	char			 store_error[160];	/* the last failure; "" none */
	int64_t			 store_error_wall;
} cache = { .mu = PTHREAD_MUTEX_INITIALIZER, .store_up = STATUS_UNKNOWN };

/*
 * Notes the outcome of a refresh (mu held): a failure starts (or
 * continues) an outage and is remembered with its reason; a success ends
 * it. The reason stays shown after recovery, with its time, for whoever
 * looks later.
 */
static void
status_store_outcome(bool ok)
{
	if (ok) {
		if (cache.store_up == 0)
			log_notice("store: answering again");
		cache.store_up = 1;
		cache.store_down_since = 0;
		return;
	}
	if (cache.store_up != 0) {
		cache.store_down_since = now_ms();
		log_warn("store: not answering: %s", db_errmsg(st.db));
	}
	cache.store_up = 0;
	cache.store_error_wall = now_ms();
	snprintf(cache.store_error, sizeof(cache.store_error), "%s%s%s", db_sqlstate(st.db),
	    db_sqlstate(st.db)[0] != '\0' ? " " : "", db_errmsg(st.db));
}

/* The store's figures go to the page as they are. */
_Static_assert(STORE_FIGURE_UNKNOWN == STATUS_UNKNOWN, "one value for unknown");

/* The bytes of the workers' spool files (store/spool.h), -1 if unreadable. */
static int64_t
spool_bytes(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 sb;
	int64_t		 total = 0;
	size_t		 n;

	if (dir[0] == '\0')
		return 0;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : STATUS_UNKNOWN;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n > 6 && strcmp(e->d_name + n - 6, ".spool") == 0 &&
		    fstatat(dirfd(d), e->d_name, &sb, 0) == 0)
			total += sb.st_size;
	}
	closedir(d);
	return total;
}

/* The refresh thread: owns st.db; never returns (the process exits). */
static void *
status_refresh(void *arg)
{
	struct timespec		 ts = { STATUS_REFRESH_MS / 1000,
				    (STATUS_REFRESH_MS % 1000) * 1000000L };
	struct store_figures	 f;
	int64_t			 logged_sync = -2, logged_standbys = -2;
	bool			 ok;

	(void)arg;
	for (;;) {
		ok = status_store_figures(st.db, &f);
		/* What an acknowledged call survives: said at start and on change. */
		if (f.sync_commit >= 0 && (f.sync_commit != logged_sync ||
		    (f.sync_standbys != 0) != (logged_standbys != 0))) {
			status_store_log_durability(&f);
			logged_sync = f.sync_commit;
			logged_standbys = f.sync_standbys;
		}
		pthread_mutex_lock(&cache.mu);
		cache.f = f;
		status_store_outcome(ok);
		pthread_mutex_unlock(&cache.mu);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void
status_refresh_start(void)
{
	pthread_t	 t;
	sigset_t	 all, old;
	int		 e;

	status_store_unknown(&cache.f);
	/* The thread takes no signal: they are the main loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&t, NULL, status_refresh, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		fatalx("pthread_create: %s", strerror(e));
	pthread_detach(t);
}

static int64_t
rss_kb(pid_t pid)
{
	char		 path[64];
	FILE		*f;
	long long	 size, rss;
	int		 n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return STATUS_UNKNOWN;
	n = fscanf(f, "%lld %lld", &size, &rss);
	fclose(f);
	return n == 2 ? rss * st.page_kb : STATUS_UNKNOWN;
}

/* Takes the figures now; full reads every worker's /proc entry too. */
static void
status_collect(struct pool_status *ps, bool full)
{
	struct scoreboard_totals t;
	struct scoreboard_slot	 s;
	struct store_figures	 f;
	int64_t			 mono = mono_ms();
	uint32_t		 q, qlen;
	int			 i;

	memset(ps, 0, sizeof(*ps));
	scoreboard_totals(st.a->sb, &t);
	ps->pool = "mkpd";
	ps->version = PACKAGE_VERSION;
	ps->now_wall = now_ms();
	ps->start_wall = t.started_wall;
	ps->generation = t.generation;
	ps->accepted = t.accepted;
	ps->listen_queue = t.listen_queue;
	ps->listen_queue_max = t.listen_queue_max;
	ps->listen_queue_len = t.listen_queue_len;
	/* Live when the kernel says; the master's once-a-second sample else. */
	if (st.lsn.fd >= 0 && listener_queue(&st.lsn, &q, &qlen)) {
		ps->listen_queue = q;
		ps->listen_queue_len = qlen;
		if (q > ps->listen_queue_max)
			ps->listen_queue_max = q;
	}
	ps->max_active = t.max_active;
	ps->max_children_reached = t.max_children_reached;
	ps->reached_last_wall = t.reached_last_wall;
	ps->reached_last_queue = t.reached_last_queue;
	ps->slow_requests = t.slow_requests;
	ps->terminated = t.terminated;
	ps->pm = pm_mode_name((enum pm_mode)t.pm);
	ps->max_children = t.max_children;
	ps->start_servers = t.start_servers;
	ps->min_spare = t.min_spare;
	ps->max_spare = t.max_spare;
	ps->max_requests = (int64_t)t.max_requests;
	pthread_mutex_lock(&cache.mu);
	f = cache.f;
	ps->store_up = cache.store_up;
	ps->store_down_since_wall = cache.store_down_since;
	(void)!str_copy(st.store_error, sizeof(st.store_error), cache.store_error);
	ps->store_error_wall = cache.store_error_wall;
	pthread_mutex_unlock(&cache.mu);
	ps->host = st.host;
	ps->store_error = st.store_error;
	ps->usage_failed = f.usage_failed;
	ps->usage_failed_oldest_wall = f.usage_failed_oldest_wall;
	ps->jobs_backlog = f.jobs_backlog;
	ps->usage_pending = f.usage_pending;
	ps->usage_at_risk = f.usage_at_risk;
	ps->usage_last_push_wall = f.usage_last_push_wall;
	ps->packages_low = f.packages_low;
	ps->packages_used_up = f.packages_used_up;
	ps->sync_standbys = f.sync_standbys;
	ps->sync_commit = f.sync_commit;
	ps->spool_bytes = spool_bytes(st.a->cfg->spool_dir);
	ps->full = full;
	ps->workers = st.w;
	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		struct status_worker	*w = &st.w[ps->nworkers];

		if (!scoreboard_read(st.a->sb, i, &s) || s.state == SLOT_FREE)
			continue;
		ps->total++;
		ps->idle += s.state == SLOT_IDLE;
		ps->active += s.state == SLOT_BUSY;
		ps->store_waits += s.state == SLOT_STORE;
		if (!full)
			continue;
		memset(w, 0, sizeof(*w));
		w->slot = i;
		w->pid = s.pid;
		w->state = scoreboard_state_name(s.state);
		w->generation = s.generation;
		w->requests = s.requests;
		w->started_wall = s.started_wall;
		w->request_ms = s.state == SLOT_BUSY ? mono - s.req_start_mono : -1;
		w->last_request_ms = s.last_req_ms;
		w->rss_kb = s.pid > 0 ? rss_kb(s.pid) : STATUS_UNKNOWN;
		memcpy(w->dialect, s.dialect, sizeof(w->dialect));
		memcpy(w->activity, s.activity, sizeof(w->activity));
		memcpy(w->ids, s.ids, sizeof(w->ids));
		memcpy(w->remote, s.remote, sizeof(w->remote));
		ps->nworkers++;
	}
	if ((uint32_t)ps->active > ps->max_active)
		ps->max_active = (uint32_t)ps->active;
}

static void
status_render_now(const char *query, struct buf *out, const char **ctype)
{
	struct pool_status	ps;
	enum status_format	fmt;
	bool			full;

	status_query(query, &fmt, &full);
	status_collect(&ps, full);
	status_render(&ps, fmt, out);
	*ctype = status_content_type(fmt);
}

static void
status_timeouts(int fd)
{
	struct timeval	tv = { STATUS_IO_MS / 1000, (STATUS_IO_MS % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- FastCGI: /-/status and /-/ping ----------------------------------- */

static void
status_fcgi(int fd)
{
	FCGX_Request	 req;
	struct buf	 body = BUF_INIT, head = BUF_INIT;
	const char	*path, *query, *ctype = "text/plain; charset=utf-8";
	char		 pbuf[64];
	int		 code = 200, rc;

	if (FCGX_InitRequest(&req, -1, 0) != 0) {
		close(fd);
		return;
	}
	req.ipcFd = fd;
	req.keepConnection = 1;
	if ((rc = FCGX_Accept_r(&req)) < 0) {
		log_debug("%s: no complete request (%d)", __func__, rc);
		FCGX_Free(&req, 1);
		return;
	}
	/* As request.c: DOCUMENT_URI (nginx), else REQUEST_URI less its query (Apache). */
	if ((path = FCGX_GetParam("DOCUMENT_URI", req.envp)) == NULL || *path == '\0') {
		if ((path = FCGX_GetParam("REQUEST_URI", req.envp)) == NULL)
			path = "";
		(void)!str_copy(pbuf, sizeof(pbuf), path);
		pbuf[strcspn(pbuf, "?")] = '\0';
		path = pbuf;
	}
	if ((query = FCGX_GetParam("QUERY_STRING", req.envp)) == NULL)
		query = "";
	if (strcmp(path, "/-/ping") == 0) {
		/*
		 * pong only when a request could be served: the store answered
		 * the refresh thread's last query (at most a second ago, or
		 * its time-out).
		 */
		pthread_mutex_lock(&cache.mu);
		if (cache.store_up == 1)
			buf_puts(&body, "pong\n");
		else {
			code = 503;
			buf_printf(&body, "store %s%s\n", cache.store_up == 0 ? "down: " :
			    "not checked yet", cache.store_up == 0 ? cache.store_error : "");
		}
		pthread_mutex_unlock(&cache.mu);
	} else if (strcmp(path, "/-/status") == 0) {
		status_render_now(query, &body, &ctype);
	} else {
		code = 404;
		buf_puts(&body, "not found\n");
	}
	/* libfcgi's own printf knows no %zu: format here. */
	buf_printf(&head, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n\r\n", code, code == 200 ? "OK" :
	    code == 503 ? "Service Unavailable" : "Not Found",
	    ctype, body.len);
	if (FCGX_PutStr(head.data, (int)head.len, req.out) < 0 ||
	    FCGX_PutStr(body.data, (int)body.len, req.out) < 0)
		log_debug("%s: the client went away", __func__);
	/* Not kept: the next connection may come from anywhere. */
	req.keepConnection = 0;
	FCGX_Finish_r(&req);
	FCGX_Free(&req, 1);
	buf_free(&body);
	buf_free(&head);
}

/* ---- control socket: mkpctl ------------------------------------------- */

static bool
status_write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Asks the master to reload; writes the outcome to out. */
static void
status_reload(struct buf *out)
{
	struct pollfd	 pfd = { .fd = st.a->chan, .events = POLLIN };
	struct scoreboard_totals t;
	char		 c = STATUS_CHAN_RELOAD;
	int		 n;

	if (write(st.a->chan, &c, 1) != 1) {
		buf_printf(out, "reload failed: cannot reach the master: %s\n", strerror(errno));
		return;
	}
	n = poll(&pfd, 1, STATUS_RELOAD_MS);
	if (n <= 0 || read(st.a->chan, &c, 1) != 1) {
		buf_puts(out, "reload failed: the master did not answer\n");
		return;
	}
	if (c != STATUS_CHAN_OK) {
		buf_puts(out, "reload failed: the configuration was refused (see the log); "
		    "the running one is kept\n");
		return;
	}
	scoreboard_totals(st.a->sb, &t);
	buf_printf(out, "reloaded: generation %u\n", t.generation);
}

static void
status_control(int fd)
{
	char		 line[256], *p, *word;
	struct buf	 out = BUF_INIT, query = BUF_INIT;
	const char	*ctype;
	size_t		 len = 0;
	ssize_t		 n;

	/* One line, at most sizeof(line) - 1 bytes. */
	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	line[len] = '\0';
	if ((p = strchr(line, '\n')) != NULL)
		*p = '\0';
	p = line;
	word = strsep(&p, " ");
	if (strcmp(word, "status") == 0) {
		/* The remaining words are the query: "json full" -> "json&full". */
		while (p != NULL && (word = strsep(&p, " ")) != NULL)
			if (*word != '\0')
				buf_printf(&query, "%s%s", query.len ? "&" : "", word);
		status_render_now(buf_cstr(&query), &out, &ctype);
	} else if (strcmp(word, "reload") == 0) {
		log_notice("reload asked on the control socket");
		status_reload(&out);
	} else if (strcmp(word, "ping") == 0) {
		buf_puts(&out, "pong\n");
	} else {
		buf_puts(&out, "error: unknown request (status, reload, ping)\n");
	}
	if (!status_write_all(fd, out.data, out.len))
		log_debug("%s: the client went away: %s", __func__, strerror(errno));
	close(fd);
	buf_free(&out);
	buf_free(&query);
}

static void
status_accept(int lfd, void (*serve)(int))
{
	int	fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	status_timeouts(fd);
	serve(fd);
}

static const char *
status_loop(void)
{
	const struct status_args *a = st.a;
	struct pollfd		 pfd[2];
	struct timespec		 ts = { STATUS_WAIT_MS / 1000, 0 };
	const char		*why;
	int			 n;

	for (;;) {
		if ((why = child_tick(a->master)) != NULL)
			return why;
		pfd[0].fd = a->status_fd;
		pfd[1].fd = a->control_fd;
		pfd[0].events = pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		n = ppoll(pfd, 2, &ts, &child_wait_mask);
		if (n < 0 && errno != EINTR)
			fatal("ppoll");
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			status_accept(a->status_fd, status_fcgi);
		if (pfd[1].revents & POLLIN)
			status_accept(a->control_fd, status_control);
	}
}

void
status_main(const struct status_args *a)
{
	struct db_params p;
	char		 err[256];
	const char	*why;

	log_set_tag("status");
	if (prctl(PR_SET_NAME, "mkpd-status", 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_NAME): %s", strerror(errno));
	child_signals();
	/* A copy above stdio (the socket may be fd 0), only to read its queue. */
	st.lsn = *a->lsn;
	st.lsn.unix_path[0] = '\0';	/* never ours to remove */
	st.lsn.fd = fcntl(a->lsn->fd, F_DUPFD_CLOEXEC, 3);
	close(a->lsn->fd);
	close(a->master_chan);
	child_stdio();
	if (!priv_drop(a->priv, err, sizeof(err)))
		fatalx("cannot drop privileges: %s", err);
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	st.a = a;
	st.page_kb = sysconf(_SC_PAGESIZE) / 1024;
	if (gethostname(st.host, sizeof(st.host) - 1) < 0)
		(void)!str_copy(st.host, sizeof(st.host), "-");
	db_params_from_config(a->cfg, &p);
	p.statement_timeout = STATUS_DB_TIMEOUT_MS;
	p.response_timeout = STATUS_DB_TIMEOUT_MS + 500;
	st.db = db_new(a->cfg->dsn, &p, "mkpd-status", status_stmts);
	status_refresh_start();
	log_info("ready");
	why = status_loop();
	log_info("exiting: %s", why);
	/* st.db is the refresh thread's, which may be using it: not freed. */
	exit(0);
}
