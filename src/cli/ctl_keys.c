/*
 * ctl_keys.c: mkpctl keys, the keys an administrator makes or changes.
 *
 *	keys generate rsa [--bits N] [FILE]   (also: keys [--bits N] [FILE])
 *	keys generate master FILE
 *	keys rotate basic|kit|v1 [--overlap DURATION] [--key-file FILE]
 *	keys status
 *
 * Rotation. The marketplace console shows a new key; from the moment it
 * is bound, the marketplace signs with it, and calls signed before (or
 * retried) still carry the old one. `keys rotate` makes the new key
 * current and keeps the old one as [keys] previous_<dialect>_key, accepted
 * until previous_<dialect>_until (now + --overlap, default 24h), by
 * rewriting mkpd.conf in place (same owner and mode, checked before it
 * replaces the file). The key is read from --key-file or the first line
 * of standard input, never from the command line (ps would show it).
 *
 * Why the configuration file and not the database: the current keys live
 * there already (0600, read by the root master), every host needs the
 * same file anyway and gets it the way it got the keys in the first
 * place, and a reload is transactional: a host accepts exactly what its
 * file says, with no request ever waiting on a key lookup. A rotation is
 * rare and planned; the overlap (a day by default) leaves time to reload
 * every host before switching the key in the console.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/ctl.h"
#include "cli/ctl_keys.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/rsa.h"
#include "crypto/seal.h"
#include "crypto/sign.h"

#define KEY_MAX		512
#define DEFAULT_OVERLAP	(24 * 3600)

static int
usage(void)
{
	fprintf(stderr, "usage: mkpctl keys generate rsa [--bits N] [FILE]\n"
	    "       mkpctl keys generate master FILE\n"
	    "       mkpctl keys rotate basic|kit|v1 [--overlap DURATION] [--key-file FILE]\n"
	    "       mkpctl keys status [--json]\n");
	return 2;
}

/*
 * The RSA key pair of the Kit clientSecret. The private key goes to FILE
 * (default [kit] private_key_file), mode 0600, never overwritten; the
 * public key PEM is printed, to upload to the seller center with the
 * application credential.
 */
static int
generate_rsa(struct ctl *c, int argc, char **argv)
{
	struct buf	 pub = BUF_INIT;
	const char	*path = NULL;
	char		 err[512];
	int64_t		 bits = 3072;
	int		 i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
			if (!parse_i64(argv[++i], 3072, 16384, &bits)) {
				fprintf(stderr, "mkpctl keys: --bits must be 3072..16384\n");
				return 2;
			}
		} else if (argv[i][0] != '-' && path == NULL) {
			path = argv[i];
		} else {
			return usage();
		}
	}
	if (path == NULL) {
		if (!ctl_config(c))
			return 1;
		path = c->cfg->kit_private_key_file;
		if (path[0] == '\0') {
			fprintf(stderr, "mkpctl keys: give FILE or set [kit] private_key_file\n");
			return 2;
		}
	}
	if (!rsa_key_generate(path, (int)bits, &pub, err, sizeof(err))) {
		fprintf(stderr, "mkpctl keys: %s\n", err);
		buf_free(&pub);
		return 1;
	}
	fprintf(stderr, "private key written to %s (mode 0600); upload this public key:\n",
	    path);
	fputs(buf_cstr(&pub), stdout);
	buf_free(&pub);
	return 0;
}

static int
generate(struct ctl *c, int argc, char **argv)
{
	char	err[512];

	if (argc >= 1 && strcmp(argv[0], "rsa") == 0)
		return generate_rsa(c, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[0], "master") == 0) {
		if (!seal_key_create(argv[1], err, sizeof(err))) {
			fprintf(stderr, "mkpctl keys: %s\n", err);
			return 1;
		}
		printf("master key written to %s (mode 0600); set [keys] master_key_file "
		    "and give every host the same file\n", argv[1]);
		return 0;
	}
	return usage();
}

/* The first 8 hex digits of SHA-256(key): tells keys apart, reveals nothing. */
static void
fingerprint(const char *key, char out[9])
{
	char	hex[SIGN_HEX_LEN + 1];

	if (key[0] == '\0') {
		snprintf(out, 9, "-");
		return;
	}
	sign_sha256_hex(key, strlen(key), hex);
	memcpy(out, hex, 8);
	out[8] = '\0';
}

static void
dialects(const struct config *cfg, struct key_slot_view d[KEY_SLOTS])
{
	int	i;

	for (i = 0; i < KEY_SLOTS; i++)
		config_key_slot(cfg, (enum key_slot)i, &d[i]);
}

static int
status(struct ctl *c)
{
	struct key_slot_view d[KEY_SLOTS];
	struct buf	 b = BUF_INIT;
	struct jw	 w;
	char		 cur[9], prev[9];
	const char	*state;
	int64_t		 end;
	int		 i;

	if (!ctl_config(c))
		return 1;
	dialects(c->cfg, d);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	if (!c->json)
		printf("%-8s %-10s %-10s %-22s %s\n", "DIALECT", "CURRENT", "PREVIOUS",
		    "UNTIL", "OVERLAP");
	for (i = 0; i < KEY_SLOTS; i++) {
		fingerprint(d[i].key, cur);
		fingerprint(d[i].previous, prev);
		if (d[i].previous[0] == '\0')
			state = "none";
		else if (parse_rfc3339(d[i].until, &end) && end > now_ms())
			state = "open";
		else
			state = "over";
		jw_obj_begin(&w);
		jw_kv_str(&w, "dialect", d[i].name);
		jw_key(&w, "current");
		d[i].key[0] ? jw_str(&w, cur) : jw_null(&w);
		jw_key(&w, "previous");
		d[i].previous[0] ? jw_str(&w, prev) : jw_null(&w);
		jw_key(&w, "until");
		d[i].until[0] ? jw_str(&w, d[i].until) : jw_null(&w);
		jw_kv_str(&w, "overlap", state);
		jw_obj_end(&w);
		if (!c->json)
			printf("%-8s %-10s %-10s %-22s %s\n", d[i].name, cur, prev,
			    d[i].until[0] ? d[i].until : "-", state);
	}
	jw_arr_end(&w);
	if (c->json)
		printf("%s\n", buf_cstr(&b));
	buf_free(&b);
	return 0;
}

/* The new key: the first line of path, or of standard input. */
static bool
read_key(const char *path, char *key, size_t keysz)
{
	FILE	*fp = path != NULL ? fopen(path, "r") : stdin;
	size_t	 n;

	if (fp == NULL) {
		fprintf(stderr, "mkpctl keys: %s: %s\n", path, strerror(errno));
		return false;
	}
	if (fgets(key, (int)keysz, fp) == NULL)
		key[0] = '\0';
	if (path != NULL)
		fclose(fp);
	n = strcspn(key, "\r\n");
	key[n] = '\0';
	while (n > 0 && (key[n - 1] == ' ' || key[n - 1] == '\t'))
		key[--n] = '\0';
	if (key[0] == '\0') {
		fprintf(stderr, "mkpctl keys rotate: no key read from %s\n",
		    path != NULL ? path : "standard input");
		return false;
	}
	if (strchr(key, ';') != NULL || strchr(key, '#') != NULL || key[0] == ' ') {
		fprintf(stderr, "mkpctl keys rotate: a key with ';', '#' or leading blanks "
		    "cannot be written to mkpd.conf\n");
		return false;
	}
	return true;
}

/* True when line sets option name ("name =" at the start of the line). */
static bool
sets(const char *line, size_t len, const char *name)
{
	size_t	n = strlen(name);

	if (len < n || strncmp(line, name, n) != 0)
		return false;
	line += n;
	len -= n;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	return len > 0 && *line == '=';
}

static void
put_option(struct buf *out, const char *name, const char *val)
{
	buf_printf(out, "%s =%s%s\n", name, val[0] != '\0' ? " " : "", val);
}

/*
 * The file's text with the three options of [keys] set (replaced where
 * the section sets them, else added right after its header; a [keys]
 * section is appended when there is none).
 */
static void
rewrite(const char *text, const char *const names[3], const char *const vals[3],
    struct buf *out)
{
	const char	*p = text, *nl;
	bool		 in_keys = false, done[3] = { false, false, false }, seen = false;
	size_t		 len;
	int		 i;

	for (; *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		nl = nl != NULL ? nl + 1 : p + strlen(p);
		len = (size_t)(nl - p);
		if (p[0] == '[') {
			if (in_keys)
				for (i = 0; i < 3; i++)
					if (!done[i]) {
						put_option(out, names[i], vals[i]);
						done[i] = true;
					}
			in_keys = strncmp(p, "[keys]", 6) == 0;
			seen = seen || in_keys;
			buf_append(out, p, len);
			if (in_keys && (len == 0 || p[len - 1] != '\n'))
				buf_putc(out, '\n');
			continue;
		}
		for (i = 0; in_keys && i < 3; i++) {
			if (sets(p, len, names[i])) {
				if (!done[i])
					put_option(out, names[i], vals[i]);
				done[i] = true;
				break;
			}
		}
		if (!in_keys || i == 3)
			buf_append(out, p, len);
	}
	if (!seen) {
		if (out->len > 0 && out->data[out->len - 1] != '\n')
			buf_putc(out, '\n');
		buf_puts(out, "\n[keys]\n");
	}
	for (i = 0; i < 3; i++)
		if (!done[i])
			put_option(out, names[i], vals[i]);
}

static bool
read_file(const char *path, struct buf *out)
{
	char	chunk[4096];
	FILE	*fp = fopen(path, "r");
	size_t	 n;

	if (fp == NULL) {
		fprintf(stderr, "mkpctl keys rotate: %s: %s\n", path, strerror(errno));
		return false;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(out, chunk, n);
	fclose(fp);
	buf_cstr(out);
	return true;
}

/* Replaces path by text, keeping its owner and mode; checks it parses first. */
static bool
replace_file(const char *path, const struct buf *text)
{
	struct config	*cfg;
	struct stat	 st;
	char		 tmp[4096], err[600];
	int		 fd;
	bool		 ok = false;

	if (stat(path, &st) != 0 ||
	    snprintf(tmp, sizeof(tmp), "%s.rotate-XXXXXX", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "mkpctl keys rotate: %s: %s\n", path, strerror(errno));
		return false;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "mkpctl keys rotate: %s: %s\n", tmp, strerror(errno));
		return false;
	}
	if (fchmod(fd, st.st_mode & 07777) != 0 ||
	    (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) ||
	    write(fd, text->data, text->len) != (ssize_t)text->len || fsync(fd) != 0) {
		fprintf(stderr, "mkpctl keys rotate: %s: %s\n", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	if ((cfg = config_load(tmp, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mkpctl keys rotate: the rewritten file would not load, %s "
		    "left as it was: %s\n", path, err);
		goto out;
	}
	config_free(cfg);
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "mkpctl keys rotate: %s: %s\n", path, strerror(errno));
		goto out;
	}
	ok = true;
out:
	if (!ok)
		unlink(tmp);
	return ok;
}

static int
rotate(struct ctl *c, int argc, char **argv)
{
	struct key_slot_view d[KEY_SLOTS];
	struct buf	 text = BUF_INIT, out = BUF_INIT;
	const char	*key_file = NULL, *names[3], *vals[3];
	char		 key[KEY_MAX], until[32], n0[64], n1[64], n2[64], fp[9];
	int64_t		 overlap = DEFAULT_OVERLAP, end;
	int		 i, which = -1, rc = 1;

	for (i = 0; i < KEY_SLOTS; i++)
		if (argc >= 1 && strcmp(argv[0], config_key_slot_name((enum key_slot)i)) == 0)
			which = i;
	if (which < 0)
		return usage();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--overlap") == 0 && i + 1 < argc) {
			if (!ctl_parse_duration(argv[++i], &overlap) || overlap < 1 ||
			    overlap > 90 * 86400) {
				fprintf(stderr, "mkpctl keys rotate: --overlap: a duration "
				    "from 1s to 90d, as in 24h\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
			key_file = argv[++i];
		} else {
			return usage();
		}
	}
	if (!ctl_config(c))
		return 1;
	dialects(c->cfg, d);
	if (!read_key(key_file, key, sizeof(key)))
		return 1;
	if (strcmp(key, d[which].key) == 0) {
		fprintf(stderr, "mkpctl keys rotate: that is already the current %s key\n",
		    d[which].name);
		goto out;
	}
	end = now_ms() + overlap * 1000;
	fmt_time_iso(end, until);
	/* Whole seconds: "2026-11-25T10:00:00Z". */
	memcpy(until + 19, "Z", 2);
	snprintf(n0, sizeof(n0), "%s_key", d[which].name);
	snprintf(n1, sizeof(n1), "previous_%s_key", d[which].name);
	snprintf(n2, sizeof(n2), "previous_%s_until", d[which].name);
	names[0] = n0, names[1] = n1, names[2] = n2;
	vals[0] = key;
	vals[1] = d[which].key;	/* empty: nothing to keep */
	vals[2] = d[which].key[0] != '\0' ? until : "";
	if (!read_file(c->conf_path, &text))
		goto out;
	rewrite(buf_cstr(&text), names, vals, &out);
	if (!replace_file(c->conf_path, &out))
		goto out;
	fingerprint(key, fp);
	if (c->json)
		printf("{\"dialect\":\"%s\",\"current\":\"%s\",\"previous_until\":%s%s%s}\n",
		    d[which].name, fp, vals[2][0] ? "\"" : "", vals[2][0] ? vals[2] : "null",
		    vals[2][0] ? "\"" : "");
	else
		printf("%s: %s key %s is current%s%s%s.\nReload mkpd on every host "
		    "(systemctl reload mkpd), then switch to the new key in the marketplace "
		    "console.\n", c->conf_path, d[which].name, fp,
		    vals[2][0] ? "; the previous key is accepted until " : "",
		    vals[2], vals[2][0] ? "" : " (there was no previous key)");
	rc = 0;
out:
	wipe_str(key);
	wipe_buf(&text);
	wipe_buf(&out);
	buf_free(&text);
	buf_free(&out);
	return rc;
}

int
ctl_keys(struct ctl *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "generate") == 0)
		return generate(c, argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
		return rotate(c, argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "status") == 0)
		return status(c);
	/* The first form: keys [--bits N] [FILE] makes the RSA pair. */
	return generate_rsa(c, argc - 1, argv + 1);
}
