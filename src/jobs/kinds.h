/*
 * kinds.h: every job kind mkpd runs, one entry each.
 *
 * Adding a kind is a handler (src/jobs/NAME.c, see the contract in
 * runner.h) and one line in kinds.c: its name as stored in job.kind, its
 * handler, its attempt limit and lease (0: the [jobs] settings) and the
 * statements the handler runs (prepared on the jobs child's connection).
 */
#ifndef MKP_JOBS_KINDS_H
#define MKP_JOBS_KINDS_H

#include <stddef.h>

#include "jobs/runner.h"

extern const struct job_kind job_kinds[];
extern const size_t job_kinds_count;

#endif
