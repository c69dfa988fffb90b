use std::rc::Rc;

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use super::dpop;
use super::keys::SigningKeys;
use super::logout;
use super::renewal::{self, RenewalError};
use super::sign_in::{self, LoginError};
use super::tabs::{self, Heard};
use crate::browser::{self, channel, storage};
use crate::config::Config;
use crate::config::TokenStorage;
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

/// Background renewal of the session before it expires.
#[derive(Debug, Clone, PartialEq)]
pub enum Renewal {
    Idle,
    Running,
    /// The user must sign in again; the page stays as it is until they do.
    Failed(RenewalError),
}

/// Why the user was signed out, when it was not their choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedOutReason {
    /// The API answered 401: the token is no longer accepted.
    SessionRejected,
    /// A renewal answered for another user than the one signed in (see
    /// [`RenewalError::OtherUser`]); the next sign-in must let the user choose.
    OtherUser,
    /// Another tab of the same session signed out.
    SignedOutElsewhere,
}

/// What `use_auth()` returns: the state, the tenant, and the actions.
#[derive(Clone, PartialEq)]
pub struct AuthContext {
    pub state: AuthState,
    pub renewal: Renewal,
    pub signed_out_reason: Option<SignedOutReason>,
    pub tenant: Tenant,
    set_state: Callback<(AuthState, Option<SignedOutReason>)>,
    set_renewal: Callback<Renewal>,
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
    pub async fn login(&self, return_to: Option<String>) -> Result<(), LoginError> {
        sign_in::login(&self.tenant, return_to.as_deref(), None).await
    }

    /// Like `login`, but the tenant asks for credentials even if it has a session
    /// (`prompt=login`): after a renewal answered for someone else, the user chooses who
    /// signs in.
    pub async fn login_choosing_account(
        &self,
        return_to: Option<String>,
    ) -> Result<(), LoginError> {
        sign_in::login(&self.tenant, return_to.as_deref(), Some("login")).await
    }

    /// Validates an authorization response (the implicit grant's fragment, or the code
    /// flow's query, whose code it exchanges) and, only if every check passes, stores the
    /// session and makes it the app's. Returns the path to go on to.
    pub async fn complete_sign_in(&self, answer: &str) -> Result<String, OidcError> {
        let redirect_uri = &self.tenant.config.redirect_uri;
        let (session, return_to) = sign_in::complete(&self.tenant, answer, redirect_uri).await?;
        self.adopt(session);
        Ok(return_to)
    }

    /// Renews the session in the background: with the refresh token when there is one,
    /// else with `prompt=none` in a hidden iframe. On failure `renewal` says why, and the
    /// app offers to sign in again.
    pub fn renew(&self) {
        let AuthState::SignedIn(current) = &self.state else {
            return;
        };
        if self.renewal == Renewal::Running {
            return;
        }
        self.set_renewal.emit(Renewal::Running);
        let (this, current) = (self.clone(), current.clone());
        wasm_bindgen_futures::spawn_local(async move {
            match renewal::renew(&this.tenant, &current).await {
                Ok(session) => {
                    this.adopt(session);
                    this.set_renewal.emit(Renewal::Idle);
                }
                Err(RenewalError::OtherUser) => {
                    // Neither kept nor adopted: this user's session ends here, and the
                    // sign-in page says why.
                    logout::end_session(Some(&current));
                    this.set_state
                        .emit((AuthState::SignedOut, Some(SignedOutReason::OtherUser)));
                    this.set_renewal.emit(Renewal::Idle);
                }
                Err(error) => {
                    if error.ends_the_session() {
                        // The refresh token is dead: a reload must not find it (nor its
                        // key). The page stays until the access token expires, with the
                        // banner, so the key stays in memory until then.
                        storage::clear_session();
                        if let Some(id) = current.dpop_key_id.clone() {
                            wasm_bindgen_futures::spawn_local(async move {
                                dpop::keep_in_memory_only(&id).await;
                            });
                        }
                    }
                    this.set_renewal.emit(Renewal::Failed(error));
                }
            }
        });
    }

    /// Signs out of this app and of the tenant, then returns to `logout_return_to`.
    pub fn logout(&self) {
        let session = match &self.state {
            AuthState::SignedIn(session) => Some(session.clone()),
            AuthState::SignedOut => None,
        };
        self.set_state.emit((AuthState::SignedOut, None));
        let tenant = self.tenant.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if logout::logout(&tenant, session.as_deref()).await.is_err() {
                // Navigation was refused; the app's own session is gone all the same.
                logout::end_session(session.as_deref());
            }
        });
    }

    /// The API no longer accepts the token: forget it, and say why on the sign-in page.
    pub fn session_rejected(&self) {
        let session = match &self.state {
            AuthState::SignedIn(session) => Some(session.as_ref()),
            AuthState::SignedOut => None,
        };
        logout::end_session(session);
        self.set_state
            .emit((AuthState::SignedOut, Some(SignedOutReason::SessionRejected)));
    }

    fn adopt(&self, session: Session) {
        storage::save_session(self.tenant.config.token_storage, &session);
        self.set_state
            .emit((AuthState::SignedIn(Rc::new(session)), None));
    }
}

#[derive(Properties, PartialEq)]
pub struct AuthProviderProps {
    pub tenant: Tenant,
    #[prop_or_default]
    pub children: Html,
}

/// Provides the auth state to everything inside it, starting from a stored session when
/// one is still valid, and renews the session before it expires.
#[function_component(AuthProvider)]
pub fn auth_provider(props: &AuthProviderProps) -> Html {
    let mode = props.tenant.config.token_storage;
    let state = use_state(|| match storage::load_session(mode) {
        Some(session) if !session.is_expired(browser::now_ms()) => {
            AuthState::SignedIn(Rc::new(session))
        }
        stale => {
            // Expired or unreadable: never used, and not left behind either.
            logout::end_session(stale.as_ref());
            AuthState::SignedOut
        }
    });
    let reason = use_state(|| None::<SignedOutReason>);
    let renewal = use_state(|| Renewal::Idle);
    let set_state = {
        let (state, reason) = (state.clone(), reason.clone());
        use_callback((), move |(next, why), _| {
            state.set(next);
            reason.set(why);
        })
    };
    let set_renewal = {
        let renewal = renewal.clone();
        use_callback((), move |next, _| renewal.set(next))
    };
    let context = AuthContext {
        state: (*state).clone(),
        renewal: (*renewal).clone(),
        signed_out_reason: *reason,
        tenant: props.tenant.clone(),
        set_state,
        set_renewal,
    };

    // One timer per session: it fires a little before the access token expires.
    let renew_at = match &*state {
        AuthState::SignedIn(session) => Some(session.renew_at()),
        AuthState::SignedOut => None,
    };
    {
        let context = context.clone();
        use_effect_with(renew_at, move |renew_at| {
            let timer = renew_at.map(|at| {
                let delay = (at as f64 - browser::now_ms()).clamp(0.0, f64::from(i32::MAX));
                Timeout::new(delay as u32, move || context.renew())
            });
            move || drop(timer)
        });
    }

    // What other tabs of the same session say: a sign-out ends this one too; a refresh
    // replaces this tab's copy of the rotated token.
    {
        let session = match &*state {
            AuthState::SignedIn(session) => Some(session.clone()),
            AuthState::SignedOut => None,
        };
        let set_state = context.set_state.clone();
        use_effect_with(session, move |session| {
            let listener = session.clone().and_then(|session| {
                let key = tabs::session_key(&session);
                channel::Listener::new(move |message| match tabs::hear(&message) {
                    Some(Heard::SignedOut(other)) if Some(&other) == key.as_ref() => {
                        logout::end_session(Some(&session));
                        set_state.emit((
                            AuthState::SignedOut,
                            Some(SignedOutReason::SignedOutElsewhere),
                        ));
                    }
                    Some(Heard::Rotated(old_id, newer)) => {
                        let (session, set_state) = (session.clone(), set_state.clone());
                        wasm_bindgen_futures::spawn_local(async move {
                            adopt_rotation(mode, &session, old_id, *newer, set_state).await;
                        });
                    }
                    _ => {}
                })
            });
            move || drop(listener)
        });
    }

    html! {
        <ContextProvider<AuthContext> {context}>
            { props.children.clone() }
        </ContextProvider<AuthContext>>
    }
}

/// Takes another tab's refresh result when it rotated the very token this tab holds.
async fn adopt_rotation(
    mode: TokenStorage,
    current: &Session,
    old_id: String,
    newer: Session,
    set_state: Callback<(AuthState, Option<SignedOutReason>)>,
) {
    let Some(mine) = current.refresh_token.as_deref() else {
        return;
    };
    if tabs::token_id(mine).await.as_deref() != Some(old_id.as_str())
        || !current.is_same_user(&newer)
    {
        return;
    }
    tabs::remember_rotation(old_id, &newer);
    storage::save_session(mode, &newer);
    set_state.emit((AuthState::SignedIn(Rc::new(newer)), None));
}

/// The auth context; panics only if used outside `AuthProvider`, a programming error.
#[hook]
pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().expect("use_auth() must be called inside <AuthProvider>")
}
