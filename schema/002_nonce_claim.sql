-- 002_nonce_claim: claim a nonce so that a replay aborts the transaction
-- it runs in.
--
-- mkpd sends the claim in the same round trip and the same transaction as
-- the call's first statement (libpq pipeline mode); a replayed nonce must
-- then undo everything the call would have done, which an error does and
-- an empty result would not. SQLSTATE MKP01 says "replayed nonce".
CREATE FUNCTION mkp_nonce_claim(p_nonce text, p_keep_secs integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO nonce (nonce, seen_at) VALUES (p_nonce, now())
    ON CONFLICT (nonce) DO UPDATE SET seen_at = now()
        WHERE nonce.seen_at < now() - make_interval(secs => p_keep_secs);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'nonce already used' USING ERRCODE = 'MKP01';
    END IF;
END
$$;
