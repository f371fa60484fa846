-- Worker heartbeats: proves the worker → ClickHouse path in every deployment.
CREATE TABLE IF NOT EXISTS {db}.worker_heartbeats
(
    at DateTime64(3, 'UTC'),
    worker String
)
ENGINE = MergeTree
ORDER BY at
TTL toDateTime(at) + INTERVAL 7 DAY;
