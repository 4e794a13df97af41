create table if not exists fallback_chains (
    workspace_id text not null,
    model        text not null,
    fallbacks    text[] not null,
    updated_at   timestamptz not null,
    primary key (workspace_id, model)
);
