//! The walk over both documents: webhooks and paths, their methods, and the cache that lets a
//! schema shared by many operations be compared once.

use super::document::Document;
use super::report::{Change, Class};
use super::Error;
use crate::refs::child;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The HTTP methods a path item may hold, in the order the report lists them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Who writes the data a schema describes, seen from the document's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Direction {
    /// The owner writes it, others read it: a webhook's request, a path's response. Allowing
    /// more than before breaks readers; allowing less is safe.
    Sent,
    /// Others write it, the owner reads it: a receiver's answer, a path's request. Accepting
    /// less than before breaks writers; accepting more is safe.
    Received,
}

impl Direction {
    /// The class of a change that allows more values than before.
    pub fn widening(self) -> Class {
        match self {
            Direction::Sent => Class::Breaking,
            Direction::Received => Class::Safe,
        }
    }

    /// The class of a change that allows fewer values than before.
    pub fn narrowing(self) -> Class {
        match self {
            Direction::Sent => Class::Safe,
            Direction::Received => Class::Breaking,
        }
    }
}

/// A section of the document and how its operations' data flows.
pub(super) struct Role {
    /// `webhooks` or `paths`.
    section: &'static str,
    /// `webhook` or `path`, for messages.
    noun: &'static str,
    /// Who writes the request.
    pub request: Direction,
    /// Who writes the response.
    pub response: Direction,
}

/// Webhooks: the owner sends the request, the receiver answers.
const WEBHOOKS: Role = Role {
    section: "webhooks",
    noun: "webhook",
    request: Direction::Sent,
    response: Direction::Received,
};

/// Paths: clients send the request, the owner answers.
const PATHS: Role = Role {
    section: "paths",
    noun: "path",
    request: Direction::Received,
    response: Direction::Sent,
};

/// Compares two documents, collecting changes.
pub(super) struct Differ<'a> {
    pub old: Document<'a>,
    pub new: Document<'a>,
    pub changes: Vec<Change>,
    /// The changes found under each pair of references, with pointers relative to the pair.
    cache: HashMap<(String, String, Direction), Vec<Change>>,
    /// The pairs being compared further up: meeting one again is a recursive schema.
    in_progress: HashSet<(String, String, Direction)>,
    /// How often a recursion was cut: a result computed while one was cut is not cached.
    cuts: usize,
}

impl<'a> Differ<'a> {
    /// A differ of `old` against `new`.
    pub fn new(old: &'a Value, new: &'a Value) -> Self {
        Differ {
            old: Document::new(old, "old"),
            new: Document::new(new, "new"),
            changes: Vec::new(),
            cache: HashMap::new(),
            in_progress: HashSet::new(),
            cuts: 0,
        }
    }

    /// Records a change.
    pub fn emit(&mut self, pointer: &str, message: &str, class: Class) {
        self.changes.push(Change {
            pointer: pointer.to_owned(),
            message: message.to_owned(),
            class,
        });
    }

    /// Runs `compare` for a pair of references once: again at another place, its changes are
    /// copied there; met again inside itself, it stops (the changes are reported further up).
    pub fn once_per_pair(
        &mut self,
        old: String,
        new: String,
        direction: Direction,
        at: &str,
        compare: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let key = (old, new, direction);
        if let Some(known) = self.cache.get(&key) {
            let copies = known.iter().map(|change| Change {
                pointer: format!("{at}{}", change.pointer),
                ..change.clone()
            });
            self.changes.extend(copies.collect::<Vec<_>>());
            return Ok(());
        }
        if !self.in_progress.insert(key.clone()) {
            self.cuts += 1;
            return Ok(());
        }
        let (start, cuts) = (self.changes.len(), self.cuts);
        let result = compare(self);
        self.in_progress.remove(&key);
        result?;
        if self.cuts == cuts {
            // Every change under `at` has a pointer that starts with it (made by `child`).
            let relative = self.changes[start..].iter().map(|change| Change {
                pointer: change
                    .pointer
                    .strip_prefix(at)
                    .unwrap_or(&change.pointer)
                    .to_owned(),
                ..change.clone()
            });
            let relative = relative.collect();
            self.cache.insert(key, relative);
        }
        Ok(())
    }

    /// Compares both sections.
    pub fn documents(&mut self) -> Result<(), Error> {
        self.section(&WEBHOOKS)?;
        self.section(&PATHS)
    }

    fn section(&mut self, role: &Role) -> Result<(), Error> {
        let empty = serde_json::Map::new();
        let old = self.old.section(role.section).unwrap_or(&empty);
        let new = self.new.section(role.section).unwrap_or(&empty);
        let base = child("", role.section);
        for (name, old_item) in old {
            let at = child(&base, name);
            match new.get(name) {
                Some(new_item) => self.path_item(old_item, new_item, role, &at)?,
                None => {
                    let message = match role.request {
                        Direction::Sent => {
                            format!("webhook `{name}` removed: receivers no longer get it")
                        }
                        Direction::Received => {
                            format!("path `{name}` removed: clients that call it fail")
                        }
                    };
                    self.emit(&at, &message, Class::Breaking);
                }
            }
        }
        for name in new.keys().filter(|name| !old.contains_key(*name)) {
            let message = format!("new {} `{name}`", role.noun);
            self.emit(&child(&base, name), &message, Class::Safe);
        }
        Ok(())
    }

    fn path_item(&mut self, old: &Value, new: &Value, role: &Role, at: &str) -> Result<(), Error> {
        let old = self.old.resolve(old, at)?.value;
        let new = self.new.resolve(new, at)?.value;
        for method in METHODS {
            let here = child(at, method);
            let upper = method.to_uppercase();
            match (old.get(method), new.get(method)) {
                (Some(o), Some(n)) => {
                    let items = [&*old, &*new];
                    self.operation([o, n], items, role, at, &here)?;
                }
                (Some(_), None) => {
                    let message = match role.request {
                        Direction::Sent => format!(
                            "{upper} removed: receivers no longer get the webhook with this method"
                        ),
                        Direction::Received => {
                            format!("{upper} removed: clients that call it fail")
                        }
                    };
                    self.emit(&here, &message, Class::Breaking);
                }
                (None, Some(_)) => {
                    self.emit(&here, &format!("new method {upper}"), Class::Safe);
                }
                (None, None) => {}
            }
        }
        Ok(())
    }
}
