//! Recording a batch of outcomes whose transaction fails. One outcome the database refuses
//! must not leave the others unrecorded: their deliveries would be sent again when their
//! leases expire, land in another batch with the same outcome, and fail it again, forever.

use super::{Backend, Finished, Job, Outcome};
use crate::delivery::OutboxError;

/// What is recorded, for an outcome the database refuses even alone, in place of its error.
const UNRECORDABLE: &str = "the attempt's error could not be recorded";

impl Backend {
    /// Records `results` like [`finish`](Backend::finish), in one transaction when it can. When
    /// that fails for a reason other than the connection, each half is recorded apart, down to
    /// single outcomes; a single outcome refused even then is recorded once more without what
    /// the receiver sent (its excerpt and error), which may strip `results`. `None` for an
    /// outcome left unrecorded (logged here): its delivery is tried again after its lease.
    pub(crate) async fn finish_apart(
        &self,
        owner: &str,
        results: &mut [(Job, Outcome)],
    ) -> Vec<Option<Finished>> {
        let mut finished = vec![None; results.len()];
        // Ranges of `results` to record, and whether the one outcome in it was stripped.
        let mut todo = vec![(0, results.len(), false)];
        while let Some((start, end, stripped)) = todo.pop() {
            if start == end {
                continue;
            }
            let error = match self.finish(owner, &results[start..end]).await {
                Ok(done) => {
                    for (slot, done) in finished[start..end].iter_mut().zip(done) {
                        *slot = Some(done);
                    }
                    continue;
                }
                Err(error) => error,
            };
            let attempts = end - start;
            if !about_the_data(&error) || stripped {
                tracing::error!(error = %error, attempts, "recording attempts failed; their deliveries will be retried when the leases expire");
            } else if attempts > 1 {
                tracing::warn!(error = %error, attempts, "recording a batch of attempts failed; recording its halves apart");
                let middle = start + attempts / 2;
                todo.push((middle, end, false));
                todo.push((start, middle, false));
            } else {
                let outcome = &mut results[start].1;
                tracing::warn!(error = %error, delivery = results[start].0.delivery, "recording an attempt failed; recording it without the response");
                outcome.excerpt = None;
                outcome.error = outcome.error.as_ref().map(|_| UNRECORDABLE.to_owned());
                todo.push((start, end, true));
            }
        }
        finished
    }
}

/// Whether the database refused what was written (worth recording apart), rather than being
/// out of reach (where each part would fail the same way, after the same wait).
fn about_the_data(error: &OutboxError) -> bool {
    !matches!(
        error,
        OutboxError::Database(
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::clock::now_ms;
    use crate::delivery::store::{Next, Store};

    const OWNER: &str = "dispatcher_test";

    /// A poisoned excerpt: PostgreSQL refuses its NUL; on SQLite, which stores it, a trigger
    /// refuses it. A status of 599 is refused on both, whatever else the attempt carries.
    const POISON: &str = "poison\0";

    async fn poisoned_sqlite() -> Backend {
        let dir = std::env::temp_dir().join(format!("hookspec-split-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = Backend::sqlite(&format!("sqlite://{}", dir.join("outbox.db").display()))
            .await
            .unwrap();
        let Backend::Sqlite(store) = &pool else {
            unreachable!()
        };
        sqlx::raw_sql(
            "CREATE TRIGGER poison BEFORE INSERT ON hookspec_attempts \
             WHEN NEW.response_excerpt LIKE 'poison%' OR NEW.status_code = 599 \
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .execute(store.pool())
        .await
        .unwrap();
        pool
    }

    /// A fresh database on the test PostgreSQL server, if it is reachable, and its URL.
    async fn poisoned_postgres() -> Option<(Backend, String)> {
        let url = crate::delivery::store::postgres::scratch_database("split").await?;
        let (_, pool) = Backend::postgres(url.as_str()).await.unwrap();
        let Backend::Postgres(store) = &pool else {
            unreachable!()
        };
        sqlx::raw_sql(
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
               IF NEW.status_code = 599 THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; \
             END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON hookspec_attempts \
             FOR EACH ROW EXECUTE FUNCTION poison();",
        )
        .execute(store.pool())
        .await
        .unwrap();
        Some((pool, url))
    }

    /// `n` deliveries of one message, claimed by `OWNER`.
    async fn claimed(pool: &Backend, n: usize) -> Vec<Job> {
        let now = now_ms();
        execute(
            pool,
            "INSERT INTO hookspec_subscriptions (id, url, events, secrets, created_at, updated_at) \
             VALUES ('sub_1', 'http://127.0.0.1:9/', '[]', '[]', $1, $1)",
            now,
        )
        .await;
        execute(
            pool,
            "INSERT INTO hookspec_messages (id, event, method, payload, created_at) \
             VALUES ('msg_1', 'e', 'POST', '{}', $1)",
            now,
        )
        .await;
        for _ in 0..n {
            execute(
                pool,
                "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
                 VALUES ('msg_1', 'sub_1', 'pending', $1, $1)",
                now - 1,
            )
            .await;
        }
        let limit = i64::try_from(n).unwrap();
        let jobs = pool
            .claim(OWNER, now, now + 60_000, limit, &[], 0)
            .await
            .unwrap();
        assert_eq!(jobs.len(), n);
        jobs
    }

    fn outcome(next: Next, status: i64, excerpt: &str) -> Outcome {
        Outcome {
            attempted_at: now_ms(),
            status_code: Some(status),
            error: (next != Next::Delivered).then(|| "refused".to_owned()),
            latency_ms: 1,
            excerpt: Some(excerpt.to_owned()),
            next,
            disable: None,
            failing_cutoff: None,
        }
    }

    /// The excerpts of the attempts logged, by delivery.
    async fn logged(pool: &Backend) -> Vec<(i64, Option<String>)> {
        let sql =
            "SELECT delivery_id, response_excerpt FROM hookspec_attempts ORDER BY delivery_id";
        match pool {
            Backend::Sqlite(s) => sqlx::query_as(sql).fetch_all(s.pool()).await.unwrap(),
            Backend::Postgres(s) => sqlx::query_as(sql).fetch_all(s.pool()).await.unwrap(),
        }
    }

    /// Runs `sql` with `$1` bound to `value`, on either backend.
    async fn execute(pool: &Backend, sql: &'static str, value: i64) {
        match pool {
            Backend::Sqlite(s) => drop(
                sqlx::query(sql)
                    .bind(value)
                    .execute(s.pool())
                    .await
                    .unwrap(),
            ),
            Backend::Postgres(s) => drop(
                sqlx::query(sql)
                    .bind(value)
                    .execute(s.pool())
                    .await
                    .unwrap(),
            ),
        }
    }

    async fn one_refused_outcome_leaves_the_others_recorded(pool: Backend) {
        let jobs = claimed(&pool, 8).await;
        let delivered = |excerpt| outcome(Next::Delivered, 200, excerpt);
        let mut results: Vec<(Job, Outcome)> = jobs
            .into_iter()
            .enumerate()
            .map(|(i, job)| match i {
                2 => (job, delivered(POISON)),
                5 => (job, delivered("fine")),
                6 => (job, outcome(Next::RetryAt(now_ms() + 60_000), 599, "never")),
                7 => (job, outcome(Next::RetryAt(now_ms() + 60_000), 500, POISON)),
                _ => (job, delivered("ok")),
            })
            .collect();
        let ids: Vec<i64> = results.iter().map(|(job, _)| job.delivery).collect();
        // The batch fails whole: the poisoned outcomes are in it.
        assert!(pool.finish(OWNER, &results).await.is_err());
        let finished = pool.finish_apart(OWNER, &mut results).await;
        let recorded = Some(Finished {
            recorded: true,
            disabled: false,
        });
        for (i, finished) in finished.iter().enumerate() {
            let expected = if i == 6 { None } else { recorded };
            assert_eq!(*finished, expected, "outcome {i}");
        }
        // Stripped of the poisoned excerpt, and of the error that came with it.
        assert_eq!(results[2].1.excerpt, None);
        assert_eq!(results[7].1.error.as_deref(), Some(UNRECORDABLE));
        assert_eq!(results[5].1.excerpt.as_deref(), Some("fine"));
        let expected: Vec<(i64, Option<String>)> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 6)
            .map(|(i, id)| {
                let excerpt = match i {
                    2 | 7 => None,
                    5 => Some("fine".to_owned()),
                    _ => Some("ok".to_owned()),
                };
                (*id, excerpt)
            })
            .collect();
        assert_eq!(logged(&pool).await, expected);
    }

    #[tokio::test]
    async fn one_refused_outcome_leaves_the_others_recorded_on_sqlite() {
        one_refused_outcome_leaves_the_others_recorded(poisoned_sqlite().await).await;
    }

    #[tokio::test]
    async fn one_refused_outcome_leaves_the_others_recorded_on_postgres() {
        if let Some((pool, url)) = poisoned_postgres().await {
            one_refused_outcome_leaves_the_others_recorded(pool).await;
            crate::delivery::store::postgres::drop_scratch_database(&url).await;
        }
    }
}
