//! The implicit grant as plain Rust: no browser API and no Yew in here, so every rule is
//! unit-tested natively (`cargo test`). The browser adapters live in `crate::browser`.

pub mod at_hash;
pub mod authorize;
pub mod base64url;
pub mod claims;
pub mod discovery;
pub mod error;
pub mod fragment;
pub mod inspect;
pub mod jwks;
pub mod jwt;
pub mod logout;
pub mod session;
pub mod userinfo;

pub use error::OidcError;
