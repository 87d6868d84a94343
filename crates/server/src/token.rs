//! The per-run secret that every connection must present.

use crate::ServerError;

/// 128 random bits as 32 lowercase hex digits (safe in `DAISY_CONTEXT`: no `:` or `=`).
///
/// # Errors
///
/// [`ServerError::Token`] if the operating system has no randomness to give.
pub fn generate() -> Result<String, ServerError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|source| ServerError::Token { source })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_hex_and_differ() {
        let (a, b) = (super::generate().unwrap(), super::generate().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
