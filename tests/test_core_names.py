"""Names and limits live in `registry.core.names`: the schema, the spec and the evidence parsers
take them from there, and the pure parsers do not load the ORM to learn them."""

from __future__ import annotations

import subprocess
import sys

from registry.catalog import spec
from registry.core.names import NAME_LENGTH, name_problem
from registry.store import models as m

PURE = ("registry.evidence.usage_events", "registry.evidence.openlineage_events",
        "registry.evidence.usage_logger", "registry.catalog.spec", "registry.core.timeparse")


def test_pure_parsers_do_not_import_the_orm() -> None:
    script = ("import sys\n" + "".join(f"import {name}\n" for name in PURE)
              + "print(sorted(n for n in sys.modules if n.startswith(('sqlalchemy', "
              "'registry.store'))))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"


def test_the_schema_and_the_spec_agree_on_the_name_length() -> None:
    assert m.Feature.__table__.c.name.type.length == NAME_LENGTH  # type: ignore[attr-defined]
    assert m.UsageDaily.__table__.c.principal.type.length == NAME_LENGTH  # type: ignore[attr-defined]
    longest = "a" * NAME_LENGTH
    assert spec.NAME_RE.fullmatch(longest) and not spec.NAME_RE.fullmatch(longest + "a")
    assert spec.FeatureSpec.model_fields["bundle"].metadata[-1].max_length == NAME_LENGTH


def test_evidence_names_are_checked_by_one_rule() -> None:
    assert name_problem("x" * NAME_LENGTH, "feature") is None
    assert name_problem("x" * (NAME_LENGTH + 1), "feature") == (
        f"feature is longer than {NAME_LENGTH} characters")
    for value in ("", None, 3):
        assert name_problem(value, "consumer") == "consumer must be a non-empty string"
