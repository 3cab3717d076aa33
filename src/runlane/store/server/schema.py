"""The ServerStore's PostgreSQL schema, created and upgraded by numbered migrations.

``runlane_migrations`` records each applied version. :func:`migrate` applies the missing ones
in order, all in one transaction under an advisory lock, so several server processes starting
at once over one database apply each migration exactly once. A database written by a newer
runlane (a version this code does not know) is refused rather than misread.

Tables (one row per record; JSON documents as JSONB with non-finite floats tagged, see
:mod:`runlane.store.tags`)::

    runs            one row per run: the run document (``doc``) plus the columns the filter
                    language reads (see runlane.query.sql), the heartbeat, params and the
                    per-run log sequence counter
    streams         one row per metric stream: ``next_idx`` (the index counter, locked by the
                    writer that takes indices), ``hot_start`` (rows below it are cold)
    metric_rows     hot metric rows (stream_id, idx) → data
    metric_chunks   cold Parquet chunks in the object store: (stream_id, first_idx, count, key)
                    and their min/max summaries (see runlane.store.server.summaries)
    run_logs, run_events, run_tracks, run_metadata, run_lineage
    ingest_batches  ids of applied client batches (idempotent retries)
    objects         object bodies when no S3 store is configured
    api_tokens      hashed API tokens with a project and a role
    artifact_docs   the artifact records (one row per file of the artifact folders, see
                    runlane.store.server.mirror), ``artifact_scopes`` their last change per
                    scope (``owner/project`` or ``.modelbox``)
    artifact_uploads, artifact_upload_parts, artifact_commits
                    resumable uploads (offset; parts in the object store) and the answers of
                    finished commits (see runlane.server.shared_uploads)
    gc_marks        object keys garbage collection found unreferenced, and since when;
    gc_identity     the id this database claims its object store with (runlane.store.server.gc)
"""

from __future__ import annotations

import psycopg

from runlane.errors import StoreError

#: Advisory lock key held while migrating (an arbitrary constant: "rlmigr").
MIGRATION_LOCK = 0x726C6D696772

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "initial schema",
        """
        CREATE TABLE runs (
            id text PRIMARY KEY,
            owner text NOT NULL,
            project text NOT NULL,
            name text NOT NULL,
            folder text,
            grp text,
            description text,
            framework text,
            backend text,
            external_id text,
            status text NOT NULL,
            created double precision NOT NULL,
            updated double precision NOT NULL,
            heartbeat_at double precision,
            tags jsonb NOT NULL DEFAULT '[]',
            params jsonb NOT NULL DEFAULT '{}',
            metrics jsonb NOT NULL DEFAULT '{}',
            meta jsonb NOT NULL DEFAULT '{}',
            params_version integer NOT NULL DEFAULT 0,
            params_updated double precision,
            log_next bigint NOT NULL DEFAULT 0,
            doc jsonb NOT NULL
        );
        CREATE INDEX runs_project_created ON runs (project, owner, created);
        CREATE INDEX runs_name ON runs (owner, project, name);
        CREATE INDEX runs_external ON runs (owner, project, external_id)
            WHERE external_id IS NOT NULL;
        CREATE INDEX runs_id_prefix ON runs (id text_pattern_ops);

        CREATE TABLE streams (
            id bigserial PRIMARY KEY,
            run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            name text NOT NULL,
            next_idx bigint NOT NULL DEFAULT 0,
            hot_start bigint NOT NULL DEFAULT 0,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            fields jsonb NOT NULL DEFAULT '[]',
            UNIQUE (run_id, name)
        );
        -- no foreign keys below: COPY would pay a trigger per row; delete_run cleans up
        CREATE TABLE metric_rows (
            stream_id bigint NOT NULL,
            idx bigint NOT NULL,
            created double precision NOT NULL,
            data jsonb NOT NULL,
            PRIMARY KEY (stream_id, idx)
        );
        CREATE TABLE metric_chunks (
            stream_id bigint NOT NULL,
            first_idx bigint NOT NULL,
            count integer NOT NULL,
            key text NOT NULL,
            size bigint NOT NULL,
            PRIMARY KEY (stream_id, first_idx)
        );

        CREATE TABLE run_logs (
            run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            level text NOT NULL,
            rank smallint NOT NULL,
            message text NOT NULL,
            ts double precision NOT NULL,
            metadata jsonb,
            source text,
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE run_events (
            pos bigserial PRIMARY KEY,
            run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            name text NOT NULL,
            source text,
            wallclock double precision NOT NULL,
            metadata jsonb
        );
        CREATE INDEX run_events_run ON run_events (run_id, pos);
        CREATE TABLE run_tracks (
            run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            topic text NOT NULL,
            ts double precision NOT NULL,
            fields jsonb NOT NULL,
            PRIMARY KEY (run_id, topic, ts)
        );
        CREATE TABLE run_metadata (
            run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            key text NOT NULL,
            value jsonb NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE TABLE run_lineage (
            pos bigserial PRIMARY KEY,
            run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            doc jsonb NOT NULL
        );
        CREATE INDEX run_lineage_run ON run_lineage (run_id, pos);

        CREATE TABLE ingest_batches (
            batch_id text PRIMARY KEY,
            run_id text NOT NULL,
            at double precision NOT NULL
        );
        CREATE TABLE objects (
            key text PRIMARY KEY,
            data bytea NOT NULL
        );
        CREATE TABLE api_tokens (
            id text PRIMARY KEY,
            hash text NOT NULL,
            project text NOT NULL,
            role text NOT NULL,
            name text,
            created double precision NOT NULL,
            revoked boolean NOT NULL DEFAULT false
        );
        """,
    ),
    (
        2,
        "min/max summaries of cold chunks",
        """
        ALTER TABLE metric_chunks ADD COLUMN summary bytea;
        """,
    ),
    (
        3,
        "stream description, tags and metadata",
        """
        ALTER TABLE streams ADD COLUMN info jsonb;
        """,
    ),
    (
        4,
        "artifact records, resumable uploads and commit answers in the database",
        """
        CREATE SEQUENCE artifact_doc_seq;
        CREATE TABLE artifact_docs (
            path text PRIMARY KEY,
            scope text NOT NULL,
            body bytea,
            blob jsonb,
            size bigint NOT NULL DEFAULT 0,
            seq bigint NOT NULL,
            deleted boolean NOT NULL DEFAULT false
        );
        CREATE INDEX artifact_docs_scope_seq ON artifact_docs (scope, seq);
        CREATE TABLE artifact_scopes (
            scope text PRIMARY KEY,
            project text,
            seq bigint NOT NULL
        );
        CREATE INDEX artifact_scopes_project ON artifact_scopes (project);

        CREATE TABLE artifact_uploads (
            id text PRIMARY KEY,
            owner text NOT NULL,
            project text NOT NULL,
            run_id text,
            size bigint,
            sha256 text,
            created double precision NOT NULL,
            updated double precision NOT NULL,
            received bigint NOT NULL DEFAULT 0
        );
        CREATE TABLE artifact_upload_parts (
            upload_id text NOT NULL,
            first bigint NOT NULL,
            size bigint NOT NULL,
            key text NOT NULL,
            PRIMARY KEY (upload_id, first)
        );
        CREATE TABLE artifact_commits (
            commit_id text PRIMARY KEY,
            answer jsonb NOT NULL,
            at double precision NOT NULL
        );
        """,
    ),
    (
        5,
        "garbage collection marks",
        """
        CREATE TABLE gc_marks (
            key text PRIMARY KEY,
            seen double precision NOT NULL
        );
        CREATE TABLE gc_identity (
            id text PRIMARY KEY
        );
        """,
    ),
)

LATEST = MIGRATIONS[-1][0]


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Bring the database to :data:`LATEST`; return the number of migrations applied.

    Raises StoreError when the database holds a version newer than this code knows.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS runlane_migrations ("
            "version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT version FROM runlane_migrations").fetchall()
        applied = {int(str(row[0])) for row in rows}
        unknown = sorted(v for v in applied if v > LATEST)
        if unknown:
            raise StoreError(
                f"the database has schema version {unknown[-1]}, newer than this runlane "
                f"knows ({LATEST}); upgrade runlane"
            )
        count = 0
        for version, name, sql in MIGRATIONS:
            if version in applied:
                continue
            conn.execute(sql.encode())
            conn.execute(
                "INSERT INTO runlane_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            count += 1
        return count
