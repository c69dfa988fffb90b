//! `at_hash` (OpenID Connect Core §3.2.2.9): binds the access token to the ID token.

/// The `at_hash` for RS256: base64url of the left half of the access token's SHA-256.
pub fn from_sha256(digest: &[u8]) -> String {
    super::base64url::encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of OpenID Connect Core's example access token
    /// `jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y` (Appendix A.4), whose `at_hash`
    /// the spec gives as `77QmUPtjPfzWtF2AnpK9RQ`. The browser test computes the digest
    /// itself with WebCrypto.
    const DIGEST: [u8; 32] = [
        0xef, 0xb4, 0x26, 0x50, 0xfb, 0x63, 0x3d, 0xfc, 0xd6, 0xb4, 0x5d, 0x80, 0x9e, 0x92, 0xbd,
        0x45, 0x6a, 0x57, 0xad, 0x69, 0x6b, 0x79, 0xc7, 0x5b, 0x2d, 0x4c, 0x89, 0x0c, 0x86, 0xfb,
        0x4b, 0xa4,
    ];

    #[test]
    fn matches_the_openid_connect_example() {
        assert_eq!(from_sha256(&DIGEST), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
