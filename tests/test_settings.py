"""One settings object: every section declared once (variable, default, range, documentation),
read from the environment in one way, and what every part of Featreg reads its settings from."""

from __future__ import annotations

import re
from typing import Any

import pytest

from registry.core.settings import (
    AnalysisSettings,
    DatabaseSettings,
    FeatregSettings,
    SchedulerSettings,
    SettingsError,
    SmtpSettings,
    WebSettings,
)
from registry.ops.jobs import JOBS, JobContext
from registry.ops.scheduler import job_context
from registry.store.db import database_url

SECTIONS = (AnalysisSettings, SchedulerSettings, SmtpSettings, WebSettings, DatabaseSettings)


class Environment(dict[str, str]):
    """An environment that records every variable read."""

    def __init__(self, **values: str) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def test_every_setting_is_declared_once_with_its_variable_and_documentation() -> None:
    rows = FeatregSettings.documentation()
    assert [row.env for row in rows] == [row.env for s in SECTIONS for row in s.documentation()]
    assert len({row.env for row in rows}) == len(rows), "two settings share a variable"
    for name, _default, env, doc in rows:
        assert re.fullmatch(r"FEATREG_[A-Z_]+", env), env
        assert len(doc.split()) >= 5, f"{name} needs a real description"


def test_the_one_object_reads_exactly_the_documented_variables() -> None:
    environ = Environment(FEATREG_SMTP_HOST="mail.example.com")
    settings = FeatregSettings.from_env(environ)
    assert environ.read == {row.env for row in FeatregSettings.documentation()}
    assert settings.smtp is not None and settings.smtp.host == "mail.example.com"
    assert FeatregSettings.from_env({}).smtp is None  # no host: no e-mail


def test_sections_given_win_over_the_environment() -> None:
    scheduler = SchedulerSettings(timezone="Europe/Berlin")
    settings = FeatregSettings.from_env({"FEATREG_REPORT_TIMEZONE": "Asia/Tokyo",
                                         "FEATREG_EPSILON_SHARE": "0.02"}, scheduler=scheduler)
    assert (settings.scheduler.timezone, settings.analysis.epsilon_share) == (
        "Europe/Berlin", 0.02)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("FEATREG_SMTP_PORT", "twenty-five", "is not a whole number"),
    ("FEATREG_SMTP_ATTEMPTS", "0", "must be at least 1"),
    ("FEATREG_SMTP_BACKOFF", "-1", "must be at least 0.0"),
    ("FEATREG_SMTP_STARTTLS", "maybe", "is not true or false"),
    ("FEATREG_GRAPH_NODE_LIMIT", "lots", "is not a whole number"),
    ("FEATREG_GRAPH_CACHE_SIZE", "1.5", "is not a whole number"),
    ("FEATREG_SCHEDULER_MISFIRE_GRACE", "inf", "is not a finite number"),
    ("FEATREG_TEST_JOB_SLEEP", "-0.5", "must be at least 0.0"),
])
def test_a_bad_value_in_any_section_names_its_variable(variable: str, value: str,
                                                       message: str) -> None:
    environ = {"FEATREG_SMTP_HOST": "mail", variable: value}
    with pytest.raises(SettingsError) as caught:
        FeatregSettings.from_env(environ)
    assert str(caught.value) == f"{variable}={value!r} {message}"


def test_a_rule_across_two_variables_names_both() -> None:
    with pytest.raises(SettingsError, match="FEATREG_BUNDLE_CHANGESET_MIN='10', "
                                            "FEATREG_BUNDLE_CHANGESET_MAX='5': setting "):
        AnalysisSettings.from_env({"FEATREG_BUNDLE_CHANGESET_MIN": "10",
                                   "FEATREG_BUNDLE_CHANGESET_MAX": "5"})


def test_blank_variables_mean_their_defaults() -> None:
    settings = FeatregSettings.from_env({
        "FEATREG_SMTP_HOST": "mail", "FEATREG_SMTP_FROM": " ", "FEATREG_SMTP_USER": "",
        "FEATREG_SMTP_STARTTLS": "", "FEATREG_REPORT_DIR": "", "FEATREG_DATABASE_URL": "",
        "FEATREG_SCHEDULE_SUNSET": ""})
    assert settings.smtp is not None
    assert (settings.smtp.sender, settings.smtp.user, settings.smtp.starttls,
            settings.smtp.port) == ("featreg@localhost", None, False, 25)
    assert settings.scheduler.report_dir is None
    assert settings.database.url == "sqlite:///featreg.db"
    assert "sunset" not in settings.scheduler.triggers()  # blank schedule: off, as before


def test_sections_are_frozen_values() -> None:
    settings = AnalysisSettings()
    with pytest.raises(ValueError):
        settings.epsilon_share = 0.5  # type: ignore[misc]
    assert settings == AnalysisSettings() and hash(settings) == hash(AnalysisSettings())


def test_the_jobs_are_the_schedules_the_settings_declare() -> None:
    declared = SchedulerSettings.jobs()
    assert list(JOBS) == list(declared)
    for name, job in JOBS.items():
        assert (job.default_schedule, job.description) == declared[name]
        assert SchedulerSettings.env_name(name) == f"FEATREG_SCHEDULE_{name.upper()}"


def test_jobs_read_their_sections_from_the_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATREG_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("FEATREG_LEGACY_WINDOW_DAYS", "45")
    ctx = job_context(SchedulerSettings(timezone="Europe/Berlin", lease_ttl=5),
                      "sqlite:///x.db", "me")
    assert ctx.settings.scheduler.timezone == "Europe/Berlin" and ctx.lease_ttl == 5
    assert ctx.settings.smtp is not None and ctx.settings.smtp.host == "mail.example.com"
    assert ctx.settings.analysis.legacy_window_days == 45
    assert JobContext(url="sqlite://", holder="h").settings.analysis.legacy_window_days == 45


def test_the_database_url_comes_from_its_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATREG_DATABASE_URL", "postgresql://u@db/featreg")
    assert database_url(None) == "postgresql+psycopg://u@db/featreg"
    assert database_url("sqlite:///other.db") == "sqlite:///other.db"
    monkeypatch.setenv("FEATREG_DATABASE_URL", "")
    assert database_url(None) == "sqlite:///featreg.db"


def test_the_web_app_reads_the_web_section(monkeypatch: pytest.MonkeyPatch,
                                           sqlite_url: str) -> None:
    from featreg.web import create_app

    monkeypatch.setenv("FEATREG_GRAPH_NODE_LIMIT", "42")
    monkeypatch.setenv("FEATREG_SECRET_KEY", "s3cret")
    app = create_app({"DATABASE_URL": sqlite_url, "DATA_DIR": "elsewhere"})
    assert (app.config["GRAPH_NODE_LIMIT"], app.config["SECRET_KEY"]) == (42, "s3cret")
    assert (app.config["GRAPH_CACHE_SIZE"], app.config["DATA_DIR"]) == (1024, "elsewhere")
    monkeypatch.setenv("FEATREG_GRAPH_NODE_LIMIT", "lots")
    with pytest.raises(SettingsError, match="FEATREG_GRAPH_NODE_LIMIT='lots'"):
        create_app({"DATABASE_URL": sqlite_url})

