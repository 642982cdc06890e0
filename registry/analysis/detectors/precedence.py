"""The precedence rule: a feature gets at most one of legacy / bundled / epsilon, in that order."""

from __future__ import annotations

from collections.abc import Iterable

from registry.analysis.inputs import FindingDraft

__all__ = ["EXCLUSIVE_KINDS", "apply_precedence"]

EXCLUSIVE_KINDS: tuple[str, ...] = ("legacy", "bundled", "epsilon")
"""Mutually exclusive kinds, highest precedence first."""


def apply_precedence(findings: Iterable[FindingDraft]) -> list[FindingDraft]:
    """``findings`` without those an exclusive kind of higher precedence overrides.

    Order is preserved; findings of other kinds pass through untouched.
    """
    items = list(findings)
    best: dict[tuple[str, str], int] = {}
    for finding in items:
        if finding.kind in EXCLUSIVE_KINDS:
            rank = EXCLUSIVE_KINDS.index(finding.kind)
            best[finding.subject] = min(rank, best.get(finding.subject, rank))
    return [
        f for f in items
        if f.kind not in EXCLUSIVE_KINDS or EXCLUSIVE_KINDS.index(f.kind) == best[f.subject]
    ]
