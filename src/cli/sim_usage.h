/*
 * sim_usage.h: the usage-data API of `mkp-sim serve` (spec/outbound.md §1,
 * checklist §1.11): checks the body signature and every record, keeps the
 * first record of each (instance_id, begin_time, end_time) and counts the
 * duplicates, and shows what it received (GET /-/sim/usage).
 *
 * Not thread-safe: the caller serialises the calls (sim_serve.c's lock).
 */
#ifndef MKP_SIM_USAGE_H
#define MKP_SIM_USAGE_H

#include <stdint.h>
#include <stdio.h>
#include "common/buf.h"

#define SIM_USAGE_PATH	"/api/mkp-openapi-public/global/v1/isv/usage-data"

struct sim_usage;

/* key: the seller interface key the body signature uses; NULL refuses every push. */
struct sim_usage *sim_usage_new(const char *key);
void	 sim_usage_free(struct sim_usage *);

/*
 * Where to print what each accepted push brought, one line per record
 * ("usage-data: push N: instance I hour BEGIN-END usage_value V kept" or
 * "... duplicate, first kept"), flushed; NULL (the default) prints nothing.
 */
void	 sim_usage_set_report(struct sim_usage *, FILE *);

/*
 * Answers one push whose APIG signature already passed: the HTTP status,
 * the answer body appended to out and its error_code in *code. sig, ts,
 * nonce are the headers (NULL when absent); now_ms the current time.
 */
int	 sim_usage_answer(struct sim_usage *, const char *sig, const char *ts,
	    const char *nonce, const char *body, size_t len, int64_t now_ms,
	    struct buf *out, const char **code);

/*
 * Makes pkg a package instance holding quota (a decimal, at most 4
 * decimals): a push whose records would draw more from it than it holds,
 * counting the records kept before, is refused whole with 400 MKT.0100
 * naming the package. A second call for pkg adds quota (a renewal or a
 * second grant). False when quota is not such a decimal.
 */
bool	 sim_usage_set_package(struct sim_usage *, const char *pkg, const char *quota);

/*
 * {"pushes":N,"records":[{"instance_id","begin_time","end_time",
 * "usage_value","metering_sn","relate_pkg_instance"?,"duplicates":N}],
 * "packages":[{"instanceId","quota","drawn"}]}: the records kept, in
 * arrival order, and the packages known. Appended to out. A record's key
 * is (instance_id, relate_pkg_instance, begin_time, end_time): an hour
 * drawn from two packages is two records.
 */
void	 sim_usage_json(const struct sim_usage *, struct buf *out);

#endif
