-- The first response to each Idempotency-Key, per workspace, replayed to retries for 24 hours.
-- status is null while the first request is still running.
create table if not exists idempotency_keys (
    workspace_id text not null,
    key          text not null,
    body_hash    bytea not null,
    request_id   text not null,
    claimed_at   timestamptz not null,
    expires_at   timestamptz not null,
    status       int,
    headers      jsonb,
    body         bytea,
    primary key (workspace_id, key)
);
create index if not exists idempotency_keys_expiry on idempotency_keys (expires_at);
