//! The app and the API against an OpenID provider this project did not write:
//! node-oidc-provider (OpenID Certified), configured in `tests/interop/provider.mjs`, with
//! its natural issuer `http://localhost:<port>` (no trailing slash), its own login and
//! consent pages, JWT access tokens for `appointments:api`, and its own logout page. The
//! app runs both of its flows there: the implicit grant with silent renewal in an iframe,
//! and the authorization code flow with PKCE, refresh-token rotation and revocation.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::Ordering;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use support::code_flow::{stored, stored_refresh_token};
use support::oidc_provider::{
    jwt_part, sign_in_at_provider, Interop, AUDIENCE, CLIENT_ID, CODE_FLOW_SCOPE,
};
use support::{
    assert_signed_out_at, click, find, stored_issued_at, stored_session, text_of, wait_until,
    CurrentUrl, WAIT,
};

const ALICE: (&str, &str) = ("alice@example.com", "any password: its dev login takes any");

/// The provider's side alone, in Chromium: discovery names the issuer without a trailing
/// slash, its login and consent pages complete, and the redirect carries an ID token and a
/// JWT access token for the API, each signed RS256 with a key of its JWKS.
#[tokio::test(flavor = "multi_thread")]
async fn the_provider_signs_in_through_its_own_pages_and_issues_jwt_access_tokens() {
    let interop = Interop::start_without_api().await;
    let issuer = &interop.issuer;
    assert!(!issuer.ends_with('/'), "{issuer}");
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery JSON");
    assert_eq!(discovery["issuer"], json!(issuer), "{discovery}");
    for endpoint in [
        "authorization_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
    ] {
        let url = discovery[endpoint].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{issuer}/")), "{endpoint}: {url}");
    }
    assert!(
        discovery["response_types_supported"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("id_token token"))),
        "{discovery}"
    );

    let browser = interop.browser().await;
    // silent-callback.html is a registered redirect URI that runs no code, so the fragment
    // stays in the address bar to be read.
    let landing = format!("{}/silent-callback.html", interop.spa);
    let mut authorize = url::Url::parse(discovery["authorization_endpoint"].as_str().unwrap())
        .expect("authorization_endpoint");
    authorize
        .query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "id_token token")
        .append_pair("redirect_uri", &landing)
        .append_pair("scope", "openid profile email read:appointments")
        .append_pair("state", "state-1")
        .append_pair("nonce", "nonce-1")
        .append_pair("audience", AUDIENCE);
    browser.goto(authorize.as_str()).await.expect("authorize");
    find(&browser, "input[name=login]").await;
    let login_page = browser.current_url_string().await;
    assert!(
        login_page.starts_with(&format!("{issuer}/interaction/")),
        "{login_page}"
    );
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;

    let back = url::Url::parse(&browser.current_url_string().await).expect("a URL");
    assert_eq!(back.path(), "/silent-callback.html", "{back}");
    let fragment: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(back.fragment().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(fragment.get("state").map(String::as_str), Some("state-1"));
    assert_eq!(
        fragment.get("token_type").map(String::as_str),
        Some("Bearer")
    );
    let id_token = fragment.get("id_token").expect("an id_token");
    let access_token = fragment.get("access_token").expect("an access_token");

    let jwks: Value = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JWKS JSON");
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["kid"])
        .collect();

    let id_header = jwt_part(&browser, id_token, 0).await;
    let id_claims = jwt_part(&browser, id_token, 1).await;
    assert_eq!(id_header["alg"], "RS256", "{id_header}");
    assert!(kids.contains(&&id_header["kid"]), "{id_header} {jwks}");
    assert_eq!(id_claims["iss"], json!(issuer), "{id_claims}");
    assert_eq!(id_claims["aud"], CLIENT_ID, "{id_claims}");
    assert_eq!(id_claims["nonce"], "nonce-1", "{id_claims}");
    assert!(id_claims["at_hash"].is_string(), "at_hash: {id_claims}");
    assert_eq!(id_claims["sub"], ALICE.0, "{id_claims}");
    assert_eq!(id_claims["name"], "Alice Example", "{id_claims}");
    assert_eq!(id_claims["email"], ALICE.0, "{id_claims}");

    let at_header = jwt_part(&browser, access_token, 0).await;
    let at_claims = jwt_part(&browser, access_token, 1).await;
    assert_eq!(at_header["alg"], "RS256", "{at_header}");
    assert!(kids.contains(&&at_header["kid"]), "{at_header} {jwks}");
    assert_eq!(at_claims["iss"], json!(issuer), "{at_claims}");
    assert_eq!(at_claims["aud"], AUDIENCE, "{at_claims}");
    assert_eq!(at_claims["sub"], ALICE.0, "{at_claims}");
    assert_eq!(at_claims["client_id"], CLIENT_ID, "{at_claims}");
    let scope = at_claims["scope"].as_str().unwrap_or_default();
    assert!(
        scope.split(' ').any(|s| s == "read:appointments"),
        "{at_claims}"
    );
    browser.close().await.expect("close");
}

/// A user's whole visit: sign in through the provider's pages, the list from the API,
/// silent renewal, the profile (whose /userinfo the provider refuses), logout through the
/// provider's end_session_endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_signs_in_sees_the_list_renews_views_the_profile_and_logs_out() {
    let interop = Interop::start(None).await;
    let browser = interop.browser_with_console_log().await;

    // Sign in, from a deep link, through the provider's own login and consent pages.
    browser
        .goto(&format!("{}/appointments", interop.spa))
        .await
        .expect("open the app");
    click(&browser, "#sign-in").await;
    find(&browser, "input[name=login]").await;
    assert!(browser
        .current_url_string()
        .await
        .starts_with(&format!("{}/interaction/", interop.issuer)));
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;

    // The list, from the API, which accepted the provider's token.
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", interop.spa),
        "back at the deep link, no token in the address bar"
    );
    assert!(interop.api_requests.load(Ordering::SeqCst) > 0);
    // The callback fetched the keys where this provider's discovery says (remembered at
    // sign-in), not at Auth0's fixed path, which this provider does not serve.
    let fetched: Vec<String> = serde_json::from_value(
        browser
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                vec![],
            )
            .await
            .expect("resource timing"),
    )
    .expect("names");
    let jwks_uri = format!("{}/jwks", interop.issuer);
    assert!(fetched.contains(&jwks_uri), "{fetched:?}");
    assert!(
        !fetched
            .iter()
            .any(|url| url.ends_with("/.well-known/jwks.json")),
        "{fetched:?}"
    );
    let user = text_of(&browser, ".site-header .user-name").await;
    assert_eq!(user, "Alice Example");
    assert_ne!(stored_session(&browser).await, json!([null, null]));

    // The provider granted create:appointments: the form shows, and the API takes a POST.
    find(&browser, "#create-appointment input[name=title]")
        .await
        .send_keys("Interop check")
        .await
        .expect("type");
    browser
        .execute(
            "document.querySelector('#create-appointment input[name=start]').value = '2031-06-01T09:00';\
             document.querySelector('#create-appointment input[name=end]').value = '2031-06-01T09:30';",
            vec![],
        )
        .await
        .expect("set the times");
    click(&browser, "#create-appointment button[type=submit]").await;
    wait_or_explain(
        &interop,
        &browser,
        "the new appointment is listed",
        || async {
            match browser.find(Locator::Css("#appointments-list")).await {
                Ok(list) => list.text().await.is_ok_and(|t| t.contains("Interop check")),
                Err(_) => false,
            }
        },
    )
    .await;

    // The inspector: the access token is the provider's JWT for the API.
    click(&browser, "nav a[href='/tokens']").await;
    let claims = text_of(&browser, "#access-token-claims").await;
    assert!(claims.contains(AUDIENCE), "{claims}");
    assert!(
        claims.contains(&format!("\"{}\"", interop.issuer)),
        "iss without a trailing slash: {claims}"
    );

    // Silent renewal, on demand: the provider answers prompt=none in the hidden iframe.
    let first = stored_issued_at(&browser).await.expect("a stored session");
    click(&browser, "#renew-now").await;
    wait_or_explain(&interop, &browser, "the session was renewed", || async {
        stored_issued_at(&browser).await.is_some_and(|t| t > first)
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", interop.spa)
    );
    // Its iframe's request to /auth is in the app's Resource Timing (what the code flow's
    // tests count to show that they renew without one).
    let iframes = authorization_requests(&browser, &interop).await;
    assert_eq!(iframes.len(), 1, "{iframes:?}");
    assert!(iframes[0].contains("prompt=none"), "{iframes:?}");

    // The profile: the ID token's claims show; the provider's /userinfo refuses an access
    // token that has an audience, and the page says so instead of breaking.
    click(&browser, "nav a[href='/profile']").await;
    let from_id_token = text_of(&browser, "#profile-id-token-claims").await;
    assert!(
        from_id_token.contains("Alice Example") && from_id_token.contains(ALICE.0),
        "{from_id_token}"
    );
    let refusal = text_of(&browser, "#profile-userinfo [role=alert]").await;
    assert!(refusal.contains("/userinfo"), "{refusal}");
    assert!(refusal.contains("userinfo_401_invalid_token"), "{refusal}");
    assert!(
        browser
            .find(Locator::Css("#profile-userinfo-claims"))
            .await
            .is_err(),
        "no /userinfo claims are shown"
    );
    // The page stays usable: the app navigates on, still signed in.
    click(&browser, "nav a[href='/appointments']").await;
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");

    // Logout through the provider's end_session_endpoint, which always asks first.
    click(&browser, "#sign-out").await;
    find(&browser, "button[name=logout][value=yes]").await;
    assert!(browser
        .current_url_string()
        .await
        .starts_with(&format!("{}/session/end", interop.issuer)));
    confirm_logout_at_provider(&interop, &browser).await;

    assert_no_csp_violation(&interop, &browser).await;
    browser.close().await.expect("close");
}

/// Short-lived tokens from the provider are renewed before they expire, in the hidden
/// iframe, and the list keeps loading with the renewed token.
#[tokio::test(flavor = "multi_thread")]
async fn short_lived_provider_tokens_are_renewed_silently() {
    let interop = Interop::start(Some(6)).await;
    let browser = interop.browser_with_console_log().await;
    sign_in_from_the_list(&interop, &browser).await;
    find(&browser, "#appointments-list").await;
    let first = stored_issued_at(&browser).await.expect("a stored session");
    let requests = interop.api_requests.load(Ordering::SeqCst);

    // Tokens live 6 s and are renewed a quarter early: two renewals within ~9 s.
    wait_or_explain(
        &interop,
        &browser,
        "the session was renewed twice",
        || async {
            stored_issued_at(&browser)
                .await
                .is_some_and(|t| t > first + 5_000)
        },
    )
    .await;
    wait_until("the list was reloaded with a renewed token", || async {
        interop.api_requests.load(Ordering::SeqCst) > requests
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", interop.spa)
    );
    browser.close().await.expect("close");
}

/// The provider's side of the code flow alone, without the app's code: discovery
/// advertises it, an authorization request without PKCE is refused, the code is exchanged
/// (from the app's origin, by CORS) only with the right verifier, for a JWT access token for
/// the API and a refresh token although the request had no `prompt=consent`; a refresh
/// rotates the refresh token and keeps the API as the audience; revocation ends it; a
/// rotated-away token and the spent code are refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_provider_runs_the_code_flow_with_pkce_refresh_rotation_and_revocation() {
    let interop = Interop::start_without_api().await;
    let issuer = &interop.issuer;
    let discovery = interop.discovery().await;
    let has = |field: &str, value: &str| {
        discovery[field]
            .as_array()
            .is_some_and(|values| values.contains(&json!(value)))
    };
    assert!(has("response_types_supported", "code"), "{discovery}");
    assert!(
        has("code_challenge_methods_supported", "S256"),
        "{discovery}"
    );
    assert!(has("grant_types_supported", "refresh_token"), "{discovery}");
    assert!(
        has("token_endpoint_auth_methods_supported", "none"),
        "{discovery}"
    );
    for endpoint in ["token_endpoint", "revocation_endpoint"] {
        let url = discovery[endpoint].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{issuer}/")), "{endpoint}: {url}");
    }

    let landing = format!("{}/silent-callback.html", interop.spa);
    let authorize = |challenge: Option<&str>| {
        let mut url = url::Url::parse(discovery["authorization_endpoint"].as_str().unwrap())
            .expect("authorization_endpoint");
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &landing)
            .append_pair("scope", CODE_FLOW_SCOPE)
            .append_pair("state", "state-1")
            .append_pair("nonce", "nonce-1")
            .append_pair("audience", AUDIENCE);
        if let Some(challenge) = challenge {
            url.query_pairs_mut()
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
        url
    };

    // Without a code_challenge: refused, back at the redirect URI.
    let refused = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(authorize(None).as_str())
        .send()
        .await
        .expect("authorize without PKCE");
    let location = refused
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        location.starts_with(&landing) && location.contains("error=invalid_request"),
        "{} {location}",
        refused.status()
    );
    assert!(location.contains("PKCE"), "{location}");

    // RFC 7636's example verifier and its S256 challenge.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let browser = interop.browser().await;
    browser
        .goto(authorize(Some(challenge)).as_str())
        .await
        .expect("authorize");
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;
    let back = url::Url::parse(&browser.current_url_string().await).expect("a URL");
    assert_eq!(back.path(), "/silent-callback.html", "{back}");
    let query: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(query.get("state").map(String::as_str), Some("state-1"));
    assert_eq!(query.get("iss"), Some(issuer), "RFC 9207: {back}");
    assert!(back.fragment().is_none(), "{back}");
    let code = query.get("code").expect("a code");

    let exchange = |verifier: &'static str| {
        [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier),
            ("redirect_uri", landing.as_str()),
        ]
    };
    let (status, _, body) = interop
        .post_form(
            "token_endpoint",
            &exchange("wrong-verifier-wrong-verifier-wrong-verifier"),
        )
        .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    let (status, allowed, tokens) = interop
        .post_form("token_endpoint", &exchange(verifier))
        .await;
    assert_eq!(status, 200, "{tokens}\n{}", interop.provider_log());
    assert_eq!(allowed.as_deref(), Some(interop.spa.as_str()), "CORS");
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    let first_refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a refresh token without prompt=consent: {tokens}"))
        .to_string();
    let id_claims = jwt_part(&browser, tokens["id_token"].as_str().expect("id_token"), 1).await;
    assert_eq!(id_claims["nonce"], "nonce-1", "{id_claims}");
    assert_eq!(id_claims["iss"], json!(issuer), "{id_claims}");
    let at_claims = jwt_part(
        &browser,
        tokens["access_token"].as_str().expect("access_token"),
        1,
    )
    .await;
    assert_eq!(at_claims["aud"], AUDIENCE, "{at_claims}");

    // A refresh rotates the refresh token; the new access token is still the API's JWT.
    let (status, refreshed) = interop.refresh_outside(&first_refresh).await;
    assert_eq!(status, 200, "{refreshed}\n{}", interop.provider_log());
    let second_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("a rotated refresh token")
        .to_string();
    assert_ne!(second_refresh, first_refresh, "rotated");
    let at_claims = jwt_part(
        &browser,
        refreshed["access_token"].as_str().expect("access_token"),
        1,
    )
    .await;
    assert_eq!(at_claims["aud"], AUDIENCE, "{at_claims}");
    assert_eq!(at_claims["sub"], ALICE.0, "{at_claims}");
    let id_claims = jwt_part(
        &browser,
        refreshed["id_token"].as_str().expect("id_token"),
        1,
    )
    .await;
    assert_eq!(id_claims["sub"], ALICE.0, "{id_claims}");

    // Revocation, from the app's origin: the token then no longer refreshes.
    let (status, allowed, body) = interop
        .post_form(
            "revocation_endpoint",
            &[
                ("token", second_refresh.as_str()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(allowed.as_deref(), Some(interop.spa.as_str()), "CORS");
    let (status, body) = interop.refresh_outside(&second_refresh).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    // And the rotated-away one was spent.
    let (status, body) = interop.refresh_outside(&first_refresh).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    // The code was spent at the exchange (a replay also revokes its grant).
    let (status, _, body) = interop
        .post_form("token_endpoint", &exchange(verifier))
        .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    browser.close().await.expect("close");
}

/// The whole visit in the code flow: sign-in through the provider's pages (PKCE, the
/// code exchanged by the app), the list from the API with the provider's JWT, renewal on
/// demand with a rotated refresh token and no iframe, and logout: the refresh token revoked
/// at the provider's `revocation_endpoint`, then its end_session confirmation form.
#[tokio::test(flavor = "multi_thread")]
async fn in_the_code_flow_a_user_signs_in_renews_with_a_rotated_refresh_token_and_logs_out() {
    let interop = Interop::start_code_flow(None).await;
    let browser = interop.browser_with_console_log().await;
    browser
        .goto(&format!("{}/appointments", interop.spa))
        .await
        .expect("open the app");
    click(&browser, "#sign-in").await;
    find(&browser, "input[name=login]").await;
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;

    wait_for_the_seeded_list(&interop, &browser).await;
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", interop.spa),
        "back at the deep link, no code in the address bar"
    );
    assert!(interop.api_requests.load(Ordering::SeqCst) > 0);
    let first = stored_refresh_token(&browser)
        .await
        .expect("a refresh token, from offline_access");
    let session = stored(&browser).await.expect("a stored session");
    let at_claims = jwt_part(
        &browser,
        session["access_token"].as_str().expect("an access token"),
        1,
    )
    .await;
    assert_eq!(at_claims["aud"], AUDIENCE, "{at_claims}");
    assert_eq!(
        token_requests(&browser, &interop).await.len(),
        1,
        "the exchange"
    );
    let user = text_of(&browser, ".site-header .user-name").await;
    assert_eq!(user, "Alice Example");

    // Renewal on demand: a refresh at the token endpoint, rotating the refresh token.
    click(&browser, "nav a[href='/tokens']").await;
    click(&browser, "#renew-now").await;
    wait_or_explain(
        &interop,
        &browser,
        "the refresh token was rotated",
        || async {
            stored_refresh_token(&browser)
                .await
                .is_some_and(|now| now != first)
        },
    )
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    assert_eq!(token_requests(&browser, &interop).await.len(), 2);
    let iframes = authorization_requests(&browser, &interop).await;
    assert!(iframes.is_empty(), "no iframe after sign-in: {iframes:?}");
    let renewed = stored(&browser).await.expect("the renewed session");
    let at_claims = jwt_part(
        &browser,
        renewed["access_token"].as_str().expect("an access token"),
        1,
    )
    .await;
    assert_eq!(
        at_claims["aud"], AUDIENCE,
        "still the API's JWT: {at_claims}"
    );
    let claims = text_of(&browser, "#access-token-claims").await;
    assert!(claims.contains(AUDIENCE), "{claims}");

    // The API takes the refreshed token.
    let requests = interop.api_requests.load(Ordering::SeqCst);
    click(&browser, "nav a[href='/appointments']").await;
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");
    assert!(interop.api_requests.load(Ordering::SeqCst) > requests);

    // Logout: the refresh token is revoked before the browser leaves for end_session, whose
    // confirmation form the provider shows.
    let current = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");
    let id_token = stored(&browser).await.expect("a session")["id_token"]
        .as_str()
        .map(str::to_string)
        .expect("an ID token");
    let sid = jwt_part(&browser, &id_token, 1).await["sid"].clone();
    click(&browser, "#sign-out").await;
    find(&browser, "button[name=logout][value=yes]").await;
    let end_session = url::Url::parse(&browser.current_url_string().await).expect("a URL");
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/session/end", interop.issuer)),
        "{end_session}"
    );
    let params: std::collections::HashMap<String, String> =
        end_session.query_pairs().into_owned().collect();
    assert_eq!(params.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        params.get("post_logout_redirect_uri"),
        Some(&format!("{}/", interop.spa))
    );
    assert!(!params.contains_key("id_token_hint"), "{end_session}");
    assert_eq!(
        params.get("logout_hint").map(|s| json!(s)),
        sid.is_string().then_some(sid.clone()),
        "logout_hint is the ID token's sid, if it has one: {end_session}"
    );
    // Still at the provider's form, its session not yet ended: only the app's revocation
    // can have ended the refresh token.
    let (status, body) = interop.refresh_outside(&current).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "revoked at logout: {body}\n{}",
        interop.provider_log()
    );
    confirm_logout_at_provider(&interop, &browser).await;

    assert_no_csp_violation(&interop, &browser).await;
    browser.close().await.expect("close");
}

/// 6-second tokens in the code flow: renewed before they expire by rotating refresh tokens,
/// with no iframe, while the list keeps loading. A rotated-away refresh token used again
/// (as a thief would) makes the provider revoke the grant: the app's next renewal is
/// refused, and it ends the session with the **Sign in again** banner.
#[tokio::test(flavor = "multi_thread")]
async fn in_the_code_flow_short_lived_tokens_are_renewed_by_rotating_refresh_tokens() {
    let interop = Interop::start_code_flow(Some(6)).await;
    let browser = interop.browser_with_console_log().await;
    sign_in_from_the_list(&interop, &browser).await;
    wait_for_the_seeded_list(&interop, &browser).await;
    let first = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");
    let requests = interop.api_requests.load(Ordering::SeqCst);

    // Renewed a quarter early: two refreshes within ~9 s, each rotating.
    let seen = std::sync::Mutex::new(vec![first.clone()]);
    wait_or_explain(
        &interop,
        &browser,
        "two refreshes, each rotating the refresh token",
        || async {
            let now = stored_refresh_token(&browser).await;
            let mut seen = seen.lock().expect("seen");
            if let Some(now) = now {
                if !seen.contains(&now) {
                    seen.push(now);
                }
            }
            seen.len() >= 3
        },
    )
    .await;
    assert!(token_requests(&browser, &interop).await.len() >= 3);
    let iframes = authorization_requests(&browser, &interop).await;
    assert!(iframes.is_empty(), "no iframe after sign-in: {iframes:?}");
    wait_until("the list was reloaded with a renewed token", || async {
        interop.api_requests.load(Ordering::SeqCst) > requests
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));

    // The first refresh token, rotated away, used again: refused, and the grant revoked.
    let (status, body) = interop.refresh_outside(&first).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    wait_or_explain(
        &interop,
        &browser,
        "the next renewal was refused with the banner",
        || async {
            match browser.find(Locator::Css("#renewal-failed")).await {
                Ok(banner) => banner
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("invalid_grant")),
                Err(_) => false,
            }
        },
    )
    .await;
    assert_eq!(
        stored_session(&browser).await,
        json!([null, null]),
        "the dead refresh token is not kept"
    );
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", interop.spa),
        "the page stays"
    );
    browser.close().await.expect("close");
}

/// DPoP against the provider: it binds the tokens to the browser's key (`token_type: DPoP`,
/// `cnf.jkt` in its JWT access tokens, which our API then demands proofs for) and requires a
/// nonce in every proof, so each first token request is answered `use_dpop_nonce` and the
/// app's one retry with the provider's `DPoP-Nonce` must succeed.
#[tokio::test(flavor = "multi_thread")]
async fn with_dpop_the_provider_binds_the_tokens_and_its_nonces_are_answered() {
    let interop = Interop::start_dpop().await;
    let discovery = interop.discovery().await;
    assert!(
        discovery["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|algs| algs.contains(&json!("ES256"))),
        "{discovery}"
    );
    let browser = interop.browser_with_console_log().await;
    sign_in_from_the_list(&interop, &browser).await;
    wait_for_the_seeded_list(&interop, &browser).await;
    assert_eq!(
        token_requests(&browser, &interop).await.len(),
        2,
        "the exchange, refused for want of a nonce, then retried with it"
    );
    let session = stored(&browser).await.expect("a stored session");
    let token = session["access_token"]
        .as_str()
        .expect("an access token")
        .to_string();
    let at_claims = jwt_part(&browser, &token, 1).await;
    let jkt = at_claims["cnf"]["jkt"]
        .as_str()
        .unwrap_or_else(|| panic!("bound by the provider: {at_claims}"))
        .to_string();

    // Our API takes the provider's bound token only with this browser's proofs.
    let url = format!("{}/api/appointments", interop.api);
    let as_bearer = reqwest::Client::new()
        .get(&url)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(as_bearer.status().as_u16(), 401);

    // Renewal: a refresh with a proof (and the nonce it has), bound to the same key.
    click(&browser, "nav a[href='/tokens']").await;
    let binding = text_of(&browser, "#token-binding").await;
    assert!(binding.contains(&jkt), "{binding}");
    assert!(binding.contains("this browser's key"), "{binding}");
    click(&browser, "#renew-now").await;
    wait_or_explain(&interop, &browser, "the session was refreshed", || async {
        stored(&browser)
            .await
            .is_some_and(|s| s["access_token"] != json!(token))
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    let renewed = stored(&browser).await.expect("the renewed session");
    let renewed_claims = jwt_part(
        &browser,
        renewed["access_token"].as_str().expect("an access token"),
        1,
    )
    .await;
    assert_eq!(renewed_claims["cnf"]["jkt"], json!(jkt), "{renewed_claims}");
    let requests = interop.api_requests.load(Ordering::SeqCst);
    click(&browser, "nav a[href='/appointments']").await;
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");
    assert!(interop.api_requests.load(Ordering::SeqCst) > requests);
    assert_no_csp_violation(&interop, &browser).await;
    browser.close().await.expect("close");
}

/// The requests this document made (Resource Timing) whose URL, without its query, is
/// `endpoint`: a hidden iframe's navigation counts as one.
async fn requests_to_endpoint(browser: &Client, endpoint: &str) -> Vec<String> {
    let names = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)\
               .filter(n => n.split('?')[0] === arguments[0])",
            vec![json!(endpoint)],
        )
        .await
        .expect("resource timing");
    serde_json::from_value(names).unwrap_or_default()
}

/// Requests to the provider's token endpoint (not its revocation endpoint).
async fn token_requests(browser: &Client, interop: &Interop) -> Vec<String> {
    let discovery = interop.discovery().await;
    requests_to_endpoint(
        browser,
        discovery["token_endpoint"]
            .as_str()
            .expect("token_endpoint"),
    )
    .await
}

/// Requests to the provider's authorization endpoint (`/auth`) from this document, as
/// silent renewal's iframe would make.
async fn authorization_requests(browser: &Client, interop: &Interop) -> Vec<String> {
    let discovery = interop.discovery().await;
    let endpoint = discovery["authorization_endpoint"]
        .as_str()
        .expect("authorization_endpoint");
    assert_eq!(endpoint, format!("{}/auth", interop.issuer));
    requests_to_endpoint(browser, endpoint).await
}

async fn page_text(browser: &Client) -> String {
    browser
        .execute(
            "return document.body ? document.body.innerText : ''",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Polls `condition` for up to [`WAIT`]; on a timeout, fails with the page's text and
/// Chromium's console (the browser must come from `browser_with_console_log`).
async fn wait_or_explain<F, Fut>(interop: &Interop, browser: &Client, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + WAIT;
    while !condition().await {
        if std::time::Instant::now() > deadline {
            panic!(
                "timed out after {WAIT:?} waiting until {what}\npage text: {}\nconsole:\n{}",
                page_text(browser).await,
                interop.browser_log(browser).await.join("\n")
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Opens `/appointments` signed out and signs in as Alice at the provider's pages.
async fn sign_in_from_the_list(interop: &Interop, browser: &Client) {
    browser
        .goto(&format!("{}/appointments", interop.spa))
        .await
        .expect("open the app");
    click(browser, "#sign-in").await;
    sign_in_at_provider(browser, interop, ALICE.0, ALICE.1).await;
}

/// Waits for the appointments list (explaining what the page shows if it does not come)
/// and checks that it holds the API's sample appointments.
async fn wait_for_the_seeded_list(interop: &Interop, browser: &Client) {
    wait_or_explain(interop, browser, "the list is shown", || async {
        browser
            .find(Locator::Css("#appointments-list"))
            .await
            .is_ok()
    })
    .await;
    let list = text_of(browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");
}

/// At the provider's logout form: confirms, lands signed out at the app, and the provider's
/// session has ended too (signing in again asks for the login).
async fn confirm_logout_at_provider(interop: &Interop, browser: &Client) {
    click(browser, "button[name=logout][value=yes]").await;
    assert_signed_out_at(browser, &format!("{}/", interop.spa)).await;
    click(browser, "#sign-in").await;
    find(browser, "input[name=login]").await;
}

/// The app's Content-Security-Policy names the provider: nothing was blocked.
async fn assert_no_csp_violation(interop: &Interop, browser: &Client) {
    let blocked: Vec<String> = interop
        .browser_log(browser)
        .await
        .into_iter()
        .filter(|line| line.contains("Content Security Policy"))
        .collect();
    assert!(blocked.is_empty(), "{blocked:#?}");
}
