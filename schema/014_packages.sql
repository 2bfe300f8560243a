-- 014_packages: the quota of on-demand packages, drawn down with the ingest
-- (spec/outbound.md §1.10; doc/architecture.md "where the spec is silent").
--
-- A package order (chargingMode ON_DEMAND_PKG) buys a quota: the amount is
-- the package line's productInfo[].linearValue, or the [packages] table of
-- mkpd.conf for its SKU. package_grant keeps one row per order line that
-- added quota (the purchase, each renewal), so a repeated job adds nothing
-- twice; package.quota is their sum. A package serves one on-demand
-- instance (package.instance_id): linked when provisioned to the live
-- on-demand instance of the same buyer and product when there is exactly
-- one, by the seller (mkpctl packages link), or by the first event that
-- names it (same buyer).
--
-- package_account is the balance row of an on-demand instance with
-- packages: every ingest that draws from them takes it FOR UPDATE before
-- reading or changing any package of the instance, in the transaction that
-- inserts the events, so two hosts ingesting at once are serialised there
-- and never over-draw. It remembers which warnings the seller's hook heard
-- (low_fired: the highest threshold, exhausted) so each is given once.
--
-- Drawing (mkp_usage_ingest_packages) happens before the events reach
-- mkp_usage_ingest_batch, which stays the one checker and booker of
-- events: an event is cut into parts, one per package it draws from (the
-- first part keeps the event's id, the others get derived ids), so the
-- hourly records, one per (instance, package, hour), carry the right
-- relate_pkg_instance. Amounts are numeric(20,4), as for usage.

ALTER TABLE instance ADD COLUMN buyer_id text;     -- the order's buyerInfo.customerId

CREATE TABLE package (
    pkg_instance_id text PRIMARY KEY REFERENCES instance (instance_id) ON DELETE CASCADE,
    -- NULL: not linked yet. Cascades: only debug instances are ever deleted
    -- (mkpctl purge --test-data), and their packages with them.
    instance_id     text REFERENCES instance (instance_id) ON DELETE CASCADE,
    linked_by       text CHECK (linked_by IN ('order', 'seller', 'event')),
    mode            text NOT NULL DEFAULT 'stop' CHECK (mode IN ('stop', 'overflow')),
    unit            text NOT NULL DEFAULT '',
    quota           numeric(20,4) NOT NULL DEFAULT 0 CHECK (quota >= 0),
    drawn           numeric(20,4) NOT NULL DEFAULT 0 CHECK (drawn >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Usage past the quota is refused (stop) or billed on demand
    -- (overflow), never drawn from the package.
    CHECK (drawn <= quota),
    CHECK ((instance_id IS NULL) = (linked_by IS NULL))
);
CREATE INDEX package_instance_idx ON package (instance_id);

CREATE TABLE package_grant (
    order_id        text NOT NULL,
    order_line_id   text NOT NULL,
    pkg_instance_id text NOT NULL REFERENCES package ON DELETE CASCADE,
    quota           numeric(20,4) NOT NULL CHECK (quota >= 0),
    source          text NOT NULL CHECK (source IN ('order', 'config')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, order_line_id)
);

CREATE TABLE package_account (
    instance_id     text PRIMARY KEY REFERENCES instance (instance_id) ON DELETE CASCADE,
    low_fired       numeric NOT NULL DEFAULT 0,     -- highest quota_low (%) given since
    exhausted       boolean NOT NULL DEFAULT false, -- the last package came
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A package may be drawn at time p_at: its instance is live and not expired.
CREATE FUNCTION mkp_package_live(p_pkg text, p_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT i.state IN ('active', 'frozen')
                            AND (i.expire_at IS NULL OR i.expire_at > p_at)
                       FROM instance i WHERE i.instance_id = p_pkg), false)
$$;

-- The hook job of a package event (src/jobs/package_hook.c). run_at is
-- the clock, not the transaction's time: runners claim by run_at, so the
-- events of one transaction reach the hook in the order they happened.
CREATE FUNCTION mkp_package_hook(p_instance text, p_event text, p_threshold numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO job (kind, payload, run_at)
    VALUES ('package_hook', jsonb_build_object('instanceId', p_instance, 'event', p_event)
            || CASE WHEN p_threshold IS NULL THEN '{}'::jsonb
                    ELSE jsonb_build_object('threshold', p_threshold) END,
            clock_timestamp())
$$;

-- Re-reads the balance of an on-demand instance whose account the caller
-- holds FOR UPDATE, and tells the seller what changed: quota_low once per
-- threshold crossed (p_thresholds, in percent of the quota drawn),
-- exhausted when nothing remains, resumed when quota came back after that.
-- Quota that grew lowers low_fired, so the new quota warns in its turn.
CREATE FUNCTION mkp_package_account_check(p_instance text, p_thresholds numeric[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a       package_account%ROWTYPE;
    v_quota numeric;
    v_drawn numeric;
    v_pct   numeric;
    v_t     numeric;
    v_below numeric;
BEGIN
    SELECT * INTO a FROM package_account WHERE instance_id = p_instance FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(sum(p.quota), 0), coalesce(sum(p.drawn), 0) INTO v_quota, v_drawn
      FROM package p WHERE p.instance_id = p_instance AND mkp_package_live(p.pkg_instance_id, now());
    v_pct := CASE WHEN v_quota > 0 THEN v_drawn * 100 / v_quota ELSE 100 END;
    IF a.exhausted AND v_quota > v_drawn THEN
        INSERT INTO instance_event (instance_id, kind, detail)
        VALUES (p_instance, 'package_resumed',
                jsonb_build_object('quota', v_quota, 'drawn', v_drawn));
        PERFORM mkp_package_hook(p_instance, 'resumed', NULL);
        a.exhausted := false;
    END IF;
    -- The highest threshold still reached: lower when quota was added.
    SELECT coalesce(max(t), 0) INTO v_below FROM unnest(p_thresholds) AS t WHERE t <= v_pct;
    IF v_below < a.low_fired THEN
        a.low_fired := v_below;
    END IF;
    -- No quota at all (a package linked before its first grant): no warning.
    FOR v_t IN SELECT t FROM unnest(p_thresholds) AS t
                WHERE v_quota > 0 AND t > a.low_fired AND t <= v_pct AND t < 100
                ORDER BY t LOOP
        PERFORM mkp_package_hook(p_instance, 'quota_low', v_t);
        a.low_fired := v_t;
    END LOOP;
    IF NOT a.exhausted AND v_drawn >= v_quota AND
       EXISTS (SELECT 1 FROM package p WHERE p.instance_id = p_instance AND p.quota > 0) THEN
        INSERT INTO instance_event (instance_id, kind, detail)
        VALUES (p_instance, 'package_exhausted',
                jsonb_build_object('quota', v_quota, 'drawn', v_drawn));
        PERFORM mkp_package_hook(p_instance, 'exhausted', NULL);
        a.exhausted := true;
    END IF;
    UPDATE package_account SET low_fired = a.low_fired, exhausted = a.exhausted,
           updated_at = now()
     WHERE instance_id = p_instance;
END
$$;

-- Links package p_pkg to on-demand instance p_instance (by: 'order',
-- 'seller' or 'event'). Returns NULL, or why not.
CREATE FUNCTION mkp_package_link(p_pkg text, p_instance text, p_by text,
                                 p_thresholds numeric[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_cur  text;
    v_mode text;
BEGIN
    SELECT charging_mode INTO v_mode FROM instance
     WHERE instance_id = p_instance AND alias_of IS NULL;
    IF NOT FOUND THEN
        RETURN 'no instance ' || p_instance;
    ELSIF v_mode IS DISTINCT FROM 'ON_DEMAND' THEN
        RETURN p_instance || ' is not an on-demand instance';
    END IF;
    SELECT instance_id INTO v_cur FROM package WHERE pkg_instance_id = p_pkg FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no package ' || p_pkg;
    ELSIF (SELECT is_test FROM instance WHERE instance_id = p_pkg) IS DISTINCT FROM
          (SELECT is_test FROM instance WHERE instance_id = p_instance) THEN
        RETURN 'a debug (testFlag 1) and a real instance are never linked';
    ELSIF v_cur = p_instance THEN
        RETURN NULL;
    ELSIF v_cur IS NOT NULL AND EXISTS (SELECT 1 FROM package
                                         WHERE pkg_instance_id = p_pkg AND drawn > 0) THEN
        RETURN 'package ' || p_pkg || ' was drawn by ' || v_cur || ' already';
    END IF;
    INSERT INTO package_account (instance_id) VALUES (p_instance)
        ON CONFLICT (instance_id) DO NOTHING;
    PERFORM 1 FROM package_account
      WHERE instance_id IN (p_instance, v_cur) ORDER BY instance_id FOR UPDATE;
    UPDATE package SET instance_id = p_instance, linked_by = p_by, updated_at = now()
     WHERE pkg_instance_id = p_pkg;
    INSERT INTO instance_event (instance_id, kind, detail)
    VALUES (p_instance, 'package_linked',
            jsonb_build_object('package', p_pkg, 'by', p_by, 'before', v_cur));
    PERFORM mkp_package_account_check(p_instance, p_thresholds);
    IF v_cur IS NOT NULL THEN
        PERFORM mkp_package_account_check(v_cur, p_thresholds);
    END IF;
    RETURN NULL;
END
$$;

-- A package order line provisioned or renewed: p_quota more for package
-- p_pkg, once per order line. The first grant makes the package (mode and
-- unit then; NULL: stop, no unit) and links it by the orders' reading:
-- the one live on-demand instance of the same buyer and product.
-- Returns the on-demand instance it serves, or NULL.
CREATE FUNCTION mkp_package_grant(p_pkg text, p_order text, p_line text, p_quota numeric,
                                  p_source text, p_mode text, p_unit text,
                                  p_thresholds numeric[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_pkg   instance%ROWTYPE;
    v_inst  text;
    v_n     integer;
BEGIN
    SELECT * INTO v_pkg FROM instance WHERE instance_id = p_pkg;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'mkp_package_grant: no instance %', p_pkg;
    END IF;
    INSERT INTO package (pkg_instance_id, mode, unit)
    VALUES (p_pkg, coalesce(p_mode, 'stop'), coalesce(p_unit, ''))
        ON CONFLICT (pkg_instance_id) DO NOTHING;
    SELECT instance_id INTO v_inst FROM package WHERE pkg_instance_id = p_pkg;
    IF v_inst IS NULL AND v_pkg.buyer_id IS NOT NULL THEN
        SELECT min(i.instance_id), count(*) INTO v_inst, v_n FROM instance i
         WHERE i.charging_mode = 'ON_DEMAND' AND i.alias_of IS NULL
           AND i.buyer_id = v_pkg.buyer_id AND i.product_id = v_pkg.product_id
           AND i.is_test = v_pkg.is_test AND i.state IN ('active', 'frozen');
        IF v_n = 1 THEN
            PERFORM mkp_package_link(p_pkg, v_inst, 'order', p_thresholds);
        ELSE
            v_inst := NULL;
        END IF;
    END IF;
    IF v_inst IS NOT NULL THEN
        INSERT INTO package_account (instance_id) VALUES (v_inst)
            ON CONFLICT (instance_id) DO NOTHING;
        PERFORM 1 FROM package_account WHERE instance_id = v_inst FOR UPDATE;
    END IF;
    INSERT INTO package_grant (order_id, order_line_id, pkg_instance_id, quota, source)
    VALUES (p_order, p_line, p_pkg, p_quota, p_source)
        ON CONFLICT (order_id, order_line_id) DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        UPDATE package SET quota = quota + p_quota, updated_at = now()
         WHERE pkg_instance_id = p_pkg;
        INSERT INTO instance_event (instance_id, kind, order_id, order_line_id, detail)
        VALUES (p_pkg, 'package_quota', p_order, p_line,
                jsonb_build_object('quota', p_quota, 'source', p_source, 'serves', v_inst))
            ON CONFLICT DO NOTHING;
    END IF;
    IF v_inst IS NOT NULL THEN
        PERFORM mkp_package_account_check(v_inst, p_thresholds);
    END IF;
    RETURN v_inst;
END
$$;

-- The usage intake with packages: the events of on-demand instances that
-- have packages (or that name a known package) are drawn from them, in
-- event-time order, the named package first, then oldest expiry first,
-- and cut at each package's end; past the last package the rest is
-- refused ('stop', when any package of the instance says so: a buyer is
-- never billed past the prepaid quota by mistake) or booked as plain
-- on-demand usage ('overflow'). Then everything goes through
-- mkp_usage_ingest_batch, in the same transaction; a part the batch did not
-- take gives its quota back. Returns the batch's rows for the events as
-- named, plus:
--   outcome 'capped': accepted, but only taken (reason says why);
--   outcome 'rejected', reason 'package used up': nothing taken;
--   outcome 'quota': one per instance with packages, event_id = the
--   instance, taken = what remains of its live packages, reason = mode.
CREATE FUNCTION mkp_usage_ingest_packages(p_ids text[], p_instances text[], p_pkgs text[],
                                          p_values text[], p_times timestamptz[],
                                          p_horizon interval, p_thresholds numeric[])
RETURNS TABLE (event_id text, outcome text, reason text, taken text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now     timestamptz := now();
    n         integer := coalesce(array_length(p_ids, 1), 0);
    -- The parts given to the batch, written by index (in place, not copied).
    o_m       integer := 0;
    o_ids     text[] := '{}';
    o_inst    text[] := '{}';
    o_pkgs    text[] := '{}';
    o_vals    text[] := '{}';
    o_times   timestamptz[] := '{}';
    o_of      bigint[] := '{}';     -- the seller's event each part is of
    o_pk      integer[] := '{}';    -- the package (index into k_*) it drew, NULL none
    -- The packages of the locked balances, in drawing order, held here and
    -- written once at the end: one row version per package, not per event.
    k_id      text[];
    k_inst    text[];
    k_rest    numeric[];
    k_add     numeric[];            -- drawn by this call
    k_exp     timestamptz[];
    k_live    boolean[];            -- its instance active or frozen
    k_stop    boolean[];
    v_capped  numeric[];            -- per event: taken, when less than its value
    v_refuse  text[];               -- per event: why refused here
    v_insts   text[];
    e         record;
    r         record;
    v_left    numeric;
    v_take    numeric;
    v_k       integer;
    v_j       integer;
    v_pass    integer;
    v_pinst   text;
    v_stop    boolean;
BEGIN
    -- No package anywhere near the batch (the common case): the batch alone.
    IF NOT EXISTS (SELECT 1 FROM package_account a
                    WHERE a.instance_id IN (SELECT unnest(p_instances)))
       AND NOT EXISTS (SELECT 1 FROM package k
                        WHERE k.pkg_instance_id IN (SELECT unnest(p_pkgs))) THEN
        RETURN QUERY SELECT b.event_id, b.outcome, b.reason, NULL::text
                       FROM mkp_usage_ingest_batch(p_ids, p_instances, p_pkgs, p_values,
                                                   p_times, p_horizon) AS b;
        RETURN;
    END IF;
    v_capped := array_fill(NULL::numeric, ARRAY[n]);
    v_refuse := array_fill(NULL::text, ARRAY[n]);
    -- An event naming a known package nobody links yet links it (same buyer).
    FOR e IN SELECT DISTINCT u.inst, u.pkg
               FROM unnest(p_instances, p_pkgs) AS u(inst, pkg)
               JOIN package k ON k.pkg_instance_id = u.pkg AND k.instance_id IS NULL
               JOIN instance pi ON pi.instance_id = k.pkg_instance_id
               JOIN instance oi ON oi.instance_id = u.inst
              WHERE pi.buyer_id IS NOT NULL AND pi.buyer_id = oi.buyer_id LOOP
        PERFORM mkp_package_link(e.pkg, e.inst, 'event', p_thresholds);
    END LOOP;
    -- The balances of every instance of the batch, locked in one order;
    -- then their packages are read, after the lock, as they are now.
    SELECT array_agg(a.instance_id ORDER BY a.instance_id) INTO v_insts
      FROM (SELECT x.instance_id FROM package_account x
             WHERE x.instance_id IN (SELECT unnest(p_instances))
             ORDER BY x.instance_id FOR UPDATE) a;
    v_insts := coalesce(v_insts, '{}');
    SELECT array_agg(k.pkg_instance_id ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(k.instance_id ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(k.quota - k.drawn ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(i.expire_at ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id),
           array_agg(i.state IN ('active', 'frozen') ORDER BY k.instance_id,
                     i.expire_at NULLS LAST, k.created_at, k.pkg_instance_id),
           array_agg(k.mode = 'stop' ORDER BY k.instance_id, i.expire_at NULLS LAST,
                     k.created_at, k.pkg_instance_id)
      INTO k_id, k_inst, k_rest, k_exp, k_live, k_stop
      FROM package k JOIN instance i ON i.instance_id = k.pkg_instance_id
     WHERE k.instance_id = ANY (v_insts);
    k_id := coalesce(k_id, '{}');
    k_add := array_fill(0::numeric, ARRAY[coalesce(array_length(k_id, 1), 0)]);
    FOR e IN SELECT u.n, u.id, u.inst, u.pkg, u.val, u.t,
                    u.n = min(u.n) OVER (PARTITION BY u.id) AS first
               FROM unnest(p_ids, p_instances, p_pkgs, p_values, p_times)
                    WITH ORDINALITY AS u(id, inst, pkg, val, t, n)
              ORDER BY u.t NULLS LAST, u.n LOOP
        -- Anything the batch will refuse anyway, a repeat of an id, or an
        -- event without packages passes unchanged: it draws nothing.
        IF NOT (e.inst = ANY (v_insts) OR (coalesce(e.pkg, '') <> '' AND
                EXISTS (SELECT 1 FROM package k WHERE k.pkg_instance_id = e.pkg)))
           OR e.id IS NULL OR NOT e.first
           OR e.val IS NULL OR e.val !~ '^[0-9]{1,16}(\.[0-9]{1,4})?$'
           OR e.t IS NULL OR e.t > v_now OR e.t < v_now - p_horizon
           OR EXISTS (SELECT 1 FROM usage_event x WHERE x.event_id = e.id) THEN
            o_m := o_m + 1;
            o_ids[o_m] := e.id; o_inst[o_m] := e.inst; o_pkgs[o_m] := e.pkg;
            o_vals[o_m] := e.val; o_times[o_m] := e.t; o_of[o_m] := e.n; o_pk[o_m] := NULL;
            CONTINUE;
        END IF;
        IF coalesce(e.pkg, '') <> '' THEN
            SELECT k.instance_id INTO v_pinst FROM package k WHERE k.pkg_instance_id = e.pkg;
            IF v_pinst IS DISTINCT FROM e.inst THEN
                v_refuse[e.n] := 'package instance ' || e.pkg || ' is not a package of '
                                 || e.inst;
                CONTINUE;
            ELSIF NOT mkp_package_live(e.pkg, e.t) THEN
                v_refuse[e.n] := 'package instance ' || e.pkg || ' is not live';
                CONTINUE;
            END IF;
        END IF;
        v_left := e.val::numeric;
        v_k := 0;
        v_stop := NULL;
        -- Pass 1 the named package, pass 2 the others, in drawing order.
        FOR v_pass IN 1 .. 2 LOOP
            FOR v_j IN 1 .. coalesce(array_length(k_id, 1), 0) LOOP
                CONTINUE WHEN k_inst[v_j] <> e.inst;
                v_stop := coalesce(v_stop, false) OR k_stop[v_j];
                CONTINUE WHEN (v_pass = 1) = (k_id[v_j] IS DISTINCT FROM e.pkg);
                CONTINUE WHEN v_left <= 0 OR k_rest[v_j] <= 0 OR NOT k_live[v_j]
                              OR (k_exp[v_j] IS NOT NULL AND k_exp[v_j] <= e.t);
                v_take := least(v_left, k_rest[v_j]);
                k_rest[v_j] := k_rest[v_j] - v_take;
                k_add[v_j] := k_add[v_j] + v_take;
                v_k := v_k + 1;
                o_m := o_m + 1;
                o_ids[o_m] := CASE WHEN v_k = 1 THEN e.id
                                   WHEN length(e.id) <= 120 THEN e.id || '#' || v_k
                                   ELSE 'part:' || md5(e.id) || '#' || v_k END;
                o_inst[o_m] := e.inst; o_pkgs[o_m] := k_id[v_j];
                o_vals[o_m] := v_take::text; o_times[o_m] := e.t; o_of[o_m] := e.n;
                o_pk[o_m] := v_j;
                v_left := v_left - v_take;
            END LOOP;
        END LOOP;
        IF v_left > 0 THEN
            -- Past every package: overflow only when no package says stop.
            IF NOT coalesce(v_stop, true) THEN
                v_k := v_k + 1;
                o_m := o_m + 1;
                o_ids[o_m] := CASE WHEN v_k = 1 THEN e.id
                                   WHEN length(e.id) <= 120 THEN e.id || '#' || v_k
                                   ELSE 'part:' || md5(e.id) || '#' || v_k END;
                o_inst[o_m] := e.inst; o_pkgs[o_m] := '';
                o_vals[o_m] := v_left::text; o_times[o_m] := e.t; o_of[o_m] := e.n;
                o_pk[o_m] := NULL;
            ELSIF v_k = 0 THEN
                v_refuse[e.n] := 'package used up';
            ELSE
                v_capped[e.n] := e.val::numeric - v_left;
            END IF;
        END IF;
    END LOOP;
    -- The batch decides the rest; a part it did not take gives its quota
    -- back. Its rows are matched to the parts by a hash join, not a scan
    -- per row (a resent batch answers every event "duplicate"); a repeat
    -- of an id in the call (copies > 1) is the batch's duplicate, not a
    -- part's.
    FOR r IN SELECT b.event_id, b.outcome, b.reason, m.of, m.pk, m.val,
                    m.id = p_ids[m.of] AS first, m.copies
               FROM mkp_usage_ingest_batch(o_ids, o_inst, o_pkgs, o_vals, o_times, p_horizon)
                    AS b
               LEFT JOIN (SELECT DISTINCT ON (u.id) u.id, u.of, u.pk, u.val,
                                 count(*) OVER (PARTITION BY u.id) AS copies
                            FROM unnest(o_ids, o_of, o_pk, o_vals) AS u(id, of, pk, val)
                           ORDER BY u.id, u.of) m ON m.id = b.event_id LOOP
        IF r.outcome IN ('rejected', 'duplicate') AND r.pk IS NOT NULL AND r.copies = 1 THEN
            k_add[r.pk] := k_add[r.pk] - r.val::numeric;
            IF r.first THEN
                v_capped[r.of] := NULL;
            END IF;
        END IF;
        IF r.first IS NOT FALSE THEN
            event_id := r.event_id; outcome := r.outcome; reason := r.reason; taken := NULL;
            RETURN NEXT;
        END IF;
    END LOOP;
    -- What was drawn, once per package (CHECK (drawn <= quota) backs the lock).
    UPDATE package k SET drawn = k.drawn + d.add, updated_at = now()
      FROM unnest(k_id, k_add) AS d(id, add)
     WHERE k.pkg_instance_id = d.id AND d.add <> 0;
    FOR v_k IN 1 .. n LOOP
        IF v_refuse[v_k] IS NOT NULL THEN
            event_id := p_ids[v_k]; outcome := 'rejected'; reason := v_refuse[v_k];
            taken := NULL;
            RETURN NEXT;
        ELSIF v_capped[v_k] IS NOT NULL THEN
            event_id := p_ids[v_k]; outcome := 'capped';
            reason := 'package used up: ' || v_capped[v_k]::text || ' of ' ||
                      p_values[v_k] || ' taken';
            taken := v_capped[v_k]::text;
            RETURN NEXT;
        END IF;
    END LOOP;
    FOR v_k IN 1 .. coalesce(array_length(v_insts, 1), 0) LOOP
        PERFORM mkp_package_account_check(v_insts[v_k], p_thresholds);
        event_id := v_insts[v_k]; outcome := 'quota';
        SELECT coalesce(sum(k.quota - k.drawn) FILTER
                        (WHERE mkp_package_live(k.pkg_instance_id, v_now)), 0)::text,
               CASE WHEN coalesce(bool_or(k.mode = 'stop'), true) THEN 'stop'
                    ELSE 'overflow' END
          INTO taken, reason
          FROM package k WHERE k.instance_id = v_insts[v_k];
        RETURN NEXT;
    END LOOP;
END
$$;

-- The seller's own sessions draw packages too (009's contract otherwise:
-- 'accepted', 'duplicate' or 'rejected: reason'; 'accepted: package used
-- up: X of Y taken' when only part was taken). The thresholds are the
-- default ones; mkpd's intake passes [packages] thresholds.
CREATE OR REPLACE FUNCTION mkp_usage_ingest(p_id text, p_instance text, p_value numeric,
                                            p_time timestamptz, p_pkg text DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT CASE WHEN b.outcome = 'rejected' THEN 'rejected: ' || b.reason
                                 WHEN b.outcome IN ('shifted', 'capped')
                                     THEN 'accepted: ' || b.reason
                                 ELSE b.outcome END
                       FROM mkp_usage_ingest_packages(ARRAY[p_id], ARRAY[p_instance],
                                                      ARRAY[p_pkg], ARRAY[p_value::text],
                                                      ARRAY[p_time], interval '20 days',
                                                      '{80,95}') AS b
                      WHERE b.outcome <> 'quota'
                      ORDER BY b.outcome = 'capped' DESC LIMIT 1),
                    'accepted')
$$;

-- For the DBA: every package, its quota, what was drawn and what remains.
CREATE VIEW package_balance AS
    SELECT k.pkg_instance_id, k.instance_id, k.linked_by, k.mode, k.unit, k.quota, k.drawn,
           k.quota - k.drawn AS remaining, i.expire_at, i.state AS pkg_state,
           CASE WHEN NOT mkp_package_live(k.pkg_instance_id, now()) THEN
                    CASE WHEN i.state IN ('active', 'frozen') THEN 'expired' ELSE i.state END
                WHEN k.instance_id IS NULL THEN 'unlinked'
                WHEN k.drawn >= k.quota THEN 'used_up'
                WHEN a.low_fired > 0 THEN 'low'
                ELSE 'ok' END AS state,
           k.created_at, k.updated_at
      FROM package k
      JOIN instance i ON i.instance_id = k.pkg_instance_id
      LEFT JOIN package_account a ON a.instance_id = k.instance_id;
