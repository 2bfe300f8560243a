-- 007_kit: what the joint-operation (Kit) sync interfaces deliver: the
-- buyer's enterprise (tenant), its application credential (app), the users
-- it authorises (app_user) and its department tree (org).
--
-- Readings 7 and 8 of spec/README.md, kept here in one place:
--   * every object keeps the stamp of the last change applied to it
--     (the call's timeStamp, yyyyMMddHHmmssSSS, UTC+8, compared as text;
--     users order by currentSyncTime first). A change older than the stored
--     stamp is acknowledged and ignored ('stale'); an equal one that
--     changes nothing is a repeat ('same').
--   * deletes are soft (deleted_at); deleting an absent object leaves a
--     tombstone carrying the stamp, so an older add arriving late stays
--     ignored. Nothing requires the instance to exist.
--   * client secrets are stored sealed ("s1:", like instance.app_password).
--   * a debug call (testFlag 1) never changes an object a real call made
--     (reading 6: it succeeds without change); a real call takes over an
--     object a debug call made (is_test becomes false).
-- The mkp_kit_* functions hold that logic; mkpd calls them as prepared
-- statements, one call's worth in one transaction (src/domain/kit.c).
-- Every change leaves a kit_event row (the outbox) and a NOTIFY on mkpd_kit.

CREATE TABLE tenant (
    tenant_id       text PRIMARY KEY,
    tenant_code     text,
    name            text,
    domain_name     text,
    instance_id     text,
    order_id        text,
    is_test         boolean NOT NULL DEFAULT false,
    stamp           text NOT NULL DEFAULT '',   -- timeStamp of the last change applied
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);

CREATE TABLE app (
    tenant_id       text NOT NULL,
    app_id          text NOT NULL,
    client_id       text,
    client_secret   text CHECK (client_secret IS NULL OR client_secret LIKE 's1:%'),
    secret_plain    boolean NOT NULL DEFAULT false, -- a debug secret stored as received
    instance_id     text,
    is_test         boolean NOT NULL DEFAULT false,
    stamp           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    PRIMARY KEY (tenant_id, app_id)
);

-- A user's identity is tenant + userName (userName is unique per tenant only).
CREATE TABLE app_user (
    tenant_id       text NOT NULL,
    user_name       text NOT NULL,
    app_id          text,
    name            text,
    org_code        text,
    role            text,
    enabled         boolean,
    position        text,
    employee_code   text,
    employee_type   text,
    mobile          text,
    email           text,
    work_place      text,
    entry_date      text,
    extension       jsonb,                      -- the extension object as received
    instance_id     text,
    is_test         boolean NOT NULL DEFAULT false,
    stamp           text NOT NULL DEFAULT '',
    sync_time       text NOT NULL DEFAULT '',   -- currentSyncTime of the last change applied
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,                -- authorisation cancelled (flag 3)
    deleted_at      timestamptz,
    PRIMARY KEY (tenant_id, user_name)
);
CREATE INDEX app_user_org_idx ON app_user (tenant_id, org_code);

CREATE TABLE org (
    tenant_id       text NOT NULL,
    org_code        text NOT NULL,
    name            text,
    parent_code     text,                       -- NULL for a top-level department
    path            text,                       -- names from the top, '/'-separated
    instance_id     text,
    is_test         boolean NOT NULL DEFAULT false,
    stamp           text NOT NULL DEFAULT '',
    last_call       text,                       -- the call that last listed it
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    PRIMARY KEY (tenant_id, org_code)
);
CREATE INDEX org_parent_idx ON org (tenant_id, parent_code);

CREATE TABLE kit_event (
    event_id        bigserial PRIMARY KEY,
    object          text NOT NULL CHECK (object IN ('tenant', 'app', 'user', 'org')),
    op              text NOT NULL,              -- add, modify, delete, cancel, restore, prune
    tenant_id       text NOT NULL,
    object_key      text NOT NULL,              -- appId, userName, orgCode, or tenantId
    stamp           text,
    is_test         boolean NOT NULL DEFAULT false,
    call_id         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kit_event_tenant_idx ON kit_event (tenant_id, event_id);

CREATE FUNCTION mkp_kit_event_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mkpd_kit', json_build_object(
        'event_id', NEW.event_id, 'object', NEW.object, 'op', NEW.op,
        'tenant_id', NEW.tenant_id, 'key', NEW.object_key)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER kit_event_notify AFTER INSERT ON kit_event
    FOR EACH ROW EXECUTE FUNCTION mkp_kit_event_notify();

-- Tenant: flag 0 delete, 1 add, 2 modify. Returns applied, same or stale.
CREATE FUNCTION mkp_kit_tenant(p_tenant text, p_code text, p_name text, p_domain text,
    p_instance text, p_order text, p_test boolean, p_flag int, p_stamp text, p_call text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r tenant%ROWTYPE;
    v_op text;
BEGIN
    INSERT INTO tenant (tenant_id, is_test, deleted_at) VALUES (p_tenant, p_test, now())
        ON CONFLICT DO NOTHING;
    SELECT * INTO r FROM tenant WHERE tenant_id = p_tenant FOR UPDATE;
    IF p_stamp < r.stamp THEN
        RETURN 'stale';
    END IF;
    -- Reading 6: a debug call (testFlag 1) never changes a real object.
    IF p_test AND NOT r.is_test AND (r.stamp <> '' OR r.deleted_at IS NULL) THEN
        RETURN 'same';
    END IF;
    IF p_flag = 0 THEN
        IF r.deleted_at IS NOT NULL THEN
            UPDATE tenant SET stamp = p_stamp WHERE tenant_id = p_tenant;
            RETURN 'same';
        END IF;
        UPDATE tenant SET deleted_at = now(), stamp = p_stamp, updated_at = now(), is_test = p_test
         WHERE tenant_id = p_tenant;
        v_op := 'delete';
    ELSE
        IF r.deleted_at IS NULL AND r.tenant_code IS NOT DISTINCT FROM coalesce(p_code, r.tenant_code)
           AND r.name IS NOT DISTINCT FROM p_name AND r.domain_name IS NOT DISTINCT FROM p_domain THEN
            UPDATE tenant SET stamp = p_stamp WHERE tenant_id = p_tenant;
            RETURN 'same';
        END IF;
        v_op := CASE WHEN r.stamp = '' THEN 'add' WHEN r.deleted_at IS NOT NULL THEN 'restore'
                     ELSE 'modify' END;
        UPDATE tenant SET tenant_code = coalesce(p_code, tenant_code), name = p_name,
               domain_name = p_domain, instance_id = coalesce(p_instance, instance_id),
               order_id = coalesce(p_order, order_id), stamp = p_stamp,
               updated_at = now(), is_test = p_test, deleted_at = NULL
         WHERE tenant_id = p_tenant;
    END IF;
    INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
        VALUES ('tenant', v_op, p_tenant, p_tenant, p_stamp, p_test, p_call);
    RETURN 'applied';
END
$$;

-- App: flag 0 delete, 1 add, 2 modify. p_secret is already sealed.
CREATE FUNCTION mkp_kit_app(p_tenant text, p_app text, p_client text, p_secret text,
    p_secret_plain boolean, p_instance text, p_test boolean, p_flag int, p_stamp text,
    p_call text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r app%ROWTYPE;
    v_op text;
BEGIN
    INSERT INTO app (tenant_id, app_id, is_test, deleted_at)
        VALUES (p_tenant, p_app, p_test, now()) ON CONFLICT DO NOTHING;
    SELECT * INTO r FROM app WHERE tenant_id = p_tenant AND app_id = p_app FOR UPDATE;
    IF p_stamp < r.stamp THEN
        RETURN 'stale';
    END IF;
    -- Reading 6: a debug call (testFlag 1) never changes a real object.
    IF p_test AND NOT r.is_test AND (r.stamp <> '' OR r.deleted_at IS NULL) THEN
        RETURN 'same';
    END IF;
    IF p_flag = 0 THEN
        IF r.deleted_at IS NOT NULL THEN
            UPDATE app SET stamp = p_stamp WHERE tenant_id = p_tenant AND app_id = p_app;
            RETURN 'same';
        END IF;
        UPDATE app SET deleted_at = now(), stamp = p_stamp, updated_at = now(), is_test = p_test
         WHERE tenant_id = p_tenant AND app_id = p_app;
        v_op := 'delete';
    ELSE
        -- A sealed secret differs at every sealing: a repeat is the same stamp and client.
        IF r.deleted_at IS NULL AND r.stamp = p_stamp AND r.client_id IS NOT DISTINCT FROM p_client THEN
            RETURN 'same';
        END IF;
        v_op := CASE WHEN r.stamp = '' THEN 'add' WHEN r.deleted_at IS NOT NULL THEN 'restore'
                     ELSE 'modify' END;
        UPDATE app SET client_id = p_client, client_secret = p_secret,
               secret_plain = p_secret_plain, instance_id = coalesce(p_instance, instance_id),
               stamp = p_stamp, updated_at = now(), is_test = p_test, deleted_at = NULL
         WHERE tenant_id = p_tenant AND app_id = p_app;
    END IF;
    INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
        VALUES ('app', v_op, p_tenant, p_app, p_stamp, p_test, p_call);
    RETURN 'applied';
END
$$;

-- User: flag 0 delete, 1 add, 2 modify, 3 cancel authorisation. Ordered by
-- (currentSyncTime, timeStamp).
CREATE FUNCTION mkp_kit_user(p_tenant text, p_user text, p_app text, p_name text,
    p_org text, p_role text, p_enabled boolean, p_position text, p_emp_code text,
    p_emp_type text, p_mobile text, p_email text, p_work_place text, p_entry_date text,
    p_extension jsonb, p_instance text, p_test boolean, p_flag int, p_stamp text,
    p_sync text, p_call text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r app_user%ROWTYPE;
    v_op text;
BEGIN
    INSERT INTO app_user (tenant_id, user_name, is_test, deleted_at)
        VALUES (p_tenant, p_user, p_test, now()) ON CONFLICT DO NOTHING;
    SELECT * INTO r FROM app_user WHERE tenant_id = p_tenant AND user_name = p_user FOR UPDATE;
    IF (p_sync, p_stamp) < (r.sync_time, r.stamp) THEN
        RETURN 'stale';
    END IF;
    -- Reading 6: a debug call (testFlag 1) never changes a real object.
    IF p_test AND NOT r.is_test AND (r.stamp <> '' OR r.deleted_at IS NULL) THEN
        RETURN 'same';
    END IF;
    IF p_flag = 0 OR p_flag = 3 THEN
        IF (p_flag = 0 AND r.deleted_at IS NOT NULL)
           OR (p_flag = 3 AND (r.revoked_at IS NOT NULL OR r.deleted_at IS NOT NULL)) THEN
            UPDATE app_user SET stamp = p_stamp, sync_time = p_sync
             WHERE tenant_id = p_tenant AND user_name = p_user;
            RETURN 'same';
        END IF;
        IF p_flag = 0 THEN
            UPDATE app_user SET deleted_at = now(), stamp = p_stamp, sync_time = p_sync,
                   updated_at = now(), is_test = p_test WHERE tenant_id = p_tenant AND user_name = p_user;
            v_op := 'delete';
        ELSE
            UPDATE app_user SET revoked_at = now(), stamp = p_stamp, sync_time = p_sync,
                   updated_at = now(), is_test = p_test WHERE tenant_id = p_tenant AND user_name = p_user;
            v_op := 'cancel';
        END IF;
    ELSE
        IF r.deleted_at IS NULL AND r.revoked_at IS NULL
           AND r.app_id IS NOT DISTINCT FROM p_app AND r.name IS NOT DISTINCT FROM p_name
           AND r.org_code IS NOT DISTINCT FROM p_org AND r.role IS NOT DISTINCT FROM p_role
           AND r.enabled IS NOT DISTINCT FROM p_enabled
           AND r.position IS NOT DISTINCT FROM p_position
           AND r.employee_code IS NOT DISTINCT FROM p_emp_code
           AND r.employee_type IS NOT DISTINCT FROM p_emp_type
           AND r.mobile IS NOT DISTINCT FROM p_mobile AND r.email IS NOT DISTINCT FROM p_email
           AND r.work_place IS NOT DISTINCT FROM p_work_place
           AND r.entry_date IS NOT DISTINCT FROM p_entry_date
           AND r.extension IS NOT DISTINCT FROM p_extension THEN
            UPDATE app_user SET stamp = p_stamp, sync_time = p_sync
             WHERE tenant_id = p_tenant AND user_name = p_user;
            RETURN 'same';
        END IF;
        v_op := CASE WHEN r.stamp = '' AND r.sync_time = '' THEN 'add'
                     WHEN r.deleted_at IS NOT NULL OR r.revoked_at IS NOT NULL THEN 'restore'
                     ELSE 'modify' END;
        UPDATE app_user SET app_id = p_app, name = p_name, org_code = p_org, role = p_role,
               enabled = p_enabled, position = p_position, employee_code = p_emp_code,
               employee_type = p_emp_type, mobile = p_mobile, email = p_email,
               work_place = p_work_place, entry_date = p_entry_date, extension = p_extension,
               instance_id = coalesce(p_instance, instance_id), stamp = p_stamp,
               sync_time = p_sync, updated_at = now(), is_test = p_test, revoked_at = NULL, deleted_at = NULL
         WHERE tenant_id = p_tenant AND user_name = p_user;
    END IF;
    INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
        VALUES ('user', v_op, p_tenant, p_user, p_stamp, p_test, p_call);
    RETURN 'applied';
END
$$;

-- A whole userList in one statement: p_users is an n x 14 array of
-- user_name, app_id, name, org_code, role, enabled, position, employee_code,
-- employee_type, mobile, email, work_place, entry_date, extension (JSON
-- text). Returns {applied, same, stale}.
CREATE FUNCTION mkp_kit_users(p_tenant text, p_users text[], p_instance text,
    p_test boolean, p_flag int, p_stamp text, p_sync text, p_call text)
RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
    counts int[] := ARRAY[0, 0, 0];
    r text;
    i int;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_users, 1), 0) LOOP
        r := mkp_kit_user(p_tenant, p_users[i][1], p_users[i][2], p_users[i][3],
            p_users[i][4], p_users[i][5], p_users[i][6]::boolean, p_users[i][7],
            p_users[i][8], p_users[i][9], p_users[i][10], p_users[i][11], p_users[i][12],
            p_users[i][13], p_users[i][14]::jsonb, p_instance, p_test, p_flag, p_stamp,
            p_sync, p_call);
        IF r = 'applied' THEN
            counts[1] := counts[1] + 1;
        ELSIF r = 'same' THEN
            counts[2] := counts[2] + 1;
        ELSE
            counts[3] := counts[3] + 1;
        END IF;
    END LOOP;
    RETURN counts;
END
$$;

-- Department: flag 0 delete, 1 add, 2 modify (rename, move). Records the
-- call that listed it (last_call), which a full sync's prune spares.
CREATE FUNCTION mkp_kit_org(p_tenant text, p_code text, p_name text, p_parent text,
    p_instance text, p_test boolean, p_flag int, p_stamp text, p_call text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r org%ROWTYPE;
    v_op text;
BEGIN
    INSERT INTO org (tenant_id, org_code, is_test, deleted_at)
        VALUES (p_tenant, p_code, p_test, now()) ON CONFLICT DO NOTHING;
    SELECT * INTO r FROM org WHERE tenant_id = p_tenant AND org_code = p_code FOR UPDATE;
    UPDATE org SET last_call = p_call WHERE tenant_id = p_tenant AND org_code = p_code;
    IF p_stamp < r.stamp THEN
        RETURN 'stale';
    END IF;
    -- Reading 6: a debug call (testFlag 1) never changes a real object.
    IF p_test AND NOT r.is_test AND (r.stamp <> '' OR r.deleted_at IS NULL) THEN
        RETURN 'same';
    END IF;
    IF p_flag = 0 THEN
        IF r.deleted_at IS NOT NULL THEN
            UPDATE org SET stamp = p_stamp WHERE tenant_id = p_tenant AND org_code = p_code;
            RETURN 'same';
        END IF;
        UPDATE org SET deleted_at = now(), stamp = p_stamp, updated_at = now(), is_test = p_test
         WHERE tenant_id = p_tenant AND org_code = p_code;
        v_op := 'delete';
    ELSE
        IF r.deleted_at IS NULL AND r.name IS NOT DISTINCT FROM p_name
           AND r.parent_code IS NOT DISTINCT FROM p_parent THEN
            UPDATE org SET stamp = p_stamp WHERE tenant_id = p_tenant AND org_code = p_code;
            RETURN 'same';
        END IF;
        v_op := CASE WHEN r.stamp = '' THEN 'add' WHEN r.deleted_at IS NOT NULL THEN 'restore'
                     ELSE 'modify' END;
        UPDATE org SET name = p_name, parent_code = p_parent,
               instance_id = coalesce(p_instance, instance_id), stamp = p_stamp,
               updated_at = now(), is_test = p_test, deleted_at = NULL
         WHERE tenant_id = p_tenant AND org_code = p_code;
    END IF;
    INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
        VALUES ('org', v_op, p_tenant, p_code, p_stamp, p_test, p_call);
    RETURN 'applied';
END
$$;

-- A full department sync is authoritative: live departments of the tenant
-- it did not list (and not changed after it) are soft-deleted. Returns how many.
CREATE FUNCTION mkp_kit_org_prune(p_tenant text, p_stamp text, p_test boolean, p_call text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    WITH gone AS (
        UPDATE org SET deleted_at = now(), stamp = p_stamp, updated_at = now(), is_test = p_test
         WHERE tenant_id = p_tenant AND deleted_at IS NULL
           AND last_call IS DISTINCT FROM p_call AND stamp <= p_stamp
           AND (is_test OR NOT p_test)
        RETURNING org_code),
    ev AS (
        INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
        SELECT 'org', 'prune', p_tenant, org_code, p_stamp, p_test, p_call FROM gone)
    SELECT count(*) INTO n FROM gone;
    RETURN n;
END
$$;

-- Recomputes the tenant's department paths (names from the top, '/'-joined),
-- after moves and renames; a cycle stops at 64 levels. Returns the live
-- departments whose parent code names no live department, comma-separated
-- (kept, and reported by the caller), or NULL when there are none.
CREATE FUNCTION mkp_kit_org_paths(p_tenant text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_orphans text;
BEGIN
    WITH RECURSIVE up (org_code, ancestor, path, depth) AS (
        SELECT o.org_code, o.parent_code, o.name, 1 FROM org o
         WHERE o.tenant_id = p_tenant AND o.deleted_at IS NULL
      UNION ALL
        SELECT up.org_code, p.parent_code, p.name || '/' || up.path, up.depth + 1
          FROM up JOIN org p ON p.tenant_id = p_tenant AND p.org_code = up.ancestor
                            AND p.deleted_at IS NULL
         WHERE up.depth < 64),
    top AS (SELECT DISTINCT ON (org_code) org_code, path FROM up ORDER BY org_code, depth DESC)
    UPDATE org o SET path = '/' || top.path FROM top
     WHERE o.tenant_id = p_tenant AND o.org_code = top.org_code
       AND o.path IS DISTINCT FROM '/' || top.path;
    SELECT string_agg(o.org_code, ',' ORDER BY o.org_code) INTO v_orphans
      FROM org o
     WHERE o.tenant_id = p_tenant AND o.deleted_at IS NULL AND o.parent_code IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM org p WHERE p.tenant_id = p_tenant
                        AND p.org_code = o.parent_code AND p.deleted_at IS NULL);
    RETURN v_orphans;
END
$$;

-- For a DBA and a seller's application.
CREATE VIEW kit_active_users AS
    SELECT u.tenant_id, t.tenant_code, t.name AS tenant_name, u.user_name, u.name,
           u.role, u.enabled, u.org_code, o.path AS org_path, u.position, u.employee_code,
           u.employee_type, u.mobile, u.email, u.extension, u.app_id, u.is_test, u.updated_at
      FROM app_user u
      LEFT JOIN tenant t ON t.tenant_id = u.tenant_id
      LEFT JOIN org o ON o.tenant_id = u.tenant_id AND o.org_code = u.org_code
                     AND o.deleted_at IS NULL
     WHERE u.deleted_at IS NULL AND u.revoked_at IS NULL;

CREATE VIEW kit_org_tree AS
    SELECT o.tenant_id, o.org_code, o.name, o.parent_code, o.path,
           (o.parent_code IS NOT NULL AND p.org_code IS NULL) AS parent_missing,
           (SELECT count(*) FROM app_user u WHERE u.tenant_id = o.tenant_id
              AND u.org_code = o.org_code AND u.deleted_at IS NULL
              AND u.revoked_at IS NULL) AS users,
           o.is_test, o.updated_at
      FROM org o
      LEFT JOIN org p ON p.tenant_id = o.tenant_id AND p.org_code = o.parent_code
                     AND p.deleted_at IS NULL
     WHERE o.deleted_at IS NULL;

CREATE VIEW kit_recent_calls AS
    SELECT received_at, dialect, activity, instance_id, result_code, reason, is_test,
           latency_us, remote_addr
      FROM callback_log
     WHERE dialect IN ('kit-v2', 'kit-v1')
       AND received_at > now() - interval '7 days'
     ORDER BY received_at DESC;
