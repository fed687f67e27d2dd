//! Random JSON values with everything that breaks a serialiser that is not
//! JavaScript's: random doubles from random bits, integer-like keys, `null`, nested
//! arrays, U+2028, lone surrogates, duplicate keys, odd spacing and number spellings.

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn space(rng: &mut Rng, out: &mut String, pretty: bool) {
    if pretty && rng.below(3) == 0 {
        out.push_str(rng.pick(&[" ", "\n", "\t ", "\r\n  "]));
    }
}

fn number(rng: &mut Rng, out: &mut String) {
    match rng.below(8) {
        0 => {
            // Any finite double, from its bits, in Rust's shortest form.
            let x = loop {
                let x = f64::from_bits(rng.bits());
                if x.is_finite() {
                    break x;
                }
            };
            out.push_str(&format!("{x:?}"));
        }
        1 => {
            let x = f64::from_bits(rng.bits());
            if x.is_finite() {
                out.push_str(&format!("{x:e}"));
            } else {
                out.push('1');
            }
        }
        2 => out.push_str(&(rng.bits() as i64 / (1 << rng.below(60))).to_string()),
        3 => out.push_str(&rng.bits().to_string()),
        4 => out.push_str(rng.pick(&[
            "0",
            "-0",
            "0.0",
            "1e21",
            "1e-7",
            "1E+2",
            "0.000001",
            "5e-324",
            "1.7976931348623157e308",
            "1e400",
            "-1e400",
            "123456789012345678901234567890",
            "0.1",
            "2.50",
            "1e-6",
            "100e-2",
            "9007199254740993",
            "18446744073709551616",
        ])),
        5 => {
            // Random digits with a random exponent.
            let digits = rng.below(25) + 1;
            let mut s = String::new();
            if rng.below(2) == 0 {
                s.push('-');
            }
            s.push(char::from(b'1' + rng.below(9) as u8));
            for _ in 1..digits {
                s.push(char::from(b'0' + rng.below(10) as u8));
            }
            if rng.below(2) == 0 {
                s.push_str(&format!(".{}", rng.below(1_000_000)));
            }
            if rng.below(2) == 0 {
                s.push_str(&format!("e{}", rng.below(640) as i64 - 340));
            }
            out.push_str(&s);
        }
        6 => out.push_str(&format!("{}", (rng.below(2_000_000) as f64 - 1e6) / 1e3)),
        _ => out.push_str(&format!("{}", rng.below(1 << 53))),
    }
}

fn string(rng: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..rng.below(8) {
        let piece = match rng.below(14) {
            0 => "\\ud800".to_string(),
            1 => "\\udfff".to_string(),
            2 => "\\uD83D\\uDE00".to_string(),
            3 => "\u{2028}\u{2029}".to_string(),
            4 => "\\u2028".to_string(),
            5 => "\\\"\\\\\\/".to_string(),
            6 => "\\b\\f\\n\\r\\t".to_string(),
            7 => format!("\\u{:04x}", rng.below(0x20)),
            8 => format!("\\u{:04X}", rng.below(0x10000)),
            9 => "é😀中\u{7f}".to_string(),
            10 => rng.below(5).to_string(),
            11 => "__proto__".to_string(),
            _ => rng
                .pick(&["a", "b", "name", "text", " ", "x y"])
                .to_string(),
        };
        out.push_str(&piece);
    }
    out.push('"');
}

fn key(rng: &mut Rng, out: &mut String) {
    match rng.below(6) {
        0 => out.push_str(&format!("\"{}\"", rng.below(20))),
        1 => out.push_str(rng.pick(&[
            "\"4294967294\"",
            "\"4294967295\"",
            "\"01\"",
            "\"-1\"",
            "\"1.5\"",
            "\"\\u0031\"",
            "\"\"",
            "\"9007199254740993\"",
        ])),
        2 => out.push_str(rng.pick(&["\"a\"", "\"b\"", "\"z\""])),
        _ => string(rng, out),
    }
}

/// Random JSON text of a value (at most `depth` levels of nesting), spaced oddly when
/// `pretty`.
pub fn value(rng: &mut Rng, depth: u32, pretty: bool, out: &mut String) {
    let kind = if depth == 0 {
        rng.below(5)
    } else {
        rng.below(7)
    };
    match kind {
        0 => out.push_str("null"),
        1 => out.push_str(rng.pick(&["true", "false"])),
        2 | 3 => number(rng, out),
        4 => string(rng, out),
        5 => {
            out.push('[');
            let n = rng.below(5);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out, pretty);
                value(rng, depth - 1, pretty, out);
                space(rng, out, pretty);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            let n = rng.below(6);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out, pretty);
                key(rng, out);
                space(rng, out, pretty);
                out.push(':');
                space(rng, out, pretty);
                value(rng, depth - 1, pretty, out);
            }
            out.push('}');
        }
    }
}

/// `n` random JSON texts from `seed`; every fourth one spaced oddly.
pub fn values(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let mut s = String::new();
            value(&mut rng, 4, i % 4 == 3, &mut s);
            s
        })
        .collect()
}
