//! The library's error: why a run could not be done, typed, each message naming the file or
//! option at fault. `main` turns it into one line and an exit status ([`Error::is_usage`]).

use std::path::PathBuf;

use crate::config::UsageError;
use crate::mesh::MeshError;
use crate::network::verify::VerifyError;
use crate::network::{BuiltinError, CheckpointError, InrError};
use crate::plot::PlotError;
use crate::ranks::{Failure, Ranks};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line value that cannot be used, found before or during the run.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// A built-in key without a network or start mesh, or its network file unreadable.
    #[error(transparent)]
    Builtin(#[from] BuiltinError),
    /// A network file that cannot be read.
    #[error(transparent)]
    Network(#[from] CheckpointError),
    /// `--verify`: the network differs from the user's values, or they cannot be read.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A start mesh that cannot be read or used.
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// The network does not fit the mesh (`what` names both).
    #[error("{what}: {source}")]
    Inr {
        what: String,
        #[source]
        source: InrError,
    },
    /// The output folder cannot be made: `path` (a file) is in the way.
    #[error("{}: is not a folder, so the output folder {} cannot be created", in_the_way.display(), folder.display())]
    NotAFolder {
        in_the_way: PathBuf,
        folder: PathBuf,
    },
    /// An output file or folder could not be written (the message names `path` once).
    #[error("{}", name_once(path, source))]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another run holds the experiment folder's lock (SPEC §5: a run owns its folder).
    #[error("{}: in use by another pruningamr run ({}); wait for it to end, or give another --output", folder.display(), holder(*pid))]
    FolderInUse { folder: PathBuf, pid: Option<u32> },
    /// `--plot` failed to draw.
    #[error("--plot: iteration {it}: {source}")]
    Plot {
        it: usize,
        #[source]
        source: PlotError,
    },
    /// An error of one of the run's processes (the lowest-numbered that failed), agreed by
    /// all of them so that they stop together (`--features mpi`).
    #[error("{}", .0.message)]
    Rank(Failure),
}

impl Error {
    /// True when the command line is at fault (exit status 2), not an input or output file.
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Usage(_) | Error::FolderInUse { .. } => true,
            Error::Builtin(b) => b.is_usage(),
            Error::Network(c) => c.is_usage(),
            Error::Rank(f) => f.usage,
            _ => false,
        }
    }

    /// The error and its causes on one line, each said once: a context that a deeper cause
    /// repeats (`it_0.mesh` over `it_0.mesh: File too large`) and a cause that a message
    /// already quotes (`x: cannot read: No such file` over `No such file`) are left out.
    pub fn one_line(&self) -> String {
        let mut texts = Vec::new();
        let mut next: Option<&dyn std::error::Error> = Some(self);
        while let Some(e) = next {
            texts.push(e.to_string());
            next = e.source();
        }
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

    /// `local` once every process has said how its step went: all go on, or all stop with
    /// the error of the lowest-numbered process that failed (its one line and exit status),
    /// so no process waits in a collective for one that has left. One process keeps its own
    /// error, untouched.
    pub fn agreed<T>(ranks: &dyn Ranks, local: Result<T, Error>) -> Result<T, Error> {
        if ranks.size() == 1 {
            return local;
        }
        let mine = match &local {
            Ok(_) => Ok(()),
            Err(e) => Err(Failure {
                message: e.one_line(),
                usage: e.is_usage(),
            }),
        };
        match ranks.agree_ok(mine) {
            Ok(()) => local,
            Err(f) => Err(Error::Rank(f)),
        }
    }

    /// An output error naming `path`.
    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Write { path, source }
    }
}

/// `path: what`, unless the I/O error's text already starts with the path (the atomic writer
/// names the file it failed on).
fn name_once(path: &std::path::Path, source: &std::io::Error) -> String {
    let text = source.to_string();
    let shown = path.display().to_string();
    if text.starts_with(&shown) {
        text
    } else {
        format!("{shown}: {text}")
    }
}

/// Who holds a folder: its pid, when the lock file says.
fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(p) => format!("pid {p}"),
        None => "pid not known yet".to_string(),
    }
}
