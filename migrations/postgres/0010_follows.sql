-- PostgreSQL dialect of migrations/sqlite/0010_follows.sql: keep the two in step.
-- "Remind me" (docs/protocol.md, section 9.6): an account follows creators, hears when
-- one of their rooms goes live, and lists their upcoming shows. `accounts.follower_count`
-- (seeded with the creator's audience elsewhere) goes up and down with the rows here.
create table follows (
    follower_id bigint not null references accounts (id),
    creator_id bigint not null references accounts (id),
    followed_at bigint not null,
    primary key (follower_id, creator_id),
    check (follower_id <> creator_id)
);
-- Who to tell when a creator goes live.
create index follows_by_creator on follows (creator_id);
-- A creator's upcoming and live rooms, for the followers' list.
create index rooms_by_creator_and_status on rooms (creator_id, status, starts_at);
