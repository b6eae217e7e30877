//! The customer portal over real HTTP.

mod actions;
mod security;
mod support;
