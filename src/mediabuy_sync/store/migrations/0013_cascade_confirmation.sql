-- A seller's "done" for a pause, resume, cancel or update is confirmed by reading the buy back: an item
-- answered and not yet seen done keeps its answer's time; one the seller does not show done within
-- MEDIABUY_CASCADE_CONFIRM_SECONDS is 'unconfirmed' (not 'done'), and its cascade counts as failed.
ALTER TABLE cascade_items ADD COLUMN answered_at timestamptz;
ALTER TABLE cascade_items DROP CONSTRAINT cascade_items_state_check;
ALTER TABLE cascade_items
    ADD CONSTRAINT cascade_items_state_check CHECK (state IN ('pending', 'done', 'failed', 'unconfirmed'));
