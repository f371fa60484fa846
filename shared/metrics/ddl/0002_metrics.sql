-- Metrics history (ARCHITECTURE.md decision 6). Raw samples are taken once per collection
-- cycle at a deterministic time (the cycle's start), so a retried collection writes the same
-- key again: ReplacingMergeTree folds such a repeat away, and the collector skips a cycle a
-- table already holds. Rollups keep argMax states (the last value in the bucket), which a
-- repeated row cannot change, so they always agree with the raw data. Counters that only
-- grow (`*_total`) are corrected for resets by the collector, so rates are never negative.

CREATE TABLE IF NOT EXISTS {db}.stream_samples
(
    ts DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    stream String,
    messages UInt64,
    bytes UInt64,
    first_seq UInt64,
    last_seq UInt64,
    last_ts Nullable(DateTime64(3, 'UTC')),
    consumer_count UInt32,
    num_subjects UInt64,
    num_deleted UInt64,
    ingested_total UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, cluster_id, stream, account, ts)
TTL ts + INTERVAL {ttl_raw_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.consumer_samples
(
    ts DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    stream String,
    consumer String,
    num_pending UInt64,
    num_ack_pending UInt64,
    num_redelivered UInt64,
    num_waiting UInt64,
    delivered_consumer_seq UInt64,
    delivered_stream_seq UInt64,
    ack_floor_consumer_seq UInt64,
    ack_floor_stream_seq UInt64,
    last_active Nullable(DateTime64(3, 'UTC')),
    delivered_total UInt64,
    acked_total UInt64,
    time_lag_seconds Nullable(Float64)
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, cluster_id, stream, consumer, account, ts)
TTL ts + INTERVAL {ttl_raw_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.server_samples
(
    ts DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    server String,
    server_id String,
    reachable UInt8,
    rtt_ms Float64,
    version String,
    memory_used UInt64,
    memory_limit UInt64,
    storage_used UInt64,
    storage_limit UInt64,
    streams UInt64,
    consumers UInt64,
    messages UInt64,
    bytes UInt64,
    source LowCardinality(String),
    error String
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, cluster_id, server, ts)
TTL ts + INTERVAL {ttl_raw_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.account_samples
(
    ts DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    memory_used UInt64,
    memory_limit UInt64,
    storage_used UInt64,
    storage_limit UInt64,
    streams UInt64,
    consumers UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, cluster_id, account, ts)
TTL ts + INTERVAL {ttl_raw_days} DAY;

-- The last counters seen per stream and consumer, read at the next cycle to correct resets.
CREATE TABLE IF NOT EXISTS {db}.stream_counters
(
    ts DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    stream String,
    created Nullable(DateTime64(3, 'UTC')),
    last_seq UInt64,
    ingested_total UInt64
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (org_id, cluster_id, account, stream)
TTL ts + INTERVAL {ttl_raw_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.consumer_counters
(
    ts DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    stream String,
    consumer String,
    created Nullable(DateTime64(3, 'UTC')),
    delivered_consumer_seq UInt64,
    ack_floor_consumer_seq UInt64,
    delivered_total UInt64,
    acked_total UInt64
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (org_id, cluster_id, account, stream, consumer)
TTL ts + INTERVAL {ttl_raw_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.stream_samples_1m
(
    bucket DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    stream String,
    messages AggregateFunction(argMax, UInt64, DateTime('UTC')),
    bytes AggregateFunction(argMax, UInt64, DateTime('UTC')),
    last_seq AggregateFunction(argMax, UInt64, DateTime('UTC')),
    consumer_count AggregateFunction(argMax, UInt32, DateTime('UTC')),
    ingested_total AggregateFunction(argMax, UInt64, DateTime('UTC')),
    last_sample SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, stream, account, bucket)
TTL bucket + INTERVAL {ttl_1m_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.stream_samples_1h AS {db}.stream_samples_1m
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, stream, account, bucket)
TTL bucket + INTERVAL {ttl_1h_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.consumer_samples_1m
(
    bucket DateTime('UTC'),
    org_id LowCardinality(String),
    cluster_id LowCardinality(String),
    account LowCardinality(String),
    stream String,
    consumer String,
    num_pending AggregateFunction(argMax, UInt64, DateTime('UTC')),
    num_ack_pending AggregateFunction(argMax, UInt64, DateTime('UTC')),
    num_redelivered AggregateFunction(argMax, UInt64, DateTime('UTC')),
    num_waiting AggregateFunction(argMax, UInt64, DateTime('UTC')),
    delivered_total AggregateFunction(argMax, UInt64, DateTime('UTC')),
    acked_total AggregateFunction(argMax, UInt64, DateTime('UTC')),
    time_lag_seconds AggregateFunction(argMaxIf, Nullable(Float64), DateTime('UTC'), UInt8),
    last_sample SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, stream, consumer, account, bucket)
TTL bucket + INTERVAL {ttl_1m_days} DAY;

CREATE TABLE IF NOT EXISTS {db}.consumer_samples_1h AS {db}.consumer_samples_1m
ENGINE = AggregatingMergeTree
ORDER BY (org_id, cluster_id, stream, consumer, account, bucket)
TTL bucket + INTERVAL {ttl_1h_days} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.stream_samples_1m_mv TO {db}.stream_samples_1m AS
SELECT toStartOfMinute(ts) AS bucket, org_id, cluster_id, account, stream,
       argMaxState(messages, ts) AS messages, argMaxState(bytes, ts) AS bytes,
       argMaxState(last_seq, ts) AS last_seq, argMaxState(consumer_count, ts) AS consumer_count,
       argMaxState(ingested_total, ts) AS ingested_total, max(ts) AS last_sample
FROM {db}.stream_samples
GROUP BY bucket, org_id, cluster_id, account, stream;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.stream_samples_1h_mv TO {db}.stream_samples_1h AS
SELECT toStartOfHour(ts) AS bucket, org_id, cluster_id, account, stream,
       argMaxState(messages, ts) AS messages, argMaxState(bytes, ts) AS bytes,
       argMaxState(last_seq, ts) AS last_seq, argMaxState(consumer_count, ts) AS consumer_count,
       argMaxState(ingested_total, ts) AS ingested_total, max(ts) AS last_sample
FROM {db}.stream_samples
GROUP BY bucket, org_id, cluster_id, account, stream;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.consumer_samples_1m_mv TO {db}.consumer_samples_1m AS
SELECT toStartOfMinute(ts) AS bucket, org_id, cluster_id, account, stream, consumer,
       argMaxState(num_pending, ts) AS num_pending,
       argMaxState(num_ack_pending, ts) AS num_ack_pending,
       argMaxState(num_redelivered, ts) AS num_redelivered,
       argMaxState(num_waiting, ts) AS num_waiting,
       argMaxState(delivered_total, ts) AS delivered_total,
       argMaxState(acked_total, ts) AS acked_total,
       argMaxIfState(time_lag_seconds, ts, isNotNull(time_lag_seconds)) AS time_lag_seconds,
       max(ts) AS last_sample
FROM {db}.consumer_samples
GROUP BY bucket, org_id, cluster_id, account, stream, consumer;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.consumer_samples_1h_mv TO {db}.consumer_samples_1h AS
SELECT toStartOfHour(ts) AS bucket, org_id, cluster_id, account, stream, consumer,
       argMaxState(num_pending, ts) AS num_pending,
       argMaxState(num_ack_pending, ts) AS num_ack_pending,
       argMaxState(num_redelivered, ts) AS num_redelivered,
       argMaxState(num_waiting, ts) AS num_waiting,
       argMaxState(delivered_total, ts) AS delivered_total,
       argMaxState(acked_total, ts) AS acked_total,
       argMaxIfState(time_lag_seconds, ts, isNotNull(time_lag_seconds)) AS time_lag_seconds,
       max(ts) AS last_sample
FROM {db}.consumer_samples
GROUP BY bucket, org_id, cluster_id, account, stream, consumer;
