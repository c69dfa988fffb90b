//! The tenant is safe to run on a shared host: sign-ins are bound to the browser that
//! started them (login CSRF), floods do not lock users out, parameters have length
//! limits, and password guessing is throttled.

mod common;

use common::*;

const ALICE: (&str, &str) = ("alice@example.com", "alice-password-1");
const BOB: (&str, &str) = ("bob@example.com", "bob-password-1");

/// Logs `user` in on `tx` from a browser holding `jar`, accepts consent; the callback
/// fragment.
async fn finish(
    t: &Tenant,
    tx: &str,
    jar: &str,
    (user, password): (&str, &str),
) -> std::collections::HashMap<String, String> {
    let resp = t.login(tx, jar, user, password).await;
    assert_eq!(resp.status(), 303, "login");
    let jar = jar_after(jar, &resp);
    let resp = t.decide(tx, &jar, "accept").await;
    assert_eq!(resp.status(), 302, "consent");
    let (base, f) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    f
}

fn assert_refused(resp: &reqwest::Response, status: u16) {
    assert_eq!(resp.status(), status);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.headers().get("set-cookie").is_none(), "no session");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn authorize_sets_the_browser_cookie() {
    let t = start().await;
    let resp = t.authorize(&params(&[])).await;
    let cookie = set_cookie(&resp, "dev_tenant_browser").expect("a browser cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "http issuer: {cookie}");
    // The same browser keeps its id, so sign-ins in two tabs both work.
    let jar = jar_after("", &resp);
    let first_tx = tx_of(&resp.text().await.unwrap());
    let second = t.get_with(&authorize_path(&params(&[])), &jar).await;
    assert_eq!(jar_after(&jar, &second), jar, "the same id again");
    let second_tx = tx_of(&second.text().await.unwrap());
    finish(&t, &first_tx, &jar, ALICE).await;
    let f = finish(&t, &second_tx, &jar, BOB).await;
    assert!(f.contains_key("access_token"));

    // An https issuer makes both cookies Secure.
    let t = start_with(|_| dev_tenant::Settings::demo("https://tenant.example/").unwrap()).await;
    let resp = t.authorize(&params(&[])).await;
    let cookie = set_cookie(&resp, "dev_tenant_browser").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let jar = jar_after("", &resp);
    let tx = tx_of(&resp.text().await.unwrap());
    let resp = t.login(&tx, &jar, ALICE.0, ALICE.1).await;
    let cookie = set_cookie(&resp, "dev_tenant_session").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

fn authorize_path(params: &[(String, String)]) -> String {
    format!(
        "authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    )
}

#[tokio::test]
async fn a_sign_in_cannot_be_finished_in_another_browser() {
    let t = start().await;
    // The attacker starts a sign-in in their own browser...
    let (tx, attacker_jar) = t.start_sign_in(&params(&[])).await;
    // ...and makes the victim's browser (its own browser cookie, or none) post it with
    // the attacker's credentials.
    let (_, victim_jar) = t.start_sign_in(&params(&[])).await;
    assert_ne!(attacker_jar, victim_jar);
    for jar in ["", victim_jar.as_str(), "dev_tenant_browser=made-up"] {
        let resp = t.login(&tx, jar, BOB.0, BOB.1).await;
        assert_refused(&resp, 403);
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("started in another browser"));
        let resp = t.get_with(&format!("u/login?tx={tx}"), jar).await;
        assert_refused(&resp, 403);
    }
    // The sign-in still works in the browser that started it.
    let f = finish(&t, &tx, &attacker_jar, BOB).await;
    assert!(f.contains_key("access_token"));
}

#[tokio::test]
async fn consent_comes_only_from_the_session_that_signed_in() {
    let t = start().await;
    let (tx, jar) = t.start_sign_in(&params(&[])).await;
    let resp = t.login(&tx, &jar, ALICE.0, ALICE.1).await;
    assert_eq!(resp.status(), 303);
    let signed_in = jar_after(&jar, &resp);
    let browser_only = jar.clone();
    let session_only = signed_in
        .split("; ")
        .find(|c| c.starts_with("dev_tenant_session="))
        .unwrap()
        .to_string();
    // Bob's session, from another browser, with alice's browser cookie.
    let (_, bob_jar) = t.to_consent(&params(&[]), BOB.0, BOB.1).await;
    let bob_session = bob_jar
        .split("; ")
        .find(|c| c.starts_with("dev_tenant_session="))
        .unwrap();
    let mixed = format!("{browser_only}; {bob_session}");
    for (jar, status) in [
        (browser_only.as_str(), 403),
        (session_only.as_str(), 403),
        (mixed.as_str(), 403),
    ] {
        let resp = t.decide(&tx, jar, "accept").await;
        assert_refused(&resp, status);
        let resp = t.get_with(&format!("u/consent?tx={tx}"), jar).await;
        assert_refused(&resp, status);
    }
    // The refusals did not use the transaction up.
    let resp = t.decide(&tx, &signed_in, "accept").await;
    assert_eq!(resp.status(), 302);
    let (_, f) = fragment(&location(&resp).unwrap());
    assert!(f.contains_key("id_token"));
}

#[tokio::test]
async fn a_flood_from_one_address_does_not_lock_others_out() {
    let t = start().await;
    // A user from another address is half-way through signing in.
    let user = t.reached_from("127.0.0.2");
    let (waiting_tx, waiting_jar) = user.start_sign_in(&params(&[])).await;
    // The flooder's first transaction, then 10,000 more, all cookieless.
    let (first_flood_tx, first_flood_jar) = t.start_sign_in(&params(&[])).await;
    let mut tasks = tokio::task::JoinSet::new();
    const TASKS: usize = 8;
    const FLOOD: usize = 10_000;
    for _ in 0..TASKS {
        let http = t.http.clone();
        let url = t.url(&authorize_path(&params(&[])));
        tasks.spawn(async move {
            for _ in 0..FLOOD / TASKS {
                let resp = http.get(&url).send().await.unwrap();
                assert_eq!(resp.status(), 200, "new sign-ins are never refused");
                resp.bytes().await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // The waiting user finishes; a new user from a third address signs in.
    let f = finish(&user, &waiting_tx, &waiting_jar, ALICE).await;
    assert!(f.contains_key("access_token"));
    let other = t.reached_from("127.0.0.3");
    let f = other.sign_in(&params(&[]), BOB.0, BOB.1).await;
    assert!(f.contains_key("access_token"));
    // The flooding address can still sign in too: its own oldest transaction made room.
    let f = t.sign_in(&params(&[]), BOB.0, BOB.1).await;
    assert!(f.contains_key("access_token"));
    let resp = t
        .get_with(&format!("u/login?tx={first_flood_tx}"), &first_flood_jar)
        .await;
    assert_eq!(
        resp.status(),
        400,
        "evicted: the address's cap is below 10,000"
    );
    assert!(resp.text().await.unwrap().contains("Sign-in expired"));
}

#[tokio::test]
async fn five_failed_logins_throttle_that_user_from_that_address() {
    let t = start().await;
    let (tx, jar) = t.start_sign_in(&params(&[])).await;
    for i in 0..5 {
        let resp = t.login(&tx, &jar, ALICE.0, &format!("guess-{i}")).await;
        assert_eq!(resp.status(), 401, "attempt {i}");
    }
    // The sixth attempt is refused, even with the right password (case of the email
    // does not matter).
    for password in ["guess-5", ALICE.1] {
        let resp = t.login(&tx, &jar, "Alice@Example.com", password).await;
        assert_refused(&resp, 429);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Too many failed attempts"), "{html}");
        assert_eq!(tx_of(&html), tx, "the form stays");
    }
    // Other users from this address are unaffected...
    let resp = t.login(&tx, &jar, BOB.0, "wrong").await;
    assert_eq!(resp.status(), 401);
    let (bob_tx, bob_jar) = t.start_sign_in(&params(&[])).await;
    finish(&t, &bob_tx, &bob_jar, BOB).await;
    // ...and so is alice from another address.
    let elsewhere = t.reached_from("127.0.0.2");
    let (tx, jar) = elsewhere.start_sign_in(&params(&[])).await;
    let f = finish(&elsewhere, &tx, &jar, ALICE).await;
    assert!(f.contains_key("access_token"));
}

#[tokio::test]
async fn over_long_parameters_are_refused() {
    let t = start().await;
    let long = |n: usize| "x".repeat(n);
    // Before the redirect URI is trusted, or when echoing is the problem: the error page.
    for (name, max) in [("client_id", 256), ("redirect_uri", 2048), ("state", 2048)] {
        let value = long(max + 1);
        let resp = t.authorize(&params(&[(name, &value)])).await;
        assert_refused(&resp, 400);
        let html = resp.text().await.unwrap();
        assert!(html.contains(&format!("{name} is too long")), "{html}");
    }
    let huge = long(17 * 1024);
    let resp = t.authorize(&params(&[("login_hint", &huge)])).await;
    assert_refused(&resp, 400);
    // The others: invalid_request on the callback, state echoed.
    for (name, max) in [
        ("scope", 1024),
        ("audience", 512),
        ("nonce", 512),
        ("prompt", 64),
        ("response_type", 64),
    ] {
        let value = long(max + 1);
        let resp = t.authorize(&params(&[(name, &value)])).await;
        assert_eq!(resp.status(), 302, "{name}");
        let (_, f) = fragment(&location(&resp).unwrap());
        assert_eq!(f["error"], "invalid_request", "{name}");
        assert_eq!(
            f["error_description"],
            format!("{name} is too long (at most {max} bytes)")
        );
        assert_eq!(f["state"], "st 1&x=y");
        // At the limit, fine (a long scope of unknown words is simply not granted).
        if name == "scope" {
            let at_limit = format!("openid {}", long(max - 7));
            let resp = t.authorize(&params(&[(name, &at_limit)])).await;
            assert_eq!(resp.status(), 200);
        }
    }
    // The login form: a clear 400 that keeps the form, and no throttle entry.
    let (tx, jar) = t.start_sign_in(&params(&[])).await;
    for (user, password) in [
        (long(321), "pw".to_string()),
        (ALICE.0.to_string(), long(1025)),
    ] {
        let resp = t.login(&tx, &jar, &user, &password).await;
        assert_refused(&resp, 400);
        assert!(resp.text().await.unwrap().contains("too long"));
    }
    finish(&t, &tx, &jar, ALICE).await;
    // Logout parameters.
    for (name, max) in [
        ("post_logout_redirect_uri", 2048),
        ("logout_hint", 256),
        ("state", 2048),
        ("client_id", 256),
    ] {
        let value = long(max + 1);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(name, &value)
            .finish();
        let resp = t.get_with(&format!("oidc/logout?{query}"), "").await;
        assert_eq!(resp.status(), 400, "{name}");
        assert!(resp.headers().get("location").is_none());
    }
}
