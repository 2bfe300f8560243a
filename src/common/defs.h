/*
 * defs.h: attributes and small macros every module may use.
 *
 * Error convention (one for the whole tree): a fallible function returns
 * bool, true on success. Functions that can fail in more than one way the
 * caller must tell apart return an enum of their module instead.
 */
#ifndef MKP_DEFS_H
#define MKP_DEFS_H

#include <stdbool.h>
#include <stddef.h>

#define MUSTCHECK	__attribute__((warn_unused_result))
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN	__attribute__((noreturn))
#define UNUSED		__attribute__((unused))

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#endif
