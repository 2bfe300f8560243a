/*
 * check_config.c: mkpd.conf parsing, table-driven.
 *
 * Each case writes a file into a mkdtemp directory and loads it; the error
 * cases state the whole message expected, with "%s" standing for the
 * file's path, so a change of wording is a deliberate test change.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "domain/package.h"
#include "unit.h"

static char	tmpdir[256];
static char	path[300];

static void
setup(void)
{
	unit_tmpdir(tmpdir, sizeof(tmpdir), "check_config");
	snprintf(path, sizeof(path), "%s/mkpd.conf", tmpdir);
}

static void
teardown(void)
{
	unit_tmpdir_remove(tmpdir);
}

static void
write_file(const char *text)
{
	FILE	*fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	/* As an install leaves it; test_file_mode tries looser modes. */
	ck_assert_int_eq(chmod(path, 0600), 0);
}

static struct config *
load_text(const char *text, char *err, size_t errlen)
{
	write_file(text);
	err[0] = '\0';
	return config_load(path, err, errlen);
}

/* Files that must load. */
static const char *const valid_cases[] = {
	"",
	"; only a comment\n# another\n",
	"[mkpd]\nlisten = /run/mkpd/mkpd.sock\nlisten_owner = www-data\n",
	"[mkpd]\nlisten = 9000\n",
	"[mkpd]\nlisten = *:9000\n",
	"[mkpd]\nlisten = [::1]:9000\n",
	"[mkpd]\nlisten = stdin\n",
	"[mkpd]\nlisten = fd:0\n",
	"[mkpd]\r\nlisten = 127.0.0.1:9001\r\n",
	"[pool]\npm = static\nmax_children = 1024\n",
	"[pool]\npm = ondemand\nmax_children = 4\nstart_servers = 100\n",
	"[pool]\nmax_children = 10\nstart_servers = 5\nmin_spare_servers = 5\n"
	    "max_spare_servers = 10\n",
	"[pool]\nmax_requests = 0\ncrash_threshold = 0\n",
	"[keys]\nbasic_key =\nkit_key = \nv1_key = x ; inline comment\n",
	"[app]\nencrypt_app_info = yes\nencrypt_type = 2\n",
	"[keys]\nv1_key = new\nprevious_v1_key = old\nprevious_v1_until = 2026-05-01T12:00:00+08:00\n",
	"[store]\ndsn = host=/run/postgresql dbname=mkpd user=mkpd\n",
	"[mkpd]\nlog_level = debug\nlog_file = /var/log/mkpd.log\n"
	    "pid_file = /run/mkpd.pid\n",
	"[mkpd]\nuser = mkpd\ngroup = mkpd\n",
	"\xef\xbb\xbf[mkpd]\nlisten = 9000\n",	/* UTF-8 BOM */
	"[marketplace]\nurl = https://mkt-intl.myhuaweicloud.com\nfallback_url =\n"
	    "ak = QTWAOYTTINDUT2QVKYUC\nsk = MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc\n"
	    "ca_file = /etc/ssl/certs/ca-certificates.crt\n"
	    "connect_timeout = 100\ntimeout = 3600000\n",
	"[marketplace]\nurl = http://127.0.0.1:8081/mock\nfallback_url = http://localhost:8082\n",
	"[marketplace]\nurl = http://[::1]:8081\n",
	"[marketplace]\nurl = https://mkt.example.com:8443/prefix/\n",
};

START_TEST(test_valid)
{
	struct config	*cfg;
	char		 err[512];

	cfg = load_text(valid_cases[_i], err, sizeof(err));
	ck_assert_msg(cfg != NULL, "case %d: %s", _i, err);
	config_free(cfg);
}
END_TEST

/* Files that must fail, with the whole message ("%s" = the path). */
static const struct {
	const char	*text;
	const char	*want;
} error_cases[] = {
	{ "[mkpd]\nlisten = 127.0.0.1:9000\nbogus = 1\n",
	  "%s:3: [mkpd] bogus: unknown option" },
	{ "[nope]\nx = 1\n",
	  "%s:2: [nope] x: unknown section" },
	{ "listen = 9000\n",
	  "%s:1: [] listen: option outside any [section]" },
	{ "[keys]\nprevious_basic_key = old\n",
	  "%s:2: [keys] previous_basic_key: needs previous_basic_until" },
	{ "[keys]\nprevious_kit_until = tomorrow\n",
	  "%s:2: [keys] previous_kit_until: expected an RFC 3339 time, as in 2026-05-01T12:00:00Z" },
	{ "[pool]\nmax_children = eight\n",
	  "%s:2: [pool] max_children: not an integer: \"eight\"" },
	{ "[pool]\nmax_children = 8x\n",
	  "%s:2: [pool] max_children: not an integer: \"8x\"" },
	{ "[pool]\nmax_children = 99999999999999999999\n",
	  "%s:2: [pool] max_children: not an integer: \"99999999999999999999\"" },
	{ "[pool]\nmax_children = 0\n",
	  "%s:2: [pool] max_children: 0 is out of range (1..1024)" },
	{ "[pool]\nmax_children = 1025\n",
	  "%s:2: [pool] max_children: 1025 is out of range (1..1024)" },
	{ "[pool]\nmax_children = -1\n",
	  "%s:2: [pool] max_children: -1 is out of range (1..1024)" },
	{ "[pool]\nmax_children =\n",
	  "%s:2: [pool] max_children: must not be empty" },
	{ "[pool]\npm = lazy\n",
	  "%s:2: [pool] pm: expected one of static, dynamic, ondemand" },
	{ "[app]\nencrypt_app_info = maybe\n",
	  "%s:2: [app] encrypt_app_info: expected true or false (yes/no, on/off, 1/0)" },
	{ "[mkpd]\nlisten_mode = 0680\n",
	  "%s:2: [mkpd] listen_mode: not an octal mode: \"0680\"" },
	{ "[mkpd]\nlisten_mode = 1777\n",
	  "%s:2: [mkpd] listen_mode: 01777 is out of range (0..0777)" },
	{ "[mkpd]\nlisten_mode = 00660\n",
	  "%s:2: [mkpd] listen_mode: not an octal mode: \"00660\"" },
	{ "[mkpd]\nlisten =\n",
	  "%s:2: [mkpd] listen: must not be empty" },
	{ "[mkpd]\nlisten = ::1:9000\n",
	  "%s:2: [mkpd] listen: an IPv6 address needs brackets, as in [::1]:9000" },
	{ "[mkpd]\nlisten = localhost\n",
	  "%s:2: [mkpd] listen: expected \"host:port\", \"port\", \"/path\" or \"stdin\" (port 1..65535)" },
	{ "[mkpd]\nlisten = 127.0.0.1:70000\n",
	  "%s:2: [mkpd] listen: expected \"host:port\", \"port\", \"/path\" or \"stdin\" (port 1..65535)" },
	{ "[mkpd]\nlisten = :9000\n",
	  "%s:2: [mkpd] listen: empty host before ':' (write *:port or just the port for every address)" },
	{ "[mkpd]\nlisten = fd:3\n",
	  "%s:2: [mkpd] listen: only fd:0 can be inherited (systemd's socket is found without configuration)" },
	{ "[mkpd]\nlisten = /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	  "%s:2: [mkpd] listen: unix socket path longer than 107 bytes" },
	{ "[mkpd]\nlog_level = loud\n",
	  "%s:2: [mkpd] log_level: expected one of error, warn, notice, info, debug" },
	{ "[mkpd]\npid_file = run/mkpd.pid\n",
	  "%s:2: [mkpd] pid_file: must be an absolute path" },
	{ "[mkpd]\nbase_path = saasproduce\n",
	  "%s:2: [mkpd] base_path: must start with '/'" },
	{ "[mkpd]\nuser = root\n",
	  "%s:2: [mkpd] user: workers must not run as root (leave user empty to keep the user mkpd was started as)" },
	{ "[store]\ndsn =\n",
	  "%s:2: [store] dsn: must not be empty" },
	{ "[mkpd]\nlisten = 9000\nlisten = 9001\n",
	  "%s:3: [mkpd] listen: set twice (first on line 2)" },
	{ "[pool]\nmax_children = 8\n  min_spare_servers = 2\n",
	  "%s:3: [pool] max_children: indented line (inih reads it as the continuation of the previous value); start options at the beginning of the line" },
	{ "[mkpd]\nthis line has no equals sign\n",
	  "%s:2: syntax error (expected [section] or name = value)" },
	{ "[mkpd\nlisten = 9000\n",
	  "%s:1: syntax error (expected [section] or name = value)" },
	/* The first error wins, whatever its kind. */
	{ "[mkpd]\nnonsense\nbogus = 1\n",
	  "%s:2: syntax error (expected [section] or name = value)" },
	{ "[mkpd]\nbogus = 1\nnonsense\n",
	  "%s:2: [mkpd] bogus: unknown option" },
	/* Cross-checks: at the line of the option blamed, if it was set. */
	{ "[pool]\nmin_spare_servers = 4\nmax_spare_servers = 3\n",
	  "%s:2: [pool] min_spare_servers: 4 is more than max_spare_servers (3)" },
	{ "[pool]\nstart_servers = 5\n",
	  "%s:2: [pool] start_servers: 5 is not between min_spare_servers (1) and max_spare_servers (3)" },
	{ "[pool]\nmax_children = 2\n",
	  "%s: [pool] max_spare_servers: 3 is more than max_children (2)" },
	{ "[mkpd]\nlisten = 9000\nlisten_owner = www-data\n",
	  "%s:3: [mkpd] listen_owner: only applies to a unix socket listen (/path)" },
	{ "[mkpd]\ngroup = www-data\n",
	  "%s:2: [mkpd] group: needs user to be set too" },
	{ "[marketplace]\nurl = http://mkt.myhuaweicloud.com\n",
	  "%s:2: [marketplace] url: must start with https:// (plain http only to 127.0.0.1, localhost or [::1])" },
	{ "[marketplace]\nurl = http://127.0.0.1.evil.example\n",
	  "%s:2: [marketplace] url: must start with https:// (plain http only to 127.0.0.1, localhost or [::1])" },
	{ "[marketplace]\nurl = https://\n",
	  "%s:2: [marketplace] url: must start with https:// (plain http only to 127.0.0.1, localhost or [::1])" },
	{ "[marketplace]\nfallback_url = https://mkt.myhuaweicloud.cn/?x=1\n",
	  "%s:2: [marketplace] fallback_url: expected a base URL without query, fragment, user or blanks" },
	{ "[marketplace]\nurl = https://user@mkt.myhuaweicloud.com\n",
	  "%s:2: [marketplace] url: expected a base URL without query, fragment, user or blanks" },
	{ "[marketplace]\nurl =\n",
	  "%s:2: [marketplace] url: must not be empty" },
	{ "[marketplace]\nca_file = certs.pem\n",
	  "%s:2: [marketplace] ca_file: must be an absolute path" },
	{ "[marketplace]\ntimeout = 99\n",
	  "%s:2: [marketplace] timeout: 99 is out of range (100..3600000)" },
	{ "[marketplace]\nconnect_timeout = 6000\ntimeout = 5000\n",
	  "%s:2: [marketplace] connect_timeout: 6000 is more than timeout (5000)" },
	{ "[marketplace]\nsk = s3cr3t\n",
	  "%s:2: [marketplace] sk: needs ak to be set too" },
	{ "[marketplace]\nak = AK\n",
	  "%s:2: [marketplace] ak: needs sk to be set too" },
	/* A secret's value is never quoted back. */
	{ "[keys]\nbasic_key = s3cr3t\nbasic_key = again\n",
	  "%s:3: [keys] basic_key: set twice (first on line 2)" },
};

/* want with its "%s" replaced by the path. */
static void
expand(const char *tmpl, char *out, size_t outsz)
{
	const char	*at = strstr(tmpl, "%s");

	ck_assert_ptr_nonnull(at);
	snprintf(out, outsz, "%.*s%s%s", (int)(at - tmpl), tmpl, path, at + 2);
}

START_TEST(test_errors)
{
	struct config	*cfg;
	char		 err[512], want[1024];

	cfg = load_text(error_cases[_i].text, err, sizeof(err));
	ck_assert_msg(cfg == NULL, "case %d loaded", _i);
	expand(error_cases[_i].want, want, sizeof(want));
	ck_assert_str_eq(err, want);
}
END_TEST

/* Which previous key is accepted, and until when. */
static const struct {
	const char	*text;
	enum key_slot	 slot;
	int64_t		 now;		/* ms */
	const char	*want;		/* NULL: none */
} previous_cases[] = {
	{ "[keys]\nbasic_key = new\nprevious_basic_key = old\n"
	  "previous_basic_until = 2026-01-01T00:00:00Z\n", KEY_BASIC, 1767225599999, "old" },
	{ "[keys]\nbasic_key = new\nprevious_basic_key = old\n"
	  "previous_basic_until = 2026-01-01T00:00:00Z\n", KEY_BASIC, 1767225600000, NULL },
	{ "[keys]\nbasic_key = new\nprevious_basic_key = old\n"
	  "previous_basic_until = 2026-01-01T08:00:00+08:00\n", KEY_BASIC, 1767225599999, "old" },
	{ "[keys]\nbasic_key = new\nprevious_basic_key = old\n"
	  "previous_basic_until = 2026-01-01T00:00:00Z\n", KEY_KIT, 0, NULL },
	{ "[keys]\nkit_key = new\nprevious_kit_key = old\n"
	  "previous_kit_until = 2026-01-01T00:00:00.5Z\n", KEY_KIT, 1767225600499, "old" },
	{ "[keys]\nv1_key = same\nprevious_v1_key = same\n"
	  "previous_v1_until = 2026-01-01T00:00:00Z\n", KEY_V1, 0, NULL },
	{ "[keys]\nv1_key = new\n", KEY_V1, 0, NULL },
};

START_TEST(test_previous_key)
{
	struct config	*cfg;
	const char	*got;
	char		 err[512];

	cfg = load_text(previous_cases[_i].text, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "case %d: %s", _i, err);
	got = config_previous_key(cfg, previous_cases[_i].slot, previous_cases[_i].now);
	if (previous_cases[_i].want == NULL)
		ck_assert_msg(got == NULL, "case %d: %s", _i, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, previous_cases[_i].want) == 0,
		    "case %d", _i);
	config_free(cfg);
}
END_TEST

/* Secrets in a file others may read are refused; other files load. */
static const struct {
	mode_t		 mode;
	const char	*text;
	const char	*want;		/* NULL: loads */
} mode_cases[] = {
	{ 0644, "[pool]\nmax_children = 4\n", NULL },
	{ 0644, "[store]\ndsn = host=db dbname=mkpd user=mkpd\n", NULL },
	{ 0644, "[keys]\nbasic_key =\n", NULL },
	{ 0640, "[keys]\nbasic_key = s3cr3t\n", NULL },
	{ 0600, "[marketplace]\nak = AK\nsk = s3cr3t\n", NULL },
	{ 0644, "[keys]\nbasic_key = s3cr3t\n",
	  "%s: mode 0644 lets other users read the secret [keys] basic_key; chmod o-rwx it" },
	{ 0604, "[marketplace]\nak = AK\nsk = s3cr3t\n",
	  "%s: mode 0604 lets other users read the secret [marketplace] sk; chmod o-rwx it" },
	{ 0601, "[usage]\ntoken = t0k3n\n",
	  "%s: mode 0601 lets other users read the secret [usage] token; chmod o-rwx it" },
	{ 0666, "[store]\ndsn = host=db password=pw\n",
	  "%s: mode 0666 lets other users read the secret [store] dsn; chmod o-rwx it" },
};

START_TEST(test_file_mode)
{
	struct config	*cfg;
	char		 err[512], want[1024];

	write_file(mode_cases[_i].text);
	ck_assert_int_eq(chmod(path, mode_cases[_i].mode), 0);
	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	if (mode_cases[_i].want == NULL) {
		ck_assert_msg(cfg != NULL, "case %d: %s", _i, err);
		config_free(cfg);
		return;
	}
	ck_assert_msg(cfg == NULL, "case %d loaded", _i);
	expand(mode_cases[_i].want, want, sizeof(want));
	ck_assert_str_eq(err, want);
	/* Never the secret itself. */
	ck_assert_ptr_null(strstr(err, "s3cr3t"));
}
END_TEST

START_TEST(test_missing_file)
{
	char	err[512], want[600];

	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_long_line)
{
	char	text[9000], err[512], want[600];
	struct config *cfg;

	/* Far beyond any inih line buffer. */
	memset(text, 'x', sizeof(text));
	memcpy(text, "[store]\ndsn = ", 14);
	memcpy(text + sizeof(text) - 2, "\n", 2);
	cfg = load_text(text, err, sizeof(err));
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof(want), "%s:2: line too long", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_defaults)
{
	struct config	*cfg;
	char		 err[512];

	cfg = load_text("", err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_str_eq(cfg->listen, "127.0.0.1:9000");
	ck_assert_int_eq(cfg->listen_backlog, 511);
	ck_assert_int_eq(cfg->listen_mode, 0660);
	ck_assert_str_eq(cfg->listen_owner, "");
	ck_assert_str_eq(cfg->user, "");
	ck_assert_str_eq(cfg->pid_file, "");
	ck_assert_str_eq(cfg->log_file, "");
	ck_assert_str_eq(cfg->log_level, "info");
	ck_assert_str_eq(cfg->base_path, "/");
	ck_assert_int_eq(cfg->max_body, 1048576);
	ck_assert_int_eq(cfg->time_window, 60);
	ck_assert_int_eq(cfg->shutdown_timeout, 30);
	ck_assert_int_eq(cfg->pm, PM_DYNAMIC);
	ck_assert_int_eq(cfg->max_children, 8);
	ck_assert_int_eq(cfg->start_servers, 2);
	ck_assert_int_eq(cfg->min_spare_servers, 1);
	ck_assert_int_eq(cfg->max_spare_servers, 3);
	ck_assert_int_eq(cfg->idle_timeout, 10);
	ck_assert_int_eq(cfg->max_requests, 10000);
	ck_assert_int_eq(cfg->crash_threshold, 10);
	ck_assert_int_eq(cfg->crash_interval, 60);
	ck_assert_int_eq(cfg->crash_backoff, 5);
	ck_assert_str_eq(cfg->dsn, "dbname=mkpd");
	ck_assert_int_eq(cfg->statement_timeout, 2000);
	ck_assert_int_eq(cfg->response_timeout, 0);
	ck_assert_int_eq(cfg->connect_timeout, 2);
	ck_assert_int_eq(cfg->keepalives_idle, 10);
	ck_assert_int_eq(cfg->keepalives_interval, 3);
	ck_assert_int_eq(cfg->keepalives_count, 3);
	ck_assert_int_eq(cfg->tcp_user_timeout, 5000);
	ck_assert_int_eq(cfg->request_terminate_timeout, 10);
	ck_assert_str_eq(cfg->basic_key, "");
	ck_assert_str_eq(cfg->master_key_file, SYSCONFDIR "/mkpd/master.key");
	ck_assert_str_eq(cfg->front_end_url, "");
	ck_assert_str_eq(cfg->admin_url, "");
	ck_assert_str_eq(cfg->admin_user, "admin");
	ck_assert_int_eq(cfg->password_length, 16);
	ck_assert(!cfg->encrypt_app_info);
	ck_assert_int_eq(cfg->encrypt_type, 1);
	ck_assert_str_eq(pm_mode_name(cfg->pm), "dynamic");
	ck_assert_str_eq(cfg->mkt_url, "https://mkt.myhuaweicloud.com");
	ck_assert_str_eq(cfg->mkt_fallback_url, "https://mkt.myhuaweicloud.cn");
	ck_assert_str_eq(cfg->mkt_ak, "");
	ck_assert_str_eq(cfg->mkt_sk, "");
	ck_assert_str_eq(cfg->mkt_ca_file, "");
	ck_assert_int_eq(cfg->mkt_connect_timeout, 5000);
	ck_assert_int_eq(cfg->mkt_timeout, 30000);
	config_free(cfg);
}
END_TEST

static const struct {
	const char	*text;
	int64_t		 mode;
} octal_cases[] = {
	{ "[mkpd]\nlisten_mode = 0600\n", 0600 },
	{ "[mkpd]\nlisten_mode = 660\n", 0660 },
	{ "[mkpd]\nlisten_mode = 0\n", 0 },
	{ "[mkpd]\nlisten_mode = 0777\n", 0777 },
};

START_TEST(test_octal)
{
	struct config	*cfg;
	char		 err[512];

	cfg = load_text(octal_cases[_i].text, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->listen_mode, octal_cases[_i].mode);
	config_free(cfg);
}
END_TEST

START_TEST(test_values)
{
	struct config	*cfg;
	char		 err[512];

	cfg = load_text("[mkpd]\nlisten = /run/mkpd.sock ; the socket\n"
	    "[pool]\npm = ondemand\nmax_requests = 0\n"
	    "[app]\nencrypt_app_info = On\nmemo = a; b\n", err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->listen, "/run/mkpd.sock");
	ck_assert_int_eq(cfg->pm, PM_ONDEMAND);
	ck_assert_int_eq(cfg->max_requests, 0);
	ck_assert(cfg->encrypt_app_info);
	ck_assert_str_eq(cfg->memo, "a; b");	/* ';' needs a blank before it */
	config_free(cfg);
}
END_TEST

static char *
dump(const struct config *cfg)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	config_dump(cfg, fp);
	fclose(fp);
	return text;
}

START_TEST(test_dump_masks_secrets)
{
	struct config	*cfg;
	char		 err[512], *text;

	cfg = load_text("[keys]\nbasic_key = s3cr3t-basic\nkit_key =\n"
	    "[marketplace]\nak = AKID\nsk = s3cr3t-sk\n"
	    "[store]\ndsn = dbname=x password=hunter2\n"
	    "[mkpd]\nlisten_mode = 0600\n", err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	text = dump(cfg);
	ck_assert_ptr_null(strstr(text, "s3cr3t"));
	ck_assert_ptr_null(strstr(text, "hunter2"));
	ck_assert_ptr_nonnull(strstr(text, "keys.basic_key = (set)\n"));
	ck_assert_ptr_nonnull(strstr(text, "keys.kit_key = (unset)\n"));
	ck_assert_ptr_nonnull(strstr(text, "keys.v1_key = (unset)\n"));
	ck_assert_ptr_nonnull(strstr(text, "store.dsn = (set)\n"));
	ck_assert_ptr_nonnull(strstr(text, "marketplace.sk = (set)\n"));
	ck_assert_ptr_nonnull(strstr(text, "marketplace.ak = AKID\n"));
	ck_assert_ptr_nonnull(strstr(text, "marketplace.connect_timeout = 5000\n"));
	ck_assert_ptr_nonnull(strstr(text, "mkpd.listen_mode = 0600\n"));
	ck_assert_ptr_nonnull(strstr(text, "pool.pm = dynamic\n"));
	ck_assert_ptr_nonnull(strstr(text, "app.encrypt_app_info = false\n"));
	ck_assert_ptr_nonnull(strstr(text, "mkpd.listen = 127.0.0.1:9000\n"));
	free(text);
	config_free(cfg);
}
END_TEST

struct names {
	const char	*text;	/* the dump */
	int		 n;	/* names seen */
};

static void
count_name(const char *section, const char *name, void *arg)
{
	struct names	*names = arg;
	char		 line[128];

	/* Every name --options lists is also in the dump. */
	snprintf(line, sizeof(line), "%s.%s = ", section, name);
	ck_assert_msg(strstr(names->text, line) != NULL, "%s.%s not dumped", section, name);
	names->n++;
}

START_TEST(test_each_name)
{
	struct config	*cfg;
	char		 err[512], *text, *p;
	int		 lines = 0;
	struct names	 names;

	cfg = load_text("", err, sizeof(err));
	ck_assert_ptr_nonnull(cfg);
	text = dump(cfg);
	names.text = text;
	names.n = 0;
	config_each_name(count_name, &names);
	for (p = text; *p; p++)
		lines += *p == '\n';
	/* ... and the dump has no line the table does not name. */
	ck_assert_int_eq(lines, names.n);
	ck_assert_int_ge(names.n, 44);
	free(text);
	config_free(cfg);
}
END_TEST

START_TEST(test_startup_changes)
{
	struct config	*a, *b;
	char		 err[512], out[256], small[16];

	a = load_text("[mkpd]\nlisten = 9000\n[pool]\nmax_children = 8\n", err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	b = load_text("[mkpd]\nlisten = 9001\nuser = nobody\n"
	    "listen_mode = 0600\n[pool]\nmax_children = 9\n", err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);
	config_startup_changes(a, b, out, sizeof(out));
	ck_assert_str_eq(out, "mkpd.listen, mkpd.listen_mode, mkpd.user");
	config_startup_changes(a, b, small, sizeof(small));
	ck_assert_str_eq(small, "mkpd.listen...");
	config_startup_changes(a, a, out, sizeof(out));
	ck_assert_str_eq(out, "");

	/* After keep_startup only reloadable changes remain. */
	config_keep_startup(b, a);
	config_startup_changes(a, b, out, sizeof(out));
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(b->listen, "9000");
	ck_assert_str_eq(b->user, "");
	ck_assert_int_eq(b->listen_mode, 0660);
	ck_assert_int_eq(b->max_children, 9);
	config_free(a);
	config_free(b);
}
END_TEST

static const struct {
	const char		*in;
	bool			 ok;
	enum listen_kind	 kind;
	const char		*host, *port, *path;
} listen_cases[] = {
	{ "127.0.0.1:9000", true, LISTEN_TCP, "127.0.0.1", "9000", "" },
	{ "9000", true, LISTEN_TCP, "", "9000", "" },
	{ "*:9000", true, LISTEN_TCP, "", "9000", "" },
	{ "[::1]:9000", true, LISTEN_TCP, "::1", "9000", "" },
	{ "localhost:09000", true, LISTEN_TCP, "localhost", "9000", "" },
	{ "/run/mkpd.sock", true, LISTEN_UNIX, "", "", "/run/mkpd.sock" },
	{ "stdin", true, LISTEN_FD0, "", "", "" },
	{ "fd:0", true, LISTEN_FD0, "", "", "" },
	{ "[]:9000", false, 0, NULL, NULL, NULL },
	{ "[::1]9000", false, 0, NULL, NULL, NULL },
	{ "0", false, 0, NULL, NULL, NULL },
	{ "host:", false, 0, NULL, NULL, NULL },
	{ "relative.sock", false, 0, NULL, NULL, NULL },
};

START_TEST(test_listen)
{
	struct listen_addr	a;
	char			why[200];
	bool			ok;

	ok = config_parse_listen(listen_cases[_i].in, &a, why, sizeof(why));
	ck_assert_msg(ok == listen_cases[_i].ok, "case %s", listen_cases[_i].in);
	if (!ok)
		return;
	ck_assert_int_eq(a.kind, listen_cases[_i].kind);
	ck_assert_str_eq(a.host, listen_cases[_i].host);
	ck_assert_str_eq(a.port, listen_cases[_i].port);
	ck_assert_str_eq(a.path, listen_cases[_i].path);
}
END_TEST

/* [packages] skus: each value, the entries it yields (as "SKU QUOTA MODE UNIT;"), or NULL. */
static const struct {
	const char	*in;
	const char	*want;	/* NULL: refused */
} sku_cases[] = {
	{ "", "" },
	{ "sku-a:100:stop", "sku-a 100 stop ;" },
	{ "sku-a:100.5:overflow:GB, sku-b:order:stop", "sku-a 100.5 overflow GB;sku-b  stop ;" },
	{ "  a:0.0001:stop\tb:7:overflow:h ", "a 0.0001 stop ;b 7 overflow h;" },
	{ "sku-a:100", NULL },
	{ "sku-a:100:halt", NULL },
	{ "sku-a:1e3:stop", NULL },
	{ "sku-a:1.23456:stop", NULL },
	{ "sku-a:1.:stop", NULL },
	{ ":100:stop", NULL },
	{ "sku-a::stop", NULL },
	{ "a:1:stop:u:x", NULL },
	{ "a:1:stop:unit-longer-than-thirty-two-characters", NULL },
};

START_TEST(test_package_skus)
{
	struct pkg_sku	 e;
	char		 got[512] = "", why[200];
	const char	*p = sku_cases[_i].in;
	int		 rc;

	while ((rc = config_pkg_sku_next(&p, &e, why, sizeof(why))) == 1)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s %s %s %s;", e.sku,
		    e.quota, e.mode, e.unit);
	if (sku_cases[_i].want == NULL) {
		ck_assert_msg(rc == -1, "case %s accepted", sku_cases[_i].in);
		ck_assert_msg(strstr(why, "entry ") == why, "case %s: %s", sku_cases[_i].in, why);
		return;
	}
	ck_assert_msg(rc == 0, "case %s: %s", sku_cases[_i].in, why);
	ck_assert_str_eq(got, sku_cases[_i].want);
}
END_TEST

static const struct {
	const char	*in;
	const char	*want;	/* the numeric[] literal, NULL: refused */
} threshold_cases[] = {
	{ "80,95", "{80,95}" },
	{ "50, 75 ,90", "{50,75,90}" },
	{ "", "{}" },
	{ "95,80", NULL },
	{ "80,80", NULL },
	{ "0", NULL },
	{ "100", NULL },
	{ "80;95", NULL },
	{ "eighty", NULL },
};

START_TEST(test_package_thresholds)
{
	char	arr[256], why[200];
	bool	ok = config_pkg_thresholds(threshold_cases[_i].in, arr, sizeof(arr), why,
		    sizeof(why));

	ck_assert_msg(ok == (threshold_cases[_i].want != NULL), "case %s",
	    threshold_cases[_i].in);
	if (ok)
		ck_assert_str_eq(arr, threshold_cases[_i].want);
}
END_TEST

/* What a package order line grants under [packages] skus. */
static const struct {
	const char	*sku;
	const char	*linear;	/* NULL: the line has none */
	int		 mode;		/* CHARGING_* of the line */
	bool		 grants;
	const char	*quota, *pmode, *unit;
	bool		 from_config;
} grant_cases[] = {
	{ "sku-fixed", "100", CHARGING_ON_DEMAND_PKG, true, "25", "overflow", "GB", true },
	{ "sku-flex", "100", CHARGING_ON_DEMAND_PKG, true, "100", "overflow", "", false },
	{ "sku-other", "7.5", CHARGING_ON_DEMAND_PKG, true, "7.5", "stop", "", false },
	{ "sku-flex", NULL, CHARGING_ON_DEMAND_PKG, false, NULL, NULL, NULL, false },
	{ "sku-fixed", NULL, CHARGING_ON_DEMAND_PKG, true, "25", "overflow", "GB", true },
	{ "sku-fixed", "100", CHARGING_ON_DEMAND, false, NULL, NULL, NULL, false },
};

START_TEST(test_package_grant)
{
	struct order_product	 prod = { .product_id = (char *)"P",
				    .sku_code = (char *)grant_cases[_i].sku,
				    .linear_value = (char *)grant_cases[_i].linear };
	struct order_line	 line = { .order_line_id = (char *)"L",
				    .charging_mode = grant_cases[_i].mode,
				    .products = &prod, .nproducts = 1 };
	struct config		*cfg;
	char			 err[400], quota[24], mode[9], unit[33];
	bool			 from_config = true, ok;

	cfg = load_text("[packages]\nskus = sku-fixed:25:overflow:GB sku-flex:order:overflow\n",
	    err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ok = package_quota_of(cfg, &line, quota, mode, unit, &from_config);
	ck_assert_int_eq(ok, grant_cases[_i].grants);
	if (ok) {
		ck_assert_str_eq(quota, grant_cases[_i].quota);
		ck_assert_str_eq(mode, grant_cases[_i].pmode);
		ck_assert_str_eq(unit, grant_cases[_i].unit);
		ck_assert_int_eq(from_config, grant_cases[_i].from_config);
	}
	config_free(cfg);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("config", &tc);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_valid, 0, (int)(sizeof(valid_cases) / sizeof(valid_cases[0])));
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_loop_test(tc, test_file_mode, 0, (int)(sizeof(mode_cases) / sizeof(mode_cases[0])));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_octal, 0, (int)(sizeof(octal_cases) / sizeof(octal_cases[0])));
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_dump_masks_secrets);
	tcase_add_test(tc, test_each_name);
	tcase_add_test(tc, test_startup_changes);
	tcase_add_loop_test(tc, test_previous_key, 0,
	    (int)(sizeof(previous_cases) / sizeof(previous_cases[0])));
	tcase_add_loop_test(tc, test_listen, 0, (int)(sizeof(listen_cases) / sizeof(listen_cases[0])));
	tcase_add_loop_test(tc, test_package_skus, 0,
	    (int)(sizeof(sku_cases) / sizeof(sku_cases[0])));
	tcase_add_loop_test(tc, test_package_grant, 0,
	    (int)(sizeof(grant_cases) / sizeof(grant_cases[0])));
	tcase_add_loop_test(tc, test_package_thresholds, 0,
	    (int)(sizeof(threshold_cases) / sizeof(threshold_cases[0])));
	return unit_run(s);
}
