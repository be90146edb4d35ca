//! What the receiver of a segment match may release of its cross-tab.
//!
//! The receiver R decrypts `cells[r][a]`: how many matched people carry its
//! label `r` and the aggregator's label `a`. Exact counts when noise is off,
//! counts plus discrete Laplace noise (possibly negative) when it is on.
//! [`release`] decides what of it R shows in its report and sends to the
//! aggregator A.
//!
//! # What each party already knows
//! R knows the whole table. A does the matching, so before anything is
//! released it knows, exactly, every column total `C_a = Σ_r c[r][a]` (its
//! own per-label overlap) and hence the grand total `G = Σ_a C_a`.
//! Suppression must therefore protect cells and row totals against someone
//! who holds every column total; hiding a column total or `G` protects
//! nothing, so they are always released.
//!
//! *Structural zeros* are not secrets either. A row whose label has no
//! record in R's list (`row_sizes[r] == 0`) is all zeros; the labels are
//! agreed combinations, and that one is empty. A column whose total is 0 is
//! all zeros, and A knows it (counts are non-negative). Both are released as
//! zeros and never count as small cells: they neither trigger suppression
//! nor take part in a cascade.
//!
//! # Noise off: the guarantee
//! Write the table as a vector `x ∈ ℚ^{n·m}` and what A knows after the
//! release as linear functionals of it:
//!
//! ```text
//! K = { C_a (every column),  G,  x[r][a] (every released cell),  T_r = Σ_a x[r][a] (every released row total) }
//! ```
//!
//! The release is *safe* when no suppressed cell `x[r][a]` and no
//! suppressed row total `T_r` lies in `span_ℚ K`. Equivalently, for each
//! suppressed figure there is a direction `z` with `k·z = 0` for every
//! `k ∈ K` that changes it: every released figure stays the same along `z`
//! while the suppressed one moves, so no linear combination of what A holds
//! (subtractions included, however many) recovers it.
//!
//! *Primary suppression.* A cell that A does not know beforehand and that is
//! below `min_cell` is suppressed; zero is suppressed too (for
//! `min_cell > 0`): "nobody has both labels" is a statement about
//! individuals as much as "one person does". The same goes for a row total.
//! A knows a cell beforehand when it is a structural zero, or when every
//! other row of its column is empty (the cell then equals its column
//! total); it knows a row total beforehand when the row is empty, when it is
//! the only non-empty row (`T_r = G`), or when `G = 0`. Those are released
//! whatever their size. `min_cell == 0` suppresses nothing.
//!
//! # Deciding safety with a graph
//! Let the suppressed non-structural cells be the edges of a bipartite graph
//! on row nodes and column nodes. Subtract every released cell: what is
//! left of `K` is one equation per *constrained* node, the sum of its edges.
//! Every column is constrained; a row is constrained iff its total is
//! released, and otherwise *open*. Merge all open rows into one node `g`
//! (still on the row side) and call the multigraph `H`.
//!
//! 1. A suppressed cell is determined iff its edge is a bridge of `H`.
//! 2. A suppressed row total is determined iff the connected component of
//!    its row, in the graph before merging, holds no other open row.
//!
//! *Proof.* Sign row nodes `+1` and column nodes `−1`. For a set `P` of
//! nodes, `Σ_{v∈P} σ_v·eq_v` cancels every edge with both ends in `P` and
//! keeps, with sign `±1`, every edge with one end in it. (1) If edge `e` is
//! a bridge, let `P` be the side of `H − e` without `g` (either side if the
//! component has no `g`): every node of `P` is constrained and `e` is the
//! only edge leaving `P`, so `x_e = ±Σ_{v∈P} σ_v·eq_v`. If `e` lies on a
//! cycle (even, as `H` is bipartite), put `+1, −1, +1, …` on the cycle's
//! edges: every node on it has one `+1` and one `−1` edge, so each
//! constrained equation is unchanged (`g` has none), yet `x_e` moves; that
//! is the direction `z` above. (2) If row `r`'s component holds another
//! open row `r'`, alternate signs along a path from `r` to `r'`: inner
//! nodes balance, `r'` has no equation, and `T_r` moves. If not, every node
//! of the component except `r` is constrained and the signed sum over the
//! component minus `r`'s own term gives `T_r` (minus released cells). ∎
//!
//! The tests check both statements against an independent audit: exact
//! fraction-free Gaussian elimination over all of `K`.
//!
//! # Complementary suppression
//! While some suppressed figure is determined, protect one along the
//! cheapest path:
//! - a cell `e = (r, a)`: a path in `H − e` from column `a` to `r`'s node,
//!   which closes a cycle through `e`;
//! - a row total `T_r`: a path in the unmerged graph from row `r` to another
//!   open row, or to a constrained row whose total it then suppresses.
//!
//! Cells come first, the one with the fewest suppressed cells in its column
//! first (lowest index on ties): a cell alone in its column needs a second
//! one there whatever else happens, and the cycle that brings it often
//! protects its neighbours as well.
//!
//! A path may use three kinds of step, and its cost is their sum: an edge
//! that is already suppressed costs 0; suppressing a released cell costs
//! its value plus one; *opening* a row (suppressing its total, which merges
//! it into `g`) costs `2·min_cell + 1`. So the complements are the smallest
//! cells that do the job, lowest node index on ties; cells under
//! `2·min_cell`, close to the threshold, go before row totals, and row
//! totals before large cells. That order matters because A knows the column
//! totals: a small cell alone in its column always costs a second cell of
//! that column, and opening two rows often saves the two more cells a
//! four-cycle would take. The search is Dijkstra's algorithm over the
//! `n + m + 1` nodes.
//!
//! *Termination.* Suppressing a cell adds an edge and opening a row merges
//! nodes: a cycle stays a cycle and a component only grows, so a figure
//! once safe stays safe. The edges a path adds lie on the cycle (or the
//! path between open rows) it closes, and the rows it opens sit in a
//! component with another open row, so each step makes one more figure safe
//! and none unsafe. A graph has fewer bridges than nodes, so there are at
//! most `2n + m` steps; should that ever not hold, the loop stops there and
//! suppresses every figure A does not know beforehand, which is safe (each
//! column then holds at least two open rows' edges).
//!
//! *Pruning.* Greedy paths can overshoot: a later cycle may make an earlier
//! complement unnecessary. So each complement (never a primary figure) is
//! then tried released again, the costliest first, and stays released if
//! the table is still safe by the criterion above.
//!
//! *Cost.* Each step finds bridges (Tarjan, `O(n + m + |S|)`), components
//! (union-find) and one shortest path (dense Dijkstra, `O((n + m)² + n·m)`),
//! so the loop costs `O((n + m)³)`; pruning re-checks safety in `O(n·m)`
//! once per complement. At the largest table, 128 × 128
//! ([`MAX_RELEASE_DIM`]), that is well under a second in a release build
//! (0.25 s for the worst pattern measured, a small cell in every row and
//! column). The result is a good suppression, not a minimal one: finding a
//! minimal one is NP-hard in general.
//!
//! *Known limit.* The guarantee is linear algebra only. Counts are also
//! non-negative, and A can use that: a suppressed cell lies between 0 and
//! what its column leaves after the released cells, and combining such
//! bounds can pin it to an interval, occasionally a narrow one (two
//! suppressed cells that share a column and sum to 9 are each within
//! `[0, 9]`). A linear programming audit, as statistical agencies run with
//! tools such as τ-ARGUS, would find those intervals. Use noise when that
//! matters.
//!
//! # Noise on
//! Each cell already carries discrete Laplace noise, so anything computed
//! from the noisy cells alone is differentially private by post-processing.
//! Negative cells become 0; cells of empty rows are 0 (they are structural
//! zeros, not secrets). Every total is the sum of the cells it covers after
//! that, suppressed ones included, so the totals agree with their cells.
//! Cells below `min_cell` are shown as suppressed (a noisy 3 misleads more
//! than it informs) but still count in the totals; every total is released,
//! and nothing is suppressed to complement: what subtraction recovers is a
//! noisy cell, which is already protected.

use serde::{Deserialize, Serialize};

/// Largest number of rows, and of columns, a cross-tab may have: the most
/// labels a segment match allows per side (`MAX_SEGMENT_LABELS`). The table
/// comes from decrypting data a peer sent; this bounds what the peer can
/// make the receiver allocate and audit (see the module docs for the cost).
pub const MAX_RELEASE_DIM: usize = 128;

/// A cross-tab after thresholds: `None` marks a suppressed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// `cells[r][a]` for receiver label `r` and aggregator label `a`.
    pub cells: Vec<Vec<Option<i64>>>,
    /// Total of each row (receiver label).
    pub row_totals: Vec<Option<i64>>,
    /// Total of each column (aggregator label).
    pub col_totals: Vec<Option<i64>>,
    /// Total of the whole table.
    pub total: Option<i64>,
}

/// A cross-tab that cannot be released. Every variant means the decrypted
/// table is malformed: it came from the peer's data, or from a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// No rows, or a first row without cells.
    #[error("cross-tab is empty: {rows} rows, {cols} columns")]
    Empty {
        /// Number of rows.
        rows: usize,
        /// Length of the first row (0 when there is none).
        cols: usize,
    },
    /// More than [`MAX_RELEASE_DIM`] rows or columns.
    #[error("cross-tab of {rows} x {cols} exceeds the bound of {max} x {max}")]
    TooLarge {
        /// Number of rows.
        rows: usize,
        /// Length of the first row.
        cols: usize,
        /// [`MAX_RELEASE_DIM`].
        max: usize,
    },
    /// A row whose length differs from the first row's.
    #[error("cross-tab row {row} has {len} cells, row 0 has {expected}")]
    Ragged {
        /// Index of the offending row.
        row: usize,
        /// Its length.
        len: usize,
        /// Length of row 0.
        expected: usize,
    },
    /// A negative cell with noise off, where cells are exact counts.
    #[error("cell ({row}, {col}) is {value}, but an exact count is never negative")]
    NegativeCount {
        /// Row of the cell.
        row: usize,
        /// Column of the cell.
        col: usize,
        /// Its value.
        value: i64,
    },
    /// A total does not fit in an `i64`.
    #[error("a total of the cross-tab overflows an i64")]
    Overflow,
    /// `row_sizes` does not have one entry per row.
    #[error("{sizes} row sizes for a cross-tab of {rows} rows")]
    RowSizes {
        /// Number of rows.
        rows: usize,
        /// Number of row sizes given.
        sizes: usize,
    },
    /// A non-zero cell with noise off in a row whose label has no records:
    /// nobody can match there.
    #[error("cell ({row}, {col}) is {value}, but row {row}'s label has no records")]
    CountInEmptyRow {
        /// Row of the cell.
        row: usize,
        /// Column of the cell.
        col: usize,
        /// Its value.
        value: i64,
    },
}

/// Applies the thresholds of the module docs to `cells` (`cells[r][a]`,
/// rows are receiver labels, columns aggregator labels). `row_sizes[r]` is
/// the number of R's own distinct records with label `r`; only whether it
/// is 0 matters (an empty row is a structural zero).
///
/// With `noisy == false` cells are exact counts: cells and row totals below
/// `min_cell` that the aggregator does not already know are suppressed, then
/// complementary suppression runs until no suppressed cell or row total is
/// a linear combination of the released figures, the column totals and the
/// grand total. Column totals and the grand total are always released.
/// With `noisy == true` negative cells become 0, cells below `min_cell` are
/// suppressed, and every total (the sum of its cells, suppressed ones
/// included) is released. `min_cell == 0` suppresses nothing.
///
/// Does not compare cells with `row_sizes` beyond empty rows: refusing a
/// table whose row exceeds its size would let a cheating aggregator, who
/// can inflate cells, learn row sizes from whether R aborts.
///
/// # Errors
/// [`ReleaseError::Empty`] for no rows or no columns,
/// [`ReleaseError::TooLarge`] beyond [`MAX_RELEASE_DIM`] either way,
/// [`ReleaseError::Ragged`] for rows of different lengths,
/// [`ReleaseError::RowSizes`] unless there is one row size per row,
/// [`ReleaseError::NegativeCount`] for a negative cell with noise off,
/// [`ReleaseError::CountInEmptyRow`] for a non-zero cell of an empty row
/// with noise off, and [`ReleaseError::Overflow`] when a total does not fit
/// in an `i64`.
pub fn release(cells: &[Vec<i64>], row_sizes: &[u64], min_cell: u64, noisy: bool) -> Result<Released, ReleaseError> {
    let rows = cells.len();
    let cols = cells.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return Err(ReleaseError::Empty { rows, cols });
    }
    if rows > MAX_RELEASE_DIM || cols > MAX_RELEASE_DIM {
        return Err(ReleaseError::TooLarge { rows, cols, max: MAX_RELEASE_DIM });
    }
    if let Some((row, r)) = cells.iter().enumerate().find(|(_, r)| r.len() != cols) {
        return Err(ReleaseError::Ragged { row, len: r.len(), expected: cols });
    }
    if row_sizes.len() != rows {
        return Err(ReleaseError::RowSizes { rows, sizes: row_sizes.len() });
    }
    let below = |v: i64| min_cell > 0 && i128::from(v) < i128::from(min_cell);

    if noisy {
        // Post-processing: clamp, zero the empty rows, then sum.
        let cells: Vec<Vec<i64>> = cells
            .iter()
            .zip(row_sizes)
            .map(|(row, &size)| row.iter().map(|&v| if size == 0 { 0 } else { v.max(0) }).collect())
            .collect();
        let (row_totals, col_totals, total) = totals(&cells, cols)?;
        let show = |v: i64, empty: bool| (empty || !below(v)).then_some(v);
        return Ok(Released {
            cells: cells.iter().zip(row_sizes).map(|(r, &s)| r.iter().map(|&v| show(v, s == 0)).collect()).collect(),
            row_totals: row_totals.into_iter().map(Some).collect(),
            col_totals: col_totals.into_iter().map(Some).collect(),
            total: Some(total),
        });
    }

    for (row, (r, &size)) in cells.iter().zip(row_sizes).enumerate() {
        if let Some((col, &value)) = r.iter().enumerate().find(|(_, &v)| v < 0) {
            return Err(ReleaseError::NegativeCount { row, col, value });
        }
        if let Some((col, &value)) = r.iter().enumerate().find(|(_, &v)| size == 0 && v != 0) {
            return Err(ReleaseError::CountInEmptyRow { row, col, value });
        }
    }
    let (row_totals, col_totals, total) = totals(cells, cols)?;
    let mut audit = Audit::new(cells, row_sizes, &col_totals, min_cell);
    // Primary suppression.
    for (r, (row, &row_total)) in cells.iter().zip(&row_totals).enumerate() {
        for (a, &v) in row.iter().enumerate() {
            audit.suppressed[r * cols + a] = audit.secret_cell(r, a) && below(v);
        }
        audit.open[r] = audit.secret_total(r) && below(row_total);
    }
    audit.complement();
    Ok(audit.released(&row_totals, col_totals, total))
}

/// Row totals, column totals and grand total of `cells`, or
/// [`ReleaseError::Overflow`].
fn totals(cells: &[Vec<i64>], cols: usize) -> Result<(Vec<i64>, Vec<i64>, i64), ReleaseError> {
    let row_totals = cells.iter().map(|r| checked_sum(r.iter().copied())).collect::<Result<Vec<_>, _>>()?;
    let col_totals = (0..cols).map(|a| checked_sum(cells.iter().map(|r| r[a]))).collect::<Result<Vec<_>, _>>()?;
    let total = checked_sum(col_totals.iter().copied())?;
    Ok((row_totals, col_totals, total))
}

/// Sum of `values`, or [`ReleaseError::Overflow`].
fn checked_sum(mut values: impl Iterator<Item = i64>) -> Result<i64, ReleaseError> {
    values.try_fold(0i64, i64::checked_add).ok_or(ReleaseError::Overflow)
}

/// One step of a protecting path (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Suppress cell `(r, a)` (nothing if it already is).
    Cell(usize, usize),
    /// Suppress the total of row `r`, opening it.
    Open(usize),
}

/// A suppressed figure that the aggregator can still compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Determined {
    Cell(usize, usize),
    RowTotal(usize),
}

/// Suppression state of a noise-off table.
///
/// Nodes of the graphs: row `r` is node `r`, column `a` is node `rows + a`,
/// the merged open rows `g` are node `rows + cols`, and the end of a search
/// is node `rows + cols + 1`.
struct Audit<'a> {
    cells: &'a [Vec<i64>],
    rows: usize,
    cols: usize,
    /// Rows whose cells A does not know beforehand: the label has records
    /// and another row's label has too.
    secret_row: Vec<bool>,
    /// Columns whose cells A does not know beforehand: total above 0.
    secret_col: Vec<bool>,
    /// `suppressed[r * cols + a]`: secret cell `(r, a)` is suppressed.
    suppressed: Vec<bool>,
    /// `open[r]`: the total of secret row `r` is suppressed.
    open: Vec<bool>,
    /// Cost of opening a row: `2·min_cell + 1`.
    open_cost: u128,
}

impl<'a> Audit<'a> {
    fn new(cells: &'a [Vec<i64>], row_sizes: &[u64], col_totals: &[i64], min_cell: u64) -> Self {
        let (rows, cols) = (cells.len(), col_totals.len());
        let non_empty = row_sizes.iter().filter(|&&s| s > 0).count();
        Audit {
            cells,
            rows,
            cols,
            secret_row: row_sizes.iter().map(|&s| s > 0 && non_empty >= 2).collect(),
            secret_col: col_totals.iter().map(|&t| t != 0).collect(),
            suppressed: vec![false; rows * cols],
            open: vec![false; rows],
            open_cost: 2 * u128::from(min_cell) + 1,
        }
    }

    /// Whether A does not know cell `(r, a)` before the release.
    fn secret_cell(&self, r: usize, a: usize) -> bool {
        self.secret_row[r] && self.secret_col[a]
    }

    /// Whether A does not know row `r`'s total before the release.
    fn secret_total(&self, r: usize) -> bool {
        self.secret_row[r] && self.secret_col.iter().any(|&s| s)
    }

    /// Runs complementary suppression to a safe state, then releases again
    /// the complements that turned out not to be needed (module docs).
    fn complement(&mut self) {
        let (primary_cells, primary_rows) = (self.suppressed.clone(), self.open.clone());
        let bound = 2 * (self.rows + self.cols) + 2;
        for _ in 0..bound {
            let protected = match self.first_determined() {
                None => break,
                Some(Determined::Cell(r, a)) => self.protect_cell(r, a),
                Some(Determined::RowTotal(r)) => self.protect_total(r),
            };
            if !protected {
                break;
            }
        }
        if self.first_determined().is_some() {
            self.suppress_all();
        }
        self.prune(&primary_cells, &primary_rows);
    }

    /// Tries to release each complement again, the costliest first (cells
    /// by value, a row total as a cell of `2·min_cell`), keeping the
    /// release only if the table stays safe.
    fn prune(&mut self, primary_cells: &[bool], primary_rows: &[bool]) {
        let cells = self.rows * self.cols;
        let mut complements: Vec<(u128, usize)> = (0..cells)
            .filter(|&i| self.suppressed[i] && !primary_cells[i])
            .map(|i| (u128::try_from(self.cells[i / self.cols][i % self.cols]).unwrap_or(0) + 1, i))
            .chain((0..self.rows).filter(|&r| self.open[r] && !primary_rows[r]).map(|r| (self.open_cost, cells + r)))
            .collect();
        complements.sort_by_key(|&(cost, i)| (std::cmp::Reverse(cost), i));
        for (_, i) in complements {
            let flag = if i < cells { &mut self.suppressed[i] } else { &mut self.open[i - cells] };
            *flag = false;
            if self.first_determined().is_some() {
                let flag = if i < cells { &mut self.suppressed[i] } else { &mut self.open[i - cells] };
                *flag = true;
            }
        }
    }

    /// Suppresses every figure A does not know beforehand: safe, as every
    /// secret column then has edges to at least two open rows.
    fn suppress_all(&mut self) {
        for r in 0..self.rows {
            for a in 0..self.cols {
                self.suppressed[r * self.cols + a] = self.secret_cell(r, a);
            }
            self.open[r] = self.secret_total(r);
        }
    }

    /// The determined figure to protect next: the cell with the fewest
    /// suppressed cells in its column, lowest index on ties, else the first
    /// row total.
    fn first_determined(&self) -> Option<Determined> {
        let (cells, totals) = self.determined();
        let in_column = |a: usize| (0..self.rows).filter(|&r| self.suppressed[r * self.cols + a]).count();
        let cell = (0..cells.len()).filter(|&i| cells[i]).min_by_key(|&i| (in_column(i % self.cols), i));
        if let Some(i) = cell {
            return Some(Determined::Cell(i / self.cols, i % self.cols));
        }
        totals.iter().position(|&d| d).map(Determined::RowTotal)
    }

    /// Which suppressed cells (`[r * cols + a]`) and row totals A can
    /// compute: bridges of the merged graph `H`, and open rows alone among
    /// open rows in their component.
    fn determined(&self) -> (Vec<bool>, Vec<bool>) {
        let (rows, cols) = (self.rows, self.cols);
        let g = rows + cols;
        let node = |r: usize| if self.open[r] { g } else { r };

        // Bridges of H, by Tarjan's low-link, iteratively. Edges are cell
        // indices, so parallel edges at g are told apart.
        let mut adjacent: Vec<Vec<(usize, usize)>> = vec![Vec::new(); g + 1];
        let mut union = UnionFind::new(rows + cols);
        for (e, _) in self.suppressed.iter().enumerate().filter(|(_, &s)| s) {
            let (r, a) = (e / cols, e % cols);
            adjacent[node(r)].push((rows + a, e));
            adjacent[rows + a].push((node(r), e));
            union.join(r, rows + a);
        }
        let mut bridge = vec![false; rows * cols];
        let (mut order, mut low) = (vec![usize::MAX; g + 1], vec![0usize; g + 1]);
        let mut clock = 0;
        for start in 0..=g {
            if order[start] != usize::MAX {
                continue;
            }
            order[start] = clock;
            low[start] = clock;
            clock += 1;
            // (node, edge it was entered by, next neighbour to look at)
            let mut stack = vec![(start, usize::MAX, 0usize)];
            while let Some(&(v, via, next)) = stack.last() {
                if let Some(&(w, e)) = adjacent[v].get(next) {
                    if let Some(top) = stack.last_mut() {
                        top.2 += 1;
                    }
                    if e == via {
                        continue;
                    }
                    if order[w] == usize::MAX {
                        order[w] = clock;
                        low[w] = clock;
                        clock += 1;
                        stack.push((w, e, 0));
                    } else {
                        low[v] = low[v].min(order[w]);
                    }
                } else {
                    stack.pop();
                    if let Some(&(u, _, _)) = stack.last() {
                        low[u] = low[u].min(low[v]);
                        if low[v] > order[u] {
                            bridge[via] = true;
                        }
                    }
                }
            }
        }

        // Open rows per component of the unmerged graph.
        let mut open_in = vec![0usize; rows + cols];
        for r in (0..rows).filter(|&r| self.open[r]) {
            open_in[union.root(r)] += 1;
        }
        let totals = (0..rows).map(|r| self.open[r] && open_in[union.root(r)] == 1).collect();
        (bridge, totals)
    }

    /// Closes a cycle through the bridge `(r, a)` along the cheapest path
    /// in `H` from column `a` to `r`'s node. False if there is none (never
    /// for a secret cell: another secret row exists and both can open).
    fn protect_cell(&mut self, r: usize, a: usize) -> bool {
        let target = if self.open[r] { self.rows + self.cols } else { r };
        let path = self.cheapest(self.rows + a, true, Some((r, a)), |v| (v == target).then_some((0, None)));
        self.apply(path)
    }

    /// Gives open row `r` another open row in its component along the
    /// cheapest path in the unmerged graph: to an open row, or to a row it
    /// then opens.
    fn protect_total(&mut self, r: usize) -> bool {
        let path = self.cheapest(r, false, None, |v| match v {
            v if v >= self.rows || v == r => None,
            v if self.open[v] => Some((0, None)),
            v if self.secret_total(v) => Some((self.open_cost, Some(Step::Open(v)))),
            _ => None,
        });
        self.apply(path)
    }

    fn apply(&mut self, path: Option<Vec<Step>>) -> bool {
        let Some(path) = path else { return false };
        for step in path {
            match step {
                Step::Cell(r, a) => self.suppressed[r * self.cols + a] = true,
                Step::Open(r) => self.open[r] = true,
            }
        }
        true
    }

    /// Cost of a cell as a step: 0 when already suppressed, else its value
    /// plus one.
    fn cell_cost(&self, r: usize, a: usize) -> u128 {
        if self.suppressed[r * self.cols + a] {
            0
        } else {
            u128::try_from(self.cells[r][a]).unwrap_or(0) + 1
        }
    }

    /// Steps out of `v`, as `(node, cost, step)`, into `out`: secret cells
    /// (except `banned`), and with `merged` the opening of rows, to and from
    /// `g`.
    fn steps(&self, v: usize, merged: bool, banned: Option<(usize, usize)>, out: &mut Vec<(usize, u128, Step)>) {
        out.clear();
        let (rows, cols) = (self.rows, self.cols);
        let g = rows + cols;
        let allowed = |r: usize, a: usize| self.secret_cell(r, a) && banned != Some((r, a));
        if v < rows {
            out.extend(
                (0..cols).filter(|&a| allowed(v, a)).map(|a| (rows + a, self.cell_cost(v, a), Step::Cell(v, a))),
            );
            if merged && self.secret_total(v) && !self.open[v] {
                out.push((g, self.open_cost, Step::Open(v)));
            }
        } else if v < g {
            let a = v - rows;
            let node = |r: usize| if merged && self.open[r] { g } else { r };
            out.extend((0..rows).filter(|&r| allowed(r, a)).map(|r| (node(r), self.cell_cost(r, a), Step::Cell(r, a))));
        } else if merged && v == g {
            for r in 0..rows {
                if self.open[r] {
                    out.extend(
                        (0..cols)
                            .filter(|&a| allowed(r, a))
                            .map(|a| (rows + a, self.cell_cost(r, a), Step::Cell(r, a))),
                    );
                } else if self.secret_total(r) {
                    out.push((r, self.open_cost, Step::Open(r)));
                }
            }
        }
    }

    /// Cheapest path by Dijkstra's algorithm (dense, `O(V² + n·m)`) from
    /// node `source` to any node `v` with `finish(v) = Some((cost, step))`,
    /// which ends the path at that extra cost and step. Ties go to the
    /// lowest node. In the merged graph open rows are node `g` only.
    fn cheapest(
        &self,
        source: usize,
        merged: bool,
        banned: Option<(usize, usize)>,
        finish: impl Fn(usize) -> Option<(u128, Option<Step>)>,
    ) -> Option<Vec<Step>> {
        let end = self.rows + self.cols + 1;
        let mut distance = vec![u128::MAX; end + 1];
        let mut done = vec![false; end + 1];
        let mut previous: Vec<Option<(usize, Option<Step>)>> = vec![None; end + 1];
        let mut out = Vec::new();
        distance[source] = 0;
        loop {
            let v = (0..=end).filter(|&v| !done[v] && distance[v] != u128::MAX).min_by_key(|&v| distance[v])?;
            done[v] = true;
            if v == end {
                break;
            }
            let mut relax = |w: usize, cost: u128, step: Option<Step>| {
                let d = distance[v].saturating_add(cost);
                if d < distance[w] {
                    distance[w] = d;
                    previous[w] = Some((v, step));
                }
            };
            if let Some((cost, step)) = finish(v) {
                relax(end, cost, step);
            }
            self.steps(v, merged, banned, &mut out);
            for &(w, cost, step) in &out {
                if !done[w] {
                    relax(w, cost, Some(step));
                }
            }
        }
        let mut path = Vec::new();
        let mut at = end;
        while let Some((from, step)) = previous[at] {
            path.extend(step);
            at = from;
        }
        Some(path)
    }

    fn released(&self, row_totals: &[i64], col_totals: Vec<i64>, total: i64) -> Released {
        let cols = self.cols;
        Released {
            cells: (0..self.rows)
                .map(|r| (0..cols).map(|a| (!self.suppressed[r * cols + a]).then_some(self.cells[r][a])).collect())
                .collect(),
            row_totals: row_totals.iter().zip(&self.open).map(|(&t, &open)| (!open).then_some(t)).collect(),
            col_totals: col_totals.into_iter().map(Some).collect(),
            total: Some(total),
        }
    }
}

/// Disjoint sets with path halving, for components of the unmerged graph.
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind { parent: (0..n).collect() }
    }

    fn root(&mut self, mut v: usize) -> usize {
        while self.parent[v] != v {
            self.parent[v] = self.parent[self.parent[v]];
            v = self.parent[v];
        }
        v
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        self.parent[a] = b;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Exact span over ℚ, independent of the graph argument: integer
    /// vectors in echelon order, each new one reduced fraction-free against
    /// the earlier ones (`v·b_p − b·v_p`) and divided by the gcd of its
    /// entries, so that nothing is rounded and nothing grows out of `i128`
    /// at the sizes tested.
    #[derive(Default)]
    struct Span {
        basis: Vec<(usize, Vec<i128>)>,
    }

    impl Span {
        fn reduce(&self, mut v: Vec<i128>) -> Vec<i128> {
            for (p, b) in &self.basis {
                let (x, y) = (b[*p], v[*p]);
                if y == 0 {
                    continue;
                }
                for (vi, &bi) in v.iter_mut().zip(b) {
                    *vi = vi.checked_mul(x).and_then(|t| t.checked_sub(bi.checked_mul(y)?)).expect("fits in i128");
                }
                let g = v.iter().fold(0i128, |g, &e| gcd(g, e.abs()));
                if g > 1 {
                    v.iter_mut().for_each(|e| *e /= g);
                }
            }
            v
        }

        fn insert(&mut self, v: Vec<i128>) {
            let v = self.reduce(v);
            if let Some(p) = v.iter().position(|&e| e != 0) {
                self.basis.push((p, v));
            }
        }

        fn contains(&self, v: Vec<i128>) -> bool {
            self.reduce(v).iter().all(|&e| e == 0)
        }
    }

    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    /// Linear functionals on a `rows × cols` table, as coefficient vectors.
    struct Functionals {
        rows: usize,
        cols: usize,
    }

    impl Functionals {
        fn of(cells: &[Vec<i64>]) -> Self {
            Functionals { rows: cells.len(), cols: cells[0].len() }
        }
        fn cell(&self, r: usize, a: usize) -> Vec<i128> {
            let mut v = vec![0; self.rows * self.cols];
            v[r * self.cols + a] = 1;
            v
        }
        fn row(&self, r: usize) -> Vec<i128> {
            (0..self.rows * self.cols).map(|i| i128::from(i / self.cols == r)).collect()
        }
        fn col(&self, a: usize) -> Vec<i128> {
            (0..self.rows * self.cols).map(|i| i128::from(i % self.cols == a)).collect()
        }
        fn all(&self) -> Vec<i128> {
            vec![1; self.rows * self.cols]
        }
        /// What A knows before any release: column totals, the grand total
        /// and the cells of empty rows.
        fn prior(&self, row_sizes: &[u64]) -> Span {
            let mut span = Span::default();
            (0..self.cols).for_each(|a| span.insert(self.col(a)));
            span.insert(self.all());
            for r in (0..self.rows).filter(|&r| row_sizes[r] == 0) {
                (0..self.cols).for_each(|a| span.insert(self.cell(r, a)));
            }
            span
        }
    }

    /// The independent audit of a noise-off release: every released figure
    /// is true and column totals and the grand total are all released;
    /// (a) no suppressed cell or row total is in the span of what A then
    /// knows; (c) every figure below `min_cell` that A did not know before
    /// is suppressed; and every figure A knew before is released.
    /// The exact audit: every suppressed figure outside the span of what A
    /// knows, every released one true, every small unknown cell suppressed.
    pub(crate) fn audit(
        cells: &[Vec<i64>],
        row_sizes: &[u64],
        min_cell: u64,
        released: &Released,
    ) -> Result<(), String> {
        let f = Functionals::of(cells);
        let (rows, cols) = (f.rows, f.cols);
        let row_total = |r: usize| cells[r].iter().sum::<i64>();
        let col_total = |a: usize| cells.iter().map(|row| row[a]).sum::<i64>();
        let grand: i64 = cells.iter().flatten().sum();
        let below = |v: i64| min_cell > 0 && (v as i128) < min_cell as i128;

        for (r, (row, shown)) in cells.iter().zip(&released.cells).enumerate() {
            if let Some(a) = (0..cols).find(|&a| shown[a].is_some_and(|v| v != row[a])) {
                return Err(format!("cell ({r}, {a}) released as {:?}", shown[a]));
            }
            if released.row_totals[r].is_some_and(|v| v != row_total(r)) {
                return Err(format!("row total {r} released as {:?}", released.row_totals[r]));
            }
        }
        let true_cols: Vec<Option<i64>> = (0..cols).map(|a| Some(col_total(a))).collect();
        if released.col_totals != true_cols || released.total != Some(grand) {
            return Err("column totals or grand total not released as they are".into());
        }

        let mut known = f.prior(row_sizes);
        for r in 0..rows {
            for a in (0..cols).filter(|&a| released.cells[r][a].is_some()) {
                known.insert(f.cell(r, a));
            }
            if released.row_totals[r].is_some() {
                known.insert(f.row(r));
            }
        }
        let prior = f.prior(row_sizes);
        for (r, &size) in row_sizes.iter().enumerate() {
            for a in 0..cols {
                let before = size == 0 || col_total(a) == 0 || prior.contains(f.cell(r, a));
                match released.cells[r][a] {
                    None if known.contains(f.cell(r, a)) => {
                        return Err(format!("suppressed cell ({r}, {a}) is in the span"))
                    }
                    None if before => return Err(format!("cell ({r}, {a}), known beforehand, is suppressed")),
                    Some(v) if below(v) && !before => return Err(format!("small cell ({r}, {a}) = {v} is released")),
                    _ => {}
                }
            }
            let before = size == 0 || grand == 0 || prior.contains(f.row(r));
            match released.row_totals[r] {
                None if known.contains(f.row(r)) => return Err(format!("suppressed row total {r} is in the span")),
                None if before => return Err(format!("row total {r}, known beforehand, is suppressed")),
                Some(v) if below(v) && !before => return Err(format!("small row total {r} = {v} is released")),
                _ => {}
            }
        }
        Ok(())
    }

    /// The cells as `S` (suppressed) or their value, for readable asserts.
    fn shape(released: &Released) -> Vec<Vec<String>> {
        let show = |c: &Option<i64>| c.map_or("S".to_string(), |v| v.to_string());
        released.cells.iter().map(|r| r.iter().map(show).collect()).collect()
    }

    fn grid(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
    }

    /// Row sizes with every row non-empty.
    fn full(rows: usize) -> Vec<u64> {
        vec![1_000_000; rows]
    }

    #[test]
    fn issue_10_small_cell_is_not_recoverable_from_column_totals() {
        let cells = [vec![68, 66, 7], vec![17, 4, 0], vec![35, 88, 2]];
        let released = release(&cells, &full(3), 10, false).unwrap();
        // Before: 2 = C_2 − 7 − 0 once 7 and 0 were hidden but column 2's
        // total (9) was known to A. Now column 2 holds three unknowns that
        // only its total ties together, and rows 0 and 2 give theirs up.
        assert_eq!(released.cells[2][2], None);
        assert_eq!(released.col_totals, vec![Some(120), Some(158), Some(9)]);
        assert_eq!(shape(&released), grid(&[&["68", "S", "S"], &["17", "S", "S"], &["35", "88", "S"]]));
        assert_eq!(released.row_totals, vec![None, Some(21), None]);
        audit(&cells, &full(3), 10, &released).unwrap();
    }

    #[test]
    fn audit_finds_what_subtraction_recovers() {
        // The issue's table with only the small cells and one partner
        // hidden, every row total shown: row 2 gives 2 = 125 − 35 − 88.
        let cells = [vec![68, 66, 7], vec![17, 4, 0], vec![35, 88, 2]];
        let leaky = Released {
            cells: vec![vec![Some(68), None, None], vec![Some(17), None, None], vec![Some(35), Some(88), None]],
            row_totals: vec![Some(141), Some(21), Some(125)],
            col_totals: vec![Some(120), Some(158), Some(9)],
            total: Some(287),
        };
        assert_eq!(audit(&cells, &full(3), 10, &leaky), Err("suppressed cell (2, 2) is in the span".into()));
    }

    #[test]
    fn empty_rows_and_columns_are_released_as_zeros_without_cascade() {
        // The demo's shape: row 3 is a label nobody in R's list has, column
        // 3 a label nobody matched with. Their zeros are no small cells.
        let cells = [vec![900, 1200, 300, 0], vec![450, 2200, 800, 0], vec![200, 700, 1500, 0], vec![0, 0, 0, 0]];
        let sizes = [5_000, 9_000, 4_000, 0];
        let released = release(&cells, &sizes, 50, false).unwrap();
        let expected: Vec<Vec<Option<i64>>> = cells.iter().map(|r| r.iter().map(|&v| Some(v)).collect()).collect();
        assert_eq!(released.cells, expected);
        assert!(released.row_totals.iter().all(Option::is_some));
        audit(&cells, &sizes, 50, &released).unwrap();
    }

    #[test]
    fn one_small_cell_beside_empty_rows_costs_one_cell_of_its_column() {
        let cells = [vec![900, 1200, 3, 0], vec![450, 2200, 800, 0], vec![200, 700, 1500, 0], vec![0, 0, 0, 0]];
        let sizes = [5_000, 9_000, 4_000, 0];
        let released = release(&cells, &sizes, 50, false).unwrap();
        // Column 2 needs a second unknown; the cheaper one (800) goes, with
        // rows 0 and 1's totals, rather than the four-cycle's 900 + 450.
        assert_eq!(
            shape(&released),
            grid(&[
                &["900", "1200", "S", "0"],
                &["450", "2200", "S", "0"],
                &["200", "700", "1500", "0"],
                &["0", "0", "0", "0"]
            ])
        );
        assert_eq!(released.row_totals, vec![None, None, Some(2400), Some(0)]);
        audit(&cells, &sizes, 50, &released).unwrap();
    }

    #[test]
    fn complement_is_the_cheapest_cycle_of_cells_when_cells_are_near_the_threshold() {
        // c00 = 2; the cycle through 12, 11 and 13 costs less than opening
        // two rows (2 × 21 each).
        let cells = [vec![2, 12, 500], vec![11, 13, 500], vec![600, 700, 800]];
        let released = release(&cells, &full(3), 10, false).unwrap();
        assert_eq!(shape(&released), grid(&[&["S", "S", "500"], &["S", "S", "500"], &["600", "700", "800"]]));
        assert!(released.row_totals.iter().all(Option::is_some));
        audit(&cells, &full(3), 10, &released).unwrap();
    }

    #[test]
    fn one_row_table_hides_nothing() {
        // Each cell equals its column total, which A knows.
        let released = release(&[vec![3, 0, 500]], &[503], 10, false).unwrap();
        assert_eq!(released.cells, vec![vec![Some(3), Some(0), Some(500)]]);
        assert_eq!(released.row_totals, vec![Some(503)]);
        // Likewise with one non-empty row among empty ones.
        let cells = [vec![0, 0], vec![4, 7], vec![0, 0]];
        let released = release(&cells, &[0, 11, 0], 10, false).unwrap();
        assert!(released.cells.iter().flatten().all(Option::is_some));
        assert!(released.row_totals.iter().all(Option::is_some));
        audit(&cells, &[0, 11, 0], 10, &released).unwrap();
    }

    #[test]
    fn small_row_total_is_suppressed_with_a_partner_row() {
        let cells = [vec![3, 4], vec![50, 60], vec![70, 80]];
        let released = release(&cells, &full(3), 10, false).unwrap();
        assert_eq!(released.row_totals[0], None);
        assert_eq!(released.cells[0], vec![None, None]);
        audit(&cells, &full(3), 10, &released).unwrap();
    }

    #[test]
    fn zero_is_suppressed_like_any_small_count() {
        let cells = [vec![0, 30], vec![40, 50]];
        let released = release(&cells, &full(2), 1, false).unwrap();
        assert_eq!(released.cells[0][0], None);
        audit(&cells, &full(2), 1, &released).unwrap();
    }

    #[test]
    fn min_cell_zero_suppresses_nothing() {
        let cells = [vec![0, 1], vec![2, 0]];
        let released = release(&cells, &full(2), 0, false).unwrap();
        assert_eq!(released.cells, vec![vec![Some(0), Some(1)], vec![Some(2), Some(0)]]);
        assert_eq!(released.row_totals, vec![Some(1), Some(2)]);
        assert_eq!(released.col_totals, vec![Some(2), Some(1)]);
        assert_eq!(released.total, Some(3));
        let noisy = release(&[vec![-5, 1]], &full(1), 0, true).unwrap();
        assert_eq!(noisy.cells, vec![vec![Some(0), Some(1)]]);
    }

    #[test]
    fn min_cell_beyond_i64_suppresses_every_secret() {
        let cells = [vec![i64::MAX / 4, 1], vec![2, 3]];
        let released = release(&cells, &full(2), u64::MAX, false).unwrap();
        assert!(released.cells.iter().flatten().all(Option::is_none));
        assert_eq!(released.row_totals, vec![None, None]);
        assert_eq!(released.total, Some(i64::MAX / 4 + 6));
        audit(&cells, &full(2), u64::MAX, &released).unwrap();
    }

    #[test]
    fn noisy_cells_are_clamped_and_totals_are_their_sums() {
        let released = release(&[vec![-3, 12], vec![7, 25]], &full(2), 10, true).unwrap();
        assert_eq!(shape(&released), grid(&[&["S", "12"], &["S", "25"]]));
        // Sums of the clamped cells, suppressed ones included, even below
        // min_cell (column 0: 0 + 7); nothing complementary.
        assert_eq!(released.row_totals, vec![Some(12), Some(32)]);
        assert_eq!(released.col_totals, vec![Some(7), Some(37)]);
        assert_eq!(released.total, Some(44));
    }

    #[test]
    fn noisy_empty_rows_are_zeros() {
        let released = release(&[vec![4, 60], vec![-2, 9]], &[100, 0], 10, true).unwrap();
        assert_eq!(released.cells, vec![vec![None, Some(60)], vec![Some(0), Some(0)]]);
        assert_eq!(released.row_totals, vec![Some(64), Some(0)]);
        assert_eq!(released.col_totals, vec![Some(4), Some(60)]);
    }

    #[test]
    fn noisy_table_may_be_all_negative() {
        let released = release(&[vec![-2, -1]], &full(1), 0, true).unwrap();
        assert_eq!(released.cells, vec![vec![Some(0), Some(0)]]);
        assert_eq!(released.total, Some(0));
    }

    #[test]
    fn rejects_empty_tables() {
        assert_eq!(release(&[], &[], 1, false), Err(ReleaseError::Empty { rows: 0, cols: 0 }));
        assert_eq!(release(&[vec![], vec![]], &full(2), 1, false), Err(ReleaseError::Empty { rows: 2, cols: 0 }));
    }

    #[test]
    fn rejects_ragged_tables() {
        assert_eq!(
            release(&[vec![1, 2], vec![3]], &full(2), 1, true),
            Err(ReleaseError::Ragged { row: 1, len: 1, expected: 2 })
        );
        assert_eq!(
            release(&[vec![1], vec![2, 3]], &full(2), 1, false),
            Err(ReleaseError::Ragged { row: 1, len: 2, expected: 1 })
        );
    }

    #[test]
    fn rejects_tables_over_the_bound() {
        let wide = vec![vec![0; MAX_RELEASE_DIM + 1]];
        assert_eq!(
            release(&wide, &full(1), 1, false),
            Err(ReleaseError::TooLarge { rows: 1, cols: MAX_RELEASE_DIM + 1, max: MAX_RELEASE_DIM })
        );
        let tall = vec![vec![0]; MAX_RELEASE_DIM + 1];
        assert_eq!(
            release(&tall, &full(MAX_RELEASE_DIM + 1), 1, true),
            Err(ReleaseError::TooLarge { rows: MAX_RELEASE_DIM + 1, cols: 1, max: MAX_RELEASE_DIM })
        );
    }

    #[test]
    fn bound_covers_every_segment_table() {
        assert!(MAX_RELEASE_DIM >= usize::from(crate::MAX_SEGMENT_LABELS));
    }

    #[test]
    fn rejects_row_sizes_of_the_wrong_length() {
        assert_eq!(release(&[vec![1], vec![2]], &full(1), 1, false), Err(ReleaseError::RowSizes { rows: 2, sizes: 1 }));
        assert_eq!(release(&[vec![1]], &full(2), 1, true), Err(ReleaseError::RowSizes { rows: 1, sizes: 2 }));
    }

    #[test]
    fn rejects_negative_exact_counts() {
        assert_eq!(
            release(&[vec![5, 6], vec![7, -1]], &full(2), 1, false),
            Err(ReleaseError::NegativeCount { row: 1, col: 1, value: -1 })
        );
    }

    #[test]
    fn rejects_exact_counts_in_empty_rows() {
        assert_eq!(
            release(&[vec![5, 6], vec![0, 3]], &[11, 0], 1, false),
            Err(ReleaseError::CountInEmptyRow { row: 1, col: 1, value: 3 })
        );
    }

    #[test]
    fn rejects_overflowing_totals() {
        assert_eq!(release(&[vec![i64::MAX, 1]], &full(1), 1, false), Err(ReleaseError::Overflow));
        assert_eq!(release(&[vec![i64::MAX], vec![1]], &full(2), 1, false), Err(ReleaseError::Overflow));
        assert_eq!(release(&[vec![i64::MAX, 1]], &full(1), 1, true), Err(ReleaseError::Overflow));
    }

    /// Small values near and below the thresholds tested, large ones far
    /// above.
    fn value() -> impl Strategy<Value = i64> {
        prop_oneof![3 => 0i64..15, 2 => 15i64..3_000]
    }

    /// A table up to 5 × 5 with its row sizes: some rows empty (all zero,
    /// size 0), some columns all zero.
    fn table() -> impl Strategy<Value = (Vec<Vec<i64>>, Vec<u64>)> {
        (1usize..=5, 1usize..=5)
            .prop_flat_map(|(rows, cols)| {
                (
                    prop::collection::vec(prop::collection::vec(value(), cols), rows),
                    prop::collection::vec(prop::bool::weighted(0.25), rows),
                    prop::collection::vec(prop::bool::weighted(0.15), cols),
                    prop::collection::vec(0u64..3, rows),
                )
            })
            .prop_map(|(mut cells, empty_rows, zero_cols, extra)| {
                for (row, &empty) in cells.iter_mut().zip(&empty_rows) {
                    for (v, &zero) in row.iter_mut().zip(&zero_cols) {
                        if empty || zero {
                            *v = 0;
                        }
                    }
                }
                let sizes = cells
                    .iter()
                    .zip(empty_rows.iter().zip(&extra))
                    .map(|(row, (&empty, &x))| if empty { 0 } else { row.iter().sum::<i64>() as u64 + x })
                    .collect();
                (cells, sizes)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn release_passes_the_exact_linear_audit((cells, sizes) in table(), min_cell in 0u64..20) {
            let released = release(&cells, &sizes, min_cell, false).unwrap();
            if let Err(why) = audit(&cells, &sizes, min_cell, &released) {
                return Err(TestCaseError::fail(format!("{why}: {cells:?} sizes {sizes:?} -> {:?}", shape(&released))));
            }
        }

        /// The graph criterion of the module docs against the brute-force
        /// span, on arbitrary suppression patterns (not only those that
        /// `release` produces).
        #[test]
        fn graph_criterion_is_the_linear_algebra((cells, sizes) in table(), cell_bits in any::<u32>(), row_bits in any::<u8>()) {
            let f = Functionals::of(&cells);
            let col_totals: Vec<i64> = (0..f.cols).map(|a| cells.iter().map(|r| r[a]).sum()).collect();
            let mut state = Audit::new(&cells, &sizes, &col_totals, 10);
            for r in 0..f.rows {
                for a in 0..f.cols {
                    state.suppressed[r * f.cols + a] = state.secret_cell(r, a) && cell_bits >> (r * f.cols + a) & 1 == 1;
                }
                state.open[r] = state.secret_total(r) && row_bits >> r & 1 == 1;
            }
            let mut known = f.prior(&sizes);
            for i in (0..f.rows * f.cols).filter(|&i| !state.suppressed[i]) {
                known.insert(f.cell(i / f.cols, i % f.cols));
            }
            for r in (0..f.rows).filter(|&r| !state.open[r]) {
                known.insert(f.row(r));
            }
            let (cells_found, rows_found) = state.determined();
            for (i, &found) in cells_found.iter().enumerate() {
                let expected = state.suppressed[i] && known.contains(f.cell(i / f.cols, i % f.cols));
                prop_assert_eq!(found, expected, "cell {} of {:?}", i, state.suppressed);
            }
            for (r, &found) in rows_found.iter().enumerate() {
                let expected = state.open[r] && known.contains(f.row(r));
                prop_assert_eq!(found, expected, "row {} of {:?} / {:?}", r, state.suppressed, state.open);
            }
        }

        #[test]
        fn noisy_release_clamps_and_sums((cells, sizes) in table(), min_cell in 0u64..20, shift in -20i64..20) {
            let noisy: Vec<Vec<i64>> = cells.iter().map(|r| r.iter().map(|v| v + shift).collect()).collect();
            let released = release(&noisy, &sizes, min_cell, true).unwrap();
            let clamped: Vec<Vec<i64>> = noisy
                .iter()
                .zip(&sizes)
                .map(|(r, &s)| r.iter().map(|&v| if s == 0 { 0 } else { v.max(0) }).collect())
                .collect();
            for (r, row) in clamped.iter().enumerate() {
                for (a, &v) in row.iter().enumerate() {
                    let hidden = sizes[r] > 0 && min_cell > 0 && v < min_cell as i64;
                    prop_assert_eq!(released.cells[r][a], (!hidden).then_some(v));
                }
                prop_assert_eq!(released.row_totals[r], Some(row.iter().sum()));
            }
            for a in 0..clamped[0].len() {
                prop_assert_eq!(released.col_totals[a], Some(clamped.iter().map(|r| r[a]).sum()));
            }
            prop_assert_eq!(released.total, Some(clamped.iter().flatten().sum()));
        }

        #[test]
        fn never_panics(
            cells in prop::collection::vec(prop::collection::vec(any::<i64>(), 0..5), 0..5),
            sizes in prop::collection::vec(0u64..2, 0..5),
            min_cell in any::<u64>(),
            noisy in any::<bool>(),
        ) {
            let _ = release(&cells, &sizes, min_cell, noisy);
        }
    }

    /// SplitMix64, for reproducible random tables outside proptest.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        /// `min_cell = 50` tables: with probability `p_small` a count under
        /// 50, else a count log-uniform in [100, 3000].
        fn count(&mut self, p_small: f64) -> i64 {
            if self.unit() < p_small {
                (self.next() % 50) as i64
            } else {
                (100.0 * 30f64.powf(self.unit())) as i64
            }
        }
    }

    /// Over `tables` random tables of `filled × 3` counts (plus an empty
    /// `other` row and column): (cells of at least 2·min_cell, those
    /// suppressed, those a lone small cell in their column forces).
    fn quality(seed: u64, tables: usize, filled: usize, p_small: f64) -> (usize, usize, usize) {
        let mut rng = Rng(seed);
        let (mut large, mut lost, mut forced) = (0, 0, 0);
        for _ in 0..tables {
            let mut cells: Vec<Vec<i64>> =
                (0..filled).map(|_| (0..3).map(|_| rng.count(p_small)).chain([0]).collect()).collect();
            cells.push(vec![0; 4]);
            let mut sizes: Vec<u64> = cells.iter().map(|r| r.iter().sum::<i64>() as u64 * 3 + 1).collect();
            sizes[filled] = 0;
            let released = release(&cells, &sizes, 50, false).unwrap();
            for a in 0..3 {
                let column: Vec<i64> = cells.iter().take(filled).map(|r| r[a]).collect();
                if column.iter().filter(|&&v| v < 50).count() == 1 && !column.iter().any(|v| (50..100).contains(v)) {
                    forced += 1;
                }
                for (&v, shown) in column.iter().zip(&released.cells) {
                    if v >= 100 {
                        large += 1;
                        lost += usize::from(shown[a].is_none());
                    }
                }
            }
        }
        (large, lost, forced)
    }

    /// The issue's bar: on demo-shaped tables at most 10 % of the cells of
    /// at least 2·min_cell are suppressed. Shapes: the issue's 4 × 4 (3
    /// filled rows) and the default template's 15 × 4 (8 filled rows), each
    /// with an empty `other` row and column, and a few small cells (each
    /// cell small with probability `p`). A small cell alone in its column
    /// forces the loss of a second cell of that column whatever the
    /// algorithm (`forced`, a lower bound): at 3 × 3 with `p = 0.15` that
    /// alone is 12.8 % of the large cells, so the bar is asserted up to
    /// `p = 0.1`, and everywhere the loss stays within 25 % of the bound.
    #[test]
    fn demo_shaped_tables_keep_their_large_cells() {
        for (filled, p_small, bar) in
            [(3, 0.05, true), (3, 0.1, true), (3, 0.15, false), (8, 0.1, true), (8, 0.2, true)]
        {
            let (large, lost, forced) = quality(7, 2_000, filled, p_small);
            let share = lost as f64 / large as f64;
            eprintln!(
                "{filled} x 3, p = {p_small}: {lost} of {large} large cells suppressed ({share:.3}), {forced} forced"
            );
            assert!(!bar || share <= 0.10, "{filled} x 3 at {p_small}: {lost} of {large} large cells suppressed");
            assert!(lost * 4 <= forced * 5, "{filled} x 3 at {p_small}: {lost} lost, {forced} forced");
        }
    }

    #[test]
    fn largest_table_releases_safely() {
        let mut rng = Rng(11);
        let n = MAX_RELEASE_DIM;
        let cells: Vec<Vec<i64>> = (0..n).map(|_| (0..n).map(|_| rng.count(0.005)).collect()).collect();
        let start = std::time::Instant::now();
        let released = release(&cells, &full(n), 50, false).unwrap();
        eprintln!("{n} x {n}: {:?}", start.elapsed());
        let col_totals: Vec<i64> = (0..n).map(|a| cells.iter().map(|r| r[a]).sum()).collect();
        let mut state = Audit::new(&cells, &full(n), &col_totals, 50);
        for (r, row) in released.cells.iter().enumerate() {
            for (a, c) in row.iter().enumerate() {
                state.suppressed[r * n + a] = c.is_none();
            }
            state.open[r] = released.row_totals[r].is_none();
        }
        assert_eq!(state.first_determined(), None);
        for (r, row) in cells.iter().enumerate() {
            for (a, &v) in row.iter().enumerate() {
                assert!(v >= 50 || released.cells[r][a].is_none());
            }
        }
    }
}
