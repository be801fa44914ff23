//! The mesh and the field on it: network values at every vertex (each vertex evaluated once,
//! when it appears), hanging values constrained, and saving an iteration's files. With several
//! processes each evaluates a block of the new vertices' batches and the values are gathered
//! in vertex order, so every process holds the whole field.

use std::path::Path;

use rayon::prelude::*;

use crate::error::Error;
use crate::mesh::{Mesh, MeshError};
use crate::network::Inr;
use crate::ranks::{Ranks, Single, partition_even};

/// Vertices evaluated per network call: large enough for efficient GEMMs.
const VERTEX_BATCH: usize = 2048;

/// A mesh with the order-1 interpolant of the INR on it.
#[derive(Clone)]
pub struct MeshField {
    mesh: Mesh,
    /// The network's value at every vertex, vertex-major (`v * ncomp + c`); kept for hanging
    /// vertices too, since a hanging vertex stops hanging once its neighbour is refined.
    raw: Vec<f64>,
    /// `raw` with hanging vertices replaced by their constraint: the field that is saved.
    values: Vec<f64>,
    ncomp: usize,
    /// The INR's output names, one per component.
    names: Vec<String>,
}

impl MeshField {
    pub fn new(mesh: Mesh, inr: &Inr) -> Result<MeshField, MeshError> {
        MeshField::new_on(mesh, inr, &Single)
    }

    /// [`MeshField::new`] with the vertices evaluated by the processes of `ranks`.
    pub fn new_on(mesh: Mesh, inr: &Inr, ranks: &dyn Ranks) -> Result<MeshField, MeshError> {
        let mut f = MeshField {
            mesh,
            raw: Vec::new(),
            values: Vec::new(),
            ncomp: inr.output_dim(),
            names: inr.output_names().to_vec(),
        };
        f.update_on(inr, ranks)?;
        Ok(f)
    }

    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// The network's value at every vertex, hanging ones unconstrained.
    pub fn raw(&self) -> &[f64] {
        &self.raw
    }
    pub fn ncomp(&self) -> usize {
        self.ncomp
    }
    /// The name of each component.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Refines the marked elements (one mark per current element).
    pub fn refine(&mut self, marks: &[bool]) -> Result<(), MeshError> {
        self.mesh.refine(marks)?;
        Ok(())
    }

    /// Splits every element `e` by `splits[e]` (`Mesh::refine_split`).
    pub fn refine_split(&mut self, splits: &[crate::mesh::Split]) -> Result<(), MeshError> {
        self.mesh.refine_split(splits)?;
        Ok(())
    }

    /// Evaluates the network on the vertices that have no value yet, in parallel batches,
    /// then constrains the hanging ones. Returns how many vertices were evaluated.
    pub fn update(&mut self, inr: &Inr) -> Result<usize, MeshError> {
        self.update_on(inr, &Single)
    }

    /// [`MeshField::update`], each process of `ranks` evaluating a block of the batches.
    pub fn update_on(&mut self, inr: &Inr, ranks: &dyn Ranks) -> Result<usize, MeshError> {
        let c = self.ncomp;
        let done = self.raw.len() / c;
        let new = &self.mesh.vertices()[done..];
        self.raw.resize(self.mesh.num_vertices() * c, 0.0);
        // Batches start at multiples of VERTEX_BATCH on every rank, so each vertex is
        // evaluated in the batch (and so with the bits) it has in one process.
        let blocks: Vec<std::ops::Range<usize>> =
            partition_even(new.len().div_ceil(VERTEX_BATCH), ranks.size())
                .iter()
                .map(|b| {
                    (b.start * VERTEX_BATCH).min(new.len())..(b.end * VERTEX_BATCH).min(new.len())
                })
                .collect();
        let mine = blocks[ranks.rank()].clone();
        let out = &mut self.raw[(done + mine.start) * c..(done + mine.end) * c];
        out.par_chunks_mut(VERTEX_BATCH * c)
            .zip(new[mine].par_chunks(VERTEX_BATCH))
            .for_each(|(out, pts)| inr.eval_points_into(pts, out));
        if ranks.size() > 1 {
            let counts: Vec<usize> = blocks.iter().map(|b| b.len() * c).collect();
            let mine = &blocks[ranks.rank()];
            let local = &self.raw[(done + mine.start) * c..(done + mine.end) * c];
            let all = ranks.all_gather_values(local, &counts);
            self.raw[done * c..].copy_from_slice(&all);
        }
        self.values = self.mesh.constrain(&self.raw, c)?;
        Ok(new.len())
    }

    /// Writes `it_<it>.mesh` and `it_<it>.gf` into `dir`.
    pub fn save(&self, dir: &Path, it: usize) -> Result<(), Error> {
        let mesh_path = dir.join(format!("it_{it}.mesh"));
        self.mesh
            .write_mfem(&mesh_path)
            .map_err(Error::write(&mesh_path))?;
        let gf_path = dir.join(format!("it_{it}.gf"));
        self.mesh
            .write_gf(&self.values, self.ncomp, &gf_path)
            .map_err(Error::write(&gf_path))?;
        Ok(())
    }
}
