//! What a run draws with `--plot`: after each iteration, `it_<N>.png` (the interpolant as a
//! colour map with the element edges and hanging vertices; for a hex mesh its three mid-plane
//! slices) and `convergence.png` (RMSE against DOFs of this run and of the other runs of the
//! same key found in the output folder, e.g. a threshold sweep). Turns mesh and run records
//! into the plain data of [`crate::plot`].

use std::path::{Path, PathBuf};

use crate::config::{Config, Drawn, UsageError};
use crate::experiment::name::{Method, RunSettings, parse_folder, python_float};
use crate::experiment::records::IterationRecord;
use crate::field::MeshField;
use crate::mesh::{HEX_EDGES_ALONG, Mesh};
use crate::plot::{
    Curve, FieldPicture, PlotError, SheetLayout, render_convergence_png, render_field_png,
    render_sheet_png, render_slices_png,
};

/// Pixels of a 2-D mesh's picture (square domains fill it beside the colour bar).
pub const FIELD_SIZE: (u32, u32) = (1000, 800);
/// Pixels of a hex mesh's three slices side by side.
pub const SLICES_SIZE: (u32, u32) = (1600, 640);
/// Pixels of the convergence picture.
pub const CONVERGENCE_SIZE: (u32, u32) = (900, 650);
/// Most curves on the convergence picture: beyond this colours and markers repeat and the
/// legend hides the curves.
pub const MAX_CURVES: usize = 8;

/// File name of iteration `it`'s picture.
pub fn iteration_file(it: usize) -> String {
    format!("it_{it}.png")
}

/// File name of the convergence picture in the experiment folder.
pub const CONVERGENCE_FILE: &str = "convergence.png";

/// Draws the last iteration of `records` (the current state of `field`) and rewrites the
/// convergence picture, so an interrupted run still has both. Returns the files written.
pub fn draw_iteration(
    cfg: &Config,
    field: &MeshField,
    records: &[IterationRecord],
    dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let mut written = Vec::with_capacity(2);
    if let Some(rec) = records.last() {
        let path = dir.join(iteration_file(rec.it));
        // The run checked --plot_component before its first iteration (`drawn`).
        let drawn = drawn(cfg, field.names()).map_err(|e| PlotError::Draw {
            what: path.display().to_string(),
            message: e.to_string(),
        })?;
        let title = iteration_title(cfg, field.names(), drawn, rec);
        draw_field_drawn(
            field,
            drawn,
            &title,
            &path,
            picture_size(field.mesh().dim()),
        )?;
        written.push(path);
    }
    let path = dir.join(CONVERGENCE_FILE);
    let runs = convergence_curves(cfg, dir, records);
    render_convergence_png(&runs.title(&cfg.key), &runs.curves, &path, CONVERGENCE_SIZE)?;
    written.push(path);
    Ok(written)
}

/// What `--plot_component` draws of a field whose outputs are `names` (default: the first).
pub fn drawn(cfg: &Config, names: &[String]) -> Result<Drawn, UsageError> {
    match &cfg.plot_component {
        Some(c) => c.resolve(names),
        None => Ok(Drawn::Component(0)),
    }
}

/// The name of what is drawn: an output's name, or `|u, v|` for the magnitude.
pub fn drawn_name(names: &[String], drawn: Drawn) -> String {
    let name = |c: usize| {
        names
            .get(c)
            .cloned()
            .unwrap_or_else(|| format!("output {c}"))
    };
    match drawn {
        Drawn::Component(c) => name(c),
        Drawn::Magnitude => format!("|{}, {}|", name(0), name(1)),
    }
}

/// "hos — f — it 3 — 1,234 DOFs — RMSE 1.234e-2": the key, what is drawn, the iteration.
pub fn iteration_title(
    cfg: &Config,
    names: &[String],
    drawn: Drawn,
    rec: &IterationRecord,
) -> String {
    format!(
        "{} — {} — it {} — {} DOFs — RMSE {:.3e}",
        cfg.key,
        drawn_name(names, drawn),
        rec.it,
        thousands(rec.dofs),
        rec.rmse
    )
}

/// `1234567` as "1,234,567".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Pixels of it_N.png for a mesh of dimension `dim`.
pub fn picture_size(dim: usize) -> (u32, u32) {
    if dim == 2 { FIELD_SIZE } else { SLICES_SIZE }
}

/// The field picture (first component) of a quad mesh, or the three mid-plane slices of a
/// hex mesh, of `size` pixels.
pub fn draw_field(
    field: &MeshField,
    title: &str,
    path: &Path,
    size: (u32, u32),
) -> Result<(), PlotError> {
    draw_field_drawn(field, Drawn::Component(0), title, path, size)
}

/// As [`draw_field`], showing `drawn` (a component or the magnitude of the first two).
pub fn draw_field_drawn(
    field: &MeshField,
    drawn: Drawn,
    title: &str,
    path: &Path,
    size: (u32, u32),
) -> Result<(), PlotError> {
    let mesh = field.mesh();
    let (lo, hi) = mesh.bounding_box();
    if mesh.dim() == 2 {
        let (cells, hanging) = quad_outlines(mesh);
        let sampler = sampler(field, drawn, |p: &[f64; 2]| [p[0], p[1], 0.0]);
        let pic = FieldPicture {
            title: title.to_string(),
            bounds: ([lo[0], lo[1]], [hi[0], hi[1]]),
            cells: &cells,
            hanging: &hanging,
            value_at: &sampler,
            axis_labels: ("x".into(), "y".into()),
        };
        return render_field_png(&pic, path, size);
    }
    let slices: [Slice; 3] = std::array::from_fn(|axis| Slice::mid_plane(mesh, axis));
    let outlines: Vec<_> = slices.iter().map(|s| s.outlines(mesh)).collect();
    let samplers: Vec<_> = slices
        .iter()
        .map(|s| sampler(field, drawn, move |p: &[f64; 2]| s.lift(p)))
        .collect();
    let pics: [FieldPicture; 3] = std::array::from_fn(|k| {
        let s = &slices[k];
        let [u, v] = s.in_plane;
        FieldPicture {
            title: format!(
                "{} = {}",
                AXES[s.axis],
                format_coordinate(s.at, hi[s.axis] - lo[s.axis])
            ),
            bounds: ([lo[u], lo[v]], [hi[u], hi[v]]),
            cells: &outlines[k].0,
            hanging: &outlines[k].1,
            value_at: &samplers[k],
            axis_labels: (AXES[u].into(), AXES[v].into()),
        }
    });
    render_slices_png(title, &pics, path, size)
}

const AXES: [&str; 3] = ["x", "y", "z"];

/// A slice coordinate with a few significant digits relative to the mesh's extent.
fn format_coordinate(x: f64, extent: f64) -> String {
    let decimals = (3.0 - extent.abs().max(1e-300).log10().floor()).clamp(0.0, 8.0) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// What `drawn` says of the interpolant at picture points, lifted to mesh points by `lift`;
/// NaN outside the mesh.
fn sampler<'a>(
    field: &'a MeshField,
    drawn: Drawn,
    lift: impl Fn(&[f64; 2]) -> [f64; 3] + Sync + 'a,
) -> impl Fn(&[[f64; 2]], &mut [f64]) + Sync + 'a {
    move |points: &[[f64; 2]], out: &mut [f64]| {
        let (mesh, values, ncomp) = (field.mesh(), field.values(), field.ncomp());
        let mut all = vec![0.0; ncomp];
        for (p, o) in points.iter().zip(out.iter_mut()) {
            *o = match mesh.locate_point(&lift(p)) {
                Some((e, xi)) => {
                    mesh.evaluate_in_element(values, ncomp, e, &xi, &mut all);
                    match drawn {
                        Drawn::Component(c) => all[c],
                        Drawn::Magnitude => all[0].hypot(all[1]),
                    }
                }
                None => f64::NAN,
            };
        }
    }
}

/// File name of a series' contact sheet, beside its series.pvd.
pub const SHEET_FILE: &str = "series.png";
/// Most panels in a row of the contact sheet.
pub const SHEET_COLUMNS: usize = 5;
/// Pixels of one contact-sheet panel (with its title and axes).
const SHEET_PANEL: (u32, u32) = (400, 430);

/// Pixels of the contact sheet of `n` slices: [`SHEET_COLUMNS`] panels a row, the colour bar
/// and the title beside and above them.
pub fn sheet_size(n: usize) -> (u32, u32) {
    let cols = n.clamp(1, SHEET_COLUMNS) as u32;
    let rows = n.max(1).div_ceil(SHEET_COLUMNS) as u32;
    (
        (cols * SHEET_PANEL.0 + 170).min(crate::plot::MAX_SIZE.0),
        (rows * SHEET_PANEL.1 + 70).min(crate::plot::MAX_SIZE.1),
    )
}

/// The contact sheet of a time series: one panel per slice (its last iteration's field; for a
/// hex mesh the mid-plane across z), titled by its time, all on one colour scale so the
/// colours compare across time.
pub fn draw_sheet(
    title: &str,
    slices: &[(f64, MeshField)],
    drawn: Drawn,
    path: &Path,
) -> Result<SheetLayout, PlotError> {
    struct Panel {
        bounds: ([f64; 2], [f64; 2]),
        outlines: (Vec<Outline>, Vec<[f64; 2]>),
        axes: (String, String),
        title: String,
    }
    let mut panels = Vec::with_capacity(slices.len());
    let mut samplers: Vec<Box<crate::plot::FieldSampler<'_>>> = Vec::with_capacity(slices.len());
    for (t, field) in slices {
        let mesh = field.mesh();
        let (lo, hi) = mesh.bounding_box();
        let title = format!(
            "t = {} — {} DOFs",
            python_float(*t),
            thousands(mesh.num_vertices())
        );
        if mesh.dim() == 2 {
            panels.push(Panel {
                bounds: ([lo[0], lo[1]], [hi[0], hi[1]]),
                outlines: quad_outlines(mesh),
                axes: ("x".into(), "y".into()),
                title,
            });
            samplers.push(Box::new(sampler(field, drawn, |p: &[f64; 2]| {
                [p[0], p[1], 0.0]
            })));
        } else {
            let s = Slice::mid_plane(mesh, 2);
            let [u, v] = s.in_plane;
            panels.push(Panel {
                bounds: ([lo[u], lo[v]], [hi[u], hi[v]]),
                outlines: s.outlines(mesh),
                axes: (AXES[u].into(), AXES[v].into()),
                title,
            });
            samplers.push(Box::new(sampler(field, drawn, move |p: &[f64; 2]| {
                s.lift(p)
            })));
        }
    }
    let pics: Vec<FieldPicture> = panels
        .iter()
        .zip(&samplers)
        .map(|(p, f)| FieldPicture {
            title: p.title.clone(),
            bounds: p.bounds,
            cells: &p.outlines.0,
            hanging: &p.outlines.1,
            value_at: f.as_ref(),
            axis_labels: p.axes.clone(),
        })
        .collect();
    render_sheet_png(title, &pics, SHEET_COLUMNS, path, sheet_size(slices.len()))
}

type Outline = [[f64; 2]; 4];

/// Every quad's corners (MFEM's order is cyclic) and the hanging vertices.
pub fn quad_outlines(mesh: &Mesh) -> (Vec<Outline>, Vec<[f64; 2]>) {
    let xy = |v: u32| {
        let p = mesh.vertices()[v as usize];
        [p[0], p[1]]
    };
    let cells = (0..mesh.num_elements())
        .map(|e| {
            let vs = mesh.element_vertices(e);
            std::array::from_fn(|k| xy(vs[k]))
        })
        .collect();
    let hanging = mesh
        .hanging_constraints()
        .iter()
        .map(|c| xy(c.vertex))
        .collect();
    (cells, hanging)
}

/// The plane `x[axis] = at` of a hex mesh, drawn with in-plane axes `in_plane` (increasing).
#[derive(Clone, Copy, Debug)]
pub struct Slice {
    pub axis: usize,
    pub at: f64,
    pub in_plane: [usize; 2],
}

impl Slice {
    /// The plane through the middle of the mesh's bounding box, across `axis`.
    pub fn mid_plane(mesh: &Mesh, axis: usize) -> Slice {
        let (lo, hi) = mesh.bounding_box();
        let in_plane = match axis {
            0 => [1, 2],
            1 => [0, 2],
            _ => [0, 1],
        };
        Slice {
            axis,
            at: 0.5 * (lo[axis] + hi[axis]),
            in_plane,
        }
    }

    /// The mesh point of an in-plane point.
    pub fn lift(&self, p: &[f64; 2]) -> [f64; 3] {
        let mut x = [0.0; 3];
        x[self.axis] = self.at;
        x[self.in_plane[0]] = p[0];
        x[self.in_plane[1]] = p[1];
        x
    }

    /// The outlines of the hexes' cuts by the plane, and the hanging vertices lying in it.
    /// A plane along element faces (where a mid-plane of a refined box lies) cuts the
    /// elements on its upper side only, so no element is drawn twice.
    pub fn outlines(&self, mesh: &Mesh) -> (Vec<Outline>, Vec<[f64; 2]>) {
        let a = self.axis;
        let (lo, hi) = mesh.bounding_box();
        let tol = 1e-9 * (hi[a] - lo[a]);
        let verts = mesh.vertices();
        let mut cells = Vec::new();
        for e in 0..mesh.num_elements() {
            let vs = mesh.element_vertices(e);
            let corners: [[f64; 3]; 8] = std::array::from_fn(|k| verts[vs[k] as usize]);
            let (cmin, cmax) = corners
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                    (l.min(p[a]), h.max(p[a]))
                });
            let at_top = (self.at - hi[a]).abs() <= tol && (cmax - hi[a]).abs() <= tol;
            if cmin - tol <= self.at && (self.at < cmax - tol || at_top) {
                cells.push(self.cut(&corners));
            }
        }
        let hanging = mesh
            .hanging_constraints()
            .iter()
            .map(|c| verts[c.vertex as usize])
            .filter(|p| (p[a] - self.at).abs() <= tol)
            .map(|p| [p[self.in_plane[0]], p[self.in_plane[1]]])
            .collect();
        (cells, hanging)
    }

    /// One hex's cut: where the four edges of one reference direction meet the plane (the
    /// direction most across the plane whose edges all cross it); for an element too skewed
    /// for that, its bounding box.
    fn cut(&self, corners: &[[f64; 3]; 8]) -> Outline {
        let a = self.axis;
        let [u, v] = self.in_plane;
        let crossing = |edges: &[[usize; 2]; 4]| -> Option<f64> {
            let mut rise = 0.0;
            for &[i, j] in edges {
                let (p, q) = (corners[i][a], corners[j][a]);
                if p == q || self.at < p.min(q) || self.at > p.max(q) {
                    return None;
                }
                rise += (q - p).abs();
            }
            Some(rise)
        };
        let best = HEX_EDGES_ALONG
            .iter()
            .filter_map(|edges| crossing(edges).map(|rise| (rise, edges)))
            .max_by(|x, y| x.0.total_cmp(&y.0));
        match best {
            Some((_, edges)) => edges.map(|[i, j]| {
                let (p, q) = (corners[i], corners[j]);
                let t = (self.at - p[a]) / (q[a] - p[a]);
                [p[u] + t * (q[u] - p[u]), p[v] + t * (q[v] - p[v])]
            }),
            None => {
                let (mut l, mut h) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
                for p in corners {
                    for (k, &ax) in [u, v].iter().enumerate() {
                        l[k] = l[k].min(p[ax]);
                        h[k] = h[k].max(p[ax]);
                    }
                }
                [[l[0], l[1]], [h[0], l[1]], [h[0], h[1]], [l[0], h[1]]]
            }
        }
    }
}

/// The curves of the convergence picture.
#[derive(Default)]
pub struct ConvergenceRuns {
    /// This run's curve (highlighted) and the other runs', ordered by folder name.
    pub curves: Vec<Curve>,
    /// Runs of the same key found but left out to keep the picture readable.
    pub left_out: usize,
}

impl ConvergenceRuns {
    pub fn title(&self, key: &str) -> String {
        match self.left_out {
            0 => format!("{key}: RMSE against DOFs"),
            n => format!("{key}: RMSE against DOFs ({n} more runs not drawn)"),
        }
    }
}

/// A run of the same key: its folder, settings and (DOFs, RMSE) per iteration.
struct Run {
    dir: PathBuf,
    settings: RunSettings,
    points: Vec<(f64, f64)>,
    /// The run being drawn (its points come from memory, not parameters.json).
    own: bool,
}

impl Run {
    /// Uniform runs first (the baseline every adaptive run is compared with), then by folder.
    fn order_key(&self) -> (bool, &Path) {
        (self.settings.method != Method::Uniform, &self.dir)
    }
}

/// Folders that may hold runs of `cfg`'s key: the siblings of this run's folder, the key's
/// adaptive folders (`<output>/<key>/`, `<output>/<key>/avg_error/`) and its uniform ones
/// (`<output>/<key>_original*`), so adaptive and uniform runs are compared.
fn candidate_dirs(cfg: &Config, dir: &Path) -> Vec<PathBuf> {
    let mut parents: Vec<PathBuf> = dir.parent().map(Path::to_path_buf).into_iter().collect();
    parents.push(cfg.output.join(&cfg.key));
    parents.push(cfg.output.join(&cfg.key).join("avg_error"));
    parents.push(
        cfg.output
            .join(&cfg.key)
            .join(crate::experiment::name::ESTIMATE_FOLDER),
    );
    let mut found = Vec::new();
    for parent in &parents {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            found.push(entry.path());
        }
    }
    if let Ok(entries) = std::fs::read_dir(&cfg.output) {
        let prefix = format!("{}_original", cfg.key);
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(entry.path());
            }
        }
    }
    let own = std::fs::canonicalize(dir).ok();
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| {
        let c = std::fs::canonicalize(p).ok();
        p.is_dir() && c != own && seen.insert(c.unwrap_or_else(|| p.clone()))
    });
    found
}

/// Reads a sibling's parameters.json: None unless it is a complete run of `key` with a
/// history.
fn read_run(dir: &Path, key: &str, tslice: Option<&str>) -> Option<Run> {
    let settings = parse_folder(dir, key)?;
    let slice = settings.value("tslice");
    if slice != tslice {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("parameters.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    // A run still running, interrupted or killed is no result to compare with; folders of
    // the original's runs, and of this tool's before it recorded a status, have none and
    // count as complete.
    if let Some(status) = json.get("status")
        && status.as_str() != Some("complete")
    {
        return None;
    }
    // Folders of the original's own runs lack INR_key; their place names the key.
    if let Some(k) = json.get("INR_key")
        && k.as_str() != Some(key)
    {
        return None;
    }
    let mut its: Vec<(usize, f64, f64)> = json
        .get("err_dof_dict")?
        .as_object()?
        .iter()
        .filter_map(|(it, v)| {
            let pair = v.as_array()?;
            Some((
                it.parse().ok()?,
                pair.get(1)?.as_f64()?,
                pair.first()?.as_f64()?,
            ))
        })
        .collect();
    its.sort_by_key(|t| t.0);
    Some(Run {
        dir: dir.to_path_buf(),
        settings,
        points: its.into_iter().map(|(_, d, r)| (d, r)).collect(),
        own: false,
    })
}

/// This run's curve (from `records`, highlighted) and those of the other runs of the same key
/// in the output folder (a threshold sweep, the uniform run), each labelled by the settings
/// that tell the runs apart; at most [`MAX_CURVES`].
pub fn convergence_curves(
    cfg: &Config,
    dir: &Path,
    records: &[IterationRecord],
) -> ConvergenceRuns {
    // Only runs of the same slice compare (CT keys, and a network sliced in time on a smaller
    // mesh, whose folder names its slice).
    let tslice = parse_folder(dir, &cfg.key)
        .and_then(|s| s.value("tslice").map(str::to_string))
        .or_else(|| cfg.is_ct().then(|| python_float(cfg.time_slice)));
    let mut runs: Vec<Run> = candidate_dirs(cfg, dir)
        .iter()
        .filter_map(|d| read_run(d, &cfg.key, tslice.as_deref()))
        .filter(|r| !r.points.is_empty())
        .collect();
    runs.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    let left_out = runs.len().saturating_sub(MAX_CURVES - 1);
    runs.truncate(MAX_CURVES - 1);

    runs.push(Run {
        dir: dir.to_path_buf(),
        settings: parse_folder(dir, &cfg.key).unwrap_or(RunSettings {
            method: if cfg.original {
                Method::Uniform
            } else {
                Method::Pruning
            },
            values: Vec::new(),
        }),
        // Without RMSE (`--rmse_samples 0`) there is nothing to draw.
        points: records
            .iter()
            .filter(|r| r.rmse.is_finite())
            .map(|r| (r.dofs as f64, r.rmse))
            .collect(),
        own: true,
    });
    runs.sort_by(|a, b| a.order_key().cmp(&b.order_key()));

    let settings: Vec<&RunSettings> = runs.iter().map(|r| &r.settings).collect();
    let labels = labels(&settings);
    let several = runs.len() > 1;
    let curves = runs
        .into_iter()
        .zip(labels)
        .map(|(run, label)| Curve {
            label: if run.own && several {
                format!("{label} (this run)")
            } else {
                label
            },
            points: run.points,
            highlight: run.own,
        })
        .collect();
    ConvergenceRuns { curves, left_out }
}

/// Labels naming the method and the settings that differ between the adaptive runs; a lone
/// adaptive run shows its threshold and prop threshold.
fn labels(runs: &[&RunSettings]) -> Vec<String> {
    let adaptive: Vec<&&RunSettings> = runs
        .iter()
        .filter(|r| r.method != Method::Uniform)
        .collect();
    let value = |r: &RunSettings, name: &str| r.value(name).map(str::to_string);
    let names = ["threshold", "prop", "eps", "nsamp", "errsamp", "theta"];
    let mut varying: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            let first = adaptive.first().map(|r| value(r, n));
            adaptive.iter().any(|r| Some(value(r, n)) != first)
        })
        .collect();
    if varying.is_empty() {
        varying = vec!["threshold", "prop"];
    }
    let methods_differ = adaptive.iter().any(|r| r.method != adaptive[0].method);
    runs.iter()
        .map(|r| {
            if r.method == Method::Uniform {
                return "uniform".to_string();
            }
            let parts: Vec<String> = varying
                .iter()
                .filter_map(|n| value(r, n).map(|v| format!("{n} {v}")))
                .collect();
            match (methods_differ || parts.is_empty(), parts.is_empty()) {
                (true, false) => format!("{}: {}", r.method.label(), parts.join(", ")),
                (true, true) => r.method.label().to_string(),
                (false, _) => parts.join(", "),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &str) -> RunSettings {
        parse_folder(Path::new("out/hos").join(name).as_path(), "hos").expect("parses")
    }

    #[test]
    fn folder_names_give_settings() {
        let s = settings("thrs_0.0001_prop_thrs_0.15_eps_1e-05_nsamp_256_errsamp_128");
        assert_eq!(s.method, Method::Pruning);
        assert_eq!(
            s.values,
            vec![
                ("threshold", "0.0001".to_string()),
                ("prop", "0.15".to_string()),
                ("eps", "1e-05".to_string()),
                ("nsamp", "256".to_string()),
                ("errsamp", "128".to_string()),
            ]
        );
        let b = parse_folder(
            Path::new("o/hos/avg_error/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128"),
            "hos",
        )
        .expect("parses");
        assert_eq!(b.method, Method::Basic);
        let u = parse_folder(Path::new("o/CT_demo_original_tslice_0.5"), "CT_demo").unwrap();
        assert_eq!(
            (u.method, u.values.clone()),
            (Method::Uniform, vec![("tslice", "0.5".into())])
        );
        assert!(parse_folder(Path::new("o/hos/ParaView"), "hos").is_none());
        assert!(parse_folder(Path::new("o/hol_original"), "hos").is_none());
        assert!(parse_folder(Path::new("o/hos/thrs_0.1_bogus_3"), "hos").is_none());
    }

    #[test]
    fn labels_name_what_differs() {
        let a = settings("thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128");
        let b = settings("thrs_0.0001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128");
        let u = parse_folder(Path::new("o/hos_original"), "hos").unwrap();
        assert_eq!(
            labels(&[&u, &a, &b]),
            vec!["uniform", "threshold 0.001", "threshold 0.0001"]
        );
        assert_eq!(labels(&[&a]), vec!["threshold 0.001, prop 0.2"]);
        assert_eq!(labels(&[&u]), vec!["uniform"]);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(66049), "66,049");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(format_coordinate(3.0, 4.0), "3");
        assert_eq!(format_coordinate(0.5, 1.0), "0.5");
        assert_eq!(format_coordinate(10.0, 20.0), "10");
        assert_eq!(format_coordinate(-0.0, 2.0), "0");
        assert_eq!(format_coordinate(0.123456, 1.0), "0.123");
        assert_eq!(format_coordinate(1234.5678, 40.0), "1234.57");
    }
}
