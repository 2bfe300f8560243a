-- 020_call_statements: less store work per signed call.
--
-- queryInstance -------------------------------------------------------------------
--
-- The answer for a package instance names the on-demand instance that last
-- drew on it (relatedInstanceId). As a subquery of the fetch, its plan (a
-- limit over a sort over an index scan of every month of usage_record) was
-- set up by the executor at every queryInstance of every instance,
-- although only a package's evaluates it, and it grew with every month
-- kept. As a function it is one call node, run for packages only, whose
-- plan plpgsql keeps per connection.
CREATE FUNCTION mkp_usage_package_drawer(p_package text) RETURNS text
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT r.instance_id FROM usage_record r WHERE r.pkg_instance_id = p_package
             ORDER BY r.window_begin DESC, r.id DESC LIMIT 1);
END
$$;
COMMENT ON FUNCTION mkp_usage_package_drawer(text) IS
    'queryInstance of a package: the on-demand instance that last drew on it (the newest '
    'hourly record booked against the package), or NULL.';

-- instance and job: their checks as domains ------------------------------------
--
-- PostgreSQL parses a table's CHECK constraints from the catalog at every
-- statement that writes the table (ExecRelCheck builds them per result
-- relation, per execution): about 25 000 instructions for instance's two
-- and as many for job's three, on every newInstance, 9 % of its backend
-- work. A domain's constraints are built once per connection and kept in
-- the type cache. The same rules move to domains; what a DBA reads in \d is
-- the domain's name, and \dD mkp_* shows the rule.
--
-- The tables are not rewritten: each domain gets its constraint after the
-- columns use it, which checks the rows there (a scan under the lock this
-- migration holds anyway; they all passed the table check), and the
-- indexes whose predicate names a state are built again (1.7 s for
-- 200 000 instances and 200 000 jobs). The views and the trigger that name
-- these columns are dropped and made again from their own definitions.
DO $$
DECLARE
    v_views  text[] := ARRAY['instances_by_state', 'package_balance', 'jobs_by_state'];
    v_defs   text[] := '{}';
    v_notes  text[] := '{}';
    v_i      integer;
BEGIN
    FOR v_i IN 1 .. array_length(v_views, 1) LOOP
        v_defs := v_defs || pg_get_viewdef(v_views[v_i]::regclass);
        v_notes := v_notes || obj_description(v_views[v_i]::regclass, 'pg_class');
        EXECUTE format('DROP VIEW %I', v_views[v_i]);
    END LOOP;

    DROP TRIGGER job_notify ON job;
    CREATE DOMAIN mkp_instance_state AS text;
    CREATE DOMAIN mkp_sealed AS text;
    CREATE DOMAIN mkp_job_state AS text;
    CREATE DOMAIN mkp_job_attempts AS integer;
    CREATE DOMAIN mkp_job_max_attempts AS integer;
    ALTER TABLE instance DROP CONSTRAINT instance_state_check,
        DROP CONSTRAINT instance_app_password_check,
        ALTER COLUMN state TYPE mkp_instance_state,
        ALTER COLUMN app_password TYPE mkp_sealed;
    ALTER TABLE job DROP CONSTRAINT job_state_check, DROP CONSTRAINT job_attempts_check,
        DROP CONSTRAINT job_max_attempts_check,
        ALTER COLUMN state TYPE mkp_job_state,
        ALTER COLUMN attempts TYPE mkp_job_attempts,
        ALTER COLUMN max_attempts TYPE mkp_job_max_attempts;
    ALTER DOMAIN mkp_instance_state ADD CONSTRAINT mkp_instance_state_check
        CHECK (VALUE IN ('provisioning', 'active', 'frozen', 'released', 'failed'));
    ALTER DOMAIN mkp_sealed ADD CONSTRAINT mkp_sealed_check CHECK (VALUE LIKE 's1:%');
    ALTER DOMAIN mkp_job_state ADD CONSTRAINT mkp_job_state_check
        CHECK (VALUE IN ('queued', 'running', 'done', 'dead'));
    ALTER DOMAIN mkp_job_attempts ADD CONSTRAINT mkp_job_attempts_check CHECK (VALUE >= 0);
    ALTER DOMAIN mkp_job_max_attempts ADD CONSTRAINT mkp_job_max_attempts_check
        CHECK (VALUE >= 1);

    CREATE TRIGGER job_notify AFTER INSERT OR UPDATE OF state ON job
        FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION mkp_job_notify();
    COMMENT ON TRIGGER job_notify ON job IS 'Wakes the runners at commit (mkp_job_notify).';
    FOR v_i IN 1 .. array_length(v_views, 1) LOOP
        EXECUTE format('CREATE VIEW %I AS %s', v_views[v_i], v_defs[v_i]);
        EXECUTE format('COMMENT ON VIEW %I IS %L', v_views[v_i], v_notes[v_i]);
    END LOOP;
END
$$;
COMMENT ON DOMAIN mkp_instance_state IS
    'instance.state: provisioning, active, frozen, released or failed.';
COMMENT ON DOMAIN mkp_sealed IS
    'A SEALED secret: "s1:" + secretbox under the master key; anything else is refused.';
COMMENT ON DOMAIN mkp_job_state IS 'job.state: queued, running, done or dead.';
COMMENT ON DOMAIN mkp_job_attempts IS 'job.attempts: the attempts made so far, never negative.';
COMMENT ON DOMAIN mkp_job_max_attempts IS
    'job.max_attempts: at least 1 (NULL: the kind''s default).';
