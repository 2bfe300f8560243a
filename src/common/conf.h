/*
 * conf.h: mkpd.conf, an INI file read with inih into one struct.
 *
 * Every option lives in one declarative table (conf.c) giving its
 * section, name, type, default, bounds and whether a reload may change it.
 * The same table validates the file, prints `mkpd -t -v`, and feeds the
 * check that every option is documented in etc/mkpd.conf.sample.
 *
 * Reload is transactional: a new struct config is parsed and validated
 * whole; the caller swaps it in only when config_load succeeded.
 *
 * File syntax (inih): "[section]" headers, "name = value" lines, comments
 * starting with ';' or '#' at the start of a line, or " ;" after a value.
 * Options must not be indented (inih would read an indented line as the
 * continuation of the previous value), each may appear once, and a value
 * may be empty only where the option says so (keys, optional paths).
 */
#ifndef MKP_COMMON_CONF_H
#define MKP_COMMON_CONF_H

#include <stdint.h>
#include <stdio.h>
#include "common/defs.h"

/* Hard cap on [pool] max_children (the scoreboard has twice this many slots). */
#define CONFIG_MAX_CHILDREN	1024

enum pm_mode {
	PM_STATIC,
	PM_DYNAMIC,
	PM_ONDEMAND,
};

struct config {
	char	*path;			/* the file this was read from */

	/* [mkpd] */
	char	*listen;		/* "host:port", "port", "/path.sock", "stdin" or "fd:0" */
	int64_t	 listen_backlog;
	char	*listen_owner;
	char	*listen_group;
	int64_t	 listen_mode;		/* unix socket mode, octal in the file */
	char	*user;			/* drop privileges to this user ("" = stay) */
	char	*group;
	char	*pid_file;		/* "" = none */
	char	*log_file;		/* "" = stderr */
	char	*log_level;
	char	*base_path;		/* the production URL's path, e.g. "/" or "/saasproduce" */
	int64_t	 max_body;		/* bytes */
	int64_t	 time_window;		/* seconds of allowed clock difference */
	int64_t	 shutdown_timeout;	/* seconds a graceful stop waits for requests */
	char	*status_listen;		/* FastCGI socket of the status child, "" = none */
	char	*control_socket;	/* mkpctl's unix socket, "" = none */
	char	*access_log;		/* "" = none */
	char	*access_format;		/* %-escapes, see etc/mkpd.conf.sample */

	/* [pool] */
	enum pm_mode pm;
	int64_t	 max_children;
	int64_t	 start_servers;
	int64_t	 min_spare_servers;
	int64_t	 max_spare_servers;
	int64_t	 idle_timeout;		/* seconds (ondemand) */
	int64_t	 max_requests;		/* 0 = never recycle */
	int64_t	 crash_threshold;	/* abnormal exits ... */
	int64_t	 crash_interval;	/* ... within this many seconds trigger back-off */
	int64_t	 crash_backoff;		/* seconds to wait before respawning again */
	int64_t	 request_slowlog_timeout;	/* seconds, 0 = off */
	int64_t	 request_terminate_timeout;	/* seconds, 0 = off */
	int64_t	 request_read_timeout;		/* seconds to deliver a request, 0 = off */

	/* [store] */
	char	*dsn;			/* libpq connection string */
	int64_t	 statement_timeout;	/* milliseconds */
	int64_t	 response_timeout;	/* ms a round trip may wait, 0 = statement_timeout + 1 s */
	int64_t	 connect_timeout;	/* seconds per host (libpq) */
	int64_t	 keepalives_idle;	/* seconds (libpq, TCP keepalives) */
	int64_t	 keepalives_interval;	/* seconds */
	int64_t	 keepalives_count;
	int64_t	 tcp_user_timeout;	/* milliseconds, 0 = the kernel's default */
	char	*spool_dir;		/* deferred rows the store cannot take, "" = none */
	int64_t	 spool_max;		/* bytes per worker's spool file */

	/* [keys] */
	char	*basic_key;		/* V2 basic interfaces */
	char	*kit_key;		/* Kit sync (V2 x-sign) */
	char	*v1_key;		/* legacy V1 */
	/*
	 * Key rotation: the key each dialect had before, still accepted
	 * until the RFC 3339 time beside it (config_key_slot).
	 */
	char	*previous_basic_key;
	char	*previous_basic_until;
	char	*previous_kit_key;
	char	*previous_kit_until;
	char	*previous_v1_key;
	char	*previous_v1_until;
	char	*master_key_file;	/* secretbox key for secrets at rest */

	/* [app] */
	char	*front_end_url;		/* template: {instanceId} {orderId} ... */
	char	*admin_url;
	char	*admin_user;
	int64_t	 password_length;
	bool	 encrypt_app_info;	/* reading 5 */
	int64_t	 encrypt_type;		/* 1 = AES-256-CBC, 2 = AES-128-CBC */
	char	*memo;
	char	*hook;			/* provisioning hook executable ("" = built-in) */
	int64_t	 hook_timeout;		/* milliseconds */

	/*
	 * [marketplace]: the open API mkpd calls (order query, usage push).
	 * Fields carry mkt_ because the option names (url, ak, ...) would be
	 * ambiguous in this struct.
	 */
	char	*mkt_url;		/* base URL, e.g. https://mkt.myhuaweicloud.com */
	char	*mkt_fallback_url;	/* tried when url fails at transport level; "" = none */
	char	*mkt_ak;		/* APIG access key ("" = calls disabled) */
	char	*mkt_sk;		/* APIG secret key (secret) */
	char	*mkt_ca_file;		/* CA bundle; "" = the system's */
	int64_t	 mkt_connect_timeout;	/* milliseconds */
	int64_t	 mkt_timeout;		/* milliseconds, whole request */
	/* [jobs] (the jobs child, src/jobs/runner.h) */
	bool	 jobs_enabled;		/* fork the jobs child */
	int64_t	 jobs_poll_interval;	/* ms an idle runner waits for NOTIFY */
	int64_t	 jobs_lease;		/* seconds a claim holds a job */
	int64_t	 jobs_max_attempts;	/* for kinds and rows that set none */
	int64_t	 jobs_backoff_base;	/* seconds before the first retry */
	int64_t	 jobs_backoff_max;	/* seconds, the longest wait between retries */
	int64_t	 jobs_purge_interval;	/* seconds between nonce purges, 0 = never */
	/* [kit] (the joint-operation sync calls, src/domain/kit.h) */
	bool	 kit_prune_full_sync;	/* a full department sync soft-deletes the omitted */
	char	*kit_private_key_file;	/* RSA key decrypting clientSecret ("" = none) */

	/* [usage] metered usage (issue 5) */
	char	*usage_token;		/* bearer token of POST /-/usage ("" = disabled) */
	char	*usage_key;		/* body signature key of the push; "" = basic_key */
	int64_t	 usage_push_interval;	/* seconds between queued pushes, 0 = never */
	int64_t	 usage_batch_size;	/* records per push call */
	char	*usage_dashboard_url;	/* usageInfo.dashboardUrl, "{instanceId}" filled; "" none */

	/* [packages] quotas of on-demand packages (issue 15, src/domain/package.h) */
	char	*packages_skus;		/* "SKU:QUOTA|order:stop|overflow[:UNIT]", blank-separated */
	char	*packages_thresholds;	/* quota_low thresholds, percent drawn: "80,95" */
};

/* One entry of [packages] skus (config_pkg_sku_next). */
struct pkg_sku {
	char	sku[65];
	char	quota[24];	/* decimal text; "" = the order line's linearValue */
	char	mode[9];	/* stop, overflow */
	char	unit[33];	/* "" when not given */
};

/*
 * The next entry of a [packages] skus value at *p (advanced): 1 with *e
 * filled, 0 at the end, -1 with why on a malformed entry.
 */
int	 config_pkg_sku_next(const char **p, struct pkg_sku *e, char *why, size_t whylen);
/* The entry of [packages] skus for sku: false when it has none. */
bool	 config_pkg_sku_find(const struct config *, const char *sku, struct pkg_sku *out);
/* [packages] thresholds as a PostgreSQL numeric[] literal ("{80,95}") into arr. */
bool	 config_pkg_thresholds(const char *v, char *arr, size_t arrlen, char *why,
	    size_t whylen);

/*
 * Reads path into a fresh config (defaults first, then the file). On
 * failure returns NULL and writes a one-line reason ("file:line: ...") to
 * err. The result is owned by the caller (config_free).
 */
struct config *config_load(const char *path, char *err, size_t errlen) MUSTCHECK;
/* config_load of an open file, named path in messages; fp is left open. */
struct config *config_load_stream(FILE *fp, const char *path, char *err,
	    size_t errlen) MUSTCHECK;
void	 config_free(struct config *);

/*
 * Names of options whose value differs between a and b but that only take
 * effect at start (listen, user, ...), for the reload log line. Writes
 * "section.name" entries separated by ", " to out (size outsz; "" when
 * nothing differs; ends in "..." if it did not fit).
 */
void	 config_startup_changes(const struct config *a, const struct config *b,
	    char *out, size_t outsz);
/*
 * Gives fresh the running values of every startup-only option, so that a
 * reloaded config describes what actually runs until the next restart.
 * fresh keeps ownership of its (replaced) strings.
 */
void	 config_keep_startup(struct config *fresh, const struct config *running);

/* Writes every option as "section.name = value" (keys shown as "(set)"). */
void	 config_dump(const struct config *, FILE *);

/*
 * The key slots of [keys], one per signing dialect: NAME_key, and during a
 * rotation previous_NAME_key accepted until previous_NAME_until (RFC
 * 3339). The call pipeline (api/call.c), mkpctl keys and config check
 * read them through this one table.
 */
enum key_slot {
	KEY_BASIC,	/* V2 basic */
	KEY_KIT,	/* Kit V2 (x-sign) */
	KEY_V1,		/* legacy V1 and Kit V1 */
	KEY_SLOTS
};

struct key_slot_view {
	const char	*name;		/* "basic", "kit", "v1" */
	const char	*key;		/* never NULL ("" when unset) */
	const char	*previous;
	const char	*until;
};

void	 config_key_slot(const struct config *, enum key_slot, struct key_slot_view *);
const char *config_key_slot_name(enum key_slot);

/*
 * The previous key of a slot while its overlap lasts at now (ms since the
 * epoch); NULL when there is none (unset, over, or the same as the
 * current key).
 */
const char *config_previous_key(const struct config *, enum key_slot, int64_t now);

/* Calls fn for every option name as "section.name" (for the docs check). */
void	 config_each_name(void (*fn)(const char *section, const char *name, void *), void *);

const char *pm_mode_name(enum pm_mode);

/*
 * The listen option, split. "stdin" and "fd:0" mean an inherited listening
 * socket on fd 0 (spawn-fcgi); "/path" a unix socket; "port", "*:port",
 * "host:port" and "[v6addr]:port" TCP (host "" = every address).
 */
enum listen_kind {
	LISTEN_TCP,
	LISTEN_UNIX,
	LISTEN_FD0,
};

struct listen_addr {
	enum listen_kind kind;
	char	 host[256];		/* LISTEN_TCP: name or address, "" = any */
	char	 port[8];		/* LISTEN_TCP: 1..65535, digits */
	char	 path[108];		/* LISTEN_UNIX: fits sockaddr_un.sun_path */
};

/* Splits s; on failure why says what is wrong with it. */
bool	 config_parse_listen(const char *s, struct listen_addr *, char *why, size_t whylen) MUSTCHECK;

#endif
