//! The SQLite schema and its hand-rolled, versioned migrations.
//!
//! Version `n` is `MIGRATIONS[n - 1]`; `schema_version` holds one row per
//! applied version. Migrations only ever get appended: an applied one is
//! never edited, because databases in the field already ran it.
//!
//! The SQL stays close to what PostgreSQL accepts (times are INTEGER unix
//! milliseconds, enums TEXT, partial indexes) so the next backend can reuse
//! the same shape.

use sqlx::sqlite::SqliteConnection;
use sqlx::{Row, SqlitePool};

use super::{db_error, Opened};
use crate::store::StoreError;

/// Each migration is a list of statements, run in one transaction.
const MIGRATIONS: &[&[&str]] = &[&[
    "CREATE TABLE deliveries (
        id                 INTEGER PRIMARY KEY,
        item               TEXT    NOT NULL,
        channel            TEXT    NOT NULL,
        occasion           TEXT    NOT NULL,
        state              TEXT    NOT NULL,
        hold_reason        TEXT,
        due_at             INTEGER NOT NULL,
        next_attempt_at    INTEGER,
        attempts           INTEGER NOT NULL DEFAULT 0,
        lease_expires_at   INTEGER,
        leased_from        TEXT,
        request_started_at INTEGER,
        last_error         TEXT,
        remote_id          TEXT,
        remote_url         TEXT,
        sent_at            INTEGER,
        requires_approval  INTEGER NOT NULL DEFAULT 0,
        approved           INTEGER NOT NULL DEFAULT 0,
        variant            TEXT    NOT NULL,
        fingerprint        TEXT    NOT NULL,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        UNIQUE (item, channel, occasion)
    )",
    // Planned deliveries by due time: lease_due, next_wakeup, and list by state.
    "CREATE INDEX deliveries_state_due ON deliveries (state, due_at)",
    // Partial indexes stay tiny however much history accumulates; queries
    // must repeat the literal `state = '…'` for the planner to use them.
    "CREATE INDEX deliveries_retry_due ON deliveries (next_attempt_at)
        WHERE state = 'retrying'",
    "CREATE INDEX deliveries_lease ON deliveries (lease_expires_at)
        WHERE state = 'in_flight'",
    // Covers sync_plan's read of every pending delivery's key and fingerprint.
    "CREATE INDEX deliveries_pending ON deliveries (item, channel, occasion, state, fingerprint, requires_approval)
        WHERE state IN ('planned', 'retrying', 'held')",
    // Unfiltered queue listing, and counts / channel filters.
    "CREATE INDEX deliveries_due ON deliveries (due_at)",
    "CREATE INDEX deliveries_channel_state ON deliveries (channel, state)",
    "CREATE TABLE transitions (
        id          INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
        at          INTEGER NOT NULL,
        from_state  TEXT,
        to_state    TEXT    NOT NULL,
        actor       TEXT    NOT NULL,
        reason      TEXT    NOT NULL
    )",
    "CREATE INDEX transitions_delivery ON transitions (delivery_id, id)",
    // One row per switch ever touched; `paused` says where it stands now and
    // the row keeps who last flipped it. scope is 'all' or 'channel'.
    "CREATE TABLE pauses (
        scope      TEXT    NOT NULL,
        channel    TEXT    NOT NULL DEFAULT '',
        paused     INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        actor      TEXT    NOT NULL,
        PRIMARY KEY (scope, channel)
    )",
    "CREATE TABLE channel_status (
        channel    TEXT    PRIMARY KEY,
        status     TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    )",
], &[
    // 2: mailing lists. Addresses are stored lower-cased; `email_hash` is
    // what the suppression list keeps after an erasure.
    "CREATE TABLE subscribers (
        id           INTEGER PRIMARY KEY,
        channel      TEXT    NOT NULL,
        email        TEXT    NOT NULL,
        email_hash   TEXT    NOT NULL,
        name         TEXT,
        organisation TEXT,
        status       TEXT    NOT NULL,
        created_at   INTEGER NOT NULL,
        confirmed_at INTEGER,
        bounces      INTEGER NOT NULL DEFAULT 0,
        UNIQUE (channel, email)
    )",
    "CREATE INDEX subscribers_email ON subscribers (email)",
    "CREATE TABLE consents (
        id            INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        topic         TEXT    NOT NULL,
        method        TEXT    NOT NULL,
        given_at      INTEGER NOT NULL,
        wording       TEXT    NOT NULL,
        client_addr   TEXT,
        confirmed_at  INTEGER,
        withdrawn_at  INTEGER
    )",
    "CREATE INDEX consents_subscriber ON consents (subscriber_id, topic)",
    "CREATE TABLE suppressions (
        channel    TEXT    NOT NULL,
        email_hash TEXT    NOT NULL,
        reason     TEXT    NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (channel, email_hash)
    )",
    // One row per (fan-out delivery, recipient), written after the SMTP
    // answer: the resume point of an interrupted send.
    "CREATE TABLE recipients (
        delivery_id   INTEGER NOT NULL REFERENCES deliveries (id),
        subscriber_id INTEGER NOT NULL,
        channel       TEXT    NOT NULL,
        email         TEXT    NOT NULL,
        state         TEXT    NOT NULL,
        detail        TEXT,
        attempts      INTEGER NOT NULL DEFAULT 1,
        at            INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, subscriber_id)
    )",
    "CREATE INDEX recipients_sent ON recipients (channel, at) WHERE state = 'sent'",
    "CREATE INDEX recipients_subscriber ON recipients (subscriber_id)",
], &[
    // 3: the posted parts of a thread, written as each part is accepted:
    // where a later attempt resumes, so the start is never posted twice.
    "CREATE TABLE posted_parts (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
        part        INTEGER NOT NULL,
        remote_id   TEXT,
        remote_url  TEXT,
        at          INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, part)
    )",
], &[
    // 4: an import is an event of its own, not the consent. Before this,
    // an import with `consent_at` recorded the import time as given_at and
    // the stated time as confirmed_at (consent confirmed before it was
    // given); such rows are put right: given and confirmed at the stated
    // time, imported at the time they were written.
    "ALTER TABLE consents ADD COLUMN imported_at INTEGER",
    "UPDATE consents SET imported_at = given_at WHERE method = 'import'",
    "UPDATE consents SET given_at = confirmed_at
        WHERE method = 'import' AND confirmed_at IS NOT NULL AND confirmed_at < given_at",
], &[
    // 5: when a pending subscriber was last sent a fresh confirmation
    // because they subscribed again: resends are rate-limited per address.
    "ALTER TABLE subscribers ADD COLUMN confirm_resent_at INTEGER",
], &[
    // 6: who changed which item through the API (the audit log's other half,
    // beside deliveries' transitions).
    "CREATE TABLE content_changes (
        id      INTEGER PRIMARY KEY,
        at      INTEGER NOT NULL,
        actor   TEXT    NOT NULL,
        item    TEXT    NOT NULL,
        action  TEXT    NOT NULL,
        version TEXT    NOT NULL
    )",
    "CREATE INDEX content_changes_item ON content_changes (item, at)",
    "CREATE INDEX transitions_at ON transitions (at)",
], &[
    // 7: people. Secrets (session ids, API tokens, one-time links) are
    // stored only as their SHA-256: a copy of this file opens no door.
    "CREATE TABLE accounts (
        id            INTEGER PRIMARY KEY,
        email         TEXT    NOT NULL UNIQUE,
        role          TEXT    NOT NULL,
        password_hash TEXT,
        totp_secret   TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE TABLE sessions (
        id_hash             TEXT    PRIMARY KEY,
        account_id          INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at          INTEGER NOT NULL,
        last_seen_at        INTEGER NOT NULL,
        idle_expires_at     INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL,
        id_token_hint       TEXT
    )",
    "CREATE INDEX sessions_account ON sessions (account_id)",
    "CREATE TABLE api_tokens (
        id           INTEGER PRIMARY KEY,
        name         TEXT    NOT NULL UNIQUE,
        role         TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        hash         TEXT    NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        last_used_at INTEGER,
        revoked_at   INTEGER
    )",
    "CREATE TABLE links (
        hash       TEXT    PRIMARY KEY,
        purpose    TEXT    NOT NULL,
        email      TEXT,
        payload    TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    )",
    "CREATE TABLE signin_attempts (
        key TEXT    NOT NULL,
        at  INTEGER NOT NULL
    )",
    "CREATE INDEX signin_attempts_key ON signin_attempts (key, at)",
], &[
    // 8: bounces and complaints that came back after a send (bounce
    // mailbox, provider webhooks), one row per event, keyed so the same
    // event applied twice (a crash before the mailbox was marked) changes
    // nothing; attributed to (delivery, subscriber) by the signed VERP token.
    "CREATE TABLE bounce_events (
        channel       TEXT    NOT NULL,
        event_key     TEXT    NOT NULL,
        delivery_id   INTEGER NOT NULL,
        subscriber_id INTEGER NOT NULL,
        kind          TEXT    NOT NULL,
        source        TEXT    NOT NULL,
        status        TEXT,
        detail        TEXT,
        at            INTEGER NOT NULL,
        PRIMARY KEY (channel, event_key)
    )",
    "CREATE INDEX bounce_events_subscriber ON bounce_events (subscriber_id, kind, at)",
], &[
    // 9: digests. A person's choice to take a topic as a daily or weekly
    // digest instead of item by item; no row is every item. The digests
    // themselves are deliveries like any other.
    "CREATE TABLE digest_choices (
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        topic         TEXT    NOT NULL,
        cadence       TEXT    NOT NULL,
        chosen_at     INTEGER NOT NULL,
        PRIMARY KEY (subscriber_id, topic)
    )",
], &[
    // 10: review links for someone outside the team (issue #11 item 8) and
    // each view of them. Only the link secret's SHA-256 is kept. A view keeps its time and a short client
    // label, no address: the audit log records who, never from where.
    "CREATE TABLE review_links (
        id         INTEGER PRIMARY KEY,
        item       TEXT    NOT NULL,
        token_hash TEXT    NOT NULL UNIQUE,
        label      TEXT    NOT NULL,
        created_by TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER,
        revoked_by TEXT
    )",
    "CREATE INDEX review_links_item ON review_links (item, id)",
    "CREATE TABLE review_views (
        link_id INTEGER NOT NULL REFERENCES review_links (id),
        at      INTEGER NOT NULL,
        client  TEXT    NOT NULL
    )",
    "CREATE INDEX review_views_link ON review_views (link_id, at)",
], &[
    // 11: an item's earlier versions when campaigns/ is not kept in git. Each
    // content change keeps its file and the entry's TOML text before and
    // after, the reason given, and why git did not record the save when
    // `[console] git_commit` is on and the commit failed. Rows from before
    // have no text: their versions say so.
    "ALTER TABLE content_changes ADD COLUMN file TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE content_changes ADD COLUMN before_text TEXT",
    "ALTER TABLE content_changes ADD COLUMN after_text TEXT",
    "ALTER TABLE content_changes ADD COLUMN reason TEXT",
    "ALTER TABLE content_changes ADD COLUMN not_in_git TEXT",
], &[
    // 12: the console's reads. A calendar filtered by channel reads one
    // channel's month in due order (by (channel, state) it sorted every
    // row the channel ever had); the approvals list reads what awaits
    // approval in due order (a handful of rows, not every pending one
    // sorted). Queries repeat the partial index's terms literally.
    "CREATE INDEX deliveries_channel_due ON deliveries (channel, due_at)",
    "CREATE INDEX deliveries_awaiting ON deliveries (requires_approval, approved, due_at)
        WHERE state IN ('planned', 'retrying', 'held')",
], &[
    // 13: the calendar counts a range of days by state and finds clashes
    // (`sqlite/calendar.rs`) from the index alone: by due time alone, a busy
    // month's 44,000 rows cost a table read each (78 ms for the counts, 110
    // for the clashes; 21 and 14 from this index). The due index stays:
    // a listing's order is (due_at, id), which it gives without a sort.
    "CREATE INDEX deliveries_calendar ON deliveries
        (due_at, channel, item, state, hold_reason, requires_approval, approved)",
], &[
    // 14: what each (item, channel) variant was rendered from, so a start
    // with unchanged content renders nothing (`store::renders`). The
    // variant itself is its `at` delivery's; `fingerprint` says which one.
    "CREATE TABLE rendered (
        item        TEXT NOT NULL,
        channel     TEXT NOT NULL,
        source      TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (item, channel)
    ) WITHOUT ROWID",
], &[
    // 15: a feed is rebuilt from its channel's newest sends
    // (`ChannelStore::sent_latest`): by (channel, due_at) that read and
    // sorted every row the channel ever had (2.8 s at 120,948 sent). Only
    // sent rows, walked backwards from the channel's newest.
    "CREATE INDEX deliveries_sent_latest ON deliveries (channel, sent_at, id)
        WHERE state = 'sent'",
], &[
    // 16: the hash state after each recorded variant's JSON, so a start
    // plans unchanged pairs without reading a million variants back
    // (`variants::Render::saved_state`). Records from before have none
    // and are rendered once more.
    "ALTER TABLE rendered ADD COLUMN state BLOB",
]];

/// The schema version this build writes.
pub(super) const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`CURRENT`], refusing databases that are newer
/// than this build or that belong to something else.
pub(super) async fn migrate(pool: &SqlitePool, opened: &Opened) -> Result<(), StoreError> {
    // IMMEDIATE: two daemons starting at once must not both migrate.
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| opened.error(e))?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(|e| opened.error(e))?;
    let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| opened.error(e))?;

    if version > CURRENT {
        return Err(StoreError::Open {
            path: opened.path.clone(),
            reason: format!(
                "its schema version is {version}, newer than this crier understands ({CURRENT}); \
                 upgrade crier"
            ),
        });
    }
    if version == 0 {
        refuse_foreign(&mut tx, opened).await?;
    }
    for (i, statements) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        for sql in *statements {
            sqlx::query(*sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| opened.error(e))?;
        }
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await
            .map_err(|e| opened.error(e))?;
    }
    tx.commit().await.map_err(|e| opened.error(e))
}

/// A SQLite file with someone else's tables and no version is not ours:
/// adding crier's tables to it would hide a wrong `data_dir`.
async fn refuse_foreign(conn: &mut SqliteConnection, opened: &Opened) -> Result<(), StoreError> {
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master
         WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version'
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| row.try_get::<String, _>(0))
    .collect::<Result<_, _>>()
    .map_err(db_error)?;
    if tables.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "{} is a SQLite database but not crier's (it has tables {})",
            opened.path,
            tables.join(", ")
        )))
    }
}
