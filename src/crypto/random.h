/*
 * random.h: random identifiers and passwords from libsodium's CSPRNG.
 */
#ifndef MKP_RANDOM_H
#define MKP_RANDOM_H

#include "common/defs.h"

/* Lower-case hex of nbytes random bytes into out (2*nbytes+1 bytes). */
void	 rand_hex(char *out, size_t nbytes);
/*
 * A password of len characters (12 <= len < outsz) holding at least one
 * upper-case letter, one lower-case letter, one digit and one of "@#%+=_-",
 * drawn uniformly otherwise. NUL-terminated.
 */
void	 rand_password(char *out, size_t outsz, size_t len);
/* A random 16-character IV string from [0-9A-Za-z], NUL-terminated. */
void	 rand_iv(char out[17]);

#endif
