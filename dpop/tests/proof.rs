//! One proof against one request: each rule of RFC 9449 §4.3 broken alone.

use dpop::{check, thumbprint, ProofError, ReplayCache, Request, Rules, Signer};
use serde_json::json;

const URL: &str = "https://api.example.com/api/appointments";
const NOW: u64 = 1_800_000_000;

fn request<'a>(token: Option<&'a str>) -> Request<'a> {
    Request {
        method: "GET",
        url: URL,
        access_token: token,
        nonce: None,
        now: NOW,
    }
}

fn header(signer: &Signer) -> serde_json::Value {
    json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": signer.jwk() })
}

fn claims() -> serde_json::Value {
    json!({ "htm": "GET", "htu": URL, "iat": NOW, "jti": "one" })
}

#[test]
fn a_valid_proof_gives_the_keys_thumbprint() {
    let signer = Signer::generate();
    let proof = signer.proof("GET", URL, NOW, Some("tok"), None);
    let checked = check(&proof, &request(Some("tok")), &Rules::default()).expect("valid");
    assert_eq!(checked.jkt, signer.jkt());
    assert_eq!(checked.iat, NOW);
    assert_ne!(
        checked.jti,
        check(
            &signer.proof("GET", URL, NOW, Some("tok"), None),
            &request(Some("tok")),
            &Rules::default()
        )
        .expect("valid")
        .jti,
        "each proof has its own jti"
    );
}

#[test]
fn the_thumbprint_is_rfc_7638s() {
    // RFC 7638 has no EC example; the expected value was computed apart from this crate
    // (Python's hashlib over {"crv":"P-256","kty":"EC","x":…,"y":…}).
    let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    assert_eq!(
        thumbprint(x, y),
        "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
    );
}

#[test]
fn the_url_is_compared_without_query_and_after_normalisation() {
    let signer = Signer::generate();
    for htu in [
        "https://API.example.com:443/api/appointments",
        "https://api.example.com/api/appointments?x=1#y",
    ] {
        let proof = signer.proof("GET", htu, NOW, None, None);
        assert!(
            check(&proof, &request(None), &Rules::default()).is_ok(),
            "{htu}"
        );
    }
    for htu in [
        "http://api.example.com/api/appointments",
        "https://api.example.com:8443/api/appointments",
        "https://api.example.com/api/appointments/",
        "https://evil.example.com/api/appointments",
        "not a url",
    ] {
        let proof = signer.proof("GET", htu, NOW, None, None);
        assert_eq!(
            check(&proof, &request(None), &Rules::default()),
            Err(ProofError::Url),
            "{htu}"
        );
    }
}

#[test]
fn each_broken_rule_is_named() {
    let signer = Signer::generate();
    let other = Signer::generate();
    let rules = Rules::default();
    let with = |h: serde_json::Value, c: serde_json::Value| signer.sign(&h, &c);
    let claims_with = |k: &str, v: serde_json::Value| {
        let mut c = claims();
        c[k] = v;
        c
    };
    let cases: Vec<(&str, String, ProofError)> = vec![
        (
            "wrong typ",
            with(
                json!({"typ": "JWT", "alg": "ES256", "jwk": signer.jwk()}),
                claims(),
            ),
            ProofError::Type,
        ),
        (
            "alg none",
            with(
                json!({"typ": "dpop+jwt", "alg": "none", "jwk": signer.jwk()}),
                claims(),
            ),
            ProofError::Algorithm("none".into()),
        ),
        (
            "alg HS256",
            with(
                json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": signer.jwk()}),
                claims(),
            ),
            ProofError::Algorithm("HS256".into()),
        ),
        (
            "no jwk",
            with(json!({"typ": "dpop+jwt", "alg": "ES256"}), claims()),
            ProofError::Key("is missing"),
        ),
        (
            "private jwk",
            with(
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty":"EC","crv":"P-256","x":signer.jwk()["x"],"y":signer.jwk()["y"],"d":"AAAA"}}),
                claims(),
            ),
            ProofError::Key("contains a private key"),
        ),
        (
            "another key's jwk",
            with(header(&other), claims()),
            ProofError::Signature,
        ),
        (
            "another method",
            with(header(&signer), claims_with("htm", json!("POST"))),
            ProofError::Method,
        ),
        (
            "stale iat",
            with(header(&signer), claims_with("iat", json!(NOW - 301))),
            ProofError::IssuedAt("is too old"),
        ),
        (
            "future iat",
            with(header(&signer), claims_with("iat", json!(NOW + 61))),
            ProofError::IssuedAt("is in the future"),
        ),
        (
            "iat as text",
            with(header(&signer), claims_with("iat", json!("now"))),
            ProofError::IssuedAt("is missing or not a number of seconds"),
        ),
        (
            "no jti",
            with(header(&signer), json!({"htm":"GET","htu":URL,"iat":NOW})),
            ProofError::Malformed("jti is missing"),
        ),
        (
            "not a JWS",
            "a.b".into(),
            ProofError::Malformed("not a JWS in compact form"),
        ),
        (
            "garbage header",
            "!!.e30.AA".into(),
            ProofError::Malformed("the header is not base64url JSON"),
        ),
    ];
    for (what, proof, expected) in cases {
        assert_eq!(
            check(&proof, &request(None), &rules),
            Err(expected),
            "{what}"
        );
    }
}

#[test]
fn ath_must_be_the_hash_of_the_token_sent() {
    let signer = Signer::generate();
    let rules = Rules::default();
    let missing = signer.proof("GET", URL, NOW, None, None);
    let other = signer.proof("GET", URL, NOW, Some("another"), None);
    for proof in [missing, other] {
        assert_eq!(
            check(&proof, &request(Some("tok")), &rules),
            Err(ProofError::AccessTokenHash)
        );
    }
}

#[test]
fn a_demanded_nonce_must_be_in_the_proof() {
    let signer = Signer::generate();
    let rules = Rules::default();
    let mut req = request(None);
    req.nonce = Some("n-1");
    let without = signer.proof("GET", URL, NOW, None, None);
    let err = check(&without, &req, &rules).expect_err("no nonce");
    assert_eq!(
        (err.clone(), err.code()),
        (ProofError::Nonce, "use_dpop_nonce")
    );
    assert!(check(
        &signer.proof("GET", URL, NOW, None, Some("n-1")),
        &req,
        &rules
    )
    .is_ok());
}

#[test]
fn the_replay_cache_refuses_a_second_use_and_stays_bounded() {
    let cache = ReplayCache::new(3);
    assert!(cache.first_use("a", NOW, NOW + 360));
    assert!(
        !cache.first_use("a", NOW + 10, NOW + 370),
        "a replay within the window"
    );
    assert!(
        cache.first_use("a", NOW + 361, NOW + 721),
        "forgotten once it expired"
    );
    for key in ["b", "c", "d", "e"] {
        assert!(cache.first_use(key, NOW + 400, NOW + 760));
    }
    assert!(cache.len() <= 3, "bounded: {}", cache.len());
}

#[test]
fn an_iat_at_the_end_of_time_is_refused_not_overflowed() {
    // A hostile iat near u64::MAX once overflowed `iat + max_age_secs`: a panic in debug
    // builds, a wrapped sum (reported as "too old") in release.
    let signer = Signer::generate();
    for iat in [u64::MAX, u64::MAX - 100] {
        let proof = signer.sign(
            &header(&signer),
            &json!({ "htm": "GET", "htu": URL, "iat": iat, "jti": "end" }),
        );
        assert_eq!(
            check(&proof, &request(None), &Rules::default()),
            Err(ProofError::IssuedAt("is in the future")),
            "{iat}"
        );
    }
}
