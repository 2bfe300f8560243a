/*
 * watchdog.c: request control (see watchdog.h).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "pool/scoreboard.h"
#include "pool/watchdog.h"

bool
watchdog_check(const struct config *cfg, struct scoreboard *sb, int slot, pid_t pid,
    bool killed, struct watchdog *w, int64_t now)
{
	struct scoreboard_slot	s;
	int64_t			age;

	if (w->term_sent) {
		if (killed || now - w->term_sent < WATCHDOG_GRACE_MS)
			return false;
		log_warn("worker %d (pid %d) did not end %d ms after "
		    "request_terminate_timeout: killing it", slot, (int)pid, WATCHDOG_GRACE_MS);
		return true;
	}
	if ((cfg->request_slowlog_timeout == 0 && cfg->request_terminate_timeout == 0) ||
	    scoreboard_state(sb, slot) != SLOT_BUSY || !scoreboard_read(sb, slot, &s) ||
	    s.state != SLOT_BUSY || s.req_start_mono == 0)
		return false;
	age = mono_ms() - s.req_start_mono;
	if (cfg->request_slowlog_timeout > 0 && w->slow_logged != s.req_start_mono &&
	    age >= cfg->request_slowlog_timeout * 1000) {
		w->slow_logged = s.req_start_mono;
		scoreboard_count_slow(sb);
		log_warn("slow request: worker %d (pid %d) running %lld ms: %s %s "
		    "ids %s from %s", slot, (int)s.pid, (long long)age,
		    s.dialect[0] ? s.dialect : "-", s.activity[0] ? s.activity : "-",
		    s.ids[0] ? s.ids : "-", s.remote[0] ? s.remote : "-");
	}
	if (cfg->request_terminate_timeout > 0 &&
	    age >= cfg->request_terminate_timeout * 1000) {
		log_warn("request_terminate_timeout: worker %d (pid %d) running "
		    "%lld ms: %s %s ids %s from %s: ending it (the caller gets 000005)",
		    slot, (int)s.pid, (long long)age, s.dialect[0] ? s.dialect : "-",
		    s.activity[0] ? s.activity : "-", s.ids[0] ? s.ids : "-",
		    s.remote[0] ? s.remote : "-");
		w->term_sent = now;
		scoreboard_count_terminated(sb);
		if (kill(pid, SIGUSR2) < 0 && errno != ESRCH)
			log_warn("kill(%d, SIGUSR2): %s", (int)pid, strerror(errno));
	}
	return false;
}
