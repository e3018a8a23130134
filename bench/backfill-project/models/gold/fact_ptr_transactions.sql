{{ config(
    materialized='incremental',
    incremental_strategy='microbatch',
    event_time='filing_date',
    batch_size='month',
    begin='2024-01-01',
    lookback=1,
    cluster_by=['bioguide_id', 'transaction_date'],
    file_max_bytes='8MB'
) }}
-- The backfill benchmark's variant of the Gold fact (bench/backfill-bench.ts): built batch by batch
-- of filing month, each batch reading only the Silver trades filed in its month (the source declares
-- event_time: filing_date). Batches of one backfill run at once in separate Lambdas, so a key cannot
-- come from max(transaction_key) over {{ this }} (two batches would number from the same maximum):
-- it is a function of the trade itself, (doc_id, line_number), which orders keys as the Gold fact's
-- are (a filing holds fewer than 1,000 lines). member_key is the member's version valid on the trade
-- date, as of the batch's build.
select
    t.doc_id * 1000 + t.line_number as transaction_key,
    coalesce(m.member_key, -1) as member_key,
    coalesce(a.asset_key, -1) as asset_key,
    coalesce(d.date_key, -1) as transaction_date_key,
    cast(coalesce((t.amount_low + t.amount_high) / 2, t.amount_low) as decimal(18, 2)) as amount_midpoint,
    cast(t.notification_date - t.transaction_date as integer) as days_to_notification,
    t.doc_id, t.line_number, t.filing_date, t.notification_date, t.transaction_date, t.bioguide_id, t.owner,
    t.ticker, t.asset_name, t.asset_type, t.transaction_type, t.amount_low, t.amount_high, t.silver_ingest_ts,
    cast(now() as timestamp) as gold_ingest_ts
from {{ source('silver', 'transactions') }} as t
left join {{ ref('dim_member') }} as m
    on m.bioguide_id = t.bioguide_id and t.transaction_date between m.valid_from and m.valid_to
left join {{ ref('dim_asset') }} as a
    on a.asset_type = t.asset_type and {{ asset_id('a.ticker', 'a.asset_name') }} = {{ asset_id('t.ticker', 't.asset_name') }}
left join {{ ref('dim_date') }} as d
    on d.date = t.transaction_date
