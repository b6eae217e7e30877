//! Examples only: see `examples/*.rs`.
