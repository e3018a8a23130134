{{ config(
    materialized='incremental',
    unique_key=['doc_id', 'line_number'],
    incremental_sources='new',
    watermark='doc_id',
    cluster_by=['bioguide_id', 'transaction_date'],
    file_max_bytes='8MB'
) }}
-- One row per disclosed trade. A daily run reads only the Silver files it has not read before
-- (incremental_sources: new), so a late filing with a lower doc_id (a paper filing) is read like any
-- other, and merged on (doc_id, line_number); the doc_id maximum is still recorded as the watermark.
-- A trade keeps its transaction_key (also when its file is rewritten and read again); new trades get
-- keys after the largest, in (doc_id, line_number) order. member_key is the member's version valid on
-- the trade date: when a late change in dim_member moves that version, the trades it covers are
-- built again. Only members with a dim_member version written since this fact's last build are
-- looked at: a change that moves a version always writes one (dim_member's gold_ingest_ts). Files are
-- ordered by member and date, so the trades a late member change restates sit in a few files, and
-- only those are rewritten.
with
silver_trades as (
    select
        doc_id, line_number, filing_date, notification_date, transaction_date, bioguide_id, owner,
        ticker, asset_name, asset_type, transaction_type, amount_low, amount_high, silver_ingest_ts
    from {{ source('silver', 'transactions') }}
),

{% if is_incremental() %}
changed_members as (
    select distinct bioguide_id from {{ ref('dim_member') }}
    where gold_ingest_ts > (select max(gold_ingest_ts) from {{ this }})
),

{% endif %}
trades as (
    select
        s.*,
        {% if is_incremental() %}f.transaction_key{% else %}cast(null as bigint) as transaction_key{% endif %}
    from silver_trades as s
    {% if is_incremental() %}
    left join {{ this }} as f
        on f.doc_id = s.doc_id and f.line_number = s.line_number

    union all

    select
        f.doc_id, f.line_number, f.filing_date, f.notification_date, f.transaction_date, f.bioguide_id, f.owner,
        f.ticker, f.asset_name, f.asset_type, f.transaction_type, f.amount_low, f.amount_high, f.silver_ingest_ts,
        f.transaction_key
    from (select * from {{ this }} semi join changed_members using (bioguide_id)) as f
    left join {{ ref('dim_member') }} as m
        on m.bioguide_id = f.bioguide_id and f.transaction_date between m.valid_from and m.valid_to
    where coalesce(m.member_key, -1) <> f.member_key
        and not exists (select 1 from silver_trades as s where s.doc_id = f.doc_id and s.line_number = f.line_number)
    {% endif %}
),

-- Keys for new trades: numbered on (doc_id, line_number) alone, then joined back. Sorting only the
-- two columns instead of every column of the trades keeps a 10-million-row build within memory.
new_keys as (
    select
        doc_id,
        line_number,
        {% if is_incremental() %}(select coalesce(max(transaction_key), 0) from {{ this }}){% else %}0{% endif %}
            + row_number() over (order by doc_id, line_number) as transaction_key
    from trades
    where transaction_key is null
)

select
    coalesce(t.transaction_key, k.transaction_key) as transaction_key,
    coalesce(m.member_key, -1) as member_key,
    coalesce(a.asset_key, -1) as asset_key,
    coalesce(d.date_key, -1) as transaction_date_key,
    cast(coalesce((t.amount_low + t.amount_high) / 2, t.amount_low) as decimal(18, 2)) as amount_midpoint,
    cast(t.notification_date - t.transaction_date as integer) as days_to_notification,
    t.* exclude (transaction_key),
    cast(now() as timestamp) as gold_ingest_ts
from trades as t
left join new_keys as k
    on k.doc_id = t.doc_id and k.line_number = t.line_number
left join {{ ref('dim_member') }} as m
    on m.bioguide_id = t.bioguide_id and t.transaction_date between m.valid_from and m.valid_to
left join {{ ref('dim_asset') }} as a
    on a.asset_type = t.asset_type and {{ asset_id('a.ticker', 'a.asset_name') }} = {{ asset_id('t.ticker', 't.asset_name') }}
left join {{ ref('dim_date') }} as d
    on d.date = t.transaction_date
