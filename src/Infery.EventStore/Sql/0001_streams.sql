create table if not exists streams (
    id           text primary key,
    type         text not null,
    version      bigint not null,
    workspace_id text,
    created_at   timestamptz not null default now()
);
