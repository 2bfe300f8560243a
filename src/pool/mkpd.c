/*
 * mkpd.c: the daemon's entry point.
 *
 *   mkpd [-c FILE] [-t [-v]] [-d] [-V] [--options]
 *
 * Start-up order, and why:
 *   1. read and validate the config (-t stops here, after also checking
 *      that user and group exist);
 *   2. open the log; from here on errors go to the log (fatal/fatalx),
 *      before it to stderr (err/errx);
 *   3. resolve the workers' user while NSS is safe to call;
 *   4. bind the socket (as root if started as root: a port < 1024, a
 *      socket in /run) or take the inherited one;
 *   5. with -d, detach; the parent exits 0 only once the daemon has
 *      written its pid file, so a failed start is visible to the caller;
 *   6. write our pid into the pid file, locked before bind (so a second
 *      mkpd is told "another mkpd is running", not "address in use"), and
 *      written after bind and detaching (so it holds the daemon's pid);
 *   7. run the master until it is stopped, then remove the pid file and
 *      the unix socket.
 * The master keeps the privileges it was started with; only workers drop
 * them (priv.h).
 */
#include <config.h>		/* autoconf: PACKAGE_VERSION */

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "pool/worker_app.h"
#include "pool/listener.h"
#include "pool/master.h"
#include "pool/pidfile.h"
#include "pool/priv.h"

/* A distribution package sets MKPD_CONFIG_FILE (CPPFLAGS) to keep the file
 * in a directory of its own beside the master key (/etc/mkpd/mkpd.conf). */
#ifdef MKPD_CONFIG_FILE
#define MKPD_DEFAULT_CONFIG	MKPD_CONFIG_FILE
#else
#define MKPD_DEFAULT_CONFIG	SYSCONFDIR "/mkpd.conf"
#endif

static void NORETURN
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: mkpd [-c file] [-t [-v]] [-d] [-V] [--options]\n"
	    "  -c file    configuration file (default %s)\n"
	    "  -t         check the configuration and exit\n"
	    "  -v         with -t: print the effective configuration\n"
	    "  -d         run in the background (default: foreground)\n"
	    "  -V         print the version and exit\n"
	    "  --options  list every option as section.name and exit\n",
	    MKPD_DEFAULT_CONFIG);
	exit(status);
}

/*
 * A failed start after the log is open: the log gets the line, and so
 * does the terminal that started us, who would otherwise see nothing.
 */
static void PRINTFLIKE(1, 2) NORETURN
startup_fatalx(const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fd() != STDERR_FILENO)
		fprintf(stderr, "mkpd: %s\n", msg);
	pidfile_remove();
	fatalx("%s", msg);
}

static void
print_name(const char *section, const char *name, void *arg)
{
	(void)arg;
	printf("%s.%s\n", section, name);
}

/*
 * Detaches from the terminal. Returns, in the daemon, the fd on which to
 * say "started" (see daemon_ready); the original process waits for that
 * byte and exits 0, or 1 if the daemon died first.
 */
static int
daemon_start(void)
{
	char	b = 0;
	int	p[2], fd;
	pid_t	pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		if (b == 'R')
			_exit(0);
		fprintf(stderr, "mkpd: failed to start; see the log\n");
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	/* Fork again so the daemon is no session leader (no controlling tty). */
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) < 0)
		fatal("/dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return p[1];
}

static void
daemon_ready(int fd)
{
	if (fd < 0)
		return;
	(void)!write(fd, "R", 1);
	close(fd);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "options", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*path = MKPD_DEFAULT_CONFIG;
	bool		 test = false, verbose = false, detach = false;
	struct config	*cfg;
	struct listener	 lsn;
	struct priv	 priv;
	enum log_level	 level;
	char		 errbuf[1024], abspath[4096 + 256];
	int		 ch, rc, ready = -1;

	while ((ch = getopt_long(argc, argv, "c:tvdVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'd':
			detach = true;
			break;
		case 'V':
			printf("mkpd %s\n", PACKAGE_VERSION);
			return 0;
		case 'O':
			config_each_name(print_name, NULL);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);

	/* Absolute, so a reload after -d's chdir("/") reads the same file. */
	if (path[0] != '/') {
		char	cwd[4096];

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			err(1, "getcwd");
		if (snprintf(abspath, sizeof(abspath), "%s/%s", cwd, path) >=
		    (int)sizeof(abspath))
			errx(1, "%s: path too long", path);
		path = abspath;
	}
	if ((cfg = config_load(path, errbuf, sizeof(errbuf))) == NULL)
		errx(1, "%s", errbuf);
	if (!priv_resolve(cfg, &priv, errbuf, sizeof(errbuf)))
		errx(1, "%s: %s", path, errbuf);
	if (!mkpd_app.prepare(cfg, errbuf, sizeof(errbuf)))
		errx(1, "%s: %s", path, errbuf);
	if (test) {
		if (verbose)
			config_dump(cfg, stdout);
		fprintf(stderr, "mkpd: configuration file %s test is successful\n", path);
		config_free(cfg);
		return 0;
	}
	if (detach && cfg->log_file[0] == '\0')
		errx(1, "-d needs [mkpd] log_file: a daemon's stderr goes nowhere");
	if (!priv_can_drop(&priv, errbuf, sizeof(errbuf)))
		errx(1, "%s", errbuf);

	if (!log_open(cfg->log_file))
		err(1, "log_file %s", cfg->log_file);
	if (log_level_parse(cfg->log_level, &level))
		log_set_level(level);
	log_set_tag("master");
	if (!priv.drop && geteuid() == 0)
		log_warn("workers run as root: set [mkpd] user");

	if (!pidfile_lock(cfg->pid_file, errbuf, sizeof(errbuf)))
		startup_fatalx("%s", errbuf);
	if (!listener_open(cfg, &lsn, errbuf, sizeof(errbuf)))
		startup_fatalx("%s", errbuf);
	if (detach)
		ready = daemon_start();
	if (!pidfile_write(errbuf, sizeof(errbuf))) {
		listener_close(&lsn);
		startup_fatalx("%s", errbuf);
	}
	priv_chown_log(&priv);
	daemon_ready(ready);

	rc = master_run(cfg, &lsn, &priv);	/* owns cfg from here */

	pidfile_remove();
	listener_close(&lsn);
	log_close();
	return rc;
}
