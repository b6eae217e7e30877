//! Every misuse of a macro is a compile error spanned at the user's token; the expected
//! messages are checked in under `tests/ui/*.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
