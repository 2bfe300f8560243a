/*
 * pidfile.c: a locked pid file (see pidfile.h for why a lock).
 *
 * Invariant: pf_fd >= 0 exactly while this process holds the lock and
 * pf_path names the file it locked.
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/util.h"
#include "pool/pidfile.h"

static int	pf_fd = -1;
static char	pf_path[4096];

bool
pidfile_lock(const char *path, char *err, size_t errlen)
{
	char	buf[32];
	ssize_t	n;
	int	fd;

	if (path[0] == '\0')
		return true;
	if (!str_copy(pf_path, sizeof(pf_path), path)) {
		snprintf(err, errlen, "pid_file %s: path too long", path);
		return false;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "pid_file %s: %s", path, strerror(errno));
		return false;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int	saved = errno;

		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(fd);
		if (saved == EWOULDBLOCK)
			snprintf(err, errlen, "pid_file %s: another mkpd (pid %s) is running",
			    path, buf[0] ? buf : "?");
		else
			snprintf(err, errlen, "pid_file %s: flock: %s", path, strerror(saved));
		return false;
	}
	/* A stale file's old pid must not linger until pidfile_write. */
	if (ftruncate(fd, 0) < 0) {
		snprintf(err, errlen, "pid_file %s: truncate: %s", path, strerror(errno));
		close(fd);
		return false;
	}
	pf_fd = fd;
	return true;
}

bool
pidfile_write(char *err, size_t errlen)
{
	char	buf[32];
	int	len;

	if (pf_fd < 0)
		return true;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(pf_fd, 0) < 0 || pwrite(pf_fd, buf, (size_t)len, 0) != len) {
		snprintf(err, errlen, "pid_file %s: write: %s", pf_path, strerror(errno));
		return false;
	}
	return true;
}

void
pidfile_remove(void)
{
	if (pf_fd < 0)
		return;
	/* Unlink while still holding the lock, so no one sees it unlocked. */
	unlink(pf_path);
	close(pf_fd);
	pf_fd = -1;
}

void
pidfile_close_child(void)
{
	if (pf_fd >= 0)
		close(pf_fd);
	pf_fd = -1;
}
