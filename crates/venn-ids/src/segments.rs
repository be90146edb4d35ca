//! Segment labels: a record's label is the combination of its values in the
//! agreed segment columns.
//!
//! Each column has a list of agreed values; any other value (a typo, a new
//! tier, an empty cell) counts as `other`, so every row gets a label and no
//! unexpected value can widen the table. With columns of `n₁, n₂, …` agreed
//! values there are `(n₁+1)·(n₂+1)·…` labels, numbered in mixed radix with
//! the first column most significant.

/// The value every unlisted value maps to.
pub const OTHER: &str = "other";

/// A segment column and its agreed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentColumn {
    /// Header name in the CSV file.
    pub name: String,
    /// Agreed values, compared after trimming whitespace, ignoring ASCII case.
    pub values: Vec<String>,
}

/// How rows map to labels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelScheme {
    columns: Vec<SegmentColumn>,
}

impl LabelScheme {
    /// A scheme over these columns, in order.
    pub fn new(columns: Vec<SegmentColumn>) -> Self {
        Self { columns }
    }

    /// The columns.
    pub fn columns(&self) -> &[SegmentColumn] {
        &self.columns
    }

    /// Number of labels, `∏ (values + 1)`; 1 with no columns. Saturates.
    pub fn count(&self) -> u64 {
        self.columns.iter().fold(1u64, |n, c| n.saturating_mul(c.values.len() as u64 + 1))
    }

    /// The label of a row given its segment fields in column order.
    /// Labels fit `u16` whenever `count()` does; the caller checks the cap.
    pub fn label_of(&self, fields: &[Option<&[u8]>]) -> u64 {
        self.columns.iter().zip(fields).fold(0u64, |label, (column, field)| {
            let digit = field
                .and_then(|f| std::str::from_utf8(f).ok())
                .map(str::trim)
                .and_then(|v| column.values.iter().position(|agreed| agreed.trim().eq_ignore_ascii_case(v)))
                .unwrap_or(column.values.len());
            label * (column.values.len() as u64 + 1) + digit as u64
        })
    }

    /// The value of each column for a label: `(column, value)`.
    pub fn values_of(&self, label: u64) -> Vec<(&str, &str)> {
        let mut rest = label;
        let mut out: Vec<(&str, &str)> = self
            .columns
            .iter()
            .rev()
            .map(|c| {
                let radix = c.values.len() as u64 + 1;
                let digit = (rest % radix) as usize;
                rest /= radix;
                (c.name.as_str(), c.values.get(digit).map_or(OTHER, String::as_str))
            })
            .collect();
        out.reverse();
        out
    }

    /// A readable name of a label, e.g. `loyalty_tier=gold, recent_buyer=yes`.
    pub fn name_of(&self, label: u64) -> String {
        let parts: Vec<String> = self.values_of(label).iter().map(|(c, v)| format!("{c}={v}")).collect();
        if parts.is_empty() {
            "all".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme() -> LabelScheme {
        LabelScheme::new(vec![
            SegmentColumn { name: "tier".into(), values: vec!["gold".into(), "silver".into()] },
            SegmentColumn { name: "buyer".into(), values: vec!["yes".into()] },
        ])
    }

    #[test]
    fn counts_other_in_every_column() {
        assert_eq!(scheme().count(), 3 * 2);
        assert_eq!(LabelScheme::default().count(), 1);
    }

    #[test]
    fn labels_round_trip_through_names() {
        let s = scheme();
        let l = s.label_of(&[Some(b" Gold "), Some(b"yes")]);
        assert_eq!(s.name_of(l), "tier=gold, buyer=yes");
        let other = s.label_of(&[Some(b"platinum"), None]);
        assert_eq!(s.name_of(other), "tier=other, buyer=other");
        let all: std::collections::HashSet<u64> = (0..s.count()).collect();
        assert_eq!(all.len(), 6);
        assert!((0..s.count())
            .all(|l| s.label_of(&s.values_of(l).iter().map(|(_, v)| Some(v.as_bytes())).collect::<Vec<_>>()) == l));
    }

    #[test]
    fn invalid_utf8_is_other() {
        let s = scheme();
        assert_eq!(s.values_of(s.label_of(&[Some(b"\xff"), Some(b"yes")]))[0].1, OTHER);
    }
}
