/*
 * signals.c: the master's self-pipe (see signals.h).
 *
 * Why a pipe and not flags: the loop sleeps in epoll_wait, and a byte on a
 * pipe both wakes it and says which signal came, with no race between
 * testing a flag and going to sleep. Why not signalfd: it needs the
 * signals blocked, and a blocked mask is inherited across fork and exec,
 * which is easy to get wrong for the workers and anything the app runs.
 *
 * Invariant: the handler touches only the pipe and errno (both
 * async-signal-safe). If the pipe were ever full (64 KiB of undrained
 * signals) a byte would be lost; the master drains it every iteration and
 * also reaps children on every tick, so a lost SIGCHLD costs at most a
 * second.
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pool/signals.h"

static int	sig_pipe[2] = { -1, -1 };

static const int sig_handled[] = {
	SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD,
};

static void
signals_handler(int signo)
{
	unsigned char	b = (unsigned char)signo;
	int		saved = errno;

	(void)!write(sig_pipe[1], &b, 1);
	errno = saved;
}

bool
signals_init(char *err, size_t errlen)
{
	struct sigaction	sa;
	size_t			i;

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return false;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = signals_handler;
	for (i = 0; i < sizeof(sig_handled) / sizeof(sig_handled[0]); i++) {
		sa.sa_flags = SA_RESTART | (sig_handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
		if (sigaction(sig_handled[i], &sa, NULL) < 0) {
			snprintf(err, errlen, "sigaction: %s", strerror(errno));
			return false;
		}
	}
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	if (sigaction(SIGPIPE, &sa, NULL) < 0) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		return false;
	}
	return true;
}

int
signals_fd(void)
{
	return sig_pipe[0];
}

int
signals_next(void)
{
	unsigned char	b;
	ssize_t		n;

	do {
		n = read(sig_pipe[0], &b, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? b : 0;
}

void
signals_block(sigset_t *saved)
{
	sigset_t	all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, saved);
}

void
signals_restore(const sigset_t *saved)
{
	sigprocmask(SIG_SETMASK, saved, NULL);
}

void
signals_child_reset(void)
{
	struct sigaction	sa;
	size_t			i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < sizeof(sig_handled) / sizeof(sig_handled[0]); i++)
		sigaction(sig_handled[i], &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
}
