-- Trending tickers: per ticker and window (7, 30, 90 days up to as_of), what members bought and
-- sold. as_of defaults to the latest trade date. Volumes use amount_midpoint; buyers and buy volume
-- count purchases, sellers and sell volume sales (full and partial); exchanges count only in the
-- totals. Party is the member's party on the trade date (the fact's member version).
with as_of as (
    select
        {% if var('as_of') is none %}(select max(transaction_date) from {{ ref('fact_ptr_transactions') }})
        {% else %}date '{{ var("as_of") }}'{% endif %} as as_of
),

windows (time_window, days) as (
    values ('7d', 7), ('30d', 30), ('90d', 90)
),

trades as (
    select f.ticker, f.bioguide_id, f.transaction_type, f.transaction_date, f.amount_midpoint, m.party
    from {{ ref('fact_ptr_transactions') }} as f
    left join {{ ref('dim_member') }} as m on m.member_key = f.member_key
    where f.ticker is not null
),

windowed as (
    select t.*, w.time_window, w.days, a.as_of,
        t.transaction_type = 'purchase' as is_buy,
        t.transaction_type in ('sale', 'sale_partial') as is_sell
    from trades as t
    cross join windows as w
    cross join as_of as a
    where t.transaction_date > a.as_of - w.days and t.transaction_date <= a.as_of
),

totals as (
    select
        ticker,
        time_window,
        any_value(days) as window_days,
        any_value(as_of) as as_of,
        count(*) as total_transactions,
        sum(amount_midpoint) as total_volume,
        count(distinct bioguide_id) filter (where is_buy) as num_buyers,
        count(distinct bioguide_id) filter (where is_sell) as num_sellers,
        coalesce(sum(amount_midpoint) filter (where is_buy), 0) as buy_volume,
        coalesce(sum(amount_midpoint) filter (where is_sell), 0) as sell_volume,
        count(*) filter (where party = 'Democrat') as dem_transactions,
        count(*) filter (where party = 'Republican') as rep_transactions,
        coalesce(sum(amount_midpoint) filter (where is_buy and party = 'Democrat'), 0) as dem_buy_volume,
        coalesce(sum(amount_midpoint) filter (where is_buy and party = 'Republican'), 0) as rep_buy_volume,
        min(transaction_date) as first_trade_date,
        max(transaction_date) as last_trade_date
    from windowed
    group by ticker, time_window
)

select
    ticker,
    time_window,
    as_of,
    total_transactions,
    total_volume,
    num_buyers,
    num_sellers,
    buy_volume,
    sell_volume,
    buy_volume - sell_volume as net_volume,
    dem_transactions,
    rep_transactions,
    dem_buy_volume,
    rep_buy_volume,
    case when total_volume = 0 then 0 else cast((buy_volume - sell_volume) / total_volume as double) end as sentiment_score,
    first_trade_date,
    last_trade_date
from totals
order by window_days, total_transactions desc, ticker
