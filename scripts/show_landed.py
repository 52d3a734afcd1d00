"""Print what the demo pipeline landed in DuckDB: rows per table, then scores and valid attempts per scenario."""

from __future__ import annotations

import sys

import duckdb

QUERY = """
select json_extract_string(scenario, '$.name')                  as scenario,
       count(*)                                                 as sessions,
       count(*) filter (where is_valid_attempt)                 as valid_attempts,
       round(avg(score) filter (where is_valid_attempt), 1)     as avg_valid_score
from exec.sessions
group by 1
order by avg_valid_score desc nulls last, scenario
limit 10
"""


def main(path: str) -> None:
    """Summarise the warehouse file at `path`."""
    with duckdb.connect(path, read_only=True) as con:
        listing = "select table_name from information_schema.tables where table_schema = 'exec' order by 1"
        tables = [row[0] for row in con.sql(listing).fetchall()]
        print(f"\nLanded in {path} (schema exec):")
        for table in tables:
            count = con.sql(f'select count(*) from exec."{table}"').fetchone()  # noqa: S608 - names from the catalog
            print(f"  {table:<32} {count[0] if count else 0:>8} rows")
        print("\nAverage score and valid attempts per scenario (top 10):")
        con.sql(QUERY).show()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/warehouse.duckdb")
