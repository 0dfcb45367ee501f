-- Agent HMAC secrets and Bearer tokens at rest: sealed with Fernet under MEDIABUY_SECRETS_KEY
-- (src/mediabuy_sync/secretbox.py), never in clear. They cannot be hashed: we verify HMACs with them
-- and send them to the agents.
ALTER TABLE agent_credentials ADD COLUMN secret_sealed text;

-- The plaintext column stays only for rows written before this migration: SQL cannot encrypt them, so
-- `mediabuy-sync db upgrade` seals them right after (store/agents.py seal_plaintext_secrets) and
-- empties it. Nothing reads it any more.
ALTER TABLE agent_credentials DROP CONSTRAINT IF EXISTS agent_credentials_check;
ALTER TABLE agent_credentials
    ADD CONSTRAINT agent_credentials_has_key CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL OR public_jwk IS NOT NULL);
COMMENT ON COLUMN agent_credentials.secret IS 'obsolete: plaintext before 0006, sealed into secret_sealed and emptied by db upgrade';
