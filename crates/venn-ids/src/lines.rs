//! Physical line numbers for CSV records.
//!
//! The `csv` crate's `Position::line` is wrong for CRLF files (it lags one
//! line per record, rust-csv issue #395) and points at the blank lines
//! skipped before a record rather than the record itself. A user told
//! "line 7" will open the file at line 7, so we count line breaks ourselves:
//! this reader sits between the file and the CSV parser and remembers where
//! every `\r` and `\n` byte was, and [`LineTracker::line_at`] turns a
//! record's byte offset into the line where its first real byte lies.

use std::collections::VecDeque;
use std::io::{self, Read};

/// A `Read` adapter that records the offsets of line-ending bytes passing
/// through it. Memory is bounded by how far the parser reads ahead of the
/// records it has returned (its buffer, or one record spanning many lines).
#[derive(Debug)]
pub(crate) struct LineTracker<R> {
    inner: R,
    /// Bytes passed through so far.
    offset: u64,
    /// Whether the last byte passed through was `\r`.
    prev_cr: bool,
    /// Line-ending bytes not yet consumed by `line_at`: their offset and
    /// whether they end a line (`\r`, or `\n` not preceded by `\r`).
    endings: VecDeque<(u64, bool)>,
    /// Line breaks before the first entry of `endings`.
    breaks_before: u64,
    /// Whether `inner` has returned end of file.
    eof: bool,
}

impl<R: Read> LineTracker<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineTracker { inner, offset: 0, prev_cr: false, endings: VecDeque::new(), breaks_before: 0, eof: false }
    }

    /// The 1-based line of the first byte at or after `byte` that is not a
    /// line ending: where a record that the parser reports at `byte` really
    /// starts, after any blank lines it skipped. Offsets must be asked for
    /// in non-decreasing order; earlier endings are forgotten.
    pub(crate) fn line_at(&mut self, byte: u64) -> u64 {
        let mut next = byte;
        while let Some(&(at, is_break)) = self.endings.front() {
            if at < byte || at == next {
                if at == next {
                    next += 1;
                }
                self.breaks_before += u64::from(is_break);
                self.endings.pop_front();
            } else {
                break;
            }
        }
        self.breaks_before + 1
    }

    /// Total bytes read from the inner reader.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.offset
    }

    /// Whether the inner reader has reported end of file.
    pub(crate) fn at_eof(&self) -> bool {
        self.eof
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        let data = &buf[..n];
        for at in memchr::memchr2_iter(b'\r', b'\n', data) {
            let offset = self.offset + at as u64;
            if data[at] == b'\r' {
                self.endings.push_back((offset, true));
            } else {
                let after_cr = if at == 0 { self.prev_cr } else { data[at - 1] == b'\r' };
                self.endings.push_back((offset, !after_cr));
            }
        }
        if let Some(&last) = data.last() {
            self.prev_cr = last == b'\r';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8], offsets: &[u64]) -> Vec<u64> {
        let mut t = LineTracker::new(input);
        let mut sink = Vec::new();
        t.read_to_end(&mut sink).unwrap();
        offsets.iter().map(|&o| t.line_at(o)).collect()
    }

    #[test]
    fn counts_lf_lines() {
        // "h\na\n\nb\n": a at 2, blank line at 4, b at 5.
        assert_eq!(lines_of(b"h\na\n\nb\n", &[0, 2, 4]), vec![1, 2, 4]);
    }

    #[test]
    fn counts_crlf_as_one_break() {
        // Offsets as the csv crate reports them: on the '\n' of the previous CRLF.
        assert_eq!(lines_of(b"h\r\na\r\n\r\nb\r\n", &[0, 2, 5]), vec![1, 2, 4]);
    }

    #[test]
    fn a_crlf_split_between_two_reads_is_one_break() {
        // One byte per read: the '\n' of each CRLF arrives after its '\r'.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((&first, rest)) = self.0.split_first() else { return Ok(0) };
                buf[0] = first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut t = LineTracker::new(OneByte(b"h\r\na\r\n\r\nb\r\n"));
        t.read_to_end(&mut Vec::new()).unwrap();
        assert_eq!([0, 2, 5].map(|o| t.line_at(o)), [1, 2, 4]);
    }

    #[test]
    fn counts_lone_cr() {
        assert_eq!(lines_of(b"h\ra\rb", &[0, 2, 4]), vec![1, 2, 3]);
    }

    #[test]
    fn skips_nothing_inside_multiline_records() {
        // A record spanning lines 2-3; the next one starts on line 4.
        assert_eq!(lines_of(b"h\n\"a\nb\"\nc\n", &[0, 2, 8]), vec![1, 2, 4]);
    }
}
