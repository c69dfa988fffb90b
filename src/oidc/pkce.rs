//! Proof Key for Code Exchange (RFC 7636): the code verifier that stays in this tab and the
//! S256 challenge that goes to `/authorize`. The randomness and the hash come from the
//! browser (`crypto.getRandomValues`, WebCrypto); the encoding rules are here.

use super::base64url;

/// 32 random bytes make a 43-character verifier, the shortest RFC 7636 §4.1 allows, with
/// 256 bits of entropy.
pub fn verifier_from(random: &[u8; 32]) -> String {
    base64url::encode(random)
}

/// Whether `verifier` is one RFC 7636 §4.1 allows: 43 to 128 unreserved characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `code_challenge` for `code_challenge_method=S256`, from the verifier's SHA-256.
pub fn challenge_from_sha256(digest: &[u8]) -> String {
    base64url::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_7636_appendix_b() {
        let random: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = verifier_from(&random);
        assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert!(is_valid_verifier(&verifier));
        // SHA-256 of the verifier, from the RFC.
        let digest: [u8; 32] = [
            19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8, 118, 168, 120,
            173, 109, 241, 68, 86, 110, 225, 137, 74, 203, 112, 249, 195,
        ];
        assert_eq!(
            challenge_from_sha256(&digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_rules() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
