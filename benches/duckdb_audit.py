"""The peer a data engineer would write instead of Jicha's audit engine: the monthly audit themes as
plain DuckDB SQL over the same data dir. It is the DuckDB column of the audit comparison in
docs/benchmarks.md.

Usage:
    python3 benches/duckdb_audit.py DATA_DIR PERIOD [--as-of YYYY-MM-DD] [--out findings.jsonl]
                                    [--threads N] [--compare FILE.jsonl ...]

DATA_DIR is a data dir written by `jicha import` (jicha.sqlite + series/); PERIOD is `YYYY-MM`; the
as-of date defaults to the first day of the following month, as for `jicha audit`.

What is timed (wall clock, printed):
  load    the relational tables read from jicha.sqlite (Python sqlite3 -> a temporary CSV -> DuckDB
          read_csv) into typed in-memory DuckDB tables (dates DATE, date-times TIMESTAMP, numbers
          DOUBLE, booleans BOOLEAN, text trimmed with empty as NULL, as the engine reads them), and
          views over the Parquet files the manifest (`series_files`) names for each series
          (readings, daily_usage, supply, daily_consumption). The series stay in Parquet: each theme
          scans them, as the engine's themes do.
  audit   one SQL query per monthly theme (the 28 of crates/engine/src/themes/mod.rs), each timed
          separately with its number of findings, and the total.
Writing the findings (`--out`, jsonl lines {theme, entity_type, entity_id, period}) and the
comparison are not timed.

`--compare FILE.jsonl` (repeatable) diffs the peer's (theme, entity_type, entity_id) set against
another run's findings, e.g. `jicha audit --period P --format jsonl` or a generated county's
ground-truth.jsonl (only its lines of PERIOD and of the themes run here are compared), and prints the
agreement per theme with the first differing entities.

The SQL follows the reference semantics of audit-themes.md and, where that is terse, the engine's
implementation: kWh compared in exact hundredths (rounded half away from zero), money as DECIMAL
rounded to the cent, ratios compared by cross-multiplying integers. Themes are always run (no
"not run" check for absent tables or columns). Needs only `pip install duckdb` (2.0.1 used).
"""

import argparse
import calendar
import csv
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict

import duckdb

# ---------------------------------------------------------------------------------------------
# Load

DATE_COLS = {"opened_on", "closed_on", "temp_expires_on", "installed_on", "removed_on", "verified_on",
             "valid_from", "valid_to", "issued_on", "due_on", "paid_on", "checked_on"}
TIMESTAMP_COLS = {"accepted_at", "surveyed_at", "scheme_replied_at", "connected_at", "archived_at",
                  "start_at", "end_at"}
BOOL_COLS = {"temporary", "planned", "seal_intact", "meter_ok", "theft_confirmed"}
RELATIONAL = ["stations", "feeders", "transformer_areas", "staff", "tariffs", "customers", "meters",
              "bills", "payments", "work_orders", "outages", "field_checks", "surveys"]
SERIES = ["readings", "daily_usage", "supply", "daily_consumption"]
SERIES_COLUMNS = {
    "readings": "meter_id VARCHAR, date DATE, total DOUBLE, peak DOUBLE, flat DOUBLE, valley DOUBLE",
    "daily_usage": "customer_id VARCHAR, date DATE, kwh DOUBLE",
    "supply": "point_type VARCHAR, point_id VARCHAR, date DATE, kwh DOUBLE",
    "daily_consumption": "customer_id VARCHAR, date DATE, kwh DOUBLE",
}
# White space Rust's str::trim removes that matters in practice (ASCII, NBSP, ideographic space).
WS = "' \t\n\r\x0b\x0c\u00a0\u3000'"


def typed(col, decl):
    """The SQL turning a VARCHAR column read from the CSV copy into the engine's type."""
    t = f"NULLIF(trim({col}, {WS}), '')"
    if col in DATE_COLS:
        return f"TRY_CAST({t} AS DATE) AS {col}"
    if col in TIMESTAMP_COLS:
        return f"TRY_CAST({t} AS TIMESTAMP) AS {col}"
    if col in BOOL_COLS:
        return (f"CASE WHEN TRY_CAST({t} AS DOUBLE) IS NOT NULL THEN TRY_CAST({t} AS DOUBLE) <> 0 "
                f"WHEN lower({t}) IN ('true', 't', 'y', 'yes', '是', '真') THEN TRUE "
                f"WHEN lower({t}) IN ('false', 'f', 'n', 'no', '否', '假') THEN FALSE END AS {col}")
    if decl.upper() in ("REAL", "INTEGER", "NUMERIC", "DOUBLE"):
        return f"TRY_CAST({t} AS DOUBLE) AS {col}"
    return f"{t} AS {col}"


def load(con, data_dir):
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'jicha.sqlite')}?mode=ro", uri=True)
    present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tmp = tempfile.mkdtemp(prefix="duckdb-audit-")
    try:
        for table in RELATIONAL:
            if table not in present:
                continue
            cols = [(r[1], r[2]) for r in db.execute(f"PRAGMA table_info({table})")]
            path = os.path.join(tmp, f"{table}.csv")
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([c for c, _ in cols])
                cur = db.execute(f"SELECT {', '.join(c for c, _ in cols)} FROM {table}")
                while True:
                    rows = cur.fetchmany(100_000)
                    if not rows:
                        break
                    w.writerows(rows)
            spec = ", ".join(f"'{c}': 'VARCHAR'" for c, _ in cols)
            select = ", ".join(typed(c, d) for c, d in cols)
            con.execute(f"""CREATE TABLE {table} AS SELECT {select} FROM read_csv('{path}', header = true,
                            columns = {{{spec}}})""")
            os.remove(path)
    finally:
        for f in os.listdir(tmp):
            os.remove(os.path.join(tmp, f))
        os.rmdir(tmp)
    files = defaultdict(list)
    if "series_files" in present:
        for name, series in db.execute("SELECT file, series FROM series_files ORDER BY file"):
            files[series].append(os.path.join(data_dir, "series", name))
    db.close()
    for s in SERIES:
        if files[s]:
            lst = ", ".join("'" + p.replace("'", "''") + "'" for p in files[s])
            cols = ", ".join(c.split()[0] for c in SERIES_COLUMNS[s].split(", "))
            con.execute(f"CREATE VIEW {s} AS SELECT {cols} FROM read_parquet([{lst}])")
        else:
            con.execute(f"CREATE TABLE {s} ({SERIES_COLUMNS[s]})")
    # Shared helpers: exact hundredths of a kWh (the engine's rounding: half away from zero, then
    # truncation), low voltage, and each tariff code's version valid on a date.
    con.execute("CREATE MACRO h(x) AS CAST(trunc((x) * 100 + CASE WHEN (x) * 100 < 0 THEN -0.5 ELSE 0.5 END) AS BIGINT)")
    con.execute("CREATE MACRO low_voltage(v) AS upper(trim(v, " + WS + ")) IN ('220V', '380V')")
    con.execute(
        "CREATE MACRO blank(x) AS x IS NULL OR trim(x, " + WS + ") IN ('', '0', '-', '/', '无')")


# ---------------------------------------------------------------------------------------------
# The themes: (code, entity type, SQL returning entity_id). {first}, {last}, {as_of}, {days},
# {period}, {year} are filled in per run; dates are DATE literals.

ACTIVE_THROUGH = ("c.status = 'active' AND c.opened_on <= {first} "
                  "AND (c.closed_on IS NULL OR c.closed_on > {last})")

# Tariff versions the engine can use (a known category, a price and a start), and the version of
# each code valid on the last day of the period (the latest valid_from among those covering it).
TARIFF_ON_LAST = """tariff_on_last AS (
    SELECT * FROM tariffs
    WHERE category IN ('resident', 'agriculture', 'commercial', 'industrial', 'other')
      AND price IS NOT NULL AND valid_from IS NOT NULL
      AND valid_from <= {last} AND (valid_to IS NULL OR {last} <= valid_to)
    QUALIFY row_number() OVER (PARTITION BY tariff_code ORDER BY valid_from DESC) = 1)"""

# Each customer's known days and total (hundredths) in the period and in the 90 days before it.
MONTHS = """months AS (
    SELECT customer_id,
           COUNT(kwh) FILTER (WHERE date >= {first}) AS known,
           COALESCE(SUM(h(kwh)) FILTER (WHERE date >= {first}), 0)::HUGEINT AS total,
           COUNT(kwh) FILTER (WHERE date < {first}) AS base_known,
           COALESCE(SUM(h(kwh)) FILTER (WHERE date < {first}), 0)::HUGEINT AS base_total
    FROM daily_consumption WHERE date BETWEEN {first} - 90 AND {last}
    GROUP BY customer_id)"""

BASELINE_OK = """m.base_known >= 30 AND m.base_total >= 200 * m.base_known
      AND m.known > 0 AND 1000 * m.known >= 500 * {days}"""

# The transformer areas' days (the engine's tq_daily), narrowed to the period.
TQ_DAILY = """tq_daily AS (
    SELECT s.point_id AS tq_id, s.date, s.kwh AS supply_kwh,
           SUM(CASE WHEN c.customer_id IS NOT NULL THEN dc.kwh END) AS consumption_kwh,
           COUNT(c.customer_id) = COUNT(dc.kwh) AS valid
    FROM (SELECT point_id, date, kwh FROM supply
          WHERE point_type = 'tq' AND date BETWEEN {first} AND {last}) s
    LEFT JOIN customers c
      ON c.tq_id = s.point_id AND c.opened_on <= s.date AND (c.closed_on IS NULL OR s.date < c.closed_on)
    LEFT JOIN (SELECT customer_id, date, kwh FROM daily_consumption
               WHERE date BETWEEN {first} AND {last}) dc
      ON dc.customer_id = c.customer_id AND dc.date = s.date
    GROUP BY s.point_id, s.date, s.kwh),
area_months AS (
    SELECT tq_id,
           COUNT(*) FILTER (WHERE valid) AS valid_days,
           COALESCE(SUM(h(supply_kwh)) FILTER (WHERE valid), 0)::HUGEINT AS supply,
           COALESCE(SUM(h(COALESCE(consumption_kwh, 0))) FILTER (WHERE valid), 0)::HUGEINT AS consumption
    FROM tq_daily GROUP BY tq_id)"""

# Work orders as the business themes see them: not cancelled, the order's voltage else the customer's.
ORDERS = """orders AS (
    SELECT o.order_id, o.kind, o.status, o.accepted_at, o.connected_at, o.archived_at, o.fees_charged,
           low_voltage(COALESCE(o.voltage, c.voltage)) AS low,
           COALESCE(c.category = 'resident', FALSE) AS resident
    FROM work_orders o LEFT JOIN customers c ON c.customer_id = o.customer_id
    WHERE o.status <> 'cancelled')"""

# Hundredths of a bill's or a tariff's numbers as DECIMAL, as the engine reads them.
STEPPED = """CASE WHEN {t} <= t.s1 THEN {t} * t.p1
                  WHEN t.s2 IS NULL OR t.s2 <= t.s1 OR {t} <= t.s2 THEN t.s1 * t.p1 + ({t} - t.s1) * t.p2
                  ELSE t.s1 * t.p1 + (t.s2 - t.s1) * t.p2 + ({t} - t.s2) * t.p3 END"""

THEMES = [
    ("VOL-ZERO", "customer", f"""
WITH {MONTHS}
SELECT m.customer_id FROM months m JOIN customers c USING (customer_id)
WHERE {ACTIVE_THROUGH} AND m.known > 0 AND 1000 * m.known >= 800 * {{days}} AND m.total = 0"""),

    ("VOL-DROP", "customer", f"""
WITH {MONTHS}
SELECT m.customer_id FROM months m JOIN customers c USING (customer_id)
WHERE {ACTIVE_THROUGH} AND {BASELINE_OK}
  AND 1000 * m.total * m.base_known < 400 * m.base_total * m.known"""),

    ("VOL-SURGE", "customer", f"""
WITH {MONTHS}
SELECT m.customer_id FROM months m JOIN customers c USING (customer_id)
WHERE {ACTIVE_THROUGH} AND {BASELINE_OK}
  AND 1000 * m.total * m.base_known > 3000 * m.base_total * m.known AND m.total >= 30000"""),

    # Consecutive known registers (d-1, d) of the period where the register went down, the meter
    # in service on both days.
    ("VOL-REVERSE", "meter", """
WITH r AS (
    SELECT meter_id, date, h(total) AS t,
           lag(date) OVER w AS prev_date, lag(h(total)) OVER w AS prev_t
    FROM readings WHERE total IS NOT NULL AND date BETWEEN {first} - 1 AND {last}
    WINDOW w AS (PARTITION BY meter_id ORDER BY date))
SELECT DISTINCT r.meter_id FROM r JOIN meters m USING (meter_id)
WHERE r.prev_date = r.date - 1 AND r.t < r.prev_t
  AND m.installed_on <= r.date - 1 AND (m.removed_on IS NULL OR r.date < m.removed_on)"""),

    ("VOL-OVERCAP", "customer", """
SELECT DISTINCT d.customer_id
FROM daily_consumption d JOIN customers c ON c.customer_id = d.customer_id
WHERE d.date BETWEEN {first} AND {last} AND d.kwh IS NOT NULL AND c.contract_kva > 0
  AND h(d.kwh)::HUGEINT * 1000 > CAST(trunc(c.contract_kva * 1000 + 0.5) AS HUGEINT) * 24 * 100"""),

    # Runs of days without a register: gaps between the known days of the period, the days just
    # outside it standing as known.
    ("VOL-MISSING", "meter", """
WITH through AS (
    SELECT meter_id FROM meters
    WHERE installed_on <= {first} AND (removed_on IS NULL OR removed_on > {last})),
known AS (
    SELECT DISTINCT r.meter_id, r.date FROM readings r SEMI JOIN through t ON t.meter_id = r.meter_id
    WHERE r.total IS NOT NULL AND r.date BETWEEN {first} AND {last}
    UNION ALL SELECT meter_id, {first} - 1 FROM through
    UNION ALL SELECT meter_id, {last} + 1 FROM through),
gaps AS (SELECT meter_id, lead(date) OVER (PARTITION BY meter_id ORDER BY date) - date - 1 AS gap FROM known)
SELECT DISTINCT meter_id FROM gaps WHERE gap >= 3"""),

    ("VOL-TOU", "meter", """
WITH r AS (
    SELECT meter_id, abs(h(peak) + h(flat) + h(valley) - h(total))::HUGEINT AS diff, abs(h(total))::HUGEINT AS tot
    FROM readings
    WHERE date BETWEEN {first} AND {last} AND total IS NOT NULL AND peak IS NOT NULL
      AND flat IS NOT NULL AND valley IS NOT NULL)
SELECT DISTINCT meter_id FROM r WHERE diff * 1000 > tot AND diff > 100"""),

    ("PRC-CATEGORY", "customer", f"""
WITH {TARIFF_ON_LAST}
SELECT c.customer_id FROM customers c JOIN tariff_on_last t ON t.tariff_code = c.tariff_code
WHERE {ACTIVE_THROUGH} AND t.category IS DISTINCT FROM c.category"""),

    # Recompute every bill of the period: stepped energy charge (month or year basis, the year's
    # earlier bills shifting the steps), basic charge, the bill's own power-factor adjustment.
    ("PRC-BILL", "bill", f"""
WITH {TARIFF_ON_LAST},
t AS (
    SELECT tariff_code, step_basis,
           price::DECIMAL(38, 6) AS p1,
           COALESCE(step2_price, price)::DECIMAL(38, 6) AS p2,
           COALESCE(step3_price, step2_price, price)::DECIMAL(38, 6) AS p3,
           step1_kwh::DECIMAL(38, 6) AS s1, step2_kwh::DECIMAL(38, 6) AS s2,
           basic_per_kva::DECIMAL(38, 6) AS basic_per_kva
    FROM tariff_on_last),
earlier AS (
    SELECT customer_id, SUM(kwh)::DECIMAL(38, 2) AS kwh FROM bills
    WHERE period >= '{{year}}-01' AND period < '{{period}}' GROUP BY customer_id),
b AS (
    SELECT b.bill_id, b.amount::DECIMAL(38, 2) AS amount, b.kwh::DECIMAL(38, 2) AS kwh,
           COALESCE(e.kwh, 0)::DECIMAL(38, 2) AS before,
           COALESCE(b.pf_adjustment::DECIMAL(38, 2), 0) AS pf,
           CASE WHEN c.contract_kva > 0 THEN c.contract_kva::DECIMAL(38, 6) END AS kva,
           t.*
    FROM bills b
    JOIN customers c ON c.customer_id = b.customer_id
    JOIN t ON t.tariff_code = COALESCE(b.tariff_code, c.tariff_code)
    LEFT JOIN earlier e ON e.customer_id = b.customer_id
    WHERE b.period = '{{period}}' AND b.kwh IS NOT NULL AND b.amount IS NOT NULL),
charged AS (
    SELECT bill_id, amount,
           round(CASE WHEN t.s1 IS NULL THEN kwh * t.p1
                      WHEN COALESCE(step_basis, 'month') <> 'year' THEN {STEPPED.format(t='kwh')}
                      ELSE ({STEPPED.format(t='(before + kwh)')}) - ({STEPPED.format(t='before')}) END, 2)
           + COALESCE(round(basic_per_kva * kva, 2), 0) + pf AS recomputed
    FROM b AS t
    WHERE basic_per_kva IS NULL OR kva IS NOT NULL)
SELECT bill_id FROM charged
WHERE abs(amount - recomputed) > 1 AND abs(amount - recomputed) * 1000 > 5 * abs(recomputed)"""),

    ("PRC-KWH", "bill", """
WITH metered AS (
    SELECT customer_id, SUM(h(kwh))::HUGEINT AS total FROM daily_consumption
    WHERE date BETWEEN {first} AND {last} GROUP BY customer_id HAVING COUNT(kwh) = {days})
SELECT b.bill_id FROM bills b JOIN metered m ON m.customer_id = b.customer_id
WHERE b.period = '{period}' AND b.kwh IS NOT NULL
  AND abs(h(b.kwh) - m.total) > 100 AND abs(h(b.kwh) - m.total) * 1000 > 10 * abs(m.total)"""),

    ("PRC-BASIC", "bill", f"""
WITH {TARIFF_ON_LAST}
SELECT b.bill_id FROM bills b
JOIN customers c ON c.customer_id = b.customer_id
JOIN tariff_on_last t ON t.tariff_code = c.tariff_code
WHERE b.period = '{{period}}' AND c.contract_kva > 0 AND t.basic_per_kva::DECIMAL(38, 6) > 0
  AND (b.basic_charge IS NULL OR b.basic_charge = 0)"""),

    ("PRC-PF", "bill", """
SELECT b.bill_id FROM bills b JOIN customers c ON c.customer_id = b.customer_id
WHERE b.period = '{period}' AND c.category IN ('commercial', 'industrial', 'agriculture')
  AND COALESCE(c.contract_kva, 0) >= 100 AND b.pf_adjustment IS NULL"""),

    ("FEE-ARREARS", "bill", """
WITH paid AS (SELECT bill_id, SUM(amount) AS paid FROM payments WHERE paid_on <= {as_of} GROUP BY bill_id)
SELECT b.bill_id FROM bills b LEFT JOIN paid p ON p.bill_id = b.bill_id
WHERE b.amount > 0 AND b.due_on IS NOT NULL AND {as_of} - b.due_on > 30
  AND COALESCE(p.paid, 0)::DECIMAL(38, 2) < b.amount::DECIMAL(38, 2) - 0.01"""),

    # Each bill's payments count up to its amount.
    ("FEE-RECOVERY", "station", """
WITH paid AS (SELECT bill_id, SUM(amount) AS paid FROM payments WHERE paid_on <= {as_of} GROUP BY bill_id),
owed AS (
    SELECT c.station_id, b.amount::DECIMAL(38, 2) AS amount,
           least(COALESCE(p.paid, 0)::DECIMAL(38, 2), b.amount::DECIMAL(38, 2)) AS paid
    FROM bills b JOIN customers c ON c.customer_id = b.customer_id
    LEFT JOIN paid p ON p.bill_id = b.bill_id
    WHERE b.amount > 0 AND b.due_on BETWEEN {first} AND {last})
SELECT station_id FROM owed GROUP BY station_id
HAVING SUM(amount) > 0 AND SUM(paid) * 1000 < SUM(amount) * 995"""),

    ("LOSS-TQ-HIGH", "transformer_area", f"""
WITH {TQ_DAILY}
SELECT tq_id FROM area_months
WHERE 1000 * valid_days >= 500 * {{days}} AND supply > 0 AND 1000 * (supply - consumption) > 100 * supply"""),

    ("LOSS-TQ-NEG", "transformer_area", f"""
WITH {TQ_DAILY}
SELECT tq_id FROM area_months
WHERE 1000 * valid_days >= 500 * {{days}} AND supply > 0 AND 1000 * (supply - consumption) < -10 * supply"""),

    # Per feeder and day: its supply, its areas' supply (every area with a figure), and the
    # consumption of its active customers without an area (all known).
    ("LOSS-FEEDER-HIGH", "feeder", """
WITH f AS (SELECT point_id AS feeder_id, date, kwh FROM supply
           WHERE point_type = 'feeder' AND date BETWEEN {first} AND {last}),
tq AS (SELECT a.feeder_id, s.date, SUM(s.kwh) AS kwh, COUNT(*) AS n
       FROM supply s JOIN transformer_areas a ON a.tq_id = s.point_id
       WHERE s.point_type = 'tq' AND s.date BETWEEN {first} AND {last} GROUP BY a.feeder_id, s.date),
na AS (SELECT feeder_id, COUNT(*) AS n FROM transformer_areas GROUP BY feeder_id),
dc AS (SELECT f.feeder_id, f.date, COUNT(c.customer_id) AS active, COUNT(d.kwh) AS known, SUM(d.kwh) AS kwh
       FROM f JOIN customers c ON c.feeder_id = f.feeder_id AND c.tq_id IS NULL
         AND c.opened_on <= f.date AND (c.closed_on IS NULL OR f.date < c.closed_on)
       LEFT JOIN (SELECT customer_id, date, kwh FROM daily_consumption
                  WHERE date BETWEEN {first} AND {last}) d
         ON d.customer_id = c.customer_id AND d.date = f.date
       GROUP BY f.feeder_id, f.date),
days AS (
    SELECT f.feeder_id, h(f.kwh) AS supply, h(COALESCE(tq.kwh, 0)) + h(COALESCE(dc.kwh, 0)) AS rest,
           COALESCE(tq.n, 0) = COALESCE(na.n, 0) AND COALESCE(dc.active, 0) = COALESCE(dc.known, 0) AS valid
    FROM f LEFT JOIN tq ON tq.feeder_id = f.feeder_id AND tq.date = f.date
           LEFT JOIN na ON na.feeder_id = f.feeder_id
           LEFT JOIN dc ON dc.feeder_id = f.feeder_id AND dc.date = f.date),
feeders_month AS (
    SELECT feeder_id, COUNT(*) FILTER (WHERE valid) AS known,
           COALESCE(SUM(supply) FILTER (WHERE valid), 0)::HUGEINT AS supply,
           COALESCE(SUM(rest) FILTER (WHERE valid), 0)::HUGEINT AS rest
    FROM days GROUP BY feeder_id)
SELECT feeder_id FROM feeders_month
WHERE 1000 * known >= 500 * {days} AND supply > 0 AND 1000 * (supply - rest) > 60 * supply"""),

    # Due date in calendar years (8 low voltage, 6 high; an empty voltage is high).
    ("MTR-OVERDUE", "meter", """
SELECT m.meter_id FROM meters m LEFT JOIN customers c ON c.customer_id = m.customer_id
WHERE m.installed_on <= {as_of} AND (m.removed_on IS NULL OR {as_of} < m.removed_on)
  AND COALESCE(m.verified_on, m.installed_on)
      + to_months(CASE WHEN low_voltage(c.voltage) THEN 96 ELSE 72 END) < {as_of}"""),

    # ct_ratio (and pt_ratio when present) must parse as a/b with both sides positive.
    ("MTR-MULTIPLIER", "meter", """
WITH r AS (
    SELECT meter_id, multiplier,
           TRY_CAST(trim(split_part(ct_ratio, '/', 1)) AS DOUBLE) AS ca,
           TRY_CAST(trim(substr(ct_ratio, strpos(ct_ratio, '/') + 1)) AS DOUBLE) AS cb,
           pt_ratio,
           TRY_CAST(trim(split_part(pt_ratio, '/', 1)) AS DOUBLE) AS pa,
           TRY_CAST(trim(substr(pt_ratio, strpos(pt_ratio, '/') + 1)) AS DOUBLE) AS pb
    FROM meters WHERE strpos(ct_ratio, '/') > 0),
p AS (
    SELECT meter_id, multiplier, ca / cb * CASE WHEN pt_ratio IS NULL THEN 1 ELSE pa / pb END AS product
    FROM r
    WHERE ca > 0 AND cb > 0
      AND (pt_ratio IS NULL OR (strpos(pt_ratio, '/') > 0 AND pa > 0 AND pb > 0)))
SELECT meter_id FROM p
WHERE multiplier IS NOT NULL AND abs(multiplier - product) > 1e-6 * greatest(product, 1)"""),

    # The latest check: latest checked_on, ties broken by the larger check_id.
    ("MTR-SEAL", "meter", """
WITH latest AS (
    SELECT customer_id, seal_intact FROM field_checks WHERE checked_on IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY checked_on DESC, check_id DESC) = 1)
SELECT m.meter_id FROM meters m LEFT JOIN latest l ON l.customer_id = m.customer_id
WHERE m.installed_on <= {as_of} AND (m.removed_on IS NULL OR {as_of} < m.removed_on)
  AND (m.seal_ids IS NULL OR l.seal_intact = FALSE)"""),

    # Connected in [first day 00:00, as-of 00:00), or still open; exact durations in seconds.
    ("BIZ-OVERTIME", "work_order", f"""
WITH {ORDERS},
spans AS (
    SELECT order_id, low, resident,
           CASE WHEN connected_at IS NOT NULL
                     THEN CASE WHEN connected_at >= {{first}}::TIMESTAMP AND connected_at < {{as_of}}::TIMESTAMP
                               THEN epoch(connected_at) - epoch(accepted_at) END
                WHEN status = 'open' AND accepted_at <= {{as_of}}::TIMESTAMP
                     THEN epoch({{as_of}}::TIMESTAMP) - epoch(accepted_at) END AS span
    FROM orders
    WHERE kind IN ('new_connection', 'capacity_increase') AND accepted_at IS NOT NULL)
SELECT order_id FROM spans
WHERE span > 86400 * CASE WHEN NOT low THEN 60 WHEN resident THEN 5 ELSE 15 END"""),

    ("BIZ-BACKLOG", "work_order", f"""
WITH {ORDERS}
SELECT order_id FROM orders
WHERE status = 'open' AND accepted_at IS NOT NULL
  AND epoch({{as_of}}::TIMESTAMP) - epoch(accepted_at) > 30 * 86400"""),

    # The archiving deadline (connected_at + 7 days) in the period, or earlier and still
    # unarchived on the as-of date.
    ("BIZ-ARCHIVE", "work_order", f"""
WITH {ORDERS}
SELECT order_id FROM orders
WHERE connected_at IS NOT NULL AND CASE
    WHEN connected_at + INTERVAL 7 DAY >= {{first}}::TIMESTAMP AND connected_at + INTERVAL 7 DAY < {{as_of}}::TIMESTAMP
        THEN COALESCE(archived_at, {{as_of}}::TIMESTAMP) > connected_at + INTERVAL 7 DAY
    ELSE connected_at + INTERVAL 7 DAY < {{first}}::TIMESTAMP
         AND (archived_at IS NULL OR archived_at > {{as_of}}::TIMESTAMP) END"""),

    ("BIZ-FEE", "work_order", f"""
WITH {ORDERS}
SELECT order_id FROM orders
WHERE kind = 'new_connection' AND low AND COALESCE(fees_charged, 0) > 0
  AND accepted_at >= {{first}}::TIMESTAMP AND accepted_at < {{as_of}}::TIMESTAMP"""),

    ("TMP-OVERDUE", "customer", """
SELECT customer_id FROM customers
WHERE status = 'active' AND temporary
  AND CASE WHEN temp_expires_on IS NOT NULL THEN temp_expires_on < {as_of}
           ELSE {as_of} - opened_on > 180 END"""),

    ("ARC-TOPOLOGY", "customer", """
SELECT c.customer_id FROM customers c JOIN transformer_areas a ON a.tq_id = c.tq_id
WHERE c.status IS DISTINCT FROM 'closed'
  AND ((c.feeder_id IS NOT NULL AND c.feeder_id IS DISTINCT FROM a.feeder_id)
       OR a.station_id IS DISTINCT FROM c.station_id)"""),

    ("ARC-INFO", "customer", """
SELECT customer_id FROM customers WHERE status = 'active' AND (blank(phone) OR blank(address))"""),

    # Unplanned outages (empty planned is unplanned) of the area or of its feeder started in the period.
    ("SVC-REPEAT", "transformer_area", """
WITH o AS (
    SELECT scope_type, scope_id, COUNT(*) AS n FROM outages
    WHERE (planned IS NULL OR NOT planned)
      AND start_at >= {first}::TIMESTAMP AND start_at < ({last} + 1)::TIMESTAMP
    GROUP BY scope_type, scope_id)
SELECT a.tq_id FROM transformer_areas a
LEFT JOIN o own ON own.scope_type = 'tq' AND own.scope_id = a.tq_id
LEFT JOIN o fd ON fd.scope_type = 'feeder' AND fd.scope_id = a.feeder_id
WHERE COALESCE(own.n, 0) + COALESCE(fd.n, 0) >= 3"""),
]


# ---------------------------------------------------------------------------------------------
# Comparison

def read_jsonl(path, period, themes):
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("period", period) == period and r["theme"] in themes:
                out.add((r["theme"], r["entity_type"], r["entity_id"]))
    return out


def compare(peer, path, period, themes, show=5):
    other = read_jsonl(path, period, set(themes))
    print(f"\ncomparison with {path} (period {period}):")
    print(f"  {'theme':18} {'peer':>7} {'other':>7} {'both':>7} {'peer only':>9} {'other only':>10}")
    total_diff = 0
    for code in themes:
        p = {k for k in peer if k[0] == code}
        o = {k for k in other if k[0] == code}
        only_p, only_o = sorted(p - o), sorted(o - p)
        total_diff += len(only_p) + len(only_o)
        mark = "" if not only_p and not only_o else "  <-- differs"
        print(f"  {code:18} {len(p):7} {len(o):7} {len(p & o):7} {len(only_p):9} {len(only_o):10}{mark}")
        for tag, rows in (("peer only", only_p), ("other only", only_o)):
            for k in rows[:show]:
                print(f"      {tag}: {k[1]} {k[2]}")
            if len(rows) > show:
                print(f"      {tag}: ... {len(rows) - show} more")
    n_p = len(peer)
    print(f"  total: peer {n_p}, other {len(other)}, "
          f"{'exact agreement' if total_diff == 0 else f'{total_diff} differing findings'}")
    return total_diff


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("period", help="YYYY-MM")
    ap.add_argument("--as-of", help="YYYY-MM-DD, default the first day of the following month")
    ap.add_argument("--out", help="findings as jsonl")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's own)")
    ap.add_argument("--compare", action="append", default=[], metavar="FILE.jsonl",
                    help="findings to compare with (repeatable)")
    a = ap.parse_args()

    year, month = (int(x) for x in a.period.split("-"))
    period = f"{year:04d}-{month:02d}"
    first = dt.date(year, month, 1)
    days = calendar.monthrange(year, month)[1]
    last = dt.date(year, month, days)
    as_of = dt.date.fromisoformat(a.as_of) if a.as_of else last + dt.timedelta(days=1)
    values = {"first": f"DATE '{first}'", "last": f"DATE '{last}'", "as_of": f"DATE '{as_of}'",
              "days": days, "period": period, "year": f"{year:04d}"}

    con = duckdb.connect()
    if a.threads:
        con.execute(f"SET threads = {a.threads}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]

    started = time.perf_counter()
    load(con, a.data_dir)
    load_s = time.perf_counter() - started
    print(f"duckdb {duckdb.__version__}, threads={threads}; {a.data_dir}, period {period}, as of {as_of}")
    print(f"load: {load_s:.2f} s")

    findings = []
    audit_s = 0.0
    for code, entity, sql in THEMES:
        t0 = time.perf_counter()
        ids = [r[0] for r in con.execute(sql.format(**values)).fetchall()]
        secs = time.perf_counter() - t0
        audit_s += secs
        print(f"  {code:18} {len(ids):7} findings {secs:8.3f} s")
        findings.extend((code, entity, i) for i in sorted(set(ids)))
    print(f"audit: {audit_s:.2f} s, {len(findings)} findings; load + audit {load_s + audit_s:.2f} s")

    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            for code, entity, i in findings:
                f.write(json.dumps({"theme": code, "entity_type": entity, "entity_id": i, "period": period},
                                   ensure_ascii=False) + "\n")
    peer = set(findings)
    diff = 0
    for path in a.compare:
        diff += compare(peer, path, period, [t[0] for t in THEMES])
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
