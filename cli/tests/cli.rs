//! The `hookspec` binary: exit status, text and JSON output, errors on stderr.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch folder for this test process.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookspec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `doc` as `name` (JSON, or YAML if the name says so) and returns its path.
fn write(name: &str, doc: &Value) -> String {
    let path = scratch().join(name);
    let text = if name.ends_with(".yaml") {
        // JSON is YAML; the loader must read it by extension all the same.
        serde_json::to_string_pretty(doc).unwrap()
    } else {
        serde_json::to_string(doc).unwrap()
    };
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn hookspec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookspec"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A webhook whose body's `amount` has `amount_type`.
fn doc(amount_type: &str) -> Value {
    json!({ "openapi": "3.1.0", "webhooks": { "payment.created": { "post": { "requestBody": { "content": {
        "application/json": { "schema": { "type": "object", "required": ["amount"],
            "properties": { "amount": { "type": amount_type } } } } } } } } } })
}

#[test]
fn a_breaking_change_exits_1_and_json_output_parses() {
    let (old, new) = (
        write("old.json", &doc("integer")),
        write("new.yaml", &doc("number")),
    );
    let text = hookspec(&["diff", &old, &new]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(
        stdout.starts_with("1 breaking, 0 breaking for strict receivers, 0 safe"),
        "{stdout}"
    );
    assert!(
        stdout.contains("type widened from integer to number"),
        "{stdout}"
    );
    let json = hookspec(&["diff", "--format", "json", &old, &new]);
    assert_eq!(json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(report["changes"][0]["class"], "breaking");
    assert_eq!(
        report["changes"][0]["pointer"],
        "/webhooks/payment.created/post/requestBody/content/application~1json/schema/properties/amount"
    );
}

#[test]
fn a_safe_change_exits_0() {
    let (old, new) = (
        write("safe-old.json", &doc("number")),
        write("safe-new.json", &doc("integer")),
    );
    let out = hookspec(&["diff", &old, &new, "--format=json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changes"][0]["class"], "safe");
    let same = hookspec(&["diff", &old, &old]);
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(same.stdout).unwrap(),
        "0 breaking, 0 breaking for strict receivers, 0 safe\n"
    );
}

#[test]
fn errors_exit_2_with_a_message_on_stderr() {
    let good = write("good.json", &doc("integer"));
    let broken = scratch().join("broken.json");
    std::fs::write(&broken, "{ not json: [").unwrap();
    let mut dangling = doc("integer");
    dangling["webhooks"]["payment.created"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"] = json!({ "$ref": "#/components/schemas/Gone" });
    let dangling = write("dangling.json", &dangling);
    let cases: [(&[&str], &str); 5] = [
        (&["diff", &good], "two files"),
        (&["diff", &good, "missing.json"], "cannot read missing.json"),
        (
            &["diff", &good, broken.to_str().unwrap()],
            "not a JSON or YAML document",
        ),
        (&["diff", &good, &dangling], "#/components/schemas/Gone"),
        (
            &["diff", &good, &good, "--format", "xml"],
            "unknown format `xml`",
        ),
    ];
    for (args, says) in cases {
        let out = hookspec(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
