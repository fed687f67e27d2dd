//! Validated ids. An id never becomes part of a path before it passed through one of
//! these constructors, so `../`, `/`, `\` or NUL can never reach a backend.
//!
//! Real Sila ids are 32 lowercase hex characters (`crypto.randomUUID()` without
//! dashes), but Sila itself accepts any text; we accept what is safe as a single path
//! component and can be written between quotes in an ops line without escaping:
//! ASCII letters, digits, `_` and `-`, 1 to 128 characters.

use alloc::string::{String, ToString};
use core::fmt;

use crate::error::{Error, Result};

const MAX_ID_LEN: usize = 128;

fn check_component(what: &'static str, s: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidId {
            what,
            value: s.to_string(),
            reason,
        })
    };
    if s.is_empty() {
        return bad("empty");
    }
    if s.len() > MAX_ID_LEN {
        return bad("longer than 128 characters");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, '_' and '-' are allowed");
    }
    Ok(())
}

fn check_hex(what: &'static str, s: &str, len: usize, lowercase_only: bool) -> Result<()> {
    let ok = s.len() == len
        && s.bytes().all(|b| {
            b.is_ascii_digit()
                || (b'a'..=b'f').contains(&b)
                || (!lowercase_only && (b'A'..=b'F').contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId {
            what,
            value: s.to_string(),
            reason: if lowercase_only {
                "expected lowercase hex of the right length"
            } else {
                "expected hex of the right length"
            },
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn new(s: &str) -> Result<Self> {
                let check: fn(&str) -> Result<()> = $check;
                check(s)?;
                Ok(Self(s.to_string()))
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl core::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A tree id (= its root vertex id; the space tree's id is the space id). At least
    /// 3 characters, since its ops live under `ops/<id[0..2]>/<id[2..]>/`.
    TreeId,
    "tree id",
    |s| {
        check_component("tree id", s)?;
        if s.len() < 3 {
            return Err(Error::InvalidId {
                what: "tree id",
                value: s.to_string(),
                reason: "shorter than 3 characters",
            });
        }
        Ok(())
    }
);

id_type!(
    /// A peer id: the author of an ops file, taken from its file name.
    PeerId,
    "peer id",
    |s| check_component("peer id", s)
);

id_type!(
    /// The SHA-256 of a CAS file, 64 lowercase hex characters.
    Sha256Hex,
    "sha256",
    |s| check_hex("sha256", s, 64, true)
);

id_type!(
    /// A mutable file id as it appears in the path: the UUID without dashes, 32 hex
    /// characters (Sila accepts any case; the case found is kept).
    MutableId,
    "mutable file id",
    |s| check_hex("mutable file id", s, 32, false)
);

impl MutableId {
    /// Accepts the forms Sila accepts: a dashed UUID or 32 hex characters.
    pub fn from_uuid(uuid: &str) -> Result<Self> {
        let stripped: String = uuid.chars().filter(|c| *c != '-').collect();
        Self::new(&stripped)
    }
}

impl Sha256Hex {
    /// The lowercase hex digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex(&crate::sha256::Sha256::digest(bytes)))
    }

    /// Wraps a finished digest.
    pub fn from_digest(digest: &[u8]) -> Self {
        Self(hex(digest))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A UTC day, the folder `YYYY/MM/DD` an ops file sits in, written `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Day {
    /// Year, 0 to 9999.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of month, 1 to 31.
    pub day: u8,
}

impl Day {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
            if let Some(d) = Self::from_parts(&s[0..4], &s[5..7], &s[8..10]) {
                return Ok(d);
            }
        }
        Err(Error::InvalidArgument(alloc::format!(
            "{s:?} is not a date of the form YYYY-MM-DD"
        )))
    }

    /// Builds a day from the three folder names, which must be `^\d{4}$`, `^\d{2}$`,
    /// `^\d{2}$` as Sila's reader requires. Returns `None` otherwise.
    pub fn from_parts(y: &str, m: &str, d: &str) -> Option<Self> {
        fn digits(s: &str, n: usize) -> Option<u16> {
            if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        }
        Some(Day {
            year: digits(y, 4)?,
            month: u8::try_from(digits(m, 2)?).ok()?,
            day: u8::try_from(digits(d, 2)?).ok()?,
        })
    }

    /// The UTC day of a Unix time in seconds (the day folder Sila would write to at
    /// that moment).
    pub fn from_unix_seconds(secs: i64) -> Self {
        // Howard Hinnant's civil_from_days.
        let z = secs.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Day {
            year: year.clamp(0, 9999) as u16,
            month,
            day,
        }
    }

    /// The relative folder `YYYY/MM/DD`.
    pub fn folder(&self) -> String {
        alloc::format!("{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_paths() {
        for bad in ["", "../x", "a/b", "a\\b", "a\0b", "..", "a b", "é"] {
            assert!(PeerId::new(bad).is_err(), "{bad:?}");
        }
        assert!(TreeId::new("ab").is_err());
        assert!(TreeId::new("13e6fe9fcda64da2bd37cdf89a15a155").is_ok());
        assert!(Sha256Hex::new(&"A".repeat(64)).is_err());
        assert!(MutableId::from_uuid("0f8fad5b-d9cb-469f-a165-70867728950e").is_ok());
        assert!(MutableId::new(&"a".repeat(64)).is_err());
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            Sha256Hex::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn days() {
        let d = Day::parse("2026-03-14").unwrap();
        assert_eq!(d.folder(), "2026/03/14");
        assert_eq!(d.to_string(), "2026-03-14");
        assert!(Day::parse("2026-3-14").is_err());
        assert!(Day::from_parts("2026", "3", "14").is_none());
        assert_eq!(Day::from_unix_seconds(0).to_string(), "1970-01-01");
        assert_eq!(
            Day::from_unix_seconds(1_795_000_000).to_string(),
            "2026-11-18"
        );
        assert_eq!(
            Day::from_unix_seconds(951_782_400).to_string(),
            "2000-02-29"
        );
        assert_eq!(Day::from_unix_seconds(-1).to_string(), "1969-12-31");
    }
}
