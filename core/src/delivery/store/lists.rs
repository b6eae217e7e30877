//! Lists bound as one JSON parameter, so that a statement has one text whatever the number of
//! values and is prepared once, and the statements that record a batch of successes.

use sqlx::postgres::PgPool;

use super::{Finished, Job, Outcome, Pool};
use crate::delivery::OutboxError;

/// The common case on PostgreSQL, a batch of successes only, as one statement: one round
/// trip, atomic by itself. What it writes is what [`SuccessBatch`] writes in three.
pub(super) async fn finish_successes_on_postgres(
    pool: &PgPool,
    owner: &str,
    results: &[(Job, Outcome)],
) -> Result<Vec<Finished>, OutboxError> {
    const SQL: &str = "WITH done AS ( \
          DELETE FROM hookspec_deliveries WHERE lease_owner = $1 AND status = 'pending' \
            AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($2::jsonb))) \
          RETURNING id, subscription_id), \
        logged AS ( \
          INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at, \
            status_code, error, latency_ms, response_excerpt) \
          SELECT CAST(value->>0 AS BIGINT), value->>1, value->>2, CAST(value->>3 AS BIGINT), \
            CAST(value->>4 AS BIGINT), value->>5, CAST(value->>6 AS BIGINT), value->>7 \
          FROM jsonb_array_elements($3::jsonb) WHERE CAST(value->>0 AS BIGINT) IN (SELECT id FROM done)), \
        cleared AS ( \
          UPDATE hookspec_subscriptions SET failing_since = NULL \
          WHERE failing_since IS NOT NULL AND id IN (SELECT subscription_id FROM done)) \
        SELECT id FROM done";
    let all: Vec<usize> = (0..results.len()).collect();
    let Some(batch) = SuccessBatch::new(results, &all)? else {
        return Ok(Vec::new());
    };
    let (attempts, _) = SuccessBatch::rows(results, &all)?;
    let updated: std::collections::HashSet<i64> = sqlx::query_scalar(SQL)
        .bind(owner)
        .bind(&batch.deliveries)
        .bind(attempts)
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    Ok(results
        .iter()
        .map(|(job, _)| Finished {
            recorded: updated.contains(&job.delivery),
            disabled: false,
        })
        .collect())
}

impl Pool {
    /// A table of the values of the JSON array bound at `$n`, one row each in a column named
    /// `value`. Lists travel as one JSON parameter so that a statement has one text whatever
    /// the number of values, and is prepared once and then reused from the cache.
    pub(super) fn json_values(&self, n: usize) -> String {
        match self {
            Pool::Sqlite(_) => format!("json_each(${n})"),
            Pool::Postgres(_) => format!("jsonb_array_elements_text(${n}::jsonb)"),
        }
    }

    /// `column` is one of the ids in the JSON array bound at `$n`, written so that each id
    /// is looked up by key. Without it both planners may prefer the index of pending
    /// deliveries, as a statement also asks for `status = 'pending'`, and read every pending row.
    pub(super) fn key_in(&self, column: &str, n: usize) -> String {
        let ids = format!("SELECT CAST(value AS BIGINT) FROM {}", self.json_values(n));
        match self {
            Pool::Sqlite(_) => format!("{column} IN ({ids})"),
            Pool::Postgres(_) => format!("{column} = ANY(ARRAY({ids}))"),
        }
    }

    /// After a table's name: on SQLite, read it by key only (see [`key_in`](Self::key_in)).
    pub(super) fn by_key(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => " NOT INDEXED",
            Pool::Postgres(_) => "",
        }
    }

    /// Like [`json_values`](Self::json_values), for an array of arrays read with `value->>i`.
    pub(super) fn json_rows(&self, n: usize) -> String {
        match self {
            Pool::Sqlite(_) => format!("json_each(${n})"),
            Pool::Postgres(_) => format!("jsonb_array_elements(${n}::jsonb)"),
        }
    }
}

/// The three statements that record a batch of successful attempts, and their parameters.
pub(super) struct SuccessBatch {
    pub(super) deliveries: String,
}

impl SuccessBatch {
    pub(super) fn new(
        results: &[(Job, Outcome)],
        successes: &[usize],
    ) -> Result<Option<SuccessBatch>, OutboxError> {
        if successes.is_empty() {
            return Ok(None);
        }
        let deliveries: Vec<i64> = successes.iter().map(|i| results[*i].0.delivery).collect();
        Ok(Some(SuccessBatch {
            deliveries: serde_json::to_string(&deliveries)?,
        }))
    }

    /// The three statements, in order: delete the deliveries (`$1` owner, `$2` their ids),
    /// insert the attempts (`$1` [`rows`](Self::rows)' first), clear the subscriptions'
    /// failure (`$1` its second). A delivered delivery is deleted (see migration 3).
    pub(super) fn statements(pool: &Pool) -> [String; 3] {
        let int = |i: usize| format!("CAST(value->>{i} AS BIGINT)");
        [
            format!(
                "DELETE FROM hookspec_deliveries{} WHERE lease_owner = $1 AND status = 'pending' \
                 AND {} RETURNING id",
                pool.by_key(),
                pool.key_in("id", 2)
            ),
            format!(
                "INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at, \
                   status_code, error, latency_ms, response_excerpt) \
                 SELECT {}, value->>1, value->>2, {}, {}, value->>5, {}, value->>7 FROM {}",
                int(0),
                int(3),
                int(4),
                int(6),
                pool.json_rows(1)
            ),
            format!(
                "UPDATE hookspec_subscriptions SET failing_since = NULL \
                 WHERE failing_since IS NOT NULL AND id IN (SELECT value FROM {})",
                pool.json_values(1)
            ),
        ]
    }

    /// The attempts to insert and the subscriptions that stop failing, as JSON parameters.
    pub(super) fn rows(
        results: &[(Job, Outcome)],
        recorded: &[usize],
    ) -> Result<(String, String), OutboxError> {
        let attempts: Vec<_> = recorded
            .iter()
            .map(|i| {
                let (job, o) = &results[*i];
                (
                    job.delivery,
                    &job.message_id,
                    &job.subscription_id,
                    o.attempted_at,
                    o.status_code,
                    o.error.as_deref(),
                    o.latency_ms,
                    o.excerpt.as_deref(),
                )
            })
            .collect();
        let subscriptions: std::collections::BTreeSet<&str> = recorded
            .iter()
            .map(|i| results[*i].0.subscription_id.as_str())
            .collect();
        Ok((
            serde_json::to_string(&attempts)?,
            serde_json::to_string(&subscriptions)?,
        ))
    }
}
