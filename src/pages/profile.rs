use crate::weburl::Url;
use yew::prelude::*;

use crate::auth::{authorized_request, use_auth, SendError};
use crate::components::{loading, ErrorPanel};
use crate::oidc::claims::Profile;
use crate::oidc::session::Session;
use crate::oidc::userinfo::{self, is_web_url, UserInfo, UserInfoError};

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(UserInfo),
    Failed(UserInfoError),
}

/// `/profile`: who is signed in, from the ID token and from `/userinfo`.
#[function_component(ProfilePage)]
pub fn profile_page() -> Html {
    let auth = use_auth();
    let session = auth.session();
    let load = use_state(|| Load::Loading);
    let reloads = use_state(|| 0u32);

    {
        let load = load.clone();
        let endpoint = auth.tenant.metadata.userinfo_endpoint.clone();
        let sub = session
            .as_ref()
            .and_then(|s| s.profile.as_ref())
            .map(|p| p.sub.clone());
        use_effect_with(
            (session.clone(), sub, endpoint, *reloads),
            move |(session, sub, endpoint, _)| {
                if let Some(session) = session.clone() {
                    load.set(Load::Loading);
                    let (sub, endpoint) = (sub.clone(), endpoint.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        load.set(match fetch(endpoint, &session, sub.as_deref()).await {
                            Ok(info) => Load::Loaded(info),
                            Err(error) => Load::Failed(error),
                        });
                    });
                }
            },
        );
    }

    let retry = {
        let reloads = reloads.clone();
        Callback::from(move |_: MouseEvent| reloads.set(*reloads + 1))
    };
    let sign_in_again = {
        let auth = auth.clone();
        Callback::from(move |_: MouseEvent| {
            let auth = auth.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = auth.login(Some("/profile".into())).await;
            });
        })
    };

    let profile = session.as_ref().and_then(|s| s.profile.as_ref());
    let id_token_part = match profile {
        Some(profile) => id_token_profile(profile),
        None => html! {
            <p class="note warning" role="note" id="profile-no-id-token">
                { "Signed in with response_type=token: there is no ID token, so this app does not know from the sign-in who you are. Only /userinfo below can say whom the access token belongs to." }
            </p>
        },
    };
    let userinfo_part = match &*load {
        Load::Loading => loading("Asking the tenant's /userinfo endpoint…"),
        Load::Loaded(info) => html! {
            <>
                if profile.is_none() {
                    <p class="note warning" role="note">
                        { "Without an ID token these claims cannot be checked against the sign-in: they describe whoever the access token belongs to." }
                    </p>
                }
                { userinfo_claims(info) }
            </>
        },
        Load::Failed(error) => userinfo_error(error, retry, sign_in_again),
    };

    html! {
        <section class="profile">
            <h1>{ "Profile" }</h1>
            <section class="profile-source" id="profile-id-token" aria-labelledby="profile-id-token-heading">
                <h2 id="profile-id-token-heading">{ "From the ID token" }</h2>
                { id_token_part }
            </section>
            <section class="profile-source" id="profile-userinfo" aria-labelledby="profile-userinfo-heading">
                <h2 id="profile-userinfo-heading">{ "From /userinfo" }</h2>
                <p class="hint">
                    { "Asked with your access token, and accepted only if it is about the same user (`sub`) as the ID token." }
                </p>
                { userinfo_part }
            </section>
        </section>
    }
}

async fn fetch(
    endpoint: Option<Url>,
    session: &Session,
    id_token_sub: Option<&str>,
) -> Result<UserInfo, UserInfoError> {
    let endpoint = endpoint.ok_or(UserInfoError::NoEndpoint)?;
    let response = authorized_request(session, "GET", endpoint.as_str(), || None)
        .await
        .map_err(|error| match error {
            SendError::NoAnswer => UserInfoError::Unreachable {
                url: endpoint.to_string(),
            },
            SendError::Proof(why) => UserInfoError::Unauthorized {
                description: Some(why),
            },
        })?;
    userinfo::interpret(
        response.status,
        response.www_authenticate.as_deref(),
        &response.body,
        id_token_sub,
    )
}

fn picture(url: Option<&str>) -> Html {
    match url.filter(|u| is_web_url(u)) {
        Some(url) => html! {
            <img class="avatar" src={url.to_string()} alt="" referrerpolicy="no-referrer" width="64" height="64" />
        },
        None => html! {},
    }
}

fn fact(label: &'static str, value: Option<&str>) -> Html {
    html! {
        <>
            <dt>{ label }</dt>
            <dd>{ value.unwrap_or("not given").to_string() }</dd>
        </>
    }
}

fn id_token_profile(profile: &Profile) -> Html {
    html! {
        <div class="panel person">
            { picture(profile.picture.as_deref()) }
            <dl class="facts" id="profile-id-token-claims">
                { fact("Name", profile.name.as_deref()) }
                { fact("Email", profile.email.as_deref()) }
                { fact("Subject (sub)", Some(&profile.sub)) }
            </dl>
        </div>
    }
}

fn userinfo_claims(info: &UserInfo) -> Html {
    let verified = match info.email_verified {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not given",
    };
    html! {
        <div class="panel person">
            { picture(info.picture.as_deref()) }
            <dl class="facts" id="profile-userinfo-claims">
                { fact("Name", info.name.as_deref()) }
                { fact("Nickname", info.nickname.as_deref()) }
                { fact("Email", info.email.as_deref()) }
                { fact("Email verified", Some(verified)) }
                { fact("Subject (sub)", Some(&info.sub)) }
            </dl>
        </div>
    }
}

fn userinfo_error(
    error: &UserInfoError,
    retry: Callback<MouseEvent>,
    sign_in_again: Callback<MouseEvent>,
) -> Html {
    enum Action {
        None,
        Retry,
        SignInAgain,
    }
    let mut detail = None;
    let (title, message, action): (_, AttrValue, _) = match error {
        UserInfoError::NoEndpoint => (
            "The tenant has no /userinfo endpoint",
            "Its discovery document advertises no `userinfo_endpoint`, so the profile can only come from the ID token.".into(),
            Action::None,
        ),
        UserInfoError::Unreachable { url } => (
            "The tenant's /userinfo endpoint is not reachable",
            format!("No answer from {url}. Check the connection and that the tenant allows this origin (CORS: Allowed Web Origins), then try again.").into(),
            Action::Retry,
        ),
        UserInfoError::Unauthorized { description } => {
            detail = description
                .as_ref()
                .map(|d| AttrValue::from(format!("The tenant said: {d}")));
            (
                "The tenant did not accept your access token",
                "/userinfo answered 401. Either the access token has expired or been revoked, or it was issued without the `openid` scope: signing in again gets a new one. Or the provider does not accept tokens issued for an API (`audience`) there, as some OpenID providers other than Auth0 do: then the profile can only come from the ID token, shown above.".into(),
                Action::SignInAgain,
            )
        }
        UserInfoError::SubjectMismatch => (
            "The /userinfo answer is about another user",
            "Its `sub` differs from the ID token's, so its claims were rejected and are not shown (OpenID Connect Core §5.3.2). The access token may not be the one issued with your ID token: sign in again.".into(),
            Action::SignInAgain,
        ),
        UserInfoError::SubjectMissing => (
            "The /userinfo answer does not say whom it is about",
            "It has no `sub`, so it cannot be matched to the ID token and was rejected.".into(),
            Action::Retry,
        ),
        UserInfoError::NotJson => (
            "The /userinfo answer is not JSON",
            "The endpoint answered with something other than a JSON object. Check that the tenant's `userinfo_endpoint` is right.".into(),
            Action::Retry,
        ),
        UserInfoError::Unexpected { status } => (
            "The tenant's /userinfo endpoint failed",
            format!("It answered HTTP {status}.").into(),
            Action::Retry,
        ),
    };
    let actions = match action {
        Action::None => Html::default(),
        Action::Retry => html! {
            <button type="button" class="button primary" onclick={retry}>{ "Try again" }</button>
        },
        Action::SignInAgain => html! {
            <button type="button" class="button primary" onclick={sign_in_again}>{ "Sign in again" }</button>
        },
    };
    ErrorPanel::new(title, message)
        .code(error.code())
        .detail(detail)
        .view(actions)
}
