//! The Standard Webhooks verifier on arbitrary headers and bodies: it must never panic, must
//! reject what it was not given a valid signature for, and must accept what the signer signs.
#![no_main]

use hookspec::signing::{Secret, Signer, Verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let verifier = Verifier::new(secret.clone());
    // Fields separated by 0xFF: id, timestamp, signature header, body.
    let mut parts = data.splitn(4, |b| *b == 0xFF);
    let id = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let ts = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let signature = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let now = 1_614_265_330;
    let header = |name: &str| match name {
        "webhook-id" => Some(id.as_str()),
        "webhook-timestamp" => Some(ts.as_str()),
        "webhook-signature" => Some(signature.as_str()),
        _ => None,
    };
    let _ = verifier.verify_at(header, body, now);

    // What the signer signs verifies.
    let signed = Signer::new(secret).sign(&id, now, body);
    let now_text = now.to_string();
    let good = |name: &str| match name {
        "webhook-id" => Some(id.as_str()),
        "webhook-timestamp" => Some(now_text.as_str()),
        "webhook-signature" => Some(signed.as_str()),
        _ => None,
    };
    // Only ids that can be an HTTP header value (visible ASCII) reach a real verifier.
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()) {
        assert!(verifier.verify_at(good, body, now).is_ok(), "a fresh signature must verify");
    }
});
