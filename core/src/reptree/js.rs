//! JavaScript semantics RepTree relies on: truthiness of JSON values, `Date` parsing of
//! `_c` values, and V8's `Array.prototype.sort`.

use alloc::string::String;
use core::cmp::Ordering;

/// Whether a JSON value is falsy in JavaScript (`null`, `false`, `0`, `""`).
pub fn js_falsy(raw: &str) -> bool {
    match raw.trim() {
        "null" | "false" | "\"\"" => true,
        n => n.parse::<f64>().is_ok_and(|x| x == 0.0 || x.is_nan()),
    }
}

/// `JSON.stringify(s)` for the characters path names contain.
pub(super) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `new Date(v).getTime()` for the raw JSON text of a `_c` value: ISO-8601 strings
/// (`YYYY-MM-DDTHH:MM:SS(.sss)Z`, `YYYY-MM-DD`) and numbers (milliseconds). Anything
/// else is NaN; JavaScript's `!value` (empty string, 0, false, null) counts as "no
/// `_c`" in RepTree's comparator, which [`RepTree::children`] handles before this.
pub fn js_date_value(raw: &str) -> f64 {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<f64>() {
        // TimeClip: out of range is NaN, else truncated to an integer.
        return if n.is_finite() && n.abs() <= 8.64e15 {
            (n as i64) as f64
        } else {
            f64::NAN
        };
    }
    let Ok(s) = serde_json::from_str::<String>(raw) else {
        return f64::NAN;
    };
    parse_iso_date(&s).unwrap_or(f64::NAN)
}

fn parse_iso_date(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (mut h, mut mi, mut sec, mut ms) = (0, 0, 0, 0);
    if b.len() > 10 {
        if b.len() < 17 || b[10] != b'T' || b[13] != b':' || *b.last()? != b'Z' {
            return None;
        }
        h = num(11..13)?;
        mi = num(14..16)?;
        let rest = &s[16..s.len() - 1];
        if !rest.is_empty() {
            let rest = rest.strip_prefix(':')?;
            sec = num(16 + 1..16 + 3)?;
            let frac = &rest[2..];
            if !frac.is_empty() {
                let digits = frac.strip_prefix('.')?;
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let mut v: i64 = 0;
                for (i, c) in digits.bytes().take(3).enumerate() {
                    v += i64::from(c - b'0') * [100, 10, 1][i];
                }
                ms = v;
            }
        }
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 24 || mi > 59 || sec > 59 {
        return None;
    }
    // days_from_civil (Howard Hinnant).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((((days * 24 + h) * 60 + mi) * 60 + sec) as f64 * 1000.0 + ms as f64)
}

/// V8's `Array.prototype.sort` (TimSort) with a comparator that returns a number:
/// exact for fewer than 64 elements (one run, binary insertion); for longer arrays a
/// stable merge sort, which gives the same order whenever the comparator is
/// consistent.
pub fn v8_sort<T, F: Fn(&T, &T) -> f64>(v: &mut [T], cmp: F) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let less = |a: &T, b: &T| cmp(a, b) < 0.0;
    if n >= 64 {
        v.sort_by(|a, b| {
            if less(a, b) {
                Ordering::Less
            } else if less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
        return;
    }
    // CountAndMakeRun: a strictly descending run is reversed; else an ascending run.
    let mut run = 2;
    if less(&v[1], &v[0]) {
        while run < n && less(&v[run], &v[run - 1]) {
            run += 1;
        }
        v[..run].reverse();
    } else {
        while run < n && !less(&v[run], &v[run - 1]) {
            run += 1;
        }
    }
    // BinaryInsertionSort of the rest.
    for start in run..n {
        let (mut left, mut right) = (0, start);
        while left < right {
            let mid = left + ((right - left) >> 1);
            if less(&v[start], &v[mid]) {
                right = mid;
            } else {
                left = mid + 1;
            }
        }
        v[left..=start].rotate_right(1);
    }
}
