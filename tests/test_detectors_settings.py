"""Settings: defaults from DESIGN.md, environment overrides, documentation of every field."""

from __future__ import annotations

import pytest

from registry.core.settings import Settings, SettingsError


def test_defaults_are_the_thresholds_of_the_design() -> None:
    settings = Settings()
    assert settings.legacy_window_days == 90
    assert settings.legacy_grace_days == 30
    assert settings.superseded_correlation == 0.95
    assert settings.superseded_share == 0.01
    assert settings.bundle_min_size == 3
    assert (settings.bundle_changeset_min, settings.bundle_changeset_max) == (2, 50)
    assert settings.bundle_member_share == 0.01
    assert settings.epsilon_share == 0.01
    assert settings.correlated_threshold == 0.95
    assert settings.correlation_report_threshold == 0.8


def test_every_setting_is_documented_with_its_variable() -> None:
    rows = Settings.documentation()
    assert [row[0] for row in rows] == list(Settings.model_fields)
    for name, default, env, doc in rows:
        assert env == "FEATREG_" + name.upper()
        assert default == getattr(Settings(), name)
        assert len(doc.split()) >= 5, f"{name} needs a real description"


def test_environment_overrides_with_type_conversion() -> None:
    settings = Settings.from_env({
        "FEATREG_LEGACY_WINDOW_DAYS": " 60 ",
        "FEATREG_EPSILON_SHARE": "0.02",
        "FEATREG_UNRELATED": "x",
    })
    assert settings.legacy_window_days == 60
    assert settings.epsilon_share == 0.02
    assert settings.bundle_min_size == Settings().bundle_min_size


def test_keyword_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"FEATREG_BUNDLE_MIN_SIZE": "4"}, bundle_min_size=5)
    assert settings.bundle_min_size == 5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FEATREG_LEGACY_WINDOW_DAYS", "ninety"),
        ("FEATREG_LEGACY_WINDOW_DAYS", "1.5"),
        ("FEATREG_EPSILON_SHARE", "abc"),
        ("FEATREG_EPSILON_SHARE", "nan"),
        ("FEATREG_EPSILON_SHARE", "1.5"),
        ("FEATREG_LEGACY_GRACE_DAYS", "-1"),
        ("FEATREG_BUNDLE_CHANGESET_MIN", "80"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_direct_construction_is_validated() -> None:
    with pytest.raises(SettingsError, match="correlated_threshold"):
        Settings(correlated_threshold=1.2)
    with pytest.raises(SettingsError, match="bundle_changeset_min"):
        Settings(bundle_changeset_min=10, bundle_changeset_max=5)
    with pytest.raises(SettingsError, match="legacy_window_days"):
        Settings(legacy_window_days=True)
