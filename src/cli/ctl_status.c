/*
 * ctl_status.c: mkpctl status and mkpctl reload.
 *
 * Both talk to the status child of the running mkpd over [mkpd]
 * control_socket (src/pool/status_child.h: one line up, the answer down, then
 * the connection closes), so they work while every worker is busy and
 * need no database. reload without a control socket falls back to SIGHUP
 * through pid_file; it cannot tell then whether the new config was taken.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/ctl.h"
#include "cli/ctl_status.h"
#include "common/buf.h"
#include "common/conf.h"
#include "common/util.h"

/* Sends line to the control socket; the answer goes to out. */
static bool
ctl_ask(const char *path, const char *line, struct buf *out)
{
	struct sockaddr_un	 sun;
	char			 b[4096];
	ssize_t			 n;
	size_t			 off = 0, len = strlen(line);
	int			 fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "mkpctl: control_socket %s: path too long\n", path);
		return false;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "mkpctl: socket: %s\n", strerror(errno));
		return false;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "mkpctl: cannot reach mkpd at %s: %s (is it running?)\n",
		    path, strerror(errno));
		close(fd);
		return false;
	}
	while (off < len) {
		if ((n = write(fd, line + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mkpctl: %s: %s\n", path, strerror(errno));
			close(fd);
			return false;
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, b, sizeof(b))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mkpctl: %s: %s\n", path, strerror(errno));
			close(fd);
			return false;
		}
		buf_append(out, b, (size_t)n);
	}
	close(fd);
	return true;
}

static struct config *
ctl_load(struct ctl *c)
{
	return ctl_config(c) ? c->cfg : NULL;
}

int
ctl_status(struct ctl *c, int argc, char **argv)
{
	static const char *const flags[] = { "--json", "--openmetrics", "--html", "--text",
	    "--full" };
	struct buf	 line = BUF_INIT, out = BUF_INIT;
	struct config	*cfg;
	int		 i, rc = 1;
	size_t		 k;

	buf_puts(&line, "status");
	if (c->json)
		buf_puts(&line, " json");
	for (i = 1; i < argc; i++) {
		for (k = 0; k < NELEM(flags) && strcmp(argv[i], flags[k]) != 0; k++)
			;
		if (k == NELEM(flags)) {
			fprintf(stderr, "usage: mkpctl status [--json|--openmetrics|--html] "
			    "[--full]\n");
			buf_free(&line);
			return 2;
		}
		buf_printf(&line, " %s", argv[i] + 2);
	}
	buf_putc(&line, '\n');
	if ((cfg = ctl_load(c)) == NULL)
		goto out;
	if (cfg->control_socket[0] == '\0') {
		fprintf(stderr, "mkpctl: %s sets no [mkpd] control_socket\n", c->conf_path);
		goto out;
	}
	if (!ctl_ask(cfg->control_socket, buf_cstr(&line), &out))
		goto out;
	if (out.len == 0) {
		fprintf(stderr, "mkpctl: mkpd closed the control socket without an answer\n");
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	rc = 0;
out:
	buf_free(&line);
	buf_free(&out);
	return rc;
}

/* No control socket: SIGHUP to the pid in pid_file. */
static int
ctl_reload_signal(const struct config *cfg)
{
	FILE		*f;
	long		 pid = 0;

	if (cfg->pid_file[0] == '\0') {
		fprintf(stderr, "mkpctl: neither control_socket nor pid_file is set: "
		    "send SIGHUP to the mkpd master yourself\n");
		return 1;
	}
	if ((f = fopen(cfg->pid_file, "r")) == NULL || fscanf(f, "%ld", &pid) != 1 ||
	    pid <= 1) {
		fprintf(stderr, "mkpctl: %s: no pid (is mkpd running?)\n", cfg->pid_file);
		if (f != NULL)
			fclose(f);
		return 1;
	}
	fclose(f);
	if (kill((pid_t)pid, SIGHUP) < 0) {
		fprintf(stderr, "mkpctl: kill(%ld, SIGHUP): %s\n", pid, strerror(errno));
		return 1;
	}
	printf("SIGHUP sent to mkpd (pid %ld); see its log for the outcome\n", pid);
	return 0;
}

int
ctl_reload(struct ctl *c, int argc, char **argv)
{
	struct buf	 out = BUF_INIT;
	struct config	*cfg;
	int		 rc = 1;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: mkpctl reload\n");
		return 2;
	}
	if ((cfg = ctl_load(c)) == NULL)
		return 1;
	if (cfg->control_socket[0] == '\0')
		return ctl_reload_signal(cfg);
	if (ctl_ask(cfg->control_socket, "reload\n", &out)) {
		fwrite(out.data, 1, out.len, out.len > 0 && str_has_prefix(buf_cstr(&out),
		    "reloaded") ? stdout : stderr);
		rc = out.len > 0 && str_has_prefix(buf_cstr(&out), "reloaded") ? 0 : 1;
	}
	buf_free(&out);
	return rc;
}
