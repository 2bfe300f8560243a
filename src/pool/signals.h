/*
 * signals.h: the master's signals, turned into bytes on a self-pipe.
 *
 * The handlers do one thing: write the signal number (one byte) to a
 * non-blocking pipe, saving errno. The master's loop waits on the read end
 * with epoll and acts on each byte in order (HUP reload, TERM/QUIT
 * graceful stop, INT or a second TERM fast stop, USR1 reopen logs, CHLD
 * reap). One byte per delivery keeps repeats countable: two TERMs are a
 * fast stop even if they arrive within one loop iteration.
 */
#ifndef MKP_POOL_SIGNALS_H
#define MKP_POOL_SIGNALS_H

#include <signal.h>
#include <stddef.h>

#include "common/defs.h"

/* Creates the pipe and installs the handlers; SIGPIPE is ignored. */
bool	 signals_init(char *err, size_t errlen) MUSTCHECK;
/* The pipe's read end, for epoll. */
int	 signals_fd(void);
/* The next signal received, or 0 when the pipe is empty. */
int	 signals_next(void);
/* Blocks every signal (around fork); *saved receives the previous mask. */
void	 signals_block(sigset_t *saved);
void	 signals_restore(const sigset_t *saved);
/*
 * In a child, right after fork and with signals still blocked: restores
 * the default disposition of every signal the master handles and closes
 * the pipe. The child installs its own handlers, then unblocks.
 */
void	 signals_child_reset(void);

#endif
