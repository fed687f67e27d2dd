//! The `space-v1/secrets` file (SILA-FORMAT.md §3.2).
//!
//! ```text
//! base64( IV (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes) )   standard, padded, no newline
//! plaintext = JSON.stringify({"api-key-openai": "sk-…", …})
//! key A (live FileSystemSyncLayer) = UTF-8 bytes of the 32-char space id
//! key B (legacy layer after 2026-02-12) = SHA-256(UTF-8 space id)
//! ```
//!
//! The key is obfuscation only (the space id sits in `space.json`). Readers try A,
//! then B. The IV comes from the caller: the core has no randomness of its own.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes256Gcm;
use base64::Engine;
use sha2::Digest;

use crate::error::{Error, Result};

/// Which key derivation a `secrets` file was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyVariant {
    /// A: the space id's bytes are the key (live Sila).
    RawSpaceId,
    /// B: SHA-256 of the space id (legacy layer, Feb 2026 on).
    Sha256OfSpaceId,
}

fn cipher(space_id: &str, variant: KeyVariant) -> Option<Aes256Gcm> {
    match variant {
        KeyVariant::RawSpaceId => Aes256Gcm::new_from_slice(space_id.as_bytes()).ok(),
        KeyVariant::Sha256OfSpaceId => {
            Aes256Gcm::new_from_slice(&sha2::Sha256::digest(space_id.as_bytes())).ok()
        }
    }
}

/// Decrypts a `secrets` file, trying key A then key B. Returns the secrets in the
/// order they appear in the plaintext and the variant that worked.
pub fn decrypt(space_id: &str, file: &[u8]) -> Result<(Vec<(String, String)>, KeyVariant)> {
    let text = core::str::from_utf8(file)
        .map_err(|_| Error::Secrets("the file is not base64 text".into()))?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(text.trim_end())
        .map_err(|e| Error::Secrets(alloc::format!("not valid base64: {e}")))?;
    if blob.len() < 12 + 16 {
        return Err(Error::Secrets("too short to hold an IV and a tag".into()));
    }
    let (iv, ct) = blob.split_at(12);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(iv);
    let nonce = aes_gcm::Nonce::from(nonce);
    for variant in [KeyVariant::RawSpaceId, KeyVariant::Sha256OfSpaceId] {
        let Some(c) = cipher(space_id, variant) else {
            continue;
        };
        if let Ok(plain) = c.decrypt(&nonce, ct) {
            return Ok((parse_plaintext(&plain)?, variant));
        }
    }
    Err(Error::Secrets(alloc::format!(
        "neither key derivation of space id {space_id:?} decrypts the file"
    )))
}

fn parse_plaintext(plain: &[u8]) -> Result<Vec<(String, String)>> {
    // Keep the plaintext's key order: walk the object with a streaming visitor.
    struct Ordered(Vec<(String, String)>);
    impl<'de> serde::Deserialize<'de> for Ordered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("an object of strings")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> core::result::Result<Ordered, A::Error> {
                    let mut v = Vec::new();
                    while let Some(kv) = map.next_entry::<String, String>()? {
                        v.push(kv);
                    }
                    Ok(Ordered(v))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Ordered>(plain)
        .map(|o| o.0)
        .map_err(|e| {
            Error::Secrets(alloc::format!(
                "decrypted text is not a JSON object of strings: {e}"
            ))
        })
}

/// Encrypts `secrets` as Sila does: `JSON.stringify` of the object (in the given
/// order), AES-256-GCM with `iv`, base64. Use [`KeyVariant::RawSpaceId`] for files the
/// live app reads.
pub fn encrypt(
    space_id: &str,
    secrets: &[(String, String)],
    iv: [u8; 12],
    variant: KeyVariant,
) -> Result<String> {
    let mut json = String::from("{");
    for (i, (k, v)) in secrets.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // serde_json escapes strings exactly as JSON.stringify does.
        json.push_str(&serde_json::to_string(k).map_err(|e| Error::Secrets(e.to_string()))?);
        json.push(':');
        json.push_str(&serde_json::to_string(v).map_err(|e| Error::Secrets(e.to_string()))?);
    }
    json.push('}');
    let c = cipher(space_id, variant).ok_or_else(|| {
        Error::Secrets(alloc::format!(
            "space id {space_id:?} is not 32 bytes, so it cannot be key A"
        ))
    })?;
    let ct = c
        .encrypt(&aes_gcm::Nonce::from(iv), json.as_bytes())
        .map_err(|_| Error::Secrets("encryption failed".to_string()))?;
    let mut blob = Vec::with_capacity(12 + ct.len());
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&ct);
    Ok(base64::engine::general_purpose::STANDARD.encode(blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACE: &str = "13e6fe9fcda64da2bd37cdf89a15a155";
    const IV: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const A: &str = "AAECAwQFBgcICQoLzRxOC2QM4R1a3CMd8tp4kc6Ol7/8SKjWutr4EIn5e9kzkakU6BdXuihIcQ==";
    const B: &str = "AAECAwQFBgcICQoLk01wCi/r/VkNMHEPYcHEVUiIg83GjCfRal/xdoAco9e2BOO4SPY18N3g+A==";

    #[test]
    fn test_vectors() {
        let s = alloc::vec![("api-key-openai".to_string(), "sk-123".to_string())];
        assert_eq!(encrypt(SPACE, &s, IV, KeyVariant::RawSpaceId).unwrap(), A);
        assert_eq!(
            encrypt(SPACE, &s, IV, KeyVariant::Sha256OfSpaceId).unwrap(),
            B
        );
        assert_eq!(
            decrypt(SPACE, A.as_bytes()).unwrap(),
            (s.clone(), KeyVariant::RawSpaceId)
        );
        assert_eq!(
            decrypt(SPACE, B.as_bytes()).unwrap(),
            (s, KeyVariant::Sha256OfSpaceId)
        );
        assert!(matches!(
            decrypt("ffffffffffffffffffffffffffffffff", A.as_bytes()),
            Err(Error::Secrets(_))
        ));
        assert!(decrypt(SPACE, b"%%%").is_err());
    }
}
