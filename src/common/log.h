/*
 * log.h: levelled logging for every mkpd process.
 *
 * One line per message, written with a single write(2) to a file opened
 * O_APPEND (or stderr), so lines from the master, the workers and the jobs
 * child never interleave. The level is tested before formatting, so debug
 * messages cost nothing when they are off. Never pass a key, a password or
 * a token to these functions.
 */
#ifndef MKP_LOG_H
#define MKP_LOG_H

#include <stdarg.h>
#include "common/defs.h"

enum log_level {
	LL_ERROR = 0,
	LL_WARN,
	LL_NOTICE,
	LL_INFO,
	LL_DEBUG,
};

extern enum log_level log_level_cur;

/*
 * Opens the log. path NULL or "" logs to stderr. Returns false (errno set)
 * when the file cannot be opened; stderr is used meanwhile.
 */
bool	 log_open(const char *path) MUSTCHECK;
/* Reopens the same path (SIGUSR1, after logrotate moved the file). */
bool	 log_reopen(void) MUSTCHECK;
void	 log_close(void);
/* Parses "error", "warn", "notice", "info" or "debug". */
bool	 log_level_parse(const char *, enum log_level *) MUSTCHECK;
const char *log_level_name(enum log_level);
void	 log_set_level(enum log_level);
/* A short tag put before every message of this process, e.g. "worker 3". */
void	 log_set_tag(const char *fmt, ...) PRINTFLIKE(1, 2);
/* The fd lines go to (for dup2 of stderr in children). */
int	 log_fd(void);

void	 log_msg(enum log_level, const char *fmt, ...) PRINTFLIKE(2, 3);
void	 log_vmsg(enum log_level, const char *fmt, va_list) PRINTFLIKE(2, 0);

#define log_error(...)	log_msg(LL_ERROR, __VA_ARGS__)
#define log_warn(...)	do { if (log_level_cur >= LL_WARN) log_msg(LL_WARN, __VA_ARGS__); } while (0)
#define log_notice(...)	do { if (log_level_cur >= LL_NOTICE) log_msg(LL_NOTICE, __VA_ARGS__); } while (0)
#define log_info(...)	do { if (log_level_cur >= LL_INFO) log_msg(LL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...)	do { if (log_level_cur >= LL_DEBUG) log_msg(LL_DEBUG, __VA_ARGS__); } while (0)

/* Log at error level, then exit(1). fatal() appends strerror(errno). */
void	 fatal(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;
void	 fatalx(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;

#endif
