//! Random values from the operating system, through ring.

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::CredentialError;

/// `N` random bytes.
///
/// # Errors
///
/// [`CredentialError::Crypto`] when the system random source fails.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CredentialError> {
    let mut bytes = [0_u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CredentialError::Crypto {
            reason: "the system random source failed",
        })?;
    Ok(bytes)
}

/// `N` random bytes written as lowercase hex (always starts with a letter or a digit).
///
/// # Errors
///
/// [`CredentialError::Crypto`] when the system random source fails.
pub(crate) fn random_hex<const N: usize>() -> Result<String, CredentialError> {
    Ok(hex(&random_bytes::<N>()?))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            let digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            text.push(char::from(digit));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_complete() {
        assert_eq!(hex(&[0x00, 0x9f, 0xff]), "009fff");
        let a = random_hex::<16>().unwrap();
        let b = random_hex::<16>().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
