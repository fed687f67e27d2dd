//! Whether content is worth deflating, and its MIME type where the bytes say it.
//!
//! Both archive formats deflate text and store already-compressed data (images,
//! archives, video) as is: compressing them again costs time and saves nothing.

use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::Write;

/// How many leading bytes [`worth_deflating`] looks at.
pub const SNIFF_LEN: usize = 64 * 1024;

/// The MIME type of well-known binary formats, from their first bytes.
pub fn sniff_mime(head: &[u8]) -> Option<&'static str> {
    let starts = |m: &[u8]| head.starts_with(m);
    Some(if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"WEBP" {
        "image/webp"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        match &head[8..12] {
            b"heic" | b"heix" | b"mif1" | b"msf1" => "image/heic",
            b"avif" => "image/avif",
            _ => "video/mp4",
        }
    } else if starts(b"PK\x03\x04") {
        "application/zip"
    } else if starts(b"\x1f\x8b") {
        "application/gzip"
    } else if starts(b"\x28\xb5\x2f\xfd") {
        "application/zstd"
    } else if starts(b"\xfd7zXZ\x00") {
        "application/x-xz"
    } else if starts(b"BZh") {
        "application/x-bzip2"
    } else if starts(b"7z\xbc\xaf\x27\x1c") {
        "application/x-7z-compressed"
    } else if starts(b"OggS") {
        "audio/ogg"
    } else if starts(b"ID3") {
        "audio/mpeg"
    } else if starts(b"\x1a\x45\xdf\xa3") {
        "video/webm"
    } else {
        return None;
    })
}

/// Whether deflating content that starts with `head` is worth it: not for formats
/// that are compressed already, and only if a fast deflate of the head saves at
/// least 5 %.
pub fn worth_deflating(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    if let Some(m) = sniff_mime(head) {
        if m != "application/pdf" {
            return false;
        }
    }
    let sample = &head[..head.len().min(SNIFF_LEN)];
    let mut enc = DeflateEncoder::new(Vec::with_capacity(sample.len()), Compression::fast());
    if enc.write_all(sample).is_err() {
        return false;
    }
    match enc.finish() {
        Ok(out) => (out.len() as u64) * 100 < (sample.len() as u64) * 95,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_yes_png_no() {
        assert!(worth_deflating(&b"[1,\"0\",null]\n".repeat(100)));
        assert!(!worth_deflating(
            b"\x89PNG\r\n\x1a\n0000000000000000000000000000"
        ));
        assert_eq!(sniff_mime(b"%PDF-1.7"), Some("application/pdf"));
        // Incompressible bytes.
        let mut x: u32 = 1;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(!worth_deflating(&noise));
    }
}
