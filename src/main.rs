//! The `pruningamr` command: parse and validate options, run, report errors in one line.

use std::process::ExitCode;

use clap::Parser;
use pruningamr::config::{BUILTIN_KEYS, Cli, LICENSED_CT_KEYS};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Err(e) => {
            eprintln!("pruningamr: {e}");
            return ExitCode::from(2);
        }
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pruningamr: --threads: {e}");
            return ExitCode::from(2);
        }
    };
    match pool.install(|| pruningamr::run::run(&cfg)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pruningamr: {e:#}");
            ExitCode::from(1)
        }
    }
}
