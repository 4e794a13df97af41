create table if not exists workspaces (
    id                  text primary key,
    name                text not null,
    storage_limit_bytes bigint,
    storage_used_bytes  bigint not null default 0,
    created_at          timestamptz not null
);

create table if not exists members (
    id           text primary key,
    workspace_id text not null references workspaces (id),
    email        text not null,
    name         text not null,
    created_at   timestamptz not null
);
create index if not exists members_workspace on members (workspace_id);
