//! `hookspec diff OLD NEW [--format text|json]`: compares two OpenAPI documents (JSON or YAML)
//! with `hookspec::compat` and prints every change, each with its class. Exit status: 0 when
//! nothing breaks readers, 1 when something does (strict-receiver breaks included), 2 on a
//! usage, read or parse error (with a message on stderr).

use hookspec::compat;
use std::process::ExitCode;

const USAGE: &str = "\
usage: hookspec diff OLD NEW [--format text|json]

Compares two OpenAPI documents (JSON or YAML files) and reports, per webhook, path and
method, each change with its JSON pointer, a sentence and its class: breaking, breaking for
strict receivers (a new enum value, a new property in a closed object), or safe.

Exit status: 0 if no change breaks readers, 1 if one does, 2 on errors.";

/// How the report is printed.
#[derive(Debug, PartialEq)]
enum Format {
    Text,
    Json,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Version,
    Diff {
        old: String,
        new: String,
        format: Format,
    },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("hookspec {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Diff { old, new, format }) => match run(&old, &new, &format) {
            Ok(breaking) => ExitCode::from(u8::from(breaking)),
            Err(error) => {
                eprintln!("hookspec diff: {error}");
                ExitCode::from(2)
            }
        },
        Err(error) => {
            eprintln!("hookspec: {error}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Compares the files and prints the report; whether anything breaks.
fn run(old: &str, new: &str, format: &Format) -> Result<bool, compat::Error> {
    let report = compat::diff(&compat::load(old)?, &compat::load(new)?)?;
    match format {
        Format::Text => print!("{report}"),
        Format::Json => println!("{}", report.to_pretty_json()),
    }
    Ok(report.has_breaking())
}

/// Reads the arguments (after the program name).
fn parse(args: &[String]) -> Result<Command, String> {
    let mut positional = Vec::new();
    let mut format = Format::Text;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--format" => rest
                .next()
                .ok_or("`--format` needs a value: text or json")?
                .as_str(),
            other => match other.strip_prefix("--format=") {
                Some(value) => value,
                None if other.starts_with('-') && other != "-" => {
                    return Err(format!("unknown option `{other}`"))
                }
                None => {
                    positional.push(other.to_owned());
                    continue;
                }
            },
        };
        format = match value {
            "text" => Format::Text,
            "json" => Format::Json,
            other => return Err(format!("unknown format `{other}`: text or json")),
        };
    }
    match positional.as_slice() {
        [command, old, new] if command == "diff" => Ok(Command::Diff {
            old: old.clone(),
            new: new.clone(),
            format,
        }),
        [command, ..] if command != "diff" => Err(format!("unknown command `{command}`")),
        [] => Err("no command".to_owned()),
        _ => Err("`diff` takes two files: OLD NEW".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        let diff = |format| Command::Diff {
            old: "a.json".into(),
            new: "b.yaml".into(),
            format,
        };
        assert_eq!(
            parsed(&["diff", "a.json", "b.yaml"]),
            Ok(diff(Format::Text))
        );
        assert_eq!(
            parsed(&["diff", "--format", "json", "a.json", "b.yaml"]),
            Ok(diff(Format::Json))
        );
        assert_eq!(
            parsed(&["diff", "a.json", "b.yaml", "--format=text"]),
            Ok(diff(Format::Text))
        );
        assert_eq!(parsed(&["--help"]), Ok(Command::Help));
        assert_eq!(parsed(&["-V"]), Ok(Command::Version));
        for bad in [
            &["diff", "a.json"][..],
            &[],
            &["merge", "a", "b"],
            &["diff", "a", "b", "--format"],
            &["diff", "a", "b", "--format=xml"],
            &["diff", "a", "b", "--colour"],
        ] {
            assert!(parsed(bad).is_err(), "{bad:?}");
        }
    }
}
