"""The private PostgreSQL server the test session starts (see ``tests/postgres.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import postgres
from .postgres import postgres_url, to_psycopg2_dsn  # noqa: F401

psycopg2 = pytest.importorskip("psycopg2")


@pytest.fixture
def connect(postgres_url: str) -> Iterator:  # noqa: F811
    conns = []

    def _connect():
        conn = psycopg2.connect(to_psycopg2_dsn(postgres_url))
        conns.append(conn)
        return conn

    yield _connect
    for conn in conns:
        conn.close()


def test_url_points_at_the_private_server(postgres_url: str) -> None:  # noqa: F811
    assert postgres_url.startswith("postgresql+psycopg2://postgres@127.0.0.1:")
    assert postgres_url.endswith("/automl_test")


def test_select_and_ddl(connect) -> None:
    conn = connect()
    with conn.cursor() as cur:
        cur.execute("SELECT 1, current_database(), current_setting('server_encoding')")
        assert cur.fetchone() == (1, "automl_test", "UTF8")
        cur.execute("CREATE TABLE fixture_ddl (id serial PRIMARY KEY, name text NOT NULL)")
        cur.execute("INSERT INTO fixture_ddl (name) VALUES (%s), (%s)", ("a", "ü"))
        cur.execute("SELECT name FROM fixture_ddl ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == ["a", "ü"]
        cur.execute("DROP TABLE fixture_ddl")
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('fixture_ddl')")
        assert cur.fetchone() == (None,)


def test_two_connections_see_each_others_commits(connect) -> None:
    a, b = connect(), connect()
    with a.cursor() as cur:
        cur.execute("CREATE TABLE fixture_shared (id int PRIMARY KEY, who text)")
    a.commit()
    try:
        with a.cursor() as cur:
            cur.execute("INSERT INTO fixture_shared VALUES (1, 'a')")
        with b.cursor() as cur:  # a has not committed yet: b must not see the row
            cur.execute("SELECT count(*) FROM fixture_shared")
            assert cur.fetchone() == (0,)
        b.rollback()
        a.commit()
        with b.cursor() as cur:
            cur.execute("SELECT who FROM fixture_shared")
            assert cur.fetchall() == [("a",)]
            cur.execute("INSERT INTO fixture_shared VALUES (2, 'b')")
        b.commit()
        with a.cursor() as cur:
            cur.execute("SELECT id, who FROM fixture_shared ORDER BY id")
            assert cur.fetchall() == [(1, "a"), (2, "b")]
        a.commit()
    finally:
        a.rollback()
        with a.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS fixture_shared")
        a.commit()


def test_dsn_conversion() -> None:
    dsn = to_psycopg2_dsn("postgresql+psycopg2://u%40x:p'w@127.0.0.1:5433/db")
    assert dsn == "host='127.0.0.1' port='5433' user='u@x' password='p\\'w' dbname='db'"


def test_missing_server_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_server_bin", lambda: None)
    monkeypatch.delenv(postgres.REQUIRE_ENV, raising=False)
    with postgres.private_postgres() as url:
        assert url is None
    monkeypatch.setenv(postgres.REQUIRE_ENV, "1")
    with pytest.raises(RuntimeError, match="not found"), postgres.private_postgres():
        pass
