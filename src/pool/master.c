/*
 * master.c: the pool's supervisor (see master.h for the signals).
 *
 * Shape: one loop around epoll_wait on the signal pipe (and, under
 * ondemand and dynamic while no worker is idle, on the listening socket),
 * waking at least once a second for maintenance. Signal handlers only write to the pipe; everything happens
 * here, in loop context.
 *
 * Generations. Every worker belongs to the generation of the config it was
 * started with; a successful reload makes a new generation. Pool sizing
 * (pm) only counts workers of the current generation that have not been
 * asked to quit. Older generations are retired once the current one has a
 * worker ready (IDLE or BUSY) and either all its first workers are ready
 * or five seconds have passed: each old worker gets SIGQUIT and finishes
 * the request it is serving. Nothing is dropped because every generation
 * shares the one listening socket: a connection waits in its backlog until
 * some worker accepts it. If the new generation never gets a worker ready
 * (its app init keeps failing), the old one keeps serving.
 *
 * Escalation. A worker asked to quit (retired, recycled by the pm, or at
 * stop) gets shutdown_timeout seconds, then SIGKILL. The jobs child gets
 * at least what its longest job may take (master_jobs_stop_ms): a hook
 * or a marketplace call killed half-way would run again after its lease,
 * perhaps on another host, while its first run may have done its work.
 *
 * Crash loops. An exit by a signal we did not send, or with a non-zero
 * status (a failed app init is exit 1), is abnormal. crash_threshold of
 * them within crash_interval seconds stop all spawning for crash_backoff
 * seconds; if it happens again within crash_interval of the end of the
 * last back-off, the back-off doubles (up to 5 minutes, or crash_backoff
 * if that is longer). A reload resets this.
 *
 * The jobs child (jobs_child.h) and the status child (status_child.h) are helpers
 * (helper.h), supervised beside the pool, not in it: no scoreboard slot,
 * no count in the pm, a respawn back-off of their own (the jobs child's
 * 1 s after a crash, doubling to a minute while it keeps dying young, so a
 * store that is down does not stop the workers from being respawned; the
 * status child's 1 s), replaced on reload, stopped like a worker. The
 * status child's two sockets (status_listen, control_socket) and the
 * socketpair it asks for reloads on are the master's, made at start, so
 * they outlive every status child; the other children close them.
 *
 * Pool sizing (pm = static | dynamic | ondemand) is pm.c's arithmetic over
 * the counts the master takes from the scoreboard.
 *
 * Request control (request_slowlog_timeout, request_terminate_timeout)
 * is watchdog.c's, once a tick, for every live worker.
 *
 * Invariants:
 * - m.ch[i].pid != 0 exactly while scoreboard slot i belongs to a live
 *   (not yet reaped) child; nchildren counts them.
 * - Only the master writes a free slot (claim before fork, release after
 *   waitpid); see scoreboard.h.
 * - Signals are blocked across fork, so a child never runs a master
 *   handler; the child resets them before it unblocks.
 */
#include <config.h>		/* autoconf: PACKAGE_VERSION */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "pool/worker_app.h"
#include "pool/helper.h"
#include "pool/jobs_child.h"
#include "pool/listener.h"
#include "pool/master.h"
#include "pool/pidfile.h"
#include "pool/pm.h"
#include "pool/priv.h"
#include "pool/scoreboard.h"
#include "pool/signals.h"
#include "pool/status_child.h"
#include "pool/watchdog.h"
#include "pool/worker.h"

#define M_TICK_MS		1000	/* maintenance period */
#define M_WATCH_MS		100	/* dynamic/ondemand: look for "all busy" */
#define M_FAST_POLL_MS		20	/* while workers start (not static) */
#define M_RELOAD_GRACE_MS	5000	/* longest wait for a new generation */
#define M_RELOAD_STUCK_MS	30000	/* warn when it has no ready worker */
#define M_WARN_EVERY_MS		10000	/* rate limit of repeated warnings */
#define M_BACKOFF_CAP_MS	300000	/* longest crash back-off */
#define M_SPAWN_BATCH		32	/* most forks per maintenance pass */
#define M_CRASH_RING		1000	/* >= crash_threshold's maximum */
#define M_JOBS_DELAY_MS		1000	/* first respawn delay of a crashed jobs child */
#define M_JOBS_DELAY_CAP_MS	60000	/* longest */
#define M_JOBS_HEALTHY_MS	60000	/* a jobs child that lived this long starts afresh */
#define M_JOBS_STOP_MARGIN_MS	5000	/* master_jobs_stop_ms: the store's share */
#define M_STATUS_DELAY_MS	1000	/* respawn delay of a crashed status child */

struct child {
	pid_t		 pid;		/* 0: this slot is free */
	uint32_t	 gen;
	int64_t		 spawned;	/* mono ms */
	int64_t		 quit_sent;	/* mono ms when sent SIGQUIT, 0 = not */
	bool		 killed;	/* we sent SIGKILL: its death is no crash */
	struct watchdog	 wd;		/* request control's */
};

enum master_state {
	MS_RUNNING,
	MS_STOPPING,		/* graceful: waiting for the workers */
	MS_DONE,		/* fast stop done, leave the loop */
};

static struct {
	struct config		*cfg;
	struct listener		*lsn;
	const struct priv	*priv;
	struct scoreboard	*sb;
	struct child		 ch[SCOREBOARD_SLOTS];
	int			 nchildren;
	uint32_t		 gen;
	pid_t			 pid;
	int			 ep;
	enum master_state	 state;
	bool			 lsn_polled;	/* listening socket is in ep */
	bool			 lsn_ready;	/* ... and was readable */

	bool			 reload_pending; /* older generations to retire */
	int64_t			 reload_at;
	bool			 reload_warned;

	int64_t			 crash_ring[M_CRASH_RING];
	int			 crash_len, crash_pos;
	int64_t			 backoff_until;	/* mono ms; spawning resumes then */
	int64_t			 backoff_ms;	/* length of the last back-off */
	bool			 backoff_over_logged;

	int64_t			 next_tick;
	int64_t			 last_retire;
	int64_t			 last_reached_warn;
	uint64_t		 reached_unwarned;
	int64_t			 last_noslot_warn;

	struct helper		 jobs;		/* the jobs child */
	struct helper		 status;	/* the status child */
	struct listener		 status_lsn;	/* fd -1: none */
	struct listener		 control_lsn;
	int			 chan[2];	/* [0] ours, [1] the status child's */
} m;

static void	master_spawn_n(int, int64_t);

static void
master_count(struct pm_counts *c)
{
	int	i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (m.ch[i].pid == 0 || m.ch[i].gen != m.gen || m.ch[i].quit_sent)
			continue;
		c->total++;
		switch (scoreboard_state(m.sb, i)) {
		case SLOT_STARTING:
			c->starting++;
			break;
		case SLOT_IDLE:
			c->idle++;
			break;
		case SLOT_BUSY:
			c->busy++;
			break;
		default:
			break;
		}
	}
}

static void
master_quit_child(int i, int64_t now)
{
	if (m.ch[i].quit_sent)
		return;
	m.ch[i].quit_sent = now;
	if (kill(m.ch[i].pid, SIGQUIT) < 0 && errno != ESRCH)
		log_warn("kill(%d, SIGQUIT): %s", (int)m.ch[i].pid, strerror(errno));
}

static void
master_kill_child(int i)
{
	m.ch[i].killed = true;
	if (kill(m.ch[i].pid, SIGKILL) < 0 && errno != ESRCH)
		log_warn("kill(%d, SIGKILL): %s", (int)m.ch[i].pid, strerror(errno));
}

/* Records an abnormal exit; may start a back-off. */
static void
master_crash(int64_t now)
{
	const struct config	*cfg = m.cfg;
	int64_t			 window = cfg->crash_interval * 1000, cap;
	int			 i, recent = 0, n = (int)cfg->crash_threshold;

	if (n == 0)
		return;		/* crash_threshold = 0: never back off */
	m.crash_ring[m.crash_pos] = now;
	m.crash_pos = (m.crash_pos + 1) % n;
	if (m.crash_len < n)
		m.crash_len++;
	for (i = 0; i < m.crash_len; i++)
		recent += now - m.crash_ring[i] < window;
	if (recent < n || now < m.backoff_until)
		return;
	cap = cfg->crash_backoff * 1000 > M_BACKOFF_CAP_MS ?
	    cfg->crash_backoff * 1000 : M_BACKOFF_CAP_MS;
	if (m.backoff_ms > 0 && now - m.backoff_until < window)
		m.backoff_ms = m.backoff_ms * 2 > cap ? cap : m.backoff_ms * 2;
	else
		m.backoff_ms = cfg->crash_backoff * 1000;
	m.backoff_until = now + m.backoff_ms;
	m.backoff_over_logged = false;
	log_error("%d abnormal worker exits within %llds: not starting workers "
	    "for %llds", recent, (long long)cfg->crash_interval,
	    (long long)(m.backoff_ms / 1000));
}

static void
master_crash_reset(void)
{
	m.crash_len = m.crash_pos = 0;
	m.backoff_until = m.backoff_ms = 0;
}

static void NORETURN
fork_worker(const void *args)
{
	worker_main(args);
}

static void NORETURN
fork_jobs(const void *args)
{
	jobs_main(args);
}

static void NORETURN
fork_status(const void *args)
{
	status_main(args);
}

/*
 * Forks a child of the master that runs fn(args) and never returns, with
 * signals blocked across the fork and the master's own descriptors (event
 * loop, pid file lock) closed in the child. Returns the pid, or -1 with
 * errno set.
 */
static pid_t
master_fork(void (*fn)(const void *), const void *args)
{
	sigset_t	saved;
	pid_t		pid;

	signals_block(&saved);
	pid = fork();
	if (pid == 0) {
		signals_child_reset();
		close(m.ep);
		pidfile_close_child();
		/* Only the status child keeps the status sockets. */
		if (fn != fork_status) {
			if (m.status_lsn.fd >= 0)
				close(m.status_lsn.fd);
			if (m.control_lsn.fd >= 0)
				close(m.control_lsn.fd);
			close(m.chan[0]);
			close(m.chan[1]);
		}
		fn(args);
		_exit(1);	/* fn never returns; never let a child go on as the master */
	}
	signals_restore(&saved);
	return pid;
}

static bool
master_spawn(int64_t now)
{
	struct worker_args	 args;
	pid_t			 pid;
	int			 slot;

	for (slot = 0; slot < SCOREBOARD_SLOTS && m.ch[slot].pid != 0; slot++)
		;
	if (slot == SCOREBOARD_SLOTS) {
		if (now - m.last_noslot_warn >= M_WARN_EVERY_MS) {
			m.last_noslot_warn = now;
			log_warn("all %d scoreboard slots in use (older generations "
			    "still finishing): waiting to start workers", SCOREBOARD_SLOTS);
		}
		return false;
	}
	scoreboard_slot_claim(m.sb, slot, m.gen);
	args.cfg = m.cfg;
	args.lsn = m.lsn;
	args.priv = m.priv;
	args.sb = m.sb;
	args.slot = slot;
	args.generation = m.gen;
	args.master = m.pid;

	pid = master_fork(fork_worker, &args);
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		scoreboard_slot_release(m.sb, slot);
		master_crash(now);	/* so a failing fork backs off too */
		return false;
	}
	m.ch[slot].pid = pid;
	m.ch[slot].gen = m.gen;
	m.ch[slot].spawned = now;
	m.ch[slot].quit_sent = 0;
	m.ch[slot].killed = false;
	m.nchildren++;
	log_info("worker %d started (pid %d, generation %u)", slot, (int)pid, m.gen);
	return true;
}

static void
master_spawn_n(int n, int64_t now)
{
	if (n > M_SPAWN_BATCH)
		n = M_SPAWN_BATCH;
	while (n-- > 0 && now >= m.backoff_until && master_spawn(now))
		;
}

/* Starts the jobs child when it should run and does not. */
static void
master_jobs_maintain(int64_t now)
{
	struct jobs_args	 args;

	if (m.state != MS_RUNNING || !m.cfg->jobs_enabled || !helper_due(&m.jobs, now))
		return;
	args.cfg = m.cfg;
	args.lsn = m.lsn;
	args.priv = m.priv;
	args.master = m.pid;
	helper_started(&m.jobs, master_fork(fork_jobs, &args), m.gen, now);
}

/* Whether a status child has anything to serve. */
static bool
master_status_wanted(void)
{
	return m.status_lsn.fd >= 0 || m.control_lsn.fd >= 0;
}

/* Starts the status child when there is one to run and none runs. */
static void
master_status_maintain(int64_t now)
{
	struct status_args	 args;

	if (m.state != MS_RUNNING || !master_status_wanted() || !helper_due(&m.status, now))
		return;
	memset(&args, 0, sizeof(args));
	args.cfg = m.cfg;
	args.lsn = m.lsn;
	args.priv = m.priv;
	args.sb = m.sb;
	args.status_fd = m.status_lsn.fd;
	args.control_fd = m.control_lsn.fd;
	args.chan = m.chan[1];
	args.master_chan = m.chan[0];
	args.master = m.pid;
	helper_started(&m.status, master_fork(fork_status, &args), m.gen, now);
}

static void
master_reaped(pid_t pid, int status, int64_t now)
{
	struct scoreboard_slot	 s;
	struct child		*c = NULL;
	unsigned long long	 reqs = 0;
	int			 i;

	if (helper_reaped(&m.jobs, pid, status, now) ||
	    helper_reaped(&m.status, pid, status, now))
		return;
	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (m.ch[i].pid == pid) {
			c = &m.ch[i];
			break;
		}
	}
	if (c == NULL) {
		log_debug("%s: reaped unknown child %d", __func__, (int)pid);
		return;
	}
	if (scoreboard_read(m.sb, i, &s))
		reqs = s.requests;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("worker %d exited (pid %d, generation %u, %llu requests)",
		    i, (int)pid, c->gen, reqs);
	} else if (c->wd.term_sent) {
		log_notice("worker %d ended by request_terminate_timeout (pid %d, "
		    "generation %u, %llu requests)", i, (int)pid, c->gen, reqs);
	} else if (WIFSIGNALED(status) && c->killed) {
		log_notice("worker %d killed (pid %d, generation %u, %llu requests)",
		    i, (int)pid, c->gen, reqs);
	} else {
		if (WIFSIGNALED(status))
			log_warn("worker %d died of signal %d (%s) (pid %d, "
			    "generation %u, %llu requests)%s", i, WTERMSIG(status),
			    strsignal(WTERMSIG(status)), (int)pid, c->gen, reqs,
			    WCOREDUMP(status) ? ", core dumped" : "");
		else
			log_warn("worker %d exited with status %d (pid %d, "
			    "generation %u, %llu requests)", i, WEXITSTATUS(status),
			    (int)pid, c->gen, reqs);
		if (c->gen == m.gen)
			master_crash(now);
	}
	scoreboard_slot_release(m.sb, i);
	memset(c, 0, sizeof(*c));
	m.nchildren--;
}

static void
master_reap(int64_t now)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_reaped(pid, status, now);
}

/* Asks every worker of an older generation to finish. */
static void
master_retire_old(const struct pm_counts *c, int64_t now)
{
	int	i, n = 0;

	if (c->idle + c->busy == 0) {
		if (!m.reload_warned && now - m.reload_at >= M_RELOAD_STUCK_MS) {
			m.reload_warned = true;
			log_warn("generation %u has no worker ready after %ds: "
			    "older generations keep serving", m.gen,
			    M_RELOAD_STUCK_MS / 1000);
		}
		return;
	}
	if (c->starting > 0 && now - m.reload_at < M_RELOAD_GRACE_MS)
		return;
	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (m.ch[i].pid != 0 && m.ch[i].gen != m.gen && !m.ch[i].quit_sent) {
			master_quit_child(i, now);
			n++;
		}
	}
	m.reload_pending = false;
	log_info("generation %u is serving: %d workers of older generations "
	    "asked to finish", m.gen, n);
}

/* The dynamic pm's retirement: the worker idle the longest. */
static void
master_retire_idle(int64_t now)
{
	struct scoreboard_slot	s;
	int64_t			oldest = INT64_MAX;
	int			i, pick = -1;

	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (m.ch[i].pid == 0 || m.ch[i].gen != m.gen || m.ch[i].quit_sent)
			continue;
		if (scoreboard_read(m.sb, i, &s) && s.state == SLOT_IDLE &&
		    s.idle_since_mono < oldest) {
			oldest = s.idle_since_mono;
			pick = i;
		}
	}
	if (pick < 0)
		return;
	m.last_retire = now;
	log_debug("%s: retiring idle worker %d", __func__, pick);
	master_quit_child(pick, now);
}

/* Pool sizing; runs on every loop iteration while running. */
static void
master_maintain(int64_t now)
{
	struct pm_counts	 c;
	struct pm_decision	 d;

	if (m.state != MS_RUNNING)
		return;
	master_jobs_maintain(now);
	master_status_maintain(now);
	master_count(&c);
	if (m.reload_pending)
		master_retire_old(&c, now);
	if (now < m.backoff_until)
		return;
	if (m.backoff_until != 0 && !m.backoff_over_logged) {
		m.backoff_over_logged = true;
		log_notice("crash back-off over: starting workers again");
	}
	d = pm_decide(m.cfg, &c, m.lsn_ready);
	if (d.retire && now - m.last_retire >= M_TICK_MS)
		master_retire_idle(now);
	if (d.start > 0)
		master_spawn_n(d.start, now);
}

/* Request control, for every live worker (of any generation). */
static void
master_requests(int64_t now)
{
	int	i;

	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (m.ch[i].pid != 0 && watchdog_check(m.cfg, m.sb, i, m.ch[i].pid,
		    m.ch[i].killed, &m.ch[i].wd, now))
			master_kill_child(i);
}

/*
 * How long a stopping jobs child may take: shutdown_timeout, or what its
 * longest job may need if that is more: a marketplace call to url and to
 * fallback_url, each within connect_timeout + timeout, then the hook
 * within hook_timeout, plus a margin for the store.
 */
static int64_t
master_jobs_stop_ms(const struct config *cfg)
{
	int64_t	 job = 2 * (cfg->mkt_connect_timeout + cfg->mkt_timeout) + cfg->hook_timeout +
		    M_JOBS_STOP_MARGIN_MS;

	return job > cfg->shutdown_timeout * 1000 ? job : cfg->shutdown_timeout * 1000;
}

/* Once a second: reap (a lost SIGCHLD), escalate, warn at max_children. */
static void
master_tick(int64_t now)
{
	const struct config	*cfg = m.cfg;
	struct pm_counts	 c;
	uint32_t		 queue, qlen;
	int			 i, busy;

	master_reap(now);
	for (i = 0; i < SCOREBOARD_SLOTS; i++) {
		if (m.ch[i].pid == 0 || !m.ch[i].quit_sent || m.ch[i].killed)
			continue;
		if (now - m.ch[i].quit_sent >= cfg->shutdown_timeout * 1000) {
			log_warn("worker %d (pid %d) still busy %llds after it was "
			    "asked to finish: killing it", i, (int)m.ch[i].pid,
			    (long long)cfg->shutdown_timeout);
			master_kill_child(i);
		}
	}
	helper_escalate(&m.jobs, now, master_jobs_stop_ms(cfg));
	helper_escalate(&m.status, now, cfg->shutdown_timeout * 1000);
	master_requests(now);
	if (m.state != MS_RUNNING)
		return;
	busy = 0;
	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		busy += m.ch[i].pid != 0 && scoreboard_state(m.sb, i) == SLOT_BUSY;
	if (!listener_queue(m.lsn, &queue, &qlen))
		queue = qlen = 0;
	scoreboard_sample(m.sb, queue, qlen, (uint32_t)busy);
	master_count(&c);
	if (c.total >= cfg->max_children && c.idle == 0 && c.starting == 0) {
		scoreboard_count_reached(m.sb, queue);
		m.reached_unwarned++;
		if (now - m.last_reached_warn >= M_WARN_EVERY_MS) {
			log_warn("max_children reached: all %lld workers busy, "
			    "%u connections waiting (%llu times since the last "
			    "warning); consider raising [pool] max_children",
			    (long long)cfg->max_children, queue,
			    (unsigned long long)m.reached_unwarned);
			m.last_reached_warn = now;
			m.reached_unwarned = 0;
		}
	}
}

static bool
master_reload(int64_t now)
{
	struct config	*fresh;
	enum log_level	 level;
	char		 err[1024], changed[512];
	int		 n;

	if (m.state != MS_RUNNING) {
		log_notice("reload ignored: stopping");
		return false;
	}
	log_notice("reloading %s", m.cfg->path);
	if ((fresh = config_load(m.cfg->path, err, sizeof(err))) == NULL) {
		log_error("reload failed: %s; keeping the running configuration", err);
		return false;
	}
	config_startup_changes(m.cfg, fresh, changed, sizeof(changed));
	if (changed[0] != '\0') {
		log_warn("reload: %s changed; startup-only, so this takes effect "
		    "at the next restart", changed);
		config_keep_startup(fresh, m.cfg);
	}
	if (strcmp(fresh->log_file, m.cfg->log_file) != 0) {
		if (!log_open(fresh->log_file)) {
			int saved = errno;

			(void)!log_open(m.cfg->log_file);
			log_error("reload failed: log_file %s: %s; keeping the "
			    "running configuration", fresh->log_file, strerror(saved));
			config_free(fresh);
			return false;
		}
		priv_chown_log(m.priv);
	}
	/*
	 * The app's check comes last: it takes the new master key, so nothing
	 * may fail after it and keep the old configuration.
	 */
	if (!mkpd_app.prepare(fresh, err, sizeof(err))) {
		if (strcmp(fresh->log_file, m.cfg->log_file) != 0)
			(void)!log_open(m.cfg->log_file);
		log_error("reload failed: %s: %s; keeping the running configuration",
		    fresh->path, err);
		config_free(fresh);
		return false;
	}
	if (log_level_parse(fresh->log_level, &level))
		log_set_level(level);

	priv_prepare_file(m.priv, fresh->access_log);
	priv_prepare_dir(m.priv, fresh->spool_dir);
	config_free(m.cfg);
	m.cfg = fresh;
	m.gen++;
	scoreboard_set_generation(m.sb, m.gen);
	scoreboard_set_limits(m.sb, m.cfg);
	master_crash_reset();
	m.reload_pending = true;
	m.reload_at = now;
	m.reload_warned = false;
	/* The jobs child finishes its job; the next one runs the new config. */
	helper_replace(&m.jobs, now);
	/* So does the status child, which reads the store with the new dsn. */
	helper_replace(&m.status, now);
	log_notice("reloaded: generation %u, pm=%s max_children=%lld", m.gen,
	    pm_mode_name(m.cfg->pm), (long long)m.cfg->max_children);
	/* Under ondemand one worker proves the new config before the old go. */
	n = pm_initial(m.cfg);
	master_spawn_n(n > 0 ? n : 1, now);
	return true;
}

static void
master_reopen_log(void)
{
	int	i;

	if (!log_reopen())
		log_error("cannot reopen the log file: %s", strerror(errno));
	else
		log_notice("log file reopened");
	priv_chown_log(m.priv);
	/* A rotated access log: made here, as root, for the workers to reopen. */
	priv_prepare_file(m.priv, m.cfg->access_log);
	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (m.ch[i].pid != 0)
			kill(m.ch[i].pid, SIGUSR1);
	helper_signal(&m.jobs, SIGUSR1);
	helper_signal(&m.status, SIGUSR1);
}

static void
master_stop(int64_t now)
{
	int	i;

	m.state = MS_STOPPING;
	log_notice("stopping: %d workers finish their requests "
	    "(at most %llds)", m.nchildren, (long long)m.cfg->shutdown_timeout);
	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (m.ch[i].pid != 0)
			master_quit_child(i, now);
	helper_quit(&m.jobs, now);
	helper_quit(&m.status, now);
}

static void
master_fast_stop(void)
{
	pid_t	pid;
	int	i, status;

	log_notice("stopping now: killing %d workers", m.nchildren);
	for (i = 0; i < SCOREBOARD_SLOTS; i++)
		if (m.ch[i].pid != 0)
			master_kill_child(i);
	helper_kill(&m.jobs);
	helper_kill(&m.status);
	while (m.nchildren > 0 || m.jobs.pid != 0 || m.status.pid != 0) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			log_error("waitpid: %s", strerror(errno));
			break;
		}
		master_reaped(pid, status, mono_ms());
	}
	m.state = MS_DONE;
}

static void
master_signals(int64_t now)
{
	int	sig;

	while ((sig = signals_next()) != 0 && m.state != MS_DONE) {
		switch (sig) {
		case SIGCHLD:
			master_reap(now);
			break;
		case SIGHUP:
			(void)master_reload(now);
			break;
		case SIGUSR1:
			master_reopen_log();
			break;
		case SIGUSR2:
			log_notice("SIGUSR2 ignored (SIGHUP reloads)");
			break;
		case SIGTERM:
			if (m.state == MS_STOPPING)
				master_fast_stop();
			else
				master_stop(now);
			break;
		case SIGQUIT:
			if (m.state == MS_RUNNING)
				master_stop(now);
			break;
		case SIGINT:
			master_fast_stop();
			break;
		}
	}
}

/*
 * Under ondemand and dynamic, watch the socket while no worker could take
 * a connection, so one is started as soon as a connection waits rather
 * than at the next tick.
 */
static void
master_poll_listener(int64_t now)
{
	struct epoll_event	ev;
	struct pm_counts	c;
	bool			want = false;

	if (m.state == MS_RUNNING && m.cfg->pm != PM_STATIC && now >= m.backoff_until) {
		master_count(&c);
		want = pm_watch(m.cfg, &c);
	}
	if (want == m.lsn_polled)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = m.lsn->fd;
	if (epoll_ctl(m.ep, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, m.lsn->fd, &ev) < 0)
		fatal("epoll_ctl on the listening socket");
	m.lsn_polled = want;
}

/* The status child asks for a reload: do it and say how it went. */
static void
master_chan(int64_t now)
{
	char	c;
	ssize_t	n;

	while ((n = read(m.chan[0], &c, 1)) == 1) {
		if (c != STATUS_CHAN_RELOAD)
			continue;
		c = master_reload(now) ? STATUS_CHAN_OK : STATUS_CHAN_FAILED;
		if (write(m.chan[0], &c, 1) != 1)
			log_warn("cannot answer the status child: %s", strerror(errno));
	}
}

/*
 * Binds status_listen and control_socket (as root, before any fork), and
 * the socketpair the status child asks for reloads on.
 */
static void
master_status_open(void)
{
	struct epoll_event	ev;
	char			err[512];

	m.status_lsn.fd = m.control_lsn.fd = -1;
	if (m.cfg->status_listen[0] != '\0' &&
	    !listener_open_extra(m.cfg, m.cfg->status_listen, false, &m.status_lsn,
	    err, sizeof(err)))
		fatalx("status_listen %s", err);
	if (m.cfg->control_socket[0] != '\0' &&
	    !listener_open_extra(m.cfg, m.cfg->control_socket, true, &m.control_lsn,
	    err, sizeof(err)))
		fatalx("control_socket %s", err);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m.chan) < 0)
		fatal("socketpair");
	/* Ours never blocks the loop; the child waits on its end with poll. */
	if (fcntl(m.chan[0], F_SETFL, fcntl(m.chan[0], F_GETFL) | O_NONBLOCK) < 0)
		fatal("fcntl");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = m.chan[0];
	if (epoll_ctl(m.ep, EPOLL_CTL_ADD, m.chan[0], &ev) < 0)
		fatal("epoll_ctl");
}

static void
master_status_close(void)
{
	listener_close(&m.status_lsn);
	listener_close(&m.control_lsn);
	close(m.chan[0]);
	close(m.chan[1]);
}

static int
master_timeout(int64_t now)
{
	struct pm_counts	c;
	int64_t			t = m.next_tick - now;

	if (t < 0)
		t = 0;
	if (m.state != MS_RUNNING)
		return (int)t;
	if (m.backoff_until > now && m.backoff_until - now < t)
		t = m.backoff_until - now;
	if (m.cfg->jobs_enabled)
		t = helper_wait(&m.jobs, now, t);
	if (master_status_wanted())
		t = helper_wait(&m.status, now, t);
	/*
	 * Nothing wakes us when the last idle worker turns busy, so a
	 * variable pool looks ten times a second; that costs a scan of the
	 * scoreboard, against a burst waiting up to a second.
	 */
	if (m.cfg->pm != PM_STATIC && t > M_WATCH_MS)
		t = M_WATCH_MS;
	if (m.cfg->pm != PM_STATIC || m.reload_pending) {
		master_count(&c);
		if (c.starting > 0 && t > M_FAST_POLL_MS)
			t = M_FAST_POLL_MS;
	}
	return (int)t;
}

int
master_run(struct config *cfg, struct listener *lsn, const struct priv *priv)
{
	struct epoll_event	ev, evs[4];
	char			err[256];
	int64_t			now;
	int			n, i;

	memset(&m, 0, sizeof(m));
	m.jobs.name = "jobs child";
	m.jobs.delay_ms = M_JOBS_DELAY_MS;
	m.jobs.delay_cap_ms = M_JOBS_DELAY_CAP_MS;
	m.jobs.healthy_ms = M_JOBS_HEALTHY_MS;
	m.status.name = "status child";
	m.status.delay_ms = m.status.delay_cap_ms = M_STATUS_DELAY_MS;
	m.cfg = cfg;
	m.lsn = lsn;
	m.priv = priv;
	m.pid = getpid();
	m.gen = 1;
	m.state = MS_RUNNING;
	if ((m.sb = scoreboard_create()) == NULL)
		fatal("scoreboard");
	scoreboard_set_generation(m.sb, m.gen);
	scoreboard_set_limits(m.sb, m.cfg);
	if (!signals_init(err, sizeof(err)))
		fatalx("signals: %s", err);
	if ((m.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = signals_fd();
	if (epoll_ctl(m.ep, EPOLL_CTL_ADD, signals_fd(), &ev) < 0)
		fatal("epoll_ctl");
	master_status_open();
	priv_prepare_file(m.priv, m.cfg->access_log);
	priv_prepare_dir(m.priv, m.cfg->spool_dir);

	log_notice("mkpd %s started: pm=%s max_children=%lld listen=%s",
	    PACKAGE_VERSION, pm_mode_name(cfg->pm), (long long)cfg->max_children,
	    lsn->desc);
	now = mono_ms();
	master_spawn_n(pm_initial(cfg), now);
	m.next_tick = now + M_TICK_MS;

	while (m.state != MS_DONE) {
		now = mono_ms();
		master_maintain(now);
		if (m.state == MS_STOPPING && m.nchildren == 0 && m.jobs.pid == 0 &&
		    m.status.pid == 0)
			break;
		master_poll_listener(now);
		n = epoll_wait(m.ep, evs, (int)NELEM(evs), master_timeout(now));
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		now = mono_ms();
		m.lsn_ready = false;
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == signals_fd())
				master_signals(now);
			else if (evs[i].data.fd == m.lsn->fd)
				m.lsn_ready = true;
			else if (evs[i].data.fd == m.chan[0] && m.state != MS_DONE)
				master_chan(now);
		}
		if (now >= m.next_tick && m.state != MS_DONE) {
			m.next_tick = now + M_TICK_MS;
			master_tick(now);
		}
	}

	log_notice("stopped");
	master_status_close();
	close(m.ep);
	scoreboard_destroy(m.sb);
	config_free(m.cfg);
	m.cfg = NULL;
	return 0;
}
