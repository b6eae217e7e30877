use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::{Rng, RngExt};

use super::*;

/// A delivery's three headers, looked up the way a web framework would.
#[derive(Clone)]
struct Headers(HashMap<&'static str, String>);

impl Headers {
    fn new(msg_id: &str, timestamp: impl ToString, signature: &str) -> Headers {
        Headers(HashMap::from([
            (HEADER_ID, msg_id.to_owned()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (HEADER_SIGNATURE, signature.to_owned()),
        ]))
    }

    fn with(mut self, name: &'static str, value: &str) -> Headers {
        self.0.insert(name, value.to_owned());
        self
    }

    fn without(mut self, name: &'static str) -> Headers {
        self.0.remove(name);
        self
    }

    fn verify_at(&self, verifier: &Verifier, body: &[u8], now: i64) -> Result<(), VerifyError> {
        verifier.verify_at(|name| self.0.get(name).map(String::as_str), body, now)
    }
}

fn secret(text: &str) -> Secret {
    Secret::parse(text).unwrap()
}

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

const BODY: &[u8] = br#"{"type":"invoice.paid","data":{"id":"inv_1"}}"#;
const MSG_ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const TIMESTAMP: i64 = 1_674_087_231;

// ---------------------------------------------------------------------------------------------
// Published test vectors. Each is checked both ways: signing reproduces it, and verifying
// accepts it.

struct Vector {
    key: &'static str,
    msg_id: &'static str,
    timestamp: i64,
    body: &'static [u8],
    signature: &'static str,
}

/// From the Standard Webhooks repository, `libraries/go/webhook_symmetric_test.go`,
/// `TestSymmetricWebhookSign`. It is not in the `standardwebhooks` crate's own tests; it is in the
/// Go tests, which were read to confirm every field, and the same values recur in other
/// implementations' tests that cite the spec.
const SPEC_HMAC_VECTOR: Vector = Vector {
    key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    msg_id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1_614_265_330,
    body: br#"{"test": 2432232314}"#,
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

/// From the `standardwebhooks` crate 1.0.1 (the spec's Rust library), `src/lib.rs`, test
/// `test_sign`.
const CRATE_HMAC_VECTOR: Vector = Vector {
    key: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    msg_id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
    timestamp: 1_649_367_553,
    body: br#"{"email":"test@example.com","username":"test_user"}"#,
    signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
};

/// From the Standard Webhooks repository, `libraries/go/webhook_asymmetric_test.go`,
/// `TestAsymmetricWebhookSign`. The Go library takes the key without its prefix (it strips an
/// optional `whsk_`) and reads it as a 32-byte ed25519 seed; ed25519 signatures are
/// deterministic, so the signature must match byte for byte.
const SPEC_ED25519_VECTOR: Vector = Vector {
    key: "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
    msg_id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1_614_265_330,
    body: br#"{"test": 2432232314}"#,
    signature: "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==",
};

fn vector_headers(vector: &Vector) -> Headers {
    Headers::new(vector.msg_id, vector.timestamp, vector.signature)
}

#[test]
fn hmac_vectors_sign_and_verify() {
    for vector in [SPEC_HMAC_VECTOR, CRATE_HMAC_VECTOR] {
        let signer = Signer::new(secret(vector.key));
        let signature = signer.sign(vector.msg_id, vector.timestamp, vector.body);
        assert_eq!(signature, vector.signature);

        let verifier = Verifier::new(secret(vector.key));
        let headers = vector_headers(&vector);
        assert_eq!(
            headers.verify_at(&verifier, vector.body, vector.timestamp),
            Ok(())
        );
    }
}

#[test]
fn ed25519_vector_signs_and_verifies() {
    let vector = SPEC_ED25519_VECTOR;
    let key = SigningKey::parse(vector.key).unwrap();
    let signature =
        Signer::from_key(key.clone()).sign(vector.msg_id, vector.timestamp, vector.body);
    assert_eq!(signature, vector.signature);

    let verifier = Verifier::from_public_key(key.public_key());
    let headers = vector_headers(&vector);
    assert_eq!(
        headers.verify_at(&verifier, vector.body, vector.timestamp),
        Ok(())
    );
}

#[test]
fn vectors_fail_when_anything_changes() {
    let vector = SPEC_HMAC_VECTOR;
    let verifier = Verifier::new(secret(vector.key));
    let at = vector.timestamp;
    let headers = vector_headers(&vector);
    let rejected = Err(VerifyError::NoValidSignature);

    assert_eq!(
        headers.verify_at(&verifier, br#"{"test": 2432232315}"#, at),
        rejected
    );
    let other_id = headers
        .clone()
        .with(HEADER_ID, "msg_p5jXN8AQM9LWM0D4loKWxJel");
    assert_eq!(other_id.verify_at(&verifier, vector.body, at), rejected);
    let other_time = headers.clone().with(HEADER_TIMESTAMP, "1614265331");
    assert_eq!(other_time.verify_at(&verifier, vector.body, at), rejected);
    let other_secret = Verifier::new(secret(CRATE_HMAC_VECTOR.key));
    assert_eq!(headers.verify_at(&other_secret, vector.body, at), rejected);
}

// ---------------------------------------------------------------------------------------------
// Interoperability with the `standardwebhooks` crate.

/// Runs the crate's verifier. It takes an `http::HeaderMap`, and `http` is not a dependency of
/// ours; the type is taken from the crate's own signature instead of being named.
fn crate_verify(
    webhook: &standardwebhooks::Webhook,
    body: &[u8],
    headers: &Headers,
) -> Result<(), standardwebhooks::WebhookError> {
    fn empty_map_for<M: Default>(
        _: fn(&standardwebhooks::Webhook, &[u8], &M) -> Result<(), standardwebhooks::WebhookError>,
    ) -> M {
        M::default()
    }
    let mut map = empty_map_for(standardwebhooks::Webhook::verify);
    for (&name, value) in &headers.0 {
        map.insert(name, value.parse().unwrap());
    }
    webhook.verify(body, &map)
}

#[test]
fn what_signer_signs_verifies_with_the_crate() {
    let secret = Secret::generate();
    let webhook = standardwebhooks::Webhook::new(&secret.expose()).unwrap();
    let timestamp = now();
    let signature = Signer::new(secret).sign(MSG_ID, timestamp, BODY);

    let headers = Headers::new(MSG_ID, timestamp, &signature);
    crate_verify(&webhook, BODY, &headers).unwrap();
    assert!(crate_verify(&webhook, b"{}", &headers).is_err());
    assert_eq!(webhook.sign(MSG_ID, timestamp, BODY).unwrap(), signature);
}

#[test]
fn what_the_crate_signs_verifies_with_verifier() {
    let secret = Secret::generate();
    let webhook = standardwebhooks::Webhook::new(&secret.expose()).unwrap();
    let verifier = Verifier::new(secret);

    let timestamp = now();
    let signature = webhook.sign(MSG_ID, timestamp, BODY).unwrap();
    let headers = Headers::new(MSG_ID, timestamp, &signature);
    // `verify` reads the system clock, as a real receiver would.
    assert_eq!(
        verifier.verify(|name| headers.0.get(name).map(String::as_str), BODY),
        Ok(())
    );
    assert_eq!(
        verifier.verify(|name| headers.0.get(name).map(String::as_str), b"{}"),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn the_crate_accepts_a_rotation_header_with_v1a_entries_in_it() {
    // Receivers on the crate know only `v1`; the `v1a` entry next to it must not bother them.
    let (old, new) = (Secret::generate(), Secret::generate());
    let signer = Signer::new(old.clone())
        .with_secret(new.clone())
        .with_key(SigningKey::generate());
    let timestamp = now();
    let headers = Headers::new(MSG_ID, timestamp, &signer.sign(MSG_ID, timestamp, BODY));
    for secret in [old, new] {
        let webhook = standardwebhooks::Webhook::new(&secret.expose()).unwrap();
        crate_verify(&webhook, BODY, &headers).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation and mixed schemes.

#[test]
fn rotation_either_secret_verifies_and_an_unrelated_one_does_not() {
    let (old, new, unrelated) = (Secret::generate(), Secret::generate(), Secret::generate());
    let signer = Signer::new(old.clone()).with_secret(new.clone());
    let signature = signer.sign(MSG_ID, TIMESTAMP, BODY);
    assert_eq!(signature.split(' ').count(), 2);
    let headers = Headers::new(MSG_ID, TIMESTAMP, &signature);

    for verifier in [
        Verifier::new(old.clone()),
        Verifier::new(new.clone()),
        Verifier::new(unrelated.clone()).with_secret(new),
    ] {
        assert_eq!(headers.verify_at(&verifier, BODY, TIMESTAMP), Ok(()));
    }
    assert_eq!(
        headers.verify_at(&Verifier::new(unrelated), BODY, TIMESTAMP),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn signatures_come_in_the_documented_order() {
    let (first, second) = (Secret::generate(), Secret::generate());
    let key = SigningKey::generate();
    let signature = Signer::from_key(key.clone())
        .with_secret(first.clone())
        .with_secret(second.clone())
        .sign(MSG_ID, TIMESTAMP, BODY);
    let expected = [
        Signer::new(first).sign(MSG_ID, TIMESTAMP, BODY),
        Signer::new(second).sign(MSG_ID, TIMESTAMP, BODY),
        Signer::from_key(key).sign(MSG_ID, TIMESTAMP, BODY),
    ];
    assert_eq!(signature, expected.join(" "));
}

#[test]
fn a_mixed_header_verifies_with_either_kind_of_key() {
    let (secret, key) = (Secret::generate(), SigningKey::generate());
    let signer = Signer::new(secret.clone()).with_key(key.clone());
    let headers = Headers::new(MSG_ID, TIMESTAMP, &signer.sign(MSG_ID, TIMESTAMP, BODY));

    let by_secret = Verifier::new(secret);
    let by_key = Verifier::from_public_key(key.public_key());
    let by_other_key = Verifier::from_public_key(SigningKey::generate().public_key());
    assert_eq!(headers.verify_at(&by_secret, BODY, TIMESTAMP), Ok(()));
    assert_eq!(headers.verify_at(&by_key, BODY, TIMESTAMP), Ok(()));
    assert_eq!(
        headers.verify_at(&by_other_key, BODY, TIMESTAMP),
        Err(VerifyError::NoValidSignature)
    );
}

// ---------------------------------------------------------------------------------------------
// v1a (ed25519).

#[test]
fn v1a_signs_with_the_key_and_verifies_with_its_public_key() {
    let key = SigningKey::generate();
    let signature = Signer::from_key(key.clone()).sign(MSG_ID, TIMESTAMP, BODY);
    assert!(signature.starts_with("v1a,"));
    let headers = Headers::new(MSG_ID, TIMESTAMP, &signature);

    let verifier = Verifier::new(Secret::generate()).with_public_key(key.public_key());
    assert_eq!(headers.verify_at(&verifier, BODY, TIMESTAMP), Ok(()));
    assert_eq!(
        headers.verify_at(
            &verifier,
            br#"{"type":"invoice.paid","data":{"id":"inv_2"}}"#,
            TIMESTAMP
        ),
        Err(VerifyError::NoValidSignature)
    );
    // A verifier with only HMAC secrets has nothing to check a `v1a` entry with.
    assert_eq!(
        headers.verify_at(&Verifier::new(Secret::generate()), BODY, TIMESTAMP),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn v1a_signature_relabelled_as_v1_is_rejected() {
    let key = SigningKey::generate();
    let signature = Signer::from_key(key.clone()).sign(MSG_ID, TIMESTAMP, BODY);
    let relabelled = signature.replacen("v1a,", "v1,", 1);
    let headers = Headers::new(MSG_ID, TIMESTAMP, &relabelled);
    let verifier = Verifier::from_public_key(key.public_key());
    assert_eq!(
        headers.verify_at(&verifier, BODY, TIMESTAMP),
        Err(VerifyError::NoValidSignature)
    );
}

#[test]
fn key_texts_round_trip() {
    let key = SigningKey::generate();
    let exposed = key.expose();
    assert!(exposed.starts_with("whsk_"));
    assert_eq!(STANDARD.decode(&exposed[5..]).unwrap().len(), 32);
    assert_eq!(SigningKey::parse(&exposed).unwrap(), key);
    assert_eq!(exposed.parse::<SigningKey>().unwrap(), key);

    let public = key.public_key();
    let text = public.to_string();
    assert!(text.starts_with("whpk_"));
    assert_eq!(STANDARD.decode(&text[5..]).unwrap().len(), 32);
    assert_eq!(PublicKey::parse(&text).unwrap(), public);
    assert_eq!(text.parse::<PublicKey>().unwrap(), public);

    let secret = Secret::generate();
    assert_eq!(STANDARD.decode(&secret.expose()[6..]).unwrap().len(), 32);
    assert_eq!(Secret::parse(&secret.expose()).unwrap(), secret);
    assert_eq!(secret.expose().parse::<Secret>().unwrap(), secret);
    assert_ne!(Secret::generate(), secret);
}

#[test]
fn signing_key_accepts_the_64_byte_seed_and_public_key_form() {
    let key = SigningKey::generate();
    let seed = STANDARD.decode(&key.expose()[5..]).unwrap();
    let public = STANDARD.decode(&key.public_key().to_string()[5..]).unwrap();

    let pair = format!(
        "whsk_{}",
        STANDARD.encode([seed.as_slice(), &public].concat())
    );
    assert_eq!(SigningKey::parse(&pair).unwrap(), key);

    let other_public = STANDARD.decode(&SigningKey::generate().public_key().to_string()[5..]);
    let mismatched = [seed, other_public.unwrap()].concat();
    assert_eq!(
        SigningKey::parse(&format!("whsk_{}", STANDARD.encode(mismatched))),
        Err(SigningError::InvalidKey { prefix: "whsk_" })
    );
}

#[test]
fn key_parse_errors() {
    let b64 = |len: usize| STANDARD.encode(vec![7u8; len]);

    assert_eq!(
        SigningKey::parse(&format!("whpk_{}", b64(32))),
        Err(SigningError::BadPrefix { expected: "whsk_" })
    );
    assert_eq!(
        SigningKey::parse(&format!("whsk_{}", b64(33))),
        Err(SigningError::BadLength {
            prefix: "whsk_",
            expected: "32 or 64",
            actual: 33
        })
    );
    assert_eq!(
        PublicKey::parse(&SigningKey::generate().expose()),
        Err(SigningError::BadPrefix { expected: "whpk_" })
    );
    assert_eq!(
        PublicKey::parse("whpk_abc"),
        Err(SigningError::BadBase64 { prefix: "whpk_" })
    );
    assert_eq!(
        PublicKey::parse(&format!("whpk_{}", b64(31))),
        Err(SigningError::BadLength {
            prefix: "whpk_",
            expected: "32",
            actual: 31
        })
    );
    // The identity point (y = 1) and a point of order 4 (y = 0): weak keys, refused.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    for weak in [identity, [0u8; 32]] {
        assert_eq!(
            PublicKey::parse(&format!("whpk_{}", STANDARD.encode(weak))),
            Err(SigningError::InvalidKey { prefix: "whpk_" })
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamps.

#[test]
fn timestamp_tolerance_in_both_directions() {
    let secret = Secret::generate();
    let verifier = Verifier::new(secret.clone());
    let signer = Signer::new(secret);
    let at = |timestamp: i64| {
        let headers = Headers::new(MSG_ID, timestamp, &signer.sign(MSG_ID, timestamp, BODY));
        headers.verify_at(&verifier, BODY, TIMESTAMP)
    };

    assert_eq!(at(TIMESTAMP), Ok(()));
    assert_eq!(at(TIMESTAMP - 300), Ok(()));
    assert_eq!(at(TIMESTAMP + 300), Ok(()));
    assert_eq!(at(TIMESTAMP - 301), Err(VerifyError::TimestampTooOld));
    assert_eq!(at(TIMESTAMP + 301), Err(VerifyError::TimestampTooNew));
    assert_eq!(at(0), Err(VerifyError::TimestampTooOld));
}

#[test]
fn custom_tolerance() {
    let secret = Secret::generate();
    let verifier = Verifier::new(secret.clone()).tolerance(Duration::from_secs(10));
    let timestamp = TIMESTAMP - 11;
    let signature = Signer::new(secret).sign(MSG_ID, timestamp, BODY);
    let headers = Headers::new(MSG_ID, timestamp, &signature);

    assert_eq!(
        headers.verify_at(&verifier, BODY, TIMESTAMP),
        Err(VerifyError::TimestampTooOld)
    );
    assert_eq!(headers.verify_at(&verifier, BODY, TIMESTAMP - 1), Ok(()));
    assert_eq!(
        headers.verify_at(&verifier, BODY, TIMESTAMP - 22),
        Err(VerifyError::TimestampTooNew)
    );
}

#[test]
fn stale_messages_are_refused_before_the_signature_is_checked() {
    // A bad signature on a stale message reports the staleness: the cheap check runs first.
    let headers = Headers::new(MSG_ID, TIMESTAMP, "v1,AAAA");
    let verifier = Verifier::new(Secret::generate());
    assert_eq!(
        headers.verify_at(&verifier, BODY, TIMESTAMP + 3600),
        Err(VerifyError::TimestampTooOld)
    );
}

#[test]
fn garbage_timestamps_are_invalid_and_extremes_do_not_overflow() {
    let verifier = Verifier::new(Secret::generate());
    let signature = "v1,AAAA";
    for garbage in [
        "abc",
        "+1674087231",
        "-5",
        "1.5",
        "1e9",
        "0x10",
        "١٢٣",
        "99999999999999999999",
    ] {
        let headers = Headers::new(MSG_ID, garbage, signature);
        assert_eq!(
            headers.verify_at(&verifier, BODY, TIMESTAMP),
            Err(VerifyError::InvalidTimestamp),
            "{garbage:?}"
        );
    }
    let far_future = Headers::new(MSG_ID, i64::MAX, signature);
    assert_eq!(
        far_future.verify_at(&verifier, BODY, i64::MIN),
        Err(VerifyError::TimestampTooNew)
    );
    let epoch = Headers::new(MSG_ID, 0, signature);
    assert_eq!(
        epoch.verify_at(&verifier, BODY, i64::MAX),
        Err(VerifyError::TimestampTooOld)
    );
}

// ---------------------------------------------------------------------------------------------
// Headers and bodies.

#[test]
fn missing_or_empty_headers_are_named() {
    let verifier = Verifier::new(Secret::generate());
    let headers = Headers::new(MSG_ID, TIMESTAMP, "v1,AAAA");
    for name in [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE] {
        let missing = Err(VerifyError::MissingHeader(name));
        assert_eq!(
            headers
                .clone()
                .without(name)
                .verify_at(&verifier, BODY, TIMESTAMP),
            missing
        );
        assert_eq!(
            headers
                .clone()
                .with(name, "  ")
                .verify_at(&verifier, BODY, TIMESTAMP),
            missing
        );
    }
    assert_eq!(
        VerifyError::MissingHeader(HEADER_SIGNATURE).to_string(),
        "missing header `webhook-signature`"
    );
}

#[test]
fn malformed_signature_entries_are_skipped() {
    let secret = Secret::generate();
    let verifier = Verifier::new(secret.clone());
    let valid = Signer::new(secret.clone()).sign(MSG_ID, TIMESTAMP, BODY);
    let tag = valid.strip_prefix("v1,").unwrap();
    let garbage = [
        "garbage".to_owned(),
        "v1".to_owned(),
        "v1,".to_owned(),
        ",".to_owned(),
        ",,,".to_owned(),
        "v1,!!!notbase64!!!".to_owned(),
        format!("v2,{tag}"),
        format!("V1,{tag}"),
        format!("v1a,{tag}"),
        format!("v1,{}", &tag[..20]),
        "v1a,AAAA".to_owned(),
        "ü,ü".to_owned(),
    ];
    for entry in &garbage {
        let headers = Headers::new(MSG_ID, TIMESTAMP, entry);
        assert_eq!(
            headers.verify_at(&verifier, BODY, TIMESTAMP),
            Err(VerifyError::NoValidSignature),
            "{entry:?}"
        );
    }
    // The valid signature still counts among the garbage, and extra spaces do not matter.
    let all = format!(
        "{}  {valid}\t{}",
        garbage[..6].join(" "),
        garbage[6..].join(" ")
    );
    let headers = Headers::new(MSG_ID, TIMESTAMP, &all);
    assert_eq!(headers.verify_at(&verifier, BODY, TIMESTAMP), Ok(()));
}

#[test]
fn wrong_body_id_or_timestamp_is_rejected() {
    let secret = Secret::generate();
    let verifier = Verifier::new(secret.clone());
    let signature = Signer::new(secret).sign(MSG_ID, TIMESTAMP, BODY);
    let headers = Headers::new(MSG_ID, TIMESTAMP, &signature);
    let rejected = Err(VerifyError::NoValidSignature);

    assert_eq!(headers.verify_at(&verifier, BODY, TIMESTAMP), Ok(()));
    assert_eq!(
        headers.verify_at(&verifier, &BODY[1..], TIMESTAMP),
        rejected
    );
    assert_eq!(headers.verify_at(&verifier, b"", TIMESTAMP), rejected);
    let other_id = headers.clone().with(HEADER_ID, "msg_other");
    assert_eq!(other_id.verify_at(&verifier, BODY, TIMESTAMP), rejected);
    let other_time = headers.with(HEADER_TIMESTAMP, &(TIMESTAMP + 1).to_string());
    assert_eq!(other_time.verify_at(&verifier, BODY, TIMESTAMP), rejected);
}

#[test]
fn bodies_need_not_be_utf8() {
    let secret = Secret::generate();
    let body = [0xff, 0xfe, 0x00, 0x80];
    let signature = Signer::new(secret.clone()).sign(MSG_ID, TIMESTAMP, &body);
    let headers = Headers::new(MSG_ID, TIMESTAMP, &signature);
    assert_eq!(
        headers.verify_at(&Verifier::new(secret), &body, TIMESTAMP),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets: parsing and not leaking.

#[test]
fn secret_parse_errors() {
    let b64 = |len: usize| STANDARD.encode(vec![7u8; len]);
    let bad_length = |actual| {
        Err(SigningError::BadLength {
            prefix: "whsec_",
            expected: "16 to 64",
            actual,
        })
    };

    // A bare base64 key is refused: the prefix says which kind of key it is.
    assert_eq!(
        Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        Err(SigningError::BadPrefix { expected: "whsec_" })
    );
    assert_eq!(
        Secret::parse(&SigningKey::generate().expose()),
        Err(SigningError::BadPrefix { expected: "whsec_" })
    );
    assert_eq!(
        Secret::parse(""),
        Err(SigningError::BadPrefix { expected: "whsec_" })
    );
    for not_base64 in [
        "whsec_not base64!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "whsec_====",
        "whsec_MfKQ9r8G-_",
    ] {
        assert_eq!(
            Secret::parse(not_base64),
            Err(SigningError::BadBase64 { prefix: "whsec_" }),
            "{not_base64:?}"
        );
    }
    assert_eq!(Secret::parse("whsec_"), bad_length(0));
    assert_eq!(Secret::parse(&format!("whsec_{}", b64(15))), bad_length(15));
    assert_eq!(Secret::parse(&format!("whsec_{}", b64(65))), bad_length(65));
    assert!(Secret::parse(&format!("whsec_{}", b64(16))).is_ok());
    assert!(Secret::parse(&format!("whsec_{}", b64(64))).is_ok());
    // Pasted with a trailing newline.
    assert!(Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").is_ok());

    assert_eq!(
        SigningError::BadPrefix { expected: "whsec_" }.to_string(),
        "expected a key starting with `whsec_`"
    );
}

#[test]
fn debug_and_display_do_not_reveal_key_material() {
    let secret = Secret::generate();
    let key = SigningKey::generate();
    let secret_b64 = secret.expose()["whsec_".len()..].to_owned();
    let key_b64 = key.expose()["whsk_".len()..].to_owned();

    let shown = [
        format!("{secret}"),
        format!("{secret:?}"),
        format!("{key}"),
        format!("{key:?}"),
        format!("{:?}", Signer::new(secret.clone()).with_key(key.clone())),
        format!(
            "{:?}",
            Verifier::new(secret.clone()).with_public_key(key.public_key())
        ),
    ];
    for text in &shown {
        assert!(!text.contains(&secret_b64), "{text}");
        assert!(!text.contains(&key_b64), "{text}");
        // Not even a fragment: the key's first characters would narrow it down.
        assert!(!text.contains(&secret_b64[..6]), "{text}");
        assert!(!text.contains(&key_b64[..6]), "{text}");
    }
    assert_eq!(shown[0], "whsec_…");
    assert_eq!(shown[2], "whsk_…");
    // The public key is not secret, and seeing it in Debug helps tell keys apart.
    assert!(shown[3].contains(&key.public_key().to_string()));
}

// ---------------------------------------------------------------------------------------------
// Never panic.

#[test]
fn random_input_never_panics() {
    let mut rng = rand::rng();
    let alphabet: Vec<char> = "v1a,whsecpk_ =+/AZaz09.-\u{e9}\u{2026}\t".chars().collect();
    let secret = Secret::generate();
    let verifier =
        Verifier::new(secret.clone()).with_public_key(SigningKey::generate().public_key());
    let valid = Signer::new(secret).sign(MSG_ID, TIMESTAMP, BODY);

    for _ in 0..2_000 {
        let len = rng.random_range(0..120);
        let text: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let _ = Secret::parse(&text);
        let _ = SigningKey::parse(&text);
        let _ = PublicKey::parse(&text);
        for prefix in ["whsec_", "whsk_", "whpk_"] {
            let mut bytes = vec![0u8; rng.random_range(0..80)];
            rng.fill_bytes(&mut bytes);
            let candidate = format!("{prefix}{}", STANDARD.encode(&bytes));
            let _ = Secret::parse(&candidate);
            let _ = SigningKey::parse(&candidate);
            let _ = PublicKey::parse(&candidate);
        }
        for headers in [
            Headers::new(&text, TIMESTAMP, &valid),
            Headers::new(MSG_ID, &text, &valid),
            Headers::new(MSG_ID, TIMESTAMP, &text),
        ] {
            let _ = headers.verify_at(&verifier, text.as_bytes(), rng.random());
        }
    }
}
