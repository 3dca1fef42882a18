"""The MongoDB store: many worker processes on many hosts share one MongoDB deployment.

URL: ``mongodb://host[:port][,host2...]/<database>?<options>`` or ``mongodb+srv://...``; the
database defaults to ``jobworker``. Options (URL query or keyword arguments, the query wins),
which are taken out of the URL before it goes to pymongo:

* ``collections=generic|legacy|default``: ``jobs``/``batches`` (generic, the default) or
  ``event_jobs``/``event_batches`` (the old session/event generation);
* ``jobs_collection=``, ``batches_collection=``: explicit names (win over the preset);
* ``workers_collection=``: the worker registry (default ``<jobs collection>_workers``);
* ``log_cap=N``: newest log entries kept per job (``$push`` with ``$slice``);
* ``gridfs_threshold=BYTES``: results larger than this (BSON size, default 4 MiB) go to GridFS.

Every other query option (``replicaSet``, ``w``, ``readPreference``, ``retryWrites``, TLS,
auth, ...) is pymongo's. Writes are acknowledged (``w=0`` is refused); retryable writes are on
unless the URL turns them off. See ``docs/mongodb.md``.

Atomicity: a claim is one ``find_one_and_update`` per job; a transition is one conditional
``find_one_and_update`` on the job (the single point that decides it happened, exactly once),
followed by an atomic update of its batch's counters.

The package, by concept: :mod:`.database` (client, collections, documents), :mod:`.jobs`
(inserts and reads), :mod:`.work` (the worker's operations), :mod:`.store` (users' operations,
the whole store), :mod:`.changes` (the lifecycle rules as update documents), :mod:`.batches`
(batch counters), :mod:`.queries`, :mod:`.results` (GridFS spill), :mod:`.schema` (URL,
indexes), :mod:`.limits`, :mod:`.notify`, :mod:`.orphans`, :mod:`.registry`, :mod:`.keys`,
:mod:`.apikeys`.
"""

from .schema import COLLECTION_PRESETS, split_url
from .store import MongoStore

__all__ = ["COLLECTION_PRESETS", "MongoStore", "split_url"]
