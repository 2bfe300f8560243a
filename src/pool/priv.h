/*
 * priv.h: the user and groups workers run as.
 *
 * The master resolves names once, at start (NSS lookups in the master,
 * never after fork), and stays as it was started (root, usually) so that a
 * reload can read a 0600 config and the master can signal every child.
 * Each child drops to the resolved ids right after fork, before it runs
 * any request code: setgroups, then setresgid, then setresuid, each
 * checked, then a check that root cannot be regained.
 */
#ifndef MKP_POOL_PRIV_H
#define MKP_POOL_PRIV_H

#include <sys/types.h>

#include "common/conf.h"
#include "common/defs.h"

#define PRIV_MAX_GROUPS	64

struct priv {
	bool	 drop;			/* false: children keep our ids */
	uid_t	 uid;
	gid_t	 gid;
	int	 ngroups;		/* supplementary groups */
	gid_t	 groups[PRIV_MAX_GROUPS];
	char	 user[64];
};

/*
 * Looks up cfg's user and group. Refuses an unknown name and a user whose
 * uid is 0. Does not require root (mkpd -t uses it as any user).
 */
bool	 priv_resolve(const struct config *, struct priv *, char *err, size_t errlen) MUSTCHECK;
/* Whether this process can become p: root, or already p's uid and gid. */
bool	 priv_can_drop(const struct priv *, char *err, size_t errlen) MUSTCHECK;
/* In a child: become p for good. False (err says which step) is fatal. */
bool	 priv_drop(const struct priv *, char *err, size_t errlen) MUSTCHECK;
/*
 * Gives the log file to the workers' user so they can reopen it after
 * logrotate (as nginx does). No-op unless we are root and drop privileges.
 */
void	 priv_chown_log(const struct priv *);
/*
 * Creates path (mode 0640) if need be and gives it to the workers' user,
 * so a worker can open it after dropping privileges (the access log).
 * Same conditions as priv_chown_log; failures are logged.
 */
void	 priv_prepare_file(const struct priv *, const char *path);
/*
 * Creates the directory path (mode 0700) if missing, with the directories
 * above it (0755; LOCALSTATEDIR's spool under /usr/local may not exist),
 * and, as root, gives it to the workers' user: their spool files go
 * there. "" = none.
 */
void	 priv_prepare_dir(const struct priv *, const char *path);

#endif
