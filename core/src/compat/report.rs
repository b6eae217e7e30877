//! What [`diff`](super::diff) finds: one [`Change`] per difference, each with its class.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a change affects the readers of the data it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Readers written against the old document fail: a webhook receiver gets a message it
    /// cannot handle, or the sender rejects what a receiver answers as documented.
    Breaking,
    /// Only readers that reject values the old document did not list fail: a new enum value,
    /// a new property in a closed object, a new response status.
    BreakingForStrictReceivers,
    /// Readers written against the old document keep working.
    Safe,
}

impl Class {
    /// The label of the text report.
    fn label(self) -> &'static str {
        match self {
            Class::Breaking => "BREAKING",
            Class::BreakingForStrictReceivers => "STRICT",
            Class::Safe => "safe",
        }
    }
}

/// One difference between the two documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Where: a JSON pointer from the document's root through the webhook (or path) and method
    /// to the element, with each `$ref` on the way replaced by what it points at, so that a
    /// change in a shared schema is reported under every webhook it reaches.
    pub pointer: String,
    /// What changed and what it does to readers, as a sentence.
    pub message: String,
    /// How it affects readers.
    pub class: Class,
}

/// Every change between two documents, in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The changes, webhooks first, then paths.
    pub changes: Vec<Change>,
}

impl Report {
    /// The changes of one class.
    pub fn of_class(&self, class: Class) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.class == class)
    }

    /// Whether any change breaks readers, strict or not.
    pub fn has_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.class != Class::Safe)
    }

    /// The report as pretty JSON (`{"changes": [{"pointer", "message", "class"}, ..]}`).
    pub fn to_pretty_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes: it holds only strings")
    }
}

impl fmt::Display for Report {
    /// A summary line, then one line per change: class, pointer, message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |class| self.of_class(class).count();
        writeln!(
            f,
            "{} breaking, {} breaking for strict receivers, {} safe",
            count(Class::Breaking),
            count(Class::BreakingForStrictReceivers),
            count(Class::Safe)
        )?;
        for change in &self.changes {
            writeln!(f, "{:<8} {}", change.class.label(), change.pointer)?;
            writeln!(f, "         {}", change.message)?;
        }
        Ok(())
    }
}
