//! Token claims, scope granting and signing.
//!
//! `issue` is the single place tokens are made; it applies the pending test fault
//! (see [`crate::faults`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::config::{TenantConfig, User, OIDC_SCOPES};
use crate::faults::{self, Fault};
use crate::{lock, AppState};

/// Why a token could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError(pub String);

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokenError {}

/// Claims of a JWT access token (issued when an `audience` was given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    /// `[audience, "<issuer>userinfo"]`.
    pub aud: Vec<String>,
    pub azp: String,
    pub iat: u64,
    pub exp: u64,
    /// Space-separated granted scopes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Granted API scopes (Auth0 RBAC "Add Permissions in the Access Token").
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The DPoP key the token is bound to (RFC 9449 §6.1), when it was issued for a proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a DPoP-bound access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the client's DPoP public key.
    pub jkt: String,
}

/// Claims of an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    /// The client id.
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The tenant session the token was issued in (Auth0's `sid`): the same for every
    /// token of one login session, renewals included; `/oidc/logout` takes it as
    /// `logout_hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub name: String,
    pub nickname: String,
    pub picture: String,
    pub email: String,
    pub email_verified: bool,
}

/// The user's profile claims (also the `/userinfo` answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub sub: String,
    pub name: String,
    pub nickname: String,
    pub picture: String,
    pub email: String,
    pub email_verified: bool,
}

impl Profile {
    pub fn of(user: &User, issuer: &str) -> Self {
        Profile {
            sub: user.sub.clone(),
            name: user.name.clone(),
            nickname: user.nickname().to_string(),
            picture: user.picture(issuer),
            email: user.email.clone(),
            email_verified: user.email_verified,
        }
    }
}

/// `at_hash`: base64url of the left 128 bits of SHA-256 of the ASCII access token.
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// The scope that asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// How the consent page describes [`OFFLINE_ACCESS`].
const OFFLINE_ACCESS_DESCRIPTION: &str = "Keep you signed in (offline access)";

/// The scopes that would be granted, with their descriptions, in request order:
/// requested OIDC scopes, plus (with an audience) requested scopes the API defines and
/// the user holds as permissions, plus `offline_access` when requested and `offline`
/// (the grant may have a refresh token). Unknown and duplicate scopes are dropped.
pub fn granted_scopes(
    tenant: &TenantConfig,
    requested: &[String],
    audience: Option<&str>,
    user: &User,
    offline: bool,
) -> Vec<(String, String)> {
    let api = audience.and_then(|a| tenant.api(a));
    let mut out: Vec<(String, String)> = Vec::new();
    for s in requested {
        if out.iter().any(|(v, _)| v == s) {
            continue;
        }
        if let Some((v, d)) = OIDC_SCOPES.iter().find(|(v, _)| v == s) {
            out.push((v.to_string(), d.to_string()));
        } else if offline && s == OFFLINE_ACCESS {
            out.push((s.clone(), OFFLINE_ACCESS_DESCRIPTION.to_string()));
        } else if let Some(def) = api.and_then(|a| a.scopes.iter().find(|d| &d.value == s)) {
            if user.permissions.iter().any(|p| p == s) {
                out.push((def.value.clone(), def.description.clone()));
            }
        }
    }
    out
}

/// What an accepted authorization request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub want_token: bool,
    pub want_id_token: bool,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    /// Whether the grant may have a refresh token: the code flow, `offline_access` asked
    /// for, the API allows offline access and the client has the `refresh_token` grant.
    pub offline: bool,
}

/// The tokens of one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
    /// Space-separated granted scopes.
    pub scope: String,
    pub expires_in: u64,
    /// The test fault this response carries (consumed from the switch).
    pub fault: Option<Fault>,
}

/// Opaque access tokens kept at most; when full, the one expiring first is forgotten.
const MAX_OPAQUE_TOKENS: usize = 10_000;

/// What an opaque access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpaqueToken {
    pub sub: String,
    exp: u64,
    /// The DPoP key it is bound to, if any.
    pub jkt: Option<String>,
}

/// Opaque access tokens (issued without an audience), usable only at `/userinfo`.
#[derive(Default)]
pub struct OpaqueTokens(Mutex<HashMap<String, OpaqueToken>>);

impl OpaqueTokens {
    fn insert(&self, token: String, entry: OpaqueToken) {
        let now = crate::now();
        let mut map = lock(&self.0);
        map.retain(|_, t| t.exp > now);
        if map.len() >= MAX_OPAQUE_TOKENS {
            let first = map
                .iter()
                .min_by_key(|(_, t)| t.exp)
                .map(|(t, _)| t.clone());
            if let Some(t) = first {
                map.remove(&t);
            }
        }
        map.insert(token, entry);
    }

    /// Forgets `token`.
    pub(crate) fn revoke(&self, token: &str) {
        lock(&self.0).remove(token);
    }

    /// What a live opaque token stands for.
    pub(crate) fn get(&self, token: &str) -> Option<OpaqueToken> {
        let now = crate::now();
        lock(&self.0).get(token).filter(|t| t.exp > now).cloned()
    }
}

/// Issues the tokens for an accepted grant in tenant session `sid`, with the pending test
/// fault if any. The ID token carries `at_hash` when `with_at_hash` (the implicit grant's
/// answers; Auth0 leaves it out of the token endpoint's). With `jkt` (the thumbprint of a
/// DPoP proof's key), the access token is bound to that key: `cnf.jkt` in a JWT, recorded
/// with an opaque token.
pub(crate) fn issue(
    state: &AppState,
    grant: &Grant,
    user: &User,
    sid: &str,
    with_at_hash: bool,
    jkt: Option<&str>,
) -> Result<Issued, TokenError> {
    let fault = state.faults.take();
    let key = if fault == Some(Fault::RotatedKey) {
        state
            .keys
            .rotate()
            .map_err(|e| TokenError(format!("key rotation failed: {e}")))?
    } else {
        state.keys.current()
    };
    let iat = crate::now();
    let exp = iat + state.token_lifetime;
    let granted = granted_scopes(
        &state.tenant,
        &grant.scopes,
        grant.audience.as_deref(),
        user,
        grant.offline,
    );
    let scope = granted
        .iter()
        .map(|(v, _)| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let access_token = if !grant.want_token {
        None
    } else if let Some(audience) = &grant.audience {
        let permissions = granted
            .iter()
            .filter(|(v, _)| !OIDC_SCOPES.iter().any(|(o, _)| o == v) && v != OFFLINE_ACCESS)
            .map(|(v, _)| v.clone())
            .collect();
        let claims = AccessClaims {
            iss: state.issuer.clone(),
            sub: user.sub.clone(),
            aud: vec![audience.clone(), state.url("userinfo")],
            azp: grant.client_id.clone(),
            iat,
            exp,
            scope: scope.clone(),
            permissions,
            cnf: jkt.map(|jkt| Confirmation {
                jkt: jkt.to_string(),
            }),
        };
        Some(faults::sign_rs256(&key, &claims, true)?)
    } else {
        let token = crate::random_id().ok_or_else(|| TokenError("no randomness".into()))?;
        state.opaque_tokens.insert(
            token.clone(),
            OpaqueToken {
                sub: user.sub.clone(),
                exp,
                jkt: jkt.map(str::to_string),
            },
        );
        Some(token)
    };
    let id_token = if grant.want_id_token {
        let profile = Profile::of(user, &state.issuer);
        let claims = IdClaims {
            iss: state.issuer.clone(),
            sub: user.sub.clone(),
            aud: grant.client_id.clone(),
            iat,
            exp,
            nonce: grant.nonce.clone(),
            at_hash: access_token
                .as_deref()
                .filter(|_| with_at_hash)
                .map(at_hash),
            sid: Some(sid.to_string()),
            name: profile.name,
            nickname: profile.nickname,
            picture: profile.picture,
            email: profile.email,
            email_verified: profile.email_verified,
        };
        let serde_json::Value::Object(mut claims) =
            serde_json::to_value(&claims).map_err(|e| TokenError(format!("claims: {e}")))?
        else {
            return Err(TokenError("claims: not an object".into()));
        };
        faults::tamper_claims(fault, &mut claims, iat);
        Some(faults::sign_id_token(fault, &key, &claims)?)
    } else {
        None
    };
    Ok(Issued {
        access_token,
        id_token,
        scope,
        expires_in: state.token_lifetime,
        fault,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example() {
        // OpenID Connect Core 1.0, Appendix A.3 / A.4 example values.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn grants_only_held_api_scopes() {
        let t = TenantConfig::default();
        let bob = t.user_by_email("bob@example.com").unwrap();
        let req: Vec<String> = "openid profile read:appointments create:appointments bogus openid"
            .split(' ')
            .map(String::from)
            .collect();
        let got: Vec<_> = granted_scopes(&t, &req, Some("appointments:api"), bob, false)
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(got, ["openid", "profile", "read:appointments"]);
        let got = granted_scopes(&t, &req, None, bob, false);
        assert_eq!(got.len(), 2);
        let req: Vec<String> = ["openid", "offline_access", "read:appointments"]
            .map(String::from)
            .to_vec();
        let names = |offline| -> Vec<String> {
            granted_scopes(&t, &req, Some("appointments:api"), bob, offline)
                .into_iter()
                .map(|(v, _)| v)
                .collect()
        };
        assert_eq!(
            names(true),
            ["openid", "offline_access", "read:appointments"]
        );
        assert_eq!(names(false), ["openid", "read:appointments"]);
    }
}
