"""The demo's last step: what landed in DuckDB, then what the dbt marts (schema exec_analytics) say, and a chart.

Every figure comes from the marts as dbt built them; this script only selects and prints (no modelling here).
"""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import duckdb
import matplotlib as mpl

mpl.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

if t.TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

MARTS = "exec_analytics"
TOP_SCENARIOS = """
select scenario_name as scenario, sessions, valid_attempts, participants,
       round(avg_valid_score, 1) as avg_valid_score, best_score, cast(last_practiced_at as date) as last_practiced
from exec_analytics.scenario_practice
order by avg_valid_score desc nulls last, scenario_name
limit 10
"""
TOP_LIFTS = """
select user_email as person, scenario_name as scenario, valid_attempts, first_valid_score, best_valid_score,
       round(lift, 1) as lift, rank_reached, coalesce(assignment_status, '-') as assignment
from exec_analytics.member_progress
where lift is not null
order by lift desc, user_email, scenario_name
limit 5
"""


def tables(con: DuckDBPyConnection, schema: str) -> list[tuple[str, int]]:
    """Each table of `schema` with its row count."""
    listing = f"select table_name from information_schema.tables where table_schema = '{schema}' order by 1"  # noqa: S608
    names = [row[0] for row in con.sql(listing).fetchall()]
    counts = [con.sql(f'select count(*) from {schema}."{name}"').fetchone() for name in names]  # noqa: S608
    return [(name, count[0] if count else 0) for name, count in zip(names, counts, strict=True)]


def chart(con: DuckDBPyConnection, path: Path) -> None:
    """Weekly practice (practice_activity) above the average and best valid score per scenario (scenario_practice)."""
    weeks = con.sql(
        f"select date_trunc('week', activity_date) as week, sum(sessions), sum(valid_attempts) "  # noqa: S608
        f"from {MARTS}.practice_activity group by 1 order by 1"
    ).fetchall()
    scenarios = con.sql(
        f"select scenario_name, avg_valid_score, best_score from {MARTS}.scenario_practice "  # noqa: S608
        "where avg_valid_score is not null order by avg_valid_score"
    ).fetchall()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 10), gridspec_kw={"height_ratios": [1, 2]})
    top.plot([w[0] for w in weeks], [w[1] for w in weeks], label="sessions")
    top.plot([w[0] for w in weeks], [w[2] for w in weeks], label="valid attempts")
    top.set(title="Practice per week (practice_activity)", ylabel="per week")
    top.legend()
    names = [s[0] for s in scenarios]
    bottom.barh(names, [s[1] for s in scenarios], color="tab:blue", label="average valid score")
    bottom.scatter([s[2] for s in scenarios], names, color="tab:orange", marker="|", s=120, label="best score")
    bottom.set_title("Scores per scenario (scenario_practice)", loc="left")
    bottom.set(xlabel="score (0-100)", xlim=(0, 100))
    bottom.tick_params(axis="y", labelsize=7)
    bottom.legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(path: str) -> None:
    """Summarise the warehouse file at `path` and draw the chart beside it."""
    with duckdb.connect(path, read_only=True) as con:
        print(f"\nLanded in {path} (schema exec, by tap-exec):")
        for name, count in tables(con, "exec"):
            print(f"  {name:<32} {count:>8} rows")
        print(f"\nModelled by dbt (schema {MARTS}, transform/):")
        for name, count in tables(con, MARTS):
            print(f"  {name:<32} {count:>8} rows")
        print("\nScenarios by average valid score (scenario_practice, top 10):")
        con.sql(TOP_SCENARIOS).show(max_width=140)  # type: ignore[call-arg]  # the stub lacks max_width
        print("Biggest improvements, first to best valid score (member_progress, top 5):")
        con.sql(TOP_LIFTS).show(max_width=140)  # type: ignore[call-arg]
        picture = Path(path).with_name("practice.png")
        chart(con, picture)
    print(f"Chart: {picture}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/warehouse.duckdb")
