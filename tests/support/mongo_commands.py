"""Every command the MongoDB store sends, recorded with pymongo's command monitoring, and the
equality-sort-range check of each query shape against the indexes ``store init`` creates.

* :class:`CommandRecorder`: a ``CommandListener`` that keeps (or appends to a JSON-lines file)
  the query shape of every command: collection, filter(s), sort, limit.
* ``JOBWORKER_RECORD_MONGO=path`` makes ``tests/conftest.py`` register one for the whole test
  run, so a suite can be recorded from a subprocess.
* :func:`unserved`: why no index serves a query shape (``None`` when one does).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bson import json_util
from pymongo import monitoring

# Commands that carry no query to serve (writes of new documents, index and session admin).
IGNORED = {
    "insert",
    "createIndexes",
    "listIndexes",
    "dropIndexes",
    "drop",
    "dropDatabase",
    "hello",
    "ismaster",
    "isMaster",
    "ping",
    "endSessions",
    "killCursors",
    "getMore",
    "buildInfo",
    "listCollections",
    "saslStart",
    "saslContinue",
}


def shapes(name: str, command: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The query shapes of one command: ``{op, coll, filter, sort, limit}`` per statement."""
    coll = command.get(name)
    if name in IGNORED or not isinstance(coll, str):
        return []
    base = {"op": name, "coll": coll}
    if name == "find":
        return [
            {
                **base,
                "filter": command.get("filter", {}),
                "sort": list((command.get("sort") or {}).items()),
                "limit": command.get("limit"),
            }
        ]
    if name == "findAndModify":
        return [
            {
                **base,
                "filter": command.get("query", {}),
                "sort": list((command.get("sort") or {}).items()),
                "limit": 1,
            }
        ]
    if name == "update":
        return [
            {**base, "filter": u.get("q", {}), "sort": [], "limit": None}
            for u in command["updates"]
        ]
    if name == "delete":
        return [
            {**base, "filter": d.get("q", {}), "sort": [], "limit": None}
            for d in command["deletes"]
        ]
    if name in ("count", "distinct"):
        return [{**base, "filter": command.get("query", {}), "sort": [], "limit": None}]
    if name == "aggregate":
        pipeline = command.get("pipeline") or [{}]
        first = pipeline[0]
        if "$changeStream" in first:
            return []
        return [{**base, "filter": first.get("$match", {}), "sort": [], "limit": None}]
    return [{**base, "filter": None, "sort": [], "limit": None, "unknown": True}]


class CommandRecorder(monitoring.CommandListener):
    """Records command names and query shapes (to memory, and to ``path`` if given)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.names: list[tuple[str, str]] = []  # (command name, collection or "")
        self.shapes: list[dict[str, Any]] = []
        self.enabled = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.enabled:
            return
        name = event.command_name
        coll = event.command.get(name)
        if name in IGNORED - {"insert", "getMore"}:
            return
        self.names.append((name, coll if isinstance(coll, str) else ""))
        found = shapes(name, event.command)
        self.shapes.extend(found)
        if self.path and found:
            with open(self.path, "a") as f:
                for shape in found:
                    f.write(json_util.dumps(shape) + "\n")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def clear(self) -> None:
        self.names.clear()
        self.shapes.clear()


def load(path: str) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json_util.loads(line) for line in f if line.strip()]


# -- the equality-sort-range check -------------------------------------------------------

_EQUALITY_OPS = {"$eq", "$in", "$type"}
_RANGE_OPS = {"$gt", "$gte", "$lt", "$lte", "$not"}
_NEGATIONS = {"$ne", "$nin"}


def _classify(
    flt: Mapping[str, Any],
) -> tuple[set[str], set[str], set[str], set[str], list[Any]]:
    """(equality, range, negation, residual fields, $or branches) of a filter.

    Negations (``$ne``, ``$nin``) are ranges an index can only bound by skipping values, so
    they must be index keys too; residual conditions (``$type``/``$exists`` alone, ``$expr``)
    filter what the index bounds found.
    """
    eq: set[str] = set()
    rng: set[str] = set()
    neg: set[str] = set()
    residual: set[str] = set()
    ors: list[Any] = []
    for field, value in flt.items():
        if field == "$or":
            ors.extend(value)
        elif field in ("$expr", "$comment"):
            continue
        elif field.startswith("$"):
            residual.add(field)
        elif isinstance(value, Mapping) and value and all(k.startswith("$") for k in value):
            ops = set(value)
            if ops <= _EQUALITY_OPS and ops & {"$eq", "$in"}:
                eq.add(field)
            elif ops & _NEGATIONS:
                neg.add(field)
            elif ops <= _RANGE_OPS:
                rng.add(field)
            else:
                residual.add(field)
        else:
            eq.add(field)
    return eq, rng, neg, residual, ors


def _implied(partial: Mapping[str, Any] | None, flt: Mapping[str, Any]) -> set[str] | None:
    """Fields of a partial index's filter that the query repeats exactly (``None``: the
    query does not imply the partial filter, so the index cannot be used)."""
    if not partial:
        return set()
    for field, cond in partial.items():
        value = flt.get(field)
        if value == cond:
            continue
        if (
            isinstance(cond, Mapping)
            and isinstance(value, Mapping)
            and all(value.get(k) == v for k, v in cond.items())
        ):
            continue
        return None
    return set(partial)


def unserved(shape: Mapping[str, Any], indexes: Sequence[Mapping[str, Any]]) -> str | None:
    """Why no index serves ``shape`` by equality-sort-range, or ``None`` if one does.

    ``indexes``: ``{"name", "key": [(field, dir)...], "unique", "partialFilterExpression"}``.
    An index serves a query when the query implies its partial filter and either
    (a) its leading keys are equality fields of the query (at least one) and, if they make up
        the whole of a unique index, that is enough (a point lookup); otherwise the next keys
        are the sort, in order (all directions equal or all reversed), and every range field
        of the query comes after them in the index; or
    (b) no leading equality key, but the index starts with the sort (or, without a sort, a
        range field) and the query is bounded by a limit or a range on that key.
    A range field not in the index is a residual filter only when another range of the query
    is bounded by the index; negations (``$ne``, ``$nin``) must always be bounded by it (or be
    part of a point lookup). Each ``$or`` branch must be served on its own (with the outer
    conditions).
    """
    flt = shape.get("filter")
    if flt is None:
        return f"unknown command {shape.get('op')}"
    if "$and" in flt:  # one conjunction: merge its parts (operators on one field combine)
        merged: dict[str, Any] = {k: v for k, v in flt.items() if k != "$and"}
        for part in flt["$and"]:
            for k, v in part.items():
                if isinstance(merged.get(k), Mapping) and isinstance(v, Mapping):
                    merged[k] = {**merged[k], **v}
                else:
                    merged[k] = v
        return unserved({**shape, "filter": merged}, indexes)
    eq, rng, neg, _residual, ors = _classify(flt)
    if ors:
        outer = {k: v for k, v in flt.items() if k != "$or"}
        for branch in ors:
            why = unserved({**shape, "filter": {**outer, **branch}}, indexes)
            if why:
                return f"$or branch {branch}: {why}"
        return None
    sort = [(str(k), int(d)) for k, d in shape.get("sort") or []]
    reasons = []
    for index in indexes:
        implied = _implied(index.get("partialFilterExpression"), flt)
        if implied is None:
            continue
        keys = [(str(k), int(d)) for k, d in index["key"]]
        fields = [k for k, _ in keys]
        implied -= set(fields)  # a partial filter on a key field still bounds that key
        equal = eq - implied
        p = 0
        while p < len(fields) and fields[p] in equal:
            p += 1
        if p and index.get("unique") and p == len(fields):
            return None  # point lookup on a unique key
        want = [(k, d) for k, d in sort if k not in equal]
        if p == 0 and not want and not (fields and fields[0] in rng):
            continue
        if p == 0 and (shape.get("limit") is None and fields[0] not in rng):
            continue
        got = keys[p : p + len(want)]
        if want and not (
            [k for k, _ in got] == [k for k, _ in want]
            and len({d * w for (_, d), (_, w) in zip(got, want, strict=True)}) == 1
        ):
            reasons.append(f"{index['name']}: sort {want} is not next after {fields[:p]}")
            continue
        after = set(fields[p:])
        if neg - after:
            reasons.append(f"{index['name']}: negation {sorted(neg - after)} not bounded")
            continue
        if rng and not rng & after:
            reasons.append(f"{index['name']}: range {sorted(rng)} not in the index")
            continue
        return None
    return "; ".join(reasons) or f"no index has a prefix of {sorted(eq)} or the sort {sort}"


def index_list(
    specs: Iterable[tuple[list[tuple[str, int]], dict[str, Any]]],
) -> list[dict[str, Any]]:
    """``JOB_INDEXES``-style specs (plus ``_id_``) as :func:`unserved` wants them."""
    from jobworker.store.mongo.schema import index_name

    out: list[dict[str, Any]] = [{"name": "_id_", "key": [("_id", 1)], "unique": True}]
    for keys, opts in specs:
        out.append({"name": index_name(keys, opts), "key": keys, **opts})
    return out


def dumps(shape: Mapping[str, Any]) -> str:
    return json.dumps(json.loads(json_util.dumps(shape)), sort_keys=True)
