//! The tenant's signing keys, cached for the page's life.

use std::cell::RefCell;
use std::rc::Rc;

use crate::weburl::Url;

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

    /// The key set at `jwks_uri`, or `None`: for fetching it before it is known to be
    /// needed, without reporting a failure nobody asked about.
    pub async fn prefetch(jwks_uri: &Url) -> Option<KeySet> {
        fetch(jwks_uri).await.ok()
    }

    pub async fn key_for(
        &self,
        jwks_uri: &Url,
        kid: Option<&str>,
    ) -> Result<RsaPublicKey, OidcError> {
        let cached = self.0.borrow().clone();
        let keys = match cached {
            Some(keys) => keys,
            None => self.refresh(jwks_uri).await?,
        };
        if let Some(key) = keys.select(kid) {
            return Ok(key.clone());
        }
        // An unknown kid: the tenant may have rotated its keys since this page fetched
        // them. One more fetch, then the key is not trusted.
        let fresh = self.refresh(jwks_uri).await?;
        fresh
            .select(kid)
            .cloned()
            .ok_or(OidcError::UnknownSigningKey)
    }

    async fn refresh(&self, jwks_uri: &Url) -> Result<KeySet, OidcError> {
        let keys = fetch(jwks_uri).await?;
        *self.0.borrow_mut() = Some(keys.clone());
        Ok(keys)
    }
}

async fn fetch(jwks_uri: &Url) -> Result<KeySet, OidcError> {
    let response = http::get(jwks_uri.as_str())
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
