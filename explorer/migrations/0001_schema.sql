-- Explorer schema, version 1. Hashes and addresses are bytea; amounts in
-- wei are numeric(78,0) (2^256 fits); times are timestamptz.

CREATE TABLE validators (
    id              text PRIMARY KEY,          -- the validator's 0x address, lower case
    name            text NOT NULL,
    pubkey          bytea,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    stake           numeric(78, 0) NOT NULL DEFAULT 0,
    reputation      double precision NOT NULL DEFAULT 0,
    committee       integer NOT NULL DEFAULT 0,
    blocks_proposed bigint NOT NULL DEFAULT 0,
    participation   double precision,          -- null until a certificate is indexed
    updated_height  bigint NOT NULL DEFAULT 0
);
CREATE INDEX idx_validators_status ON validators (status) WHERE status = 'active';
CREATE INDEX idx_validators_reputation ON validators (reputation DESC);
CREATE INDEX idx_validators_stake ON validators (stake DESC);

CREATE TABLE blocks (
    height       bigint PRIMARY KEY,
    hash         bytea NOT NULL UNIQUE,
    parent_hash  bytea NOT NULL,
    proposer_id  text NOT NULL,
    "timestamp"  timestamptz NOT NULL,
    round        bigint NOT NULL,
    tx_count     integer NOT NULL,
    gas_used     bigint NOT NULL,
    signers      text[] NOT NULL,              -- names of the certificate's signers
    signed_stake numeric(78, 0) NOT NULL,
    total_stake  numeric(78, 0) NOT NULL,
    seen_at      timestamptz                   -- when followed live; null when backfilled
);
CREATE INDEX idx_blocks_height ON blocks (height DESC);
CREATE INDEX idx_blocks_proposer ON blocks (proposer_id, height DESC);
CREATE INDEX idx_blocks_timestamp ON blocks ("timestamp" DESC);

CREATE TABLE transactions (
    hash         bytea PRIMARY KEY,
    block_height bigint NOT NULL,
    block_hash   bytea NOT NULL,
    idx          integer NOT NULL,
    sender       bytea NOT NULL,
    receiver     bytea NOT NULL,
    amount       numeric(78, 0) NOT NULL,
    nonce        bigint NOT NULL,
    fee          numeric(78, 0) NOT NULL,
    gas_price    numeric(78, 0) NOT NULL,
    status       smallint NOT NULL
);
CREATE INDEX idx_transactions_sender ON transactions (sender, nonce);
-- "Transactions by block": by height and position rather than by block
-- hash, so the same index serves a block's transactions, the latest
-- transactions and the deletion of a replayed range.
CREATE INDEX idx_transactions_block ON transactions (block_height DESC, idx DESC);
CREATE INDEX idx_transactions_receiver ON transactions (receiver, block_height DESC, idx DESC);

CREATE TABLE indexer_state (
    id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
    chain_id               bigint NOT NULL,
    genesis_hash           bytea NOT NULL,
    height                 bigint,             -- null before the first block
    hash                   bytea,
    total_transactions     bigint NOT NULL DEFAULT 0,
    leaderboard_refreshed  timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- The leaderboard of §7.1 of the design document. blocks_proposed comes from
-- the validators table (kept by the indexer) rather than a join over every
-- block, so a refresh costs the validator count, not the chain length.
-- REFRESH ... CONCURRENTLY needs a unique index over all rows: id.
CREATE MATERIALIZED VIEW validator_leaderboard AS
SELECT v.id,
       v.name,
       v.reputation,
       v.stake,
       v.blocks_proposed,
       RANK() OVER (ORDER BY v.reputation DESC) AS rank
FROM validators v
WHERE v.status = 'active'
ORDER BY v.reputation DESC;
CREATE UNIQUE INDEX validator_leaderboard_id ON validator_leaderboard (id);
CREATE INDEX validator_leaderboard_rank ON validator_leaderboard (rank);
