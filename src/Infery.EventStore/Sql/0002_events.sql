create table if not exists events (
    seq          bigint generated always as identity primary key,
    stream_id    text not null,
    version      bigint not null,
    type         text not null,
    data         jsonb not null,
    metadata     jsonb not null,
    workspace_id text,
    tx_id        xid8 not null default pg_current_xact_id(),
    created_at   timestamptz not null,
    unique (stream_id, version)
);

create index if not exists events_global_order on events (tx_id, seq);
create index if not exists events_workspace on events (workspace_id, seq) where workspace_id is not null;
