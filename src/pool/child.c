/*
 * child.c: signals and standard streams of the master's children (see
 * child.h), shared by the workers and the jobs child.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "pool/child.h"

volatile sig_atomic_t	child_quit;
volatile sig_atomic_t	child_reopen;
sigset_t		child_run_mask;
sigset_t		child_wait_mask;

static void
child_on_quit(int signo)
{
	(void)signo;
	child_quit = 1;
}

static void
child_on_usr1(int signo)
{
	(void)signo;
	child_reopen = 1;
}

void
child_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* SA_RESTART: libfcgi fails a request on an interrupted read. */
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = child_on_quit;
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = child_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);

	sigemptyset(&child_wait_mask);
	sigemptyset(&child_run_mask);
	sigaddset(&child_run_mask, SIGQUIT);
	sigaddset(&child_run_mask, SIGTERM);
	sigaddset(&child_run_mask, SIGUSR1);
	/* From all-blocked (as forked) to the working mask. */
	sigprocmask(SIG_SETMASK, &child_run_mask, NULL);
}

void
child_take_signals(void)
{
	sigset_t	pending;

	if (sigpending(&pending) == 0 && (sigismember(&pending, SIGQUIT) ||
	    sigismember(&pending, SIGTERM) || sigismember(&pending, SIGUSR1))) {
		sigprocmask(SIG_SETMASK, &child_wait_mask, NULL);
		sigprocmask(SIG_SETMASK, &child_run_mask, NULL);
	}
}

void
child_stdio(void)
{
	int	fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (log_fd() != STDERR_FILENO)
		dup2(log_fd(), STDERR_FILENO);
}

void
child_reopen_log(void)
{
	child_reopen = 0;
	if (!log_reopen())
		log_warn("cannot reopen the log file: %s (still writing to the old one)",
		    strerror(errno));
	else if (log_fd() != STDERR_FILENO)
		dup2(log_fd(), STDERR_FILENO);
}

const char *
child_tick(pid_t master)
{
	/* A stop asked for while the child started (or worked) counts now. */
	child_take_signals();
	if (child_reopen)
		child_reopen_log();
	if (child_quit)
		return "asked to stop";
	if (getppid() != master)
		return "the master is gone";
	return NULL;
}
