-- 002_nonce_claim: claim a nonce so that a replay aborts the transaction
-- it runs in.
--
-- mkpd sends the claim in the same round trip and the same transaction as
-- the call's first statement (libpq pipeline mode); a replayed nonce must
-- then undo everything the call would have done, which an error does and
-- an empty result would not. SQLSTATE MKP01 says "replayed nonce".
--
-- p_call_id names the call: when mkpd resends a claim after its connection
-- died with the answer on the way, the nonce it finds is its own, not a
-- replay.
CREATE FUNCTION mkp_nonce_claim(p_nonce text, p_keep_secs integer, p_call_id text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO nonce (nonce, seen_at, call_id) VALUES (p_nonce, now(), p_call_id)
    ON CONFLICT (nonce) DO UPDATE SET seen_at = now(), call_id = EXCLUDED.call_id
        WHERE nonce.seen_at < now() - make_interval(secs => p_keep_secs)
           OR nonce.call_id = EXCLUDED.call_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'nonce already used' USING ERRCODE = 'MKP01';
    END IF;
END
$$;
