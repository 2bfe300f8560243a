/*
 * child.h: what every child of the master (a worker, the jobs child) sets
 * up the same way: its signals and its standard streams.
 *
 * SIGQUIT and SIGTERM ask for a graceful stop (child_quit), SIGUSR1 for a
 * log reopen (child_reopen); the handlers only set these flags. While the
 * child works the three are blocked (child_run_mask) and they are let in
 * only while it waits (ppoll/epoll_pwait with child_wait_mask), so the work
 * never sees EINTR from them. SIGHUP and SIGPIPE are ignored.
 */
#ifndef MKP_CHILD_H
#define MKP_CHILD_H

#include <signal.h>
#include <sys/types.h>

extern volatile sig_atomic_t	child_quit;
extern volatile sig_atomic_t	child_reopen;
extern sigset_t			child_run_mask;
extern sigset_t			child_wait_mask;

/* Installs the handlers and blocks child_run_mask (from the all-blocked fork). */
void	 child_signals(void);
/* Lets signals that arrived while working run their handlers now. */
void	 child_take_signals(void);
/* stdin and stdout to /dev/null, stderr to the log, for stray output. */
void	 child_stdio(void);
/* Reopens the log (SIGUSR1, after logrotate) and clears child_reopen. */
void	 child_reopen_log(void);
/*
 * Once per turn of a helper child's loop (jobs, status): takes the signals
 * that came since the last wait (a reload's SIGQUIT may come while the
 * child still connects, before its first wait), reopens the log when
 * asked; returns why the child must stop (asked to, or its master is
 * gone), NULL to go on.
 */
const char *child_tick(pid_t master);

#endif
