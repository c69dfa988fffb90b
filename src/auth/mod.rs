//! The auth state of the whole app: one enum in a context provider, the `use_auth()`
//! hook, and the flows that join the protocol (`crate::oidc`) to the browser
//! (`crate::browser`): sign-in, callback, silent renewal and logout.

mod context;
mod flows;
mod keys;

pub use context::{
    use_auth, AuthContext, AuthProvider, AuthState, Renewal, SignedOutReason, Tenant,
};
pub use flows::{LoginError, RenewalError};
pub use keys::SigningKeys;
