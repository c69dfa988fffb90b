//! The signed-in session: what the app keeps once a callback has passed every check.

use serde::{Deserialize, Serialize};

use super::authorize::ResponseType;
use super::authorize::Transaction;
use super::claims::{self, Expected, IdTokenClaims, Profile};
use super::response::TokenSet;
use super::OidcError;

const RENEW_AT_MOST_EARLY_MS: u64 = 60_000;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    /// Shown decoded by the token inspector, and never sent anywhere: logout names the
    /// session with `logout_hint` (the `sid` below), not `id_token_hint`, because this
    /// sample never puts a token in a URL.
    pub id_token: Option<String>,
    /// The ID token's `sid`, the tenant's session: logout's `logout_hint`, so that the tenant
    /// can end that session without asking the user to confirm.
    #[serde(default)]
    pub sid: Option<String>,
    /// When the tokens were received, in milliseconds since the epoch.
    pub issued_at: u64,
    /// Milliseconds since the epoch.
    pub expires_at: u64,
    pub scopes: Vec<String>,
    /// `None` with `response_type=token`: there is no ID token to say who signed in.
    pub profile: Option<Profile>,
    /// From the code flow with `offline_access`: renews the session at the token endpoint.
    /// Rotated on every use, so the stored one is always the newest.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// With DPoP: the name of the browser key the tokens are bound to. Not a secret (the key
    /// cannot be exported), but the session's own: its logout deletes that key only.
    #[serde(default)]
    pub dpop_key_id: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn is_expired(&self, now_ms: f64) -> bool {
        now_ms >= self.expires_at as f64
    }

    /// When to renew, before the access token expires: a quarter of its lifetime early,
    /// but no more than a minute, so that long-lived tokens are not renewed too soon and
    /// short-lived ones still have time to renew.
    pub fn renew_at(&self) -> u64 {
        let lifetime = self.expires_at.saturating_sub(self.issued_at);
        self.expires_at - (lifetime / 4).min(RENEW_AT_MOST_EARLY_MS)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether `renewed` is for the same user as this session: the same `iss` and `sub`.
    /// A renewal answers for whoever is signed in at the tenant now, which may be someone
    /// else who signed in in this browser meanwhile. Without ID tokens
    /// (`response_type=token`) there is nothing to compare, and this cannot tell.
    pub fn is_same_user(&self, renewed: &Session) -> bool {
        match (&self.profile, &renewed.profile) {
            (Some(now), Some(next)) => now.iss == next.iss && now.sub == next.sub,
            (None, None) => true,
            _ => false,
        }
    }
}

/// What a callback is checked against.
pub struct CallbackContext<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The scopes asked for, which the tenant granted when its answer has no `scope`.
    pub requested_scope: &'a str,
    pub now_ms: f64,
    pub leeway_secs: f64,
}

/// What the browser established before the claims are checked: the ID token, whose
/// signature has been verified, and the `at_hash` computed from the access token.
pub struct VerifiedIdToken<'a> {
    pub claims: &'a IdTokenClaims,
    pub access_token_at_hash: &'a str,
}

/// Which grant gave a token set: it decides what its ID token must show.
#[derive(Clone, Copy)]
pub enum Grant<'a> {
    /// A sign-in (the implicit grant's fragment, or the code flow's exchange), answering
    /// `transaction`, whose `state` the caller has already matched and consumed.
    SignIn(&'a Transaction),
    /// A refresh of `current` at the token endpoint.
    Refresh(&'a Session),
}

/// The one response validator: every grant's tokens become a session here, through the
/// same checks. The ID token's signature was checked by the caller (`VerifiedIdToken`);
/// here are its claims (issuer, audience, azp, subject, times, nonce) and `at_hash`.
pub fn establish(
    tokens: TokenSet,
    id_token: Option<VerifiedIdToken<'_>>,
    grant: Grant<'_>,
    context: &CallbackContext<'_>,
) -> Result<Session, OidcError> {
    let (nonce, id_token_required, at_hash_required) = match grant {
        Grant::SignIn(transaction) => (
            transaction.nonce.as_deref(),
            transaction.response_type.wants_id_token(),
            // In the fragment, `at_hash` is what ties the access token to the ID token;
            // from the token endpoint both come over one TLS answer, and it is optional
            // (OpenID Connect Core §3.1.3.6).
            transaction.response_type == ResponseType::IdTokenToken,
        ),
        Grant::Refresh(_) => (None, false, false),
    };
    let checked = match id_token {
        None if id_token_required => return Err(OidcError::MissingIdToken),
        None => None,
        Some(id_token) => {
            let profile = claims::validate(
                id_token.claims,
                &Expected {
                    issuer: context.issuer,
                    client_id: context.client_id,
                    nonce,
                    now: context.now_ms / 1000.0,
                    leeway: context.leeway_secs,
                },
            )?;
            match id_token.claims.at_hash.as_deref() {
                None if at_hash_required => return Err(OidcError::AtHashMissing),
                Some(at_hash) if at_hash != id_token.access_token_at_hash => {
                    return Err(OidcError::AtHashMismatch)
                }
                _ => Some((profile, id_token.claims.sid.clone())),
            }
        }
    };
    let (profile, id_token, sid) = match (checked, grant) {
        (Some((profile, sid)), _) => (Some(profile), tokens.id_token, sid),
        // A refresh without a new ID token is still the same sign-in.
        (None, Grant::Refresh(current)) => (
            current.profile.clone(),
            current.id_token.clone(),
            current.sid.clone(),
        ),
        (None, Grant::SignIn(_)) => (None, None, None),
    };
    let refresh_token = match grant {
        // Without rotation the tenant sends no new one, and the old one stays good.
        Grant::Refresh(current) => tokens
            .refresh_token
            .or_else(|| current.refresh_token.clone()),
        Grant::SignIn(_) => tokens.refresh_token,
    };
    let dpop_key_id = match grant {
        Grant::SignIn(transaction) => transaction.dpop_key_id.clone(),
        Grant::Refresh(current) => current.dpop_key_id.clone(),
    };
    let scopes = tokens
        .scope
        .as_deref()
        .unwrap_or(context.requested_scope)
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect();
    Ok(Session {
        issued_at: context.now_ms as u64,
        expires_at: (context.now_ms as u64).saturating_add(tokens.expires_in.saturating_mul(1000)),
        access_token: tokens.access_token,
        id_token,
        sid,
        scopes,
        profile,
        refresh_token,
        dpop_key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::claims::Audience;

    const NOW_MS: f64 = 1_800_000_000_000.0;

    fn claims() -> IdTokenClaims {
        IdTokenClaims {
            iss: "https://t.example/".into(),
            aud: Audience::One("c".into()),
            sub: Some("u1".into()),
            azp: None,
            exp: Some(1_800_003_600.0),
            iat: Some(1_800_000_000.0),
            nbf: None,
            nonce: Some("n".into()),
            at_hash: Some("hash-of-at".into()),
            sid: Some("tenant-session-1".into()),
            name: Some("Ann".into()),
            nickname: None,
            email: None,
            picture: None,
        }
    }

    fn verified(claims: &IdTokenClaims) -> Option<VerifiedIdToken<'_>> {
        Some(VerifiedIdToken {
            claims,
            access_token_at_hash: "hash-of-at",
        })
    }

    fn transaction(response_type: ResponseType) -> Transaction {
        Transaction {
            state: "s".into(),
            nonce: Some("n".into()),
            response_type,
            code_verifier: None,
            dpop_key_id: None,
            dpop_key_is_new: false,
            return_to: "/appointments".into(),
            created_at: NOW_MS,
        }
    }

    fn context() -> CallbackContext<'static> {
        CallbackContext {
            issuer: "https://t.example/",
            client_id: "c",
            requested_scope: "openid read:appointments",
            now_ms: NOW_MS,
            leeway_secs: 60.0,
        }
    }

    fn response(scope: Option<&str>) -> TokenSet {
        TokenSet {
            access_token: "at".into(),
            id_token: Some("a.b.c".into()),
            expires_in: 7200,
            scope: scope.map(str::to_string),
            refresh_token: None,
        }
    }

    #[test]
    fn establishes_a_session_from_a_valid_response() {
        let claims = claims();
        let session = establish(
            response(Some("openid read:appointments create:appointments")),
            verified(&claims),
            Grant::SignIn(&transaction(ResponseType::IdTokenToken)),
            &context(),
        )
        .expect("valid");
        assert_eq!(session.expires_at, 1_800_007_200_000);
        assert!(session.has_scope("create:appointments"));
        assert_eq!(session.profile.as_ref().map(|p| p.sub.as_str()), Some("u1"));
        assert_eq!(session.id_token.as_deref(), Some("a.b.c"));
        assert_eq!(session.sid.as_deref(), Some("tenant-session-1"));
        assert!(!session.is_expired(NOW_MS));
        assert!(session.is_expired(1_800_007_200_000.0));
    }

    #[test]
    fn the_id_token_and_its_at_hash_are_required() {
        let tx = transaction(ResponseType::IdTokenToken);
        let tx = Grant::SignIn(&tx);
        assert_eq!(
            establish(response(None), None, tx, &context()),
            Err(OidcError::MissingIdToken)
        );

        let mut no_hash = claims();
        no_hash.at_hash = None;
        assert_eq!(
            establish(response(None), verified(&no_hash), tx, &context()),
            Err(OidcError::AtHashMissing)
        );

        let mut other_hash = claims();
        other_hash.at_hash = Some("hash-of-another-token".into());
        assert_eq!(
            establish(response(None), verified(&other_hash), tx, &context()),
            Err(OidcError::AtHashMismatch)
        );

        let mut wrong_nonce = claims();
        wrong_nonce.nonce = Some("other".into());
        assert_eq!(
            establish(response(None), verified(&wrong_nonce), tx, &context()),
            Err(OidcError::NonceMismatch)
        );
    }

    #[test]
    fn renewal_comes_before_expiry() {
        let session = |lifetime_ms: u64| Session {
            access_token: "at".into(),
            id_token: None,
            sid: None,
            refresh_token: None,
            dpop_key_id: None,
            issued_at: 1_000_000,
            expires_at: 1_000_000 + lifetime_ms,
            scopes: vec![],
            profile: None,
        };
        assert_eq!(
            session(7_200_000).renew_at(),
            1_000_000 + 7_200_000 - 60_000,
            "a minute early"
        );
        assert_eq!(
            session(8_000).renew_at(),
            1_000_000 + 6_000,
            "a quarter early"
        );
        assert_eq!(session(0).renew_at(), 1_000_000);
    }

    #[test]
    fn token_only_sessions_have_no_profile_and_default_to_the_requested_scopes() {
        let session = establish(
            response(None),
            None,
            Grant::SignIn(&transaction(ResponseType::Token)),
            &context(),
        )
        .expect("valid");
        assert_eq!(session.profile, None);
        assert_eq!(session.id_token, None);
        assert_eq!(session.scopes, ["openid", "read:appointments"]);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let session = establish(
            response(None),
            None,
            Grant::SignIn(&transaction(ResponseType::Token)),
            &context(),
        )
        .expect("valid");
        assert!(!format!("{session:?}").contains("\"at\""));
    }

    #[test]
    fn a_renewal_for_another_user_is_recognised() {
        let tx = transaction(ResponseType::IdTokenToken);
        let tx = Grant::SignIn(&tx);
        let signed_in = |claims: &IdTokenClaims| {
            establish(response(None), verified(claims), tx, &context()).expect("valid")
        };
        let alice = signed_in(&claims());
        assert!(alice.is_same_user(&signed_in(&claims())));

        let mut bob = claims();
        bob.sub = Some("u2".into());
        assert!(!alice.is_same_user(&signed_in(&bob)));

        // The same `sub` from another issuer is another user: the ID token's `iss` is
        // checked against the tenant, so this needs a changed configuration, but the rule
        // does not rely on that.
        let mut elsewhere = signed_in(&claims());
        if let Some(profile) = elsewhere.profile.as_mut() {
            profile.iss = "https://other.example/".into();
        }
        assert!(!alice.is_same_user(&elsewhere));

        let token_only = establish(
            response(None),
            None,
            Grant::SignIn(&transaction(ResponseType::Token)),
            &context(),
        )
        .expect("valid");
        assert!(
            token_only.is_same_user(&token_only.clone()),
            "nothing to compare"
        );
        assert!(!alice.is_same_user(&token_only));
    }

    #[test]
    fn the_code_flow_needs_the_id_token_and_its_nonce_but_at_hash_only_when_present() {
        let tx = transaction(ResponseType::Code);
        let grant = Grant::SignIn(&tx);
        let mut tokens = response(None);
        tokens.refresh_token = Some("rt-1".into());
        let mut no_hash = claims();
        no_hash.at_hash = None;
        let session =
            establish(tokens.clone(), verified(&no_hash), grant, &context()).expect("valid");
        assert_eq!(session.refresh_token.as_deref(), Some("rt-1"));
        assert!(!format!("{session:?}").contains("rt-1"));

        let mut other_hash = claims();
        other_hash.at_hash = Some("other".into());
        assert_eq!(
            establish(tokens.clone(), verified(&other_hash), grant, &context()),
            Err(OidcError::AtHashMismatch)
        );
        assert_eq!(
            establish(tokens.clone(), None, grant, &context()),
            Err(OidcError::MissingIdToken)
        );
        let mut wrong_nonce = claims();
        wrong_nonce.nonce = Some("other".into());
        assert_eq!(
            establish(tokens, verified(&wrong_nonce), grant, &context()),
            Err(OidcError::NonceMismatch)
        );
    }

    #[test]
    fn a_refresh_goes_through_the_same_checks_and_keeps_what_it_does_not_replace() {
        let tx = transaction(ResponseType::Code);
        let mut first = response(None);
        first.refresh_token = Some("rt-1".into());
        let current =
            establish(first, verified(&claims()), Grant::SignIn(&tx), &context()).expect("valid");

        // Rotated, with a new ID token (no nonce, as Auth0 sends it).
        let mut refreshed = response(None);
        refreshed.refresh_token = Some("rt-2".into());
        let mut no_nonce = claims();
        no_nonce.nonce = None;
        let next = establish(
            refreshed.clone(),
            verified(&no_nonce),
            Grant::Refresh(&current),
            &context(),
        )
        .expect("valid");
        assert_eq!(next.refresh_token.as_deref(), Some("rt-2"));
        assert!(current.is_same_user(&next));

        // Its ID token passes the same claim checks.
        let mut expired = no_nonce.clone();
        expired.exp = Some(1_700_000_000.0);
        assert_eq!(
            establish(
                refreshed.clone(),
                verified(&expired),
                Grant::Refresh(&current),
                &context()
            ),
            Err(OidcError::Expired)
        );
        let mut other_issuer = no_nonce;
        other_issuer.iss = "https://evil.example/".into();
        assert!(matches!(
            establish(
                refreshed,
                verified(&other_issuer),
                Grant::Refresh(&current),
                &context()
            ),
            Err(OidcError::IssuerMismatch { .. })
        ));

        // No new ID token and no rotation: the sign-in's profile and refresh token stay.
        let mut bare = response(None);
        bare.id_token = None;
        let next = establish(bare, None, Grant::Refresh(&current), &context()).expect("valid");
        assert_eq!(next.refresh_token.as_deref(), Some("rt-1"));
        assert_eq!(next.profile, current.profile);
        assert_eq!(next.sid, current.sid);
    }
}
