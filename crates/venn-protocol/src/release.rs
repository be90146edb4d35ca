//! What the receiver of a segment match may release of its cross-tab.
//!
//! The receiver decrypts `cells[r][a]`: how many matched people carry its
//! label `r` and the aggregator's label `a`. Exact counts when noise is off,
//! counts plus discrete Laplace noise (possibly negative) when it is on.
//! Before anything is shown or sent, [`release`] applies thresholds, so that
//! no released number describes fewer than `min_cell` people (noise off) or
//! no noisy cell under `min_cell` is shown (noise on).
//!
//! # Noise off: primary and complementary suppression
//! *Primary:* a cell, row total, column total or grand total below
//! `min_cell` is suppressed. Zero is suppressed too (for `min_cell > 0`):
//! "nobody has both labels" is a statement about individuals as much as
//! "one person does". `min_cell == 0` suppresses nothing.
//!
//! The totals are the exact sums of all cells, suppressed ones included:
//! that is the true marginal, the number a reader takes a total to be. So
//! the released table obeys the linear equations
//!
//! ```text
//! row r:         T_r = Σ_a c[r][a]        column a:      C_a = Σ_r c[r][a]
//! row totals:    G   = Σ_r T_r            column totals: G   = Σ_a C_a
//! ```
//!
//! and any equation in which exactly one term is suppressed gives that term
//! away by subtraction (or addition). *Complementary suppression* rules
//! that out: while some equation has exactly one suppressed term, suppress
//! one more of its terms, preferring the parts to the whole:
//! - in a row (column): the smallest released cell of that row (column),
//!   lowest index first on ties; if every cell is already suppressed, the
//!   row (column) total;
//! - among the row (column) totals: the smallest released row (column)
//!   total; if there is none left, the grand total.
//!
//! Each suppression can leave another equation with a single unknown (the
//! column of a complementary cell, the row of a complementary row total), so
//! this runs to a fixed point. It ends: an equation is fixed only when it
//! has exactly one unknown, and leaves with two, never to return to one,
//! so there are at most `rows + cols + 2` fixes.
//!
//! *Known limit.* This guarantees that no single equation above has exactly
//! one unknown. It is not an audit of the whole linear system: combining
//! equations, and the fact that counts are non-negative, can still bound a
//! suppressed cell to an interval, occasionally a narrow one (a linear
//! programming audit, as statistical agencies run with tools such as
//! τ-ARGUS, would find those). Use noise when that matters.
//!
//! # Noise on
//! Each cell already carries discrete Laplace noise, so anything computed
//! from the noisy cells is differentially private by post-processing. Cells
//! below `min_cell` are still suppressed (a noisy 3 misleads more than it
//! informs), but the totals are the sums of all noisy cells, suppressed ones
//! included, shown as is, and nothing is suppressed to complement: what
//! subtraction recovers is a noisy cell, which is already protected.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Largest number of rows, and of columns, a cross-tab may have. The table
/// comes from decrypting data a peer sent; this bounds what the peer can
/// make the receiver allocate (16.8 M cells) and audit.
pub const MAX_RELEASE_DIM: usize = 4096;

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
}

/// Applies the thresholds of the module docs to `cells` (`cells[r][a]`,
/// rows are receiver labels, columns aggregator labels).
///
/// With `noisy == false` cells are exact counts: values below `min_cell`
/// are suppressed, then complementary suppression runs until no row,
/// column, row-total or column-total equation has exactly one suppressed
/// term. With `noisy == true` only cells below `min_cell` are suppressed
/// and every total is released. `min_cell == 0` suppresses nothing.
///
/// # Errors
/// [`ReleaseError::Empty`] for no rows or no columns,
/// [`ReleaseError::TooLarge`] beyond [`MAX_RELEASE_DIM`] either way,
/// [`ReleaseError::Ragged`] for rows of different lengths,
/// [`ReleaseError::NegativeCount`] for a negative cell with noise off, and
/// [`ReleaseError::Overflow`] when a total does not fit in an `i64`.
pub fn release(cells: &[Vec<i64>], min_cell: u64, noisy: bool) -> Result<Released, ReleaseError> {
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
    if !noisy {
        for (row, r) in cells.iter().enumerate() {
            if let Some((col, &value)) = r.iter().enumerate().find(|(_, &v)| v < 0) {
                return Err(ReleaseError::NegativeCount { row, col, value });
            }
        }
    }

    let row_totals = cells.iter().map(|r| checked_sum(r.iter().copied())).collect::<Result<Vec<_>, _>>()?;
    let col_totals = (0..cols).map(|a| checked_sum(cells.iter().map(|r| r[a]))).collect::<Result<Vec<_>, _>>()?;
    let total = checked_sum(row_totals.iter().copied())?;

    let below = |v: i64| min_cell > 0 && i128::from(v) < i128::from(min_cell);
    if noisy {
        return Ok(Released {
            cells: cells.iter().map(|r| r.iter().map(|&v| (!below(v)).then_some(v)).collect()).collect(),
            row_totals: row_totals.into_iter().map(Some).collect(),
            col_totals: col_totals.into_iter().map(Some).collect(),
            total: Some(total),
        });
    }

    let mut audit = Audit::new(cells, row_totals, col_totals, total);
    audit.run(below);
    Ok(audit.released())
}

/// Sum of `values`, or [`ReleaseError::Overflow`].
fn checked_sum(mut values: impl Iterator<Item = i64>) -> Result<i64, ReleaseError> {
    values.try_fold(0i64, i64::checked_add).ok_or(ReleaseError::Overflow)
}

/// Index of the smallest of `(value, index)` pairs, lowest index on ties.
fn smallest(released: impl Iterator<Item = (i64, usize)>) -> Option<usize> {
    released.min().map(|(_, i)| i)
}

/// The `(value, index)` pairs of `values` not `hidden`.
fn released<'b>(values: &'b [i64], hidden: &'b [bool]) -> impl Iterator<Item = (i64, usize)> + 'b {
    values.iter().zip(hidden).enumerate().filter(|(_, (_, &h))| !h).map(|(i, (&v, _))| (v, i))
}

/// A term of the release equations.
#[derive(Debug, Clone, Copy)]
enum Term {
    Cell(usize, usize),
    RowTotal(usize),
    ColTotal(usize),
    Total,
}

/// One of the release equations (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Equation {
    Row(usize),
    Col(usize),
    RowTotals,
    ColTotals,
}

/// Suppression state of a noise-off table, with the number of suppressed
/// terms of every equation kept up to date.
struct Audit<'a> {
    cells: &'a [Vec<i64>],
    row_totals: Vec<i64>,
    col_totals: Vec<i64>,
    total: i64,
    /// `hidden_cells[r][a]`: cell suppressed.
    hidden_cells: Vec<Vec<bool>>,
    hidden_rows: Vec<bool>,
    hidden_cols: Vec<bool>,
    hidden_total: bool,
    /// Suppressed terms of each row equation (its cells and its total).
    unknown_in_row: Vec<usize>,
    /// Suppressed terms of each column equation.
    unknown_in_col: Vec<usize>,
    /// Suppressed terms among the row totals and the grand total.
    unknown_in_row_totals: usize,
    /// Suppressed terms among the column totals and the grand total.
    unknown_in_col_totals: usize,
    /// Equations whose unknown count changed since they were last checked,
    /// first in, first out, so that complements spread evenly from the
    /// primary cells.
    pending: VecDeque<Equation>,
}

impl<'a> Audit<'a> {
    fn new(cells: &'a [Vec<i64>], row_totals: Vec<i64>, col_totals: Vec<i64>, total: i64) -> Self {
        let (rows, cols) = (row_totals.len(), col_totals.len());
        Audit {
            cells,
            row_totals,
            col_totals,
            total,
            hidden_cells: vec![vec![false; cols]; rows],
            hidden_rows: vec![false; rows],
            hidden_cols: vec![false; cols],
            hidden_total: false,
            unknown_in_row: vec![0; rows],
            unknown_in_col: vec![0; cols],
            unknown_in_row_totals: 0,
            unknown_in_col_totals: 0,
            pending: VecDeque::new(),
        }
    }

    /// Primary suppression of every term `below` the threshold, then
    /// complementary suppression to the fixed point.
    fn run(&mut self, below: impl Fn(i64) -> bool) {
        for r in 0..self.row_totals.len() {
            for a in 0..self.col_totals.len() {
                if below(self.cells[r][a]) {
                    self.suppress(Term::Cell(r, a));
                }
            }
            if below(self.row_totals[r]) {
                self.suppress(Term::RowTotal(r));
            }
        }
        for a in 0..self.col_totals.len() {
            if below(self.col_totals[a]) {
                self.suppress(Term::ColTotal(a));
            }
        }
        if below(self.total) {
            self.suppress(Term::Total);
        }
        while let Some(equation) = self.pending.pop_front() {
            if self.unknowns(equation) == 1 {
                let complement = self.complement(equation);
                self.suppress(complement);
            }
        }
    }

    fn unknowns(&self, equation: Equation) -> usize {
        match equation {
            Equation::Row(r) => self.unknown_in_row[r],
            Equation::Col(a) => self.unknown_in_col[a],
            Equation::RowTotals => self.unknown_in_row_totals,
            Equation::ColTotals => self.unknown_in_col_totals,
        }
    }

    /// The term to suppress next in an equation with one unknown: its
    /// smallest released part (lowest index on ties), else its whole. There
    /// is always a released term, as every equation has at least two.
    fn complement(&self, equation: Equation) -> Term {
        match equation {
            Equation::Row(r) => smallest(released(&self.cells[r], &self.hidden_cells[r]))
                .map_or(Term::RowTotal(r), |a| Term::Cell(r, a)),
            Equation::Col(a) => {
                let column = (0..self.row_totals.len()).filter(|&r| !self.hidden_cells[r][a]);
                smallest(column.map(|r| (self.cells[r][a], r))).map_or(Term::ColTotal(a), |r| Term::Cell(r, a))
            }
            Equation::RowTotals => {
                smallest(released(&self.row_totals, &self.hidden_rows)).map_or(Term::Total, Term::RowTotal)
            }
            Equation::ColTotals => {
                smallest(released(&self.col_totals, &self.hidden_cols)).map_or(Term::Total, Term::ColTotal)
            }
        }
    }

    /// Suppresses `term` (if not already) and queues the equations it is in.
    fn suppress(&mut self, term: Term) {
        let equations = match term {
            Term::Cell(r, a) if !self.hidden_cells[r][a] => {
                self.hidden_cells[r][a] = true;
                [Equation::Row(r), Equation::Col(a)]
            }
            Term::RowTotal(r) if !self.hidden_rows[r] => {
                self.hidden_rows[r] = true;
                [Equation::Row(r), Equation::RowTotals]
            }
            Term::ColTotal(a) if !self.hidden_cols[a] => {
                self.hidden_cols[a] = true;
                [Equation::Col(a), Equation::ColTotals]
            }
            Term::Total if !self.hidden_total => {
                self.hidden_total = true;
                [Equation::RowTotals, Equation::ColTotals]
            }
            _ => return,
        };
        for equation in equations {
            match equation {
                Equation::Row(r) => self.unknown_in_row[r] += 1,
                Equation::Col(a) => self.unknown_in_col[a] += 1,
                Equation::RowTotals => self.unknown_in_row_totals += 1,
                Equation::ColTotals => self.unknown_in_col_totals += 1,
            }
            self.pending.push_back(equation);
        }
    }

    fn released(&self) -> Released {
        let show = |value: i64, hidden: bool| (!hidden).then_some(value);
        Released {
            cells: self
                .cells
                .iter()
                .zip(&self.hidden_cells)
                .map(|(r, h)| r.iter().zip(h).map(|(&v, &h)| show(v, h)).collect())
                .collect(),
            row_totals: self.row_totals.iter().zip(&self.hidden_rows).map(|(&v, &h)| show(v, h)).collect(),
            col_totals: self.col_totals.iter().zip(&self.hidden_cols).map(|(&v, &h)| show(v, h)).collect(),
            total: show(self.total, self.hidden_total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute force over the release equations: every one in which exactly
    /// one term is suppressed, described, so a failure says which.
    fn single_unknowns(released: &Released) -> Vec<String> {
        let mut found = Vec::new();
        let mut check = |name: String, terms: Vec<Option<i64>>| {
            if terms.iter().filter(|t| t.is_none()).count() == 1 {
                found.push(name);
            }
        };
        let cols = released.col_totals.len();
        for (r, row) in released.cells.iter().enumerate() {
            check(format!("row {r}"), row.iter().copied().chain([released.row_totals[r]]).collect());
        }
        for a in 0..cols {
            let column = released.cells.iter().map(|row| row[a]);
            check(format!("column {a}"), column.chain([released.col_totals[a]]).collect());
        }
        check("row totals".into(), released.row_totals.iter().copied().chain([released.total]).collect());
        check("column totals".into(), released.col_totals.iter().copied().chain([released.total]).collect());
        found
    }

    /// The cells as `S` (suppressed) or their value, for readable asserts.
    fn shape(released: &Released) -> Vec<Vec<String>> {
        let show = |c: &Option<i64>| c.map_or("S".to_string(), |v| v.to_string());
        released.cells.iter().map(|r| r.iter().map(show).collect()).collect()
    }

    fn grid(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn one_by_one_released_or_suppressed_whole() {
        let shown = release(&[vec![12]], 10, false).unwrap();
        assert_eq!(
            shown,
            Released {
                cells: vec![vec![Some(12)]],
                row_totals: vec![Some(12)],
                col_totals: vec![Some(12)],
                total: Some(12)
            }
        );
        let hidden = release(&[vec![9]], 10, false).unwrap();
        assert_eq!(
            hidden,
            Released { cells: vec![vec![None]], row_totals: vec![None], col_totals: vec![None], total: None }
        );
        assert!(single_unknowns(&hidden).is_empty());
    }

    #[test]
    fn small_cell_gains_a_partner_in_its_row_and_its_column() {
        let released = release(&[vec![2, 30], vec![40, 50]], 10, false).unwrap();
        // c00 hidden; row 0 takes c01, column 0 takes c10, and then column 1
        // (c01 alone) takes c11. Every total stays.
        assert_eq!(shape(&released), grid(&[&["S", "S"], &["S", "S"]]));
        assert_eq!(released.row_totals, vec![Some(32), Some(90)]);
        assert_eq!(released.col_totals, vec![Some(42), Some(80)]);
        assert_eq!(released.total, Some(122));
        assert!(single_unknowns(&released).is_empty(), "{:?}", single_unknowns(&released));
    }

    #[test]
    fn complement_is_the_smallest_released_cell() {
        let cells = [vec![2, 30, 60], vec![40, 50, 70], vec![45, 55, 80]];
        let released = release(&cells, 10, false).unwrap();
        // Row 0 takes 30 (not 60), column 0 takes 40 (not 45), column 1 then
        // has 30 alone and takes 50 (not 55); row 1 has two and is done.
        assert_eq!(shape(&released), grid(&[&["S", "S", "60"], &["S", "S", "70"], &["45", "55", "80"]]));
        assert!(released.row_totals.iter().chain(&released.col_totals).all(Option::is_some));
        assert!(single_unknowns(&released).is_empty());
    }

    #[test]
    fn row_whose_other_cells_are_small_too_needs_no_partner_in_the_row() {
        let released = release(&[vec![2, 3, 4], vec![40, 50, 60]], 5, false).unwrap();
        // Row 0 has three unknowns already; each column has one, so each
        // takes its only other cell, row 1's.
        assert_eq!(shape(&released), grid(&[&["S", "S", "S"], &["S", "S", "S"]]));
        assert_eq!(released.row_totals, vec![Some(9), Some(150)]);
        assert_eq!(released.col_totals, vec![Some(42), Some(53), Some(64)]);
        assert!(single_unknowns(&released).is_empty());
    }

    #[test]
    fn row_with_one_small_cell_and_no_other_cells_loses_its_total() {
        let released = release(&[vec![2], vec![40], vec![50]], 10, false).unwrap();
        // Row 0 is c00 alone: its total goes (T0 = c00 would reveal it). The
        // row totals then have T0 alone: T1 (40, the smaller) goes. Row 1 then
        // has T1 alone, recoverable from its cell: c10 goes. Column 0 has two.
        assert_eq!(shape(&released), grid(&[&["S"], &["S"], &["50"]]));
        assert_eq!(released.row_totals, vec![None, None, Some(50)]);
        assert_eq!(released.col_totals, vec![Some(92)]);
        assert_eq!(released.total, Some(92));
        assert!(single_unknowns(&released).is_empty());
    }

    #[test]
    fn marginals_under_min_cell_are_suppressed_and_complemented() {
        let released = release(&[vec![3, 4], vec![50, 60]], 10, false).unwrap();
        // Row 0 totals 7 < 10: hidden with both its cells. Each column then
        // has one unknown and takes row 1's cell; the row totals have T0 alone
        // and take T1.
        assert_eq!(shape(&released), grid(&[&["S", "S"], &["S", "S"]]));
        assert_eq!(released.row_totals, vec![None, None]);
        assert_eq!(released.col_totals, vec![Some(53), Some(64)]);
        assert_eq!(released.total, Some(117));
        assert!(single_unknowns(&released).is_empty());

        // A column total under min_cell, and a grand total under it.
        let released = release(&[vec![3, 40], vec![4, 50]], 10, false).unwrap();
        assert_eq!(released.col_totals, vec![None, None]);
        assert_eq!(released.row_totals, vec![Some(43), Some(54)]);
        assert!(single_unknowns(&released).is_empty());
        let released = release(&[vec![1, 2], vec![3, 1]], 10, false).unwrap();
        assert_eq!(
            released,
            Released {
                cells: vec![vec![None, None], vec![None, None]],
                row_totals: vec![None, None],
                col_totals: vec![None, None],
                total: None
            }
        );
    }

    #[test]
    fn zero_is_suppressed_like_any_small_count() {
        let released = release(&[vec![0, 30], vec![40, 50]], 1, false).unwrap();
        assert_eq!(released.cells[0][0], None);
        assert!(single_unknowns(&released).is_empty());
    }

    #[test]
    fn complementary_suppression_cascades() {
        // One small cell at the start of a staircase of small-ish cells in a
        // sea of large ones: each complement leaves the next row or column
        // with a single unknown, so suppression runs round the cycle.
        let cells = [vec![1, 20, 900, 900], vec![900, 21, 22, 900], vec![900, 900, 23, 24], vec![25, 900, 900, 26]];
        let released = release(&cells, 10, false).unwrap();
        // Row 0 takes 20, column 1 then takes 21, row 1 takes 22, column 2
        // 23, row 2 24; from the other side column 0 takes 25, row 3 26. The
        // two chains meet and every row and column ends with two unknowns.
        assert_eq!(
            shape(&released),
            grid(&[
                &["S", "S", "900", "900"],
                &["900", "S", "S", "900"],
                &["900", "900", "S", "S"],
                &["S", "900", "900", "S"],
            ])
        );
        assert!(released.row_totals.iter().chain(&released.col_totals).all(Option::is_some));
        assert!(single_unknowns(&released).is_empty());
    }

    #[test]
    fn noisy_cells_are_thresholded_and_totals_are_their_sums() {
        let released = release(&[vec![-3, 12], vec![7, 25]], 10, true).unwrap();
        assert_eq!(shape(&released), grid(&[&["S", "12"], &["S", "25"]]));
        // Sums of every noisy cell, the negative one included, even when they
        // fall below min_cell (column 0: 4); nothing complementary.
        assert_eq!(released.row_totals, vec![Some(9), Some(32)]);
        assert_eq!(released.col_totals, vec![Some(4), Some(37)]);
        assert_eq!(released.total, Some(41));
    }

    #[test]
    fn noisy_table_may_be_all_negative() {
        let released = release(&[vec![-2, -1]], 0, true).unwrap();
        assert_eq!(released.cells, vec![vec![Some(-2), Some(-1)]]);
        assert_eq!(released.total, Some(-3));
    }

    #[test]
    fn min_cell_zero_suppresses_nothing() {
        let cells = [vec![0, 1], vec![2, 0]];
        let released = release(&cells, 0, false).unwrap();
        assert_eq!(released.cells, vec![vec![Some(0), Some(1)], vec![Some(2), Some(0)]]);
        assert_eq!(released.row_totals, vec![Some(1), Some(2)]);
        assert_eq!(released.col_totals, vec![Some(2), Some(1)]);
        assert_eq!(released.total, Some(3));
        let noisy = release(&[vec![-5, 1]], 0, true).unwrap();
        assert_eq!(noisy.cells, vec![vec![Some(-5), Some(1)]]);
    }

    #[test]
    fn min_cell_beyond_i64_suppresses_everything() {
        let released = release(&[vec![i64::MAX]], u64::MAX, false).unwrap();
        assert_eq!(released.total, None);
    }

    #[test]
    fn rejects_empty_tables() {
        assert_eq!(release(&[], 1, false), Err(ReleaseError::Empty { rows: 0, cols: 0 }));
        assert_eq!(release(&[vec![], vec![]], 1, false), Err(ReleaseError::Empty { rows: 2, cols: 0 }));
    }

    #[test]
    fn rejects_ragged_tables() {
        assert_eq!(release(&[vec![1, 2], vec![3]], 1, true), Err(ReleaseError::Ragged { row: 1, len: 1, expected: 2 }));
        assert_eq!(
            release(&[vec![1], vec![2, 3]], 1, false),
            Err(ReleaseError::Ragged { row: 1, len: 2, expected: 1 })
        );
    }

    #[test]
    fn rejects_tables_over_the_bound() {
        let wide = vec![vec![0; MAX_RELEASE_DIM + 1]];
        assert_eq!(
            release(&wide, 1, false),
            Err(ReleaseError::TooLarge { rows: 1, cols: MAX_RELEASE_DIM + 1, max: MAX_RELEASE_DIM })
        );
        let tall = vec![vec![0]; MAX_RELEASE_DIM + 1];
        assert_eq!(
            release(&tall, 1, false),
            Err(ReleaseError::TooLarge { rows: MAX_RELEASE_DIM + 1, cols: 1, max: MAX_RELEASE_DIM })
        );
    }

    #[test]
    fn rejects_negative_exact_counts() {
        assert_eq!(
            release(&[vec![5, 6], vec![7, -1]], 1, false),
            Err(ReleaseError::NegativeCount { row: 1, col: 1, value: -1 })
        );
    }

    #[test]
    fn rejects_overflowing_totals() {
        assert_eq!(release(&[vec![i64::MAX, 1]], 1, false), Err(ReleaseError::Overflow));
        assert_eq!(release(&[vec![i64::MAX], vec![1]], 1, false), Err(ReleaseError::Overflow));
        assert_eq!(release(&[vec![i64::MIN, -1]], 1, true), Err(ReleaseError::Overflow));
    }

    fn table() -> impl Strategy<Value = Vec<Vec<i64>>> {
        (1usize..=5, 1usize..=5)
            .prop_flat_map(|(rows, cols)| prop::collection::vec(prop::collection::vec(0i64..200, cols), rows))
    }

    proptest! {
        #[test]
        fn no_equation_has_a_single_unknown(cells in table(), min_cell in 0u64..100) {
            let released = release(&cells, min_cell, false).unwrap();
            prop_assert!(single_unknowns(&released).is_empty(), "{:?} in {:?}", single_unknowns(&released), released);
            let min = min_cell as i64;
            // Every released value is true, and at least min_cell.
            for (r, row) in cells.iter().enumerate() {
                for (a, &v) in row.iter().enumerate() {
                    prop_assert!(released.cells[r][a] == Some(v) || released.cells[r][a].is_none());
                    prop_assert!(v >= min || released.cells[r][a].is_none());
                }
                let t: i64 = row.iter().sum();
                prop_assert!(released.row_totals[r] == Some(t) || (released.row_totals[r].is_none() && min > 0));
                prop_assert!(t >= min || released.row_totals[r].is_none());
            }
            for a in 0..cells[0].len() {
                let t: i64 = cells.iter().map(|row| row[a]).sum();
                prop_assert!(released.col_totals[a] == Some(t) || (released.col_totals[a].is_none() && min > 0));
                prop_assert!(t >= min || released.col_totals[a].is_none());
            }
            let g: i64 = cells.iter().flatten().sum();
            prop_assert!(released.total == Some(g) || (released.total.is_none() && min > 0));
        }

        #[test]
        fn noisy_release_never_complements(cells in table(), min_cell in 0u64..100, shift in -50i64..50) {
            let noisy: Vec<Vec<i64>> = cells.iter().map(|r| r.iter().map(|v| v + shift).collect()).collect();
            let released = release(&noisy, min_cell, true).unwrap();
            for (r, row) in noisy.iter().enumerate() {
                for (a, &v) in row.iter().enumerate() {
                    let below = min_cell > 0 && v < min_cell as i64;
                    prop_assert_eq!(released.cells[r][a], (!below).then_some(v));
                }
                prop_assert_eq!(released.row_totals[r], Some(row.iter().sum()));
            }
            prop_assert_eq!(released.total, Some(noisy.iter().flatten().sum()));
        }
    }
}
