/*
 * pg_array.c: PostgreSQL array literals (see pg_array.h).
 */
#include "store/pg_array.h"

/* A comma unless this is the first item of the array open at the end of b. */
static void
pg_array_sep(struct buf *b)
{
	if (b->len > 0 && b->data[b->len - 1] != '{')
		buf_putc(b, ',');
}

void
pg_array_open(struct buf *b)
{
	pg_array_sep(b);
	buf_putc(b, '{');
}

void
pg_array_elem(struct buf *b, const char *s)
{
	pg_array_sep(b);
	if (s == NULL) {
		buf_puts(b, "NULL");
		return;
	}
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

void
pg_array_close(struct buf *b)
{
	buf_putc(b, '}');
}

void
pg_array_text(struct buf *b, const char *const *v, size_t n)
{
	size_t	i;

	pg_array_open(b);
	for (i = 0; i < n; i++)
		pg_array_elem(b, v[i]);
	pg_array_close(b);
}
