-- 016_comments: the schema explains itself to a DBA (\d+, \df+, pg_dump).
--
-- COMMENT ON every table, view and function of migrations 001 to 015, and
-- the columns a DBA needs to read a row: what a row is, who writes it, when
-- it goes away, what its states mean, its units, what a key means and
-- which columns are sealed. Comments change nothing else; a later
-- migration that redefines an object with CREATE OR REPLACE keeps its
-- comment, one that drops and recreates it writes the comment again.
-- doc/dba.md says the same in prose, with queries; schema/current.sql is
-- the whole current definition in one file.

-- instance -------------------------------------------------------------------

COMMENT ON TABLE instance IS
    'One row per purchased order line (and per debug order line, is_test): the instance '
    'the marketplace knows by instance_id. Written by the workers (newInstance and every '
    'later call) and the jobs child (provisioning, changes). Never deleted, except debug '
    'rows by mkpctl purge --test-data.';
COMMENT ON COLUMN instance.instance_id IS
    'The id the marketplace calls this instance by: the businessId of the first '
    'newInstance call for the order line.';
COMMENT ON COLUMN instance.order_id IS 'The marketplace order (orderId).';
COMMENT ON COLUMN instance.order_line_id IS
    'The order line (orderLineId); V1 calls, which have none, use ''v1:'' + the productId.';
COMMENT ON COLUMN instance.business_id IS 'businessId of the newInstance call that created the row.';
COMMENT ON COLUMN instance.charging_mode IS
    'From the order line: PERIOD, ONE_TIME, ON_DEMAND or ON_DEMAND_PKG (NULL until '
    'provisioning has read the order).';
COMMENT ON COLUMN instance.state IS
    'provisioning: accepted, the provisioning job has not finished; active: in use; '
    'frozen: suspended by the marketplace (updateInstanceStatus FREEZE, e.g. unpaid); '
    'released: ended by releaseInstance, kept for the record; failed: provisioning '
    'failed for good (fail_reason says why; mkpctl jobs retry ID tries again).';
COMMENT ON COLUMN instance.is_test IS
    'A debug call (testFlag 1) made it. Debug and real rows never share an order line.';
COMMENT ON COLUMN instance.trial IS 'A trial order line.';
COMMENT ON COLUMN instance.expire_at IS
    'When the subscription ends; moved by renewals, unsubscriptions and provisioning (from the order).';
COMMENT ON COLUMN instance.front_end_url IS 'Where the buyer uses the application (from the provisioning hook).';
COMMENT ON COLUMN instance.admin_url IS 'The buyer''s administration address (from the provisioning hook).';
COMMENT ON COLUMN instance.app_user IS 'The buyer''s initial account name (from the provisioning hook).';
COMMENT ON COLUMN instance.app_password IS
    'SEALED: the buyer''s initial password, "s1:" + secretbox under the master key '
    '(the CHECK refuses anything else). Useless without the key.';
COMMENT ON COLUMN instance.memo IS 'Free text the provisioning hook returned.';
COMMENT ON COLUMN instance.fail_reason IS 'Why provisioning failed (state failed).';
COMMENT ON COLUMN instance.updated_at IS 'Last change of the row.';
COMMENT ON COLUMN instance.frozen_at IS 'When it was frozen; NULL while not frozen.';
COMMENT ON COLUMN instance.released_at IS 'When it was released.';
COMMENT ON COLUMN instance.order_info IS
    'The order as the marketplace''s order query returned it (normalised), read by '
    'provisioning; product, SKU, charging mode and expiry are copied from its line.';
COMMENT ON COLUMN instance.alias_of IS
    'On-demand orders: the instance this order line shares (same order and product); '
    'NULL for the owner and for every other kind of order.';
COMMENT ON COLUMN instance.buyer_id IS
    'The order''s buyerInfo.customerId (NULL until provisioning has read the order): a '
    'package is linked only to an on-demand instance of the same buyer.';
COMMENT ON COLUMN instance.applied_order_at IS
    'createTime of the order whose product, SKU, charging mode and order_info the row '
    'holds; a change job with an older order leaves them alone (expiry still only moves '
    'forward). NULL: none applied by a change job yet.';
COMMENT ON COLUMN instance.applied_order_job IS
    'The change job (job.id) that applied that order: of two orders with the same '
    'createTime the later job wins.';

COMMENT ON TABLE instance_event IS
    'One row per change of an instance (the outbox), written in the transaction of the '
    'change; a trigger sends NOTIFY mkpd_instance. Read it to follow instances: after a '
    'reconnect, catch up with event_id > the last one seen. Deleted only with its instance.';
COMMENT ON COLUMN instance_event.event_id IS 'Increasing; the order of the changes.';
COMMENT ON COLUMN instance_event.kind IS
    'create, provisioned, provision_failed, freeze, unfreeze, release, upgrade, a '
    'renewal scene (trial_to_formal, renewal, unsubscribe_renewal_period, renewal_change), '
    'or a package change: package_quota (on the package instance: quota granted), '
    'package_linked, package_exhausted, package_resumed (on the on-demand instance it serves).';
COMMENT ON COLUMN instance_event.from_state IS 'instance.state before the change (NULL: unchanged or new).';
COMMENT ON COLUMN instance_event.to_state IS 'instance.state after the change.';
COMMENT ON COLUMN instance_event.order_id IS
    'The order that caused an order-driven change: each is applied once per order line.';
COMMENT ON COLUMN instance_event.order_line_id IS 'The order line of that order.';
COMMENT ON COLUMN instance_event.detail IS 'What changed besides the state (expiry, SKU...), as JSON.';
COMMENT ON COLUMN instance_event.call_id IS 'The inbound call that caused it (callback_log.call_id).';

COMMENT ON TABLE license IS
    'One row per licence code renewed through refreshLicenseCode, with its current '
    'expiry; debug and real codes never share a row. Written by the workers; debug rows '
    'are removed by mkpctl purge --test-data.';
COMMENT ON COLUMN license.scene IS 'The last renewal scene: RENEWAL or UNSUBSCRIBE_RENEWAL_PERIOD.';
COMMENT ON TABLE license_event IS
    'One row per licence renewal applied (once per order line and scene).';

-- nonce ------------------------------------------------------------------------

COMMENT ON TABLE nonce IS
    'Replay protection: one row per signed call''s nonce, shared by every host. UNLOGGED '
    '(empty after a crash; the time window still refuses stale calls). Written by the '
    'workers through mkp_nonce_claim; rows older than twice time_window are purged by '
    'the jobs child (purge job).';
COMMENT ON COLUMN nonce.nonce IS
    'The dialect''s prefix (v2:, kit2:, v1:) and the value the call was signed with.';
COMMENT ON COLUMN nonce.seen_at IS 'When it was claimed.';
COMMENT ON COLUMN nonce.call_id IS
    'The call that claimed it: the same call claiming again (a retried round trip) is '
    'no replay.';

-- callback_log -----------------------------------------------------------------

COMMENT ON TABLE callback_log IS
    'The audit log: one row per inbound call, whatever its outcome, written by the '
    'worker after answering. Usually the largest table. Kept until mkpctl purge '
    '--audit-older-than DAYS (debug rows: --test-data).';
COMMENT ON COLUMN callback_log.call_id IS
    'Unique id of the call, also in mkpd''s log lines and in the *_event rows it caused.';
COMMENT ON COLUMN callback_log.received_at IS 'When the request arrived.';
COMMENT ON COLUMN callback_log.remote_addr IS 'The client address the web server saw.';
COMMENT ON COLUMN callback_log.dialect IS 'v2, v1, kit-v2, kit-v1, or local (POST /-/usage from the seller''s application).';
COMMENT ON COLUMN callback_log.activity IS 'The interface called (newInstance, tenantSync...), NULL when unknown.';
COMMENT ON COLUMN callback_log.result_code IS
    'The resultCode answered: 000000 success, 000004 still provisioning, other codes '
    'refusals (000001 authentication, 000002 parameters...); NULL when none was sent.';
COMMENT ON COLUMN callback_log.http_status IS 'HTTP status of the answer.';
COMMENT ON COLUMN callback_log.latency_us IS 'Time from arrival to answer, in microseconds.';
COMMENT ON COLUMN callback_log.reason IS 'Why it was refused or failed, in words.';
COMMENT ON COLUMN callback_log.body IS
    'The request body with secrets and contact data replaced by "***" (passwords, '
    'clientSecret, tokens, mobilePhone, email...), cut at a size limit ("...(cut)").';

COMMENT ON VIEW instances_by_state IS 'Instances per state and debug flag, with the last change.';
COMMENT ON VIEW failed_calls IS
    'The calls that did not succeed: when, which interface, the result code and the reason. '
    'A call with a result code failed when it is neither 000000 nor 000004; one without '
    '(the usage intake, dialect local, answers by HTTP status) when its status is 400 or more.';

-- job --------------------------------------------------------------------------

COMMENT ON TABLE job IS
    'The job queue of the jobs child: one row per unit of background work (provision, '
    'change, usage_push, package_hook, purge), enqueued in the transaction of the change that needs it. '
    'Done and dead jobs are kept.';
COMMENT ON COLUMN job.kind IS
    'provision, change, usage_push, package_hook (tells the seller''s hook of a package '
    'event: quota_low, exhausted, resumed) or purge.';
COMMENT ON COLUMN job.payload IS 'The job''s input, as JSON (e.g. {"instanceId": ...}).';
COMMENT ON COLUMN job.state IS
    'queued: waiting for run_at; running: claimed under a lease (a lease in the past '
    'means its runner died: it is taken again); done: finished with its effect; dead: '
    'failed max_attempts times, last_error says why (mkpctl jobs retry ID queues it again).';
COMMENT ON COLUMN job.attempts IS 'Runs so far.';
COMMENT ON COLUMN job.max_attempts IS 'Runs before it is dead; NULL: the kind''s limit, else [jobs] max_attempts.';
COMMENT ON COLUMN job.run_at IS 'Not before then (back-off after a failure).';
COMMENT ON COLUMN job.lease_until IS 'running: the claim holds until then.';
COMMENT ON COLUMN job.locked_by IS 'host:pid of the runner that took it last.';
COMMENT ON COLUMN job.dedupe_key IS
    'Enqueueing the same (kind, dedupe_key) while one is queued or running does nothing.';
COMMENT ON COLUMN job.done_at IS 'When it became done or dead.';
COMMENT ON VIEW jobs_by_state IS
    'Jobs per kind and state: how many, the oldest run_at, the last change, and running '
    'jobs whose lease ran out.';

-- Kit --------------------------------------------------------------------------

COMMENT ON TABLE tenant IS
    'One row per buyer enterprise the Kit sync delivered (tenantSync). Written by the '
    'workers through mkp_kit_tenant; deletes are soft (deleted_at). Debug rows are '
    'removed by mkpctl purge --test-data.';
COMMENT ON COLUMN tenant.stamp IS
    'timeStamp (yyyyMMddHHmmssSSS, UTC+8) of the last change applied; an older change '
    'is ignored. '''' until a change was applied.';
COMMENT ON COLUMN tenant.deleted_at IS 'Deleted (soft); a tombstone keeps the stamp.';
COMMENT ON COLUMN tenant.is_test IS 'Made by a debug call; a real call takes it over, a debug call never changes a real row.';

COMMENT ON TABLE app IS
    'One row per application credential of a tenant (singleAppAuthSync), through '
    'mkp_kit_app; soft deletes.';
COMMENT ON COLUMN app.client_secret IS
    'SEALED: "s1:" + secretbox under the master key (the CHECK refuses anything else).';
COMMENT ON COLUMN app.secret_plain IS
    'The sealed secret is the value as received (a debug secret that did not decrypt), '
    'not the decrypted one.';
COMMENT ON COLUMN app.stamp IS 'timeStamp of the last change applied (see tenant.stamp).';

COMMENT ON TABLE app_user IS
    'One row per user a tenant authorised (authSync): identity is tenant + user_name. '
    'Through mkp_kit_user/mkp_kit_users; soft deletes, revoked_at for a cancelled '
    'authorisation.';
COMMENT ON COLUMN app_user.sync_time IS
    'currentSyncTime of the last change applied; changes order by (sync_time, stamp).';
COMMENT ON COLUMN app_user.stamp IS 'timeStamp of the last change applied (see tenant.stamp).';
COMMENT ON COLUMN app_user.extension IS 'The extension object as received.';
COMMENT ON COLUMN app_user.revoked_at IS 'Authorisation cancelled (flag 3); cleared by a later add or modify.';
COMMENT ON COLUMN app_user.deleted_at IS 'Deleted (soft, flag 0).';

COMMENT ON TABLE org IS
    'One row per department of a tenant (singleOrgSync, allOrgSync), through '
    'mkp_kit_org; soft deletes; a full sync soft-deletes what it did not list.';
COMMENT ON COLUMN org.parent_code IS 'The parent department; NULL for a top-level one.';
COMMENT ON COLUMN org.path IS
    'Names from the top, ''/''-separated (mkp_kit_org_paths); NULL for a department on a '
    'cycle of parent codes (no top department leads to it).';
COMMENT ON COLUMN org.last_call IS 'The call that last listed it (a full sync''s prune spares those).';
COMMENT ON COLUMN org.stamp IS 'timeStamp of the last change applied (see tenant.stamp).';

COMMENT ON TABLE kit_event IS
    'One row per Kit change applied (the outbox), in the transaction of the change; a '
    'trigger sends NOTIFY mkpd_kit. Debug rows are removed by mkpctl purge --test-data.';
COMMENT ON COLUMN kit_event.object IS 'tenant, app, user or org.';
COMMENT ON COLUMN kit_event.op IS 'add, modify, delete, cancel, restore or prune.';
COMMENT ON COLUMN kit_event.object_key IS 'The object''s key in its tenant: appId, userName, orgCode, or the tenantId.';

COMMENT ON VIEW kit_active_users IS 'Live, authorised users per tenant, with their department path.';
COMMENT ON VIEW kit_org_tree IS 'Live departments, whether the parent is missing, and their user counts.';
COMMENT ON VIEW kit_recent_calls IS 'The Kit calls of the last 7 days, newest first.';

-- usage ------------------------------------------------------------------------

COMMENT ON TABLE usage_event IS
    'One row per metered usage event the seller''s application reported (POST /-/usage '
    'or mkp_usage_ingest), unique by event_id, booked into a UTC hour. Written by '
    'mkp_usage_ingest_batch only; debug instances'' rows go with mkpctl purge --test-data.';
COMMENT ON COLUMN usage_event.event_id IS
    'The seller''s id of the event (1 to 128 characters): a repeat is a duplicate. An '
    'event cut across packages is booked as parts: the first keeps the id, the others '
    'get id#2, id#3... (part:md5(id)#N for an id longer than 120 characters).';
COMMENT ON COLUMN usage_event.pkg_instance_id IS 'The package instance drawn from; '''' for none.';
COMMENT ON COLUMN usage_event.value IS
    'The amount, in the product''s metering unit; numeric, never floating point. At most '
    '99999999.9999, the marketplace''s Double(12,4) (CHECK usage_event_value_max; the '
    'intake refuses a larger value with a reason).';
COMMENT ON COLUMN usage_event.event_time IS 'When the usage happened, as reported.';
COMMENT ON COLUMN usage_event.window_begin IS 'The UTC hour it is booked into.';
COMMENT ON COLUMN usage_event.shifted IS
    'Booked into a later hour than its own, which was already closed.';

COMMENT ON TABLE usage_record IS
    'One row per (instance, package instance, UTC hour) with usage: the record pushed to '
    'the marketplace. Made open by the ingest, closed by mkp_usage_close_windows, pushed '
    'by the usage_push job (or mkpctl usage push --now).';
COMMENT ON COLUMN usage_record.value IS
    'The hour''s sum, in the metering unit (0 while open: usage_hourly has the running sum).';
COMMENT ON COLUMN usage_record.metering_sn IS
    'The record''s number at the marketplace: a hash of its identity, so a retry re-sends '
    'the same number and is kept once.';
COMMENT ON COLUMN usage_record.state IS
    'open: the hour takes events; pending: closed, to push; sending: claimed by a pusher '
    '(lease_until); delivered: accepted by the marketplace, or nothing to bill (0); '
    'failed: refused by the marketplace, not pushable, or an hourly sum too large for '
    'value (fail_reason says why; '
    'mkp_usage_retry puts it back); expired: older than '
    '21 days, can no longer be pushed.';
COMMENT ON COLUMN usage_record.fail_reason IS 'failed or expired: why; delivered with 0: a note.';
COMMENT ON COLUMN usage_record.attempts IS 'Push attempts so far.';
COMMENT ON COLUMN usage_record.last_push_id IS 'The last attempt (usage_push.id).';
COMMENT ON COLUMN usage_record.record_time IS 'When it was closed (sent as the record''s time).';
COMMENT ON COLUMN usage_record.lease_until IS 'sending: the claim holds until then; after it any pusher takes the record again.';
COMMENT ON COLUMN usage_record.claimed_by IS 'sending: host:pid of the pusher.';
COMMENT ON COLUMN usage_record.last_error IS 'Why the last attempt did not deliver.';

COMMENT ON TABLE usage_push IS
    'One row per push attempt (a batch of records): written with the claim (outcome '
    'sending) and settled with the answer. Kept.';
COMMENT ON COLUMN usage_push.records IS 'How many records the attempt carried.';
COMMENT ON COLUMN usage_push.request_id IS 'The request id sent to the marketplace.';
COMMENT ON COLUMN usage_push.http_status IS 'HTTP status of the answer; NULL: no answer (transport error).';
COMMENT ON COLUMN usage_push.result_code IS 'The marketplace''s result code (MKT.0000: accepted).';
COMMENT ON COLUMN usage_push.body_excerpt IS 'The start of the answer''s body.';
COMMENT ON COLUMN usage_push.record_ids IS 'The usage_record ids carried.';
COMMENT ON COLUMN usage_push.pushed_by IS 'host:pid of the pusher (the jobs child, or mkpctl usage push --now).';
COMMENT ON COLUMN usage_push.outcome IS
    'sending: under way; delivered; retry: transport error, 5xx, 429 or MKT.0999, the '
    'records are pending again; failed: refused, the records are failed.';
COMMENT ON COLUMN usage_push.error IS 'Why it did not deliver.';

COMMENT ON VIEW usage_hourly IS
    'Usage per instance, package and UTC hour as the events booked it, with its record''s state.';
COMMENT ON VIEW usage_unpushed IS
    'Records not delivered yet (open, pending, sending, failed); at_risk '
    '(mkp_usage_at_risk): failed, or not delivered an hour after its hour ended, so near '
    'the marketplace''s target (two hours after the hour ends).';
COMMENT ON VIEW usage_push_history IS
    'Every push attempt: who pushed, records, outcome, HTTP status, result code, the value carried.';

-- packages ---------------------------------------------------------------------

COMMENT ON TABLE package IS
    'One row per package instance (an ON_DEMAND_PKG order line): its quota and what was '
    'drawn from it. Made by the first grant (mkp_package_grant, when the package is '
    'provisioned); goes with its instance (debug ones by mkpctl purge --test-data).';
COMMENT ON COLUMN package.pkg_instance_id IS 'The package''s own instance (instance.instance_id).';
COMMENT ON COLUMN package.instance_id IS
    'The on-demand instance it serves; NULL: not linked yet (usage cannot draw from it).';
COMMENT ON COLUMN package.linked_by IS
    'Who linked it: order (the one live on-demand instance of the same buyer and product '
    'when provisioned), seller (mkpctl packages link) or event (the first usage event '
    'naming it, same buyer).';
COMMENT ON COLUMN package.mode IS
    'Past the quota: stop, usage is refused (any package of the instance saying stop '
    'wins); overflow, it is billed as plain on-demand usage. Never drawn past the quota.';
COMMENT ON COLUMN package.unit IS 'The quota''s unit, as configured; '''' for none.';
COMMENT ON COLUMN package.quota IS
    'The sum of its package_grant rows, in the metering unit (numeric(20,4)).';
COMMENT ON COLUMN package.drawn IS
    'Usage drawn from it so far, never above quota (CHECK); remaining = quota - drawn.';

COMMENT ON TABLE package_grant IS
    'One row per order line that added quota to a package (the purchase, each renewal), '
    'so a repeated job adds nothing twice. Written by mkp_package_grant; goes with its package.';
COMMENT ON COLUMN package_grant.quota IS 'The quota this order line added.';
COMMENT ON COLUMN package_grant.source IS
    'Where the amount came from: order (the line''s productInfo linearValue) or config '
    '(the [packages] table of mkpd.conf for its SKU).';

COMMENT ON TABLE package_account IS
    'The balance row of an on-demand instance with packages: every ingest that draws '
    'from them takes it FOR UPDATE first, so hosts ingesting at once never over-draw. '
    'Remembers which warnings the seller''s hook heard, so each is given once.';
COMMENT ON COLUMN package_account.low_fired IS
    'The highest quota_low threshold (percent of the quota drawn) given so far; lowered '
    'when quota is added, so the new quota warns in its turn.';
COMMENT ON COLUMN package_account.exhausted IS
    'exhausted was given and no quota has come back since (then resumed is given).';

COMMENT ON VIEW package_balance IS
    'Every package: the instance it serves, quota, drawn, remaining, expiry and state '
    '(ok, low, used_up, unlinked, expired, or the package instance''s state when not live).';

COMMENT ON FUNCTION mkp_package_live(text, timestamptz) IS
    'Whether a package may be drawn at that time: its instance is active or frozen and '
    'not expired.';
COMMENT ON FUNCTION mkp_package_hook(text, text, numeric) IS
    'Enqueues a package_hook job (event quota_low with its threshold, exhausted or '
    'resumed) for an on-demand instance, run_at the clock so the hook hears events in order.';
COMMENT ON FUNCTION mkp_package_account_check(text, numeric[]) IS
    'Re-reads the balance of an on-demand instance (its package_account row locked) and '
    'tells the seller what changed: quota_low once per threshold crossed, exhausted when '
    'nothing remains, resumed when quota came back; also as instance_event rows.';
COMMENT ON FUNCTION mkp_package_link(text, text, text, numeric[]) IS
    'Links a package to an on-demand instance (by order, seller or event): same debug '
    'flag, and not when another instance drew from it already. Returns NULL, or why not.';
COMMENT ON FUNCTION mkp_package_grant(text, text, text, numeric, text, text, text, numeric[]) IS
    'A package order line provisioned or renewed: adds its quota once per order line, '
    'making the package on the first grant and linking it to the one live on-demand '
    'instance of the same buyer and product. Returns the instance it serves, or NULL.';

COMMENT ON TABLE schema_migrations IS
    'One row per migration applied by mkpctl migrate (schema/NNN_name.sql); never edit by hand.';

-- functions and triggers ---------------------------------------------------------

COMMENT ON FUNCTION mkp_nonce_claim(text, integer, text) IS
    'Claims a nonce for a call; raises SQLSTATE MKP01 when another call holds it (a '
    'replay), which undoes the transaction it runs in. A nonce older than p_keep_secs '
    'may be claimed again.';
COMMENT ON FUNCTION mkp_job_notify() IS 'Trigger: NOTIFY mkpd_jobs when a job becomes queued (wakes idle runners).';
COMMENT ON TRIGGER job_notify ON job IS 'Wakes the runners at commit (mkp_job_notify).';
COMMENT ON FUNCTION mkp_instance_event_notify() IS
    'Trigger: NOTIFY mkpd_instance with {event_id, instance_id, kind, from, to}.';
COMMENT ON TRIGGER instance_event_notify ON instance_event IS 'Announces every instance change at commit.';
COMMENT ON FUNCTION mkp_kit_event_notify() IS
    'Trigger: NOTIFY mkpd_kit with {event_id, object, op, tenant_id, key}.';
COMMENT ON TRIGGER kit_event_notify ON kit_event IS 'Announces every Kit change at commit.';

COMMENT ON FUNCTION mkp_kit_tenant(text, text, text, text, text, text, boolean, integer, text, text) IS
    'Applies one tenantSync (flag 0 delete, 1 add, 2 modify) unless older than the stored '
    'stamp; returns applied, same or stale.';
COMMENT ON FUNCTION mkp_kit_app(text, text, text, text, boolean, text, boolean, integer, text, text) IS
    'Applies one singleAppAuthSync (flag 0 delete, 1 add, 2 modify); p_secret comes '
    'sealed. Returns applied, same or stale.';
COMMENT ON FUNCTION mkp_kit_user(text, text, text, text, text, text, boolean, text, text, text,
                                 text, text, text, text, jsonb, text, boolean, integer, text,
                                 text, text) IS
    'Applies one user of an authSync (flag 0 delete, 1 add, 2 modify, 3 cancel), ordered '
    'by (currentSyncTime, timeStamp). Returns applied, same or stale.';
COMMENT ON FUNCTION mkp_kit_users(text, text[], text, boolean, integer, text, text, text) IS
    'Applies a whole userList (an n x 14 text array): new users in one statement, known '
    'ones through mkp_kit_user. Returns {applied, same, stale}.';
COMMENT ON FUNCTION mkp_kit_user_rows(text[]) IS 'The rows of a userList array (n x 14), read in one pass.';
COMMENT ON FUNCTION mkp_kit_org(text, text, text, text, text, boolean, integer, text, text) IS
    'Applies one department (flag 0 delete, 1 add, 2 modify) and records the listing '
    'call. Returns applied, same or stale.';
COMMENT ON FUNCTION mkp_kit_org_prune(text, text, boolean, text) IS
    'After a full department sync: soft-deletes the live departments it did not list. '
    'Returns how many.';
COMMENT ON FUNCTION mkp_kit_org_paths(text) IS
    'Recomputes a tenant''s department paths, walking down from the top departments (no '
    'parent, or a parent that is not live) in time linear in the departments; a department '
    'on a cycle of parent codes gets NULL. Returns the departments whose parent is '
    'missing, comma-separated, or NULL.';
COMMENT ON FUNCTION mkp_kit_orgs_set(text, text[], text[], text[], text, boolean, text, text) IS
    'Applies a list of departments added or modified (flag 1 or 2, and every full sync) in '
    'one statement, each with the outcome mkp_kit_org would give it; a code listed twice '
    'takes its last listing. Deletes go through mkp_kit_org. Returns {applied, same, stale}.';

COMMENT ON FUNCTION mkp_usage_metering_sn(text, text, timestamptz) IS
    'A record''s metering_sn: sha256 of instance, package instance and hour, 64 hex characters.';
COMMENT ON FUNCTION mkp_usage_ingest_batch(text[], text[], text[], text[], timestamptz[], interval) IS
    'Validates and books a batch of usage events in one statement, the one checker and '
    'booker of events (POST /-/usage reaches it through mkp_usage_ingest_packages). Returns a row per event not simply accepted: rejected (with the reason), '
    'duplicate, or shifted (booked into a later hour).';
COMMENT ON FUNCTION mkp_usage_ingest(text, text, numeric, timestamptz, text) IS
    'For a seller writing from its own database session: one event, the same validation, '
    'drawn from packages as the intake does (mkp_usage_ingest_packages, thresholds 80 and '
    '95). Returns accepted, duplicate, rejected: reason, or accepted: reason (shifted, or '
    'only part taken from a used-up package).';
COMMENT ON FUNCTION mkp_usage_ingest_packages(text[], text[], text[], text[], timestamptz[],
                                              interval, numeric[]) IS
    'What POST /-/usage calls: draws the events of on-demand instances with packages from '
    'them (the named package first, then oldest expiry first), cut into parts at each '
    'package''s end; past the last one the rest is refused (stop) or booked as on-demand '
    'usage (overflow). Then books everything through mkp_usage_ingest_batch in the same '
    'transaction; a part not taken gives its quota back. Returns the batch''s rows plus '
    'capped, rejected (package used up) and one quota row per instance with packages.';
COMMENT ON FUNCTION mkp_usage_close_windows() IS
    'Closes every open hour that has ended, summing its events (see usage_record.state); a '
    'record whose sum does not fit numeric(20,4) fails alone, with the sum in fail_reason. '
    'Expires what is too old to push. Returns the number closed. Run by the usage_push job '
    'and mkpctl usage push --now.';
COMMENT ON FUNCTION mkp_usage_at_risk(text, timestamptz) IS
    'Whether a record (state, window_end) is at risk: failed, or open, pending or sending '
    'more than an hour after its hour ended.';
COMMENT ON FUNCTION mkp_usage_claim(integer, interval, text, text) IS
    'Claims up to p_limit records to push (pending, and sending ones whose lease ran '
    'out) under one new usage_push row; returns them.';
COMMENT ON FUNCTION mkp_usage_settle(bigint, text, text, integer, text, text) IS
    'Settles a push attempt with the answer: delivered, retry (records pending again) or '
    'failed. Returns the records settled.';
COMMENT ON FUNCTION mkp_usage_retry(bigint) IS
    'Puts failed records back to pending (one id, or NULL for all); too old ones expire. '
    'Returns how many.';
COMMENT ON FUNCTION mkp_usage_cumulative(text, boolean) IS
    'queryInstance usageInfo: the usage of an instance (or, p_package, drawn from a '
    'package instance) so far, summed over its hourly records.';

COMMENT ON INDEX instance_event_order_once IS
    'An order-driven change is applied once per instance, kind and order line.';
COMMENT ON INDEX instance_on_demand_once IS
    'One owning instance per on-demand order and product; the other lines are aliases.';
COMMENT ON INDEX job_dedupe_unfinished IS 'At most one unfinished job per (kind, dedupe_key).';
