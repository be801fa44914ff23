//! The nonconforming quad/hex mesh: reading start meshes, refinement (isotropic, or halving
//! some axes only) that keeps the whole tree, hanging vertices and their constraints, point location, MFEM and VTK output.
//!
//! Identities:
//! - A *leaf index* (`usize`, `0..num_elements()`) names an element of the current mesh; it is
//!   only valid until the next [`Mesh::refine`] (refined leaves are replaced in place by their
//!   children, so leaf order stays deterministic).
//! - A *vertex id* (`u32`/`usize`) is stable forever: refinement appends new vertices.
//! - [`Mesh::element_tree_id`] is stable across refinements: it depends only on the start
//!   element and the path of child indices leading to the element.

mod closure;
mod error;
mod geometry;
mod hanging;
mod keys;
mod locate;
mod places;
mod reader;
mod reference;
mod refine;
mod sample;
mod write_mfem;
mod write_vtk;

use std::ops::Range;
use std::path::Path;

pub use error::MeshError;
pub use hanging::{Constraint, HangingConstraints};
pub use reference::HEX_EDGES_ALONG;
pub use sample::ElementSampler;
pub use write_mfem::format_g8;
pub use write_vtk::{ParaViewWriter, write_collection};

use geometry::Inverse;
pub(crate) use keys::FxMap;
use keys::FxSet;
use locate::RootGrid;
pub(crate) use places::Place;
use reference::{CORNERS, num_corners};

/// Marks a tree node without children.
const NO_CHILD: u32 = u32::MAX;

/// The reference axes a refinement halves (bit a: axis a): all of them (isotropic: 4 or 8
/// children) or some (anisotropic: 2 or 4). [`Split::NONE`] leaves an element as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Split(u8);

impl Split {
    /// No refinement.
    pub const NONE: Split = Split(0);

    /// Every axis of a `dim`-D element.
    pub const fn isotropic(dim: usize) -> Split {
        Split(if dim == 2 { 0b011 } else { 0b111 })
    }

    /// The axes of `mask` (bit a: reference axis a), if they are axes of a `dim`-D element.
    pub fn axes(dim: usize, mask: u8) -> Option<Split> {
        (mask & !Split::isotropic(dim).0 == 0).then_some(Split(mask))
    }

    /// The bits of the halved axes.
    pub const fn mask(self) -> u8 {
        self.0
    }

    /// True when axis `a` is halved.
    pub const fn halves(self, a: usize) -> bool {
        self.0 & (1 << a) != 0
    }

    /// Number of children (1 for [`Split::NONE`]).
    pub const fn num_children(self) -> usize {
        1 << self.0.count_ones()
    }

    /// This split, also halving axis `a`.
    pub const fn with_axis(self, a: usize) -> Split {
        Split(self.0 | (1 << a))
    }
}

/// One element of the refinement tree (a leaf or a refined element).
#[derive(Debug, Clone)]
struct Node {
    /// Corner vertex ids in MFEM reference order (first 4 used in 2D).
    vertices: [u32; 8],
    /// Index of the first of the consecutive children, or `NO_CHILD`.
    first_child: u32,
    /// How the node was split (`Split::NONE` for a leaf).
    split: Split,
    /// Number of splits from the start element.
    level: u32,
    /// Number of splits that halved each reference axis.
    axis_levels: [u8; 3],
    attribute: i32,
    tree_id: u64,
    root: u32,
    /// Bit k: side k of this node lies inside side k of its start element.
    root_side_mask: u8,
}

/// What one call of [`Mesh::refine`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefineOutcome {
    /// Number of leaves that were split.
    pub refined: usize,
    /// Ids of the vertices created by this refinement (values must be computed for them).
    pub new_vertices: Range<usize>,
}

/// A quad (2D) or hex (3D) mesh refined isotropically and nonconformingly.
#[derive(Debug, Clone)]
pub struct Mesh {
    dim: usize,
    vertices: Vec<[f64; 3]>,
    /// For vertices made by refinement, the two vertices whose midpoint they are (edge: its
    /// ends; face centre: midpoints of two opposite edges; body centre: two opposite side
    /// centres). `[NO_CHILD; 2]` for start vertices.
    vertex_parents: Vec<[u32; 2]>,
    nodes: Vec<Node>,
    num_roots: usize,
    leaves: Vec<u32>,
    leaf_of_node: Vec<u32>,
    /// Each vertex made by refinement, keyed by its parents (`keys::edge_key`): the midpoint
    /// of a split edge by the edge's ends, a face centre by its `vertex_parents`.
    mid: FxMap<u64, u32>,
    /// Vertices by position, kept from the first anisotropic refinement on.
    places: Option<places::Places>,
    /// Edges of elements that lie on a face of their parent (3D), by `keys::edge_key`: how
    /// a face shows which way it is cut.
    face_edges: FxSet<u64>,
    /// Boundary attribute of each start element's sides (0: shared with another element).
    root_side_attr: Vec<[i32; 6]>,
    root_inverse: Vec<Inverse>,
    root_grid: RootGrid,
    constraints: HangingConstraints,
    /// Every start element is a box with its reference axes along x, y, z.
    aligned: bool,
}

/// The largest start-mesh file read (a start mesh is coarse; this is millions of elements).
const MAX_MESH_BYTES: u64 = 1 << 30;

impl Mesh {
    /// Reads an `MFEM mesh v1.0` or `MFEM INLINE mesh v1.0` file of quads or hexes.
    pub fn read(path: &Path) -> Result<Mesh, MeshError> {
        let name = path.display().to_string();
        let bytes =
            crate::io::read_capped(path, MAX_MESH_BYTES).map_err(|source| MeshError::Io {
                file: name.clone(),
                source,
            })?;
        let text = String::from_utf8(bytes).map_err(|_| MeshError::Io {
            file: name.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?;
        Mesh::parse(&text, &name)
    }

    /// Parses mesh text; `source_name` names it in error messages.
    pub fn parse(text: &str, source_name: &str) -> Result<Mesh, MeshError> {
        let root = reader::parse(text, source_name)?;
        Ok(Mesh::from_root(root))
    }

    fn from_root(root: reader::RootMesh) -> Mesh {
        let dim = root.dim;
        let nc = num_corners(dim);
        let sides = reference::sides(dim);
        let mut side_count: FxMap<Vec<u32>, u32> = FxMap::default();
        for (ids, _) in &root.elements {
            for side in sides {
                *side_count.entry(keys::sorted_side(ids, side)).or_insert(0) += 1;
            }
        }
        let boundary_attr: FxMap<Vec<u32>, i32> = root.boundary.iter().cloned().collect();
        let mut nodes = Vec::with_capacity(root.elements.len());
        let mut root_side_attr = Vec::with_capacity(root.elements.len());
        let mut root_inverse = Vec::with_capacity(root.elements.len());
        for (r, (ids, attr)) in root.elements.iter().enumerate() {
            let mut sa = [0i32; 6];
            for (k, side) in sides.iter().enumerate() {
                let key = keys::sorted_side(ids, side);
                if side_count.get(&key) == Some(&1) {
                    sa[k] = boundary_attr.get(&key).copied().unwrap_or(1);
                }
            }
            root_side_attr.push(sa);
            let mut corners = [[0.0; 3]; 8];
            for (c, &id) in corners.iter_mut().zip(ids.iter()).take(nc) {
                *c = root.vertices[id as usize];
            }
            root_inverse.push(Inverse::new(dim, &corners));
            nodes.push(Node {
                vertices: *ids,
                first_child: NO_CHILD,
                split: Split::NONE,
                level: 0,
                axis_levels: [0; 3],
                attribute: *attr,
                tree_id: keys::root_tree_id(r),
                root: r as u32,
                root_side_mask: 0x3f,
            });
        }
        let num_roots = nodes.len();
        let nv = root.vertices.len();
        let aligned = root.elements.iter().all(|(ids, _)| {
            let (lo, hi) = (
                root.vertices[ids[0] as usize],
                root.vertices[ids[nc - 2] as usize],
            );
            (0..dim).all(|a| lo[a] < hi[a])
                && ids.iter().take(nc).zip(CORNERS).all(|(&v, c)| {
                    let x = root.vertices[v as usize];
                    (0..dim).all(|a| x[a] == if c[a] == 0 { lo[a] } else { hi[a] })
                })
        });
        let mut mesh = Mesh {
            dim,
            vertex_parents: vec![[NO_CHILD; 2]; nv],
            vertices: root.vertices,
            leaves: (0..num_roots as u32).collect(),
            leaf_of_node: (0..num_roots as u32).collect(),
            nodes,
            num_roots,
            mid: FxMap::default(),
            places: None,
            face_edges: FxSet::default(),
            root_side_attr,
            root_inverse,
            root_grid: RootGrid::default(),
            constraints: HangingConstraints::default(),
            aligned,
        };
        mesh.root_grid = RootGrid::build(&mesh);
        mesh.constraints = hanging::compute(&mesh);
        mesh
    }

    /// 2 (quads) or 3 (hexes).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of leaf elements.
    pub fn num_elements(&self) -> usize {
        self.leaves.len()
    }

    /// All vertices, hanging ones included: the DOFs of an order-1 H1 space (MFEM `GetNDofs`).
    pub fn num_vertices(&self) -> usize {
        self.vertices.len()
    }

    /// Vertices that do not hang: the true DOFs.
    pub fn num_true_dofs(&self) -> usize {
        self.vertices.len() - self.constraints.len()
    }

    /// Number of hanging vertices.
    pub fn num_hanging(&self) -> usize {
        self.constraints.len()
    }

    /// Vertex coordinates (z = 0 in 2D); ids are stable across refinement.
    pub fn vertices(&self) -> &[[f64; 3]] {
        &self.vertices
    }

    /// Corner vertex ids of leaf `e` (4 or 8) in MFEM reference order.
    pub fn element_vertices(&self, e: usize) -> &[u32] {
        &self.nodes[self.leaves[e] as usize].vertices[..num_corners(self.dim)]
    }

    /// Number of refinements from the start mesh that made leaf `e`.
    pub fn element_level(&self, e: usize) -> u32 {
        self.nodes[self.leaves[e] as usize].level
    }

    /// Number of those refinements that halved each reference axis of leaf `e` (all equal
    /// to [`Mesh::element_level`] when every split was isotropic; unused axes 0).
    pub fn element_axis_levels(&self, e: usize) -> [u8; 3] {
        self.nodes[self.leaves[e] as usize].axis_levels
    }

    /// Attribute of leaf `e` (inherited from its start element).
    pub fn element_attribute(&self, e: usize) -> i32 {
        self.nodes[self.leaves[e] as usize].attribute
    }

    /// Identity of leaf `e` in the refinement tree: a hash of (start element index, path of
    /// child indices). The same element always gets the same id, whatever else was refined.
    pub fn element_tree_id(&self, e: usize) -> u64 {
        self.nodes[self.leaves[e] as usize].tree_id
    }

    /// Axis-aligned bounding box of leaf `e`'s corners (which holds the straight-sided element).
    pub fn element_bbox(&self, e: usize) -> ([f64; 3], [f64; 3]) {
        bbox(
            self.element_vertices(e)
                .iter()
                .map(|&v| self.vertices[v as usize]),
        )
    }

    /// Centre of leaf `e`: the image of the reference centre (mean of the corners).
    pub fn element_center(&self, e: usize) -> [f64; 3] {
        let vs = self.element_vertices(e);
        let mut c = [0.0; 3];
        for &v in vs {
            for (ca, xa) in c.iter_mut().zip(self.vertices[v as usize]) {
                *ca += xa;
            }
        }
        c.map(|x| x / vs.len() as f64)
    }

    /// Bounding box of the whole mesh.
    pub fn bounding_box(&self) -> ([f64; 3], [f64; 3]) {
        bbox(self.vertices.iter().copied())
    }

    /// Rough memory (bytes) of a `dim`-D mesh with `num_elements` leaves made by uniform
    /// refinement (tree, vertices, split maps, constraints); for refusing runs too large to
    /// fit before starting them. Measured RSS is within this bound (see the benchmark).
    pub fn estimated_bytes(dim: usize, num_elements: usize) -> usize {
        let node = std::mem::size_of::<Node>() + 4;
        let per_leaf = if dim == 2 {
            // tree 4/3 nodes, ~1 vertex (coords, parents, flags), ~2 split edges, leaf lists
            node * 4 / 3 + 40 + 2 * 40 + 8
        } else {
            // tree 8/7 nodes, ~1 vertex, ~3 split edges, ~3 split faces, ~3 face edges
            node * 8 / 7 + 40 + 6 * 40 + 3 * 24 + 8
        };
        num_elements.saturating_mul(per_leaf)
    }

    /// Splits every leaf with `marked[e]` into 4 (8) children; see [`RefineOutcome`].
    pub fn refine(&mut self, marked: &[bool]) -> Result<RefineOutcome, MeshError> {
        let iso = Split::isotropic(self.dim);
        let splits: Vec<Split> = marked
            .iter()
            .map(|&m| if m { iso } else { Split::NONE })
            .collect();
        self.refine_split(&splits)
    }

    /// Splits every leaf `e` by `splits[e]`. Anisotropic splits need a mesh of axis-aligned
    /// boxes ([`Mesh::splits_anisotropically`]); they are widened where a face would be
    /// halved across a neighbour's cut of it (the mesh stays one MFEM can load).
    pub fn refine_split(&mut self, splits: &[Split]) -> Result<RefineOutcome, MeshError> {
        if splits.len() != self.leaves.len() {
            return Err(MeshError::Length {
                what: "refine marks",
                expected: self.leaves.len(),
                got: splits.len(),
            });
        }
        let iso = Split::isotropic(self.dim);
        if let Some(s) = splits.iter().find(|s| s.mask() & !iso.mask() != 0) {
            return Err(MeshError::SplitAxes {
                mask: s.mask(),
                dim: self.dim,
            });
        }
        let aniso = splits.iter().any(|&s| s != Split::NONE && s != iso);
        let outcome = if aniso {
            if !self.aligned {
                return Err(MeshError::NotAligned);
            }
            self.index_places();
            let mut splits = splits.to_vec();
            self.close_splits(&mut splits);
            refine::refine(self, &splits)
        } else {
            refine::refine(self, splits)
        };
        self.constraints = hanging::compute(self);
        Ok(outcome)
    }

    /// `splits` (one per leaf) as [`Mesh::refine_split`] will make them: anisotropic ones
    /// widened where facing leaves would not nest. Unchanged on a mesh that cannot split
    /// anisotropically (`refine_split` refuses those splits there).
    pub fn widen_splits(&self, splits: &mut [Split]) {
        let iso = Split::isotropic(self.dim);
        if self.aligned
            && splits.len() == self.leaves.len()
            && splits.iter().any(|&s| s != Split::NONE && s != iso)
        {
            self.close_splits(splits);
        }
    }

    /// True when anisotropic splits are possible: every start element is a box whose
    /// reference axes run along x, y (and z).
    pub fn splits_anisotropically(&self) -> bool {
        self.aligned
    }

    /// Vertices (DOFs) refining each prefix of `order` (leaf indices, no repeats) would add:
    /// entry k for the first k leaves, exactly as `refine` would create them.
    pub fn new_vertex_counts(&self, order: &[usize]) -> Vec<usize> {
        let iso = Split::isotropic(self.dim);
        let order: Vec<(usize, Split)> = order.iter().map(|&e| (e, iso)).collect();
        refine::new_vertex_counts(self, &order)
    }

    /// [`Mesh::new_vertex_counts`] for leaves with their splits; exact unless `refine_split`
    /// widens one of them (then it makes a few more).
    pub fn new_vertex_counts_split(&self, order: &[(usize, Split)]) -> Vec<usize> {
        refine::new_vertex_counts(self, order)
    }

    /// Splits every leaf.
    pub fn refine_uniformly(&mut self) -> RefineOutcome {
        let splits = vec![Split::isotropic(self.dim); self.leaves.len()];
        let outcome = refine::refine(self, &splits);
        self.constraints = hanging::compute(self);
        outcome
    }

    /// Hanging vertices with their constraints in non-hanging vertices and their parents.
    pub fn hanging_constraints(&self) -> &HangingConstraints {
        &self.constraints
    }

    /// Copy of `raw` (vertex-major, `v * ncomp + c`) with every hanging vertex's values
    /// replaced by its constraint applied to the non-hanging vertices' raw values.
    pub fn constrain(&self, raw: &[f64], ncomp: usize) -> Result<Vec<f64>, MeshError> {
        let mut out = raw.to_vec();
        self.constrain_in_place(&mut out, ncomp)?;
        Ok(out)
    }

    /// [`Mesh::constrain`] in place (constraints only read non-hanging values).
    pub fn constrain_in_place(&self, values: &mut [f64], ncomp: usize) -> Result<(), MeshError> {
        self.check_values(values.len(), ncomp)?;
        for con in self.constraints.iter() {
            for c in 0..ncomp {
                let v: f64 = con
                    .terms
                    .iter()
                    .map(|&(u, w)| w * values[u as usize * ncomp + c])
                    .sum();
                values[con.vertex as usize * ncomp + c] = v;
            }
        }
        Ok(())
    }

    fn check_values(&self, len: usize, ncomp: usize) -> Result<(), MeshError> {
        let expected = self.vertices.len() * ncomp;
        if ncomp == 0 || len != expected {
            return Err(MeshError::Length {
                what: "vertex values",
                expected,
                got: len,
            });
        }
        Ok(())
    }
}

fn bbox(points: impl Iterator<Item = [f64; 3]>) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in points {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    (lo, hi)
}
