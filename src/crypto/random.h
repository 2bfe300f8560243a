/*
 * random.h: random identifiers and passwords from libsodium's CSPRNG.
 *
 * Every program (and every unit test) must call crypto_init() once, before
 * any function of src/crypto/ runs and before it forks workers; the
 * functions here and in sign.c/seal.c rely on it and do not call it.
 */
#ifndef MKP_RANDOM_H
#define MKP_RANDOM_H

#include "common/defs.h"

/*
 * Initialises libsodium (sodium_init). Safe to call more than once; false
 * only when libsodium cannot work on this system.
 */
bool	 crypto_init(void) MUSTCHECK;

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
