//! Tracing spans reach an OpenTelemetry exporter through `tracing-opentelemetry`, set up as
//! the README shows, with an in-memory exporter in place of OTLP.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};

use super::support::{backends, fast_config, Receiver, TENANT};
use super::{entity_changed, event, WAIT};

/// A span's attributes, as text.
fn attributes(span: &SpanData) -> HashMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()))
        .collect()
}

/// The exported spans named `name`, oldest first.
fn named(exporter: &InMemorySpanExporter, name: &str) -> Vec<HashMap<String, String>> {
    let mut spans = exporter.get_finished_spans().unwrap();
    spans.sort_by_key(|span| span.start_time);
    spans
        .iter()
        .filter(|span| span.name == name)
        .map(attributes)
        .collect()
}

/// What [`set_for_this_thread`] returns: the subscriber stays this thread's while it lives.
struct ThreadSubscriber {
    _default: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

/// Makes `subscriber` this thread's (leaving the other tests' threads alone), such that it
/// sees every call site, also one another thread hit first.
///
/// The first hit of a `tracing` call site, on any thread, caches whether a subscriber wants
/// it. While one subscriber is the only one registered, tracing-core asks only the hitting
/// thread's own. So another test's dispatcher that reached `webhook.attempt` first cached
/// "never" for every thread, and the test below saw no attempt span (in some runs of the
/// whole suite, never alone). A second registered subscriber, which wants nothing, makes
/// tracing-core ask every registered one.
fn set_for_this_thread(subscriber: impl tracing::Subscriber + Send + Sync) -> ThreadSubscriber {
    let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let default = tracing::subscriber::set_default(subscriber);
    // Call sites hit before the line above are asked again.
    tracing::callsite::rebuild_interest_cache();
    ThreadSubscriber {
        _default: default,
        _second: second,
    }
}

#[test]
fn a_thread_subscriber_sees_a_call_site_that_another_thread_hit_first() {
    #[derive(Clone, Default)]
    struct Count(Arc<AtomicUsize>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn hit() {
        let _span = tracing::info_span!("spans.test.first_hit_elsewhere").entered();
    }
    let count = Count::default();
    let _subscriber = set_for_this_thread(tracing_subscriber::registry().with(count.clone()));
    std::thread::spawn(hit).join().unwrap();
    hit();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}

// `#[tokio::test]` runs one thread, so the subscriber set for it below (for this thread only,
// leaving the other tests alone) sees the dispatcher's tasks too.
#[tokio::test]
async fn publish_claim_and_attempt_spans_reach_an_opentelemetry_exporter() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("hookspec-tests"));
    let _subscriber = set_for_this_thread(tracing_subscriber::registry().with(layer));
    let backends = backends().await;
    for backend in backends {
        let name = backend.name;
        exporter.reset();
        // The query string stands for a token some receivers put in their URL.
        let receiver = Receiver::failing_first(1).await;
        let url = format!("{}?token=hunter2", receiver.url);
        let created = backend
            .outbox
            .tenant(TENANT)
            .subscribe(hookspec::delivery::Subscription::new(&url))
            .await
            .unwrap();
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        let message = backend
            .outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "1", ""))
            .await
            .unwrap();
        receiver.wait_for(2, WAIT).await;
        let deadline = Instant::now() + WAIT;
        while named(&exporter, "webhook.attempt").len() < 2 {
            assert!(Instant::now() < deadline, "{name}: no second attempt span");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        dispatcher.shutdown().await;

        let publishes = named(&exporter, "webhook.publish");
        assert_eq!(publishes.len(), 1, "{name}: {publishes:?}");
        assert_eq!(publishes[0]["event"], "entity.changed");
        assert_eq!(publishes[0]["tenant"], TENANT);
        assert_eq!(publishes[0]["message"], message);
        assert_eq!(publishes[0]["deliveries"], "1");

        let claims = named(&exporter, "webhook.claim");
        assert!(
            claims.iter().any(|claim| claim["claimed"] == "1"),
            "{name}: {claims:?}"
        );

        let attempts = named(&exporter, "webhook.attempt");
        assert_eq!(attempts.len(), 2, "{name}: {attempts:?}");
        for (attempt, (number, status, outcome)) in attempts
            .iter()
            .zip([("1", "500", "retrying"), ("2", "200", "delivered")])
        {
            assert_eq!(attempt["event"], "entity.changed", "{name}");
            assert_eq!(attempt["message"], message);
            assert_eq!(attempt["subscription"], created.id);
            assert_eq!(attempt["attempt"], number, "{name}: {attempt:?}");
            assert_eq!(attempt["http.response.status_code"], status, "{name}");
            assert_eq!(attempt["outcome"], outcome, "{name}");
            assert!(attempt["latency_ms"].parse::<u64>().is_ok(), "{attempt:?}");
        }

        // Nothing exported names the target, its query string or the signing secret.
        let secret = created.secret.expose();
        for span in exporter.get_finished_spans().unwrap() {
            for value in attributes(&span).values() {
                assert!(!value.contains("hunter2"), "{name}: {span:?}");
                assert!(!value.contains("127.0.0.1"), "{name}: {span:?}");
                assert!(!value.contains(&secret), "{name}: {span:?}");
            }
        }
    }
}
