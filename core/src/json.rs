//! JavaScript's JSON text, exactly: [`js_normalize`] is `JSON.stringify(JSON.parse(text))`
//! and [`js_number`] is `Number.prototype.toString`.
//!
//! Sila writes every property value with `JSON.stringify` (SILA-FORMAT.md §2.1). When
//! a value reaches us as JSON text produced elsewhere (a client's wire op, a string
//! handed over by a UniFFI host), the line we store must be the one Sila would have
//! written for the same value, so the text is parsed the way `JSON.parse` builds a
//! value and written back the way `JSON.stringify` writes one:
//!
//! * numbers become IEEE doubles and are written in ECMAScript's `Number::toString`
//!   form (`1e+21`, `5e-7`, `0.000001`, `18446744073709552000`; `-0` as `0`; a number
//!   too large for a double, which `JSON.parse` reads as `Infinity`, as `null`);
//! * object keys keep insertion order, except that array-index keys (`"0"` …
//!   `"4294967294"`, canonical form) come first in ascending order; a duplicate key
//!   keeps its first position and its last value;
//! * strings are sequences of UTF-16 code units: a lone surrogate (`"\ud800"`) is kept
//!   and written as a lowercase `\u` escape, a surrogate pair as the character;
//!   only `"`, `\` and control characters are escaped (`\b \t \n \f \r`, else
//!   `\u00xx`), so U+2028 and every other character is written raw;
//! * whitespace is dropped.
//!
//! Text that is not JSON is refused ([`Error::InvalidArgument`]), as `JSON.parse`
//! throws. Nesting deeper than [`MAX_DEPTH`] is refused too, so hostile input cannot
//! exhaust the stack. Tested against Node's `JSON.stringify` on random values
//! (`tests/tests/json_vs_node.rs`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::error::{Error, Result};

/// Deepest nesting of arrays and objects [`js_normalize`] accepts.
pub const MAX_DEPTH: usize = 512;

/// `JSON.stringify(JSON.parse(text))`.
pub fn js_normalize(text: &str) -> Result<String> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after the value"));
    }
    let mut out = String::with_capacity(text.len());
    v.write(&mut out);
    Ok(out)
}

/// Appends `String(x)` (ECMAScript `Number::toString(x)`) to `out`; `NaN` and the
/// infinities as `JSON.stringify` writes them: `null`.
pub fn js_number(x: f64, out: &mut String) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    if x == 0.0 {
        out.push('0');
        return;
    }
    // Shortest digits that round-trip (ryu), then ECMAScript's layout of them.
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(x.abs());
    let (mantissa, exp) = match text.find('e') {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = int_part.chars().chain(frac_part.chars()).collect();
    // Point position relative to the digit string, before trimming zeros.
    let mut point = int_part.len() as i32 + exp;
    let lead = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..lead);
    point -= lead as i32;
    let trimmed = digits.trim_end_matches('0').len();
    digits.truncate(trimmed);
    let k = digits.len() as i32;
    let n = point;
    if x < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(core::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(core::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        let e = n - 1;
        out.push(if e < 0 { '-' } else { '+' });
        // Writing to a String cannot fail.
        let _ = write!(out, "{}", e.unsigned_abs());
    }
}

/// Appends `JSON.stringify(s)` for a string given as UTF-16 code units.
pub fn js_string_utf16(units: &[u16], out: &mut String) {
    out.push('"');
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok(c) => push_escaped_char(c, out),
            Err(e) => push_u_escape(e.unpaired_surrogate(), out),
        }
    }
    out.push('"');
}

/// Appends `JSON.stringify(s)` for a Rust string (which holds no lone surrogates).
pub fn js_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        push_escaped_char(c, out);
    }
    out.push('"');
}

fn push_escaped_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\u{c}' => out.push_str("\\f"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x20 => push_u_escape(c as u16, out),
        c => out.push(c),
    }
}

fn push_u_escape(unit: u16, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)] as char);
    }
}

/// A parsed value, strings already in their written form (quotes included): the
/// mapping from code units to written text is one to one, so keys compare by it.
enum Value {
    /// `null`, `true`, `false` or a number, written.
    Atom(String),
    /// A string, written.
    Str(String),
    Array(Vec<Value>),
    /// Keys (written) and values in `JSON.stringify`'s order once [`Value::write`]
    /// sorts the array-index keys to the front.
    Object(Vec<(String, Value)>),
}

impl Value {
    fn write(&self, out: &mut String) {
        match self {
            Value::Atom(s) | Value::Str(s) => out.push_str(s),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                let mut indexed: Vec<(u32, usize)> = members
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (k, _))| array_index(k).map(|n| (n, i)))
                    .collect();
                indexed.sort_unstable();
                let named = members
                    .iter()
                    .enumerate()
                    .filter(|(_, (k, _))| array_index(k).is_none())
                    .map(|(i, _)| i);
                out.push('{');
                let order = indexed.iter().map(|&(_, i)| i).chain(named);
                for (n, i) in order.enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    let (k, v) = &members[i];
                    out.push_str(k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// The array index a written key names (`"0"` … `"4294967294"`, no leading zero).
fn array_index(written_key: &str) -> Option<u32> {
    let inner = written_key.strip_prefix('"')?.strip_suffix('"')?;
    if inner.is_empty()
        || inner.len() > 10
        || !inner.bytes().all(|b| b.is_ascii_digit())
        || (inner.len() > 1 && inner.starts_with('0'))
    {
        return None;
    }
    let n: u64 = inner.parse().ok()?;
    (n < u64::from(u32::MAX)).then_some(n as u32)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Error {
        Error::InvalidArgument(alloc::format!("not JSON at byte {}: {what}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err("unexpected character"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err("nested too deeply"));
                }
                self.pos += 1;
                let mut members: Vec<(String, Value)> = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    // JSON.parse: a repeated key keeps its place and takes the new value.
                    match members.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = v,
                        None => members.push((key, v)),
                    }
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Object(members));
                        }
                        _ => return Err(self.err("expected , or }")),
                    }
                }
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err("nested too deeply"));
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.err("expected , or ]")),
                    }
                }
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }

    fn literal(&mut self, lit: &'static str) -> Result<Value> {
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            Ok(Value::Atom(String::from(lit)))
        } else {
            Err(self.err("unknown literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("bad number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("bad number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("bad number"));
            }
        }
        // The grammar above is a subset of what `f64::from_str` takes, and its
        // rounding is correct (round half to even), as JavaScript's is.
        let text =
            core::str::from_utf8(&self.s[start..self.pos]).map_err(|_| self.err("bad number"))?;
        let x: f64 = text.parse().map_err(|_| self.err("bad number"))?;
        let mut out = String::new();
        js_number(x, &mut out);
        Ok(Value::Atom(out))
    }

    fn hex4(&mut self) -> Result<u16> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let mut v: u16 = 0;
        for &b in h {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.err("bad \\u escape"))?;
            v = (v << 4) | d as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A JSON string, returned as `JSON.stringify` writes it.
    fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut units: Vec<u16> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    let e = self.peek().ok_or_else(|| self.err("bad escape"))?;
                    self.pos += 1;
                    let unit = match e {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => self.hex4()?,
                        _ => return Err(self.err("bad escape")),
                    };
                    units.push(unit);
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => {
                    // One UTF-8 character (the input is a &str, so it is well formed).
                    let len = match b {
                        0x00..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    let ch = core::str::from_utf8(&self.s[self.pos..self.pos + len])
                        .map_err(|_| self.err("not UTF-8"))?;
                    for c in ch.chars() {
                        let mut buf = [0u16; 2];
                        units.extend_from_slice(c.encode_utf16(&mut buf));
                    }
                    self.pos += len;
                }
            }
        }
        let mut out = String::with_capacity(units.len() + 2);
        js_string_utf16(&units, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> String {
        let mut s = String::new();
        js_number(x, &mut s);
        s
    }

    #[test]
    fn numbers_as_javascript_writes_them() {
        for (x, want) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (18446744073709552000.0, "18446744073709552000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (5e-7, "5e-7"),
            (1.5e-7, "1.5e-7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (123.456, "123.456"),
            (f64::NAN, "null"),
        ] {
            assert_eq!(num(x), want, "{x:e}");
        }
    }

    #[test]
    fn normalises_as_json_stringify_of_json_parse() {
        for (text, want) in [
            (
                r#"{"b":1,"a":2,"10":3,"2":4}"#,
                r#"{"2":4,"10":3,"b":1,"a":2}"#,
            ),
            (
                r#"{"01":1,"4294967295":2,"4294967294":3}"#,
                r#"{"4294967294":3,"01":1,"4294967295":2}"#,
            ),
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (
                r#" [ 1 , 2.50 , -0 , 1E400 , 1e-6 ] "#,
                "[1,2.5,0,null,0.000001]",
            ),
            (r#""\ud800""#, r#""\ud800""#),
            (
                r#""\uD83D\uDE00 \u2028 \/ \u001F \u007f""#,
                "\"😀 \u{2028} / \\u001f \u{7f}\"",
            ),
            ("null", "null"),
            (r#"{"__proto__":1}"#, r#"{"__proto__":1}"#),
            (r#"{"\u0031":true}"#, r#"{"1":true}"#),
        ] {
            assert_eq!(js_normalize(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn refuses_what_json_parse_refuses() {
        for text in [
            "", "{", "[1,]", "01", "1.", "+1", "'a'", "\"\t\"", "nul", "{} {}", "\"\\x\"",
        ] {
            assert!(js_normalize(text).is_err(), "{text:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(js_normalize(&deep).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(js_normalize(&ok).is_ok());
    }
}
