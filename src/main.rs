//! The `pruningamr` command: parse and validate options, run with a console (progress lines,
//! progress bars on a terminal), report errors in one line (`pruningamr: <file or option>:
//! <what is wrong>`; exit status 2 for usage (a folder another run holds included), 1 for
//! input/IO, 130/143 after SIGINT/SIGTERM). Under an MPI launcher (`--features mpi`) every
//! process runs this; rank 0 alone prints, and failures are agreed so that all exit together
//! with the same status.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clap::{CommandFactory, FromArgMatches};
use indicatif::{ProgressBar, ProgressStyle};
use pruningamr::config::Cli;
use pruningamr::network::{BUILTIN_KEYS, LICENSED_CT_KEYS};
use pruningamr::ranks::{Failure, world};
use pruningamr::run::Observer;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Exit status of a command line that cannot be used.
const USAGE: u8 = 2;
/// Exit status of a run that failed on its inputs or outputs.
const FAILED: u8 = 1;

fn main() -> ExitCode {
    #[cfg(feature = "mpi")]
    let universe = match pruningamr::ranks::start_mpi() {
        Ok(u) => u,
        Err(e) => return report(&format!("cannot start MPI: {e}"), FAILED),
    };
    #[cfg(not(feature = "mpi"))]
    if let Some(n) = launched_alone() {
        return report(
            &format!(
                "started by an MPI launcher as one of {n} processes, but built without the \
                 `mpi` feature, so each would run alone and write the same files; rebuild with \
                 `cargo build --release --features mpi`"
            ),
            USAGE,
        );
    }
    let code = command();
    // Finalizing waits for every rank, so none can exit (and have the launcher end the job)
    // before rank 0 has written its error line.
    #[cfg(feature = "mpi")]
    drop(universe);
    code
}

/// The number of processes an MPI launcher started this one among, when there is more than
/// one: a build without the `mpi` feature cannot share their work.
#[cfg(not(feature = "mpi"))]
fn launched_alone() -> Option<usize> {
    let n = pruningamr::ranks::launched_size()?;
    (n > 1 && pruningamr::ranks::launched_by_mpi()).then_some(n)
}

/// The command on this process.
fn command() -> ExitCode {
    let printer = world().rank() == 0;
    let cli = match parse_command_line() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if cli.list_keys {
        if !printer {
            return ExitCode::SUCCESS;
        }
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
    let cfg = match agreed(cli.validate().map_err(|e| (e.to_string(), USAGE))) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| (format!("--threads: {e}"), USAGE));
    let pool = match agreed(pool) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let console = Console::new(cfg.quiet || !printer);
    let installed = console.stop.install().map_err(|e| {
        (
            format!("cannot install the SIGINT/SIGTERM handlers: {e}"),
            FAILED,
        )
    });
    if let Err(code) = agreed(installed) {
        return code;
    }
    match pool.install(|| pruningamr::series::run(&cfg, &console)) {
        // Interrupted: parameters.json says so; the status is the shell's 128 + signal.
        Ok(_) if console.stop.signal() != 0 => {
            let signal = console.stop.signal();
            let name = if signal == SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            if printer {
                eprintln!("pruningamr: interrupted by {name}; the finished iterations are kept");
            }
            ExitCode::from((128 + signal) as u8)
        }
        Ok(_) => ExitCode::SUCCESS,
        // A value refused once the inputs are known (a run too large for memory) is still
        // the command line's fault.
        Err(e) => {
            let code = if e.is_usage() { USAGE } else { FAILED };
            report(&e.one_line(), code)
        }
    }
}

/// SIGINT/SIGTERM ask the run to stop between two steps (the file being written is
/// finished, parameters.json records `interrupted`, the folder's lock is released); a second
/// signal while it winds down ends the process at once with the same status.
struct StopOnSignal {
    requested: Arc<AtomicBool>,
    /// The signal that arrived (0: none).
    signal: Arc<AtomicUsize>,
}

impl StopOnSignal {
    fn new() -> StopOnSignal {
        StopOnSignal {
            requested: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn install(&self) -> std::io::Result<()> {
        for sig in [SIGINT, SIGTERM] {
            // The shutdown first: it fires only once the flag is already set.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&self.requested))?;
            flag::register_usize(sig, Arc::clone(&self.signal), sig as usize)?;
            flag::register(sig, Arc::clone(&self.requested))?;
        }
        Ok(())
    }

    fn signal(&self) -> i32 {
        self.signal.load(Ordering::SeqCst) as i32
    }

    fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// Progress lines on stdout unless `--quiet`; a progress bar on stderr when it is a terminal,
/// hidden otherwise (batch scripts, logs).
struct Console {
    stop: StopOnSignal,
    quiet: bool,
    bars: bool,
    bar: Mutex<ProgressBar>,
}

impl Console {
    fn new(quiet: bool) -> Console {
        Console {
            stop: StopOnSignal::new(),
            quiet,
            bars: !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(ProgressBar::hidden()),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&mut ProgressBar)) {
        if let Ok(mut bar) = self.bar.lock() {
            f(&mut bar);
        }
    }
}

impl Observer for Console {
    fn stop_requested(&self) -> bool {
        self.stop.requested()
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
        }
    }

    fn start(&self, what: &str, len: u64) {
        if !self.bars {
            return;
        }
        let pb = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(
            "  {msg:>10} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(what.to_string());
        self.with_bar(|bar| *bar = pb);
    }

    fn advance(&self, n: u64) {
        if self.bars {
            self.with_bar(|bar| bar.inc(n));
        }
    }

    fn finish(&self) {
        if self.bars {
            self.with_bar(|bar| bar.finish_and_clear());
        }
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
            // --help, --version: a closed stdout leaves nothing to report to.
            if world().rank() == 0 {
                e.print().ok();
            }
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

/// `local` once every process has said how its start went (see `Error::agreed`): a failure
/// on any is reported once, with the lowest failing rank's message and status. Command-line
/// errors are the same on every rank, but the pool and the signal handlers may fail on one.
fn agreed<T>(local: Result<T, (String, u8)>) -> Result<T, ExitCode> {
    let mine = match &local {
        Ok(_) => Ok(()),
        Err((message, code)) => Err(Failure {
            message: message.clone(),
            usage: *code == USAGE,
        }),
    };
    match (world().agree_ok(mine), local) {
        (Ok(()), Ok(v)) => Ok(v),
        (Err(f), _) => Err(report(&f.message, if f.usage { USAGE } else { FAILED })),
        (Ok(()), Err((message, code))) => Err(report(&message, code)),
    }
}

/// Prints the error line (on rank 0 only: the others hold the same error) and gives the
/// exit status.
fn report(message: &str, code: u8) -> ExitCode {
    if world().rank() == 0 {
        let line: Vec<&str> = message.split_whitespace().collect();
        eprintln!("pruningamr: {}", line.join(" "));
    }
    ExitCode::from(code)
}
