/*
 * random.c: random ids, IVs and initial passwords, drawn from libsodium's
 * CSPRNG (getrandom(2) underneath), with randombytes_uniform() wherever a
 * character is picked from an alphabet, so no modulo bias creeps in.
 */
#include <stdlib.h>

#include <sodium.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/random.h"

#define RAND_PW_MIN	12

static const char rand_alnum[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/* Upper, lower, digits and the seven specials "@#%+=_-". */
static const char rand_pw_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@#%+=_-";

bool
crypto_init(void)
{
	return sodium_init() >= 0;	/* 1 = already initialised */
}

void
rand_hex(char *out, size_t nbytes)
{
	unsigned char	chunk[32];
	size_t		n;

	out[0] = '\0';
	while (nbytes > 0) {
		n = nbytes < sizeof(chunk) ? nbytes : sizeof(chunk);
		randombytes_buf(chunk, n);
		hex_encode(chunk, n, out, false);	/* NUL-terminates */
		out += 2 * n;
		nbytes -= n;
	}
	sodium_memzero(chunk, sizeof(chunk));
}

static char
rand_pick(const char *alphabet, size_t n)
{
	return alphabet[randombytes_uniform((uint32_t)n)];
}

static bool
rand_pw_complete(const char *pw, size_t len)
{
	bool	up = false, low = false, dig = false, sp = false;
	size_t	i;

	for (i = 0; i < len; i++) {
		char c = pw[i];

		if (c >= 'A' && c <= 'Z')
			up = true;
		else if (c >= 'a' && c <= 'z')
			low = true;
		else if (c >= '0' && c <= '9')
			dig = true;
		else
			sp = true;	/* the alphabet holds nothing else */
	}
	return up && low && dig && sp;
}

void
rand_password(char *out, size_t outsz, size_t len)
{
	size_t	i;

	if (len < RAND_PW_MIN || len >= outsz) {
		/* A caller bug, not a runtime condition: stop loudly. */
		log_error("rand_password: bad length %zu for a %zu-byte buffer",
		    len, outsz);
		abort();
	}
	/*
	 * Rejection sampling: draw every character from the whole alphabet
	 * and start again until each class is present. The result is uniform
	 * over all acceptable passwords (placing one character of each class
	 * at chosen positions would not be). At len 12 about 28% of draws
	 * lack a special character, so the loop runs ~1.4 times on average.
	 */
	do {
		for (i = 0; i < len; i++)
			out[i] = rand_pick(rand_pw_chars, sizeof(rand_pw_chars) - 1);
	} while (!rand_pw_complete(out, len));
	out[len] = '\0';
}

void
rand_iv(char out[17])
{
	size_t	i;

	for (i = 0; i < 16; i++)
		out[i] = rand_pick(rand_alnum, sizeof(rand_alnum) - 1);
	out[16] = '\0';
}
