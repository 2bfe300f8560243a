-- 013_hostile_input: what hostile and sloppy input showed the store must
-- bound (issue 13).
--
-- Usage. An event's value is at most 99999999.9999 (the marketplace's
-- Double(12,4)); the intake refuses larger ones with a reason, and the
-- table says so too for sellers who write from their own session. Closing
-- the hours no longer fails as a whole when one record's sum does not fit
-- numeric(20,4): the sum is taken unbounded, and a record it does not fit
-- is failed with the sum in its reason, while every other record closes.
-- A record that is failed, or open an hour after its hour ended (closing
-- does not run or cannot close it), is "at risk" as a pending one is.

ALTER TABLE usage_event ADD CONSTRAINT usage_event_value_max
    CHECK (value <= 99999999.9999) NOT VALID;

CREATE OR REPLACE FUNCTION mkp_usage_close_windows() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    -- Wait for ingests still booking into these windows (FOR SHARE) ...
    PERFORM 1 FROM usage_record
      WHERE state = 'open' AND window_end <= now()
      ORDER BY id FOR UPDATE;
    -- ... then sum in a new statement, whose snapshot sees their events.
    -- The sum is numeric without a bound: a record it does not fit fails
    -- alone, with the sum as its reason.
    UPDATE usage_record r
       SET value = CASE WHEN s.total > 9999999999999999.9999 THEN 0 ELSE s.total END,
           state = CASE WHEN s.total > 9999999999999999.9999 THEN 'failed'
                        WHEN s.total > 0 THEN 'pending' ELSE 'delivered' END,
           fail_reason = CASE WHEN s.total > 9999999999999999.9999 THEN
                                  'hourly sum ' || s.total::text ||
                                  ' exceeds what a record holds (numeric(20,4))'
                              WHEN s.total > 0 THEN NULL
                              ELSE 'zero usage: nothing to push' END,
           record_time = now(), updated_at = now()
      FROM (SELECT r2.id, coalesce((SELECT sum(e.value) FROM usage_event e
                                     WHERE e.instance_id = r2.instance_id
                                       AND e.pkg_instance_id = r2.pkg_instance_id
                                       AND e.window_begin = r2.window_begin), 0) AS total
              FROM usage_record r2
             WHERE r2.state = 'open' AND r2.window_end <= now()) AS s
     WHERE r.id = s.id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    UPDATE usage_record SET state = 'expired', updated_at = now(), lease_until = NULL,
           fail_reason = 'begin_time older than 21 days'
     WHERE (state = 'pending' OR (state = 'sending' AND lease_until < now()))
       AND window_begin < now() - interval '21 days';
    RETURN v_n;
END
$$;

-- At risk: not delivered an hour after its hour ended (open: not closed;
-- pending or sending: not pushed yet), or failed (waiting for a person).
CREATE FUNCTION mkp_usage_at_risk(p_state text, p_window_end timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_state = 'failed'
        OR (p_state IN ('open', 'pending', 'sending')
            AND now() > p_window_end + interval '1 hour')
$$;

CREATE OR REPLACE VIEW usage_unpushed AS
    SELECT id, instance_id, pkg_instance_id, window_begin, value, state, attempts,
           fail_reason, last_error, lease_until, claimed_by, updated_at,
           mkp_usage_at_risk(state, window_end) AS at_risk
      FROM usage_record
     WHERE state IN ('open', 'pending', 'sending', 'failed');

-- Kit. A department's path was found by walking up from every department
-- (a row per department and ancestor) with a join the planner ran as a
-- nested loop over the whole tenant: time in the square of the
-- departments, and a full sync of 5 000 ran past the statement timeout,
-- every retry alike. Now the walk goes down from the top departments (no
-- parent, or a parent code naming no live department) along the parent
-- index, each department reached once: time linear in the departments.
-- Departments on a cycle of parent codes are reached from no top one and
-- get no path (NULL); they were given 64 names round the cycle before.
-- The rows were mostly written by this very transaction, so the planner's
-- statistics know nothing of them and it would pick nested loops over
-- whole scans: hash joins are what stays linear whatever the statistics.
CREATE OR REPLACE FUNCTION mkp_kit_org_paths(p_tenant text)
RETURNS text LANGUAGE plpgsql SET enable_nestloop = off AS $$
DECLARE
    v_orphans text;
BEGIN
    WITH RECURSIVE down (org_code, path, depth) AS (
        SELECT o.org_code, '/' || o.name, 1 FROM org o
         WHERE o.tenant_id = p_tenant AND o.deleted_at IS NULL
           AND (o.parent_code IS NULL
                OR NOT EXISTS (SELECT 1 FROM org p WHERE p.tenant_id = p_tenant
                                AND p.org_code = o.parent_code AND p.deleted_at IS NULL))
      UNION ALL
        SELECT c.org_code, d.path || '/' || c.name, d.depth + 1
          FROM down d JOIN org c ON c.tenant_id = p_tenant AND c.parent_code = d.org_code
                                AND c.deleted_at IS NULL
         WHERE d.depth < 64),
    paths AS (
        SELECT o.org_code, d.path FROM org o LEFT JOIN down d ON d.org_code = o.org_code
         WHERE o.tenant_id = p_tenant AND o.deleted_at IS NULL)
    UPDATE org o SET path = paths.path FROM paths
     WHERE o.tenant_id = p_tenant AND o.org_code = paths.org_code
       AND o.path IS DISTINCT FROM paths.path;
    SELECT string_agg(o.org_code, ',' ORDER BY o.org_code) INTO v_orphans
      FROM org o
     WHERE o.tenant_id = p_tenant AND o.deleted_at IS NULL AND o.parent_code IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM org p WHERE p.tenant_id = p_tenant
                        AND p.org_code = o.parent_code AND p.deleted_at IS NULL);
    RETURN v_orphans;
END
$$;

-- A list of departments added or modified (flag 1 or 2, and every full
-- sync) applied in one statement rather than one mkp_kit_org call each:
-- 5 000 such calls in one transaction took most of a minute (each call's
-- statements, and the kit_event trigger's work, grew with the calls
-- before it in the transaction). The outcome of each department is the
-- one mkp_kit_org gives it (007: stale when older than its stamp, a debug
-- call never changes a real object, same when nothing changes, else add,
-- restore or modify with one event); a code listed twice in one call
-- takes its last listing, and the call's events come in code order.
-- Deletes (flag 0) still go one by one.
-- Returns {applied, same, stale}. As for the paths, the rows are mostly
-- this transaction's: no nested loops, whose estimate of a few rows turns
-- into a scan per listed department.
CREATE FUNCTION mkp_kit_orgs_set(p_tenant text, p_codes text[], p_names text[],
    p_parents text[], p_instance text, p_test boolean, p_stamp text, p_call text)
RETURNS bigint[] LANGUAGE plpgsql SET enable_nestloop = off AS $$
DECLARE
    v_counts bigint[];
BEGIN
    -- Placeholders for the departments the tenant does not have, as
    -- mkp_kit_org makes them, then every listed row locked, in one order.
    INSERT INTO org (tenant_id, org_code, is_test, deleted_at)
    SELECT DISTINCT p_tenant, u.code, p_test, now() FROM unnest(p_codes) AS u(code)
     ORDER BY 2
    ON CONFLICT DO NOTHING;
    -- (A join, not "= ANY (p_codes)": on a table whose statistics predate
    -- the rows just inserted that is a scan per listed code.)
    PERFORM 1 FROM org o JOIN (SELECT DISTINCT u.code FROM unnest(p_codes) AS u(code)) u
                           ON o.tenant_id = p_tenant AND o.org_code = u.code
      ORDER BY o.org_code FOR UPDATE OF o;
    WITH l AS (
        SELECT DISTINCT ON (u.code) u.code, u.name, u.parent
          FROM unnest(p_codes, p_names, p_parents) WITH ORDINALITY AS u(code, name, parent, n)
         ORDER BY u.code, u.n DESC),
    d AS (
        SELECT o.org_code, l.name, l.parent,
               CASE WHEN p_stamp < o.stamp THEN 'stale'
                    WHEN p_test AND NOT o.is_test AND (o.stamp <> '' OR o.deleted_at IS NULL)
                        THEN 'debug'
                    WHEN o.deleted_at IS NULL AND o.name IS NOT DISTINCT FROM l.name
                         AND o.parent_code IS NOT DISTINCT FROM l.parent THEN 'same'
                    WHEN o.stamp = '' THEN 'add'
                    WHEN o.deleted_at IS NOT NULL THEN 'restore'
                    ELSE 'modify' END AS op
          FROM l JOIN org o ON o.tenant_id = p_tenant AND o.org_code = l.code),
    upd AS (
        UPDATE org o
           SET last_call = p_call,
               stamp = CASE WHEN d.op IN ('stale', 'debug') THEN o.stamp ELSE p_stamp END,
               name = CASE WHEN d.op IN ('add', 'restore', 'modify') THEN d.name
                           ELSE o.name END,
               parent_code = CASE WHEN d.op IN ('add', 'restore', 'modify') THEN d.parent
                                  ELSE o.parent_code END,
               instance_id = CASE WHEN d.op IN ('add', 'restore', 'modify')
                                  THEN coalesce(p_instance, o.instance_id)
                                  ELSE o.instance_id END,
               updated_at = CASE WHEN d.op IN ('add', 'restore', 'modify') THEN now()
                                 ELSE o.updated_at END,
               is_test = CASE WHEN d.op IN ('add', 'restore', 'modify') THEN p_test
                              ELSE o.is_test END,
               deleted_at = CASE WHEN d.op IN ('add', 'restore', 'modify') THEN NULL
                                 ELSE o.deleted_at END
          FROM d
         WHERE o.tenant_id = p_tenant AND o.org_code = d.org_code
        RETURNING o.org_code, d.op),
    ev AS (
        INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
        SELECT 'org', upd.op, p_tenant, upd.org_code, p_stamp, p_test, p_call
          FROM upd WHERE upd.op IN ('add', 'restore', 'modify')
         ORDER BY upd.org_code)
    SELECT ARRAY[count(*) FILTER (WHERE upd.op IN ('add', 'restore', 'modify')),
                 count(*) FILTER (WHERE upd.op IN ('same', 'debug')),
                 count(*) FILTER (WHERE upd.op = 'stale')]
      INTO v_counts FROM upd;
    RETURN v_counts;
END
$$;
