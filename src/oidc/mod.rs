//! The protocol as plain Rust: the implicit grant, the code flow with PKCE and refresh. No
//! browser API and no Yew in here, so every rule is unit-tested natively (`cargo test`).
//! The browser adapters live in `crate::browser`.

pub mod at_hash;
pub mod authorize;
pub mod base64url;
pub mod challenge;
pub mod claims;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod inspect;
pub mod jwks;
pub mod jwt;
pub mod logout;
pub mod pkce;
pub mod response;
pub mod session;
pub mod token;
pub mod userinfo;

pub use error::OidcError;
