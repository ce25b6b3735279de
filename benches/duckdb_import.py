"""The peer a data engineer would pick: DuckDB's read_csv of the same readings files into a table.

Usage: python3 benches/duckdb_import.py READINGS_DIR DB_FILE
Prints rows, seconds and rows/s. Needs `pip install duckdb`.
"""
import os
import sys
import time

import duckdb

src, db = sys.argv[1], sys.argv[2]
if os.path.exists(db):
    os.remove(db)
con = duckdb.connect(db)
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
started = time.perf_counter()
con.execute(
    f"""CREATE TABLE readings AS SELECT * FROM read_csv('{src}/readings-*.csv', header = true,
        columns = {{'meter_id': 'VARCHAR', 'date': 'DATE', 'total': 'DOUBLE', 'peak': 'DOUBLE',
                   'flat': 'DOUBLE', 'valley': 'DOUBLE'}})"""
)
con.execute("CHECKPOINT")
secs = time.perf_counter() - started
rows = con.execute("SELECT count(*) FROM readings").fetchone()[0]
con.close()
size = os.path.getsize(db)
print(f"duckdb {duckdb.__version__} threads={threads}: {rows} rows in {secs:.1f} s = {rows / secs:,.0f} rows/s; database {size / 2**20:,.0f} MiB")
