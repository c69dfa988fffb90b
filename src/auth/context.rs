use std::rc::Rc;

use yew::prelude::*;

use super::flows::{self, LoginError};
use super::keys::SigningKeys;
use crate::browser::{self, storage};
use crate::config::Config;
use crate::oidc::discovery::ProviderMetadata;
use crate::oidc::session::Session;
use crate::oidc::OidcError;

/// The tenant this app signs in with: its configuration, its endpoints and its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub config: Rc<Config>,
    pub metadata: Rc<ProviderMetadata>,
    pub keys: SigningKeys,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthState {
    SignedOut,
    SignedIn(Rc<Session>),
}

/// What `use_auth()` returns: the state, the tenant, and the actions.
#[derive(Clone, PartialEq)]
pub struct AuthContext {
    pub state: AuthState,
    pub tenant: Tenant,
    set_state: Callback<AuthState>,
}

impl AuthContext {
    /// The session, if there is one that has not expired.
    pub fn session(&self) -> Option<Rc<Session>> {
        match &self.state {
            AuthState::SignedIn(session) if !session.is_expired(browser::now_ms()) => {
                Some(session.clone())
            }
            _ => None,
        }
    }

    /// Sends the browser to the tenant; after sign-in it comes back to `return_to`.
    pub fn login(&self, return_to: Option<&str>) -> Result<(), LoginError> {
        flows::login(&self.tenant, return_to)
    }

    /// Validates a callback fragment and, only if every check passes, stores the session
    /// and makes it the app's. Returns the path to go on to.
    pub async fn complete_sign_in(&self, fragment: &str) -> Result<String, OidcError> {
        let (session, return_to) = flows::complete_callback(&self.tenant, fragment).await?;
        storage::save_session(self.tenant.config.token_storage, &session);
        self.set_state.emit(AuthState::SignedIn(Rc::new(session)));
        Ok(return_to)
    }

    /// Forgets the session in this app (the tenant's own session is left alone).
    pub fn sign_out(&self) {
        storage::clear_session();
        self.set_state.emit(AuthState::SignedOut);
    }
}

#[derive(Properties, PartialEq)]
pub struct AuthProviderProps {
    pub tenant: Tenant,
    #[prop_or_default]
    pub children: Html,
}

/// Provides the auth state to everything inside it, starting from a stored session when
/// one is still valid.
#[function_component(AuthProvider)]
pub fn auth_provider(props: &AuthProviderProps) -> Html {
    let mode = props.tenant.config.token_storage;
    let state = use_state(|| match storage::load_session(mode) {
        Some(session) if !session.is_expired(browser::now_ms()) => {
            AuthState::SignedIn(Rc::new(session))
        }
        Some(_) => {
            storage::clear_session();
            AuthState::SignedOut
        }
        None => AuthState::SignedOut,
    });
    let set_state = {
        let state = state.clone();
        Callback::from(move |next| state.set(next))
    };
    let context = AuthContext {
        state: (*state).clone(),
        tenant: props.tenant.clone(),
        set_state,
    };
    html! {
        <ContextProvider<AuthContext> {context}>
            { props.children.clone() }
        </ContextProvider<AuthContext>>
    }
}

/// The auth context; panics only if used outside `AuthProvider`, a programming error.
#[hook]
pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().expect("use_auth() must be called inside <AuthProvider>")
}
