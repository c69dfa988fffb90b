//! sessionStorage and localStorage: the sign-in transactions and the session.

use serde::de::DeserializeOwned;
use serde::Serialize;
use web_sys::Storage;

use crate::config::TokenStorage;
use crate::json;
use crate::oidc::authorize::Transaction;
use crate::oidc::session::Session;

const TRANSACTION_PREFIX: &str = "appointments.auth.transaction.";
const SESSION_KEY: &str = "appointments.auth.session";
/// Not a secret, and not kept at logout's clean-up either: where the tenant's keys were.
const JWKS_URI_KEY: &str = "appointments.tenant.jwks_uri";

#[derive(Clone, Copy)]
enum Area {
    Session,
    Local,
}

impl Area {
    /// `None` when the browser denies storage (e.g. blocked cookies and site data).
    fn storage(self) -> Option<Storage> {
        let window = web_sys::window()?;
        match self {
            Area::Session => window.session_storage(),
            Area::Local => window.local_storage(),
        }
        .ok()
        .flatten()
    }

    fn set(self, key: &str, value: &impl Serialize) -> Result<(), String> {
        let text = json::to_string(value).map_err(|e| e.to_string())?;
        let storage = self.storage().ok_or("storage is not available")?;
        storage
            .set_item(key, &text)
            .map_err(|_| "storage is full or denied".to_string())
    }

    /// `None` for a missing key and for a value this app did not write.
    fn get<T: DeserializeOwned>(self, key: &str) -> Option<T> {
        let text = self.storage()?.get_item(key).ok().flatten()?;
        json::from_str(&text).ok()
    }

    fn delete(self, key: &str) {
        if let Some(storage) = self.storage() {
            let _ = storage.remove_item(key);
        }
    }

    fn keys(self) -> Vec<String> {
        let Some(storage) = self.storage() else {
            return Vec::new();
        };
        (0..storage.length().unwrap_or(0))
            .filter_map(|i| storage.key(i).ok().flatten())
            .collect()
    }
}

/// Transactions live in sessionStorage: one tab, one sign-in, gone with the tab.
pub fn save_transaction(transaction: &Transaction) -> Result<(), String> {
    Area::Session
        .set(
            &format!("{TRANSACTION_PREFIX}{}", transaction.state),
            transaction,
        )
        .map_err(|e| format!("the browser refused to store the sign-in transaction: {e}"))
}

/// Removes and returns the transaction for `state`: a state can be used only once.
pub fn take_transaction(state: &str) -> Option<Transaction> {
    let key = format!("{TRANSACTION_PREFIX}{state}");
    let transaction = Area::Session.get(&key);
    Area::Session.delete(&key);
    transaction
}

/// Drops the transactions `is_stale` picks, e.g. from abandoned sign-ins, and returns them.
pub fn discard_transactions(is_stale: impl Fn(&Transaction) -> bool) -> Vec<Transaction> {
    let mut discarded = Vec::new();
    for key in Area::Session.keys() {
        if !key.starts_with(TRANSACTION_PREFIX) {
            continue;
        }
        match Area::Session.get::<Transaction>(&key) {
            Some(tx) if !is_stale(&tx) => {}
            tx => {
                Area::Session.delete(&key);
                discarded.extend(tx);
            }
        }
    }
    discarded
}

pub fn save_session(mode: TokenStorage, session: &Session) {
    let _ = match mode {
        TokenStorage::Session => Area::Session.set(SESSION_KEY, session),
        TokenStorage::Local => Area::Local.set(SESSION_KEY, session),
        TokenStorage::Memory => Ok(()),
    };
}

pub fn load_session(mode: TokenStorage) -> Option<Session> {
    match mode {
        TokenStorage::Session => Area::Session.get(SESSION_KEY),
        TokenStorage::Local => Area::Local.get(SESSION_KEY),
        TokenStorage::Memory => None,
    }
}

/// Clears the session from every storage, whatever the mode.
pub fn clear_session() {
    Area::Session.delete(SESSION_KEY);
    Area::Local.delete(SESSION_KEY);
}

/// Remembers, for this tab, where the tenant publishes its keys, so that the callback can
/// fetch them while discovery is still on its way.
pub fn remember_jwks_uri(uri: &str) {
    let _ = Area::Session.set(JWKS_URI_KEY, &uri);
}

/// The `jwks_uri` remembered at sign-in; only a hint: the caller checks it against discovery.
pub fn remembered_jwks_uri() -> Option<String> {
    Area::Session.get(JWKS_URI_KEY)
}
