create table if not exists api_keys (
    id           text primary key,
    workspace_id text not null,
    hash         text not null unique,
    prefix       text not null,
    name         text not null,
    preset       text not null,
    rpm          int not null,
    member_id    text,
    created_at   timestamptz not null,
    revoked_at   timestamptz
);
create index if not exists api_keys_workspace on api_keys (workspace_id);
