-- Requests per minute per API key, counted across every instance. An instance takes a slice of a key's minute
-- at a time (granted grows by it) and spends it in memory; last_grant is the size of the slice taken last.
-- Minutes older than the one before the current are swept.
create table if not exists rate_limit_windows (
    key_id     text not null,
    minute     bigint not null,
    granted    int not null,
    last_grant int not null,
    primary key (key_id, minute)
);
