/*
 * helper.c: the supervision of a helper child (see helper.h), one copy
 * for the jobs child and the status child.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "pool/helper.h"

bool
helper_due(const struct helper *h, int64_t now)
{
	return h->pid == 0 && now >= h->next;
}

/* The helper's state, without its policy (name and delays). */
static void
helper_clear(struct helper *h)
{
	h->pid = 0;
	h->gen = 0;
	h->spawned = h->quit_sent = 0;
	h->killed = false;
}

void
helper_started(struct helper *h, pid_t pid, uint32_t gen, int64_t now)
{
	helper_clear(h);
	if (pid < 0) {
		log_error("fork (%s): %s", h->name, strerror(errno));
		h->next = now + h->delay_ms;
		return;
	}
	h->pid = pid;
	h->gen = gen;
	h->spawned = now;
	log_info("%s started (pid %d, generation %u)", h->name, (int)pid, gen);
}

bool
helper_reaped(struct helper *h, pid_t pid, int status, int64_t now)
{
	if (h->pid == 0 || pid != h->pid)
		return false;
	if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
	    (WIFSIGNALED(status) && h->killed)) {
		log_info("%s %s (pid %d, generation %u)", h->name, WIFEXITED(status) ?
		    "exited" : "killed", (int)h->pid, h->gen);
		h->next = now;
	} else {
		if (now - h->spawned >= h->healthy_ms || h->delay == 0)
			h->delay = h->delay_ms;
		else if (h->delay * 2 <= h->delay_cap_ms)
			h->delay *= 2;
		else
			h->delay = h->delay_cap_ms;
		h->next = now + h->delay;
		if (WIFSIGNALED(status))
			log_warn("%s died of signal %d (%s) (pid %d); starting another "
			    "in %lld ms", h->name, WTERMSIG(status), strsignal(WTERMSIG(status)),
			    (int)h->pid, (long long)h->delay);
		else
			log_warn("%s exited with status %d (pid %d); starting another "
			    "in %lld ms", h->name, WEXITSTATUS(status), (int)h->pid,
			    (long long)h->delay);
	}
	helper_clear(h);
	return true;
}

void
helper_quit(struct helper *h, int64_t now)
{
	if (h->pid == 0 || h->quit_sent)
		return;
	h->quit_sent = now;
	if (kill(h->pid, SIGQUIT) < 0 && errno != ESRCH)
		log_warn("kill(%d, SIGQUIT): %s", (int)h->pid, strerror(errno));
}

void
helper_kill(struct helper *h)
{
	if (h->pid == 0)
		return;
	h->killed = true;
	if (kill(h->pid, SIGKILL) < 0 && errno != ESRCH)
		log_warn("kill(%d, SIGKILL): %s", (int)h->pid, strerror(errno));
}

void
helper_escalate(struct helper *h, int64_t now, int64_t stop_ms)
{
	if (h->pid == 0 || !h->quit_sent || h->killed || now - h->quit_sent < stop_ms)
		return;
	log_warn("%s (pid %d) still busy %llds after it was asked to finish: "
	    "killing it", h->name, (int)h->pid, (long long)(stop_ms / 1000));
	helper_kill(h);
}

void
helper_replace(struct helper *h, int64_t now)
{
	helper_quit(h, now);
	h->delay = 0;
	h->next = now;
}

void
helper_signal(const struct helper *h, int sig)
{
	if (h->pid != 0)
		kill(h->pid, sig);
}

int64_t
helper_wait(const struct helper *h, int64_t now, int64_t t)
{
	if (h->pid != 0 || h->next - now >= t)
		return t;
	return h->next > now ? h->next - now : 0;
}
