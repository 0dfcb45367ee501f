-- Run records expire (MEDIABUY_RUN_RETENTION_DAYS): the beat job finds the oldest finished ones by these.
CREATE INDEX sync_runs_finished ON sync_runs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX cascades_finished ON cascades (finished_at) WHERE finished_at IS NOT NULL;
