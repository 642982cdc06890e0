"""Markdown descriptions of features in four house styles, with SQL or Python snippets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from registry.synthetic.features import Feature


def describe(feature: Feature, rng: np.random.Generator) -> str:
    """A Markdown description in one of four house styles."""
    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    lineage = ", ".join(f"`{name}`" for name in feature.sources or feature.depends_on)
    facts = {
        "Owner": f"{feature.team} team",
        "Built from": lineage,
        "Refresh": pick(["hourly", "daily at 02:00 UTC", "streaming — under 5 min of lag",
                         "weekly, on Mondays"]),
        "Missing values": pick(["filled with `0`", "left null (about 2 % of rows)",
                                "imputed with the population median",
                                "never null (≥ 99.9 % coverage)"]),
    }
    link = (f"See the [{feature.team} feature guide]"
            f"(https://wiki.example.com/{feature.team}/features#{feature.name}).")
    bullets = "\n".join(f"- **{key}:** {value}" for key, value in facts.items())
    style = int(rng.integers(4))
    if style == 0:
        body = f"{feature.summary} {link}"
    elif style == 1:
        body = f"{feature.summary}\n\n{bullets}\n\n{link}"
    elif style == 2:
        table = "\n".join(f"| {key.lower()} | {value} |" for key, value in facts.items())
        body = f"{feature.summary}\n\n| property | value |\n|---|---|\n{table}\n\n{link}"
    else:
        title = feature.name.replace("_", " ").capitalize()
        body = f"## {title}\n\n{feature.summary}\n\n{bullets}\n\n{_code(feature)}\n\n{link}"
    if feature.status == "deprecated":
        body = (f"> **Deprecated:** use `{feature.replacement}` instead "
                f"(sunset {feature.sunset}).\n\n{body}")
    return body


def _code(feature: Feature) -> str:
    if feature.depends_on:
        args = [f"row.{name}" for name in feature.depends_on]
        if len(args) == 2:
            expression = f"{args[0]} / {args[1]} if {args[1]} else 0.0"
        else:
            expression = f"mean([{', '.join(args)}])" if len(args) > 2 else f"scale({args[0]})"
        return f"```python\ndef {feature.name}(row):\n    return {expression}\n```"
    aggregate = {"count": "COUNT(*)", "amount": "SUM(amount)", "duration": "SUM(duration)",
                 "rate": "AVG(is_hit)"}.get(feature.dist, "ANY_VALUE(value)")
    where = ""
    if feature.window:
        where = f"\nWHERE event_date >= CURRENT_DATE - INTERVAL '{feature.window[:-1]}' DAY"
    return (f"```sql\nSELECT {feature.entity}_id,\n       {aggregate} AS {feature.name}\n"
            f"FROM {feature.sources[0]}{where}\nGROUP BY {feature.entity}_id\n```")

