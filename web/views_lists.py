"""List pages of sources, consumers, observed principals and the audit history (with JSON
twins), and the app-wide cache of what they and search share: the observed principals and
the directory of names (`directory`)."""

from __future__ import annotations

import os
import random
import time

from flask import Blueprint, Response, request

from registry.read import audit, browse
from registry.read.browse import ListQuery, PrincipalRow
from registry.read.directory import NameDirectory
from registry.read.lists import catalog_version

from .support import API_PREFIX, await_latest, db, memo, memo_latest, respond, sessions

bp = Blueprint("lists", __name__)
api = Blueprint("lists_api", __name__, url_prefix=API_PREFIX)
REFRESH_SECONDS = 300  # usage (principals, the catalog's usage columns) is read again after
FRESH_WAIT = 2.0  # seconds a read-your-writes search waits for the directory's rebuild


_phases: dict[int, float] = {}


def refresh_period() -> int:
    """The number of the current REFRESH_SECONDS period in this process. Each process's
    periods start at a random offset, drawn once per process: a server's workers then read
    usage again at different moments rather than all at once (every worker re-reading the
    rollups, rebuilding its usage columns and re-rendering its kept catalog pages together
    stalled a load test for three seconds)."""
    phase = _phases.get(os.getpid())
    if phase is None:
        phase = _phases[os.getpid()] = random.uniform(0, REFRESH_SECONDS)
    return int((time.time() + phase) // REFRESH_SECONDS)


def observed_principals() -> tuple[object, list[PrincipalRow]]:
    """Every principal seen reading, and the version of that list: read again (in the
    background, the previous list served meanwhile) at most every REFRESH_SECONDS, since
    usage arrives without change sets and reading it all takes a pass over the rollups."""
    factory = sessions()

    def load(_version: object, _held: object) -> list[PrincipalRow]:
        with factory() as session:
            return browse.principal_rows(session)

    return memo_latest("observed_principals", refresh_period(), load)


def directory(fresh: bool = False, changes: int | None = None
              ) -> tuple[list[PrincipalRow], NameDirectory]:
    """Observed principals and the directory of names: current for the catalog (rebuilt
    after a change set: the names of sources, consumers and teams only) and at most
    REFRESH_SECONDS behind the usage rollups. Rebuilt in the background (readers get the
    previous one meanwhile: see `memo_latest`); `fresh` waits up to FRESH_WAIT seconds for
    a rebuild after a change set (read your writes); `changes`: the catalog version, when
    the caller has read it."""
    if changes is None:
        changes = catalog_version(db())
    seen, rows = observed_principals()
    factory = sessions()

    def load(_version: object, _held: object) -> tuple[list[PrincipalRow], NameDirectory]:
        with factory() as session:
            return rows, NameDirectory.load(session, rows)

    version = (changes, seen)
    held, value = memo_latest("name_directory", version, load)
    if fresh and isinstance(held, tuple) and held[0] < changes:
        _, value = await_latest("name_directory", version, FRESH_WAIT)
    return value


@bp.get("/sources")
@api.get("/sources")
def sources() -> Response:
    q = ListQuery.from_args(request.args, list(browse.SOURCE_SORTS), browse.SOURCE_FILTERS)
    return respond("sources.html", browse.sources_page(db(), q))


@bp.get("/consumers")
@api.get("/consumers")
def consumers() -> Response:
    q = ListQuery.from_args(request.args, list(browse.CONSUMER_SORTS), browse.CONSUMER_FILTERS)
    return respond("consumers.html", browse.consumers_page(db(), q))


@bp.get("/principals")
@api.get("/principals")
def principals() -> Response:
    q = ListQuery.from_args(request.args, list(browse.PRINCIPAL_SORTS),
                            browse.PRINCIPAL_FILTERS)
    return respond("principals.html", browse.principals_page(observed_principals()[1], q))


@bp.get("/history")
@api.get("/history")
def history() -> Response:
    q = ListQuery.from_args(request.args, list(audit.HISTORY_SORTS), audit.HISTORY_FILTERS)
    session = db()
    choices = memo("history_choices", audit.latest_event(session),
                   lambda: audit.history_choices(session))
    return respond("history.html", audit.history_page(session, q, choices))
