//! The `pruningamr` command: parse and validate options, run, report errors in one line
//! (`pruningamr: <file or option>: <what is wrong>`; exit status 2 for usage, 1 for input/IO).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use pruningamr::config::{BUILTIN_KEYS, Cli, LICENSED_CT_KEYS, UsageError};

/// Exit status of a command line that cannot be used.
const USAGE: u8 = 2;
/// Exit status of a run that failed on its inputs or outputs.
const FAILED: u8 = 1;

fn main() -> ExitCode {
    let cli = match parse_command_line() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if cli.list_keys {
        println!("built-in INR keys:");
        for k in BUILTIN_KEYS {
            println!("  {:<8} {}", k.key, k.description);
        }
        println!(
            "licensed CT keys of the original (weights not shipped; use --checkpoint): {}",
            LICENSED_CT_KEYS.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    let cfg = match cli.validate() {
        Ok(c) => c,
        Err(e) => return report(&e.to_string(), USAGE),
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
    {
        Ok(p) => p,
        Err(e) => return report(&format!("--threads: {e}"), USAGE),
    };
    match pool.install(|| pruningamr::run::run(&cfg)) {
        Ok(_) => ExitCode::SUCCESS,
        // A value refused once the inputs are known (a run too large for memory) is still
        // the command line's fault.
        Err(e) if e.downcast_ref::<UsageError>().is_some() => report(&one_line(&e), USAGE),
        Err(e) => report(&one_line(&e), FAILED),
    }
}

/// The command line; clap's own errors (unknown option, a value that does not parse) are
/// reported in the same one-line form as ours; help and version print as usual.
fn parse_command_line() -> Result<Cli, ExitCode> {
    // Negative numbers are values, so `--max_it -1` is reported as a bad value of --max_it,
    // not as an unknown argument `-1`.
    let command = Cli::command().mut_args(|a| a.allow_negative_numbers(true));
    let parsed = command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    match parsed {
        Ok(cli) => Ok(cli),
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            Err(report(first, USAGE))
        }
    }
}

/// An error and its causes on one line, each said once: a context that a deeper cause
/// repeats (`it_0.mesh` over `it_0.mesh: File too large`) and a cause that a message already
/// quotes (`x: cannot read: No such file` over `No such file`) are left out.
fn one_line(e: &anyhow::Error) -> String {
    let texts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let deeper_says_it = texts[i + 1..].iter().any(|d| d.contains(t.as_str()));
        let said = kept.iter().any(|k| k.contains(t.as_str()));
        if !deeper_says_it && !said {
            kept.push(t);
        }
    }
    kept.join(": ")
}

fn report(message: &str, code: u8) -> ExitCode {
    let line: Vec<&str> = message.split_whitespace().collect();
    eprintln!("pruningamr: {}", line.join(" "));
    ExitCode::from(code)
}
