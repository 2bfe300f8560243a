-- 011_kit_users_set: a userList applies its new users in one statement.
--
-- mkp_kit_users (007) ran mkp_kit_user once per user: for a user the
-- tenant did not have yet, an insert of a placeholder row, a SELECT ...
-- FOR UPDATE, an update of that row and an event, four statements each.
-- The first authSync of a tenant (the usual one: the whole directory) is
-- almost only such users, and spent about 0.14 ms per user in PostgreSQL
-- (doc/performance.md). Worse, every p_users[i][k] walked the array from
-- its start (text elements have no fixed width), so reading a list cost
-- time in the square of its length: two thirds of a 500-user call.
--
-- Now the array is read once, into rows (mkp_kit_user_rows), and
-- the users absent from app_user are inserted in one statement, with
-- their final values and their events, and only the others (known users,
-- and a user listed again in the same call) go through mkp_kit_user, in
-- list order, as before. For an absent user the result is the one
-- mkp_kit_user gives a fresh placeholder row (readings 6 to 8 of 007):
--   * flag 1, 2 (or any other than 0 and 3): the user as listed, 'add',
--     one 'add' event;
--   * flag 0 (delete) or 3 (cancel): a tombstone carrying the stamps,
--     'same', no event.
-- Nothing is stale for an absent user (its stamps are empty) and a debug
-- call owns the rows it creates. A user a concurrent call inserts first
-- is skipped by ON CONFLICT and then handled by mkp_kit_user, which waits
-- for that call's row as before. Events of new users come before those of
-- known users of the same call; each user's own events stay in order.

-- The rows of a userList (an n x 14 array, see mkp_kit_users in 007), in
-- one pass over the array.
CREATE FUNCTION mkp_kit_user_rows(p_users text[])
RETURNS TABLE (i int, user_name text, app_id text, name text, org_code text, role text,
    enabled boolean, "position" text, employee_code text, employee_type text,
    mobile text, email text, work_place text, entry_date text, extension jsonb)
LANGUAGE sql IMMUTABLE AS $$
    SELECT ((o - 1) / 14 + 1)::int,
           max(v) FILTER (WHERE (o - 1) % 14 = 0), max(v) FILTER (WHERE (o - 1) % 14 = 1),
           max(v) FILTER (WHERE (o - 1) % 14 = 2), max(v) FILTER (WHERE (o - 1) % 14 = 3),
           max(v) FILTER (WHERE (o - 1) % 14 = 4),
           (max(v) FILTER (WHERE (o - 1) % 14 = 5))::boolean,
           max(v) FILTER (WHERE (o - 1) % 14 = 6), max(v) FILTER (WHERE (o - 1) % 14 = 7),
           max(v) FILTER (WHERE (o - 1) % 14 = 8), max(v) FILTER (WHERE (o - 1) % 14 = 9),
           max(v) FILTER (WHERE (o - 1) % 14 = 10), max(v) FILTER (WHERE (o - 1) % 14 = 11),
           max(v) FILTER (WHERE (o - 1) % 14 = 12),
           (max(v) FILTER (WHERE (o - 1) % 14 = 13))::jsonb
      FROM unnest(p_users) WITH ORDINALITY AS t(v, o)
     GROUP BY 1
$$;

CREATE OR REPLACE FUNCTION mkp_kit_users(p_tenant text, p_users text[], p_instance text,
    p_test boolean, p_flag int, p_stamp text, p_sync text, p_call text)
RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
    counts int[] := ARRAY[0, 0, 0];
    v_done int[];       -- rows (i) applied by the set insert
    u record;
    r text;
BEGIN
    IF coalesce(array_length(p_users, 1), 0) = 0 THEN
        RETURN counts;
    END IF;
    IF array_length(p_users, 2) IS DISTINCT FROM 14 THEN
        RAISE EXCEPTION 'mkp_kit_users: a userList row has 14 values';
    END IF;
    IF p_flag IN (0, 3) THEN
        WITH list AS (
            SELECT DISTINCT ON (l.user_name) l.i, l.user_name
              FROM mkp_kit_user_rows(p_users) l ORDER BY l.user_name, l.i),
        ins AS (
            INSERT INTO app_user (tenant_id, user_name, is_test, deleted_at, stamp, sync_time)
            SELECT p_tenant, l.user_name, p_test, now(), p_stamp, p_sync
              FROM list l ORDER BY l.i
            ON CONFLICT (tenant_id, user_name) DO NOTHING
            RETURNING app_user.user_name)
        SELECT coalesce(array_agg(l.i), '{}') INTO v_done
          FROM list l JOIN ins ON ins.user_name = l.user_name;
        counts[2] := cardinality(v_done);
    ELSE
        WITH list AS (
            SELECT DISTINCT ON (l.user_name) l.*
              FROM mkp_kit_user_rows(p_users) l ORDER BY l.user_name, l.i),
        ins AS (
            INSERT INTO app_user (tenant_id, user_name, app_id, name, org_code, role,
                enabled, position, employee_code, employee_type, mobile, email, work_place,
                entry_date, extension, instance_id, is_test, stamp, sync_time)
            SELECT p_tenant, l.user_name, l.app_id, l.name, l.org_code, l.role, l.enabled,
                   l."position", l.employee_code, l.employee_type, l.mobile, l.email,
                   l.work_place, l.entry_date, l.extension, p_instance, p_test, p_stamp, p_sync
              FROM list l ORDER BY l.i
            ON CONFLICT (tenant_id, user_name) DO NOTHING
            RETURNING app_user.user_name),
        done AS (
            SELECT l.i, l.user_name FROM list l JOIN ins ON ins.user_name = l.user_name),
        ev AS (
            INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
            SELECT 'user', 'add', p_tenant, d.user_name, p_stamp, p_test, p_call
              FROM done d ORDER BY d.i)
        SELECT coalesce(array_agg(d.i), '{}') INTO v_done FROM done d;
        counts[1] := cardinality(v_done);
    END IF;

    FOR u IN SELECT l.* FROM mkp_kit_user_rows(p_users) l
              WHERE NOT EXISTS (SELECT 1 FROM unnest(v_done) AS d(i) WHERE d.i = l.i)
              ORDER BY l.i LOOP
        r := mkp_kit_user(p_tenant, u.user_name, u.app_id, u.name, u.org_code, u.role,
            u.enabled, u."position", u.employee_code, u.employee_type, u.mobile, u.email,
            u.work_place, u.entry_date, u.extension, p_instance, p_test, p_flag, p_stamp,
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
