//! The tenant's signing keys, cached for the page's life.

use std::cell::RefCell;
use std::rc::Rc;

use url::Url;

use crate::browser::http;
use crate::oidc::jwks::{KeySet, RsaPublicKey};
use crate::oidc::OidcError;

/// The JWKS, fetched when first needed and again only when a token names a key that is not
/// in it (the tenant rotated its keys), at most once per token.
#[derive(Debug, Clone, Default)]
pub struct SigningKeys(Rc<RefCell<Option<KeySet>>>);

impl PartialEq for SigningKeys {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl SigningKeys {
    /// Keys already known, e.g. fetched by an earlier page or built by a test.
    pub fn with(keys: KeySet) -> Self {
        SigningKeys(Rc::new(RefCell::new(Some(keys))))
    }

    pub async fn key_for(
        &self,
        jwks_uri: &Url,
        kid: Option<&str>,
    ) -> Result<RsaPublicKey, OidcError> {
        if let Some(key) = self.0.borrow().as_ref().and_then(|keys| keys.select(kid)) {
            return Ok(key.clone());
        }
        let fresh = fetch(jwks_uri).await?;
        let key = fresh.select(kid).cloned();
        *self.0.borrow_mut() = Some(fresh);
        key.ok_or(OidcError::UnknownSigningKey)
    }
}

async fn fetch(jwks_uri: &Url) -> Result<KeySet, OidcError> {
    let response = http::get(jwks_uri.as_str(), None)
        .await
        .map_err(|_| OidcError::KeysUnavailable(format!("no answer from {jwks_uri}")))?;
    if response.status != 200 {
        return Err(OidcError::KeysUnavailable(format!(
            "{jwks_uri} answered HTTP {}",
            response.status
        )));
    }
    KeySet::parse(&response.body)
        .ok_or_else(|| OidcError::KeysUnavailable(format!("{jwks_uri} is not a JWK set")))
}
