create table if not exists projection_checkpoints (
    name       text primary key,
    tx_id      xid8 not null,
    seq        bigint not null,
    updated_at timestamptz not null default now()
);
