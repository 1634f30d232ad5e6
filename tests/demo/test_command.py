"""``patron demo`` end to end, in a subprocess as a user runs it, and how it chooses its database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from patron.demo import default_demo_path, demo_database_url, demo_options, prepare_environment

PATRON = Path(sys.executable).with_name("patron")


def run_demo(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATRON_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [str(PATRON), "demo", "--no-serve", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_makes_a_working_database_and_reuses_it(tmp_path):
    db = tmp_path / "demo.sqlite3"
    made = run_demo("--db", str(db), "--size", "small", "--accounts", "40", data_dir=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "csm" in made.stdout and "patron-demo" in made.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers_account").fetchone()[0] == 40
        assert conn.execute("SELECT COUNT(*) FROM engagement_interaction").fetchone()[0] > 100
        assert (
            conn.execute("SELECT COUNT(*) FROM core_user WHERE username IN ('admin','csm','ae','manager')").fetchone()[
                0
            ]
            == 4
        )
        assert conn.execute("SELECT COUNT(*) FROM django_migrations").fetchone()[0] > 10

    again = run_demo("--db", str(db), "--accounts", "40", data_dir=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "reusing" in again.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers_account").fetchone()[0] == 40

    rebuilt = run_demo("--db", str(db), "--accounts", "25", "--reset", data_dir=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers_account").fetchone()[0] == 25
        assert conn.execute("SELECT COUNT(*) FROM core_user WHERE username = 'admin'").fetchone()[0] == 1


def test_demo_refuses_a_database_holding_other_data(tmp_path):
    db = tmp_path / "crm.sqlite3"
    assert run_demo("--db", str(db), "--accounts", "5", data_dir=tmp_path).returncode == 0
    with sqlite3.connect(db) as conn:  # no finished-demo marker: someone's data, or a run that stopped part-way
        conn.execute("UPDATE core_user SET email = 'ops@example.com' WHERE username = 'admin'")
        before = conn.execute("SELECT COUNT(*) FROM customers_account").fetchone()[0]
    refused = run_demo("--db", str(db), data_dir=tmp_path)
    assert refused.returncode != 0
    assert "did not make" in refused.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers_account").fetchone()[0] == before


def test_database_choice_prefers_db_then_database_url_then_the_data_folder(tmp_path):
    env = {"PATRON_DATA_DIR": str(tmp_path)}
    assert demo_database_url(None, "small", env) == f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert demo_database_url(None, "large", env) == f"sqlite:///{tmp_path / 'demo-large.sqlite3'}"
    assert default_demo_path("small", env) == tmp_path / "demo.sqlite3"
    env["DATABASE_URL"] = "postgres://u@127.0.0.1:5432/demo"
    assert demo_database_url(None, "small", env) == "postgres://u@127.0.0.1:5432/demo"
    assert demo_database_url(str(tmp_path / "x.db"), "small", env) == f"sqlite:///{tmp_path / 'x.db'}"


def test_prepare_environment_sets_database_url_before_django_loads(tmp_path):
    env = {"PATRON_DATA_DIR": str(tmp_path)}
    url = prepare_environment(["patron", "demo", "--size", "large", "--no-serve"], env)
    assert env["DATABASE_URL"] == url == f"sqlite:///{tmp_path / 'demo-large.sqlite3'}"
    assert demo_options(["patron", "demo", "--db", "a.sqlite3", "--port", "9000"]) == ("a.sqlite3", "small")


@pytest.mark.parametrize("argv", [["patron", "demo", "--size=large"], ["patron", "demo", "--db=/tmp/x.db"]])
def test_equals_style_options_are_understood(argv, tmp_path):
    db, size = demo_options(argv)
    assert (db, size) in {(None, "large"), ("/tmp/x.db", "small")}
