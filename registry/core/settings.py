"""Featreg's settings: one object, `FeatregSettings`, declared once, here.

Its sections are `AnalysisSettings` (every threshold a detector uses), `SchedulerSettings`
(when the jobs run), `SmtpSettings` (report delivery; None without ``FEATREG_SMTP_HOST``),
`WebSettings` and `DatabaseSettings`. Each field carries its default, its allowed range, its
documentation and its environment variable (the section's prefix + the field name in capitals
unless the field names its own), so the README tables are generated from here
(`FeatregSettings.documentation`) and a test can prove that every setting is documented.

A section is a frozen pydantic model: a plain value that code receives (the pure analysis gets
`AnalysisSettings`), valid once constructed. A bad value raises `SettingsError` naming the
environment variable it came from (or the field, for keyword arguments).

Analysis defaults follow the definitions in DESIGN.md ("Finding kinds"); none is tuned to a
data set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registry.core.settings_base import (
    ENV_PREFIX,
    Flag,
    Number,
    OptionalText,
    Schedule,
    Section,
    SettingDoc,
    SettingsError,
    Timezone,
    Whole,
    flag,
    parse_schedule,
    setting,
)

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "ENV_PREFIX", "AnalysisSettings", "DatabaseSettings", "FeatregSettings", "SchedulerSettings",
    "SettingDoc", "Settings", "SettingsError", "SmtpSettings", "WebSettings", "parse_schedule",
]


class AnalysisSettings(Section):
    """Thresholds of the analysis (the detectors and the evidence they read)."""

    legacy_window_days: Whole = setting(
        90, "A feature with no observed reads for this many days (counted back from the "
        "analysis time) is legacy.", minimum=1)
    legacy_grace_days: Whole = setting(
        30, "A feature younger than this (since `created`) is never legacy for lack of reads.",
        minimum=0)
    superseded_correlation: Number = setting(
        0.95, "|Pearson| or |Spearman| at or above which a newer feature can supersede an "
        "older one (legacy, superseded).", minimum=0.0, maximum=1.0)
    superseded_share: Number = setting(
        0.01, "An older feature is superseded when its largest importance share is below this "
        "and the newer correlated feature's largest share is at least this.",
        minimum=0.0, maximum=1.0)
    bundle_min_size: Whole = setting(
        3, "Fewest features a bundle needs before its members can be reported as bundled.",
        minimum=2)
    bundle_changeset_min: Whole = setting(
        2, "Fewest features one change set (an apply or SDK batch) must add to form a bundle.",
        minimum=1)
    bundle_changeset_max: Whole = setting(
        50, "Most features one change set may add and still form a bundle; a larger bulk "
        "import is not a bundle.", minimum=1)
    bundle_member_share: Number = setting(
        0.01, "A bundle member whose importance share is below this for every consumer is "
        "bundled; members at or above it are the bundle's valuable members.",
        minimum=0.0, maximum=1.0)
    epsilon_share: Number = setting(
        0.01, "A feature (not in a bundle) whose largest importance share over all consumers "
        "is below this is epsilon.", minimum=0.0, maximum=1.0)
    correlated_threshold: Number = setting(
        0.95, "|Pearson| or |Spearman| at or above which two features are redundant "
        "(correlated finding; clusters are connected components).", minimum=0.0, maximum=1.0)
    correlation_report_threshold: Number = setting(
        0.8, "Smallest |correlation| kept from a snapshot as a correlated pair (shown as "
        "evidence; findings need `correlated_threshold`).", minimum=0.0, maximum=1.0)
    importance_noise_k: Number = setting(
        3.0, "Computed importance is taken as zero unless it exceeds this many standard errors "
        "(permutation: std * sqrt(1 + 1/repeats); leave-one-out: std / sqrt(repeats); see "
        "registry.analysis.computed_importance.is_noise).", minimum=0.0)
    importance_noise_floor: Number = setting(
        0.001, "Computed importance at or below this many score units is taken as zero.",
        minimum=0.0)
    unstable_scale_ratio: Number = setting(
        5.0, "unstable_dependency, scale: the ratios of standard deviations and of median "
        "absolute values between two snapshots both at or above this, or both at or below its "
        "inverse (seconds became milliseconds).", minimum=1.0)
    unstable_psi: Number = setting(
        0.25, "unstable_dependency, shift: population stability index over the previous "
        "snapshot's deciles at or above this.", minimum=0.0)
    unstable_null_increase: Number = setting(
        0.10, "unstable_dependency, nulls: the null fraction grew by at least this.",
        minimum=0.0, maximum=1.0)
    unstable_new_categories: Number = setting(
        0.20, "unstable_dependency, categories: at least this share of rows holds values never "
        "seen in the previous snapshot.", minimum=0.0, maximum=1.0)
    unstable_correlation_was: Number = setting(
        0.95, "unstable_dependency, correlation: pairs at or above this |r| in a snapshot are "
        "tracked in the next ones.", minimum=0.0, maximum=1.0)
    unstable_correlation_now: Number = setting(
        0.5, "unstable_dependency, correlation: a tracked feature now below this |r| with every "
        "former partner (which still agree with each other) broke away.",
        minimum=0.0, maximum=1.0)
    expect_outside_share: Number = setting(
        0.01, "unstable_dependency, expect: more than this share of values outside `min`, "
        "`max` or `values` breaks the expectation.", minimum=0.0, maximum=1.0)
    unstable_min_rows: Whole = setting(
        30, "unstable_dependency: fewer non-null values than this on either side and "
        "distributions (shift, categories) are not compared.", minimum=1)
    usage_window_days: Whole = setting(
        90, "Reads within this many days count as current use (undeclared consumers, "
        "deprecated features in use, usage tie-breaks).", minimum=1)
    feedback_max_cycles: Whole = setting(
        10_000, "Most feedback-loop cycles enumerated in one analysis (guards against a "
        "combinatorial explosion in a densely connected catalog).", minimum=1)
    engine: Literal["local", "spark"] = setting(
        "local", "Where usage logs are added up and snapshot statistics and correlations are "
        "computed: `local` (this process) or `spark` (Apache Spark, `pip install "
        "'featreg[spark]'`); `--engine` on a command overrides it.")

    @model_validator(mode="after")
    def _changeset_bounds(self) -> Self:
        if self.bundle_changeset_min > self.bundle_changeset_max:
            raise ValueError("setting bundle_changeset_min must not exceed bundle_changeset_max "
                             f"({self.bundle_changeset_min} > {self.bundle_changeset_max})")
        return self


Settings = AnalysisSettings
"""The analysis section under the name the analysis code has always used."""

_CRON = ("Cron fields minute hour day month day-of-week (day names), optionally seconds "
         "first; `off` disables it.")


def _job(name: str, default: str, does: str) -> Any:
    return setting(default, f"When the `{name}` job runs: {does} {_CRON}", job=does)


class SchedulerSettings(Section):
    """When the scheduled jobs (registry.ops.jobs) run, and how instances share them."""

    schedule_rollups: Schedule = _job(
        "rollups", "0 * * * *", "Check the daily usage rollups (kept at ingest): who read in "
        "the last day, and which readers are not registered.")
    schedule_snapshots: Schedule = _job(
        "snapshots", "*/15 * * * *", "Compute importance for new labelled snapshots.")
    schedule_analysis: Schedule = _job(
        "analysis", "0 2 * * *", "Run every detector and record the findings (one "
        "transaction).")
    schedule_freshness: Schedule = _job(
        "freshness", "20 * * * *", "Check which sources are stale (declared `freshness` "
        "exceeded); analyse again when that differs from the recorded findings.")
    schedule_weekly_report: Schedule = _job(
        "weekly_report", "0 8 * * mon", "Write, store and e-mail the weekly deprecation report.")
    schedule_sunset: Schedule = _job(
        "sunset", "30 0 * * *", "Retire deprecated features whose sunset date has passed.")
    timezone: Timezone = setting(
        "UTC", "IANA timezone of every schedule, of report weeks (Monday 00:00 to Monday "
        "00:00) and of sunset dates.", env="FEATREG_REPORT_TIMEZONE")
    lease_ttl: Number = setting(
        60.0, "Seconds a job's lease lasts without renewal (renewed every third of it while "
        "the job runs): how long other instances wait before taking over from an instance that "
        "died.", minimum=1.0, env="FEATREG_SCHEDULER_LEASE_TTL")
    misfire_grace: Number = setting(
        31 * 24 * 3600.0, "Seconds a missed fire time may be late and still run (once, "
        "coalesced) on start.", minimum=1.0, env="FEATREG_SCHEDULER_MISFIRE_GRACE")
    report_dir: OptionalText = setting(
        None, "Folder where the weekly job also writes the report files; reports are always "
        "stored in the database.")
    test_job_sleep: Number = setting(
        0.0, "Tests only: seconds the analysis job pauses at each step, to kill a scheduler in "
        "the middle of a job.", minimum=0.0)

    @model_validator(mode="before")
    @classmethod
    def _schedules_by_job(cls, values: Any) -> Any:
        """``schedules={job: expression}`` sets the jobs' ``schedule_<job>`` fields."""
        if not isinstance(values, dict) or "schedules" not in values:
            return values
        values = dict(values)
        schedules = values.pop("schedules")
        unknown = set(schedules) - set(cls.jobs())
        if unknown:
            raise ValueError(f"no job named {', '.join(sorted(unknown))}; jobs are "
                             f"{', '.join(cls.jobs())}")
        return {**{f"schedule_{job}": text for job, text in schedules.items()}, **values}

    @classmethod
    def jobs(cls) -> dict[str, tuple[str, str]]:
        """Every scheduled job: (default schedule, what it does)."""
        return {name.removeprefix("schedule_"): (str(info.default), str(extra["job"]))
                for name, info in cls.model_fields.items()
                if isinstance(extra := info.json_schema_extra, dict) and "job" in extra}

    @classmethod
    def env_name(cls, name: str) -> str:
        """The variable of a setting, or of a job's schedule (``env_name("sunset")``)."""
        return super().env_name(name if name in cls.model_fields else f"schedule_{name}")

    @property
    def schedules(self) -> dict[str, str]:
        return {job: getattr(self, f"schedule_{job}") for job in self.jobs()}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def triggers(self) -> dict[str, CronTrigger]:
        """The enabled jobs' triggers."""
        found = {name: parse_schedule(expr, self.zone) for name, expr in self.schedules.items()}
        return {name: trigger for name, trigger in found.items() if trigger is not None}


class SmtpSettings(Section):
    """E-mail delivery of team reports (registry.reports.delivery)."""

    env_prefix: ClassVar[str] = "FEATREG_SMTP_"

    host: str = setting(..., "SMTP server; unset means no e-mail delivery.")
    port: Whole = setting(None, "SMTP port (25, or 587 with STARTTLS).")
    user: OptionalText = setting(None, "Login user, if the server needs one.")
    password: OptionalText = setting(None, "Password of the SMTP login (with FEATREG_SMTP_USER).")
    sender: str = setting("featreg@localhost", "Sender address of report e-mails.",
                          env="FEATREG_SMTP_FROM")
    starttls: Flag = setting(False, "Upgrade the connection with STARTTLS.")
    attempts: Whole = setting(3, "Attempts per recipient before a delivery is recorded as "
                              "failed.", minimum=1)
    backoff: Number = setting(2.0, "Seconds before the second attempt, doubled before each "
                              "further one.", minimum=0.0)

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_blanks(cls, values: Any) -> Any:
        """The port follows STARTTLS; a blank sender is the default sender."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        if values.get("port") in (None, ""):
            try:
                starttls = flag(values.get("starttls", False)) is True
            except ValueError:  # the field's own check names it
                starttls = False
            values["port"] = 587 if starttls else 25
        if not str(values.get("sender") or "").strip():
            values.pop("sender", None)
        return values

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,  # type: ignore[override]
                 **overrides: Any) -> SmtpSettings | None:
        """None when ``FEATREG_SMTP_HOST`` is unset or blank: reports are not e-mailed."""
        environ = os.environ if environ is None else environ
        if not environ.get(cls.env_name("host"), "").strip() and "host" not in overrides:
            return None
        return super().from_env(environ, **overrides)


class WebSettings(Section):
    """The web app (`featreg serve`); `create_app(test_config)` may override each."""

    secret_key: OptionalText = setting(
        None, "Signs the session that holds the form token; random per process when unset "
        "(`featreg serve` draws one for all its worker processes).")
    graph_cache_size: Whole = setting(1024, "Rendered graphs (SVG) kept in memory.")
    graph_cache_dir: OptionalText = setting(None, "Folder of an optional on-disk graph cache.")
    graph_node_limit: Whole = setting(500, "Largest graph drawn at once (nodes).")
    data_dir: str = setting("featreg-data", "Folder where uploaded snapshots are kept.")
    reads_need_token: Flag = setting(
        False, "When true, pages and GET API requests need a token or a sign-in too (writes "
        "always do).")
    sso_user_header: OptionalText = setting(
        None, "Header in which a trusted single-sign-on proxy names the user (off when unset; "
        "set it only behind a proxy that strips the header from clients).")
    sso_team_header: OptionalText = setting(
        None, "Header in which that proxy names the user's team (the team scope of writes).")
    sso_admin_teams: OptionalText = setting(
        None, "Comma-separated teams whose proxy users are admins.")
    allowed_hosts: OptionalText = setting(
        None, "Comma-separated host names the server answers to (the Host header; refuses "
        "DNS rebinding). Unset: localhost, 127.0.0.1, ::1 and the host `featreg serve` binds.")
    admission_slots: Whole = setting(
        0, "Most requests one worker process runs at once; a request that waits 100 ms for a "
        "slot gets 503 with Retry-After (0: no limit; `featreg serve` sets it to --threads).",
        minimum=0)
    max_upload_bytes: Whole = setting(
        512 * 2**20, "Largest snapshot upload accepted over HTTP (bytes); larger is 413.")


class DatabaseSettings(Section):
    """Where the catalog lives (`--db URL` overrides it)."""

    url: str = setting("sqlite:///featreg.db", "Database URL (any SQLAlchemy URL; "
                       "postgresql:// is read as postgresql+psycopg://); default: SQLite in the "
                       "working directory.", env="FEATREG_DATABASE_URL")
    pool_size: Whole = setting(
        16, "Database connections a process keeps open for reuse. Keep it above the requests "
        "a server worker runs at once (FEATREG_ADMISSION_SLOTS; `featreg serve` sets it to "
        "--threads + 4 when that is more): a connection needed beyond it is opened and "
        "closed for one use, which on PostgreSQL starts a new backend each time.",
        minimum=1, maximum=1000, env="FEATREG_DATABASE_POOL_SIZE")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, values: Any) -> Any:
        if isinstance(values, dict) and not str(values.get("url") or "").strip():
            return {k: v for k, v in values.items() if k != "url"}
        return values


# -- the one object ---------------------------------------------------------------------------

_SECTIONS: dict[str, type[Section]] = {
    "analysis": AnalysisSettings, "scheduler": SchedulerSettings, "smtp": SmtpSettings,
    "web": WebSettings, "database": DatabaseSettings,
}


class FeatregSettings(BaseModel):
    """Every setting of Featreg, by section: `FeatregSettings.from_env()`."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    smtp: SmtpSettings | None = None
    web: WebSettings = Field(default_factory=WebSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **sections: Any) -> FeatregSettings:
        """Every section from ``environ`` (default: the environment), except those given."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            name: sections[name] if name in sections else section.from_env(environ)
            for name, section in _SECTIONS.items()}
        return cls(**values)

    @staticmethod
    def documentation() -> list[SettingDoc]:
        """Every setting of every section (the README tables)."""
        return [row for section in _SECTIONS.values() for row in section.documentation()]
