//! The auth state of the whole app: one enum in a context provider, the `use_auth()`
//! hook, and the flows that join the protocol (`crate::oidc`) to the browser
//! (`crate::browser`), a file each: sign-in and its callback, the token endpoint, the one
//! response validator every grant goes through, renewal and logout.

mod context;
mod dpop;
mod keys;
mod logout;
mod renewal;
mod sign_in;
mod tabs;
mod token_client;
mod validator;

pub use context::{
    use_auth, AuthContext, AuthProvider, AuthState, Renewal, SignedOutReason, Tenant,
};
pub use dpop::{authorized_request, session_key_thumbprint, SendError};
pub use keys::SigningKeys;
pub use renewal::RenewalError;
pub use sign_in::LoginError;
