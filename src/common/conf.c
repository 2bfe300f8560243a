/*
 * conf.c: mkpd.conf, read with inih into a struct config.
 *
 * Why one table: cf_options[] below is the only place an option exists.
 * Its section, name, type, field offset, default, bounds and flags drive
 * the parser, the defaults, config_dump, config_startup_changes,
 * config_keep_startup and config_each_name (hence `mkpd --options` and the
 * docs check in scripts/check-options). Adding an option is one line here,
 * a field in conf.h and a paragraph in etc/mkpd.conf.sample; make check
 * fails if the paragraph is missing.
 *
 * Invariants:
 * - Defaults are written as strings in the file's syntax and go through
 *   the same setter as file values, so a default can never be out of the
 *   option's own bounds (config_load fails loudly if one is).
 * - Every CF_STRING field of a loaded config is non-NULL and malloc'd;
 *   config_free frees exactly those.
 * - Each option has exactly one of CF_RELOADABLE and CF_STARTUP_ONLY.
 * - Errors name the file, the line, the section and the option, and never
 *   quote the value of a CF_SECRET option.
 * - A file that sets a secret (a CF_SECRET option with a value; the dsn
 *   only when it holds a password) is refused when other users may read
 *   it: the keys would be theirs too.
 * - config_load has no side effect but the returned struct (plus, where the
 *   inih build allows it, raising inih's line-length limit), so a failed
 *   reload leaves the running process untouched.
 *
 * inih calls the reader once per line; we read through our own reader so
 * we know the line number of each handler call, whether the line was
 * indented (inih's continuation lines) and whether it was cut because it
 * was longer than inih's buffer.
 */
/*
 * autoconf's header (HAVE_DECL_INI_MAX_LINE).
 */
#include <config.h>

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"

enum cf_type {
	CF_STRING,
	CF_INT,
	CF_BOOL,
	CF_OCTAL,
	CF_ENUM,
};

#define CF_RELOADABLE	0x01	/* a reload applies it (to new workers) */
#define CF_STARTUP_ONLY	0x02	/* takes effect at the next start */
#define CF_SECRET	0x04	/* never shown: dump prints (set)/(unset) */
#define CF_EMPTY_OK	0x08	/* "name =" is allowed (string options) */

struct cf_option {
	const char	*section;
	const char	*name;
	enum cf_type	 type;
	size_t		 offset;	/* of the field in struct config */
	const char	*def;		/* default, in the file's syntax */
	int64_t		 min, max;	/* CF_INT, CF_OCTAL */
	unsigned	 flags;
	const char *const *names;	/* CF_ENUM: names, index = value */
	/* CF_STRING: further validation of a non-empty value */
	bool		(*check)(const char *, char *why, size_t whylen);
};

static const char *const pm_names[] = {
	[PM_STATIC] = "static",
	[PM_DYNAMIC] = "dynamic",
	[PM_ONDEMAND] = "ondemand",
	NULL,
};

static bool	cf_check_listen(const char *, char *, size_t);
static bool	cf_check_abspath(const char *, char *, size_t);
static bool	cf_check_sockpath(const char *, char *, size_t);
static bool	cf_check_log_level(const char *, char *, size_t);
static bool	cf_check_base_path(const char *, char *, size_t);
static bool	cf_check_user(const char *, char *, size_t);
static bool	cf_check_url(const char *, char *, size_t);
static bool	cf_check_time(const char *, char *, size_t);
static bool	cf_check_skus(const char *, char *, size_t);
static bool	cf_check_thresholds(const char *, char *, size_t);

#define OFF(f)		offsetof(struct config, f)
#define S(sec, n, def, fl, chk)	SF(sec, n, n, def, fl, chk)
#define I(sec, n, def, lo, hi, fl) IF(sec, n, n, def, lo, hi, fl)
/* The same, for an option whose field name differs from the option name. */
#define SF(sec, n, field, def, fl, chk) \
	{ sec, #n, CF_STRING, OFF(field), def, 0, 0, fl, NULL, chk }
#define IF(sec, n, field, def, lo, hi, fl) \
	{ sec, #n, CF_INT, OFF(field), def, lo, hi, fl, NULL, NULL }
#define B(sec, n, def, fl) \
	{ sec, #n, CF_BOOL, OFF(n), def, 0, 1, fl, NULL, NULL }
#define O(sec, n, def, lo, hi, fl) \
	{ sec, #n, CF_OCTAL, OFF(n), def, lo, hi, fl, NULL, NULL }
#define E(sec, n, def, names, fl) \
	{ sec, #n, CF_ENUM, OFF(n), def, 0, 0, fl, names, NULL }
/* [jobs] fields carry a jobs_ prefix in struct config, not in the file. */
#define JI(n, def, lo, hi, fl) \
	{ "jobs", #n, CF_INT, OFF(jobs_##n), def, lo, hi, fl, NULL, NULL }
#define JB(n, def, fl) \
	{ "jobs", #n, CF_BOOL, OFF(jobs_##n), def, 0, 1, fl, NULL, NULL }
/* [kit] fields carry a kit_ prefix in struct config, not in the file. */
#define KB(n, def, fl) \
	{ "kit", #n, CF_BOOL, OFF(kit_##n), def, 0, 1, fl, NULL, NULL }
#define KS(n, def, fl, chk) \
	{ "kit", #n, CF_STRING, OFF(kit_##n), def, 0, 0, fl, NULL, chk }

#define RL	CF_RELOADABLE
#define SO	CF_STARTUP_ONLY

/*
 * The options, in the order of conf.h and etc/mkpd.conf.sample (dump
 * and --options print them in this order).
 */
static const struct cf_option cf_options[] = {
	S("mkpd", listen, "127.0.0.1:9000", SO, cf_check_listen),
	I("mkpd", listen_backlog, "511", 1, 65535, SO),
	S("mkpd", listen_owner, "", SO | CF_EMPTY_OK, NULL),
	S("mkpd", listen_group, "", SO | CF_EMPTY_OK, NULL),
	O("mkpd", listen_mode, "0660", 0, 0777, SO),
	S("mkpd", user, "", SO | CF_EMPTY_OK, cf_check_user),
	S("mkpd", group, "", SO | CF_EMPTY_OK, NULL),
	S("mkpd", pid_file, "", SO | CF_EMPTY_OK, cf_check_abspath),
	S("mkpd", log_file, "", RL | CF_EMPTY_OK, cf_check_abspath),
	S("mkpd", log_level, "info", RL, cf_check_log_level),
	S("mkpd", base_path, "/", RL, cf_check_base_path),
	I("mkpd", max_body, "1048576", 1024, 64 << 20, RL),
	I("mkpd", time_window, "60", 1, 86400, RL),
	I("mkpd", shutdown_timeout, "30", 1, 3600, RL),
	S("mkpd", status_listen, "", SO | CF_EMPTY_OK, cf_check_listen),
	S("mkpd", control_socket, "", SO | CF_EMPTY_OK, cf_check_sockpath),
	S("mkpd", access_log, "", RL | CF_EMPTY_OK, cf_check_abspath),
	S("mkpd", access_format, "%t %a %d %A %c %D %w %i", RL, NULL),

	E("pool", pm, "dynamic", pm_names, RL),
	I("pool", max_children, "8", 1, CONFIG_MAX_CHILDREN, RL),
	I("pool", start_servers, "2", 1, CONFIG_MAX_CHILDREN, RL),
	I("pool", min_spare_servers, "1", 1, CONFIG_MAX_CHILDREN, RL),
	I("pool", max_spare_servers, "3", 1, CONFIG_MAX_CHILDREN, RL),
	I("pool", idle_timeout, "10", 1, 86400, RL),
	I("pool", max_requests, "10000", 0, 1000000000, RL),
	I("pool", crash_threshold, "10", 0, 1000, RL),
	I("pool", crash_interval, "60", 1, 3600, RL),
	I("pool", crash_backoff, "5", 1, 3600, RL),
	I("pool", request_slowlog_timeout, "0", 0, 86400, RL),
	I("pool", request_terminate_timeout, "10", 0, 86400, RL),
	I("pool", request_read_timeout, "5", 0, 3600, RL),

	S("store", dsn, "dbname=mkpd", RL | CF_SECRET, NULL),
	I("store", statement_timeout, "2000", 0, 3600000, RL),
	I("store", response_timeout, "0", 0, 3600000, RL),
	I("store", connect_timeout, "2", 1, 3600, RL),
	I("store", keepalives_idle, "10", 1, 7200, RL),
	I("store", keepalives_interval, "3", 1, 600, RL),
	I("store", keepalives_count, "3", 1, 100, RL),
	I("store", tcp_user_timeout, "5000", 0, 3600000, RL),
	S("store", spool_dir, LOCALSTATEDIR "/spool/mkpd", RL | CF_EMPTY_OK, cf_check_abspath),
	I("store", spool_max, "67108864", 65536, INT64_C(17179869184), RL),

	S("keys", basic_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	S("keys", kit_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	S("keys", v1_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	S("keys", previous_basic_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	S("keys", previous_basic_until, "", RL | CF_EMPTY_OK, cf_check_time),
	S("keys", previous_kit_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	S("keys", previous_kit_until, "", RL | CF_EMPTY_OK, cf_check_time),
	S("keys", previous_v1_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	S("keys", previous_v1_until, "", RL | CF_EMPTY_OK, cf_check_time),
	S("keys", master_key_file, SYSCONFDIR "/mkpd/master.key", RL, cf_check_abspath),

	S("app", front_end_url, "", RL | CF_EMPTY_OK, NULL),
	S("app", admin_url, "", RL | CF_EMPTY_OK, NULL),
	S("app", admin_user, "admin", RL, NULL),
	I("app", password_length, "16", 12, 128, RL),
	B("app", encrypt_app_info, "false", RL),
	I("app", encrypt_type, "1", 1, 2, RL),
	S("app", memo, "", RL | CF_EMPTY_OK, NULL),
	S("app", hook, "", RL | CF_EMPTY_OK, cf_check_abspath),
	I("app", hook_timeout, "30000", 100, 3600000, RL),

	SF("marketplace", url, mkt_url, "https://mkt.myhuaweicloud.com", RL, cf_check_url),
	SF("marketplace", fallback_url, mkt_fallback_url, "https://mkt.myhuaweicloud.cn",
	    RL | CF_EMPTY_OK, cf_check_url),
	SF("marketplace", ak, mkt_ak, "", RL | CF_EMPTY_OK, NULL),
	SF("marketplace", sk, mkt_sk, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	SF("marketplace", ca_file, mkt_ca_file, "", RL | CF_EMPTY_OK, cf_check_abspath),
	IF("marketplace", connect_timeout, mkt_connect_timeout, "5000", 100, 600000, RL),
	IF("marketplace", timeout, mkt_timeout, "30000", 100, 3600000, RL),
	JB(enabled, "true", RL),
	JI(poll_interval, "1000", 50, 60000, RL),
	JI(lease, "60", 1, 86400, RL),
	JI(max_attempts, "5", 1, 1000, RL),
	JI(backoff_base, "10", 1, 86400, RL),
	JI(backoff_max, "3600", 1, 604800, RL),
	JI(purge_interval, "60", 0, 86400, RL),

	KB(prune_full_sync, "true", RL),
	KS(private_key_file, "", RL | CF_EMPTY_OK, cf_check_abspath),
	SF("usage", token, usage_token, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	SF("usage", usage_key, usage_key, "", RL | CF_SECRET | CF_EMPTY_OK, NULL),
	IF("usage", push_interval, usage_push_interval, "300", 0, 86400, RL),
	IF("usage", batch_size, usage_batch_size, "100", 1, 1000, RL),
	SF("usage", dashboard_url, usage_dashboard_url, "", RL | CF_EMPTY_OK, NULL),
	SF("packages", skus, packages_skus, "", RL | CF_EMPTY_OK, cf_check_skus),
	SF("packages", thresholds, packages_thresholds, "80,95", RL | CF_EMPTY_OK,
	    cf_check_thresholds),
};

#undef S
#undef I
#undef SF
#undef IF
#undef B
#undef O
#undef E
#undef JI
#undef JB
#undef KB
#undef KS
#undef RL
#undef SO

/* The state of one config_load. */
struct cf_parse {
	struct config	*cfg;
	const char	*path;
	FILE		*fp;
	int		 line;		/* line the reader returned last */
	int		 next_line;	/* line number of the next read */
	bool		 indented;	/* the current line starts with blanks */
	int		 too_long;	/* line cut by inih's buffer, 0 = none */
	int		 set_line[NELEM(cf_options)];	/* 0 = default */
	int		 err_line;	/* line of the first error we saw */
	char		 err[512];	/* its message (empty: none yet) */
};

/* Field access by offset; the types match the table by construction. */
#define FIELD(cfg, o, type)	((type *)(void *)((char *)(cfg) + (o)->offset))
#define CFIELD(cfg, o, type)	((const type *)(const void *)((const char *)(cfg) + (o)->offset))

_Static_assert(sizeof(enum pm_mode) == sizeof(int), "enum options are stored as int");

static bool
cf_check_listen(const char *v, char *why, size_t whylen)
{
	struct listen_addr	a;

	return config_parse_listen(v, &a, why, whylen);
}

static bool
cf_check_abspath(const char *v, char *why, size_t whylen)
{
	if (v[0] != '/') {
		snprintf(why, whylen, "must be an absolute path");
		return false;
	}
	return true;
}

/* A unix socket path: absolute, and short enough for sockaddr_un. */
static bool
cf_check_sockpath(const char *v, char *why, size_t whylen)
{
	if (!cf_check_abspath(v, why, whylen))
		return false;
	if (strlen(v) >= sizeof(((struct listen_addr *)0)->path)) {
		snprintf(why, whylen, "longer than a unix socket path may be (%zu bytes)",
		    sizeof(((struct listen_addr *)0)->path) - 1);
		return false;
	}
	return true;
}

static bool
cf_check_log_level(const char *v, char *why, size_t whylen)
{
	enum log_level	l;

	if (!log_level_parse(v, &l)) {
		snprintf(why, whylen, "expected one of error, warn, notice, info, debug");
		return false;
	}
	return true;
}

static bool
cf_check_base_path(const char *v, char *why, size_t whylen)
{
	if (v[0] != '/') {
		snprintf(why, whylen, "must start with '/'");
		return false;
	}
	return true;
}

static bool
cf_check_user(const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "root") == 0) {
		snprintf(why, whylen, "workers must not run as root "
		    "(leave user empty to keep the user mkpd was started as)");
		return false;
	}
	return true;
}

static bool
cf_check_time(const char *v, char *why, size_t whylen)
{
	int64_t	ms;

	if (!parse_rfc3339(v, &ms)) {
		snprintf(why, whylen, "expected an RFC 3339 time, as in "
		    "2026-05-01T12:00:00Z");
		return false;
	}
	return true;
}

/*
 * [packages] skus: entries "SKU:QUOTA:MODE[:UNIT]" separated by blanks or
 * commas. QUOTA is a decimal (at most 4 decimals) or "order" (the order
 * line's linearValue); MODE is stop or overflow.
 */
int
config_pkg_sku_next(const char **pp, struct pkg_sku *e, char *why, size_t whylen)
{
	const char	*p = *pp, *end, *f[4];
	size_t		 len[4], n = 0, i;

	while (*p == ' ' || *p == ',' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	for (end = p; *end != '\0' && *end != ' ' && *end != ',' && *end != '\t'; end++)
		;
	*pp = end;
	memset(e, 0, sizeof(*e));
	for (f[0] = p; n < 4;) {
		const char *c = memchr(f[n], ':', (size_t)(end - f[n]));

		len[n] = (size_t)((c != NULL ? c : end) - f[n]);
		n++;
		if (c == NULL)
			break;
		if (n < 4)
			f[n] = c + 1;
		else {
			snprintf(why, whylen, "entry %.*s: more than SKU:QUOTA:MODE:UNIT",
			    (int)(end - p), p);
			return -1;
		}
	}
	if (n < 3 || len[0] == 0 || len[0] >= sizeof(e->sku) || len[1] == 0 ||
	    len[1] >= sizeof(e->quota) || (n == 4 && len[3] >= sizeof(e->unit))) {
		snprintf(why, whylen, "entry %.*s: expected SKU:QUOTA:MODE[:UNIT] "
		    "(SKU up to 64, UNIT up to 32 characters)", (int)(end - p), p);
		return -1;
	}
	memcpy(e->sku, f[0], len[0]);
	if (!(len[1] == 5 && memcmp(f[1], "order", 5) == 0)) {
		size_t dot = 0, digits = 0, decs = 0;

		for (i = 0; i < len[1]; i++) {
			if (f[1][i] == '.' && dot == 0)
				dot = 1;
			else if (f[1][i] >= '0' && f[1][i] <= '9')
				*(dot ? &decs : &digits) += 1;
			else
				break;
		}
		if (i < len[1] || digits == 0 || digits > 16 || decs > 4 || (dot && decs == 0)) {
			snprintf(why, whylen, "entry %.*s: QUOTA must be \"order\" or a "
			    "decimal with at most 4 decimals", (int)(end - p), p);
			return -1;
		}
		memcpy(e->quota, f[1], len[1]);
	}
	if (len[2] == 4 && memcmp(f[2], "stop", 4) == 0)
		snprintf(e->mode, sizeof(e->mode), "stop");
	else if (len[2] == 8 && memcmp(f[2], "overflow", 8) == 0)
		snprintf(e->mode, sizeof(e->mode), "overflow");
	else {
		snprintf(why, whylen, "entry %.*s: MODE must be stop or overflow",
		    (int)(end - p), p);
		return -1;
	}
	if (n == 4)
		memcpy(e->unit, f[3], len[3]);
	return 1;
}

bool
config_pkg_sku_find(const struct config *cfg, const char *sku, struct pkg_sku *out)
{
	const char	*p = cfg->packages_skus;
	char		 why[200];

	while (p != NULL && config_pkg_sku_next(&p, out, why, sizeof(why)) == 1)
		if (strcmp(out->sku, sku) == 0)
			return true;
	return false;
}

static bool
cf_check_skus(const char *v, char *why, size_t whylen)
{
	struct pkg_sku	 e;
	int		 rc;

	while ((rc = config_pkg_sku_next(&v, &e, why, whylen)) == 1)
		;
	return rc == 0;
}

bool
config_pkg_thresholds(const char *v, char *arr, size_t arrlen, char *why, size_t whylen)
{
	size_t	 n = 0;
	long	 last = 0;

	n += (size_t)snprintf(arr, arrlen, "{");
	while (*v != '\0') {
		char	*end;
		long	 t;

		while (*v == ' ' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		t = strtol(v, &end, 10);
		if (end == v || t <= last || t >= 100 || (*end != '\0' && *end != ',' &&
		    *end != ' ')) {
			snprintf(why, whylen, "expected rising whole percentages between 1 and "
			    "99, separated by commas, as in 80,95");
			return false;
		}
		if (n < arrlen)
			n += (size_t)snprintf(arr + n, arrlen - n, "%s%ld", last ? "," : "", t);
		last = t;
		v = end;
	}
	if (n < arrlen)
		n += (size_t)snprintf(arr + n, arrlen - n, "}");
	if (n >= arrlen) {
		snprintf(why, whylen, "too many thresholds");
		return false;
	}
	return true;
}

static bool
cf_check_thresholds(const char *v, char *why, size_t whylen)
{
	char	arr[256];

	return config_pkg_thresholds(v, arr, sizeof(arr), why, whylen);
}

/*
 * The marketplace's base URL: https, or plain http to the loopback only
 * (a local mock marketplace in tests); no query, fragment or user info,
 * since the API path is appended to it.
 */
static bool
cf_check_url(const char *v, char *why, size_t whylen)
{
	static const char *const loopback[] = {
		"http://127.0.0.1", "http://localhost", "http://[::1]",
	};
	size_t	i, n;

	if (strpbrk(v, "?#@ \t") != NULL) {
		snprintf(why, whylen, "expected a base URL without query, fragment, "
		    "user or blanks");
		return false;
	}
	if (str_has_prefix(v, "https://") && v[8] != '\0' && v[8] != '/')
		return true;
	for (i = 0; i < NELEM(loopback); i++) {
		n = strlen(loopback[i]);
		if (strncmp(v, loopback[i], n) == 0 &&
		    (v[n] == '\0' || v[n] == ':' || v[n] == '/'))
			return true;
	}
	snprintf(why, whylen, "must start with https:// (plain http only to "
	    "127.0.0.1, localhost or [::1])");
	return false;
}

bool
config_parse_listen(const char *s, struct listen_addr *a, char *why, size_t whylen)
{
	const char	*colon, *host, *port;
	size_t		 hostlen;
	int64_t		 n;

	memset(a, 0, sizeof(*a));
	if (strcmp(s, "stdin") == 0 || strcmp(s, "fd:0") == 0) {
		a->kind = LISTEN_FD0;
		return true;
	}
	if (str_has_prefix(s, "fd:")) {
		snprintf(why, whylen, "only fd:0 can be inherited "
		    "(systemd's socket is found without configuration)");
		return false;
	}
	if (s[0] == '/') {
		a->kind = LISTEN_UNIX;
		if (!str_copy(a->path, sizeof(a->path), s)) {
			snprintf(why, whylen, "unix socket path longer than %zu bytes",
			    sizeof(a->path) - 1);
			return false;
		}
		return true;
	}
	a->kind = LISTEN_TCP;
	if (s[0] == '[') {
		/* [v6addr]:port */
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':') {
			snprintf(why, whylen, "expected [address]:port");
			return false;
		}
		host = s + 1;
		hostlen = (size_t)(end - host);
		port = end + 2;
		if (hostlen == 0) {
			snprintf(why, whylen, "empty address in brackets");
			return false;
		}
	} else if ((colon = strrchr(s, ':')) != NULL) {
		/* host:port or *:port */
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			snprintf(why, whylen, "an IPv6 address needs brackets, "
			    "as in [::1]:9000");
			return false;
		}
		host = s;
		hostlen = (size_t)(colon - s);
		port = colon + 1;
		if (hostlen == 0) {
			snprintf(why, whylen, "empty host before ':' "
			    "(write *:port or just the port for every address)");
			return false;
		}
		if (hostlen == 1 && host[0] == '*')
			hostlen = 0;
	} else {
		/* port alone: every address */
		host = "";
		hostlen = 0;
		port = s;
	}
	if (hostlen >= sizeof(a->host)) {
		snprintf(why, whylen, "host name too long");
		return false;
	}
	memcpy(a->host, host, hostlen);
	a->host[hostlen] = '\0';
	if (!parse_i64(port, 1, 65535, &n)) {
		snprintf(why, whylen, "expected \"host:port\", \"port\", \"/path\" "
		    "or \"stdin\" (port 1..65535)");
		return false;
	}
	snprintf(a->port, sizeof(a->port), "%d", (int)n);
	return true;
}

const char *
pm_mode_name(enum pm_mode m)
{
	return (size_t)m < NELEM(pm_names) - 1 ? pm_names[m] : "?";
}

static bool
cf_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	i;

	for (i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Octal digits only, at most 4 of them ("660", "0660", "0"). */
static bool
cf_parse_octal(const char *v, int64_t *out)
{
	int64_t	acc = 0;
	size_t	n = strlen(v), i;

	if (n == 0 || n > 4)
		return false;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '7')
			return false;
		acc = acc * 8 + (v[i] - '0');
	}
	*out = acc;
	return true;
}

/*
 * Sets one option from its text. On failure writes the reason (without
 * the file position) to why and leaves the field as it was.
 */
static bool
cf_set(struct config *cfg, const struct cf_option *o, const char *v,
    char *why, size_t whylen)
{
	int64_t	 n;
	bool	 b;
	size_t	 i;
	char	 reason[200];

	if (*v == '\0' && !(o->flags & CF_EMPTY_OK)) {
		snprintf(why, whylen, "must not be empty");
		return false;
	}
	switch (o->type) {
	case CF_STRING:
		if (*v != '\0' && o->check != NULL &&
		    !o->check(v, reason, sizeof(reason))) {
			snprintf(why, whylen, "%s", reason);
			return false;
		}
		free(*FIELD(cfg, o, char *));
		*FIELD(cfg, o, char *) = xstrdup(v);
		return true;
	case CF_INT:
		if (!parse_i64(v, INT64_MIN, INT64_MAX, &n)) {
			snprintf(why, whylen, "not an integer: \"%s\"", v);
			return false;
		}
		if (n < o->min || n > o->max) {
			snprintf(why, whylen, "%lld is out of range (%lld..%lld)",
			    (long long)n, (long long)o->min, (long long)o->max);
			return false;
		}
		*FIELD(cfg, o, int64_t) = n;
		return true;
	case CF_OCTAL:
		if (!cf_parse_octal(v, &n)) {
			snprintf(why, whylen, "not an octal mode: \"%s\"", v);
			return false;
		}
		if (n < o->min || n > o->max) {
			snprintf(why, whylen, "%#llo is out of range (%#llo..%#llo)",
			    (unsigned long long)n, (unsigned long long)o->min,
			    (unsigned long long)o->max);
			return false;
		}
		*FIELD(cfg, o, int64_t) = n;
		return true;
	case CF_BOOL:
		if (!cf_parse_bool(v, &b)) {
			snprintf(why, whylen, "expected true or false (yes/no, on/off, 1/0)");
			return false;
		}
		*FIELD(cfg, o, bool) = b;
		return true;
	case CF_ENUM:
		for (i = 0; o->names[i] != NULL; i++) {
			if (strcmp(v, o->names[i]) == 0) {
				*FIELD(cfg, o, int) = (int)i;
				return true;
			}
		}
		{
			struct buf	list = BUF_INIT;

			for (i = 0; o->names[i] != NULL; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", o->names[i]);
			snprintf(why, whylen, "expected one of %s", buf_cstr(&list));
			buf_free(&list);
		}
		return false;
	}
	snprintf(why, whylen, "bad option type");
	return false;
}

static void PRINTFLIKE(4, 5)
cf_error(struct cf_parse *p, int line, const struct cf_option *o, const char *fmt, ...)
{
	char	msg[400];
	va_list	ap;

	if (p->err[0] != '\0')
		return;		/* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, sizeof(p->err), "%s:%d: [%s] %s: %s",
		    p->path, line, o->section, o->name, msg);
	else
		snprintf(p->err, sizeof(p->err), "%s: [%s] %s: %s",
		    p->path, o->section, o->name, msg);
	p->err_line = line;
}

static char *
cf_reader(char *str, int num, void *arg)
{
	struct cf_parse	*p = arg;
	size_t		 n;

	if (p->too_long)
		return NULL;
	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line = p->next_line;
	n = strlen(str);
	if (n > 0 && str[n - 1] == '\n')
		p->next_line++;
	else if (!feof(p->fp)) {
		/* inih would read the rest as a line of its own. */
		p->too_long = p->line;
		return NULL;
	}
	p->indented = str[0] == ' ' || str[0] == '\t';
	return str;
}

static int
cf_handler(void *arg, const char *section, const char *name, const char *value)
{
	struct cf_parse		*p = arg;
	const struct cf_option	*o;
	bool			 section_known = false;
	char			 why[300];
	size_t			 i;

	if (p->err[0] != '\0')
		return 1;	/* report the first error only */
	for (i = 0; i < NELEM(cf_options); i++) {
		if (strcmp(cf_options[i].section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(cf_options[i].name, name) == 0)
			break;
	}
	if (i == NELEM(cf_options)) {
		struct cf_option unknown = { .section = section, .name = name };

		if (*section == '\0')
			cf_error(p, p->line, &unknown, "option outside any [section]");
		else
			cf_error(p, p->line, &unknown, section_known ?
			    "unknown option" : "unknown section");
		return 0;
	}
	o = &cf_options[i];
	if (p->indented) {
		cf_error(p, p->line, o, "indented line (inih reads it as the "
		    "continuation of the previous value); start options at "
		    "the beginning of the line");
		return 0;
	}
	if (p->set_line[i] != 0) {
		cf_error(p, p->line, o, "set twice (first on line %d)", p->set_line[i]);
		return 0;
	}
	if (!cf_set(p->cfg, o, value, why, sizeof(why))) {
		cf_error(p, p->line, o, "%s", why);
		return 0;
	}
	p->set_line[i] = p->line;
	return 1;
}

static const struct cf_option *
cf_find(const char *section, const char *name, int *idx)
{
	size_t	i;

	for (i = 0; i < NELEM(cf_options); i++) {
		if (strcmp(cf_options[i].section, section) == 0 &&
		    strcmp(cf_options[i].name, name) == 0) {
			*idx = (int)i;
			return &cf_options[i];
		}
	}
	abort();	/* a cross-check names an option not in the table */
}

/* Reports an error against an option, at the line that set it, if any. */
static void PRINTFLIKE(4, 5)
cf_cross_error(struct cf_parse *p, const char *section, const char *name,
    const char *fmt, ...)
{
	const struct cf_option *o;
	char	msg[400];
	va_list	ap;
	int	idx;

	o = cf_find(section, name, &idx);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cf_error(p, p->set_line[idx], o, "%s", msg);
}

/* Rules that involve more than one option. */
static bool
cf_cross_check(struct cf_parse *p)
{
	const struct config	*c = p->cfg;
	struct listen_addr	 la;
	struct key_slot_view	 v;
	char			 why[200];
	int			 slot;

	if (c->pm == PM_DYNAMIC) {
		if (c->min_spare_servers > c->max_spare_servers)
			cf_cross_error(p, "pool", "min_spare_servers",
			    "%lld is more than max_spare_servers (%lld)",
			    (long long)c->min_spare_servers, (long long)c->max_spare_servers);
		else if (c->start_servers < c->min_spare_servers ||
		    c->start_servers > c->max_spare_servers)
			cf_cross_error(p, "pool", "start_servers",
			    "%lld is not between min_spare_servers (%lld) and "
			    "max_spare_servers (%lld)", (long long)c->start_servers,
			    (long long)c->min_spare_servers, (long long)c->max_spare_servers);
		else if (c->max_spare_servers > c->max_children)
			cf_cross_error(p, "pool", "max_spare_servers",
			    "%lld is more than max_children (%lld)",
			    (long long)c->max_spare_servers, (long long)c->max_children);
	}
	if (!config_parse_listen(c->listen, &la, why, sizeof(why)))
		cf_cross_error(p, "mkpd", "listen", "%s", why);
	else if (la.kind != LISTEN_UNIX) {
		if (c->listen_owner[0] != '\0')
			cf_cross_error(p, "mkpd", "listen_owner",
			    "only applies to a unix socket listen (/path)");
		else if (c->listen_group[0] != '\0')
			cf_cross_error(p, "mkpd", "listen_group",
			    "only applies to a unix socket listen (/path)");
	}
	if (c->group[0] != '\0' && c->user[0] == '\0')
		cf_cross_error(p, "mkpd", "group", "needs user to be set too");
	if (c->mkt_sk[0] != '\0' && c->mkt_ak[0] == '\0')
		cf_cross_error(p, "marketplace", "sk", "needs ak to be set too");
	else if (c->mkt_ak[0] != '\0' && c->mkt_sk[0] == '\0')
		cf_cross_error(p, "marketplace", "ak", "needs sk to be set too");
	if (c->mkt_connect_timeout > c->mkt_timeout)
		cf_cross_error(p, "marketplace", "connect_timeout",
		    "%lld is more than timeout (%lld)",
		    (long long)c->mkt_connect_timeout, (long long)c->mkt_timeout);
	for (slot = 0; slot < KEY_SLOTS; slot++) {
		char	name[32];

		config_key_slot(c, (enum key_slot)slot, &v);
		snprintf(name, sizeof(name), "previous_%s_key", v.name);
		if (v.previous[0] != '\0' && v.until[0] == '\0')
			cf_cross_error(p, "keys", name, "needs previous_%s_until", v.name);
	}
	if (c->jobs_backoff_max < c->jobs_backoff_base)
		cf_cross_error(p, "jobs", "backoff_max", "%lld is less than backoff_base (%lld)",
		    (long long)c->jobs_backoff_max, (long long)c->jobs_backoff_base);
	return p->err[0] == '\0';
}

/*
 * The first secret the file sets itself, or NULL. The dsn is a secret only
 * with a password in it: without one it names a database, which the
 * sample and most installs leave world-readable.
 */
static const struct cf_option *
cf_secret_set(const struct cf_parse *p)
{
	const struct cf_option	*o;
	const char		*v;
	size_t			 i;

	for (i = 0; i < NELEM(cf_options); i++) {
		o = &cf_options[i];
		if (!(o->flags & CF_SECRET) || p->set_line[i] == 0)
			continue;
		v = *CFIELD(p->cfg, o, char *);
		if (v[0] == '\0')
			continue;
		if (strcmp(o->name, "dsn") == 0 && strstr(v, "password") == NULL)
			continue;
		return o;
	}
	return NULL;
}

static void
cf_raise_line_limit(void)
{
#if HAVE_DECL_INI_MAX_LINE
	/* Debian's inih takes its limits at run time: allow long DSNs. */
	if (ini_max_line < 4096)
		ini_max_line = 4096;
#endif
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config	*cfg;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	cfg = config_load_stream(fp, path, err, errlen);
	fclose(fp);
	return cfg;
}

struct config *
config_load_stream(FILE *fp, const char *path, char *err, size_t errlen)
{
	struct cf_parse	 p;
	const struct cf_option *secret;
	struct config	*cfg;
	struct stat	 st;
	char		 why[300];
	size_t		 i;
	int		 rc;

	memset(&p, 0, sizeof(p));
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(path);
	p.cfg = cfg;
	p.path = path;
	p.next_line = 1;

	for (i = 0; i < NELEM(cf_options); i++) {
		if (!cf_set(cfg, &cf_options[i], cf_options[i].def, why, sizeof(why))) {
			snprintf(err, errlen, "built-in default of [%s] %s: %s",
			    cf_options[i].section, cf_options[i].name, why);
			config_free(cfg);
			return NULL;
		}
	}

	p.fp = fp;
	/* A stream with no file behind it (fmemopen: the fuzz target) has no mode. */
	memset(&st, 0, sizeof(st));
	if (fileno(fp) != -1 && fstat(fileno(fp), &st) == -1) {
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		config_free(cfg);
		return NULL;
	}
	cf_raise_line_limit();
	rc = ini_parse_stream(cf_reader, &p, cf_handler, &p);
	if (ferror(p.fp)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		config_free(cfg);
		return NULL;
	}

	if (p.too_long && (p.err[0] == '\0' || p.too_long < p.err_line)) {
		snprintf(err, errlen, "%s:%d: line too long", path, p.too_long);
		config_free(cfg);
		return NULL;
	}
	if (rc > 0 && (p.err[0] == '\0' || rc < p.err_line)) {
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] "
		    "or name = value)", path, rc);
		config_free(cfg);
		return NULL;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: inih error %d", path, rc);
		config_free(cfg);
		return NULL;
	}
	if (p.err[0] != '\0' || !cf_cross_check(&p)) {
		snprintf(err, errlen, "%s", p.err);
		config_free(cfg);
		return NULL;
	}
	if ((st.st_mode & S_IRWXO) != 0 && (secret = cf_secret_set(&p)) != NULL) {
		snprintf(err, errlen, "%s: mode %04o lets other users read the "
		    "secret [%s] %s; chmod o-rwx it", path,
		    (unsigned)(st.st_mode & 07777), secret->section, secret->name);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	for (i = 0; i < NELEM(cf_options); i++) {
		if (cf_options[i].type == CF_STRING)
			free(*FIELD(cfg, &cf_options[i], char *));
	}
	free(cfg->path);
	free(cfg);
}

/* The value of an option in the file's syntax, into out. */
static void
cf_format(const struct config *cfg, const struct cf_option *o, char *out, size_t outsz)
{
	int	e;

	switch (o->type) {
	case CF_STRING:
		snprintf(out, outsz, "%s", *CFIELD(cfg, o, char *));
		break;
	case CF_INT:
		snprintf(out, outsz, "%lld", (long long)*CFIELD(cfg, o, int64_t));
		break;
	case CF_OCTAL:
		snprintf(out, outsz, "0%03llo", (unsigned long long)*CFIELD(cfg, o, int64_t));
		break;
	case CF_BOOL:
		snprintf(out, outsz, "%s", *CFIELD(cfg, o, bool) ? "true" : "false");
		break;
	case CF_ENUM:
		e = *CFIELD(cfg, o, int);
		snprintf(out, outsz, "%s", o->names[e]);
		break;
	}
}

static bool
cf_equal(const struct config *a, const struct config *b, const struct cf_option *o)
{
	switch (o->type) {
	case CF_STRING:
		return strcmp(*CFIELD(a, o, char *), *CFIELD(b, o, char *)) == 0;
	case CF_INT:
	case CF_OCTAL:
		return *CFIELD(a, o, int64_t) == *CFIELD(b, o, int64_t);
	case CF_BOOL:
		return *CFIELD(a, o, bool) == *CFIELD(b, o, bool);
	case CF_ENUM:
		return *CFIELD(a, o, int) == *CFIELD(b, o, int);
	}
	return false;
}

void
config_startup_changes(const struct config *a, const struct config *b,
    char *out, size_t outsz)
{
	size_t	i, len = 0;
	int	n;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < NELEM(cf_options); i++) {
		const struct cf_option *o = &cf_options[i];

		if (!(o->flags & CF_STARTUP_ONLY) || cf_equal(a, b, o))
			continue;
		n = snprintf(out + len, outsz - len, "%s%s.%s",
		    len ? ", " : "", o->section, o->name);
		if (n < 0 || (size_t)n >= outsz - len) {
			/* Did not fit: keep the whole names, then "...". */
			if (outsz - len >= 4)
				memcpy(out + len, "...", 4);
			else if (outsz >= 4)
				memcpy(out + outsz - 4, "...", 4);
			return;
		}
		len += (size_t)n;
	}
}

void
config_keep_startup(struct config *fresh, const struct config *running)
{
	size_t	i;

	for (i = 0; i < NELEM(cf_options); i++) {
		const struct cf_option *o = &cf_options[i];

		if (!(o->flags & CF_STARTUP_ONLY))
			continue;
		switch (o->type) {
		case CF_STRING:
			free(*FIELD(fresh, o, char *));
			*FIELD(fresh, o, char *) = xstrdup(*CFIELD(running, o, char *));
			break;
		case CF_INT:
		case CF_OCTAL:
			*FIELD(fresh, o, int64_t) = *CFIELD(running, o, int64_t);
			break;
		case CF_BOOL:
			*FIELD(fresh, o, bool) = *CFIELD(running, o, bool);
			break;
		case CF_ENUM:
			*FIELD(fresh, o, int) = *CFIELD(running, o, int);
			break;
		}
	}
}

void
config_dump(const struct config *cfg, FILE *fp)
{
	char	val[4096];
	size_t	i;

	for (i = 0; i < NELEM(cf_options); i++) {
		const struct cf_option *o = &cf_options[i];

		if (o->flags & CF_SECRET)
			snprintf(val, sizeof(val), "%s",
			    **CFIELD(cfg, o, char *) != '\0' ? "(set)" : "(unset)");
		else
			cf_format(cfg, o, val, sizeof(val));
		fprintf(fp, "%s.%s = %s\n", o->section, o->name, val);
	}
}

/* [keys]: where each slot's three options sit in struct config. */
static const struct {
	const char	*name;
	size_t		 key, previous, until;
} key_slots[KEY_SLOTS] = {
	[KEY_BASIC] = { "basic", OFF(basic_key), OFF(previous_basic_key),
	    OFF(previous_basic_until) },
	[KEY_KIT] = { "kit", OFF(kit_key), OFF(previous_kit_key), OFF(previous_kit_until) },
	[KEY_V1] = { "v1", OFF(v1_key), OFF(previous_v1_key), OFF(previous_v1_until) },
};

#define KEY_FIELD(cfg, off)	(*(char *const *)(const void *)((const char *)(cfg) + (off)))

const char *
config_key_slot_name(enum key_slot slot)
{
	return key_slots[slot].name;
}

void
config_key_slot(const struct config *cfg, enum key_slot slot, struct key_slot_view *v)
{
	v->name = key_slots[slot].name;
	v->key = KEY_FIELD(cfg, key_slots[slot].key);
	v->previous = KEY_FIELD(cfg, key_slots[slot].previous);
	v->until = KEY_FIELD(cfg, key_slots[slot].until);
}

const char *
config_previous_key(const struct config *cfg, enum key_slot slot, int64_t now)
{
	struct key_slot_view	 v;
	int64_t			 end;

	config_key_slot(cfg, slot, &v);
	if (v.previous[0] == '\0' || !parse_rfc3339(v.until, &end) || now >= end ||
	    strcmp(v.previous, v.key) == 0)
		return NULL;
	return v.previous;
}

void
config_each_name(void (*fn)(const char *section, const char *name, void *), void *arg)
{
	size_t	i;

	for (i = 0; i < NELEM(cf_options); i++)
		fn(cf_options[i].section, cf_options[i].name, arg);
}
