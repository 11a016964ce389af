"""Names a person or a file chooses never change a query or escape their prefix: quotes, `../`, `%`, newlines,
very long and non-ASCII names reach SQL quoted (the rules dataset's VALUES) and the lake's keys never (config refuses
them where they would become keys)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from pipelines.config import parse_config
from pipelines.errors import ConfigError
from pipelines.publish.quicksight.row_access import rules_request
from pipelines.query.transpile import athena_to_duckdb

HOSTILE = [
    "O'Brien's unit",
    "x'); DROP TABLE business_kpis; --",
    "../../_quarantine",
    "100% of %s",
    "line\nbreak",
    "back\\slash",
    "Zahlungsverkehr – Überweisungen 支付",
    "u" * 300,
]
GROUP = "arn:aws:quicksight:us-east-1:111111111111:group/default/"


def _config(**extra: Any) -> Any:
    raw: dict[str, Any] = {
        "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml"},
        "sources": [{"account_id": "111111111111", "regions": ["us-east-1"]}],
    }
    for key, value in extra.items():
        section, _, field = key.partition("__")
        raw.setdefault(section, {})
        if field:
            raw[section][field] = value
        else:
            raw[section] = value
    return parse_config(raw)


def test_row_access_names_reach_the_rules_sql_as_values_only() -> None:
    config = _config(
        quicksight={
            "account_id": "111111111111",
            "owners": [f"{GROUP}mlops"],
            "viewers": [f"{GROUP}leads"],
            "row_access": {f"{GROUP}leads": HOSTILE},
        }
    )
    request = rules_request(config, "arn:aws:quicksight:us-east-1:111111111111:datasource/ml-performance-lake")
    assert request is not None
    sql = request["PhysicalTableMap"]["rules"]["CustomSql"]["SqlQuery"]
    statements = sqlglot.parse(sql, read="athena")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)  # one query, whatever the names say
    answer = duckdb.sql(athena_to_duckdb(sql)).fetchall()
    assert sorted(unit for _, _, unit in answer) == sorted(HOSTILE)  # every name comes back exactly


@pytest.mark.parametrize(
    "key,value,named",
    [
        ("lake__prefix", "../other-team/", "lake.prefix"),
        ("lake__prefix", "lake/%2e%2e/", "lake.prefix"),
        ("lake__prefix", "lake\n/", "lake.prefix"),
        ("lake__bucket", "acme-ml-lake/../x", "lake.bucket"),
        ("lake__database", "ml; drop", "lake.database"),
    ],
)
def test_names_that_become_keys_or_identifiers_are_refused_naming_the_key(key: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        _config(**{key: value})


def test_hostile_account_and_region_never_reach_a_key() -> None:
    for source in (
        {"account_id": "../111111111", "regions": ["us-east-1"]},
        {"account_id": "111111111111", "regions": ["us-east-1/../.."]},
    ):
        with pytest.raises(ConfigError, match=r"sources\.0\."):
            parse_config({"lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml"}, "sources": [source]})
