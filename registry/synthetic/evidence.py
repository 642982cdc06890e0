"""The evidence of a planted catalog: usage events, importance reports and a labelled snapshot."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from registry.synthetic.catalog import PlantedCatalog
from registry.synthetic.features import Feature
from registry.synthetic.vocabulary import CATEGORIES, WINDOWS

_SNAPSHOT_DTYPES = ("int", "float", "bool", "category")
_LOW_SHARE = (0.001, 0.004)  # planted low shares, far below the 1% threshold


def generate_usage(catalog: PlantedCatalog, n_lines: int,
                   rng: np.random.Generator) -> list[dict[str, Any]]:
    """Reads of every healthy declaration in the last week, then filler over 120 days."""
    picker = random.Random(int(rng.integers(2**62)))
    readable: dict[str, list[str]] = {}
    for consumer in catalog.consumers.values():
        if consumer is not catalog.never_reader:
            names = [n for n in consumer.features if (consumer.name, n) not in catalog.unread]
            readable[consumer.name] = names + catalog.undeclared.get(consumer.name, [])
    for principal, names in catalog.undeclared.items():
        readable.setdefault(principal, list(names))
    readable = {p: names for p, names in readable.items() if names}
    now = catalog.now
    events: list[tuple[datetime, str, list[str]]] = []
    for principal, names in readable.items():
        for start in range(0, len(names), 8):
            events.append((now - timedelta(hours=picker.uniform(1, 144)), principal,
                           names[start: start + 8]))
    for principal, name in catalog.stale:
        events += [(now - timedelta(days=picker.uniform(100, 120)), principal, [name])
                   for _ in range(picker.randint(1, 3))]
    principals = sorted(readable)
    weights = [len(readable[p]) if p in catalog.consumers else 1 for p in principals]
    extra = max(0, n_lines - len(events))
    for principal, age in zip(picker.choices(principals, weights, k=extra),
                              rng.uniform(1 / 24, 120, extra), strict=True):
        when = now - timedelta(days=float(age))
        names = [n for n in readable[principal] if catalog.created(n) <= when.date()]
        if not names:
            when, names = now - timedelta(days=float(age) % 6 + 0.05), readable[principal]
        size = 1 if picker.random() < 0.6 else picker.randint(2, 6)
        picked = sorted(picker.sample(range(len(names)), min(size, len(names))))
        events.append((when, principal, [names[i] for i in picked]))
    events.sort(key=lambda event: (event[0], event[1]))
    return [_usage_line(when, principal, names, picker) for when, principal, names in events]


def _usage_line(when: datetime, principal: str, names: list[str],
                picker: random.Random) -> dict[str, Any]:
    style = picker.random()
    if style < 0.7:
        ts = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif style < 0.8:
        ts = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    else:
        offset = timezone(timedelta(hours=2 if style < 0.92 else -5))
        ts = when.replace(microsecond=0).astimezone(offset).isoformat()
    line: dict[str, Any] = {"ts": ts, "consumer": principal}
    if len(names) == 1 and picker.random() < 0.75:
        line["feature"] = names[0]
    else:
        line["features"] = names
    if picker.random() < 0.8:
        line["count"] = picker.randint(1, 40)
    return line


def generate_importance(catalog: PlantedCatalog, rng: np.random.Generator) -> list[dict[str, Any]]:
    """A latest report (now - 20 h) and an older one (a month earlier) per reporting model."""
    methods = {"gain": ("gain", 500, 5000), "shap": ("logloss", 0.2, 2.0),
               "permutation": ("auc", 0.05, 0.3), "leave-one-out": ("ndcg", 0.01, 0.1)}
    latest = catalog.now - timedelta(hours=20)
    rows: list[dict[str, Any]] = []
    for consumer in sorted(catalog.reporting, key=lambda c: c.name):
        method = list(methods)[int(rng.integers(len(methods)))]
        metric, low, high = methods[method]
        scale = float(rng.uniform(low, high))
        weights = {n: catalog.weights[(consumer.name, n)] for n in sorted(consumer.features)}
        lows = {n: float(rng.uniform(*_LOW_SHARE)) for n, w in weights.items() if w == 0}
        for when, jitter in ((latest - timedelta(days=31), 0.05), (latest, 0.0)):
            present = {n: w for n, w in weights.items()
                       if catalog.created(n) <= when.date()}
            high_weights = {n: w * float(rng.uniform(1 - jitter, 1 + jitter))
                            for n, w in present.items() if w > 0}
            if not high_weights:
                continue
            low_shares = {n: lows[n] * float(rng.uniform(1 - 2 * jitter, 1 + 2 * jitter))
                          for n in present if n in lows}
            rest = (1 - sum(low_shares.values())) / sum(high_weights.values())
            shares = {**low_shares, **{n: w * rest for n, w in high_weights.items()}}
            rows += [{"consumer": consumer.name, "feature": name,
                      "importance": float(f"{shares[name] * scale:.6g}"), "method": method,
                      "metric": metric, "ts": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
                     for name in sorted(shares)]
    rows.sort(key=lambda row: (row["ts"], row["consumer"], row["feature"]))
    return rows


def generate_snapshot(catalog: PlantedCatalog, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Independent columns, except planted groups that share a latent; a binary label."""
    latents = {group: rng.gamma(6.0, 1.0, rows) for group in sorted(set(catalog.groups.values()))}
    columns: dict[str, Any] = {}
    for name in sorted(catalog.features):
        feature = catalog.features[name]
        if feature.dtype not in _SNAPSHOT_DTYPES:
            continue
        group = catalog.groups.get(name)
        if group is not None:
            latent, slope = latents[group], float(rng.uniform(0.5, 20))
            noise = rng.normal(0, 0.03 * slope * latent.std(), rows)
            columns[name] = np.round(slope * latent + float(rng.uniform(0, 5)) + noise, 4)
            continue
        columns[name] = _sample(feature, rows, rng)
        if (feature.dtype == "float" and feature.role == "healthy"
                and name not in catalog.signal and rng.random() < 0.15):
            columns[name][rng.random(rows) < 0.02] = np.nan
    frame = pd.DataFrame(columns)
    signal = frame[catalog.signal].to_numpy(dtype=float)
    standard = (signal - signal.mean(axis=0)) / signal.std(axis=0)
    signs = rng.choice([-1.0, 1.0], len(catalog.signal))
    logit = 1.5 * standard @ (signs * rng.uniform(0.8, 1.2, len(catalog.signal)))
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame


def _sample(feature: Feature, rows: int, rng: np.random.Generator) -> Any:
    days = WINDOWS.get(feature.window or "30d", 30)
    if feature.dist == "count":
        return rng.poisson(rng.uniform(0.2, 2.0) * days**0.7, rows)
    if feature.dist == "days":
        return rng.binomial(days, rng.uniform(0.1, 0.8), rows)
    if feature.dist == "duration":
        return np.round(rng.gamma(2.0, rng.uniform(1, 20) * days**0.5, rows), 2)
    if feature.dist == "amount":
        return np.round(rng.lognormal(rng.uniform(1, 4) + np.log(days) / 2, 0.8, rows), 2)
    if feature.dist == "ratio":
        return np.round(rng.lognormal(0.0, 0.5, rows), 4)
    if feature.dist in ("rate", "score"):
        return np.round(rng.beta(rng.uniform(1, 4), rng.uniform(2, 20), rows), 4)
    if feature.dist == "bool":
        return rng.random(rows) < rng.uniform(0.05, 0.5)
    values = CATEGORIES[feature.dist]
    probabilities = rng.dirichlet(np.full(len(values), 2.0))
    return pd.Categorical(rng.choice(values, rows, p=probabilities), categories=values)

