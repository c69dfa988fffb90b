//! sessionStorage and localStorage through gloo-storage: the sign-in transactions and the
//! session.

use gloo_storage::{LocalStorage, SessionStorage, Storage};

use crate::config::TokenStorage;
use crate::oidc::authorize::Transaction;
use crate::oidc::session::Session;

const TRANSACTION_PREFIX: &str = "appointments.auth.transaction.";
const SESSION_KEY: &str = "appointments.auth.session";

/// Transactions live in sessionStorage: one tab, one sign-in, gone with the tab.
pub fn save_transaction(transaction: &Transaction) -> Result<(), String> {
    SessionStorage::set(
        format!("{TRANSACTION_PREFIX}{}", transaction.state),
        transaction,
    )
    .map_err(|e| format!("the browser refused to store the sign-in transaction: {e}"))
}

/// Removes and returns the transaction for `state`: a state can be used only once.
pub fn take_transaction(state: &str) -> Option<Transaction> {
    let key = format!("{TRANSACTION_PREFIX}{state}");
    let transaction = SessionStorage::get::<Transaction>(&key).ok();
    SessionStorage::delete(&key);
    transaction
}

/// Drops transactions older than `is_stale` allows, e.g. from abandoned sign-ins.
pub fn discard_transactions(is_stale: impl Fn(&Transaction) -> bool) {
    let Some(storage) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) else {
        return;
    };
    let keys: Vec<String> = (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|key| key.starts_with(TRANSACTION_PREFIX))
        .collect();
    for key in keys {
        match SessionStorage::get::<Transaction>(&key) {
            Ok(tx) if !is_stale(&tx) => {}
            _ => SessionStorage::delete(&key),
        }
    }
}

pub fn save_session(mode: TokenStorage, session: &Session) {
    let _ = match mode {
        TokenStorage::Session => SessionStorage::set(SESSION_KEY, session),
        TokenStorage::Local => LocalStorage::set(SESSION_KEY, session),
        TokenStorage::Memory => Ok(()),
    };
}

pub fn load_session(mode: TokenStorage) -> Option<Session> {
    match mode {
        TokenStorage::Session => SessionStorage::get(SESSION_KEY).ok(),
        TokenStorage::Local => LocalStorage::get(SESSION_KEY).ok(),
        TokenStorage::Memory => None,
    }
}

/// Clears the session from every storage, whatever the mode.
pub fn clear_session() {
    SessionStorage::delete(SESSION_KEY);
    LocalStorage::delete(SESSION_KEY);
}
