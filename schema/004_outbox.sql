-- 004_outbox: every instance change, announced.
--
-- instance_event already holds every change of an instance, written in the
-- same transaction as the change (the outbox). This trigger adds a
-- PostgreSQL NOTIFY on the channel mkpd_instance, delivered when that
-- transaction commits and not before, so a seller's application can LISTEN
-- and react without polling. The payload is small JSON:
--   {"event_id":123,"instance_id":"...","kind":"freeze","from":"active","to":"frozen"}
-- Read the full row (order ids, detail) from instance_event by event_id;
-- after a reconnect, catch up with event_id > the last one seen.
CREATE FUNCTION mkp_instance_event_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mkpd_instance', json_build_object(
        'event_id', NEW.event_id, 'instance_id', NEW.instance_id,
        'kind', NEW.kind, 'from', NEW.from_state, 'to', NEW.to_state)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER instance_event_notify AFTER INSERT ON instance_event
    FOR EACH ROW EXECUTE FUNCTION mkp_instance_event_notify();
