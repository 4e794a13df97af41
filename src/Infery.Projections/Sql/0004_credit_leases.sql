-- The part of a workspace's balance each gateway instance may spend without asking the database.
-- Invariant: the sum of unexpired leases of a workspace never exceeds its balance.
create table if not exists credit_leases (
    workspace_id text not null,
    instance_id  text not null,
    amount       bigint not null,
    expires_at   timestamptz not null,
    primary key (workspace_id, instance_id)
);
