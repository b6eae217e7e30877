"""Generate the benchmark crates and scripts of bench/run.sh into OUT (default target/bench-gen).

- docbuild/: for N in (10, 100, 1000) webhooks (mixed verbs, nested payload types, half of
  them in #[webhooks] groups), the document built by hookspec and the same document built by
  hand with utoipa's builders (the floor); main() checks they are equal, then times both.
- fastapi_openapi.py: the same N webhooks declared with FastAPI, timing app.openapi().
- compile_hookspec/ and compile_utoipa/: 200 webhooks with hookspec, and the same 200
  operations with #[utoipa::path] added by hand, for clean-build timing.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "bench-gen")
SIZES = (10, 100, 1000)
VERBS = ("post", "put", "patch", "delete", "get")
BODY_VERBS = {"post", "put", "patch"}


def types_rs(n: int) -> str:
    """Payload types: n/10 (at least 3) structs, each nesting one of 5 inner structs."""
    out = []
    for j in range(5):
        out.append(f"""
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Inner{j} {{
    pub a: i64,
    pub b: Option<String>,
}}""")
    for k in range(payload_count(n)):
        out.append(f"""
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct P{k} {{
    pub id: u64,
    pub name: String,
    pub inner: Inner{k % 5},
    pub tags: Vec<String>,
}}""")
    return "\n".join(out)


def payload_count(n: int) -> int:
    return max(n // 10, 3)


def hook(i: int, n: int):
    verb = VERBS[i % len(VERBS)]
    payload = f"P{i % payload_count(n)}" if verb in BODY_VERBS else None
    return verb, payload


def hookspec_rs(n: int) -> str:
    """Webhooks: the first half free functions, the second half in groups of 10."""
    out = []
    half = n // 2
    for i in range(half):
        verb, payload = hook(i, n)
        arg = f"data: {payload}" if payload else ""
        out.append(f'#[wh{verb}("hook-{i}", tags = ["t{i % 7}"])]\npub async fn hook_{i}({arg}) {{}}')
    groups = []
    for g, start in enumerate(range(half, n, 10)):
        members = []
        for i in range(start, min(start + 10, n)):
            verb, payload = hook(i, n)
            arg = f"data: {payload}" if payload else ""
            members.append(f'    #[wh{verb}("hook-{i}", tags = ["t{i % 7}"])]\n    pub async fn hook_{i}({arg}) {{}}')
        out.append(f"pub struct Group{g};\n#[webhooks]\nimpl Group{g} {{\n" + "\n".join(members) + "\n}")
        groups.append(f"Group{g}")
    gateways = [f"        .webhook(WebhookGateway::new(hook_{i}))" for i in range(half)]
    gateways += [f"        .webhook(WebhookGateway::new({g}))" for g in groups]
    out.append(
        "pub fn hookspec_doc() -> utoipa::openapi::OpenApi {\n"
        f'    OpenApiBuilder::new("Bench", "1.0.0")\n' + "\n".join(gateways) + "\n        .build()\n        .unwrap()\n}"
    )
    return "\n\n".join(out)


def floor_rs(n: int) -> str:
    """The same document with utoipa's builders: operations by hand, schemas from ToSchema."""
    lines = [
        "pub fn floor_doc() -> utoipa::openapi::OpenApi {",
        "    use utoipa::openapi::path::{HttpMethod, OperationBuilder, Paths};",
        "    use utoipa::openapi::request_body::RequestBodyBuilder;",
        "    use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};",
        "    use utoipa::openapi::{ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, Ref, Required};",
        "    use utoipa::PartialSchema;",
        "    let mut webhooks = Paths::new();",
    ]
    for i in range(n):
        verb, payload = hook(i, n)
        method = {"post": "Post", "put": "Put", "patch": "Patch", "delete": "Delete", "get": "Get"}[verb]
        body = ""
        if payload:
            body = (
                '.request_body(Some(RequestBodyBuilder::new().content("application/json", '
                f'ContentBuilder::new().schema(Some(Ref::from_schema_name("{payload}"))).build())'
                ".required(Some(Required::True)).build()))"
            )
        title = " ".join(w.capitalize() for w in f"hook_{i}".split("_"))
        lines.append(
            f'    webhooks.add_path_operation("hook-{i}", vec![HttpMethod::{method}], OperationBuilder::new()'
            f'.tags(Some(vec!["t{i % 7}".to_string()])).summary(Some("{title}")).operation_id(Some("hook_{i}")){body}'
            '.responses(ResponsesBuilder::new().response("2XX", ResponseBuilder::new()'
            '.description("Any 2XX response acknowledges receipt.")).build()).build());'
        )
    lines.append("    let mut components = ComponentsBuilder::new();")
    used = sorted({int(p[1:]) for p in (hook(i, n)[1] for i in range(n)) if p})
    for j in sorted({k % 5 for k in used}):
        lines.append(f'    components = components.schema("Inner{j}", Inner{j}::schema());')
    for k in used:
        lines.append(f'    components = components.schema("P{k}", P{k}::schema());')
    lines += [
        '    let mut doc = OpenApi::new(InfoBuilder::new().title("Bench").version("1.0.0").build(), Paths::new());',
        "    doc.webhooks = Some(webhooks);",
        "    doc.components = Some(components.build());",
        "    doc",
        "}",
    ]
    return "\n".join(lines)


def docbuild() -> None:
    crate = OUT / "docbuild"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(f"""[package]
name = "docbuild"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
hookspec = {{ path = "{ROOT / 'core'}", default-features = false }}
utoipa = {{ version = "6" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
""")
    modules = []
    for n in SIZES:
        modules.append(
            f"#[allow(dead_code, unused_variables)]\npub mod n{n} {{\n    use hookspec::*;\n"
            + types_rs(n) + "\n\n" + hookspec_rs(n) + "\n\n" + floor_rs(n) + "\n}"
        )
    (crate / "src" / "main.rs").write_text(
        "//! Generated by bench/gen/generate.py: hookspec's document build against the floor.\n"
        + "\n\n".join(modules)
        + """

use std::time::Instant;

/// Median seconds per call of `f`, over 7 batches each of at least ~100 ms.
fn time<T>(mut f: impl FnMut() -> T) -> (f64, f64, f64) {
    let start = Instant::now();
    let mut per_batch = 1usize;
    while start.elapsed().as_millis() < 100 {
        std::hint::black_box(f());
        per_batch += 1;
    }
    let mut samples: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                std::hint::black_box(f());
            }
            t.elapsed().as_secs_f64() / per_batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[3], samples[0], samples[6])
}

/// The floor must build the same document, or the comparison means nothing.
fn same(hookspec: serde_json::Value, floor: serde_json::Value, n: usize) {
    if hookspec != floor {
        let dir = std::env::temp_dir();
        std::fs::write(dir.join("hookspec.json"), serde_json::to_string_pretty(&hookspec).unwrap()).unwrap();
        std::fs::write(dir.join("floor.json"), serde_json::to_string_pretty(&floor).unwrap()).unwrap();
        panic!("N = {n}: the floor builds a different document; see hookspec.json and floor.json in {}", dir.display());
    }
}

fn main() {
"""
        + "\n".join(
            f"""    same(serde_json::to_value(n{n}::hookspec_doc()).unwrap(), serde_json::to_value(n{n}::floor_doc()).unwrap(), {n});
    let (h, hmin, hmax) = time(n{n}::hookspec_doc);
    let (f, fmin, fmax) = time(n{n}::floor_doc);
    println!("{{{{\\"n\\": {n}, \\"hookspec\\": [{{h}}, {{hmin}}, {{hmax}}], \\"floor\\": [{{f}}, {{fmin}}, {{fmax}}]}}}}");"""
            for n in SIZES
        )
        + "\n}\n"
    )


def fastapi_script() -> None:
    parts = [
        '"""Generated by bench/gen/generate.py: FastAPI app.openapi() for the same webhooks."""',
        "import json, statistics, sys, time",
        "from typing import List, Optional",
        "from fastapi import FastAPI",
        "from pydantic import BaseModel",
        "",
        "def build(n):",
        "    app = FastAPI(title='Bench', version='1.0.0')",
        "    inner = [type(f'Inner{j}', (BaseModel,), {'__annotations__': {'a': int, 'b': Optional[str]}}) for j in range(5)]",
        "    payloads = [type(f'P{k}', (BaseModel,), {'__annotations__': {'id': int, 'name': str, 'inner': inner[k % 5], 'tags': List[str]}}) for k in range(max(n // 10, 3))]",
        f"    verbs = {list(VERBS)!r}",
        "    for i in range(n):",
        "        verb = verbs[i % len(verbs)]",
        "        route = getattr(app.webhooks, verb)",
        "        if verb in ('post', 'put', 'patch'):",
        "            model = payloads[i % len(payloads)]",
        "            def handler(data: model): ...",
        "        else:",
        "            def handler(): ...",
        "        handler.__name__ = f'hook_{i}'",
        "        route(f'hook-{i}', tags=[f't{i % 7}'])(handler)",
        "    return app",
        "",
        "def timed(app):",
        "    def once():",
        "        app.openapi_schema = None",
        "        app.openapi()",
        "    start, batch = time.perf_counter(), 0",
        "    while time.perf_counter() - start < 0.1:",
        "        once(); batch += 1",
        "    samples = []",
        "    for _ in range(7):",
        "        t = time.perf_counter()",
        "        for _ in range(batch): once()",
        "        samples.append((time.perf_counter() - t) / batch)",
        "    return statistics.median(samples), min(samples), max(samples)",
        "",
        "for n in map(int, sys.argv[1:]):",
        "    print(json.dumps({'n': n, 'fastapi': list(timed(build(n)))}))",
    ]
    (OUT / "fastapi_openapi.py").write_text("\n".join(parts) + "\n")


def compile_crates(n: int = 200) -> None:
    types = types_rs(n)
    hs = OUT / "compile_hookspec"
    ut = OUT / "compile_utoipa"
    for crate, deps in ((hs, f'hookspec = {{ path = "{ROOT / "core"}", default-features = false }}\n'), (ut, "")):
        (crate / "src").mkdir(parents=True, exist_ok=True)
        (crate / "Cargo.toml").write_text(f"""[package]
name = "{crate.name}"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
{deps}utoipa = {{ version = "6" }}
serde = {{ version = "1", features = ["derive"] }}
""")
    (hs / "src" / "main.rs").write_text(
        "#![allow(dead_code, unused_variables)]\nuse hookspec::*;\n" + types + "\n\n" + hookspec_rs(n)
        + '\n\nfn main() {\n    println!("{}", hookspec_doc().paths.paths.len());\n}\n'
    )
    fns, names = [], []
    for i in range(n):
        verb, payload = hook(i, n)
        body = f", request_body = {payload}" if payload else ""
        fns.append(
            f'#[utoipa::path({verb}, path = "/hook-{i}", tag = "t{i % 7}"{body}, '
            'responses((status = 200, description = "Any 2XX response acknowledges receipt.")))]\n'
            f"pub async fn hook_{i}() {{}}"
        )
        names.append(f"hook_{i}")
    (ut / "src" / "main.rs").write_text(
        "#![allow(dead_code, unused_variables)]\nuse utoipa::OpenApi;\n" + types + "\n\n" + "\n\n".join(fns)
        + f"\n\n#[derive(OpenApi)]\n#[openapi(paths({', '.join(names)}))]\nstruct ApiDoc;\n\n"
        + 'fn main() {\n    println!("{}", ApiDoc::openapi().paths.paths.len());\n}\n'
    )


def workspace() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["docbuild", "compile_hookspec", "compile_utoipa"]\n'
    )


if __name__ == "__main__":
    workspace()
    docbuild()
    fastapi_script()
    compile_crates()
    print(f"generated into {OUT}")
