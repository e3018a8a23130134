{{ config(materialized='incremental', incremental_strategy='append', unique_key='asset_key', incremental_sources='new') }}
-- One row per traded asset: a ticker and asset type (a stock and its options are two assets), or a
-- name and type where there is no ticker. An asset keeps its key for ever; an asset seen for the
-- first time gets the next key after the largest, in the order of its first filing, with the name
-- of that filing. {{ asset_id('ticker', 'asset_name') }} is the natural key (macros/assets.sql). A daily
-- run reads only the Silver files it has not read before (incremental_sources: new); a file read again
-- adds nothing, as its assets exist.
with assets as (
    select
        asset_type,
        {{ asset_id('ticker', 'asset_name') }} as asset_id,
        any_value(ticker) as ticker,
        arg_min(asset_name, (doc_id, line_number)) as asset_name,
        min((doc_id, line_number)) as first_seen
    from {{ source('silver', 'transactions') }}
    group by all
),

new_assets as (
    select * from assets as a
    {% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as d
        where d.asset_type = a.asset_type and {{ asset_id('d.ticker', 'd.asset_name') }} = a.asset_id
    )
    {% endif %}
)

select
    {% if is_incremental() %}(select coalesce(max(asset_key), 0) from {{ this }}){% else %}0{% endif %}
        + row_number() over (order by first_seen) as asset_key,
    ticker,
    asset_name,
    asset_type
from new_assets
