-- 1-minute and 1-hour rollups of the server and account samples, kept like the stream and
-- consumer ones (0002): argMax states hold the last value of each bucket, so a repeated raw
-- row changes nothing. Server RTT also keeps the bucket's worst value, and `reachable` its
-- lowest, so a short outage stays visible in an hour bucket. Rows already in the raw tables
-- (the last 7 days by default) are rolled up once when this version is applied.

CREATE TABLE IF NOT EXISTS {db}.server_samples_1m
(
    bucket DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    server String,
    reachable AggregateFunction(argMax, UInt8, DateTime('UTC')),
    reachable_min SimpleAggregateFunction(min, UInt8),
    rtt_ms AggregateFunction(argMax, Float64, DateTime('UTC')),
    rtt_ms_max SimpleAggregateFunction(max, Float64),
    version AggregateFunction(argMax, String, DateTime('UTC')),
    memory_used AggregateFunction(argMax, UInt64, DateTime('UTC')),
    memory_limit AggregateFunction(argMax, UInt64, DateTime('UTC')),
    storage_used AggregateFunction(argMax, UInt64, DateTime('UTC')),
    storage_limit AggregateFunction(argMax, UInt64, DateTime('UTC')),
    streams AggregateFunction(argMax, UInt64, DateTime('UTC')),
    consumers AggregateFunction(argMax, UInt64, DateTime('UTC')),
    messages AggregateFunction(argMax, UInt64, DateTime('UTC')),
    bytes AggregateFunction(argMax, UInt64, DateTime('UTC')),
    last_sample SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, server, bucket)
TTL bucket + INTERVAL {ttl_1m_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.server_samples_1h AS {db}.server_samples_1m
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, server, bucket)
TTL bucket + INTERVAL {ttl_1h_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.account_samples_1m
(
    bucket DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    memory_used AggregateFunction(argMax, UInt64, DateTime('UTC')),
    memory_limit AggregateFunction(argMax, UInt64, DateTime('UTC')),
    storage_used AggregateFunction(argMax, UInt64, DateTime('UTC')),
    storage_limit AggregateFunction(argMax, UInt64, DateTime('UTC')),
    streams AggregateFunction(argMax, UInt64, DateTime('UTC')),
    consumers AggregateFunction(argMax, UInt64, DateTime('UTC')),
    last_sample SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, account, bucket)
TTL bucket + INTERVAL {ttl_1m_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.account_samples_1h AS {db}.account_samples_1m
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, account, bucket)
TTL bucket + INTERVAL {ttl_1h_days} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.server_samples_1m_mv TO {db}.server_samples_1m AS
SELECT toStartOfMinute(ts) AS bucket, org_id, cluster_id, server,
       argMaxState(reachable, ts) AS reachable, min(server_samples.reachable) AS reachable_min,
       argMaxState(rtt_ms, ts) AS rtt_ms, max(server_samples.rtt_ms) AS rtt_ms_max,
       argMaxState(version, ts) AS version,
       argMaxState(memory_used, ts) AS memory_used, argMaxState(memory_limit, ts) AS memory_limit,
       argMaxState(storage_used, ts) AS storage_used,
       argMaxState(storage_limit, ts) AS storage_limit,
       argMaxState(streams, ts) AS streams, argMaxState(consumers, ts) AS consumers,
       argMaxState(messages, ts) AS messages, argMaxState(bytes, ts) AS bytes,
       max(ts) AS last_sample
FROM {db}.server_samples
GROUP BY bucket, org_id, cluster_id, server;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.server_samples_1h_mv TO {db}.server_samples_1h AS
SELECT toStartOfHour(ts) AS bucket, org_id, cluster_id, server,
       argMaxState(reachable, ts) AS reachable, min(server_samples.reachable) AS reachable_min,
       argMaxState(rtt_ms, ts) AS rtt_ms, max(server_samples.rtt_ms) AS rtt_ms_max,
       argMaxState(version, ts) AS version,
       argMaxState(memory_used, ts) AS memory_used, argMaxState(memory_limit, ts) AS memory_limit,
       argMaxState(storage_used, ts) AS storage_used,
       argMaxState(storage_limit, ts) AS storage_limit,
       argMaxState(streams, ts) AS streams, argMaxState(consumers, ts) AS consumers,
       argMaxState(messages, ts) AS messages, argMaxState(bytes, ts) AS bytes,
       max(ts) AS last_sample
FROM {db}.server_samples
GROUP BY bucket, org_id, cluster_id, server;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.account_samples_1m_mv TO {db}.account_samples_1m AS
SELECT toStartOfMinute(ts) AS bucket, org_id, cluster_id, account,
       argMaxState(memory_used, ts) AS memory_used, argMaxState(memory_limit, ts) AS memory_limit,
       argMaxState(storage_used, ts) AS storage_used,
       argMaxState(storage_limit, ts) AS storage_limit,
       argMaxState(streams, ts) AS streams, argMaxState(consumers, ts) AS consumers,
       max(ts) AS last_sample
FROM {db}.account_samples
GROUP BY bucket, org_id, cluster_id, account;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.account_samples_1h_mv TO {db}.account_samples_1h AS
SELECT toStartOfHour(ts) AS bucket, org_id, cluster_id, account,
       argMaxState(memory_used, ts) AS memory_used, argMaxState(memory_limit, ts) AS memory_limit,
       argMaxState(storage_used, ts) AS storage_used,
       argMaxState(storage_limit, ts) AS storage_limit,
       argMaxState(streams, ts) AS streams, argMaxState(consumers, ts) AS consumers,
       max(ts) AS last_sample
FROM {db}.account_samples
GROUP BY bucket, org_id, cluster_id, account;

INSERT INTO {db}.server_samples_1m
SELECT toStartOfMinute(ts) AS bucket, org_id, cluster_id, server,
       argMaxState(reachable, ts), min(reachable), argMaxState(rtt_ms, ts), max(rtt_ms),
       argMaxState(version, ts), argMaxState(memory_used, ts), argMaxState(memory_limit, ts),
       argMaxState(storage_used, ts), argMaxState(storage_limit, ts),
       argMaxState(streams, ts), argMaxState(consumers, ts),
       argMaxState(messages, ts), argMaxState(bytes, ts), max(ts)
FROM {db}.server_samples
GROUP BY bucket, org_id, cluster_id, server;

INSERT INTO {db}.server_samples_1h
SELECT toStartOfHour(ts) AS bucket, org_id, cluster_id, server,
       argMaxState(reachable, ts), min(reachable), argMaxState(rtt_ms, ts), max(rtt_ms),
       argMaxState(version, ts), argMaxState(memory_used, ts), argMaxState(memory_limit, ts),
       argMaxState(storage_used, ts), argMaxState(storage_limit, ts),
       argMaxState(streams, ts), argMaxState(consumers, ts),
       argMaxState(messages, ts), argMaxState(bytes, ts), max(ts)
FROM {db}.server_samples
GROUP BY bucket, org_id, cluster_id, server;

INSERT INTO {db}.account_samples_1m
SELECT toStartOfMinute(ts) AS bucket, org_id, cluster_id, account,
       argMaxState(memory_used, ts), argMaxState(memory_limit, ts),
       argMaxState(storage_used, ts), argMaxState(storage_limit, ts),
       argMaxState(streams, ts), argMaxState(consumers, ts), max(ts)
FROM {db}.account_samples
GROUP BY bucket, org_id, cluster_id, account;

INSERT INTO {db}.account_samples_1h
SELECT toStartOfHour(ts) AS bucket, org_id, cluster_id, account,
       argMaxState(memory_used, ts), argMaxState(memory_limit, ts),
       argMaxState(storage_used, ts), argMaxState(storage_limit, ts),
       argMaxState(streams, ts), argMaxState(consumers, ts), max(ts)
FROM {db}.account_samples
GROUP BY bucket, org_id, cluster_id, account;
