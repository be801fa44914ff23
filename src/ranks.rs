//! Process-level parallelism (issue 18): which process of a group this is, how the work of an
//! iteration is split between processes, and how their results are combined so that the files
//! are byte-identical to a one-process run. [`Single`] is the one-process group (always built);
//! with the cargo feature `mpi`, `MpiRanks` runs the group over MPI (rsmpi, system OpenMPI).
//!
//! Every collective keeps results independent of the number of processes: work is split
//! deterministically from the inputs, gathered data is placed in rank order, and floating-point
//! partial sums are gathered (never reduced with `MPI_SUM`, whose order is unspecified) so they
//! are added in a fixed batch order.

use std::ops::Range;
use std::sync::OnceLock;

/// A group of cooperating processes (ranks). All collective methods must be
/// called by every rank, in the same order, with consistent arguments.
pub trait Ranks: Send + Sync {
    /// This process's index, `0..size()`.
    fn rank(&self) -> usize;

    /// Number of processes.
    fn size(&self) -> usize;

    /// This rank's contiguous block of `costs`, balanced by cost. Identical
    /// on every rank for identical inputs (see [`partition_by_cost`]).
    fn split_by_cost(&self, costs: &[f64]) -> Range<usize> {
        partition_by_cost(costs, self.size())[self.rank()].clone()
    }

    /// Concatenate every rank's `local` marks in rank order. `counts[r]` is
    /// the number of marks rank `r` contributes (`counts.len() == size()`,
    /// `local.len() == counts[rank()]`).
    fn all_gather_marks(&self, local: &[bool], counts: &[usize]) -> Vec<bool>;

    /// Gather per-batch partial sums to every rank, in batch order.
    ///
    /// `batch_ranges[r]` is the contiguous range of batch indices owned by
    /// rank `r`; together they must tile `0..n_batches` in rank order.
    /// `local_batch_sums` holds this rank's batches (one `Vec<f64>` of
    /// accumulators per batch, any length). Returns all `n_batches` vectors;
    /// adding them with [`sum_in_batch_order`] gives the same bits as a
    /// single-process run.
    fn reduce_sums_in_order(
        &self,
        local_batch_sums: Vec<Vec<f64>>,
        batch_ranges: &[Range<usize>],
    ) -> Vec<Vec<f64>>;

    /// Concatenate every rank's `local` values in rank order (`counts` as in
    /// [`Ranks::all_gather_marks`]): per-element scores, vertex values.
    fn all_gather_values(&self, local: &[f64], counts: &[usize]) -> Vec<f64>;

    /// Whether `flag` is true on any rank (a stop request that reached some ranks first).
    fn any(&self, flag: bool) -> bool;

    /// Agree on success. If any rank passes `Err`, every rank returns the
    /// `Err` of the lowest failing rank; otherwise all return `Ok`.
    fn agree_ok(&self, local: Result<(), Failure>) -> Result<(), Failure>;
}

/// A rank's error as every rank can hold it: the one line the command prints, and whether
/// the command line is at fault (its exit status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub usage: bool,
}

/// How many items each of `ranges` holds, for the gathers' `counts`.
pub fn counts(ranges: &[Range<usize>]) -> Vec<usize> {
    ranges.iter().map(Range::len).collect()
}

/// Split `0..costs.len()` into `parts` contiguous ranges whose cost sums are
/// as equal as a contiguous split allows. Pure and deterministic: every rank
/// computes the same split. Negative or non-finite costs count as 0; if all
/// costs are 0 the split is by element count. Ranges may be empty.
pub fn partition_by_cost(costs: &[f64], parts: usize) -> Vec<Range<usize>> {
    assert!(parts > 0, "partition_by_cost: parts must be > 0");
    let clean = |c: f64| if c.is_finite() && c > 0.0 { c } else { 0.0 };
    // prefix[i] = cost of elements 0..i, summed left to right.
    let mut prefix = Vec::with_capacity(costs.len() + 1);
    prefix.push(0.0f64);
    let mut acc = 0.0;
    for &c in costs {
        acc += clean(c);
        prefix.push(acc);
    }
    if acc == 0.0 {
        prefix = (0..=costs.len()).map(|i| i as f64).collect();
    }
    let total = *prefix.last().unwrap();
    let n = costs.len();

    let mut bounds = Vec::with_capacity(parts + 1);
    bounds.push(0usize);
    for r in 1..parts {
        let target = total * (r as f64) / (parts as f64);
        // First boundary with prefix >= target, then take the nearer of it
        // and its predecessor.
        let mut b = prefix.partition_point(|&p| p < target).min(n);
        if b > 0 && target - prefix[b - 1] < prefix[b] - target {
            b -= 1;
        }
        bounds.push(b.max(*bounds.last().unwrap()));
    }
    bounds.push(n);
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Split `0..n` into `parts` contiguous ranges of near-equal length (the
/// first `n % parts` ranges get one extra).
pub fn partition_even(n: usize, parts: usize) -> Vec<Range<usize>> {
    assert!(parts > 0, "partition_even: parts must be > 0");
    let (q, rem) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|r| {
            let len = q + usize::from(r < rem);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// Element-wise sum of `batches`, adding batch 0, then 1, ... — the one fixed
/// order that makes the result independent of the number of ranks.
pub fn sum_in_batch_order(batches: &[Vec<f64>]) -> Vec<f64> {
    let width = batches.iter().map(Vec::len).max().unwrap_or(0);
    let mut total = vec![0.0; width];
    for batch in batches {
        for (t, v) in total.iter_mut().zip(batch) {
            *t += v;
        }
    }
    total
}

/// One process: collectives are identities.
#[derive(Debug, Default, Clone, Copy)]
pub struct Single;

impl Ranks for Single {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_gather_marks(&self, local: &[bool], counts: &[usize]) -> Vec<bool> {
        assert_eq!(counts, [local.len()], "all_gather_marks: bad counts");
        local.to_vec()
    }

    fn reduce_sums_in_order(
        &self,
        local_batch_sums: Vec<Vec<f64>>,
        batch_ranges: &[Range<usize>],
    ) -> Vec<Vec<f64>> {
        check_batch_ranges(batch_ranges, 1, 0, local_batch_sums.len());
        local_batch_sums
    }

    fn all_gather_values(&self, local: &[f64], counts: &[usize]) -> Vec<f64> {
        assert_eq!(counts, [local.len()], "all_gather_values: bad counts");
        local.to_vec()
    }

    fn any(&self, flag: bool) -> bool {
        flag
    }

    fn agree_ok(&self, local: Result<(), Failure>) -> Result<(), Failure> {
        local
    }
}

/// Panics unless `ranges` tiles `0..n` in rank order and this rank owns
/// `local_len` batches.
fn check_batch_ranges(ranges: &[Range<usize>], size: usize, rank: usize, local_len: usize) {
    assert_eq!(ranges.len(), size, "batch_ranges: need one range per rank");
    let mut next = 0;
    for r in ranges {
        assert_eq!(
            r.start, next,
            "batch_ranges must be contiguous, in rank order"
        );
        assert!(r.end >= r.start, "batch_ranges: reversed range");
        next = r.end;
    }
    assert_eq!(
        ranges[rank].len(),
        local_len,
        "batch_ranges: wrong local batch count"
    );
}

static WORLD: OnceLock<Box<dyn Ranks>> = OnceLock::new();

/// The process group of this run: the one `main` set, else [`Single`].
pub fn world() -> &'static dyn Ranks {
    match WORLD.get() {
        Some(w) => w.as_ref(),
        None => &Single,
    }
}

/// Sets the process group once, before the run; a second call is refused.
pub fn set_world(ranks: Box<dyn Ranks>) -> Result<(), String> {
    WORLD
        .set(ranks)
        .map_err(|_| "the process group is already set".to_string())
}

#[cfg(feature = "mpi")]
mod mpi_ranks {
    use std::ops::Range;

    use mpi::Threading;
    use mpi::collective::SystemOperation;
    use mpi::datatype::PartitionMut;
    use mpi::environment::Universe;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::*;

    use super::{Failure, Ranks, check_batch_ranges};

    /// The MPI world, by rank and size only: the communicator is looked up per call, so this is
    /// `Send + Sync` and can sit in the process-wide [`world`]. MPI is initialized with
    /// `Serialized` threading: the run loop executes on a rayon worker, never two calls at once.
    pub struct MpiRanks {
        rank: usize,
        size: usize,
    }

    impl MpiRanks {
        /// Initializes MPI; keep the returned universe alive until the end of `main` (dropping it
        /// finalizes MPI). With more than one rank a panic anywhere aborts the whole job instead of
        /// leaving peers blocked in a collective.
        pub fn init() -> Result<(MpiRanks, Universe), String> {
            let (universe, _level) = mpi::initialize_with_threading(Threading::Serialized)
                .ok_or("MPI was already initialized")?;
            let world = universe.world();
            let rank = usize::try_from(world.rank()).map_err(|_| "negative MPI rank")?;
            let size = usize::try_from(world.size()).map_err(|_| "negative MPI size")?;
            if size > 1 {
                let default_hook = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    default_hook(info);
                    eprintln!("pruningamr: rank {rank} panicked; aborting all ranks");
                    SimpleCommunicator::world().abort(101);
                }));
            }
            Ok((MpiRanks { rank, size }, universe))
        }

        fn world(&self) -> SimpleCommunicator {
            SimpleCommunicator::world()
        }

        /// Gather variable-length slices from every rank, in rank order.
        /// `counts[r]` is rank `r`'s length.
        fn all_gather_var<T: Equivalence + Copy + Default>(
            &self,
            local: &[T],
            counts: &[usize],
        ) -> Vec<T> {
            assert_eq!(counts.len(), self.size, "need one count per rank");
            assert_eq!(
                local.len(),
                counts[self.rank],
                "local length != counts[rank]"
            );
            let to_count = |n: usize| mpi::Count::try_from(n).expect("MPI count exceeds i32");
            let total: usize = counts.iter().sum();
            let mpi_counts: Vec<mpi::Count> = counts.iter().map(|&c| to_count(c)).collect();
            let displs: Vec<mpi::Count> = counts
                .iter()
                .scan(0usize, |start, &c| {
                    let d = *start;
                    *start += c;
                    Some(to_count(d))
                })
                .collect();
            // The total must fit an MPI count too.
            to_count(total);
            let mut out = vec![T::default(); total];
            let mut part = PartitionMut::new(&mut out[..], mpi_counts, displs);
            self.world().all_gather_varcount_into(local, &mut part);
            out
        }

        /// Broadcast a string from `root` to every rank.
        fn broadcast_string(&self, root: usize, msg: &str) -> String {
            let world = self.world();
            let root = world.process_at_rank(root as mpi::Rank);
            let mut len = msg.len() as u64;
            root.broadcast_into(&mut len);
            let mut bytes = if self.rank == root.rank() as usize {
                msg.as_bytes().to_vec()
            } else {
                vec![0u8; len as usize]
            };
            root.broadcast_into(&mut bytes[..]);
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    impl Ranks for MpiRanks {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn all_gather_marks(&self, local: &[bool], counts: &[usize]) -> Vec<bool> {
            let bytes: Vec<u8> = local.iter().map(|&b| u8::from(b)).collect();
            self.all_gather_var(&bytes, counts)
                .into_iter()
                .map(|b| b != 0)
                .collect()
        }

        fn reduce_sums_in_order(
            &self,
            local_batch_sums: Vec<Vec<f64>>,
            batch_ranges: &[Range<usize>],
        ) -> Vec<Vec<f64>> {
            check_batch_ranges(batch_ranges, self.size, self.rank, local_batch_sums.len());
            // 1. Every batch's vector length, so ranks can size their buffers.
            let batch_counts: Vec<usize> = batch_ranges.iter().map(Range::len).collect();
            let local_lens: Vec<u64> = local_batch_sums.iter().map(|v| v.len() as u64).collect();
            let lens = self.all_gather_var(&local_lens, &batch_counts);
            // 2. The values themselves, flattened in batch order.
            let value_counts: Vec<usize> = batch_ranges
                .iter()
                .map(|r| lens[r.clone()].iter().map(|&l| l as usize).sum())
                .collect();
            let flat_local: Vec<f64> = local_batch_sums.into_iter().flatten().collect();
            let flat = self.all_gather_var(&flat_local, &value_counts);
            let mut rest = &flat[..];
            lens.iter()
                .map(|&l| {
                    let (head, tail) = rest.split_at(l as usize);
                    rest = tail;
                    head.to_vec()
                })
                .collect()
        }

        fn all_gather_values(&self, local: &[f64], counts: &[usize]) -> Vec<f64> {
            self.all_gather_var(local, counts)
        }

        fn any(&self, flag: bool) -> bool {
            let mine = i32::from(flag);
            let mut some = 0i32;
            self.world()
                .all_reduce_into(&mine, &mut some, SystemOperation::max());
            some != 0
        }

        fn agree_ok(&self, local: Result<(), Failure>) -> Result<(), Failure> {
            // Lowest failing rank, or `size` if none failed. MIN over integers is
            // order-independent, unlike floating-point sums.
            let mine = match local {
                Ok(()) => self.size,
                Err(_) => self.rank,
            } as i32;
            let mut first_failed = 0i32;
            self.world()
                .all_reduce_into(&mine, &mut first_failed, SystemOperation::min());
            let first_failed = first_failed as usize;
            if first_failed == self.size {
                return Ok(());
            }
            // The usage flag travels as the message's first byte.
            let wire = match local {
                Err(f) => format!("{}{}", if f.usage { '2' } else { '1' }, f.message),
                Ok(()) => String::new(),
            };
            let wire = self.broadcast_string(first_failed, &wire);
            let (flag, message) = wire.split_at(wire.len().min(1));
            Err(Failure {
                message: message.to_string(),
                usage: flag == "2",
            })
        }
    }
}
#[cfg(feature = "mpi")]
pub use mpi_ranks::MpiRanks;

/// Variables a launcher sets in every process it starts: OpenMPI's mpirun, PMIx (Slurm's
/// `srun --mpi=pmix`), PMI-1/2 (MPICH's hydra, `srun --mpi=pmi2`).
const LAUNCHER_VARS: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"];

/// Whether an MPI launcher started this process. A plain start stays one process without
/// initializing MPI, which (as a singleton) would spawn a daemon and slow every run down.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARS.iter().any(|v| std::env::var_os(v).is_some())
}

/// The number of processes the launcher started, where it says.
pub fn launched_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

/// Under an MPI launcher, initializes MPI and makes it the [`world`]; returns the universe,
/// which must live until the end of `main` (dropping it finalizes MPI).
#[cfg(feature = "mpi")]
pub fn start_mpi() -> Result<Option<mpi::environment::Universe>, String> {
    if !launched_by_mpi() {
        return Ok(None);
    }
    let (ranks, universe) = MpiRanks::init()?;
    set_world(Box::new(ranks))?;
    Ok(Some(universe))
}

/// A group of threads standing in for ranks in the unit tests (no MPI needed): each
/// collective exchanges one byte buffer per rank through a shared table between barriers.
#[cfg(test)]
pub(crate) mod threads {
    use std::ops::Range;
    use std::sync::{Arc, Barrier, Mutex};

    use super::{Failure, Ranks, check_batch_ranges};

    pub(crate) struct ThreadRanks {
        rank: usize,
        size: usize,
        table: Arc<(Barrier, Mutex<Vec<Vec<u8>>>)>,
    }

    /// Runs `f` on `size` threads, each one rank, and returns their results in rank order.
    pub(crate) fn on_ranks<T: Send>(size: usize, f: impl Fn(&ThreadRanks) -> T + Sync) -> Vec<T> {
        let table = Arc::new((Barrier::new(size), Mutex::new(vec![Vec::new(); size])));
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..size)
                .map(|rank| {
                    let ranks = ThreadRanks {
                        rank,
                        size,
                        table: Arc::clone(&table),
                    };
                    let f = &f;
                    scope.spawn(move || f(&ranks))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    impl ThreadRanks {
        /// Every rank's `mine`, in rank order.
        fn exchange(&self, mine: Vec<u8>) -> Vec<Vec<u8>> {
            let (barrier, slots) = &*self.table;
            barrier.wait();
            slots.lock().unwrap()[self.rank] = mine;
            barrier.wait();
            let all = slots.lock().unwrap().clone();
            barrier.wait();
            all
        }

        fn gather_f64(&self, local: &[f64]) -> Vec<Vec<f64>> {
            let bytes = local.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.exchange(bytes)
                .iter()
                .map(|b| {
                    b.chunks(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                        .collect()
                })
                .collect()
        }
    }

    impl Ranks for ThreadRanks {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn all_gather_marks(&self, local: &[bool], counts: &[usize]) -> Vec<bool> {
            assert_eq!(local.len(), counts[self.rank]);
            let all = self.exchange(local.iter().map(|&m| u8::from(m)).collect());
            all.concat().into_iter().map(|b| b != 0).collect()
        }

        fn all_gather_values(&self, local: &[f64], counts: &[usize]) -> Vec<f64> {
            assert_eq!(local.len(), counts[self.rank]);
            self.gather_f64(local).concat()
        }

        fn any(&self, flag: bool) -> bool {
            self.exchange(vec![u8::from(flag)])
                .iter()
                .any(|b| b[0] != 0)
        }

        fn reduce_sums_in_order(
            &self,
            local_batch_sums: Vec<Vec<f64>>,
            batch_ranges: &[Range<usize>],
        ) -> Vec<Vec<f64>> {
            check_batch_ranges(batch_ranges, self.size, self.rank, local_batch_sums.len());
            // Equal-width batches (the RMSE's): the width travels with the values.
            let width = local_batch_sums.first().map_or(0, Vec::len);
            let mut flat = vec![width as f64];
            flat.extend(local_batch_sums.into_iter().flatten());
            self.gather_f64(&flat)
                .into_iter()
                .flat_map(|r| {
                    let w = r[0] as usize;
                    r[1..]
                        .chunks(w.max(1))
                        .map(<[f64]>::to_vec)
                        .collect::<Vec<_>>()
                })
                .collect()
        }

        fn agree_ok(&self, local: Result<(), Failure>) -> Result<(), Failure> {
            let mine = match &local {
                Ok(()) => Vec::new(),
                Err(f) => [&[u8::from(f.usage)], f.message.as_bytes()].concat(),
            };
            match self.exchange(mine).into_iter().find(|b| !b.is_empty()) {
                None => Ok(()),
                Some(b) => Err(Failure {
                    message: String::from_utf8(b[1..].to_vec()).unwrap(),
                    usage: b[0] != 0,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_tiles_and_balances() {
        let costs: Vec<f64> = (0..1000).map(|i| 1.0 + (i % 7) as f64).collect();
        for parts in 1..9 {
            let p = partition_by_cost(&costs, parts);
            assert_eq!(p.len(), parts);
            assert_eq!(p[0].start, 0);
            assert_eq!(p[parts - 1].end, costs.len());
            assert!(p.windows(2).all(|w| w[0].end == w[1].start));
            let total: f64 = costs.iter().sum();
            for r in &p {
                let c: f64 = costs[r.clone()].iter().sum();
                assert!((c - total / parts as f64).abs() <= 7.0, "{parts}: {c}");
            }
        }
    }

    #[test]
    fn partition_edge_cases() {
        assert_eq!(partition_by_cost(&[], 3), vec![0..0, 0..0, 0..0]);
        assert_eq!(partition_by_cost(&[0.0; 4], 2), vec![0..2, 2..4]);
        assert_eq!(partition_by_cost(&[f64::NAN, 1.0], 1), vec![0..2]);
        // One heavy element cannot be split: it lands in one range.
        let p = partition_by_cost(&[1.0, 100.0, 1.0], 3);
        assert_eq!(p.iter().map(|r| r.len()).sum::<usize>(), 3);
        assert_eq!(partition_even(10, 3), vec![0..4, 4..7, 7..10]);
    }

    #[test]
    fn batch_order_sum_matches_sequential() {
        let batches = vec![vec![1e16, 1.0], vec![1.0, 2.0], vec![-1e16, 3.0]];
        assert_eq!(
            sum_in_batch_order(&batches),
            vec![(1e16 + 1.0) + -1e16, 6.0]
        );
    }

    #[test]
    fn single_is_identity() {
        let s = Single;
        assert_eq!(s.split_by_cost(&[1.0, 2.0]), 0..2);
        assert_eq!(s.all_gather_marks(&[true, false], &[2]), vec![true, false]);
        let one_batch = partition_even(1, 1);
        assert_eq!(
            s.reduce_sums_in_order(vec![vec![1.0]], &one_batch),
            vec![vec![1.0]]
        );
        assert_eq!(s.all_gather_values(&[1.5], &[1]), vec![1.5]);
        assert!(s.any(true) && !s.any(false));
        let f = Failure {
            message: "x".into(),
            usage: true,
        };
        assert_eq!(s.agree_ok(Err(f.clone())), Err(f));
    }
}
