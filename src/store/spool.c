/*
 * spool.c: the local spool of deferred statements (see spool.h).
 *
 * State: fd is -1 until the first use; size is the file's length and
 * done the offset up to which records went to the store. When done
 * reaches size the file is truncated to nothing, so an empty spool costs
 * an empty file. Every read is a pread at an offset: appends (O_APPEND)
 * and replays never share a file position.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "store/spool.h"

#define SPOOL_MAGIC	"MKS1"
#define SPOOL_HDR	8	/* magic + payload length */
#define SPOOL_TRAILER	4	/* payload length again */
#define SPOOL_MAX_REC	(64u << 20)

struct spool {
	char	*path;
	int64_t	 max;
	int	 fd;
	int64_t	 size;
	int64_t	 done;
	bool	 failed;	/* open failed: logged once, not retried */
	bool	 adopted;	/* another worker's: never wait for its lock */
	bool	 synced;	/* nothing written since the last fdatasync */
};

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char	 c[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	buf_append(b, c, 4);
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

struct spool *
spool_new(const char *path, int64_t max_bytes)
{
	struct spool	*s = xcalloc(1, sizeof(*s));

	s->path = xstrdup(path);
	s->max = max_bytes;
	s->fd = -1;
	return s;
}

void
spool_free(struct spool *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}

const char *
spool_path(const struct spool *s)
{
	return s->path;
}

/* Length on disk of the whole record at off, 0 when it is not whole. */
static int64_t
spool_check_at(struct spool *s, int64_t off, int64_t size)
{
	unsigned char	 h[SPOOL_HDR], t[SPOOL_TRAILER];
	uint32_t	 len;

	if (size - off < SPOOL_HDR + SPOOL_TRAILER ||
	    pread(s->fd, h, sizeof(h), off) != (ssize_t)sizeof(h) ||
	    memcmp(h, SPOOL_MAGIC, 4) != 0)
		return 0;
	len = get_u32(h + 4);
	if (len > SPOOL_MAX_REC || size - off < (int64_t)SPOOL_HDR + len + SPOOL_TRAILER ||
	    pread(s->fd, t, sizeof(t), off + SPOOL_HDR + len) != (ssize_t)sizeof(t) ||
	    get_u32(t) != len)
		return 0;
	return (int64_t)SPOOL_HDR + len + SPOOL_TRAILER;
}

static bool
spool_open(struct spool *s)
{
	struct stat	 st;
	int64_t		 off = 0, n;

	if (s->fd >= 0)
		return true;
	if (s->failed)
		return false;
	s->fd = open(s->path, O_RDWR | O_APPEND | (s->adopted ? 0 : O_CREAT) | O_CLOEXEC,
	    0600);
	/*
	 * Our own file: wait for a worker that adopted it to let it go (it
	 * does after one flush). Another's: only when nobody holds it.
	 */
	if (s->fd >= 0 && flock(s->fd, LOCK_EX | (s->adopted ? LOCK_NB : 0)) < 0) {
		close(s->fd);
		s->fd = -1;
		if (s->adopted)
			return false;
		log_error("spool %s: lock: %s", s->path, strerror(errno));
		s->failed = true;
		return false;
	}
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		log_error("spool %s: %s: rows the store cannot take are lost", s->path,
		    strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->failed = true;
		return false;
	}
	/* Keep the whole records; a tail cut by a kill goes. */
	while ((n = spool_check_at(s, off, st.st_size)) > 0)
		off += n;
	if (off < st.st_size) {
		log_warn("spool %s: %lld bytes of a record cut short dropped", s->path,
		    (long long)(st.st_size - off));
		if (ftruncate(s->fd, off) < 0)
			log_warn("spool %s: truncate: %s", s->path, strerror(errno));
	}
	s->size = off;
	s->done = 0;
	return true;
}

struct spool *
spool_adopt(const struct spool *own)
{
	char		 dir[4096], path[4096 + 256];
	const char	*slash = strrchr(own->path, '/');
	struct spool	*s = NULL;
	struct dirent	*e;
	struct stat	 st;
	DIR		*d;
	size_t		 n;

	if (slash == NULL || (size_t)(slash - own->path) >= sizeof(dir))
		return NULL;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - own->path), own->path);
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while (s == NULL && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n <= 6 || strcmp(e->d_name + n - 6, ".spool") != 0 ||
		    strcmp(e->d_name, slash + 1) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || st.st_size == 0)
			continue;
		s = spool_new(path, own->max);
		s->adopted = true;
		if (!spool_open(s) || s->size == 0) {
			spool_free(s);
			s = NULL;
		}
	}
	closedir(d);
	return s;
}

int64_t
spool_pending(struct spool *s)
{
	if (!spool_open(s))
		return 0;
	return s->size - s->done;
}

static void
spool_encode(struct buf *b, const struct spool_rec *r)
{
	struct buf	 p = BUF_INIT;
	size_t		 nl = strlen(r->name);
	unsigned char	 c[2] = { nl & 0xff, (nl >> 8) & 0xff };
	int		 i;

	buf_append(&p, c, 2);
	buf_append(&p, r->name, nl);
	c[0] = (unsigned char)r->n;
	buf_append(&p, c, 1);
	for (i = 0; i < r->n; i++) {
		if (r->vals[i] == NULL) {
			put_u32(&p, UINT32_MAX);
			continue;
		}
		put_u32(&p, (uint32_t)strlen(r->vals[i]));
		buf_puts(&p, r->vals[i]);
	}
	buf_append(b, SPOOL_MAGIC, 4);
	put_u32(b, (uint32_t)p.len);
	buf_append(b, p.data, p.len);
	put_u32(b, (uint32_t)p.len);
	buf_free(&p);
}

enum spool_rc
spool_append(struct spool *s, const struct spool_rec *recs, int n)
{
	enum spool_rc	 rc;

	if ((rc = spool_write(s, recs, n)) == SPOOL_OK)
		spool_sync(s);
	return rc;
}

void
spool_sync(struct spool *s)
{
	if (s->fd >= 0 && !s->synced && fdatasync(s->fd) < 0)
		log_warn("spool %s: fdatasync: %s", s->path, strerror(errno));
	s->synced = true;
}

enum spool_rc
spool_write(struct spool *s, const struct spool_rec *recs, int n)
{
	struct buf	 b = BUF_INIT;
	size_t		 off = 0;
	ssize_t		 w;
	int		 i;

	if (!spool_open(s))
		return SPOOL_ERROR;
	for (i = 0; i < n; i++)
		spool_encode(&b, &recs[i]);
	if (s->size + (int64_t)b.len > s->max) {
		buf_free(&b);
		return SPOOL_FULL;
	}
	while (off < b.len) {
		w = write(s->fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("spool %s: write: %s", s->path, strerror(errno));
			/* Cut what was written of this batch: no torn record stays. */
			if (ftruncate(s->fd, s->size) < 0)
				log_warn("spool %s: truncate: %s", s->path, strerror(errno));
			buf_free(&b);
			return SPOOL_ERROR;
		}
		off += (size_t)w;
	}
	s->synced = false;
	s->size += (int64_t)b.len;
	buf_free(&b);
	return SPOOL_OK;
}

void
spool_rec_free(struct spool_rec *r)
{
	int	i;

	for (i = 0; i < r->n; i++)
		free(r->vals[i]);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

int64_t
spool_read(struct spool *s, int64_t skip, struct spool_rec *r)
{
	int64_t		 off, len;
	unsigned char	*p, *q, *end;
	uint32_t	 plen, vl;
	size_t		 nl;
	int		 i;

	memset(r, 0, sizeof(*r));
	if (!spool_open(s))
		return 0;
	off = s->done + skip;
	if ((len = spool_check_at(s, off, s->size)) == 0)
		return 0;
	plen = (uint32_t)(len - SPOOL_HDR - SPOOL_TRAILER);
	p = xmalloc(plen + 1);
	if (pread(s->fd, p, plen, off + SPOOL_HDR) != (ssize_t)plen)
		goto bad;
	q = p;
	end = p + plen;
	if (end - q < 3)
		goto bad;
	nl = (size_t)q[0] | (size_t)q[1] << 8;
	q += 2;
	if ((size_t)(end - q) < nl + 1)
		goto bad;
	r->name = xstrndup((const char *)q, nl);
	q += nl;
	r->n = *q++;
	if (r->n > SPOOL_MAX_PARAMS) {
		r->n = 0;
		goto bad;
	}
	for (i = 0; i < r->n; i++) {
		if (end - q < 4)
			goto bad_vals;
		vl = get_u32(q);
		q += 4;
		if (vl == UINT32_MAX)
			continue;
		if ((uint32_t)(end - q) < vl)
			goto bad_vals;
		r->vals[i] = xstrndup((const char *)q, vl);
		q += vl;
	}
	free(p);
	return len;
bad_vals:
	r->n = i;
bad:
	log_error("spool %s: a malformed record at offset %lld: the rest is not replayed",
	    s->path, (long long)off);
	free(p);
	spool_rec_free(r);
	return 0;
}

void
spool_done(struct spool *s, int64_t bytes)
{
	s->done += bytes;
	if (s->done < s->size)
		return;
	if (ftruncate(s->fd, 0) < 0)
		log_warn("spool %s: truncate: %s", s->path, strerror(errno));
	s->size = s->done = 0;
}
