//! The one response validator: the implicit grant's fragment, the code exchange, a refresh
//! and a silent renewal all become a session here, through the same checks in the same
//! code. The browser verifies the ID token's signature (WebCrypto) and hashes the access
//! token; `oidc::session::establish` checks everything else.

use super::Tenant;
use crate::browser::{self, crypto};
use crate::oidc::claims::IdTokenClaims;
use crate::oidc::response::TokenSet;
use crate::oidc::session::{self, CallbackContext, Grant, Session, VerifiedIdToken};
use crate::oidc::{at_hash, jwt, OidcError};

pub(super) async fn validate(
    tenant: &Tenant,
    tokens: TokenSet,
    grant: Grant<'_>,
) -> Result<Session, OidcError> {
    let now = browser::now_ms();
    let verified = match tokens.id_token.as_deref() {
        None => None,
        Some(id_token) => {
            let claims = verify_signature(tenant, id_token).await?;
            let digest = crypto::sha256(tokens.access_token.as_bytes())
                .await
                .map_err(|e| {
                    OidcError::MalformedResponse(format!(
                        "the access token could not be hashed: {e}"
                    ))
                })?;
            Some((claims, at_hash::from_sha256(&digest)))
        }
    };
    let config = &tenant.config;
    session::establish(
        tokens,
        verified.as_ref().map(|(claims, at_hash)| VerifiedIdToken {
            claims,
            access_token_at_hash: at_hash,
        }),
        grant,
        &CallbackContext {
            issuer: &tenant.metadata.issuer,
            client_id: &config.client_id,
            requested_scope: &config.scope,
            now_ms: now,
            leeway_secs: config.leeway_secs,
        },
    )
}

/// The ID token's signature: RS256 only, with a key the tenant publishes in its JWKS,
/// checked by WebCrypto. Returns the claims, not yet validated.
async fn verify_signature(tenant: &Tenant, id_token: &str) -> Result<IdTokenClaims, OidcError> {
    let decoded = jwt::decode(id_token).map_err(OidcError::MalformedIdToken)?;
    let claims = IdTokenClaims::read(&decoded.claims)
        .map_err(|_| OidcError::MalformedIdToken("its claims are not the expected JSON object"))?;
    if decoded.header.alg != "RS256" {
        return Err(OidcError::UnsupportedAlgorithm(decoded.header.alg));
    }
    let key = tenant
        .keys
        .key_for(&tenant.metadata.jwks_uri, decoded.header.kid.as_deref())
        .await?;
    let key = crypto::import_rs256_key(&key).await.map_err(|e| {
        OidcError::KeysUnavailable(format!("the tenant's key could not be imported: {e}"))
    })?;
    let valid = crypto::verify_rs256(&key, &decoded.signature, decoded.signing_input.as_bytes())
        .await
        .map_err(|_| OidcError::BadSignature)?;
    if valid {
        Ok(claims)
    } else {
        Err(OidcError::BadSignature)
    }
}
