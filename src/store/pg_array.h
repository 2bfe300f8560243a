/*
 * pg_array.h: PostgreSQL array literals, how the store passes a list as
 * one text parameter ($1::text[], $2::text[][]).
 *
 * Every element is written double-quoted, with '"' and '\' escaped by a
 * backslash, so nothing a caller passes (commas, braces, spaces, "NULL",
 * an empty string) can end an element or change the array's shape; a
 * NULL pointer is the SQL NULL. The writer keeps no state: an element or
 * a nested array gets its separating comma unless it is the first of its
 * array, which the last byte of the buffer tells (so the buffer holds the
 * literal alone).
 */
#ifndef MKP_PG_ARRAY_H
#define MKP_PG_ARRAY_H

#include <stddef.h>
#include "common/buf.h"

/* Opens an array (or a nested one): "{". */
void	 pg_array_open(struct buf *);
/* Appends s as the next element: quoted and escaped, or NULL. */
void	 pg_array_elem(struct buf *, const char *s);
/* Closes the innermost open array: "}". */
void	 pg_array_close(struct buf *);
/* Appends a whole one-dimensional array of the n strings. */
void	 pg_array_text(struct buf *, const char *const *v, size_t n);

#endif
