//! A test issuer: discovery and a JWKS on a free port, and the tokens it signs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{now, sign, KEY};

/// The API identifier the tokens are for.
pub const AUDIENCE: &str = "appointments:api";

#[derive(Clone)]
pub struct IssuerState {
    pub issuer: String,
    /// The JWKS's keys: tests add one to rotate.
    pub keys: Arc<Mutex<Vec<Value>>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery: bool,
}

/// An issuer on a free port: discovery (optional) and a JWKS with [`KEY`] as `key-1`.
pub struct TestIssuer {
    pub state: IssuerState,
}

impl TestIssuer {
    /// Serves discovery (pointing at `/custom/jwks`) when `discovery`, and the JWKS at
    /// both `/custom/jwks` and `/.well-known/jwks.json`.
    pub async fn start(discovery: bool) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", listener.local_addr().unwrap());
        let state = IssuerState {
            issuer,
            keys: Arc::new(Mutex::new(vec![KEY.jwk("key-1")])),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
            discovery,
        };
        async fn jwks(State(s): State<IssuerState>) -> Json<Value> {
            s.jwks_hits.fetch_add(1, Ordering::SeqCst);
            Json(json!({ "keys": s.keys.lock().unwrap().clone() }))
        }
        async fn openid(State(s): State<IssuerState>) -> Result<Json<Value>, StatusCode> {
            if !s.discovery {
                return Err(StatusCode::NOT_FOUND);
            }
            Ok(Json(
                json!({ "issuer": s.issuer, "jwks_uri": format!("{}custom/jwks", s.issuer) }),
            ))
        }
        let router = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .route("/custom/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(openid))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        TestIssuer { state }
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    pub fn hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn claims(&self, sub: &str, scope: &str) -> Value {
        json!({
            "iss": self.issuer(),
            "sub": sub,
            "aud": [AUDIENCE, format!("{}userinfo", self.issuer())],
            "iat": now(),
            "exp": now() + 3600,
            "scope": scope,
        })
    }

    pub fn token(&self, sub: &str, scope: &str) -> String {
        sign(&KEY, Some("key-1"), &self.claims(sub, scope))
    }
}
