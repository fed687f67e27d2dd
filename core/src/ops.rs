//! The ops line codec (SILA-FORMAT.md §2).
//!
//! ```text
//! current  -m.jsonl   [<counter>,"<target>",<null|"parent">]
//!          -p.jsonl   [<counter>,"<target>","<key>",<JSON value>]
//! legacy   .jsonl     ["m",<counter>,"<target>",<null|"parent">]
//!                     ["p",<counter>,"<target>","<key>",<JSON value>]
//! ```
//!
//! A line parses into a structured [`OpLine`] only when encoding that structure gives
//! back the very same bytes; every other line (odd spacing, `\r`, invalid JSON that
//! Sila skips, blank lines) is kept as [`OpLine::Raw`]. Values are kept as their raw
//! JSON text, never re-serialised, so `{}` deletions, `1e+21`, raw U+2028 and key
//! order survive untouched. Nothing is ever dropped, sorted or "fixed".

use alloc::string::String;
use alloc::vec::Vec;

/// The line syntax of an ops file, from its name.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum OpsFileKind {
    /// `<peer>-m.jsonl`: moves, current format.
    Moves,
    /// `<peer>-p.jsonl`: property changes, current format.
    Props,
    /// `<peer>.jsonl`: combined legacy file with `"m"`/`"p"` tags.
    Legacy,
}

impl OpsFileKind {
    /// The short name used in the SQLite archive: `m`, `p` or `legacy`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpsFileKind::Moves => "m",
            OpsFileKind::Props => "p",
            OpsFileKind::Legacy => "legacy",
        }
    }

    /// Inverse of [`OpsFileKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "m" => Some(OpsFileKind::Moves),
            "p" => Some(OpsFileKind::Props),
            "legacy" => Some(OpsFileKind::Legacy),
            _ => None,
        }
    }

    /// Whether lines carry the legacy `"m"`/`"p"` tag.
    pub fn is_legacy(self) -> bool {
        self == OpsFileKind::Legacy
    }
}

/// One line of an ops file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OpLine<'a> {
    /// A move: `target` placed under `parent` (`None` = JSON `null`, a root).
    Move {
        /// Lamport counter.
        counter: u64,
        /// Vertex moved.
        target: &'a str,
        /// New parent, or `None` for `null`.
        parent: Option<&'a str>,
    },
    /// A property set; `value` is the raw JSON text as written (`{}` = deletion).
    Prop {
        /// Lamport counter.
        counter: u64,
        /// Vertex whose property is set.
        target: &'a str,
        /// Property name.
        key: &'a str,
        /// Raw JSON text of the value.
        value: &'a str,
    },
    /// A line kept verbatim, because the structured form would not give it back byte
    /// for byte (or it is not an op at all).
    Raw(&'a str),
}

impl<'a> OpLine<'a> {
    /// The Lamport counter, if structured.
    pub fn counter(&self) -> Option<u64> {
        match self {
            OpLine::Move { counter, .. } | OpLine::Prop { counter, .. } => Some(*counter),
            OpLine::Raw(_) => None,
        }
    }

    /// The target vertex, if structured.
    pub fn target(&self) -> Option<&'a str> {
        match self {
            OpLine::Move { target, .. } | OpLine::Prop { target, .. } => Some(target),
            OpLine::Raw(_) => None,
        }
    }

    /// Whether a property value means "deleted" on read: any empty object or array
    /// (Sila's reader turns `{}` and `[]` into `undefined`).
    pub fn is_deletion_value(value: &str) -> bool {
        let v = value.trim();
        let inner = |open: char, close: char| {
            v.strip_prefix(open)
                .and_then(|r| r.strip_suffix(close))
                .is_some_and(|r| r.trim().is_empty())
        };
        inner('{', '}') || inner('[', ']')
    }
}

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_COUNTER: u64 = (1 << 53) - 1;

struct Scanner<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.s.as_bytes().get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    fn eat_str(&mut self, lit: &str) -> Option<()> {
        self.s[self.pos..]
            .starts_with(lit)
            .then(|| self.pos += lit.len())
    }

    /// A counter in canonical form: digits, no leading zero, at most 2^53 - 1.
    fn counter(&mut self) -> Option<u64> {
        let rest = &self.s.as_bytes()[self.pos..];
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 16 || (n > 1 && rest[0] == b'0') {
            return None;
        }
        let v: u64 = self.s[self.pos..self.pos + n].parse().ok()?;
        self.pos += n;
        (v <= MAX_SAFE_COUNTER).then_some(v)
    }

    /// A quoted string that needs no escaping: no `"`, `\` or control characters.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        let rest = &self.s.as_bytes()[start..];
        let n = rest.iter().position(|&b| b == b'"')?;
        if rest[..n].iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.pos += n + 1;
        Some(&self.s[start..start + n])
    }
}

/// Parses one line (without its `\n`) of an ops file of the given kind.
pub fn parse_line(line: &str, kind: OpsFileKind) -> OpLine<'_> {
    parse_structured(line, kind).unwrap_or(OpLine::Raw(line))
}

fn parse_structured(line: &str, kind: OpsFileKind) -> Option<OpLine<'_>> {
    let mut sc = Scanner { s: line, pos: 0 };
    sc.eat(b'[')?;
    let tag = if kind.is_legacy() {
        let t = if sc.eat_str("\"m\",").is_some() {
            b'm'
        } else {
            sc.eat_str("\"p\",")?;
            b'p'
        };
        Some(t)
    } else {
        None
    };
    let counter = sc.counter()?;
    sc.eat(b',')?;
    let target = sc.plain_string()?;
    sc.eat(b',')?;
    let rest = &line[sc.pos..];
    let body = rest.strip_suffix(']')?;
    let is_move = match tag {
        Some(t) => t == b'm',
        None => {
            body == "null"
                || (body.len() >= 2
                    && body.starts_with('"')
                    && body.ends_with('"')
                    && !body[1..body.len() - 1].contains('"'))
        }
    };
    let op = if is_move {
        let parent = if body == "null" {
            None
        } else {
            let mut p = Scanner { s: body, pos: 0 };
            let s = p.plain_string()?;
            if p.pos != body.len() {
                return None;
            }
            Some(s)
        };
        OpLine::Move {
            counter,
            target,
            parent,
        }
    } else {
        let mut k = Scanner { s: body, pos: 0 };
        let key = k.plain_string()?;
        k.eat(b',')?;
        let value = &body[k.pos..];
        if value.is_empty() || !is_json(value) {
            return None;
        }
        OpLine::Prop {
            counter,
            target,
            key,
            value,
        }
    };
    // Only structured if it encodes back to the same bytes (it does by construction,
    // but this keeps the promise checked in one place), compared in place: a line of
    // hundreds of megabytes is not copied.
    let mut same = SameAs { rest: line };
    (encode_to(&op, kind, &mut same).is_ok() && same.rest.is_empty()).then_some(op)
}

fn is_json(text: &str) -> bool {
    // Leading or trailing whitespace would be accepted by serde_json but is not what
    // `JSON.stringify` writes; such lines stay raw.
    let trimmed = text.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
    trimmed.len() == text.len() && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Appends the text of `op` (without `\n`) to `out`.
pub fn encode_line(op: &OpLine<'_>, kind: OpsFileKind, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = encode_to(op, kind, out);
}

/// Writes the text of `op` to any writer (a `String`, or a comparison in place).
fn encode_to(
    op: &OpLine<'_>,
    kind: OpsFileKind,
    out: &mut impl core::fmt::Write,
) -> core::fmt::Result {
    match op {
        OpLine::Raw(s) => out.write_str(s),
        OpLine::Move {
            counter,
            target,
            parent,
        } => {
            out.write_char('[')?;
            if kind.is_legacy() {
                out.write_str("\"m\",")?;
            }
            write!(out, "{counter},\"{target}\",")?;
            match parent {
                Some(p) => write!(out, "\"{p}\"")?,
                None => out.write_str("null")?,
            }
            out.write_char(']')
        }
        OpLine::Prop {
            counter,
            target,
            key,
            value,
        } => {
            out.write_char('[')?;
            if kind.is_legacy() {
                out.write_str("\"p\",")?;
            }
            write!(out, "{counter},\"{target}\",\"{key}\",{value}]")
        }
    }
}

/// A writer that checks, without allocating, that what is written is exactly `rest`.
struct SameAs<'a> {
    rest: &'a str,
}

impl core::fmt::Write for SameAs<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        match self.rest.strip_prefix(s) {
            Some(r) => {
                self.rest = r;
                Ok(())
            }
            None => Err(core::fmt::Error),
        }
    }
}

/// An ops file split into lines, borrowing its text.
#[derive(Clone, Debug)]
pub struct OpsText<'a> {
    /// The lines, without their `\n`.
    pub lines: Vec<&'a str>,
    /// Whether the text ends with `\n` (Sila's files always do; a cut-off file may not).
    pub trailing_newline: bool,
}

impl<'a> OpsText<'a> {
    /// Splits `bytes` at `\n`. Every line must be UTF-8; the error gives the 1-based
    /// line number of the first that is not.
    pub fn split(bytes: &'a [u8]) -> core::result::Result<Self, u64> {
        let mut lines = Vec::new();
        if bytes.is_empty() {
            return Ok(OpsText {
                lines,
                trailing_newline: false,
            });
        }
        let (body, trailing_newline) = match bytes.strip_suffix(b"\n") {
            Some(b) => (b, true),
            None => (bytes, false),
        };
        for (i, l) in body.split(|&b| b == b'\n').enumerate() {
            lines.push(core::str::from_utf8(l).map_err(|_| i as u64 + 1)?);
        }
        Ok(OpsText {
            lines,
            trailing_newline,
        })
    }

    /// Joins lines back into the exact file text.
    pub fn join<S: AsRef<str>>(lines: &[S], trailing_newline: bool) -> String {
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(l.as_ref());
        }
        if trailing_newline {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_lines_are_structured() {
        let m = parse_line(r#"[3,"13e6",null]"#, OpsFileKind::Moves);
        assert_eq!(
            m,
            OpLine::Move {
                counter: 3,
                target: "13e6",
                parent: None
            }
        );
        let m = parse_line(r#"[31,"5179","0"]"#, OpsFileKind::Moves);
        assert_eq!(m.counter(), Some(31));
        let p = parse_line(r#"[26,"9530","width",{}]"#, OpsFileKind::Props);
        assert!(matches!(p, OpLine::Prop { value: "{}", .. }));
        let p = parse_line(
            r#"[30,"c041","files",[{"tree":"4775","vertex":"9530"}]]"#,
            OpsFileKind::Props,
        );
        assert!(matches!(p, OpLine::Prop { key: "files", .. }));
        // A string value that looks like a move's parent is still a property.
        let p = parse_line(r#"[5,"a","version","0"]"#, OpsFileKind::Props);
        assert!(matches!(p, OpLine::Prop { value: "\"0\"", .. }));
    }

    #[test]
    fn legacy_lines() {
        let m = parse_line(r#"["m",1,"0",null]"#, OpsFileKind::Legacy);
        assert!(matches!(m, OpLine::Move { counter: 1, .. }));
        let p = parse_line(
            r#"["p",2,"0","_c","2025-10-01T10:00:00.000Z"]"#,
            OpsFileKind::Legacy,
        );
        assert!(matches!(p, OpLine::Prop { counter: 2, .. }));
        let mut s = String::new();
        encode_line(&p, OpsFileKind::Legacy, &mut s);
        assert_eq!(s, r#"["p",2,"0","_c","2025-10-01T10:00:00.000Z"]"#);
    }

    #[test]
    fn odd_lines_stay_raw() {
        for l in [
            "",
            "[1, \"0\", null]",
            "[1,\"0\",null]\r",
            "[01,\"0\",null]",
            "[1.0,\"0\",null]",
            "[1,\"0\",\"k\",{]",
            "not json",
            "[1,\"a\\\"b\",null]",
            "[1,\"0\",\"k\", 1]",
            "[99999999999999999,\"0\",null]",
        ] {
            assert_eq!(parse_line(l, OpsFileKind::Props), OpLine::Raw(l), "{l:?}");
        }
    }

    #[test]
    fn split_and_join() {
        for text in ["", "\n", "a\nb\n", "a\nb", "\n\n", "x"] {
            let t = OpsText::split(text.as_bytes()).unwrap();
            assert_eq!(OpsText::join(&t.lines, t.trailing_newline), text);
        }
        assert_eq!(OpsText::split(b"ok\n\xff\n").unwrap_err(), 2);
    }

    #[test]
    fn deletion_values() {
        assert!(OpLine::is_deletion_value("{}"));
        assert!(OpLine::is_deletion_value("[]"));
        assert!(!OpLine::is_deletion_value("null"));
        assert!(!OpLine::is_deletion_value("[1]"));
    }
}

/// The line Sila writes for `op`, and the kind of file it goes to (SILA-FORMAT.md §2.1):
/// a move to `<peer>-m.jsonl`, a property to `<peer>-p.jsonl` with its value as the
/// raw JSON text the op carries (already in `JSON.stringify` form: see
/// [`crate::json::js_normalize`]) and a deletion as `{}`. Refused
/// ([`crate::Error::InvalidArgument`]) when the line would not read back as the same
/// op: ids and keys Sila interpolates without escaping (quotes, backslashes, control
/// characters), counters of 2^53 or more, values that are not JSON.
pub fn line_of(op: &crate::reptree::TreeOp) -> crate::Result<(String, OpsFileKind)> {
    use crate::reptree::OpKind;
    let (line_op, kind) = match &op.kind {
        OpKind::Move { parent } => (
            OpLine::Move {
                counter: op.id.counter,
                target: &op.target,
                parent: parent.as_deref(),
            },
            OpsFileKind::Moves,
        ),
        OpKind::Set { key, value } => (
            OpLine::Prop {
                counter: op.id.counter,
                target: &op.target,
                key,
                value: value.as_deref().unwrap_or("{}"),
            },
            OpsFileKind::Props,
        ),
    };
    let mut line = String::new();
    encode_line(&line_op, kind, &mut line);
    if parse_line(&line, kind) != line_op || line.contains('\n') {
        return Err(crate::Error::InvalidArgument(alloc::format!(
            "{line:?} is not an op line Sila can read (ids and keys may not contain quotes, \
             backslashes or control characters; the value must be JSON; counters are below 2^53)"
        )));
    }
    Ok((line, kind))
}

pub mod wire;
