//! Everything that can go wrong in the protocol, each with a stable code for logs and
//! bug reports and an explanation in words an integrator understands.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// The tenant answered `#error=...` (the user cancelled, consent was refused, ...).
    AuthorizationServer {
        code: String,
        description: Option<String>,
    },
    /// The fragment is not a well-formed authorization response.
    MalformedResponse(String),
    MissingParameter(&'static str),
    /// No `state` came back, so the response cannot be tied to a sign-in we started.
    StateMissing,
    /// The `state` matches no sign-in this browser started: a replayed, stale or forged
    /// response (CSRF), or one from another tab that has already been used.
    StateMismatch,
    /// The sign-in was started too long ago.
    TransactionExpired,
    UnsupportedTokenType(String),
    InvalidExpiresIn,
    /// An ID token was asked for (`response_type=id_token token`) and none came back.
    MissingIdToken,
    MalformedIdToken(&'static str),
    /// The ID token is signed with another algorithm than RS256 (`none`, HS256, ...).
    UnsupportedAlgorithm(String),
    /// No key in the tenant's JWKS matches the token, even after fetching it again.
    UnknownSigningKey,
    /// The signature does not verify with the tenant's key.
    BadSignature,
    /// The tenant's JWKS could not be fetched or read.
    KeysUnavailable(String),
    /// An access token came with the ID token, but the ID token has no `at_hash`.
    AtHashMissing,
    /// The ID token's `at_hash` does not match the access token.
    AtHashMismatch,
    IssuerMismatch {
        expected: String,
        found: String,
    },
    AudienceMismatch,
    AuthorizedPartyMismatch,
    SubjectMissing,
    IssuedAtMissing,
    Expired,
    NotYetValid,
    NonceMismatch,
    /// The answer is not the kind this sign-in asked for: tokens in the fragment for a code
    /// flow, or a code for the implicit grant.
    ResponseTypeMismatch,
    /// The token endpoint answered with an OAuth error (`invalid_grant`, `invalid_client`,
    /// `unauthorized_client`, ...).
    TokenEndpoint {
        code: String,
        description: Option<String>,
    },
    /// The token endpoint answered, but not with a token response or an OAuth error.
    TokenEndpointMalformed(String),
    /// No readable answer from the token endpoint: down, unreachable, or no CORS.
    TokenEndpointUnreachable {
        url: String,
    },
    /// DPoP is on, but the tenant issued an unbound token (its `token_type`).
    TokenNotBound(String),
    /// DPoP is on, but this browser could not make a key or a proof (WebCrypto or
    /// IndexedDB refused, or the session's key is gone).
    DpopKeyUnavailable(String),
}

impl OidcError {
    /// A stable, technical code, shown under the explanation.
    pub fn code(&self) -> &str {
        match self {
            Self::AuthorizationServer { code, .. } => code,
            Self::MalformedResponse(_) => "malformed_response",
            Self::MissingParameter(_) => "missing_parameter",
            Self::StateMissing => "state_missing",
            Self::StateMismatch => "state_mismatch",
            Self::TransactionExpired => "transaction_expired",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::InvalidExpiresIn => "invalid_expires_in",
            Self::MissingIdToken => "id_token_missing",
            Self::MalformedIdToken(_) => "id_token_malformed",
            Self::UnsupportedAlgorithm(_) => "id_token_alg_not_allowed",
            Self::UnknownSigningKey => "id_token_unknown_key",
            Self::BadSignature => "id_token_bad_signature",
            Self::KeysUnavailable(_) => "jwks_unavailable",
            Self::AtHashMissing => "id_token_at_hash_missing",
            Self::AtHashMismatch => "id_token_at_hash_mismatch",
            Self::IssuerMismatch { .. } => "id_token_iss_mismatch",
            Self::AudienceMismatch => "id_token_aud_mismatch",
            Self::AuthorizedPartyMismatch => "id_token_azp_mismatch",
            Self::SubjectMissing => "id_token_sub_missing",
            Self::IssuedAtMissing => "id_token_iat_missing",
            Self::Expired => "id_token_expired",
            Self::NotYetValid => "id_token_not_yet_valid",
            Self::NonceMismatch => "id_token_nonce_mismatch",
            Self::ResponseTypeMismatch => "response_type_mismatch",
            Self::TokenEndpoint { code, .. } => code,
            Self::TokenEndpointMalformed(_) => "token_endpoint_malformed",
            Self::TokenNotBound(_) => "dpop_token_not_bound",
            Self::DpopKeyUnavailable(_) => "dpop_key_unavailable",
            Self::TokenEndpointUnreachable { .. } => "token_endpoint_unreachable",
        }
    }

    /// What happened, for the person integrating or using the app.
    pub fn explanation(&self) -> String {
        match self {
            Self::AuthorizationServer { code, .. } => match code.as_str() {
                "access_denied" => "Sign-in was cancelled or access was refused at the tenant.".into(),
                "login_required" => "The tenant needs you to sign in again.".into(),
                "consent_required" => "The tenant needs your consent before it gives this application access.".into(),
                _ => "The tenant refused the sign-in request.".into(),
            },
            Self::MalformedResponse(reason) => format!("The sign-in response in the address bar is malformed: {reason}."),
            Self::MissingParameter(name) => format!("The sign-in response has no `{name}`."),
            Self::StateMissing => "The sign-in response carries no `state`, so it cannot be matched to a sign-in this application started.".into(),
            Self::StateMismatch => "The sign-in response does not match any sign-in this browser started. It may have been used already (a reload or the Back button), or it was made elsewhere and injected.".into(),
            Self::TransactionExpired => "The sign-in took too long and has expired.".into(),
            Self::UnsupportedTokenType(found) => format!("The tenant issued a `{found}` token; this application only uses Bearer tokens."),
            Self::InvalidExpiresIn => "The tenant's `expires_in` is not a positive number of seconds.".into(),
            Self::MissingIdToken => "An ID token was requested but the response has none.".into(),
            Self::MalformedIdToken(reason) => format!("The ID token is not a well-formed JWT: {reason}."),
            Self::UnsupportedAlgorithm(alg) => format!("The ID token is signed with `{alg}`; this application only accepts RS256 signatures from the tenant's published keys."),
            Self::UnknownSigningKey => "The ID token was signed by a key this application does not trust: the tenant does not publish it.".into(),
            Self::BadSignature => "The ID token's signature is not valid: it was altered, or not made by the tenant.".into(),
            Self::KeysUnavailable(why) => format!("The tenant's signing keys could not be loaded to check the ID token: {why}."),
            Self::AtHashMissing => "The ID token does not bind the access token (no `at_hash`), so the access token cannot be trusted.".into(),
            Self::AtHashMismatch => "The access token does not belong to this ID token (`at_hash` differs): it may have been swapped or injected.".into(),
            Self::IssuerMismatch { expected, found } => format!("The ID token was issued by `{found}`, not by the configured tenant `{expected}`."),
            Self::AudienceMismatch => "The ID token was issued to another application (its `aud` does not contain this client ID).".into(),
            Self::AuthorizedPartyMismatch => "The ID token names several audiences but its authorized party (`azp`) is not this application.".into(),
            Self::SubjectMissing => "The ID token does not say who signed in (no `sub`).".into(),
            Self::IssuedAtMissing => "The ID token has no issue time (`iat`).".into(),
            Self::Expired => "The ID token has expired. If this keeps happening, check this computer's clock.".into(),
            Self::NotYetValid => "The ID token is not valid yet. If this keeps happening, check this computer's clock.".into(),
            Self::NonceMismatch => "The ID token's nonce does not match this sign-in: the token was issued for another request and may have been replayed.".into(),
            Self::ResponseTypeMismatch => "The sign-in response is not the kind this sign-in asked for (tokens where a code was expected, or the other way round): it was made for another request and may have been injected.".into(),
            Self::TokenEndpoint { code, .. } => match code.as_str() {
                "invalid_grant" => "The tenant refused the code or refresh token (`invalid_grant`): it was already used, has expired or been revoked, or was issued to another browser or with another PKCE verifier. Sign in again.".into(),
                "invalid_client" => "The tenant does not know this application as a public client (`invalid_client`): check `client_id` in config.json, and that the application's Token Endpoint Authentication Method is None.".into(),
                "unauthorized_client" => "This application may not use this grant (`unauthorized_client`): allow Authorization Code (and Refresh Token) in the application's grant types at the tenant.".into(),
                "invalid_dpop_proof" => "The tenant refused this browser's DPoP proof (`invalid_dpop_proof`): the key is not the one the sign-in or the refresh token is bound to, or this computer's clock is far off. Sign in again.".into(),
                "use_dpop_nonce" => "The tenant kept asking for a new DPoP nonce (`use_dpop_nonce`) after this application had sent the one it gave. Try again; if it persists, the tenant's DPoP nonce setting is at fault.".into(),
                _ => "The tenant's token endpoint refused the request.".into(),
            },
            Self::TokenNotBound(found) => format!("This application asked for tokens bound to this browser's key (`dpop: true`), but the tenant issued a `{found}` token, not a DPoP-bound one: is DPoP enabled for the application at the tenant? Until it is, set `dpop` to false in config.json."),
            Self::DpopKeyUnavailable(why) => format!("This browser could not prove it holds the key the tokens are bound to (DPoP): {why}. Sign in again; if it persists, allow this site to store data."),
            Self::TokenEndpointMalformed(why) => format!("The tenant's token endpoint gave an answer this application cannot use: {why}."),
            Self::TokenEndpointUnreachable { url } => format!("No readable answer from the tenant's token endpoint {url}: it is unreachable, or it does not allow this site's origin (CORS: the application's Allowed Web Origins)."),
        }
    }
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.explanation(), self.code())
    }
}

impl std::error::Error for OidcError {}
