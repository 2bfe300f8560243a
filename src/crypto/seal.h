/*
 * seal.h: secrets at rest (app passwords, client secrets, decrypted phone
 * numbers and e-mails) sealed with libsodium's secretbox under a master key
 * kept in a file.
 *
 * Master key file: 64 hex characters (32 bytes), optionally followed by a
 * newline, mode 0600 or stricter (group or other access is refused).
 * Sealed text: "s1:" + base64(24-byte nonce || MAC || ciphertext), so it
 * can live in a text column and a future key version can be told apart.
 */
#ifndef MKP_SEAL_H
#define MKP_SEAL_H

#include "common/buf.h"
#include "common/defs.h"

struct seal_key {
	unsigned char	k[32];
};

/* Reads and checks the key file; on failure err says why. */
bool	 seal_key_load(const char *path, struct seal_key *, char *err, size_t errlen) MUSTCHECK;
/* Creates a new random key file with mode 0600; refuses to overwrite. */
bool	 seal_key_create(const char *path, char *err, size_t errlen) MUSTCHECK;
/* Wipes the key from memory. */
void	 seal_key_wipe(struct seal_key *);

/* Appends the sealed form of len bytes of plain to out. */
void	 seal(const struct seal_key *, const void *plain, size_t len, struct buf *out);
/* Appends the plaintext to out; false when sealed is malformed or forged. */
bool	 unseal(const struct seal_key *, const char *sealed, struct buf *out) MUSTCHECK;

/*
 * The process's master key: set by the master (app prepare, before any
 * fork), inherited by the workers and the jobs child, who cannot read the
 * key file once unprivileged. seal_master() is NULL until it is set.
 */
void	 seal_master_set(const struct seal_key *);
const struct seal_key *seal_master(void);

/* Overwrites a secret held in a string or a buffer (sodium_memzero). */
void	 wipe_str(char *);
void	 wipe_buf(struct buf *);

#endif
