{{ config(materialized='incremental', unique_key='date_key') }}
-- The calendar: one row per day from calendar_start to calendar_end, keyed yyyymmdd. It changes only
-- when the calendar's vars widen it: a daily run adds the days it lacks (usually none), so it writes
-- nothing instead of the whole calendar.
select
    cast(strftime(d, '%Y%m%d') as integer) as date_key,
    cast(d as date) as date,
    cast(year(d) as integer) as year,
    cast(quarter(d) as integer) as quarter,
    cast(month(d) as integer) as month,
    monthname(d) as month_name,
    cast(day(d) as integer) as day_of_month,
    cast(isodow(d) as integer) as day_of_week,          -- 1 = Monday ... 7 = Sunday
    dayname(d) as day_name,
    cast(weekofyear(d) as integer) as week_of_year,
    isodow(d) >= 6 as is_weekend
from range(
    date '{{ var("calendar_start") }}',
    date '{{ var("calendar_end") }}' + interval 1 day,
    interval 1 day
) as days(d)
{% if is_incremental() %}
where cast(d as date) not in (select date from {{ this }})
{% endif %}
