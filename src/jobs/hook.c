/*
 * hook.c: fork/exec of the provisioning hook with pipes and a deadline.
 *
 * The parent feeds stdin and drains stdout and stderr with poll(), so a
 * hook that writes a lot before reading all of its input cannot deadlock
 * us. Exec failures reach the parent through a close-on-exec pipe, so
 * "cannot execute" is told apart from a hook that exits 127.
 */
#include <config.h>		/* _GNU_SOURCE: pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/seal.h"
#include "jobs/hook.h"

void
hook_result_init(struct hook_result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_status = -1;
	buf_init(&r->out);
	buf_init(&r->err);
}

void
hook_result_free(struct hook_result *r)
{
	wipe_buf(&r->out);	/* a create hook's answer holds a password */
	buf_free(&r->out);
	buf_free(&r->err);
}

static void NORETURN
child(const char *path, const char *event, int in, int out, int err, int report,
    pid_t parent)
{
	char	 env_event[128];
	char	*argv[3], *envp[4];
	int	 e, sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setpgid(0, 0);
	/*
	 * Die with the jobs child: a hook orphaned by a killed runner would
	 * run on while the job's next attempt starts it again.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(err, STDERR_FILENO) < 0)
		_exit(127);
	/* Nothing of mkpd's (store or marketplace connections) reaches the hook. */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0 && errno != ENOSYS)
		_exit(127);
	snprintf(env_event, sizeof(env_event), "MKPD_EVENT=%s", event);
	argv[0] = (char *)path;
	argv[1] = (char *)event;
	argv[2] = NULL;
	envp[0] = env_event;
	envp[1] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
	envp[2] = (char *)"LANG=C.UTF-8";
	envp[3] = NULL;
	execve(path, argv, envp);
	e = errno;
	(void)!write(report, &e, sizeof(e));
	_exit(127);
}

/*
 * write(2) to the hook's stdin without dying of SIGPIPE when the hook has
 * stopped reading (it may exit without reading its input): SIGPIPE is
 * blocked around the write and a pending one is consumed, so EPIPE comes
 * back instead, whatever the process's SIGPIPE disposition.
 */
static ssize_t
pipe_write(int fd, const void *p, size_t n)
{
	static const struct timespec	 zero = { 0, 0 };
	sigset_t			 pipe_set, old;
	ssize_t				 w;
	int				 e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	w = write(fd, p, n);
	e = errno;
	if (w < 0 && e == EPIPE)
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return w;
}

static void
drain(int *fd, struct buf *b, size_t max, bool *cut)
{
	char	chunk[8192];
	ssize_t	n = read(*fd, chunk, sizeof(chunk));

	if (n > 0) {
		size_t room = b->len < max ? max - b->len : 0;

		buf_append(b, chunk, (size_t)n < room ? (size_t)n : room);
		if ((size_t)n > room && cut != NULL)
			*cut = true;
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	close(*fd);
	*fd = -1;
}

static bool
fail(char *why, size_t whylen, const char *fmt, ...) PRINTFLIKE(3, 4);

static bool
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return false;
}

bool
hook_run(const char *path, const char *event, const char *input, size_t len,
    int64_t timeout_ms, struct hook_result *res, char *why, size_t whylen)
{
	int	 pin[2], pout[2], perr[2], prep[2], status, e = 0;
	int	 to_fd, out_fd, err_fd;
	size_t	 sent = 0;
	pid_t	 pid, parent = getpid();
	int64_t	 deadline = mono_ms() + timeout_ms;

	hook_result_init(res);
	pin[0] = pin[1] = pout[0] = pout[1] = perr[0] = perr[1] = prep[0] = prep[1] = -1;
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 ||
	    pipe2(perr, O_CLOEXEC) < 0 || pipe2(prep, O_CLOEXEC) < 0 ||
	    (pid = fork()) < 0) {
		int	*fds[] = { pin, pout, perr, prep };

		e = errno;
		for (size_t i = 0; i < NELEM(fds); i++) {
			if (fds[i][0] >= 0)
				close(fds[i][0]);
			if (fds[i][1] >= 0)
				close(fds[i][1]);
		}
		return fail(why, whylen, "cannot start the hook: %s", strerror(e));
	}
	if (pid == 0)
		child(path, event, pin[0], pout[1], perr[1], prep[1], parent);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	close(prep[1]);
	to_fd = pin[1];
	out_fd = pout[0];
	err_fd = perr[0];
	fcntl(to_fd, F_SETFL, O_NONBLOCK);
	if (len == 0) {
		close(to_fd);
		to_fd = -1;
	}

	while (out_fd >= 0 || err_fd >= 0) {
		struct pollfd	 p[3];
		int		 n = 0, left = (int)(deadline - mono_ms());

		if (left <= 0) {
			res->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (to_fd >= 0)
			p[n++] = (struct pollfd){ .fd = to_fd, .events = POLLOUT };
		if (out_fd >= 0)
			p[n++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		if (err_fd >= 0)
			p[n++] = (struct pollfd){ .fd = err_fd, .events = POLLIN };
		if (poll(p, (nfds_t)n, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (p[i].revents == 0)
				continue;
			if (p[i].fd == to_fd) {
				ssize_t w = pipe_write(to_fd, input + sent, len - sent);

				if (w > 0)
					sent += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == len) {
					close(to_fd);	/* done, or the hook stopped reading */
					to_fd = -1;
				}
			} else if (p[i].fd == out_fd) {
				drain(&out_fd, &res->out, HOOK_OUT_MAX, &res->out_cut);
			} else if (p[i].fd == err_fd) {
				drain(&err_fd, &res->err, HOOK_ERR_MAX, NULL);
			}
		}
	}
	if (to_fd >= 0)
		close(to_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	/* The hook may have closed its outputs and still run: wait, bounded. */
	status = W_EXITCODE(127, 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (mono_ms() >= deadline) {
			res->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			if (waitpid(pid, &status, 0) < 0)
				status = W_EXITCODE(127, 0);
			break;
		}
		poll(NULL, 0, 10);
	}
	/* Group members left behind (a backgrounded grandchild) go too. */
	kill(-pid, SIGKILL);
	if (read(prep[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		close(prep[0]);
		return fail(why, whylen, "cannot execute %s: %s", path, strerror(e));
	}
	close(prep[0]);
	if (WIFEXITED(status))
		res->exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
	if (res->timed_out)
		return fail(why, whylen, "killed after %lld ms", (long long)timeout_ms);
	if (res->signal != 0)
		return fail(why, whylen, "killed by signal %d", res->signal);
	if (res->exit_status != 0)
		return fail(why, whylen, "exit status %d", res->exit_status);
	if (res->out_cut)
		return fail(why, whylen, "answer longer than %d bytes", HOOK_OUT_MAX);
	why[0] = '\0';
	return true;
}
