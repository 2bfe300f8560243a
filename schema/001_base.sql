-- 001_base: instances, their history, the audit log and the nonce store.
--
-- Conventions for every migration: one transaction each (the runner wraps
-- it), tables and columns in snake_case, times as timestamptz (UTC on the
-- wire), secrets only in columns whose CHECK demands the sealed "s1:" form.

-- One row per purchased instance. instance_id is the businessId of the first
-- newInstance call for the order line (spec/README.md reading 4); debug
-- calls (testFlag=1) live beside real ones but never share an order line.
CREATE TABLE instance (
    instance_id     text PRIMARY KEY,
    order_id        text NOT NULL,
    order_line_id   text NOT NULL,
    business_id     text NOT NULL,
    product_id      text,
    sku_code        text,
    charging_mode   text,
    state           text NOT NULL DEFAULT 'provisioning'
                    CHECK (state IN ('provisioning', 'active', 'frozen', 'released', 'failed')),
    is_test         boolean NOT NULL DEFAULT false,
    trial           boolean NOT NULL DEFAULT false,
    expire_at       timestamptz,
    front_end_url   text,
    admin_url       text,
    app_user        text,
    app_password    text CHECK (app_password IS NULL OR app_password LIKE 's1:%'),
    memo            text,
    fail_reason     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    frozen_at       timestamptz,
    released_at     timestamptz,
    CONSTRAINT instance_order_line_key UNIQUE (order_id, order_line_id, is_test)
);
CREATE INDEX instance_state_idx ON instance (state) WHERE state <> 'released';

-- Every change of an instance, with the inbound call that caused it
-- (callback_log.call_id). An order-driven change (renewal, upgrade,
-- release by unsubscription) is applied once per order line: the partial
-- unique index makes a repeat a no-op.
CREATE TABLE instance_event (
    event_id        bigserial PRIMARY KEY,
    instance_id     text NOT NULL REFERENCES instance ON DELETE CASCADE,
    kind            text NOT NULL,
    from_state      text,
    to_state        text,
    order_id        text,
    order_line_id   text,
    detail          jsonb,
    call_id         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX instance_event_order_once
    ON instance_event (instance_id, kind, order_id, order_line_id)
    WHERE order_id IS NOT NULL;
CREATE INDEX instance_event_instance_idx ON instance_event (instance_id, event_id);
CREATE INDEX instance_event_call_idx ON instance_event (call_id);

-- License codes renewed through refreshLicenseCode (License delivery). As
-- instances, debug (testFlag=1) and real licences never share a row.
CREATE TABLE license (
    license_code    text NOT NULL,
    order_id        text NOT NULL,
    order_line_id   text NOT NULL,
    product_id      text,
    expire_at       timestamptz NOT NULL,
    scene           text NOT NULL,
    is_test         boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (license_code, is_test)
);
CREATE TABLE license_event (
    event_id        bigserial PRIMARY KEY,
    license_code    text NOT NULL,
    is_test         boolean NOT NULL DEFAULT false,
    scene           text NOT NULL,
    order_id        text NOT NULL,
    order_line_id   text NOT NULL,
    expire_at       timestamptz NOT NULL,
    call_id         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (license_code, is_test, scene, order_id, order_line_id),
    FOREIGN KEY (license_code, is_test) REFERENCES license ON DELETE CASCADE
);

-- Nonces of signed calls, shared by every host so a replay to another
-- host of the deployment is refused too (reading 2). Unlogged: nothing
-- here is worth a WAL flush, and after a crash the time window alone
-- still refuses stale calls. Rows older than twice the window are purged.
CREATE UNLOGGED TABLE nonce (
    nonce           text PRIMARY KEY,
    seen_at         timestamptz NOT NULL DEFAULT now(),
    call_id         text        -- the call that claimed it (its own retry is no replay)
);
CREATE INDEX nonce_seen_idx ON nonce (seen_at);

-- Every inbound call, whatever its outcome, with secrets redacted.
CREATE TABLE callback_log (
    call_id         text PRIMARY KEY,
    received_at     timestamptz NOT NULL,
    remote_addr     text,
    dialect         text NOT NULL,
    activity        text,
    instance_id     text,
    order_id        text,
    order_line_id   text,
    result_code     text,
    http_status     integer NOT NULL,
    latency_us      bigint NOT NULL,
    is_test         boolean NOT NULL DEFAULT false,
    reason          text,
    body            text
);
CREATE INDEX callback_log_received_idx ON callback_log (received_at);
CREATE INDEX callback_log_instance_idx ON callback_log (instance_id) WHERE instance_id IS NOT NULL;
CREATE INDEX callback_log_failed_idx ON callback_log (received_at)
    WHERE result_code IS DISTINCT FROM '000000';

-- For the DBA: instances by state, and the calls that did not succeed.
CREATE VIEW instances_by_state AS
    SELECT state, is_test, count(*) AS instances, max(updated_at) AS last_change
      FROM instance GROUP BY state, is_test;

CREATE VIEW failed_calls AS
    SELECT received_at, dialect, activity, instance_id, order_id, result_code,
           reason, remote_addr, latency_us
      FROM callback_log
     WHERE result_code IS DISTINCT FROM '000000'
       AND result_code IS DISTINCT FROM '000004';
