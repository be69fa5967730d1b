"""No password reaches what the lab prints or writes, in any URL form SQLAlchemy accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperlab.cli import main
from hyperlab.errors import InputError
from hyperlab.lab import urls
from hyperlab.lab.rundir import RunSpec
from hyperlab.lab.storage import check_url, open_storage, redact

SECRET = "topsecret"
FORMS = [
    f"postgresql://user:{SECRET}@127.0.0.1:1/db",
    f"postgresql+psycopg2://user:{SECRET}@127.0.0.1:1/db?sslmode=disable",
    f"postgresql://user:{SECRET}%40x@127.0.0.1:1/db",  # percent-encoded '@'
    f"postgresql://user:{SECRET}:x/y@127.0.0.1:1/db",  # ':' and '/' in the password
    f"postgresql://127.0.0.1:1/db?user=u&password={SECRET}",
    f"postgresql://127.0.0.1:1/db?password={SECRET}&user=u",
    f"postgresql://:{SECRET}@127.0.0.1:1/db",  # no user name
    f"mysql+pymysql://root:{SECRET}@localhost/db?charset=utf8mb4",
]


@pytest.mark.parametrize("url", FORMS)
def test_mask_and_strip_hide_every_form(url: str) -> None:
    assert SECRET not in redact(url)
    assert SECRET not in urls.without_password(url)
    assert urls.has_secret(url)
    assert not urls.has_secret(urls.without_password(url))
    assert SECRET not in redact(f"error: could not open '{url}': failed")


def test_strip_keeps_the_rest_of_the_url() -> None:
    assert urls.without_password("postgresql://u:pw@h:5/db") == "postgresql://u@h:5/db"
    assert urls.without_password("postgresql://h/db?user=u&password=pw&sslmode=x") == (
        "postgresql://h/db?user=u&sslmode=x"
    )
    assert urls.without_password("postgresql://h/db?password=pw") == "postgresql://h/db"
    assert urls.without_password("sqlite:///a/b.db") == "sqlite:///a/b.db"


def test_a_driver_message_with_a_libpq_password_is_masked() -> None:
    assert SECRET not in redact(f"connect failed: host=h password={SECRET} dbname=x")
    assert SECRET not in redact(f"connect failed: host=h password='{SECRET}' dbname=x")


def test_a_raw_at_sign_in_the_password_is_refused_without_leaking_its_tail() -> None:
    with pytest.raises(InputError, match="%40") as info:
        check_url(f"postgresql://user:p@{SECRET}@127.0.0.1/db")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("url", FORMS[:2] + FORMS[4:5])
def test_storage_errors_hide_the_password(url: str) -> None:
    with pytest.raises(Exception) as info:
        open_storage(url, retries=0)
    assert SECRET not in str(info.value)


def test_run_spec_records_no_password() -> None:
    spec = RunSpec(
        kind="tune",
        task="branin",
        tuners=["tpe"],
        pruners=["none"],
        seeds=[0],
        trials=2,
        storage=FORMS[0],
        command=["hyperlab", "tune", "--storage", FORMS[4], f"--storage={FORMS[1]}"],
    )
    assert SECRET not in json.dumps(spec.to_dict())


def test_with_secret_takes_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded = urls.without_password(FORMS[0])
    monkeypatch.setenv(urls.STORAGE_ENV, FORMS[0])
    assert urls.with_secret(recorded) == FORMS[0]
    monkeypatch.setenv(urls.STORAGE_ENV, "postgresql://other:pw@elsewhere/db")
    assert urls.with_secret(recorded) == recorded  # another storage's password is not used


@pytest.mark.parametrize("url", [FORMS[0], FORMS[4], f"postgresql://user:p@{SECRET}@h:1/db"])
def test_cli_errors_never_print_the_password(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tune", "--task", "branin", "--trials", "1", "--storage", url]
    code = main([*argv, "--runs-dir", str(tmp_path), "--name", "s", "--no-progress"])
    out = capsys.readouterr()
    assert code == 2
    assert SECRET not in out.out + out.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql:/user:{SECRET}@127.0.0.1:1/db",  # one slash
        f"postgresql:user:{SECRET}@127.0.0.1:1/db",  # none
        f"postgresql:///user:{SECRET}@127.0.0.1:1/db",  # three
    ],
)
def test_a_mistyped_url_is_masked_in_its_error(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert SECRET not in redact(url)
    argv = ["tune", "--task", "branin", "--trials", "1", "--storage", url]
    code = main([*argv, "--runs-dir", str(tmp_path), "--name", "s", "--no-progress"])
    out = capsys.readouterr()
    assert code == 2
    assert SECRET not in out.out + out.err
    assert not (tmp_path / "s").exists()
