"""Driver-level SQL of the store's hot paths: a sweep's per-run writes and the batched
metric writer's batches run these as they are, skipping SQLAlchemy's statement building."""

from __future__ import annotations

from dataclasses import dataclass

from tunetrack.store.sql.run_rows import RUN_COLUMNS


@dataclass(frozen=True)
class RunSql:
    """Driver-level SQL of the per-run hot path (a sweep creates and ends a run per
    trial): run as it is, it skips SQLAlchemy's statement building, which cost more than
    the database's own work. Parameters are positional, in the order the SQL names them."""

    experiment: str  # (parent run_id, experiment_id) -> stage, artifact_location, parent found
    insert_run: str  # RUN_COLUMNS
    insert_tag: str  # (run_id, key, value)
    insert_param: str  # (run_id, key, value)
    end_run: str  # (status, end_time, run_id) -> the run's row, RUN_COLUMNS

    @classmethod
    def for_dialect(cls, dialect: str) -> RunSql:
        """The statements with the placeholders of ``dialect``'s driver."""
        mark = "?" if dialect == "sqlite" else "%s"
        columns = ", ".join(RUN_COLUMNS)
        run_marks = ", ".join([mark] * len(RUN_COLUMNS))
        return cls(
            experiment=(
                "SELECT lifecycle_stage, artifact_location, "
                f"EXISTS (SELECT 1 FROM runs WHERE run_id = {mark}) "
                f"FROM experiments WHERE experiment_id = {mark}"
            ),
            insert_run=f"INSERT INTO runs ({columns}) VALUES ({run_marks})",
            insert_tag=f"INSERT INTO tags (run_id, key, value) VALUES ({mark}, {mark}, {mark})",
            insert_param=f"INSERT INTO params (run_id, key, value) VALUES ({mark}, {mark}, {mark})",
            end_run=(
                f"UPDATE runs SET status = {mark}, end_time = {mark} WHERE run_id = {mark} "
                f"RETURNING {columns}"
            ),
        )


@dataclass(frozen=True)
class BulkSql:
    """Driver SQL of the metric-batch path ."""

    metrics: str  # insert points (SQLite: under their series; PostgreSQL: latest values too)
    claim: str  # record a batch id; RETURNING says whether it is new
    forget: str  # drop a writer's batch ids below a seq
    runs: str  # experiment and stage of runs
    columns: bool  # bind each column as one array (PostgreSQL) instead of row by row
    latest: str | None = None  # SQLite: upsert latest_metrics (first: it makes the series)
    series: str | None = None  # SQLite: (run_id, key, series_id) of the pairs of VALUES {}
    points_once: str | None = None  # PostgreSQL: all of a batch id's batch in one statement

    @classmethod
    def for_dialect(cls, dialect: str) -> BulkSql:
        """The batched writer's statements as driver SQL: they run for every batch, so they
        skip SQLAlchemy's statement building. SQLite inserts row by row (executemany in C);
        PostgreSQL gets each column as one array and writes all rows in one statement."""
        claim = (
            "INSERT INTO metric_batches (writer_id, seq, created_time) VALUES ({0}, {0}, {0}) "
            "ON CONFLICT (writer_id, seq) DO NOTHING RETURNING seq"
        )
        forget = "DELETE FROM metric_batches WHERE writer_id = {0} AND seq < {0}"
        if dialect == "sqlite":
            return cls(
                latest="INSERT INTO latest_metrics (run_id, key, step, timestamp, value, "
                "experiment_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE "
                "SET step = excluded.step, timestamp = excluded.timestamp, value = "
                f"excluded.value WHERE {_NEWER}",
                series="SELECT l.run_id, l.key, l.series_id FROM (VALUES {}) AS pair "
                "JOIN latest_metrics AS l ON l.run_id = pair.column1 AND l.key = pair.column2",
                metrics="INSERT INTO metrics (series_id, step, timestamp, value) "
                "VALUES (?, ?, ?, ?)",
                claim=claim.format("?"),
                forget=forget.format("?"),
                runs="SELECT run_id, experiment_id, lifecycle_stage FROM runs WHERE run_id IN ({})",
                columns=False,
            )
        return cls(
            # the general path has checked and share-locked the runs (below) in its
            # transaction: their experiments come along with them
            metrics="WITH live AS (SELECT * FROM unnest(%(runs)b::text[], "
            "%(experiments)b::bigint[]) AS live(run_id, experiment_id)), "
            + _WRITE_POINTS.format(written="true")
            + "SELECT 1",
            points_once=_POINTS_ONCE
            + _WRITE_POINTS.format(written="EXISTS (SELECT FROM claim)")
            + "SELECT ok FROM ready",
            claim=claim.format("%s"),
            forget=forget.format("%s"),
            # rows share-locked to the end of the transaction: a concurrent delete waits
            runs="SELECT run_id, experiment_id, lifecycle_stage FROM runs "
            "WHERE run_id = ANY(%s::text[]) FOR SHARE",
            columns=True,
        )


# A point is newer than the latest one of its series: a higher step, or the same step and a
# timestamp as high (the later of equal points wins).
_NEWER = (
    "(excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    "AND excluded.timestamp >= latest_metrics.timestamp))"
)

# A batch with an id in one statement (one round trip, where the general path takes five):
# the runs share-locked if all are live, then only if they are, the id claimed, the
# writer's ids below ``floor`` forgotten, and the batch written (_WRITE_POINTS, only if the
# claim is new). Answers whether all runs were live: if so the batch is written now or was
# before (a replay); if not nothing was written.
_POINTS_ONCE = """
WITH live AS (
    SELECT run_id, experiment_id FROM runs
    WHERE run_id = ANY(%(runs)b::text[]) AND lifecycle_stage = 'active' FOR SHARE
), ready AS (
    SELECT count(*) = cardinality(%(runs)b::text[]) AS ok FROM live
), claim AS (
    INSERT INTO metric_batches (writer_id, seq, created_time)
    SELECT %(writer)s::text, %(seq)s::bigint, %(now)s::bigint FROM ready WHERE ok
    ON CONFLICT (writer_id, seq) DO NOTHING RETURNING seq
), forget AS (
    DELETE FROM metric_batches
    WHERE writer_id = %(writer)s::text AND seq < %(floor)s::bigint AND EXISTS (SELECT FROM claim)
), """

# PostgreSQL writes a batch (if ``written``) in two CTEs after ``live`` (the runs' experiments):
# the latest value of each series upserted, which names every series of the batch (made here
# if new: the upsert always returns its row, keeping the stored value where it is newer),
# then the points under those series ids. Rows come as the distinct runs and keys, each
# row's 1-based index into them, and a packed array per column of numbers
# (metric_batches._packed_columns): points as p*, latest values as l*. NaN is stored as NULL
# (PostgreSQL's NaN equals NaN). WITH ORDINALITY ... ORDER BY: ids (the tie-break of equal
# steps) follow row order.
_WRITE_POINTS = (
    """latest AS (
    INSERT INTO latest_metrics (run_id, key, step, timestamp, value, experiment_id)
    SELECT live.run_id, (%(keys)b::text[])[u.k], u.s, u.t, NULLIF(u.v, 'NaN'), live.experiment_id
    FROM unnest(%(lr)b::int4[], %(lk)b::int4[], %(ls)b::bigint[], %(lt)b::bigint[],
                %(lv)b::float8[]) AS u(r, k, s, t, v)
    JOIN live ON live.run_id = (%(runs)b::text[])[u.r]
    WHERE {written}
    ON CONFLICT (run_id, key) DO UPDATE SET"""
    + ",".join(
        f"\n        {c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE latest_metrics.{c} END"
        for c in ("step", "timestamp", "value")
    )
    + """
    RETURNING series_id, run_id, key
), points AS (
    INSERT INTO metrics (series_id, step, timestamp, value)
    SELECT latest.series_id, u.s, u.t, NULLIF(u.v, 'NaN')
    FROM unnest(%(pr)b::int4[], %(pk)b::int4[], %(ps)b::bigint[], %(pt)b::bigint[],
                %(pv)b::float8[]) WITH ORDINALITY AS u(r, k, s, t, v, n)
    JOIN latest ON latest.run_id = (%(runs)b::text[])[u.r]
               AND latest.key = (%(keys)b::text[])[u.k]
    ORDER BY u.n
)
"""
)
