//! The filter-expression parser on arbitrary text: never a panic, and whatever parses prints
//! back to text that parses to the same filter.
#![no_main]

use hookspec::delivery::Filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(filter) = Filter::parse(text) {
        let printed = filter.to_string();
        let again = Filter::parse(&printed).expect("printed filters parse");
        assert_eq!(again, filter, "{printed}");
        let payload = serde_json::json!({"entity": {"entity_type": "Task", "operation": "create", "new": {"a": 1}, "old": {"a": 1.0}}});
        let _ = filter.matches(&payload);
    }
});
