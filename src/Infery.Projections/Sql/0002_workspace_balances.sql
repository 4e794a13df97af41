create table if not exists workspace_balances (
    workspace_id   text primary key,
    balance        bigint not null default 0,
    total_granted  bigint not null default 0,
    total_charged  bigint not null default 0,
    total_refunded bigint not null default 0,
    version        bigint not null default 0,
    updated_at     timestamptz not null default now()
);
