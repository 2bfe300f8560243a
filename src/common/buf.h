/*
 * buf.h: a growable byte buffer, always NUL-terminated.
 *
 * OOM policy (the whole tree's): allocation failure aborts the process
 * after a log line, as Redis does. A worker that cannot allocate cannot
 * answer anyway, and the master respawns it; callers need no NULL checks.
 */
#ifndef MKP_BUF_H
#define MKP_BUF_H

#include <stdarg.h>
#include "common/defs.h"

struct buf {
	char	*data;		/* NUL-terminated; NULL until the first append */
	size_t	 len;		/* bytes used, not counting the NUL */
	size_t	 cap;		/* bytes allocated */
};

#define BUF_INIT { NULL, 0, 0 }

void	 buf_init(struct buf *);
/* Frees the storage; the buffer may be used again afterwards. */
void	 buf_free(struct buf *);
/* Empties the buffer, keeping its storage for reuse. */
void	 buf_reset(struct buf *);
void	 buf_reserve(struct buf *, size_t extra);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...) PRINTFLIKE(2, 3);
void	 buf_vprintf(struct buf *, const char *, va_list) PRINTFLIKE(2, 0);
/* Appends s percent-encoded: all but RFC 3986 unreserved characters, upper-case hex. */
void	 buf_put_pct(struct buf *, const char *s);
/* The contents as a C string; "" for an empty buffer (never NULL). */
const char *buf_cstr(const struct buf *);
/*
 * Hands the storage to the caller (free() it) and empties the buffer; an
 * empty buffer gives a malloc'd "", never NULL.
 */
char	*buf_steal(struct buf *);

/* malloc family that abort on failure (see the OOM policy above). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/*
 * Gives the heap's free pages back to the kernel (glibc's malloc_trim).
 * free() returns memory only from the top of the heap, and only once more
 * than the trim threshold is free there, which glibc raises after a large
 * block; the many small blocks of a large call (a JSON tree of 20 000
 * departments) are freed amid blocks still in use, so a worker kept the
 * peak of its largest call for life. Only after work that was large (a
 * request body of 64 KiB or more, a journal replay of more than a round
 * trip): it walks the free lists, and the pages come back by fault.
 */
void	 mem_trim(void);

#endif
