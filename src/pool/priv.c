/*
 * priv.c: resolving and dropping privileges (see priv.h).
 *
 * Invariant: after priv_drop returns true, the real, effective and saved
 * uid and gid are the target ones, the supplementary groups are exactly
 * the target's, and setresuid(0, 0, 0) fails.
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "pool/priv.h"

bool
priv_resolve(const struct config *cfg, struct priv *p, char *err, size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;
	int		 n;

	memset(p, 0, sizeof(*p));
	if (cfg->user[0] == '\0')
		return true;
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", cfg->user,
		    errno ? strerror(errno) : "no such user");
		return false;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user %s has uid 0: workers must not run as root",
		    cfg->user);
		return false;
	}
	p->drop = true;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	if (!str_copy(p->user, sizeof(p->user), cfg->user)) {
		snprintf(err, errlen, "user %s: name too long", cfg->user);
		return false;
	}
	if (cfg->group[0] != '\0') {
		errno = 0;
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errlen, "group %s: %s", cfg->group,
			    errno ? strerror(errno) : "no such group");
			return false;
		}
		p->gid = gr->gr_gid;
	}
	n = PRIV_MAX_GROUPS;
	if (getgrouplist(p->user, p->gid, p->groups, &n) < 0) {
		snprintf(err, errlen, "user %s is in more than %d groups",
		    p->user, PRIV_MAX_GROUPS);
		return false;
	}
	p->ngroups = n;
	return true;
}

bool
priv_can_drop(const struct priv *p, char *err, size_t errlen)
{
	if (!p->drop || geteuid() == 0)
		return true;
	if (p->uid == geteuid() && p->gid == getegid())
		return true;
	snprintf(err, errlen, "user = %s needs mkpd to be started as root", p->user);
	return false;
}

bool
priv_drop(const struct priv *p, char *err, size_t errlen)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid;

	if (!p->drop)
		return true;
	if (geteuid() == 0) {
		if (setgroups((size_t)p->ngroups, p->groups) < 0) {
			snprintf(err, errlen, "setgroups: %s", strerror(errno));
			return false;
		}
	} else if (p->uid == geteuid() && p->gid == getegid()) {
		return true;	/* already the target user (mkpd started as it) */
	}
	if (setresgid(p->gid, p->gid, p->gid) < 0) {
		snprintf(err, errlen, "setresgid(%u): %s", (unsigned)p->gid, strerror(errno));
		return false;
	}
	if (setresuid(p->uid, p->uid, p->uid) < 0) {
		snprintf(err, errlen, "setresuid(%u): %s", (unsigned)p->uid, strerror(errno));
		return false;
	}
	if (getresgid(&rgid, &egid, &sgid) < 0 || rgid != p->gid || egid != p->gid ||
	    sgid != p->gid || getresuid(&ruid, &euid, &suid) < 0 || ruid != p->uid ||
	    euid != p->uid || suid != p->uid) {
		snprintf(err, errlen, "ids did not change as asked");
		return false;
	}
	if (setresuid(0, 0, 0) == 0) {
		snprintf(err, errlen, "could regain root after dropping privileges");
		return false;
	}
	return true;
}

void
priv_chown_log(const struct priv *p)
{
	int	fd = log_fd();

	if (!p->drop || geteuid() != 0 || fd == STDERR_FILENO)
		return;
	if (fchown(fd, p->uid, (gid_t)-1) < 0)
		log_warn("cannot give the log file to user %s (workers will not "
		    "be able to reopen it): %s", p->user, strerror(errno));
}

/*
 * mkdir -p: the directories above path that are missing (mode 0755), then
 * path itself (mode 0700). False with errno set when one cannot be made.
 */
static bool
priv_mkdirs(const char *path)
{
	char	buf[4096];
	size_t	i, len = strlen(path);

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return false;
	}
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return false;
		buf[i] = '/';
	}
	return mkdir(buf, 0700) == 0 || errno == EEXIST;
}

void
priv_prepare_dir(const struct priv *p, const char *path)
{
	if (path[0] == '\0')
		return;
	if (!priv_mkdirs(path)) {
		log_warn("cannot make directory %s: %s", path, strerror(errno));
		return;
	}
	if (p->drop && geteuid() == 0 && chown(path, p->uid, p->gid) < 0)
		log_warn("cannot give %s to user %s: %s", path, p->user, strerror(errno));
}

void
priv_prepare_file(const struct priv *p, const char *path)
{
	int	fd;

	if (path[0] == '\0' || !p->drop || geteuid() != 0)
		return;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		log_warn("%s: %s", path, strerror(errno));
		return;
	}
	if (fchown(fd, p->uid, (gid_t)-1) < 0)
		log_warn("cannot give %s to user %s: %s", path, p->user, strerror(errno));
	close(fd);
}
