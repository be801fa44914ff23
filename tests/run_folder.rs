//! A run owns its experiment folder (issue 15, SPEC §5 and §7): a rerun replaces an earlier
//! run's results and nothing else; a second run into a folder in use stops with exit 2 and
//! leaves the first run's files alone; SIGINT/SIGTERM end a run with status `interrupted`
//! (exit 130/143) and SIGKILL leaves status `running`, with only whole files in both cases.
//! The signal tests wait for the run to record an iteration, never for a time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use pruningamr::experiment::folder::LOCK_FILE;
use pruningamr::run::{EachIteration, IterationView, Silent, run};
use serde_json::Value;

use common::config;

fn out_dir(name: &str) -> PathBuf {
    common::out_dir("run_folder", name)
}

/// Every path under `dir`, relative to it, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_rerun_with_fewer_iterations_leaves_exactly_its_own_files() {
    let out = out_dir("rerun");
    let first = config(
        &out,
        &["--original", "--max_it", "4", "--paraview", "--plot"],
    );
    let dir = pruningamr::experiment::name::folder(&first);
    run(&first, &Silent).unwrap();
    // A file of the user's in the folder is not the tool's to remove.
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    assert!(dir.join("it_3.mesh").is_file() && dir.join("ParaView/pruningamr_3.vtu").is_file());

    let second = config(
        &out,
        &["--original", "--max_it", "2", "--paraview", "--plot"],
    );
    let s = run(&second, &Silent).unwrap();
    assert_eq!(s.iterations.len(), 2);
    let want: Vec<String> = [
        LOCK_FILE,
        "ParaView",
        "ParaView/pruningamr.pvd",
        "ParaView/pruningamr_0.vtu",
        "ParaView/pruningamr_1.vtu",
        "convergence.png",
        "it_0.gf",
        "it_0.mesh",
        "it_0.png",
        "it_1.gf",
        "it_1.mesh",
        "it_1.png",
        "notes.txt",
        "parameters.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut want = want;
    want.sort();
    assert_eq!(listing(&dir), want);
    let pvd = std::fs::read_to_string(dir.join("ParaView/pruningamr.pvd")).unwrap();
    assert!(!pvd.contains("pruningamr_2.vtu"), "{pvd}");
    let p = common::read_json(&dir.join("parameters.json"));
    assert_eq!(p["status"], "complete");
    assert_eq!(p["iteration_reached"], 1);
    assert_eq!(p["err_dof_dict"].as_object().unwrap().len(), 2);
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A spawned run, killed if the test fails before it ends (so no run outlives its test).
struct Running(Option<Child>);

impl Running {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
    fn id(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }
    fn wait_with_output(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// Spawns the binary on a run long enough to be signalled mid-run: hos with every element
/// marked in every adaptive iteration and many samples per element, so each iteration's
/// scoring is several times the last one's (it never reaches its last iteration).
fn spawn_long_run(out: &Path) -> Running {
    Running(Some(
        Command::new(env!("CARGO_BIN_EXE_pruningamr"))
            .args(long_run_args(out))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ))
}

fn long_run_args(out: &Path) -> Vec<String> {
    [
        "--quiet",
        "--output",
        &out.display().to_string(),
        "--threads",
        "1",
        "--ID_samples",
        "4096",
        "--error_samples",
        "4096",
        "--threshold",
        "0",
        "--max_dofs",
        "100000000",
        "--max_it",
        "9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn long_run_dir(out: &Path) -> PathBuf {
    out.join("hos/thrs_0.0_prop_thrs_0.2_eps_0.001_nsamp_4096_errsamp_4096")
}

/// parameters.json of `dir`, once it can be read (it is always whole: written atomically).
fn parameters(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("parameters.json")).ok()?;
    Some(serde_json::from_str(&text).expect("parameters.json is whole"))
}

/// Waits until the run has recorded iteration `it` (or has ended, which fails the test).
fn wait_for_iteration(run: &mut Running, dir: &Path, it: u64) {
    loop {
        if let Some(p) = parameters(dir)
            && p["iteration_reached"].as_u64().is_some_and(|r| r >= it)
        {
            return;
        }
        if let Some(status) = run.child().try_wait().unwrap() {
            panic!("the run ended ({status}) before iteration {it}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn send(run: &Running, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &run.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal} failed");
}

/// Every it_N.mesh / it_N.gf in `dir` is whole: the mesh's vertex section holds as many
/// lines as it announces, the grid function as many values as the mesh has vertices times
/// VDim. Returns the iterations found.
fn assert_whole_files(dir: &Path) -> Vec<usize> {
    let mut its = Vec::new();
    for name in listing(dir) {
        if let Some(n) = name
            .strip_prefix("it_")
            .and_then(|r| r.strip_suffix(".mesh"))
        {
            its.push(n.parse::<usize>().unwrap());
        }
    }
    its.sort();
    for &it in &its {
        let mesh = std::fs::read_to_string(dir.join(format!("it_{it}.mesh"))).unwrap();
        let lines: Vec<&str> = mesh.lines().collect();
        let at = lines.iter().position(|l| *l == "vertices").unwrap();
        let nv: usize = lines[at + 1].trim().parse().unwrap();
        let dim: usize = lines[at + 2].trim().parse().unwrap();
        let rows: Vec<&&str> = lines[at + 3..].iter().filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), nv, "it_{it}.mesh is torn");
        assert!(rows.iter().all(|r| r.split_whitespace().count() == dim));
        // A killed run may have written a mesh and not yet its grid function.
        let Ok(gf) = std::fs::read_to_string(dir.join(format!("it_{it}.gf"))) else {
            continue;
        };
        let vdim: usize = gf
            .lines()
            .find_map(|l| l.strip_prefix("VDim: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let values = gf
            .lines()
            .skip_while(|l| !l.starts_with("Ordering"))
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        assert_eq!(values, nv * vdim, "it_{it}.gf is torn");
    }
    its
}

fn interrupted_by(signal: &str, code: i32, name: &str) {
    let out = out_dir(name);
    let dir = long_run_dir(&out);
    let mut child = spawn_long_run(&out);
    wait_for_iteration(&mut child, &dir, 2);
    send(&child, signal);
    let o = child.wait_with_output();
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let p = parameters(&dir).unwrap();
    assert_eq!(p["status"], "interrupted");
    assert_eq!(p["stop_reason"], "interrupted");
    let reached = p["iteration_reached"].as_u64().unwrap() as usize;
    assert!((2..8).contains(&reached), "{reached}");
    let its = assert_whole_files(&dir);
    assert_eq!(its, (0..=reached).collect::<Vec<_>>());
    assert_eq!(p["iterations"].as_array().unwrap().len(), reached + 1);
    // Nothing half-written, no temporary left behind.
    assert!(
        listing(&dir).iter().all(|n| !n.contains(".tmp")),
        "{:?}",
        listing(&dir)
    );
    // The lock is released: the folder can be run into again at once.
    std::fs::File::open(dir.join(LOCK_FILE))
        .unwrap()
        .try_lock()
        .expect("lock released");
}

#[test]
fn sigint_ends_the_run_as_interrupted_with_status_130() {
    interrupted_by("-INT", 130, "sigint");
}

#[test]
fn sigkill_leaves_status_running_and_whole_files() {
    let out = out_dir("sigkill");
    let dir = long_run_dir(&out);
    let mut child = spawn_long_run(&out);
    wait_for_iteration(&mut child, &dir, 2);
    send(&child, "-KILL");
    let status = child.wait_with_output().status;
    assert_eq!(status.code(), None, "killed by a signal");
    let p = parameters(&dir).unwrap();
    assert_eq!(p["status"], "running");
    assert_eq!(p["stop_reason"], Value::Null);
    let reached = p["iteration_reached"].as_u64().unwrap() as usize;
    let its = assert_whole_files(&dir);
    // The run may have written the next iteration's files before its parameters.json.
    assert!(
        its == (0..=reached).collect::<Vec<_>>() || its == (0..=reached + 1).collect::<Vec<_>>()
    );
}

#[test]
fn a_second_run_into_a_folder_in_use_stops_with_status_2() {
    let out = out_dir("in_use");
    let dir = long_run_dir(&out);
    let mut first = spawn_long_run(&out);
    wait_for_iteration(&mut first, &dir, 1);
    let before: Vec<(String, Vec<u8>)> = ["it_0.mesh", "it_0.gf", "it_1.mesh", "it_1.gf"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(dir.join(n)).unwrap()))
        .collect();
    let second = Command::new(env!("CARGO_BIN_EXE_pruningamr"))
        .args(long_run_args(&out))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.id())) && stderr.contains("in use"),
        "{stderr}"
    );
    for (name, bytes) in &before {
        assert_eq!(
            &std::fs::read(dir.join(name)).unwrap(),
            bytes,
            "{name} changed"
        );
    }
    // The first run goes on; SIGTERM ends it as interrupted with 128 + 15.
    send(&first, "-TERM");
    let o = first.wait_with_output();
    assert_eq!(
        o.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let p = parameters(&dir).unwrap();
    assert_eq!(p["status"], "interrupted");
    assert_whole_files(&dir);
}

/// parameters.json exists from before the first iteration (status `running`), and a step that
/// fails mid-run leaves `failed` with the error the command prints, not `running`.
#[test]
fn a_write_error_mid_run_leaves_status_failed_with_the_error() {
    let out = out_dir("failed");
    let cfg = config(&out, &["--original", "--max_it", "3"]);
    let dir = pruningamr::experiment::name::folder(&cfg);
    let mut seen_before_it0 = None;
    let obs = EachIteration::new(|view: &IterationView<'_>| {
        if view.it == 0 {
            // A folder where iteration 1's mesh goes: renaming the finished file onto it fails.
            std::fs::create_dir_all(view.experiment_dir.join("it_1.mesh/x")).unwrap();
            seen_before_it0 = parameters(view.experiment_dir);
        }
    });
    let err = run(&cfg, &obs).unwrap_err();
    let p = parameters(&dir).expect("parameters.json");
    assert_eq!(p["status"], "failed");
    assert_eq!(p["error"], err.one_line().as_str());
    assert!(p["error"].as_str().unwrap().contains("it_1.mesh"), "{p}");
    assert_eq!(p["stop_reason"], Value::Null);
    assert_eq!(p["iteration_reached"], 0);
    // Rewritten after iteration 0, so the one seen there already holds that iteration.
    let before = seen_before_it0.expect("parameters.json after iteration 0");
    assert_eq!(before["status"], "running");
    assert_eq!(before["iteration_reached"], 0);
}

/// Before any iteration has finished, parameters.json already says the run is running: it is
/// read when iteration 0's RMSE starts, after its files and before its record.
#[test]
fn parameters_are_written_before_the_first_iteration() {
    struct ReadAtFirstRmse {
        dir: PathBuf,
        seen: std::sync::Mutex<Option<Option<Value>>>,
    }
    impl pruningamr::run::Observer for ReadAtFirstRmse {
        fn start(&self, what: &str, _len: u64) {
            let mut seen = self.seen.lock().unwrap();
            if what == "RMSE" && seen.is_none() {
                *seen = Some(parameters(&self.dir));
            }
        }
    }
    let out = out_dir("before-first");
    let cfg = config(&out, &["--original", "--max_it", "1"]);
    let obs = ReadAtFirstRmse {
        dir: pruningamr::experiment::name::folder(&cfg),
        seen: std::sync::Mutex::new(None),
    };
    run(&cfg, &obs).unwrap();
    let seen = obs.seen.into_inner().unwrap().expect("the RMSE started");
    let p = seen.expect("parameters.json before iteration 0's record");
    assert_eq!(p["status"], "running");
    assert_eq!(p["iteration_reached"], Value::Null);
    assert_eq!(p["iterations"], serde_json::json!([]));
}
