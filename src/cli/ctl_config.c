/*
 * ctl_config.c: mkpctl config check, what `mkpd -t` checks and more,
 * without starting anything.
 *
 *	config check [FILE]
 *
 * Errors (exit 1): the file does not parse or fails a rule (reported with
 * its line: config_load's "file:line: [section] name: why"), the file
 * grants group or other access (it holds keys), the master key cannot be
 * read or is not mode 0600, the Kit private key or the provisioning hook
 * named cannot be used. Warnings (exit 0): no basic_key, a rotation's
 * previous key whose overlap is over (remove it), or one still open (say
 * until when). The checks run as the user who calls mkpctl: run it as
 * the user mkpd starts as (root under systemd).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/ctl.h"
#include "cli/ctl_config.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/seal.h"

struct report {
	struct buf	 json;
	struct jw	 w;
	bool		 as_json;
	int		 errors, warnings;
};

static void PRINTFLIKE(3, 4)
say(struct report *rp, const char *level, const char *fmt, ...)
{
	char	msg[600];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(level, "error") == 0)
		rp->errors++;
	else if (strcmp(level, "warning") == 0)
		rp->warnings++;
	if (rp->as_json) {
		jw_obj_begin(&rp->w);
		jw_kv_str(&rp->w, "level", level);
		jw_kv_str(&rp->w, "message", msg);
		jw_obj_end(&rp->w);
	} else {
		printf("%s: %s\n", level, msg);
	}
}

static void
check_mode(struct report *rp, const char *path, const char *what)
{
	struct stat	st;

	if (stat(path, &st) != 0) {
		say(rp, "error", "%s %s: %s", what, path, strerror(errno));
		return;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		say(rp, "error", "%s %s: mode %04o grants group/other access (it holds "
		    "keys); chmod 600 it", what, path, (unsigned)(st.st_mode & 07777));
	else
		say(rp, "ok", "%s %s: mode %04o", what, path, (unsigned)(st.st_mode & 07777));
}

static void
check_previous(struct report *rp, const char *name, const char *key, const char *until)
{
	int64_t	end;

	if (key[0] == '\0' || !parse_rfc3339(until, &end))
		return;
	if (end <= now_ms())
		say(rp, "warning", "[keys] previous_%s_key: the overlap ended at %s; it is "
		    "no longer accepted, remove it", name, until);
	else
		say(rp, "ok", "[keys] previous_%s_key accepted until %s", name, until);
}

static void
check(struct report *rp, const char *path)
{
	struct config	*cfg;
	struct seal_key	 k;
	struct key_slot_view v;
	char		 err[600];
	int		 slot;

	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		say(rp, "error", "%s", err);
		return;
	}
	say(rp, "ok", "%s parses", path);
	check_mode(rp, path, "config");
	if (!seal_key_load(cfg->master_key_file, &k, err, sizeof(err)))
		say(rp, "error", "[keys] master_key_file: %s", err);
	else
		say(rp, "ok", "master key %s readable", cfg->master_key_file);
	seal_key_wipe(&k);
	if (cfg->kit_private_key_file[0] != '\0')
		check_mode(rp, cfg->kit_private_key_file, "[kit] private_key_file");
	if (cfg->hook[0] != '\0' && access(cfg->hook, X_OK) != 0)
		say(rp, "error", "[app] hook %s: %s", cfg->hook, strerror(errno));
	if (cfg->basic_key[0] == '\0')
		say(rp, "warning", "[keys] basic_key is empty: V2 basic calls are refused");
	for (slot = 0; slot < KEY_SLOTS; slot++) {
		config_key_slot(cfg, (enum key_slot)slot, &v);
		check_previous(rp, v.name, v.previous, v.until);
	}
	config_free(cfg);
}

int
ctl_config_verb(struct ctl *c, int argc, char **argv)
{
	struct report	 rp;
	const char	*path = c->conf_path;

	if (argc < 2 || strcmp(argv[1], "check") != 0 || argc > 3) {
		fprintf(stderr, "usage: mkpctl config check [FILE] [--json]\n");
		return 2;
	}
	if (argc == 3)
		path = argv[2];
	memset(&rp, 0, sizeof(rp));
	rp.as_json = c->json;
	jw_init(&rp.w, &rp.json);
	jw_obj_begin(&rp.w);
	jw_kv_str(&rp.w, "file", path);
	jw_key(&rp.w, "checks");
	jw_arr_begin(&rp.w);
	check(&rp, path);
	jw_arr_end(&rp.w);
	jw_key(&rp.w, "errors");
	jw_int(&rp.w, rp.errors);
	jw_key(&rp.w, "warnings");
	jw_int(&rp.w, rp.warnings);
	jw_obj_end(&rp.w);
	if (c->json)
		printf("%s\n", buf_cstr(&rp.json));
	else
		printf("%s: %d error%s, %d warning%s\n", path, rp.errors,
		    rp.errors == 1 ? "" : "s", rp.warnings, rp.warnings == 1 ? "" : "s");
	buf_free(&rp.json);
	return rp.errors > 0 ? 1 : 0;
}
