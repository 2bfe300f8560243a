/*
 * fuzz.h: what the libFuzzer targets of test/fuzz share (see
 * doc/fuzzing.md). Each target is one file fuzz_NAME.c defining
 * LLVMFuzzerTestOneInput over one parser or verifier of libmkp.a; none
 * needs PostgreSQL, FastCGI or the network.
 *
 * A target aborts (FUZZ_ASSERT) when a property the code promises does not
 * hold, so that libFuzzer keeps the input as a finding like a crash.
 */
#ifndef MKP_FUZZ_H
#define MKP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	 LLVMFuzzerInitialize(int *, char ***);

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The log stays quiet: the targets pass through code that logs refusals. */
#define FUZZ_QUIET_LOG()						\
int									\
LLVMFuzzerInitialize(int *argc, char ***argv)				\
{									\
	(void)argc;							\
	(void)argv;							\
	log_set_level(LL_ERROR);					\
	return 0;							\
}

/* A NUL-terminated copy of n bytes (inner NULs kept; C functions stop there). */
static inline char *
fuzz_cstr(const uint8_t *d, size_t n)
{
	char	*s = xmalloc(n + 1);

	if (n > 0)
		memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

/*
 * Splits the input at its first '\n' into a line (NUL-terminated copy)
 * and the rest (pointer into the input), for targets taking two parts.
 */
static inline char *
fuzz_line(const uint8_t **d, size_t *n)
{
	const uint8_t	*nl = memchr(*d, '\n', *n);
	size_t		 k = nl != NULL ? (size_t)(nl - *d) : *n;
	char		*line = fuzz_cstr(*d, k);

	*d += nl != NULL ? k + 1 : k;
	*n -= nl != NULL ? k + 1 : k;
	return line;
}

#endif
