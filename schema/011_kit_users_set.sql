-- 011_kit_users_set: a userList applies its new users in one statement.
--
-- mkp_kit_users (007) ran mkp_kit_user once per user: for a user the
-- tenant did not have yet, an insert of a placeholder row, a SELECT ...
-- FOR UPDATE, an update of that row and an event, four statements each.
-- The first authSync of a tenant (the usual one: the whole directory) is
-- almost only such users, and spent about 0.14 ms per user in PostgreSQL
-- (doc/performance.md).
--
-- Now the users absent from app_user are inserted in one statement, with
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
CREATE OR REPLACE FUNCTION mkp_kit_users(p_tenant text, p_users text[], p_instance text,
    p_test boolean, p_flag int, p_stamp text, p_sync text, p_call text)
RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
    counts int[] := ARRAY[0, 0, 0];
    v_done int[];       -- subscripts of p_users applied by the set insert
    r text;
    i int;
BEGIN
    IF coalesce(array_length(p_users, 1), 0) = 0 THEN
        RETURN counts;
    END IF;
    IF p_flag IN (0, 3) THEN
        WITH list AS (
            SELECT DISTINCT ON (p_users[g][1]) g AS i, p_users[g][1] AS user_name
              FROM generate_subscripts(p_users, 1) AS g ORDER BY p_users[g][1], g),
        ins AS (
            INSERT INTO app_user (tenant_id, user_name, is_test, deleted_at, stamp, sync_time)
            SELECT p_tenant, l.user_name, p_test, now(), p_stamp, p_sync
              FROM list l ORDER BY l.i
            ON CONFLICT (tenant_id, user_name) DO NOTHING
            RETURNING user_name)
        SELECT coalesce(array_agg(l.i), '{}') INTO v_done
          FROM list l JOIN ins USING (user_name);
        counts[2] := cardinality(v_done);
    ELSE
        WITH list AS (
            SELECT DISTINCT ON (p_users[g][1]) g AS i, p_users[g][1] AS user_name
              FROM generate_subscripts(p_users, 1) AS g ORDER BY p_users[g][1], g),
        ins AS (
            INSERT INTO app_user (tenant_id, user_name, app_id, name, org_code, role,
                enabled, position, employee_code, employee_type, mobile, email, work_place,
                entry_date, extension, instance_id, is_test, stamp, sync_time)
            SELECT p_tenant, l.user_name, p_users[l.i][2], p_users[l.i][3], p_users[l.i][4],
                   p_users[l.i][5], p_users[l.i][6]::boolean, p_users[l.i][7],
                   p_users[l.i][8], p_users[l.i][9], p_users[l.i][10], p_users[l.i][11],
                   p_users[l.i][12], p_users[l.i][13], p_users[l.i][14]::jsonb, p_instance,
                   p_test, p_stamp, p_sync
              FROM list l ORDER BY l.i
            ON CONFLICT (tenant_id, user_name) DO NOTHING
            RETURNING user_name),
        done AS (
            SELECT l.i, l.user_name FROM list l JOIN ins USING (user_name)),
        ev AS (
            INSERT INTO kit_event (object, op, tenant_id, object_key, stamp, is_test, call_id)
            SELECT 'user', 'add', p_tenant, d.user_name, p_stamp, p_test, p_call
              FROM done d ORDER BY d.i)
        SELECT coalesce(array_agg(d.i), '{}') INTO v_done FROM done d;
        counts[1] := cardinality(v_done);
    END IF;

    FOR i IN SELECT g FROM generate_subscripts(p_users, 1) AS g
              WHERE g <> ALL (v_done) ORDER BY g LOOP
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
