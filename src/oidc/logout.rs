//! Where logout sends the browser: the tenant ends its own session, then returns to the app.

use crate::weburl::Url;

use super::discovery::ProviderMetadata;

/// The tenant's logout URL. With OpenID Connect RP-initiated logout (`end_session_endpoint`
/// from discovery, which Auth0 tenants created since November 2023 publish) the client is
/// named by `client_id`, and the tenant's session by `logout_hint`, the ID token's `sid`.
/// No `id_token_hint`: this sample never puts a token in a URL, where it would reach the
/// tenant's logs and the browser's history. Without either hint Auth0's `/oidc/logout` asks
/// the user to confirm; with a `logout_hint` that matches its session it does not.
/// Auth0's older `/v2/logout` takes `client_id` and `returnTo`.
pub fn logout_url(
    metadata: &ProviderMetadata,
    client_id: &str,
    return_to: &Url,
    sid: Option<&str>,
) -> Url {
    match &metadata.end_session_endpoint {
        Some(endpoint) => endpoint.with_query_pairs(
            [
                ("client_id", client_id),
                ("post_logout_redirect_uri", return_to.as_str()),
            ]
            .into_iter()
            .chain(sid.map(|sid| ("logout_hint", sid))),
        ),
        None => metadata
            .auth0_logout_endpoint
            .with_query_pairs([("client_id", client_id), ("returnTo", return_to.as_str())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::discovery::auth0_defaults;

    fn return_to() -> Url {
        Url::parse("http://localhost:8080/").expect("url")
    }

    #[test]
    fn uses_auth0_v2_logout_without_discovery() {
        let metadata = auth0_defaults(&Url::parse("https://dev-abc.us.auth0.com").expect("url"));
        let url = logout_url(&metadata, "client 1", &return_to(), Some("s1"));
        assert_eq!(
            url.as_str(),
            "https://dev-abc.us.auth0.com/v2/logout?client_id=client+1&returnTo=http%3A%2F%2Flocalhost%3A8080%2F"
        );
    }

    #[test]
    fn uses_the_end_session_endpoint_when_discovered() {
        let mut metadata =
            auth0_defaults(&Url::parse("https://dev-abc.us.auth0.com").expect("url"));
        metadata.end_session_endpoint =
            Some(Url::parse("https://dev-abc.us.auth0.com/oidc/logout").expect("url"));
        let url = logout_url(&metadata, "c1", &return_to(), None);
        assert_eq!(
            url.as_str(),
            "https://dev-abc.us.auth0.com/oidc/logout?client_id=c1&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F"
        );
        let url = logout_url(&metadata, "c1", &return_to(), Some("sid 1"));
        assert_eq!(
            url.as_str(),
            "https://dev-abc.us.auth0.com/oidc/logout?client_id=c1&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2F&logout_hint=sid+1"
        );
        assert!(!url.as_str().contains("id_token"), "no token in the URL");
    }
}
