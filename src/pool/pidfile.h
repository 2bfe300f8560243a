/*
 * pidfile.h: the master's pid file.
 *
 * The file is opened O_NOFOLLOW and held under an exclusive flock(2) for
 * the master's whole life. A second mkpd finds the lock taken and refuses
 * to start, naming the pid inside; a file left by a crashed mkpd has no
 * lock and is simply taken over. This is the O_EXCL idea without its
 * weakness: a stale file never blocks a start, a live one always does,
 * even when its pid has been reused by another program.
 */
#ifndef MKP_POOL_PIDFILE_H
#define MKP_POOL_PIDFILE_H

#include <stddef.h>

#include "common/defs.h"

/*
 * Creates (or takes over a stale) path and locks it; refuses when a live
 * mkpd holds it. The file stays empty until pidfile_write. The lock is
 * kept across fork (a daemonising fork keeps it). "" = no pid file.
 */
bool	 pidfile_lock(const char *path, char *err, size_t errlen) MUSTCHECK;
/* Writes our pid into the locked file (after bind and after detaching). */
bool	 pidfile_write(char *err, size_t errlen) MUSTCHECK;
/* Master at exit, or a failed start: removes the file if we hold it. */
void	 pidfile_remove(void);
/* In a child after fork: closes our descriptor, so the lock ends with the master. */
void	 pidfile_close_child(void);

#endif
