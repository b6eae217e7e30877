//! Adyen's published webhook documents (OpenAPI 3.1, MIT), in two versions of each notification
//! service: the reports are snapshots a reviewer reads (`tests/snapshots/compat__*`).

use super::*;
use hookspec_tests::services;

/// The pairs, old then new, as their files are named.
const PAIRS: [(&str, &str, &str); 3] = [
    ("BalancePlatformConfigurationNotification", "v1", "v2"),
    ("BalancePlatformTransferNotification", "v3", "v4"),
    ("MarketPayNotificationService", "v3", "v4"),
];

#[test]
fn adyen_pairs() {
    let Some(dir) = services::adyen_documents() else {
        return;
    };
    for (service, old, new) in PAIRS {
        let load = |version| {
            compat::load(dir.join(format!("{service}-{version}.json"))).expect("Adyen's file")
        };
        let report = diff(&load(old), &load(new));
        insta::assert_snapshot!(format!("adyen_{service}_{old}_{new}"), report.to_string());
        // The JSON form carries the same changes.
        let json: Report = serde_json::from_str(&report.to_pretty_json()).unwrap();
        assert_eq!(json, report);
    }
}

#[test]
fn adyen_documents_have_no_changes_against_themselves() {
    let Some(dir) = services::adyen_documents() else {
        return;
    };
    for (service, old, _) in PAIRS {
        let doc = compat::load(dir.join(format!("{service}-{old}.json"))).expect("Adyen's file");
        assert_eq!(diff(&doc, &doc), Report::default(), "{service}");
    }
}
