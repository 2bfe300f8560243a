/*
 * sim_canon.h: the payloads mkp-sim signs, computed by a second,
 * independent implementation of the marketplace's rules, so that a bug in
 * mkpd's own canonical form (common/json.c, api/kit.c) makes the
 * simulator's calls fail instead of hiding behind the same code.
 *
 * Both read JSON text as mkpd does (strict: valid UTF-8, no U+0000 in a
 * string, no lone surrogate, no duplicate key in any object, no trailing
 * text, nesting at most SIM_CANON_DEPTH) and return false, out untouched,
 * for anything else.
 */
#ifndef MKP_SIM_CANON_H
#define MKP_SIM_CANON_H

#include <stddef.h>

#include "common/buf.h"
#include "common/defs.h"

#define SIM_CANON_DEPTH	64

/*
 * The V2 canonical payload (spec/README.md reading 1): the root object's
 * members but the null ones, sorted by key in byte order, nested values
 * as received, compact; strings escaped as Jackson does (\" \\ \b \t \n
 * \f \r, other controls \u00XX in upper case, '/' and non-ASCII raw). A
 * root that is not an object is emitted compact as it is.
 */
bool	 sim_canon_v2(const char *text, size_t len, struct buf *out) MUSTCHECK;

/*
 * The V1 Kit authToken's signed string (spec/kit-and-v1.md §1.2, Huawei's
 * sample): the root object's members "k=v" sorted by key, joined by '&',
 * a string as its text, a number or a boolean as written, an object or an
 * array compact; null members and strings of white space only left out.
 */
bool	 sim_canon_kit_v1(const char *text, size_t len, struct buf *out) MUSTCHECK;

#endif
