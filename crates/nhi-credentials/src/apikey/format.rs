//! The text form of an API key: `<prefix>_<key id>_<secret><checksum>`.
//!
//! - the prefix names the kind of key (`nhik` for API keys, `nhic` for OAuth client
//!   secrets), so a scanner can tell whose secret leaked;
//! - the key id is 12 base62 characters, public, and stored in clear for lookups;
//! - the secret is 22 base62 characters (131 random bits);
//! - the checksum is the CRC-32 of everything before it, as 6 base62 characters, so a
//!   mistyped or made-up look-alike is refused without a lookup.

use crate::error::CredentialError;
use crate::random::random_bytes;

/// Characters of the public key id.
pub(crate) const KEY_ID_LEN: usize = 12;
/// Characters of the random secret (62^22 > 2^130).
pub(crate) const SECRET_LEN: usize = 22;
/// Characters of the checksum (62^6 > 2^32).
pub(crate) const CHECKSUM_LEN: usize = 6;
/// The longest prefix accepted.
pub(crate) const MAX_PREFIX_LEN: usize = 16;
/// The longest text that could be a key; anything longer is refused unread.
pub(crate) const MAX_KEY_LEN: usize = MAX_PREFIX_LEN + 2 + KEY_ID_LEN + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A presented key, split into its parts after its shape and checksum were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedKey<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) key_id: &'a str,
}

/// Checks a prefix: 2 to 16 lowercase ASCII letters or digits, starting with a letter.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), CredentialError> {
    if !prefix_is_valid(prefix) {
        return Err(CredentialError::InvalidConfig {
            reason: format!(
                "key prefix `{}` must be 2 to 16 lowercase letters or digits, starting with a \
                 letter",
                crate::error::clip(prefix)
            ),
        });
    }
    Ok(())
}

/// A fresh key with `prefix`: returns the key id and the whole key text.
pub(crate) fn generate(prefix: &str) -> Result<(String, String), CredentialError> {
    let key_id = random_base62(KEY_ID_LEN)?;
    let secret = random_base62(SECRET_LEN)?;
    let mut text = format!("{prefix}_{key_id}_{secret}");
    let checksum = base62_fixed(crc32(text.as_bytes()));
    text.push_str(&checksum);
    Ok((key_id, text))
}

/// Checks the shape and checksum of `text`; nothing is looked up.
///
/// # Errors
///
/// `TooLarge`, `Malformed` for a wrong shape or alphabet, `BadChecksum` when the
/// checksum does not match.
pub(crate) fn parse(text: &str) -> Result<ParsedKey<'_>, CredentialError> {
    if text.len() > MAX_KEY_LEN {
        return Err(CredentialError::TooLarge {
            len: text.len(),
            max: MAX_KEY_LEN,
        });
    }
    let Some((prefix, key_id, tail)) = fixed_parts(text).or_else(|| split_parts(text)) else {
        return Err(CredentialError::malformed(
            "an API key reads `<prefix>_<key id>_<secret>`",
        ));
    };
    if !prefix_is_valid(prefix) {
        return Err(CredentialError::malformed("the key prefix is not valid"));
    }
    if key_id.len() != KEY_ID_LEN || !is_base62(key_id) {
        return Err(CredentialError::malformed(
            "the key id is not 12 base62 characters",
        ));
    }
    if tail.len() != SECRET_LEN + CHECKSUM_LEN || !is_base62(tail) {
        return Err(CredentialError::malformed(
            "the key secret is not 28 base62 characters",
        ));
    }

    // Everything is ASCII by now, so these byte offsets are character boundaries.
    let checked_len = text.len() - CHECKSUM_LEN;
    let (checked, checksum) = (text.get(..checked_len), text.get(checked_len..));
    let (Some(checked), Some(checksum)) = (checked, checksum) else {
        return Err(CredentialError::malformed("the key is cut short"));
    };
    // Its digits were checked above, so their value is the checksum written.
    if u64::from(crc32(checked.as_bytes())) != base62_value(checksum) {
        return Err(CredentialError::BadChecksum);
    }
    Ok(ParsedKey { prefix, key_id })
}

/// The parts of a well-formed key, found at their fixed distances from the end without
/// a search; `None` when there are no underscores there.
///
/// A text it splits differently from [`split_parts`] (an underscore inside the prefix or
/// key id) fails the alphabet checks either way.
fn fixed_parts(text: &str) -> Option<(&str, &str, &str)> {
    let tail_start = text.len().checked_sub(SECRET_LEN + CHECKSUM_LEN)?;
    let key_id_start = tail_start.checked_sub(1 + KEY_ID_LEN)?;
    let bytes = text.as_bytes();
    let underscores = (key_id_start.checked_sub(1)?, tail_start - 1);
    if bytes.get(underscores.0) != Some(&b'_') || bytes.get(underscores.1) != Some(&b'_') {
        return None;
    }
    Some((
        text.get(..underscores.0)?,
        text.get(key_id_start..underscores.1)?,
        text.get(tail_start..)?,
    ))
}

/// `text` cut at its first two underscores, as `(prefix, key id, tail)`.
fn split_parts(text: &str) -> Option<(&str, &str, &str)> {
    let (prefix, rest) = text.split_once('_')?;
    let (key_id, tail) = rest.split_once('_')?;
    Some((prefix, key_id, tail))
}

/// Whether every byte of `part` is a base62 digit (an ASCII letter or digit).
///
/// Table lookups or-ed together without an early exit: no branch per byte, and keys
/// are short enough that reading a bad one to its end costs nothing. Digit values are
/// below 64; other bytes map to 0xFF.
fn is_base62(part: &str) -> bool {
    part.bytes()
        .fold(0_u8, |seen, byte| seen | digit_value(byte))
        < 64
}

/// The number written by base62 `digits`, most significant first (digits already
/// checked by [`is_base62`]).
fn base62_value(digits: &str) -> u64 {
    digits.bytes().fold(0_u64, |value, byte| {
        value
            .wrapping_mul(62)
            .wrapping_add(u64::from(digit_value(byte)))
    })
}

/// The value of base62 digit `byte`, or 0xFF for a byte that is not one.
fn digit_value(byte: u8) -> u8 {
    DIGIT_VALUES.get(usize::from(byte)).copied().unwrap_or(0xFF)
}

/// The value of each base62 digit in [`BASE62`], 0xFF for every other byte.
#[expect(
    clippy::indexing_slicing,
    reason = "the indices stay below 62 and 256 in a constant evaluated at compile time"
)]
const DIGIT_VALUES: [u8; 256] = {
    let mut table = [0xFF_u8; 256];
    let mut n = 0;
    while n < BASE62.len() {
        table[BASE62[n] as usize] = n as u8;
        n += 1;
    }
    table
};

/// Whether `prefix` is 2 to 16 lowercase ASCII letters or digits, starting with a letter.
fn prefix_is_valid(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    (2..=MAX_PREFIX_LEN).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `len` uniformly random base62 characters (rejection sampling, no modulo bias).
fn random_base62(len: usize) -> Result<String, CredentialError> {
    let mut text = String::with_capacity(len);
    while text.len() < len {
        for byte in random_bytes::<32>()? {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if byte < 248 && text.len() < len {
                let digit = BASE62.get(usize::from(byte % 62)).copied().unwrap_or(b'0');
                text.push(char::from(digit));
            }
        }
    }
    Ok(text)
}

/// `value` in base62, zero-padded to six characters.
fn base62_fixed(value: u32) -> String {
    base62_digits(value)
        .iter()
        .map(|&b| char::from(b))
        .collect()
}

/// The six base62 digits of `value`, most significant first, without allocating.
fn base62_digits(mut value: u32) -> [u8; CHECKSUM_LEN] {
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        let index = usize::try_from(value % 62).unwrap_or(0);
        *slot = BASE62.get(index).copied().unwrap_or(b'0');
        value /= 62;
    }
    digits
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by zlib and PNG.
///
/// Sixteen, then eight bytes per step through as many tables ("slicing"): the lookups
/// of a step do not wait on each other, where a byte at a time waits on every lookup.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0_u32;
    let mut sixteens = bytes.chunks_exact(16);
    for chunk in &mut sixteens {
        crc = slice_step(crc, chunk);
    }
    let mut eights = sixteens.remainder().chunks_exact(8);
    for chunk in &mut eights {
        crc = slice_step(crc, chunk);
    }
    for &byte in eights.remainder() {
        crc = (crc >> 8) ^ lookup(0, (crc as u8) ^ byte);
    }
    !crc
}

/// Advances `crc` over `chunk` (at most 16 bytes, at least 4) in one step: byte `i`
/// of the chunk goes through table `len - 1 - i`, the first four xored with the CRC.
fn slice_step(crc: u32, chunk: &[u8]) -> u32 {
    let low = crc.to_le_bytes();
    let last = chunk.len().saturating_sub(1);
    chunk.iter().enumerate().fold(0, |next, (i, &byte)| {
        let byte = byte ^ low.get(i).copied().unwrap_or(0);
        next ^ lookup(last - i, byte)
    })
}

/// Entry `index` of CRC table `table` (0 when out of range, which cannot happen).
fn lookup(table: usize, index: u8) -> u32 {
    CRC_TABLES
        .get(table)
        .and_then(|entries| entries.get(usize::from(index)))
        .copied()
        .unwrap_or(0)
}

/// The lookup tables of [`crc32`], built at compile time: table 0 advances the CRC by
/// one byte, table `k` by `k + 1` bytes.
#[expect(
    clippy::indexing_slicing,
    reason = "the indices stay below 16 and 256 in a constant evaluated at compile time"
)]
const CRC_TABLES: [[u32; 256]; 16] = {
    let mut tables = [[0_u32; 256]; 16];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        tables[0][n] = c;
        n += 1;
    }
    let mut k = 1;
    while k < 16 {
        let mut n = 0;
        while n < 256 {
            let previous = tables[k - 1][n];
            tables[k][n] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            n += 1;
        }
        k += 1;
    }
    tables
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn crc32_by_slices_matches_one_bit_at_a_time() {
        // The plain bitwise definition, for every length up to many sixteen-byte steps.
        let bitwise = |bytes: &[u8]| {
            let mut crc = !0_u32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        0xEDB8_8320 ^ (crc >> 1)
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        };
        let text: Vec<u8> = (0..=255_u8).map(|n| n.wrapping_mul(37) ^ 0x5a).collect();
        for len in 0..=text.len() {
            assert_eq!(crc32(&text[..len]), bitwise(&text[..len]), "length {len}");
        }
    }

    #[test]
    fn base62_digits_are_ascii_letters_and_digits() {
        for byte in 0..=255_u8 {
            let text = [byte];
            let text = std::str::from_utf8(&text).unwrap_or("_");
            assert_eq!(is_base62(text), byte.is_ascii_alphanumeric(), "{byte}");
        }
        assert!(is_base62("0aZ9") && is_base62(""));
        assert!(!is_base62("0aZ9é") && !is_base62("ab-c"));
    }

    #[test]
    fn base62_is_fixed_width() {
        assert_eq!(base62_fixed(0), "000000");
        assert_eq!(base62_fixed(61), "00000z");
        assert_eq!(base62_fixed(u32::MAX), "4gfFC3");
        for value in [0, 1, 61, 62, 3_844, 0xCBF4_3926, u32::MAX] {
            assert_eq!(base62_value(&base62_fixed(value)), u64::from(value));
        }
    }

    #[test]
    fn generated_keys_parse_back() {
        let (key_id, text) = generate("nhik").unwrap();
        assert_eq!(text.len(), 4 + 2 + KEY_ID_LEN + SECRET_LEN + CHECKSUM_LEN);
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.prefix, "nhik");
        assert_eq!(parsed.key_id, key_id);
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let (_, text) = generate("nhik").unwrap();
        let mut bytes = text.clone().into_bytes();
        let last_secret = text.len() - CHECKSUM_LEN - 1;
        bytes[last_secret] = if bytes[last_secret] == b'a' {
            b'b'
        } else {
            b'a'
        };
        let changed = String::from_utf8(bytes).unwrap();
        assert!(matches!(parse(&changed), Err(CredentialError::BadChecksum)));
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("nhik").is_ok());
        for bad in ["", "n", "NHIK", "nh_k", "1abc", "abcdefghijklmnopq"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
