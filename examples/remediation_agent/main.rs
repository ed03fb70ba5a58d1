//! The main job: a remediation incident played end to end through the nhi control plane.
//!
//! It provisions the estate of `examples/data/inventory.toml` into a SQLite registry,
//! loads the policy and quotas, and then plays an incident: a restart agent reads
//! service health, asks for a restart that needs the on-call's approval, runs away in a
//! loop until the kill switch stops it, has its credential rotated with an overlap; a
//! legacy integration is decommissioned stage by stage; reconciliation quarantines what
//! nobody owns or uses. It prints a timeline and the program metrics, and verifies the
//! audit trail it wrote.
//!
//! ```text
//! cargo run --release --example remediation_agent -- [--data DIR] [--state DIR]
//! ```

mod acts;
mod clock;
mod story;

use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match story::run(&options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // print the chain of causes, skipping those the message above already says
            let mut said = error.to_string();
            eprintln!("error: {said}");
            let mut source = error.source();
            while let Some(cause) = source {
                let text = cause.to_string();
                if !said.contains(&text) {
                    eprintln!("  caused by: {text}");
                    said.push_str(&text);
                }
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: remediation_agent [--data DIR] [--state DIR]

  --data DIR    folder with inventory.toml, policy.toml and quotas.toml
                (default: the examples/data folder of this workspace)
  --state DIR   folder for registry.db, audit.jsonl and checkpoints.jsonl, replaced on every
                run (an audit log that no longer verifies is kept aside)
                (default: target/remediation-demo in this workspace)";

/// Where the program reads its data and writes its state.
pub(crate) struct Options {
    /// Holds inventory.toml, policy.toml and quotas.toml.
    pub(crate) data: PathBuf,
    /// Receives the registry database and the audit log.
    pub(crate) state: PathBuf,
}

impl Options {
    /// Reads the command line; `None` when help was asked for.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let workspace = examples
            .parent()
            .map_or_else(|| examples.clone(), PathBuf::from);
        let mut options = Self {
            data: examples.join("data"),
            state: workspace.join("target/remediation-demo"),
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("`{flag}` needs a value"));
            match flag.split_once('=') {
                Some(("--data", dir)) => options.data = PathBuf::from(dir),
                Some(("--state", dir)) => options.state = PathBuf::from(dir),
                _ => match flag.as_str() {
                    "--data" => options.data = PathBuf::from(value()?),
                    "--state" => options.state = PathBuf::from(value()?),
                    "-h" | "--help" => return Ok(None),
                    other => return Err(format!("unknown argument `{other}`")),
                },
            }
        }
        Ok(Some(options))
    }
}
