"""Claims on work: a run takes (judge key, trace) pairs before judging them, so that two runs of one judge
version at once never judge the same trace twice. Claims lapse unless renewed, so a run that was killed
frees its work for the next one after a lease at most."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, delete, select, update

from accord.entities import now_ms
from accord.store import schema as t
from accord.store.chunks import chunks


def _insert_ignoring_taken(conn: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in the connection's dialect (SQLite and PostgreSQL both have it)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(t.claims).on_conflict_do_nothing(index_elements=["judge_key", "trace_id"])


class ClaimQueries:
    engine: Engine

    def claim_traces(self, judge_key: str, trace_ids: Sequence[str], owner: str, lease_s: float) -> set[str]:
        """Claim what nobody else holds (or held past its lease); returns the ids `owner` holds now."""
        now = now_ms()
        expires = now + int(lease_s * 1000)
        c = t.claims.c
        held: set[str] = set()
        with self.engine.begin() as conn:
            for chunk in chunks(list(trace_ids)):
                # a write first: SQLite then serialises this whole transaction against other writers
                conn.execute(
                    delete(t.claims).where(c.judge_key == judge_key, c.trace_id.in_(chunk), c.expires_ms < now)
                )
                conn.execute(
                    _insert_ignoring_taken(conn),
                    [{"judge_key": judge_key, "trace_id": i, "owner": owner, "expires_ms": expires} for i in chunk],
                )
                held.update(
                    conn.execute(
                        select(c.trace_id).where(c.judge_key == judge_key, c.trace_id.in_(chunk), c.owner == owner)
                    ).scalars()
                )
        return held

    def renew_claims(self, owner: str, lease_s: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.claims).where(t.claims.c.owner == owner).values(expires_ms=now_ms() + int(lease_s * 1000))
            )

    def release_claims(self, owner: str, pairs: Sequence[tuple[str, str]] | None = None) -> None:
        """Release (judge key, trace id) pairs, or every claim of `owner`."""
        c = t.claims.c
        with self.engine.begin() as conn:
            if pairs is None:
                conn.execute(delete(t.claims).where(c.owner == owner))
                return
            by_key: dict[str, list[str]] = {}
            for key, trace_id in pairs:
                by_key.setdefault(key, []).append(trace_id)
            for key, ids in by_key.items():
                for chunk in chunks(ids):
                    conn.execute(delete(t.claims).where(c.owner == owner, c.judge_key == key, c.trace_id.in_(chunk)))
