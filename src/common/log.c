/*
 * log.c: one line per message, one write(2) per line.
 *
 * The format is "2026-11-23T10:15:00.123Z [pid] level: tag: message". Time
 * is UTC with milliseconds so lines from several hosts sort together.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

enum log_level	 log_level_cur = LL_INFO;

static int	 log_fd_cur = STDERR_FILENO;
static char	 log_path[4096];
static char	 log_tag[64];

static const char *const level_names[] = {
	[LL_ERROR] = "error",
	[LL_WARN] = "warn",
	[LL_NOTICE] = "notice",
	[LL_INFO] = "info",
	[LL_DEBUG] = "debug",
};

static bool
log_open_path(void)
{
	int	fd;

	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return false;
	if (log_fd_cur != STDERR_FILENO)
		close(log_fd_cur);
	log_fd_cur = fd;
	return true;
}

bool
log_open(const char *path)
{
	if (path == NULL || *path == '\0') {
		if (log_fd_cur != STDERR_FILENO)
			close(log_fd_cur);
		log_fd_cur = STDERR_FILENO;
		log_path[0] = '\0';
		return true;
	}
	if ((size_t)snprintf(log_path, sizeof(log_path), "%s", path) >= sizeof(log_path)) {
		log_path[0] = '\0';
		errno = ENAMETOOLONG;
		return false;
	}
	return log_open_path();
}

bool
log_reopen(void)
{
	if (log_path[0] == '\0')
		return true;
	return log_open_path();
}

void
log_close(void)
{
	if (log_fd_cur != STDERR_FILENO)
		close(log_fd_cur);
	log_fd_cur = STDERR_FILENO;
}

int
log_fd(void)
{
	return log_fd_cur;
}

bool
log_level_parse(const char *s, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < NELEM(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *
log_level_name(enum log_level l)
{
	return (size_t)l < NELEM(level_names) ? level_names[l] : "?";
}

void
log_set_level(enum log_level l)
{
	log_level_cur = l;
}

void
log_set_tag(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(log_tag, sizeof(log_tag), fmt, ap);
	va_end(ap);
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char		 line[2048];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n, msg, i;
	int		 r;
	int		 saved = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ [%ld] %s: %s%s",
	    ts.tv_nsec / 1000000, (long)getpid(), log_level_name(level),
	    log_tag, log_tag[0] ? ": " : "");
	if (r > 0)
		n += (size_t)r;
	msg = n;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	/*
	 * Messages quote what callers sent (paths, ids): a control character
	 * must not start a forged line or hide one: newlines and tabs show as
	 * blanks, other control characters as '?'.
	 */
	for (i = msg; i < n; i++) {
		if (line[i] == '\n' || line[i] == '\t' || line[i] == '\r')
			line[i] = ' ';
		else if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F)
			line[i] = '?';
	}
	while (n > msg && line[n - 1] == ' ')
		n--;
	if (n > sizeof(line) - 2) {
		/* Truncated: mark it, keep the line whole. */
		n = sizeof(line) - 5;
		memcpy(line + n, "...", 3);
		n += 3;
	}
	line[n++] = '\n';
	(void)!write(log_fd_cur, line, n);
	errno = saved;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	ap;

	if (level > log_level_cur)
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LL_ERROR, "%s: %s", msg, strerror(saved));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
